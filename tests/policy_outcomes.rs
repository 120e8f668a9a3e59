//! Level × peer outcome: what every policy (Postfix levels and connector settings) does with
//! every kind of peer, walking the ladder with `next_rung` until delivery or refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use core::time::Duration;

use mailtls::cert::{Pin, PinDigest, PinTarget};
use mailtls::names::{Dialect, HostId, NamePattern};
use mailtls::policy::connector::TlsSettings;
use mailtls::policy::ladder::{next_rung, FailureClass, GateFacts, Rung};
use mailtls::policy::{AnchorSource, Authentication, FailureAction, HostPlan, Level, Requirement};

/// What the peer does, on every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// No STARTTLS in the EHLO reply.
    StarttlsMissing,
    /// STARTTLS answered with 454.
    StarttlsRefused,
    /// A handshake_failure alert on every rung.
    HandshakeFailure,
    /// A self-signed certificate whose digest is pinned, with an unrelated name.
    PinnedSelfSigned,
    /// A certificate that chains to no trusted root (right name, not pinned).
    UntrustedCert,
    /// A trusted certificate with another name (not pinned).
    WrongName,
    /// A trusted certificate with the right name, pinned.
    Good,
}

/// How the delivery ends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    /// Delivered over TLS on this rung.
    Tls(Rung),
    /// Delivered in plaintext.
    Plaintext,
    /// Deferred with this enhanced status code.
    Defer((u8, u16, u16)),
}

fn verifies(requirement: &Requirement, peer: Peer) -> bool {
    let (chain, name, pin) = match peer {
        Peer::PinnedSelfSigned => (false, false, true),
        Peer::UntrustedCert => (false, true, false),
        Peer::WrongName => (true, false, false),
        Peer::Good => (true, true, true),
        _ => unreachable!("no certificate"),
    };
    match &requirement.authentication {
        Authentication::None => true,
        Authentication::Chain(_) => chain,
        Authentication::ChainAndName { .. } => chain && name,
        Authentication::Pins(_) => pin,
        // Unresolved DANE: no TLSA was looked at, so nothing can match.
        _ => false,
    }
}

fn deliver(plan: &HostPlan, peer: Peer) -> End {
    let gates =
        GateFacts::new().with_message_age(Duration::from_secs(3600), Duration::from_secs(300));
    let mut rung = plan.first_rung().expect("a usable plan");
    for _ in 0..8 {
        if rung == Rung::Plaintext {
            return End::Plaintext;
        }
        let failure = match peer {
            Peer::StarttlsMissing => FailureClass::StarttlsNotOffered,
            Peer::StarttlsRefused => FailureClass::StarttlsRefused,
            Peer::HandshakeFailure => FailureClass::HandshakeFailureAlert,
            _ if verifies(&plan.requirement, peer) => return End::Tls(rung),
            _ => FailureClass::Certificate,
        };
        match next_rung(plan, rung, failure, &gates) {
            Ok(next) => {
                assert!(next > rung, "the ladder only goes down");
                rung = next;
            }
            Err(refusal) => match refusal.action {
                FailureAction::Defer(status) => {
                    let e = status.enhanced();
                    return End::Defer((e.class(), e.subject(), e.detail()));
                }
                other => panic!("a single-host plan defers, got {other}"),
            },
        }
    }
    panic!("the ladder did not end")
}

fn plan_for(requirement: Requirement) -> HostPlan {
    HostPlan::new(HostId::parse("mx.example.com").unwrap(), 25, requirement)
}

fn level(level: Level) -> HostPlan {
    let name = NamePattern::parse("mx.example.com", Dialect::PostfixMatch).unwrap();
    let pin = Pin::new(
        PinTarget::CertificateOrPublicKey,
        PinDigest::Sha256,
        vec![7; 32],
    )
    .unwrap();
    plan_for(level.requirement(vec![name], vec![pin], AnchorSource::Public))
}

fn connector(settings: Option<TlsSettings>) -> HostPlan {
    let domain = NamePattern::parse("*.example.com", Dialect::ExchangeConnector).unwrap();
    plan_for(TlsSettings::requirement(settings, Some(domain)))
}

const PEERS: [Peer; 7] = [
    Peer::StarttlsMissing,
    Peer::StarttlsRefused,
    Peer::HandshakeFailure,
    Peer::PinnedSelfSigned,
    Peer::UntrustedCert,
    Peer::WrongName,
    Peer::Good,
];

#[test]
fn every_policy_against_every_peer() {
    use End::*;
    const MODERN: End = Tls(Rung::Modern);
    const NOT_OFFERED: End = Defer((4, 7, 4));
    const FAILED: End = Defer((4, 7, 5));
    // Columns follow PEERS: missing, refused, handshake failure, pinned self-signed,
    // untrusted, wrong name, good.
    let table: Vec<(&str, HostPlan, [End; 7])> = vec![
        (
            "none",
            level(Level::None),
            [
                Plaintext, Plaintext, Plaintext, Plaintext, Plaintext, Plaintext, Plaintext,
            ],
        ),
        (
            "may",
            level(Level::May),
            [
                Plaintext, Plaintext, Plaintext, MODERN, MODERN, MODERN, MODERN,
            ],
        ),
        (
            "encrypt",
            level(Level::Encrypt),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                MODERN,
                MODERN,
                MODERN,
                MODERN,
            ],
        ),
        (
            "fingerprint",
            level(Level::Fingerprint),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                MODERN,
                FAILED,
                FAILED,
                MODERN,
            ],
        ),
        (
            "verify",
            level(Level::Verify),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
                MODERN,
            ],
        ),
        (
            "secure",
            level(Level::Secure),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
                MODERN,
            ],
        ),
        (
            "dane (unresolved)",
            level(Level::Dane),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
            ],
        ),
        (
            "dane-only (unresolved)",
            level(Level::DaneOnly),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
            ],
        ),
        (
            "connector: opportunistic",
            connector(None),
            [
                Plaintext, Plaintext, Plaintext, MODERN, MODERN, MODERN, MODERN,
            ],
        ),
        (
            "connector: encryption_only",
            connector(Some(TlsSettings::EncryptionOnly)),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                MODERN,
                MODERN,
                MODERN,
                MODERN,
            ],
        ),
        (
            "connector: certificate_validation",
            connector(Some(TlsSettings::CertificateValidation)),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                MODERN,
                MODERN,
            ],
        ),
        (
            "connector: domain_validation",
            connector(Some(TlsSettings::DomainValidation)),
            [
                NOT_OFFERED,
                NOT_OFFERED,
                FAILED,
                FAILED,
                FAILED,
                FAILED,
                MODERN,
            ],
        ),
    ];
    for (name, plan, expected) in table {
        for (peer, want) in PEERS.into_iter().zip(expected) {
            assert_eq!(deliver(&plan, peer), want, "{name} against {peer:?}");
        }
    }
}

#[test]
fn the_same_requirement_from_a_level_and_a_connector_behaves_the_same() {
    let pairs = [
        (level(Level::May), connector(None)),
        (
            level(Level::Encrypt),
            connector(Some(TlsSettings::EncryptionOnly)),
        ),
    ];
    for (from_level, from_connector) in pairs {
        assert_eq!(from_level.requirement, from_connector.requirement);
        assert_eq!(from_level.ladder(), from_connector.ladder());
    }
}
