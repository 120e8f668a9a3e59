//! Chain validation with rustls-webpki against trust anchors the caller supplies.

use core::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use super::partner::Role;
use crate::time::Timestamp;

/// A set of trust anchors: public roots, a partner's private CA, or a Postfix `tafile`.
///
/// As in Postfix's `tafile`, an anchor may be an intermediate certificate: the peer's chain is
/// validated up to it and no further, and the anchor's own validity period and constraints
/// are not checked (RFC 5280 §6.1.1 treats an anchor as a name and a key).
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
}

/// Why a chain or an anchor set was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An anchor could not be read.
    #[error("trust anchor #{index} is unusable: {reason}")]
    Anchor {
        /// Position in the input (0-based).
        index: usize,
        /// What was wrong.
        reason: String,
    },
    /// A certificate in the chain (or the anchor file) is malformed.
    #[error("malformed certificate in the chain: {reason}")]
    Malformed {
        /// What webpki reported.
        reason: String,
    },
    /// A certificate in the chain expired before `now`.
    #[error("a certificate in the chain expired at {not_after}, now is {now}")]
    Expired {
        /// The time checked.
        now: Timestamp,
        /// The earliest `notAfter` that failed.
        not_after: Timestamp,
    },
    /// The anchor set is empty: nothing can be trusted.
    #[error("no trust anchors were configured")]
    NoAnchors,
    /// A certificate in the chain is not valid yet at `now`.
    #[error("a certificate in the chain is not valid before {not_before}, now is {now}")]
    NotYetValid {
        /// The time checked.
        now: Timestamp,
        /// The `notBefore` that failed.
        not_before: Timestamp,
    },
    /// A signature in the chain does not verify, or uses an algorithm that is refused.
    #[error("a signature in the chain is invalid or uses a refused algorithm: {reason}")]
    Signature {
        /// What webpki reported.
        reason: String,
    },
    /// No path leads from the certificate to any anchor. (webpki's `reason` is only its
    /// variant name, so the message leaves it out.)
    #[error("the certificate does not chain to a trust anchor")]
    UnknownIssuer {
        /// What webpki reported.
        reason: String,
    },
    /// The certificate lacks the extended key usage the role needs.
    #[error("the certificate does not allow {expected} (EKU)")]
    Usage {
        /// `serverAuth` or `clientAuth`.
        expected: &'static str,
    },
    /// Any other webpki refusal (name constraints, path length, CA used as leaf, ...).
    #[error("chain validation failed: {reason}")]
    Other {
        /// What webpki reported.
        reason: String,
    },
}

impl TrustAnchors {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads every `CERTIFICATE` block of a PEM text (a Postfix `tafile`, a CA bundle).
    pub fn from_pem(pem: &[u8]) -> Result<Self, ChainError> {
        let mut set = Self::new();
        for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let cert = cert.map_err(|e| ChainError::Anchor {
                index,
                reason: e.to_string(),
            })?;
            set.push_der(index, &cert)?;
        }
        if set.anchors.is_empty() {
            return Err(ChainError::NoAnchors);
        }
        Ok(set)
    }

    /// Reads DER certificates.
    pub fn from_der<'a>(
        certs: impl IntoIterator<Item = &'a CertificateDer<'a>>,
    ) -> Result<Self, ChainError> {
        let mut set = Self::new();
        for (index, cert) in certs.into_iter().enumerate() {
            set.push_der(index, cert)?;
        }
        Ok(set)
    }

    /// The Mozilla root set from the `webpki-roots` crate.
    #[cfg(feature = "webpki-roots")]
    pub fn webpki_roots() -> Self {
        Self {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    /// Adds one DER certificate as an anchor.
    pub fn add_der(&mut self, cert: &CertificateDer<'_>) -> Result<(), ChainError> {
        self.push_der(self.anchors.len(), cert)
    }

    /// Adds every anchor of `other` (several `tafile=` files make one set).
    pub fn extend(&mut self, other: &Self) {
        self.anchors.extend(other.anchors.iter().cloned());
    }

    /// How many anchors the set holds.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True when the set holds no anchor.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The anchors, as webpki and rustls take them.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    fn push_der(&mut self, index: usize, cert: &CertificateDer<'_>) -> Result<(), ChainError> {
        let anchor = webpki::anchor_from_trusted_cert(cert).map_err(|e| ChainError::Anchor {
            index,
            reason: e.to_string(),
        })?;
        self.anchors.push(anchor.to_owned());
        Ok(())
    }
}

/// Validates `end_entity` (with the peer's `intermediates`) up to one of `anchors` at `now`,
/// for `role`'s extended key usage, with the ring provider's signature algorithms. Names are
/// not checked here (see [`crate::names`]); revocation is not checked.
pub fn validate_chain(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: Timestamp,
    role: Role,
) -> Result<(), ChainError> {
    if anchors.is_empty() {
        return Err(ChainError::NoAnchors);
    }
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| ChainError::Malformed {
        reason: e.to_string(),
    })?;
    let (usage, usage_name) = match role {
        Role::Inbound => (webpki::KeyUsage::client_auth(), "clientAuth"),
        Role::Outbound => (webpki::KeyUsage::server_auth(), "serverAuth"),
    };
    let algs = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    cert.verify_for_usage(
        algs,
        anchors.anchors(),
        intermediates,
        now.to_unix_time(),
        usage,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| map_webpki(e, now, usage_name))
}

fn from_unix(time: UnixTime) -> Timestamp {
    Timestamp::from_since_epoch(Duration::from_secs(time.as_secs()))
}

/// A webpki refusal as a typed [`ChainError`] (`usage`: the EKU the role needs).
pub(crate) fn map_webpki(e: webpki::Error, now: Timestamp, usage: &'static str) -> ChainError {
    use webpki::Error as E;
    let reason = e.to_string();
    match e {
        E::CertExpired { not_after, .. } => ChainError::Expired {
            now,
            not_after: from_unix(not_after),
        },
        E::CertNotValidYet { not_before, .. } => ChainError::NotYetValid {
            now,
            not_before: from_unix(not_before),
        },
        E::UnknownIssuer => ChainError::UnknownIssuer { reason },
        E::RequiredEkuNotFoundContext(_) => ChainError::Usage { expected: usage },
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => ChainError::Signature { reason },
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::UnsupportedCertVersion => {
            ChainError::Malformed { reason }
        }
        _ => ChainError::Other { reason },
    }
}
