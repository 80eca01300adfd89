#!/usr/bin/env bash
# Health: the instance accepts a connection and answers a query within PG_CONNECT_TIMEOUT_S.
# Down, refusing connections, starting up or shutting down, or out of connection slots is an
# issue (the sql tasks cannot run then); a wrong password or a pg_hba rejection is a failed run
# (this check's own credentials are wrong, not the instance).
set -euo pipefail

: "${PG_DSN:?PG_DSN is required}"
command -v psql >/dev/null || { echo "psql not found (install postgresql-client)" >&2; exit 1; }
T="${PG_CONNECT_TIMEOUT_S:-5}"
[[ "$T" =~ ^[0-9]+$ ]] && (( T > 0 )) || { echo "PG_CONNECT_TIMEOUT_S must be a positive integer, got '$T'" >&2; exit 2; }
name="${SITREP_RESOURCE:-postgres}"
export PGCONNECT_TIMEOUT="$T" PGOPTIONS="-c statement_timeout=$((T * 1000))"

t0=$(date +%s%N)
rc=0
out="$(timeout $((T * 2 + 5)) psql "$PG_DSN" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 \
  -c "select case when pg_is_in_recovery() then 'standby' else 'primary' end, current_setting('server_version')" 2>&1)" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
out="$(tr '\n\t' '  ' <<<"$out" | sed -E 's/ +$//' | cut -c1-400)"

if (( rc == 0 )); then
  read -r role version <<<"$out"
  sitrep emit metric pg_up 1
  sitrep emit metric pg_connect_query_ms "$ms"
  sitrep emit insight "postgres ${name}: up (${role}, PostgreSQL ${version}), connect and query in ${ms} ms" \
    --data "{\"up\":1,\"role\":\"${role}\",\"ms\":${ms}}"
  exit 0
fi

case "$out" in
  *"password authentication failed"* | *"no pg_hba.conf entry"* | *"role \""*"does not exist"* | *"database \""*"does not exist"* | *"permission denied"*)
    echo "cannot check ${name}: the instance answered but rejected this check's login: ${out}" >&2
    exit 2 ;;
esac

# The title says what was observed (nothing listening, no answer, starting, out of slots), so
# an investigation reads the cause from it; every form names the instance.
what="does not accept connections"
case "$out" in
  *"Connection refused"*)
    what="refuses connections"; reason=refused
    cause="Nothing listens at the address: the server is stopped, crashed, restarting, or listens elsewhere." ;;
  *"timeout expired"* | *"timed out"* | "")
    what="does not answer"; reason=timeout
    cause="No answer within ${T}s: the host is down or unreachable, a firewall drops packets, or the server is hung." ;;
  *"the database system is starting up"* | *"recovery mode"* | *"not yet accepting connections"*)
    what="is starting up or recovering"; reason=starting-up
    cause="The server is starting up or recovering after a crash (replaying WAL); it accepts sessions once recovery ends." ;;
  *"the database system is shutting down"*)
    what="is shutting down"; reason=shutting-down
    cause="The server is shutting down (a stop or restart in progress)." ;;
  *"too many clients"* | *"remaining connection slots are reserved"*)
    what="has no free connection slots"; reason=out-of-connections
    cause="Every connection slot is taken; new sessions are refused (see core/postgres/connection-saturation from a superuser session)." ;;
  *"could not translate host name"* | *"Name or service not known"*)
    what="host name does not resolve"; reason=dns
    cause="The host name in the DSN does not resolve." ;;
  *) reason=failed; cause="The connection or the test query failed." ;;
esac
sitrep emit metric pg_up 0
# host and port from a URL DSN (never its password), the reason and the error, as structured facts
data="$(python3 -c 'import json, sys, urllib.parse as u
dsn, reason, err = sys.argv[1:4]
d = {"reason": reason, "error": err}
try:
    p = u.urlsplit(dsn)
    if p.scheme.startswith("postgres"):
        d.update(host=p.hostname or "", port=p.port or 5432, database=p.path.lstrip("/"))
except ValueError:
    pass
print(json.dumps(d))' "$PG_DSN" "$reason" "${out:-no answer}" </dev/null 2>/dev/null || echo "{\"reason\":\"${reason}\"}")"
sitrep emit issue --severity 1 --title "PostgreSQL ${name} ${what}" \
  --expected "a connection and a query within ${T}s" \
  --actual "${out:-no answer} (after ${ms} ms)" \
  --details "$cause Every application and every other postgres check depends on this; they are inconclusive meanwhile." \
  --next-steps "On the database host: is the server running (systemctl status postgresql, pg_lsclusters, ps -C postgres)? Read the end of its log for FATAL/PANIC lines (a full disk, a bad config after restart, an OOM kill); check that it listens on the DSN's host and port (ss -ltnp) and that max_connections is not exhausted." \
  --reproduce-hint "pg_isready -d \"\$PG_DSN\"; psql \"\$PG_DSN\" -c 'select 1'" \
  --data "$data"
