"""Diagnostic: the slowest recent commands from SLOWLOG, as a table (when, how long, command,
client) with a summary per command name. Arguments are truncated by Redis itself.

Reads SLOWLOG through `redis-cli --json` (redis-cli 7 or newer); the connection params are the
bundle's (REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_TLS; REDISCLI_AUTH from the environment).
"""
import datetime as dt
import json, os, subprocess, sys
from collections import defaultdict

RESULTS = os.environ["SITREP_RESULTS"]
HOST = os.environ.get("REDIS_HOST") or "127.0.0.1"
PORT = os.environ.get("REDIS_PORT") or "6379"
NAME = os.environ.get("SITREP_RESOURCE") or f"{HOST}:{PORT}"


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    v = os.environ.get(name) or default
    if not str(v).isdigit():
        sys.exit(f"{name} must be a whole number, got {v!r}")
    return int(v)


def cli(*args):
    cmd = ["redis-cli", "-h", HOST, "-p", PORT, "--no-auth-warning", "--json"]
    if os.environ.get("REDIS_USER"):
        cmd += ["--user", os.environ["REDIS_USER"]]
    if os.environ.get("REDIS_TLS", "false") == "true":
        cmd.append("--tls")
    try:
        p = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           timeout=num("REDIS_TIMEOUT_S", 10), errors="replace")
    except FileNotFoundError:
        sys.exit("redis-cli not found (install redis-tools)")
    except subprocess.TimeoutExpired:
        sys.exit(f"no reply from Redis {NAME} within REDIS_TIMEOUT_S")
    out = p.stdout.strip()
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        msg = (out or p.stderr.strip())[:300]
        if "Unrecognized option" in msg or "--json" in msg:
            sys.exit("this redis-cli has no --json (it needs redis-cli 7 or newer)")
        if "Could not connect" in msg or not msg:
            emit({"type": "inconclusive",
                  "reason": f"Redis {NAME} does not serve this check ({msg or 'no reply'}); core/redis/ping reports that"})
            sys.exit(0)
        sys.exit(f"Redis {NAME}: {msg}")


def duration(us):
    if us < 1000:
        return f"{us} µs"
    return f"{us / 1000:.1f} ms" if us < 1_000_000 else f"{us / 1_000_000:.2f} s"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main():
    n = num("SLOWLOG_N", 20)
    entries = cli("SLOWLOG", "GET", str(n))
    total = cli("SLOWLOG", "LEN")
    threshold = cli("CONFIG", "GET", "slowlog-log-slower-than")
    if isinstance(threshold, dict):  # RESP3 maps
        threshold = threshold.get("slowlog-log-slower-than")
    elif isinstance(threshold, list) and len(threshold) == 2:
        threshold = threshold[1]
    now = dt.datetime.now(dt.timezone.utc)
    rows, per_cmd = [], defaultdict(lambda: [0, 0, 0])
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, list) or len(e) < 4:
            continue
        _id, ts, us, args = e[0], int(e[1]), int(e[2]), [str(a) for a in e[3]]
        client = e[4] if len(e) > 4 else ""
        name = e[5] if len(e) > 5 and e[5] else ""
        when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        age = int((now - when).total_seconds())
        command = " ".join(args)
        rows.append([when.strftime("%Y-%m-%d %H:%M:%S"), f"{age}s ago", duration(us),
                     command[:80] + ("…" if len(command) > 80 else ""), f"{client} {name}".strip()])
        c = per_cmd[args[0].upper() if args else "?"]
        c[0] += 1; c[1] += us; c[2] = max(c[2], us)
    thr = f"{threshold} µs" if str(threshold).lstrip("-").isdigit() else "?"
    head = f"SLOWLOG of Redis {NAME}: {total} entries kept (slowlog-log-slower-than {thr}); the {len(rows)} newest (UTC):"
    if not rows:
        emit({"type": "report", "text": f"{head}\n(empty)"})
    else:
        summary = sorted(([k, v[0], duration(v[1]), duration(v[2])] for k, v in per_cmd.items()),
                         key=lambda r: -per_cmd[r[0]][1])
        emit({"type": "report", "text": "\n\n".join([
            head, table(["when", "age", "took", "command", "client"], rows),
            "by command:", table(["command", "count", "total", "slowest"], summary)])})
    emit({"type": "metric", "name": "redis_slowlog_len", "value": int(total) if str(total).isdigit() else 0})
    if per_cmd:
        worst = max(per_cmd.items(), key=lambda kv: kv[1][1])
        emit({"type": "insight", "text": f"redis {NAME}: {worst[0]} is the slowest command in SLOWLOG "
              f"({worst[1][0]} entries, {duration(worst[1][1])} in total)",
              "data": {k: {"count": v[0], "total_us": v[1], "max_us": v[2]} for k, v in per_cmd.items()}})


if __name__ == "__main__":
    main()
