//! Protocol versions, cipher suites and key-exchange groups: what a plan allows (never below
//! TLS 1.2, forward-secret AEAD suites only) and what a handshake negotiated. Small copyable
//! sets, so a plan costs no allocation here.

use core::fmt;

use super::rung::Rung;

/// A TLS protocol version mailtls can negotiate. There is nothing below TLS 1.2.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl TlsVersion {
    /// Both versions, oldest first.
    pub const ALL: [Self; 2] = [Self::Tls12, Self::Tls13];

    /// The OpenSSL / Postfix spelling (`TLSv1.2`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    /// The version as it is written on the wire (`0x0303` for TLS 1.2).
    pub const fn wire_code(self) -> u16 {
        match self {
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    /// The version with this wire code; `None` for anything below TLS 1.2 or unknown.
    pub const fn from_wire_code(code: u16) -> Option<Self> {
        match code {
            0x0303 => Some(Self::Tls12),
            0x0304 => Some(Self::Tls13),
            _ => None,
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Tls12 => 1,
            Self::Tls13 => 2,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`TlsVersion`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VersionSet(u8);

impl VersionSet {
    /// TLS 1.2 and 1.3.
    pub const ALL: Self = Self(3);
    /// No version at all.
    pub const EMPTY: Self = Self(0);

    /// A set with one version.
    pub const fn only(version: TlsVersion) -> Self {
        Self(version.bit())
    }

    /// Whether `version` is in the set.
    pub const fn contains(self, version: TlsVersion) -> bool {
        self.0 & version.bit() != 0
    }

    /// The set with `version` added.
    #[must_use]
    pub const fn with(self, version: TlsVersion) -> Self {
        Self(self.0 | version.bit())
    }

    /// The set without `version`.
    #[must_use]
    pub const fn without(self, version: TlsVersion) -> Self {
        Self(self.0 & !version.bit())
    }

    /// The versions in both sets.
    #[must_use]
    pub const fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The versions, oldest first.
    pub fn iter(self) -> impl Iterator<Item = TlsVersion> {
        TlsVersion::ALL
            .into_iter()
            .filter(move |v| self.contains(*v))
    }
}

impl fmt::Display for VersionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter())
    }
}

/// A forward-secret AEAD cipher suite: the only kind mailtls offers.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// TLS_AES_128_GCM_SHA256 (TLS 1.3).
    Tls13Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (TLS 1.3).
    Tls13Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (TLS 1.3).
    Tls13Chacha20Poly1305Sha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (TLS 1.2).
    EcdheEcdsaChacha20Poly1305Sha256,
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).
    EcdheRsaAes128GcmSha256,
    /// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).
    EcdheRsaAes256GcmSha384,
    /// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (TLS 1.2).
    EcdheRsaChacha20Poly1305Sha256,
}

impl CipherSuite {
    /// Every suite, in preference order (TLS 1.3 first, then ECDSA before RSA, AES-256 first).
    pub const ALL: [Self; 9] = [
        Self::Tls13Aes256GcmSha384,
        Self::Tls13Aes128GcmSha256,
        Self::Tls13Chacha20Poly1305Sha256,
        Self::EcdheEcdsaAes256GcmSha384,
        Self::EcdheEcdsaAes128GcmSha256,
        Self::EcdheEcdsaChacha20Poly1305Sha256,
        Self::EcdheRsaAes256GcmSha384,
        Self::EcdheRsaAes128GcmSha256,
        Self::EcdheRsaChacha20Poly1305Sha256,
    ];

    /// The IANA name.
    pub const fn iana_name(self) -> &'static str {
        match self {
            Self::Tls13Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            Self::Tls13Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            Self::Tls13Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
            Self::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            Self::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            Self::EcdheEcdsaChacha20Poly1305Sha256 => {
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            }
            Self::EcdheRsaAes128GcmSha256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            Self::EcdheRsaAes256GcmSha384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Self::EcdheRsaChacha20Poly1305Sha256 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        }
    }

    /// The OpenSSL name, as Postfix logs it (`ECDHE-RSA-AES128-GCM-SHA256`); TLS 1.3 suites
    /// keep their IANA name there.
    pub const fn openssl_name(self) -> &'static str {
        match self {
            Self::Tls13Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            Self::Tls13Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            Self::Tls13Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
            Self::EcdheEcdsaAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
            Self::EcdheEcdsaAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
            Self::EcdheEcdsaChacha20Poly1305Sha256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
            Self::EcdheRsaAes128GcmSha256 => "ECDHE-RSA-AES128-GCM-SHA256",
            Self::EcdheRsaAes256GcmSha384 => "ECDHE-RSA-AES256-GCM-SHA384",
            Self::EcdheRsaChacha20Poly1305Sha256 => "ECDHE-RSA-CHACHA20-POLY1305",
        }
    }

    /// The suite's IANA code point (`0x1302` for TLS_AES_256_GCM_SHA384).
    pub const fn iana_code(self) -> u16 {
        match self {
            Self::Tls13Aes128GcmSha256 => 0x1301,
            Self::Tls13Aes256GcmSha384 => 0x1302,
            Self::Tls13Chacha20Poly1305Sha256 => 0x1303,
            Self::EcdheEcdsaAes128GcmSha256 => 0xc02b,
            Self::EcdheEcdsaAes256GcmSha384 => 0xc02c,
            Self::EcdheEcdsaChacha20Poly1305Sha256 => 0xcca9,
            Self::EcdheRsaAes128GcmSha256 => 0xc02f,
            Self::EcdheRsaAes256GcmSha384 => 0xc030,
            Self::EcdheRsaChacha20Poly1305Sha256 => 0xcca8,
        }
    }

    /// The suite with this IANA code point; `None` for a suite mailtls never offers.
    pub fn from_iana_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.iana_code() == code)
    }

    /// The protocol version the suite belongs to.
    pub const fn version(self) -> TlsVersion {
        match self {
            Self::Tls13Aes128GcmSha256
            | Self::Tls13Aes256GcmSha384
            | Self::Tls13Chacha20Poly1305Sha256 => TlsVersion::Tls13,
            _ => TlsVersion::Tls12,
        }
    }

    /// Whether the suite uses ChaCha20-Poly1305.
    pub const fn is_chacha20(self) -> bool {
        matches!(
            self,
            Self::Tls13Chacha20Poly1305Sha256
                | Self::EcdheEcdsaChacha20Poly1305Sha256
                | Self::EcdheRsaChacha20Poly1305Sha256
        )
    }

    /// Whether the suite uses a 256-bit AES key.
    pub const fn is_aes256(self) -> bool {
        matches!(
            self,
            Self::Tls13Aes256GcmSha384
                | Self::EcdheEcdsaAes256GcmSha384
                | Self::EcdheRsaAes256GcmSha384
        )
    }

    /// Whether the suite uses a 128-bit AES key.
    pub const fn is_aes128(self) -> bool {
        matches!(
            self,
            Self::Tls13Aes128GcmSha256
                | Self::EcdheEcdsaAes128GcmSha256
                | Self::EcdheRsaAes128GcmSha256
        )
    }

    /// Whether the suite (TLS 1.2) authenticates the server with ECDSA.
    pub const fn is_ecdsa(self) -> bool {
        matches!(
            self,
            Self::EcdheEcdsaAes128GcmSha256
                | Self::EcdheEcdsaAes256GcmSha384
                | Self::EcdheEcdsaChacha20Poly1305Sha256
        )
    }

    /// Whether the suite (TLS 1.2) authenticates the server with RSA.
    pub const fn is_rsa(self) -> bool {
        matches!(
            self,
            Self::EcdheRsaAes128GcmSha256
                | Self::EcdheRsaAes256GcmSha384
                | Self::EcdheRsaChacha20Poly1305Sha256
        )
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iana_name())
    }
}

/// A key-exchange group (TLS "supported group"), as negotiated in a handshake.
///
/// Display gives the IANA registry name, with the X25519 and X448 families capitalised the way
/// OpenSSL and Postfix log them: `X25519`, `secp256r1`, `X25519MLKEM768`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyExchangeGroup {
    /// X25519 (RFC 7748).
    X25519,
    /// X448 (RFC 7748).
    X448,
    /// NIST P-256.
    Secp256r1,
    /// NIST P-384.
    Secp384r1,
    /// NIST P-521.
    Secp521r1,
    /// The hybrid X25519 + ML-KEM-768 group.
    X25519Mlkem768,
    /// The hybrid P-256 + ML-KEM-768 group.
    Secp256r1Mlkem768,
    /// Pure ML-KEM-768.
    Mlkem768,
    /// A group mailtls has no name for, by its IANA code point.
    Other(u16),
}

impl KeyExchangeGroup {
    /// The group with this IANA code point.
    pub const fn from_iana_code(code: u16) -> Self {
        match code {
            0x001d => Self::X25519,
            0x001e => Self::X448,
            0x0017 => Self::Secp256r1,
            0x0018 => Self::Secp384r1,
            0x0019 => Self::Secp521r1,
            0x11ec => Self::X25519Mlkem768,
            0x11eb => Self::Secp256r1Mlkem768,
            0x0201 => Self::Mlkem768,
            other => Self::Other(other),
        }
    }

    /// The group's IANA code point.
    pub const fn iana_code(self) -> u16 {
        match self {
            Self::X25519 => 0x001d,
            Self::X448 => 0x001e,
            Self::Secp256r1 => 0x0017,
            Self::Secp384r1 => 0x0018,
            Self::Secp521r1 => 0x0019,
            Self::X25519Mlkem768 => 0x11ec,
            Self::Secp256r1Mlkem768 => 0x11eb,
            Self::Mlkem768 => 0x0201,
            Self::Other(code) => code,
        }
    }

    /// The name logs use; `None` for [`Other`](Self::Other).
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::X25519 => "X25519",
            Self::X448 => "X448",
            Self::Secp256r1 => "secp256r1",
            Self::Secp384r1 => "secp384r1",
            Self::Secp521r1 => "secp521r1",
            Self::X25519Mlkem768 => "X25519MLKEM768",
            Self::Secp256r1Mlkem768 => "SecP256r1MLKEM768",
            Self::Mlkem768 => "MLKEM768",
            Self::Other(_) => return None,
        })
    }
}

impl fmt::Display for KeyExchangeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "group-0x{:04x}", self.iana_code()),
        }
    }
}

/// A set of [`CipherSuite`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SuiteSet(u16);

impl SuiteSet {
    /// Every suite mailtls offers.
    pub const ALL: Self = Self(0x1ff);
    /// No suite.
    pub const EMPTY: Self = Self(0);
    /// The conservative TLS 1.2 set of [`Rung::Tls12Conservative`]: ECDHE with AES-GCM.
    pub const CONSERVATIVE: Self = Self(
        CipherSuite::EcdheEcdsaAes128GcmSha256.bit()
            | CipherSuite::EcdheEcdsaAes256GcmSha384.bit()
            | CipherSuite::EcdheRsaAes128GcmSha256.bit()
            | CipherSuite::EcdheRsaAes256GcmSha384.bit(),
    );

    /// Whether `suite` is in the set.
    pub const fn contains(self, suite: CipherSuite) -> bool {
        self.0 & suite.bit() != 0
    }

    /// The set without `suite`.
    #[must_use]
    pub const fn without(self, suite: CipherSuite) -> Self {
        Self(self.0 & !suite.bit())
    }

    /// The suites in both sets.
    #[must_use]
    pub const fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The suites of this set usable with `version`.
    #[must_use]
    pub fn for_version(self, version: TlsVersion) -> Self {
        self.retain(|s| s.version() == version)
    }

    /// The set restricted to the suites for which `keep` holds.
    #[must_use]
    pub fn retain(self, keep: impl Fn(CipherSuite) -> bool) -> Self {
        let mut out = Self::EMPTY;
        for suite in self.iter() {
            if keep(suite) {
                out.0 |= suite.bit();
            }
        }
        out
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The suites, in preference order.
    pub fn iter(self) -> impl Iterator<Item = CipherSuite> {
        CipherSuite::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl fmt::Display for SuiteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter())
    }
}

/// The versions and suites one connection may negotiate.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolPolicy {
    /// The versions, never below TLS 1.2.
    pub versions: VersionSet,
    /// The suites: forward-secret AEAD only.
    pub suites: SuiteSet,
}

impl Default for ProtocolPolicy {
    fn default() -> Self {
        Self::MODERN
    }
}

impl ProtocolPolicy {
    /// Everything mailtls offers: TLS 1.3 and 1.2, every forward-secret AEAD suite.
    pub const MODERN: Self = Self {
        versions: VersionSet::ALL,
        suites: SuiteSet::ALL,
    };

    /// A policy from its parts.
    pub const fn new(versions: VersionSet, suites: SuiteSet) -> Self {
        Self { versions, suites }
    }

    /// What this policy allows on one rung of the ladder: the intersection with the rung's
    /// own parameters. `None` when nothing is left (the rung is then not on the ladder), and
    /// for [`Rung::Plaintext`].
    pub fn on_rung(self, rung: Rung) -> Option<Self> {
        let (versions, suites) = match rung {
            Rung::Modern => (VersionSet::ALL, SuiteSet::ALL),
            Rung::Tls12Only => (VersionSet::only(TlsVersion::Tls12), SuiteSet::ALL),
            Rung::Tls12Conservative => {
                (VersionSet::only(TlsVersion::Tls12), SuiteSet::CONSERVATIVE)
            }
            _ => return None,
        };
        let versions = self.versions.intersect(versions);
        let suites = self.suites.intersect(suites);
        // Keep only versions that still have at least one suite.
        let versions = versions
            .iter()
            .filter(|v| !suites.for_version(*v).is_empty())
            .fold(VersionSet::EMPTY, VersionSet::with);
        (!versions.is_empty()).then_some(Self { versions, suites })
    }
}

impl fmt::Display for ProtocolPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with {}", self.versions, self.suites)
    }
}

fn write_joined<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> fmt::Result {
    let mut any = false;
    for (i, item) in items.enumerate() {
        any = true;
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    if !any {
        f.write_str("nothing")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_narrow_the_policy() {
        let modern = ProtocolPolicy::MODERN;
        assert_eq!(modern.on_rung(Rung::Modern), Some(modern));
        let tls12 = modern.on_rung(Rung::Tls12Only).unwrap();
        assert_eq!(tls12.versions, VersionSet::only(TlsVersion::Tls12));
        let conservative = modern.on_rung(Rung::Tls12Conservative).unwrap();
        assert_eq!(conservative.suites.iter().count(), 4);
        assert!(conservative.suites.iter().all(|s| !s.is_chacha20()));
        assert_eq!(modern.on_rung(Rung::Plaintext), None);

        let only13 = ProtocolPolicy::new(VersionSet::only(TlsVersion::Tls13), SuiteSet::ALL);
        assert_eq!(only13.on_rung(Rung::Tls12Only), None);
        let no_aes_gcm12 = ProtocolPolicy::new(
            VersionSet::ALL,
            SuiteSet::ALL.retain(|s| s.version() == TlsVersion::Tls13 || s.is_chacha20()),
        );
        assert_eq!(no_aes_gcm12.on_rung(Rung::Tls12Conservative), None);
        assert!(no_aes_gcm12.on_rung(Rung::Tls12Only).is_some());
    }

    #[test]
    fn negotiated_values_print_their_log_spelling() {
        for (version, text, code) in [
            (TlsVersion::Tls12, "TLSv1.2", 0x0303),
            (TlsVersion::Tls13, "TLSv1.3", 0x0304),
        ] {
            assert_eq!(version.to_string(), text);
            assert_eq!(TlsVersion::from_wire_code(code), Some(version));
            assert_eq!(version.wire_code(), code);
        }
        assert_eq!(TlsVersion::from_wire_code(0x0302), None);

        let suites = [
            (
                CipherSuite::Tls13Aes256GcmSha384,
                0x1302,
                "TLS_AES_256_GCM_SHA384",
                "TLS_AES_256_GCM_SHA384",
            ),
            (
                CipherSuite::EcdheRsaAes256GcmSha384,
                0xc030,
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "ECDHE-RSA-AES256-GCM-SHA384",
            ),
            (
                CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
                0xcca9,
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "ECDHE-ECDSA-CHACHA20-POLY1305",
            ),
        ];
        for (suite, code, iana, openssl) in suites {
            assert_eq!(suite.to_string(), iana);
            assert_eq!(suite.openssl_name(), openssl);
            assert_eq!(CipherSuite::from_iana_code(code), Some(suite));
        }
        for suite in CipherSuite::ALL {
            assert_eq!(CipherSuite::from_iana_code(suite.iana_code()), Some(suite));
        }
        // TLS_RSA_WITH_AES_128_GCM_SHA256: no forward secrecy, never offered.
        assert_eq!(CipherSuite::from_iana_code(0x009c), None);

        let groups = [
            (0x001d, "X25519"),
            (0x0017, "secp256r1"),
            (0x0018, "secp384r1"),
            (0x11ec, "X25519MLKEM768"),
            (0x0100, "group-0x0100"),
        ];
        for (code, text) in groups {
            let group = KeyExchangeGroup::from_iana_code(code);
            assert_eq!(group.to_string(), text);
            assert_eq!(group.iana_code(), code);
        }
    }

    #[test]
    fn suites_are_all_forward_secret_aead() {
        assert_eq!(SuiteSet::ALL.iter().count(), CipherSuite::ALL.len());
        for suite in SuiteSet::ALL.iter() {
            let name = suite.iana_name();
            assert!(name.contains("GCM") || name.contains("CHACHA20"), "{name}");
            if suite.version() == TlsVersion::Tls12 {
                assert!(name.starts_with("TLS_ECDHE_"), "{name}");
            }
        }
    }
}
