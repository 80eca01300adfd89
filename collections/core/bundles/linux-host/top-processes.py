"""Diagnostic: the processes using the most CPU (sampled over SAMPLE_S seconds) and memory."""
import json, os, socket, sys, time

RESULTS = os.environ["SITREP_RESULTS"]
CLK = os.sysconf("SC_CLK_TCK")


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


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
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read(300).replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = ""
            try:
                user = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                user = -1
            procs[int(pid)] = (comm, ticks, rss, cmd or f"[{comm}]", user)
        except (OSError, ValueError, IndexError):
            continue
    return procs


def main():
    sample = min(max(num("SAMPLE_S", 1), 0.2), 10)
    n = int(num("TOP_N", 10))
    cpu_max = num("PROC_CPU_MAX_PCT", 90)
    mem_max = num("PROC_MEM_MAX_PCT", 50)
    host = socket.gethostname()
    with open("/proc/meminfo") as f:
        total = int(next(l for l in f if l.startswith("MemTotal")).split()[1]) * 1024
    ncpu = len(os.sched_getaffinity(0))
    a = snapshot()
    t0 = time.monotonic()
    time.sleep(sample)
    b = snapshot()
    dt = time.monotonic() - t0
    rows = []
    for pid, (comm, ticks, rss, cmd, uid) in b.items():
        if pid == os.getpid():
            continue
        prev = a.get(pid)
        cpu = 100.0 * (ticks - prev[1]) / CLK / dt if prev else 0.0  # percent of one CPU
        rows.append({"pid": pid, "comm": comm, "cpu_pct": round(cpu, 1),
                     "mem_pct": round(100.0 * rss / total, 1), "rss_mib": round(rss / 2**20, 1),
                     "uid": uid, "cmd": cmd[:200]})
    by_cpu = sorted(rows, key=lambda r: r["cpu_pct"], reverse=True)[:n]
    by_mem = sorted(rows, key=lambda r: r["mem_pct"], reverse=True)[:n]

    def table(title, rs):
        lines = [title, f"{'PID':>8} {'CPU%':>6} {'MEM%':>6} {'RSS MiB':>9}  COMMAND"]
        lines += [f"{r['pid']:>8} {r['cpu_pct']:>6} {r['mem_pct']:>6} {r['rss_mib']:>9}  {r['cmd'][:120]}" for r in rs]
        return "\n".join(lines)

    emit({"type": "report", "text": table(f"Top {n} by CPU on {host} (sampled {sample:g}s, % of one CPU; {ncpu} CPUs):", by_cpu)
          + "\n\n" + table(f"Top {n} by resident memory on {host}:", by_mem)})
    emit({"type": "insight",
          "text": f"{host}: top CPU {by_cpu[0]['comm']} {by_cpu[0]['cpu_pct']}% of a CPU; top memory {by_mem[0]['comm']} {by_mem[0]['mem_pct']}%",
          "data": {"top_cpu": by_cpu[:3], "top_mem": by_mem[:3]}})
    seen = set()
    for r in by_cpu:
        share = r["cpu_pct"] / ncpu
        if share >= cpu_max and r["comm"] not in seen:
            seen.add(r["comm"])
            emit({"type": "issue", "severity": 3,
                  "title": f"Process {r['comm']} uses most of host {host}'s CPU",
                  "expected": f"no process above {cpu_max:g}% of all CPUs",
                  "actual": f"pid {r['pid']} at {r['cpu_pct']}% of one CPU ({share:.0f}% of {ncpu} CPUs)",
                  "details": f"command: {r['cmd']}",
                  "next_steps": f"Check whether {r['comm']} is doing expected work (a batch job) or spinning; look at its logs; restart it with core/linux-host/restart-service or core/linux-host/restart-process --set PID={r['pid']}.",
                  "reproduce_hint": f"top -b -n 1 -p {r['pid']}",
                  "data": {"name": r["comm"], "pid": r["pid"], "cpu_pct": r["cpu_pct"], "cmdline": r["cmd"][:300]}})
    seen = set()
    for r in by_mem:
        if r["mem_pct"] >= mem_max and r["comm"] not in seen:
            seen.add(r["comm"])
            emit({"type": "issue", "severity": 3,
                  "title": f"Process {r['comm']} uses most of host {host}'s memory",
                  "expected": f"no process above {mem_max:g}% of memory",
                  "actual": f"pid {r['pid']} holds {r['rss_mib']} MiB resident ({r['mem_pct']}% of memory)",
                  "details": f"command: {r['cmd']}",
                  "next_steps": f"Check whether {r['comm']}'s memory keeps growing (a leak) or is configured (caches, heap size); restart it with core/linux-host/restart-service or core/linux-host/restart-process --set PID={r['pid']} before the OOM killer picks it.",
                  "reproduce_hint": f"ps -o pid,rss,vsz,cmd -p {r['pid']}",
                  "data": {"name": r["comm"], "pid": r["pid"], "mem_pct": r["mem_pct"], "cmdline": r["cmd"][:300]}})


if __name__ == "__main__":
    main()
