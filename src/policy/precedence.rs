//! Precedence: the overlay that puts DANE, MTA-STS, REQUIRETLS and `TLS-Required: No` on top
//! of a configuration [`Plan`], host by host, and says which source decided and which were
//! overruled. Its result, the [`Decision`], is the only input of a
//! [`client::Delivery`](crate::client::Delivery).
//!
//! Order, strongest first:
//!
//! 1. **REQUIRETLS** (RFC 8689): never weakens; it checks that the result authenticates a
//!    securely found MX, else the host is skipped and the message eventually returned
//!    (5.7.x, see [`requiretls`]). It also cancels `TLS-Required: No`.
//! 2. **`TLS-Required: No`**: recipient policies (DANE, MTA-STS) and the configuration are set
//!    aside; the host is capped at opportunistic TLS (`may`), plaintext allowed.
//! 3. **DANE with usable TLSA**: authenticate against the TLSA records
//!    ([`Authentication::Tlsa`]); no fallback to MTA-STS, PKIX or plaintext. A *failing* DANE
//!    lookup (bogus, temporary failure, `dane-only` without usable TLSA) skips the host:
//!    MTA-STS never overrides it. Secure TLSA that are all unusable decide nothing but raise
//!    the floor to `encrypt`.
//! 4. **MTA-STS** `enforce`: the MX host must match an `mx` pattern (else skipped,
//!    `validation-failure`), and the certificate must chain to the public roots and match the
//!    MX host name. `testing`: the lower sources decide; the `enforce` requirement is
//!    evaluated on every session and its failures reported only ([`TestingPolicy`]).
//! 5. **The configuration** (connector, Postfix table entry, default level), as planned.
//!
//! Cross-cutting rules: a temporary DNS failure (DANE or MTA-STS discovery) never downgrades,
//! it skips the host (and so defers); `dane-only` is never the outcome for a destination whose
//! MX RRset is provably unsigned: it is treated as `dane` (postfix-tlspol #8). With no
//! discovery answers at all ([`Decision::from_plan`]), `dane` is effective `may` (as Postfix
//! without DNSSEC support) and `dane-only` skips every host: nothing is silently downgraded
//! from mandatory DANE.
//!
//! Every step lands in the plan's one trace as [`Rule::Precedence`].

use core::fmt;

use super::dane::{self, DaneDeferReason, DaneEvaluation, DaneInputs, DaneMode, DnssecStatus};
use super::dane::{NotApplicableReason, TlsaSet};
use super::explain::Rule;
pub use super::explain::{OverruleReason, Source, Step, StepOutcome};
use super::mta_sts::{StsLookup, StsMode, StsPolicy};
use super::plan::{FailureAction, HostPlan, Plan};
use super::requirement::{
    AnchorSource, Authentication, DaneAuthentication, Encryption, Requirement,
};
use super::requiretls::{self, MessageTls};
use super::status::Status;
use crate::names::{Dialect, DnsName, HostId, NamePattern};
use crate::time::Timestamp;
use crate::tlsrpt::{PolicyRef, PolicyType, ResultType, SessionFailure, SessionOutcome};

/// What the overlay needs besides the plan: the message's flags and the discovery answers.
#[derive(Clone, Copy, Debug)]
pub struct PrecedenceInputs<'a> {
    /// The message's REQUIRETLS flag and `TLS-Required` header.
    pub message: MessageTls,
    /// DNSSEC status of the destination's MX RRset (for a literal next hop: of its address
    /// records). Decides whether `dane-only` may apply and whether the MX was found securely.
    pub mx_status: DnssecStatus,
    /// The MTA-STS lookup for the destination domain, when the caller made one.
    pub sts: Option<&'a StsLookup>,
    /// The TLSA lookups, one per candidate host that has one.
    pub dane: &'a [HostTlsa<'a>],
}

/// The TLSA lookup for one candidate host.
#[derive(Clone, Copy, Debug)]
pub struct HostTlsa<'a> {
    /// The MX host.
    pub host: &'a DnsName,
    /// DNSSEC status of the host's address records.
    pub address_status: DnssecStatus,
    /// DNSSEC status of the TLSA lookup.
    pub tlsa_status: DnssecStatus,
    /// The TLSA RRset (empty when none).
    pub tlsa: &'a TlsaSet,
    /// The TLSA base domain (the host after secure CNAME expansion); usually the host.
    pub tlsa_base_domain: &'a DnsName,
}

/// The overlay's result: the refined plan (its trace ends with the precedence steps) and one
/// decision per host. Hand it to [`client::Delivery::new`](crate::client::Delivery::new).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The plan with each host's requirement, SNI and failure action refined.
    pub plan: Plan,
    /// One decision per host of `plan.hosts`, same order.
    pub hosts: Vec<HostDecision>,
}

impl Decision {
    /// The decision for a plain configuration with no discovery answers: no TLSA records, no
    /// MTA-STS policy, no DNSSEC, no message flags. `dane` is effective `may`; `dane-only`
    /// skips every host (it can never be met without DNSSEC answers).
    pub fn from_plan(plan: Plan) -> Self {
        let inputs = PrecedenceInputs {
            message: MessageTls::default(),
            mx_status: DnssecStatus::Insecure,
            sts: None,
            dane: &[],
        };
        overlay(plan, &inputs, false)
    }

    /// The precedence steps of the plan's trace, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.plan
            .trace
            .steps()
            .iter()
            .filter_map(|rule| match rule {
                Rule::Precedence(step) => Some(step),
                _ => None,
            })
    }

    /// Each host's plan with its decision, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&HostPlan, &HostDecision)> {
        self.plan.hosts.iter().zip(&self.hosts)
    }
}

impl fmt::Display for Decision {
    /// The plan (hosts, requirements, trace), then one line per host: who decided, what is
    /// done, which policy TLS-RPT counts it against.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan)?;
        writeln!(f, "decision:")?;
        for host in &self.hosts {
            writeln!(f, "  {host}")?;
            for overruled in &host.overruled {
                writeln!(f, "    overruled {overruled}")?;
            }
        }
        Ok(())
    }
}

/// What the overlay decided for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDecision {
    /// The host.
    pub host: HostId,
    /// The source that set the requirement (or skipped the host).
    pub decided_by: Source,
    /// Sources that had something to say but were overruled, with why.
    pub overruled: Vec<Overruled>,
    /// Whether to connect at all.
    pub action: HostAction,
    /// MTA-STS `testing`: what is evaluated on each session and reported, never enforced.
    pub testing: Option<TestingPolicy>,
    /// The policy TLS-RPT counts this host's sessions against.
    pub report_policy: PolicyRef,
    /// Policies found but not applied: never counted (postfix-tlspol #71).
    pub unused_policies: Vec<PolicyRef>,
}

impl HostDecision {
    /// A TLS-RPT session record for a session (or a skipped host) under this decision: the
    /// governing policy, the unused ones (never counted), and the MX host. The caller fills in
    /// the addresses and HELO name it knows.
    pub fn session_outcome(
        &self,
        at: Timestamp,
        result: Result<(), SessionFailure>,
    ) -> SessionOutcome {
        SessionOutcome {
            at,
            policy: self.report_policy.clone(),
            unused_policies: self.unused_policies.clone(),
            mx_host: Some(self.host.to_string()),
            sending_ip: None,
            receiving_ip: None,
            receiving_helo: None,
            result,
        }
    }
}

impl fmt::Display for HostDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: decided by {}; {}",
            self.host, self.decided_by, self.action
        )?;
        if let Some(testing) = &self.testing {
            write!(f, "; {testing}")?;
        }
        write!(
            f,
            "; reported against {}",
            self.report_policy.policy_type.as_str()
        )
    }
}

/// A source that was overruled, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overruled {
    /// The weaker source.
    pub source: Source,
    /// Why it lost.
    pub because: OverruleReason,
}

impl fmt::Display for Overruled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.because)
    }
}

/// What the client does with a host.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Connect under the host plan.
    Connect,
    /// Do not connect; move on as the host plan's `on_failure` says. The status and result
    /// type say why.
    Skip {
        /// The reply to log or use if this was the last host.
        status: Status,
        /// The TLS-RPT result type, when the skip is a reportable failure.
        result_type: Option<ResultType>,
    },
}

impl fmt::Display for HostAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("connect"),
            Self::Skip {
                status,
                result_type: Some(result_type),
            } => write!(f, "skip ({status}) [{result_type}]"),
            Self::Skip { status, .. } => write!(f, "skip ({status})"),
        }
    }
}

/// An MTA-STS policy in `testing` mode: evaluated and reported, never enforced (RFC 8461 §5).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestingPolicy {
    /// The certificate is checked against this requirement beside the one enforced; a
    /// failure is what TLS-RPT counts.
    Verify(Requirement),
    /// The host could never satisfy the policy (its name matches no `mx` pattern): every
    /// session to it counts as this failure.
    Fails(ResultType),
}

impl fmt::Display for TestingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(requirement) => {
                write!(f, "MTA-STS testing checks {}", requirement.authentication)
            }
            Self::Fails(result_type) => write!(f, "MTA-STS testing would fail ({result_type})"),
        }
    }
}

/// Applies the precedence rules to `plan` with the caller's discovery answers.
pub fn apply(plan: Plan, inputs: &PrecedenceInputs<'_>) -> Decision {
    overlay(plan, inputs, true)
}

/// What every host of one destination shares.
struct Destination<'p, 'a> {
    inputs: &'p PrecedenceInputs<'a>,
    /// Whether the caller made DNS lookups at all (false for [`Decision::from_plan`]).
    discovered: bool,
    config: Source,
    next_hop: Option<DnsName>,
    literal: bool,
    domain_text: String,
    sts_active: Option<&'a StsPolicy>,
}

/// One host under the overlay: its plan, its decision so far, and the steps taken.
struct HostOverlay<'h> {
    plan: &'h mut HostPlan,
    name: Option<DnsName>,
    decision: HostDecision,
    steps: Vec<Step>,
}

impl HostOverlay<'_> {
    fn step(&mut self, source: Source, outcome: StepOutcome, detail: impl Into<String>) {
        self.steps.push(Step {
            host: Some(self.decision.host.clone()),
            source,
            outcome,
            detail: detail.into(),
        });
    }

    fn overrule(&mut self, source: Source, by: Source, because: OverruleReason) {
        self.decision.overruled.push(Overruled {
            source: source.clone(),
            because: because.clone(),
        });
        self.step(source, StepOutcome::Overruled { by, because }, "");
    }

    fn skip(&mut self, source: Source, status: Status, result_type: Option<ResultType>) {
        self.decision.action = HostAction::Skip {
            status,
            result_type,
        };
        self.decision.decided_by = source;
    }
}

/// What DANE found for one host before any source is weighed.
struct DaneFinding<'a> {
    /// The configured DANE mode, if the configuration asked for DANE.
    configured: Option<DaneMode>,
    /// The mode that applies (`dane-only` may become `dane`).
    mode: DaneMode,
    lookup: Option<&'a HostTlsa<'a>>,
    evaluation: Option<DaneEvaluation>,
    /// The TLSA policy TLS-RPT would count against, when records exist.
    policy: Option<PolicyRef>,
}

fn overlay(mut plan: Plan, inputs: &PrecedenceInputs<'_>, discovered: bool) -> Decision {
    let next_hop = plan.destination.next_hop_name().cloned();
    let dest = Destination {
        inputs,
        discovered,
        config: Source::Configuration(plan.source.clone()),
        literal: plan.destination.is_literal(),
        domain_text: next_hop
            .as_ref()
            .map_or_else(|| plan.destination.to_string(), |d| d.as_str().to_owned()),
        next_hop,
        sts_active: inputs.sts.and_then(StsLookup::active_policy),
    };
    let mut hosts = Vec::with_capacity(plan.hosts.len());
    let mut steps = Vec::new();
    for hp in &mut plan.hosts {
        let mut host = HostOverlay {
            name: match &hp.host {
                HostId::Dns(n) => Some(n.clone()),
                HostId::Ip(_) => None,
            },
            decision: HostDecision {
                host: hp.host.clone(),
                decided_by: dest.config.clone(),
                overruled: Vec::new(),
                action: HostAction::Connect,
                testing: None,
                report_policy: PolicyRef::none_found(dest.domain_text.clone()),
                unused_policies: Vec::new(),
            },
            plan: hp,
            steps: Vec::new(),
        };
        let dane = find_dane(&dest, &mut host);
        let sts_policy = dest
            .sts_active
            .and_then(|p| Some(p.policy_ref(dest.next_hop.as_ref()?)));
        if !tls_required_no(&dest, &mut host, &dane, sts_policy.clone()) {
            let dane_result = overlay_dane(&mut host, &dane);
            let decided = overlay_mta_sts(&dest, &mut host, &dane, sts_policy, dane_result.decided);
            if !decided {
                overlay_configuration(&dest, &mut host, &dane, dane_result.encrypt_floor);
            } else if host.decision.decided_by == Source::MtaSts && dane_result.encrypt_floor {
                host.overrule(
                    Source::Dane,
                    Source::MtaSts,
                    OverruleReason::MtaStsAboveDaneFloor,
                );
            }
            overlay_requiretls(&dest, &mut host);
        }
        steps.append(&mut host.steps);
        hosts.push(host.decision);
    }
    if inputs.message.requiretls {
        let last_status = hosts
            .iter()
            .rev()
            .find_map(|h| match &h.action {
                HostAction::Skip { status, .. } if status.is_permanent() => Some(status.clone()),
                _ => None,
            })
            .unwrap_or_else(|| requiretls::RequireTlsFailure::NoTls.status());
        if let Some(last) = plan.hosts.last_mut() {
            last.on_failure = FailureAction::Bounce(last_status);
        }
    }
    for step in steps {
        plan.trace.push(Rule::Precedence(step));
    }
    Decision { plan, hosts }
}

/// Resolves the DANE mode (`dane-only` needs a signed domain) and evaluates the host's TLSA
/// lookup.
fn find_dane<'a>(dest: &Destination<'_, 'a>, host: &mut HostOverlay<'_>) -> DaneFinding<'a> {
    let configured = match &host.plan.requirement.authentication {
        Authentication::Dane(req) if req.mandatory => Some(DaneMode::Mandatory),
        Authentication::Dane(_) => Some(DaneMode::Opportunistic),
        _ => None,
    };
    let inputs = dest.inputs;
    let mut mode = configured.unwrap_or(DaneMode::Opportunistic);
    if mode == DaneMode::Mandatory
        && dest.discovered
        && inputs.mx_status != DnssecStatus::Secure
        && !dest.literal
    {
        mode = DaneMode::Opportunistic;
        host.overrule(
            dest.config.clone(),
            Source::Dane,
            OverruleReason::DaneOnlyNeedsSignedDomain,
        );
    }
    let lookup: Option<&'a HostTlsa<'a>> = host
        .name
        .as_ref()
        .and_then(|n| inputs.dane.iter().find(|t| t.host == n));
    let evaluation = match (lookup, &host.name) {
        (Some(t), Some(name)) => Some(dane::evaluate(
            mode,
            &DaneInputs {
                mx_status: inputs.mx_status,
                address_status: t.address_status,
                tlsa_status: t.tlsa_status,
                tlsa: t.tlsa,
                tlsa_base_domain: t.tlsa_base_domain.as_str(),
                mx_host: name.as_str(),
                next_hop: dest.next_hop.as_ref().map_or("", DnsName::as_str),
            },
        )),
        _ if configured == Some(DaneMode::Mandatory) && mode == DaneMode::Mandatory => {
            Some(DaneEvaluation::Defer {
                reason: DaneDeferReason::MandatoryWithoutUsableTlsa,
                result_type: ResultType::DaneRequired,
            })
        }
        _ => None,
    };
    let policy = lookup.filter(|t| !t.tlsa.is_empty()).map(|t| PolicyRef {
        policy_type: PolicyType::Tlsa,
        policy_string: t.tlsa.policy_strings(),
        policy_domain: dest.domain_text.clone(),
        mx_host: vec![t.host.as_str().to_owned()],
    });
    DaneFinding {
        configured,
        mode,
        lookup,
        evaluation,
        policy,
    }
}

/// 2. `TLS-Required: No` (unless REQUIRETLS): caps the host at `may`. Returns whether it
///    decided.
fn tls_required_no(
    dest: &Destination<'_, '_>,
    host: &mut HostOverlay<'_>,
    dane: &DaneFinding<'_>,
    sts_policy: Option<PolicyRef>,
) -> bool {
    let message = dest.inputs.message;
    if message.tls_required_no && message.requiretls {
        host.overrule(
            Source::TlsRequiredNo,
            Source::RequireTls,
            OverruleReason::RequireTlsCancelsTlsRequiredNo,
        );
    }
    if !message.ignores_recipient_policies() {
        return false;
    }
    let capped = match host.plan.requirement.encryption {
        Encryption::Never => host.plan.requirement.clone(),
        _ => Requirement::opportunistic(),
    };
    if dane.evaluation.is_some() || dane.configured.is_some() {
        host.overrule(
            Source::Dane,
            Source::TlsRequiredNo,
            OverruleReason::TlsRequiredNoDropsRecipientPolicy,
        );
    }
    if dest.sts_active.is_some() {
        host.overrule(
            Source::MtaSts,
            Source::TlsRequiredNo,
            OverruleReason::TlsRequiredNoDropsRecipientPolicy,
        );
    }
    if capped != host.plan.requirement {
        let level = host.plan.requirement.level();
        host.overrule(
            dest.config.clone(),
            Source::TlsRequiredNo,
            OverruleReason::TlsRequiredNoCaps { level },
        );
    }
    if capped != host.plan.requirement {
        host.plan.level = None;
    }
    host.plan.requirement = capped;
    host.decision.decided_by = Source::TlsRequiredNo;
    host.decision
        .unused_policies
        .extend(dane.policy.clone().into_iter().chain(sts_policy));
    host.step(
        Source::TlsRequiredNo,
        StepOutcome::Decided,
        "TLS-Required: No: opportunistic TLS, plaintext allowed",
    );
    true
}

/// What DANE did to a host.
struct DaneResult {
    decided: bool,
    /// Secure TLSA records, all unusable: TLS becomes mandatory.
    encrypt_floor: bool,
}

/// 3. DANE: usable TLSA records decide; a failing lookup skips the host.
fn overlay_dane(host: &mut HostOverlay<'_>, dane: &DaneFinding<'_>) -> DaneResult {
    let mut result = DaneResult {
        decided: false,
        encrypt_floor: false,
    };
    match &dane.evaluation {
        Some(DaneEvaluation::Authenticate { sni, reference_ids }) => {
            let tlsa = dane.lookup.map(|t| t.tlsa.clone()).unwrap_or_default();
            host.plan.level = None;
            host.plan.requirement = Requirement::new(
                Encryption::Required,
                Authentication::Tlsa(DaneAuthentication::new(
                    dane.mode == DaneMode::Mandatory,
                    tlsa,
                    reference_ids.clone(),
                )),
            );
            host.plan.sni = DnsName::parse(sni).ok();
            host.decision.decided_by = Source::Dane;
            if let Some(policy) = dane.policy.clone() {
                host.decision.report_policy = policy;
            }
            result.decided = true;
            host.step(
                Source::Dane,
                StepOutcome::Decided,
                format!("usable TLSA records: authenticate with DANE, SNI {sni}"),
            );
        }
        Some(DaneEvaluation::Defer {
            reason,
            result_type,
        }) => {
            let text = match reason {
                DaneDeferReason::Bogus => "DNSSEC validation failed (bogus)",
                DaneDeferReason::TemporaryDnsFailure => "DNS lookup failed temporarily",
                _ => "dane-only and no usable TLSA record",
            };
            host.skip(
                Source::Dane,
                Status::new(451, (4, 7, 5), format!("DANE: {text}")),
                Some(*result_type),
            );
            if let Some(policy) = dane.policy.clone() {
                host.decision.report_policy = policy;
            }
            result.decided = true;
            host.step(
                Source::Dane,
                StepOutcome::Skipped,
                format!("DANE: {text}; host skipped"),
            );
        }
        Some(DaneEvaluation::EncryptOnly) => {
            result.encrypt_floor = true;
            host.step(
                Source::Dane,
                StepOutcome::NotApplicable,
                "secure TLSA records, all unusable: TLS mandatory, no authentication",
            );
        }
        Some(DaneEvaluation::NotApplicable { reason }) => host.step(
            Source::Dane,
            StepOutcome::NotApplicable,
            format!("no secure usable TLSA ({})", not_applicable_text(*reason)),
        ),
        None => {}
    }
    result
}

fn not_applicable_text(reason: NotApplicableReason) -> &'static str {
    match reason {
        NotApplicableReason::InsecureAddress => "the MX host's address records are not signed",
        NotApplicableReason::InsecureTlsa => "the TLSA answer is not signed",
        NotApplicableReason::NoTlsaRecords => "no TLSA records",
    }
}

/// 4. MTA-STS: `enforce` decides unless DANE did; `testing` is evaluated for reports. Returns
///    whether a source decided so far.
fn overlay_mta_sts(
    dest: &Destination<'_, '_>,
    host: &mut HostOverlay<'_>,
    dane: &DaneFinding<'_>,
    sts_policy: Option<PolicyRef>,
    dane_decided: bool,
) -> bool {
    if dane_decided {
        if let Some(policy) = sts_policy {
            host.decision.unused_policies.push(policy);
            host.overrule(
                Source::MtaSts,
                Source::Dane,
                OverruleReason::DaneBeforeMtaSts,
            );
        }
        return true;
    }
    let mut decided = false;
    match (dest.inputs.sts, dest.sts_active) {
        (Some(StsLookup::TemporaryFailure), _) => {
            host.skip(
                Source::MtaSts,
                Status::new(
                    451,
                    (4, 4, 3),
                    "MTA-STS policy discovery failed temporarily",
                ),
                None,
            );
            decided = true;
            host.step(
                Source::MtaSts,
                StepOutcome::Skipped,
                "MTA-STS discovery failed temporarily: defer, never downgrade",
            );
        }
        (_, Some(policy)) if policy.mode() == StsMode::Enforce => {
            if let Some(p) = sts_policy {
                host.decision.report_policy = p;
            }
            host.decision.decided_by = Source::MtaSts;
            decided = true;
            match sts_requirement(policy, host.name.as_ref()) {
                Ok((requirement, name)) => {
                    host.plan.level = None;
                    host.plan.requirement = requirement;
                    host.step(
                        Source::MtaSts,
                        StepOutcome::Decided,
                        format!("MTA-STS enforce: PKIX chain and the name {name}"),
                    );
                    host.plan.sni = Some(name);
                }
                Err(result_type) => {
                    host.skip(
                        Source::MtaSts,
                        Status::new(451, (4, 7, 5), "MX host not listed in the MTA-STS policy"),
                        Some(result_type),
                    );
                    host.step(
                        Source::MtaSts,
                        StepOutcome::Skipped,
                        "MTA-STS enforce: MX host matches no mx pattern",
                    );
                }
            }
        }
        (_, Some(policy)) => {
            if let Some(p) = sts_policy {
                host.decision.report_policy = p;
            }
            let testing = match sts_requirement(policy, host.name.as_ref()) {
                Ok((requirement, _)) => TestingPolicy::Verify(requirement),
                Err(result_type) => TestingPolicy::Fails(result_type),
            };
            host.step(Source::MtaSts, StepOutcome::Testing, testing.to_string());
            host.decision.testing = Some(testing);
        }
        (
            Some(StsLookup::NoPolicy {
                fetch_error: Some(e),
            }),
            None,
        ) => host.step(
            Source::MtaSts,
            StepOutcome::NotApplicable,
            format!("no MTA-STS policy: {e}"),
        ),
        _ => {}
    }
    if decided {
        if let Some(t) = dane.policy.clone() {
            host.decision.unused_policies.push(t);
        }
    }
    decided
}

/// What an MTA-STS policy asks of a host: a PKIX chain to the public roots and the MX host
/// name (RFC 8461 §4.2), or the failure when the host matches no `mx` pattern.
fn sts_requirement(
    policy: &StsPolicy,
    name: Option<&DnsName>,
) -> Result<(Requirement, DnsName), ResultType> {
    match name.filter(|n| policy.mx_matches(n)) {
        Some(name) => Ok((
            Requirement::new(
                Encryption::Required,
                Authentication::ChainAndName {
                    trust: AnchorSource::Public,
                    reference_ids: vec![NamePattern::exact(name.clone(), Dialect::MtaStsMx)],
                },
            ),
            name.clone(),
        )),
        None => Err(name
            .and_then(|n| policy.check_mx(n.as_str()).err())
            .map_or(ResultType::ValidationFailure, |e| e.result_type())),
    }
}

/// 5. The configuration: resolves an unresolved DANE level, applies the encrypt floor.
fn overlay_configuration(
    dest: &Destination<'_, '_>,
    host: &mut HostOverlay<'_>,
    dane: &DaneFinding<'_>,
    encrypt_floor: bool,
) {
    let config = dest.config.clone();
    if dane.configured.is_some() {
        host.plan.level = None;
        host.plan.requirement = if encrypt_floor {
            Requirement::new(Encryption::Required, Authentication::None)
        } else {
            Requirement::opportunistic()
        };
        let why = if dest.discovered {
            "level dane without usable TLSA"
        } else {
            "level dane and no TLSA lookup was supplied"
        };
        let detail = format!("{why}: effective {}", host.plan.requirement.level());
        host.step(config, StepOutcome::Decided, detail);
    } else {
        let detail = host.plan.requirement.to_string();
        host.step(config, StepOutcome::Decided, detail);
    }
    if encrypt_floor && host.plan.requirement.encryption != Encryption::Required {
        host.plan.level = None;
        host.plan.requirement.encryption = Encryption::Required;
        host.step(
            Source::Dane,
            StepOutcome::Decided,
            "unusable TLSA records raise the floor to encrypt",
        );
    }
    if host.decision.testing.is_none() {
        if let Some(t) = dane.policy.clone().filter(|_| encrypt_floor) {
            host.decision.report_policy = t;
        }
    }
}

/// 1. REQUIRETLS: the result must authenticate a securely found MX.
fn overlay_requiretls(dest: &Destination<'_, '_>, host: &mut HostOverlay<'_>) {
    let message = dest.inputs.message;
    if !message.requiretls || host.decision.action != HostAction::Connect {
        return;
    }
    let mx_secure = dest.inputs.mx_status == DnssecStatus::Secure
        || dest.literal
        || (host.decision.decided_by == Source::MtaSts && host.plan.requirement.requires_tls());
    match requiretls::check_plan(message, &host.plan.requirement, mx_secure) {
        Ok(()) => host.step(
            Source::RequireTls,
            StepOutcome::Allowed,
            "REQUIRETLS: MX found securely and the server is authenticated",
        ),
        Err(failure) => {
            let weaker = host.decision.decided_by.clone();
            host.overrule(
                weaker,
                Source::RequireTls,
                OverruleReason::RequireTls(failure),
            );
            host.skip(Source::RequireTls, failure.status(), None);
            host.step(
                Source::RequireTls,
                StepOutcome::Skipped,
                failure.to_string(),
            );
        }
    }
}
