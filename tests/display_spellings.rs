//! The words people, logs, JSON and C read: every enum that reaches them prints a stable
//! spelling through Display. A change here changes what operators grep for; make it on
//! purpose.

use mailtls::client::{AttemptResult, DeliveryOutcome, NextStep, PlaintextReason, Stage};
use mailtls::policy::dane::{CertUsage, DaneDeferReason, MatchingType, NotApplicableReason};
use mailtls::policy::inbound::Verification;
use mailtls::policy::ladder::{FailureClass, Rung};
use mailtls::policy::precedence::HostAction;
use mailtls::policy::{CipherSuite, KeyExchangeGroup, Status, TlsVersion};
use mailtls::report::ResultType;
use mailtls::server::{AbortReason, CloseReason};
use mailtls::smtp::{Code, EnhancedCode, Reply};
use mailtls::tls::TlsFailure;

fn check(cases: &[(String, &str)]) {
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

fn status() -> Status {
    Status::new(451, (4, 7, 5), "TLS failed")
}

#[test]
fn next_steps() {
    check(&[
        (NextStep::Done.to_string(), "done"),
        (NextStep::NextHost.to_string(), "next-host"),
        (
            NextStep::Defer(status()).to_string(),
            "defer: 451 4.7.5 TLS failed",
        ),
        (
            NextStep::Bounce(Status::new(554, (5, 7, 1), "no")).to_string(),
            "bounce: 554 5.7.1 no",
        ),
        (
            NextStep::Retry {
                rung: Rung::Tls12Only,
            }
            .to_string(),
            "retry on rung tls12",
        ),
    ]);
    assert_eq!(NextStep::Defer(status()).as_str(), "defer");
}

#[test]
fn attempt_results() {
    let reply = Reply::new(
        Code::new(550).unwrap(),
        EnhancedCode::new(5, 7, 1),
        "relay denied\nsee the postmaster",
    )
    .unwrap();
    let failure = TlsFailure::eof_during_handshake();
    check(&[
        (
            AttemptResult::Completed { tls: true }.to_string(),
            "completed over TLS",
        ),
        (
            AttemptResult::Completed { tls: false }.to_string(),
            "completed in plaintext",
        ),
        (
            AttemptResult::ConnectionLost { stage: Stage::Ehlo }.to_string(),
            "connection lost at EHLO",
        ),
        (
            AttemptResult::Skipped { status: status() }.to_string(),
            "skipped, not contacted: 451 4.7.5 TLS failed",
        ),
        (
            AttemptResult::Timeout {
                stage: Stage::Greeting,
            }
            .to_string(),
            "timeout at greeting",
        ),
        (
            AttemptResult::Rejected {
                stage: Stage::Mail,
                reply,
            }
            .to_string(),
            "rejected at MAIL: 550-5.7.1 relay denied | 550 5.7.1 see the postmaster",
        ),
        (
            AttemptResult::TlsFailed {
                class: FailureClass::EofDuringHandshake,
                failure: Some(failure),
                detail: String::new(),
            }
            .to_string(),
            "TLS failed (eof-during-handshake): the peer closed the connection during the TLS \
             handshake",
        ),
        (
            AttemptResult::TlsFailed {
                class: FailureClass::StarttlsNotOffered,
                failure: None,
                detail: "no STARTTLS in the EHLO reply".into(),
            }
            .to_string(),
            "TLS failed (starttls-not-offered): no STARTTLS in the EHLO reply",
        ),
    ]);
    assert_eq!(AttemptResult::Completed { tls: true }.as_str(), "completed");
}

#[test]
fn delivery_outcomes_and_host_actions() {
    check(&[
        (
            DeliveryOutcome::Deferred(status()).to_string(),
            "deferred: 451 4.7.5 TLS failed",
        ),
        (
            DeliveryOutcome::Bounced(status()).to_string(),
            "bounced: 451 4.7.5 TLS failed",
        ),
        (
            DeliveryOutcome::Completed {
                host: "mx.example.net".into(),
                rung: Rung::Modern,
                tls: true,
            }
            .to_string(),
            "completed with mx.example.net over TLS on rung tls13+tls12",
        ),
        (
            // Issue 18 item 11: a plaintext delivery never reads "on rung tls13+tls12".
            DeliveryOutcome::Completed {
                host: "mx.example.net".into(),
                rung: Rung::Modern,
                tls: false,
            }
            .to_string(),
            "completed with mx.example.net in plaintext",
        ),
        (HostAction::Connect.to_string(), "connect"),
        (
            HostAction::Skip {
                status: status(),
                result_type: Some(ResultType::DaneRequired),
            }
            .to_string(),
            "skip (451 4.7.5 TLS failed) [dane-required]",
        ),
    ]);
}

#[test]
fn reasons_and_classes() {
    check(&[
        (PlaintextReason::HeloOnly.to_string(), "helo-only"),
        (PlaintextReason::PlaintextRung.to_string(), "plaintext-rung"),
        (
            PlaintextReason::StarttlsNotOffered.to_string(),
            "starttls-not-offered",
        ),
        (
            FailureClass::HandshakeFailureAlert.to_string(),
            "handshake-failure-alert",
        ),
        (FailureClass::Certificate.to_string(), "certificate"),
        (Stage::StartTls.to_string(), "STARTTLS"),
        (Stage::DataEnd.to_string(), "end of data"),
        (CloseReason::PeerClosed.to_string(), "peer-closed"),
        (CloseReason::TooManyErrors.to_string(), "too-many-errors"),
        (CloseReason::Quit.to_string(), "quit"),
        (AbortReason::TooLarge.to_string(), "too-large"),
        (AbortReason::ConnectionLost.to_string(), "connection-lost"),
        (
            NotApplicableReason::InsecureTlsa.to_string(),
            "insecure-tlsa",
        ),
        (
            NotApplicableReason::NoTlsaRecords.to_string(),
            "no-tlsa-records",
        ),
        (
            DaneDeferReason::TemporaryDnsFailure.to_string(),
            "temporary-dns-failure",
        ),
        (Verification::NotVerified.to_string(), "not-verified"),
        (CertUsage::DaneEe.to_string(), "DANE-EE(3)"),
        (CertUsage::PkixTa.to_string(), "PKIX-TA(0)"),
        (MatchingType::Sha512.to_string(), "SHA2-512(2)"),
        (MatchingType::Unassigned(9).to_string(), "unassigned(9)"),
    ]);
}

#[test]
fn negotiated_parameters() {
    check(&[
        (TlsVersion::Tls13.to_string(), "TLSv1.3"),
        (TlsVersion::Tls12.to_string(), "TLSv1.2"),
        (
            CipherSuite::Tls13Aes128GcmSha256.to_string(),
            "TLS_AES_128_GCM_SHA256",
        ),
        (
            CipherSuite::EcdheRsaAes128GcmSha256
                .openssl_name()
                .to_owned(),
            "ECDHE-RSA-AES128-GCM-SHA256",
        ),
        (KeyExchangeGroup::X25519.to_string(), "X25519"),
        (KeyExchangeGroup::Secp384r1.to_string(), "secp384r1"),
        (
            KeyExchangeGroup::X25519Mlkem768.to_string(),
            "X25519MLKEM768",
        ),
    ]);
}
