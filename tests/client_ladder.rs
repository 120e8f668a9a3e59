//! The ladder in action: a `Delivery` walks rungs and hosts against intolerant in-memory
//! peers, and every attempt leaves a record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::client::{AttemptResult, Delivery, DeliveryOutcome, NextStep};
use mailtls::policy::ladder::{FailureClass, GateFacts, Rung};
use mailtls::policy::{
    CipherSuite, Destination, FailureAction, HostPlan, KeyExchangeGroup, Level, Plan, PolicySource,
    TlsVersion,
};
use mailtls::report::ResultType;
use mailtls::tls::ServerTlsSetup;
use support::drive::{run, Run};
use support::peers::Intolerance;
use support::pki::pki;
use support::plans::{message, plan, settings, verifiers};
use support::smtp_server::{Script, SmtpServer};
use support::NOW;

fn intolerant(intolerance: Intolerance, server_rung: Rung) -> Script {
    Script {
        tls: (
            ServerTlsSetup::new(server_rung, pki().server.clone(), NOW),
            intolerance,
        ),
        ..Script::default()
    }
}

/// Runs a whole delivery; `server` makes the server for each attempt (by host and attempt
/// number).
fn deliver(
    hosts: Vec<HostPlan>,
    gates: GateFacts,
    mut server: impl FnMut(&str, usize) -> Script,
) -> (Delivery, Vec<Run>) {
    let destination = Destination::parse("partner.test").unwrap();
    let plan = Plan::from_hosts(destination, PolicySource::Default, hosts);
    let mut delivery =
        Delivery::from_plan(settings(), plan, Arc::new(verifiers())).with_gates(gates);
    let mut runs = Vec::new();
    while let Some(session) = delivery.next_session(NOW) {
        let host = delivery.current_host().unwrap().0.to_string();
        let r = run(
            session,
            SmtpServer::new(server(&host, runs.len())),
            Some(message(2048)),
        );
        delivery.record(r.record.clone());
        runs.push(r);
        assert!(runs.len() <= 12, "the driver must terminate");
    }
    (delivery, runs)
}

fn rungs(delivery: &Delivery) -> Vec<Rung> {
    delivery.records().iter().map(|r| r.rung).collect()
}

fn classes(delivery: &Delivery) -> Vec<Option<FailureClass>> {
    delivery
        .records()
        .iter()
        .map(|r| match &r.result {
            AttemptResult::TlsFailed { class, .. } => Some(*class),
            _ => None,
        })
        .collect()
}

#[test]
fn a_server_that_alerts_on_a_tls13_hello_is_met_on_the_tls12_rung() {
    for intolerance in [Intolerance::AlertOnTls13, Intolerance::CloseOnTls13] {
        for level in [Level::May, Level::Encrypt, Level::Verify] {
            let (delivery, runs) = deliver(vec![plan(level)], GateFacts::default(), |_, _| {
                intolerant(intolerance, Rung::Tls12Only)
            });
            assert_eq!(rungs(&delivery), [Rung::Modern, Rung::Tls12Only], "{level}");
            let first = match intolerance {
                Intolerance::AlertOnTls13 => FailureClass::ProtocolVersionAlert,
                _ => FailureClass::EofDuringHandshake,
            };
            assert_eq!(classes(&delivery), [Some(first), None]);
            assert_eq!(
                delivery.records()[0].next,
                NextStep::Retry {
                    rung: Rung::Tls12Only
                }
            );
            assert_eq!(
                delivery.records()[0].result_type,
                Some(ResultType::StarttlsNotSupported)
            );
            let done = delivery.records()[1].tls.clone().unwrap();
            assert_eq!(done.facts.version, TlsVersion::Tls12);
            assert_eq!(done.rung, Rung::Tls12Only);
            assert_eq!(
                delivery.outcome(),
                Some(&DeliveryOutcome::Completed {
                    host: "mx.example.com".into(),
                    rung: Rung::Tls12Only,
                    tls: true,
                })
            );
            assert!(!runs[0].mail_sent() && !runs[1].plaintext_mail());
        }
    }
}

#[test]
fn a_server_limited_to_tls12_needs_no_ladder() {
    let (delivery, _) = deliver(vec![plan(Level::Encrypt)], GateFacts::default(), |_, _| {
        intolerant(Intolerance::None, Rung::Tls12Only)
    });
    assert_eq!(rungs(&delivery), [Rung::Modern]);
    assert_eq!(
        delivery.records()[0].tls.clone().unwrap().facts.version,
        TlsVersion::Tls12
    );
}

#[test]
fn a_server_with_only_what_the_first_rungs_lack_is_met_on_the_conservative_rung() {
    let (delivery, _) = deliver(vec![plan(Level::Encrypt)], GateFacts::default(), |_, _| {
        intolerant(
            Intolerance::HandshakeFailureOnX25519,
            Rung::Tls12Conservative,
        )
    });
    assert_eq!(
        rungs(&delivery),
        [Rung::Modern, Rung::Tls12Only, Rung::Tls12Conservative]
    );
    assert_eq!(
        classes(&delivery),
        [
            Some(FailureClass::HandshakeFailureAlert),
            Some(FailureClass::HandshakeFailureAlert),
            None
        ]
    );
    let facts = delivery.records()[2].tls.clone().unwrap().facts;
    assert_eq!(facts.group, Some(KeyExchangeGroup::Secp256r1));
    assert_eq!(facts.suite, CipherSuite::EcdheEcdsaAes256GcmSha384);
}

#[test]
fn a_certificate_failure_at_an_authenticated_level_never_walks_down() {
    for level in [Level::Verify, Level::Secure] {
        let (delivery, runs) = deliver(vec![plan(level)], GateFacts::default(), |_, _| Script {
            tls: (
                ServerTlsSetup::new(Rung::Modern, pki().wrong_name.clone(), NOW),
                Intolerance::None,
            ),
            ..Script::default()
        });
        assert_eq!(rungs(&delivery), [Rung::Modern], "{level}");
        assert_eq!(classes(&delivery), [Some(FailureClass::Certificate)]);
        assert_eq!(
            delivery.records()[0].result_type,
            Some(ResultType::CertificateHostMismatch)
        );
        assert!(matches!(
            delivery.outcome(),
            Some(DeliveryOutcome::Deferred(_))
        ));
        assert!(!runs[0].mail_sent());
    }
}

#[test]
fn when_every_tls_rung_fails_only_the_opportunistic_level_reaches_plaintext() {
    let (delivery, runs) = deliver(vec![plan(Level::May)], GateFacts::default(), |_, _| {
        intolerant(Intolerance::AlwaysHandshakeFailure, Rung::Modern)
    });
    assert_eq!(
        rungs(&delivery),
        [
            Rung::Modern,
            Rung::Tls12Only,
            Rung::Tls12Conservative,
            Rung::Plaintext
        ]
    );
    assert!(runs[3].plaintext_mail());
    assert_eq!(
        delivery.records()[3].result,
        AttemptResult::Completed { tls: false }
    );

    for level in [Level::Encrypt, Level::Verify, Level::Fingerprint] {
        let (delivery, runs) = deliver(vec![plan(level)], GateFacts::default(), |_, _| {
            intolerant(Intolerance::AlwaysHandshakeFailure, Rung::Modern)
        });
        assert_eq!(
            rungs(&delivery),
            [Rung::Modern, Rung::Tls12Only, Rung::Tls12Conservative],
            "{level}"
        );
        assert!(matches!(
            delivery.outcome(),
            Some(DeliveryOutcome::Deferred(_))
        ));
        assert!(runs.iter().all(|r| !r.mail_sent()));
    }

    // REQUIRETLS closes the plaintext gate even at the opportunistic level.
    let (delivery, runs) = deliver(
        vec![plan(Level::May)],
        GateFacts::default().with_requiretls(true),
        |_, _| intolerant(Intolerance::AlwaysHandshakeFailure, Rung::Modern),
    );
    assert_eq!(rungs(&delivery).len(), 3);
    assert!(runs.iter().all(|r| !r.mail_sent()));
}

#[test]
fn a_refusing_host_hands_over_to_the_next_candidate() {
    let mut first = plan(Level::Encrypt);
    first.host = mailtls::names::HostId::parse("mx1.example.com").unwrap();
    first.on_failure = FailureAction::NextHost;
    let second = plan(Level::Encrypt);
    let (delivery, runs) = deliver(vec![first, second], GateFacts::default(), |host, _| {
        if host == "mx1.example.com" {
            Script {
                greeting: b"421 4.3.2 busy\r\n".to_vec(),
                ..Script::default()
            }
        } else {
            Script::default()
        }
    });
    let hosts: Vec<_> = delivery.records().iter().map(|r| r.host.as_str()).collect();
    assert_eq!(hosts, ["mx1.example.com", "mx.example.com"]);
    assert!(runs[1].mail_sent());
    assert!(matches!(
        delivery.outcome(),
        Some(DeliveryOutcome::Completed { .. })
    ));
}

/// Postfix `smtp_skip_5xx_greeting` (postconf(5), default `yes`): a server that greets with
/// 5xx is skipped for the next MX, and when every MX did so the message is deferred, never
/// bounced, at every level. The greeting is plaintext anyone in the path can forge
/// (ARCHITECTURE.md invariant 6). (This replaces the old expectation that such a delivery
/// bounces.)
#[test]
fn postfix_smtp_skip_5xx_greeting_tries_the_next_mx_then_defers() {
    // (The DANE levels need TLSA records, which these plans do not carry.)
    for level in [
        Level::None,
        Level::May,
        Level::Encrypt,
        Level::Fingerprint,
        Level::Verify,
        Level::Secure,
    ] {
        let mut first = plan(level);
        first.host = mailtls::names::HostId::parse("mx1.example.com").unwrap();
        first.on_failure = FailureAction::NextHost;
        let (delivery, runs) = deliver(vec![first, plan(level)], GateFacts::default(), |_, _| {
            Script {
                greeting: b"554 5.7.1 go away\r\n".to_vec(),
                ..Script::default()
            }
        });
        let hosts: Vec<_> = delivery.records().iter().map(|r| r.host.as_str()).collect();
        assert_eq!(hosts, ["mx1.example.com", "mx.example.com"], "{level}");
        assert!(runs.iter().all(|r| !r.mail_sent()), "{level}");
        match delivery.outcome() {
            Some(DeliveryOutcome::Deferred(status)) => {
                assert_eq!(
                    status.to_string(),
                    "451 4.7.1 host mx.example.com refused to talk to me: 554 5.7.1 go away",
                    "{level}"
                );
            }
            other => panic!("{level}: {other:?}"),
        }
    }
    // A refusing greeting without an enhanced code defers with 4.0.0.
    let (delivery, _) = deliver(vec![plan(Level::Secure)], GateFacts::default(), |_, _| {
        Script {
            greeting: b"550 no\r\n".to_vec(),
            ..Script::default()
        }
    });
    match delivery.outcome() {
        Some(DeliveryOutcome::Deferred(status)) => {
            assert_eq!(
                status.to_string(),
                "451 4.0.0 host mx.example.com refused to talk to me: 550 no"
            );
        }
        other => panic!("{other:?}"),
    }
}
