#!/usr/bin/env bash
# Diagnostic: the slowest recent commands from SLOWLOG (arguments truncated by Redis itself).
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
N="${SLOWLOG_N:-20}"
[[ "$N" =~ ^[0-9]+$ ]] || { echo "SLOWLOG_N must be a number" >&2; exit 2; }
require_redis
out="$(rcli SLOWLOG GET "$N")"
len="$(rcli SLOWLOG LEN)"
thr="$(config_get slowlog-log-slower-than)"
printf 'SLOWLOG of %s: %s entries kept (threshold %s us); newest %s:\n%s\n' "$REDIS_NAME" "$len" "${thr:-?}" "$N" "$out" | head -c 60000 | sitrep emit report -
sitrep emit metric redis_slowlog_len "$len"
