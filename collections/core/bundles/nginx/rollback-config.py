"""Remediation: restore nginx's last known-good configuration (the snapshot core/nginx/config-watch
took while the configuration passed nginx -t and served traffic), test it, and reload.

Files that differ from the snapshot are written back; files nginx loads now that the snapshot
did not have are moved aside. Every file it touches is kept first (the report names the folder:
copying them back undoes the rollback). When the restored configuration fails nginx -t, the
previous files are put back and nothing is reloaded (exit 1). Nothing is written when the
configuration already matches the snapshot.
"""
import os, shutil, sys, time

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from nginxlib import dump, emit, errors_of, line_changes, load_json, nginx, read_all, saved_files, state_path


def write_back(path, data):
    st = os.stat(path) if os.path.exists(path) else None
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.sitrep-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    if st:
        os.chmod(tmp, st.st_mode & 0o7777)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            pass
    os.replace(tmp, path)


def main():
    good = load_json(state_path("config", "good.json"), None)
    if not good:
        print("no known-good nginx configuration was snapshotted for this resource: core/nginx/config-watch "
              "takes one while the configuration passes nginx -t and serves traffic", file=sys.stderr)
        sys.exit(1)
    copies = saved_files(good)
    saved = read_all(copies.values())
    missing = [p for p, s in copies.items() if s not in saved]
    if missing:
        print(f"the known-good snapshot is incomplete (missing copies of {', '.join(missing)}); refusing a partial rollback", file=sys.stderr)
        sys.exit(1)
    wanted = {p: saved[s] for p, s in copies.items()}
    _, loaded, _ = dump()
    current = read_all(set(wanted) | set(loaded))
    extra = [p for p in current if p not in wanted]
    differ = [p for p in wanted if current.get(p) != wanted[p]]
    if not differ and not extra:
        emit({"type": "report", "text": "nginx's configuration already matches the known-good snapshot; nothing written, nothing reloaded."})
        return
    backup = state_path("rollback", time.strftime("%Y%m%dT%H%M%S"), "manifest")
    backup_dir = os.path.dirname(backup)
    kept = {}
    for i, p in enumerate(sorted(set(differ) | set(extra))):
        if p in current:
            dest = os.path.join(backup_dir, f"{i}-{os.path.basename(p)}")
            with open(dest, "wb") as f:
                f.write(current[p])
            kept[p] = dest
    changes = line_changes({p: current.get(p, b"") for p in differ + extra}, {p: wanted[p] for p in differ})
    for p in differ:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        write_back(p, wanted[p])
    for p in extra:
        os.unlink(p)
    rc, _, err = nginx("-t")
    if rc != 0:
        for p, dest in kept.items():
            shutil.copyfile(dest, p)
        for p in differ:
            if p not in kept and os.path.exists(p):
                os.unlink(p)
        print(f"the known-good configuration fails nginx -t now ({errors_of(err)}); the previous files were put back, nothing reloaded", file=sys.stderr)
        sys.exit(1)
    rc, _, err = nginx("-s", "reload")
    lines = [f"Restored {len(differ)} files of the known-good nginx configuration"
             + (f" and moved {len(extra)} files it did not have aside" if extra else "") + "; nginx -t passed:"]
    lines += [f"  {c['file']}{':' + str(c['line']) if c.get('line') else ''}: {c['old']!r} -> {c['new']!r}" for c in changes]
    lines.append(f"The replaced files are kept in {backup_dir} (copy them back and reload to undo).")
    lines.append("Reloaded nginx." if rc == 0 else f"Reload failed: {errors_of(err)}")
    emit({"type": "report", "text": "\n".join(lines)})
    emit({"type": "insight", "text": f"nginx configuration rolled back ({len(differ)} files)",
          "data": {"restored": differ, "moved_aside": extra, "backup": backup_dir, "reloaded": rc == 0}})
    if rc != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
