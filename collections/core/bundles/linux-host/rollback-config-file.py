"""Remediation: restore a configuration file, or one key of it, to the known-good version that
sitrep's configuration tracking saved (core/process/config-watch keeps a private copy), then
restart the process or service that reads it if asked.

FILE is the file to restore. FROM is the saved copy (the config-watch issue names it); when it
is empty, the newest copy is looked up in the workspace's task state, where config tracking
keeps `config/index.json`. FROM must be a copy tracking saved for FILE: this task never copies an
arbitrary file, or another file's copy, over a configuration. With KEY only the lines defining that key are restored (`key = v`,
`key: v`, `key v`); without it the whole file. The current version is kept first (the report
names the copy: copying it back undoes the rollback). RESTART_SERVICE (a systemd unit) or
RESTART_PROCESS (a command line, as core/process's PROCESS_MATCH) are restarted afterwards, the
latter by SIGTERM so that its supervisor starts it again. Nothing is written when the file
already matches; the task fails (exit 1) when the restarted process does not come back.
"""
import glob, json, os, re, signal, subprocess, sys, time

RESULTS = os.environ["SITREP_RESULTS"]
SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private|credential|auth", re.I)
URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", re.I)


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def fail(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        fail(f"{name} must be a number, got {os.environ.get(name)!r}")


def shown(line):
    m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][\w.\-/]*)\s*(=|:|\s)", line)
    if m and SECRET_KEY.search(m.group(1)):
        return f"{m.group(1)} = *** (secret, not shown)"
    return URL_PASSWORD.sub(r"\1***\3", line.rstrip("\n"))[:300]


def state_roots():
    """The workspace's task state folder (SITREP_STATE_DIR is WORKSPACE/RESOURCE/BUNDLE)."""
    state = os.environ.get("SITREP_STATE_DIR") or fail("SITREP_STATE_DIR is not set: run this task through sitrep", 1)
    return os.path.realpath(os.path.dirname(os.path.dirname(state)))


def saved_copies(path, root):
    """[(known-good since, saved copy)] that configuration tracking in this workspace keeps for
    `path` (`config/index.json` in a bundle's state folder, copies relative to that folder)."""
    out = []
    for idx in glob.glob(os.path.join(root, "*", "*", "config", "index.json")):
        try:
            with open(idx) as f:
                e = json.load(f).get(path)
        except (OSError, ValueError):
            continue
        if not e or not e.get("saved"):
            continue
        saved = os.path.realpath(os.path.join(os.path.dirname(os.path.dirname(idx)), e["saved"]))
        if os.path.isfile(saved):
            out.append((e.get("good_since", 0), saved))
    return sorted(out, reverse=True)


def key_lines(lines, key):
    rx = re.compile(r"^\s*(?:export\s+)?" + re.escape(key) + r"\s*(=|:|\s)")
    return [i for i, l in enumerate(lines) if rx.match(l) and not l.lstrip().startswith(("#", ";"))]


def restore_key(current, good, key):
    cur, old = current.splitlines(keepends=True), good.splitlines(keepends=True)
    if current.lstrip().startswith("{"):
        fail("KEY cannot be restored inside a JSON file: leave KEY empty to restore the whole file")
    ci, gi = key_lines(cur, key), key_lines(old, key)
    if not ci and not gi:
        fail(f"{key} is defined in neither the current file nor the saved version; check KEY")
    if gi and ci:
        cur[ci[0]] = old[gi[0]] if old[gi[0]].endswith("\n") else old[gi[0]] + "\n"
    elif ci:
        del cur[ci[0]]
    else:
        if cur and not cur[-1].endswith("\n"):
            cur[-1] += "\n"
        cur.append(old[gi[0]] if old[gi[0]].endswith("\n") else old[gi[0]] + "\n")
    return "".join(cur)


def write_like(path, data, st):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.sitrep-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if st:
            os.chmod(tmp, st.st_mode & 0o7777)
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def matcher(pattern):
    if pattern.startswith("re:"):
        rx = re.compile(pattern[3:])
        return lambda c: bool(rx.search(c))
    body = pattern.rstrip("…")
    rx = re.compile(".*?".join(re.escape(p) for p in body.split("***")) + (".*" if pattern.endswith("…") else "") + r"\Z", re.S)
    return lambda c: bool(rx.match(c))


def roots(pattern):
    match, procs = matcher(pattern), {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = " ".join(a.decode(errors="replace") for a in f.read(8192).split(b"\0") if a)
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if cmd and fields[0] != "Z" and match(cmd):
            procs[int(pid)] = (int(fields[1]), cmd)
    return {p: c for p, (pp, c) in procs.items() if pp not in procs and p != os.getpid()}


def restart_process(pattern, grace, wait):
    before = roots(pattern)
    if not before:
        return True, "no process matching it runs now, so nothing was restarted (a supervisor starts it with the restored file)"
    for pid in before:
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and state(p) != "Z" for p in before):
        time.sleep(0.1)
    for p in before:
        if os.path.exists(f"/proc/{p}") and state(p) != "Z":
            send(p, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        new = {p: c for p, c in roots(pattern).items() if p not in before}
        if new:
            return True, f"stopped pid {', '.join(map(str, before))}; it came back as pid {', '.join(map(str, new))}"
        time.sleep(0.2)
    cmd = next(iter(before.values()))
    return False, (f"stopped pid {', '.join(map(str, before))} but no process matching it came back within {wait:g}s: "
                   f"start it the way it is normally started ({cmd[:300]})")


def send(pid, sig):
    """Signals pid; one that has exited meanwhile (a crash-looping service does) is left."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[0]
    except OSError:
        return "gone"


def main():
    path = (os.environ.get("FILE") or "").strip()
    key = (os.environ.get("KEY") or "").strip()
    src = (os.environ.get("FROM") or "").strip()
    unit = (os.environ.get("RESTART_SERVICE") or "").strip()
    proc = (os.environ.get("RESTART_PROCESS") or "").strip()
    grace, wait = num("GRACE_S", 10), num("RESTART_WAIT_S", 15)
    if not path.startswith("/"):
        fail(f"FILE must be the absolute path of the configuration file to restore, got {path!r}")
    if key and not re.fullmatch(r"[A-Za-z_][\w.\-/]*", key):
        fail(f"KEY must be a configuration key (letters, digits, _ . - /), got {key!r}")
    if unit and not re.fullmatch(r"[A-Za-z0-9@._:-]+", unit):
        fail(f"RESTART_SERVICE must be a systemd unit name, got {unit!r}")
    root = state_roots()
    copies = [saved for _, saved in saved_copies(path, root)]
    if not copies:
        fail(f"no saved known-good version of {path}: configuration tracking (core/process/config-watch) must have seen it "
             "while it was good", 1)
    real_src = os.path.realpath(src) if src else copies[0]
    if real_src not in copies:
        # never copy an arbitrary file, or another file's saved copy, over a configuration
        fail(f"FROM must be the copy sitrep's configuration tracking saved for {path} (one of {', '.join(copies)}), got {src!r}")
    target = os.path.realpath(path)
    st = None
    if os.path.lexists(path):
        st = os.stat(target)
        if not os.path.isfile(target):
            fail(f"{path} is not a regular file; refusing to replace it")
        with open(target, "rb") as f:
            current = f.read()
    else:
        current = None
        if key:
            fail(f"{path} does not exist: leave KEY empty to restore the whole file")
    with open(real_src, "rb") as f:
        good = f.read()
    if key:
        new = restore_key(current.decode("utf-8", "surrogateescape"), good.decode("utf-8", "surrogateescape"), key).encode("utf-8", "surrogateescape")
    else:
        new = good
    what = f"key {key} of {path}" if key else path
    if current == new:
        emit({"type": "report", "text": f"{what} already matches the known-good version ({real_src}); nothing written, nothing restarted."})
        return
    backup = None
    if current is not None:
        backup = os.path.join(os.environ["SITREP_STATE_DIR"], "rollback", f"{os.path.basename(path)}.{time.strftime('%Y%m%dT%H%M%S')}.bak")
        os.makedirs(os.path.dirname(backup), mode=0o700, exist_ok=True)
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(current)
    write_like(target, new, st)
    old_lines = (current or b"").decode("utf-8", "replace").splitlines()
    new_lines = new.decode("utf-8", "replace").splitlines()
    changed = [f"  - {shown(l)}" for l in old_lines if l not in new_lines][:20] + [f"  + {shown(l)}" for l in new_lines if l not in old_lines][:20]
    lines = [f"Restored {what} from the known-good copy {real_src}.", *changed]
    if backup:
        lines.append(f"The version it replaced is kept in {backup} (copy it back to undo).")
    ok = True
    if unit:
        if not os.path.isdir("/run/systemd/system"):
            fail("RESTART_SERVICE needs systemd, which is not running here; use RESTART_PROCESS", 1)
        r = subprocess.run(["systemctl", "restart", unit], capture_output=True, text=True, timeout=120)
        ok = r.returncode == 0
        lines.append(f"systemctl restart {unit}: {'done' if ok else 'failed: ' + (r.stderr or r.stdout).strip()[:300]}")
    elif proc:
        ok, how = restart_process(proc, grace, wait)
        lines.append(f"Restart: {how}.")
    emit({"type": "report", "text": "\n".join(lines)})
    emit({"type": "insight", "text": f"{what} rolled back to its known-good version",
          "data": {"file": path, "key": key, "from": real_src, "backup": backup, "restarted": ok and bool(unit or proc)}})
    if not ok:
        print(lines[-1], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
