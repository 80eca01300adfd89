"""Diagnostic: what fills a filesystem: its largest directories (du -x) and files deleted but still open."""
import json, os, subprocess, sys

RESULTS = os.environ["SITREP_RESULTS"]


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def human(b):
    for unit in ("B", "K", "M", "G", "T"):
        if b < 1024:
            return f"{b:.0f}{unit}"
        b /= 1024
    return f"{b:.0f}P"


def main():
    mount = (os.environ.get("DISK_MOUNTS") or "/").split(",")[0].split()[0]
    depth = os.environ.get("DU_DEPTH") or "2"
    top = int(os.environ.get("TOP_N") or 15)
    if not os.path.isdir(mount):
        sys.exit(f"{mount} is not a directory")
    try:
        p = subprocess.run(["du", "-x", "-B1", f"--max-depth={depth}", mount],
                           capture_output=True, text=True, timeout=90, errors="replace")
        out, partial = p.stdout, False
    except subprocess.TimeoutExpired as e:
        out, partial = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), True
    dirs = []
    for line in out.splitlines():
        size, _, path = line.partition("\t")
        if size.isdigit():
            dirs.append((int(size), path))
    dirs.sort(reverse=True)
    dev = os.stat(mount).st_dev
    deleted = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
            comm = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if not target.endswith(" (deleted)"):
                    continue
                st = os.stat(f"{fd_dir}/{fd}")
                if st.st_dev == dev and st.st_size > 0:
                    deleted.append((st.st_size, pid, comm, target))
            except OSError:
                continue
    deleted.sort(reverse=True)
    lines = [f"Largest directories under {mount} (du -x, depth {depth}){' - PARTIAL, du timed out' if partial else ''}:"]
    lines += [f"{human(s):>8}  {p}" for s, p in dirs[:top]]
    lines.append("")
    lines.append(f"Deleted files still held open on {mount} (space is freed only when the process closes them):")
    lines += [f"{human(s):>8}  pid {pid} ({comm})  {t}" for s, pid, comm, t in deleted[:top]] or ["  none"]
    emit({"type": "report", "text": "\n".join(lines)})
    held = sum(s for s, *_ in deleted)
    emit({"type": "insight", "text": f"{mount}: largest directory {dirs[1][1] if len(dirs) > 1 else mount}; {human(held)} held by deleted open files",
          "data": {"deleted_open_bytes": held, "top_dirs": [[p, s] for s, p in dirs[:5]]}})
    if held >= 1 << 30:
        procs = sorted({f"{comm} (pid {pid})" for _, pid, comm, _ in deleted[:top]})
        emit({"type": "issue", "severity": 3, "title": f"Deleted files still hold space on {mount}",
              "expected": "no large deleted files held open",
              "actual": f"{human(held)} in deleted files held open by {', '.join(procs)}",
              "next_steps": "Restart or signal those processes to reopen their logs (logrotate copytruncate or postrotate reload), which frees the space.",
              "reproduce_hint": "find /proc/*/fd -lname '*(deleted)' -printf '%p %l\\n' 2>/dev/null"})


if __name__ == "__main__":
    main()
