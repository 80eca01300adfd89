#!/usr/bin/env bash
# Remediation: end every session of APPLICATION that has been idle in a transaction
# for at least MIN_IDLE_S seconds. Active sessions are never touched.
set -euo pipefail

: "${PG_DSN:?PG_DSN is required}"
APPLICATION="${APPLICATION:-}"
MIN_IDLE_S="${MIN_IDLE_S:-60}"
if [[ -z "$APPLICATION" ]]; then
  echo "APPLICATION (the application_name whose idle-in-transaction sessions to end) is required" >&2
  exit 2
fi
if ! [[ "$MIN_IDLE_S" =~ ^[0-9]+$ ]]; then
  echo "MIN_IDLE_S must be a whole number of seconds, got '${MIN_IDLE_S}'" >&2
  exit 2
fi
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
export PGOPTIONS="-c statement_timeout=15000"

# psql variables are quoted by psql itself (:'app'), so the name cannot inject SQL.
out="$(timeout 25 psql "$PG_DSN" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 \
  -v app="$APPLICATION" -v min_idle="$MIN_IDLE_S" <<'SQL'
select pid, coalesce(usename::text, ''), coalesce(datname::text, ''),
       round(extract(epoch from now() - state_change))::bigint, pg_terminate_backend(pid, 5000)
from pg_stat_activity
where coalesce(nullif(application_name, ''), '(unnamed)') = :'app'
  and state in ('idle in transaction', 'idle in transaction (aborted)')
  and now() - state_change >= make_interval(secs => :min_idle)
  and pid <> pg_backend_pid()
order by state_change
SQL
)"
total=0; ended=0; lines=()
while IFS=$'\t' read -r pid usr db idle ok; do
  [[ -z "$pid" ]] && continue
  total=$((total + 1))
  [[ "$ok" == "t" ]] && ended=$((ended + 1))
  (( ${#lines[@]} < 50 )) && lines+=("pid ${pid} user ${usr} db ${db} idle ${idle}s terminated=${ok}")
done <<<"$out"

if (( total == 0 )); then
  sitrep emit report "No session of application '${APPLICATION}' has been idle in a transaction for ${MIN_IDLE_S}s or more. Nothing was terminated."
else
  printf '%s\n' "Terminated ${ended} of ${total} idle-in-transaction sessions of application '${APPLICATION}':" "${lines[@]}" | sitrep emit report -
fi
sitrep emit insight "postgres: terminated ${ended} idle-in-transaction sessions of ${APPLICATION}" --data "{\"terminated\":${ended},\"matched\":${total}}"
if (( ended < total )); then
  echo "$((total - ended)) sessions did not end within 5s (or the role lacks pg_signal_backend)" >&2
  exit 1
fi
