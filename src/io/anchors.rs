//! Trust anchors read from files, here and not in the core (which reads none): the `tafile=`
//! files a decision names, and replacement anchor files such as `posttls-finger -F` takes.
//! The result is a [`client::PlanVerifiers`](crate::client::PlanVerifiers), which compiles each
//! host's requirement into its certificate verifier.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::cert;
use crate::client::PlanVerifiers;
use crate::policy::{AnchorSource, Decision, HostPlan};

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

/// The verifier source for `decision`: `public` as the public roots, and every `tafile=` its
/// hosts name, loaded from disk.
pub fn verifiers_for(
    decision: &Decision,
    public: cert::TrustAnchors,
) -> Result<PlanVerifiers, AnchorError> {
    verifiers_for_hosts(&decision.plan.hosts, public)
}

/// The verifier source for these host plans: `public` as the public roots, and every
/// `tafile=` they name, loaded from disk.
pub fn verifiers_for_hosts<'a>(
    hosts: impl IntoIterator<Item = &'a HostPlan>,
    public: cert::TrustAnchors,
) -> Result<PlanVerifiers, AnchorError> {
    let mut verifiers = PlanVerifiers::new(public);
    let mut loaded: Vec<&PathBuf> = Vec::new();
    for host in hosts {
        let Some(AnchorSource::Files(paths)) = host.requirement.authentication.trust_anchors()
        else {
            continue;
        };
        for path in paths {
            if !loaded.contains(&path) {
                let certificates = load_anchor_files(std::slice::from_ref(path))?;
                verifiers = verifiers.with_anchor_file(path.clone(), certificates);
                loaded.push(path);
            }
        }
    }
    Ok(verifiers)
}

/// Reads trust-anchor files (PEM) into one anchor set.
pub fn load_trust_anchors(paths: &[PathBuf]) -> Result<cert::TrustAnchors, AnchorError> {
    let mut anchors = cert::TrustAnchors::new();
    for path in paths {
        for certificate in read(path)? {
            anchors
                .add_der(&certificate)
                .map_err(|error| AnchorError::Anchor {
                    path: path.clone(),
                    error,
                })?;
        }
    }
    Ok(anchors)
}

/// Reads the certificates of PEM trust-anchor files, checking that each can be an anchor.
pub fn load_anchor_files(paths: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    let mut all = Vec::new();
    for path in paths {
        let certs = read(path)?;
        cert::TrustAnchors::from_der(&certs).map_err(|error| AnchorError::Anchor {
            path: path.clone(),
            error,
        })?;
        all.extend(certs);
    }
    Ok(all)
}

fn read(path: &Path) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| AnchorError::Read {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(AnchorError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}
