#!/usr/bin/env bash
# Health: Redis answers PING in time; the only redis task that turns "unreachable" into an issue.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
MAX_MS="${PING_MAX_MS:-250}"

start=$(date +%s%N)
out="$(rcli PING 2>&1)" || true
if [[ "$out" == MISCONF* ]]; then
  sitrep emit issue --severity 1 --title "Redis ${REDIS_NAME} refuses commands after a failed snapshot" \
    --expected "PONG" --actual "$(head -c 300 <<<"$out")" \
    --next-steps "Run core/redis/persistence and read the Redis log for why BGSAVE fails (disk full, permissions, fork)." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} PING" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" error "$(head -c 300 <<<"$out")")"
  exit 0
fi
if [[ "$out" != *PONG* ]]; then
  sitrep emit issue --severity 1 --title "Redis ${REDIS_NAME} is unreachable" \
    --expected "PONG" --actual "$(head -c 300 <<<"$out")" \
    --details "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} PING failed within ${REDIS_TIMEOUT_S}s." \
    --next-steps "Check that redis-server runs on ${REDIS_HOST} (systemctl status redis-server; its log), that the port is reachable, and that the password (REDISCLI_AUTH) is right; if it is LOADING, wait for the dataset to load." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} PING" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" error "$(head -c 300 <<<"$out")")"
  exit 0
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
sitrep emit metric redis_ping_ms "$ms"
if (( ms > MAX_MS )); then
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} answers PING slowly" \
    --expected "below ${MAX_MS} ms" --actual "${ms} ms" \
    --next-steps "Look for slow commands (core/redis/slowlog), a busy CPU or a fork for persistence (core/redis/persistence), and network latency." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} --latency"
fi
sitrep emit insight "redis ${REDIS_NAME}: PING ${ms} ms"
