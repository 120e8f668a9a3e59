#!/usr/bin/env bash
# Install what the DNS + HTTPS lab needs (Debian 12, run as root).
#
#   .ci/lab/install.sh
#
# knot (knotd, the authoritative server), knot-dnsutils (kdig), ldnsutils (ldns-keygen,
# ldns-signzone), bind9-dnsutils (delv, dig: the independent DNSSEC oracle), unbound (the
# validating resolver), python3 (the HTTPS server), openssl and curl. Postfix comes from
# .ci/peers/install.sh. Idempotent: when everything is present it touches nothing and takes
# well under a second. Fails (non-zero) when anything is still missing at the end.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(knot knot-dnsutils ldnsutils bind9-dnsutils unbound python3 openssl curl)
TOOLS=(knotd kdig ldns-keygen ldns-signzone delv dig unbound unbound-checkconf /usr/bin/python3
  openssl curl)

log() { printf 'lab/install: %s\n' "$*" >&2; }
die() { printf 'lab/install: FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (installs Debian packages)"

apt_missing() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || echo "$p"
  done
}

mapfile -t missing < <(apt_missing)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update -q >/dev/null
  # The packages' own services are not started (policy-rc.d denies it, no systemd): the lab
  # runs private instances on high ports.
  apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

mapfile -t missing < <(apt_missing)
[ "${#missing[@]}" -eq 0 ] || die "packages still missing: ${missing[*]}"
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null || die "$tool missing after install"
done
log "ok: $(knotd --version 2>&1 | head -1), $(unbound -V 2>&1 | head -1), $(delv -v 2>&1 | head -1)"
