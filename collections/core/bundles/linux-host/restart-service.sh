#!/usr/bin/env bash
# Remediation: systemctl restart SERVICE, then wait up to WAIT_S seconds for it to be active.
set -euo pipefail

SERVICE="${SERVICE:-}"
WAIT_S="${WAIT_S:-30}"
if ! [[ "$SERVICE" =~ ^[A-Za-z0-9@._:-]+$ ]]; then
  echo "SERVICE must be a systemd unit name (letters, digits, @ . _ : -), got '${SERVICE}'" >&2
  exit 2
fi
[[ "$WAIT_S" =~ ^[0-9]+$ ]] || { echo "WAIT_S must be whole seconds" >&2; exit 2; }
if [[ ! -d /run/systemd/system ]] || ! command -v systemctl >/dev/null; then
  echo "systemd is not running on this host; use core/linux-host/restart-process for a process under another supervisor" >&2
  exit 1
fi
timeout 10 systemctl cat "$SERVICE" >/dev/null 2>&1 || { echo "unit ${SERVICE} does not exist" >&2; exit 1; }

before="$(timeout 10 systemctl show "$SERVICE" -p ActiveState -p MainPID -p NRestarts --no-pager | tr '\n' ' ')"
if ! timeout $((WAIT_S + 60)) systemctl restart "$SERVICE"; then
  logs="$(timeout 10 journalctl -u "$SERVICE" -n 20 --no-pager -q 2>/dev/null | cut -c1-300 || true)"
  sitrep emit issue --severity 1 --title "Restart of ${SERVICE} failed" \
    --expected "active after restart" --actual "systemctl restart returned an error" \
    --details "${logs}" \
    --next-steps "Read journalctl -u ${SERVICE} -b; fix the cause (often config or a dependency) and start it again: systemctl start ${SERVICE}."
  exit 0
fi
state=""
for ((i = 0; i < WAIT_S; i++)); do
  state="$(systemctl is-active "$SERVICE" 2>/dev/null || true)"
  [[ "$state" == active ]] && break
  sleep 1
done
after="$(timeout 10 systemctl show "$SERVICE" -p ActiveState -p MainPID -p NRestarts --no-pager | tr '\n' ' ')"
sitrep emit report "Restarted ${SERVICE}. Before: ${before}. After: ${after}."
if [[ "$state" != active ]]; then
  sitrep emit issue --severity 1 --title "${SERVICE} is not active after restart" \
    --expected "active within ${WAIT_S}s" --actual "state ${state}" \
    --details "$(timeout 10 journalctl -u "$SERVICE" -n 20 --no-pager -q 2>/dev/null | cut -c1-300 || true)" \
    --next-steps "Read journalctl -u ${SERVICE} -b and fix the startup error."
fi
