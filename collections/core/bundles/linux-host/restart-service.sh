#!/usr/bin/env bash
# Remediation: restart SERVICE through the host's service manager, then wait up to WAIT_S seconds
# for it to run. systemd (systemctl restart UNIT) or runit (sv restart DIR, where DIR is the
# service directory a running runsv supervises, or one under SVDIR, /etc/service, /service,
# /var/service); a service that is down is started.
set -euo pipefail

SERVICE="${SERVICE:-}"
WAIT_S="${WAIT_S:-30}"
if ! [[ "$SERVICE" =~ ^[A-Za-z0-9@._:-]+$ ]]; then
  echo "SERVICE must be a service name (letters, digits, @ . _ : -), got '${SERVICE}'" >&2
  exit 2
fi
[[ "$WAIT_S" =~ ^[0-9]+$ ]] || { echo "WAIT_S must be whole seconds" >&2; exit 2; }

# The service directory of a runit service: the working directory of the runsv that supervises
# it (runsv runs in its service directory), else a service directory of that name.
runit_dir() {
  local p dir
  for p in $(pgrep -x runsv 2>/dev/null || true); do
    dir="$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | sed -n 2p || true)"
    if [[ -n "$dir" && "$(basename "$dir")" == "$1" ]]; then
      readlink "/proc/$p/cwd" && return 0
    fi
  done
  for dir in ${SVDIR:-} /etc/service /service /var/service; do
    [[ -d "$dir/$1/supervise" ]] && { echo "$dir/$1"; return 0; }
  done
  return 1
}

failed() { # title actual details next-steps
  sitrep emit issue --severity 1 --title "$1" --expected "running after restart" --actual "$2" \
    --details "$3" --next-steps "$4"
  exit 0
}

if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null \
  && timeout 10 systemctl cat "$SERVICE" >/dev/null 2>&1; then
  journal() { timeout 10 journalctl -u "$SERVICE" -n 20 --no-pager -q 2>/dev/null | cut -c1-300 || true; }
  show() { timeout 10 systemctl show "$SERVICE" -p ActiveState -p MainPID -p NRestarts --no-pager | tr '\n' ' '; }
  before="$(show)"
  timeout $((WAIT_S + 60)) systemctl restart "$SERVICE" \
    || failed "Restart of ${SERVICE} failed" "systemctl restart returned an error" "$(journal)" \
      "Read journalctl -u ${SERVICE} -b; fix the cause (often config or a dependency) and start it again: systemctl start ${SERVICE}."
  state=""
  for ((i = 0; i < WAIT_S; i++)); do
    state="$(systemctl is-active "$SERVICE" 2>/dev/null || true)"
    [[ "$state" == active ]] && break
    sleep 1
  done
  sitrep emit report "Restarted ${SERVICE} (systemd). Before: ${before}. After: $(show)."
  [[ "$state" == active ]] || failed "${SERVICE} is not active after restart" "state ${state}" "$(journal)" \
    "Read journalctl -u ${SERVICE} -b and fix the startup error."
elif command -v sv >/dev/null && dir="$(runit_dir "$SERVICE")"; then
  before="$(sv status "$dir" 2>&1 || true)"
  out="$(sv -w "$WAIT_S" restart "$dir" 2>&1)" \
    || failed "Restart of ${SERVICE} failed" "sv restart: ${out}" "$(tail -n 20 "$dir/log/main/current" 2>/dev/null | cut -c1-300 || true)" \
      "Read the service's log, fix the cause (often config or a dependency) and start it again: sv up ${dir}."
  after="$(sv status "$dir" 2>&1 || true)"
  sitrep emit report "Restarted ${SERVICE} (runit, ${dir}). Before: ${before}. After: ${after}."
  [[ "$after" == run:* ]] || failed "${SERVICE} is not running after restart" "${after}" "" \
    "Read the service's log and fix the startup error; sv status ${dir} shows whether it keeps exiting."
else
  echo "no service manager here knows ${SERVICE} (systemd: no such unit; runit: no runsv or service directory of that name); use core/linux-host/restart-process for a process under another supervisor" >&2
  exit 1
fi
