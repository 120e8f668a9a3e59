//! `mailtls probe` next to Postfix's own `posttls-finger` on the same servers (issue 16): for
//! each test Postfix (good, expired, wrong name, self-signed, plaintext-only) and each level
//! (`may`, `encrypt`, `verify`, `secure`, `fingerprint` with the good certificate's pin),
//! mailtls names the session with the trust word posttls-finger prints (`Untrusted`,
//! `Trusted`, `Verified`; none without TLS), and fails exactly where posttls-finger reports a
//! failed verification (or, without STARTTLS, where the level requires TLS). The README's
//! side-by-side table is this test's output.
//!
//! posttls-finger runs with the anchors `-F root-ca.cert.pem` and the relay's configuration
//! directory (`MAIL_CONFIG`), mailtls with the same anchors as `--tafile`. `mailtls send`
//! prints the same words (Verified, Trusted, Untrusted); `tests/cli_serve.rs` has all four
//! through the binaries, `Anonymous` (a client without a certificate) from `mailtls serve`.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::process::Command;

use support_peers::{run_tool, Peers, PostfixServer};

const MX: &str = "mx.partner.test";
const POSTTLS_FINGER: &str = "/usr/sbin/posttls-finger";

/// The word in posttls-finger's `<Word> TLS connection established to ...` line.
fn finger_word(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("posttls-finger: ")?;
        let (word, _) = rest.split_once(" TLS connection established")?;
        (!word.contains(' ')).then(|| word.to_owned())
    })
}

/// posttls-finger's failure line (`... verification failed for ...: REASON`).
fn finger_failure(text: &str) -> Option<String> {
    text.lines()
        .find(|l| l.contains("verification failed for"))
        .and_then(|l| l.rsplit_once(": "))
        .map(|(_, reason)| reason.to_owned())
}

/// posttls-finger at `level`; `matching` is its match argument (a name, or a fingerprint at
/// `fingerprint`).
fn posttls_finger(peers: &Peers, port: u16, level: &str, matching: &str) -> String {
    let out = run_tool(
        Command::new(POSTTLS_FINGER)
            .env("MAIL_CONFIG", peers.var("PEERS_RELAY_CONFIG_DIR"))
            .args(["-c", "-l", level, "-F"])
            .arg(peers.pki("root-ca.cert.pem"))
            .arg(format!("[127.0.0.1]:{port}"))
            .arg(matching),
        None,
    );
    assert!(out.success(), "posttls-finger: {}", out.text);
    out.text
}

fn probe(peers: &Peers, port: u16, policy: &str) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["probe", &format!("{MX}:{port}"), "--address", "127.0.0.1"])
        .args(["--policy", policy, "--json", "--tafile"])
        .arg(peers.pki("root-ca.cert.pem"))
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{policy} {port}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

#[test]
fn finger_lines_are_read() {
    let text = "posttls-finger: warning: TLS level 'may' does not implement certificate matching\n\
                posttls-finger: server certificate verification failed for 127.0.0.1[127.0.0.1]:2505: num=62:hostname mismatch\n\
                posttls-finger: Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:2505: TLSv1.3 with cipher X\n";
    assert_eq!(finger_word(text).as_deref(), Some("Untrusted"));
    assert_eq!(
        finger_failure(text).as_deref(),
        Some("num=62:hostname mismatch")
    );
    assert_eq!(finger_word("posttls-finger: > QUIT\n"), None);
}

#[test]
fn probe_agrees_with_posttls_finger_on_every_server_and_level() {
    let Some(peers) = Peers::require("probe_agrees_with_posttls_finger_on_every_server_and_level")
    else {
        return;
    };
    let servers = [
        PostfixServer::Good,
        PostfixServer::Expired,
        PostfixServer::WrongName,
        PostfixServer::SelfSigned,
        PostfixServer::Plain,
    ];
    let good_pin = peers.fingerprint("SERVER_GOOD_CERT_SHA256").to_owned();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for server in servers {
        let port = peers.postfix(server).port;
        for level in ["may", "encrypt", "verify", "secure", "fingerprint"] {
            let matching = match level {
                "fingerprint" => good_pin.as_str(),
                _ => MX,
            };
            let finger = posttls_finger(&peers, port, level, matching);
            let policy = match level {
                "verify" | "secure" | "fingerprint" => format!("{level} match={matching}"),
                _ => level.to_owned(),
            };
            let (code, json) = probe(&peers, port, &policy);
            let theirs = finger_word(&finger);
            let ours = json["trust"].as_str().map(str::to_owned);
            let their_failure = finger_failure(&finger);
            let tls_required = level != "may";
            // posttls-finger reports a refused certificate; without STARTTLS it says nothing,
            // and a level that requires TLS fails.
            let should_fail = their_failure.is_some() || (theirs.is_none() && tls_required);
            let failed = json["outcome"] == "failed";
            rows.push(format!(
                "{:<10} {:<11} posttls-finger: {:<10} {:<28} | mailtls: {:<10} {:<26} exit {}",
                server.name(),
                level,
                theirs.as_deref().unwrap_or("-"),
                their_failure.as_deref().unwrap_or("-"),
                ours.as_deref().unwrap_or("-"),
                json["result_type"].as_str().unwrap_or("-"),
                code.unwrap_or(-1)
            ));
            if ours != theirs {
                failures.push(format!(
                    "{} {level}: mailtls says {ours:?}, posttls-finger {theirs:?}:\n{finger}",
                    server.name()
                ));
            }
            if failed != should_fail || code != Some(if failed { 75 } else { 0 }) {
                failures.push(format!(
                    "{} {level}: mailtls outcome {} exit {code:?}, posttls-finger failure {their_failure:?}",
                    server.name(),
                    json["outcome"]
                ));
            }
            // The chain is shown whenever a certificate was seen, refused or not.
            if theirs.is_some() && json["peer_chain"].as_array().is_none_or(Vec::is_empty) {
                failures.push(format!("{} {level}: no peer_chain", server.name()));
            }
        }
    }
    eprintln!("{}", rows.join("\n"));
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `mailtls send` prints the same words as probe: Verified (secure, right name), Trusted
/// (may, a chain to the anchors), Untrusted (may, self-signed; secure, wrong name).
#[test]
fn send_prints_postfix_trust_words() {
    let Some(peers) = Peers::require("send_prints_postfix_trust_words") else {
        return;
    };
    let cases = [
        (
            PostfixServer::Good,
            format!("secure match={MX}"),
            "Verified",
            0,
        ),
        (PostfixServer::Good, "may".to_owned(), "Trusted", 0),
        (PostfixServer::SelfSigned, "may".to_owned(), "Untrusted", 0),
        (
            PostfixServer::WrongName,
            format!("secure match={MX}"),
            "Untrusted",
            75,
        ),
    ];
    for (server, policy, word, exit) in cases {
        let port = peers.postfix(server).port;
        let out = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(["send", "--server", &format!("{MX}:{port}"), "--address"])
            .args(["127.0.0.1", "--policy", &policy, "--json", "--tafile"])
            .arg(peers.pki("root-ca.cert.pem"))
            .args(["--from", "sender@relay.partner.test", "--to"])
            .arg("nobody@partner.test")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{policy}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(json["trust"], word, "{} {policy}: {json}", server.name());
        assert_eq!(
            out.status.code(),
            Some(exit),
            "{} {policy}: {json}",
            server.name()
        );
    }
}
