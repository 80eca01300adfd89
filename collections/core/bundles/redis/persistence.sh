#!/usr/bin/env bash
# Health: RDB snapshot and AOF errors (with stop-writes-on-bgsave-error, a failed snapshot makes
# Redis refuse writes with MISCONF) and stale snapshots. A dataset still loading is ping's finding.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
MAX_AGE="${RDB_MAX_AGE_S:-86400}"
require_redis
info persistence
bg="${I[rdb_last_bgsave_status]:-ok}"; aofw="${I[aof_last_write_status]:-ok}"; aofr="${I[aof_last_bgrewrite_status]:-ok}"
aof="${I[aof_enabled]:-0}"; last="${I[rdb_last_save_time]:-0}"; changes="${I[rdb_changes_since_last_save]:-0}"
loading="${I[loading]:-0}"; inprog="${I[rdb_bgsave_in_progress]:-0}"
stopw="$(config_get stop-writes-on-bgsave-error)"; save="$(config_get save)"; dir="$(config_get dir)"
age=$(( $(date +%s) - last ))
sitrep emit metric redis_rdb_last_save_age_s "$age"
sitrep emit metric redis_rdb_changes_since_last_save "$changes"
sitrep emit insight "redis ${REDIS_NAME}: rdb ${bg} (last save ${age}s ago, ${changes} changes since), aof $([[ $aof == 1 ]] && echo "on, write ${aofw}, rewrite ${aofr}" || echo off)"
logs_hint="Read the Redis log (its 'logfile', often /var/log/redis/redis-server.log) for the errno: disk full (core/linux-host/disk-usage), permissions on dir ${dir:-?}, or fork failing for lack of memory (vm.overcommit_memory=1)."

if [[ "$bg" != ok ]]; then
  # Redis refuses writes (MISCONF) only when snapshots are configured (save points) and
  # stop-writes-on-bgsave-error is on.
  if [[ "$stopw" == yes && -n "$save" ]]; then
    sitrep emit issue --severity 1 --title "Redis ${REDIS_NAME} snapshots fail and writes are refused" \
      --expected "rdb_last_bgsave_status ok" \
      --actual "rdb_last_bgsave_status ${bg}; stop-writes-on-bgsave-error yes, so writes fail with MISCONF; ${changes} changes not on disk; last good save ${age}s ago" \
      --details "$logs_hint" \
      --next-steps "Fix the cause from the log, then run BGSAVE and check it succeeds (writes resume); as a stopgap only, CONFIG SET stop-writes-on-bgsave-error no (data is then not being persisted)." \
      --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO persistence"
  else
    sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} snapshots fail" \
      --expected "rdb_last_bgsave_status ok" \
      --actual "rdb_last_bgsave_status ${bg}; ${changes} changes not on disk; last good save ${age}s ago" \
      --details "$logs_hint A restart now loses everything since the last good snapshot." \
      --next-steps "Fix the cause from the log, then run BGSAVE and check rdb_last_bgsave_status becomes ok." \
      --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO persistence"
  fi
elif [[ -n "$save" && "$inprog" == 0 && "$changes" -gt 0 && "$age" -ge "$MAX_AGE" ]]; then
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} has not snapshotted recently" \
    --expected "a snapshot within ${MAX_AGE}s while data changes (save '${save}')" \
    --actual "last save ${age}s ago, ${changes} changes since" \
    --next-steps "Check the save schedule and the Redis log; run BGSAVE by hand and watch INFO persistence."
fi
if [[ "$aof" == 1 && "$aofw" != ok ]]; then
  sitrep emit issue --severity 1 --title "Redis ${REDIS_NAME} cannot write its AOF" \
    --expected "aof_last_write_status ok" --actual "aof_last_write_status ${aofw}" \
    --details "$logs_hint While the AOF cannot be written Redis refuses writes." \
    --next-steps "Free disk space or fix permissions for the AOF; Redis retries the write and resumes by itself."
fi
if [[ "$aof" == 1 && "$aofr" != ok ]]; then
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} AOF rewrite fails" \
    --expected "aof_last_bgrewrite_status ok" --actual "aof_last_bgrewrite_status ${aofr} (${I[aof_rewrites_consecutive_failures]:-?} consecutive failures)" \
    --details "$logs_hint The AOF keeps growing until a rewrite succeeds." \
    --next-steps "Fix the cause from the log, then BGREWRITEAOF."
fi
if [[ "$loading" == 1 ]]; then
  # ping raises "is loading its dataset" (every command fails meanwhile): report it only.
  sitrep emit report "loading the dataset: ${I[loading_loaded_perc]:-?}% done, eta ${I[loading_eta_seconds]:-?}s"
fi
