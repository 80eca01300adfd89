"""Remediation: stop a runaway process (and the processes it started) by name or pid.

NAME is a program name as core/linux-host/cpu-usage names it (the script an interpreter runs,
else the binary), matched against that name, the process name (comm) and argv[0]'s basename;
KILL_PID is one process. With both, KILL_PID is used only while it still runs NAME (a reused
pid is left alone) and NAME otherwise. Every matching process that is not itself under another
match is stopped with its descendants: SIGTERM, then SIGKILL after GRACE_S. Refused: PID 1,
kernel threads, sitrep and the processes running this task, and more than KILL_MAX processes
at once. The report lists what was stopped with each command line and systemd unit, which is
what the rollback needs to start a service again. Exit 1 when something could not be stopped
or came straight back (a supervisor restarts it: stop the unit or the supervisor instead).
"""
import json, os, re, signal, sys, time

RESULTS = os.environ["SITREP_RESULTS"]
INTERPRETERS = {"bash", "sh", "dash", "zsh", "ksh", "python", "python2", "python3", "perl", "ruby", "node", "php", "env"}


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def fail(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def program_name(argv, comm):
    """bash /opt/jobs/report-render -> report-render; /usr/bin/python3 -m x -> python3 (as cpu-usage)."""
    if not argv or " " in argv[0]:
        return comm
    base = os.path.basename(argv[0])
    if base.rstrip("0123456789.") in INTERPRETERS:
        for a in argv[1:]:
            if a.startswith("-"):
                if a in ("-c", "-e", "-m"):
                    break
                continue
            if base == "env" and "=" in a:
                continue
            if a.startswith(("/dev/fd/", "/proc/")):
                break
            return os.path.basename(a)
    return base or comm


def table():
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read(8192).split(b"\0") if a]
        except OSError:
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            exe = ""
        fields = s[s.rindex(")") + 2:].split()
        comm = s[s.index("(") + 1:s.rindex(")")]
        procs[int(pid)] = {"pid": int(pid), "ppid": int(fields[1]), "state": fields[0], "comm": comm, "argv": argv,
                           "exe": exe, "name": program_name(argv, comm)}
    return procs


def unit_of(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            m = re.search(r"/([^/\s]+\.service)(/|$)", f.read())
            return m.group(1) if m and not m.group(1).startswith(("user@", "session-")) else ""
    except OSError:
        return ""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[0] != "Z"
    except OSError:
        return False


def main():
    name = (os.environ.get("NAME") or "").strip()
    pid_s = (os.environ.get("KILL_PID") or "").strip()
    try:
        grace = float(os.environ.get("GRACE_S") or 10)
        limit = int(os.environ.get("KILL_MAX") or 20)
    except ValueError:
        fail("GRACE_S and KILL_MAX must be numbers")
    if not name and not pid_s:
        fail("set NAME (a program name, as cpu-usage reports it) or KILL_PID: refusing to guess what to stop")
    if name and not re.fullmatch(r"[\w.@:+-]{1,100}", name):
        fail(f"NAME must be a program name (letters, digits, . _ - @ : +), got {name!r}")
    if pid_s and not pid_s.isdigit():
        fail(f"KILL_PID must be a process id, got {pid_s!r}")
    procs = table()
    protected, cur = {1, 2}, os.getpid()
    while cur > 1 and cur not in protected:
        protected.add(cur)
        cur = procs.get(cur, {}).get("ppid", 0)
    is_name = lambda p: name in (p["name"], p["comm"], os.path.basename(p["argv"][0]) if p["argv"] else "")
    targets, note = [], ""
    if pid_s:
        p = procs.get(int(pid_s))
        if p and (not name or is_name(p)):
            targets = [p]
        elif not name:
            emit({"type": "report", "text": f"Process {pid_s} does not exist (already gone). Nothing was stopped."})
            return
        elif p:
            note = f" (pid {pid_s} is now {p['name']}, not {name}: left alone)"
    if not targets:
        hits = {pid for pid, p in procs.items() if is_name(p) and p["state"] != "Z"}
        targets = [procs[p] for p in sorted(hits) if procs[p]["ppid"] not in hits]
        if not targets:
            emit({"type": "report", "text": f"No process named {name} runs (already gone){note}. Nothing was stopped."})
            return
    children = {}
    for p in procs.values():
        children.setdefault(p["ppid"], []).append(p["pid"])
    victims, stack = [], [t["pid"] for t in targets]
    while stack:
        pid = stack.pop()
        if pid in victims:
            continue
        victims.append(pid)
        stack.extend(children.get(pid, []))
    for pid in victims:
        p = procs[pid]
        if pid in protected:
            fail(f"refusing: pid {pid} ({p['name']}) is init, a kernel thread, or runs this task")
        if not p["argv"] or p["ppid"] == 2:
            fail(f"refusing: pid {pid} ({p['comm']}) is a kernel thread")
        if p["exe"] == "sitrep" or p["name"] == "sitrep":
            fail(f"refusing: pid {pid} is sitrep itself")
    if len(victims) > limit:
        fail(f"refusing: {len(victims)} processes match (more than KILL_MAX={limit}); name one with KILL_PID, or raise KILL_MAX")
    described = [{"pid": pid, "name": procs[pid]["name"], "unit": unit_of(pid), "parent": procs.get(procs[pid]["ppid"], {}).get("comm", "?"),
                  "cmdline": " ".join(procs[pid]["argv"])[:300]} for pid in victims]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in victims):
        time.sleep(0.1)
    forced = [p for p in victims if alive(p)]
    for pid in forced:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    survivors = [p for p in victims if alive(p)]
    back = []
    if name:
        time.sleep(1.5)
        back = [p for p, q in table().items() if is_name(q) and p not in victims and q["state"] != "Z"]
    lines = [f"Stopped {len(victims) - len(survivors)} of {len(victims)} processes"
             + (f" ({len(forced)} needed SIGKILL after {grace:g}s)" if forced else "") + ":"]
    for d in described:
        lines.append(f"  pid {d['pid']} {d['name']} (parent {d['parent']}{', unit ' + d['unit'] if d['unit'] else ''}): {d['cmdline']}")
    units = sorted({d["unit"] for d in described if d["unit"]})
    lines.append("To start it again: " + ("; ".join(f"systemctl start {u}" for u in units) if units
                                         else f"run the command line above the way it is normally started"))
    emit({"type": "report", "text": "\n".join(lines)})
    emit({"type": "insight", "text": f"stopped {name or pid_s}: {len(victims)} processes",
          "data": {"name": name, "pids": victims, "units": units, "survivors": survivors, "restarted_as": back}})
    if survivors:
        fail(f"pids {', '.join(map(str, survivors))} did not stop even after SIGKILL (uninterruptible I/O?)", 1)
    if back:
        fail(f"{name} came straight back as pid {', '.join(map(str, back))}: a supervisor restarts it; stop its unit or supervisor instead", 1)


if __name__ == "__main__":
    main()
