#!/usr/bin/env bash
# Make the test PKI for the real-peer interop tests (openssl 3.0).
#
#   tests/pki/make-pki.sh OUTDIR
#
# File names are fixed (see tests/pki/README.md); keys are fresh on every run. OUTDIR must lie
# outside git's view (for example target/pki): nothing generated here is ever committed.
# Writes OUTDIR/fingerprints.env last, so its presence means the PKI is complete.
set -euo pipefail
umask 022 # certificates world-readable (Exim reads them as Debian-exim); keys stay 600

die() { printf 'make-pki: FAILED: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUTDIR"
command -v openssl >/dev/null || die "openssl not found"

OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.pem "$OUT/fingerprints.env"
CA_WORK="$OUT/.ca"
rm -rf "$CA_WORK"
mkdir -p "$CA_WORK"

# Fixed validity windows for the deliberately broken certificates.
EXPIRED_START=20200101000000Z
EXPIRED_END=20210101000000Z
NOTYET_START=20900101000000Z
NOTYET_END=20910101000000Z
DAYS=3650

# One openssl-ca configuration; each CA gets its own database directory.
cat >"$CA_WORK/ca.cnf" <<'EOF'
[ ca ]
default_ca = test_ca

[ test_ca ]
dir = $ENV::CA_DIR
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir/new
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
commonName = supplied
organizationName = optional

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, $ENV::LEAF_KU
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$ENV::LEAF_NAME

[ v3_selfsigned ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:$ENV::LEAF_NAME
EOF
export LEAF_NAME=placeholder LEAF_KU=digitalSignature CA_DIR="$CA_WORK"

new_db() { # CA database for signer $1
  mkdir -p "$CA_WORK/$1/new"
  : >"$CA_WORK/$1/index.txt"
  echo 1000 >"$CA_WORK/$1/serial"
}

key() { # NAME rsa|ec
  case $2 in
    rsa) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/$1.key.pem" ;;
    ec) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/$1.key.pem" ;;
  esac
  chmod 600 "$OUT/$1.key.pem"
}

csr() { # NAME CN
  openssl req -new -key "$OUT/$1.key.pem" -subj "/O=mailtls tests/CN=$2" -config "$CA_WORK/ca.cnf" \
    -out "$CA_WORK/$1.csr"
}

# sign NAME SIGNER EXTENSIONS CN VALIDITY...; VALIDITY is "-days N" or "-startdate A -enddate B".
sign() {
  local name=$1 signer=$2 ext=$3 cn=$4
  shift 4
  local ku=digitalSignature,keyEncipherment # RSA key transport (TLS 1.2 RSA suites)
  case $name in server-ecdsa) ku=digitalSignature ;; esac
  CA_DIR="$CA_WORK/$signer" LEAF_NAME=$cn LEAF_KU=$ku openssl ca -batch -notext -config "$CA_WORK/ca.cnf" \
    -cert "$OUT/$signer.cert.pem" -keyfile "$OUT/$signer.key.pem" -extensions "$ext" \
    -in "$CA_WORK/$name.csr" -out "$OUT/$name.cert.pem" "$@" 2>"$CA_WORK/$name.log" \
    || { cat "$CA_WORK/$name.log" >&2; die "signing $name"; }
}

self_sign() { # NAME CN EXTENSIONS
  key "$1" "${4:-rsa}"
  LEAF_NAME=$2 openssl req -x509 -new -key "$OUT/$1.key.pem" -subj "/O=mailtls tests/CN=$2" \
    -config "$CA_WORK/ca.cnf" -extensions "$3" -days "$DAYS" -sha256 -out "$OUT/$1.cert.pem"
}

leaf() { # NAME CN rsa|ec VALIDITY...: a leaf under the intermediate, with its chain file
  local name=$1 cn=$2 alg=$3
  shift 3
  key "$name" "$alg"
  csr "$name" "$cn"
  sign "$name" intermediate-ca v3_leaf "$cn" "$@"
  cat "$OUT/$name.cert.pem" "$OUT/intermediate-ca.cert.pem" >"$OUT/$name.chain.pem"
}

# The trusted hierarchy: root -> intermediate -> leaves.
self_sign root-ca "mailtls Test Root CA" v3_root
new_db root-ca
new_db intermediate-ca
key intermediate-ca rsa
csr intermediate-ca "mailtls Test Intermediate CA"
sign intermediate-ca root-ca v3_intermediate "mailtls Test Intermediate CA" -days "$DAYS"

# Server certificates.
leaf server-good mx.partner.test rsa -days "$DAYS"
leaf server-expired mx.partner.test rsa -startdate "$EXPIRED_START" -enddate "$EXPIRED_END"
leaf server-notyet mx.partner.test rsa -startdate "$NOTYET_START" -enddate "$NOTYET_END"
leaf server-wrongname wrong.example rsa -days "$DAYS"
leaf server-ecdsa mx.partner.test ec -days "$DAYS"
self_sign server-selfsigned mx.partner.test v3_selfsigned
cp "$OUT/server-selfsigned.cert.pem" "$OUT/server-selfsigned.chain.pem"

# Client certificates of partner relays.
leaf client-relay relay.partner.test rsa -days "$DAYS"
leaf client-evil relay.evil.test rsa -days "$DAYS"
# The right name under an anchor nobody trusts.
self_sign untrusted-ca "mailtls Untrusted Test CA" v3_root
new_db untrusted-ca
key client-untrusted rsa
csr client-untrusted relay.partner.test
sign client-untrusted untrusted-ca v3_leaf relay.partner.test -days "$DAYS"
cat "$OUT/client-untrusted.cert.pem" "$OUT/untrusted-ca.cert.pem" >"$OUT/client-untrusted.chain.pem"

# Trust anchors: the root alone, as a verifier's CAfile. The bundle adds the intermediate, for
# verifiers whose peers send only their leaf (swaks presents no chain).
cp "$OUT/root-ca.cert.pem" "$OUT/trust-anchors.pem"
cat "$OUT/root-ca.cert.pem" "$OUT/intermediate-ca.cert.pem" >"$OUT/ca-bundle.pem"

# Fingerprints: certificate SHA-256 in Postfix's colon-hex; SPKI SHA-256 as base64 (pin-sha256),
# lower-case hex, and Postfix's colon-hex (its pkey_fingerprint).
fp_file="$CA_WORK/fingerprints.env"
{
  echo "# Generated by tests/pki/make-pki.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); KEY=VALUE."
  for cert in root-ca intermediate-ca untrusted-ca server-good server-expired server-notyet \
    server-wrongname server-ecdsa server-selfsigned client-relay client-evil client-untrusted; do
    var=$(echo "$cert" | tr 'a-z-' 'A-Z_')
    pem="$OUT/$cert.cert.pem"
    cert_fp=$(openssl x509 -in "$pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
    spki_der="$CA_WORK/$cert.spki.der"
    openssl x509 -in "$pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$spki_der"
    spki_b64=$(openssl dgst -sha256 -binary "$spki_der" | openssl base64 -A)
    spki_hex=$(openssl dgst -sha256 -r "$spki_der" | cut -d' ' -f1)
    echo "${var}_CERT_SHA256=$cert_fp"
    echo "${var}_SPKI_SHA256_B64=$spki_b64"
    echo "${var}_SPKI_SHA256_HEX=$spki_hex"
    echo "${var}_SPKI_SHA256_COLON=$(echo "$spki_hex" | tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//')"
  done
} >"$fp_file"

# Self-check: every verification outcome the peers rely on.
expect_verify() { # WHAT EXPECTED-SUBSTRING openssl-verify-args...
  local what=$1 want=$2 out
  shift 2
  out=$(openssl verify "$@" 2>&1 || true)
  case $out in
    *"$want"*) ;;
    *) die "self-check $what: expected '$want', got: $out" ;;
  esac
}
A=(-CAfile "$OUT/trust-anchors.pem" -untrusted "$OUT/intermediate-ca.cert.pem")
expect_verify good ": OK" "${A[@]}" -verify_hostname mx.partner.test "$OUT/server-good.cert.pem"
expect_verify ecdsa ": OK" "${A[@]}" -verify_hostname mx.partner.test "$OUT/server-ecdsa.cert.pem"
expect_verify expired "certificate has expired" "${A[@]}" "$OUT/server-expired.cert.pem"
expect_verify notyet "not yet valid" "${A[@]}" "$OUT/server-notyet.cert.pem"
expect_verify wrongname "hostname mismatch" "${A[@]}" -verify_hostname mx.partner.test \
  "$OUT/server-wrongname.cert.pem"
expect_verify selfsigned "self-signed certificate" "${A[@]}" "$OUT/server-selfsigned.cert.pem"
expect_verify relay ": OK" "${A[@]}" -purpose sslclient "$OUT/client-relay.cert.pem"
expect_verify untrusted "unable to get local issuer" "${A[@]}" "$OUT/client-untrusted.cert.pem"

rm -rf "$CA_WORK"/*.csr
mv "$fp_file" "$OUT/fingerprints.env"
echo "make-pki: wrote $OUT" >&2
