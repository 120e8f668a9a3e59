//! Where each attempt's certificate verifier comes from: the glue between the policy's
//! requirement model and the certificate module's rustls verifiers.

use core::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::CertificateDer;

use crate::cert::{self, DaneCheck, OnFailure, OutcomeSlot, PinDigest, PinTarget, ServerVerifier};
use crate::names::{Dialect, HostId};
use crate::policy::{Authentication, HostPlan, PinAlgorithm, TrustAnchors};

/// A verifier for one attempt, and the slot its verdict lands in (when it records one).
#[derive(Clone, Debug)]
pub struct VerifierHandle {
    /// What rustls calls.
    pub verifier: Arc<dyn ServerCertVerifier>,
    /// Where the verdict is read after the handshake (Verified / Trusted / Untrusted).
    pub outcome: Option<OutcomeSlot>,
}

impl From<ServerVerifier> for VerifierHandle {
    fn from(verifier: ServerVerifier) -> Self {
        let outcome = Some(verifier.slot());
        Self {
            verifier: Arc::new(verifier),
            outcome,
        }
    }
}

impl From<Arc<dyn ServerCertVerifier>> for VerifierHandle {
    fn from(verifier: Arc<dyn ServerCertVerifier>) -> Self {
        Self {
            verifier,
            outcome: None,
        }
    }
}

/// Where the verifier for a host comes from.
pub trait VerifierSource: fmt::Debug + Send + Sync {
    /// The verifier that applies `plan`'s certificate requirement (a fresh one per attempt,
    /// so that its outcome belongs to that attempt alone).
    fn verifier(&self, plan: &HostPlan) -> Arc<dyn ServerCertVerifier>;

    /// The verifier with the slot its verdict lands in. The default has no slot (the trust
    /// word is then inferred); a source that builds [`cert::ServerVerifier`]s should return
    /// their slot here, as [`PlanVerifiers`] does.
    fn handle(&self, plan: &HostPlan) -> VerifierHandle {
        self.verifier(plan).into()
    }
}

/// The standard source: maps a host plan's requirement onto a [`cert::ServerVerifier`].
///
/// | plan authentication | certificate requirement | on failure |
/// |---|---|---|
/// | none (`may`, `encrypt`) | encryption only (the verdict is still recorded) | continue |
/// | chain | chain to the anchors | abort |
/// | chain and name (`verify`, `secure`) | chain and a reference name | abort |
/// | pins (`fingerprint`) | certificate or public-key SHA-256 pin | abort |
/// | DANE | the TLSA check registered for the host | abort |
///
/// The core reads no files: the caller loads the public roots and every `tafile=` it names
/// ([`with_anchor_file`](Self::with_anchor_file)). A requirement whose anchors or DANE check
/// were not supplied can never be met, so it fails closed.
#[derive(Clone, Debug)]
pub struct PlanVerifiers {
    public: Arc<cert::TrustAnchors>,
    files: Vec<(PathBuf, Vec<CertificateDer<'static>>)>,
    dane: Vec<(HostId, Arc<dyn DaneCheck>)>,
}

impl PlanVerifiers {
    /// A source whose public trust anchors are `public`.
    pub fn new(public: cert::TrustAnchors) -> Self {
        Self {
            public: Arc::new(public),
            files: Vec::new(),
            dane: Vec::new(),
        }
    }

    /// The certificates loaded from a trust-anchor file the policy names (`tafile=`).
    #[must_use]
    pub fn with_anchor_file(
        mut self,
        path: impl Into<PathBuf>,
        certificates: Vec<CertificateDer<'static>>,
    ) -> Self {
        self.files.push((path.into(), certificates));
        self
    }

    /// The DANE check (from the host's TLSA records) for `host`.
    #[must_use]
    pub fn with_dane(mut self, host: HostId, check: Arc<dyn DaneCheck>) -> Self {
        self.dane.push((host, check));
        self
    }

    /// The certificate requirement and failure mode for `plan`.
    pub fn requirement(&self, plan: &HostPlan) -> (cert::Requirement, OnFailure) {
        match &plan.requirement.authentication {
            Authentication::None => (cert::Requirement::EncryptOnly, OnFailure::Continue),
            Authentication::Chain(trust) => (
                cert::Requirement::Chain {
                    anchors: self.anchors(trust),
                },
                OnFailure::Abort,
            ),
            Authentication::ChainAndName {
                trust,
                reference_ids,
            } => (
                cert::Requirement::ChainAndName {
                    anchors: self.anchors(trust),
                    dialect: reference_ids
                        .first()
                        .map_or(Dialect::PostfixCertificate, |r| r.dialect()),
                    references: reference_ids.clone(),
                },
                OnFailure::Abort,
            ),
            Authentication::Pins(pins) => (
                cert::Requirement::Pins(
                    pins.iter()
                        .filter(|p| p.algorithm() == PinAlgorithm::Sha256)
                        .flat_map(|p| {
                            [PinTarget::Certificate, PinTarget::PublicKey].map(|target| {
                                cert::Pin::from_digest(
                                    target,
                                    PinDigest::Sha256,
                                    p.digest().to_vec(),
                                )
                            })
                        })
                        .collect(),
                ),
                OnFailure::Abort,
            ),
            Authentication::Dane(_) => {
                let check = self
                    .dane
                    .iter()
                    .find(|(host, _)| *host == plan.host)
                    .map(|(_, check)| Arc::clone(check));
                match check {
                    Some(check) => (cert::Requirement::Dane(check), OnFailure::Abort),
                    // No TLSA check for this host: nothing can match.
                    None => (cert::Requirement::Pins(Vec::new()), OnFailure::Abort),
                }
            }
        }
    }

    fn anchors(&self, trust: &TrustAnchors) -> Arc<cert::TrustAnchors> {
        match trust {
            TrustAnchors::Public => Arc::clone(&self.public),
            TrustAnchors::Files(paths) => {
                let certificates = paths
                    .iter()
                    .filter_map(|path| self.files.iter().find(|(p, _)| p == path))
                    .flat_map(|(_, certs)| certs.iter());
                // An unreadable anchor leaves the set empty: the requirement fails closed.
                Arc::new(cert::TrustAnchors::from_der(certificates).unwrap_or_default())
            }
        }
    }
}

impl VerifierSource for PlanVerifiers {
    fn verifier(&self, plan: &HostPlan) -> Arc<dyn ServerCertVerifier> {
        self.handle(plan).verifier
    }

    fn handle(&self, plan: &HostPlan) -> VerifierHandle {
        let (requirement, on_failure) = self.requirement(plan);
        ServerVerifier::new(requirement, on_failure).into()
    }
}
