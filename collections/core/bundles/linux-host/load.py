"""Health: load average per CPU, CPU pressure (PSI) and tasks stuck in uninterruptible sleep."""
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


def psi_cpu_some60():
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some"):
                    return float(dict(x.split("=") for x in line.split()[1:])["avg60"])
    except OSError:
        pass
    return None


def dstate_tasks(limit=10):
    """Processes in D state (uninterruptible, usually I/O): they count in the load average."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            comm = s[s.index("(") + 1:s.rindex(")")]
            state = s[s.rindex(")") + 2]
            if state == "D":
                out.append(f"{comm} (pid {pid})")
        except (OSError, ValueError, IndexError):
            continue
    return out[:limit], len(out)


def main():
    warn = num("LOAD_PER_CPU_WARN", 2)
    crit = num("LOAD_PER_CPU_CRIT", 4)
    host = socket.gethostname()
    with open("/proc/loadavg") as f:
        l1, l5, l15, running, _ = f.read().split()
    l1, l5, l15 = float(l1), float(l5), float(l15)
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 1
    per_cpu = round(l5 / ncpu, 2)
    cpu_psi = psi_cpu_some60()
    dlist, dcount = dstate_tasks()
    state = f"load {l1:.2f} {l5:.2f} {l15:.2f} on {ncpu} CPUs ({per_cpu} per CPU over 5m), runnable/total tasks {running}"
    if cpu_psi is not None:
        state += f", CPU PSI some avg60 {cpu_psi}%"
    state += f", {dcount} tasks in uninterruptible sleep"
    emit({"type": "metric", "name": "load5_per_cpu", "value": per_cpu})
    emit({"type": "metric", "name": "load1", "value": l1})
    if cpu_psi is not None:
        emit({"type": "metric", "name": "cpu_psi_some_avg60", "value": cpu_psi})
    emit({"type": "insight", "text": f"{host}: {state}",
          "data": {"load1": l1, "load5": l5, "load15": l15, "cpus": ncpu, "dstate": dcount}})
    if per_cpu >= warn:
        io_bound = dcount > 0 and dcount >= ncpu
        cause = (f"{dcount} tasks wait in uninterruptible sleep (usually disk or NFS I/O): {', '.join(dlist)}; the load is I/O, not CPU."
                 if io_bound else "Tasks are queueing for CPU.")
        emit({"type": "issue", "severity": 2 if per_cpu >= crit else 3,
              "title": f"Load on host {host} is high for its CPUs",
              "expected": f"5-minute load below {warn:g} per CPU",
              "actual": state,
              "details": cause,
              "next_steps": ("Run core/linux-host/top-processes to see which processes use the CPU; "
                             "if tasks are in D state check disk latency (iostat -x 1) and hung mounts; "
                             "a runaway process can be restarted with core/linux-host/restart-process or restart-service."),
              "reproduce_hint": "uptime; cat /proc/pressure/cpu; ps -eo state,pid,comm | awk '$1==\"D\"'"})


if __name__ == "__main__":
    main()
