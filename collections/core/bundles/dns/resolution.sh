#!/usr/bin/env bash
# Health: DNS_NAME resolves (RECORD_TYPE) through DNS_SERVER (or the system resolver), in time,
# and, when EXPECTED_ANSWERS is set, to those answers.
set -euo pipefail

NAME="${DNS_NAME:-}"; TYPE="${RECORD_TYPE:-A}"; SERVER="${DNS_SERVER:-}"; PORT="${DNS_PORT:-53}"
EXPECTED="${EXPECTED_ANSWERS:-}"; MAX_MS="${DNS_MAX_MS:-500}"; TIMEOUT="${DNS_TIMEOUT_S:-3}"
[[ -n "$NAME" ]] || { echo "DNS_NAME is required" >&2; exit 2; }
[[ "$NAME" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "DNS_NAME '${NAME}' is not a DNS name" >&2; exit 2; }
[[ "$TYPE" =~ ^[A-Z]+$ ]] || { echo "RECORD_TYPE must be a record type like A, AAAA, CNAME, MX, TXT" >&2; exit 2; }
[[ "$PORT" =~ ^[0-9]+$ && "$TIMEOUT" =~ ^[0-9]+$ && "$MAX_MS" =~ ^[0-9]+$ ]] || { echo "DNS_PORT, DNS_TIMEOUT_S and DNS_MAX_MS must be numbers" >&2; exit 2; }
command -v dig >/dev/null || { echo "dig not found (install dnsutils / bind9-dnsutils)" >&2; exit 1; }

args=(+tries=2 "+time=${TIMEOUT}" -p "$PORT" "$NAME" "$TYPE")
via="the system resolver"
if [[ -n "$SERVER" ]]; then
  args=("@${SERVER}" "${args[@]}")
  via="${SERVER}:${PORT}"
fi
out="$(timeout $((TIMEOUT * 3 + 5)) dig "${args[@]}" 2>&1)" || true
status="$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -1)"
ms="$(sed -n 's/^;; Query time: \([0-9]*\) msec.*/\1/p' <<<"$out" | head -1)"
answers="$(awk -v t="$TYPE" '/^;; ANSWER SECTION:/{a=1; next} /^$/{a=0} a && $4==t {print $5 (NF > 5 ? " " $6 : "")}' <<<"$out" | sort -u | head -50)"
cnames="$(awk '/^;; ANSWER SECTION:/{a=1; next} /^$/{a=0} a && $4=="CNAME" {print $5}' <<<"$out" | head -5 | tr '\n' ' ')"
flat="$(tr '\n' ' ' <<<"$answers" | sed 's/ $//')"
hint="dig ${SERVER:+@${SERVER} }-p ${PORT} ${NAME} ${TYPE}"

if [[ -z "$status" ]]; then
  err="$(grep -E 'timed out|no servers|connection refused|couldn.t get address' <<<"$out" | head -2 | tr '\n' ' ')"
  sitrep emit issue --severity 2 --title "DNS resolution of ${NAME} fails" \
    --expected "an answer from ${via} within ${TIMEOUT}s" --actual "no response: ${err:-$(tail -2 <<<"$out" | tr '\n' ' ')}" \
    --details "The resolver did not answer at all: it is down, unreachable, or a firewall drops DNS." \
    --next-steps "Check the resolver ${via} is running and reachable (UDP and TCP ${PORT}); compare with another resolver (core/dns/resolver-compare)." \
    --reproduce-hint "$hint"
  exit 0
fi
sitrep emit metric dns_query_ms "${ms:-0}"
sitrep emit insight "${NAME} ${TYPE} via ${via}: ${status}, ${ms:-?} ms, answers: ${flat:-none}" \
  --data "{\"status\":\"${status}\",\"ms\":${ms:-0}}"

case "$status" in
  NOERROR) ;;
  NXDOMAIN)
    sitrep emit issue --severity 2 --title "DNS name ${NAME} does not exist" \
      --expected "${TYPE} records for ${NAME}" --actual "NXDOMAIN from ${via}" \
      --details "Clients cannot resolve ${NAME}: connections to it fail before they start." \
      --next-steps "Check the zone for ${NAME} (a deleted or mistyped record, an expired delegation or domain); compare resolvers with core/dns/resolver-compare in case one serves stale data." \
      --reproduce-hint "$hint"
    exit 0 ;;
  *)
    sitrep emit issue --severity 2 --title "DNS resolution of ${NAME} fails" \
      --expected "NOERROR" --actual "${status} from ${via}" \
      --details "SERVFAIL usually means the authoritative servers are unreachable or DNSSEC validation failed; REFUSED means the resolver will not answer for this client or zone." \
      --next-steps "Query the authoritative servers directly (dig +trace ${NAME}); check DNSSEC (dig +cd ${NAME} succeeds when validation is the problem); check the resolver's ACLs." \
      --reproduce-hint "$hint"
    exit 0 ;;
esac

if [[ -z "$answers" ]]; then
  sitrep emit issue --severity 2 --title "DNS name ${NAME} has no ${TYPE} records" \
    --expected "at least one ${TYPE} record" --actual "NOERROR with an empty answer${cnames:+ (CNAME to ${cnames})} from ${via}" \
    --next-steps "Add the missing ${TYPE} record, or check that the CNAME target has one." \
    --reproduce-hint "$hint"
  exit 0
fi
if [[ -n "$EXPECTED" ]]; then
  want="$(tr ', ' '\n\n' <<<"$EXPECTED" | sed '/^$/d' | sort -u)"
  if [[ "$want" != "$answers" ]]; then
    sitrep emit issue --severity 2 --title "DNS name ${NAME} resolves to unexpected ${TYPE} records" \
      --expected "$(tr '\n' ' ' <<<"$want" | sed 's/ $//')" --actual "${flat} (via ${via})" \
      --details "Missing: $(comm -23 <(echo "$want") <(echo "$answers") | tr '\n' ' ') Unexpected: $(comm -13 <(echo "$want") <(echo "$answers") | tr '\n' ' ')" \
      --next-steps "Check whether the record was changed on purpose (a migration, a failover) and update EXPECTED_ANSWERS, or restore it; caches keep the old answer for the record's TTL." \
      --reproduce-hint "$hint"
  fi
fi
if [[ -n "$ms" ]] && (( ms > MAX_MS )); then
  sitrep emit issue --severity 3 --title "DNS resolution of ${NAME} is slow" \
    --expected "below ${MAX_MS} ms" --actual "${ms} ms via ${via}" \
    --next-steps "Check the resolver's load and upstreams; a cold cache or a slow authoritative server shows here; repeat to see whether caching helps." \
    --reproduce-hint "$hint"
fi
