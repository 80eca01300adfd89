"""Diagnostic: what fills a filesystem: its largest directories (du -x), its largest files and
files deleted but still open. The filesystem is the first of DISK_MOUNTS, or the fullest one
(types in DISK_EXCLUDE_FSTYPES and mounts under DISK_EXCLUDE_MOUNTS skipped) when DISK_MOUNTS is
empty. When it is at least
DISK_CRIT_PCT full an issue names its largest files (data: mount, path, files) so that
core/linux-host/clean-up-large-files can be proposed."""
import json, os, socket, subprocess, sys

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from diskfiles import hogs

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


def usage(mount):
    s = os.statvfs(mount)
    used = (s.f_blocks - s.f_bfree) * s.f_frsize
    avail = s.f_bavail * s.f_frsize
    return used, avail, (100 * used + used + avail - 1) // max(used + avail, 1)


def fullest():
    """The fullest real filesystem (as disk-usage sees them), or /."""
    exclude = set(os.environ.get("DISK_EXCLUDE_FSTYPES",
                                 "devtmpfs,squashfs,iso9660,proc,sysfs,cgroup,cgroup2,nsfs,autofs,ramfs,efivarfs,tracefs,debugfs").split(","))
    skip = [m for m in os.environ.get("DISK_EXCLUDE_MOUNTS", "/run,/dev,/sys,/proc,/snap").split(",") if m]
    best = ("/", -1)
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return "/"
    for mnt, fstype in mounts:
        mnt = mnt.replace("\\040", " ")
        if fstype in exclude or fstype.startswith("fuse.") or any(mnt == m or mnt.startswith(m + "/") for m in skip):
            continue
        try:
            _, _, pct = usage(mnt)
        except OSError:
            continue
        if pct > best[1]:
            best = (mnt, pct)
    return best[0]


def main():
    mount = ((os.environ.get("DISK_MOUNTS") or "").split(",")[0].split() or [fullest()])[0]
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
    used, avail, pct = usage(mount)
    files = hogs(mount, used)
    lines = [f"Largest directories under {mount} (du -x, depth {depth}){' - PARTIAL, du timed out' if partial else ''}:"]
    lines += [f"{human(s):>8}  {p}" for s, p in dirs[:top]]
    lines.append("")
    lines.append(f"Largest files on {mount}'s filesystem{' - PARTIAL, find timed out' if files['partial'] else ''}:")
    lines += [f"{human(f['bytes']):>8}  {f['path']}" for f in files["largest"]] or ["  none over 1 MiB"]
    lines.append("")
    lines.append(f"Deleted files still held open on {mount} (space is freed only when the process closes them):")
    lines += [f"{human(s):>8}  pid {pid} ({comm})  {t}" for s, pid, comm, t in deleted[:top]] or ["  none"]
    emit({"type": "report", "text": "\n".join(lines)})
    held = sum(s for s, *_ in deleted)
    emit({"type": "insight", "text": f"{mount}: largest directory {dirs[1][1] if len(dirs) > 1 else mount}; {human(held)} held by deleted open files",
          "data": {"deleted_open_bytes": held, "top_dirs": [[p, s] for s, p in dirs[:5]]}})
    crit, full = float(os.environ.get("DISK_CRIT_PCT") or 95), float(os.environ.get("DISK_FULL_PCT") or 99)
    if pct >= crit:
        host = socket.gethostname()
        hog = files["files"].split(",") if files["files"] else []
        emit({"type": "issue", "severity": 1 if pct >= full else 2,
              "title": f"Filesystem {mount} on {host} is nearly full",
              "expected": f"below {crit:g}% used",
              "actual": f"{pct}% used, {human(avail)} free; largest files: " + (", ".join(f"{f['path']} ({human(f['bytes'])})" for f in files["largest"]) or "none over 1 MiB"),
              "details": ("Largest directories: " + ", ".join(f"{p} ({human(s)})" for s, p in dirs[1:6])
                          + (f"\nDeleted files still held open: {human(held)}" if held else "")),
              "next_steps": (f"If {', '.join(hog)} should not be there, remove it with core/linux-host/clean-up-large-files --set CLEAN_PATH={files['path']} --set FILES={files['files']} (DRY_RUN=true first); "
                             if hog else "No single file dominates: look at the largest directories above; ")
                            + "rotate or compress logs, move data to a larger volume, or grow the filesystem.",
              "reproduce_hint": f"df -h {mount}; du -xh --max-depth=2 {mount} | sort -h | tail",
              "data": dict(files, used_pct=pct, avail_bytes=avail, top_dirs=[{"path": p, "bytes": s} for s, p in dirs[1:6]],
                           deleted_open_bytes=held)})
    if held >= 1 << 30:
        procs = sorted({f"{comm} (pid {pid})" for _, pid, comm, _ in deleted[:top]})
        emit({"type": "issue", "severity": 3, "title": f"Deleted files still hold space on {mount}",
              "expected": "no large deleted files held open",
              "actual": f"{human(held)} in deleted files held open by {', '.join(procs)}",
              "next_steps": "Restart or signal those processes to reopen their logs (logrotate copytruncate or postrotate reload), which frees the space.",
              "reproduce_hint": "find /proc/*/fd -lname '*(deleted)' -printf '%p %l\\n' 2>/dev/null"})


if __name__ == "__main__":
    main()
