"""Helpers shared by the process bundle's scripts (imported, not run): the result protocol,
finding a process by its command line, reading the tail of log files and grouping their error
lines, parsing and diffing configuration files with secrets masked, and the JSON state kept in
SITREP_STATE_DIR between runs.
"""
import datetime as dt
import hashlib, json, os, re, sys, time

RESULTS = os.environ.get("SITREP_RESULTS", "/dev/null")
CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# protocol and parameters

def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def paths(name):
    """A comma- or newline-separated list of paths from a parameter."""
    return [p.strip() for p in re.split(r"[,\n]", os.environ.get(name) or "") if p.strip()]


def resource():
    return os.environ.get("SITREP_RESOURCE") or "this process"


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(seconds):
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


# ---------------------------------------------------------------------------------------------
# state between runs (SITREP_STATE_DIR is private to this bundle on this resource)

def state_path(*parts):
    base = os.environ.get("SITREP_STATE_DIR")
    if not base:
        sys.exit("SITREP_STATE_DIR is not set: run this task through sitrep")
    p = os.path.join(base, *parts)
    os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
    return p


def saved_path(entry):
    """The absolute path of a saved copy; the index keeps it relative to SITREP_STATE_DIR so
    that a copied or moved home still finds it."""
    saved = entry["saved"]
    return saved if os.path.isabs(saved) else os.path.join(os.environ["SITREP_STATE_DIR"], saved)


def load_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def save_json(path, obj):
    write_private(path, json.dumps(obj, indent=1).encode())


def write_private(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# processes

def boot_time():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1])
    return 0


def processes():
    """pid -> {ppid, start (epoch seconds), argv, cmd, comm, state}; kernel threads left out."""
    boot, out = boot_time(), {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read(8192).split(b"\0") if a]
        except OSError:
            continue
        if not argv:
            continue
        fields = s[s.rindex(")") + 2:].split()
        out[int(pid)] = {"pid": int(pid), "ppid": int(fields[1]), "state": fields[0],
                         "start": boot + int(fields[19]) / CLK, "comm": s[s.index("(") + 1:s.rindex(")")],
                         "argv": argv, "cmd": " ".join(argv)}
    return out


def cmd_matcher(pattern):
    """A command line as discovery recorded it: `***` stands for a masked value (any text),
    a trailing `…` for the rest of a truncated line. `re:REGEX` is a regular expression."""
    pattern = pattern.strip()
    if pattern.startswith("re:"):
        rx = re.compile(pattern[3:])
        return lambda cmd: bool(rx.search(cmd))
    prefix = pattern.endswith("…")
    body = pattern.rstrip("…")
    rx = re.compile(".*?".join(re.escape(p) for p in body.split("***")) + (".*" if prefix else "") + r"\Z", re.S)
    return lambda cmd: bool(rx.match(cmd))


def find(pattern, procs):
    """The root-most processes whose command line matches (a forking server's workers that
    share the command line belong to their parent); never this task or its ancestors."""
    if not pattern:
        return []
    match = cmd_matcher(pattern)
    mine, cur = set(), os.getpid()
    while cur > 1 and cur not in mine:
        mine.add(cur)
        cur = procs.get(cur, {}).get("ppid", 0)
    hits = {pid for pid, p in procs.items() if pid not in mine and p["state"] != "Z" and match(p["cmd"])}
    return sorted((procs[p] for p in hits if procs[p]["ppid"] not in hits), key=lambda p: p["start"])


def systemd_unit(pid):
    """The systemd service a process runs in (from its cgroup), or ''."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                m = re.search(r"/([^/]+\.service)(/|$)", line.strip())
                if m and not m.group(1).startswith(("user@", "session-")):
                    return m.group(1)
    except OSError:
        pass
    return ""


def runit_service(pid, depth=4):
    """The runit service a process runs under: the service directory's name of the `runsv` among
    its nearest ancestors (a daemon's workers are its children), or ''."""
    for _ in range(depth):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{ppid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            return ""
        if os.path.basename(argv[0].decode(errors="replace")) == "runsv" and len(argv) > 1 and argv[1]:
            return os.path.basename(argv[1].decode(errors="replace").rstrip("/"))
        if ppid <= 1:
            return ""
        pid = ppid
    return ""


def service_of(pid):
    """The service manager a process runs under and its name there: ("systemd", UNIT),
    ("runit", SERVICE) or ("", "")."""
    unit = systemd_unit(pid)
    if unit:
        return "systemd", unit
    name = runit_service(pid)
    return ("runit", name) if name else ("", "")


# ---------------------------------------------------------------------------------------------
# logs

TAIL_BYTES = 4 << 20
LEVELS = {"trace": 7, "debug": 7, "info": 6, "notice": 5, "warn": 4, "warning": 4, "error": 3, "err": 3,
          "severe": 3, "fatal": 2, "critical": 2, "crit": 2, "panic": 2, "alert": 1, "emerg": 0, "emergency": 0}
TEXT_LEVEL = re.compile(r"\b(FATAL|PANIC|CRITICAL|CRIT|EMERG|ALERT|SEVERE|ERROR|ERR|WARNING|WARN|INFO|NOTICE|DEBUG)\b"
                        r"|\[(emerg|alert|crit|error|warn|notice|info|debug)\]|\blevel=(\w+)", re.I)
EXCEPTIONAL = re.compile(r"Traceback \(most recent call last\)|panicked at|Exception in thread|Segmentation fault|core dumped", re.I)
TS_PATTERNS = [
    (re.compile(r"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?)(Z|[+-]\d\d:?\d\d| ?UTC| ?[A-Z]{3,4})?"), "iso"),
    (re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)"), "%Y/%m/%d %H:%M:%S"),
    (re.compile(r"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)"), "syslog"),
]


def tail_lines(path, max_bytes=TAIL_BYTES):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        data = f.read()
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if size > max_bytes else lines


def parse_time(text):
    """Epoch seconds of a timestamp at the start of a log line (or a JSON ts field), or None."""
    for rx, fmt in TS_PATTERNS:
        m = rx.match(text)
        if not m:
            continue
        try:
            if fmt == "iso":
                base = m.group(1).replace(",", ".").replace(" ", "T")
                zone = (m.group(2) or "").strip()
                t = dt.datetime.fromisoformat(base[:26])
                if zone in ("Z", "UTC", "GMT"):
                    t = t.replace(tzinfo=dt.timezone.utc)
                elif re.match(r"[+-]\d\d:?\d\d$", zone):
                    z = zone.replace(":", "")
                    t = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=int(z[:3]), minutes=int(z[0] + z[3:]))))
                else:
                    t = t.astimezone()  # local time
                return t.timestamp()
            if fmt == "syslog":
                year = dt.datetime.now().year
                return dt.datetime.strptime(f"{year} {m.group(1)}", "%Y %b %d %H:%M:%S").astimezone().timestamp()
            return dt.datetime.strptime(m.group(1), fmt).astimezone().timestamp()
        except ValueError:
            return None
    return None


def parse_line(line):
    """(time or None, level number or None, message) of one log line: JSON lines by their
    ts/level/msg/error fields, text lines by a leading timestamp and a level word."""
    s = line.strip()
    if s.startswith("{"):
        try:
            o = json.loads(s)
        except ValueError:
            o = None
        if isinstance(o, dict):
            ts = next((o[k] for k in ("ts", "time", "timestamp", "@timestamp", "t") if isinstance(o.get(k), str)), None)
            lvl = next((str(o[k]).lower() for k in ("level", "severity", "lvl", "loglevel", "log.level") if k in o), None)
            msg = str(next((o[k] for k in ("msg", "message", "event", "text") if k in o), ""))
            err = next((o[k] for k in ("error", "err", "exception", "reason") if o.get(k)), None)
            if err is not None:
                msg = f"{msg}: {err}" if msg else str(err)
            return (parse_time(ts) if ts else None), LEVELS.get(lvl or "", None), msg or s
    t = parse_time(s)
    m = TEXT_LEVEL.search(s[:200])
    level = None
    if m:
        word = next(g for g in m.groups() if g)
        level = LEVELS.get(word.lower())
    if level is None and EXCEPTIONAL.search(s):
        level = 2
    return t, level, s


NOISE = [
    (re.compile(r"^\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d| ?UTC| ?[A-Z]{3,4})?\]?\s*"), ""),
    (re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ "), ""),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"(?<![A-Za-z])\d+(?:\.\d+)?"), "<n>"),
]


def template(msg):
    """A log message with what varies between occurrences (times, ids, addresses, numbers)
    replaced, so the same error groups together. Quoted names stay: they say what failed."""
    t = msg
    for rx, rep in NOISE:
        t = rx.sub(rep, t)
    return re.sub(r"\s+", " ", t).strip()[:240]


ERROR_CLASSES = [
    ("no-space", r"no space left on device|ENOSPC|disk (is )?full|quota exceeded"),
    ("config", r"invalid config|configuration (error|invalid)|config(uration)? file|parse error|unknown (directive|option|key)|invalid value"),
    ("connection-refused", r"connection refused|ECONNREFUSED|could not connect|connect\(\) failed"),
    ("timeout", r"timed? ?out|deadline exceeded|ETIMEDOUT"),
    ("too-many-connections", r"too many (clients|connections)|max(imum)? number of clients|connection slots are reserved"),
    ("out-of-memory", r"out of memory|cannot allocate memory|OOM |oom-kill|MemoryError"),
    ("permission", r"permission denied|EACCES|not permitted|access denied"),
    ("dns", r"could not (be )?resolve|name or service not known|no such host|NXDOMAIN"),
    ("tls", r"certificate|x509|ssl|tls handshake"),
    ("not-found", r"does not exist|no such file|not found|ENOENT"),
    ("crash", r"panic|segmentation fault|core dumped|fatal|traceback|exiting"),
]


def error_class(msg):
    for name, rx in ERROR_CLASSES:
        if re.search(rx, msg, re.I):
            return name
    return "error"


TARGET = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}:\d{2,5}|\[[0-9a-f:]+\]:\d{2,5}|[a-z0-9][a-z0-9.-]*\.[a-z]{2,}:\d{2,5})\b", re.I)


def scan_errors(files, since, max_level=3, max_bytes=TAIL_BYTES):
    """Error lines (level <= max_level, 3 = error) of the files at or after `since`, oldest
    first, as dicts {t, level, file, msg}. A line without a time of its own takes the time of
    the last line that had one (continuation lines, stack traces); with none before it, the
    file's modification time. Unreadable files are returned in the second list with why."""
    out, problems = [], []
    for path in files:
        try:
            lines = tail_lines(path, max_bytes)
            mtime = os.stat(path).st_mtime
        except OSError as e:
            problems.append(f"{path}: {e.strerror or e}")
            continue
        last_t = None
        for line in lines:
            t, level, msg = parse_line(line)
            if t is not None:
                last_t = t
            when = t if t is not None else (last_t if last_t is not None else mtime)
            if level is None or level > max_level or when < since:
                continue
            out.append({"t": when, "level": level, "file": path, "msg": msg[:1000]})
    out.sort(key=lambda e: e["t"])
    return out, problems


def group(errors):
    """Error lines grouped by template, most frequent first: [{template, count, last, first, sample, file, level}]."""
    groups = {}
    for e in errors:
        g = groups.setdefault(template(e["msg"]), {"count": 0, "first": e["t"], "level": e["level"]})
        g["count"] += 1
        g.update(last=e["t"], sample=e["msg"], file=e["file"], level=min(g["level"], e["level"]))
    ranked = [dict(template=k, **v) for k, v in groups.items()]
    # A bare word ("request", "error": an access line logged at error level) says less than a
    # message with its reason: messages with a reason come first, each tier by count.
    ranked.sort(key=lambda g: (is_bare(g["template"]), -g["count"], -g["last"]))
    return ranked


def is_bare(msg):
    """A message of one or two words carries no reason ("request", "fatal error")."""
    return len(msg.split()) < 3


# ---------------------------------------------------------------------------------------------
# configuration files

SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private|credential|auth|salt|signing", re.I)
URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", re.I)
LONG_TOKEN = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")


def mask(key, value):
    """A value as it may be shown: secrets-looking keys and long tokens as ***, passwords in
    URLs replaced."""
    if value is None:
        return None
    v = str(value)
    if key and SECRET_KEY.search(key):
        return "***" if v else ""
    if LONG_TOKEN.match(v) and not v.isdigit():
        return "***"
    return URL_PASSWORD.sub(r"\1***\3", v)


KV = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(=|:)\s?(.*?)\s*;?\s*$")
WORDS = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s+(.+?)\s*;?\s*$")


def is_comment(line):
    s = line.strip()
    return not s or s.startswith(("#", ";", "//", "--")) or (s.startswith("[") and s.endswith("]"))


def parse_config(text):
    """key -> value of a configuration text: JSON objects flattened (a.b.c), `key = value`,
    `key: value` (top-level YAML) and `directive value;` lines. Keys repeated keep their first
    value, sections ([x]) prefix their keys. None when the text has no key/value shape."""
    s = text.strip()
    if s.startswith("{"):
        try:
            return flatten(json.loads(s))
        except ValueError:
            pass
    out, section, shaped, lines = {}, "", 0, 0
    for line in text.splitlines():
        st = line.strip()
        if st.startswith("[") and st.endswith("]") and "=" not in st:
            section = st[1:-1].strip() + "."
            continue
        if is_comment(line):
            continue
        lines += 1
        if line[:1].isspace() and (":" in st or st.startswith("-")):
            return None  # nested YAML: compared line by line instead
        m = KV.match(line) or WORDS.match(line)
        if m:
            shaped += 1
            key = section + m.group(1)
            val = (m.group(3) if m.re is KV else m.group(2)).strip().strip("\"'")
            out.setdefault(key, val)
    return out if lines and shaped * 2 >= lines else None


def flatten(o, prefix=""):
    out = {}
    if isinstance(o, dict):
        for k, v in o.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(o, list):
        out[prefix[:-1]] = json.dumps(o)[:500]
    else:
        out[prefix[:-1]] = "" if o is None else str(o)
    return out


def diff_config(old, new):
    """What changed between two versions of a configuration text: [{key, old, new}] by key
    when both parse as key/value, else by line (key = line number of the new text, or '')."""
    a, b = parse_config(old), parse_config(new)
    if a is not None and b is not None:
        changes = []
        for k in list(b.keys()) + [k for k in a if k not in b]:
            if a.get(k) != b.get(k):
                changes.append({"key": k, "old": a.get(k), "new": b.get(k)})
        if changes:
            return changes
    if old == new:
        return []
    import difflib
    changes = []
    ol, nl = old.splitlines(), new.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ol, nl, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        changes.append({"key": "", "line": j1 + 1, "old": "\n".join(ol[i1:i2])[:500] or None,
                        "new": "\n".join(nl[j1:j2])[:500] or None})
    return changes


def masked_changes(changes):
    out = []
    for c in changes:
        secret = bool(c["key"] and SECRET_KEY.search(c["key"]))
        o, n = mask(c["key"], c["old"]), mask(c["key"], c["new"])
        if not c["key"]:
            o = mask_lines(c["old"])
            n = mask_lines(c["new"])
        # only a masked part changed (a password inside a URL): say so, show neither
        secret = secret or (o == n and c["old"] != c["new"])
        out.append(dict(c, old=o, new=n, secret=secret))
    return out


def mask_lines(text):
    if text is None:
        return None
    out = []
    for line in text.splitlines():
        m = KV.match(line) or WORDS.match(line)
        if m and SECRET_KEY.search(m.group(1)):
            out.append(f"{m.group(1)} = ***")
        else:
            out.append(URL_PASSWORD.sub(r"\1***\3", line))
    return "\n".join(out)


def describe(c):
    if c["key"]:
        if c["old"] is None:
            return f"{c['key']} added: {c['new']!r}"
        if c["new"] is None:
            return f"{c['key']} removed (was {c['old']!r})"
        if c.get("secret"):
            return f"{c['key']} changed (secret value, not shown)"
        return f"{c['key']}: {c['old']!r} -> {c['new']!r}"
    return f"line {c.get('line')}: {c['old']!r} -> {c['new']!r}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_id(path):
    return hashlib.sha1(path.encode()).hexdigest()[:16]


def now():
    return time.time()
