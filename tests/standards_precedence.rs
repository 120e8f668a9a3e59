//! Precedence of REQUIRETLS, `TLS-Required: No`, DANE, MTA-STS and the configuration, with the
//! known precedence bugs of other implementations as regression tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::names::DnsName;
use mailtls::policy::dane::{DnssecStatus, TlsaSet};
use mailtls::policy::ladder::Rung;
use mailtls::policy::mta_sts::{StsFetchError, StsLookup, StsPolicy};
use mailtls::policy::precedence::{
    apply, Decision, HostAction, HostTlsa, PrecedenceInputs, Source, StepOutcome,
};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{
    Authentication, Destination, Encryption, FailureAction, Level, OutboundPolicy,
};
use mailtls::report::{PolicyType, ResultType};

use DnssecStatus::{Bogus, Indeterminate, Insecure, Secure};

const MX: &str = "mx1.example.com";

fn usable_tlsa() -> TlsaSet {
    TlsaSet::from_presentation([format!("3 1 1 {}", "ab".repeat(32)).as_str()])
}

fn unusable_tlsa() -> TlsaSet {
    TlsaSet::from_presentation([format!("1 1 1 {}", "ab".repeat(32)).as_str()])
}

fn sts(mode: &str, mx: &str) -> StsLookup {
    let text = format!("version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: 86400\n");
    StsLookup::Policy {
        policy: StsPolicy::parse(text.as_bytes()).unwrap(),
        from_cache: false,
        refresh_error: None,
    }
}

struct Case {
    level: Level,
    message: MessageTls,
    mx_status: DnssecStatus,
    tlsa: Option<(DnssecStatus, TlsaSet)>,
    sts: Option<StsLookup>,
}

impl Case {
    fn new() -> Self {
        Self {
            level: Level::May,
            message: MessageTls::default(),
            mx_status: Secure,
            tlsa: None,
            sts: None,
        }
    }

    fn run(&self) -> Decision {
        let dest = Destination::domain("example.com", [MX]).unwrap();
        let plan = OutboundPolicy::new()
            .with_default_level(self.level)
            .plan(&dest);
        let mx = DnsName::parse(MX).unwrap();
        let dane: Vec<HostTlsa<'_>> = self
            .tlsa
            .iter()
            .map(|(status, set)| HostTlsa {
                host: &mx,
                address_status: Secure,
                tlsa_status: *status,
                tlsa: set,
                tlsa_base_domain: &mx,
            })
            .collect();
        apply(
            plan,
            &PrecedenceInputs {
                message: self.message,
                mx_status: self.mx_status,
                sts: self.sts.as_ref(),
                dane: &dane,
            },
        )
    }
}

fn level(d: &Decision) -> Level {
    d.plan.hosts[0].requirement.level()
}

fn trace_text(d: &Decision) -> String {
    d.steps().map(|s| format!("{s}\n")).collect()
}

#[test]
fn mta_sts_never_overrides_dane_postfix_mta_sts_resolver_67() {
    // Usable TLSA and an enforced MTA-STS policy for the same MX: DANE decides.
    let mut case = Case::new();
    case.tlsa = Some((Secure, usable_tlsa()));
    case.sts = Some(sts("enforce", MX));
    let d = case.run();
    let h = &d.hosts[0];
    assert_eq!(h.decided_by, Source::Dane);
    // The requirement itself carries the TLSA records the verifier matches.
    let Authentication::Tlsa(dane) = &d.plan.hosts[0].requirement.authentication else {
        panic!("DANE decided, so the requirement is Tlsa");
    };
    assert_eq!(dane.check().tlsa(), &usable_tlsa());
    assert!(h.overruled.iter().any(|o| o.source == Source::MtaSts
        && o.because == mailtls::policy::OverruleReason::DaneBeforeMtaSts));
    let outcome = h.session_outcome(mailtls::Timestamp::from_unix_secs(1), Ok(()));
    assert_eq!(outcome.policy.policy_type, PolicyType::Tlsa);
    assert_eq!(
        outcome.unused_policies.len(),
        1,
        "the STS policy is listed, not counted"
    );
    assert_eq!(outcome.unused_policies[0].policy_type, PolicyType::Sts);
    assert!(
        trace_text(&d).contains("MTA-STS overruled by DANE"),
        "{}",
        trace_text(&d)
    );
    assert_eq!(
        d.plan.hosts[0].floor(),
        Some(Rung::Tls12Conservative),
        "never plaintext"
    );

    // A failing DANE lookup (bogus TLSA) with MTA-STS present: the host is skipped, MTA-STS
    // does not step in.
    case.tlsa = Some((Bogus, usable_tlsa()));
    let d = case.run();
    assert_eq!(d.hosts[0].decided_by, Source::Dane);
    assert!(matches!(
        d.hosts[0].action,
        HostAction::Skip {
            result_type: Some(ResultType::DnssecInvalid),
            ..
        }
    ));
}

#[test]
fn dane_only_is_never_the_result_for_an_unsigned_domain_postfix_tlspol_8() {
    let mut case = Case::new();
    case.level = Level::DaneOnly;
    case.mx_status = Insecure;
    case.tlsa = Some((Insecure, TlsaSet::default()));
    let d = case.run();
    assert_ne!(level(&d), Level::DaneOnly);
    assert_eq!(level(&d), Level::May, "dane without TLSA is may");
    assert_eq!(d.hosts[0].action, HostAction::Connect, "no deferral");
    assert!(trace_text(&d).contains("postfix-tlspol #8"));
    // Without any TLSA lookup at all, the same.
    case.tlsa = None;
    let d = case.run();
    assert_eq!(level(&d), Level::May);
    assert_eq!(d.hosts[0].action, HostAction::Connect);

    // A signed domain keeps dane-only: no usable TLSA defers (dane-required).
    case.mx_status = Secure;
    case.tlsa = Some((Secure, TlsaSet::default()));
    let d = case.run();
    assert!(matches!(
        d.hosts[0].action,
        HostAction::Skip {
            result_type: Some(ResultType::DaneRequired),
            ..
        }
    ));
    case.tlsa = Some((Secure, usable_tlsa()));
    assert_eq!(level(&case.run()), Level::DaneOnly);
}

#[test]
fn dane_effective_levels_on_top_of_the_configuration() {
    let mut case = Case::new();
    case.level = Level::Dane;
    case.tlsa = Some((Secure, unusable_tlsa()));
    let d = case.run();
    assert_eq!(level(&d), Level::Encrypt, "all unusable: encrypt");
    assert_eq!(d.hosts[0].report_policy.policy_type, PolicyType::Tlsa);
    case.tlsa = Some((Insecure, usable_tlsa()));
    assert_eq!(level(&case.run()), Level::May, "no secure TLSA: may");
    case.tlsa = Some((Secure, usable_tlsa()));
    let d = case.run();
    assert_eq!(level(&d), Level::Dane);
    assert!(d.plan.hosts[0].requirement.requires_tls());
    // Unusable TLSA raise even a `may` default to encrypt.
    case.level = Level::May;
    case.tlsa = Some((Secure, unusable_tlsa()));
    let d = case.run();
    assert_eq!(d.plan.hosts[0].requirement.encryption, Encryption::Required);
    // ...but MTA-STS enforce asks for more and wins.
    case.sts = Some(sts("enforce", MX));
    let d = case.run();
    assert_eq!(d.hosts[0].decided_by, Source::MtaSts);
    assert_eq!(level(&d), Level::Verify);
}

#[test]
fn temporary_dns_errors_defer_and_never_downgrade() {
    let mut case = Case::new();
    case.tlsa = Some((Indeterminate, TlsaSet::default()));
    case.sts = Some(sts("enforce", MX));
    let d = case.run();
    assert!(
        matches!(d.hosts[0].action, HostAction::Skip { .. }),
        "a TLSA lookup failure is not 'no DANE', and MTA-STS does not step in"
    );
    assert_eq!(d.hosts[0].decided_by, Source::Dane);

    let mut case = Case::new();
    case.sts = Some(StsLookup::TemporaryFailure);
    let d = case.run();
    match &d.hosts[0].action {
        HostAction::Skip { status, .. } => assert_eq!(status.code().as_u16(), 451),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mta_sts_enforce_testing_and_mx_mismatch() {
    let mut case = Case::new();
    case.sts = Some(sts("enforce", "*.example.com"));
    let d = case.run();
    assert_eq!(d.hosts[0].decided_by, Source::MtaSts);
    assert_eq!(level(&d), Level::Verify);
    let ids = d.plan.hosts[0].requirement.authentication.reference_ids();
    assert_eq!(ids.len(), 1);
    assert!(ids[0].matches(&DnsName::parse(MX).unwrap()));
    assert_eq!(d.plan.hosts[0].sni.as_ref().map(DnsName::as_str), Some(MX));
    assert_eq!(d.hosts[0].report_policy.policy_type, PolicyType::Sts);

    case.sts = Some(sts("enforce", "other.example.net"));
    let d = case.run();
    assert!(matches!(
        d.hosts[0].action,
        HostAction::Skip {
            result_type: Some(ResultType::ValidationFailure),
            ..
        }
    ));

    case.sts = Some(sts("testing", "other.example.net"));
    let d = case.run();
    assert_eq!(d.hosts[0].action, HostAction::Connect, "testing delivers");
    assert!(matches!(
        d.hosts[0].testing,
        Some(mailtls::policy::TestingPolicy::Fails(
            ResultType::ValidationFailure
        ))
    ));
    assert_eq!(level(&d), Level::May);
    assert_eq!(d.hosts[0].report_policy.policy_type, PolicyType::Sts);

    case.sts = Some(StsLookup::NoPolicy {
        fetch_error: Some(StsFetchError::Status { status: 404 }),
    });
    let d = case.run();
    assert_eq!(level(&d), Level::May);
    assert_eq!(
        d.hosts[0].report_policy.policy_type,
        PolicyType::NoPolicyFound
    );
}

#[test]
fn tls_required_no_drops_recipient_policies_unless_requiretls() {
    let mut case = Case::new();
    case.level = Level::Secure;
    case.tlsa = Some((Secure, usable_tlsa()));
    case.sts = Some(sts("enforce", MX));
    case.message = MessageTls::new(false, ["No"]);
    let d = case.run();
    let h = &d.hosts[0];
    assert_eq!(h.decided_by, Source::TlsRequiredNo);
    assert_eq!(level(&d), Level::May);
    assert!(d.plan.hosts[0].requirement.allows_plaintext());
    let overruled: Vec<&Source> = h.overruled.iter().map(|o| &o.source).collect();
    assert!(overruled.contains(&&Source::Dane));
    assert!(overruled.contains(&&Source::MtaSts));
    assert!(overruled
        .iter()
        .any(|s| matches!(s, Source::Configuration(_))));
    assert_eq!(h.report_policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(h.unused_policies.len(), 2);

    // REQUIRETLS wins over the header.
    case.message = MessageTls::new(true, ["No"]);
    let d = case.run();
    assert_eq!(d.hosts[0].decided_by, Source::Dane);
    assert!(d.steps().any(|s| s.source == Source::TlsRequiredNo
        && s.outcome
            == StepOutcome::Overruled {
                by: Source::RequireTls,
                because: mailtls::policy::OverruleReason::RequireTlsCancelsTlsRequiredNo,
            }));
}

#[test]
fn requiretls_needs_a_secure_mx_and_an_authenticated_level() {
    let mut case = Case::new();
    case.message = MessageTls::new(true, []);
    // may: not authenticated.
    let d = case.run();
    assert_eq!(d.hosts[0].decided_by, Source::RequireTls);
    match &d.hosts[0].action {
        HostAction::Skip { status, .. } => assert_eq!(status.enhanced().to_string(), "5.7.10"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        d.plan.hosts[0].on_failure,
        FailureAction::Bounce(_)
    ));
    // verify, but the MX lookup was not signed and no MTA-STS: not found securely.
    case.level = Level::Verify;
    case.mx_status = Insecure;
    assert!(matches!(
        case.run().hosts[0].action,
        HostAction::Skip { .. }
    ));
    // MTA-STS enforce makes the MX secure.
    case.sts = Some(sts("enforce", MX));
    assert_eq!(case.run().hosts[0].action, HostAction::Connect);
    // DANE on a signed domain.
    let mut case = Case::new();
    case.message = MessageTls::new(true, []);
    case.tlsa = Some((Secure, usable_tlsa()));
    let d = case.run();
    assert_eq!(d.hosts[0].action, HostAction::Connect);
    assert!(d
        .steps()
        .any(|s| s.source == Source::RequireTls && s.outcome == StepOutcome::Allowed));
}

#[test]
fn configuration_decides_when_nothing_else_applies() {
    let mut case = Case::new();
    case.level = Level::Encrypt;
    let d = case.run();
    assert!(matches!(d.hosts[0].decided_by, Source::Configuration(_)));
    assert_eq!(level(&d), Level::Encrypt);
    assert_eq!(
        d.hosts[0].report_policy.policy_type,
        PolicyType::NoPolicyFound
    );
}
