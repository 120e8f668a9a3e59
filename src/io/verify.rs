//! Certificate verifiers for the client: a plan's [`Authentication`] becomes a
//! [`cert::ServerVerifier`](crate::cert::ServerVerifier), with trust-anchor files read here
//! (the core reads no files).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;

use crate::cert::{self, OnFailure, PinDigest, PinTarget, ServerVerifier};
use crate::client::VerifierSource;
use crate::names::Dialect;
use crate::policy::{Authentication, HostPlan, PinAlgorithm, TrustAnchors};

/// A trust-anchor file that could not be loaded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// The file could not be read.
    #[error("trust anchor file {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        detail: String,
    },
    /// The file holds no usable certificate.
    #[error("trust anchor file {path}: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: cert::ChainError,
    },
}

/// Builds each host's verifier from its plan: no check for `may`/`encrypt` (the handshake
/// goes on and the outcome is recorded), chain and name checks against the plan's trust
/// anchors, pins for `fingerprint`. Anchors come from the files the plans name, loaded once
/// with [`load`](Self::load), or from the public set given with
/// [`with_public`](Self::with_public); an anchor set that is missing verifies nothing (fails
/// closed).
#[derive(Clone, Debug, Default)]
pub struct PolicyVerifiers {
    files: HashMap<Vec<PathBuf>, Arc<cert::TrustAnchors>>,
    public: Option<Arc<cert::TrustAnchors>>,
    replace: Option<Arc<cert::TrustAnchors>>,
}

impl PolicyVerifiers {
    /// Loads every trust-anchor file the plans name.
    pub fn load<'a>(plans: impl IntoIterator<Item = &'a HostPlan>) -> Result<Self, AnchorError> {
        let mut verifiers = Self::default();
        for plan in plans {
            if let Some(TrustAnchors::Files(paths)) =
                plan.requirement.authentication.trust_anchors()
            {
                if !verifiers.files.contains_key(paths) {
                    let anchors = load_anchor_files(paths)?;
                    verifiers.files.insert(paths.clone(), Arc::new(anchors));
                }
            }
        }
        Ok(verifiers)
    }

    /// The anchors [`TrustAnchors::Public`] stands for (the caller's choice: the
    /// `webpki-roots` set, a system bundle).
    #[must_use]
    pub fn with_public(mut self, anchors: cert::TrustAnchors) -> Self {
        self.public = Some(Arc::new(anchors));
        self
    }

    /// Anchors that replace whatever the plans name (`posttls-finger -F`, `mailtls probe
    /// --tafile`).
    #[must_use]
    pub fn with_replacement(mut self, anchors: cert::TrustAnchors) -> Self {
        self.replace = Some(Arc::new(anchors));
        self
    }

    /// The cert-module requirement for a plan's authentication.
    pub fn requirement(&self, authentication: &Authentication) -> cert::Requirement {
        match authentication {
            Authentication::None => cert::Requirement::EncryptOnly,
            Authentication::Chain(trust) => cert::Requirement::Chain {
                anchors: self.anchors(trust),
            },
            Authentication::ChainAndName {
                trust,
                reference_ids,
            } => {
                let dialect = match reference_ids.first().map(|id| id.dialect()) {
                    Some(Dialect::ExchangeConnector) => Dialect::ExchangeConnector,
                    Some(Dialect::MtaStsMx) => Dialect::MtaStsMx,
                    _ => Dialect::PostfixCertificate,
                };
                cert::Requirement::ChainAndName {
                    anchors: self.anchors(trust),
                    dialect,
                    references: reference_ids.clone(),
                }
            }
            Authentication::Pins(pins) => cert::Requirement::Pins(
                pins.iter()
                    .filter(|pin| pin.algorithm() == PinAlgorithm::Sha256)
                    .flat_map(|pin| {
                        // Postfix compares a fingerprint with the certificate's and the
                        // public key's digest alike.
                        [PinTarget::Certificate, PinTarget::PublicKey].map(|target| {
                            cert::Pin::from_digest(target, PinDigest::Sha256, pin.digest().to_vec())
                        })
                    })
                    .collect(),
            ),
            // DANE needs the TLSA records, which the caller resolves; without them nothing
            // can be verified, and a plan that still says DANE here must fail closed.
            Authentication::Dane(_) => cert::Requirement::Pins(Vec::new()),
            #[allow(unreachable_patterns)]
            _ => cert::Requirement::Pins(Vec::new()),
        }
    }

    fn anchors(&self, trust: &TrustAnchors) -> Arc<cert::TrustAnchors> {
        if let Some(replace) = &self.replace {
            return Arc::clone(replace);
        }
        let found = match trust {
            TrustAnchors::Public => self.public.clone(),
            TrustAnchors::Files(paths) => self.files.get(paths).cloned(),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        found.unwrap_or_default()
    }
}

impl VerifierSource for PolicyVerifiers {
    fn verifier(&self, plan: &HostPlan) -> Arc<dyn ServerCertVerifier> {
        let authentication = &plan.requirement.authentication;
        let on_failure = if authentication.verifies() {
            OnFailure::Abort
        } else {
            OnFailure::Continue
        };
        Arc::new(ServerVerifier::new(
            self.requirement(authentication),
            on_failure,
        ))
    }
}

/// Reads PEM trust-anchor files into one set.
pub fn load_anchor_files(paths: &[PathBuf]) -> Result<cert::TrustAnchors, AnchorError> {
    let mut pem = Vec::new();
    for path in paths {
        pem.extend(read(path)?);
        pem.push(b'\n');
    }
    cert::TrustAnchors::from_pem(&pem).map_err(|error| AnchorError::Parse {
        path: paths.first().cloned().unwrap_or_default(),
        error,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, AnchorError> {
    std::fs::read(path).map_err(|e| AnchorError::Read {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}
