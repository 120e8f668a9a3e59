use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// An RFC 8460 §4.3 result type: why a session failed to meet the sender's TLS policy.
///
/// Every failure mailtls reports carries one, so that logs, events and aggregate reports all
/// speak the same words. The string forms are the RFC's, and [`FromStr`] accepts exactly them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultType {
    /// The certificate presented did not match the reference identifiers (§4.3.1).
    CertificateHostMismatch,
    /// The certificate has expired (§4.3.1).
    CertificateExpired,
    /// The certificate did not chain to a trusted anchor (§4.3.1).
    CertificateNotTrusted,
    /// DANE was required, but the destination published no usable TLSA record (§4.3.2).
    DaneRequired,
    /// DNSSEC validation of the destination's records failed (§4.3.2).
    DnssecInvalid,
    /// The receiving MTA did not offer STARTTLS, or the negotiation failed (§4.3.1).
    StarttlsNotSupported,
    /// The MTA-STS policy could not be fetched (§4.3.3).
    StsPolicyFetchError,
    /// The MTA-STS policy was fetched but did not validate (§4.3.3).
    StsPolicyInvalid,
    /// The HTTPS certificate of the MTA-STS policy host did not validate (§4.3.3).
    StsWebpkiInvalid,
    /// The TLSA records were invalid or did not match the presented chain (§4.3.2).
    TlsaInvalid,
    /// Any other failure to validate the session against the policy (§4.3.4).
    ValidationFailure,
}

impl ResultType {
    /// Every result type, in RFC order of appearance within each section.
    pub const ALL: [Self; 11] = [
        Self::StarttlsNotSupported,
        Self::CertificateHostMismatch,
        Self::CertificateExpired,
        Self::CertificateNotTrusted,
        Self::ValidationFailure,
        Self::TlsaInvalid,
        Self::DnssecInvalid,
        Self::DaneRequired,
        Self::StsPolicyFetchError,
        Self::StsPolicyInvalid,
        Self::StsWebpkiInvalid,
    ];

    /// The RFC 8460 name, as written in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CertificateHostMismatch => "certificate-host-mismatch",
            Self::CertificateExpired => "certificate-expired",
            Self::CertificateNotTrusted => "certificate-not-trusted",
            Self::DaneRequired => "dane-required",
            Self::DnssecInvalid => "dnssec-invalid",
            Self::StarttlsNotSupported => "starttls-not-supported",
            Self::StsPolicyFetchError => "sts-policy-fetch-error",
            Self::StsPolicyInvalid => "sts-policy-invalid",
            Self::StsWebpkiInvalid => "sts-webpki-invalid",
            Self::TlsaInvalid => "tlsa-invalid",
            Self::ValidationFailure => "validation-failure",
        }
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the RFC 8460 result-type names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown RFC 8460 result type {0:?}")]
pub struct UnknownResultType(pub String);

impl FromStr for ResultType {
    type Err = UnknownResultType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownResultType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for t in ResultType::ALL {
            assert_eq!(t.as_str().parse::<ResultType>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<ResultType>(&json).unwrap(), t);
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            "Certificate-Expired".parse::<ResultType>(),
            Err(UnknownResultType("Certificate-Expired".into()))
        );
        assert!("".parse::<ResultType>().is_err());
    }
}
