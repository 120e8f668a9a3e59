//! Destinations, and the names taken from them: the next hop and its candidate hosts, where
//! a certificate's reference identifiers come from ([`NameSource`]) and how the SNI name is
//! chosen ([`SniStrategy`]).
//!
//! Re-exported by [`plan`](super::plan), the public home of these types. They live apart from
//! the plan so that the explanation trace can name a name source or an SNI strategy without
//! importing the plan that carries the trace.

use core::fmt;
use std::sync::Arc;

use super::name_ref;
use crate::names::{Dialect, DnsName, HostId, NameError, NamePattern};

/// The SMTP port a next hop uses when it names none.
pub const DEFAULT_PORT: u16 = 25;

/// Where a message goes: the next hop (as Postfix writes it) and its candidate hosts.
///
/// The next hop is either a domain (`example.com`, MX lookup by the caller) or a literal host
/// in brackets (`[mail.example.com]`, `[192.0.2.1]`, no MX lookup), with an optional `:port`.
///
/// Cloning is cheap (the parts are shared), so a [`Plan`](super::plan::Plan) keeps its own copy.
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

pub(super) fn host_sni(host: &HostId) -> Option<DnsName> {
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
