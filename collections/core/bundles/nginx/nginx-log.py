"""nginx error/access log analysis for three tasks (chosen by SITREP_TASK):

  error-log          known error patterns in the error log (capacity, permissions, TLS, limits, emerg/crit)
  upstream-failures  upstream connect/timeout/reset/no-live-upstream errors grouped by upstream,
                     with the 502/503/504 count from the access log
  server-errors      the share of requests answered 5xx in the access log, by status and path
                     (502 and 504 are upstream-failures' finding)

Only lines from the last LOG_WINDOW_MIN minutes are read (at most the last 8 MiB of a file).
Every issue carries the time of its latest line (`last_event_at`): it stays open while such
lines keep coming (the check's quiet period), not for the whole window.
"""
import datetime as dt
import json, os, re, sys
from collections import defaultdict

RESULTS = os.environ["SITREP_RESULTS"]
TAIL_BYTES = 8 << 20


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def num(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def tail_lines(path):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        data = f.read()
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if size > TAIL_BYTES else lines


ERR_TS = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\]")
ACC_TS = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]")
ACC_TS_ISO = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z))\]")  # $time_iso8601
ACC_STATUS = re.compile(r'" (\d{3}) ')
ACC_REQ = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^ "?]+)[^"]*" (?P<status>\d{3}) ')


def access_time(line):
    """The time of an access-log line ($time_local or $time_iso8601), or None."""
    m = ACC_TS.search(line)
    if m:
        return dt.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z")
    m = ACC_TS_ISO.search(line)
    if m:
        return dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
    return None


def utc(t):
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def error_lines(path, since):
    for line in tail_lines(path):
        m = ERR_TS.match(line)
        if not m:
            continue
        t = dt.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").astimezone()  # nginx logs local time
        if t >= since:
            yield t, m.group(2), line


# (id, regex, severity, title, next steps)
PATTERNS = [
    ("worker-connections-reused", re.compile(r"worker_connections are not enough, reusing connections"), 3,
     "nginx is short of worker_connections and closes idle keep-alive connections",
     "Raise worker_connections (and worker_rlimit_nofile) before active connections are refused too; check for traffic growth or slow upstreams."),
    ("worker-connections", re.compile(r"worker_connections are not enough"), 2,
     "nginx ran out of worker_connections",
     "Raise worker_connections (and worker_rlimit_nofile); look for slow upstreams or clients holding connections."),
    ("open-files", re.compile(r"\(24: Too many open files\)"), 2,
     "nginx ran out of file descriptors",
     "Raise worker_rlimit_nofile and the service's open-file limit (LimitNOFILE); check for connection leaks to upstreams."),
    ("permission-denied", re.compile(r"\(13: Permission denied\)"), 2,
     "nginx is denied access to files or sockets",
     "Check ownership and modes of the paths in the log lines (and SELinux/AppArmor); nginx workers run as the 'user' in nginx.conf."),
    ("no-space", re.compile(r"\(28: No space left on device\)"), 1,
     "nginx cannot write: no space left on device",
     "Free space on the volume holding nginx's logs and temp paths (core/linux-host/disk-usage)."),
    ("body-too-large", re.compile(r"client intended to send too large body"), 3,
     "nginx rejects request bodies as too large",
     "If the uploads are legitimate raise client_max_body_size for that location; otherwise find the client sending them."),
    ("rate-limited", re.compile(r"limiting (requests|connections)"), 3,
     "nginx is rate-limiting clients",
     "Check whether the limited clients are legitimate (the log lines name them and the zone); adjust limit_req/limit_conn or block an abusive client."),
    ("upstream-big-header", re.compile(r"upstream sent too big header"), 3,
     "nginx rejects upstream responses with too big headers",
     "Raise proxy_buffer_size / fastcgi_buffer_size, or find why the upstream sends huge headers (cookies)."),
    ("ssl-handshake", re.compile(r"SSL_do_handshake\(\) failed|ssl_stapling|SSL_read\(\) failed"), 3,
     "nginx reports TLS errors",
     "Check the certificate and ssl_protocols/ssl_ciphers against the clients named in the log lines (core/http-endpoint/certificate)."),
    ("emergency", re.compile(r"^\S+ \S+ \[(emerg|alert|crit)\]"), 2,
     "nginx logs critical errors",
     "Read the lines in details; run core/nginx/config-test; these usually mean a failed reload, a missing file or a resource limit."),
]

UPSTREAM_KINDS = [
    ("refused", re.compile(r"\(111: Connection refused\) while connecting to upstream")),
    ("timeout", re.compile(r"upstream timed out \(110: Connection timed out\)")),
    ("reset", re.compile(r"\(104: Connection reset by peer\) while (reading|sending)")),
    ("closed", re.compile(r"upstream prematurely closed connection")),
    ("unreachable", re.compile(r"\((113: No route to host|101: Network is unreachable)\)")),
    ("no-live-upstreams", re.compile(r"no live upstreams while connecting to upstream")),
    ("dns", re.compile(r"could not be resolved|host not found in upstream")),
]
UPSTREAM_FIELD = re.compile(r'upstream: "(?:\w+://)?([^/"]+)')


def task_error_log(path, since, window, min_count, name):
    found = defaultdict(list)
    last = {}
    for t, level, line in error_lines(path, since):
        if "upstream" in line and any(rx.search(line) for _, rx in UPSTREAM_KINDS):
            continue  # reported by upstream-failures
        for pid, rx, *_ in PATTERNS:
            if rx.search(line):
                found[pid].append(line)
                last[pid] = t
                break
    total = sum(len(v) for v in found.values())
    emit({"type": "insight", "text": f"nginx {name or path}: {total} known error lines in the last {window:g} min",
          "data": {k: len(v) for k, v in found.items()}})
    for pid, rx, sev, title, steps in PATTERNS:
        lines = found.get(pid, [])
        emit({"type": "metric", "name": "nginx_error_log_lines", "value": len(lines), "labels": {"pattern": pid}})
        if len(lines) >= min_count:
            emit({"type": "issue", "severity": sev, "title": f"{title}{f' ({name})' if name else ''}",
                  "expected": f"fewer than {min_count:g} such lines in {window:g} minutes",
                  "actual": f"{len(lines)} lines in the last {window:g} minutes in {path}, the last at {utc(last[pid])}",
                  "details": "Last lines:\n" + "\n".join(l[:400] for l in lines[-5:]),
                  "next_steps": steps,
                  "reproduce_hint": f"grep -E '{rx.pattern}' {path} | tail",
                  "last_event_at": utc(last[pid]),
                  "data": {"pattern": pid, "lines": len(lines), "error_log": path}})


def task_upstream_failures(path, access, since, window, min_count, name):
    by_up = defaultdict(lambda: defaultdict(int))
    last = {}
    for t, _, line in error_lines(path, since):
        for kind, rx in UPSTREAM_KINDS:
            if rx.search(line):
                m = UPSTREAM_FIELD.search(line)
                up = m.group(1) if m else "(unknown upstream)"
                by_up[up][kind] += 1
                last[up] = (t, line)
                break
    statuses = defaultdict(int)
    if access:
        try:
            for line in tail_lines(access):
                t, s = access_time(line), ACC_STATUS.search(line)
                if not t or not s:
                    continue
                if t >= since and s.group(1) in ("502", "503", "504"):
                    statuses[s.group(1)] += 1
        except OSError as e:
            emit({"type": "report", "text": f"access log {access} not readable: {e}"})
    gw = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())) or "none"
    total = sum(sum(k.values()) for k in by_up.values())
    emit({"type": "metric", "name": "nginx_upstream_errors", "value": total})
    for s in ("502", "503", "504"):
        emit({"type": "metric", "name": "nginx_gateway_errors", "value": statuses.get(s, 0), "labels": {"status": s}})
    emit({"type": "insight", "text": f"nginx {name or path}: {total} upstream errors in {window:g} min across {len(by_up)} upstreams; gateway errors: {gw}",
          "data": {up: dict(k) for up, k in by_up.items()}})
    for up, kinds in sorted(by_up.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(kinds.values())
        if n < min_count:
            continue
        desc = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items(), key=lambda kv: -kv[1]))
        if "refused" in kinds or "no-live-upstreams" in kinds or "unreachable" in kinds:
            cause = f"{up} is down or not listening (connections refused / no live upstreams)."
            steps = f"Check the service behind {up}: is it running and listening on that port (its unit, container or pod)? Restart it or fix its crash; then watch the errors stop."
        elif "timeout" in kinds:
            cause = f"{up} accepts connections but answers too slowly (proxy_read_timeout / proxy_connect_timeout)."
            steps = f"Find why {up} is slow (its database, CPU, a dependency); raise the proxy timeouts only if slow answers are expected."
        else:
            cause = f"{up} closes or resets connections mid-request (crashes, restarts, keep-alive mismatch)."
            steps = f"Check {up}'s logs for crashes or restarts; align its keep-alive timeout above nginx's upstream keepalive_timeout."
        emit({"type": "issue", "severity": 2, "title": f"nginx upstream {up} is failing{f' ({name})' if name else ''}",
              "expected": f"fewer than {min_count:g} upstream errors in {window:g} minutes",
              "actual": f"{n} errors in the last {window:g} minutes ({desc}), the last at {utc(last[up][0])}; gateway errors served: {gw}",
              "details": f"{cause}\nLast line: {last[up][1][:500]}",
              "next_steps": steps,
              "reproduce_hint": f"grep 'upstream' {path} | grep '{up}' | tail",
              "last_event_at": utc(last[up][0]),
              "data": {"upstream": up, "errors": n, "kinds": dict(kinds), "gateway_errors": dict(statuses)}})


def task_server_errors(access, since, window, name):
    if not access:
        sys.exit("server-errors needs ACCESS_LOG (the access log in the combined format or with $time_iso8601)")
    total, errors, last = 0, 0, None
    by_status, by_path = defaultdict(int), defaultdict(int)
    for line in tail_lines(access):
        t, m = access_time(line), ACC_REQ.search(line)
        if not t or not m or t < since:
            continue
        total += 1
        status = m.group("status")
        if status.startswith("5") and status not in ("502", "504"):
            errors += 1
            by_status[status] += 1
            by_path[f"{m.group('method')} {m.group('path')}"] += 1
            last = t
    pct = 100.0 * errors / total if total else 0.0
    max_pct, min_count = num("SERVER_ERROR_MAX_PCT", 5), num("SERVER_ERROR_MIN", 10)
    emit({"type": "metric", "name": "nginx_requests", "value": total})
    emit({"type": "metric", "name": "nginx_server_error_pct", "value": round(pct, 2)})
    statuses = ", ".join(f"{n} x {s}" for s, n in sorted(by_status.items(), key=lambda kv: -kv[1])) or "none"
    paths = ", ".join(f"{p} ({n})" for p, n in sorted(by_path.items(), key=lambda kv: -kv[1])[:5])
    emit({"type": "insight", "text": f"nginx {name or access}: {errors} of {total} requests answered 5xx ({pct:.1f}%) in {window:g} min",
          "data": {"requests": total, "server_errors": errors, "by_status": dict(by_status)}})
    if errors >= min_count and pct >= max_pct:
        emit({"type": "issue", "severity": 1 if pct >= 50 else 2,
              "title": f"Requests through nginx {name or access} fail with server errors",
              "expected": f"below {max_pct:g}% of requests answered 5xx",
              "actual": f"{errors} of {total} requests ({pct:.1f}%) in the last {window:g} min answered {statuses}, the last at {utc(last)}",
              "details": f"Most failing requests: {paths}. 502 and 504 (nginx could not get an answer from its upstream) are upstream-failures' finding; these are answers the upstream application (or nginx itself) gave.",
              "next_steps": "Read the application's log for errors on those paths at this time; check its dependencies (database, cache); a 503 with 'limiting requests' in core/nginx/error-log is nginx's rate limit.",
              "reproduce_hint": f"grep -E '\" 5[0-9]{{2}} ' {access} | tail",
              "last_event_at": utc(last),
              "data": {"requests": total, "server_errors": errors, "pct": round(pct, 1), "by_status": dict(by_status),
                       "paths": [p for p, _ in sorted(by_path.items(), key=lambda kv: -kv[1])[:5]]}})


def main():
    task = os.environ.get("SITREP_TASK", "error-log").rsplit("/", 1)[-1]  # "core/nginx/error-log" or "error-log"
    path = os.environ.get("ERROR_LOG") or "/var/log/nginx/error.log"
    access = os.environ.get("ACCESS_LOG", "")
    window = num("LOG_WINDOW_MIN", 15)
    name = os.environ.get("SITREP_RESOURCE") or ""
    since = dt.datetime.now().astimezone() - dt.timedelta(minutes=window)
    if task != "server-errors" and not os.path.exists(path):
        sys.exit(f"error log {path} does not exist (set ERROR_LOG to nginx's error_log path)")
    try:
        if task == "upstream-failures":
            task_upstream_failures(path, access, since, window, num("UPSTREAM_ERRORS_MIN", 5), name)
        elif task == "server-errors":
            task_server_errors(access, since, window, name)
        else:
            task_error_log(path, since, window, num("ERROR_LOG_MIN_COUNT", 1), name)
    except PermissionError as e:
        sys.exit(f"cannot read the nginx logs: {e} (run as a user in the adm group or root)")


if __name__ == "__main__":
    main()
