"""The largest files of one filesystem, for disk-usage (run as a script: prints JSON) and
disk-hogs (imported). Bounded: one `find -xdev` walk of at most TIMEOUT_S seconds.

`files` are the hogs: files holding at least HOG_SHARE of the filesystem's used space (at
least 1 MiB), the ones worth removing; `path` is the deepest directory holding all of them,
which core/linux-host/clean-up-large-files takes as CLEAN_PATH. When no single file dominates,
`files` is empty: nothing is named for removal.

    python3 diskfiles.py MOUNT USED_BYTES [KEY=VALUE...]   # extra fields for the JSON (numbers stay numbers)
"""
import json, os, subprocess, sys

TIMEOUT_S = 10
HOG_SHARE = 0.10
TOP = 5


def largest(mount, timeout=TIMEOUT_S):
    """[(bytes, path)] of the largest regular files on mount's filesystem, and whether the walk
    was cut short."""
    try:
        p = subprocess.run(["find", mount, "-xdev", "-type", "f", "-size", "+1M", "-printf", "%s\t%p\n"],
                           capture_output=True, text=True, timeout=timeout, errors="replace")
        out, partial = p.stdout, False
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        partial = True
    files = []
    for line in out.splitlines():
        size, _, path = line.partition("\t")
        if size.isdigit() and path:
            files.append((int(size), path))
    files.sort(reverse=True)
    return files[:TOP], partial


def hogs(mount, used_bytes, timeout=TIMEOUT_S):
    top, partial = largest(mount, timeout)
    hog = [p for s, p in top if s >= max(1 << 20, HOG_SHARE * used_bytes)]
    if hog:
        path = os.path.commonpath([os.path.dirname(p) for p in hog])
    else:
        path = mount
    return {"mount": mount, "path": path, "files": ",".join(hog),
            "largest": [{"path": p, "bytes": s} for s, p in top], "partial": partial}


def main():
    d = hogs(sys.argv[1], int(sys.argv[2]))
    for kv in sys.argv[3:]:
        k, _, v = kv.partition("=")
        d[k] = int(v) if v.isdigit() else v
    d["summary"] = ", ".join(f"{x['path']} ({x['bytes'] / (1 << 20):.0f} MiB)" for x in d["largest"]) or "none over 1 MiB"
    print(json.dumps(d))


if __name__ == "__main__":
    main()
