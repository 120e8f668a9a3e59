//! `mailtls policyd` with real discovery against the DNS + HTTPS lab (.ci/lab): lookups for
//! different domains never wait for each other (a policy fetch in flight for one domain does
//! not hold the MTA-STS cache for another), every lookup answers within `--budget-ms` (`TEMP`
//! past it, never a weaker policy), and Postfix 3.10's `policy_failure` for an MTA-STS policy
//! that no MX host matches.
//!
//! Needs the lab (`MAILTLS_LAB_ENV`, else target/lab/lab.env); skipped without it, failed
//! without it in CI. Nothing asserts how long something took: the budget decides what the
//! server answers, and the test reads the answers.

#![cfg(all(feature = "cli", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(dead_code, unreachable_pub)]
#[path = "support/real_env.rs"]
mod real_env;

#[allow(dead_code, unreachable_pub)]
#[path = "support/lab.rs"]
mod lab;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use lab::{Lab, StsCase};

/// A `mailtls policyd` child discovering through the lab, killed on drop.
struct Policyd {
    child: Child,
    addr: SocketAddr,
}

impl Policyd {
    fn start(lab: &Lab, extra: &[&str]) -> Self {
        let resolver = lab.resolver().to_string();
        let sts_port = lab.sts_port().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args([
                "policyd",
                "--listen",
                "127.0.0.1:0",
                "--resolver",
                &resolver,
                "--dnssec-from-resolver",
                "--sts-port",
                &sts_port,
                "--trust-store",
                "system",
            ])
            .args(extra)
            .env("SSL_CERT_FILE", lab.ca_file())
            .env_remove("SSL_CERT_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&first).unwrap();
        let addr = json["listening"].as_str().unwrap().parse().unwrap();
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Self { child, addr }
    }

    /// One socketmap lookup on a connection of its own.
    fn lookup(&self, key: &str) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let payload = format!("policy {key}");
        stream
            .write_all(format!("{}:{payload},", payload.len()).as_bytes())
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut len = Vec::new();
        reader.read_until(b':', &mut len).unwrap();
        len.pop();
        let len: usize = std::str::from_utf8(&len).unwrap().parse().unwrap();
        let mut reply = vec![0_u8; len + 1];
        reader.read_exact(&mut reply).unwrap();
        reply.pop();
        String::from_utf8(reply).unwrap()
    }
}

impl Drop for Policyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The slow case's policy arrives after `LAB_STS_SLOW_SECONDS` (30); the fetch gives up after
/// its own 10 s. With a 5 s budget the slow lookup is `TEMP`; a lookup for another domain,
/// asked while that fetch is in flight, is answered from its own discovery within the budget.
/// Were the cache held across the whole discovery, it would wait out the slow fetch and be
/// `TEMP` too.
#[test]
fn a_fetch_in_flight_blocks_no_other_domain_and_the_budget_holds() {
    let Some(lab) = Lab::require("a_fetch_in_flight_blocks_no_other_domain_and_the_budget_holds")
    else {
        return;
    };
    let policyd = Policyd::start(&lab, &["--budget-ms", "5000"]);
    let slow_domain = lab.sts_domain(StsCase::Slow).to_owned();
    let enforce = lab.sts_domain(StsCase::Enforce).to_owned();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| policyd.lookup(&slow_domain));
        // Ordering only (the slow fetch should be under way): nothing here is asserted on time.
        std::thread::sleep(Duration::from_millis(1500));
        let other = policyd.lookup(&enforce);
        assert!(
            other.starts_with(&format!("OK secure match=mx.{enforce}")),
            "{enforce} waited for another domain's fetch: {other}"
        );
        let slow = slow.join().unwrap();
        assert!(
            slow.starts_with("TEMP ") && slow.contains("budget"),
            "{slow_domain}: {slow}"
        );
    });
    // The server is still up and answers from its cache.
    let again = policyd.lookup(&enforce);
    assert!(again.starts_with("OK secure"), "{again}");
}

/// An enforce policy that no MX host matches: `secure` with the policy's patterns (Postfix
/// refuses the host), and with `--tlsrpt` Postfix 3.10's `policy_failure=validation-failure`.
#[test]
fn tlsrpt_policy_failure_when_no_mx_matches() {
    let Some(lab) = Lab::require("tlsrpt_policy_failure_when_no_mx_matches") else {
        return;
    };
    let wrongmx = lab.sts_domain(StsCase::WrongMx).to_owned();
    let plain = Policyd::start(&lab, &[]);
    let answer = plain.lookup(&wrongmx);
    assert!(
        answer.starts_with("OK secure match=mx.elsewhere.example"),
        "{answer}"
    );
    assert!(!answer.contains("policy_"), "{answer}");
    drop(plain);
    let tlsrpt = Policyd::start(&lab, &["--tlsrpt"]);
    let answer = tlsrpt.lookup(&wrongmx);
    assert!(
        answer.starts_with("OK secure match=mx.elsewhere.example"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!(" policy_type=sts policy_domain={wrongmx} ")),
        "{answer}"
    );
    assert!(
        answer.ends_with(" policy_failure=validation-failure"),
        "{answer}"
    );
    // An enforce policy the MX matches has nothing failed yet.
    let enforce = tlsrpt.lookup(lab.sts_domain(StsCase::Enforce));
    assert!(enforce.contains("policy_type=sts"), "{enforce}");
    assert!(!enforce.contains("policy_failure"), "{enforce}");
}
