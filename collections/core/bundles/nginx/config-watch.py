"""nginx's configuration against its last known-good version, for two tasks (SITREP_TASK):

  config-watch    health: `nginx -T` lists every file nginx loads; while the configuration
                  passes the test and nginx serves traffic (fewer than half of the access log's
                  requests in the last LOG_WINDOW_MIN minutes are 5xx), it is snapshotted into
                  SITREP_STATE_DIR as the known-good version - the one core/nginx/rollback-config
                  restores. A changed configuration becomes the new known-good version once it
                  has served well for CONFIG_ACCEPT_MIN minutes.
  config-changes  diagnostic: the same comparison with the whole (masked) diff in the report; it
                  never snapshots.

A configuration that differs from the known-good version raises one issue naming the files and
lines that changed and when: major when it fails nginx -t, when most requests fail since it
changed, or while the change is recent (CONFIG_RECENT_MIN); minor otherwise.
"""
import os, sys, time

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from nginxlib import (dump, emit, errors_of, iso, line_changes, load_json, num, read_all, digest, saved_files,
                      snapshot, recent_statuses, state_path, write_private)
import json


def describe(c):
    where = f"{c['file']}" + (f":{c['line']}" if c.get("line") else "")
    if c["old"] is None:
        return f"{where}: added {c['new']!r}"
    if c["new"] is None:
        return f"{where}: removed {c['old']!r}"
    return f"{where}: {c['old']!r} -> {c['new']!r}"


def main():
    task = os.environ.get("SITREP_TASK", "config-watch").rsplit("/", 1)[-1]
    diagnostic = task == "config-changes"
    window = num("LOG_WINDOW_MIN", 15) * 60
    recent = num("CONFIG_RECENT_MIN", 60) * 60
    accept_after = num("CONFIG_ACCEPT_MIN", 15) * 60
    name = os.environ.get("SITREP_RESOURCE") or "nginx"
    now = time.time()
    ok, files, err = dump()
    good = load_json(state_path("config", "good.json"), None)
    paths = list(files) or list((good or {}).get("files", {})) or [p for p in [os.environ.get("NGINX_CONF")] if p]
    current = read_all(paths)
    if not current:
        sys.exit(f"cannot read nginx's configuration ({errors_of(err) or 'set NGINX_CONF'})")
    requests, failed = recent_statuses(os.environ.get("ACCESS_LOG") or "", now - window)
    serving = requests == 0 or failed * 2 < requests
    traffic = f"{failed} of {requests} requests answered 5xx in the last {window / 60:g} min" if requests else "no requests in the access log window"
    h = digest(current)
    emit({"type": "metric", "name": "nginx_config_test_ok", "value": 1 if ok else 0})
    if good is None:
        if ok and serving and not diagnostic:
            m = snapshot(current)
            emit({"type": "report", "text": f"{name}: configuration passes nginx -t and serves ({traffic}); snapshotted as known-good "
                                            f"({len(m['files'])} files: {', '.join(sorted(m['files']))})."})
            why = "first look: snapshotted as the known-good version, changes show from the next run"
        else:
            why = (f"no known-good configuration yet, and this one is not taken as one "
                   f"(nginx -t {'passes' if ok else 'fails: ' + errors_of(err)}; {traffic})")
        # without a known-good version there is nothing to compare: proves nothing either way
        emit({"type": "inconclusive", "reason": f"{name}: {why}"})
        return
    pend_path = state_path("config", "pending.json")
    if h == good["hash"]:
        if os.path.exists(pend_path):
            os.unlink(pend_path)
        emit({"type": "report", "text": f"{name}: configuration unchanged since {iso(good['since'])} ({len(current)} files); {traffic}."})
        return
    pend = load_json(pend_path, {})
    if pend.get("hash") != h:
        mtimes = [os.stat(p).st_mtime for p in current if os.path.exists(p)]
        changed = max([m for m in mtimes if m >= good["since"] - 1] or [now])
        pend = {"hash": h, "first_seen": now, "changed_at": min(changed, now)}
        write_private(pend_path, json.dumps(pend).encode())
    age = now - pend["changed_at"]
    if not diagnostic and ok and serving and age >= accept_after:
        snapshot(current)
        os.unlink(pend_path)
        emit({"type": "report", "text": f"{name}: the configuration changed {age / 60:.0f} min ago passes nginx -t and serves ({traffic}); it is now the known-good version."})
        return
    copies = saved_files(good)
    old = read_all(copies.values())
    old = {p: old[s] for p, s in copies.items() if s in old}
    changes = line_changes(old, current)
    since_change = recent_statuses(os.environ.get("ACCESS_LOG") or "", max(pend["changed_at"], now - window))
    broken = (not ok) or (since_change[0] > 0 and since_change[1] * 2 >= since_change[0])
    severity = 2 if broken or age < recent else 3
    shown = "; ".join(describe(c) for c in changes[:4]) + (f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
    first = changes[0] if changes else {"file": "", "old": None, "new": None}
    state = "it fails nginx -t: " + errors_of(err) if not ok else f"it passes nginx -t; {since_change[1]} of {since_change[0]} requests answered 5xx since the change"
    emit({"type": "issue", "severity": severity,
          "title": f"nginx configuration of {name} changed since its last known-good version",
          "expected": f"the known-good configuration (serving since {iso(good['since'])})",
          "actual": f"changed {age / 60:.0f} min ago (at {iso(pend['changed_at'])}): {shown or 'content differs'}",
          "details": f"{state}.\nChanges (secrets masked):\n" + "\n".join(f"  {describe(c)}" for c in changes),
          "next_steps": ("If the trouble started with this change, restore the known-good configuration and reload: core/nginx/rollback-config "
                         "(it runs nginx -t before reloading); otherwise fix the lines above, run core/nginx/config-test and core/nginx/reload."),
          "reproduce_hint": f"nginx -T -c {os.environ.get('NGINX_CONF') or '/etc/nginx/nginx.conf'} | less",
          "data": {"file": first["file"], "old": first["old"], "new": first["new"], "changes": changes,
                   "changed_at": iso(pend["changed_at"]), "config_test": "ok" if ok else "failed",
                   "requests_since_change": since_change[0], "errors_since_change": since_change[1],
                   "saved": state_path("config", "good.json")}})
    emit({"type": "report", "text": f"{name}: configuration differs from the known-good one of {iso(good['since'])}; {traffic}\n"
                                    + "\n".join(f"  {describe(c)}" for c in changes)})


if __name__ == "__main__":
    main()
