#!/usr/bin/env bash
# Health: clients blocked in BLPOP/BRPOP/XREAD/WAIT... Many of them, or clients blocked for
# long, point at a stalled producer or a stuck consumer.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
MAXN="${BLOCKED_CLIENTS_MAX:-50}"; MAX_S="${BLOCKED_MAX_S:-0}"
require_redis
info clients; n="${I[blocked_clients]:-0}"
# id addr name cmd idle for blocked clients (flags contain b)
list="$(rcli CLIENT LIST | awk '{
    id=""; addr=""; name=""; cmd=""; idle=0; flags="";
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=");
      if (kv[1] == "id") id = kv[2]; else if (kv[1] == "addr") addr = kv[2]; else if (kv[1] == "name") name = kv[2];
      else if (kv[1] == "cmd") cmd = kv[2]; else if (kv[1] == "idle") idle = kv[2]; else if (kv[1] == "flags") flags = kv[2];
    }
    if (flags ~ /b/) print idle, id, addr, (name == "" ? "-" : name), cmd
  }' | sort -rn)"
longest=0; [[ -n "$list" ]] && longest="$(head -1 <<<"$list" | awk '{print $1}')"
by_cmd="none"
[[ -n "$list" ]] && by_cmd="$(awk '{print $5}' <<<"$list" | sort | uniq -c | sort -rn | head -5 | awk '{printf "%s %s; ", $1, $2}')"
sitrep emit metric redis_blocked_clients "$n"
sitrep emit insight "redis ${REDIS_NAME}: ${n} blocked clients, longest blocked ${longest}s (${by_cmd})"
sample="$(head -10 <<<"$list" | awk '{printf "id=%s addr=%s name=%s cmd=%s blocked %ss\n", $2, $3, $4, $5, $1}')"
if (( n >= MAXN )) || (( MAX_S > 0 && longest >= MAX_S )); then
  top_id="$(head -1 <<<"$list" | awk '{print $2}')"
  sitrep emit issue --severity 3 --title "Redis ${REDIS_NAME} has many or long-blocked clients" \
    --expected "fewer than ${MAXN} blocked clients$( (( MAX_S > 0 )) && echo ", none blocked over ${MAX_S}s")" \
    --actual "${n} clients blocked (${by_cmd}); the longest for ${longest}s" \
    --details "Blocked clients wait in BLPOP/BRPOP/BLMOVE/XREAD/WAIT until data arrives; many of them, or long waits, mean the producer stopped or consumers pile up. Longest blocked:
${sample}" \
    --next-steps "Check that the producers of the awaited lists/streams run (queue lengths with LLEN/XLEN); check consumers for a leak of blocking connections; unblock or kill a stuck client with core/redis/kill-client --set CLIENT_ID=${top_id}." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} CLIENT LIST | grep 'flags=b'"
fi
