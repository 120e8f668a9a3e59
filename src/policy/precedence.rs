//! Precedence: the overlay that puts DANE, MTA-STS, REQUIRETLS and `TLS-Required: No` on top
//! of a configuration [`Plan`], host by host, and says which source decided and which were
//! overruled.
//!
//! Order, strongest first:
//!
//! 1. **REQUIRETLS** (RFC 8689): never weakens; it checks that the result authenticates a
//!    securely found MX, else the host is skipped and the message eventually returned
//!    (5.7.x, see [`requiretls`]). It also cancels `TLS-Required: No`.
//! 2. **`TLS-Required: No`**: recipient policies (DANE, MTA-STS) and the configuration are set
//!    aside; the host is capped at opportunistic TLS (`may`), plaintext allowed.
//! 3. **DANE with usable TLSA**: authenticate against the TLSA records; no fallback to
//!    MTA-STS, PKIX or plaintext. A *failing* DANE lookup (bogus, temporary failure,
//!    `dane-only` without usable TLSA) skips the host: MTA-STS never overrides it.
//!    Secure TLSA that are all unusable decide nothing but raise the floor to `encrypt`.
//! 4. **MTA-STS** `enforce`: the MX host must match an `mx` pattern (else skipped,
//!    `validation-failure`), and the certificate must chain to the public roots and match the
//!    MX host name. `testing`: the lower sources decide; failures are reported only.
//! 5. **The configuration** (connector, Postfix table entry, default level), as planned.
//!
//! Cross-cutting rules: a temporary DNS failure (DANE or MTA-STS discovery) never downgrades,
//! it skips the host (and so defers); `dane-only` is never the outcome for a destination whose
//! MX RRset is not DNSSEC-secure: it is treated as `dane` (postfix-tlspol #8).

use core::fmt;

use super::dane::{self, DaneDeferReason, DaneInputs, DaneMode, DnssecStatus, TlsaSet};
use super::mta_sts::{StsLookup, StsMode, StsPolicy};
use super::plan::{FailureAction, Plan, PolicySource};
use super::requirement::{Authentication, DaneRequirement, Encryption, Requirement, TrustAnchors};
use super::requiretls::{self, MessageTls};
use super::status::Status;
use crate::names::{Dialect, DnsName, HostId, NamePattern};
use crate::report::{PolicyRef, PolicyType, ResultType, SessionFailure, SessionOutcome};
use crate::Timestamp;

/// What the overlay needs besides the plan.
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

/// The overlay's result: the refined plan, per-host decisions, and the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The plan with each host's requirement, SNI and failure action refined.
    pub plan: Plan,
    /// One decision per host of `plan.hosts`, same order.
    pub hosts: Vec<HostDecision>,
    /// Every step, in order.
    pub trace: Vec<Step>,
}

/// What the overlay decided for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDecision {
    /// The host.
    pub host: HostId,
    /// The source that set the requirement (or skipped the host).
    pub decided_by: Source,
    /// Sources that had something to say but were overruled, with why.
    pub overruled: Vec<(Source, String)>,
    /// Whether to connect at all.
    pub action: HostAction,
    /// When DANE decided: what the certificate verifier checks with
    /// [`dane::verify_chain`].
    pub dane: Option<DaneAuthentication>,
    /// MTA-STS `testing` applies: evaluate the policy for TLS-RPT, do not enforce it.
    pub sts_testing: bool,
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

impl DaneAuthentication {
    /// The certificate-verifier hook for this host
    /// (`cert::Requirement::Dane(Arc::new(decision.check()))`).
    pub fn check(&self) -> dane::TlsaCheck {
        dane::TlsaCheck::new(self.tlsa.clone(), self.reference_ids.clone())
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

/// The DANE data the certificate verifier needs for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneAuthentication {
    /// The TLSA records.
    pub tlsa: TlsaSet,
    /// DANE-TA reference identifiers, TLSA base domain first.
    pub reference_ids: Vec<String>,
}

/// A policy source, strongest first.
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

/// One step of the trace.
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
    },
    /// It skipped the host.
    Skipped,
}

/// Applies the precedence rules to `plan`.
pub fn apply(mut plan: Plan, inputs: &PrecedenceInputs<'_>) -> Decision {
    let mut trace = Vec::new();
    let config = Source::Configuration(plan.source.clone());
    let next_hop = plan.destination.next_hop_name().cloned();
    let literal = plan.destination.is_literal();
    let sts_active = inputs.sts.and_then(StsLookup::active_policy);
    let sts_ref = |p: &StsPolicy| next_hop.as_ref().map(|d| p.policy_ref(d));
    let domain_text = next_hop
        .as_ref()
        .map_or_else(|| plan.destination.to_string(), |d| d.as_str().to_owned());
    let mut hosts = Vec::with_capacity(plan.hosts.len());
    for hp in &mut plan.hosts {
        let host_id = hp.host.clone();
        let host_name = match &host_id {
            HostId::Dns(n) => Some(n.clone()),
            HostId::Ip(_) => None,
        };
        let mut d = HostDecision {
            host: host_id.clone(),
            decided_by: config.clone(),
            overruled: Vec::new(),
            action: HostAction::Connect,
            dane: None,
            sts_testing: false,
            report_policy: PolicyRef::none_found(domain_text.clone()),
            unused_policies: Vec::new(),
        };
        let mut step = |source: Source, outcome: StepOutcome, detail: String| {
            trace.push(Step {
                host: Some(host_id.clone()),
                source,
                outcome,
                detail,
            });
        };

        // DANE: resolve the mode (dane-only needs a signed domain), then evaluate.
        let configured = match &hp.requirement.authentication {
            Authentication::Dane(req) if req.mandatory => Some(DaneMode::Mandatory),
            Authentication::Dane(_) => Some(DaneMode::Opportunistic),
            _ => None,
        };
        let mut mode = configured.unwrap_or(DaneMode::Opportunistic);
        if mode == DaneMode::Mandatory && inputs.mx_status != DnssecStatus::Secure && !literal {
            mode = DaneMode::Opportunistic;
            step(
                config.clone(),
                StepOutcome::Overruled { by: Source::Dane },
                "dane-only needs a DNSSEC-signed domain; the MX RRset is not secure, so dane \
                 applies instead (postfix-tlspol #8)"
                    .into(),
            );
        }
        let lookup = host_name
            .as_ref()
            .and_then(|n| inputs.dane.iter().find(|t| t.host == n));
        let dane_req = match (lookup, &host_name) {
            (Some(t), Some(name)) => Some(dane::evaluate(
                mode,
                &DaneInputs {
                    mx_status: inputs.mx_status,
                    address_status: t.address_status,
                    tlsa_status: t.tlsa_status,
                    tlsa: t.tlsa,
                    tlsa_base_domain: t.tlsa_base_domain.as_str(),
                    mx_host: name.as_str(),
                    next_hop: next_hop.as_ref().map_or("", DnsName::as_str),
                },
            )),
            _ if configured == Some(DaneMode::Mandatory) && mode == DaneMode::Mandatory => {
                Some(dane::DaneRequirement::Defer {
                    reason: DaneDeferReason::MandatoryWithoutUsableTlsa,
                    result_type: ResultType::DaneRequired,
                })
            }
            _ => None,
        };
        let tlsa_ref = lookup.filter(|t| !t.tlsa.is_empty()).map(|t| PolicyRef {
            policy_type: PolicyType::Tlsa,
            policy_string: t.tlsa.policy_strings(),
            policy_domain: domain_text.clone(),
            mx_host: vec![t.host.as_str().to_owned()],
        });
        let sts_policy_ref = sts_active.and_then(sts_ref);

        // 2. TLS-Required: No (unless REQUIRETLS).
        if inputs.message.tls_required_no && inputs.message.requiretls {
            step(
                Source::TlsRequiredNo,
                StepOutcome::Overruled {
                    by: Source::RequireTls,
                },
                "TLS-Required: No is ignored: the message requires TLS".into(),
            );
        }
        if inputs.message.ignores_recipient_policies() {
            let capped = match hp.requirement.encryption {
                Encryption::Never => hp.requirement.clone(),
                _ => Requirement::opportunistic(),
            };
            if dane_req.is_some() || configured.is_some() {
                d.overruled
                    .push((Source::Dane, "TLS-Required: No drops DANE".into()));
                step(
                    Source::Dane,
                    StepOutcome::Overruled {
                        by: Source::TlsRequiredNo,
                    },
                    "TLS-Required: No drops DANE".into(),
                );
            }
            if sts_active.is_some() {
                d.overruled
                    .push((Source::MtaSts, "TLS-Required: No drops MTA-STS".into()));
                step(
                    Source::MtaSts,
                    StepOutcome::Overruled {
                        by: Source::TlsRequiredNo,
                    },
                    "TLS-Required: No drops MTA-STS".into(),
                );
            }
            if capped != hp.requirement {
                d.overruled.push((
                    config.clone(),
                    format!("TLS-Required: No caps {} at may", hp.requirement.level()),
                ));
                step(
                    config.clone(),
                    StepOutcome::Overruled {
                        by: Source::TlsRequiredNo,
                    },
                    format!("TLS-Required: No caps {} at may", hp.requirement.level()),
                );
            }
            hp.requirement = capped;
            d.decided_by = Source::TlsRequiredNo;
            d.unused_policies
                .extend(tlsa_ref.into_iter().chain(sts_policy_ref));
            step(
                Source::TlsRequiredNo,
                StepOutcome::Decided,
                "TLS-Required: No: opportunistic TLS, plaintext allowed".into(),
            );
            hosts.push(d);
            continue;
        }

        // 3. DANE.
        let mut decided = false;
        let mut encrypt_floor = false;
        match dane_req {
            Some(dane::DaneRequirement::Authenticate { sni, reference_ids }) => {
                let patterns = reference_ids
                    .iter()
                    .filter_map(|r| NamePattern::parse(r, Dialect::DaneTa).ok())
                    .collect();
                hp.requirement = Requirement::new(
                    Encryption::Required,
                    Authentication::Dane(DaneRequirement::new(
                        mode == DaneMode::Mandatory,
                        patterns,
                    )),
                );
                hp.sni = DnsName::parse(&sni).ok();
                d.dane = lookup.map(|t| DaneAuthentication {
                    tlsa: t.tlsa.clone(),
                    reference_ids,
                });
                d.decided_by = Source::Dane;
                d.report_policy = tlsa_ref.clone().unwrap_or(d.report_policy);
                decided = true;
                step(
                    Source::Dane,
                    StepOutcome::Decided,
                    format!("usable TLSA records: authenticate with DANE, SNI {sni}"),
                );
            }
            Some(dane::DaneRequirement::Defer {
                reason,
                result_type,
            }) => {
                let text = match reason {
                    DaneDeferReason::Bogus => "DNSSEC validation failed (bogus)",
                    DaneDeferReason::TemporaryDnsFailure => "DNS lookup failed temporarily",
                    _ => "dane-only and no usable TLSA record",
                };
                d.action = HostAction::Skip {
                    status: Status::new(451, (4, 7, 5), format!("DANE: {text}")),
                    result_type: Some(result_type),
                };
                d.decided_by = Source::Dane;
                d.report_policy = tlsa_ref.clone().unwrap_or(d.report_policy);
                decided = true;
                step(
                    Source::Dane,
                    StepOutcome::Skipped,
                    format!("DANE: {text}; host skipped"),
                );
            }
            Some(dane::DaneRequirement::EncryptOnly) => {
                encrypt_floor = true;
                step(
                    Source::Dane,
                    StepOutcome::NotApplicable,
                    "secure TLSA records, all unusable: TLS mandatory, no authentication".into(),
                );
            }
            Some(dane::DaneRequirement::NotApplicable { reason }) => step(
                Source::Dane,
                StepOutcome::NotApplicable,
                format!("no secure usable TLSA ({reason:?})"),
            ),
            None => {}
        }

        // 4. MTA-STS.
        if decided {
            if let Some(p) = &sts_policy_ref {
                let why = "DANE decides; MTA-STS never overrides DANE (RFC 8461 §2, \
                           postfix-mta-sts-resolver #67)";
                d.overruled.push((Source::MtaSts, why.into()));
                d.unused_policies.push(p.clone());
                step(
                    Source::MtaSts,
                    StepOutcome::Overruled { by: Source::Dane },
                    why.into(),
                );
            }
        } else {
            match (inputs.sts, sts_active) {
                (Some(StsLookup::TemporaryFailure), _) => {
                    d.action = HostAction::Skip {
                        status: Status::new(
                            451,
                            (4, 4, 3),
                            "MTA-STS policy discovery failed temporarily",
                        ),
                        result_type: None,
                    };
                    d.decided_by = Source::MtaSts;
                    decided = true;
                    step(
                        Source::MtaSts,
                        StepOutcome::Skipped,
                        "MTA-STS discovery failed temporarily: defer, never downgrade".into(),
                    );
                }
                (_, Some(policy)) if policy.mode() == StsMode::Enforce => {
                    d.report_policy = sts_policy_ref.clone().unwrap_or(d.report_policy);
                    d.decided_by = Source::MtaSts;
                    decided = true;
                    match host_name.as_ref().filter(|n| policy.mx_matches(n)) {
                        Some(name) => {
                            hp.requirement = Requirement::new(
                                Encryption::Required,
                                Authentication::ChainAndName {
                                    trust: TrustAnchors::Public,
                                    reference_ids: vec![NamePattern::exact(
                                        name.clone(),
                                        Dialect::MtaStsMx,
                                    )],
                                },
                            );
                            hp.sni = Some(name.clone());
                            step(
                                Source::MtaSts,
                                StepOutcome::Decided,
                                format!("MTA-STS enforce: PKIX chain and the name {name}"),
                            );
                        }
                        None => {
                            let e = policy.check_mx(&host_id.to_string()).err();
                            d.action = HostAction::Skip {
                                status: Status::new(
                                    451,
                                    (4, 7, 5),
                                    "MX host not listed in the MTA-STS policy",
                                ),
                                result_type: Some(
                                    e.map_or(ResultType::ValidationFailure, |e| e.result_type()),
                                ),
                            };
                            step(
                                Source::MtaSts,
                                StepOutcome::Skipped,
                                "MTA-STS enforce: MX host matches no mx pattern".into(),
                            );
                        }
                    }
                }
                (_, Some(_testing)) => {
                    d.sts_testing = true;
                    d.report_policy = sts_policy_ref.clone().unwrap_or(d.report_policy);
                    step(
                        Source::MtaSts,
                        StepOutcome::NotApplicable,
                        "MTA-STS testing: evaluated for reports, not enforced".into(),
                    );
                }
                (
                    Some(StsLookup::NoPolicy {
                        fetch_error: Some(e),
                    }),
                    None,
                ) => {
                    step(
                        Source::MtaSts,
                        StepOutcome::NotApplicable,
                        format!("no MTA-STS policy: {e}"),
                    );
                }
                _ => {}
            }
            if decided {
                if let Some(t) = tlsa_ref.clone() {
                    d.unused_policies.push(t);
                }
            }
        }

        // 5. Configuration: resolve an unresolved DANE level, apply the encrypt floor.
        if !decided {
            if configured.is_some() {
                hp.requirement = if encrypt_floor {
                    Requirement::new(Encryption::Required, Authentication::None)
                } else {
                    Requirement::opportunistic()
                };
                step(
                    config.clone(),
                    StepOutcome::Decided,
                    format!(
                        "level dane without usable TLSA: effective {}",
                        hp.requirement.level()
                    ),
                );
            } else {
                step(
                    config.clone(),
                    StepOutcome::Decided,
                    format!("{}", hp.requirement),
                );
            }
            if encrypt_floor && hp.requirement.encryption != Encryption::Required {
                hp.requirement.encryption = Encryption::Required;
                step(
                    Source::Dane,
                    StepOutcome::Decided,
                    "unusable TLSA records raise the floor to encrypt".into(),
                );
            }
            if !d.sts_testing {
                if let Some(t) = tlsa_ref.clone().filter(|_| encrypt_floor) {
                    d.report_policy = t;
                }
            }
        } else if decided && d.decided_by == Source::MtaSts && encrypt_floor {
            step(
                Source::Dane,
                StepOutcome::Overruled { by: Source::MtaSts },
                "unusable TLSA records ask only for encrypt; MTA-STS asks for more".into(),
            );
        }

        // 1. REQUIRETLS.
        if inputs.message.requiretls && d.action == HostAction::Connect {
            let mx_secure = inputs.mx_status == DnssecStatus::Secure
                || literal
                || (d.decided_by == Source::MtaSts && hp.requirement.requires_tls());
            match requiretls::check_plan(inputs.message, &hp.requirement, mx_secure) {
                Ok(()) => step(
                    Source::RequireTls,
                    StepOutcome::Allowed,
                    "REQUIRETLS: MX found securely and the server is authenticated".into(),
                ),
                Err(f) => {
                    d.overruled.push((d.decided_by.clone(), f.to_string()));
                    d.decided_by = Source::RequireTls;
                    d.action = HostAction::Skip {
                        status: f.status(),
                        result_type: None,
                    };
                    step(Source::RequireTls, StepOutcome::Skipped, f.to_string());
                }
            }
        }
        hosts.push(d);
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
    Decision { plan, hosts, trace }
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

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}: ")?;
        }
        let outcome = match &self.outcome {
            StepOutcome::Allowed => "allowed".to_owned(),
            StepOutcome::Decided => "decided".to_owned(),
            StepOutcome::NotApplicable => "not applicable".to_owned(),
            StepOutcome::Overruled { by } => format!("overruled by {by}"),
            StepOutcome::Skipped => "skipped the host".to_owned(),
        };
        write!(f, "{} {outcome}: {}", self.source, self.detail)
    }
}
