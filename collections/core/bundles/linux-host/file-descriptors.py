"""Health: open files against their limits. Per program: processes using at least FD_WARN_PCT
of their own open-file limit (RLIMIT_NOFILE, soft); at 100% they fail with "Too many open files".
For the host: allocated file handles against fs.file-max.

Reads /proc (as root it sees every process; otherwise only the user's own).
"""
import json, os, socket, sys
from collections import defaultdict

RESULTS = os.environ["SITREP_RESULTS"]


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def soft_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                v = line.split()[3]
                return None if v == "unlimited" else int(v)
    return None


def main():
    warn, crit = num("FD_WARN_PCT", 80), num("FD_CRIT_PCT", 95)
    min_open = num("FD_MIN", 100)
    host = socket.gethostname()
    seen, denied = 0, 0
    near = defaultdict(list)  # comm -> [(pct, open, limit, pid)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            n = len(os.listdir(f"/proc/{pid}/fd"))
            limit = soft_limit(pid)
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except PermissionError:
            denied += 1
            continue
        except (FileNotFoundError, ProcessLookupError, OSError):
            continue
        seen += 1
        if not limit or n < min_open:
            continue
        pct = 100.0 * n / limit
        if pct >= warn:
            near[comm].append((pct, n, limit, int(pid)))
    with open("/proc/sys/fs/file-nr") as f:
        allocated, _, file_max = (int(x) for x in f.read().split())
    sys_pct = 100.0 * allocated / file_max if file_max else 0.0
    emit({"type": "metric", "name": "host_file_handles_pct", "value": round(sys_pct, 2)})
    emit({"type": "insight", "text": f"{host}: {allocated} of {file_max} file handles allocated ({sys_pct:.1f}%); "
          f"{sum(len(v) for v in near.values())} processes at {warn:g}% or more of their open-file limit",
          "data": {"allocated": allocated, "max": file_max, "near_limit": {k: len(v) for k, v in near.items()}}})
    if denied:
        emit({"type": "report", "text": f"{denied} processes could not be read (run as root to see every process)."})
    for comm, procs in sorted(near.items(), key=lambda kv: -max(p[0] for p in kv[1])):
        procs.sort(reverse=True)
        pct, n, limit, pid = procs[0]
        listing = "; ".join(f"pid {p}: {o} of {l} ({q:.0f}%)" for q, o, l, p in procs[:10])
        emit({"type": "issue", "severity": 2 if pct >= crit else 3,
              "title": f"{comm} on host {host} is near its open-file limit",
              "expected": f"below {warn:g}% of the open-file limit (ulimit -n)",
              "actual": f"pid {pid} has {n} files open of a limit of {limit} ({pct:.0f}%)"
                        + (f"; {len(procs)} processes of {comm} near their limit" if len(procs) > 1 else ""),
              "details": f"At the limit, opening a file or accepting a connection fails with 'Too many open files' (EMFILE). {listing}",
              "next_steps": f"Check whether {comm} leaks descriptors (ls -l /proc/{pid}/fd: sockets to one peer, the same file many times) or legitimately needs more; raise its limit (LimitNOFILE in its unit, ulimit -n in its start script, worker_rlimit_nofile for nginx) and restart it.",
              "reproduce_hint": f"ls /proc/{pid}/fd | wc -l; grep 'open files' /proc/{pid}/limits",
              "data": {"name": comm, "pid": pid, "open": n, "limit": limit, "pct": round(pct, 1)}})
    if sys_pct >= warn:
        emit({"type": "issue", "severity": 2 if sys_pct >= crit else 3,
              "title": f"Host {host} is running out of file handles",
              "expected": f"below {warn:g}% of fs.file-max",
              "actual": f"{allocated} of {file_max} file handles allocated ({sys_pct:.1f}%)",
              "details": "At fs.file-max every process fails to open files or sockets ('Too many open files in system', ENFILE).",
              "next_steps": "Find the processes holding the most descriptors (for p in /proc/[0-9]*; do echo $(ls $p/fd 2>/dev/null | wc -l) $p; done | sort -n | tail); fix the leak or raise fs.file-max (sysctl).",
              "reproduce_hint": "cat /proc/sys/fs/file-nr /proc/sys/fs/file-max"})


if __name__ == "__main__":
    main()
