//! Real Postfix delivers through `mailtls policyd` (issue 15, done-when 2). The harness,
//! `.ci/policyd-e2e/run.sh`, makes a network, mount and PID namespace of its own, so Postfix
//! resolves through `/etc/resolv.conf` on port 53 (unbound, validating, over knot's signed
//! lab zones) and delivers to MX hosts on port 25 (the lab's good and wrong-certificate
//! Postfix at 127.0.0.2 and 127.0.0.3), with `smtp_tls_policy_maps` pointing at policyd. The
//! cases: a partner connector domain, an MTA-STS `enforce` domain, a DANE domain, a
//! `[host]:port` and a `domain:port` next hop (transport map) arrive verified at the right MX;
//! mail to a wrong-certificate MX (DANE, and a table `secure` entry) stays deferred in
//! Postfix's queue with the TLS reason. See `.ci/policyd-e2e/README.md`.
//!
//! Skips only when not root or without `unshare`; with `CI` set (not `false`/`0`) a skip is a
//! failure. Everything the harness starts ends with its PID namespace, even on failure.

#![cfg(all(feature = "cli", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code, unreachable_pub)]
#[path = "support/real_env.rs"]
mod real_env;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The whole run: the lab's start (~10-30 s, a new PKI the first time), seven messages.
const HARNESS_TIMEOUT: Duration = Duration::from_secs(600);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Why this machine cannot run the harness, if it cannot.
fn cannot_run() -> Option<String> {
    let uid = Command::new("id").arg("-u").output();
    if !uid.is_ok_and(|o| o.stdout.trim_ascii() == b"0") {
        return Some("not root (namespaces and Postfix's master need root)".into());
    }
    let unshare = Command::new("unshare").arg("--version").output();
    if !unshare.is_ok_and(|o| o.status.success()) {
        return Some("no unshare (util-linux)".into());
    }
    None
}

#[test]
fn real_postfix_delivers_through_policyd() {
    if let Some(why) = cannot_run() {
        assert!(
            !in_ci(),
            "\n\n*** real_postfix_delivers_through_policyd: cannot run in CI: {why} ***\n"
        );
        eprintln!("\n*** SKIPPED real_postfix_delivers_through_policyd: {why} ***\n");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policyd-e2e");
    let run = real_env::capture_within(
        Command::new("bash")
            .arg(root.join(".ci/policyd-e2e/run.sh"))
            .arg(&state)
            .arg(env!("CARGO_BIN_EXE_mailtls")),
        None,
        HARNESS_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}{stderr}");
    let status = run.status.expect("the harness did not finish in time");
    // Every case ran and passed: one PASS line each, no FAIL line.
    for case in [
        "connector",
        "mta-sts-enforce",
        "dane",
        "bracket-port",
        "domain-port",
        "wrong-cert-dane",
        "wrong-cert-secure",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("PASS {case} "))),
            "case {case} did not pass"
        );
    }
    assert!(!stdout.contains("FAIL "), "a case failed");
    assert!(status.success(), "the harness failed: {status}");
}
