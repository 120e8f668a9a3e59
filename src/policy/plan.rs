//! The plan: for one destination, what each candidate host needs, how to verify it, which
//! rungs it may use and what happens when it fails.
//!
//! [`Plan`] is the static answer from configuration (default level, Postfix policy table,
//! outbound connectors). The DANE, MTA-STS and REQUIRETLS overlays refine a plan's
//! [`HostPlan::requirement`] afterwards and append their own steps to its [`Trace`].

use core::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::explain::{Rule, Trace};
use super::ladder::{Ladder, RefusalReason, Rung};
use super::name_ref;
use super::protocol::{ProtocolPolicy, TlsVersion};
use super::requirement::{Authentication, Requirement};
use super::status::Status;
use crate::names::{Dialect, DnsName, HostId, NameError, NamePattern};

/// The SMTP port a next hop uses when it names none.
pub const DEFAULT_PORT: u16 = 25;

/// Where a message goes: the next hop (as Postfix writes it) and its candidate hosts.
///
/// The next hop is either a domain (`example.com`, MX lookup by the caller) or a literal host
/// in brackets (`[mail.example.com]`, `[192.0.2.1]`, no MX lookup), with an optional `:port`.
///
/// Cloning is cheap (the parts are shared), so a [`Plan`] keeps its own copy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    inner: Arc<DestinationParts>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DestinationParts {
    next_hop: HostId,
    literal: bool,
    port: Option<u16>,
    key: String,
    hosts: Vec<HostId>,
}

impl Destination {
    /// Parses a next hop: `example.com`, `example.com:2525`, `[mx.example.com]`,
    /// `[mx.example.com]:587`, `[relay.example]:submission`, `[192.0.2.1]`,
    /// `[ipv6:2001:db8::1]`. A service name becomes its port number (`smtp` 25, `submission`
    /// 587, `submissions`/`smtps` 465, `lmtp` 24), in the next hop and in policy-table keys
    /// alike, so either spelling finds the other. Names are normalised
    /// (lower-case A-labels, no trailing dot). A bracketed next hop has itself as its only
    /// candidate host.
    pub fn parse(next_hop: &str) -> Result<Self, DestinationError> {
        let invalid = |reason| DestinationError::Invalid {
            presented: next_hop.to_owned(),
            reason,
        };
        let name_error = |error| DestinationError::Name {
            presented: next_hop.to_owned(),
            error,
        };
        let (host, literal, port) =
            if let Some(rest) = next_hop.strip_prefix('[') {
                let (inside, after) = rest.split_once(']').ok_or_else(|| invalid("missing `]`"))?;
                let port =
                    match after {
                        "" => None,
                        _ => Some(after.strip_prefix(':').and_then(parse_port).ok_or_else(
                            || {
                                invalid(
                                "only `:port` (1 to 65535, or a mail service name) may follow `]`",
                            )
                            },
                        )?),
                    };
                (name_ref::host(inside).map_err(name_error)?, true, port)
            } else {
                let (name, port) = match next_hop.rsplit_once(':') {
                    Some((name, port)) => (
                        name,
                        Some(parse_port(port).ok_or_else(|| {
                            invalid("bad port (1 to 65535, or a mail service name)")
                        })?),
                    ),
                    None => (next_hop, None),
                };
                let name = name_ref::domain(name).map_err(name_error)?;
                (HostId::Dns(name), false, port)
            };
        let key = match (literal, port) {
            (true, Some(port)) => format!("[{host}]:{port}"),
            (true, None) => format!("[{host}]"),
            (false, Some(port)) => format!("{host}:{port}"),
            (false, None) => host.to_string(),
        };
        let hosts = if literal {
            vec![host.clone()]
        } else {
            Vec::new()
        };
        Ok(Self {
            inner: Arc::new(DestinationParts {
                next_hop: host,
                literal,
                port,
                key,
                hosts,
            }),
        })
    }

    /// A domain destination with its MX hosts (in preference order), on port 25.
    pub fn domain<I, S>(domain: &str, mx_hosts: I) -> Result<Self, DestinationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let dest = Self::parse(domain)?;
        if dest.inner.literal || dest.inner.port.is_some() {
            return Err(DestinationError::Invalid {
                presented: domain.to_owned(),
                reason: "a bare domain is expected here",
            });
        }
        dest.with_hosts(mx_hosts)
    }

    /// Replaces the candidate hosts (the MX hosts the caller resolved, preference order):
    /// host names or IP addresses.
    pub fn with_hosts<I, S>(mut self, hosts: I) -> Result<Self, DestinationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parts = Arc::make_mut(&mut self.inner);
        parts.hosts.clear();
        for host in hosts {
            let host = host.as_ref();
            parts.hosts.push(
                name_ref::host(host).map_err(|error| DestinationError::Name {
                    presented: host.to_owned(),
                    error,
                })?,
            );
        }
        Ok(self)
    }

    /// The next-hop domain or host, without brackets or port.
    pub fn next_hop(&self) -> &HostId {
        &self.inner.next_hop
    }

    /// The next-hop domain, when it is a name (not an address literal).
    pub fn next_hop_name(&self) -> Option<&DnsName> {
        match &self.inner.next_hop {
            HostId::Dns(name) => Some(name),
            HostId::Ip(_) => None,
        }
    }

    /// Whether the next hop was bracketed (`[host]`: no MX lookup).
    pub fn is_literal(&self) -> bool {
        self.inner.literal
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.inner.port.unwrap_or(DEFAULT_PORT)
    }

    /// Whether the next hop named its port explicitly.
    pub fn has_explicit_port(&self) -> bool {
        self.inner.port.is_some()
    }

    /// The normalised next hop as Postfix writes it (`[host]:port`): the policy-table key.
    pub fn lookup_key(&self) -> &str {
        &self.inner.key
    }

    /// The candidate hosts, preference order.
    pub fn hosts(&self) -> &[HostId] {
        &self.inner.hosts
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.key)
    }
}

/// Why a destination was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// The text is not a next hop.
    #[error("{presented:?} is not a valid next hop: {reason}")]
    Invalid {
        /// The text as presented.
        presented: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The name or address in it is not valid.
    #[error("{presented:?} is not a valid next hop or host: {error}")]
    Name {
        /// The text as presented.
        presented: String,
        /// What the name parser said.
        error: NameError,
    },
}

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

/// Which configuration decided a plan.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// An outbound connector, by name.
    Connector(String),
    /// The default level (no table entry, no connector).
    Default,
    /// A Postfix policy-table entry: its key and line.
    PostfixTable {
        /// The key that matched (the next hop or a `.parent` domain).
        key: String,
        /// The line of the entry in the table text (1-based).
        line: u32,
    },
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connector(name) => write!(f, "outbound connector {name:?}"),
            Self::Default => f.write_str("the default level"),
            Self::PostfixTable { key, line } => {
                write!(f, "policy table entry {key:?} at line {line}")
            }
        }
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
        self.ladder().first()
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
            self.requirement.level(),
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

/// How the SNI name is chosen (Postfix `servername=` / `smtp_tls_servername`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SniStrategy {
    /// The candidate host's name (none for an address).
    Hostname,
    /// A fixed name.
    Literal(DnsName),
    /// The next-hop domain.
    NextHop,
    /// No SNI.
    None,
}

impl SniStrategy {
    /// The SNI for `host` under this strategy.
    pub fn resolve(&self, host: &HostId, destination: &Destination) -> Option<DnsName> {
        match self {
            Self::Hostname => host_sni(host),
            Self::Literal(name) => Some(name.clone()),
            Self::NextHop => host_sni(destination.next_hop()),
            Self::None => None,
        }
    }
}

impl fmt::Display for SniStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hostname => f.write_str("hostname"),
            Self::Literal(name) => write!(f, "{name}"),
            Self::NextHop => f.write_str("nexthop"),
            Self::None => f.write_str("none"),
        }
    }
}

/// Where a certificate reference identifier comes from (Postfix `match=` strategies, or a
/// fixed pattern such as an Exchange `TlsDomain`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// `dot-nexthop`: any name below the next-hop domain (`.example.com`).
    DotNextHop,
    /// `hostname`: the candidate host's name.
    Hostname,
    /// `nexthop`: the next-hop domain.
    NextHop,
    /// A fixed pattern, in its own dialect.
    Pattern(NamePattern),
}

impl NameSource {
    /// The reference identifier for `host` of `destination`, read in `dialect` (the fixed
    /// pattern keeps its own); `None` when the strategy gives no name (the host or next hop is
    /// an address, or `dot-nexthop` outside the Postfix dialect).
    pub fn resolve(
        &self,
        host: &HostId,
        destination: &Destination,
        dialect: Dialect,
    ) -> Option<NamePattern> {
        let exact = |id: &HostId| match id {
            HostId::Dns(name) => Some(name_ref::exact(name, dialect)),
            HostId::Ip(_) => None,
        };
        match self {
            Self::Hostname => exact(host),
            Self::NextHop => exact(destination.next_hop()),
            Self::DotNextHop if dialect == Dialect::PostfixMatch => {
                destination.next_hop_name().and_then(name_ref::below)
            }
            Self::DotNextHop => None,
            Self::Pattern(pattern) => Some(pattern.clone()),
        }
    }
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DotNextHop => f.write_str("dot-nexthop"),
            Self::Hostname => f.write_str("hostname"),
            Self::NextHop => f.write_str("nexthop"),
            Self::Pattern(id) => write!(f, "{id}"),
        }
    }
}

/// Resolves the name sources of a requirement template, host by host: names that come from
/// the next hop are the same for every host, so they are resolved once.
pub(crate) struct NameResolver<'a> {
    sources: &'a [NameSource],
    shared: Vec<Option<NamePattern>>,
    dialect: Dialect,
}

impl<'a> NameResolver<'a> {
    /// Resolves what does not depend on the host.
    pub(crate) fn new(
        sources: &'a [NameSource],
        destination: &Destination,
        dialect: Dialect,
    ) -> Self {
        let shared = sources
            .iter()
            .map(|source| match source {
                NameSource::Hostname => None,
                other => other.resolve(destination.next_hop(), destination, dialect),
            })
            .collect();
        Self {
            sources,
            shared,
            dialect,
        }
    }

    /// The reference identifiers for `host`: every source that gives a name, duplicates
    /// removed, in order.
    pub(crate) fn for_host(&self, host: &HostId) -> Vec<NamePattern> {
        let mut out: Vec<NamePattern> = Vec::with_capacity(self.sources.len());
        for (source, shared) in self.sources.iter().zip(&self.shared) {
            let id = match (source, host) {
                (NameSource::Hostname, HostId::Dns(name)) => {
                    Some(name_ref::exact(name, self.dialect))
                }
                (NameSource::Hostname, HostId::Ip(_)) => None,
                _ => shared.clone(),
            };
            if let Some(id) = id {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
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

fn host_sni(host: &HostId) -> Option<DnsName> {
    match host {
        HostId::Dns(name) => Some(name.clone()),
        HostId::Ip(_) => None,
    }
}

/// A port number (1 to 65535) or one of the mail service names Postfix next hops and policy
/// tables use (`[relay.example]:submission`, `example.com:smtp`), as `/etc/services` and the
/// IANA registry number them. The core reads no services file, so the list is fixed.
fn parse_port(text: &str) -> Option<u16> {
    const SERVICES: [(&str, u16); 5] = [
        ("smtp", 25),
        ("submission", 587),
        ("submissions", 465),
        ("smtps", 465),
        ("lmtp", 24),
    ];
    if let Some((_, port)) = SERVICES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Some(*port);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> HostId {
        HostId::parse(text).unwrap()
    }

    #[test]
    fn next_hops_parse_to_postfix_keys() {
        let table = [
            (
                "example.com",
                Some(("example.com", false, 25, "example.com")),
            ),
            (
                "Example.COM.",
                Some(("example.com", false, 25, "example.com")),
            ),
            (
                "example.com:2525",
                Some(("example.com", false, 2525, "example.com:2525")),
            ),
            (
                "[mx.example.com]",
                Some(("mx.example.com", true, 25, "[mx.example.com]")),
            ),
            (
                "[mx.example.com]:587",
                Some(("mx.example.com", true, 587, "[mx.example.com]:587")),
            ),
            ("[192.0.2.1]", Some(("192.0.2.1", true, 25, "[192.0.2.1]"))),
            (
                "[ipv6:2001:DB8::1]",
                Some(("2001:db8::1", true, 25, "[2001:db8::1]")),
            ),
            ("[mx.example.com", None),
            ("[mx.example.com]x", None),
            ("example.com:0", None),
            ("example.com:99999", None),
            ("exa mple.com", None),
            ("", None),
        ];
        for (text, expected) in table {
            let got = Destination::parse(text).ok();
            let got = got.as_ref().map(|d| {
                (
                    d.next_hop().to_string(),
                    d.is_literal(),
                    d.port(),
                    d.lookup_key(),
                )
            });
            let expected = expected.map(|(a, b, c, d)| (a.to_owned(), b, c, d));
            assert_eq!(got, expected, "{text}");
        }
        let literal = Destination::parse("[mx.example.com]").unwrap();
        assert_eq!(literal.hosts(), [host("mx.example.com")]);
        assert!(Destination::domain("[x.example]", ["a"]).is_err());
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

    #[test]
    fn name_sources_resolve_per_host() {
        let dest = Destination::domain("example.com", ["mx1.example.net"]).unwrap();
        let sources = [
            NameSource::NextHop,
            NameSource::DotNextHop,
            NameSource::Hostname,
            NameSource::NextHop,
        ];
        let mx = host("mx1.example.net");
        let ids = NameResolver::new(&sources, &dest, Dialect::PostfixMatch).for_host(&mx);
        let got: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["example.com", ".example.com", "mx1.example.net"]);
        let dane = NameResolver::new(&sources, &dest, Dialect::DaneTa).for_host(&mx);
        assert_eq!(dane.len(), 2);
        assert!(dane.iter().all(|p| p.dialect() == Dialect::DaneTa));
        let literal = Destination::parse("[192.0.2.1]").unwrap();
        let ip = host("192.0.2.1");
        assert!(NameResolver::new(&sources, &literal, Dialect::PostfixMatch)
            .for_host(&ip)
            .is_empty());
    }
}
