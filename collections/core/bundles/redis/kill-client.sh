#!/usr/bin/env bash
# Remediation: end a stuck client: CLIENT UNBLOCK when it is blocked (MODE=unblock), otherwise
# (or with MODE=kill) CLIENT KILL ID. CLIENT_ID comes from core/redis/client-list or blocked-clients.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
CLIENT_ID="${CLIENT_ID:-}"; MODE="${MODE:-kill}"
[[ "$CLIENT_ID" =~ ^[0-9]+$ ]] || { echo "CLIENT_ID must be a client id (CLIENT LIST id=...), got '${CLIENT_ID}'" >&2; exit 2; }
[[ "$MODE" == kill || "$MODE" == unblock ]] || { echo "MODE must be kill or unblock" >&2; exit 2; }
require_redis
line="$(rcli CLIENT LIST ID "$CLIENT_ID" | head -1)"
if [[ -z "$line" ]]; then
  sitrep emit report "No client with id ${CLIENT_ID} on ${REDIS_NAME}: it has already gone. Nothing done."
  exit 0
fi
desc="$(tr ' ' '\n' <<<"$line" | grep -E '^(id|addr|name|age|idle|flags|cmd|user)=' | tr '\n' ' ')"
if [[ "$MODE" == unblock ]]; then
  r="$(rcli CLIENT UNBLOCK "$CLIENT_ID" ERROR)"
  [[ "$r" == 1 ]] || { echo "CLIENT UNBLOCK ${CLIENT_ID} returned ${r}: the client was not blocked" >&2; exit 1; }
  sitrep emit report "Unblocked client (it got an -UNBLOCKED error reply): ${desc}"
else
  r="$(rcli CLIENT KILL ID "$CLIENT_ID")"
  [[ "$r" == 1 ]] || { echo "CLIENT KILL ID ${CLIENT_ID} returned ${r}" >&2; exit 1; }
  sitrep emit report "Killed client: ${desc}"
fi
sitrep emit insight "redis ${REDIS_NAME}: client ${CLIENT_ID} ${MODE}ed" --data "{\"client_id\":${CLIENT_ID},\"mode\":\"${MODE}\"}"
