"""Health: processes the kernel's OOM killer killed recently, from the kernel log.

Sources, first that works: KERNEL_LOG (a file, e.g. /var/log/kern.log), `journalctl -k`,
`dmesg --time-format iso`, /var/log/kern.log. One issue per killed process name, carrying
the time of its last kill (`last_event_at`): it stays open while kills are recent (the check's
quiet period), not for the whole OOM_WINDOW_MIN.
"""
import datetime as dt
import json, os, re, shutil, socket, subprocess, sys

RESULTS = os.environ["SITREP_RESULTS"]

KILLED = re.compile(
    r"(?P<memcg>Memory cgroup out of memory: )?(?:Out of memory[^:]*: )?Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)"
    r"(?:.*?anon-rss:(?P<anon>\d+)kB)?(?:.*?file-rss:(?P<file>\d+)kB)?")
# Printed before the kill when a cgroup hit its limit: "memory: usage 524288kB, limit 524288kB, failcnt 12"
MEMCG_USAGE = re.compile(r"\bmemory: usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB")
CONSTRAINT = re.compile(r"oom-kill:(constraint=\S+)")
ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)[,.]?\d*([+-]\d\d:?\d\d|Z)?")
SYSLOG = re.compile(r"^([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d)")


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def read_log(window_min):
    src = os.environ.get("KERNEL_LOG", "").strip()
    if src:
        try:
            with open(src, errors="replace") as f:
                return f.readlines()[-20000:], src
        except OSError as e:
            sys.exit(f"cannot read KERNEL_LOG {src}: {e}")
    if shutil.which("journalctl"):
        out = run(["journalctl", "-k", "-o", "short-iso", "--no-pager", "-q", "--since", f"-{window_min}min"])
        if out and out.strip() and "No entries" not in out:
            return out.splitlines()[-20000:], "journalctl -k"
    if shutil.which("dmesg"):
        out = run(["dmesg", "--time-format", "iso"])
        if out is not None:
            return out.splitlines()[-20000:], "dmesg"
    for path in ("/var/log/kern.log", "/var/log/messages"):
        try:
            with open(path, errors="replace") as f:
                return f.readlines()[-20000:], path
        except OSError:
            continue
    sys.exit("no readable kernel log: set KERNEL_LOG, or run where journalctl -k or dmesg works (root or CAP_SYSLOG)")


def kb(n):
    """A kernel kB figure in the unit that reads best: 768 kB, 12.5 MiB, 1.5 GiB."""
    n = int(n)
    if n < 1024:
        return f"{n} kB"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} MiB"
    return f"{n / (1024 * 1024):.2f} GiB"


def utc(t):
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def stamp(line, now):
    m = ISO.match(line)
    if m:
        s = m.group(1) + (m.group(2) or "")
        s = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", s).replace("Z", "+00:00")
        t = dt.datetime.fromisoformat(s)
        return t if t.tzinfo else t.astimezone()
    m = SYSLOG.match(line)
    if m:
        t = dt.datetime.strptime(f"{now.year} {m.group(1)}", "%Y %b %d %H:%M:%S").astimezone()
        return t.replace(year=now.year - 1) if t > now + dt.timedelta(days=1) else t
    return None


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
