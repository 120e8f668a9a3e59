//! Properties of the ladder over arbitrary plans, peer behaviour and gate facts:
//! a forced plan never yields plaintext, an authenticated plan never goes on after a
//! certificate failure, and no plan moves off its ladder or below its floor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use core::time::Duration;

use mailtls::cert::{Pin, PinDigest, PinTarget};
use mailtls::names::{Dialect, HostId, NamePattern};
use mailtls::policy::connector::TlsSettings;
use mailtls::policy::ladder::{next_rung, FailureClass, GateFacts, RefusalReason, Rung};
use mailtls::policy::{
    AnchorSource, CipherSuite, HostPlan, Level, SuiteSet, TlsVersion, VersionSet,
};
use proptest::prelude::*;

const CLASSES: [FailureClass; 10] = [
    FailureClass::Certificate,
    FailureClass::Decode,
    FailureClass::EofDuringHandshake,
    FailureClass::HandshakeFailureAlert,
    FailureClass::InsufficientSecurityAlert,
    FailureClass::OtherTls,
    FailureClass::ProtocolVersionAlert,
    FailureClass::StarttlsNotOffered,
    FailureClass::StarttlsRefused,
    FailureClass::Timeout,
];

fn plan(source: usize, versions: u8, suites: u16) -> HostPlan {
    let host = HostId::parse("mx.example.com").unwrap();
    let requirement = if let Some(level) = Level::ALL.get(source) {
        let name = NamePattern::parse("mx.example.com", Dialect::PostfixMatch).unwrap();
        let pin = Pin::new(
            PinTarget::CertificateOrPublicKey,
            PinDigest::Sha256,
            vec![1; 32],
        )
        .unwrap();
        level.requirement(vec![name], vec![pin], AnchorSource::Public)
    } else {
        let settings = [
            None,
            Some(TlsSettings::EncryptionOnly),
            Some(TlsSettings::CertificateValidation),
            Some(TlsSettings::DomainValidation),
        ];
        let domain = NamePattern::parse("*.example.com", Dialect::ExchangeConnector).unwrap();
        TlsSettings::requirement(settings[source - Level::ALL.len()], Some(domain))
    };
    let mut plan = HostPlan::new(host, 25, requirement);
    let mut version_set = VersionSet::EMPTY;
    if versions & 1 != 0 {
        version_set = version_set.with(TlsVersion::Tls12);
    }
    if versions & 2 != 0 {
        version_set = version_set.with(TlsVersion::Tls13);
    }
    plan.protocols.versions = version_set;
    plan.protocols.suites = SuiteSet::ALL.retain(|s| {
        let index = CipherSuite::ALL.iter().position(|x| *x == s).unwrap();
        suites & (1 << index) != 0
    });
    plan
}

fn gates(requiretls: bool, sasl: bool, age: Option<u64>) -> GateFacts {
    let gates = GateFacts::new()
        .with_requiretls(requiretls)
        .with_sasl_credentials(sasl);
    match age {
        Some(age) => gates.with_message_age(Duration::from_secs(age), Duration::from_secs(300)),
        None => gates,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn walks_respect_the_plan(
        source in 0usize..(Level::ALL.len() + 4),
        versions in 1u8..4,
        suites in 1u16..0x200,
        failures in proptest::collection::vec(0usize..CLASSES.len(), 1..12),
        requiretls in any::<bool>(),
        sasl in any::<bool>(),
        age in proptest::option::of(0u64..1000),
    ) {
        let plan = plan(source, versions, suites);
        let gates = gates(requiretls, sasl, age);
        let ladder = plan.ladder();
        prop_assert_eq!(plan.first_rung(), ladder.first());
        let Some(mut rung) = plan.first_rung() else {
            // Unusable: TLS required and nothing to negotiate.
            prop_assert!(plan.requirement.requires_tls());
            return Ok(());
        };
        let floor = plan.floor().unwrap();
        for index in failures {
            let class = CLASSES[index];
            match next_rung(&plan, rung, class, &gates) {
                Ok(next) => {
                    // Down, on the ladder, never below the floor.
                    prop_assert!(next > rung);
                    prop_assert!(ladder.contains(next));
                    prop_assert!(next <= floor);
                    if next == Rung::Plaintext {
                        // Forced plans never reach plaintext; nor do REQUIRETLS or SASL.
                        prop_assert!(plan.requirement.allows_plaintext());
                        prop_assert!(!requiretls && !sasl);
                    }
                    // An authenticated plan never goes on after a certificate failure.
                    if plan.requirement.authentication.verifies() {
                        prop_assert_ne!(class, FailureClass::Certificate);
                    }
                    // Only version/suite intolerance moves between TLS rungs.
                    if next.is_tls() {
                        prop_assert!(class.allows_weaker_tls());
                    }
                    rung = next;
                }
                Err(refusal) => {
                    if class == FailureClass::Certificate
                        && plan.requirement.authentication.verifies()
                        && rung.is_tls()
                    {
                        prop_assert_eq!(refusal.reason, RefusalReason::Authentication { rung });
                    }
                    break;
                }
            }
        }
    }

    #[test]
    fn forced_plans_never_reach_plaintext(
        source in prop_oneof![Just(2usize), 3usize..8, 9usize..12],
        versions in 1u8..4,
        suites in 1u16..0x200,
        failures in proptest::collection::vec(0usize..CLASSES.len(), 1..12),
    ) {
        let plan = plan(source, versions, suites);
        prop_assert!(plan.requirement.requires_tls());
        prop_assert!(!plan.ladder().contains(Rung::Plaintext));
        let gates = gates(false, false, None);
        let Some(mut rung) = plan.first_rung() else { return Ok(()) };
        for index in failures {
            match next_rung(&plan, rung, CLASSES[index], &gates) {
                Ok(next) => {
                    prop_assert!(next.is_tls());
                    rung = next;
                }
                Err(_) => break,
            }
        }
    }
}
