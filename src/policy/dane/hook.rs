//! The bridge from the certificate verifier to the TLSA matching: [`TlsaCheck`] implements
//! [`cert::DaneCheck`](crate::cert::DaneCheck), so a
//! [`cert::ServerVerifier`](crate::cert::ServerVerifier) built with
//! `cert::CertificateCheck::Dane(Arc::new(TlsaCheck::new(..)))` calls [`verify_chain`] during the
//! handshake.

use rustls_pki_types::CertificateDer;

use super::record::CertUsage;
use super::set::TlsaSet;
use super::verify::{verify_chain_with, DaneVerifyError};
use crate::cert::{DaneCheck, DaneMatch, VerifyError};
use crate::names::{Dialect, NamePattern};
use crate::time::Timestamp;

/// The TLSA records and reference identifiers of one host, as a certificate-verifier hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaCheck {
    tlsa: TlsaSet,
    reference_ids: Vec<String>,
}

impl TlsaCheck {
    /// A check for one host: its TLSA set and DANE-TA reference identifiers (TLSA base domain
    /// first), as [`DaneEvaluation::Authenticate`](super::DaneEvaluation::Authenticate) or
    /// the precedence overlay's `DaneAuthentication` give them.
    pub fn new(tlsa: TlsaSet, reference_ids: Vec<String>) -> Self {
        Self {
            tlsa,
            reference_ids,
        }
    }

    /// The TLSA records.
    pub fn tlsa(&self) -> &TlsaSet {
        &self.tlsa
    }
}

impl DaneCheck for TlsaCheck {
    /// Runs [`verify_chain`](super::verify_chain) without its name check. A DANE-EE match is reported as such; a
    /// DANE-TA match returns the anchor certificate and the reference identifiers (in
    /// [`Dialect::DaneTa`]) so that the verifier validates the chain again and checks the
    /// names with its own matcher (a name mismatch is then `certificate-host-mismatch`). A
    /// chain that fails below a matched DANE-TA anchor is `VerifyError::Chain` (an expired
    /// leaf is `certificate-expired`); no match at all is `VerifyError::Dane`
    /// (`tlsa-invalid`).
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: Timestamp,
    ) -> Result<DaneMatch, VerifyError> {
        let m = verify_chain_with(&self.tlsa, end_entity, intermediates, None, now).map_err(
            |e| match e {
                // The record matched; the chain below the anchor is what failed: keep it
                // typed, so an expired leaf is `certificate-expired`, not `tlsa-invalid`.
                DaneVerifyError::Chain(chain) => VerifyError::Chain(chain),
                other => VerifyError::Dane {
                    reason: other.to_string(),
                },
            },
        )?;
        if m.record.usage == CertUsage::DaneEe {
            return Ok(DaneMatch::EndEntity);
        }
        let reference_ids = self
            .reference_ids
            .iter()
            .filter_map(|r| NamePattern::parse(r, Dialect::DaneTa).ok())
            .collect();
        Ok(match m.anchor {
            Some(anchor) => DaneMatch::TrustAnchor {
                anchor,
                reference_ids,
            },
            // A bare key (`2 1 0`) that signed the leaf itself: no certificate to hand over,
            // and the chain to it was validated above.
            None => DaneMatch::ChainValidated { reference_ids },
        })
    }
}
