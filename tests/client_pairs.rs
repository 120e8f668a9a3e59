//! In-memory pairs: a client session against a rustls-based scripted SMTP server, for every
//! level and connector setting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use mailtls::cert::TrustLevel;
use mailtls::client::{
    Attempt, AttemptResult, ClientEvent, ClientSession, MessageResult, NextStep, Timeouts,
};
use mailtls::policy::ladder::{FailureClass, Rung};
use mailtls::policy::{CipherSuite, KeyExchangeGroup, Level, TlsVersion};
use mailtls::report::ResultType;
use mailtls::tls::{ServerTlsSetup, TlsIdentity};
use support::drive::{run, Run};
use support::peers::Intolerance;
use support::pki::{pki, MX_NAME};
use support::plans::{message, plan, planned, session, settings, stuffed};
use support::smtp_server::{Script, SmtpServer};
use support::{verify, NOW};

fn server_with(identity: &TlsIdentity) -> Script {
    Script {
        tls: (
            ServerTlsSetup::new(Rung::Modern, identity.clone(), NOW),
            Intolerance::None,
        ),
        ..Script::default()
    }
}

fn message_result(run: &Run) -> MessageResult {
    run.events
        .iter()
        .find_map(|e| match e {
            ClientEvent::MessageResult(m) => Some(m.clone()),
            _ => None,
        })
        .expect("no message result")
}

fn deliver(level: Level, identity: &TlsIdentity) -> Run {
    let msg = message(10 * 1024);
    let r = run(
        planned(level, Rung::Modern),
        SmtpServer::new(server_with(identity)),
        Some(msg.clone()),
    );
    if r.record.result == (AttemptResult::Completed { tls: true }) {
        assert_eq!(
            r.server.data,
            stuffed(&msg),
            "{level}: the text arrives dot-stuffed"
        );
    }
    r
}

#[test]
fn every_level_delivers_over_tls_to_a_good_server() {
    let cases = [
        // Postfix checks the chain at `may`/`encrypt` too, for the log: `Trusted`.
        (Level::May, TrustLevel::Trusted),
        (Level::Encrypt, TrustLevel::Trusted),
        (Level::Verify, TrustLevel::Verified),
        (Level::Secure, TrustLevel::Verified),
        (Level::Fingerprint, TrustLevel::Verified),
    ];
    for (level, trust) in cases {
        let run = deliver(level, &pki().server);
        assert_eq!(
            run.record.result,
            AttemptResult::Completed { tls: true },
            "{level}"
        );
        assert_eq!(run.record.next, NextStep::Done);
        assert_eq!(run.record.result_type, None);
        let summary = run.record.tls.clone().unwrap();
        assert_eq!(summary.trust, trust, "{level}");
        let verification = summary.verification.clone().unwrap();
        assert!(verification.is_verified(), "{level}");
        // Outbound `may`/`encrypt` read nothing from the certificate: facts on demand.
        let names = match verification.facts {
            Some(facts) => facts.dns_names,
            None => {
                assert!(matches!(level, Level::May | Level::Encrypt), "{level}");
                mailtls::cert::CertFacts::from_der(summary.facts.peer_chain[0].as_ref())
                    .unwrap()
                    .dns_names
            }
        };
        assert_eq!(names, [MX_NAME]);
        let facts = summary.facts;
        assert_eq!(facts.version, TlsVersion::Tls13);
        assert_eq!(facts.suite, CipherSuite::Tls13Aes256GcmSha384);
        assert_eq!(facts.group, Some(KeyExchangeGroup::X25519));
        assert_eq!(facts.peer_chain, pki().server.chain());
        let result = message_result(&run);
        assert!(result.accepted, "{level}");
        assert_eq!(result.accepted_recipients, [0, 1]);
        assert_eq!(run.record.receiving_helo.as_deref(), Some("mx.example.com"));
        // Everything after STARTTLS went through TLS.
        let after: Vec<_> = run
            .server
            .log
            .iter()
            .skip_while(|r| r.line != "STARTTLS")
            .skip(1)
            .collect();
        assert!(after.iter().all(|r| r.tls));
        assert_eq!(after[0].line, "EHLO relay.sender.example");
    }
}

#[test]
fn unauthenticated_levels_accept_any_certificate_and_authenticated_ones_do_not() {
    // The verdict is still recorded, in Postfix's words: a chain to the anchors is `Trusted`
    // whatever the name (no name is checked at these levels), anything else `Untrusted`.
    let words = [
        (&pki().self_signed, TrustLevel::Untrusted),
        (&pki().wrong_name, TrustLevel::Trusted),
        (&pki().expired, TrustLevel::Untrusted),
    ];
    for (identity, trust) in words {
        for level in [Level::May, Level::Encrypt] {
            let run = deliver(level, identity);
            assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
            let summary = run.record.tls.clone().unwrap();
            assert_eq!(summary.trust, trust, "{level}");
            // A record, not a failure: nothing was required.
            assert!(summary.verification.unwrap().error.is_none(), "{level}");
        }
    }
    let cases = [
        (&pki().self_signed, ResultType::CertificateNotTrusted),
        (&pki().wrong_name, ResultType::CertificateHostMismatch),
        (&pki().expired, ResultType::CertificateExpired),
    ];
    for (identity, result_type) in cases {
        for level in [Level::Verify, Level::Secure] {
            let run = deliver(level, identity);
            match &run.record.result {
                AttemptResult::TlsFailed { class, .. } => {
                    assert_eq!(*class, FailureClass::Certificate);
                }
                other => panic!("{level}: {other:?}"),
            }
            assert_eq!(run.record.result_type, Some(result_type), "{level}");
            assert!(!run.record.verification.clone().unwrap().is_verified());
            // A certificate failure at an authenticated level never walks down.
            assert!(
                matches!(run.record.next, NextStep::Defer(_)),
                "{:?}",
                run.record.next
            );
            assert!(!run.mail_sent());
        }
    }
    // Fingerprint: a chain the pin does not name fails, and stays failed.
    let run = deliver(Level::Fingerprint, &pki().wrong_name);
    assert_eq!(
        run.record.result_type,
        Some(ResultType::CertificateNotTrusted)
    );
    assert!(matches!(run.record.next, NextStep::Defer(_)));
    assert!(!run.mail_sent());
}

#[test]
fn the_envelope_is_pipelined_after_tls_and_the_dot_rides_with_the_last_chunk() {
    let run = deliver(Level::Encrypt, &pki().server);
    // MAIL, both RCPTs and DATA reached the server in one client write.
    let log = &run.server.log;
    let mail = log.iter().position(|r| r.line.starts_with("MAIL")).unwrap();
    let lines: Vec<_> = log[mail..mail + 4]
        .iter()
        .map(|r| r.line.as_str())
        .collect();
    assert_eq!(
        lines,
        [
            "MAIL FROM:<alice@sender.example>",
            "RCPT TO:<bob@example.com>",
            "RCPT TO:<carol@example.com>",
            "DATA"
        ]
    );
    assert!(log[mail..mail + 4]
        .iter()
        .all(|r| r.write == log[mail].write && r.tls));
    // The whole 10 KiB body and its terminating dot went out as one transmit.
    assert_eq!(run.server.writes, 1);
}

#[test]
fn without_pipelining_the_envelope_goes_command_by_command() {
    let msg = message(500);
    let r = run(
        ClientSession::new(
            settings().with_pipelining(false),
            Attempt::new(plan(Level::Encrypt), Rung::Modern, verify::accept_any()),
            NOW,
        ),
        SmtpServer::new(Script {
            rcpt: vec![b"550 5.1.1 no such user\r\n".to_vec()],
            ..Script::default()
        }),
        Some(msg),
    );
    let result = message_result(&r);
    assert!(result.accepted);
    assert_eq!(result.accepted_recipients, [1]);
    let rcpts: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RcptResult { index, reply } => Some((*index, reply.code().as_u16())),
            _ => None,
        })
        .collect();
    assert_eq!(rcpts, [(0, 550), (1, 250)]);
}

#[test]
fn a_transaction_with_no_accepted_recipient_sends_no_text() {
    let r = run(
        session(Level::Encrypt, Rung::Modern, verify::accept_any()),
        SmtpServer::new(Script {
            rcpt: vec![b"550 no\r\n".to_vec(), b"550 no\r\n".to_vec()],
            data: b"554 5.5.1 no valid recipients\r\n".to_vec(),
            ..Script::default()
        }),
        Some(message(500)),
    );
    let result = message_result(&r);
    assert!(!result.accepted);
    assert!(result.accepted_recipients.is_empty());
    assert!(r.server.data.is_empty());
    assert_eq!(r.record.result, AttemptResult::Completed { tls: true });
}

#[test]
fn sni_follows_the_plan() {
    let mut p = plan(Level::Encrypt);
    let r = run(
        ClientSession::new(
            settings(),
            Attempt::new(p.clone(), Rung::Modern, verify::accept_any()),
            NOW,
        ),
        SmtpServer::new(Script::default()),
        None,
    );
    let mut server = r.server;
    assert_eq!(
        server
            .tls_peer()
            .unwrap()
            .client_hello
            .clone()
            .unwrap()
            .sni
            .as_deref(),
        Some(MX_NAME)
    );
    p.sni = None;
    let r = run(
        ClientSession::new(
            settings(),
            Attempt::new(p, Rung::Modern, verify::accept_any()),
            NOW,
        ),
        SmtpServer::new(Script::default()),
        None,
    );
    let mut server = r.server;
    assert_eq!(
        server.tls_peer().unwrap().client_hello.clone().unwrap().sni,
        None
    );
}

#[test]
fn a_client_certificate_is_presented_when_the_connector_has_one() {
    let mut script = Script::default();
    script.tls.0 = script
        .tls
        .0
        .with_client_verifier(Some(verify::client_pkix()));
    let attempt = Attempt::new(plan(Level::Verify), Rung::Modern, verify::pkix())
        .with_identity(Some(pki().client.clone()));
    let r = run(
        ClientSession::new(settings(), attempt, NOW),
        SmtpServer::new(script.clone()),
        None,
    );
    assert_eq!(r.record.result, AttemptResult::Completed { tls: true });
    let mut server = r.server;
    assert_eq!(
        server
            .tls_peer()
            .unwrap()
            .engine()
            .facts()
            .unwrap()
            .peer_chain,
        pki().client.chain()
    );
    // Without one, a server that demands it ends the handshake.
    let r = run(
        session(Level::Verify, Rung::Modern, verify::pkix()),
        SmtpServer::new(script),
        None,
    );
    assert!(matches!(r.record.result, AttemptResult::TlsFailed { .. }));
    assert!(!r.mail_sent());
}

#[test]
fn every_stage_has_its_rfc5321_deadline() {
    // A server that never greets: the greeting timeout (5 min) ends the attempt.
    let mut s = session(Level::May, Rung::Modern, verify::accept_any());
    assert_eq!(
        s.poll_timeout(),
        Some(NOW.saturating_add(Timeouts::default().greeting))
    );
    s.handle_timeout(NOW.saturating_add(std::time::Duration::from_secs(299)));
    assert!(!s.is_finished());
    s.handle_timeout(NOW.saturating_add(std::time::Duration::from_secs(300)));
    assert!(s.is_finished());
    let mut finished = None;
    while let Some(e) = s.poll_event() {
        if let ClientEvent::Finished(r) = e {
            finished = Some(r);
        }
    }
    assert!(matches!(
        finished.unwrap().result,
        AttemptResult::Timeout {
            stage: mailtls::client::Stage::Greeting
        }
    ));
    let t = Timeouts::default();
    assert_eq!(
        [
            t.greeting,
            t.mail,
            t.rcpt,
            t.data_init,
            t.data_block,
            t.data_end
        ]
        .map(|d| d.as_secs()),
        [300, 300, 300, 120, 180, 600]
    );
}

#[test]
fn the_plaintext_rung_never_starts_tls() {
    let r = run(
        session(Level::May, Rung::Plaintext, verify::accept_any()),
        SmtpServer::new(Script::default()),
        Some(message(200)),
    );
    assert!(!r.server.log.iter().any(|l| l.line == "STARTTLS"));
    assert!(r.plaintext_mail());
    assert_eq!(r.record.result, AttemptResult::Completed { tls: false });
    // Under a plan that requires TLS the plaintext rung is refused outright.
    let r = run(
        session(Level::Encrypt, Rung::Plaintext, verify::accept_any()),
        SmtpServer::new(Script::default()),
        Some(message(200)),
    );
    assert!(!r.mail_sent());
}

#[test]
fn the_plan_protocols_narrow_the_handshake() {
    use mailtls::policy::{ProtocolPolicy, SuiteSet, TlsVersion, VersionSet};
    let mut p = plan(Level::Encrypt);
    p.protocols = ProtocolPolicy::new(VersionSet::only(TlsVersion::Tls12), SuiteSet::ALL);
    let first = p.first_rung().unwrap();
    assert_eq!(first, Rung::Tls12Only);
    let attempt = |rung| Attempt::new(p.clone(), rung, verify::accept_any());
    let r = run(
        ClientSession::new(settings(), attempt(first), NOW),
        SmtpServer::new(Script::default()),
        None,
    );
    let mut server = r.server;
    let hello = server.tls_peer().unwrap().client_hello.clone().unwrap();
    assert!(
        !hello.versions.contains(&0x0304),
        "TLS 1.3 must not be offered"
    );
    assert_eq!(r.record.tls.unwrap().facts.version, TlsVersion::Tls12);

    // A rung the plan's protocols leave off the ladder fails closed, before STARTTLS.
    let r = run(
        ClientSession::new(settings(), attempt(Rung::Modern), NOW),
        SmtpServer::new(Script::default()),
        None,
    );
    assert!(matches!(r.record.result, AttemptResult::TlsFailed { .. }));
    assert!(matches!(r.record.next, NextStep::Defer(_)));
    assert!(!r.server.log.iter().any(|l| l.line == "STARTTLS"));
}

/// A Postfix `fingerprint` entry, read from a policy table, planned and verified through the
/// standard verifiers: a SHA-256 or SHA-512 digest of the server's certificate or of its public
/// key delivers; any other digest refuses with a deferral, never a delivery.
#[test]
fn postfix_fingerprint_entries_verify_sha256_and_sha512_digests() {
    use mailtls::cert::{hex_colon, PinDigest};
    use mailtls::policy::postfix::PolicyTable;
    use mailtls::policy::{explain, Destination, OutboundPolicy};
    use ring::digest::{digest, SHA256, SHA512};

    let leaf = pki().server.chain()[0].clone();
    let spki = x509_parser::parse_x509_certificate(&leaf)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let hex = |algorithm, data: &[u8]| hex_colon(digest(algorithm, data).as_ref());
    let cases = [
        (
            "certificate SHA-512",
            hex(&SHA512, &leaf),
            PinDigest::Sha512,
            true,
        ),
        (
            "public key SHA-512",
            hex(&SHA512, &spki),
            PinDigest::Sha512,
            true,
        ),
        (
            "certificate SHA-256",
            hex(&SHA256, &leaf),
            PinDigest::Sha256,
            true,
        ),
        (
            "public key SHA-256",
            hex(&SHA256, &spki),
            PinDigest::Sha256,
            true,
        ),
        (
            "the CA's SHA-512",
            hex(&SHA512, &pki().ca),
            PinDigest::Sha512,
            false,
        ),
        (
            "a wrong SHA-512",
            hex_colon(&[0x5A; 64]),
            PinDigest::Sha512,
            false,
        ),
    ];
    for (what, fingerprint, algorithm, delivers) in cases {
        let table =
            PolicyTable::parse(&format!("example.com fingerprint match={fingerprint}\n")).unwrap();
        let entry = table.get("example.com").unwrap();
        assert_eq!(entry.pins[0].digest(), algorithm, "{what}");
        let policy = OutboundPolicy::new().with_table(table);
        let plan = explain(
            &policy,
            &Destination::domain("example.com", [MX_NAME]).unwrap(),
        );
        let host = plan.hosts[0].clone();
        assert_eq!(host.requirement.level(), Level::Fingerprint, "{what}");
        let handle = support::plans::verifiers().verifier_for(&host);
        let session = ClientSession::new(settings(), Attempt::new(host, Rung::Modern, handle), NOW);
        let msg = message(4 * 1024);
        let run = run(
            session,
            SmtpServer::new(server_with(&pki().server)),
            Some(msg.clone()),
        );
        if delivers {
            assert_eq!(
                run.record.result,
                AttemptResult::Completed { tls: true },
                "{what}"
            );
            assert_eq!(run.record.tls.clone().unwrap().trust, TrustLevel::Verified);
            assert_eq!(run.server.data, stuffed(&msg), "{what}");
        } else {
            assert!(
                matches!(
                    run.record.result,
                    AttemptResult::TlsFailed {
                        class: FailureClass::Certificate,
                        ..
                    }
                ),
                "{what}: {:?}",
                run.record.result
            );
            assert_eq!(
                run.record.result_type,
                Some(ResultType::CertificateNotTrusted),
                "{what}"
            );
            assert!(matches!(run.record.next, NextStep::Defer(_)), "{what}");
            assert!(!run.mail_sent(), "{what}");
        }
    }
}
