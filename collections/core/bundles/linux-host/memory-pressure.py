"""Health: memory available, swap use and memory pressure stall (PSI) on this host."""
import json, os, socket, sys

RESULTS = os.environ["SITREP_RESULTS"]


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0]) * 1024  # kB -> bytes
    return out


def psi(resource):
    """{'some': {'avg10':..,'avg60':..}, 'full': {...}} or None where PSI is off."""
    try:
        with open(f"/proc/pressure/{resource}") as f:
            res = {}
            for line in f:
                kind, *fields = line.split()
                res[kind] = {k: float(v) for k, v in (x.split("=") for x in fields)}
            return res
    except OSError:
        return None


def top_rss(n=5):
    procs = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
            rss = int(st.get("VmRSS", "0 kB").split()[0]) * 1024
            procs.append((rss, int(pid), st["Name"].strip()))
        except (OSError, ValueError, KeyError):
            continue
    procs.sort(reverse=True)
    return procs[:n]


def gib(b):
    return f"{b / 2**30:.1f} GiB"


def main():
    warn = num("MEM_AVAILABLE_WARN_PCT", 10)
    crit = num("MEM_AVAILABLE_CRIT_PCT", 5)
    psi_max = num("MEM_PSI_FULL_MAX", 10)
    swap_max = num("SWAP_USED_MAX_PCT", 80)
    host = socket.gethostname()
    m = meminfo()
    total, avail = m["MemTotal"], m.get("MemAvailable", m["MemFree"])
    avail_pct = round(100.0 * avail / total, 1)
    swap_total, swap_free = m.get("SwapTotal", 0), m.get("SwapFree", 0)
    swap_pct = round(100.0 * (swap_total - swap_free) / swap_total, 1) if swap_total else 0.0
    p = psi("memory")
    full60 = p["full"]["avg60"] if p and "full" in p else None
    some60 = p["some"]["avg60"] if p and "some" in p else None
    tops = top_rss()
    top_txt = ", ".join(f"{name} (pid {pid}) {gib(rss)}" for rss, pid, name in tops)

    emit({"type": "metric", "name": "mem_available_pct", "value": avail_pct})
    emit({"type": "metric", "name": "swap_used_pct", "value": swap_pct})
    if full60 is not None:
        emit({"type": "metric", "name": "mem_psi_full_avg60", "value": full60})
    state = f"{gib(avail)} of {gib(total)} available ({avail_pct}%), swap {swap_pct}% used"
    if full60 is not None:
        state += f", PSI memory some avg60 {some60}% full avg60 {full60}%"
    emit({"type": "insight", "text": f"{host}: {state}",
          "data": {"available_pct": avail_pct, "swap_used_pct": swap_pct, "psi_full_avg60": full60}})
    emit({"type": "report", "text": f"{host}: {state}\nlargest resident processes: {top_txt}"})

    largest = {"largest": [{"name": name, "pid": pid, "rss_bytes": rss} for rss, pid, name in tops],
               "available_pct": avail_pct, "swap_used_pct": swap_pct}
    if tops:
        largest.update(name=tops[0][2], pid=tops[0][1])
    nxt = ("Find what grew: the largest processes are listed in details (run core/linux-host/top-processes for more); "
           "check core/linux-host/oom-kills for processes the kernel already killed; restart a leaking service "
           "(core/linux-host/restart-service) or add memory / lower its limits.")
    if avail_pct < warn:
        emit({"type": "issue", "severity": 1 if avail_pct < crit else 2,
              "title": f"Host {host} is low on available memory",
              "expected": f"at least {warn:g}% of memory available",
              "actual": state,
              "details": f"Largest resident processes: {top_txt}. Below a few percent the kernel's OOM killer starts killing processes.",
              "next_steps": nxt, "reproduce_hint": "free -m; cat /proc/pressure/memory", "data": largest})
    if full60 is not None and full60 >= psi_max:
        emit({"type": "issue", "severity": 2,
              "title": f"Memory pressure is stalling tasks on host {host}",
              "expected": f"PSI memory full avg60 below {psi_max:g}%",
              "actual": state,
              "details": f"For {full60}% of the last minute every runnable task was stalled waiting on memory (reclaim, swap-in, thrashing). Largest resident processes: {top_txt}",
              "next_steps": nxt, "reproduce_hint": "cat /proc/pressure/memory; vmstat 1 5", "data": largest})
    if swap_total and swap_pct >= swap_max:
        emit({"type": "issue", "severity": 3,
              "title": f"Swap is nearly full on host {host}",
              "expected": f"below {swap_max:g}% of swap used",
              "actual": state,
              "details": f"Largest resident processes: {top_txt}",
              "next_steps": nxt, "reproduce_hint": "free -m; grep -H VmSwap /proc/*/status | sort -k2 -n | tail", "data": largest})


if __name__ == "__main__":
    main()
