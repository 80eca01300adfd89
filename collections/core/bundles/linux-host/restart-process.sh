#!/usr/bin/env bash
# Remediation: stop process PID with SIGTERM (SIGKILL after GRACE_S seconds) so that its
# supervisor (systemd, supervisord, runit, a container runtime, a shell loop) starts it again;
# then report whether a process with the same command line came back within RESTART_WAIT_S.
set -euo pipefail

PID="${PID:-}"; GRACE_S="${GRACE_S:-10}"; RESTART_WAIT_S="${RESTART_WAIT_S:-15}"
[[ "$PID" =~ ^[0-9]+$ ]] || { echo "PID must be a process id, got '${PID}'" >&2; exit 2; }
[[ "$GRACE_S" =~ ^[0-9]+$ && "$RESTART_WAIT_S" =~ ^[0-9]+$ ]] || { echo "GRACE_S and RESTART_WAIT_S must be whole seconds" >&2; exit 2; }
(( PID > 1 )) || { echo "refusing to signal pid ${PID}" >&2; exit 2; }
if [[ ! -d /proc/$PID ]]; then
  sitrep emit report "Process ${PID} does not exist (already gone). Nothing was signalled."
  exit 0
fi
comm="$(cat /proc/$PID/comm 2>/dev/null || echo '?')"
cmdline="$(tr '\0' ' ' </proc/$PID/cmdline 2>/dev/null | sed 's/ $//' | cut -c1-500)"
ppid="$(awk '{print $4}' /proc/$PID/stat 2>/dev/null || echo '?')"
parent="$(cat /proc/$ppid/comm 2>/dev/null || echo '?')"
[[ -n "$cmdline" ]] || { echo "pid ${PID} (${comm}) is a kernel thread; refusing" >&2; exit 2; }

kill -TERM "$PID"
how=SIGTERM
for ((i = 0; i < GRACE_S * 10; i++)); do
  [[ -d /proc/$PID ]] || break
  # a zombie has exited already
  [[ "$(awk '{print $3}' /proc/$PID/stat 2>/dev/null)" == Z ]] && break
  sleep 0.1
done
if [[ -d /proc/$PID && "$(awk '{print $3}' /proc/$PID/stat 2>/dev/null)" != Z ]]; then
  kill -KILL "$PID" 2>/dev/null || true
  how="SIGKILL after ${GRACE_S}s"
  sleep 0.5
fi

new=""
for ((i = 0; i < RESTART_WAIT_S * 5; i++)); do
  for d in /proc/[0-9]*; do
    p="${d#/proc/}"
    [[ "$p" == "$PID" || "$p" == "$$" ]] && continue
    c="$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | sed 's/ $//' | cut -c1-500 || true)"
    if [[ "$c" == "$cmdline" ]]; then new="$p"; break; fi
  done
  [[ -n "$new" ]] && break
  sleep 0.2
done

if [[ -n "$new" ]]; then
  sitrep emit report "Stopped ${comm} (pid ${PID}, parent ${parent} ${ppid}) with ${how}; it came back as pid ${new}: ${cmdline}"
  sitrep emit insight "process ${comm} restarted: pid ${PID} -> ${new}" --data "{\"old_pid\":${PID},\"new_pid\":${new},\"restarted\":true}"
else
  sitrep emit report "Stopped ${comm} (pid ${PID}, parent ${parent} ${ppid}) with ${how}; no process with the same command line appeared within ${RESTART_WAIT_S}s."
  sitrep emit issue --severity 2 --title "Process ${comm} did not come back after restart" \
    --expected "its supervisor starts it again within ${RESTART_WAIT_S}s" \
    --actual "no process running: ${cmdline}" \
    --details "The process was stopped with ${how}; its parent was ${parent} (pid ${ppid})." \
    --next-steps "Start it again the way it is normally started (its unit, supervisor or container); check its logs for why it does not start."
fi
