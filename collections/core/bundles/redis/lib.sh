# Shared helpers for the redis bundle's bash tasks (sourced, not run).
# Params: REDIS_HOST, REDIS_PORT, REDIS_USER (ACL user, optional), REDIS_TLS (true/false).
# Secret: REDISCLI_AUTH (redis-cli reads it from the environment, so it never appears in argv).

REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_NAME="${SITREP_RESOURCE:-${REDIS_HOST}:${REDIS_PORT}}"
REDIS_TIMEOUT_S="${REDIS_TIMEOUT_S:-10}"

command -v redis-cli >/dev/null || { echo "redis-cli not found (install redis-tools)" >&2; exit 1; }

# rcli ARGS...: one command, raw output, bounded in time. Fails (non-zero) on connection
# errors and on error replies.
rcli() {
  local args=(-h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning --raw)
  [[ -n "${REDIS_USER:-}" ]] && args+=(--user "$REDIS_USER")
  [[ "${REDIS_TLS:-false}" == true ]] && args+=(--tls)
  local out
  out="$(timeout "$REDIS_TIMEOUT_S" redis-cli "${args[@]}" "$@" 2>&1 | tr -d '\r')" || { echo "$out" >&2; return 1; }
  # redis-cli exits 0 on error replies in some versions; catch them
  if [[ "$out" == ERR* || "$out" == NOAUTH* || "$out" == WRONGPASS* || "$out" == NOPERM* || "$out" == LOADING* || "$out" == "Could not connect"* ]]; then
    echo "$out" >&2; return 1
  fi
  printf '%s\n' "$out"
}

# require_redis: exit 1 with a clear message when the instance cannot be reached or refuses us.
# MISCONF (failed snapshot with stop-writes-on-bgsave-error) and LOADING still answer INFO, so
# they count as reachable: the persistence task reports them.
require_redis() {
  local out
  out="$(rcli PING 2>&1)" || true
  case "$out" in
    *PONG* | MISCONF* | LOADING*) return 0 ;;
  esac
  echo "cannot reach Redis at ${REDIS_HOST}:${REDIS_PORT}: ${out}" >&2
  exit 1
}

# info SECTION: prints key=value lines of INFO SECTION into an associative array named I.
declare -A I
info() {
  local out line
  out="$(rcli INFO "$1")" || exit 1
  while IFS= read -r line; do
    [[ "$line" == \#* || "$line" != *:* ]] && continue
    I["${line%%:*}"]="${line#*:}"
  done <<<"$out"
}

# config_get NAME: value of a config parameter, or empty when CONFIG is disabled/renamed.
config_get() {
  rcli CONFIG GET "$1" 2>/dev/null | sed -n '2p' || true
}

# human BYTES
human() { numfmt --to=iec-i --suffix=B "${1%.*}" 2>/dev/null || echo "${1}B"; }

# pct A B: integer percent of A over B (B > 0)
pct() { echo $(( ($1 * 100) / ($2 > 0 ? $2 : 1) )); }

# json_data KEY VALUE...: a JSON object of the pairs for `sitrep emit ... --data` (whole numbers
# stay numbers; everything else is a string, escaped).
json_data() {
  python3 -c 'import json, sys
a = sys.argv[1:]
print(json.dumps({k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in zip(a[::2], a[1::2])}))' "$@" </dev/null
}
