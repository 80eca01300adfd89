#!/usr/bin/env bash
# Diagnostic: connected clients grouped by name/IP and command, with the longest idle and
# the biggest output buffers (slow consumers).
set -euo pipefail
source "${SITREP_BUNDLE_DIR}/lib.sh"
require_redis
list="$(rcli CLIENT LIST)"
{
  echo "Clients of ${REDIS_NAME}: $(wc -l <<<"$list")"
  echo; echo "By name (or source IP when unnamed):"
  awk '{ name=""; addr="";
    for (i = 1; i <= NF; i++) { if ($i ~ /^name=/) name = substr($i, 6); if ($i ~ /^addr=/) addr = substr($i, 6) }
    sub(/:[0-9]+$/, "", addr); n[(name != "" ? "name=" name : "ip=" addr)]++ } END { for (k in n) printf "%6d  %s\n", n[k], k }' <<<"$list" | sort -rn | head -20
  echo; echo "By last command:"
  grep -o 'cmd=[^ ]*' <<<"$list" | sort | uniq -c | sort -rn | head -15
  echo; echo "Longest idle (id addr name idle flags cmd):"
  awk '{ o=""; for (i = 1; i <= NF; i++) if ($i ~ /^(id|addr|name|idle|flags|cmd)=/) o = o " " $i; split($0, a, "idle="); split(a[2], b, " "); print b[1], o }' <<<"$list" | sort -rn | head -10 | cut -d' ' -f2-
  echo; echo "Largest output buffers (omem, slow consumers / pubsub):"
  awk '{ o=""; m=0; for (i = 1; i <= NF; i++) { if ($i ~ /^(id|addr|name|omem|cmd)=/) o = o " " $i; if ($i ~ /^omem=/) m = substr($i, 6) } print m, o }' <<<"$list" | sort -rn | head -5 | cut -d' ' -f2-
} | head -c 60000 | sitrep emit report -
sitrep emit insight "redis ${REDIS_NAME}: $(wc -l <<<"$list") clients connected"
