#!/usr/bin/env bash
# Remediation: end a CLIENT PAUSE (CLIENT UNPAUSE), then wait up to UNPAUSE_WAIT_S seconds for
# the clients it held back (blocked on commands that never block by themselves) to be served.
# Safe to repeat: unpausing an instance that is not paused changes nothing.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
WAIT="${UNPAUSE_WAIT_S:-5}"
[[ "$WAIT" =~ ^[0-9]+$ ]] || { echo "UNPAUSE_WAIT_S must be whole seconds, got '${WAIT}'" >&2; exit 2; }
require_redis
BLOCKING='^(blpop|brpop|brpoplpush|blmove|blmpop|bzpopmin|bzpopmax|bzmpop|xread|xreadgroup|wait|waitaof)$'
held() {  # clients blocked on a command that does not block by itself: postponed by a pause
  rcli CLIENT LIST | awk -v re="$BLOCKING" '{
      cmd=""; flags="";
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "cmd") cmd = kv[2]; else if (kv[1] == "flags") flags = kv[2] }
      if (flags ~ /b/ && tolower(cmd) !~ re) n++
    } END { print n + 0 }'
}
before="$(held)"
r="$(rcli CLIENT UNPAUSE)"
[[ "$r" == OK ]] || { echo "CLIENT UNPAUSE answered ${r}" >&2; exit 1; }
after="$before"
for ((i = 0; i < WAIT * 5; i++)); do
  after="$(held)"
  (( after == 0 )) && break
  sleep 0.2
done
if (( before == 0 )); then
  sitrep emit report "CLIENT UNPAUSE on ${REDIS_NAME}: no client was held back before (the pause had ended or there was none); nothing changed."
else
  sitrep emit report "CLIENT UNPAUSE on ${REDIS_NAME}: ${before} clients were held back by a pause, ${after} still wait. To pause again: CLIENT PAUSE <ms> WRITE."
fi
sitrep emit insight "redis ${REDIS_NAME}: unpaused (${before} held-back clients before, ${after} after)" \
  --data "$(json_data held_before "$before" held_after "$after")"
if (( after > 0 )); then
  echo "${after} clients still wait on non-blocking commands after CLIENT UNPAUSE: a FAILOVER may be in progress (INFO replication)" >&2
  exit 1
fi
