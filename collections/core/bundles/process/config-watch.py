"""Configuration changes of a process's files, for two tasks (chosen by SITREP_TASK):

  config-watch    health: compares each of CONFIG_FILES with its known-good version (hash and a
                  private copy in SITREP_STATE_DIR); a change becomes the new known-good version
                  once it has been in effect CONFIG_ACCEPT_MIN minutes with the process up and
                  no errors in its logs
  config-changes  diagnostic: the same comparison with the whole (masked) diff in the report;
                  it never accepts a change

A changed file raises one issue naming the file, what changed (old -> new by key, or by line;
secrets-looking values masked), when, and whether the running process has loaded it. It is
major while the change is recent (CONFIG_RECENT_MIN) and in effect, or while the process is
down or logs errors since the change; minor when the running process started before the change
(a restart would load it). The issue's data (file, key, old, new, saved, process) fills
core/linux-host/rollback-config-file. The first run only records the files: sitrep must see a
good version before it can tell a change.
"""
import os, sys

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from proclib import (ago, describe, diff_config, emit, file_id, find, iso, load_json, masked_changes,
                     now, num, paths, processes, resource, save_json, saved_path, scan_errors, group, sha256,
                     state_path, service_of, write_private)

MAX_FILE_BYTES = 1 << 20


def main():
    task = os.environ.get("SITREP_TASK", "config-watch").rsplit("/", 1)[-1]
    diagnostic = task == "config-changes"
    files = paths("CONFIG_FILES")
    pattern = (os.environ.get("PROCESS_MATCH") or "").strip()
    recent = num("CONFIG_RECENT_MIN", 60) * 60
    accept_after = num("CONFIG_ACCEPT_MIN", 60) * 60
    log_window = num("LOG_WINDOW_MIN", 15) * 60
    name = resource()
    if not files:
        emit({"type": "inconclusive", "reason": f"{name}: no configuration files known (CONFIG_FILES is empty): nothing to compare"})
        return
    index_path = state_path("config", "index.json")
    index = load_json(index_path, {})
    t = now()
    running = find(pattern, processes()) if pattern else []
    started = min((p["start"] for p in running), default=None)
    unit = service_of(running[0]["pid"])[1] if running else ""
    report, changed = [], 0
    for f in files:
        e = index.get(f)
        try:
            st = os.stat(f)
            if st.st_size > MAX_FILE_BYTES:
                report.append(f"{f}: {st.st_size} bytes, too large to track (limit {MAX_FILE_BYTES})")
                continue
            with open(f, "rb") as fh:
                cur = fh.read()
        except FileNotFoundError:
            if e:
                changed += 1
                missing(f, e, name, pattern)
            else:
                report.append(f"{f}: does not exist")
            continue
        except OSError as err:
            sys.exit(f"cannot read {f}: {err.strerror} (run sitrep as a user that can read the service's configuration)")
        h = sha256(cur)
        if not e:
            good = state_path("config", file_id(f) + ".good")
            write_private(good, cur)
            index[f] = {"good_hash": h, "good_since": t, "saved": os.path.relpath(good, os.environ["SITREP_STATE_DIR"])}
            report.append(f"{f}: now tracked (this version is the known-good one)")
            continue
        if h == e["good_hash"]:
            e.pop("pending", None)
            report.append(f"{f}: unchanged since {iso(e['good_since'])}")
            continue
        pend = e.get("pending")
        if not pend or pend["hash"] != h:
            mtime = st.st_mtime
            changed_at = mtime if e["good_since"] - 1 <= mtime <= t + 60 else t
            pend = e["pending"] = {"hash": h, "first_seen": t, "changed_at": min(changed_at, t)}
        with open(saved_path(e), "rb") as fh:
            old = fh.read()
        changes = masked_changes(diff_config(old.decode("utf-8", "replace"), cur.decode("utf-8", "replace")))
        age = t - pend["changed_at"]
        if pattern:
            in_effect = started is None or started >= pend["changed_at"] - 1
        else:
            in_effect = None
        errors, _ = scan_errors(paths("LOG_FILES"), max(pend["changed_at"], t - log_window))
        up_long = (not pattern) or (started is not None and in_effect and t - started >= accept_after)
        if not diagnostic and age >= accept_after and up_long and not errors:
            write_private(saved_path(e), cur)
            e.update(good_hash=h, good_since=t)
            e.pop("pending", None)
            report.append(f"{f}: changed {ago(age)} ago; in effect without errors since, now the known-good version")
            continue
        changed += 1
        issue(f, e, pend, changes, age, in_effect, errors, running, started, unit, pattern, name, recent)
        report.append(f"{f}: changed {ago(age)} ago:\n" + "\n".join(f"    {describe(c)}" for c in changes[:50]))
    save_json(index_path, index)
    if all(r.endswith("now tracked (this version is the known-good one)") for r in report):
        # a first look proves nothing about changes: the next run can tell
        emit({"type": "inconclusive", "reason": f"{name}: first look at {', '.join(files)}; recorded as the known-good version, changes show from the next run"})
    emit({"type": "metric", "name": "config_files_changed", "value": changed})
    emit({"type": "report", "text": f"Configuration files of {name}:\n" + "\n".join(f"  {r}" for r in report)})


def issue(f, e, pend, changes, age, in_effect, errors, running, started, unit, pattern, name, recent):
    if in_effect is False:
        effect = (f"the running process started {ago(now() - started)} ago, before the change: it may not use it yet, "
                  "and its next restart will load it")
    elif in_effect and running:
        effect = f"the process restarted after the change ({ago(now() - started)} ago) and runs with it"
    elif pattern:
        effect = "the process is not running now"
    else:
        effect = "whether the process has loaded it is unknown (no PROCESS_MATCH)"
    troubled = bool(errors) or (pattern and not running)
    severity = 3 if in_effect is False else (2 if age < recent or troubled else 3)
    shown = "; ".join(describe(c) for c in changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
    top = group(errors)[:1]
    err_text = (f"{len(errors)} error lines in its logs since the change; the most frequent: {top[0]['template']!r}"
                if errors else "no error lines in its logs since the change")
    key_changes = [c for c in changes if c["key"]]
    single = key_changes[0] if len(changes) == 1 and key_changes else None
    first = changes[0] if changes else {"key": "", "old": None, "new": None}
    key = single["key"] if single else ""
    data = {"file": f, "key": key, "old": first["old"], "new": first["new"], "changed_at": iso(pend["changed_at"]),
            "changes": changes[:20], "saved": saved_path(e), "known_good_since": iso(e["good_since"]),
            "process": pattern, "in_effect": in_effect, "errors_since_change": len(errors)}
    if unit:
        data["unit"] = unit
    if top:
        data["error"] = top[0]["sample"][:300]
    roll = f"core/linux-host/rollback-config-file --set FILE={f}" + (f" --set KEY={key}" if key else "") + f" --set FROM={saved_path(e)}"
    emit({"type": "issue", "severity": severity,
          "title": f"Configuration file {f} of {name} changed",
          "expected": f"the known-good version (in effect since {iso(e['good_since'])})",
          "actual": f"changed {ago(age)} ago (at {iso(pend['changed_at'])}): {shown or 'content differs'}",
          "details": (f"{effect}; {err_text}.\nChanges (secrets masked):\n"
                      + "\n".join(f"  {describe(c)}" for c in changes[:30])),
          "next_steps": (f"If the trouble started with this change, roll it back: {roll}"
                         + (f" --set RESTART_PROCESS='{pattern}'" if pattern and running else "")
                         + "; otherwise fix the value in the file and restart the service. An intended change becomes the "
                           "known-good version once it has run without errors for a while."),
          "reproduce_hint": f"ls -l --time-style=full-iso {f}; diff {saved_path(e)} {f}  (as root; the saved copy may hold secrets)",
          "observed_at": iso(now()),
          "data": data})


def missing(f, e, name, pattern):
    emit({"type": "issue", "severity": 2,
          "title": f"Configuration file {f} of {name} changed",
          "expected": f"the known-good version (in effect since {iso(e['good_since'])})",
          "actual": "the file no longer exists",
          "details": "The process cannot start again without it.",
          "next_steps": f"Restore it: core/linux-host/rollback-config-file --set FILE={f} --set FROM={saved_path(e)}",
          "data": {"file": f, "key": "", "old": None, "new": None, "changes": [], "saved": saved_path(e),
                   "process": pattern, "in_effect": None, "errors_since_change": 0}})


if __name__ == "__main__":
    main()
