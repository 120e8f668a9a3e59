//! `mailtls probe` trusts the public roots by default: the system store, which
//! `rustls-native-certs` reads from `SSL_CERT_FILE` when it is set (as OpenSSL does), so a
//! `secure` probe of a server whose certificate chains to a root in such a file passes
//! without `--tafile`; `--trust-store mozilla` and `--tafile` replace that store.
//!
//! The server is an in-process mailtls SMTP server with STARTTLS on an ephemeral loopback
//! port; every test sets `SSL_CERT_FILE` itself, so the machine's own store never decides.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, LazyLock};

use mailtls::io::{blocking, Answer};
use mailtls::policy::ladder::Rung;
use mailtls::server::{ServerConfig, ServerTls};

use support::pki::Ca;

const MX: &str = "mx.roots.test";

struct Lab {
    /// The root the server's certificate chains to (through an intermediate).
    root: Ca,
    /// A root nothing chains to.
    other: Ca,
    /// The server's port.
    port: u16,
}

fn lab() -> &'static Lab {
    static LAB: LazyLock<Lab> = LazyLock::new(|| {
        let root = Ca::root("mailtls system-store test root");
        let intermediate = root.intermediate("mailtls system-store test intermediate");
        let identity = intermediate.leaf_for(MX).identity();
        let mut config = ServerConfig::new(MX);
        config.tls = Some(ServerTls::new(identity, Rung::Modern));
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || {
                    let peer = stream.peer_addr().unwrap();
                    let _ = blocking::serve_connection(stream, peer, config, &mut |_: &_| {
                        Answer::Accept
                    });
                });
            }
        });
        Lab {
            root,
            other: Ca::root("mailtls unrelated root"),
            port,
        }
    });
    &LAB
}

/// `mailtls probe MX:PORT --address 127.0.0.1 --json` with `extra` flags and
/// `SSL_CERT_FILE=cert_file`.
fn probe(cert_file: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let server = format!("{MX}:{}", lab().port);
    let output = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["probe", &server, "--address", "127.0.0.1", "--json"])
        .args(extra)
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, json)
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn secure_probe_passes_with_the_root_in_a_system_style_ca_file() {
    let (output, json) = probe(&lab().root.tafile(), &["--policy", "secure"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(json["outcome"], "verified", "{}", describe(&output));
    // What the plan says is what was checked.
    let explained = json["explanation"].to_string();
    assert!(explained.contains("public roots"), "{explained}");
}

#[test]
fn secure_probe_fails_when_the_store_lacks_the_root() {
    let (output, json) = probe(&lab().other.tafile(), &["--policy", "secure"]);
    assert_eq!(output.status.code(), Some(75), "{}", describe(&output));
    assert_eq!(json["outcome"], "failed", "{}", describe(&output));
    assert_eq!(
        json["result_type"],
        "certificate-not-trusted",
        "{}",
        describe(&output)
    );
}

#[test]
fn mozilla_set_ignores_the_system_store() {
    let (output, json) = probe(
        &lab().root.tafile(),
        &["--policy", "secure", "--trust-store", "mozilla"],
    );
    assert_eq!(output.status.code(), Some(75), "{}", describe(&output));
    assert_eq!(
        json["result_type"],
        "certificate-not-trusted",
        "{}",
        describe(&output)
    );
}

#[test]
fn tafile_replaces_the_trust_store() {
    let (output, json) = probe(
        &lab().other.tafile(),
        &[
            "--policy",
            "secure",
            "--tafile",
            lab().root.tafile().to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(json["outcome"], "verified");
    // And the other way round: a --tafile without the root fails even though the store has it.
    let (output, json) = probe(
        &lab().root.tafile(),
        &[
            "--policy",
            "secure",
            "--tafile",
            lab().other.tafile().to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(75), "{}", describe(&output));
    assert_eq!(json["result_type"], "certificate-not-trusted");
}

#[test]
fn an_unusable_store_fails_only_what_needs_it() {
    let dir = std::env::temp_dir().join(format!("mailtls-trust-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    // `may` chains to nothing: the store is not even read.
    let (output, json) = probe(&empty, &["--policy", "may"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(json["outcome"], "encrypted");
    // `secure` needs it: a configuration error (EX_CONFIG), never a probe that trusts nothing.
    let (output, _) = probe(&empty, &["--policy", "secure"]);
    assert_eq!(output.status.code(), Some(78), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--trust-store system") && stderr.contains("no usable certificate"),
        "{stderr}"
    );
    // An unknown store name is a usage error.
    let (output, _) = probe(&empty, &["--trust-store", "windows"]);
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
}
