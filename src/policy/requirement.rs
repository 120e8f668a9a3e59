//! The one requirement model for outbound TLS.
//!
//! Every source of policy maps onto [`Requirement`]: the Postfix security levels
//! ([`Level::requirement`]), the Exchange-style connector settings
//! (`tls_settings` of the outbound connectors), and later the DANE, MTA-STS and REQUIRETLS
//! overlays. A requirement has two independent axes:
//!
//! - [`Encryption`]: may the delivery happen without TLS at all?
//! - [`Authentication`]: what must the peer's certificate prove?
//!
//! | Source | Encryption | Authentication |
//! |---|---|---|
//! | Postfix `none` | `Never` | `None` |
//! | Postfix `may`, connector without `tls_settings` | `Opportunistic` | `None` |
//! | Postfix `encrypt`, connector `encryption_only` | `Required` | `None` |
//! | connector `certificate_validation` | `Required` | `Chain` |
//! | Postfix `verify`, `secure`; connector `domain_validation` | `Required` | `ChainAndName` |
//! | Postfix `fingerprint` | `Required` | `Pins` |
//! | Postfix `dane` | `Opportunistic` | `Dane` (unresolved, see below) |
//! | Postfix `dane-only` | `Required` | `Dane` (mandatory) |
//! | usable TLSA records (precedence) | `Required` | `Tlsa` (resolved DANE) |
//!
//! An [`Authentication::Dane`] requirement is *unresolved* until the DANE module has looked at
//! the destination's TLSA records: it then replaces it with the effective requirement (no usable
//! TLSA under `dane`: `may`; all TLSA unusable: `encrypt`; usable TLSA:
//! [`Authentication::Tlsa`], which carries the records the verifier matches). Until then the ladder treats it as authenticated, so it never falls back to plaintext
//! (see [`Requirement::allows_plaintext`]).

use core::fmt;
use std::path::PathBuf;

use super::dane::TlsaSet;
use super::protocol::TlsVersion;
use crate::cert::Pin;
use crate::names::NamePattern;

/// A Postfix TLS security level (`smtp_tls_security_level`, or the level of a policy-table entry).
///
/// Ordered as Postfix lists them, weakest first.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// `none`: never STARTTLS.
    None,
    /// `may`: opportunistic TLS, no verification, plaintext fallback behind the gates.
    May,
    /// `encrypt`: mandatory TLS, no certificate checks.
    Encrypt,
    /// `dane`: opportunistic DANE (RFC 7672).
    Dane,
    /// `dane-only`: mandatory DANE.
    DaneOnly,
    /// `fingerprint`: certificate or public-key digests, no CA, no expiry.
    Fingerprint,
    /// `verify`: PKIX chain and the MX host name (DNS-trusting).
    Verify,
    /// `secure`: PKIX chain and names derived from the next hop (DNS-forgery resistant).
    Secure,
}

impl Level {
    /// Every level, in Postfix order.
    pub const ALL: [Self; 8] = [
        Self::None,
        Self::May,
        Self::Encrypt,
        Self::Dane,
        Self::DaneOnly,
        Self::Fingerprint,
        Self::Verify,
        Self::Secure,
    ];

    /// The Postfix spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::May => "may",
            Self::Encrypt => "encrypt",
            Self::Dane => "dane",
            Self::DaneOnly => "dane-only",
            Self::Fingerprint => "fingerprint",
            Self::Verify => "verify",
            Self::Secure => "secure",
        }
    }

    /// Parses the Postfix spelling (ASCII case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
    }

    /// The encryption axis of this level.
    pub const fn encryption(self) -> Encryption {
        match self {
            Self::None => Encryption::Never,
            Self::May | Self::Dane => Encryption::Opportunistic,
            Self::Encrypt | Self::DaneOnly | Self::Fingerprint | Self::Verify | Self::Secure => {
                Encryption::Required
            }
        }
    }

    /// Whether the level checks the peer's certificate at all.
    pub const fn authenticates(self) -> bool {
        matches!(
            self,
            Self::Dane | Self::DaneOnly | Self::Fingerprint | Self::Verify | Self::Secure
        )
    }

    /// The requirement of this level once its names, pins and trust anchors are known.
    ///
    /// `reference_ids` is used by `verify`, `secure` and the DANE levels (DANE-TA name check),
    /// `pins` by `fingerprint`, `trust` by `verify` and `secure`; the others ignore them.
    pub fn requirement(
        self,
        reference_ids: Vec<NamePattern>,
        pins: Vec<Pin>,
        trust: AnchorSource,
    ) -> Requirement {
        let authentication = match self {
            Self::None | Self::May | Self::Encrypt => Authentication::None,
            Self::Fingerprint => Authentication::Pins(pins),
            Self::Verify | Self::Secure => Authentication::ChainAndName {
                trust,
                reference_ids,
            },
            Self::Dane | Self::DaneOnly => Authentication::Dane(DaneRequirement {
                mandatory: self == Self::DaneOnly,
                reference_ids,
            }),
        };
        Requirement {
            encryption: self.encryption(),
            authentication,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a delivery needs from one peer: whether TLS is needed and what the certificate proves.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Whether TLS is attempted, and whether it is mandatory.
    pub encryption: Encryption,
    /// What the peer's certificate must prove once TLS is up.
    pub authentication: Authentication,
}

impl Requirement {
    /// A requirement from its two axes.
    pub const fn new(encryption: Encryption, authentication: Authentication) -> Self {
        Self {
            encryption,
            authentication,
        }
    }

    /// Postfix `may`: the opportunistic default of the product.
    pub const fn opportunistic() -> Self {
        Self::new(Encryption::Opportunistic, Authentication::None)
    }

    /// Whether the delivery may complete without TLS. True only at an opportunistic level
    /// whose authentication is `None`; whether a particular fallback is allowed is then decided
    /// by the ladder's gates ([`next_rung`](super::ladder::next_rung)).
    pub fn allows_plaintext(&self) -> bool {
        match self.encryption {
            Encryption::Never => true,
            Encryption::Opportunistic => !self.authentication.verifies(),
            Encryption::Required => false,
        }
    }

    /// Whether TLS is mandatory: the opposite of [`allows_plaintext`](Self::allows_plaintext)
    /// (an unresolved DANE requirement counts as mandatory).
    pub fn requires_tls(&self) -> bool {
        !self.allows_plaintext()
    }

    /// The closest Postfix level, for logs (`tls=verify`) and the explanation.
    pub fn level(&self) -> Level {
        match (&self.encryption, &self.authentication) {
            (Encryption::Never, _) => Level::None,
            (_, Authentication::Dane(d)) if d.mandatory => Level::DaneOnly,
            (_, Authentication::Tlsa(t)) if t.mandatory => Level::DaneOnly,
            (_, Authentication::Dane(_) | Authentication::Tlsa(_)) => Level::Dane,
            (_, Authentication::Pins(_)) => Level::Fingerprint,
            (_, Authentication::ChainAndName { .. }) | (_, Authentication::Chain(_)) => {
                Level::Verify
            }
            (Encryption::Opportunistic, Authentication::None) => Level::May,
            (Encryption::Required, Authentication::None) => Level::Encrypt,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.encryption, self.authentication)
    }
}

/// Whether TLS is attempted, and whether it is mandatory.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// Never STARTTLS (Postfix `none`).
    Never,
    /// Try TLS; plaintext is allowed when the peer offers none, or behind the ladder's gates.
    Opportunistic,
    /// TLS or no delivery to this host.
    Required,
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Never => "no TLS",
            Self::Opportunistic => "opportunistic TLS",
            Self::Required => "TLS required",
        })
    }
}

/// What the peer's certificate must prove.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authentication {
    /// Nothing: any certificate is accepted (Postfix `may`/`encrypt`, Exchange
    /// `EncryptionOnly`).
    None,
    /// A valid chain to a trust anchor, without a name check (Exchange
    /// `CertificateValidation`).
    Chain(AnchorSource),
    /// A valid chain and a certificate name matching one of the reference identifiers (Postfix
    /// `verify`/`secure`, Exchange `DomainValidation`).
    ChainAndName {
        /// Where the chain must end.
        trust: AnchorSource,
        /// The reference identifiers, each read in its own dialect (Postfix `match=` names in
        /// [`Dialect::PostfixMatch`](crate::names::Dialect::PostfixMatch), an Exchange
        /// `tls_domain` in [`Dialect::ExchangeConnector`](crate::names::Dialect::ExchangeConnector)).
        /// Match them with [`match_presented`](crate::names::match_presented) under the
        /// dialect of the first one. Never empty in a plan.
        reference_ids: Vec<NamePattern>,
    },
    /// A certificate or public-key digest among these pins; no CA, no expiry (Postfix
    /// `fingerprint`: [`Pin::postfix`] pins, which match either digest).
    Pins(Vec<Pin>),
    /// DANE (RFC 7672): unresolved until the DANE module has seen the TLSA records. A
    /// verifier compiled from it matches nothing (fails closed): the precedence overlay
    /// replaces it before any delivery.
    Dane(DaneRequirement),
    /// DANE resolved: the chain must match one of these usable TLSA records (RFC 7672 §3).
    Tlsa(DaneAuthentication),
}

impl Authentication {
    /// Whether a certificate check is part of the requirement (so a certificate failure never
    /// moves the ladder and never ends in plaintext).
    pub const fn verifies(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// The reference identifiers the certificate name is matched against, if any.
    pub fn reference_ids(&self) -> &[NamePattern] {
        match self {
            Self::ChainAndName { reference_ids, .. } => reference_ids,
            Self::Dane(dane) => &dane.reference_ids,
            Self::None | Self::Chain(_) | Self::Pins(_) | Self::Tlsa(_) => &[],
        }
    }

    /// The trust anchors a chain must end in, if the requirement validates a chain.
    pub fn trust_anchors(&self) -> Option<&AnchorSource> {
        match self {
            Self::Chain(trust) | Self::ChainAndName { trust, .. } => Some(trust),
            Self::None | Self::Pins(_) | Self::Dane(_) | Self::Tlsa(_) => None,
        }
    }
}

impl fmt::Display for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("no certificate check"),
            Self::Chain(trust) => write!(f, "chain to {trust}, no name check"),
            Self::ChainAndName {
                trust,
                reference_ids,
            } => {
                write!(f, "chain to {trust} and a name matching ")?;
                write_list(f, reference_ids)
            }
            Self::Pins(pins) => {
                f.write_str("certificate or public key digest in ")?;
                write_list(f, pins)
            }
            Self::Dane(dane) if dane.mandatory => f.write_str("DANE, mandatory"),
            Self::Dane(_) => f.write_str("DANE, opportunistic"),
            Self::Tlsa(tlsa) => {
                write!(f, "DANE: a chain matching ")?;
                write_list(f, tlsa.tlsa.usable())?;
                if !tlsa.reference_ids.is_empty() {
                    f.write_str(" (DANE-TA names ")?;
                    write_list(f, &tlsa.reference_ids)?;
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

/// The DANE part of a requirement. The DANE module resolves it against the TLSA records.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneRequirement {
    /// `dane-only`: no usable TLSA means no delivery to this host.
    pub mandatory: bool,
    /// The DANE-TA name check's reference identifiers (Postfix: `nexthop, hostname`), in
    /// [`Dialect::DaneTa`](crate::names::Dialect::DaneTa).
    pub reference_ids: Vec<NamePattern>,
}

impl DaneRequirement {
    /// A DANE requirement.
    pub const fn new(mandatory: bool, reference_ids: Vec<NamePattern>) -> Self {
        Self {
            mandatory,
            reference_ids,
        }
    }
}

/// DANE once the TLSA records are known: what the certificate verifier matches the chain
/// against ([`dane::TlsaCheck`](super::dane::TlsaCheck) compiles it).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneAuthentication {
    /// `dane-only` was configured (for logs: the effective requirement is the same).
    pub mandatory: bool,
    /// The usable TLSA records of the host (DNSSEC-validated by the caller).
    pub tlsa: TlsaSet,
    /// DANE-TA reference identifiers, TLSA base domain first (RFC 7672 §3.2.3).
    pub reference_ids: Vec<String>,
}

impl DaneAuthentication {
    /// DANE authentication against `tlsa`, with the DANE-TA names `reference_ids`.
    pub fn new(mandatory: bool, tlsa: TlsaSet, reference_ids: Vec<String>) -> Self {
        Self {
            mandatory,
            tlsa,
            reference_ids,
        }
    }

    /// The certificate-verifier hook that matches a chain against these records.
    pub fn check(&self) -> super::dane::TlsaCheck {
        super::dane::TlsaCheck::new(self.tlsa.clone(), self.reference_ids.clone())
    }
}

/// Where a certificate chain must end.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnchorSource {
    /// The public (web PKI) roots the caller configured for the whole process.
    Public,
    /// Trust-anchor files (Postfix `tafile=`): the caller loads them; the core reads no files.
    /// A trust anchor may be an intermediate, and its expiry is not checked (Postfix
    /// semantics).
    Files(Vec<PathBuf>),
}

impl fmt::Display for AnchorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Public => f.write_str("the public roots"),
            Self::Files(paths) => {
                f.write_str("the trust anchors in ")?;
                for (i, path) in paths.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

/// The lowest TLS version mailtls ever negotiates.
pub const TLS_FLOOR: TlsVersion = TlsVersion::Tls12;

fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" or ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_map_onto_the_model() {
        let table = [
            (Level::None, Encryption::Never, false, true),
            (Level::May, Encryption::Opportunistic, false, true),
            (Level::Encrypt, Encryption::Required, false, false),
            (Level::Dane, Encryption::Opportunistic, true, false),
            (Level::DaneOnly, Encryption::Required, true, false),
            (Level::Fingerprint, Encryption::Required, true, false),
            (Level::Verify, Encryption::Required, true, false),
            (Level::Secure, Encryption::Required, true, false),
        ];
        for (level, encryption, verifies, plaintext) in table {
            assert_eq!(Level::parse(level.as_str()), Some(level));
            let id =
                NamePattern::parse("example.com", crate::names::Dialect::PostfixMatch).unwrap();
            let pin = Pin::postfix(&"00".repeat(32)).unwrap();
            let req = level.requirement(vec![id], vec![pin], AnchorSource::Public);
            assert_eq!(req.encryption, encryption, "{level}");
            assert_eq!(req.authentication.verifies(), verifies, "{level}");
            assert_eq!(req.allows_plaintext(), plaintext, "{level}");
            // `secure` and `verify` differ only in where their names come from.
            let closest = if level == Level::Secure {
                Level::Verify
            } else {
                level
            };
            assert_eq!(req.level(), closest);
        }
        assert_eq!(Level::parse("DANE-ONLY"), Some(Level::DaneOnly));
        assert_eq!(Level::parse("must"), None);
    }
}
