"""Helpers shared by the nginx bundle's python tasks (imported, not run): `nginx -t`/`-T` and
the configuration files it loads, the certificates it serves, the access log's recent status
codes, the known-good snapshot in SITREP_STATE_DIR, and the result protocol.
"""
import datetime as dt
import hashlib, json, os, re, subprocess, sys, time

RESULTS = os.environ.get("SITREP_RESULTS", "/dev/null")


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def nginx(*args, timeout=30):
    """(exit code, stdout, stderr) of the nginx binary with NGINX_CONF."""
    binary = os.environ.get("NGINX_BIN") or "nginx"
    conf = os.environ.get("NGINX_CONF") or ""
    cmd = [binary, *args] + (["-c", conf] if conf else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
    except FileNotFoundError:
        sys.exit(f"nginx binary {binary!r} not found on this host (set NGINX_BIN)")
    except subprocess.TimeoutExpired:
        return 124, "", f"{' '.join(cmd)} timed out after {timeout}s"
    return p.returncode, p.stdout, p.stderr


def errors_of(stderr):
    return " ".join(l.strip() for l in stderr.splitlines() if re.search(r"\[(emerg|crit|alert)\]", l))[:600] or stderr.strip()[:600]


HEADER = re.compile(r"^# configuration file (.+):$")


def dump():
    """(test passed, {path: text} of every file nginx loads, stderr) from `nginx -T`."""
    rc, out, err = nginx("-T")
    files, cur, buf = {}, None, []
    for line in out.splitlines():
        m = HEADER.match(line)
        if m:
            if cur:
                files[cur] = "\n".join(buf)
            cur, buf = m.group(1), []
        elif cur:
            buf.append(line)
    if cur:
        files[cur] = "\n".join(buf)
    return rc == 0, files, err


def strip_comments(text):
    return "\n".join(re.sub(r"(^|\s)#.*$", "", l) for l in text.splitlines())


def certificates(files):
    """[{certificate, key, server_names, listen}] of every ssl_certificate in the configuration
    (variables such as $ssl_server_name skipped)."""
    out = []
    for path, text in files.items():
        text = strip_comments(text)
        for block in server_blocks(text):
            names = re.findall(r"\bserver_name\s+([^;]+);", block)
            listens = re.findall(r"\blisten\s+([^;]+);", block)
            keys = re.findall(r"\bssl_certificate_key\s+([^;\s]+)\s*;", block)
            for i, cert in enumerate(re.findall(r"\bssl_certificate\s+([^;\s]+)\s*;", block)):
                cert = cert.strip("\"'")
                if "$" in cert:
                    continue
                out.append({"certificate": cert, "key": keys[i].strip("\"'") if i < len(keys) else "",
                            "server_names": " ".join(names).split()[:10], "listen": [l.strip() for l in listens][:5],
                            "config": path})
    return out


def server_blocks(text):
    """The bodies of `server { ... }` blocks (nested braces followed)."""
    blocks = []
    for m in re.finditer(r"\bserver\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        blocks.append(text[m.end():i - 1])
    return blocks


def not_after(cert_path):
    """(epoch of notAfter, subject, issuer) of a PEM certificate file, or raises OSError."""
    p = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-subject", "-issuer", "-in", cert_path],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        raise OSError(p.stderr.strip()[:300] or f"openssl cannot read {cert_path}")
    fields = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    end = dt.datetime.strptime(fields["notAfter"].replace("  ", " "), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.timezone.utc)
    return end.timestamp(), fields.get("subject", "").strip(), fields.get("issuer", "").strip()


ACC_COMBINED = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]")
ACC_ISO = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z))\]")
ACC_STATUS = re.compile(r'" (\d{3}) ')


def recent_statuses(path, since, max_bytes=4 << 20):
    """(requests, 5xx answers) in the access log at or after `since` (combined or ISO 8601 times)."""
    if not path:
        return 0, 0
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return 0, 0
    total = bad = 0
    for line in lines:
        s = ACC_STATUS.search(line)
        if not s:
            continue
        m = ACC_COMBINED.search(line)
        try:
            if m:
                t = dt.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
            else:
                m = ACC_ISO.search(line)
                if not m:
                    continue
                t = dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        if t >= since:
            total += 1
            bad += s.group(1).startswith("5")
    return total, bad


def state_path(*parts):
    base = os.environ.get("SITREP_STATE_DIR") or sys.exit("SITREP_STATE_DIR is not set: run this task through sitrep")
    p = os.path.join(base, *parts)
    os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
    return p


def load_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_private(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def saved_files(manifest):
    """{configuration path: absolute path of its saved copy} of a known-good manifest."""
    base = os.environ["SITREP_STATE_DIR"]
    return {p: s if os.path.isabs(s) else os.path.join(base, s) for p, s in manifest["files"].items()}


def read_all(paths):
    """{path: bytes} of the files that exist."""
    out = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                out[p] = f.read()
        except OSError:
            continue
    return out


def digest(contents):
    h = hashlib.sha256()
    for p in sorted(contents):
        h.update(p.encode() + b"\0" + contents[p] + b"\0")
    return h.hexdigest()


def snapshot(contents):
    """Saves a known-good snapshot; returns its manifest {hash, since, files: {path: saved}}."""
    h = digest(contents)
    files = {}
    for p, data in contents.items():
        saved = state_path("config", "good", hashlib.sha1(p.encode()).hexdigest()[:16])
        write_private(saved, data)
        files[p] = os.path.relpath(saved, os.environ["SITREP_STATE_DIR"])  # relative: a moved home still finds it
    manifest = {"hash": h, "since": time.time(), "files": files}
    write_private(state_path("config", "good.json"), json.dumps(manifest, indent=1).encode())
    return manifest


SECRETISH = re.compile(r"pass(word|wd)?|secret|token|authorization|api[_-]?key|credential", re.I)


def mask_line(text):
    """A configuration line as it may be shown: after a secrets-looking word, the value is ***."""
    if not text:
        return text
    out = []
    for line in text.splitlines():
        words = line.split()
        if SECRETISH.search(line) and len(words) > 2:
            out.append(" ".join(words[:2]) + " ***;")
        else:
            out.append(line)
    return "\n".join(out)


def line_changes(old, new, limit=20):
    """[{file, old, new}] of lines removed and added (comments and blank lines ignored)."""
    import difflib
    out = []
    for p in sorted(set(old) | set(new)):
        a = old.get(p, b"").decode("utf-8", "replace").splitlines()
        b = new.get(p, b"").decode("utf-8", "replace").splitlines()
        if a == b:
            continue
        if p not in new:
            out.append({"file": p, "old": "(file)", "new": None})
            continue
        if p not in old:
            out.append({"file": p, "old": None, "new": "(new file)"})
            continue
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if tag != "equal":
                out.append({"file": p, "line": j1 + 1, "old": mask_line("\n".join(a[i1:i2]).strip()[:300]) or None,
                            "new": mask_line("\n".join(b[j1:j2]).strip()[:300]) or None})
    return out[:limit]
