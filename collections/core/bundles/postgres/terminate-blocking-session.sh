#!/usr/bin/env bash
# Remediation: end the session(s) that hold the locks other sessions wait on: root blockers only
# (sessions that block others and wait on nobody; a session queued behind the holder is a victim,
# not a cause). BLOCKING_PID names one (used while it still is a root blocker and, with
# BLOCKING_APPLICATION set, still belongs to it); BLOCKING_APPLICATION names an application_name,
# whose root blockers are ended. Waiters come and go (a short lock_timeout
# makes them give up and retry), so the blockers are looked for during up to LOCK_WAIT_S
# seconds. Sessions that block nobody are never touched; nothing matching is not an error.
set -euo pipefail

: "${PG_DSN:?PG_DSN is required}"
APP="${BLOCKING_APPLICATION:-}"; PID="${BLOCKING_PID:-}"; WAIT="${LOCK_WAIT_S:-10}"
if [[ -z "$APP" && -z "$PID" ]]; then
  echo "set BLOCKING_APPLICATION (an application_name) or BLOCKING_PID: refusing to end sessions chosen by nobody" >&2
  exit 2
fi
[[ -z "$PID" || "$PID" =~ ^[0-9]+$ ]] || { echo "BLOCKING_PID must be a backend pid, got '${PID}'" >&2; exit 2; }
[[ "$WAIT" =~ ^[0-9]+$ ]] || { echo "LOCK_WAIT_S must be whole seconds, got '${WAIT}'" >&2; exit 2; }
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" PGOPTIONS="-c statement_timeout=15000"

# psql quotes :'app' and :'pid' itself, so the values cannot inject SQL. The pid is used first
# while it still blocks someone (and belongs to the application when one is named); otherwise
# the application's root blockers.
attempt() {
  timeout 25 psql "$PG_DSN" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -v app="$APP" -v pid="$PID" <<'SQL'
with waiting as (
  select distinct unnest(pg_blocking_pids(pid)) as blocker from pg_stat_activity where wait_event_type = 'Lock'
), blockers as (
  select a.pid, coalesce(nullif(a.application_name, ''), '(unnamed)') as app, cardinality(pg_blocking_pids(a.pid)) = 0 as root
  from pg_stat_activity a join waiting w on w.blocker = a.pid
  where a.pid <> pg_backend_pid()
), chosen as (
  select pid from blockers
  where :'pid' <> '' and pid::text = :'pid' and (:'app' = '' or app = :'app') and root
  union
  select pid from blockers
  where :'app' <> '' and app = :'app' and root
    and not exists (select 1 from blockers b where :'pid' <> '' and b.pid::text = :'pid' and (:'app' = '' or b.app = :'app') and b.root)
)
select a.pid, coalesce(nullif(a.application_name, ''), '(unnamed)'), coalesce(a.usename::text, ''),
       coalesce(a.datname::text, ''), coalesce(a.state, ''),
       coalesce(round(extract(epoch from now() - a.xact_start)), 0)::bigint,
       (select count(*) from pg_stat_activity w where a.pid = any(pg_blocking_pids(w.pid))),
       replace(replace(left(coalesce(a.query, ''), 200), E'\t', ' '), E'\n', ' '),
       pg_terminate_backend(a.pid, 5000)
from pg_stat_activity a join chosen c on c.pid = a.pid
order by a.xact_start
SQL
}

out=""; tries=0
deadline=$(( $(date +%s) + WAIT ))
while :; do
  tries=$((tries + 1))
  out="$(attempt)"
  [[ -n "$out" || $(date +%s) -ge $deadline ]] && break
  sleep 0.5
done

what="${APP:+application '${APP}'}${APP:+${PID:+, }}${PID:+pid ${PID}}"
total=0; ended=0; lines=()
while IFS=$'\t' read -r pid app usr db state xact blocked query ok; do
  [[ -z "$pid" ]] && continue
  total=$((total + 1))
  [[ "$ok" == "t" ]] && ended=$((ended + 1))
  lines+=("pid ${pid} (${app}, user ${usr}, db ${db}, ${state}, transaction open ${xact}s) blocked ${blocked} sessions; terminated=${ok}; last statement: ${query}")
done <<<"$out"

if (( total == 0 )); then
  sitrep emit report "No session of ${what} blocks another session (looked for ${WAIT}s, ${tries} times). Nothing was terminated."
else
  printf '%s\n' "Terminated ${ended} of ${total} blocking sessions of ${what} (their open transactions rolled back):" "${lines[@]}" | sitrep emit report -
fi
sitrep emit insight "postgres: terminated ${ended} blocking sessions of ${what}" --data "{\"terminated\":${ended},\"matched\":${total}}"
if (( ended < total )); then
  echo "$((total - ended)) sessions did not end within 5s (or the role lacks pg_signal_backend)" >&2
  exit 1
fi
