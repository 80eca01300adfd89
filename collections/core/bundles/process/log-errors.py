"""Diagnostic: the errors a process logged recently, grouped into templates.

Reads the tail of each of LOG_FILES (JSON lines by their level/msg/error fields, text lines by
a level word such as ERROR, FATAL, [error] or level=error), keeps the error lines of the last
LOG_WINDOW_MIN minutes, and groups them by template (times, ids, addresses and numbers
replaced). The most frequent template raises one issue: major when it occurred at least
LOG_ERRORS_MAJOR times or at fatal level and is still occurring (its last line within
LOG_CURRENT_S seconds), minor otherwise from LOG_ERRORS_MIN. Its data names the
template, a sample line, the file, a class (no-space, connection-refused, timeout, config,
...) and the address it mentions, if any.
"""
import os, sys

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from proclib import TARGET, ago, emit, error_class, group, iso, now, num, paths, resource, scan_errors


def main():
    files = paths("LOG_FILES")
    name = resource()
    window = num("LOG_WINDOW_MIN", 15) * 60
    major = num("LOG_ERRORS_MAJOR", 10)
    minimum = num("LOG_ERRORS_MIN", 3)
    current = num("LOG_CURRENT_S", 120)
    if not files:
        emit({"type": "inconclusive", "reason": f"{name}: no log files known (LOG_FILES is empty); nothing to read"})
        return
    t = now()
    errors, problems = scan_errors(files, t - window)
    if problems and len(problems) == len(files):
        sys.exit("cannot read any log file: " + "; ".join(problems))
    groups = group(errors)
    emit({"type": "metric", "name": "log_error_lines", "value": len(errors)})
    lines = [f"{len(errors)} error lines in the last {ago(window)} in {', '.join(files)}"
             + (f" (unreadable: {'; '.join(problems)})" if problems else "") + ":"]
    for g in groups[:10]:
        lines.append(f"  {g['count']:5d}x  {g['template'][:160]}  (last {iso(g['last'])})")
    emit({"type": "report", "text": "\n".join(lines)})
    if not groups:
        return
    top = groups[0]
    fatal = top["level"] <= 2
    if top["count"] < minimum and not fatal:
        return
    # errors that stopped a while ago are history: they name what happened, not what happens now
    ongoing = t - top["last"] <= current
    severity = 2 if (top["count"] >= major or fatal) and ongoing else 3
    cls = error_class(top["sample"])
    target = TARGET.search(top["sample"])
    data = {"log_file": top["file"], "message": top["template"], "sample": top["sample"][:500], "count": top["count"],
            "class": cls, "last_at": iso(top["last"]), "first_at": iso(top["first"]), "errors": len(errors),
            "templates": [{"template": g["template"], "count": g["count"]} for g in groups[:5]]}
    if target:
        data["target"] = target.group(1)
    emit({"type": "issue", "severity": severity,
          "title": f"{name} logs errors: {top['template'][:100]}",
          "expected": f"fewer than {minimum:g} error lines of one kind in {ago(window)}",
          "actual": f"{top['count']} times in the last {ago(window)} (last at {iso(top['last'])}"
                    + ("" if ongoing else f", {ago(t - top['last'])} ago: it has stopped") + f"); {len(errors)} error lines in all",
          "details": f"Latest occurrence ({top['file']}):\n{top['sample'][:800]}\n\nOther errors:\n"
                     + ("\n".join(f"  {g['count']}x {g['template'][:200]}" for g in groups[1:6]) or "  none"),
          "next_steps": next_steps(cls, data.get("target")),
          "reproduce_hint": f"tail -n 200 {top['file']} | grep -iE 'error|fatal|panic'",
          "last_event_at": iso(top["last"]),
          "data": data})


def next_steps(cls, target):
    at = f" {target}" if target else ""
    return {
        "no-space": "A filesystem it writes to is full: find which (core/linux-host/disk-usage, disk-hogs) and free space.",
        "config": "It rejects its configuration: compare the file with its last good version (core/process/config-changes) and fix or roll back the change.",
        "connection-refused": f"A dependency{at} refuses connections: check that it runs and listens there, then this service's setting that names it.",
        "timeout": f"Calls to a dependency{at} time out: check that dependency's load, locks and latency.",
        "too-many-connections": "A server it uses is out of connection slots: find who holds them (core/postgres/connection-saturation, core/redis/rejected-connections).",
        "out-of-memory": "It runs out of memory: check core/linux-host/memory-pressure and oom-kills, and its memory limit.",
        "permission": "It is denied access to a file or socket: check ownership and modes of the path in the log line.",
        "dns": "A name it uses does not resolve: check the resolver and the name in the log line (core/dns).",
        "tls": "A TLS handshake or certificate fails: check the certificate named in the log line (core/http-endpoint/certificate).",
        "not-found": "Something it needs does not exist (a file, a database, a table): compare with its configuration and recent changes.",
        "crash": "It crashes: read the lines around the error for the cause and check whether it restarts (core/process/restarts).",
    }.get(cls, "Read the error lines around the latest occurrence for the cause; check what changed recently and the dependencies it names.")


if __name__ == "__main__":
    main()
