//! `mailtls serve` against real clients on 127.0.0.1: the Postfix relay (transports may,
//! encrypt, secure, with and without client certificates) relaying into it under a partner
//! connector, swaks, and `openssl s_client -starttls smtp`.
//!
//! Needs the real peers (`.ci/peers/start.sh`, or `MAILTLS_PEERS_ENV`); without them each test
//! prints SKIPPED, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::time::Duration;

use support_peers::{unique_token, wait_for_mail, LogCursor, Peers, Serve};

const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// The partner connector: mail from partner.test only over TLS with a verified certificate
/// for relay.partner.test.
const CONNECTORS: &str = r#"
[[inbound]]
name = "Partner relay"
connector_type = "partner"
sender_domains = ["partner.test"]
require_tls = true
tls_sender_certificate_name = "relay.partner.test"
restrict_domains_to_certificate = true
"#;

/// Injects mail from `from` into the relay for `transport` towards `port`; returns the
/// recipient the relay log names.
fn inject(peers: &Peers, transport: &str, port: u16, from: &str, token: &str) -> String {
    let relay = peers.relay();
    let rcpt = relay.recipient(token, transport, port);
    let subject = format!("Subject: {token}");
    let out = peers.swaks(&[
        "--server",
        &relay.server_arg(),
        "--from",
        from,
        "--to",
        &rcpt,
        "--header",
        &subject,
    ]);
    assert!(
        out.success() && out.text.contains("250 2.0.0 Ok: queued"),
        "{}",
        out.text
    );
    rcpt
}

/// Real Postfix as the client: the partner's certificate is accepted, a wrong one, an
/// untrusted one, none, and plaintext are refused by the connector.
#[test]
fn postfix_relays_into_mailtls_serve_under_a_partner_connector() {
    let Some(peers) = Peers::require("postfix_relays_into_mailtls_serve_under_a_partner_connector")
    else {
        return;
    };
    let port = *peers.target_ports().start() + 1;
    let serve = Serve::start(&peers, port, "relay", CONNECTORS);
    let log = LogCursor::at_end(&peers.relay().log);
    // (transport, sent?, client certificate subject expected)
    let cases = [
        ("secure-relay", true, Some("relay.partner.test")),
        ("encrypt-relay", true, Some("relay.partner.test")),
        ("may-relay", true, Some("relay.partner.test")),
        ("secure-evil", false, Some("relay.evil.test")),
        ("encrypt-untrusted", false, Some("relay.partner.test")),
        ("secure", false, None),
        ("may", false, None),
        ("none", false, None),
    ];
    let injected: Vec<(String, String)> = cases
        .iter()
        .map(|(transport, _, _)| {
            let token = unique_token(&format!("srv-{transport}"));
            let rcpt = inject(&peers, transport, port, "orders@partner.test", &token);
            (token, rcpt)
        })
        .collect();
    let mut failures = Vec::new();
    for ((transport, sent, subject), (token, rcpt)) in cases.iter().zip(&injected) {
        let line = log
            .wait_for(
                |l| l.contains(rcpt.as_str()) && l.contains("status="),
                RELAY_TIMEOUT,
            )
            .unwrap_or_else(|| panic!("{transport}: no status line for {rcpt}"));
        let in_maildir = wait_for_mail(
            &serve.maildir,
            |m| m.contains(token.as_str()),
            if *sent { RELAY_TIMEOUT } else { Duration::ZERO },
        )
        .is_some();
        if line.contains("status=sent") != *sent || in_maildir != *sent {
            failures.push(format!(
                "{transport}: sent={sent} maildir={in_maildir}: {line}"
            ));
            continue;
        }
        if !sent && !line.contains("5.7.") && !line.contains("4.7.") {
            failures.push(format!(
                "{transport}: refused without a 5.7/4.7 reply: {line}"
            ));
        }
        if *sent {
            let session = serve.session(token.as_str());
            let got = session["client_certificate_subject"]
                .as_str()
                .unwrap_or_default();
            if !subject.is_some_and(|s| got.contains(s))
                || session["connector"] != "Partner relay"
                || session["tls_version"].is_null()
            {
                failures.push(format!("{transport}: session {session}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// swaks with and without the partner's certificate, and openssl s_client's view.
#[test]
fn swaks_and_openssl_against_mailtls_serve() {
    let Some(peers) = Peers::require("swaks_and_openssl_against_mailtls_serve") else {
        return;
    };
    let port = *peers.target_ports().start() + 2;
    let serve = Serve::start(&peers, port, "swaks", CONNECTORS);
    let server = format!("127.0.0.1:{port}");
    let cert = peers.pki("client-relay.cert.pem").display().to_string();
    let key = peers.pki("client-relay.key.pem").display().to_string();
    let token = unique_token("swaks-partner");
    let subject = format!("Subject: {token}");
    let out = peers.swaks(&[
        "--server",
        &server,
        "--from",
        "orders@partner.test",
        "--to",
        "sales@example.test",
        "--tls",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--header",
        &subject,
    ]);
    out.assert_contains("250 2.0.0 Ok: queued as");
    wait_for_mail(
        &serve.maildir,
        |m| m.contains(&token),
        Duration::from_secs(5),
    )
    .expect("delivered");
    let mail = wait_for_mail(&serve.maildir, |m| m.contains(&token), Duration::ZERO).unwrap();
    assert!(
        mail.text
            .starts_with("Return-Path: <orders@partner.test>\r\n")
            && mail.text.contains("\r\nReceived: from ")
            && mail.text.contains(" with ESMTPS id "),
        "{}",
        mail.text
    );

    // No certificate: refused at MAIL FROM by the connector.
    let out = peers.swaks(&[
        "--server",
        &server,
        "--from",
        "orders@partner.test",
        "--to",
        "sales@example.test",
        "--tls",
    ]);
    out.assert_contains("550 5.7.");
    // Plaintext from another domain: nobody claims it, accepted (opportunistic default).
    let other = unique_token("swaks-other");
    let subject = format!("Subject: {other}");
    let to = format!("{other}@example.test");
    peers
        .swaks(&[
            "--server",
            &server,
            "--from",
            "a@elsewhere.test",
            "--to",
            &to,
            "--header",
            &subject,
        ])
        .assert_contains("250 2.0.0 Ok: queued as");
    let session = serve.session(&other);
    assert!(session["tls_version"].is_null(), "{session}");

    // openssl sees TLS 1.3 and the chain verifies to the test root for mx.partner.test.
    peers
        .s_client_starttls(port, &[])
        .assert_contains("Protocol version: TLSv1.3")
        .assert_contains("Verification: OK");
    peers
        .s_client_starttls(port, &["-tls1_2"])
        .assert_contains("Protocol version: TLSv1.2")
        .assert_contains("ECDHE");
}
