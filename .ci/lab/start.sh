#!/usr/bin/env bash
# Start the DNS + HTTPS lab on 127.0.0.1 (run as root, after .ci/lab/install.sh and
# .ci/peers/install.sh).
#
#   .ci/lab/start.sh STATEDIR          (for example target/lab)
#
# Builds and serves, all under STATEDIR (see .ci/lab/README.md for every zone and case):
#   - DNSSEC zones under a signed parent `test.` (ECDSA P-256, algorithm 13), served by knotd
#     on 127.0.0.1:2550 (UDP and TCP);
#   - unbound validating against the `test.` key on 127.0.0.1:2551;
#   - an HTTPS server for MTA-STS policies on 127.0.0.1:2552 (SNI-selected certificates);
#   - an HTTPS server on 127.0.0.1:2553 that takes TLS-RPT report POSTs and keeps each body;
#   - a Postfix SMTP server on 127.0.0.1:2555 whose certificate names every lab MX host and
#     matches every lab TLSA record, and one on 2556 whose certificate matches neither.
# Writes STATEDIR/lab.env (KEY=VALUE) last, once every part answers. Any earlier lab under
# STATEDIR is stopped first. Fails loudly (non-zero, with the failing part's log) when any part
# does not come up within MAILTLS_LAB_WAIT seconds (default 20); everything started is stopped.
#
# Environment: MAILTLS_LAB_PORT_BASE moves every port by the same offset (default 2550: DNS
# 2550 ... wrong MX 2556), for a second lab beside the CI's; each port can also be set alone
# (below). MAILTLS_PKI_DIR (default STATEDIR/pki; made with tests/pki/make-pki.sh when it
# holds no fingerprints.env). The lab's certificates are signed by that PKI's intermediate CA,
# so they chain to its trust-anchors.pem.
# Ports and addresses (defaults: the fixed lab on 127.0.0.1; a network namespace of its own,
# as .ci/policyd-e2e/run.sh makes, can use the real ones): MAILTLS_LAB_DNS_PORT (2550),
# MAILTLS_LAB_RESOLVER_PORT (2551), MAILTLS_LAB_STS_PORT (2552), MAILTLS_LAB_REPORT_PORT
# (2553: the TLS-RPT report server), MAILTLS_LAB_SMTP_ADDR
# (127.0.0.1) and MAILTLS_LAB_SMTP_PORT (2555) for the good MX (every lab MX name's A record
# points at that address), MAILTLS_LAB_SMTP_WRONG_ADDR (127.0.0.1) and
# MAILTLS_LAB_SMTP_WRONG_PORT (2556) for the wrong-certificate MX (the A record of
# mx-wrong.partner.test), MAILTLS_LAB_SMTP_ALT_PORT (none): a second port of the good MX.
set -euo pipefail
umask 022

die() { printf 'lab/start: FAILED: %s\n' "$*" >&2; exit 1; }
log() { printf 'lab/start: %s\n' "$*" >&2; }
[ $# -eq 1 ] || die "usage: $0 STATEDIR"
[ "$(id -u)" = 0 ] || die "must run as root (Postfix's master starts as root)"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$1"
STATE=$(cd "$1" && pwd)
PKI=${MAILTLS_PKI_DIR:-$STATE/pki}
WAIT=${MAILTLS_LAB_WAIT:-20}
PYTHON=/usr/bin/python3

PORT_BASE=${MAILTLS_LAB_PORT_BASE:-2550}
DNS_PORT=${MAILTLS_LAB_DNS_PORT:-$PORT_BASE}
RESOLVER_PORT=${MAILTLS_LAB_RESOLVER_PORT:-$((PORT_BASE + 1))}
STS_PORT=${MAILTLS_LAB_STS_PORT:-$((PORT_BASE + 2))}
REPORT_PORT=${MAILTLS_LAB_REPORT_PORT:-$((PORT_BASE + 3))}
SMTP_ADDR=${MAILTLS_LAB_SMTP_ADDR:-127.0.0.1}
SMTP_PORT=${MAILTLS_LAB_SMTP_PORT:-$((PORT_BASE + 5))}
SMTP_WRONG_ADDR=${MAILTLS_LAB_SMTP_WRONG_ADDR:-127.0.0.1}
SMTP_WRONG_PORT=${MAILTLS_LAB_SMTP_WRONG_PORT:-$((PORT_BASE + 6))}
SMTP_ALT_PORT=${MAILTLS_LAB_SMTP_ALT_PORT:-}

# The DNSSEC cases: zone:how it is signed.
DNSSEC_ZONES=(partner.test:nsec nsec3.test:nsec3 plain.test:unsigned bogus.test:expired
  badsig.test:badsig)
# The MTA-STS cases, each a domain in the unsigned zone sts.test: case:policy.
STS_ZONE=sts.test
STS_CASES=(enforce wrongmx testing none malformed redirect oversized mediatype wrongcert notfound
  slow)
STS_SLOW_SECONDS=${MAILTLS_LAB_STS_SLOW:-30}
# TLS-RPT report destinations (RFC 8460), policy domains under partner.test (signed): where
# `mailtls report` sends, where the destination refuses, and a malformed record.
REPORT_HOST=reports.partner.test
REPORT_REFUSED_RCPT=tlsrpt-refuse@partner.test

for tool in knotd knotc kdig ldns-keygen ldns-signzone unbound unbound-checkconf delv postfix openssl \
  "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool missing: run .ci/lab/install.sh and .ci/peers/install.sh"
done

started=$EPOCHREALTIME
elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; } # PORT [ADDR]
wait_all() { local rc=0 pid; for pid in "$@"; do wait "$pid" || rc=1; done; return $rc; }

# Anything that fails from here on stops what was started.
cleanup_on_failure() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    "$HERE/stop.sh" "$STATE" >/dev/null 2>&1 || true
    printf 'lab/start: FAILED (exit %s); everything under %s was stopped\n' "$rc" "$STATE" >&2
  fi
}
trap cleanup_on_failure EXIT

"$HERE/stop.sh" "$STATE" >/dev/null 2>&1 || true
rm -f "$STATE/lab.env"
rm -rf "$STATE/dns" "$STATE/unbound" "$STATE/https" "$STATE/reports" "$STATE/certs" "$STATE/ca" \
  "$STATE/postfix" "$STATE/pids"
mkdir -p "$STATE/dns/keys" "$STATE/dns/run" "$STATE/dns/db" "$STATE/unbound" "$STATE/https/sites" \
  "$STATE/reports/sites/$REPORT_HOST/posts" "$STATE/certs" "$STATE/ca" "$STATE/postfix" \
  "$STATE/pids"

for port in $DNS_PORT $RESOLVER_PORT $STS_PORT $REPORT_PORT; do
  port_open "$port" && die "127.0.0.1:$port is already in use by something that is not ours"
done
for spec in "$SMTP_PORT@$SMTP_ADDR" "$SMTP_WRONG_PORT@$SMTP_WRONG_ADDR" \
  ${SMTP_ALT_PORT:+"$SMTP_ALT_PORT@$SMTP_ADDR"}; do
  port_open "${spec%@*}" "${spec#*@}" \
    && die "${spec#*@}:${spec%@*} is already in use by something that is not ours"
done

if [ ! -f "$PKI/fingerprints.env" ]; then
  log "making the test PKI in $PKI"
  "$ROOT/tests/pki/make-pki.sh" "$PKI"
fi

# Postfix daemons run as "postfix": they must reach their queue under STATE.
d=$STATE
while [ "$d" != / ]; do
  if [ -d "$d" ] && [ "$(($(stat -c '%#a' "$d") & 1))" = 0 ]; then
    log "chmod o+x $d (the postfix user must reach $STATE)"
    chmod o+x "$d"
  fi
  d=$(dirname "$d")
done

# --- Certificates --------------------------------------------------------------------------

CERTS=$STATE/certs
# leaf NAME SAN...: an ECDSA P-256 leaf under the test intermediate (CN = the first SAN), with
# NAME.chain.pem.
leaf() {
  local name=$1 san
  shift
  san=$(printf 'DNS:%s,' "$@")
  openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERTS/$name.key.pem"
  chmod 600 "$CERTS/$name.key.pem"
  cat >"$CERTS/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${san%,}
EOF
  openssl req -new -key "$CERTS/$name.key.pem" -subj "/O=mailtls tests/CN=$1" \
    -out "$CERTS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$PKI/intermediate-ca.cert.pem" \
    -CAkey "$PKI/intermediate-ca.key.pem" -set_serial "0x$(openssl rand -hex 12)" -days 3650 \
    -sha256 -extfile "$CERTS/$name.ext" -out "$CERTS/$name.cert.pem" 2>"$CERTS/$name.log" \
    || { cat "$CERTS/$name.log" >&2; die "signing the lab certificate $name"; }
  cat "$CERTS/$name.cert.pem" "$PKI/intermediate-ca.cert.pem" >"$CERTS/$name.chain.pem"
  rm -f "$CERTS/$name.csr" "$CERTS/$name.ext" "$CERTS/$name.log"
}
spki_sha256() { # CERT: lower-case hex SHA-256 of its DER SubjectPublicKeyInfo (TLSA 3 1 1)
  openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER \
    | openssl dgst -sha256 -r | cut -d' ' -f1
}

MX_NAMES=()
STS_HOSTS=()
for spec in "${DNSSEC_ZONES[@]}"; do
  MX_NAMES+=("mx.${spec%%:*}")
  [ "${spec%%:*}" = partner.test ] && MX_NAMES+=(implicit.partner.test mxalias.partner.test)
  STS_HOSTS+=("mta-sts.${spec%%:*}")
done
for c in "${STS_CASES[@]}"; do
  MX_NAMES+=("mx.$c.$STS_ZONE")
  [ "$c" = wrongcert ] || STS_HOSTS+=("mta-sts.$c.$STS_ZONE")
done
leaf lab-mx "${MX_NAMES[@]}" &
leaf lab-wrong wrong.lab.example &
leaf lab-sts "${STS_HOSTS[@]}" &
leaf lab-sts-wrongname "mta-sts.elsewhere.example" &
leaf lab-reports "$REPORT_HOST" &
wait_all $(jobs -p) || die "making a lab certificate failed"
SMTP_SPKI=$(spki_sha256 "$CERTS/lab-mx.cert.pem")
SMTP_WRONG_SPKI=$(spki_sha256 "$CERTS/lab-wrong.cert.pem")
# A system-style CA file and hashed directory holding the test root ("public roots" tests).
cp "$PKI/trust-anchors.pem" "$STATE/ca/ca-certificates.crt"
mkdir -p "$STATE/ca/certs"
cp "$PKI/trust-anchors.pem" "$STATE/ca/certs/mailtls-test-root.pem"
openssl rehash "$STATE/ca/certs" 2>/dev/null || die "openssl rehash $STATE/ca/certs"
log "certificates made after $(elapsed)s"

# --- DNS zones -----------------------------------------------------------------------------

DNS=$STATE/dns
STS_ID=$(date -u +%Y%m%d%H%M%S)
TTL=60

soa() { # ZONE
  printf '$ORIGIN %s.\n$TTL %s\n' "$1" "$TTL"
  printf '@ IN SOA ns.test. hostmaster.test. %s 3600 600 86400 %s\n' "$(date +%s)" "$TTL"
  printf '@ IN NS ns.test.\n'
}
# mail_records OWNER: the records of one mail domain, relative to the zone origin (@ = apex).
mail_records() {
  local o=$1 sub=${1/#@/} domain=$2
  sub=${sub:+.$sub}
  printf '%s IN MX 10 mx%s\n' "$o" "$sub"
  printf 'mx%s IN A %s\n' "$sub" "$SMTP_ADDR"
  printf 'mta-sts%s IN A 127.0.0.1\n' "$sub"
  printf '_mta-sts%s IN TXT "v=STSv1; id=%s"\n' "$sub" "$STS_ID"
  printf '_smtp._tls%s IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"\n' "$sub" "$domain"
}

keygen() { # ZONE KSK|ZSK -> prints the key base name (keys live in $DNS/keys)
  local flag=
  [ "$2" = KSK ] && flag=-k
  (cd "$DNS/keys" && ldns-keygen -a ECDSAP256SHA256 $flag "$1.")
}

SIGN_INCEPTION=$(date -u -d '-1 hour' +%Y%m%d%H%M%S)
SIGN_EXPIRATION=$(date -u -d '+30 days' +%Y%m%d%H%M%S)
# sign ZONE MODE: writes $DNS/ZONE.zone.signed (or copies the zone when unsigned), and the DS
# lines of a signed child to $DNS/ZONE.ds.
sign() {
  local zone=$1 mode=$2 ksk zsk args
  if [ "$mode" = unsigned ]; then
    cp "$DNS/$zone.zone" "$DNS/$zone.zone.signed"
    return
  fi
  ksk=$(keygen "$zone" KSK)
  zsk=$(keygen "$zone" ZSK)
  args=(-o "$zone." -i "$SIGN_INCEPTION" -e "$SIGN_EXPIRATION")
  case $mode in
    nsec3) args+=(-n -t 0) ;; # RFC 9276: no extra iterations, no salt
    expired) args=(-o "$zone." -i 20200101000000 -e 20200201000000) ;;
  esac
  ldns-signzone "${args[@]}" -f "$DNS/$zone.zone.signed" "$DNS/$zone.zone" \
    "$DNS/keys/$ksk" "$DNS/keys/$zsk" || die "ldns-signzone $zone"
  if [ "$mode" = badsig ]; then
    # Change the TLSA rdata after signing: only that RRset's signature no longer verifies.
    awk '$4 == "TLSA" { $NF = ($NF ~ /0$/ ? substr($NF, 1, length($NF) - 1) "1" : substr($NF, 1, length($NF) - 1) "0") } { print }' \
      "$DNS/$zone.zone.signed" >"$DNS/$zone.zone.tmp"
    mv "$DNS/$zone.zone.tmp" "$DNS/$zone.zone.signed"
    grep -q 'TLSA' "$DNS/$zone.zone.signed" || die "badsig: no TLSA record to break"
  fi
  cp "$DNS/keys/$ksk.ds" "$DNS/$zone.ds"
  if [ "$zone" = test ]; then
    # The trust anchor: the test. KSK as a zone-file DNSKEY line (hickory wants DNSKEY, not DS)
    # and the same key as a bind trust-anchors clause for delv.
    # The .key file reads "test.<TAB>IN<TAB>DNSKEY<TAB>257 3 13 KEY ;{comment}".
    read -r owner _ _ flags proto alg key _ <"$DNS/keys/$ksk.key"
    [ "$flags" = 257 ] && [ "$alg" = 13 ] || die "unexpected KSK file $ksk.key"
    echo "$owner IN DNSKEY $flags $proto $alg $key" >"$DNS/test.anchor"
    # hickory-resolver 0.26 trusts an anchored zone's DNSKEY RRset only when every key in it
    # is an anchor (seen with 0.26.3; a real root anchor is the KSK alone), so the
    # anchor file lists the ZSK too. delv gets the KSK alone, as a real root anchor.
    read -r owner _ _ flags proto alg key _ <"$DNS/keys/$zsk.key"
    [ "$flags" = 256 ] || die "unexpected ZSK file $zsk.key"
    echo "$owner IN DNSKEY $flags $proto $alg $key" >>"$DNS/test.anchor"
    read -r owner _ _ flags proto alg key _ <"$DNS/keys/$ksk.key"
    printf 'trust-anchors {\n  %s static-key %s %s %s "%s";\n};\n' "$owner" "$flags" "$proto" \
      "$alg" "$key" >"$DNS/test.anchor.bind"
  fi
}

for spec in "${DNSSEC_ZONES[@]}"; do
  zone=${spec%%:*}
  {
    soa "$zone"
    mail_records @ "$zone"
    printf '_25._tcp.mx IN TLSA 3 1 1 %s\n' "$SMTP_SPKI"
    if [ "$zone" = partner.test ]; then
      # Discovery corner cases, secure: a null MX (RFC 7505), a domain without MX (the
      # implicit MX is the domain itself, with its own TLSA), and an MX host that is a CNAME
      # (RFC 7672 section 2.2.2: TLSA at the expanded name, mx.partner.test).
      printf 'nullmx IN MX 0 .\n'
      printf 'implicit IN A %s\n' "$SMTP_ADDR"
      # An MX host that presents the wrong certificate (the wrong MX): its TLSA record is the
      # good MX's, so DANE (and any name check) fails there.
      printf 'wrongcert IN MX 10 mx-wrong\n'
      printf 'mx-wrong IN A %s\n' "$SMTP_WRONG_ADDR"
      printf '_25._tcp.mx-wrong IN TLSA 3 1 1 %s\n' "$SMTP_SPKI"
      printf '_25._tcp.implicit IN TLSA 3 1 1 %s\n' "$SMTP_SPKI"
      printf 'cname IN MX 10 mxalias\n'
      printf 'mxalias IN CNAME mx\n'
      # TLS-RPT destinations: by mail to this zone's MX and by POST to the report server;
      # both refusing; a record without an address.
      printf '%s IN A 127.0.0.1\n' "${REPORT_HOST%.partner.test}"
      # rpt receives mail too (the DANE MX), so `mailtls send --state` can make its day.
      printf 'rpt IN MX 10 mx\n'
      printf '_smtp._tls.rpt IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@partner.test,https://%s:%s/v1/tlsrpt"\n' \
        "$REPORT_HOST" "$REPORT_PORT"
      printf '_smtp._tls.rptrefused IN TXT "v=TLSRPTv1; rua=mailto:%s,https://%s:%s/refuse"\n' \
        "$REPORT_REFUSED_RCPT" "$REPORT_HOST" "$REPORT_PORT"
      printf '_smtp._tls.rptbad IN TXT "v=TLSRPTv1; rua=mailto:"\n'
    fi
  } >"$DNS/$zone.zone"
  sign "$zone" "${spec#*:}" &
done
{
  soa "$STS_ZONE"
  for c in "${STS_CASES[@]}"; do mail_records "$c" "$c.$STS_ZONE"; done
} >"$DNS/$STS_ZONE.zone"
cp "$DNS/$STS_ZONE.zone" "$DNS/$STS_ZONE.zone.signed"
wait_all $(jobs -p) || die "signing a child zone failed"

# The parent: delegations for every child, DS for the signed ones (none for plain.test and
# sts.test: the signed NSEC at each delegation proves there is no DS, so they are insecure).
{
  soa test
  echo "ns IN A 127.0.0.1"
  for spec in "${DNSSEC_ZONES[@]}" "$STS_ZONE:unsigned"; do
    zone=${spec%%:*}
    echo "${zone%.test} IN NS ns.test."
    [ -f "$DNS/$zone.ds" ] && sed "s/^$zone\.[[:space:]]*[0-9]*/$zone. $TTL/" "$DNS/$zone.ds"
  done
} >"$DNS/test.zone"
sign test nsec
log "zones signed after $(elapsed)s"

# --- knotd ---------------------------------------------------------------------------------

{
  cat <<EOF
# Generated by .ci/lab/start.sh: authoritative for test. and its children, presigned zones.
server:
    rundir: "$DNS/run"
    listen: 127.0.0.1@$DNS_PORT
    tcp-workers: 2
    udp-workers: 2
    background-workers: 1
log:
  - target: "$DNS/knotd.log"
    any: info
database:
    storage: "$DNS/db"
template:
  - id: default
    storage: "$DNS"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
EOF
  for zone in test "${DNSSEC_ZONES[@]%%:*}" "$STS_ZONE"; do
    printf '  - domain: %s.\n    file: "%s.zone.signed"\n' "$zone" "$zone"
  done
} >"$DNS/knot.conf"
knotc --config "$DNS/knot.conf" conf-check >"$DNS/confcheck.out" 2>&1 \
  || { cat "$DNS/confcheck.out" >&2; die "knotd rejects its configuration"; }
: >"$DNS/knotd.log"
log "servers starting after $(elapsed)s"
knotd --config "$DNS/knot.conf" </dev/null >>"$DNS/knotd.out" 2>&1 &
echo $! >"$STATE/pids/knotd.pid"

# --- unbound -------------------------------------------------------------------------------

cat >"$STATE/unbound/unbound.conf" <<EOF
# Generated by .ci/lab/start.sh: validates everything under test. against the lab's KSK.
server:
    interface: 127.0.0.1@$RESOLVER_PORT
    port: $RESOLVER_PORT
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$STATE/unbound"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    local-zone: "test." nodefault
    trust-anchor-file: "$DNS/test.anchor"
    module-config: "validator iterator"
    qname-minimisation: no
    cache-max-ttl: $TTL
    cache-max-negative-ttl: $TTL
    val-bogus-ttl: 5
stub-zone:
    name: "test."
    stub-addr: 127.0.0.1@$DNS_PORT
EOF
unbound-checkconf "$STATE/unbound/unbound.conf" >"$STATE/unbound/checkconf.out" 2>&1 \
  || { cat "$STATE/unbound/checkconf.out" >&2; die "unbound rejects its configuration"; }
unbound -d -c "$STATE/unbound/unbound.conf" </dev/null >"$STATE/unbound/unbound.log" 2>&1 &
echo $! >"$STATE/pids/unbound.pid"

# --- MTA-STS policies over HTTPS -----------------------------------------------------------

SITES=$STATE/https/sites
policy() { # MODE MX...
  local mode=$1 mx
  shift
  printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
  for mx in "$@"; do printf 'mx: %s\r\n' "$mx"; done
  printf 'max_age: 86400\r\n'
}
site() { # HOST: makes its directory and prints it
  mkdir -p "$SITES/$1"
  echo "$SITES/$1"
}
for spec in "${DNSSEC_ZONES[@]}"; do
  zone=${spec%%:*}
  policy enforce "mx.$zone" >"$(site "mta-sts.$zone")/body"
done
for c in "${STS_CASES[@]}"; do
  s=$(site "mta-sts.$c.$STS_ZONE")
  mx=mx.$c.$STS_ZONE
  case $c in
    enforce) policy enforce "$mx" "*.$c.$STS_ZONE" >"$s/body" ;;
    wrongmx) policy enforce mx.elsewhere.example >"$s/body" ;;
    testing) policy testing mx.elsewhere.example >"$s/body" ;;
    none) policy none "$mx" >"$s/body" ;;
    malformed) printf 'version: STSv1\r\nmode: enforcing\r\nmax_age: soon\r\n' >"$s/body" ;;
    redirect)
      policy enforce "$mx" >"$s/body"
      echo 301 >"$s/status"
      # A client that wrongly follows it would reach a valid enforce policy on the lab port.
      echo "https://mta-sts.enforce.$STS_ZONE:$STS_PORT/.well-known/mta-sts.txt" >"$s/location"
      ;;
    oversized)
      {
        policy enforce "$mx"
        awk -v d="$c.$STS_ZONE" 'BEGIN { for (i = 0; i < 2000; i++) printf "mx: padding-%04d.%s\r\n", i, d }'
      } >"$s/body"
      ;;
    mediatype)
      policy enforce "$mx" >"$s/body"
      echo "text/html" >"$s/content-type"
      ;;
    wrongcert)
      policy enforce "$mx" >"$s/body"
      cp "$CERTS/lab-sts-wrongname.chain.pem" "$s/cert.pem"
      cp "$CERTS/lab-sts-wrongname.key.pem" "$s/key.pem"
      ;;
    notfound) rm -rf "$s" ;;
    slow)
      policy enforce "$mx" >"$s/body"
      echo "$STS_SLOW_SECONDS" >"$s/delay"
      ;;
    *) die "no policy for MTA-STS case $c" ;;
  esac
done
[ "$(wc -c <"$SITES/mta-sts.oversized.$STS_ZONE/body")" -gt 65536 ] \
  || die "the oversized policy is not over 64 KiB"
: >"$STATE/https/access.log"
"$PYTHON" "$HERE/sts_server.py" "$STS_PORT" "$SITES" "$CERTS/lab-sts.chain.pem" \
  "$CERTS/lab-sts.key.pem" "$STATE/https/access.log" </dev/null >"$STATE/https/server.log" 2>&1 &
echo $! >"$STATE/pids/https.pid"
: >"$STATE/reports/access.log"
"$PYTHON" "$HERE/sts_server.py" "$REPORT_PORT" "$STATE/reports/sites" \
  "$CERTS/lab-reports.chain.pem" "$CERTS/lab-reports.key.pem" "$STATE/reports/access.log" \
  </dev/null >"$STATE/reports/server.log" 2>&1 &
echo $! >"$STATE/pids/reports.pid"

# --- Postfix SMTP servers ------------------------------------------------------------------

# master.cf: Debian's stock services without chroot, without the pipe transports and without
# its port-25 listener; the instance's own listener is appended.
postfix_master_cf() {
  awk '/^#/ || /^[[:space:]]*$/ { next }
       /^[^[:space:]]/ { keep = ($2 == "unix" || $2 == "unix-dgram") && $8 != "pipe" && $8 != "local" && $8 != "lmtp" }
       keep && /^[^[:space:]]/ { $5 = "n"; print; next }
       keep { print }' /usr/share/postfix/master.cf.dist
}
postfix_lab() { # NAME ADDR PORT CERT [PORT2]
  local name=$1 addr=$2 port=$3 cert=$4 port2=${5:-} dir=$STATE/postfix/$1
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/log" "$dir/Maildir"/{cur,new,tmp}
  chown postfix:postfix "$dir/data"
  chown -R 65534:65534 "$dir/Maildir"
  cat >"$dir/etc/main.cf" <<EOF
# Generated by .ci/lab/start.sh: the lab's receiving Postfix ($name).
compatibility_level = 3.6
syslog_name = postfix-lab-$name
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/log/maillog
maillog_file_prefixes = $STATE
inet_interfaces = $addr
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = mx.partner.test
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in the lab
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_base = $dir
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_security_level = may
smtpd_tls_chain_files = $CERTS/$cert.key.pem, $CERTS/$cert.chain.pem
smtpd_tls_CAfile = $PKI/ca-bundle.pem
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = summary,untrusted,peercert
smtpd_tls_received_header = yes
smtpd_recipient_restrictions = check_recipient_access inline:{ { $REPORT_REFUSED_RCPT = 554 5.7.1 the lab refuses this report } }
smtpd_tls_fingerprint_digest = sha256
tls_random_source = dev:/dev/urandom
EOF
  {
    postfix_master_cf
    echo "$addr:$port inet n - n - - smtpd"
    [ -z "$port2" ] || echo "$addr:$port2 inet n - n - - smtpd"
  } >"$dir/etc/master.cf"
  : >"$dir/log/maillog"
  postfix -c "$dir/etc" start >"$dir/log/start.out" 2>&1 \
    || { cat "$dir/log/start.out" "$dir/log/maillog" >&2; die "postfix start failed for lab $name"; }
}
postfix_lab mx "$SMTP_ADDR" "$SMTP_PORT" lab-mx "$SMTP_ALT_PORT" &
pf_mx=$!
postfix_lab wrong "$SMTP_WRONG_ADDR" "$SMTP_WRONG_PORT" lab-wrong &
wait_all $pf_mx $! || die "a lab Postfix did not start"
log "postfix started after $(elapsed)s"

# --- Wait for every part -------------------------------------------------------------------

# wait_for WHAT LOG COMMAND...: retries COMMAND every 0.1 s for WAIT seconds.
wait_for() {
  local what=$1 logfile=$2 i
  shift 2
  for ((i = 0; i < WAIT * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  printf 'lab/start: %s did not come up within %ss; log %s:\n' "$what" "$WAIT" "$logfile" >&2
  tail -n 30 "$logfile" >&2 2>/dev/null || true
  return 1
}
dns_answers() { # SERVER PORT NAME TYPE: an answer with at least one record
  kdig "@$1" -p "$2" +retry=0 +timeout=1 +short "$3" "$4" | grep -q .
}
wait_for "knotd on 127.0.0.1:$DNS_PORT" "$DNS/knotd.log" dns_answers 127.0.0.1 $DNS_PORT test. SOA
for zone in "${DNSSEC_ZONES[@]%%:*}" "$STS_ZONE"; do
  wait_for "knotd serving $zone" "$DNS/knotd.log" dns_answers 127.0.0.1 $DNS_PORT "$zone." SOA
done
wait_for "unbound on 127.0.0.1:$RESOLVER_PORT" "$STATE/unbound/unbound.log" \
  kdig @127.0.0.1 -p $RESOLVER_PORT +retry=0 +timeout=1 test. SOA
wait_for "the HTTPS server on 127.0.0.1:$STS_PORT" "$STATE/https/server.log" port_open $STS_PORT
wait_for "the report server on 127.0.0.1:$REPORT_PORT" "$STATE/reports/server.log" \
  port_open $REPORT_PORT
wait_for "lab postfix on $SMTP_ADDR:$SMTP_PORT" "$STATE/postfix/mx/log/maillog" \
  port_open "$SMTP_PORT" "$SMTP_ADDR"
[ -z "$SMTP_ALT_PORT" ] || wait_for "lab postfix on $SMTP_ADDR:$SMTP_ALT_PORT" \
  "$STATE/postfix/mx/log/maillog" port_open "$SMTP_ALT_PORT" "$SMTP_ADDR"
wait_for "lab postfix on $SMTP_WRONG_ADDR:$SMTP_WRONG_PORT" "$STATE/postfix/wrong/log/maillog" \
  port_open "$SMTP_WRONG_PORT" "$SMTP_WRONG_ADDR"
for name in mx wrong; do
  cp "$STATE/postfix/$name/queue/pid/master.pid" "$STATE/pids/postfix-$name.pid"
done
# The validating resolver must see the valid zone as secure (AD) before anyone relies on it.
wait_for "unbound validating partner.test" "$STATE/unbound/unbound.log" \
  sh -c "kdig @127.0.0.1 -p $RESOLVER_PORT +retry=0 +timeout=1 +dnssec mx.partner.test A | grep -qE '^;; Flags: .* ad( |;)'"
log "every part up after $(elapsed)s"

# --- lab.env -------------------------------------------------------------------------------

upper() { echo "$1" | tr 'a-z-' 'A-Z_'; }
env_tmp=$STATE/lab.env.tmp
{
  echo "# Written by .ci/lab/start.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). KEY=VALUE, no quoting."
  echo "LAB_STATE_DIR=$STATE"
  echo "LAB_PKI_DIR=$PKI"
  echo "LAB_HOST=127.0.0.1"
  echo "LAB_DNS=127.0.0.1:$DNS_PORT"
  echo "LAB_RESOLVER=127.0.0.1:$RESOLVER_PORT"
  echo "LAB_TRUST_ANCHOR=$DNS/test.anchor"
  echo "LAB_TRUST_ANCHOR_BIND=$DNS/test.anchor.bind"
  echo "LAB_STS_PORT=$STS_PORT"
  echo "LAB_STS_ID=$STS_ID"
  echo "LAB_STS_LOG=$STATE/https/access.log"
  echo "LAB_STS_SLOW_SECONDS=$STS_SLOW_SECONDS"
  echo "LAB_SMTP_ADDR=$SMTP_ADDR"
  echo "LAB_SMTP_PORT=$SMTP_PORT"
  echo "LAB_SMTP_MAILDIR=$STATE/postfix/mx/Maildir"
  echo "LAB_SMTP_LOG=$STATE/postfix/mx/log/maillog"
  echo "LAB_SMTP_CERT=$CERTS/lab-mx.chain.pem"
  echo "LAB_SMTP_SPKI_SHA256=$SMTP_SPKI"
  echo "LAB_SMTP_WRONG_ADDR=$SMTP_WRONG_ADDR"
  echo "LAB_SMTP_WRONG_PORT=$SMTP_WRONG_PORT"
  echo "LAB_SMTP_WRONG_MAILDIR=$STATE/postfix/wrong/Maildir"
  echo "LAB_SMTP_WRONG_LOG=$STATE/postfix/wrong/log/maillog"
  echo "LAB_SMTP_WRONG_CERT=$CERTS/lab-wrong.chain.pem"
  echo "LAB_SMTP_WRONG_SPKI_SHA256=$SMTP_WRONG_SPKI"
  echo "LAB_CA_FILE=$STATE/ca/ca-certificates.crt"
  echo "LAB_CA_DIR=$STATE/ca/certs"
  echo "LAB_DOMAIN_VALID=partner.test"
  echo "LAB_DOMAIN_NSEC3=nsec3.test"
  echo "LAB_DOMAIN_INSECURE=plain.test"
  echo "LAB_DOMAIN_BOGUS=bogus.test"
  echo "LAB_DOMAIN_BADSIG=badsig.test"
  echo "LAB_DOMAIN_NULL_MX=nullmx.partner.test"
  echo "LAB_DOMAIN_IMPLICIT_MX=implicit.partner.test"
  echo "LAB_DOMAIN_CNAME_MX=cname.partner.test"
  echo "LAB_REPORT_PORT=$REPORT_PORT"
  echo "LAB_REPORT_POSTS=$STATE/reports/sites/$REPORT_HOST/posts"
  echo "LAB_REPORT_LOG=$STATE/reports/access.log"
  echo "LAB_REPORT_REFUSED_RCPT=$REPORT_REFUSED_RCPT"
  echo "LAB_DOMAIN_RPT=rpt.partner.test"
  echo "LAB_DOMAIN_RPT_REFUSED=rptrefused.partner.test"
  echo "LAB_DOMAIN_RPT_MALFORMED=rptbad.partner.test"
  echo "LAB_DOMAIN_WRONG_CERT=wrongcert.partner.test"
  for c in "${STS_CASES[@]}"; do
    echo "LAB_DOMAIN_STS_$(upper "$c")=$c.$STS_ZONE"
  done
  echo "LAB_DNSSEC_DOMAINS=${DNSSEC_ZONES[*]%%:*}"
  printf 'LAB_STS_DOMAINS='
  printf '%s ' "${STS_CASES[@]/%/.$STS_ZONE}" | sed 's/ $//'
  echo
  echo "LAB_MX_NAMES=${MX_NAMES[*]}"
} >"$env_tmp"
mv "$env_tmp" "$STATE/lab.env"
log "lab up in $(elapsed)s; wrote $STATE/lab.env"
