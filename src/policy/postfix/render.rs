//! The other direction of the policy table: a plan or a decision rendered back into the value a
//! Postfix `smtp_tls_policy_maps` lookup returns (`secure match=... servername=hostname`,
//! `dane-only`, `fingerprint match=...`, ...), for a policy server such as `mailtls policyd`.
//!
//! Postfix asks once per next hop and applies the value to every MX host it then finds, so the
//! value is host-independent: a host's own name becomes the strategy `hostname`, the next hop
//! `nexthop`, names below it `dot-nexthop`. Postfix's syntax cannot say everything a decision
//! says; where it cannot, the answer is never weaker than the decision:
//!
//! - a lookup that failed (DANE bogus or temporary, MTA-STS discovery failed) on any host is a
//!   [`PolicyAnswer::Defer`] (`TEMP`), never a lower level;
//! - a requirement Postfix cannot state (a chain check without a name check, pins that are not
//!   SHA-256) is [`PolicyAnswer::Unexpressible`] (`PERM`: Postfix defers too);
//! - DANE decided by mailtls's own discovery is `dane-only`: Postfix then insists on DANE even
//!   if its own resolver does not validate, where `dane` would quietly fall back to `may`;
//! - an MTA-STS `*.example.net` pattern is one label; Postfix's `.example.net` is any depth.
//!   The value says `.example.net` (the nearest Postfix can write) and a note says so; with
//!   [`RenderOptions::tlsrpt`] the `mx_host_pattern=` attributes carry the exact patterns, which
//!   Postfix 3.10.5+ enforces itself (`smtp_tls_enforce_sts_mx_patterns`).
//!
//! A destination no connector or table entry matches (the plan's source is the default level)
//! and that no DANE or MTA-STS answer decided is [`PolicyAnswer::NotFound`]: Postfix applies its
//! own `smtp_tls_security_level`.

use core::fmt;
use std::path::PathBuf;

use super::lookup::LookupReply;
use crate::cert::{Pin, PinDigest};
use crate::names::{Dialect, DnsName, HostId, NamePattern};
use crate::policy::destination::{Destination, SniStrategy};
use crate::policy::explain::{PolicySource, Source};
use crate::policy::plan::{HostPlan, Plan};
use crate::policy::precedence::{Decision, HostAction, HostDecision};
use crate::policy::protocol::{SuiteSet, TlsVersion, VersionSet};
use crate::policy::requirement::{AnchorSource, Authentication, Encryption, Level};
use crate::tlsrpt::{PolicyRef, PolicyType, ResultType};

/// How values are rendered.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Add Postfix 3.10's TLSRPT attributes (`policy_type`, `policy_domain`,
    /// `mx_host_pattern`, `policy_string`) to MTA-STS values. Postfix before 3.10 refuses an
    /// entry with them, so it is off by default.
    pub tlsrpt: bool,
}

impl RenderOptions {
    /// The options with TLSRPT attributes on or off.
    #[must_use]
    pub const fn with_tlsrpt(mut self, tlsrpt: bool) -> Self {
        self.tlsrpt = tlsrpt;
        self
    }
}

/// What a policy server answers for one next hop.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAnswer {
    /// A policy value.
    Value(PolicyValue),
    /// Nothing specific: Postfix applies its own default level.
    NotFound,
    /// A lookup failed or the policy cannot be met now: Postfix defers (`TEMP`).
    Defer(String),
    /// The decision cannot be written in Postfix's syntax without weakening it (`PERM`: Postfix
    /// defers too, and logs a table problem).
    Unexpressible(String),
}

impl PolicyAnswer {
    /// The reply on the wire.
    pub fn reply(&self) -> LookupReply {
        match self {
            Self::Value(value) => LookupReply::Found(value.to_string()),
            Self::NotFound => LookupReply::NotFound,
            Self::Defer(reason) => LookupReply::TempFail(reason.clone()),
            Self::Unexpressible(reason) => LookupReply::PermFail(reason.clone()),
        }
    }

    /// The answer for a plan from configuration only (connectors, table, default level), with
    /// no discovery answers: Postfix does its own DANE (`dane` and `dane-only` are passed on as
    /// configured) and knows nothing of MTA-STS. The plan needs at least one host; for a bare
    /// domain whose MX hosts are unknown, plan it with any placeholder host (its name only ever
    /// becomes the strategy `hostname`).
    pub fn for_plan(plan: &Plan, options: &RenderOptions) -> Self {
        if plan.source == PolicySource::Default {
            return Self::NotFound;
        }
        let answers: Vec<Self> = plan
            .hosts
            .iter()
            .map(|host| configured(host, &plan.destination))
            .collect();
        let _ = options;
        combine(answers)
    }

    /// The answer for a decision with discovery answers (DANE, MTA-STS). Hosts decided by the
    /// configuration are rendered from `configured` (the same destination planned with
    /// placeholder hosts: see [`PolicyAnswer::for_plan`]), so a configured name that happens
    /// to equal one MX host's name is never mistaken for the strategy `hostname`.
    pub fn for_decision(configured: &Plan, decision: &Decision, options: &RenderOptions) -> Self {
        let config_answer = || Self::for_plan(configured, options);
        let mut answers = Vec::with_capacity(decision.hosts.len());
        for (host, verdict) in decision.pairs() {
            answers.push(match decided(host, verdict, options) {
                Some(answer) => answer,
                None => config_answer(),
            });
        }
        if answers.is_empty() {
            return config_answer();
        }
        combine(answers)
    }
}

impl fmt::Display for PolicyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reply())
    }
}

/// A Postfix policy value: a level and its attributes.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyValue {
    /// The level.
    pub level: Level,
    /// `match=` items: names and strategies (`verify`, `secure`) or digests (`fingerprint`).
    pub matches: Vec<String>,
    /// `tafile=` paths.
    pub tafiles: Vec<PathBuf>,
    /// The TLS versions, when not both of TLS 1.2 and 1.3.
    pub versions: Option<VersionSet>,
    /// Suites to `exclude=` (OpenSSL names).
    pub exclude: Vec<&'static str>,
    /// `servername=`.
    pub servername: Option<SniStrategy>,
    /// The MTA-STS policy, for the TLSRPT attributes (rendered only when set).
    pub tlsrpt: Option<PolicyRef>,
    /// Where Postfix's value is wider than the decision, in words (never on the wire).
    pub notes: Vec<String>,
}

impl PolicyValue {
    fn new(level: Level) -> Self {
        Self {
            level,
            matches: Vec::new(),
            tafiles: Vec::new(),
            versions: None,
            exclude: Vec::new(),
            servername: None,
            tlsrpt: None,
            notes: Vec::new(),
        }
    }

    /// How strong the level is, for choosing among hosts that disagree.
    fn rank(&self) -> u8 {
        match self.level {
            Level::None => 0,
            Level::May => 1,
            Level::Dane => 2,
            Level::Encrypt => 3,
            Level::Verify => 4,
            Level::Secure | Level::Fingerprint => 5,
            Level::DaneOnly => 6,
        }
    }
}

impl fmt::Display for PolicyValue {
    /// The value as a policy table or `postmap -q` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.level.as_str())?;
        if !self.matches.is_empty() {
            let separator = if self.level == Level::Fingerprint {
                "|"
            } else {
                ":"
            };
            write!(f, " match={}", self.matches.join(separator))?;
        }
        for file in &self.tafiles {
            attribute(f, "tafile", &file.display().to_string())?;
        }
        if let Some(versions) = self.versions {
            let text = match (
                versions.contains(TlsVersion::Tls12),
                versions.contains(TlsVersion::Tls13),
            ) {
                (true, false) => ">=TLSv1.2:<=TLSv1.2",
                _ => ">=TLSv1.3",
            };
            write!(f, " protocols={text}")?;
        }
        if !self.exclude.is_empty() {
            write!(f, " exclude={}", self.exclude.join(":"))?;
        }
        if let Some(sni) = &self.servername {
            write!(f, " servername={sni}")?;
        }
        if let Some(policy) = &self.tlsrpt {
            write!(
                f,
                " policy_type={} policy_domain={}",
                policy.policy_type.as_str(),
                policy.policy_domain
            )?;
            for pattern in &policy.mx_host {
                write!(f, " mx_host_pattern={pattern}")?;
            }
            for line in &policy.policy_string {
                attribute(f, "policy_string", line)?;
            }
        }
        Ok(())
    }
}

/// ` name=value`, or ` { name = value }` when the value holds whitespace.
fn attribute(f: &mut fmt::Formatter<'_>, name: &str, value: &str) -> fmt::Result {
    if value.chars().any(char::is_whitespace) {
        write!(f, " {{ {name} = {value} }}")
    } else {
        write!(f, " {name}={value}")
    }
}

/// Chooses one answer for all hosts: any deferral defers (a failed lookup never lowers the
/// answer), then any unexpressible requirement, then the strongest value.
fn combine(answers: Vec<PolicyAnswer>) -> PolicyAnswer {
    let mut best: Option<PolicyValue> = None;
    let mut unexpressible = None;
    let mut not_found = false;
    for answer in answers {
        match answer {
            PolicyAnswer::Defer(reason) => return PolicyAnswer::Defer(reason),
            PolicyAnswer::Unexpressible(reason) => unexpressible = Some(reason),
            PolicyAnswer::NotFound => not_found = true,
            PolicyAnswer::Value(value) => match &mut best {
                Some(current) if value.rank() > current.rank() => {
                    let mut value = value;
                    value
                        .notes
                        .push(format!("another MX host alone would get: {current}"));
                    *current = value;
                }
                Some(current) if value != *current => {
                    current
                        .notes
                        .push(format!("another MX host alone would get: {value}"));
                }
                Some(_) => {}
                None => best = Some(value),
            },
        }
    }
    if let Some(reason) = unexpressible {
        return PolicyAnswer::Unexpressible(reason);
    }
    match best {
        Some(value) => PolicyAnswer::Value(value),
        None if not_found => PolicyAnswer::NotFound,
        None => PolicyAnswer::Defer("no candidate host".into()),
    }
}

/// What DANE or MTA-STS decided for a host, or `None` when the configuration decided.
fn decided(host: &HostPlan, verdict: &HostDecision, options: &RenderOptions) -> Option<PolicyAnswer> {
    match (&verdict.action, &verdict.decided_by) {
        // The MX host matches no pattern: Postfix, given the policy, refuses it too.
        (
            HostAction::Skip {
                result_type: Some(ResultType::ValidationFailure),
                ..
            },
            Source::MtaSts,
        ) => Some(sts_value(&verdict.report_policy, options)),
        (HostAction::Skip { status, .. }, _) => Some(PolicyAnswer::Defer(format!(
            "{}: {}",
            verdict.decided_by,
            status.text()
        ))),
        (HostAction::Connect, Source::MtaSts) => Some(sts_value(&verdict.report_policy, options)),
        (HostAction::Connect, Source::Dane) => match &host.requirement.authentication {
            Authentication::Tlsa(_) => Some(PolicyAnswer::Value(PolicyValue::new(Level::DaneOnly))),
            _ => None,
        },
        (HostAction::Connect, _) => match (&host.requirement.encryption, verdict.report_policy.policy_type) {
            // Secure TLSA records, all unusable: DANE raised the floor to encrypt.
            (Encryption::Required, PolicyType::Tlsa) if !host.requirement.authentication.verifies() => {
                Some(PolicyAnswer::Value(PolicyValue::new(Level::Encrypt)))
            }
            _ => None,
        },
    }
}

/// The MTA-STS `enforce` value: `secure` with the `mx` patterns as names, SNI the host name.
fn sts_value(policy: &PolicyRef, options: &RenderOptions) -> PolicyAnswer {
    let mut value = PolicyValue::new(Level::Secure);
    for pattern in &policy.mx_host {
        match NamePattern::parse(pattern, Dialect::MtaStsMx) {
            Ok(parsed) => push_pattern(&mut value, &parsed),
            Err(e) => {
                return PolicyAnswer::Defer(format!("MTA-STS mx pattern {pattern}: {e}"));
            }
        }
    }
    if value.matches.is_empty() {
        return PolicyAnswer::Defer("MTA-STS policy without mx patterns".into());
    }
    value.servername = Some(SniStrategy::Hostname);
    if options.tlsrpt {
        value.tlsrpt = Some(policy.clone());
    }
    PolicyAnswer::Value(value)
}

/// The configuration's requirement for one host, host-independent.
fn configured(host: &HostPlan, destination: &Destination) -> PolicyAnswer {
    let requirement = &host.requirement;
    if requirement.encryption == Encryption::Never {
        return PolicyAnswer::Value(PolicyValue::new(Level::None));
    }
    let mut value = match &requirement.authentication {
        Authentication::None => PolicyValue::new(match requirement.encryption {
            Encryption::Required => Level::Encrypt,
            _ => Level::May,
        }),
        Authentication::Dane(dane) => PolicyValue::new(if dane.mandatory {
            Level::DaneOnly
        } else {
            Level::Dane
        }),
        Authentication::Tlsa(_) => PolicyValue::new(Level::DaneOnly),
        Authentication::Pins(pins) => match fingerprint(pins) {
            Ok(value) => value,
            Err(reason) => return PolicyAnswer::Unexpressible(reason),
        },
        Authentication::Chain(_) => {
            return PolicyAnswer::Unexpressible(
                "a certificate chain check without a name check cannot be written as a Postfix policy"
                    .into(),
            )
        }
        Authentication::ChainAndName {
            trust,
            reference_ids,
        } => {
            let level = match host.level {
                Some(Level::Verify) => Level::Verify,
                _ => Level::Secure,
            };
            let mut value = PolicyValue::new(level);
            for id in reference_ids {
                match strategy(id, &host.host, destination) {
                    Some(word) => push_unique(&mut value.matches, word.to_owned()),
                    None => push_pattern(&mut value, id),
                }
            }
            if value.matches.is_empty() {
                return PolicyAnswer::Unexpressible(
                    "no certificate name can be derived for this next hop".into(),
                );
            }
            if let AnchorSource::Files(files) = trust {
                value.tafiles.clone_from(files);
            }
            value
        }
    };
    if !matches!(value.level, Level::Dane | Level::DaneOnly) {
        if host.protocols.versions != VersionSet::ALL && !host.protocols.versions.is_empty() {
            value.versions = Some(host.protocols.versions);
        }
        value.exclude = SuiteSet::ALL
            .iter()
            .filter(|suite| !host.protocols.suites.contains(*suite))
            .map(|suite| suite.openssl_name())
            .collect();
        value.servername = match (&host.sni, &host.host) {
            (None, _) => None,
            (Some(sni), HostId::Dns(name)) if sni == name => Some(SniStrategy::Hostname),
            (Some(sni), _) if Some(sni) == destination.next_hop_name() => {
                Some(SniStrategy::NextHop)
            }
            (Some(sni), _) => Some(SniStrategy::Literal(sni.clone())),
        };
    }
    PolicyAnswer::Value(value)
}

/// The `match=` strategy a resolved name came from, if it came from one.
fn strategy(id: &NamePattern, host: &HostId, destination: &Destination) -> Option<&'static str> {
    let next_hop = destination.next_hop_name();
    if let Some(name) = id.as_exact() {
        if matches!(host, HostId::Dns(h) if h == name) {
            return Some("hostname");
        }
        if next_hop == Some(name) {
            return Some("nexthop");
        }
        return None;
    }
    let dot_form = id.to_string().starts_with('.');
    (dot_form && id.dialect() == Dialect::PostfixMatch && next_hop == Some(id.suffix()))
        .then_some("dot-nexthop")
}

/// Adds a fixed pattern in Postfix `match=` syntax: `name` exact, `.name` one or more labels
/// below. Patterns of other dialects are translated; where Postfix can only say more (an
/// MTA-STS or RFC 9525 `*.name` is exactly one label), a note says so.
fn push_pattern(value: &mut PolicyValue, id: &NamePattern) {
    let suffix: &DnsName = id.suffix();
    if id.as_exact().is_some() {
        push_unique(&mut value.matches, suffix.as_str().to_owned());
        return;
    }
    let below = format!(".{}", suffix.as_str());
    match id.dialect() {
        // `*.name`: the name and everything below it.
        Dialect::ExchangeConnector => {
            push_unique(&mut value.matches, suffix.as_str().to_owned());
            push_unique(&mut value.matches, below);
        }
        Dialect::PostfixMatch | Dialect::PostfixCertificate => {
            push_unique(&mut value.matches, below);
        }
        _ => {
            value.notes.push(format!(
                "{id} is one label below {suffix}; Postfix's {below} also matches deeper names"
            ));
            push_unique(&mut value.matches, below);
        }
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `fingerprint match=...` from pins: only SHA-256 digests (Postfix's default
/// `smtp_tls_fingerprint_digest`); others would never match there, so they are left out, and
/// a pin set with none left cannot be written.
fn fingerprint(pins: &[Pin]) -> Result<PolicyValue, String> {
    let mut value = PolicyValue::new(Level::Fingerprint);
    for pin in pins {
        if pin.digest() == PinDigest::Sha256 {
            value.matches.push(colon_hex(pin.value()));
        } else {
            value.notes.push(format!(
                "a {} pin is left out: Postfix compares SHA-256 digests",
                pin.digest()
            ));
        }
    }
    if value.matches.is_empty() {
        return Err("no SHA-256 pin: Postfix's fingerprint level could never match".into());
    }
    Ok(value)
}

fn colon_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}
