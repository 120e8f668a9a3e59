//! Trust anchors for the client's certificate verifiers, read from files here (the core reads
//! none), handed to [`client::PlanVerifiers`](crate::client::PlanVerifiers), which maps each
//! plan's requirement onto a [`cert::ServerVerifier`](crate::cert::ServerVerifier).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::cert;
use crate::client::{PlanVerifiers, VerifierHandle, VerifierSource};
use crate::policy::{HostPlan, TrustAnchors};

/// A trust-anchor file that could not be loaded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// The file could not be read or holds a malformed PEM block.
    #[error("trust anchor file {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The file holds no certificate.
    #[error("trust anchor file {path}: no CERTIFICATE block")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate cannot serve as a trust anchor.
    #[error("trust anchor file {path}: {error}")]
    Anchor {
        /// The file.
        path: PathBuf,
        /// Why.
        error: cert::ChainError,
    },
}

/// The client's verifier source with its trust anchors loaded from files: every `tafile=`
/// the plans name ([`load`](Self::load)), the set the plans call public
/// ([`with_public`](Self::with_public)), or one set that replaces them all
/// ([`with_replacement`](Self::with_replacement), like `posttls-finger -F`). The mapping from
/// a plan's requirement to a verifier is [`PlanVerifiers`]'s; an anchor set that was not
/// loaded verifies nothing (fails closed).
#[derive(Clone, Debug)]
pub struct PolicyVerifiers {
    public: Vec<CertificateDer<'static>>,
    files: Vec<(PathBuf, Vec<CertificateDer<'static>>)>,
    replacement: Option<Vec<CertificateDer<'static>>>,
    inner: PlanVerifiers,
}

impl Default for PolicyVerifiers {
    fn default() -> Self {
        Self {
            public: Vec::new(),
            files: Vec::new(),
            replacement: None,
            inner: PlanVerifiers::new(cert::TrustAnchors::new()),
        }
    }
}

impl PolicyVerifiers {
    /// Loads every trust-anchor file the plans name.
    pub fn load<'a>(plans: impl IntoIterator<Item = &'a HostPlan>) -> Result<Self, AnchorError> {
        let mut verifiers = Self::default();
        for plan in plans {
            if let Some(TrustAnchors::Files(paths)) =
                plan.requirement.authentication.trust_anchors()
            {
                for path in paths {
                    if !verifiers.files.iter().any(|(p, _)| p == path) {
                        let certs = load_anchor_files(std::slice::from_ref(path))?;
                        verifiers.files.push((path.clone(), certs));
                    }
                }
            }
        }
        Ok(verifiers.rebuild())
    }

    /// The anchors the plans' "public roots" stand for (a system bundle, the `webpki-roots`
    /// set).
    #[must_use]
    pub fn with_public(mut self, anchors: Vec<CertificateDer<'static>>) -> Self {
        self.public = anchors;
        self.rebuild()
    }

    /// Anchors that replace the public set and every `tafile=` the plans name.
    #[must_use]
    pub fn with_replacement(mut self, anchors: Vec<CertificateDer<'static>>) -> Self {
        self.replacement = Some(anchors);
        self.rebuild()
    }

    fn rebuild(mut self) -> Self {
        let public = self.replacement.as_ref().unwrap_or(&self.public);
        // Anchors that cannot be used leave the set empty: the requirement fails closed.
        let mut inner =
            PlanVerifiers::new(cert::TrustAnchors::from_der(public).unwrap_or_default());
        for (path, certs) in &self.files {
            let certs = self.replacement.as_ref().unwrap_or(certs).clone();
            inner = inner.with_anchor_file(path.clone(), certs);
        }
        self.inner = inner;
        self
    }
}

impl VerifierSource for PolicyVerifiers {
    fn verifier(&self, plan: &HostPlan) -> Arc<dyn ServerCertVerifier> {
        self.inner.verifier(plan)
    }

    fn handle(&self, plan: &HostPlan) -> VerifierHandle {
        self.inner.handle(plan)
    }
}

/// Reads the certificates of PEM trust-anchor files, checking that each can be an anchor.
pub fn load_anchor_files(paths: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    let mut all = Vec::new();
    for path in paths {
        let certs = read(path)?;
        if certs.is_empty() {
            return Err(AnchorError::Empty { path: path.clone() });
        }
        cert::TrustAnchors::from_der(&certs).map_err(|error| AnchorError::Anchor {
            path: path.clone(),
            error,
        })?;
        all.extend(certs);
    }
    Ok(all)
}

fn read(path: &Path) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| AnchorError::Read {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}
