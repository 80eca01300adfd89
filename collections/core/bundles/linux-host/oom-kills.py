"""Health: processes the kernel's OOM killer killed recently, from the kernel log.

Sources, first that works: KERNEL_LOG (a file, e.g. /var/log/kern.log), `journalctl -k`,
`dmesg --time-format iso`, /var/log/kern.log. One issue per killed process name, carrying
the time of its last kill (`last_event_at`): it stays open while kills are recent (the check's
quiet period), not for the whole OOM_WINDOW_MIN.
"""
import datetime as dt
import json, os, re, socket, sys

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from kernel_log import read_log, stamp, utc  # noqa: E402

RESULTS = os.environ["SITREP_RESULTS"]

KILLED = re.compile(
    r"(?P<memcg>Memory cgroup out of memory: )?(?:Out of memory[^:]*: )?Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)"
    r"(?:.*?anon-rss:(?P<anon>\d+)kB)?(?:.*?file-rss:(?P<file>\d+)kB)?")
# Printed before the kill when a cgroup hit its limit: "memory: usage 524288kB, limit 524288kB, failcnt 12"
MEMCG_USAGE = re.compile(r"\bmemory: usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB")
CONSTRAINT = re.compile(r"oom-kill:(constraint=\S+)")


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def kb(n):
    """A kernel kB figure in the unit that reads best: 768 kB, 12.5 MiB, 1.5 GiB."""
    n = int(n)
    if n < 1024:
        return f"{n} kB"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} MiB"
    return f"{n / (1024 * 1024):.2f} GiB"


def main():
    try:
        window = float(os.environ.get("OOM_WINDOW_MIN") or 60)
    except ValueError:
        sys.exit("OOM_WINDOW_MIN must be a number of minutes")
    host = socket.gethostname()
    lines, source = read_log(window)
    now = dt.datetime.now().astimezone()
    since = now - dt.timedelta(minutes=window)
    kills = {}  # name -> dict
    constraints = {}  # pid -> (constraint, memcg)
    usage = None  # the last "memory: usage ..., limit ..." line, for the next kill
    for line in lines:
        u = MEMCG_USAGE.search(line)
        if u:
            usage = (int(u.group("usage")), int(u.group("limit")))
            continue
        c = CONSTRAINT.search(line)
        if c:
            kv = dict(x.split("=", 1) for x in c.group(1).split(",") if "=" in x)
            constraints[kv.get("pid", "")] = (kv.get("constraint", ""), kv.get("oom_memcg", ""))
            continue
        m = KILLED.search(line)
        if not m:
            continue
        t = stamp(line, now)
        if t is not None and t < since:
            continue
        name = m.group("name")
        k = kills.setdefault(name, {"count": 0, "pids": [], "last": None, "anon_kb": None, "file_kb": None,
                                    "usage": None, "memcg": False, "lines": []})
        k["count"] += 1
        k["pids"].append(m.group("pid"))
        k["last"] = t
        if m.group("anon") is not None:
            k["anon_kb"] = int(m.group("anon"))
            k["file_kb"] = int(m.group("file") or 0)
        if usage:
            k["usage"], usage = usage, None
        k["memcg"] = k["memcg"] or bool(m.group("memcg"))
        k["lines"] = (k["lines"] + [line.strip()[:300]])[-3:]

    total = sum(k["count"] for k in kills.values())
    emit({"type": "metric", "name": "oom_kills", "value": total})
    emit({"type": "insight", "text": f"{host}: {total} OOM kills in the last {window:g} min ({source})",
          "data": {"kills": total, "processes": sorted(kills)}})
    for name, k in sorted(kills.items(), key=lambda kv: -kv[1]["count"]):
        cons = [constraints[p] for p in k["pids"] if p in constraints]
        memcg = k["memcg"] or any(c[0] == "CONSTRAINT_MEMCG" for c in cons)
        cg = next((c[1] for c in cons if c[1]), "")
        limit = (f": {kb(k['usage'][0])} used of a {kb(k['usage'][1])} limit" if k["usage"] else "")
        where = (f"its cgroup{(' ' + cg) if cg else ''} hit its memory limit{limit} (a container/service limit, not the host)"
                 if memcg else "the host ran out of memory")
        last = utc(k["last"]) if k["last"] else "an unknown time"
        held = (f"; when killed it held {kb(k['anon_kb'])} anonymous and {kb(k['file_kb'])} file-backed memory"
                if k["anon_kb"] is not None else "")
        issue = {"type": "issue", "severity": 2,
              "title": f"Kernel OOM killer killed {name} on host {host}",
              "expected": "no OOM kills",
              "actual": f"{k['count']} kills of {name} in the last {window:g} min (pids {', '.join(k['pids'][-10:])}), the last at {last}{held}",
              "details": f"Cause: {where}. Last kernel lines ({source}):\n" + "\n".join(k["lines"]),
              "next_steps": (f"Raise the memory limit of {name}'s cgroup/container or find its leak (growth over time in core/linux-host/top-processes)"
                             if memcg else
                             f"Find what used the memory (core/linux-host/memory-pressure, top-processes); cap {name} or the real hog with a cgroup limit, add memory or swap")
                            + f"; check that {name} was restarted (core/linux-host/failed-units).",
              "reproduce_hint": "journalctl -k | grep -i 'killed process'   # or: dmesg -T | grep -i 'killed process'"}
        if k["last"]:
            issue["last_event_at"] = utc(k["last"])
        emit(issue)


if __name__ == "__main__":
    main()
