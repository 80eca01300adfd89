#!/usr/bin/env bash
# Health: nginx stub_status read twice SAMPLE_S apart: active connections, request rate, and
# connections accepted but not handled (dropped: worker_connections or file descriptors ran out).
set -euo pipefail

URL="${STATUS_URL:-}"; SAMPLE="${SAMPLE_S:-2}"; MAX_ACTIVE="${MAX_ACTIVE_CONNECTIONS:-0}"; T="${REQUEST_TIMEOUT_S:-5}"
[[ "$URL" =~ ^https?:// ]] || { echo "STATUS_URL must be the http(s) URL of nginx's stub_status location" >&2; exit 2; }
[[ "$SAMPLE" =~ ^[0-9]+$ && "$SAMPLE" -ge 1 && "$SAMPLE" -le 30 && "$MAX_ACTIVE" =~ ^[0-9]+$ && "$T" =~ ^[0-9]+$ ]] || { echo "SAMPLE_S (1..30), MAX_ACTIVE_CONNECTIONS and REQUEST_TIMEOUT_S must be whole numbers" >&2; exit 2; }
name="${SITREP_RESOURCE:-$(sed -E "s|^https?://([^/]+).*|\1|" <<<"$URL")}"

fetch() { curl -sS -k --max-time "$T" --connect-timeout "$T" --max-filesize 65536 -w '\n%{http_code}' "$URL" 2>&1; }
parse() {  # sets active accepts handled requests reading writing waiting; returns 1 if not stub_status
  active="$(sed -n 's/^Active connections: *\([0-9]*\).*/\1/p' <<<"$1")"
  read -r accepts handled requests <<<"$(grep -A1 '^server accepts handled requests' <<<"$1" | tail -1)"
  read -r _ reading _ writing _ waiting <<<"$(grep '^Reading:' <<<"$1")"
  [[ -n "$active" && -n "${requests:-}" ]]
}

rc=0
out="$(fetch)" || rc=$?
code="$(tail -1 <<<"$out")"; body="$(sed '$d' <<<"$out")"
first="$(head -c 300 <<<"$body" | tr '\n' ' ')"
fail() {  # severity title actual details next-steps
  sitrep emit issue --severity "$1" --title "nginx ${name} $2" --expected "HTTP 200 with stub_status output from ${URL}" \
    --actual "$3" --details "$4" --next-steps "$5" --reproduce-hint "curl -s ${URL}"
  exit 0
}
if (( rc != 0 )) && [[ "$code" == 000 || -z "$code" ]]; then
  case "$rc:$body" in
    7:*"refused"* | 7:*"Couldn't connect"*)
      fail 1 "refuses connections" "connection refused: ${first}" \
        "Nothing listens on the status URL's port: nginx is stopped, crashed, or failed to start after a reload or restart." \
        "Check that nginx runs (systemctl status nginx, ps -C nginx); if it does not start, core/nginx/config-test shows why; read the end of its error log." ;;
    28:*)
      fail 1 "does not answer" "no answer within ${T}s: ${first}" \
        "nginx (or the host) does not answer: the host is down or unreachable, a firewall drops packets, or every worker is stuck." \
        "Check the host and nginx's workers (ps, load); look for 'worker_connections are not enough' in core/nginx/error-log." ;;
    6:*)
      fail 2 "status URL host name does not resolve" "${first}" "The host name in STATUS_URL does not resolve." \
        "Fix the host name in STATUS_URL or its DNS record." ;;
    *)
      fail 1 "is unreachable" "curl exit ${rc}: ${first}" "The status URL cannot be reached." \
        "Check that nginx runs and listens on the status URL's host and port, and the network path to it." ;;
  esac
fi
if [[ "$code" != 200 ]]; then
  if [[ "$code" == 5* ]]; then
    fail 2 "status page fails with HTTP ${code}" "HTTP ${code}: ${first}" \
      "nginx answers, but the status location errors." "Read nginx's error log for the error at this time (core/nginx/error-log)."
  fi
  fail 3 "status page is not available (HTTP ${code})" "HTTP ${code}: ${first}" \
    "nginx answers, but the stub_status location is missing or denied (allow/deny), so its connections cannot be watched." \
    "Add 'location = /nginx_status { stub_status; allow 127.0.0.1; deny all; }' (or point STATUS_URL at the existing one) and reload nginx."
fi
parse "$body" || fail 3 "status URL does not serve stub_status" "HTTP 200 without stub_status output: ${first}" \
  "The URL answers with something else (a default page, a proxy)." "Point STATUS_URL at the location that has 'stub_status;'."
a0=$accepts; h0=$handled; r0=$requests
sleep "$SAMPLE"
out="$(fetch)" || true
body="$(sed '$d' <<<"$out")"
parse "$body" || { echo "second read of ${URL} failed: $(head -c 200 <<<"$body")" >&2; exit 1; }
dropped=$(( (accepts - handled) - (a0 - h0) )); (( dropped < 0 )) && dropped=0
rps=$(awk -v d=$((requests - r0)) -v s="$SAMPLE" 'BEGIN{printf "%.1f", (d < 0 ? 0 : d) / s}')
total_dropped=$((accepts - handled))
for m in active reading writing waiting; do sitrep emit metric "nginx_${m}_connections" "${!m}"; done
sitrep emit metric nginx_requests_per_s "$rps"
sitrep emit metric nginx_dropped_connections_total "$total_dropped"
sitrep emit insight "nginx ${name}: ${active} active (reading ${reading}, writing ${writing}, waiting ${waiting}), ${rps} req/s, ${dropped} dropped in ${SAMPLE}s (${total_dropped} since start)"
if (( dropped > 0 )); then
  sitrep emit issue --severity 2 --title "nginx ${name} is dropping connections" \
    --expected "every accepted connection handled" \
    --actual "${dropped} connections accepted but not handled in ${SAMPLE}s (${total_dropped} since start); ${active} active" \
    --details "nginx drops a connection when a worker reaches worker_connections or the process runs out of file descriptors." \
    --next-steps "Look for 'worker_connections are not enough' or 'Too many open files' in core/nginx/error-log; raise worker_connections and worker_rlimit_nofile (and the service's LimitNOFILE); check for slow upstreams holding connections open (core/nginx/upstream-failures)." \
    --reproduce-hint "curl -s ${URL}"
elif (( total_dropped > 0 )); then
  sitrep emit report "nginx has dropped ${total_dropped} connections since it started (none during this sample)."
fi
if (( MAX_ACTIVE > 0 && active >= MAX_ACTIVE )); then
  sitrep emit issue --severity 3 --title "nginx ${name} has many active connections" \
    --expected "below ${MAX_ACTIVE} active connections" \
    --actual "${active} active (reading ${reading}, writing ${writing}, waiting ${waiting}), ${rps} req/s" \
    --details "Many 'writing' connections mean requests wait on upstreams or slow clients; many 'waiting' are idle keep-alives." \
    --next-steps "Check upstream latency (core/nginx/upstream-failures) and traffic (a spike or an abusive client in the access log); tune keepalive_timeout." \
    --reproduce-hint "curl -s ${URL}"
fi
