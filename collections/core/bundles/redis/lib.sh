# Shared helpers for the redis bundle's bash tasks (sourced, not run).
# Params: REDIS_HOST, REDIS_PORT, REDIS_USER (ACL user, optional), REDIS_TLS (true/false).
# Secret: REDISCLI_AUTH (redis-cli reads it from the environment, so it never appears in argv).

REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_NAME="${SITREP_RESOURCE:-${REDIS_HOST}:${REDIS_PORT}}"
REDIS_TIMEOUT_S="${REDIS_TIMEOUT_S:-10}"

command -v redis-cli >/dev/null || { echo "redis-cli not found (install redis-tools)" >&2; exit 1; }

rcli_args() {
  RCLI_ARGS=(-h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning)
  [[ -n "${REDIS_USER:-}" ]] && RCLI_ARGS+=(--user "$REDIS_USER")
  [[ "${REDIS_TLS:-false}" == true ]] && RCLI_ARGS+=(--tls)
  return 0
}

# rcli ARGS...: one command, raw output, bounded in time. Fails (non-zero) on connection
# errors and on error replies.
rcli() {
  rcli_args
  local out
  out="$(timeout "$REDIS_TIMEOUT_S" redis-cli "${RCLI_ARGS[@]}" --raw "$@" 2>&1 | tr -d '\r')" || { echo "$out" >&2; return 1; }
  # redis-cli exits 0 on error replies in some versions; catch them
  if [[ "$out" == ERR* || "$out" == NOAUTH* || "$out" == WRONGPASS* || "$out" == NOPERM* || "$out" == LOADING* || "$out" == BUSY* || "$out" == "Could not connect"* ]]; then
    echo "$out" >&2; return 1
  fi
  printf '%s\n' "$out"
}

# redis_probe: one PING, classified the way an operator would read it. Sets PROBE_STATE to
#   up          answered PONG
#   misconf     answered MISCONF (writes refused after a failed snapshot: persistence reports it)
#   loading     answered LOADING (loading its dataset after a start)
#   busy        answered BUSY (a script or function has run past its time limit)
#   maxclients  refused this client: every client slot is taken (rejected-connections reports it)
#   auth        rejected this check's credentials (this check's configuration, not Redis)
#   refused     connection refused: nothing listens there
#   hung        accepts TCP connections but no reply within REDIS_TIMEOUT_S
#   silent      no TCP connection within REDIS_TIMEOUT_S (host down, packets dropped)
#   closed      closed the connection without a reply
#   protocol    something that is not Redis answers there (a TLS port, an HTTP proxy)
#   unreachable anything else (no route, a name that does not resolve), with the message
# and PROBE_REPLY to the reply or error, PROBE_MS to the time taken.
redis_probe() {
  rcli_args
  local rc=0 t0
  t0=$(date +%s%N)
  PROBE_REPLY="$(timeout "$REDIS_TIMEOUT_S" redis-cli "${RCLI_ARGS[@]}" PING 2>&1)" || rc=$?
  PROBE_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  PROBE_REPLY="$(tr -d '\r' <<<"$PROBE_REPLY" | tr '\n' ' ' | head -c 300)"
  PROBE_REPLY="${PROBE_REPLY% }"
  case "$PROBE_REPLY" in
    PONG*) PROBE_STATE=up ;;
    MISCONF*) PROBE_STATE=misconf ;;
    LOADING*) PROBE_STATE=loading ;;
    BUSY*) PROBE_STATE=busy ;;
    *"max number of clients"*) PROBE_STATE=maxclients ;;
    NOAUTH* | WRONGPASS* | NOPERM* | *"AUTH failed"* | *"invalid username-password"* | *"invalid password"*) PROBE_STATE=auth ;;
    *"Connection refused"*) PROBE_STATE=refused ;;
    *"Connection reset"* | *"Server closed the connection"* | *"connection closed"*) PROBE_STATE=closed ;;
    *"Protocol error"*) PROBE_STATE=protocol ;;
    *)
      if (( rc == 124 )); then
        # Did it accept the TCP connection at all?
        if timeout 2 bash -c "exec 3<>/dev/tcp/${REDIS_HOST}/${REDIS_PORT}" 2>/dev/null; then
          PROBE_STATE=hung
        else
          PROBE_STATE=silent
        fi
      else
        PROBE_STATE=unreachable
      fi ;;
  esac
}

# require_redis: for every task but ping. When Redis does not serve this check (down, refusing,
# hung, out of client slots, stuck in a script), the run is inconclusive: ping (or
# rejected-connections) reports that, once. A rejection of this check's own credentials is a
# failed run. MISCONF and LOADING still answer INFO, so they count as reachable.
require_redis() {
  redis_probe
  case "$PROBE_STATE" in
    up | misconf | loading) return 0 ;;
    auth)
      echo "Redis at ${REDIS_HOST}:${REDIS_PORT} rejected this check's credentials (REDIS_USER / REDISCLI_AUTH): ${PROBE_REPLY}" >&2
      exit 1 ;;
  esac
  local owner="ping"
  [[ "$PROBE_STATE" == maxclients ]] && owner="rejected-connections"
  sitrep emit inconclusive "Redis ${REDIS_NAME} (${REDIS_HOST}:${REDIS_PORT}) does not serve this check (${PROBE_STATE}: ${PROBE_REPLY:-no reply within ${REDIS_TIMEOUT_S}s}); core/redis/${owner} reports that"
  exit 0
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
