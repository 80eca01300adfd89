#!/usr/bin/env bash
# Remediation: test the configuration (nginx -t) and, only if it passes, reload nginx gracefully
# (new workers start with the new configuration; old ones finish their requests).
set -euo pipefail
BIN="${NGINX_BIN:-nginx}"; CONF="${NGINX_CONF:-}"
command -v "$BIN" >/dev/null || { echo "nginx binary '${BIN}' not found on this host (set NGINX_BIN)" >&2; exit 1; }
cargs=(); [[ -n "$CONF" ]] && cargs=(-c "$CONF")
if ! out="$(timeout 30 "$BIN" -t "${cargs[@]}" 2>&1)"; then
  echo "nginx -t failed, not reloading: $(grep -E '\[(emerg|crit|alert)\]' <<<"$out" | head -3)" >&2
  exit 1
fi
timeout 30 "$BIN" "${cargs[@]}" -s reload
sitrep emit report "nginx -t passed; sent reload to the master process ($("$BIN" -v 2>&1))."
sitrep emit insight "nginx reloaded"
