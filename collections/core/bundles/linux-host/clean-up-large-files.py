"""Remediation: free space by removing or emptying named large files under one directory.

CLEAN_PATH is the directory (a real directory, not a symlink; never / nor a system directory such as
/etc, /usr, /boot, /proc). FILES are the files to act on, comma- or newline-separated,
absolute or relative to CLEAN_PATH: the ones core/linux-host/disk-usage or disk-hogs named. Each
must resolve inside CLEAN_PATH, be a regular file (not a symlink), and not belong to a database's
data directory (PG_VERSION, ibdata1 or a Redis dump beside it or above it). CLEAN_MODE=delete
removes, CLEAN_MODE=truncate empties, CLEAN_MODE=auto (default) empties the files a process holds open
(removing them would not free the space until it closes them) and removes the others.
DRY_RUN=true only reports what would happen. Files already gone are skipped; the report gives
the free space before and after.
"""
import json, os, sys

RESULTS = os.environ["SITREP_RESULTS"]
SYSTEM = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr"]
DATA_MARKERS = ["PG_VERSION", "ibdata1", "appendonly.aof", "appendonlydir", "dump.rdb", "mongod.lock"]
MAX_FILES = 50


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def fail(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def human(b):
    for unit in ("B", "K", "M", "G", "T"):
        if abs(b) < 1024:
            return f"{b:.0f}{unit}"
        b /= 1024
    return f"{b:.0f}P"


def free(path):
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize


def open_inodes():
    """(dev, inode) -> [pid (comm)] of every regular file a process holds open."""
    held = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
            comm = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            held.setdefault((st.st_dev, st.st_ino), []).append(f"{pid} ({comm})")
    return held


def in_data_dir(path, stop):
    d = os.path.dirname(path)
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in DATA_MARKERS):
            return d
        if d in (stop, "/") or not d.startswith(stop):
            return None
        d = os.path.dirname(d)


def main():
    root = (os.environ.get("CLEAN_PATH") or "").strip()
    names = [f.strip() for f in (os.environ.get("FILES") or "").replace("\n", ",").split(",") if f.strip()]
    mode = (os.environ.get("CLEAN_MODE") or "auto").strip()
    dry = (os.environ.get("DRY_RUN") or "false").strip().lower() in ("1", "true", "yes")
    if mode not in ("auto", "delete", "truncate"):
        fail(f"CLEAN_MODE must be auto, delete or truncate, got {mode!r}")
    if not root.startswith("/"):
        fail(f"CLEAN_PATH must be the absolute path of the directory to clean, got {root!r}")
    real = os.path.realpath(root)
    if real == "/" or any(real == s or real.startswith(s + "/") for s in SYSTEM):
        fail(f"refusing to clean {root}: it is / or a system directory")
    if os.path.islink(root.rstrip("/") or "/") or not os.path.isdir(real):
        fail(f"{root} must be a directory (not a symlink)")
    if not names:
        fail("FILES is empty: name the files to remove (disk-usage and disk-hogs list the largest); refusing to pick them")
    if len(names) > MAX_FILES:
        fail(f"{len(names)} files named; at most {MAX_FILES} at once")
    plan, skipped = [], []
    for n in names:
        p = n if n.startswith("/") else os.path.join(real, n)
        if os.path.commonpath([os.path.realpath(os.path.dirname(p)), real]) != real:
            fail(f"{n} is not inside {root}; refusing")
        if not os.path.lexists(p):
            skipped.append(f"{n}: already gone")
            continue
        if os.path.islink(p) or not os.path.isfile(p):
            fail(f"{n} is not a regular file (a symlink, directory or device); refusing")
        data_dir = in_data_dir(os.path.realpath(p), real)
        if data_dir:
            fail(f"{n} lies in a database's data directory ({data_dir}); refusing: free space through the database instead")
        plan.append(p)
    held = open_inodes() if plan else {}
    before = free(real)
    done, total = [], 0
    for p in plan:
        st = os.stat(p)
        holders = held.get((st.st_dev, st.st_ino), [])
        action = mode if mode != "auto" else ("truncate" if holders else "delete")
        note = f" (held open by {', '.join(holders[:3])})" if holders else ""
        if action == "delete" and holders:
            note += " - space is freed only when those processes close it"
        if not dry:
            if action == "truncate":
                with open(p, "r+b") as f:
                    f.truncate(0)
            else:
                os.unlink(p)
        total += st.st_size
        done.append(f"  {'would ' if dry else ''}{action} {p}: {human(st.st_size)}{note}")
    after = free(real)
    lines = [f"{'Dry run: ' if dry else ''}{len(done)} files under {root}, {human(total)} in all:", *done, *(f"  skipped {s}" for s in skipped),
             f"Free space on {root}: {human(before)} before, {human(after)} after."]
    emit({"type": "report", "text": "\n".join(lines)})
    emit({"type": "insight", "text": f"{root}: {'would free' if dry else 'freed'} {human(total)} from {len(done)} files",
          "data": {"path": root, "files": plan, "bytes": total, "dry_run": dry, "free_before": before, "free_after": after}})


if __name__ == "__main__":
    main()
