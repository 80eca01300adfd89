#!/usr/bin/env bash
# Health: Redis started recently (a crash, an OOM kill, a restart by its supervisor or a deploy).
# An event: the issue carries the start time and resolves two check intervals after it.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
WINDOW="${RESTART_WINDOW_S:-3600}"
[[ "$WINDOW" =~ ^[0-9]+$ ]] || { echo "RESTART_WINDOW_S must be a whole number of seconds" >&2; exit 2; }
require_redis
info server; up="${I[uptime_in_seconds]:-0}"; version="${I[redis_version]:-?}"
info persistence; keys="${I[rdb_last_load_keys_loaded]:-}"; loaded="${I[loading]:-0}"
sitrep emit metric redis_uptime_s "$up"
if (( up < WINDOW )); then
  started="$(date -u -d "@$(( $(date +%s) - up ))" +%Y-%m-%dT%H:%M:%SZ)"
  data="the dataset is still loading"
  [[ "$loaded" == 0 ]] && data="$([[ -n "$keys" ]] && echo "${keys} keys loaded from disk" || echo "keys loaded from disk: not reported by this version")"
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} restarted" \
    --expected "no restart in the last ${WINDOW} s" \
    --actual "up for ${up} s (started at ${started}, Redis ${version}); ${data}" \
    --details "Every client connection was cut; whatever was not persisted (or not replicated) before the stop is gone, and caches start cold." \
    --next-steps "Find why it stopped: its log, an OOM kill (core/linux-host/oom-kills), its supervisor or unit (core/linux-host/failed-units); compare the keys loaded with what the application expects." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO server | grep uptime" \
    --last-event-at "$started"
fi
