//! Partner requirements: the rules a partner's certificate must meet, and which rule failed.

use core::fmt;

use super::dn::{DistinguishedName, ExchangeCertName};
use super::facts::{CertFacts, ExtendedKeyUsage, PublicKeyAlgorithm};
use super::pin::{hex_colon, Pin};
use crate::names::{Dialect, NameMismatch, NamePattern};
use crate::time::Timestamp;

/// Which side the peer is on, hence the extended key usage its certificate needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The peer connected to us (inbound partner): it needs `clientAuth`.
    Inbound,
    /// We connected to the peer (outbound destination): it needs `serverAuth`.
    Outbound,
}

impl Role {
    /// The extended key usage a peer certificate needs in this role.
    pub fn required_usage(self) -> ExtendedKeyUsage {
        match self {
            Self::Inbound => ExtendedKeyUsage::ClientAuth,
            Self::Outbound => ExtendedKeyUsage::ServerAuth,
        }
    }
}

/// The weakest keys accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyStrength {
    /// Least RSA modulus size in bits (default 2048).
    pub rsa_bits: u32,
    /// Least elliptic-curve size in bits (default 256; Ed25519 counts as 256).
    pub ec_bits: u32,
}

impl Default for KeyStrength {
    fn default() -> Self {
        Self {
            rsa_bits: 2048,
            ec_bits: 256,
        }
    }
}

impl fmt::Display for KeyStrength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RSA >= {} bits or EC >= {} bits",
            self.rsa_bits, self.ec_bits
        )
    }
}

/// What a partner's certificate must satisfy. Every rule that is set must pass; within the
/// names, the pins and the Exchange names, any one entry is enough.
///
/// Built with [`PartnerRequirement::new`] (safe defaults: RSA 2048 / EC 256, no SHA-1 or MD5
/// signature, validity checked, the role's EKU required) and the `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerRequirement {
    /// The peer's role, which fixes the required EKU.
    pub role: Role,
    /// Dialect for the certificate side of name matching.
    pub dialect: Dialect,
    /// Name patterns; any one must match (empty: no name rule).
    pub names: Vec<NamePattern>,
    /// Exact subject DN.
    pub subject: Option<DistinguishedName>,
    /// Exact issuer DN.
    pub issuer: Option<DistinguishedName>,
    /// Exchange `<I>issuer<S>subject` names; any one must match (empty: no such rule).
    pub exchange_names: Vec<ExchangeCertName>,
    /// Certificate or public-key pins; any one must match (empty: no pin rule).
    pub pins: Vec<Pin>,
    /// Weakest key accepted.
    pub min_key: KeyStrength,
    /// Accept certificates signed with SHA-1 or MD5. Dangerous: off by default.
    pub danger_allow_weak_signatures: bool,
    /// Check the validity period at `now` (on by default; Postfix's fingerprint level and
    /// DANE-EE skip it).
    pub check_validity: bool,
    /// Require the role's extended key usage (on by default).
    pub check_usage: bool,
}

/// Which partner rule a certificate failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartnerRule {
    /// The Exchange `<I>issuer<S>subject` rule.
    ExchangeName,
    /// The issuer DN rule.
    Issuer,
    /// The key-strength rule.
    KeyStrength,
    /// The name-pattern rule.
    Names,
    /// The pin rule.
    Pin,
    /// The signature-algorithm rule.
    Signature,
    /// The subject DN rule.
    Subject,
    /// The extended-key-usage rule.
    Usage,
    /// The validity-period rule.
    Validity,
}

/// A partner rule failed; each variant names the expected and the presented value.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    /// No Exchange certificate name matched.
    #[error("rule exchange-name: expected one of [{}], presented <I>{presented_issuer}<S>{presented_subject}", expected.join(", "))]
    ExchangeName {
        /// The configured names.
        expected: Vec<String>,
        /// The certificate's issuer (RFC 4514).
        presented_issuer: String,
        /// The certificate's subject (RFC 4514).
        presented_subject: String,
    },
    /// The certificate expired before `now`.
    #[error("rule validity: certificate expired at {not_after}, now is {now}")]
    Expired {
        /// The time checked.
        now: Timestamp,
        /// The end of the validity period.
        not_after: Timestamp,
    },
    /// The issuer DN differs.
    #[error("rule issuer: expected {expected:?}, presented {presented:?}")]
    Issuer {
        /// The configured DN.
        expected: String,
        /// The certificate's issuer (RFC 4514).
        presented: String,
    },
    /// The key is weaker than the minimum.
    #[error("rule key-strength: expected {expected}, presented {presented}")]
    KeyStrength {
        /// The minimum.
        expected: KeyStrength,
        /// The certificate's key.
        presented: PublicKeyAlgorithm,
    },
    /// No name pattern matched.
    #[error("rule names: {0}")]
    Names(NameMismatch),
    /// The validity period starts after `now`.
    #[error("rule validity: certificate not valid before {not_before}, now is {now}")]
    NotYetValid {
        /// The time checked.
        now: Timestamp,
        /// The start of the validity period.
        not_before: Timestamp,
    },
    /// No pin matched.
    #[error("rule pin: expected one of [{}], presented cert-sha256:{presented_certificate} pubkey-sha256:{presented_public_key}", expected.join(", "))]
    Pin {
        /// The configured pins.
        expected: Vec<String>,
        /// The certificate's SHA-256 fingerprint (hex with colons).
        presented_certificate: String,
        /// The certificate's SPKI SHA-256 (hex with colons).
        presented_public_key: String,
    },
    /// The certificate is signed with SHA-1 or MD5.
    #[error("rule signature: expected a SHA-2 or EdDSA signature, presented {presented}")]
    Signature {
        /// The signature algorithm's name.
        presented: String,
    },
    /// The subject DN differs.
    #[error("rule subject: expected {expected:?}, presented {presented:?}")]
    Subject {
        /// The configured DN.
        expected: String,
        /// The certificate's subject (RFC 4514).
        presented: String,
    },
    /// The certificate lacks the extended key usage the role needs.
    #[error("rule usage: expected {expected}, presented [{}]", presented.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Usage {
        /// The usage the role needs.
        expected: ExtendedKeyUsage,
        /// The certificate's extended key usages.
        presented: Vec<ExtendedKeyUsage>,
    },
}

impl PartnerRequirement {
    /// A requirement with the safe defaults and no identity rule yet.
    pub fn new(role: Role, dialect: Dialect) -> Self {
        Self {
            role,
            dialect,
            names: Vec::new(),
            subject: None,
            issuer: None,
            exchange_names: Vec::new(),
            pins: Vec::new(),
            min_key: KeyStrength::default(),
            danger_allow_weak_signatures: false,
            check_validity: true,
            check_usage: true,
        }
    }

    /// Adds name patterns (any one must match).
    #[must_use]
    pub fn with_names(mut self, names: impl IntoIterator<Item = NamePattern>) -> Self {
        self.names.extend(names);
        self
    }

    /// Requires this subject DN.
    #[must_use]
    pub fn with_subject(mut self, subject: DistinguishedName) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Requires this issuer DN.
    #[must_use]
    pub fn with_issuer(mut self, issuer: DistinguishedName) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Adds an Exchange `<I>issuer<S>subject` name (any one must match).
    #[must_use]
    pub fn with_exchange_name(mut self, name: ExchangeCertName) -> Self {
        self.exchange_names.push(name);
        self
    }

    /// Adds pins (any one must match).
    #[must_use]
    pub fn with_pins(mut self, pins: impl IntoIterator<Item = Pin>) -> Self {
        self.pins.extend(pins);
        self
    }

    /// Sets the weakest key accepted.
    #[must_use]
    pub fn with_min_key(mut self, min_key: KeyStrength) -> Self {
        self.min_key = min_key;
        self
    }

    /// Checks the certificate `der`, whose facts are `facts`, against every rule that is set,
    /// at `now`, and returns the first failure in this order: validity, usage, signature, key
    /// strength, pins, subject, issuer, Exchange name, names. Only a pin whose digest
    /// [`CertFacts`] does not carry reads `der` again.
    pub fn check(&self, der: &[u8], facts: &CertFacts, now: Timestamp) -> Result<(), PartnerError> {
        if self.check_validity {
            if now < facts.not_before {
                return Err(PartnerError::NotYetValid {
                    now,
                    not_before: facts.not_before,
                });
            }
            if now > facts.not_after {
                return Err(PartnerError::Expired {
                    now,
                    not_after: facts.not_after,
                });
            }
        }
        let usage = self.role.required_usage();
        if self.check_usage && !facts.allows_usage(&usage) {
            return Err(PartnerError::Usage {
                expected: usage,
                presented: facts.extended_key_usage.clone().unwrap_or_default(),
            });
        }
        if !self.danger_allow_weak_signatures && facts.signature.is_weak() {
            return Err(PartnerError::Signature {
                presented: facts.signature.name.clone(),
            });
        }
        if !self.key_is_strong(&facts.key) {
            return Err(PartnerError::KeyStrength {
                expected: self.min_key,
                presented: facts.key.clone(),
            });
        }
        if !self.pins.is_empty()
            && !self
                .pins
                .iter()
                .any(|p| p.matches(der, &facts.fingerprints))
        {
            return Err(PartnerError::Pin {
                expected: self.pins.iter().map(ToString::to_string).collect(),
                presented_certificate: hex_colon(&facts.fingerprints.sha256),
                presented_public_key: hex_colon(&facts.fingerprints.spki_sha256),
            });
        }
        if let Some(subject) = &self.subject {
            if !dn_matches(subject, &facts.subject) {
                return Err(PartnerError::Subject {
                    expected: subject.to_string(),
                    presented: facts.subject.clone(),
                });
            }
        }
        if let Some(issuer) = &self.issuer {
            if !dn_matches(issuer, &facts.issuer) {
                return Err(PartnerError::Issuer {
                    expected: issuer.to_string(),
                    presented: facts.issuer.clone(),
                });
            }
        }
        if !self.exchange_names.is_empty()
            && !self.exchange_names.iter().any(|name| {
                dn_matches(&name.issuer, &facts.issuer) && dn_matches(&name.subject, &facts.subject)
            })
        {
            return Err(PartnerError::ExchangeName {
                expected: self
                    .exchange_names
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                presented_issuer: facts.issuer.clone(),
                presented_subject: facts.subject.clone(),
            });
        }
        if !self.names.is_empty() {
            facts
                .match_names(self.dialect, &self.names)
                .map_err(PartnerError::Names)?;
        }
        Ok(())
    }

    fn key_is_strong(&self, key: &PublicKeyAlgorithm) -> bool {
        match key {
            PublicKeyAlgorithm::Rsa { bits } => *bits >= self.min_key.rsa_bits,
            PublicKeyAlgorithm::Ec { .. }
            | PublicKeyAlgorithm::Ed25519
            | PublicKeyAlgorithm::Ed448 => key.bits() >= self.min_key.ec_bits,
            _ => false,
        }
    }
}

impl PartnerError {
    /// The rule that failed.
    pub fn rule(&self) -> PartnerRule {
        match self {
            Self::ExchangeName { .. } => PartnerRule::ExchangeName,
            Self::Expired { .. } | Self::NotYetValid { .. } => PartnerRule::Validity,
            Self::Issuer { .. } => PartnerRule::Issuer,
            Self::KeyStrength { .. } => PartnerRule::KeyStrength,
            Self::Names(_) => PartnerRule::Names,
            Self::Pin { .. } => PartnerRule::Pin,
            Self::Signature { .. } => PartnerRule::Signature,
            Self::Subject { .. } => PartnerRule::Subject,
            Self::Usage { .. } => PartnerRule::Usage,
        }
    }
}

fn dn_matches(expected: &DistinguishedName, presented: &str) -> bool {
    DistinguishedName::parse(presented).is_ok_and(|p| expected.same_as(&p))
}
