#!/usr/bin/env bash
# Remediation: end one PostgreSQL backend with pg_terminate_backend(PID).
# Needs PG_DSN (and PGPASSWORD if the DSN has none) and PID. The role needs
# pg_signal_backend (or superuser) to end other roles' sessions.
set -euo pipefail

: "${PG_DSN:?PG_DSN is required}"
PID="${PID:-}"
if ! [[ "$PID" =~ ^[0-9]+$ ]]; then
  echo "PID must be a backend process id (an integer), got '${PID}'" >&2
  exit 2
fi
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
export PGOPTIONS="-c statement_timeout=15000"

psql_q() { timeout 25 psql "$PG_DSN" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 "$@"; }

before="$(psql_q -v pid="$PID" <<'SQL'
select pid, coalesce(nullif(application_name, ''), '(unnamed)'), coalesce(usename::text, ''),
       coalesce(datname::text, ''), coalesce(state, ''),
       coalesce(round(extract(epoch from now() - xact_start))::text, ''), left(regexp_replace(coalesce(query, ''), '\s+', ' ', 'g'), 200)
from pg_stat_activity where pid = :pid
SQL
)"
if [[ -z "$before" ]]; then
  sitrep emit report "No backend with pid ${PID}: it has already ended. Nothing was terminated."
  sitrep emit insight "postgres backend ${PID} was already gone; nothing terminated" --data "{\"pid\":${PID},\"terminated\":false}"
  exit 0
fi
IFS=$'\t' read -r _ app usr db state xact_s query <<<"$before"

ok="$(psql_q -v pid="$PID" <<'SQL'
select pg_terminate_backend(:pid, 5000)
SQL
)"
if [[ "$ok" != "t" ]]; then
  echo "pg_terminate_backend(${PID}) returned '${ok}': the backend did not end within 5s or the role lacks pg_signal_backend" >&2
  exit 1
fi
sitrep emit report "Terminated backend ${PID}: application ${app}, user ${usr}, database ${db}, state ${state}, transaction open ${xact_s:-0}s. Last statement: ${query}"
sitrep emit insight "postgres backend ${PID} (${app}/${usr}) terminated" --data "{\"pid\":${PID},\"terminated\":true}"
