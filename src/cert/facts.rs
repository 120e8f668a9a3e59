//! What a certificate says: names, issuer, validity, key, signature, usages, digests.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{self as oids, Oid};
use x509_parser::prelude::FromDer;
use x509_parser::signature_algorithm::SignatureAlgorithm as X509SigAlg;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::pin::{hex_colon, Fingerprints};
use crate::names::{match_presented, Dialect, NameMatch, NameMismatch, NamePattern};
use crate::time::Timestamp;

/// The facts mailtls reads from one DER certificate.
///
/// Built by [`CertFacts::from_der`]; every field is public to read. Names are kept as the
/// certificate presents them; matching goes through [`CertFacts::match_names`], which applies
/// a [`Dialect`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// Subject DN as an RFC 4514 string (last RDN first): `CN=mx.example.net,O=Example`.
    pub subject: String,
    /// Issuer DN as an RFC 4514 string.
    pub issuer: String,
    /// Every subject commonName value, in certificate order.
    pub common_names: Vec<String>,
    /// Every `dNSName` subject alternative name, as presented.
    pub dns_names: Vec<String>,
    /// Every `iPAddress` subject alternative name.
    pub ip_addresses: Vec<IpAddr>,
    /// Serial number, hex with colons (`01:A3:...`).
    pub serial: String,
    /// Start of the validity period.
    pub not_before: Timestamp,
    /// End of the validity period.
    pub not_after: Timestamp,
    /// The subject public key.
    pub key: PublicKeyAlgorithm,
    /// The algorithm the issuer signed with.
    pub signature: SignatureAlgorithm,
    /// The key usage bits, when the extension is present.
    pub key_usage: Option<Vec<KeyUsage>>,
    /// The extended key usages, when the extension is present (absent means "any").
    pub extended_key_usage: Option<Vec<ExtendedKeyUsage>>,
    /// True when basicConstraints says CA.
    pub is_ca: bool,
    /// Certificate and SPKI digests.
    pub fingerprints: Fingerprints,
}

/// The certificate could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The DER did not parse as an X.509 certificate.
    #[error("malformed certificate: {reason}")]
    Malformed {
        /// What x509-parser reported.
        reason: String,
    },
    /// An extension mailtls reads is malformed.
    #[error("malformed {extension} extension: {reason}")]
    Extension {
        /// Which extension.
        extension: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Bytes follow the certificate.
    #[error("{extra} bytes follow the certificate")]
    TrailingData {
        /// How many.
        extra: usize,
    },
}

/// A subject public key algorithm, with its size.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKeyAlgorithm {
    /// An elliptic-curve key on a named curve.
    Ec {
        /// The curve.
        curve: EcCurve,
    },
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// Some other algorithm, by OID.
    Other {
        /// Dotted OID.
        oid: String,
    },
    /// An RSA key.
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
}

/// A named elliptic curve.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcCurve {
    /// NIST P-256 (prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// Another curve (or explicit parameters), by OID or `explicit`.
    Other {
        /// Dotted OID, or `explicit`.
        oid: String,
    },
}

/// A certificate signature algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureAlgorithm {
    /// Conventional name (`sha256WithRSAEncryption`, `ecdsa-with-SHA384`, `rsassa-pss`, ...),
    /// or the dotted OID.
    pub name: String,
    /// The digest it uses, when known.
    pub hash: Option<HashAlgorithm>,
}

/// The digest inside a signature algorithm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgorithm {
    /// MD5 (broken).
    Md5,
    /// SHA-1 (broken for certificate signatures).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// A key usage bit (RFC 5280 §4.2.1.3).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyUsage {
    /// cRLSign.
    CrlSign,
    /// dataEncipherment.
    DataEncipherment,
    /// decipherOnly.
    DecipherOnly,
    /// digitalSignature.
    DigitalSignature,
    /// encipherOnly.
    EncipherOnly,
    /// keyAgreement.
    KeyAgreement,
    /// keyCertSign.
    KeyCertSign,
    /// keyEncipherment.
    KeyEncipherment,
    /// nonRepudiation (contentCommitment).
    NonRepudiation,
}

/// An extended key usage purpose (RFC 5280 §4.2.1.12).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtendedKeyUsage {
    /// anyExtendedKeyUsage.
    Any,
    /// id-kp-clientAuth: TLS client (inbound partner).
    ClientAuth,
    /// id-kp-codeSigning.
    CodeSigning,
    /// id-kp-emailProtection.
    EmailProtection,
    /// id-kp-OCSPSigning.
    OcspSigning,
    /// Another purpose, by dotted OID.
    Other(String),
    /// id-kp-serverAuth: TLS server (outbound destination).
    ServerAuth,
    /// id-kp-timeStamping.
    TimeStamping,
}

impl CertFacts {
    /// Reads the facts from one DER certificate. Never panics; malformed input gives a
    /// [`CertError`].
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Malformed {
            reason: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData { extra: rest.len() });
        }
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let san = cert
            .subject_alternative_name()
            .map_err(|e| extension_error("subjectAltName", e))?;
        for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => ip_addresses.push(ip_from_san(bytes)?),
                _ => {}
            }
        }
        let key_usage = cert
            .key_usage()
            .map_err(|e| extension_error("keyUsage", e))?
            .map(|ku| key_usage_bits(ku.value));
        let extended_key_usage = cert
            .extended_key_usage()
            .map_err(|e| extension_error("extKeyUsage", e))?
            .map(|eku| eku_list(eku.value));
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| extension_error("basicConstraints", e))?
            .is_some_and(|bc| bc.value.ca);
        let validity = cert.validity();
        Ok(Self {
            subject: rfc4514(cert.subject()),
            issuer: rfc4514(cert.issuer()),
            common_names: cert
                .subject()
                .iter_common_name()
                .map(attribute_text)
                .collect(),
            dns_names,
            ip_addresses,
            serial: hex_colon(cert.raw_serial()),
            not_before: timestamp(validity.not_before.timestamp()),
            not_after: timestamp(validity.not_after.timestamp()),
            key: public_key(&cert),
            signature: signature_algorithm(&cert),
            key_usage,
            extended_key_usage,
            is_ca,
            fingerprints: Fingerprints::of(der, cert.public_key().raw),
        })
    }

    /// Matches the certificate's names against `references` under `dialect` (which names count,
    /// how far a certificate wildcard reaches; see [`crate::names`]).
    pub fn match_names(
        &self,
        dialect: Dialect,
        references: &[NamePattern],
    ) -> Result<NameMatch, NameMismatch> {
        match_presented(dialect, references, &self.dns_names, &self.common_names)
    }

    /// True when `ip` is one of the certificate's `iPAddress` SANs (IP identities never match
    /// DNS names or CNs).
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        self.ip_addresses.contains(&ip)
    }

    /// True when `now` lies inside the validity period (both ends included).
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// True when the certificate may serve `purpose`: no EKU extension, `anyExtendedKeyUsage`,
    /// or the purpose listed.
    pub fn allows_usage(&self, purpose: &ExtendedKeyUsage) -> bool {
        self.extended_key_usage
            .as_ref()
            .is_none_or(|list| list.contains(purpose) || list.contains(&ExtendedKeyUsage::Any))
    }
}

impl PublicKeyAlgorithm {
    /// Key size in bits (RSA modulus, curve size), or 0 when unknown.
    pub fn bits(&self) -> u32 {
        match self {
            Self::Ec { curve } => curve.bits(),
            Self::Ed25519 => 256,
            Self::Ed448 => 448,
            Self::Other { .. } => 0,
            Self::Rsa { bits } => *bits,
        }
    }
}

impl fmt::Display for PublicKeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ec { curve } => write!(f, "EC {curve}"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Ed448 => f.write_str("Ed448"),
            Self::Other { oid } => write!(f, "key algorithm {oid}"),
            Self::Rsa { bits } => write!(f, "RSA {bits} bits"),
        }
    }
}

impl EcCurve {
    /// The curve's size in bits, or 0 when unknown.
    pub fn bits(&self) -> u32 {
        match self {
            Self::P256 => 256,
            Self::P384 => 384,
            Self::P521 => 521,
            Self::Other { .. } => 0,
        }
    }
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::P256 => f.write_str("P-256"),
            Self::P384 => f.write_str("P-384"),
            Self::P521 => f.write_str("P-521"),
            Self::Other { oid } => write!(f, "curve {oid}"),
        }
    }
}

impl SignatureAlgorithm {
    /// True for signatures over MD5 or SHA-1, which mailtls refuses by default.
    pub fn is_weak(&self) -> bool {
        matches!(self.hash, Some(HashAlgorithm::Md5 | HashAlgorithm::Sha1))
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Display for ExtendedKeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("anyExtendedKeyUsage"),
            Self::ClientAuth => f.write_str("clientAuth"),
            Self::CodeSigning => f.write_str("codeSigning"),
            Self::EmailProtection => f.write_str("emailProtection"),
            Self::OcspSigning => f.write_str("OCSPSigning"),
            Self::Other(oid) => f.write_str(oid),
            Self::ServerAuth => f.write_str("serverAuth"),
            Self::TimeStamping => f.write_str("timeStamping"),
        }
    }
}

fn extension_error(extension: &'static str, e: impl fmt::Display) -> CertError {
    CertError::Extension {
        extension,
        reason: e.to_string(),
    }
}

fn ip_from_san(bytes: &[u8]) -> Result<IpAddr, CertError> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Ok(IpAddr::V6(Ipv6Addr::from(v6)));
    }
    Err(CertError::Extension {
        extension: "subjectAltName",
        reason: format!("iPAddress of {} bytes", bytes.len()),
    })
}

fn timestamp(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(u64::try_from(secs).unwrap_or(0))
}

fn key_usage_bits(ku: &x509_parser::extensions::KeyUsage) -> Vec<KeyUsage> {
    [
        (ku.digital_signature(), KeyUsage::DigitalSignature),
        (ku.non_repudiation(), KeyUsage::NonRepudiation),
        (ku.key_encipherment(), KeyUsage::KeyEncipherment),
        (ku.data_encipherment(), KeyUsage::DataEncipherment),
        (ku.key_agreement(), KeyUsage::KeyAgreement),
        (ku.key_cert_sign(), KeyUsage::KeyCertSign),
        (ku.crl_sign(), KeyUsage::CrlSign),
        (ku.encipher_only(), KeyUsage::EncipherOnly),
        (ku.decipher_only(), KeyUsage::DecipherOnly),
    ]
    .into_iter()
    .filter_map(|(set, bit)| set.then_some(bit))
    .collect()
}

fn eku_list(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<ExtendedKeyUsage> {
    let mut list: Vec<ExtendedKeyUsage> = [
        (eku.any, ExtendedKeyUsage::Any),
        (eku.server_auth, ExtendedKeyUsage::ServerAuth),
        (eku.client_auth, ExtendedKeyUsage::ClientAuth),
        (eku.code_signing, ExtendedKeyUsage::CodeSigning),
        (eku.email_protection, ExtendedKeyUsage::EmailProtection),
        (eku.time_stamping, ExtendedKeyUsage::TimeStamping),
        (eku.ocsp_signing, ExtendedKeyUsage::OcspSigning),
    ]
    .into_iter()
    .filter_map(|(set, purpose)| set.then_some(purpose))
    .collect();
    list.extend(
        eku.other
            .iter()
            .map(|oid| ExtendedKeyUsage::Other(oid.to_id_string())),
    );
    list
}

fn public_key(cert: &X509Certificate<'_>) -> PublicKeyAlgorithm {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == oids::OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
            _ => 0,
        };
        PublicKeyAlgorithm::Rsa { bits }
    } else if *alg == oids::OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = match spki.algorithm.parameters.as_ref().map(|p| p.as_oid()) {
            Some(Ok(oid)) if oid == oids::OID_EC_P256 => EcCurve::P256,
            Some(Ok(oid)) if oid == oids::OID_NIST_EC_P384 => EcCurve::P384,
            Some(Ok(oid)) if oid == oids::OID_NIST_EC_P521 => EcCurve::P521,
            Some(Ok(oid)) => EcCurve::Other {
                oid: oid.to_id_string(),
            },
            _ => EcCurve::Other {
                oid: "explicit".to_owned(),
            },
        };
        PublicKeyAlgorithm::Ec { curve }
    } else if *alg == oids::OID_SIG_ED25519 {
        PublicKeyAlgorithm::Ed25519
    } else if *alg == oids::OID_SIG_ED448 {
        PublicKeyAlgorithm::Ed448
    } else {
        PublicKeyAlgorithm::Other {
            oid: alg.to_id_string(),
        }
    }
}

/// Bits in a big-endian unsigned integer, ignoring leading zero bytes.
fn modulus_bits(modulus: &[u8]) -> u32 {
    let Some(start) = modulus.iter().position(|b| *b != 0) else {
        return 0;
    };
    let Some((first, rest)) = modulus.get(start..).and_then(|m| m.split_first()) else {
        return 0;
    };
    let rest_bits = u32::try_from(rest.len()).unwrap_or(u32::MAX / 16) * 8;
    rest_bits + (8 - first.leading_zeros())
}

/// Names for the signature OIDs mailtls reports; (oid, name, hash).
const SIGNATURES: [(&str, &str, Option<HashAlgorithm>); 14] = [
    (
        "1.2.840.113549.1.1.4",
        "md5WithRSAEncryption",
        Some(HashAlgorithm::Md5),
    ),
    (
        "1.2.840.113549.1.1.5",
        "sha1WithRSAEncryption",
        Some(HashAlgorithm::Sha1),
    ),
    (
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption",
        Some(HashAlgorithm::Sha256),
    ),
    (
        "1.2.840.113549.1.1.12",
        "sha384WithRSAEncryption",
        Some(HashAlgorithm::Sha384),
    ),
    (
        "1.2.840.113549.1.1.13",
        "sha512WithRSAEncryption",
        Some(HashAlgorithm::Sha512),
    ),
    (
        "1.2.840.113549.1.1.14",
        "sha224WithRSAEncryption",
        Some(HashAlgorithm::Sha224),
    ),
    (
        "1.2.840.10045.4.1",
        "ecdsa-with-SHA1",
        Some(HashAlgorithm::Sha1),
    ),
    (
        "1.2.840.10045.4.3.1",
        "ecdsa-with-SHA224",
        Some(HashAlgorithm::Sha224),
    ),
    (
        "1.2.840.10045.4.3.2",
        "ecdsa-with-SHA256",
        Some(HashAlgorithm::Sha256),
    ),
    (
        "1.2.840.10045.4.3.3",
        "ecdsa-with-SHA384",
        Some(HashAlgorithm::Sha384),
    ),
    (
        "1.2.840.10045.4.3.4",
        "ecdsa-with-SHA512",
        Some(HashAlgorithm::Sha512),
    ),
    (
        "1.2.840.10040.4.3",
        "dsa-with-sha1",
        Some(HashAlgorithm::Sha1),
    ),
    ("1.3.101.112", "ed25519", None),
    ("1.3.101.113", "ed448", None),
];

fn hash_from_oid(oid: &Oid<'_>) -> Option<HashAlgorithm> {
    match oid.to_id_string().as_str() {
        "1.3.14.3.2.26" => Some(HashAlgorithm::Sha1),
        "2.16.840.1.101.3.4.2.1" => Some(HashAlgorithm::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(HashAlgorithm::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(HashAlgorithm::Sha512),
        "2.16.840.1.101.3.4.2.4" => Some(HashAlgorithm::Sha224),
        "1.2.840.113549.2.5" => Some(HashAlgorithm::Md5),
        _ => None,
    }
}

fn signature_algorithm(cert: &X509Certificate<'_>) -> SignatureAlgorithm {
    let ident = &cert.signature_algorithm;
    let oid = ident.algorithm.to_id_string();
    if ident.algorithm == oids::OID_PKCS1_RSASSAPSS {
        let hash = match X509SigAlg::try_from(ident) {
            Ok(X509SigAlg::RSASSA_PSS(params)) => hash_from_oid(params.hash_algorithm_oid()),
            _ => None,
        };
        return SignatureAlgorithm {
            name: "rsassa-pss".to_owned(),
            hash,
        };
    }
    match SIGNATURES.iter().find(|(known, _, _)| *known == oid) {
        Some((_, name, hash)) => SignatureAlgorithm {
            name: (*name).to_owned(),
            hash: *hash,
        },
        None => SignatureAlgorithm {
            name: oid,
            hash: None,
        },
    }
}

/// Short names RFC 4514 §3 lists, plus the common extras OpenSSL prints.
const ATTRIBUTE_NAMES: [(&str, &str); 12] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("2.5.4.5", "serialNumber"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("2.5.4.97", "organizationIdentifier"),
];

/// The RFC 4514 string form of a DN: RDNs last to first, `+` inside an RDN, values escaped.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = ATTRIBUTE_NAMES
                        .iter()
                        .find(|(known, _)| *known == oid)
                        .map_or(oid.clone(), |(_, short)| (*short).to_owned());
                    format!("{key}={}", attribute_value(atv))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// An attribute's text for CN lists: the string, or the RFC 4514 hex form.
fn attribute_text(atv: &AttributeTypeAndValue<'_>) -> String {
    atv.as_str().map_or_else(
        |_| format!("#{}", hex_plain(atv.as_slice())),
        ToOwned::to_owned,
    )
}

fn attribute_value(atv: &AttributeTypeAndValue<'_>) -> String {
    match atv.as_str() {
        Ok(text) => escape_rfc4514(text),
        Err(_) => bmp_string(atv.as_slice())
            .map(|s| escape_rfc4514(&s))
            .unwrap_or_else(|| format!("#{}", hex_plain(atv.as_slice()))),
    }
}

/// Decodes a BMPString (UTF-16BE), which older CAs use.
fn bmp_string(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            _ => 0,
        })
        .collect();
    String::from_utf16(&units).ok()
}

fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, ch) in value.chars().enumerate() {
        let special = matches!(ch, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (ch == '#' || ch == ' '))
            || (i == last && ch == ' ');
        if ch == '\0' {
            out.push_str("\\00");
        } else {
            if special {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out
}

fn hex_plain(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_typed_error() {
        for input in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x01", &[0xff; 64]] {
            assert!(matches!(
                CertFacts::from_der(input),
                Err(CertError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn modulus_bit_counts() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x00, 0x00, 0x01]), 1);
        assert_eq!(modulus_bits(&[0xff; 256]), 2048);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn rfc4514_escaping() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "a\\,b"),
            ("#x", "\\#x"),
            (" lead", "\\ lead"),
            ("trail ", "trail\\ "),
            ("a+b;c<d>\"e\\", "a\\+b\\;c\\<d\\>\\\"e\\\\"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_rfc4514(input), want);
        }
        assert_eq!(bmp_string(&[0, b'h', 0, b'i']).as_deref(), Some("hi"));
        assert_eq!(bmp_string(&[0]), None);
    }
}
