#!/usr/bin/env bash
# Remediation: resume WAL replay on a standby where it is paused (pg_wal_replay_resume()), then
# wait up to RESUME_WAIT_S seconds for replay to catch up with what was received. Refuses on a
# primary; does nothing when replay is not paused.
set -euo pipefail

: "${PG_DSN:?PG_DSN is required}"
WAIT="${RESUME_WAIT_S:-30}"
[[ "$WAIT" =~ ^[0-9]+$ ]] || { echo "RESUME_WAIT_S must be whole seconds, got '${WAIT}'" >&2; exit 2; }
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" PGOPTIONS="-c statement_timeout=15000"
q() { timeout 25 psql "$PG_DSN" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -c "$1"; }

state="$(q "select pg_is_in_recovery(), case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end,
  coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
  coalesce(round(extract(epoch from now() - pg_last_xact_replay_timestamp())), 0)::bigint")"
IFS=$'\t' read -r recovery paused behind age <<<"$state"
if [[ "$recovery" != t ]]; then
  echo "this instance is not a standby (pg_is_in_recovery() is false): there is no WAL replay to resume" >&2
  exit 2
fi
if [[ "$paused" != t ]]; then
  sitrep emit report "WAL replay is not paused on this standby (${behind} bytes received but not yet replayed, last replayed transaction ${age}s old). Nothing done."
  exit 0
fi
# caught up once replay passes what had been received when it was resumed (more keeps coming)
target="$(q "select pg_last_wal_receive_lsn()")"
q "select pg_wal_replay_resume()" >/dev/null
deadline=$(( $(date +%s) + WAIT ))
while :; do
  IFS=$'\t' read -r paused now_behind caught <<<"$(q "select pg_is_wal_replay_paused(), coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint, coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '${target:-0/0}'::pg_lsn) >= 0, true)")"
  [[ "$paused" != t && "$caught" == t ]] && break
  (( $(date +%s) >= deadline )) && break
  sleep 0.5
done
sitrep emit report "Resumed WAL replay (it was paused with ${behind} bytes received but not replayed, last replayed transaction ${age}s old). Now: paused=${paused}, ${now_behind} bytes not yet replayed. To pause it again: select pg_wal_replay_pause();"
sitrep emit insight "postgres: WAL replay resumed" --data "{\"behind_before\":${behind},\"behind_after\":${now_behind}}"
if [[ "$paused" == t ]]; then
  echo "replay is still paused after pg_wal_replay_resume() (a recovery target with pause, or another session paused it again)" >&2
  exit 1
fi
