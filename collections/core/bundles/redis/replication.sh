#!/usr/bin/env bash
# Health: replication seen from this instance. A replica: its link to the primary (down, resyncing,
# silent), and how far behind it is. A primary: replicas that lag, and fewer replicas than
# EXPECTED_REPLICAS. Nothing to check on a standalone primary with EXPECTED_REPLICAS 0.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
LAG_MAX="${REPLICATION_LAG_MAX_S:-30}"; EXPECTED="${EXPECTED_REPLICAS:-0}"
[[ "$LAG_MAX" =~ ^[0-9]+$ && "$EXPECTED" =~ ^[0-9]+$ ]] || { echo "REPLICATION_LAG_MAX_S and EXPECTED_REPLICAS must be whole numbers" >&2; exit 2; }
require_redis
info replication
role="${I[role]:-?}"
hint="redis-cli -h ${REDIS_HOST} -p ${REDIS_PORT} INFO replication"
if [[ "$role" == slave ]]; then
  primary="${I[master_host]:-?}:${I[master_port]:-?}"
  link="${I[master_link_status]:-?}"; io="${I[master_last_io_seconds_ago]:--1}"
  down_s="${I[master_link_down_since_seconds]:-}"; syncing="${I[master_sync_in_progress]:-0}"
  sitrep emit metric redis_replica_link_up "$([[ $link == up ]] && echo 1 || echo 0)"
  sitrep emit insight "redis ${REDIS_NAME}: replica of ${primary}, link ${link}, last I/O ${io}s ago"
  if [[ "$link" != up ]]; then
    what="lost its link to its primary"; sev=2
    [[ "$syncing" == 1 ]] && what="is resynchronising from its primary" && sev=3
    sitrep emit issue --severity "$sev" --title "Redis replica ${REDIS_NAME} ${what}" \
      --expected "master_link_status up" \
      --actual "link ${link}$([[ -n "$down_s" && "$down_s" != -1 ]] && echo " for ${down_s} s")$([[ $syncing == 1 ]] && echo ", full sync in progress"); primary ${primary}" \
      --details "Without the link the replica serves stale data (or errors, with replica-serve-stale-data no) and cannot take over safely. A full resync copies the whole dataset and loads the primary." \
      --next-steps "Check that the primary ${primary} is up (core/redis/ping on it) and reachable from the replica; read both logs for the reason (auth, a too small client-output-buffer-limit for replicas, a primary that restarted)." \
      --reproduce-hint "$hint"
  elif (( io > LAG_MAX )); then
    sitrep emit issue --severity 3 --title "Redis replica ${REDIS_NAME} hears nothing from its primary" \
      --expected "data or a ping from the primary within ${LAG_MAX} s" --actual "last I/O from ${primary} ${io} s ago" \
      --next-steps "Check the primary ${primary} (core/redis/ping, slowlog) and the network between them." --reproduce-hint "$hint"
  fi
  exit 0
fi
n="${I[connected_slaves]:-0}"
sitrep emit metric redis_connected_replicas "$n"
lagging=()
for k in "${!I[@]}"; do
  [[ "$k" =~ ^slave[0-9]+$ ]] || continue
  # ip=10.0.0.2,port=6379,state=online,offset=123,lag=0
  v="${I[$k]}"; ip="$(sed -E 's/.*ip=([^,]*).*/\1/' <<<"$v")"; port="$(sed -E 's/.*port=([^,]*).*/\1/' <<<"$v")"
  state="$(sed -E 's/.*state=([^,]*).*/\1/' <<<"$v")"; lag="$(sed -nE 's/.*lag=([0-9]+).*/\1/p' <<<"$v")"
  if [[ "$state" != online ]] || (( ${lag:-0} > LAG_MAX )); then lagging+=("${ip}:${port} ${state}, lag ${lag:-?} s"); fi
done
sitrep emit insight "redis ${REDIS_NAME}: ${role} with ${n} connected replicas"
if (( ${#lagging[@]} > 0 )); then
  sitrep emit issue --severity 2 --title "Replicas of Redis ${REDIS_NAME} lag or are not online" \
    --expected "every replica online, lag at most ${LAG_MAX} s" --actual "$(IFS='; '; echo "${lagging[*]}")" \
    --next-steps "Check those replicas (core/redis/replication on them) and the network to them; a replica stuck in sync may need a larger client-output-buffer-limit replica." \
    --reproduce-hint "$hint"
fi
if (( EXPECTED > 0 && n < EXPECTED )); then
  sitrep emit issue --severity 2 --title "Redis ${REDIS_NAME} has fewer replicas than expected" \
    --expected "${EXPECTED} connected replicas" --actual "${n} connected" \
    --next-steps "Find the missing replica: is it running, and does its log show why it cannot connect (auth, network, replicaof pointing elsewhere)?" \
    --reproduce-hint "$hint"
fi
