#!/usr/bin/env bash
# Diagnostic: the TLS certificate URL's server presents: subject, issuer, SANs, days left,
# whether the chain verifies and the name matches. Graded severity on expiry.
set -euo pipefail

URL="${URL:-}"; WARN="${CERT_WARN_DAYS:-14}"; CRIT="${CERT_CRIT_DAYS:-3}"; T="${REQUEST_TIMEOUT_S:-10}"
if [[ "$URL" =~ ^http:// ]]; then
  # a plain-http endpoint serves no certificate: nothing to measure, not a failure (as tls-expiry)
  sitrep emit inconclusive "${URL} is not an https URL: it serves no certificate to check"
  exit 0
fi
[[ "$URL" =~ ^https://([^/:]+)(:([0-9]+))? ]] || { echo "URL must be an https:// URL, got '${URL}'" >&2; exit 2; }
host="${BASH_REMATCH[1]}"; port="${BASH_REMATCH[3]:-443}"
[[ "$WARN" =~ ^[0-9]+$ && "$CRIT" =~ ^[0-9]+$ && "$T" =~ ^[0-9]+$ ]] || { echo "CERT_WARN_DAYS, CERT_CRIT_DAYS, REQUEST_TIMEOUT_S must be numbers" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

sni=(-servername "$host"); [[ "$host" =~ ^[0-9.]+$ ]] && sni=()
out="$(timeout "$T" openssl s_client -connect "${host}:${port}" "${sni[@]}" -showcerts </dev/null 2>&1)" || true
pem="$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END CERTIFICATE-----/q}' <<<"$out")"
if [[ -z "$pem" ]]; then
  sitrep emit issue --severity 2 --title "TLS handshake with ${host} fails" \
    --expected "a certificate from ${host}:${port}" --actual "$(grep -iE 'error|refused|errno|alert' <<<"$out" | head -3 | tr '\n' ' ' | cut -c1-400)" \
    --next-steps "Check that ${host}:${port} serves TLS (not plain HTTP), that the port is open, and the server's TLS configuration (protocols, ciphers, SNI)." \
    --reproduce-hint "openssl s_client -connect ${host}:${port} -servername ${host}"
  exit 0
fi
subject="$(openssl x509 -noout -subject <<<"$pem" | sed 's/^subject=//')"
issuer="$(openssl x509 -noout -issuer <<<"$pem" | sed 's/^issuer=//')"
end="$(openssl x509 -noout -enddate <<<"$pem" | sed 's/^notAfter=//')"
sans="$(openssl x509 -noout -ext subjectAltName <<<"$pem" 2>/dev/null | tail -n +2 | tr -d ' ' || true)"
days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
# the certificate as structured facts (the endpoint, notAfter, subject, issuer), for --data
cert_data="$(python3 -c 'import json, sys
k = ["host", "port", "not_after", "days_left", "subject", "issuer"]
v = sys.argv[1:]
print(json.dumps({a: (int(b) if b.lstrip("-").isdigit() else b) for a, b in zip(k, v)}))' \
  "$host" "$port" "$(date -u -d "$end" +%Y-%m-%dT%H:%M:%SZ)" "$days" "$subject" "$issuer" </dev/null)"
verify="$(sed -n 's/^ *Verify return code: //p' <<<"$out" | head -1)"
name_ok=yes
if ! openssl x509 -noout -checkhost "$host" <<<"$pem" 2>/dev/null | grep -q 'does match' && \
   ! openssl x509 -noout -checkip "$host" <<<"$pem" 2>/dev/null | grep -q 'does match'; then
  name_ok=no
fi
sitrep emit metric tls_cert_days_left "$days"
sitrep emit report "$(printf 'Certificate of %s:%s\nsubject: %s\nissuer:  %s\nSANs:    %s\nexpires: %s (%s days)\nchain:   %s\nname matches %s: %s' \
  "$host" "$port" "$subject" "$issuer" "${sans:-none}" "$end" "$days" "${verify:-?}" "$host" "$name_ok")"
sitrep emit insight "${host}:${port} certificate expires in ${days} days (${end}); chain ${verify:-?}"

renew="Renew the certificate (certbot renew / your ACME client or CA), install it, and reload the server; check why automatic renewal did not run (its timer, logs, DNS or HTTP challenge)."
if (( days < 0 )); then
  sitrep emit issue --severity 1 --title "TLS certificate of ${host} has expired" \
    --expected "valid for at least ${WARN} days" --actual "expired on ${end}" \
    --details "Clients refuse the connection. Issuer: ${issuer}" --next-steps "$renew" \
    --reproduce-hint "echo | openssl s_client -connect ${host}:${port} -servername ${host} 2>/dev/null | openssl x509 -noout -enddate" \
    --data "$cert_data"
elif (( days < WARN )); then
  sev=3; (( days < CRIT )) && sev=2
  sitrep emit issue --severity "$sev" --title "TLS certificate of ${host} expires soon" \
    --expected "valid for at least ${WARN} days" --actual "expires on ${end} (${days} days left)" \
    --details "Subject: ${subject}; issuer: ${issuer}" --next-steps "$renew" \
    --reproduce-hint "echo | openssl s_client -connect ${host}:${port} -servername ${host} 2>/dev/null | openssl x509 -noout -enddate" \
    --data "$cert_data"
fi
if [[ "$name_ok" == no ]]; then
  sitrep emit issue --severity 2 --title "TLS certificate of ${host} does not cover the name" \
    --expected "${host} in the certificate's SANs" --actual "SANs: ${sans:-none}; subject ${subject}" \
    --next-steps "Serve a certificate that includes ${host} (check the server's SNI mapping: the default certificate may be served)."
elif [[ -n "$verify" && "$verify" != 0* && "${INSECURE:-false}" != true ]]; then
  sitrep emit issue --severity 2 --title "TLS certificate chain of ${host} does not verify" \
    --expected "Verify return code: 0 (ok)" --actual "${verify}" \
    --details "Issuer: ${issuer}. Common causes: a missing intermediate certificate, a self-signed or private CA, an expired intermediate." \
    --next-steps "Serve the full chain (leaf + intermediates); for an internal CA, install its root on the clients or set INSECURE=true if that is intended."
fi
