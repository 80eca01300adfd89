#!/usr/bin/env bash
# Remediation: CONFIG SET maxmemory-policy MAXMEMORY_POLICY (and maxmemory MAXMEMORY when set),
# reporting the previous values - the rollback. CONFIG_REWRITE=true also writes them to the
# configuration file (CONFIG REWRITE) so they survive a restart; by default they do not.
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
POLICY="${MAXMEMORY_POLICY:-}"; MAXMEM="${MAXMEMORY:-}"; REWRITE="${CONFIG_REWRITE:-false}"
case "$POLICY" in
  noeviction | allkeys-lru | allkeys-lfu | allkeys-random | volatile-lru | volatile-lfu | volatile-random | volatile-ttl) ;;
  *) echo "MAXMEMORY_POLICY must be one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl; got '${POLICY}'" >&2; exit 2 ;;
esac
if [[ -n "$MAXMEM" ]] && ! [[ "$MAXMEM" =~ ^[0-9]+([kKmMgG][bB]?)?$ ]]; then
  echo "MAXMEMORY must be bytes or a size such as 512mb or 2gb, got '${MAXMEM}'" >&2; exit 2
fi
[[ "$REWRITE" == true || "$REWRITE" == false ]] || { echo "CONFIG_REWRITE must be true or false" >&2; exit 2; }
require_redis
old_policy="$(config_get maxmemory-policy)"; old_max="$(config_get maxmemory)"
[[ -n "$old_policy" ]] || { echo "CONFIG GET is not allowed on ${REDIS_NAME} (renamed or disabled CONFIG, or an ACL without @admin)" >&2; exit 1; }
changed=()
if [[ "$old_policy" != "$POLICY" ]]; then
  rcli CONFIG SET maxmemory-policy "$POLICY" >/dev/null
  changed+=("maxmemory-policy ${old_policy} -> ${POLICY}")
fi
if [[ -n "$MAXMEM" ]]; then
  rcli CONFIG SET maxmemory "$MAXMEM" >/dev/null
  new_max="$(config_get maxmemory)"
  [[ "$new_max" != "$old_max" ]] && changed+=("maxmemory ${old_max} -> ${new_max} bytes")
fi
now_policy="$(config_get maxmemory-policy)"; now_max="$(config_get maxmemory)"
[[ "$now_policy" == "$POLICY" ]] || { echo "maxmemory-policy is ${now_policy} after CONFIG SET" >&2; exit 1; }
if (( ${#changed[@]} == 0 )); then
  sitrep emit report "${REDIS_NAME} already runs with maxmemory-policy ${POLICY}${MAXMEM:+ and maxmemory ${now_max}}; nothing changed."
  exit 0
fi
persisted="not written to the configuration file (a restart brings the old values back)"
if [[ "$REWRITE" == true ]]; then
  rcli CONFIG REWRITE >/dev/null && persisted="written to the configuration file (CONFIG REWRITE)"
fi
sitrep emit report "Changed on ${REDIS_NAME}: $(IFS=';'; echo "${changed[*]}"); ${persisted}.
To roll back: CONFIG SET maxmemory-policy ${old_policy}; CONFIG SET maxmemory ${old_max}"
sitrep emit insight "redis ${REDIS_NAME}: maxmemory-policy ${now_policy}, maxmemory ${now_max}" \
  --data "$(json_data previous_policy "$old_policy" previous_maxmemory "$old_max" policy "$now_policy" maxmemory "$now_max")"
