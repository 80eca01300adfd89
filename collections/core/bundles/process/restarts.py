"""Health: is the process running, and does it keep restarting (a crash loop)?

The process is found by PROCESS_MATCH (its command line as discovery recorded it). Each run
watches it for SAMPLE_S seconds and appends what it saw (pid and start time, or absent) to a
history in SITREP_STATE_DIR, so restarts between runs count too. One issue when the process is
not running now, or started RESTARTS_MAX times within RESTART_WINDOW_MIN: it names the last
error of its logs (LOG_FILES) and, when one of its configuration files changed shortly before
it started failing (tracked by config-watch in the same state folder), that change, so the
issue's data can fill core/linux-host/rollback-config-file.
"""
import os, sys, time

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from proclib import (ago, emit, find, group, is_bare, iso, load_json, now, num, paths, processes, resource,
                     save_json, saved_path, scan_errors, sha256, state_path, service_of, diff_config, masked_changes)

MAX_HISTORY = 400


def observe(pattern, seconds):
    """What the process looked like at ~4 samples a second for `seconds`."""
    seen, end = [], time.monotonic() + seconds
    while True:
        roots = find(pattern, processes())
        t = now()
        if roots:
            seen.extend({"t": t, "pid": p["pid"], "start": round(p["start"], 2), "cmd": p["cmd"][:300]} for p in roots[:1])
        else:
            seen.append({"t": t, "absent": True})
        if time.monotonic() >= end:
            return seen
        time.sleep(0.25)


def count(history, since):
    """(starts, exits) in the history at or after `since`: a start is a process identity seen
    for the first time after another one or after an absence (or one whose start time falls in
    the window); an exit is a step from running to absent."""
    starts, exits, prev, ids = 0, 0, "none", set()
    for o in history:
        ident = "absent" if o.get("absent") else (o["pid"], o["start"])
        if o["t"] >= since:
            if ident != "absent" and ident not in ids and (prev != "none" or o["start"] >= since):
                starts += 1
            if ident == "absent" and prev not in ("none", "absent"):
                exits += 1
        if ident != "absent":
            ids.add(ident)
        prev = ident
    return starts, exits


def config_change():
    """The most recent change of a configuration file against the known-good copy config-watch
    keeps in this state folder (compared here, so it does not matter which task ran first)."""
    index = load_json(os.path.join(os.environ["SITREP_STATE_DIR"], "config", "index.json"), {})
    best = None
    for f, e in index.items():
        try:
            with open(f, "rb") as fh:
                cur = fh.read()
        except OSError:
            continue
        if sha256(cur) == e.get("good_hash"):
            continue
        pend = e.get("pending") or {}
        try:
            changed_at = pend.get("changed_at") or min(os.stat(f).st_mtime, now())
        except OSError:
            continue
        if best is None or changed_at > best[2]:
            best = (f, e, changed_at, cur)
    if not best:
        return None
    f, e, changed_at, cur = best
    try:
        with open(saved_path(e), "rb") as fh:
            old = fh.read()
    except OSError:
        return None
    changes = masked_changes(diff_config(old.decode("utf-8", "replace"), cur.decode("utf-8", "replace")))
    single = changes[0] if len(changes) == 1 and changes[0]["key"] else None
    return {"file": f, "key": single["key"] if single else "", "old": changes[0]["old"] if changes else None,
            "new": changes[0]["new"] if changes else None, "changed_at": changed_at,
            "saved": saved_path(e), "changes": changes[:10]}


def main():
    pattern = (os.environ.get("PROCESS_MATCH") or "").strip()
    name = resource()
    if not pattern:
        emit({"type": "inconclusive", "reason": f"{name}: no command line to find the process by (PROCESS_MATCH is empty; discovery fills it from the resource's cmdline)"})
        return
    window = num("RESTART_WINDOW_MIN", 15) * 60
    max_starts = int(num("RESTARTS_MAX", 3))
    sample = min(max(num("SAMPLE_S", 3), 0), 20)
    hist_path = state_path("restarts.json")
    state = load_json(hist_path, {"history": []})
    seen = observe(pattern, sample)
    t = now()
    history = [o for o in state["history"] if o["t"] >= t - 2 * window] + seen
    # keep the newest observations; a long absence is kept as its first and last samples
    compact = [o for i, o in enumerate(history)
               if not (o.get("absent") and 0 < i < len(history) - 1 and history[i - 1].get("absent") and history[i + 1].get("absent"))]
    state["history"] = compact[-MAX_HISTORY:]
    present = [o for o in seen if not o.get("absent")]
    last_present = next((o for o in reversed(history) if not o.get("absent")), None)
    if present:
        manager, unit = service_of(present[-1]["pid"])
        if unit:
            state["unit"], state["manager"] = unit, manager
        state["last_cmd"] = present[-1]["cmd"]
    save_json(hist_path, state)

    starts, exits = count(history, t - window)
    running_now = not seen[-1].get("absent")
    up = f"running as pid {seen[-1]['pid']}, up {ago(t - seen[-1]['start'])}" if running_now else "not running"
    emit({"type": "metric", "name": "process_starts", "value": starts})
    emit({"type": "metric", "name": "process_up", "value": 1 if running_now else 0})
    emit({"type": "report", "text": f"{name}: {up}; {starts} starts and {exits} exits seen in the last {ago(window)} "
                                    f"({len(seen)} samples over {sample:g}s, {len(history)} observations kept)."})
    restarting = starts >= max_starts
    if running_now and not restarting:
        return

    errors, problems = scan_errors(paths("LOG_FILES"), t - max(window, 3600))
    last = next((e for e in reversed(errors) if not is_bare(e["msg"])), errors[-1] if errors else None)
    top = group([e for e in errors if e["t"] >= t - window])[:1]
    first_failure = min([o["t"] for o in history if o.get("absent")] or [t])
    change = config_change()
    if running_now:
        state_word = "restarting"
        actual = f"{starts} starts and {exits} exits in the last {ago(window)}; now {up}"
    else:
        state_word = "down"
        seen_at = f"last seen {ago(t - last_present['t'])} ago as pid {last_present['pid']}" if last_present else "not seen running by sitrep"
        actual = f"not running ({seen_at}); {starts} starts and {exits} exits in the last {ago(window)}"
        if starts >= 2 or exits >= 2:
            state_word = "restarting"
    lines = []
    if last:
        lines.append(f"Last error in its logs ({iso(last['t'])}, {last['file']}): {last['msg'][:400]}")
    elif problems:
        lines.append("Its logs could not be read: " + "; ".join(problems))
    else:
        lines.append("No error lines in its logs (LOG_FILES) in the last hour." if paths("LOG_FILES") else "No log files known (LOG_FILES is empty).")
    if top and top[0]["sample"] != (last or {}).get("msg"):
        lines.append(f"Most frequent error in the last {ago(window)} ({top[0]['count']}x): {top[0]['sample'][:300]}")
    data = {"process": pattern, "state": state_word, "starts": starts, "exits": exits}
    if last_present:
        data["last_pid"] = last_present["pid"]
    if state.get("unit"):
        data.update(unit=state["unit"], manager=state.get("manager", "systemd"))
    if last:
        data.update(last_error=last["msg"][:500], log_file=last["file"], last_error_at=iso(last["t"]))
    steps = "Read the last errors of its logs above; fix what makes it exit (configuration, a missing dependency, resources) and let its supervisor start it again."
    if change and change["changed_at"] <= first_failure + 60:
        shown = "; ".join(f"{c['key'] or 'line ' + str(c.get('line'))}: {c['old']!r} -> {c['new']!r}" for c in change["changes"][:3])
        lines.append(f"Its configuration file {change['file']} changed {ago(t - change['changed_at'])} ago, before it started failing: {shown}")
        data.update(file=change["file"], key=change["key"], old=change["old"], new=change["new"],
                    saved=change["saved"], changed_at=iso(change["changed_at"]))
        steps = (f"The failures follow a change of {change['file']}: roll it back with core/linux-host/rollback-config-file "
                 f"--set FILE={change['file']}" + (f" --set KEY={change['key']}" if change["key"] else "")
                 + f" --set FROM={change['saved']} (or fix the value), then let the supervisor start it again.")
    elif state.get("unit") and state.get("manager", "systemd") == "systemd":
        steps += f" Under systemd: journalctl -u {state['unit']} -n 50; systemctl restart {state['unit']} once fixed."
    elif state.get("unit"):
        steps += f" Under runit: sv status {state['unit']}; sv restart {state['unit']} once fixed."
    emit({"type": "issue", "severity": 2,
          "title": f"Process {name} is down or restarting",
          "expected": f"running, fewer than {max_starts} starts in {ago(window)}",
          "actual": actual,
          "details": "\n".join(lines + ([f"Command line: {state.get('last_cmd') or pattern}"])),
          "next_steps": steps,
          "reproduce_hint": f"pgrep -af '{(state.get('last_cmd') or pattern)[:80]}'",
          "data": data})


if __name__ == "__main__":
    main()
