//! The real peers behave as the interop tests assume, proven with the stock tools (openssl,
//! swaks) before any mailtls code talks to them.
//!
//! Needs `.ci/peers/install.sh` and `.ci/peers/start.sh target/peers` (or `MAILTLS_PEERS_ENV`
//! pointing at another `peers.env`). Without them each test prints SKIPPED, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::time::Duration;

use support_peers::{ehlo, unique_token, wait_for_mail, LogCursor, Peers, PostfixServer};

const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// What `openssl s_client -verify_hostname mx.partner.test` reports for each server
/// certificate, against the test root.
#[test]
fn postfix_server_certificates_verify_as_expected() {
    let Some(peers) = Peers::require("postfix_server_certificates_verify_as_expected") else {
        return;
    };
    let table: [(PostfixServer, &[&str]); 7] = [
        (
            PostfixServer::Good,
            &[
                "Verification: OK",
                "Verified peername: mx.partner.test",
                "Signature type: RSA",
            ],
        ),
        (
            PostfixServer::Ecdsa,
            &[
                "Verification: OK",
                "Verified peername: mx.partner.test",
                "Signature type: ECDSA",
            ],
        ),
        (
            PostfixServer::ReqCert,
            &["Verification: OK", "Verified peername: mx.partner.test"],
        ),
        (
            PostfixServer::Expired,
            &["Verification error: certificate has expired"],
        ),
        (
            PostfixServer::NotYet,
            &["Verification error: certificate is not yet valid"],
        ),
        (
            PostfixServer::SelfSigned,
            &["Verification error: self-signed certificate"],
        ),
        (
            PostfixServer::WrongName,
            &["Verification error: hostname mismatch"],
        ),
    ];
    for (server, expected) in table {
        let instance = peers.postfix(server);
        let out = peers.s_client_starttls(instance.port, &[]);
        out.assert_contains("CONNECTION ESTABLISHED")
            .assert_contains("Protocol version: TLSv1.3");
        for needle in expected {
            out.assert_contains(needle);
        }
        if !expected.contains(&"Verification: OK") {
            out.assert_lacks("Verification: OK");
        }
    }
}

/// The certificate files behind the instances are the ones peers.env names: the presented
/// leaf's SHA-256 matches the PKI's fingerprint file.
#[test]
fn good_postfix_presents_the_pki_fingerprint() {
    let Some(peers) = Peers::require("good_postfix_presents_the_pki_fingerprint") else {
        return;
    };
    let chain = peers.presented_chain(peers.postfix(PostfixServer::Good).port);
    assert_eq!(chain.len(), 2, "leaf and intermediate expected: {chain:?}");
    let pem = &chain[0];
    let dir = std::env::temp_dir().join(unique_token("leaf"));
    std::fs::write(&dir, pem).unwrap();
    let fp = support_peers::run_tool(
        std::process::Command::new(peers.var("PEERS_OPENSSL"))
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&dir),
        None,
    );
    std::fs::remove_file(&dir).unwrap();
    fp.assert_contains(peers.fingerprint("SERVER_GOOD_CERT_SHA256"));
}

/// The plain instance offers no STARTTLS; the good one does (so the check can fail).
#[test]
fn plain_postfix_offers_no_starttls() {
    let Some(peers) = Peers::require("plain_postfix_offers_no_starttls") else {
        return;
    };
    let has_starttls = |lines: &[String]| lines.iter().any(|l| l.get(4..) == Some("STARTTLS"));
    let plain = ehlo(peers.postfix(PostfixServer::Plain).addr(), "client.test");
    assert!(
        plain.iter().all(|l| l.starts_with("250")),
        "EHLO reply {plain:?}"
    );
    assert!(!has_starttls(&plain), "plain offers STARTTLS: {plain:?}");
    let good = ehlo(peers.postfix(PostfixServer::Good).addr(), "client.test");
    assert!(has_starttls(&good), "good lacks STARTTLS: {good:?}");

    let out = peers.s_client_starttls(peers.postfix(PostfixServer::Plain).port, &[]);
    out.assert_contains("Didn't find STARTTLS")
        .assert_lacks("CONNECTION ESTABLISHED");
}

/// swaks delivers over verified TLS into the good Postfix; the message lands in its Maildir
/// with Postfix's TLS Received header.
#[test]
fn swaks_delivers_over_tls_into_postfix() {
    let Some(peers) = Peers::require("swaks_delivers_over_tls_into_postfix") else {
        return;
    };
    let good = peers.postfix(PostfixServer::Good);
    let token = unique_token("postfix-tls");
    let anchors = peers.pki("trust-anchors.pem");
    let out = peers.swaks(&[
        "--server",
        &good.server_arg(),
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        anchors.to_str().unwrap(),
        "--tls-sni",
        support_peers::SERVER_NAME,
        "--from",
        "sender@partner.test",
        "--to",
        "rcpt@mx.partner.test",
        "--header",
        &format!("Subject: {token}"),
    ]);
    assert!(out.success(), "swaks failed:\n{}", out.text);
    out.assert_contains("250 2.0.0 Ok: queued");
    let mail = wait_for_mail(&good.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
        .unwrap_or_else(|| panic!("{token} never reached {}", good.maildir.display()));
    assert!(
        mail.text.contains("(using TLSv1.3 with cipher"),
        "no TLS Received header:\n{}",
        mail.text
    );
}

/// swaks delivers over TLS into Exim (GnuTLS), which verifies the client certificate; the
/// message lands in Exim's Maildir and the log records the TLS facts.
#[test]
fn swaks_delivers_over_tls_into_exim() {
    let Some(peers) = Peers::require("swaks_delivers_over_tls_into_exim") else {
        return;
    };
    let exim = peers.exim();
    let token = unique_token("exim-tls");
    let log = LogCursor::at_end(&exim.log);
    let (cert, key) = (
        peers.pki("client-relay.cert.pem"),
        peers.pki("client-relay.key.pem"),
    );
    let out = peers.swaks(&[
        "--server",
        &exim.server_arg(),
        "--tls",
        "--tls-sni",
        support_peers::SERVER_NAME,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--from",
        "sender@partner.test",
        "--to",
        &format!("{token}@mx.partner.test"),
        "--header",
        &format!("Subject: {token}"),
    ]);
    assert!(out.success(), "swaks failed:\n{}", out.text);
    out.assert_contains("250 OK id=");
    let mail = wait_for_mail(&exim.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
        .unwrap_or_else(|| panic!("{token} never reached {}", exim.maildir.display()));
    assert!(
        mail.text.contains("with esmtps"),
        "not ESMTPS:\n{}",
        mail.text
    );
    let line = log
        .wait_for(|l| l.contains(" <= ") && l.contains(&token), MAIL_TIMEOUT)
        .unwrap_or_else(|| panic!("no arrival line for {token}:\n{}", log.since()));
    for needle in [
        "X=TLS1.3",
        "CV=yes",
        "DN=\"CN=relay.partner.test",
        "SNI=mx.partner.test",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from {line}");
    }
}

/// Exim's GnuTLS server chain verifies with OpenSSL against the test root.
#[test]
fn exim_certificate_verifies() {
    let Some(peers) = Peers::require("exim_certificate_verifies") else {
        return;
    };
    peers
        .s_client_starttls(peers.exim().port, &[])
        .assert_contains("Verification: OK")
        .assert_contains("Verified peername: mx.partner.test");
}

/// The reqcert instance accepts relay.partner.test's certificate only: the wrong name (on a
/// trusted chain), an untrusted chain, and no certificate are all refused.
#[test]
fn reqcert_postfix_accepts_only_the_partner_certificate() {
    let Some(peers) = Peers::require("reqcert_postfix_accepts_only_the_partner_certificate") else {
        return;
    };
    let reqcert = peers.postfix(PostfixServer::ReqCert);
    // (client certificate, expected reply, delivered)
    let table: [(Option<&str>, &str, bool); 4] = [
        (Some("client-relay"), "250 2.0.0 Ok: queued", true),
        (
            Some("client-evil"),
            "Recipient address rejected: Access denied",
            false,
        ),
        (
            Some("client-untrusted"),
            "Client certificate not trusted",
            false,
        ),
        (None, "No client certificate presented", false),
    ];
    for (cert, expected, delivered) in table {
        let token = unique_token(cert.unwrap_or("nocert"));
        let server = reqcert.server_arg();
        let subject = format!("Subject: {token}");
        let mut args = vec![
            "--server",
            &server,
            "--tls",
            "--from",
            "sender@partner.test",
        ];
        args.extend(["--to", "rcpt@mx.partner.test", "--header", &subject]);
        let files = cert.map(|c| {
            (
                peers.pki(&format!("{c}.cert.pem")),
                peers.pki(&format!("{c}.key.pem")),
            )
        });
        if let Some((c, k)) = &files {
            args.extend(["--tls-cert", c.to_str().unwrap()]);
            args.extend(["--tls-key", k.to_str().unwrap()]);
        }
        let out = peers.swaks(&args);
        out.assert_contains(expected);
        assert_eq!(out.success(), delivered, "{cert:?}:\n{}", out.text);
        let timeout = if delivered {
            MAIL_TIMEOUT
        } else {
            Duration::from_millis(500)
        };
        let found = wait_for_mail(&reqcert.maildir, |m| m.contains(&token), timeout);
        assert_eq!(found.is_some(), delivered, "{cert:?}: delivery mismatch");
    }
}

/// The relay forwards by the recipient's domain: `secure` reaches the good Postfix with a
/// verified chain, defers on the wrong name, and `secure-relay` presents the partner
/// certificate that the reqcert instance requires; `encrypt` defers when STARTTLS is absent.
#[test]
fn relay_applies_the_transport_named_by_the_recipient() {
    let Some(peers) = Peers::require("relay_applies_the_transport_named_by_the_recipient") else {
        return;
    };
    let relay = peers.relay();
    let good = peers.postfix(PostfixServer::Good);
    let reqcert = peers.postfix(PostfixServer::ReqCert);
    // (transport, target, expected relay log fragment, delivered into target's Maildir)
    let table = [
        ("secure", &good, "status=sent", true),
        (
            "secure",
            &peers.postfix(PostfixServer::WrongName),
            "status=deferred (Server certificate not verified)",
            false,
        ),
        ("secure-relay", &reqcert, "status=sent", true),
        ("secure", &reqcert, "No client certificate presented", false),
        (
            "encrypt",
            &peers.postfix(PostfixServer::Plain),
            "TLS is required, but was not offered",
            false,
        ),
        ("fingerprint", &peers.exim(), "status=sent", true),
    ];
    for (transport, target, expected, delivered) in table {
        let token = unique_token(transport);
        let log = LogCursor::at_end(&relay.log);
        let rcpt = peers.relay_inject(transport, target.port, &token);
        let line = log
            .wait_for(|l| l.contains(&rcpt) && l.contains("status="), MAIL_TIMEOUT)
            .unwrap_or_else(|| panic!("no delivery attempt for {rcpt}:\n{}", log.since()));
        assert!(
            line.contains(expected),
            "{transport} -> {}: {line}",
            target.name
        );
        if delivered {
            let verified = log.since();
            assert!(
                verified.contains(&format!(
                    "Verified TLS connection established to 127.0.0.1[127.0.0.1]:{}",
                    target.port
                )),
                "{transport} -> {}: no verified TLS:\n{verified}",
                target.name
            );
            wait_for_mail(&target.maildir, |m| m.contains(&token), MAIL_TIMEOUT)
                .unwrap_or_else(|| panic!("{token} never reached {}", target.name));
        }
    }
}

/// Every instance listed in peers.env answers with an SMTP greeting.
#[test]
fn every_postfix_instance_greets() {
    let Some(peers) = Peers::require("every_postfix_instance_greets") else {
        return;
    };
    for server in PostfixServer::ALL {
        let reply = ehlo(peers.postfix(server).addr(), "client.test");
        assert!(
            reply
                .first()
                .is_some_and(|l| l.starts_with("250-mx.partner.test")),
            "{server:?}: {reply:?}"
        );
    }
}

/// The milter instance really consults its milter port: with nothing listening there it
/// tempfails (milter_default_action = tempfail) and logs the milter rejection.
#[test]
fn milter_postfix_tempfails_without_a_milter() {
    let Some(peers) = Peers::require("milter_postfix_tempfails_without_a_milter") else {
        return;
    };
    let milter_addr = std::net::SocketAddr::from(([127, 0, 0, 1], peers.milter_port()));
    if std::net::TcpStream::connect_timeout(&milter_addr, Duration::from_secs(1)).is_ok() {
        eprintln!("a milter listens on {milter_addr}: tempfail check not applicable");
        return;
    }
    let instance = peers.postfix(PostfixServer::Milter);
    let log = LogCursor::at_end(&instance.log);
    let token = unique_token("milter");
    let out = peers.swaks(&[
        "--server",
        &instance.server_arg(),
        "--from",
        &format!("{token}@partner.test"),
        "--to",
        "rcpt@mx.partner.test",
    ]);
    assert!(!out.success(), "accepted without a milter:\n{}", out.text);
    out.assert_contains("451 4.7.1");
    log.wait_for(|l| l.contains("milter-reject"), MAIL_TIMEOUT)
        .unwrap_or_else(|| panic!("no milter-reject logged:\n{}", log.since()));
}
