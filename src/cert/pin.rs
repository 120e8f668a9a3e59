//! Certificate fingerprints and public-key pins.

use core::fmt;

use ring::digest;

/// The digests of one certificate, computed with ring.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprints {
    /// SHA-256 of the whole DER certificate.
    pub sha256: [u8; 32],
    /// SHA-1 of the whole DER certificate (for logs and legacy pins only).
    pub sha1: [u8; 20],
    /// SHA-256 of the DER SubjectPublicKeyInfo: the SPKI pin.
    pub spki_sha256: [u8; 32],
}

/// What a pin covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PinTarget {
    /// The whole certificate (Postfix "cert" fingerprint).
    Certificate,
    /// The SubjectPublicKeyInfo (Postfix "pubkey" fingerprint, HPKP-style pin).
    PublicKey,
}

/// The digest a pin uses.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PinDigest {
    /// SHA-1, 20 bytes: only for certificate fingerprints copied from old configurations.
    Sha1,
    /// SHA-256, 32 bytes: the default.
    Sha256,
}

/// One configured pin: a digest of a certificate or of its public key.
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
    /// The text is neither hex (with or without colons) nor base64.
    #[error("pin {input:?} is neither hex nor base64")]
    Encoding {
        /// The text.
        input: String,
    },
    /// The digest has a length no supported algorithm produces.
    #[error(
        "pin {input:?} decodes to {len} bytes; expected 32 (SHA-256) or 20 (SHA-1 certificate)"
    )]
    Length {
        /// The text.
        input: String,
        /// The decoded length.
        len: usize,
    },
}

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

    /// Whether `pin` matches these digests.
    pub fn matches(&self, pin: &Pin) -> bool {
        let value = pin.value.as_slice();
        match (pin.target, pin.digest) {
            (PinTarget::Certificate, PinDigest::Sha256) => value == self.sha256,
            (PinTarget::Certificate, PinDigest::Sha1) => value == self.sha1,
            (PinTarget::PublicKey, PinDigest::Sha256) => value == self.spki_sha256,
            (PinTarget::PublicKey, PinDigest::Sha1) => false,
        }
    }
}

impl Pin {
    /// Parses a certificate fingerprint: hex (Postfix's `AB:CD:...`, or without colons) or
    /// base64; 32 bytes is SHA-256, 20 bytes is SHA-1.
    pub fn certificate(input: &str) -> Result<Self, PinError> {
        let value = decode(input)?;
        let digest = match value.len() {
            32 => PinDigest::Sha256,
            20 => PinDigest::Sha1,
            len => {
                return Err(PinError::Length {
                    input: input.to_owned(),
                    len,
                })
            }
        };
        Ok(Self {
            target: PinTarget::Certificate,
            digest,
            value,
        })
    }

    /// Parses a public-key (SPKI) SHA-256 pin: hex or base64 (`sha256/` prefix allowed).
    pub fn public_key(input: &str) -> Result<Self, PinError> {
        let text = input.strip_prefix("sha256/").unwrap_or(input);
        let value = decode(text)?;
        if value.len() != 32 {
            return Err(PinError::Length {
                input: input.to_owned(),
                len: value.len(),
            });
        }
        Ok(Self {
            target: PinTarget::PublicKey,
            digest: PinDigest::Sha256,
            value,
        })
    }

    /// A pin of exactly these digest bytes.
    pub fn from_digest(target: PinTarget, digest: PinDigest, value: Vec<u8>) -> Self {
        Self {
            target,
            digest,
            value,
        }
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
}

impl fmt::Display for Pin {
    /// `cert-sha256:AB:CD:...`, `cert-sha1:...` or `pubkey-sha256:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match self.target {
            PinTarget::Certificate => "cert",
            PinTarget::PublicKey => "pubkey",
        };
        let digest = match self.digest {
            PinDigest::Sha1 => "sha1",
            PinDigest::Sha256 => "sha256",
        };
        write!(f, "{target}-{digest}:{}", hex_colon(&self.value))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({self})")
    }
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
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if !hex.is_empty() && hex.len().is_multiple_of(2) && hex.chars().all(|c| c.is_ascii_hexdigit())
    {
        let bytes: Option<Vec<u8>> = hex
            .as_bytes()
            .chunks_exact(2)
            .map(|pair| {
                core::str::from_utf8(pair)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
            })
            .collect();
        if let Some(bytes) = bytes {
            return Ok(bytes);
        }
    }
    base64_decode(text).ok_or_else(|| PinError::Encoding {
        input: input.to_owned(),
    })
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
        }
        assert_eq!(
            Pin::certificate(&colon).unwrap().digest(),
            PinDigest::Sha256
        );
        let sha1_pin = Pin::certificate(&hex_colon(&sha1(b"abc"))).unwrap();
        assert_eq!(sha1_pin.digest(), PinDigest::Sha1);
        assert_eq!(
            Pin::certificate("AB:CD"),
            Err(PinError::Length {
                input: "AB:CD".into(),
                len: 2
            })
        );
        assert!(matches!(
            Pin::public_key("not a pin"),
            Err(PinError::Encoding { .. })
        ));
    }

    #[test]
    fn fingerprints_match_their_pins() {
        let fp = Fingerprints::of(b"certificate", b"spki");
        let cert = Pin::certificate(&fp.sha256_hex()).unwrap();
        let cert1 = Pin::certificate(&fp.sha1_hex()).unwrap();
        let key = Pin::public_key(&fp.spki_sha256_base64()).unwrap();
        assert!(fp.matches(&cert) && fp.matches(&cert1) && fp.matches(&key));
        // The same digest aimed at the other target does not match.
        let crossed = Pin::public_key(&fp.sha256_hex()).unwrap();
        assert!(!fp.matches(&crossed));
        assert!(cert.to_string().starts_with("cert-sha256:"));
    }
}
