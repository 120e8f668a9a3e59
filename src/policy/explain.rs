//! The explanation trace: every rule that fired while planning, as data and as text.
//!
//! Each [`Rule`] is structured (match on it, serialise its fields) and prints as one line a
//! person can read. The DANE, MTA-STS and REQUIRETLS overlays add their own variants here and
//! push them onto the plan's trace.

use core::fmt;

use super::plan::{NameSource, SniStrategy};
use super::protocol::ProtocolPolicy;
use super::requirement::{Level, Requirement};
use crate::names::HostId;

/// The rules that fired for one plan, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    steps: Vec<Rule>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty trace with room for `capacity` rules.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            steps: Vec::with_capacity(capacity),
        }
    }

    /// Appends a rule.
    pub fn push(&mut self, rule: Rule) {
        self.steps.push(rule);
    }

    /// The rules, in the order they fired.
    pub fn steps(&self) -> &[Rule] {
        &self.steps
    }

    /// Whether any rule fired.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {rule}", i + 1)?;
        }
        Ok(())
    }
}

/// One rule that fired while planning.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A client certificate will be presented (hybrid connector).
    ClientCertificate {
        /// The connector that asks for it.
        connector: String,
    },
    /// An outbound connector matched the recipient domain.
    ConnectorMatched {
        /// The connector's name.
        connector: String,
        /// The `recipient_domains` entry that matched.
        pattern: String,
    },
    /// The connector's TLS settings mapped onto a requirement.
    ConnectorTlsSettings {
        /// The connector's name.
        connector: String,
        /// The setting as written (`encryption_only`, ..., or `opportunistic` when absent).
        settings: &'static str,
        /// The requirement it maps to (names still unresolved).
        requirement: Requirement,
    },
    /// Connection reuse is allowed (Postfix `connection_reuse=yes`).
    ConnectionReuse,
    /// The default level applied: no connector and no table entry matched.
    DefaultLevel {
        /// The level.
        level: Level,
    },
    /// `domain_validation` without `tls_domain`: the recipient domain is the reference
    /// identifier (Exchange Server semantics).
    DomainValidationDefault {
        /// The connector's name.
        connector: String,
        /// The recipient domain used.
        domain: String,
    },
    /// The plan for each host but the last says "next host", the last "defer".
    FailureOrder {
        /// How many candidate hosts there are.
        hosts: usize,
    },
    /// A host has no usable rung (TLS required, but the protocols leave nothing).
    HostUnusable {
        /// The host.
        host: HostId,
    },
    /// Where the certificate's reference identifiers come from.
    NameSources {
        /// The sources, in order.
        sources: Vec<NameSource>,
    },
    /// The destination has no candidate host (the caller resolved no MX yet).
    NoCandidateHosts,
    /// The allowed protocols differ from the default.
    Protocols {
        /// What is allowed.
        policy: ProtocolPolicy,
    },
    /// How the SNI name is chosen.
    ServerName {
        /// The strategy.
        strategy: SniStrategy,
    },
    /// A connector's smart hosts replace the MX hosts.
    SmartHosts {
        /// The connector's name.
        connector: String,
        /// How many smart hosts.
        count: usize,
    },
    /// A Postfix policy-table entry matched.
    TableEntry {
        /// The key that matched.
        key: String,
        /// The entry's line.
        line: u32,
        /// The entry's level.
        level: Level,
    },
    /// No Postfix policy-table entry matched any key tried.
    TableMiss {
        /// The next hop looked up.
        key: String,
        /// How many keys were tried (the next hop, then each `.parent`).
        tried: usize,
    },
    /// Trust-anchor files (`tafile=`) replace the public roots.
    TrustAnchorFiles {
        /// How many files.
        count: usize,
    },
    /// Something in the configuration mailtls cannot honour as written.
    Warning {
        /// The line (1-based), when the configuration is a text with lines.
        line: Option<u32>,
        /// What is not honoured, and what mailtls does instead.
        message: String,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCertificate { connector } => {
                write!(f, "connector {connector:?} presents a client certificate")
            }
            Self::ConnectorMatched { connector, pattern } => write!(
                f,
                "outbound connector {connector:?} matched the recipient domain (recipient_domains entry {pattern:?})"
            ),
            Self::ConnectorTlsSettings {
                connector,
                settings,
                requirement,
            } => write!(
                f,
                "connector {connector:?} tls_settings = {settings}: {requirement}"
            ),
            Self::ConnectionReuse => f.write_str("connection reuse allowed"),
            Self::DefaultLevel { level } => write!(
                f,
                "no connector or policy-table entry: default level {level}"
            ),
            Self::DomainValidationDefault { connector, domain } => write!(
                f,
                "connector {connector:?} has domain_validation without tls_domain: the certificate must match the recipient domain {domain}"
            ),
            Self::FailureOrder { hosts } if *hosts > 1 => write!(
                f,
                "on failure try the next of {hosts} hosts, then defer"
            ),
            Self::FailureOrder { .. } => f.write_str("on failure defer"),
            Self::HostUnusable { host } => write!(
                f,
                "host {host} is unusable: TLS is required but no protocol is left"
            ),
            Self::NameSources { sources } => {
                f.write_str("certificate names from ")?;
                for (i, source) in sources.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{source}")?;
                }
                Ok(())
            }
            Self::NoCandidateHosts => f.write_str("no candidate host yet (resolve the MX hosts)"),
            Self::Protocols { policy } => write!(f, "protocols restricted to {policy}"),
            Self::ServerName { strategy } => write!(f, "SNI: {strategy}"),
            Self::SmartHosts { connector, count } => write!(
                f,
                "connector {connector:?} routes through {count} smart host(s) instead of MX"
            ),
            Self::TableEntry { key, line, level } => {
                write!(f, "policy table entry {key:?} (line {line}): level {level}")
            }
            Self::TableMiss { key, tried: 1 } => {
                write!(f, "no policy table entry for {key}")
            }
            Self::TableMiss { key, tried } => write!(
                f,
                "no policy table entry for {key} or its parent domains ({tried} keys tried)"
            ),
            Self::TrustAnchorFiles { count } => {
                write!(f, "{count} trust-anchor file(s) replace the public roots")
            }
            Self::Warning {
                line: Some(line),
                message,
            } => write!(f, "warning (line {line}): {message}"),
            Self::Warning {
                line: None,
                message,
            } => write!(f, "warning: {message}"),
        }
    }
}
