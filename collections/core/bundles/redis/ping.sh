#!/usr/bin/env bash
# Health: Redis answers PING in time. The one redis task that turns "Redis does not serve
# clients" into an issue, told apart the way an operator would: nothing listening, no answer at
# all, accepting but hung, loading, blocked by a script. The other redis tasks are inconclusive
# then. Every client slot taken is rejected-connections' finding and MISCONF is persistence's,
# so ping does not raise those again.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
MAX_MS="${PING_MAX_MS:-250}"
addr="${REDIS_HOST}:${REDIS_PORT}"
hint="redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} PING"

redis_probe
issue() {  # severity title actual details next-steps
  sitrep emit metric redis_up 0
  sitrep emit issue --severity "$1" --title "Redis ${REDIS_NAME} $2" --expected "PONG within ${REDIS_TIMEOUT_S}s" \
    --actual "$3" --details "$4" --next-steps "$5" --reproduce-hint "$hint" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" state "$PROBE_STATE" error "$PROBE_REPLY")"
  exit 0
}
case "$PROBE_STATE" in
  up | misconf) ;;
  maxclients)
    sitrep emit inconclusive "Redis ${REDIS_NAME} refused this check's connection: every client slot is taken (${PROBE_REPLY}); core/redis/rejected-connections reports that"
    exit 0 ;;
  auth)
    echo "Redis at ${addr} answered but rejected this check's credentials (REDIS_USER / REDISCLI_AUTH): ${PROBE_REPLY}" >&2
    exit 1 ;;
  refused)
    issue 1 "refuses connections" "connection refused at ${addr} after ${PROBE_MS} ms" \
      "Nothing listens on ${addr}: redis-server is stopped, crashed, restarting, or listens on another address or port." \
      "Check whether redis-server runs (systemctl status redis-server, ps -C redis-server) and read the end of its log for why it stopped (an OOM kill: core/linux-host/oom-kills; a bad config; a full disk at start)." ;;
  silent)
    issue 1 "does not answer" "no TCP connection to ${addr} within ${REDIS_TIMEOUT_S}s" \
      "The host is down or unreachable, or a firewall drops the packets." \
      "Check the host is up and reachable from here (ping, ss -ltn on the host, firewall rules between them)." ;;
  hung)
    issue 1 "accepts connections but does not answer" "TCP connection accepted, but no reply to PING within ${REDIS_TIMEOUT_S}s" \
      "Redis is stuck: CLIENT PAUSE ALL, a very slow command (KEYS, a huge DEL) or a fork of a very large dataset blocks its single thread." \
      "From the host: redis-cli --latency and INFO (from a fresh connection, if one gets through); look for CLIENT PAUSE (core/redis/blocked-clients), slow commands (core/redis/slowlog) and fork time in INFO persistence." ;;
  closed)
    issue 1 "closes connections without answering" "the connection to ${addr} was closed: ${PROBE_REPLY}" \
      "Redis (or a proxy in front of it) drops the connection: a crash loop, protected mode refusing remote clients, or a TLS/plain-text mismatch." \
      "Read the Redis log; check protected-mode and bind, and whether REDIS_TLS matches the server." ;;
  protocol)
    issue 1 "port answers with another protocol" "${PROBE_REPLY}" \
      "Something other than plain Redis answers on ${addr}: a TLS-only Redis (set REDIS_TLS=true), an HTTP service or proxy, or Redis moved and another service took the port." \
      "Check which process listens on ${addr} (ss -ltnp on the host) and whether the server expects TLS." ;;
  loading)
    issue 2 "is loading its dataset" "${PROBE_REPLY}" \
      "Redis restarted and is reading its RDB/AOF; until that completes every command fails with LOADING." \
      "Wait for loading to finish (INFO persistence: loading_loaded_perc, loading_eta_seconds); if it restarts repeatedly, find why it stopped (core/linux-host/oom-kills, its log)." ;;
  busy)
    issue 1 "is blocked by a long-running script" "${PROBE_REPLY}" \
      "A Lua script or function has run past busy-reply-threshold (lua-time-limit); Redis answers nothing else until it ends." \
      "SCRIPT KILL (or FUNCTION KILL) ends a script that has not written; otherwise SHUTDOWN NOSAVE is the only way out. Find the client that runs it (CLIENT LIST, core/redis/client-list)." ;;
  *)
    issue 1 "is unreachable" "${PROBE_REPLY:-no reply} (after ${PROBE_MS} ms)" \
      "redis-cli could not reach ${addr}: a name that does not resolve, no route to the host, or a network error." \
      "Check the host name and the network path to ${addr}; check that redis-server runs there." ;;
esac
sitrep emit metric redis_up 1
sitrep emit metric redis_ping_ms "$PROBE_MS"
if [[ "$PROBE_STATE" == misconf ]]; then
  sitrep emit report "PING answered ${PROBE_REPLY}: Redis refuses writes after a failed snapshot (core/redis/persistence reports it)."
fi
if (( PROBE_MS > MAX_MS )); then
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} answers PING slowly" \
    --expected "below ${MAX_MS} ms" --actual "${PROBE_MS} ms (connection and PING)" \
    --next-steps "It answers, but slowly: look for slow commands (core/redis/slowlog), a busy CPU or a fork for persistence (core/redis/persistence), and network latency." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} --latency"
fi
sitrep emit insight "redis ${REDIS_NAME}: PING ${PROBE_MS} ms"
