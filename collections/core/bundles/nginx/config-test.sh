#!/usr/bin/env bash
# Diagnostic: nginx -t on this host (configuration syntax, referenced files, certificates).
set -euo pipefail
BIN="${NGINX_BIN:-nginx}"; CONF="${NGINX_CONF:-}"
command -v "$BIN" >/dev/null || { echo "nginx binary '${BIN}' not found on this host (set NGINX_BIN)" >&2; exit 1; }
args=(-t); [[ -n "$CONF" ]] && args+=(-c "$CONF")
rc=0; out="$(timeout 30 "$BIN" "${args[@]}" 2>&1)" || rc=$?
sitrep emit report "$(printf '%s %s -> exit %s\n%s' "$BIN" "${args[*]}" "$rc" "$(head -c 20000 <<<"$out")")"
if (( rc != 0 )); then
  sitrep emit issue --severity 2 --title "nginx configuration does not pass nginx -t" \
    --expected "syntax is ok / test is successful" \
    --actual "$(grep -E '\[(emerg|crit|alert)\]' <<<"$out" | head -3 | cut -c1-400 | tr '\n' ' ')" \
    --details "A reload with this configuration fails (nginx keeps the old one); a restart would leave nginx down." \
    --next-steps "Fix the file and line named above (a typo, a missing include, certificate or upstream host), run nginx -t again, then reload (core/nginx/reload)." \
    --reproduce-hint "${BIN} ${args[*]}"
fi
sitrep emit insight "nginx -t: $([[ $rc == 0 ]] && echo ok || echo failed)"
