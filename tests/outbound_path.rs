//! The one outbound path end to end: configuration and discovery answers go through
//! precedence into a Decision, the Decision drives a Delivery over real loopback sockets
//! (blocking and tokio adapters, and the `mailtls send` command), and every attempt comes out
//! with the RFC 8460 result of the policy that governed it.
//!
//! - DANE: a `3 1 1` record matching the server's key delivers (`success`); a mismatching
//!   one defers (`tlsa-invalid`). RFC 7672 §3.1.1 (DANE-EE, SPKI, SHA-256).
//! - MTA-STS `testing` with a certificate that fails the policy delivers, and the outcome is
//!   the failure `enforce` would have had (RFC 8461 §5, RFC 8460 §4.3); under `enforce` the
//!   same host defers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;

use mailtls::cert::TrustAnchors;
use mailtls::client::{ClientSettings, Delivery, DeliveryOutcome};
use mailtls::io::{blocking, verifiers_for, Connector, DeliveryReport};
use mailtls::policy::dane::DnssecStatus;
use mailtls::policy::mta_sts::{StsLookup, StsPolicy};
use mailtls::policy::precedence::{self, PrecedenceInputs};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{explain, Decision, Destination, Level, OutboundPolicy};
use mailtls::report::{PolicyType, ResultType};
use mailtls::tls::TlsIdentity;
use support::dane::{spki_record, with_tlsa};
use support::loopback::{blocking_server, message, server_config, MX};
use support::pki::Ca;

/// The `3 1 1` record of a certificate chain's end entity: SHA-256 of its public key.
fn tlsa_311(identity: &TlsIdentity) -> String {
    spki_record(3, &identity.chain()[0])
}

/// A record of the same shape that matches nothing.
const WRONG_311: &str = "3 1 1 0000000000000000000000000000000000000000000000000000000000000000";

/// A `dane` decision for partner.test with `record` as the MX's DNSSEC-validated TLSA.
fn dane_decision(record: &str) -> Decision {
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let plan = explain(
        &OutboundPolicy::new().with_default_level(Level::Dane),
        &destination,
    );
    with_tlsa(plan, MX, record)
}

/// A `may` decision for partner.test under an MTA-STS policy in `mode` listing the MX.
fn sts_decision(mode: &str) -> Decision {
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let plan = explain(&OutboundPolicy::new(), &destination);
    let text = format!("version: STSv1\nmode: {mode}\nmx: {MX}\nmax_age: 86400\n");
    let sts = StsLookup::Policy {
        policy: StsPolicy::parse(text.as_bytes()).unwrap(),
        from_cache: false,
        refresh_error: None,
    };
    precedence::apply(
        plan,
        &PrecedenceInputs {
            message: MessageTls::default(),
            mx_status: DnssecStatus::Insecure,
            sts: Some(&sts),
            dane: &[],
        },
    )
}

/// A delivery of `decision` whose public roots are the test CA.
fn delivery(pki: &Ca, decision: Decision) -> Delivery {
    let public = TrustAnchors::from_der([&pki.der]).unwrap();
    let verifiers = verifiers_for(&decision, public).unwrap();
    Delivery::new(
        ClientSettings::new("client.sender.test").unwrap(),
        decision,
        Arc::new(verifiers),
    )
}

/// The TLS-RPT result of the delivery's only attempt, and the policy type it counts against.
fn reported(report: &DeliveryReport) -> (Result<(), ResultType>, PolicyType) {
    assert_eq!(report.attempts.len(), 1, "{:?}", report.attempts);
    let attempt = &report.attempts[0];
    let outcome = attempt
        .session_outcome(mailtls::Timestamp::from_unix_secs(1_790_000_000))
        .expect("every attempt under a decision is counted");
    assert_eq!(outcome.mx_host.as_deref(), Some(MX));
    let result = outcome.result.map_err(|f| f.result_type);
    (result, outcome.policy.policy_type)
}

fn deliver_blocking(pki: &Ca, identity: TlsIdentity, decision: Decision) -> DeliveryReport {
    let (addr, _inbox, server) = blocking_server(server_config(Some(identity)), 1);
    let mut delivery = delivery(pki, decision);
    let connector = Connector::new().route(MX, addr);
    let report = blocking::deliver(
        &mut delivery,
        &[message("outbound-path", "rcpt@partner.test")],
        &connector,
    );
    server.join().unwrap();
    report
}

#[test]
fn dane_311_delivers_over_the_blocking_adapter_and_mismatch_defers() {
    let pki = Ca::root("mailtls io test CA");
    let identity = pki.leaf_for(MX).identity();

    let report = deliver_blocking(&pki, identity.clone(), dane_decision(&tlsa_311(&identity)));
    assert!(report.all_accepted(), "{:?}", report.outcome);
    assert!(report.attempts[0].tls.is_some());
    assert_eq!(reported(&report), (Ok(()), PolicyType::Tlsa));

    let report = deliver_blocking(&pki, identity, dane_decision(WRONG_311));
    assert!(
        matches!(report.outcome, Some(DeliveryOutcome::Deferred(_))),
        "{:?}",
        report.outcome
    );
    assert!(!report.all_accepted());
    assert_eq!(
        reported(&report),
        (Err(ResultType::TlsaInvalid), PolicyType::Tlsa)
    );
}

#[test]
fn dane_311_delivers_over_the_tokio_adapter_and_mismatch_defers() {
    use mailtls::io::tokio as aio;
    let pki = Ca::root("mailtls io test CA");
    let identity = pki.leaf_for(MX).identity();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (record, accepted) in [(tlsa_311(&identity), true), (WRONG_311.to_owned(), false)] {
        let (addr, _inbox, server) = blocking_server(server_config(Some(identity.clone())), 1);
        let mut delivery = delivery(&pki, dane_decision(&record));
        let connector = Connector::new().route(MX, addr);
        let messages = [message("outbound-path-tokio", "rcpt@partner.test")];
        let report = runtime.block_on(aio::deliver(&mut delivery, &messages, &connector));
        server.join().unwrap();
        assert_eq!(report.all_accepted(), accepted, "{:?}", report.outcome);
        let want = if accepted {
            Ok(())
        } else {
            Err(ResultType::TlsaInvalid)
        };
        assert_eq!(reported(&report), (want, PolicyType::Tlsa));
    }
}

#[test]
fn mta_sts_testing_delivers_and_reports_what_enforce_would_refuse() {
    let pki = Ca::root("mailtls io test CA");
    // The certificate chains to the (test) public roots but names another host.
    let wrong_name = pki.leaf_for("wrong.partner.test").identity();

    let report = deliver_blocking(&pki, wrong_name.clone(), sts_decision("testing"));
    assert!(report.all_accepted(), "testing never blocks: {:?}", report);
    assert_eq!(
        reported(&report),
        (Err(ResultType::CertificateHostMismatch), PolicyType::Sts)
    );

    let report = deliver_blocking(&pki, wrong_name, sts_decision("enforce"));
    assert!(
        matches!(report.outcome, Some(DeliveryOutcome::Deferred(_))),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        reported(&report),
        (Err(ResultType::CertificateHostMismatch), PolicyType::Sts)
    );

    // The right certificate passes both, and testing reports success.
    let report = deliver_blocking(&pki, pki.leaf_for(MX).identity(), sts_decision("testing"));
    assert!(report.all_accepted());
    assert_eq!(reported(&report), (Ok(()), PolicyType::Sts));
}

#[test]
fn skipped_hosts_are_never_contacted_but_are_reported() {
    // dane-only with no discovery answers: every host is skipped, the delivery defers with
    // DANE's reason, and nothing connects (the route points nowhere that listens).
    let pki = Ca::root("mailtls io test CA");
    let destination = Destination::domain("partner.test", [MX, "mx2.partner.test"]).unwrap();
    let plan = explain(
        &OutboundPolicy::new().with_default_level(Level::DaneOnly),
        &destination,
    );
    let mut delivery = delivery(&pki, Decision::from_plan(plan));
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let connector = Connector::new()
        .route(MX, dead)
        .route("mx2.partner.test", dead);
    let report = blocking::deliver(
        &mut delivery,
        &[message("skip", "rcpt@partner.test")],
        &connector,
    );
    assert!(
        report.connect_errors.is_empty(),
        "{:?}",
        report.connect_errors
    );
    assert_eq!(report.attempts.len(), 2);
    for attempt in &report.attempts {
        assert!(matches!(
            attempt.result,
            mailtls::client::AttemptResult::Skipped { .. }
        ));
        let outcome = attempt
            .session_outcome(mailtls::Timestamp::from_unix_secs(1))
            .unwrap();
        assert_eq!(
            outcome.result.unwrap_err().result_type,
            ResultType::DaneRequired
        );
    }
    match &report.outcome {
        Some(DeliveryOutcome::Deferred(status)) => {
            assert!(status.to_string().contains("DANE"), "{status}")
        }
        other => panic!("{other:?}"),
    }
}

/// `mailtls send` takes the same path: `--tlsa` is the DNSSEC-validated record of the MX,
/// `--address` the loopback address the MX name stands for here.
#[test]
fn dane_311_through_the_command_line() {
    let pki = Ca::root("mailtls io test CA");
    let identity = pki.leaf_for(MX).identity();
    for (record, code, result) in [
        (tlsa_311(&identity), 0, "success"),
        (WRONG_311.to_owned(), 75, "tlsa-invalid"),
    ] {
        let (addr, _inbox, server) = blocking_server(server_config(Some(identity.clone())), 1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args([
                "send",
                "--server",
                &format!("{MX}:{}", addr.port()),
                "--address",
                "127.0.0.1",
                "--nexthop",
                "partner.test",
                "--policy",
                "dane",
                "--tlsa",
                &record,
                "--from",
                "sender@sender.test",
                "--to",
                "rcpt@partner.test",
                "--json",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin
                .write_all(b"Subject: cli dane\r\n\r\nhello\r\n")
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        server.join().unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(json["attempts"][0]["tls_rpt_result"], result, "{json}");
        assert_eq!(json["attempts"][0]["tls_rpt_policy"], "tlsa", "{json}");
    }
}

/// Runs `mailtls send` against `addr` with extra arguments; returns (exit code, stdout).
fn send_cli(addr: SocketAddr, extra: &[&str]) -> (Option<i32>, String) {
    use std::io::Write as _;
    let server = format!("{MX}:{}", addr.port());
    let mut args = vec![
        "send",
        "--server",
        &server,
        "--address",
        "127.0.0.1",
        "--from",
        "sender@sender.test",
        "--to",
        "rcpt@partner.test",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: true output\r\n\r\nhello\r\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // Text output folds at 100 columns: phrases are looked for in the unfolded words.
    let text = String::from_utf8_lossy(&output.stdout);
    (
        output.status.code(),
        text.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

/// Issue 18 item 11: what `send` prints is true. A `secure` entry reads `[secure]` (not the
/// closest level, `verify`); with `--tafile` the chain is said to end in those anchors, not in
/// "the public roots"; a plaintext delivery does not claim a TLS rung.
#[test]
fn send_prints_what_it_checks() {
    let pki = Ca::root("mailtls io test CA");
    let ca = pki.tafile().display().to_string();
    let (addr, _inbox, server) =
        blocking_server(server_config(Some(pki.leaf_for(MX).identity())), 1);
    let (code, out) = send_cli(
        addr,
        &["--policy", "secure match=mx.partner.test", "--tafile", &ca],
    );
    server.join().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("[secure]"), "{out}");
    assert!(
        out.contains(&format!("chain to the trust anchors in {ca}")),
        "{out}"
    );
    assert!(!out.contains("public roots"), "{out}");
    assert!(out.contains("over TLS on rung tls13+tls12"), "{out}");

    // A server without STARTTLS, at `may`: delivered in plaintext, and said so.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let plain = std::thread::spawn(move || {
        let (stream, peer) = listener.accept().unwrap();
        let mut app = |_: &_| mailtls::io::Answer::Accept;
        let _ = blocking::serve_connection(stream, peer, server_config(None), &mut app);
    });
    let (code, out) = send_cli(addr, &["--policy", "may"]);
    plain.join().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("in plaintext"), "{out}");
    assert!(!out.contains("on rung tls13+tls12"), "{out}");
}
