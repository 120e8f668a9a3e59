#!/usr/bin/env bash
# Install the real mail peers used by the interop tests (Debian 12, run as root).
#
#   .ci/peers/install.sh
#
# Installs Postfix (preseeded "No configuration", so no system instance is set up or started),
# swaks with its TLS modules, openssl and libmilter-dev with apt, and Exim (exim4-daemon-heavy,
# GnuTLS) unpacked into a private prefix, because Debian's exim4 packages conflict with Postfix
# as the system MTA. Idempotent: when everything is already there it touches nothing and takes
# well under a second. Fails (non-zero) when anything is still missing at the end.
#
# Environment: MAILTLS_EXIM_PREFIX (default /opt/mailtls-exim).
set -euo pipefail

EXIM_PREFIX=${MAILTLS_EXIM_PREFIX:-/opt/mailtls-exim}
EXIM_BIN=$EXIM_PREFIX/usr/sbin/exim4
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(postfix swaks libnet-ssleay-perl libio-socket-ssl-perl openssl libmilter-dev redis-server)

log() { printf 'peers/install: %s\n' "$*" >&2; }
die() { printf 'peers/install: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  die "must run as root (installs Debian packages and creates the Debian-exim user)"
fi

# Every check prints nothing and succeeds when its piece is in place.
apt_missing() {
  local p missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || missing+=("$p")
  done
  printf '%s\n' "${missing[@]}"
}

exim_ok() {
  [ -x "$EXIM_BIN" ] || return 1
  getent passwd Debian-exim >/dev/null || return 1
  ! ldd "$EXIM_BIN" 2>&1 | grep -q 'not found' || return 1
  "$EXIM_BIN" -C /dev/null -bV 2>/dev/null | grep -q 'GnuTLS' || return 1
}

tools_ok() {
  command -v postfix >/dev/null && command -v swaks >/dev/null && command -v openssl >/dev/null \
    && [ -f /usr/include/libmilter/mfapi.h ] \
    && perl -MNet::SSLeay -MIO::Socket::SSL -e 1 2>/dev/null
}

updated=0
apt_update_once() {
  if [ "$updated" = 0 ]; then
    log "apt-get update"
    apt-get update -q >/dev/null
    updated=1
  fi
}

# 1. Postfix and the tools. The preseed keeps the package from configuring a system instance.
mapfile -t missing < <(apt_missing | sed '/^$/d')
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt_update_once
  apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

# 2. Exim in a private prefix.
if ! exim_ok; then
  log "unpacking exim4-daemon-heavy and exim4-base into $EXIM_PREFIX"
  apt_update_once
  work=$(mktemp -d)
  # apt-get download fetches as the _apt user, who must be able to write here.
  chown _apt "$work" 2>/dev/null || chmod 777 "$work"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -q exim4-daemon-heavy exim4-base >/dev/null)
  # Library dependencies of both packages, installed with apt; the MTA-level dependencies
  # (exim4-base, exim4-config, cron, adduser, debconf) are deliberately left out.
  deps=$(for deb in "$work"/*.deb; do dpkg-deb -f "$deb" Depends; done \
    | tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/|.*//' -e 's/[[:space:]]//g' \
    | grep -E '^lib' | sort -u)
  log "exim library dependencies: $(echo "$deps" | tr '\n' ' ')"
  # shellcheck disable=SC2086 # one package name per word
  apt-get install -y -q --no-install-recommends $deps >/dev/null
  mkdir -p "$EXIM_PREFIX"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$EXIM_PREFIX"; done
  if ! getent passwd Debian-exim >/dev/null; then
    log "creating system user Debian-exim"
    getent group Debian-exim >/dev/null || groupadd --system Debian-exim
    useradd --system --gid Debian-exim --home-dir /var/spool/exim4 --no-create-home \
      --shell /usr/sbin/nologin Debian-exim
  fi
  rm -rf "$work"
  trap - EXIT
fi

# 3. Final check: loud and non-zero if anything is missing.
mapfile -t missing < <(apt_missing | sed '/^$/d')
[ "${#missing[@]}" -eq 0 ] || die "packages still missing: ${missing[*]}"
tools_ok || die "postfix, swaks (with Net::SSLeay and IO::Socket::SSL), openssl or libmilter headers missing"
if ! exim_ok; then
  ldd "$EXIM_BIN" 2>&1 | grep 'not found' >&2 || true
  die "exim at $EXIM_BIN is not usable (binary, Debian-exim user, libraries or GnuTLS missing)"
fi
log "ok: $(postconf -d -h mail_version 2>/dev/null | sed 's/^/postfix /'), $("$EXIM_BIN" -C /dev/null -bV 2>/dev/null | head -1), $(openssl version)"
