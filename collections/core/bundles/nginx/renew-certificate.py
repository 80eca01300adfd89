"""Remediation: renew TLS certificates with the configured command (RENEW_COMMAND, by default
`certbot renew`), then `nginx -t` and a graceful reload so nginx serves the new certificate.

With CERT_FILE (the certificate the certificates issue named) its notAfter is compared before and
after: the task fails (exit 1) when the command did not produce a later one. Without it, every
certificate of nginx's configuration is reported before and after. RENEW_COMMAND is run by the
shell, as configured for this workspace; it is never taken from task output.
"""
import os, shlex, subprocess, sys

sys.path.insert(0, os.environ.get("SITREP_BUNDLE_DIR", os.path.dirname(__file__)))
from nginxlib import certificates, dump, emit, errors_of, iso, nginx, not_after, num


def expiry(paths):
    out = {}
    for p in paths:
        try:
            out[p] = not_after(p)[0]
        except (OSError, KeyError, ValueError):
            out[p] = None
    return out


def main():
    command = (os.environ.get("RENEW_COMMAND") or "certbot renew").strip()
    cert = (os.environ.get("CERT_FILE") or "").strip()
    timeout = num("RENEW_TIMEOUT_S", 300)
    if cert and not os.path.isfile(cert):
        print(f"CERT_FILE {cert!r} is not a file", file=sys.stderr)
        sys.exit(2)
    tool = shlex.split(command)[0] if command else ""
    if not tool or (not os.path.isabs(tool) and subprocess.run(["sh", "-c", f"command -v {shlex.quote(tool)}"], capture_output=True).returncode != 0):
        print(f"the renewal command {tool!r} is not installed here; set RENEW_COMMAND to how this host renews certificates", file=sys.stderr)
        sys.exit(1)
    _, files, _ = dump()
    paths = [cert] if cert else sorted({c["certificate"] for c in certificates(files)})
    before = expiry(paths)
    try:
        p = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        print(f"the renewal command did not finish within {timeout:g}s", file=sys.stderr)
        sys.exit(1)
    out = (p.stdout + p.stderr).strip()[-2000:]
    if p.returncode != 0:
        print(f"the renewal command failed (exit {p.returncode}): {out[-600:]}", file=sys.stderr)
        sys.exit(1)
    after = expiry(paths)
    rc, _, err = nginx("-t")
    if rc != 0:
        print(f"nginx -t fails after the renewal, not reloading: {errors_of(err)}", file=sys.stderr)
        sys.exit(1)
    rc, _, err = nginx("-s", "reload")
    show = lambda t: iso(t) if t else "unreadable"
    lines = [f"Ran {command!r} (exit 0); nginx -t passed; {'reloaded nginx' if rc == 0 else 'reload failed: ' + errors_of(err)}.",
             *[f"  {path}: notAfter {show(before[path])} -> {show(after[path])}" for path in paths],
             f"Command output (end):\n{out[-800:]}" if out else "The command printed nothing."]
    emit({"type": "report", "text": "\n".join(lines)})
    emit({"type": "insight", "text": f"certificates renewed with {command!r}",
          "data": {"certificates": {path: {"before": show(before[path]), "after": show(after[path])} for path in paths}}})
    if rc != 0:
        sys.exit(1)
    if cert and not (after.get(cert) and (before.get(cert) is None or after[cert] > before[cert])):
        print(f"{cert} was not renewed: notAfter is still {show(after.get(cert))} (the command renewed nothing due, or writes elsewhere)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
