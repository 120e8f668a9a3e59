//! Certificate fingerprints and pins: the one pin type of mailtls.
//!
//! A [`Pin`] is a digest of a certificate, of its public key (SubjectPublicKeyInfo), or of
//! either (Postfix `fingerprint` entries are compared with both). Postfix policy tables,
//! partner requirements and the outbound verifiers all use it.

use core::fmt;

use ring::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The digests of one certificate that every verification computes, with ring.
///
/// Other digests (SHA-512, the public key's SHA-1) are computed only when a [`Pin`] asks for
/// them ([`Pin::matches`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprints {
    /// SHA-256 of the whole DER certificate.
    pub sha256: [u8; 32],
    /// SHA-1 of the whole DER certificate (for logs and legacy thumbprints only).
    pub sha1: [u8; 20],
    /// SHA-256 of the DER SubjectPublicKeyInfo: the SPKI pin.
    pub spki_sha256: [u8; 32],
}

/// What a pin covers.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PinTarget {
    /// The whole certificate (an Exchange thumbprint, a Postfix "cert" fingerprint).
    Certificate,
    /// The SubjectPublicKeyInfo (Postfix "pubkey" fingerprint, HPKP-style pin).
    PublicKey,
    /// Either: the digest matches when it is the certificate's or the public key's, as Postfix
    /// compares each `fingerprint` `match=` digest with both.
    CertificateOrPublicKey,
}

/// The digest a pin uses.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PinDigest {
    /// SHA-256, 32 bytes: the default (Postfix `smtp_tls_fingerprint_digest` since 3.6).
    Sha256,
    /// SHA-512, 64 bytes.
    Sha512,
    /// SHA-1, 20 bytes: read only because old configurations still carry it (Exchange
    /// certificate thumbprints, Postfix fingerprints from `smtp_tls_fingerprint_digest=sha1`).
    /// Only [`Pin::certificate`] and [`Pin::new`] accept it; never choose it for a new pin.
    LegacySha1,
}

impl PinDigest {
    /// The digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
            Self::LegacySha1 => 20,
        }
    }

    /// The lower-case name (`sha256`, `sha512`, `sha1`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::LegacySha1 => "sha1",
        }
    }

    /// The digest of `data`.
    fn compute(self, data: &[u8]) -> digest::Digest {
        let algorithm = match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
            Self::LegacySha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        };
        digest::digest(algorithm, data)
    }

    /// The modern digest with this length, if any (32: SHA-256, 64: SHA-512).
    const fn modern_of_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(Self::Sha256),
            64 => Some(Self::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for PinDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configured pin: a digest of a certificate, of its public key, or of either.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pin {
    target: PinTarget,
    digest: PinDigest,
    value: Vec<u8>,
}

/// A pin could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The text is not in an encoding the pin accepts (hex with or without colons; base64
    /// where allowed).
    #[error("pin {input:?} is not {expected}")]
    Encoding {
        /// The text.
        input: String,
        /// What was expected (`hex`, `hex or base64`).
        expected: &'static str,
    },
    /// The digest has a length no accepted algorithm produces.
    #[error("pin {input:?} is {len} bytes long; expected {expected}")]
    Length {
        /// The text (or the raw digest in hex).
        input: String,
        /// The decoded length.
        len: usize,
        /// The accepted lengths and their algorithms.
        expected: &'static str,
    },
}

const MODERN_LENGTHS: &str = "32 (SHA-256) or 64 (SHA-512)";

impl Fingerprints {
    /// Digests `der` (a whole certificate) and `spki` (its DER SubjectPublicKeyInfo).
    pub fn of(der: &[u8], spki: &[u8]) -> Self {
        Self {
            sha256: sha256(der),
            sha1: sha1(der),
            spki_sha256: sha256(spki),
        }
    }

    /// The certificate SHA-256 as Postfix prints it (`AB:CD:...`).
    pub fn sha256_hex(&self) -> String {
        hex_colon(&self.sha256)
    }

    /// The certificate SHA-1 as Postfix prints it.
    pub fn sha1_hex(&self) -> String {
        hex_colon(&self.sha1)
    }

    /// The SPKI SHA-256 as Postfix prints it.
    pub fn spki_sha256_hex(&self) -> String {
        hex_colon(&self.spki_sha256)
    }

    /// The SPKI SHA-256 in base64, as pins are usually written.
    pub fn spki_sha256_base64(&self) -> String {
        base64_encode(&self.spki_sha256)
    }
}

impl Pin {
    /// A pin of exactly these digest bytes; the length must be the digest's.
    pub fn new(target: PinTarget, digest: PinDigest, value: Vec<u8>) -> Result<Self, PinError> {
        if value.len() != digest.output_len() {
            return Err(PinError::Length {
                input: hex_colon(&value),
                len: value.len(),
                expected: match digest {
                    PinDigest::Sha256 => "32 (SHA-256)",
                    PinDigest::Sha512 => "64 (SHA-512)",
                    PinDigest::LegacySha1 => "20 (SHA-1)",
                },
            });
        }
        Ok(Self {
            target,
            digest,
            value,
        })
    }

    /// Parses a Postfix `fingerprint` digest (`match=` of a policy-table entry): hex bytes
    /// separated by `:` (or contiguous hex). The length picks the algorithm: 32 bytes SHA-256,
    /// 64 bytes SHA-512; any other length is an error, never a pin that cannot match. The pin
    /// matches the certificate's or the public key's digest, as Postfix compares both.
    pub fn postfix(input: &str) -> Result<Self, PinError> {
        let value = decode_hex(input).ok_or_else(|| PinError::Encoding {
            input: input.to_owned(),
            expected: "hex",
        })?;
        let digest = PinDigest::modern_of_len(value.len()).ok_or_else(|| PinError::Length {
            input: input.to_owned(),
            len: value.len(),
            expected: MODERN_LENGTHS,
        })?;
        Ok(Self {
            target: PinTarget::CertificateOrPublicKey,
            digest,
            value,
        })
    }

    /// Parses a certificate fingerprint: hex (Postfix's `AB:CD:...`, or without colons) or
    /// base64; 32 bytes is SHA-256, 64 bytes SHA-512, and 20 bytes a legacy SHA-1 thumbprint
    /// (as Exchange shows certificates).
    pub fn certificate(input: &str) -> Result<Self, PinError> {
        let value = decode(input)?;
        let digest = match value.len() {
            20 => PinDigest::LegacySha1,
            len => PinDigest::modern_of_len(len).ok_or_else(|| PinError::Length {
                input: input.to_owned(),
                len,
                expected: "32 (SHA-256), 64 (SHA-512) or 20 (SHA-1 thumbprint)",
            })?,
        };
        Ok(Self {
            target: PinTarget::Certificate,
            digest,
            value,
        })
    }

    /// Parses a public-key (SPKI) pin: hex or base64, 32 bytes SHA-256 or 64 bytes SHA-512
    /// (a `sha256/` or `sha512/` prefix is allowed and must agree with the length).
    pub fn public_key(input: &str) -> Result<Self, PinError> {
        let (text, named) = if let Some(rest) = input.strip_prefix("sha256/") {
            (rest, Some(PinDigest::Sha256))
        } else if let Some(rest) = input.strip_prefix("sha512/") {
            (rest, Some(PinDigest::Sha512))
        } else {
            (input, None)
        };
        let value = decode(text)?;
        let digest = PinDigest::modern_of_len(value.len())
            .filter(|digest| named.is_none_or(|named| named == *digest))
            .ok_or_else(|| PinError::Length {
                input: input.to_owned(),
                len: value.len(),
                expected: match named {
                    Some(PinDigest::Sha512) => "64 (SHA-512)",
                    Some(_) => "32 (SHA-256)",
                    None => MODERN_LENGTHS,
                },
            })?;
        Ok(Self {
            target: PinTarget::PublicKey,
            digest,
            value,
        })
    }

    /// What the pin covers.
    pub fn target(&self) -> PinTarget {
        self.target
    }

    /// The digest algorithm.
    pub fn digest(&self) -> PinDigest {
        self.digest
    }

    /// The digest bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Whether the certificate `der`, whose precomputed digests are `fingerprints`, matches
    /// this pin. SHA-256 and the certificate's SHA-1 come from `fingerprints`; any other
    /// digest is computed here, only for the pin that needs it (a public-key digest then
    /// reads the SubjectPublicKeyInfo out of `der`).
    pub fn matches(&self, der: &[u8], fingerprints: &Fingerprints) -> bool {
        let (certificate, public_key) = match self.target {
            PinTarget::Certificate => (true, false),
            PinTarget::PublicKey => (false, true),
            PinTarget::CertificateOrPublicKey => (true, true),
        };
        let value = self.value.as_slice();
        let certificate_matches = || match self.digest {
            PinDigest::Sha256 => value == fingerprints.sha256,
            PinDigest::LegacySha1 => value == fingerprints.sha1,
            PinDigest::Sha512 => value == self.digest.compute(der).as_ref(),
        };
        let public_key_matches = || match self.digest {
            PinDigest::Sha256 => value == fingerprints.spki_sha256,
            PinDigest::Sha512 | PinDigest::LegacySha1 => {
                spki_of(der).is_some_and(|spki| value == self.digest.compute(spki).as_ref())
            }
        };
        (certificate && certificate_matches()) || (public_key && public_key_matches())
    }
}

impl fmt::Display for Pin {
    /// `cert-sha256:AB:CD:...`, `pubkey-sha512:...`, or for a Postfix fingerprint that covers
    /// either, Postfix's own `sha256:AB:CD:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            PinTarget::Certificate => f.write_str("cert-")?,
            PinTarget::PublicKey => f.write_str("pubkey-")?,
            PinTarget::CertificateOrPublicKey => {}
        }
        write!(f, "{}:{}", self.digest, hex_colon(&self.value))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({self})")
    }
}

/// The DER SubjectPublicKeyInfo inside the certificate `der`.
fn spki_of(der: &[u8]) -> Option<&[u8]> {
    X509Certificate::from_der(der)
        .ok()
        .map(|(_, cert)| cert.tbs_certificate.subject_pki.raw)
}

/// SHA-256 with ring.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref());
    out
}

/// Upper-case hex with colons, as Postfix prints fingerprints.
pub fn hex_colon(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |v: u32, shift: u32| {
        let index = usize::try_from((v >> shift) & 0x3f).unwrap_or(0);
        char::from(ALPHABET.get(index).copied().unwrap_or(b'='))
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sextet(v, 18));
        out.push(sextet(v, 12));
        out.push(if chunk.len() > 1 { sextet(v, 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(v, 0) } else { '=' });
    }
    out
}

fn decode(input: &str) -> Result<Vec<u8>, PinError> {
    let text = input.trim();
    decode_hex(text)
        .or_else(|| base64_decode(text))
        .ok_or_else(|| PinError::Encoding {
            input: input.to_owned(),
            expected: "hex or base64",
        })
}

/// Hex bytes, with or without colons between them.
fn decode_hex(input: &str) -> Option<Vec<u8>> {
    let hex: Vec<u8> = input.trim().bytes().filter(|b| *b != b':').collect();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| {
            core::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
        })
        .collect()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if !text.len().is_multiple_of(4) || text.len() - body.len() > 2 || body.is_empty() {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in body.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        let cases: [(&[u8], &str); 5] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in cases {
            assert_eq!(base64_encode(raw), text);
            if !raw.is_empty() {
                assert_eq!(base64_decode(text).as_deref(), Some(raw));
            }
        }
        assert_eq!(base64_decode("Zm9"), None);
        assert_eq!(base64_decode("Zm9v!A=="), None);
    }

    #[test]
    fn pins_parse_hex_and_base64() {
        let digest = sha256(b"abc");
        let colon = hex_colon(&digest);
        assert!(colon.starts_with("BA:78:16:BF"));
        let plain: String = colon.chars().filter(|c| *c != ':').collect();
        let b64 = base64_encode(&digest);
        for text in [
            colon.clone(),
            plain.to_lowercase(),
            b64.clone(),
            format!("sha256/{b64}"),
        ] {
            let pin = Pin::public_key(&text).unwrap();
            assert_eq!(pin.value(), digest, "{text}");
            assert_eq!(pin.digest(), PinDigest::Sha256, "{text}");
        }
        let long = digest::digest(&digest::SHA512, b"abc");
        let pin = Pin::public_key(&format!("sha512/{}", base64_encode(long.as_ref()))).unwrap();
        assert_eq!(pin.digest(), PinDigest::Sha512);
        // The prefix must agree with the length.
        assert!(matches!(
            Pin::public_key(&format!("sha512/{b64}")),
            Err(PinError::Length { len: 32, .. })
        ));
        assert_eq!(
            Pin::certificate(&colon).unwrap().digest(),
            PinDigest::Sha256
        );
        let sha1_pin = Pin::certificate(&hex_colon(&sha1(b"abc"))).unwrap();
        assert_eq!(sha1_pin.digest(), PinDigest::LegacySha1);
        assert_eq!(
            sha1_pin.to_string(),
            format!("cert-sha1:{}", hex_colon(&sha1(b"abc")))
        );
        assert!(matches!(
            Pin::certificate("AB:CD"),
            Err(PinError::Length { len: 2, .. })
        ));
        assert!(matches!(
            Pin::public_key("not a pin"),
            Err(PinError::Encoding { .. })
        ));
        // A public key pin is never SHA-1.
        assert!(matches!(
            Pin::public_key(&hex_colon(&sha1(b"abc"))),
            Err(PinError::Length { len: 20, .. })
        ));
    }

    #[test]
    fn postfix_fingerprints_pick_the_digest_by_length() {
        let sha256 = "3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA";
        let pin = Pin::postfix(sha256).unwrap();
        assert_eq!(pin.digest(), PinDigest::Sha256);
        assert_eq!(pin.target(), PinTarget::CertificateOrPublicKey);
        assert_eq!(pin.value().first(), Some(&0x3d));
        assert_eq!(pin.to_string(), format!("sha256:{sha256}"));
        let sha512 = hex_colon(&[0xab; 64]);
        let pin = Pin::postfix(&sha512.replace(':', "")).unwrap();
        assert_eq!(pin.digest(), PinDigest::Sha512);
        assert_eq!(pin.to_string(), format!("sha512:{sha512}"));
        for (text, len) in [
            ("3D:95", 2),
            (&*hex_colon(&[1; 20]), 20),
            (&*hex_colon(&[1; 33]), 33),
        ] {
            assert!(
                matches!(Pin::postfix(text), Err(PinError::Length { len: l, .. }) if l == len),
                "{text}"
            );
        }
        for text in ["zz", "", "+F", "3D:9"] {
            assert!(
                matches!(Pin::postfix(text), Err(PinError::Encoding { .. })),
                "{text:?}"
            );
        }
        // Base64 is not Postfix syntax.
        assert!(Pin::postfix(&base64_encode(&[1; 32])).is_err());
        assert!(Pin::new(PinTarget::Certificate, PinDigest::Sha512, vec![0; 32]).is_err());
        assert!(Pin::new(PinTarget::Certificate, PinDigest::Sha512, vec![0; 64]).is_ok());
    }

    #[test]
    fn pins_match_every_digest_of_certificate_and_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["mx.example.net".to_owned()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let fp = Fingerprints::of(&der, &spki);
        assert_eq!(spki_of(&der), Some(spki.as_slice()));
        let digests = [PinDigest::Sha256, PinDigest::Sha512, PinDigest::LegacySha1];
        for digest in digests {
            let of_cert = digest.compute(&der).as_ref().to_vec();
            let of_key = digest.compute(&spki).as_ref().to_vec();
            let pin = |target, value: &[u8]| Pin::new(target, digest, value.to_vec()).unwrap();
            use PinTarget::{Certificate, CertificateOrPublicKey, PublicKey};
            for (target, value, expected) in [
                (Certificate, &of_cert, true),
                (Certificate, &of_key, false),
                (PublicKey, &of_key, true),
                (PublicKey, &of_cert, false),
                (CertificateOrPublicKey, &of_cert, true),
                (CertificateOrPublicKey, &of_key, true),
                (CertificateOrPublicKey, &vec![0; digest.output_len()], false),
            ] {
                assert_eq!(
                    pin(target, value).matches(&der, &fp),
                    expected,
                    "{digest} {target:?}"
                );
            }
        }
        // Not a certificate: a public-key digest other than SHA-256 cannot be read, so it
        // does not match.
        let pin = Pin::new(PinTarget::PublicKey, PinDigest::Sha512, vec![0; 64]).unwrap();
        assert!(!pin.matches(b"not a certificate", &fp));
    }
}
