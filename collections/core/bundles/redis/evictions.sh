#!/usr/bin/env bash
# Health: keys evicted during a short sample window (evicted_keys is cumulative, so we diff two reads).
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
SAMPLE="${SAMPLE_S:-3}"; MAX_RATE="${EVICTIONS_MAX_PER_S:-0}"
[[ "$SAMPLE" =~ ^[0-9]+$ && "$SAMPLE" -ge 1 && "$SAMPLE" -le 60 ]] || { echo "SAMPLE_S must be 1..60" >&2; exit 2; }
require_redis
info stats; e0="${I[evicted_keys]}"; h0="${I[keyspace_hits]}"; m0="${I[keyspace_misses]}"
sleep "$SAMPLE"
info stats; e1="${I[evicted_keys]}"; h1="${I[keyspace_hits]}"; m1="${I[keyspace_misses]}"
info memory; policy="${I[maxmemory_policy]:-unknown}"; max="${I[maxmemory]:-0}"; used="${I[used_memory]}"
d=$((e1 - e0)); (( d < 0 )) && d=0   # restarted in between
rate=$(awk -v d="$d" -v s="$SAMPLE" 'BEGIN{printf "%.1f", d/s}')
lookups=$(( (h1 - h0) + (m1 - m0) ))
hit="n/a"; (( lookups > 0 )) && hit="$(( (h1 - h0) * 100 / lookups ))%"
sitrep emit metric redis_evicted_keys_total "$e1"
sitrep emit metric redis_evictions_per_s "$rate"
sitrep emit insight "redis ${REDIS_NAME}: ${rate} evictions/s over ${SAMPLE}s (${e1} since start), hit rate ${hit}, policy ${policy}"
if awk -v r="$rate" -v m="$MAX_RATE" -v d="$d" 'BEGIN{exit !(d > 0 && r > m)}'; then
  sev=3
  [[ "$policy" == volatile-* ]] && sev=2   # keys with a TTL (often sessions, locks) disappear early
  sitrep emit issue --severity "$sev" --title "Redis ${REDIS_NAME} is evicting keys" \
    --expected "at most ${MAX_RATE} evictions/s" \
    --actual "${d} keys evicted in ${SAMPLE}s (${rate}/s; ${e1} since start); hit rate ${hit}; $(human "$used") of maxmemory $(human "$max"), policy ${policy}" \
    --details "Redis is at maxmemory and drops keys chosen by ${policy} to admit writes. For a cache that lowers the hit rate and raises load on the backing store; for data with a TTL (sessions, locks, rate limits) it loses state early." \
    --next-steps "Raise maxmemory if the host has room, or shrink the dataset (redis-cli --memkeys; keys without TTL); if this Redis holds data that must not vanish, use a separate instance with noeviction." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO stats | grep evicted_keys" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" evicted "$d" rate "$rate" policy "$policy" maxmemory "$max" used "$used")"
fi
