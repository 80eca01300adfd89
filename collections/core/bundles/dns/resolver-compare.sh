#!/usr/bin/env bash
# Diagnostic: ask each resolver in RESOLVERS (default: the nameservers in /etc/resolv.conf)
# for DNS_NAME and compare their answers.
set -euo pipefail

NAME="${DNS_NAME:-}"; TYPE="${RECORD_TYPE:-A}"; PORT="${DNS_PORT:-53}"; TIMEOUT="${DNS_TIMEOUT_S:-3}"
[[ "$NAME" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "DNS_NAME is required and must be a DNS name" >&2; exit 2; }
[[ "$TYPE" =~ ^[A-Z]+$ && "$PORT" =~ ^[0-9]+$ && "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "bad RECORD_TYPE, DNS_PORT or DNS_TIMEOUT_S" >&2; exit 2; }
command -v dig >/dev/null || { echo "dig not found (install dnsutils / bind9-dnsutils)" >&2; exit 1; }
resolvers="${RESOLVERS:-$(awk '$1=="nameserver"{print $2}' /etc/resolv.conf 2>/dev/null | tr '\n' ' ')}"
[[ -n "${resolvers// /}" ]] || { echo "no RESOLVERS given and none in /etc/resolv.conf" >&2; exit 1; }

declare -A seen=()
lines=(); n=0
for r in ${resolvers//,/ }; do
  n=$((n + 1)); (( n > 10 )) && break
  out="$(timeout $((TIMEOUT * 2 + 5)) dig "@${r}" -p "$PORT" +tries=1 "+time=${TIMEOUT}" "$NAME" "$TYPE" 2>&1)" || true
  status="$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -1)"
  ms="$(sed -n 's/^;; Query time: \([0-9]*\) msec.*/\1/p' <<<"$out" | head -1)"
  ans="$(awk -v t="$TYPE" '/^;; ANSWER SECTION:/{a=1; next} /^$/{a=0} a && $4==t {print $5}' <<<"$out" | sort -u | tr '\n' ' ' | sed 's/ $//')"
  key="${status:-NO-RESPONSE} ${ans}"
  seen["$key"]=1
  lines+=("$(printf '%-20s %-12s %6s ms  %s' "$r" "${status:-no response}" "${ms:--}" "${ans:-(none)}")")
done
printf '%s\n' "${NAME} ${TYPE} per resolver:" "${lines[@]}" | sitrep emit report -
if (( ${#seen[@]} > 1 )); then
  sitrep emit issue --severity 3 --title "Resolvers disagree about ${NAME}" \
    --expected "the same answer from every resolver" --actual "$(printf '%s; ' "${lines[@]}")" \
    --details "Some clients get a different answer (or none) depending on which resolver they use: stale caches after a change, split-horizon views, or a broken resolver." \
    --next-steps "Find the odd resolver above; flush its cache or fix its upstream; after a record change, wait for the old TTL to pass." \
    --reproduce-hint "for r in ${resolvers}; do dig @\$r ${NAME} ${TYPE} +short; done"
fi
sitrep emit insight "${NAME} ${TYPE}: ${#seen[@]} distinct answers from ${n} resolvers"
