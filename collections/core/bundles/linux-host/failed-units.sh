#!/usr/bin/env bash
# Health: systemd units in the failed state, each with its last journal lines.
set -euo pipefail

host="$(hostname 2>/dev/null || echo host)"
if [[ ! -d /run/systemd/system ]] || ! command -v systemctl >/dev/null; then
  # Not an error: the host simply has no systemd (a container, another init).
  sitrep emit report "systemd is not running on ${host} (no /run/systemd/system); nothing to check."
  sitrep emit insight "${host}: systemd not running; failed-unit check skipped" --data '{"systemd":false}'
  exit 0
fi

units="$(timeout 20 systemctl list-units --state=failed --no-legend --plain --no-pager 2>/dev/null | awk '{print $1}' | head -n 50)" \
  || { echo "systemctl list-units failed or timed out" >&2; exit 1; }

count=0
while read -r unit; do
  [[ -z "$unit" ]] && continue
  count=$((count + 1))
  props="$(timeout 10 systemctl show "$unit" --no-pager -p Result -p ExecMainStatus -p NRestarts -p StateChangeTimestamp -p Description 2>/dev/null || true)"
  result="$(sed -n 's/^Result=//p' <<<"$props")"
  status="$(sed -n 's/^ExecMainStatus=//p' <<<"$props")"
  since="$(sed -n 's/^StateChangeTimestamp=//p' <<<"$props")"
  desc="$(sed -n 's/^Description=//p' <<<"$props")"
  restarts="$(sed -n 's/^NRestarts=//p' <<<"$props")"
  logs="$(timeout 10 journalctl -u "$unit" -n 15 --no-pager -q -o short-iso 2>/dev/null | cut -c1-300 || true)"
  sev=2
  [[ "$unit" == *.timer || "$unit" == *.mount && "$unit" != -.mount ]] && sev=3
  sitrep emit issue --severity "$sev" \
    --title "systemd unit ${unit} has failed on ${host}" \
    --expected "active (or inactive after a clean exit)" \
    --actual "failed since ${since:-unknown}: result ${result:-unknown}, exit status ${status:-?}, ${restarts:-0} automatic restarts" \
    --details "${desc}
Last journal lines:
${logs:-(no journal lines readable)}" \
    --next-steps "Read the full log (journalctl -u ${unit} -b); fix the cause (config, dependency, disk, permissions), then restart it with core/linux-host/restart-service --set SERVICE=${unit}; clear the failed state with systemctl reset-failed ${unit} if it is obsolete." \
    --reproduce-hint "systemctl status ${unit}" \
    --data "{\"unit\":\"${unit//[\"\\]/}\",\"result\":\"${result//[\"\\]/}\",\"restarts\":\"${restarts:-0}\"}"
done <<<"$units"

sitrep emit metric systemd_failed_units "$count"
sitrep emit insight "${host}: ${count} failed systemd units" --data "{\"systemd\":true,\"failed\":${count}}"
