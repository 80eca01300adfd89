#!/usr/bin/env bash
# Health: connections rejected because maxclients was reached (diffed over a sample window),
# and connected clients against maxclients; names the largest client groups.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
SAMPLE="${SAMPLE_S:-3}"; WARN="${CLIENTS_WARN_PCT:-80}"
[[ "$SAMPLE" =~ ^[0-9]+$ && "$SAMPLE" -ge 1 && "$SAMPLE" -le 60 ]] || { echo "SAMPLE_S must be 1..60" >&2; exit 2; }
# When every slot is taken our own connection is the one refused: that is the finding.
redis_probe
if [[ "$PROBE_STATE" == maxclients ]]; then
  out="$PROBE_REPLY"
  sitrep emit issue --severity 1 --title "Redis ${REDIS_NAME} is rejecting connections" \
    --expected "a free client slot" \
    --actual "this check was refused: ${out}" \
    --details "Every client slot (maxclients) is taken, so every new connection gets 'ERR max number of clients reached'." \
    --next-steps "From an existing session (or after raising maxclients with CONFIG SET maxclients from one), list clients (CLIENT LIST) and find the application that holds most connections; kill its idle ones (CLIENT KILL, core/redis/kill-client), cap its pool, set timeout to close idle clients." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} PING"
  exit 0
fi
require_redis
info stats; r0="${I[rejected_connections]}"
sleep "$SAMPLE"
info stats; r1="${I[rejected_connections]}"
info clients; conn="${I[connected_clients]}"; maxc="${I[maxclients]:-}"
[[ -n "$maxc" ]] || maxc="$(config_get maxclients)"
[[ -n "$maxc" ]] || maxc=10000
d=$((r1 - r0)); (( d < 0 )) && d=0
p=$(pct "$conn" "$maxc")
# largest groups of clients by name (or source IP when unnamed)
groups="$(rcli CLIENT LIST 2>/dev/null | awk '{
    name=""; addr="";
    for (i = 1; i <= NF; i++) { if ($i ~ /^name=/) name = substr($i, 6); if ($i ~ /^addr=/) addr = substr($i, 6) }
    sub(/:[0-9]+$/, "", addr); key = (name != "" ? "name=" name : "ip=" addr); n[key]++
  } END { for (k in n) print n[k], k }' | sort -rn | head -5 | tr '\n' ';' || true)"
top_client="$(cut -d';' -f1 <<<"$groups" | awk '{print $2}')"
sitrep emit metric redis_connected_clients "$conn"
sitrep emit metric redis_rejected_connections_total "$r1"
sitrep emit insight "redis ${REDIS_NAME}: ${conn}/${maxc} clients (${p}%), ${d} rejected in ${SAMPLE}s; largest groups: ${groups}"
if (( d > 0 )); then
  sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} is rejecting connections" \
    --expected "no rejected connections" \
    --actual "${d} connections rejected in ${SAMPLE}s (${r1} since start); ${conn} of maxclients ${maxc} connected" \
    --details "New clients get 'ERR max number of clients reached'. Largest client groups (count name/ip): ${groups}" \
    --next-steps "Find the client that opens too many connections (a pool without a limit, connection leak) in the groups above; kill its idle connections (core/redis/client-list, core/redis/kill-client); set timeout to close idle clients; raise maxclients (and the file-descriptor limit) only if the load is legitimate." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO stats | grep rejected_connections" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" rejected "$d" connected "$conn" maxclients "$maxc" top_client "$top_client" groups "$groups")"
elif (( p >= WARN )); then
  sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} is near maxclients" \
    --expected "below ${WARN}% of maxclients" \
    --actual "${conn} of ${maxc} clients connected (${p}%)" \
    --details "Largest client groups (count name/ip): ${groups}" \
    --next-steps "Find the client group that grew (above; core/redis/client-list); cap its pool; set timeout to close idle clients." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} CLIENT LIST" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" connected "$conn" maxclients "$maxc" top_client "$top_client" groups "$groups")"
fi
