"""Health: the TLS certificates nginx serves (every ssl_certificate file of its configuration, as
`nginx -T` shows it) and how long each is still valid. One issue per certificate that expires
within CERT_WARN_DAYS (major) or CERT_CRIT_DAYS, or has expired (critical), naming the file, its
notAfter, subject and the server names and listeners it serves; its data fills
core/nginx/renew-certificate.
"""
import os, sys, time

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from nginxlib import certificates, dump, emit, errors_of, iso, not_after, num, read_all


def main():
    warn, crit = num("CERT_WARN_DAYS", 14), num("CERT_CRIT_DAYS", 3)
    name = os.environ.get("SITREP_RESOURCE") or "nginx"
    ok, files, err = dump()
    if not files:
        conf = os.environ.get("NGINX_CONF") or ""
        files = {p: t.decode("utf-8", "replace") for p, t in read_all([conf]).items()} if conf else {}
        if not files:
            sys.exit(f"cannot read nginx's configuration: {errors_of(err) or 'set NGINX_CONF'}")
    certs, seen, lines, now = certificates(files), set(), [], time.time()
    for c in certs:
        if c["certificate"] in seen:
            continue
        seen.add(c["certificate"])
        try:
            end, subject, issuer = not_after(c["certificate"])
        except (OSError, KeyError, ValueError) as e:
            lines.append(f"  {c['certificate']}: cannot read ({e})")
            emit({"type": "issue", "severity": 2, "title": f"TLS certificate {c['certificate']} of {name} cannot be read",
                  "expected": "a readable PEM certificate", "actual": str(e)[:300],
                  "next_steps": "Check the path in ssl_certificate and the file's permissions; nginx -t fails the same way.",
                  "data": {"certificate": c["certificate"], "server_names": c["server_names"], "listen": c["listen"]}})
            continue
        days = (end - now) / 86400
        lines.append(f"  {c['certificate']}: notAfter {iso(end)} ({days:.1f} days), {subject}, serving {' '.join(c['server_names']) or '-'} on {', '.join(c['listen'])}")
        emit({"type": "metric", "name": "tls_cert_days_left", "value": round(days, 2), "labels": {"certificate": c["certificate"]}})
        if days >= warn:
            continue
        severity = 1 if days <= 0 or days < crit else 2
        expired = days <= 0
        emit({"type": "issue", "severity": severity,
              "title": f"TLS certificate {c['certificate']} of {name} {'has expired' if expired else 'expires soon'}",
              "expected": f"valid for at least {warn:g} more days",
              "actual": f"notAfter {iso(end)}: {'expired ' + f'{-days:.1f} days ago' if expired else f'{days:.1f} days left'}",
              "details": f"Subject {subject}; issuer {issuer}. Served for {' '.join(c['server_names']) or 'the default server'} on {', '.join(c['listen']) or 'its listeners'} (configured in {c['config']}). Clients refuse the connection once it has expired.",
              "next_steps": "Renew it (core/nginx/renew-certificate runs the configured renewal, certbot renew by default, then tests and reloads nginx); check why automatic renewal did not run (its timer or cron, the ACME challenge).",
              "reproduce_hint": f"openssl x509 -noout -enddate -subject -in {c['certificate']}",
              "data": {"certificate": c["certificate"], "key": c["key"], "not_after": iso(end), "days_left": round(days, 2),
                       "subject": subject, "issuer": issuer, "server_names": c["server_names"], "listen": c["listen"]}})
    emit({"type": "report", "text": f"{name}: {len(seen)} certificates served" + (":\n" + "\n".join(lines) if lines else " (no ssl_certificate in the configuration).")})


if __name__ == "__main__":
    main()
