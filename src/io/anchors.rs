//! Trust anchors read from files, here and not in the core (which reads none): the public
//! roots ([`PublicRoots`]: the system store or the Mozilla set), the `tafile=` files a
//! decision names, and replacement anchor files such as `posttls-finger -F` takes. The result
//! is a [`client::PlanVerifiers`](crate::client::PlanVerifiers), which compiles each host's
//! requirement into its certificate verifier.

use core::fmt;
use core::str::FromStr;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::cert;
use crate::client::PlanVerifiers;
use crate::policy::{AnchorSource, Decision, HostPlan, TestingPolicy};

/// A trust-anchor file, or the public roots, could not be loaded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// The public roots could not be loaded.
    #[error(transparent)]
    PublicRoots(#[from] PublicRootsError),
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

/// Where "the public roots" come from: the anchors that `verify`/`secure` levels, connector
/// domain validation and MTA-STS (the MX hosts and the policy host) chain to unless a
/// `tafile` replaces them.
///
/// ```no_run
/// use mailtls::io::PublicRoots;
///
/// let roots = PublicRoots::System.load()?;
/// println!("{} public roots from the {}", roots.len(), PublicRoots::System);
/// # Ok::<(), mailtls::io::PublicRootsError>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PublicRoots {
    /// The operating system's store, as `rustls-native-certs` finds it: the files named by
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set, else the platform's bundle
    /// (`/etc/ssl/certs` on Debian). The default: it follows the host's CA updates and
    /// additions.
    #[default]
    System,
    /// The Mozilla root set compiled into the binary (the `webpki-roots` crate, feature
    /// `webpki-roots`): the same anchors everywhere, whatever the host has installed.
    Mozilla,
}

/// The public roots could not be loaded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublicRootsError {
    /// The system store yielded no certificate usable as a trust anchor.
    #[error("the system trust store has no usable certificate{}", Problems(.problems))]
    SystemEmpty {
        /// What went wrong reading it (files, PEM blocks, certificates), at most 5.
        problems: Vec<String>,
    },
    /// This build has no copy of the chosen set.
    #[error("the {store} is not compiled into this build (cargo feature `{feature}`)")]
    NotCompiled {
        /// The set asked for.
        store: PublicRoots,
        /// The cargo feature that brings it.
        feature: &'static str,
    },
}

/// Writes `: a; b` after a message, or nothing.
struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, ": {}", self.0.join("; "))
    }
}

impl PublicRoots {
    /// Every choice, in the order the CLI lists them.
    pub const ALL: [Self; 2] = [Self::System, Self::Mozilla];

    /// The name used on the command line and in configuration (`system`, `mozilla`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Mozilla => "mozilla",
        }
    }

    /// Loads the anchors. The system store keeps every certificate that can be an anchor and
    /// fails only when none can (a store may hold a few certificates webpki cannot use).
    pub fn load(self) -> Result<cert::TrustAnchors, PublicRootsError> {
        match self {
            Self::System => load_system(),
            Self::Mozilla => load_mozilla(),
        }
    }
}

impl fmt::Display for PublicRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::System => "system trust store",
            Self::Mozilla => "Mozilla root set",
        })
    }
}

/// A name that is not a [`PublicRoots`] choice.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown trust store {name}: expected system or mozilla")]
pub struct UnknownPublicRoots {
    /// The name given, cut to 40 characters.
    pub name: String,
}

impl FromStr for PublicRoots {
    type Err = UnknownPublicRoots;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownPublicRoots {
                name: s.chars().take(40).collect(),
            })
    }
}

fn load_system() -> Result<cert::TrustAnchors, PublicRootsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut problems: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
    let mut anchors = cert::TrustAnchors::new();
    for certificate in &found.certs {
        if let Err(e) = anchors.add_der(certificate) {
            problems.push(e.to_string());
        }
    }
    if anchors.is_empty() {
        problems.truncate(5);
        return Err(PublicRootsError::SystemEmpty { problems });
    }
    Ok(anchors)
}

#[cfg(feature = "webpki-roots")]
fn load_mozilla() -> Result<cert::TrustAnchors, PublicRootsError> {
    Ok(cert::TrustAnchors::webpki_roots())
}

#[cfg(not(feature = "webpki-roots"))]
fn load_mozilla() -> Result<cert::TrustAnchors, PublicRootsError> {
    Err(PublicRootsError::NotCompiled {
        store: PublicRoots::Mozilla,
        feature: "webpki-roots",
    })
}

/// Whether any requirement of `decision` (enforced, or MTA-STS `testing`'s report-only one)
/// chains to the public roots: when none does, a trust store that cannot be loaded does not
/// matter.
pub fn needs_public_roots(decision: &Decision) -> bool {
    let public =
        |a: &crate::policy::Authentication| matches!(a.trust_anchors(), Some(AnchorSource::Public));
    decision
        .plan
        .hosts
        .iter()
        .any(|h| public(&h.requirement.authentication))
        || decision.hosts.iter().any(
            |h| matches!(&h.testing, Some(TestingPolicy::Verify(r)) if public(&r.authentication)),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_store_names_round_trip() {
        for store in PublicRoots::ALL {
            assert_eq!(store.as_str().parse::<PublicRoots>(), Ok(store));
        }
        assert_eq!(" Mozilla ".parse::<PublicRoots>(), Ok(PublicRoots::Mozilla));
        let e = "windows".parse::<PublicRoots>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown trust store windows: expected system or mozilla"
        );
        assert_eq!(PublicRoots::default(), PublicRoots::System);
        assert_eq!(PublicRoots::System.to_string(), "system trust store");
    }

    #[cfg(feature = "webpki-roots")]
    #[test]
    fn mozilla_set_loads() {
        assert!(PublicRoots::Mozilla.load().unwrap().len() > 100);
    }

    #[cfg(not(feature = "webpki-roots"))]
    #[test]
    fn mozilla_set_says_which_feature_is_missing() {
        let e = PublicRoots::Mozilla.load().unwrap_err();
        assert!(e.to_string().contains("`webpki-roots`"), "{e}");
    }

    #[test]
    fn an_empty_store_is_an_error_that_lists_its_problems() {
        let e = PublicRootsError::SystemEmpty {
            problems: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(
            e.to_string(),
            "the system trust store has no usable certificate: a; b"
        );
    }
}
