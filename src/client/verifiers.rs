//! Where each attempt's certificate verifier comes from: the one place where the policy's
//! requirement vocabulary ([`Authentication`]) is compiled into the certificate module's
//! rustls verifiers.

use core::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::CertificateDer;

use crate::cert::{self, OnFailure, OutcomeSlot, ServerVerifier};
use crate::names::Dialect;
use crate::policy::{AnchorSource, Authentication, HostPlan, Requirement};

/// A verifier for one attempt, and the slots its verdicts land in.
#[derive(Clone, Debug)]
pub struct VerifierHandle {
    /// What rustls calls.
    pub verifier: Arc<dyn ServerCertVerifier>,
    /// Where the verdict is read after the handshake (Verified / Trusted / Untrusted).
    pub outcome: Option<OutcomeSlot>,
    /// Where the verdict of a report-only requirement (MTA-STS `testing`) is read.
    pub report: Option<OutcomeSlot>,
}

impl From<ServerVerifier> for VerifierHandle {
    fn from(verifier: ServerVerifier) -> Self {
        let outcome = Some(verifier.slot());
        let report = verifier.report_slot();
        Self {
            verifier: Arc::new(verifier),
            outcome,
            report,
        }
    }
}

impl From<Arc<dyn ServerCertVerifier>> for VerifierHandle {
    fn from(verifier: Arc<dyn ServerCertVerifier>) -> Self {
        Self {
            verifier,
            outcome: None,
            report: None,
        }
    }
}

/// Where the verifier for a host comes from.
pub trait VerifierSource: fmt::Debug + Send + Sync {
    /// A fresh verifier (its outcome belongs to one attempt alone) that enforces `plan`'s
    /// requirement and, when `report_only` is given, evaluates that requirement too without
    /// enforcing it.
    fn handle(&self, plan: &HostPlan, report_only: Option<&Requirement>) -> VerifierHandle;
}

/// The standard source: compiles a host plan's requirement into a [`cert::ServerVerifier`].
///
/// | plan authentication | certificate requirement | on failure |
/// |---|---|---|
/// | none (`may`, `encrypt`) | encryption only; the chain is checked against the public roots (or the replacement anchors) for the record: `Trusted` or `Untrusted` | continue |
/// | chain | chain to the anchors | abort |
/// | chain and name (`verify`, `secure`, MTA-STS) | chain and a reference name | abort |
/// | pins (`fingerprint`) | certificate or public-key SHA-256 or SHA-512 pin | abort |
/// | TLSA (DANE resolved by precedence) | the TLSA records ([`TlsaCheck`]) | abort |
/// | DANE unresolved | nothing can match: fails closed | abort |
///
/// The core reads no files: the caller loads the public roots and every `tafile=` the plans
/// name ([`with_anchor_file`](Self::with_anchor_file); `io::verifiers_for` does it). An
/// anchor set that was not supplied can never be met, so it fails closed.
///
/// [`TlsaCheck`]: crate::policy::dane::TlsaCheck
#[derive(Clone, Debug)]
pub struct PlanVerifiers {
    public: Arc<cert::TrustAnchors>,
    files: Vec<(PathBuf, Arc<cert::TrustAnchors>)>,
    replacement: Option<Arc<cert::TrustAnchors>>,
}

impl Default for PlanVerifiers {
    /// No public roots and no anchor files: every chain requirement fails closed.
    fn default() -> Self {
        Self::new(cert::TrustAnchors::new())
    }
}

impl PlanVerifiers {
    /// A source whose public trust anchors are `public`.
    pub fn new(public: cert::TrustAnchors) -> Self {
        Self {
            public: Arc::new(public),
            files: Vec::new(),
            replacement: None,
        }
    }

    /// The certificates loaded from a trust-anchor file the policy names (`tafile=`).
    /// Certificates that cannot be anchors leave the set empty (fails closed).
    #[must_use]
    pub fn with_anchor_file(
        mut self,
        path: impl Into<PathBuf>,
        certificates: Vec<CertificateDer<'static>>,
    ) -> Self {
        let anchors = cert::TrustAnchors::from_der(&certificates).unwrap_or_default();
        self.files.push((path.into(), Arc::new(anchors)));
        self
    }

    /// Anchors that replace the public roots and every `tafile=` (like `posttls-finger -F`).
    #[must_use]
    pub fn with_replacement(mut self, anchors: cert::TrustAnchors) -> Self {
        self.replacement = Some(Arc::new(anchors));
        self
    }

    /// Whether the anchors of `trust` were supplied: a replacement set, or the file.
    pub fn has_anchors_for(&self, trust: &AnchorSource) -> bool {
        match trust {
            AnchorSource::Public => true,
            AnchorSource::Files(paths) => {
                self.replacement.is_some()
                    || paths
                        .iter()
                        .all(|path| self.files.iter().any(|(p, _)| p == path))
            }
        }
    }

    /// The certificate requirement and failure mode for `requirement`: the one compilation
    /// of the requirement vocabulary.
    pub fn compile(&self, requirement: &Requirement) -> (cert::CertificateCheck, OnFailure) {
        match &requirement.authentication {
            // Nothing is required, but the chain is checked against the anchors for the record,
            // as Postfix does at `may`/`encrypt` (`Trusted` or `Untrusted`, never a failure).
            Authentication::None => (
                cert::CertificateCheck::EncryptOnlyNotingTrust {
                    anchors: self.anchors(&AnchorSource::Public),
                },
                OnFailure::Continue,
            ),
            Authentication::Chain(trust) => (
                cert::CertificateCheck::Chain {
                    anchors: self.anchors(trust),
                },
                OnFailure::Abort,
            ),
            Authentication::ChainAndName {
                trust,
                reference_ids,
            } => (
                cert::CertificateCheck::ChainAndName {
                    anchors: self.anchors(trust),
                    dialect: reference_ids
                        .first()
                        .map_or(Dialect::PostfixCertificate, |r| r.dialect()),
                    references: reference_ids.clone(),
                },
                OnFailure::Abort,
            ),
            Authentication::Pins(pins) => {
                (cert::CertificateCheck::Pins(pins.clone()), OnFailure::Abort)
            }
            Authentication::Tlsa(dane) => (
                cert::CertificateCheck::Dane(Arc::new(dane.check())),
                OnFailure::Abort,
            ),
            // Unresolved DANE (no precedence overlay ran): nothing can match.
            Authentication::Dane(_) => (cert::CertificateCheck::Pins(Vec::new()), OnFailure::Abort),
        }
    }

    /// The verifier for `plan` alone (no report-only requirement).
    pub fn verifier_for(&self, plan: &HostPlan) -> VerifierHandle {
        self.handle(plan, None)
    }

    fn anchors(&self, trust: &AnchorSource) -> Arc<cert::TrustAnchors> {
        if let Some(replacement) = &self.replacement {
            return Arc::clone(replacement);
        }
        match trust {
            AnchorSource::Public => Arc::clone(&self.public),
            AnchorSource::Files(paths) if paths.len() == 1 => paths
                .first()
                .and_then(|path| self.files.iter().find(|(p, _)| p == path))
                .map_or_else(Arc::default, |(_, anchors)| Arc::clone(anchors)),
            AnchorSource::Files(paths) => {
                let mut merged = cert::TrustAnchors::new();
                for path in paths {
                    match self.files.iter().find(|(p, _)| p == path) {
                        Some((_, anchors)) => merged.extend(anchors),
                        // One missing file fails the whole set closed.
                        None => return Arc::default(),
                    }
                }
                Arc::new(merged)
            }
        }
    }
}

impl VerifierSource for PlanVerifiers {
    fn handle(&self, plan: &HostPlan, report_only: Option<&Requirement>) -> VerifierHandle {
        let (requirement, on_failure) = self.compile(&plan.requirement);
        let mut verifier = ServerVerifier::new(requirement, on_failure);
        if let Some(report_only) = report_only {
            verifier = verifier.with_report_only(self.compile(report_only).0);
        }
        verifier.into()
    }
}
