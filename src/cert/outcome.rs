//! Verification outcomes: Postfix-style trust words and RFC 8460 result types.

use core::fmt;

use super::chain::ChainError;
use super::facts::{CertError, CertFacts};
use super::partner::{PartnerError, PartnerRule};
use crate::names::NameMismatch;
use crate::tlsrpt::ResultType;

/// How far the peer was authenticated, in the words Postfix logs
/// (`Verified TLS connection established to ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustLevel {
    /// No certificate was presented (inbound client without one).
    Anonymous,
    /// A certificate was presented but not validated, or its validation failed.
    Untrusted,
    /// The chain validated and no name was asked of it (Postfix's `may` and `encrypt`, which
    /// check the chain for the log only, or a chain-only requirement). A name that was asked
    /// for and does not match is `Untrusted`, as Postfix 3 logs it (OpenSSL checks the name
    /// with the chain: `num=62:hostname mismatch`).
    Trusted,
    /// The certificate met the whole requirement: chain and name, a pin, or a DANE match.
    Verified,
}

impl TrustLevel {
    /// The word Postfix logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "Anonymous",
            Self::Trusted => "Trusted",
            Self::Untrusted => "Untrusted",
            Self::Verified => "Verified",
        }
    }
}

impl fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a peer certificate did not meet the requirement.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The chain did not validate.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The DANE hook refused the chain.
    #[error("DANE: {reason}")]
    Dane {
        /// What the hook reported.
        reason: String,
    },
    /// The certificate could not be read.
    #[error(transparent)]
    Facts(#[from] CertError),
    /// The names did not match.
    #[error(transparent)]
    Names(#[from] NameMismatch),
    /// The peer presented no certificate where one was required.
    #[error("the peer presented no certificate")]
    NoCertificate,
    /// A partner rule failed.
    #[error(transparent)]
    Partner(#[from] PartnerError),
}

impl VerifyError {
    /// The RFC 8460 result type a report records for this failure.
    pub fn result_type(&self) -> ResultType {
        match self {
            Self::Chain(ChainError::Expired { .. }) => ResultType::CertificateExpired,
            Self::Chain(
                ChainError::UnknownIssuer { .. }
                | ChainError::Signature { .. }
                | ChainError::NoAnchors
                | ChainError::Anchor { .. },
            ) => ResultType::CertificateNotTrusted,
            Self::Chain(_) => ResultType::ValidationFailure,
            Self::Dane { .. } => ResultType::TlsaInvalid,
            Self::Facts(_) | Self::NoCertificate => ResultType::ValidationFailure,
            Self::Names(_) => ResultType::CertificateHostMismatch,
            Self::Partner(e) => match e {
                PartnerError::Expired { .. } => ResultType::CertificateExpired,
                e => match e.rule() {
                    PartnerRule::Names
                    | PartnerRule::Subject
                    | PartnerRule::Issuer
                    | PartnerRule::ExchangeName => ResultType::CertificateHostMismatch,
                    PartnerRule::Pin => ResultType::CertificateNotTrusted,
                    _ => ResultType::ValidationFailure,
                },
            },
        }
    }

    /// The rustls error a handshake fails with when the requirement is enforced (and so the
    /// alert the peer receives).
    pub fn to_rustls(&self) -> rustls::Error {
        use rustls::CertificateError as C;
        let cert = match self {
            Self::Chain(ChainError::Expired { .. })
            | Self::Partner(PartnerError::Expired { .. }) => C::Expired,
            Self::Chain(ChainError::NotYetValid { .. })
            | Self::Partner(PartnerError::NotYetValid { .. }) => C::NotValidYet,
            Self::Chain(ChainError::UnknownIssuer { .. } | ChainError::NoAnchors) => {
                C::UnknownIssuer
            }
            Self::Chain(ChainError::Signature { .. }) => C::BadSignature,
            Self::Chain(ChainError::Malformed { .. }) | Self::Facts(_) => C::BadEncoding,
            Self::Names(_) => C::NotValidForName,
            Self::Partner(e) if e.rule() == PartnerRule::Names => C::NotValidForName,
            Self::Chain(ChainError::Usage { .. }) | Self::Partner(PartnerError::Usage { .. }) => {
                C::InvalidPurpose
            }
            Self::NoCertificate => return rustls::Error::NoCertificatesPresented,
            _ => C::ApplicationVerificationFailure,
        };
        rustls::Error::InvalidCertificate(cert)
    }
}

/// What a verifier recorded about one handshake: the facts it read and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The end-entity certificate's facts, when one was presented and could be read; `None`
    /// too for an outbound encryption-only requirement, which reads nothing from the
    /// certificate (read them on demand with [`CertFacts::from_der`] from the chain in the
    /// TLS facts).
    pub facts: Option<CertFacts>,
    /// How far the peer was authenticated.
    pub trust: TrustLevel,
    /// Why the requirement was not met, if it was not.
    pub error: Option<VerifyError>,
    /// True when the verifier let the handshake go on despite `error` (opportunistic use).
    pub continued: bool,
}

impl Outcome {
    /// True when the requirement was met.
    pub fn is_verified(&self) -> bool {
        self.error.is_none()
    }

    /// The RFC 8460 result type of the failure, if any.
    pub fn result_type(&self) -> Option<ResultType> {
        self.error.as_ref().map(VerifyError::result_type)
    }
}
