# shellcheck shell=bash
# Common definitions for the sitrep sandbox scripts. Sourced, never executed.
set -euo pipefail

SANDBOX_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SANDBOX_SRC="$SANDBOX_REPO_DIR/sandbox"
SANDBOX_DIR="${SITREP_SANDBOX_DIR:-/tmp/sitrep-sandbox}"
SANDBOX_DIR="${SANDBOX_DIR%/}"
SANDBOX_ENV_FILE="$SANDBOX_SRC/env"
RUN="$SANDBOX_DIR/run"          # pid files
SV="$SANDBOX_DIR/service"       # runit service directories (start_svc)
LOGS="$SANDBOX_DIR/logs"
SECRETS="$SANDBOX_DIR/secrets"
PG_BIN=""

# Ports (all on 127.0.0.1). Fixed by contract with the rest of sitrep.
PORT_PG_PRIMARY=25432
PORT_PG_REPLICA=25433
PORT_REDIS=26379
PORT_NGINX_HTTP=28080
PORT_NGINX_HTTPS=28443
PORT_SHOPFRONT=28000
PORT_PROMETHEUS=29090
PORT_ALERTMANAGER=29093
PORT_NODE_EXPORTER=29100
PORT_PG_EXPORTER=29187
PORT_PG_REPLICA_EXPORTER=29188
PORT_REDIS_EXPORTER=29121
PORT_NGINX_EXPORTER=29113
PORT_BLACKBOX=29115
# Not sandbox services: where a sitrep under test serves (Alertmanager's webhook and a
# Prometheus target point there) and the SMTP server sandbox/test-delivery starts.
PORT_SITREP=29700
PORT_SMTP=29025

# name:port pairs, in start order
ALL_PORTS=(
  "postgresql-primary:$PORT_PG_PRIMARY" "postgresql-replica:$PORT_PG_REPLICA" "redis:$PORT_REDIS"
  "shopfront:$PORT_SHOPFRONT" "nginx-http:$PORT_NGINX_HTTP" "nginx-https:$PORT_NGINX_HTTPS"
  "node-exporter:$PORT_NODE_EXPORTER" "postgres-exporter:$PORT_PG_EXPORTER" "postgres-exporter-replica:$PORT_PG_REPLICA_EXPORTER"
  "redis-exporter:$PORT_REDIS_EXPORTER" "nginx-exporter:$PORT_NGINX_EXPORTER"
  "blackbox-exporter:$PORT_BLACKBOX" "prometheus:$PORT_PROMETHEUS" "alertmanager:$PORT_ALERTMANAGER"
)

SANDBOX_DEB_PACKAGES=(
  postgresql postgresql-client redis-server redis-tools nginx
  prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postgres-exporter
  prometheus-redis-exporter prometheus-nginx-exporter prometheus-blackbox-exporter
  openssl curl iproute2 procps python3 python3-yaml util-linux python3-aiosmtpd runit
)

# Users the services run as (created by the Debian packages, except shopfront's).
USER_PG=postgres
USER_REDIS=redis
USER_NGINX=www-data
USER_PROM=prometheus
USER_SHOP=sitrep-shop

log()  { printf '%s\n' "sandbox: $*" >&2; }
die()  { printf '%s\n' "sandbox: error: $*" >&2; exit 1; }

find_pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/postgres" && -x "$d/pg_ctl" ]]; then PG_BIN="$d"; return 0; fi
  done
  return 1
}

# wait_until TIMEOUT_SECONDS DESCRIPTION COMMAND...  -- polls every 0.5 s.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if (( $(date +%s) >= deadline )); then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 0.5
  done
}

port_listening() { # port
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

port_owner() { # port -> "pid=.. (cmd)"
  local out
  out="$(ss -Htlnp "sport = :$1" 2>/dev/null | head -1)"
  if [[ "$out" =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
    printf 'pid %s (%s: %s)' "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}" \
      "$(tr '\0\n' '  ' < "/proc/${BASH_REMATCH[2]}/cmdline" 2>/dev/null | cut -c1-120)"
  else
    printf 'an unknown process'
  fi
}

pid_alive() { # running, and not a zombie waiting for its parent (often pid 1) to reap it
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local st; st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)"
  [[ -n "$st" && "$st" != Z ]]
}

pidfile_pid() { # name: a runit service's daemon (empty while it is down), else $RUN/NAME.pid
  if [[ -d "$SV/$1/supervise" ]]; then cat "$SV/$1/supervise/pid" 2>/dev/null || true; return 0; fi
  local f="$RUN/$1.pid"
  [[ -f "$f" ]] && cat "$f" 2>/dev/null || true
}

service_running() { pid_alive "$(pidfile_pid "$1")"; }

# A process belongs to this sandbox if its command line mentions the data dir
# or its working directory lies inside it. Used by `down` when pid files are gone.
sandbox_pids() {
  local p cmd cwd self=$$
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$self" || "$p" == "$BASHPID" ]] && continue
    cmd="$( { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null || true)"
    cwd="$(readlink "/proc/$p/cwd" 2>/dev/null || true)"
    if [[ "$cmd" == *"$SANDBOX_DIR/"* || "$cwd" == "$SANDBOX_DIR" || "$cwd" == "$SANDBOX_DIR/"* || "$cwd" == "$SANDBOX_DIR (deleted)" ]]; then
      # never the calling shell's ancestors (e.g. a user's shell cd'ed into the data dir)
      if is_ancestor "$p"; then continue; fi
      echo "$p"
    fi
  done
}

is_ancestor() { # pid: is it us or one of our ancestors?
  local cur=$$ target="$1" n=0
  while [[ -n "$cur" && "$cur" != 0 && $n -lt 64 ]]; do
    [[ "$cur" == "$target" ]] && return 0
    cur="$(awk '/^PPid:/ {print $2}' "/proc/$cur/status" 2>/dev/null || true)"
    n=$((n+1))
  done
  return 1
}

# Stop the process in pid file NAME: TERM, wait up to TIMEOUT, then KILL.
stop_pidfile() { # name [timeout]
  local name="$1" timeout="${2:-10}" pid
  pid="$(pidfile_pid "$name")"
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + timeout ))
    while pid_alive "$pid" && (( $(date +%s) < deadline )); do sleep 0.2; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

# Start a long-running program in the background as USER, detached, with its
# output in $LOGS/NAME.log and its pid in $RUN/NAME.pid.
#   start_bg NAME USER WORKDIR CMD...
# Closes every descriptor but stdin, stdout and stderr in the calling (sub)shell: a service
# started while a caller holds `flock /tmp/sitrep-sandbox.lock` must not inherit the lock's
# descriptor, or the lock stays held for as long as the service runs.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    if [[ "$fd" =~ ^[0-9]+$ ]] && (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

start_bg() {
  local name="$1" user="$2" wd="$3"; shift 3
  if service_running "$name"; then return 0; fi
  local logf="$LOGS/$name.log"
  touch "$logf"; chown "$user" "$logf" 2>/dev/null || true
  (
    cd "$wd"
    close_inherited_fds
    exec setsid setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
      "$@" >>"$logf" 2>&1 </dev/null
  ) &
  echo $! > "$RUN/$name.pid"
}

# Start a daemon under runit, the way a host's service manager runs it: runsv restarts it when it
# exits, `sv down` (svc_down) stops it for good and `sv up` starts it again. Its output goes to
# $LOGS/NAME.log; pidfile_pid NAME gives the daemon's pid, $RUN/NAME-runsv.pid runsv's. The
# environment of the caller (e.g. a DSN) is the daemon's.
#   start_svc NAME USER WORKDIR CMD...
start_svc() {
  local name="$1" user="$2" wd="$3"; shift 3
  local dir="$SV/$name" logf="$LOGS/$name.log"
  if service_running "$name"; then return 0; fi
  if service_running "$name-runsv"; then sv up "$dir" >/dev/null; return 0; fi
  touch "$logf"; chown "$user" "$logf" 2>/dev/null || true
  rm -rf "$dir"; install -d -m 755 "$dir"
  {
    echo '#!/usr/bin/env bash'
    printf 'cd %q || exit 1\n' "$wd"
    printf 'exec setpriv --reuid=%q --regid=%q --init-groups' "$user" "$(id -g "$user")"
    printf ' %q' "$@"
    printf ' >>%q 2>&1 </dev/null\n' "$logf"
  } > "$dir/run"
  chmod 755 "$dir/run"
  (
    cd /
    close_inherited_fds
    exec setsid runsv "$dir" </dev/null >>"$LOGS/runsv.log" 2>&1
  ) &
  echo $! > "$RUN/$name-runsv.pid"
  wait_until 10 "runsv to start $name" bash -c "[[ -s '$dir/supervise/pid' ]]"
}
# Stop a runit service and leave it down (runsv stays, as after `sv down` on a host); SIGNAL,
# when given, is sent after sv's own TERM, e.g. INT for PostgreSQL's fast shutdown.
svc_down() { # name timeout [signal]
  local name="$1" timeout="${2:-10}" sig="${3:-}" dir="$SV/$1" pid
  [[ -d "$dir/supervise" ]] || return 0
  pid="$(pidfile_pid "$name")"
  sv down "$dir" >/dev/null 2>&1 || true
  [[ -n "$sig" && -n "$pid" ]] && kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while pid_alive "$pid" && (( $(date +%s) < deadline )); do sleep 0.2; done
  pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
}
# Stop the daemon and its runsv (sandbox/down).
svc_exit() { # name timeout [signal]
  svc_down "$@"
  [[ -d "$SV/$1/supervise" ]] && sv exit "$SV/$1" >/dev/null 2>&1 || true
  stop_pidfile "$1-runsv" 5
}

env_file_loaded() { [[ -f "$SANDBOX_ENV_FILE" ]]; }
load_env() {
  [[ -f "$SANDBOX_ENV_FILE" ]] || die "$SANDBOX_ENV_FILE missing: run sandbox/up first"
  # shellcheck disable=SC1090
  source "$SANDBOX_ENV_FILE"
}
secret() { cat "$SECRETS/$1"; }
