#!/usr/bin/env bash
# Diagnostic: one request to URL with curl, timed phase by phase (DNS, connect, TLS, first byte,
# total), the response headers and the start of the body.
set -euo pipefail

URL="${URL:-}"; T="${REQUEST_TIMEOUT_S:-10}"
[[ "$URL" =~ ^https?:// ]] || { echo "URL must start with http:// or https://, got '${URL}'" >&2; exit 2; }
[[ "$T" =~ ^[0-9]+$ ]] || { echo "REQUEST_TIMEOUT_S must be whole seconds" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 1; }
args=(-sS -o body -D headers --max-time "$T" --connect-timeout "$T" --max-filesize 10485760)
[[ "${INSECURE:-false}" == true ]] && args+=(-k)
fmt='%{http_code}|%{time_namelookup}|%{time_connect}|%{time_appconnect}|%{time_starttransfer}|%{time_total}|%{remote_ip}|%{ssl_verify_result}|%{num_redirects}'
rc=0
t="$(curl "${args[@]}" -w "$fmt" "$URL" 2>err)" || rc=$?
IFS='|' read -r code dns conn tls ttfb total ip verify redirects <<<"$t"
ms() { awk -v s="$1" 'BEGIN{printf "%d", s * 1000}'; }
{
  echo "GET ${URL} -> HTTP ${code:-000} from ${ip:-?} (curl exit ${rc}$( ((rc)) && echo ": $(head -c 300 err)"))"
  echo "dns $(ms "${dns:-0}") ms | connect $(ms "${conn:-0}") ms | tls done $(ms "${tls:-0}") ms | first byte $(ms "${ttfb:-0}") ms | total $(ms "${total:-0}") ms | redirects ${redirects:-0} | tls verify ${verify:-n/a}"
  echo; echo "Response headers:"; head -c 4000 headers 2>/dev/null | tr -d '\r' || true
  echo; echo "Body (first 2000 bytes):"; head -c 2000 body 2>/dev/null || true
} | sitrep emit report -
sitrep emit metric http_ttfb_ms "$(ms "${ttfb:-0}")"
sitrep emit metric http_total_ms "$(ms "${total:-0}")"
sitrep emit insight "${URL}: HTTP ${code:-000} in $(ms "${total:-0}") ms (dns $(ms "${dns:-0}"), connect $(ms "${conn:-0}"), tls $(ms "${tls:-0}"), first byte $(ms "${ttfb:-0}"))"
