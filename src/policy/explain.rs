//! The explanation trace: every rule that fired while planning, as data and as text.
//!
//! Each [`Rule`] is structured (match on it, serialise its fields) and prints as one line a
//! person can read. The DANE, MTA-STS and REQUIRETLS overlays add their own variants here and
//! push them onto the plan's trace.

use core::fmt;

use super::destination::{NameSource, SniStrategy};
use super::protocol::ProtocolPolicy;
use super::requirement::{Level, Requirement};
use super::requiretls::RequireTlsFailure;
use crate::names::HostId;

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
    /// A step of the precedence overlay (DANE, MTA-STS, REQUIRETLS, `TLS-Required: No` on top
    /// of the configuration).
    Precedence(Step),
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
            Self::Precedence(step) => write!(f, "{step}"),
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

/// A policy source in the precedence overlay, strongest first.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// REQUIRETLS on the envelope.
    RequireTls,
    /// The `TLS-Required: No` header field.
    TlsRequiredNo,
    /// DANE TLSA records.
    Dane,
    /// An MTA-STS policy.
    MtaSts,
    /// The configuration: connector, policy table or default level.
    Configuration(PolicySource),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequireTls => f.write_str("REQUIRETLS"),
            Self::TlsRequiredNo => f.write_str("TLS-Required: No"),
            Self::Dane => f.write_str("DANE"),
            Self::MtaSts => f.write_str("MTA-STS"),
            Self::Configuration(source) => write!(f, "{source}"),
        }
    }
}

/// One step of the precedence overlay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The host, or `None` for a destination-wide step.
    pub host: Option<HostId>,
    /// The source.
    pub source: Source,
    /// What became of it.
    pub outcome: StepOutcome,
    /// A sentence for people.
    pub detail: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}: ")?;
        }
        write!(f, "{} {}", self.source, self.outcome)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// What became of a source at one step.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// It was checked and allowed the result (REQUIRETLS).
    Allowed,
    /// It set the requirement.
    Decided,
    /// It had nothing to say.
    NotApplicable,
    /// A stronger source overruled it.
    Overruled {
        /// The source that overruled it.
        by: Source,
        /// Why.
        because: OverruleReason,
    },
    /// It skipped the host.
    Skipped,
    /// It is evaluated and reported, not enforced (MTA-STS `testing`).
    Testing,
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowed => f.write_str("allowed"),
            Self::Decided => f.write_str("decided"),
            Self::NotApplicable => f.write_str("not applicable"),
            Self::Overruled { by, because } => write!(f, "overruled by {by} ({because})"),
            Self::Skipped => f.write_str("skipped the host"),
            Self::Testing => f.write_str("testing, reported only"),
        }
    }
}

/// Why a stronger source overruled a weaker one.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverruleReason {
    /// `dane-only` on a destination whose MX RRset is provably unsigned is treated as `dane`
    /// (postfix-tlspol #8).
    DaneOnlyNeedsSignedDomain,
    /// `TLS-Required: No` sets the recipient's policies (DANE, MTA-STS) aside (RFC 8689 §5).
    TlsRequiredNoDropsRecipientPolicy,
    /// `TLS-Required: No` caps the configured level at `may`.
    TlsRequiredNoCaps {
        /// The level the configuration asked for.
        level: Level,
    },
    /// REQUIRETLS on the envelope cancels `TLS-Required: No` (RFC 8689 §5).
    RequireTlsCancelsTlsRequiredNo,
    /// DANE decides; MTA-STS never overrides it (RFC 8461 §2, postfix-mta-sts-resolver #67).
    DaneBeforeMtaSts,
    /// Unusable TLSA records ask only for encryption; MTA-STS `enforce` asks for more.
    MtaStsAboveDaneFloor,
    /// The result does not satisfy REQUIRETLS.
    RequireTls(RequireTlsFailure),
}

impl fmt::Display for OverruleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DaneOnlyNeedsSignedDomain => f.write_str(
                "dane-only needs a DNSSEC-signed domain; the MX RRset is not secure, so dane \
                 applies instead (postfix-tlspol #8)",
            ),
            Self::TlsRequiredNoDropsRecipientPolicy => {
                f.write_str("TLS-Required: No sets recipient policies aside")
            }
            Self::TlsRequiredNoCaps { level } => {
                write!(f, "TLS-Required: No caps {level} at may")
            }
            Self::RequireTlsCancelsTlsRequiredNo => {
                f.write_str("TLS-Required: No is ignored: the message requires TLS")
            }
            Self::DaneBeforeMtaSts => f.write_str(
                "DANE decides; MTA-STS never overrides DANE (RFC 8461 §2, \
                 postfix-mta-sts-resolver #67)",
            ),
            Self::MtaStsAboveDaneFloor => {
                f.write_str("unusable TLSA records ask only for encrypt; MTA-STS asks for more")
            }
            Self::RequireTls(failure) => write!(f, "{failure}"),
        }
    }
}
