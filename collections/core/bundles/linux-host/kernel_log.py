"""The kernel log, shared by the linux-host tasks that read it (oom-kills, kernel-errors).

Sources, first that works: KERNEL_LOG (a file, e.g. /var/log/kern.log), `journalctl -k`,
`dmesg --time-format iso`, /var/log/kern.log, /var/log/messages. Lines keep their timestamps;
`stamp` reads ISO (journalctl short-iso, dmesg --time-format iso) and syslog forms.
"""
import datetime as dt
import os, re, shutil, subprocess, sys

ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)[,.]?\d*([+-]\d\d:?\d\d|Z)?")
SYSLOG = re.compile(r"^([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d)")


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def read_log(window_min):
    src = os.environ.get("KERNEL_LOG", "").strip()
    if src:
        try:
            with open(src, errors="replace") as f:
                return f.readlines()[-20000:], src
        except OSError as e:
            sys.exit(f"cannot read KERNEL_LOG {src}: {e}")
    if shutil.which("journalctl"):
        out = run(["journalctl", "-k", "-o", "short-iso", "--no-pager", "-q", "--since", f"-{window_min}min"])
        if out and out.strip() and "No entries" not in out:
            return out.splitlines()[-20000:], "journalctl -k"
    if shutil.which("dmesg"):
        out = run(["dmesg", "--time-format", "iso"])
        if out is not None:
            return out.splitlines()[-20000:], "dmesg"
    for path in ("/var/log/kern.log", "/var/log/messages"):
        try:
            with open(path, errors="replace") as f:
                return f.readlines()[-20000:], path
        except OSError:
            continue
    sys.exit("no readable kernel log: set KERNEL_LOG, or run where journalctl -k or dmesg works (root or CAP_SYSLOG)")


def utc(t):
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def stamp(line, now):
    m = ISO.match(line)
    if m:
        s = m.group(1) + (m.group(2) or "")
        s = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", s).replace("Z", "+00:00")
        t = dt.datetime.fromisoformat(s)
        return t if t.tzinfo else t.astimezone()
    m = SYSLOG.match(line)
    if m:
        t = dt.datetime.strptime(f"{now.year} {m.group(1)}", "%Y %b %d %H:%M:%S").astimezone()
        return t.replace(year=now.year - 1) if t > now + dt.timedelta(days=1) else t
    return None
