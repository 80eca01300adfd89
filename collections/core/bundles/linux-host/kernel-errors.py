"""Health: kernel messages an operator looks for first, from the kernel log of the last
KERNEL_WINDOW_MIN minutes (KERNEL_LOG, journalctl -k, dmesg; see kernel_log.py): disk I/O
errors, filesystem errors and read-only remounts, tasks hung on I/O, CPU lockups, a full
connection-tracking table, hardware memory errors, processes that segfault.

One issue per kind (and device, filesystem or program), carrying the time of its latest line
(`last_event_at`): it stays open while such lines keep coming (the check's quiet period), not for
the whole window. OOM kills are oom-kills' finding.
"""
import datetime as dt
import json, os, re, socket, sys
from collections import defaultdict

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from kernel_log import read_log, stamp, utc  # noqa: E402

RESULTS = os.environ["SITREP_RESULTS"]

# (id, regex with an optional `what` group naming the device/filesystem/program, severity,
#  title (with {what} and {host}), what it means, next steps)
PATTERNS = [
    ("fs-readonly", re.compile(r"(?:EXT4-fs|XFS|BTRFS)[^:]*\((?P<what>[^)]+)\).*(?:[Rr]emounting filesystem read-only|shutting down filesystem|forced shutdown)"), 1,
     "Filesystem {what} on host {host} went read-only",
     "The kernel stopped writes to the filesystem after an error: everything writing there fails.",
     "Check the device's health (dmesg around these lines, smartctl -a), unmount and fsck it, then remount read-write; move writers elsewhere meanwhile."),
    ("fs-error", re.compile(r"(?:EXT4-fs error|XFS \(\S+\): (?:Corruption|Metadata corruption)|BTRFS error)[^(]*\((?:device )?(?P<what>[^)]+)\)"), 2,
     "Filesystem {what} on host {host} reports errors",
     "The filesystem found inconsistent metadata; it may go read-only or lose data.",
     "Plan an fsck of the filesystem (unmounted); check the underlying device for I/O errors (smartctl, the storage layer)."),
    ("io-error", re.compile(r"(?:I/O error, dev (?P<what>\w+)|Buffer I/O error on dev(?:ice)? (?P<what2>\w+)|blk_update_request: (?:critical )?(?:medium|I/O) error, dev (?P<what3>\w+))"), 2,
     "Disk {what} on host {host} has I/O errors",
     "Reads or writes to the device fail: a failing disk, a lost path to storage, or a detached volume.",
     "Check the device (smartctl -a /dev/{what}, the cloud volume's state, multipath); move data off a failing disk."),
    ("hung-task", re.compile(r"task (?P<what>\S+?):\d+ blocked for more than \d+ seconds"), 2,
     "Tasks on host {host} hang in the kernel ({what})",
     "A process waited over the hung-task timeout in uninterruptible sleep: usually storage or NFS that stopped answering.",
     "Look at the storage the process uses (iostat -x 1, NFS servers, the cloud volume); the stack trace in the kernel log shows where it waits."),
    ("lockup", re.compile(r"(?:soft lockup - CPU#\d+ stuck|[Hh]ard LOCKUP|rcu_sched self-detected stall|rcu: INFO: rcu_(?:sched|preempt) detected stalls)"), 2,
     "CPUs of host {host} lock up",
     "A CPU was stuck in the kernel for seconds: a kernel bug, a driver, or a starved virtual machine (steal time).",
     "Check the hypervisor's steal time and the host's load; read the stack trace in the kernel log; update the kernel or driver it names."),
    ("conntrack-full", re.compile(r"nf_conntrack: (?:nf_conntrack: )?table full, dropping packet"), 1,
     "Connection tracking table of host {host} is full",
     "New connections are dropped at random while the conntrack table is full: clients see timeouts.",
     "Raise net.netfilter.nf_conntrack_max (and the hash size) or shorten conntrack timeouts; find what opens so many connections (ss -s)."),
    ("memory-error", re.compile(r"(?:EDAC \S+: .*(?:CE|UE) |[Hh]ardware [Ee]rror|Machine check events logged|mce: \[Hardware Error\])"), 2,
     "Hardware memory or CPU errors on host {host}",
     "The machine reports hardware errors (corrected or not): uncorrected ones crash processes or the host.",
     "Check the machine's hardware log (edac-util, ipmitool sel list, the provider's health events); plan to replace the DIMM or move the workload."),
    ("segfault", re.compile(r"(?P<what>[^\s:\[]+)\[\d+\]: segfault at"), 3,
     "Program {what} crashes with segfaults on host {host}",
     "The program crashed on an invalid memory access; a supervised service restarts and may crash again.",
     "Check the program's version and recent changes; its core dump (coredumpctl) or log shows where; see whether its service restarts (core/linux-host/failed-units)."),
]


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def main():
    try:
        window = float(os.environ.get("KERNEL_WINDOW_MIN") or 60)
    except ValueError:
        sys.exit("KERNEL_WINDOW_MIN must be a number of minutes")
    host = socket.gethostname()
    lines, source = read_log(window)
    now = dt.datetime.now().astimezone()
    since = now - dt.timedelta(minutes=window)
    found = defaultdict(lambda: {"count": 0, "last": None, "lines": []})
    for line in lines:
        for pid, rx, *_ in PATTERNS:
            m = rx.search(line)
            if not m:
                continue
            t = stamp(line, now)
            if t is not None and t < since:
                break
            what = next((v for k, v in m.groupdict().items() if v), "") if m.groupdict() else ""
            f = found[(pid, what)]
            f["count"] += 1
            f["last"] = t or f["last"]
            f["lines"] = (f["lines"] + [line.strip()[:300]])[-5:]
            break
    total = sum(f["count"] for f in found.values())
    emit({"type": "metric", "name": "kernel_error_lines", "value": total})
    emit({"type": "insight", "text": f"{host}: {total} kernel error lines in the last {window:g} min ({source})",
          "data": {f"{p}:{w}" if w else p: f["count"] for (p, w), f in found.items()}})
    by_id = {p[0]: p for p in PATTERNS}
    for (pid, what), f in sorted(found.items(), key=lambda kv: (by_id[kv[0][0]][2], -kv[1]["count"])):
        _, _, sev, title, meaning, steps = by_id[pid]
        last = utc(f["last"]) if f["last"] else "an unknown time"
        issue = {"type": "issue", "severity": sev,
                 "title": title.format(what=what or "?", host=host),
                 "expected": "no such kernel messages",
                 "actual": f"{f['count']} lines in the last {window:g} min, the last at {last}",
                 "details": f"{meaning}\nLast kernel lines ({source}):\n" + "\n".join(f["lines"]),
                 "next_steps": steps.format(what=what or "DEVICE", host=host),
                 "reproduce_hint": "journalctl -k --since -1h   # or: dmesg -T | tail -100"}
        if f["last"]:
            issue["last_event_at"] = utc(f["last"])
        emit(issue)


if __name__ == "__main__":
    main()
