"""Health: host CPU busy share sampled over SAMPLE_S seconds, and which programs keep it busy.

When the CPUs are at least CPU_BUSY_WARN_PCT busy, every program that uses at least
CPU_PROGRAM_MIN_PCT of all CPUs gets its own issue. A "program" is the processes of one user
that descend from the same starter: the top-most ancestor in the same session (or running the
same binary) with the same user (a job script that forks busy workers, a server with its worker processes), named by its
script or binary. So the issue names what to stop, not just "bash" or "python3".
"""
import json, os, socket, sys, time

RESULTS = os.environ["SITREP_RESULTS"]
CLK = os.sysconf("SC_CLK_TCK")
INTERPRETERS = {"bash", "sh", "dash", "zsh", "ksh", "python", "python2", "python3", "perl", "ruby", "node", "php", "env"}


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is already in user)
    v += [0] * (8 - len(v))
    idle = v[3] + v[4]
    return sum(v[:8]), idle


def program_name(argv, comm):
    """bash /opt/jobs/report-render -> report-render; /usr/bin/python3 -m x -> python3; [kworker] -> kworker."""
    if not argv or " " in argv[0]:
        return comm  # no command line, or one rewritten as a status line ("postgres: walwriter")
    base = os.path.basename(argv[0])
    if base.rstrip("0123456789.") in INTERPRETERS:
        for a in argv[1:]:
            if a.startswith("-"):
                if a in ("-c", "-e", "-m"):
                    break  # inline code or a module: the interpreter is the best name
                continue
            if base == "env" and "=" in a:
                continue
            if a.startswith(("/dev/fd/", "/proc/")):
                break  # a script fed through a pipe or fd: no useful name
            return os.path.basename(a)
    return base or comm


def snapshot():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            comm = s[s.index("(") + 1:s.rindex(")")]
            fields = s[s.rindex(")") + 2:].split()
            ppid, sid = int(fields[1]), int(fields[3])
            ticks = int(fields[11]) + int(fields[12])  # utime + stime (all threads)
            nice = int(fields[16])
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = [a.decode(errors="replace") for a in f.read(4096).split(b"\0") if a]
            except OSError:
                argv = []
            uid = os.stat(f"/proc/{pid}").st_uid
            procs[int(pid)] = {"ppid": ppid, "sid": sid, "ticks": ticks, "nice": nice, "comm": comm,
                               "argv": argv, "uid": uid}
        except (OSError, ValueError, IndexError):
            continue
    return procs


def user_name(uid):
    try:
        import pwd
        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def starter(pid, procs):
    """The top-most ancestor of pid with the same user and session, or the same user and
    program (a server whose workers start their own sessions, like PostgreSQL); stops below pid 1."""
    p = procs[pid]
    cur, seen = pid, set()
    while cur not in seen:
        seen.add(cur)
        par = procs[cur]["ppid"]
        q = procs.get(par)
        if par <= 1 or q is None or q["uid"] != p["uid"] or (q["sid"] != p["sid"] and q["comm"] != procs[cur]["comm"]):
            return cur
        cur = par
    return cur


def main():
    sample = min(max(num("SAMPLE_S", 1), 0.2), 10)
    busy_warn = num("CPU_BUSY_WARN_PCT", 90)
    busy_crit = num("CPU_BUSY_CRIT_PCT", 98)
    prog_min = num("CPU_PROGRAM_MIN_PCT", 25)
    host = socket.gethostname()
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 1
    a, (ta, ia) = snapshot(), cpu_times()
    t0 = time.monotonic()
    time.sleep(sample)
    b, (tb, ib) = snapshot(), cpu_times()
    dt = time.monotonic() - t0
    total = max(tb - ta, 1)
    busy = round(100.0 * (total - (ib - ia)) / total, 1)

    me = os.getpid()
    groups = {}
    for pid, p in b.items():
        if pid == me or pid not in a:
            continue
        share = 100.0 * (p["ticks"] - a[pid]["ticks"]) / CLK / dt / ncpu  # percent of all CPUs
        if share <= 0:
            continue
        root = starter(pid, b)
        rp = b[root]
        key = (p["uid"], program_name(rp["argv"], rp["comm"]))
        g = groups.setdefault(key, {"share": 0.0, "procs": [], "root": root, "root_cmd": " ".join(rp["argv"]) or f"[{rp['comm']}]"})
        g["share"] += share
        g["procs"].append((share, pid, p))
    ranked = sorted(groups.items(), key=lambda kv: -kv[1]["share"])

    emit({"type": "metric", "name": "cpu_busy_pct", "value": busy})
    top = "; ".join(f"{name} ({user_name(uid)}) {g['share']:.0f}%" for (uid, name), g in ranked[:5]) or "nothing measurable"
    emit({"type": "insight", "text": f"{host}: CPUs {busy}% busy over {sample:g}s on {ncpu} CPUs; top programs: {top}",
          "data": {"busy_pct": busy, "cpus": ncpu,
                   "top": [{"program": n, "user": user_name(u), "pct": round(g["share"], 1)} for (u, n), g in ranked[:5]]}})
    lines = [f"CPUs {busy}% busy over {sample:g}s ({ncpu} CPUs). Programs by share of all CPUs:"]
    for (uid, name), g in ranked[:10]:
        lines.append(f"  {g['share']:5.1f}%  {name} (user {user_name(uid)}, started by pid {g['root']}: {g['root_cmd'][:120]})")
    emit({"type": "report", "text": "\n".join(lines)})

    if busy < busy_warn:
        return
    named = [(k, g) for k, g in ranked if g["share"] >= prog_min]
    for (uid, name), g in named:
        procs = sorted(g["procs"], key=lambda x: -x[0])
        niced = all(p["nice"] > 0 for _, _, p in procs[:5])
        plist = "\n".join(f"pid {pid} ({p['comm']}, nice {p['nice']}) {s:.0f}% of all CPUs: {' '.join(p['argv'])[:160] or p['comm']}"
                          for s, pid, p in procs[:8])
        emit({"type": "issue", "severity": 2 if busy >= busy_crit and not niced else 3,
              "title": f"{name} (user {user_name(uid)}) keeps host {host}'s CPUs busy",
              "expected": f"CPUs below {busy_warn:g}% busy, or no single program above {prog_min:g}% of them",
              "actual": f"CPUs {busy}% busy; {name} uses {g['share']:.0f}% of {ncpu} CPUs in {len(procs)} process{'es' if len(procs) != 1 else ''}",
              "details": (f"Started by pid {g['root']}: {g['root_cmd'][:300]}\n" + plist
                          + ("\nIt runs at a positive nice value, so it mostly takes CPU time others leave idle; it still adds latency to everything else."
                             if niced else "")),
              "next_steps": (f"Check whether {name} is doing expected work (a batch job, a build) or spinning (a runaway loop); "
                             f"stop a runaway with core/linux-host/kill-process --set NAME={name}, restart a service with core/linux-host/restart-process --set PID={g['root']} (or restart-service for its unit); "
                             "see core/linux-host/top-processes for the full picture."),
              "reproduce_hint": f"top -b -n 1 -o %CPU | head -20; ps -o pid,ppid,ni,pcpu,cmd --forest -s {b[g['root']]['sid']}",
              "data": {"program": name, "user": user_name(uid), "pid": g["root"], "pids": [pid for _, pid, _ in procs[:20]],
                       "cpu_pct": round(g["share"], 1), "busy_pct": busy, "cpus": ncpu, "niced": niced,
                       "cmdline": g["root_cmd"][:300]}})
    if not named:
        emit({"type": "issue", "severity": 3,
              "title": f"CPUs of host {host} are saturated",
              "expected": f"CPUs below {busy_warn:g}% busy",
              "actual": f"CPUs {busy}% busy over {sample:g}s; top programs: {top}",
              "details": "No single program uses most of the CPU: many processes share it (or short-lived ones come and go).",
              "next_steps": "Run core/linux-host/top-processes and core/linux-host/load; look for a burst of short-lived processes (fork storms, cron jobs) or too much work for this host's CPUs.",
              "reproduce_hint": "top -b -n 1 -o %CPU | head -20; vmstat 1 5",
              "data": {"busy_pct": busy, "cpus": ncpu,
                       "top": [{"program": n, "user": user_name(u), "pct": round(g["share"], 1)} for (u, n), g in ranked[:5]]}})


if __name__ == "__main__":
    main()
