#!/usr/bin/env bash
# Health: used memory against maxmemory (and the eviction policy), or against host memory when
# maxmemory is unset; memory fragmentation.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
WARN="${MEM_WARN_PCT:-90}"; CRIT="${MEM_CRIT_PCT:-98}"; FRAG_MAX="${FRAGMENTATION_MAX:-1.5}"
require_redis
info memory
used="${I[used_memory]}"; rss="${I[used_memory_rss]:-0}"; max="${I[maxmemory]:-0}"
policy="${I[maxmemory_policy]:-unknown}"; sysmem="${I[total_system_memory]:-0}"; frag="${I[mem_fragmentation_ratio]:-0}"
sitrep emit metric redis_used_memory_bytes "$used"
sitrep emit metric redis_mem_fragmentation_ratio "$frag"

if (( max > 0 )); then
  p=$(pct "$used" "$max")
  sitrep emit metric redis_memory_used_pct "$p"
  sitrep emit insight "redis ${REDIS_NAME}: $(human "$used") of maxmemory $(human "$max") (${p}%), policy ${policy}" \
    --data "{\"used\":${used},\"maxmemory\":${max},\"pct\":${p},\"policy\":\"${policy}\"}"
  if (( p >= WARN )); then
    if [[ "$policy" == noeviction ]]; then
      sev=2; (( p >= CRIT )) && sev=1
      effect="With maxmemory-policy noeviction, writes fail with 'OOM command not allowed when used memory > maxmemory' once it is reached."
      steps="Find what grew (redis-cli --bigkeys / --memkeys on a replica; keys without TTL); delete or expire data, raise maxmemory if the host has room, or choose an eviction policy if this is a cache."
    else
      sev=3; (( p >= CRIT )) && sev=2
      effect="With maxmemory-policy ${policy}, Redis evicts keys to stay under maxmemory: hit rate falls and data with a TTL may vanish early (see core/redis/evictions)."
      steps="If evictions are not expected, raise maxmemory or shrink the dataset (redis-cli --bigkeys / --memkeys); check the hit rate in core/redis/evictions."
    fi
    # with noeviction an evicting policy unblocks writes at once (for data that may be evicted)
    suggest=(); [[ "$policy" == noeviction ]] && suggest=(suggested_policy allkeys-lru)
    sitrep emit issue --severity "$sev" --title "Redis ${REDIS_NAME} is near its maxmemory" \
      --expected "below ${WARN}% of maxmemory" \
      --actual "$(human "$used") used of $(human "$max") (${p}%), RSS $(human "$rss"), policy ${policy}" \
      --details "$effect" --next-steps "$steps$([[ "$policy" == noeviction ]] && echo " If this Redis is a cache, core/redis/set-eviction-policy --set MAXMEMORY_POLICY=allkeys-lru lets writes through again.")" \
      --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO memory" \
      --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" used "$used" maxmemory "$max" pct "$p" policy "$policy" "${suggest[@]}")"
  fi
else
  p=0; (( sysmem > 0 )) && p=$(pct "$rss" "$sysmem")
  sitrep emit insight "redis ${REDIS_NAME}: $(human "$used") used, no maxmemory; RSS is ${p}% of host memory" \
    --data "{\"used\":${used},\"maxmemory\":0,\"host_pct\":${p}}"
  if (( sysmem > 0 && p >= ${HOST_MEM_WARN_PCT:-75} )); then
    sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} has no maxmemory and uses most of the host's memory" \
      --expected "maxmemory set, or RSS below ${HOST_MEM_WARN_PCT:-75}% of host memory" \
      --actual "RSS $(human "$rss") of $(human "$sysmem") host memory (${p}%)" \
      --details "Without maxmemory Redis grows until the kernel OOM killer kills it, or a fork for persistence fails." \
      --next-steps "Set maxmemory (about 75% of what the host can give Redis) and a maxmemory-policy; find what grew with redis-cli --memkeys." \
      --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO memory"
  fi
fi

# Fragmentation only matters once there is real memory at stake (tiny instances show high ratios).
if (( rss > ${FRAGMENTATION_MIN_RSS_BYTES:-104857600} )) && awk -v f="$frag" -v m="$FRAG_MAX" 'BEGIN{exit !(f >= m)}'; then
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} memory is fragmented" \
    --expected "mem_fragmentation_ratio below ${FRAG_MAX}" \
    --actual "ratio ${frag}: RSS $(human "$rss") for $(human "$used") of data" \
    --next-steps "Enable activedefrag yes (jemalloc builds), or restart the instance during a quiet period (fail over to a replica first)."
fi
