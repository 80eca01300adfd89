# shellcheck shell=bash
# Install the Debian packages the sandbox needs, without letting their own
# services start (we run our own instances on our own ports).
ensure_packages() {
  local missing=() p
  for p in "${SANDBOX_DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  [[ $EUID -eq 0 ]] || die "missing Debian packages (${missing[*]}); run sandbox/up as root to install them"
  log "installing Debian packages: ${missing[*]}"
  # policy-rc.d 101 = "action forbidden": packages' init scripts do not start daemons.
  local policy=/usr/sbin/policy-rc.d had_policy=0
  if [[ -e $policy ]]; then had_policy=1; cp -p "$policy" "$policy.sitrep-sandbox.bak"; fi
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  local rc=0
  (
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"${TMPDIR:-/tmp}/sitrep-sandbox-apt.log" 2>&1; then
      apt-get update -q >>"${TMPDIR:-/tmp}/sitrep-sandbox-apt.log" 2>&1 || true
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>"${TMPDIR:-/tmp}/sitrep-sandbox-apt.log" 2>&1
    fi
  ) || rc=$?
  if ((had_policy)); then mv -f "$policy.sitrep-sandbox.bak" "$policy"; else rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install failed (see ${TMPDIR:-/tmp}/sitrep-sandbox-apt.log)"
}
