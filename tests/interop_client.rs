//! The mailtls client (blocking adapter, and the `mailtls probe`/`send` commands) against real
//! Postfix and Exim on 127.0.0.1: every certificate of the test PKI at every level, the
//! plaintext-only Postfix, and the client-certificate Postfix. Mail that should arrive is
//! found in the peer's Maildir; mail that should not never left.
//!
//! Needs the real peers (`.ci/peers/start.sh`, or `MAILTLS_PEERS_ENV`); without them each test
//! prints SKIPPED, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailtls::cert::TrustAnchors;
use mailtls::client::PlanVerifiers;
use mailtls::client::{ClientSettings, Delivery, Envelope};
use mailtls::io::{blocking, verifiers_for_hosts, Connector, DeliveryReport, Message};
use mailtls::policy::connector::Connectors;
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, OutboundPolicy};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::tls::TlsIdentity;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support_peers::{unique_token, wait_for_mail, Instance, Peers, PostfixServer};

const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
const MX: &str = "mx.partner.test";
const VF: &str = "validation-failure";
const CE: &str = "certificate-expired";
const CNT: &str = "certificate-not-trusted";
const CHM: &str = "certificate-host-mismatch";

/// What a delivery must end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Delivered over TLS.
    Tls,
    /// Delivered in plaintext.
    Plain,
    /// Not delivered; the last attempt failed with this RFC 8460 result type.
    Fail(&'static str),
}

/// How the client is configured: a Postfix policy-table value or a connector file.
enum How {
    Postfix(String),
    Connector(String),
}

fn deliver(
    peers: &Peers,
    target: &Instance,
    how: &How,
    identity: Option<TlsIdentity>,
    token: &str,
) -> DeliveryReport {
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let policy = match how {
        How::Postfix(value) => OutboundPolicy::new()
            .with_table(PolicyTable::parse(&format!("partner.test {value}\n")).unwrap()),
        How::Connector(toml) => {
            OutboundPolicy::new().with_connectors(Connectors::from_toml(toml).unwrap())
        }
    };
    let plan = explain(&policy, &destination);
    let anchors = mailtls::io::load_anchor_files(&[peers.pki("trust-anchors.pem")]).unwrap();
    let verifiers =
        verifiers_for_hosts(&plan.hosts, TrustAnchors::from_der(&anchors).unwrap()).unwrap();
    let mut delivery = Delivery::from_plan(
        ClientSettings::new("client.mailtls.test").unwrap(),
        plan,
        Arc::new(verifiers),
    )
    .with_identity(identity);
    let connector = Connector::new().route(MX, target.addr());
    let message = Message {
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse("sender@mailtls.test").unwrap()),
            vec![ForwardPath::Mailbox(
                Mailbox::parse("rcpt@partner.test").unwrap(),
            )],
        ),
        content: format!("Subject: {token}\r\n\r\n{token}\r\n").into_bytes(),
    };
    blocking::deliver(&mut delivery, &[message], &connector)
}

fn check(
    peers: &Peers,
    target: &Instance,
    how: &How,
    want: Want,
    identity: Option<TlsIdentity>,
) -> Result<(), String> {
    let token = unique_token(&format!("cli-{}", target.name));
    let report = deliver(peers, target, how, identity, &token);
    let last = report.attempts.last().ok_or("no attempt")?;
    let got_type = last.result_type.map(|r| r.to_string());
    let describe = || {
        format!(
            "{}: accepted={} tls={:?} result_type={got_type:?} result={:?}",
            target.name,
            report.all_accepted(),
            last.tls.as_ref().map(|t| t.facts.version),
            last.result
        )
    };
    match want {
        Want::Tls | Want::Plain => {
            if !report.all_accepted() || last.tls.is_some() != (want == Want::Tls) {
                return Err(describe());
            }
            wait_for_mail(&target.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
                .ok_or_else(|| format!("{}: accepted but not in the Maildir", describe()))?;
        }
        Want::Fail(result_type) => {
            if report.all_accepted() || got_type.as_deref() != Some(result_type) {
                return Err(describe());
            }
        }
    }
    Ok(())
}

/// Columns of the table below, in order.
fn servers() -> [PostfixServer; 6] {
    [
        PostfixServer::Good,
        PostfixServer::Expired,
        PostfixServer::NotYet,
        PostfixServer::SelfSigned,
        PostfixServer::WrongName,
        PostfixServer::Ecdsa,
    ]
}

/// Every certificate of the test PKI at every Postfix level and connector setting. Columns:
/// good, expired, notyet, selfsigned, wrongname, ecdsa. The RFC 8460 types are the
/// certificate verifier's verdicts: a not-yet-valid certificate is a `validation-failure`
/// (RFC 8460 names only expiry), a pin mismatch `certificate-not-trusted`.
#[test]
fn client_against_postfix_with_every_certificate_and_level() {
    let Some(peers) = Peers::require("client_against_postfix_with_every_certificate_and_level")
    else {
        return;
    };
    let good_pin = peers.fingerprint("SERVER_GOOD_CERT_SHA256").to_owned();
    use Want::*;
    let cases: Vec<(&str, How, [Want; 6])> = vec![
        ("may", How::Postfix("may".into()), [Tls; 6]),
        ("encrypt", How::Postfix("encrypt".into()), [Tls; 6]),
        (
            "fingerprint (good pinned)",
            How::Postfix(format!("fingerprint match={good_pin}")),
            [Tls, Fail(CNT), Fail(CNT), Fail(CNT), Fail(CNT), Fail(CNT)],
        ),
        (
            "verify",
            How::Postfix(format!("verify match={MX}")),
            [Tls, Fail(CE), Fail(VF), Fail(CNT), Fail(CHM), Tls],
        ),
        (
            "secure",
            How::Postfix(format!("secure match={MX}")),
            [Tls, Fail(CE), Fail(VF), Fail(CNT), Fail(CHM), Tls],
        ),
        (
            "connector encryption_only",
            How::Connector(
                "[[outbound]]\nname = \"p\"\nrecipient_domains = [\"partner.test\"]\ntls_settings = \"encryption_only\"\n".into(),
            ),
            [Tls; 6],
        ),
        (
            "connector certificate_validation",
            How::Connector(
                "[[outbound]]\nname = \"p\"\nrecipient_domains = [\"partner.test\"]\ntls_settings = \"certificate_validation\"\n".into(),
            ),
            [Tls, Fail(CE), Fail(VF), Fail(CNT), Tls, Tls],
        ),
        (
            "connector domain_validation",
            How::Connector(format!(
                "[[outbound]]\nname = \"p\"\nrecipient_domains = [\"partner.test\"]\ntls_settings = \"domain_validation\"\ntls_domain = \"{MX}\"\n"
            )),
            [Tls, Fail(CE), Fail(VF), Fail(CNT), Fail(CHM), Tls],
        ),
    ];
    let mut failures = Vec::new();
    for (name, how, wants) in &cases {
        for (server, want) in servers().iter().zip(wants) {
            let target = peers.postfix(*server);
            if let Err(e) = check(&peers, &target, how, *want, None) {
                failures.push(format!("{name}: want {want:?}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `fingerprint` with each server's own certificate pinned: no CA, no expiry, no name.
#[test]
fn client_fingerprint_level_accepts_each_pinned_certificate() {
    let Some(peers) = Peers::require("client_fingerprint_level_accepts_each_pinned_certificate")
    else {
        return;
    };
    let mut failures = Vec::new();
    for server in servers() {
        let key = format!("SERVER_{}_CERT_SHA256", server.name().to_ascii_uppercase());
        let how = How::Postfix(format!("fingerprint match={}", peers.fingerprint(&key)));
        let spki = format!(
            "SERVER_{}_SPKI_SHA256_COLON",
            server.name().to_ascii_uppercase()
        );
        let how_spki = How::Postfix(format!("fingerprint match={}", peers.fingerprint(&spki)));
        for how in [how, how_spki] {
            if let Err(e) = check(&peers, &peers.postfix(server), &how, Want::Tls, None) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Postfix without STARTTLS: `may` delivers in plaintext, `encrypt` and `secure` refuse.
#[test]
fn client_against_postfix_without_starttls() {
    let Some(peers) = Peers::require("client_against_postfix_without_starttls") else {
        return;
    };
    let plain = peers.postfix(PostfixServer::Plain);
    let cases = [
        ("may", Want::Plain),
        ("encrypt", Want::Fail("starttls-not-supported")),
        (
            "secure match=mx.partner.test",
            Want::Fail("starttls-not-supported"),
        ),
    ];
    for (policy, want) in cases {
        check(&peers, &plain, &How::Postfix(policy.into()), want, None)
            .unwrap_or_else(|e| panic!("{policy}: {e}"));
    }
}

fn identity(peers: &Peers, name: &str) -> TlsIdentity {
    let chain = CertificateDer::pem_file_iter(peers.pki(&format!("{name}.chain.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(peers.pki(&format!("{name}.key.pem"))).unwrap();
    TlsIdentity::from_der(chain, key).unwrap()
}

/// The Postfix that pins relay.partner.test's client certificate takes mail from the client
/// presenting it, and refuses the client presenting another one or none.
#[test]
fn client_certificate_against_postfix_that_requires_one() {
    let Some(peers) = Peers::require("client_certificate_against_postfix_that_requires_one") else {
        return;
    };
    let reqcert = peers.postfix(PostfixServer::ReqCert);
    let how = How::Postfix("secure match=mx.partner.test".into());
    check(
        &peers,
        &reqcert,
        &how,
        Want::Tls,
        Some(identity(&peers, "client-relay")),
    )
    .unwrap();
    for wrong in [Some(identity(&peers, "client-evil")), None] {
        let token = unique_token("reqcert-wrong");
        let report = deliver(&peers, &reqcert, &how, wrong, &token);
        assert!(!report.all_accepted(), "{report:#?}");
        let reply = report
            .messages
            .first()
            .cloned()
            .flatten()
            .and_then(|m| m.reply)
            .map(|r| r.code().as_u16());
        let rejected_at_session = report
            .attempts
            .last()
            .is_some_and(|a| matches!(a.result, mailtls::client::AttemptResult::Rejected { .. }));
        assert!(
            matches!(reply, Some(421 | 554)) || rejected_at_session,
            "{report:#?}"
        );
    }
}

/// Exim (GnuTLS) as the server: verified delivery into its Maildir, and a pinned mismatch.
#[test]
fn client_against_exim() {
    let Some(peers) = Peers::require("client_against_exim") else {
        return;
    };
    let exim = peers.exim();
    check(
        &peers,
        &exim,
        &How::Postfix(format!("secure match={MX}")),
        Want::Tls,
        Some(identity(&peers, "client-relay")),
    )
    .unwrap();
    check(&peers, &exim, &How::Postfix("may".into()), Want::Tls, None).unwrap();
    let other_pin = peers.fingerprint("SERVER_ECDSA_CERT_SHA256").to_owned();
    check(
        &peers,
        &exim,
        &How::Postfix(format!("fingerprint match={other_pin}")),
        Want::Fail(CNT),
        None,
    )
    .unwrap();
}

fn mailtls(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or_default()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mailtls probe --json` per certificate and level: exit status, outcome and result type.
#[test]
fn probe_reports_every_certificate_and_level() {
    let Some(peers) = Peers::require("probe_reports_every_certificate_and_level") else {
        return;
    };
    let ta = peers.pki("trust-anchors.pem").display().to_string();
    let good_pin = peers.fingerprint("SERVER_GOOD_CERT_SHA256").to_owned();
    let secure = format!("secure match={MX}");
    let fingerprint = format!("fingerprint match={good_pin}");
    // (level, per server [good, expired, notyet, selfsigned, wrongname, ecdsa]) as
    // (outcome, result_type).
    let ok_v = ("verified", None);
    let ok_e = ("encrypted", None);
    let fail = |t: &'static str| ("failed", Some(t));
    type Expected<'a> = (&'a str, Option<&'a str>);
    let table: Vec<(&str, [Expected<'_>; 6])> = vec![
        ("may", [ok_e; 6]),
        ("encrypt", [ok_e; 6]),
        (
            &secure,
            [ok_v, fail(CE), fail(VF), fail(CNT), fail(CHM), ok_v],
        ),
        (
            &fingerprint,
            [ok_v, fail(CNT), fail(CNT), fail(CNT), fail(CNT), fail(CNT)],
        ),
    ];
    let mut failures = Vec::new();
    for (policy, row) in &table {
        for (server, (outcome, result_type)) in servers().iter().zip(row) {
            let target = peers.postfix(*server).server_arg();
            let (code, out, err) = mailtls(
                &[
                    "probe",
                    &target,
                    "--nexthop",
                    "partner.test",
                    "--policy",
                    policy,
                    "--tafile",
                    &ta,
                    "--json",
                ],
                None,
            );
            let json: serde_json::Value = match serde_json::from_str(out.trim()) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{policy} {target}: not JSON ({e}): {out}{err}"));
                    continue;
                }
            };
            let want_code = if *outcome == "failed" { 75 } else { 0 };
            let got = (
                code,
                json["outcome"].as_str().unwrap_or_default().to_owned(),
                json["result_type"].as_str().map(str::to_owned),
            );
            let want = (
                Some(want_code),
                (*outcome).to_owned(),
                result_type.map(str::to_owned),
            );
            if got != want {
                failures.push(format!("{policy} {target}: got {got:?}, want {want:?}"));
            }
            let attempts = json["attempts"].as_array().map_or(0, Vec::len);
            if attempts != 1 {
                failures.push(format!("{policy} {target}: {attempts} attempts"));
            }
            if *outcome != "failed" && json["tls_version"].as_str() != Some("TLSv1.3") {
                failures.push(format!(
                    "{policy} {target}: tls_version {}",
                    json["tls_version"]
                ));
            }
        }
    }
    // Plaintext Postfix: may is plaintext (exit 0, no TLS version), encrypt fails.
    let plain = peers.postfix(PostfixServer::Plain).server_arg();
    let (code, out, _) = mailtls(&["probe", &plain, "--json"], None);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    if code != Some(0) || json["outcome"] != "plaintext" || !json["tls_version"].is_null() {
        failures.push(format!("plain may: {code:?} {out}"));
    }
    let (code, out, _) = mailtls(&["probe", &plain, "--policy", "encrypt", "--json"], None);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    if code != Some(75) || json["result_type"] != "starttls-not-supported" {
        failures.push(format!("plain encrypt: {code:?} {out}"));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `mailtls send` under `secure` reaches Postfix's Maildir; a refused one exits 75.
#[test]
fn send_under_secure_reaches_postfix() {
    let Some(peers) = Peers::require("send_under_secure_reaches_postfix") else {
        return;
    };
    let ta = peers.pki("trust-anchors.pem").display().to_string();
    let good = peers.postfix(PostfixServer::Good);
    let token = unique_token("cli-send");
    let body = format!("Subject: {token}\n\nsent by mailtls send\n");
    let (code, out, err) = mailtls(
        &[
            "send",
            "--server",
            &good.server_arg(),
            "--nexthop",
            "partner.test",
            "--from",
            "sender@mailtls.test",
            "--to",
            "rcpt@partner.test",
            "--policy",
            "secure match=mx.partner.test",
            "--tafile",
            &ta,
            "--json",
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["outcome"], "verified", "{out}");
    let mail =
        wait_for_mail(&good.maildir, |m| m.contains(&token), MAIL_TIMEOUT).expect("in Maildir");
    assert!(
        mail.text.contains("sent by mailtls send\r\n")
            || mail.text.contains("sent by mailtls send\n")
    );
    // The wrong-name server: nothing is sent, the exit status says deferred.
    let wrong = peers.postfix(PostfixServer::WrongName);
    let (code, out, _) = mailtls(
        &[
            "send",
            "--server",
            &wrong.server_arg(),
            "--nexthop",
            "partner.test",
            "--from",
            "sender@mailtls.test",
            "--to",
            "rcpt@partner.test",
            "--policy",
            "secure match=mx.partner.test",
            "--tafile",
            &ta,
            "--json",
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(code, Some(75), "{out}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["result_type"], CHM, "{out}");
}

/// `mailtls send --json` to `server` (`mx.partner.test:PORT`, reached at 127.0.0.1) for
/// partner.test, with `extra` policy flags.
fn send_as_mx(server: &str, extra: &[&str], body: &str) -> (Option<i32>, String, String) {
    let mut args = vec![
        "send",
        "--server",
        server,
        "--address",
        "127.0.0.1",
        "--nexthop",
        "partner.test",
        "--from",
        "sender@mailtls.test",
        "--to",
        "rcpt@partner.test",
        "--json",
    ];
    args.extend_from_slice(extra);
    mailtls(&args, Some(body.as_bytes()))
}

/// DANE against the real Postfix (OpenSSL 3.0): `mailtls send --policy dane` with the
/// DNSSEC-validated TLSA records given on the command line. A DANE-EE `3 1 1` record of the
/// server's key and a DANE-TA `2 1 1` record of the intermediate it sends (RFC 7672 §3.1.1,
/// §3.1.2; the name check is `nexthop, hostname`) both deliver into the Maildir with TLS-RPT
/// `success` counted against the TLSA policy; another key's `3 1 1` defers with
/// `tlsa-invalid` and sends nothing.
#[test]
fn send_under_dane_reaches_postfix_and_a_wrong_record_defers() {
    let Some(peers) = Peers::require("send_under_dane_reaches_postfix_and_a_wrong_record_defers")
    else {
        return;
    };
    let good = peers.postfix(PostfixServer::Good);
    let ee = format!("3 1 1 {}", peers.fingerprint("SERVER_GOOD_SPKI_SHA256_HEX"));
    let ta = format!(
        "2 1 1 {}",
        peers.fingerprint("INTERMEDIATE_CA_SPKI_SHA256_HEX")
    );
    let wrong = format!(
        "3 1 1 {}",
        peers.fingerprint("SERVER_EXPIRED_SPKI_SHA256_HEX")
    );
    let server = format!("{MX}:{}", good.addr().port());
    for (record, code, result) in [
        (&ee, 0, "success"),
        (&ta, 0, "success"),
        (&wrong, 75, "tlsa-invalid"),
    ] {
        let token = unique_token("cli-dane");
        let body = format!("Subject: {token}\n\nsent under DANE\n");
        let (got, out, err) = send_as_mx(&server, &["--policy", "dane", "--tlsa", record], &body);
        assert_eq!(got, Some(code), "{record}: {out}{err}");
        let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(json["attempts"][0]["tls_rpt_result"], result, "{out}");
        assert_eq!(json["attempts"][0]["tls_rpt_policy"], "tlsa", "{out}");
        if code == 0 {
            wait_for_mail(&good.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
                .expect("delivered under DANE into the Maildir");
        }
    }
}

/// MTA-STS against the real Postfix: the wrong-name instance (its certificate chains to the
/// test roots, given as `--tafile`, but names wrong.example) under a policy listing the MX.
/// `testing` delivers and reports `certificate-host-mismatch` against the STS policy (RFC 8461
/// §5); `enforce` defers with the same result and sends nothing.
#[test]
fn send_under_mta_sts_testing_delivers_and_enforce_defers() {
    let Some(peers) = Peers::require("send_under_mta_sts_testing_delivers_and_enforce_defers")
    else {
        return;
    };
    let ta = peers.pki("trust-anchors.pem").display().to_string();
    let wrong = peers.postfix(PostfixServer::WrongName);
    let server = format!("{MX}:{}", wrong.addr().port());
    let dir = std::env::temp_dir().join(format!("mailtls-sts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (mode, code) in [("testing", 0), ("enforce", 75)] {
        let policy = dir.join(format!("{mode}.txt"));
        std::fs::write(
            &policy,
            format!("version: STSv1\nmode: {mode}\nmx: {MX}\nmax_age: 86400\n"),
        )
        .unwrap();
        let token = unique_token("cli-sts");
        let body = format!("Subject: {token}\n\nsent under MTA-STS {mode}\n");
        let policy = policy.display().to_string();
        let (got, out, err) =
            send_as_mx(&server, &["--sts-policy", &policy, "--tafile", &ta], &body);
        assert_eq!(got, Some(code), "{mode}: {out}{err}");
        let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(json["attempts"][0]["tls_rpt_result"], CHM, "{out}");
        assert_eq!(json["attempts"][0]["tls_rpt_policy"], "sts", "{out}");
        if code == 0 {
            wait_for_mail(&wrong.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
                .expect("MTA-STS testing never blocks delivery");
        }
    }
}

/// The blocking client's rate into the local Postfix: 200 messages over one connection.
/// Printed, not asserted (performance is measured, never asserted in tests).
#[test]
fn delivery_rate_into_postfix_over_one_connection() {
    let Some(peers) = Peers::require("delivery_rate_into_postfix_over_one_connection") else {
        return;
    };
    let good = peers.postfix(PostfixServer::Good);
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let plan = explain(&OutboundPolicy::new(), &destination);
    let mut delivery = Delivery::from_plan(
        ClientSettings::new("client.mailtls.test").unwrap(),
        plan,
        Arc::new(PlanVerifiers::default()),
    );
    let token = unique_token("rate");
    let messages: Vec<Message> = (0..200)
        .map(|i| Message {
            envelope: Envelope::new(
                ReversePath::Mailbox(Mailbox::parse("sender@mailtls.test").unwrap()),
                vec![ForwardPath::Mailbox(
                    Mailbox::parse("rcpt@partner.test").unwrap(),
                )],
            ),
            content: format!("Subject: {token}-{i}\r\n\r\nrate test\r\n").into_bytes(),
        })
        .collect();
    let started = Instant::now();
    let report = blocking::deliver(
        &mut delivery,
        &messages,
        &Connector::new().route(MX, good.addr()),
    );
    let elapsed = started.elapsed();
    assert!(report.all_accepted(), "{:?}", report.outcome);
    assert_eq!(report.attempts.len(), 1);
    eprintln!(
        "RATE: 200 messages over one TLS connection in {:.3} s = {:.0} messages/s",
        elapsed.as_secs_f64(),
        200.0 / elapsed.as_secs_f64()
    );
    // The same with a new connection (greeting, EHLO, STARTTLS, handshake) per message.
    let started = Instant::now();
    for message in messages.iter().take(50) {
        let plan = explain(&OutboundPolicy::new(), &destination);
        let mut delivery = Delivery::from_plan(
            ClientSettings::new("client.mailtls.test").unwrap(),
            plan,
            Arc::new(PlanVerifiers::default()),
        );
        let connector = Connector::new().route(MX, good.addr());
        let report = blocking::deliver(&mut delivery, std::slice::from_ref(message), &connector);
        assert!(report.all_accepted(), "{:?}", report.outcome);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "RATE: 50 messages, one TLS connection each, in {:.3} s = {:.0} messages/s",
        elapsed.as_secs_f64(),
        50.0 / elapsed.as_secs_f64()
    );
}
