"""Prometheus HTTP API diagnostics (chosen by SITREP_TASK):

  target-errors  unhealthy scrape targets with lastError (GET /api/v1/targets?state=active)
  rule-errors    rules whose last evaluation failed (GET /api/v1/rules)
"""
import json, os, sys, urllib.error, urllib.request

RESULTS = os.environ["SITREP_RESULTS"]


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def get(base, path, timeout):
    url = base.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = json.load(r)
    except (urllib.error.URLError, OSError, ValueError) as e:
        sys.exit(f"cannot query {url}: {e}")
    if body.get("status") != "success":
        sys.exit(f"{url}: {body.get('error', body)}")
    return body["data"]


def target_errors(base, timeout):
    data = get(base, "/api/v1/targets?state=active", timeout)
    bad = [t for t in data.get("activeTargets", []) if t.get("health") != "up"]
    lines = [f"{len(bad)} of {len(data.get('activeTargets', []))} active targets are not up:"]
    for t in bad[:100]:
        lab = t.get("labels", {})
        lines.append(f"- job={lab.get('job', '?')} instance={lab.get('instance', '?')} health={t.get('health')} "
                     f"url={t.get('scrapeUrl')} last scrape {t.get('lastScrape')} ({t.get('lastScrapeDuration', 0):.3f}s): {t.get('lastError') or '-'}")
        emit({"type": "insight", "text": f"target {lab.get('instance')} of job {lab.get('job')}: {t.get('lastError') or t.get('health')}",
              "data": {"job": lab.get("job"), "instance": lab.get("instance"), "error": t.get("lastError")}})
        # about the target (job/instance, as down-targets names it), not about Prometheus
        emit({"type": "issue", "severity": 2, "resource": f"{lab.get('job')}/{lab.get('instance')}",
              "title": f"Prometheus cannot scrape target {lab.get('instance')} of job {lab.get('job')}",
              "expected": "health up", "actual": f"health {t.get('health')}: {(t.get('lastError') or 'no error recorded')[:300]}",
              "details": f"Scrape URL {t.get('scrapeUrl')}; last scrape {t.get('lastScrape')} took {t.get('lastScrapeDuration', 0):.3f}s.",
              "next_steps": "A refused connection means the exporter or service is not running or listens elsewhere: start it; a timeout means it is overloaded or unreachable; an HTTP error means it answers but fails to produce metrics (read its log).",
              "reproduce_hint": f"curl -sS -m 10 '{t.get('scrapeUrl')}' | head",
              "data": {"job": lab.get("job"), "instance": lab.get("instance"), "scrape_url": t.get("scrapeUrl"),
                       "error": (t.get("lastError") or "")[:500], "health": t.get("health"), "last_scrape": t.get("lastScrape")}})
    emit({"type": "report", "text": "\n".join(lines)})


def rule_errors(base, timeout):
    data = get(base, "/api/v1/rules", timeout)
    lines, n, total = [], 0, 0
    for g in data.get("groups", []):
        for r in g.get("rules", []):
            total += 1
            if r.get("health") == "err" or r.get("lastError"):
                n += 1
                if n <= 100:
                    lines.append(f"- group {g.get('name')} ({g.get('file')}): {r.get('type')} {r.get('name')}\n"
                                 f"  expr: {r.get('query', '')[:500]}\n  error: {r.get('lastError', '')[:1000]}")
                    emit({"type": "insight", "text": f"rule {r.get('name')} in group {g.get('name')} fails: {r.get('lastError', '')[:300]}",
                          "data": {"group": g.get("name"), "rule": r.get("name"), "error": r.get("lastError")}})
    emit({"type": "report", "text": "\n".join([f"{n} of {total} rules failed their last evaluation:"] + lines)})


def main():
    base = os.environ.get("PROMETHEUS_URL") or sys.exit("PROMETHEUS_URL is required")
    timeout = float(os.environ.get("REQUEST_TIMEOUT_S") or 10)
    task = os.environ.get("SITREP_TASK", "target-errors").rsplit("/", 1)[-1]  # "core/prometheus/rule-errors" or "rule-errors"
    (rule_errors if task == "rule-errors" else target_errors)(base, timeout)


if __name__ == "__main__":
    main()
