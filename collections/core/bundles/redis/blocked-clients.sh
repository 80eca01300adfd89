#!/usr/bin/env bash
# Health: clients blocked in BLPOP/BRPOP/XREAD/WAIT... Many of them, or clients blocked for
# long, point at a stalled producer or a stuck consumer. Clients blocked on commands that never
# block (SET, INCR, ...) are held back by CLIENT PAUSE (or a FAILOVER in progress): every one of
# them is an application request that hangs.
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
# commands that block by design; a blocked client running anything else was postponed by a pause
BLOCKING='^(blpop|brpop|brpoplpush|blmove|blmpop|bzpopmin|bzpopmax|bzmpop|xread|xreadgroup|wait|waitaof)$'
paused="$(awk -v re="$BLOCKING" 'tolower($5) !~ re' <<<"$list" | sed '/^$/d')"
npaused=0; [[ -n "$paused" ]] && npaused="$(wc -l <<<"$paused")"
by_cmd="none"
[[ -n "$list" ]] && by_cmd="$(awk '{print $5}' <<<"$list" | sort | uniq -c | sort -rn | head -5 | awk '{printf "%s %s; ", $1, $2}')"
sitrep emit metric redis_blocked_clients "$n"
sitrep emit metric redis_paused_clients "$npaused"
if (( npaused > 0 )); then
  pcmds="$(awk '{print $5}' <<<"$paused" | sort | uniq -c | sort -rn | head -5 | awk '{printf "%s %s; ", $1, $2}')"
  plong="$(head -1 <<<"$paused" | awk '{print $1}')"
  sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} holds client commands back (CLIENT PAUSE or failover)" \
    --expected "no client blocked on a non-blocking command" \
    --actual "${npaused} clients wait on commands that never block by themselves (${pcmds%; }); the longest for ${plong}s" \
    --details "Redis postpones commands while CLIENT PAUSE (ALL or WRITE) is in effect or a FAILOVER is running, and answers them only when the pause ends: the applications behind these clients hang and time out. PING and reads still work under CLIENT PAUSE WRITE, so a plain ping check looks healthy.
$(head -10 <<<"$paused" | awk '{printf "id=%s addr=%s name=%s cmd=%s waiting %ss\n", $2, $3, $4, $5, $1}')" \
    --next-steps "Find who paused Redis (an operator, a failover script, a proxy; MONITOR or the ACL LOG show CLIENT PAUSE callers) and whether a failover is in progress (INFO replication); if the pause is a leftover, end it with CLIENT UNPAUSE (core/redis/unpause-clients)." \
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} CLIENT LIST | grep 'flags=[a-zA-Z]*b'" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" paused_clients "$npaused" commands "${pcmds%; }" longest_s "$plong")"
fi
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
    --reproduce-hint "redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} CLIENT LIST | grep 'flags=b'" \
    --data "$(json_data host "$REDIS_HOST" port "$REDIS_PORT" blocked "$n" longest_s "$longest" top_id "$top_id" top_client "$(head -1 <<<"$list" | awk '{print $4 "@" $3}')")"
fi
