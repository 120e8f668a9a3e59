//! `mailtls serve` against real Exim 4.96 (GnuTLS) as the sending MTA: the Exim relay of
//! `.ci/peers` delivers into `mailtls serve` with STARTTLS required, presenting the partner's
//! client certificate (`relay.partner.test`) and verifying serve's chain and name. Under a
//! partner connector that requires that certificate name the mail lands in serve's Maildir;
//! under one that requires another name it is refused with a 5.7.x reply that Exim logs.
//!
//! Needs the real peers (`.ci/peers/start.sh`, or `MAILTLS_PEERS_ENV`); without them each test
//! prints SKIPPED, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::time::Duration;

use support_peers::{unique_token, wait_for_mail, LogCursor, Peers, Serve};

/// How long Exim may take to deliver (it delivers at once; retries come every 10 s).
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// The sender domain the partner connector claims.
const SENDER: &str = "orders@partner.test";

/// A partner connector for partner.test: TLS required, and a verified client certificate for
/// `cert_name`.
fn connectors(cert_name: &str) -> String {
    format!(
        r#"
[[inbound]]
name = "Partner relay"
connector_type = "partner"
sender_domains = ["partner.test"]
require_tls = true
tls_sender_certificate_name = "{cert_name}"
restrict_domains_to_certificate = true
"#
    )
}

/// Exim's final mainlog line for `rcpt`: `=>` delivered, `**` failed (a `==` deferral is
/// skipped while Exim retries).
fn exim_outcome(log: &LogCursor, rcpt: &str) -> String {
    let needle_ok = format!(" => {rcpt} ");
    let needle_fail = format!(" ** {rcpt} ");
    log.wait_for(
        |l| l.contains(&needle_ok) || l.contains(&needle_fail),
        RELAY_TIMEOUT,
    )
    .unwrap_or_else(|| {
        panic!(
            "no delivery or failure line for {rcpt} in Exim's log:\n{}",
            log.since()
        )
    })
}

/// Exim presents relay.partner.test's chain, verifies serve's, and the partner connector that
/// requires relay.partner.test accepts: the mail lands, serve logs TLS and the subject.
#[test]
fn exim_relays_into_mailtls_serve_under_a_partner_connector() {
    let Some(peers) = Peers::require("exim_relays_into_mailtls_serve_under_a_partner_connector")
    else {
        return;
    };
    let port = *peers.target_ports().end() - 4;
    let serve = Serve::start(
        &peers,
        port,
        "exim-accept",
        &connectors("relay.partner.test"),
    );
    let log = LogCursor::at_end(&peers.exim_relay().log);
    let token = unique_token("exim-accept");
    let rcpt = peers.exim_relay_inject(SENDER, port, &token);

    let line = exim_outcome(&log, &rcpt);
    assert!(line.contains(&format!(" => {rcpt} ")), "{line}");
    assert!(line.contains(&format!("[127.0.0.1]:{port}")), "{line}");
    assert!(line.contains(" X=TLS1."), "Exim did not use TLS: {line}");
    assert!(
        line.contains(" CV=yes") && line.contains("CN=mx.partner.test"),
        "Exim did not verify serve's certificate: {line}"
    );

    let mail = wait_for_mail(&serve.maildir, |m| m.contains(&token), RELAY_TIMEOUT)
        .expect("the mail is in serve's Maildir");
    assert!(
        mail.text.contains("by relay.partner.test"),
        "Exim's Received header missing: {}",
        mail.text
    );

    let session = serve.session(&token);
    assert_eq!(session["verdict"], "accepted", "{session}");
    assert_eq!(session["connector"], "Partner relay", "{session}");
    assert_eq!(session["helo"], "relay.partner.test", "{session}");
    assert!(
        session["tls_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLSv1.")),
        "{session}"
    );
    assert!(
        session["client_certificate_subject"]
            .as_str()
            .is_some_and(|s| s.contains("CN=relay.partner.test")),
        "{session}"
    );
}

/// The connector requires relay.other.test; Exim's relay.partner.test certificate does not
/// match, so serve refuses with 5.7.x, Exim fails the address, and nothing lands.
#[test]
fn exim_with_the_wrong_partner_certificate_is_refused() {
    let Some(peers) = Peers::require("exim_with_the_wrong_partner_certificate_is_refused") else {
        return;
    };
    let port = *peers.target_ports().end() - 3;
    let serve = Serve::start(&peers, port, "exim-refuse", &connectors("relay.other.test"));
    let log = LogCursor::at_end(&peers.exim_relay().log);
    let token = unique_token("exim-refuse");
    let rcpt = peers.exim_relay_inject(SENDER, port, &token);

    let line = exim_outcome(&log, &rcpt);
    assert!(
        line.contains(&format!(" ** {rcpt} ")),
        "Exim delivered under the wrong connector: {line}"
    );
    assert!(
        line.contains("SMTP error from remote mail server"),
        "{line}"
    );
    assert!(
        line.contains(" 5.7."),
        "refused without a 5.7.x reply: {line}"
    );
    assert!(
        line.contains(" X=TLS1.") && line.contains(" CV=yes"),
        "{line}"
    );

    assert!(
        wait_for_mail(&serve.maildir, |m| m.contains(&token), Duration::ZERO).is_none(),
        "the refused mail is in serve's Maildir"
    );
    // serve saw the partner's certificate over TLS and refused.
    let session = serve.session("CN=relay.partner.test");
    assert_ne!(session["verdict"], "accepted", "{session}");
    assert!(session["tls_version"].is_string(), "{session}");
    assert!(
        session["delivered"].as_array().is_some_and(Vec::is_empty),
        "{session}"
    );
    assert!(
        session["refusals"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            || session["reply"]
                .as_str()
                .is_some_and(|r| r.starts_with("550 5.7.")),
        "{session}"
    );
}
