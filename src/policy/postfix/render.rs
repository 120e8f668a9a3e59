//! The other direction of the policy table: a plan or a decision rendered back into the value a
//! Postfix `smtp_tls_policy_maps` lookup returns (`secure match=... servername=hostname`,
//! `dane-only`, `fingerprint match=...`, ...), for a policy server such as `mailtls policyd`.
//!
//! Postfix asks once per next hop and applies the value to every MX host it then finds, so the
//! value is host-independent: a host's own name becomes the strategy `hostname`; names from
//! the next hop are written out, as the next hop is the lookup key. Postfix's syntax cannot say everything a decision
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
    /// `mx_host_pattern`, `policy_string`, and `policy_failure` when the policy already
    /// failed) to MTA-STS values. Postfix before 3.10 refuses an entry with them, so it is
    /// off by default.
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
        let mut answer = combine(answers);
        if let (Some(failure), PolicyAnswer::Value(value)) =
            (sts_failed_everywhere(decision), &mut answer)
        {
            if value.tlsrpt.is_some() {
                value.policy_failure = Some(failure);
            }
        }
        answer
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
    /// Postfix 3.10's `policy_failure=`: the MTA-STS policy already failed for every MX
    /// host (none matches its `mx` patterns), so Postfix fails the enforcement with this
    /// RFC 8460 result type whatever certificate a host shows, and reports it. Rendered only
    /// with [`tlsrpt`](Self::tlsrpt).
    pub policy_failure: Option<ResultType>,
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
            policy_failure: None,
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
            if let Some(failure) = self.policy_failure {
                write!(f, " policy_failure={}", failure.as_str())?;
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
fn decided(
    host: &HostPlan,
    verdict: &HostDecision,
    options: &RenderOptions,
) -> Option<PolicyAnswer> {
    match (&verdict.action, &verdict.decided_by) {
        // The MX host matches no pattern: Postfix, given the policy, refuses it too.
        (
            HostAction::Skip {
                result_type: Some(ResultType::ValidationFailure),
                ..
            },
            Source::MtaSts,
        ) => Some(sts_value(&verdict.report_policy, options)),
        (HostAction::Skip { status, .. }, _) => Some(PolicyAnswer::Defer(status.text().to_owned())),
        (HostAction::Connect, Source::MtaSts) => Some(sts_value(&verdict.report_policy, options)),
        (HostAction::Connect, Source::Dane) => match &host.requirement.authentication {
            Authentication::Tlsa(_) => Some(PolicyAnswer::Value(PolicyValue::new(Level::DaneOnly))),
            _ => None,
        },
        (HostAction::Connect, _) => match (
            &host.requirement.encryption,
            verdict.report_policy.policy_type,
        ) {
            // Secure TLSA records, all unusable: DANE raised the floor to encrypt.
            (Encryption::Required, PolicyType::Tlsa)
                if !host.requirement.authentication.verifies() =>
            {
                Some(PolicyAnswer::Value(PolicyValue::new(Level::Encrypt)))
            }
            _ => None,
        },
    }
}

/// The RFC 8460 result type when MTA-STS refused every host (none matches the policy's `mx`
/// patterns): no delivery can comply, whatever certificate a host shows.
fn sts_failed_everywhere(decision: &Decision) -> Option<ResultType> {
    let mut failure = None;
    for (_, verdict) in decision.pairs() {
        match (&verdict.action, &verdict.decided_by) {
            (
                HostAction::Skip {
                    result_type: Some(result_type),
                    ..
                },
                Source::MtaSts,
            ) => failure = Some(*result_type),
            _ => return None,
        }
    }
    failure
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
        Authentication::Chain(_) => return PolicyAnswer::Unexpressible(
            "a certificate chain check without a name check cannot be written as a Postfix policy"
                .into(),
        ),
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
                if is_hostname(id, &host.host) {
                    push_unique(&mut value.matches, "hostname".to_owned());
                } else {
                    push_pattern(&mut value, id);
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

/// Whether a resolved name is the host's own name: Postfix's `hostname` strategy. Names from
/// the next hop are written out (`example.com:.example.com`): the next hop is the lookup key,
/// so they are host-independent already.
fn is_hostname(id: &NamePattern, host: &HostId) -> bool {
    matches!((id.as_exact(), host), (Some(name), HostId::Dns(h)) if h == name)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::connector::Connectors;
    use crate::policy::dane::{DnssecStatus, TlsaSet};
    use crate::policy::mta_sts::{StsLookup, StsPolicy};
    use crate::policy::outbound::{explain, OutboundPolicy};
    use crate::policy::postfix::PolicyTable;
    use crate::policy::precedence::{self, HostTlsa, PrecedenceInputs};
    use crate::policy::requiretls::MessageTls;

    const PLACEHOLDER: &str = "mx.placeholder.invalid";

    const TABLE: &str = "\
partner.test        secure match=mx.partner.test servername=hostname
[relay.example]:587 fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA
.sub.example        verify
secure.example      secure
dane.example        dane
daneonly.example    dane-only
plain.example       none
tls12.example       encrypt protocols=<=TLSv1.2
anchored.example    secure match=nexthop tafile=/etc/postfix/partner-ca.pem
";

    const CONNECTORS: &str = "\
[[outbound]]
name = \"Contoso\"
recipient_domains = [\"contoso.com\"]
tls_settings = \"domain_validation\"
tls_domain = \"*.contoso.com\"

[[outbound]]
name = \"Fabrikam\"
recipient_domains = [\"fabrikam.test\"]
tls_settings = \"encryption_only\"

[[outbound]]
name = \"Chain only\"
recipient_domains = [\"chain.test\"]
tls_settings = \"certificate_validation\"
";

    fn policy() -> OutboundPolicy {
        OutboundPolicy::new()
            .with_table(PolicyTable::parse(TABLE).unwrap())
            .with_connectors(Connectors::from_toml(CONNECTORS).unwrap())
    }

    fn configured(next_hop: &str) -> Plan {
        let dest = Destination::parse(next_hop).unwrap();
        let dest = if dest.is_literal() {
            dest
        } else {
            dest.with_hosts([PLACEHOLDER]).unwrap()
        };
        explain(&policy(), &dest)
    }

    fn answer(next_hop: &str) -> String {
        PolicyAnswer::for_plan(&configured(next_hop), &RenderOptions::default()).to_string()
    }

    /// Configuration only: every table level and connector setting, as Postfix reads it.
    #[test]
    fn configuration_answers() {
        let vectors = [
            ("partner.test", "OK secure match=mx.partner.test servername=hostname"),
            (
                "[relay.example]:587",
                "OK fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA servername=hostname",
            ),
            ("a.b.sub.example", "OK verify match=hostname servername=hostname"),
            (
                "secure.example",
                "OK secure match=secure.example:.secure.example servername=hostname",
            ),
            ("dane.example", "OK dane"),
            ("daneonly.example", "OK dane-only"),
            ("plain.example", "OK none"),
            (
                "tls12.example",
                "OK encrypt protocols=>=TLSv1.2:<=TLSv1.2 servername=hostname",
            ),
            (
                "anchored.example",
                "OK secure match=anchored.example tafile=/etc/postfix/partner-ca.pem servername=hostname",
            ),
            ("contoso.com", "OK secure match=contoso.com:.contoso.com servername=hostname"),
            ("fabrikam.test", "OK encrypt servername=hostname"),
            ("elsewhere.example", "NOTFOUND"),
            // Brackets and ports never reach a bare-domain entry.
            ("[partner.test]", "NOTFOUND"),
            ("partner.test:2525", "NOTFOUND"),
        ];
        for (next_hop, expected) in vectors {
            assert_eq!(answer(next_hop), expected, "{next_hop}");
        }
    }

    /// What Postfix cannot say is refused, never weakened to `encrypt`.
    #[test]
    fn a_chain_check_without_names_is_unexpressible() {
        let answer = PolicyAnswer::for_plan(&configured("chain.test"), &RenderOptions::default());
        assert!(matches!(answer, PolicyAnswer::Unexpressible(_)), "{answer}");
        assert!(answer.to_string().starts_with("PERM "));
    }

    /// Every rendered value is valid policy-table syntax, and reads back as the same entry.
    #[test]
    fn rendered_values_are_a_fixpoint_of_the_table_parser() {
        for next_hop in [
            "partner.test",
            "[relay.example]:587",
            "a.sub.example",
            "secure.example",
            "dane.example",
            "daneonly.example",
            "plain.example",
            "tls12.example",
            "anchored.example",
            "contoso.com",
            "fabrikam.test",
        ] {
            let PolicyAnswer::Value(value) =
                PolicyAnswer::for_plan(&configured(next_hop), &RenderOptions::default())
            else {
                panic!("{next_hop}: no value");
            };
            let reread = PolicyTable::parse(&format!("{next_hop} {value}\n")).unwrap();
            assert!(
                reread.warnings().is_empty(),
                "{next_hop}: {:?}",
                reread.warnings()
            );
            // Planned again from the rendered entry, the answer is the same: a fixpoint.
            let again = explain(
                &OutboundPolicy::new().with_table(reread),
                &configured(next_hop).destination,
            );
            let original = configured(next_hop);
            assert_eq!(
                PolicyAnswer::for_plan(&again, &RenderOptions::default()),
                PolicyAnswer::Value(value.clone()),
                "{next_hop}"
            );
            for (a, b) in again.hosts.iter().zip(&original.hosts) {
                assert_eq!(a.requirement.level(), b.requirement.level(), "{next_hop}");
                assert_eq!(a.sni, b.sni, "{next_hop}");
                assert_eq!(a.protocols, b.protocols, "{next_hop}");
            }
        }
    }

    const STS: &str = "version: STSv1\nmode: enforce\nmx: mx1.sts.example\nmx: *.mail.sts.example\nmax_age: 86400\n";

    struct Answers {
        mx: Vec<&'static str>,
        mx_status: DnssecStatus,
        tlsa: Vec<(&'static str, DnssecStatus, &'static [&'static str])>,
        sts: Option<StsLookup>,
    }

    fn decided(next_hop: &str, answers: &Answers, options: &RenderOptions) -> PolicyAnswer {
        let dest = Destination::parse(next_hop).unwrap();
        let plan = explain(
            &policy(),
            &dest.clone().with_hosts(answers.mx.iter()).unwrap(),
        );
        let names: Vec<(DnsName, DnssecStatus, TlsaSet)> = answers
            .tlsa
            .iter()
            .map(|(host, status, records)| {
                (
                    DnsName::parse(host).unwrap(),
                    *status,
                    TlsaSet::from_presentation(records.iter().copied()),
                )
            })
            .collect();
        let dane: Vec<HostTlsa<'_>> = names
            .iter()
            .map(|(host, status, set)| HostTlsa {
                host,
                address_status: *status,
                tlsa_status: *status,
                tlsa: set,
                tlsa_base_domain: host,
            })
            .collect();
        let inputs = PrecedenceInputs {
            message: MessageTls::default(),
            mx_status: answers.mx_status,
            sts: answers.sts.as_ref(),
            dane: &dane,
        };
        let decision = precedence::apply(plan, &inputs);
        PolicyAnswer::for_decision(&configured(next_hop), &decision, options)
    }

    fn sts() -> Option<StsLookup> {
        Some(StsLookup::Policy {
            policy: StsPolicy::parse(STS.as_bytes()).unwrap(),
            from_cache: true,
            refresh_error: None,
        })
    }

    const TLSA: &[&str] =
        &["3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"];

    #[test]
    fn mta_sts_enforce_is_secure_with_the_mx_patterns() {
        let answers = Answers {
            mx: vec!["mx1.sts.example", "a.mail.sts.example"],
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: sts(),
        };
        let PolicyAnswer::Value(value) =
            decided("sts.example", &answers, &RenderOptions::default())
        else {
            panic!("no value");
        };
        assert_eq!(
            value.to_string(),
            "secure match=mx1.sts.example:.mail.sts.example servername=hostname"
        );
        // The one-label wildcard is wider in Postfix's syntax: said, not hidden.
        assert!(
            value.notes.iter().any(|n| n.contains("*.mail.sts.example")),
            "{:?}",
            value.notes
        );

        let with_tlsrpt = decided(
            "sts.example",
            &answers,
            &RenderOptions::default().with_tlsrpt(true),
        );
        assert_eq!(
            with_tlsrpt.to_string(),
            "OK secure match=mx1.sts.example:.mail.sts.example servername=hostname \
             policy_type=sts policy_domain=sts.example mx_host_pattern=mx1.sts.example \
             mx_host_pattern=*.mail.sts.example { policy_string = version: STSv1 } \
             { policy_string = mode: enforce } { policy_string = mx: mx1.sts.example } \
             { policy_string = mx: *.mail.sts.example } { policy_string = max_age: 86400 }"
        );
        // The TLSRPT attributes are Postfix syntax too (this parser warns and ignores them).
        let PolicyAnswer::Value(value) = with_tlsrpt else {
            panic!()
        };
        let table = PolicyTable::parse(&format!("sts.example {value}\n")).unwrap();
        assert_eq!(table.get("sts.example").unwrap().level, Level::Secure);
    }

    /// Postfix 3.10's `policy_failure=`: only when the MTA-STS policy refused every MX host
    /// (so no certificate could comply), only with the TLSRPT attributes.
    #[test]
    fn policy_failure_when_no_mx_host_matches_the_sts_patterns() {
        let nowhere = Answers {
            mx: vec!["mx.elsewhere.example"],
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: sts(),
        };
        let tlsrpt = RenderOptions::default().with_tlsrpt(true);
        let answer = decided("sts.example", &nowhere, &tlsrpt).to_string();
        assert!(answer.starts_with("OK secure match=mx1.sts.example:.mail.sts.example "));
        assert!(
            answer.ends_with(" policy_failure=validation-failure"),
            "{answer}"
        );
        // Without the TLSRPT attributes Postfix still refuses the host by the patterns.
        let plain = decided("sts.example", &nowhere, &RenderOptions::default()).to_string();
        assert!(!plain.contains("policy_failure"), "{plain}");
        // One host that matches: delivery can comply, nothing has failed yet.
        let one_matches = Answers {
            mx: vec!["mx.elsewhere.example", "mx1.sts.example"],
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: sts(),
        };
        let answer = decided("sts.example", &one_matches, &tlsrpt).to_string();
        assert!(answer.contains("policy_type=sts"), "{answer}");
        assert!(!answer.contains("policy_failure"), "{answer}");
        // Postfix's syntax: the table parser takes the value (it warns about the attributes).
        let value = decided("sts.example", &nowhere, &tlsrpt);
        let PolicyAnswer::Value(value) = value else {
            panic!("no value")
        };
        let table = PolicyTable::parse(&format!("sts.example {value}\n")).unwrap();
        assert_eq!(table.get("sts.example").unwrap().level, Level::Secure);
    }

    #[test]
    fn dane_found_by_discovery_is_dane_only_and_beats_mta_sts() {
        let answers = Answers {
            mx: vec!["mx1.sts.example"],
            mx_status: DnssecStatus::Secure,
            tlsa: vec![("mx1.sts.example", DnssecStatus::Secure, TLSA)],
            sts: sts(),
        };
        assert_eq!(
            decided("sts.example", &answers, &RenderOptions::default()).to_string(),
            "OK dane-only"
        );
    }

    /// A failed lookup never lowers the answer: any host that must be skipped defers all.
    #[test]
    fn failed_lookups_defer_never_downgrade() {
        let bogus = Answers {
            mx: vec!["mx1.sts.example", "mx2.sts.example"],
            mx_status: DnssecStatus::Secure,
            tlsa: vec![("mx2.sts.example", DnssecStatus::Bogus, TLSA)],
            sts: sts(),
        };
        let answer = decided("sts.example", &bogus, &RenderOptions::default());
        assert!(matches!(answer, PolicyAnswer::Defer(_)), "{answer}");
        assert!(answer.to_string().starts_with("TEMP "), "{answer}");

        let sts_down = Answers {
            mx: vec!["mx.partner.test"],
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: Some(StsLookup::TemporaryFailure),
        };
        // Even where the configuration alone would say `secure`.
        let answer = decided("partner.test", &sts_down, &RenderOptions::default());
        assert!(matches!(answer, PolicyAnswer::Defer(_)), "{answer}");

        let indeterminate = Answers {
            mx: vec!["mx.dane.example"],
            mx_status: DnssecStatus::Secure,
            tlsa: vec![("mx.dane.example", DnssecStatus::Indeterminate, TLSA)],
            sts: None,
        };
        let answer = decided("dane.example", &indeterminate, &RenderOptions::default());
        assert!(matches!(answer, PolicyAnswer::Defer(_)), "{answer}");
    }

    /// The configuration decides where discovery found nothing: names come from the
    /// placeholder plan, so a configured name equal to the MX host stays a name.
    #[test]
    fn configuration_decides_when_discovery_finds_nothing() {
        let nothing = Answers {
            mx: vec!["mx.partner.test"],
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: Some(StsLookup::NoPolicy { fetch_error: None }),
        };
        assert_eq!(
            decided("partner.test", &nothing, &RenderOptions::default()).to_string(),
            "OK secure match=mx.partner.test servername=hostname"
        );
        assert_eq!(
            decided("elsewhere.example", &nothing, &RenderOptions::default()).to_string(),
            "NOTFOUND"
        );
        // Configured `dane` without usable TLSA: Postfix does its own DANE.
        assert_eq!(
            decided("dane.example", &nothing, &RenderOptions::default()).to_string(),
            "OK dane"
        );
    }

    #[test]
    fn secure_tlsa_all_unusable_raise_the_floor_to_encrypt() {
        let unusable = Answers {
            mx: vec!["mx.other.example"],
            mx_status: DnssecStatus::Secure,
            tlsa: vec![("mx.other.example", DnssecStatus::Secure, &["0 0 1 00"])],
            sts: None,
        };
        assert_eq!(
            decided("other.example", &unusable, &RenderOptions::default()).to_string(),
            "OK encrypt"
        );
    }

    #[test]
    fn pins_postfix_cannot_compare_are_left_out_or_refused() {
        let sha512 = Pin::postfix(
            &"AB:"
                .repeat(63)
                .chars()
                .chain("AB".chars())
                .collect::<String>(),
        )
        .unwrap();
        let sha256 = Pin::postfix(
            &"CD:"
                .repeat(31)
                .chars()
                .chain("CD".chars())
                .collect::<String>(),
        )
        .unwrap();
        let value = fingerprint(&[sha512.clone(), sha256]).unwrap();
        assert_eq!(value.matches.len(), 1);
        assert_eq!(value.notes.len(), 1);
        assert!(fingerprint(&[sha512]).is_err());
    }

    #[test]
    fn hosts_that_disagree_get_the_strongest_value() {
        let may = PolicyAnswer::Value(PolicyValue::new(Level::May));
        let secure = PolicyAnswer::Value(PolicyValue::new(Level::Secure));
        let PolicyAnswer::Value(value) = combine(vec![may.clone(), secure.clone()]) else {
            panic!()
        };
        assert_eq!(value.level, Level::Secure);
        assert_eq!(value.notes.len(), 1);
        assert!(matches!(
            combine(vec![secure, PolicyAnswer::Defer("x".into()), may]),
            PolicyAnswer::Defer(_)
        ));
        assert_eq!(
            combine(Vec::new()),
            PolicyAnswer::Defer("no candidate host".into())
        );
    }
}
