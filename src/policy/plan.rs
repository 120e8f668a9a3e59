//! The plan: for one destination, what each candidate host needs, how to verify it, which
//! rungs it may use and what happens when it fails.
//!
//! [`Plan`] is the static answer from configuration (default level, Postfix policy table,
//! outbound connectors). The DANE, MTA-STS and REQUIRETLS overlays refine a plan's
//! [`HostPlan::requirement`] afterwards and append their own steps to its [`Trace`].

use core::fmt;
use std::path::PathBuf;

use super::destination::host_sni;
pub use super::destination::{
    Destination, DestinationError, NameSource, SniStrategy, DEFAULT_PORT,
};
pub use super::explain::PolicySource;
use super::explain::{Rule, Trace};
use super::protocol::{ProtocolPolicy, TlsVersion};
use super::requirement::{Authentication, Level, Requirement};
use super::rung::{Ladder, RefusalReason, Rung};
use super::status::Status;
use crate::names::{DnsName, HostId};

/// The plan for one destination: one [`HostPlan`] per candidate host, in the order to try
/// them, and the trace of every rule that fired.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The destination planned for.
    pub destination: Destination,
    /// Which configuration decided the plan.
    pub source: PolicySource,
    /// The candidate hosts, in the order to try them.
    pub hosts: Vec<HostPlan>,
    /// Every rule that fired, in order.
    pub trace: Trace,
}

impl Plan {
    /// A plan from host plans the caller built by hand (tests, a smart host, an MTA that plans
    /// itself), decided by `source`, with an empty trace.
    pub fn from_hosts(
        destination: Destination,
        source: PolicySource,
        hosts: Vec<HostPlan>,
    ) -> Self {
        Self {
            destination,
            source,
            hosts,
            trace: Trace::new(),
        }
    }

    /// The host plan for `host`, if it is a candidate.
    pub fn host(&self, host: &HostId) -> Option<&HostPlan> {
        self.hosts.iter().find(|h| h.host == *host)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan for {} (from {})", self.destination, self.source)?;
        for host in &self.hosts {
            writeln!(f, "  {host}")?;
        }
        write!(f, "{}", self.trace)
    }
}

/// Everything one connection attempt to one candidate host needs.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPlan {
    /// The host to connect to (MX host, smart host, or the bracketed next hop).
    pub host: HostId,
    /// The TCP port.
    pub port: u16,
    /// The effective requirement: encryption and what to verify (reference identifiers with
    /// their dialect, pins, trust-anchor paths).
    pub requirement: Requirement,
    /// The server name to send in SNI, if any.
    pub sni: Option<DnsName>,
    /// The versions and suites allowed (never below TLS 1.2, forward-secret AEAD only). Each
    /// rung narrows it further ([`HostPlan::protocols_on`]).
    pub protocols: ProtocolPolicy,
    /// A client certificate to present (hybrid / certificate connectors): paths for the
    /// caller to load.
    pub client_certificate: Option<ClientCertificate>,
    /// Whether the caller may reuse a TLS connection to this host for later deliveries
    /// (Postfix `connection_reuse=`).
    pub connection_reuse: bool,
    /// What happens when this host cannot be used: the next candidate host, or defer.
    pub on_failure: FailureAction,
    /// The Postfix level the configuration named (`secure` and `verify` differ only in where
    /// their names come from, so the requirement alone cannot tell them apart); `None` for a
    /// connector, or once precedence replaced the requirement.
    pub level: Option<Level>,
}

impl HostPlan {
    /// A host plan with the default protocols, SNI = the host name (none for an address), no
    /// client certificate, no connection reuse, and `on_failure` = defer.
    pub fn new(host: HostId, port: u16, requirement: Requirement) -> Self {
        Self {
            sni: host_sni(&host),
            host,
            port,
            requirement,
            protocols: ProtocolPolicy::MODERN,
            client_certificate: None,
            connection_reuse: false,
            on_failure: FailureAction::Defer(exhausted_status()),
            level: None,
        }
    }

    /// The rungs this host may use, strongest first: the TLS rungs its protocols leave
    /// something on (none at [`Encryption::Never`](super::requirement::Encryption::Never)),
    /// then plaintext if the requirement allows it.
    pub fn ladder(&self) -> Ladder {
        let mut ladder = Ladder::EMPTY;
        if self.requirement.encryption != super::requirement::Encryption::Never {
            for rung in [Rung::Modern, Rung::Tls12Only, Rung::Tls12Conservative] {
                if self.protocols_on(rung).is_some() {
                    ladder = ladder.with(rung);
                }
            }
        }
        if self.requirement.allows_plaintext() {
            ladder = ladder.with(Rung::Plaintext);
        }
        ladder
    }

    /// The first rung to try, `None` when nothing is allowed at all (TLS required but the
    /// protocols leave nothing: the host is unusable).
    pub fn first_rung(&self) -> Option<Rung> {
        // `ladder().first()`, stopping at the first rung allowed (strongest first).
        if self.requirement.encryption != super::requirement::Encryption::Never {
            for rung in [Rung::Modern, Rung::Tls12Only, Rung::Tls12Conservative] {
                if self.protocols_on(rung).is_some() {
                    return Some(rung);
                }
            }
        }
        self.requirement
            .allows_plaintext()
            .then_some(Rung::Plaintext)
    }

    /// The floor: the weakest rung this host may ever reach.
    pub fn floor(&self) -> Option<Rung> {
        self.ladder().floor()
    }

    /// The versions and suites allowed on `rung`; `None` for plaintext or when the rung
    /// leaves nothing. A rung that would offer exactly what a neighbour offers is left off the
    /// ladder (the modern rung without TLS 1.3, the conservative rung when it equals the TLS 1.2
    /// rung).
    pub fn protocols_on(&self, rung: Rung) -> Option<ProtocolPolicy> {
        let on = self.protocols.on_rung(rung)?;
        match rung {
            // Without TLS 1.3 the modern rung is the TLS 1.2 rung: name it so.
            Rung::Modern if !on.versions.contains(TlsVersion::Tls13) => None,
            Rung::Tls12Conservative if self.protocols.on_rung(Rung::Tls12Only) == Some(on) => None,
            _ => Some(on),
        }
    }

    /// What a [`DowngradeRefusal`](super::ladder::DowngradeRefusal) for `reason` tells the
    /// caller to do.
    pub fn refusal_action(&self, reason: &RefusalReason) -> FailureAction {
        match &self.on_failure {
            FailureAction::NextHost => FailureAction::NextHost,
            FailureAction::Defer(_) => FailureAction::Defer(reason.status()),
            other => other.clone(),
        }
    }
}

impl fmt::Display for HostPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} [{}]; ladder {}",
            self.host,
            self.port,
            self.requirement,
            self.level.unwrap_or_else(|| self.requirement.level()),
            self.ladder()
        )?;
        match &self.sni {
            Some(sni) => write!(f, "; SNI {sni}")?,
            None => f.write_str("; no SNI")?,
        }
        if self.requirement.encryption != super::requirement::Encryption::Never {
            write!(f, "; {}", self.protocols.versions)?;
        }
        if let Some(cert) = &self.client_certificate {
            write!(
                f,
                "; client certificate {}",
                cert.certificate_chain.display()
            )?;
        }
        write!(f, "; on failure: {}", self.on_failure)
    }
}

/// What the caller does when a host cannot be used or the whole plan fails.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FailureAction {
    /// Return the message to its sender (5.x.x).
    Bounce(Status),
    /// Keep the message queued and retry later (4.x.x).
    Defer(Status),
    /// Try the next candidate host.
    NextHost,
    /// Deliver in plaintext (only opportunistic plans, behind the ladder's gates).
    Plaintext,
}

impl fmt::Display for FailureAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bounce(status) => write!(f, "bounce ({status})"),
            Self::Defer(status) => write!(f, "defer ({status})"),
            Self::NextHost => f.write_str("next host"),
            Self::Plaintext => f.write_str("plaintext"),
        }
    }
}

/// A client certificate the local server presents (Exchange hybrid, certificate-based
/// connectors): file paths for the caller to load; the core reads no files.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientCertificate {
    /// PEM file with the certificate chain, leaf first.
    pub certificate_chain: PathBuf,
    /// PEM file with the private key.
    pub private_key: PathBuf,
}

impl ClientCertificate {
    /// A client certificate from its two paths.
    pub fn new(certificate_chain: impl Into<PathBuf>, private_key: impl Into<PathBuf>) -> Self {
        Self {
            certificate_chain: certificate_chain.into(),
            private_key: private_key.into(),
        }
    }
}

/// Finishes a plan: `on_failure` is "next host" for every host but the last, which defers.
/// Adds the failure rule to the trace.
pub(crate) fn finish(
    destination: Destination,
    source: PolicySource,
    mut hosts: Vec<HostPlan>,
    mut trace: Trace,
) -> Plan {
    let count = hosts.len();
    for (i, host) in hosts.iter_mut().enumerate() {
        host.on_failure = if i + 1 < count {
            FailureAction::NextHost
        } else {
            FailureAction::Defer(exhausted_status())
        };
        if host.first_rung().is_none() {
            trace.push(Rule::HostUnusable {
                host: host.host.clone(),
            });
        }
    }
    if count == 0 {
        trace.push(Rule::NoCandidateHosts);
    } else {
        trace.push(Rule::FailureOrder { hosts: count });
    }
    Plan {
        destination,
        source,
        hosts,
        trace,
    }
}

/// Whether the requirement needs the reference identifiers it got: a name check with no
/// name at all would accept nothing, so the plan says so.
pub(crate) fn lacks_names(requirement: &Requirement) -> bool {
    matches!(
        &requirement.authentication,
        Authentication::ChainAndName { reference_ids, .. } if reference_ids.is_empty()
    )
}

fn exhausted_status() -> Status {
    Status::new(451, (4, 4, 0), "TLS policy could not be met by any host")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> HostId {
        HostId::parse(text).unwrap()
    }

    #[test]
    fn ladders_follow_requirement_and_protocols() {
        use super::super::protocol::{SuiteSet, TlsVersion, VersionSet};
        use super::super::requirement::{AnchorSource, Encryption, Level};
        let may = HostPlan::new(host("mx.example.com"), 25, Requirement::opportunistic());
        assert_eq!(may.ladder().iter().collect::<Vec<_>>(), Rung::ALL.to_vec());
        let none = HostPlan::new(
            host("mx.example.com"),
            25,
            Level::None.requirement(vec![], vec![], AnchorSource::Public),
        );
        assert_eq!(none.ladder().iter().collect::<Vec<_>>(), [Rung::Plaintext]);
        let mut encrypt = HostPlan::new(
            host("mx.example.com"),
            25,
            Requirement::new(Encryption::Required, Authentication::None),
        );
        assert_eq!(encrypt.floor(), Some(Rung::Tls12Conservative));
        encrypt.protocols.versions = VersionSet::only(TlsVersion::Tls12);
        assert_eq!(
            encrypt.ladder().iter().collect::<Vec<_>>(),
            [Rung::Tls12Only, Rung::Tls12Conservative]
        );
        encrypt.protocols.versions = VersionSet::only(TlsVersion::Tls13);
        assert_eq!(encrypt.ladder().iter().collect::<Vec<_>>(), [Rung::Modern]);
        encrypt.protocols.suites = SuiteSet::CONSERVATIVE;
        assert_eq!(encrypt.first_rung(), None);
        assert_eq!(
            HostPlan::new(host("192.0.2.1"), 25, Requirement::opportunistic()).sni,
            None
        );
    }
}
