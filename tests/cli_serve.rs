//! `mailtls serve` as an administrator runs it (issue 16): client certificates matter only
//! where a connector says so, the trace fields of stored mail (RFC 5321 §4.4, RFC 3848, as
//! Postfix writes them), private files, one log line per session with its time, trust word
//! and failure reason, and start-up warnings. The clients are `mailtls send` and a raw
//! socket; everything runs on 127.0.0.1.

#![cfg(all(feature = "cli", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

const CONNECTORS: &str = r#"
[[inbound]]
name = "Partner"
connector_type = "partner"
sender_domains = ["partner.test"]
require_tls = true
tls_sender_certificate_name = "*.partner.test"
restrict_domains_to_certificate = true
"#;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-serve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `NAME.pem` and `NAME.key` for a certificate naming `dns` with common name `cn`,
/// issued by `ca` or self-signed.
fn write_cert(
    dir: &Path,
    name: &str,
    dns: &str,
    cn: &str,
    ca: Option<&CertifiedIssuer<'static, KeyPair>>,
) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = match ca {
        Some(ca) => params.signed_by(&key, ca).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

fn ca(dir: &Path, name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), ca.pem()).unwrap();
    ca
}

/// Starts `mailtls serve` in `dir` with `args`; returns the child, its address and a channel
/// of its stderr lines.
fn serve(dir: &Path, args: &[&str]) -> (std::process::Child, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--hostname", "mx.serve.test"])
        .arg("--cert")
        .arg(dir.join("server.pem"))
        .arg("--key")
        .arg(dir.join("server.key"))
        .arg("--maildir")
        .arg(dir.join("Maildir"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not listen: {seen:#?}");
        };
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(line);
        if let Some(addr) = value["listening"].as_str() {
            let addr = addr.parse().unwrap();
            // Hand the lines seen so far back through a fresh channel.
            let (tx2, rx2) = mpsc::channel();
            for l in seen {
                tx2.send(l).unwrap();
            }
            std::thread::spawn(move || {
                for l in rx {
                    if tx2.send(l).is_err() {
                        return;
                    }
                }
            });
            return (child, addr, rx2);
        }
    }
}

/// `mailtls send` to the server with a client certificate `cert` (`NAME` of `NAME.pem`).
fn send(dir: &Path, addr: SocketAddr, cert: &str, from: &str) -> Output {
    let server = format!("mx.serve.test:{}", addr.port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["-v", "send", "--server", &server, "--address", "127.0.0.1"])
        .args([
            "--policy",
            "encrypt",
            "--from",
            from,
            "--to",
            "rcpt@serve.test",
        ])
        .arg("--cert")
        .arg(dir.join(format!("{cert}.pem")))
        .arg("--key")
        .arg(dir.join(format!("{cert}.key")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: hello\n\nhello\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Session lines (those with a `peer` and a `verdict`), in order.
fn sessions(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("verdict").is_some() && v.get("peer").is_some())
        .collect()
}

fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit())
}

/// An ordinary MTA with a self-signed certificate is not refused by `--client-ca` (its
/// certificate is Untrusted, and no connector names it); the partner's domain with a
/// self-signed certificate is refused (the connector says so); the partner with its CA's
/// certificate is taken. A handshake that fails is logged with its reason. Stored mail
/// carries Return-Path, Delivered-To and a Postfix-like Received with ESMTPS, the hostname,
/// `for <rcpt>` and an RFC 5322 date; files are 0600; a certificate's common name with CR LF
/// cannot add a header.
#[test]
fn serve_asks_for_certificates_and_lets_connectors_judge_them() {
    let dir = scratch("judge");
    let partner_ca = ca(&dir, "partner-ca");
    write_cert(&dir, "server", "mx.serve.test", "mx.serve.test", None);
    write_cert(
        &dir,
        "ordinary",
        "relay.other.test",
        "relay.other.test\r\nX-Injected: yes",
        None,
    );
    write_cert(
        &dir,
        "impostor",
        "relay.partner.test",
        "relay.partner.test",
        None,
    );
    write_cert(
        &dir,
        "partner",
        "relay.partner.test",
        "relay.partner.test",
        Some(&partner_ca),
    );
    std::fs::write(dir.join("connectors.toml"), CONNECTORS).unwrap();
    let connectors = dir.join("connectors.toml");
    let client_ca = dir.join("partner-ca.pem");
    let (mut child, addr, lines) = serve(
        &dir,
        &[
            "--connectors",
            connectors.to_str().unwrap(),
            "--client-ca",
            client_ca.to_str().unwrap(),
            "--max-sessions",
            "4",
        ],
    );
    let ordinary = send(&dir, addr, "ordinary", "alice@other.test");
    assert_eq!(ordinary.status.code(), Some(0), "{}", text(&ordinary));
    // -v shows the dialogue: the commands, never the message.
    assert!(
        text(&ordinary).contains("> MAIL FROM:<alice@other.test>"),
        "{}",
        text(&ordinary)
    );
    assert!(
        !text(&ordinary).contains("Subject: hello"),
        "{}",
        text(&ordinary)
    );
    let impostor = send(&dir, addr, "impostor", "bob@partner.test");
    assert_eq!(impostor.status.code(), Some(69), "{}", text(&impostor));
    assert!(text(&impostor).contains("550 5.7.1"), "{}", text(&impostor));
    let partner = send(&dir, addr, "partner", "bob@partner.test");
    assert_eq!(partner.status.code(), Some(0), "{}", text(&partner));
    // A client that starts TLS and then sends no TLS at all.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reader = BufReader::new(raw.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    raw.write_all(b"EHLO raw.test\r\n").unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("250 ") {
            break;
        }
    }
    raw.write_all(b"STARTTLS\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("220"), "{line}");
    raw.write_all(b"this is not a ClientHello\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    drop(raw);

    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let lines: Vec<String> = lines.try_iter().collect();
    let sessions = sessions(&lines);
    assert_eq!(sessions.len(), 4, "{lines:#?}");
    for session in &sessions {
        assert!(is_rfc3339(session["time"].as_str().unwrap()), "{session}");
    }
    let by_verdict = |trust: &str| {
        sessions
            .iter()
            .filter(|s| s["client_trust"] == trust)
            .collect::<Vec<_>>()
    };
    let untrusted = by_verdict("Untrusted");
    assert_eq!(untrusted.len(), 2, "{sessions:#?}");
    assert!(untrusted.iter().any(|s| s["verdict"] == "accepted"));
    assert!(untrusted.iter().any(|s| s["verdict"] == "refused"));
    let trusted: Vec<_> = sessions
        .iter()
        .filter(|s| s["client_trust"] == "Trusted" || s["client_trust"] == "Verified")
        .collect();
    assert_eq!(trusted.len(), 1, "{sessions:#?}");
    assert_eq!(trusted[0]["verdict"], "accepted");
    let failed = sessions
        .iter()
        .find(|s| !s["tls_failure"].is_null())
        .unwrap_or_else(|| panic!("no TLS failure logged: {sessions:#?}"));
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("TLS ")),
        "{failed}"
    );

    let new = dir.join("Maildir").join("new");
    let mut stored: Vec<_> = std::fs::read_dir(&new)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    stored.sort();
    assert_eq!(stored.len(), 2, "{stored:?}");
    for path in &stored {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let message = String::from_utf8(std::fs::read(path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            message.starts_with("Return-Path: <")
                && message.contains("\r\nDelivered-To: rcpt@serve.test\r\nReceived: from "),
            "{message}"
        );
        assert!(
            message.contains("\tby mx.serve.test (mailtls) with ESMTPS id "),
            "{message}"
        );
        assert!(
            message.contains(&format!(" id {name}\r\n\tfor <rcpt@serve.test>; ")),
            "{message}"
        );
        assert!(message.contains("(using TLSv1."), "{message}");
        assert!(!message.contains("\r\nX-Injected"), "{message}");
        let received_end = message
            .lines()
            .find(|l| l.starts_with("\tfor <rcpt@serve.test>; "))
            .unwrap();
        // `Mon, 7 Dec 2026 23:12:13 +0000`
        let date = received_end.trim_end().rsplit_once("; ").unwrap().1;
        assert!(
            date.ends_with(" +0000") && date.as_bytes()[3] == b',',
            "{date}"
        );
    }
}

/// Configurations that cannot do what they say are named at start: a connector naming a
/// partner certificate with no --client-ca to verify it, a certificate that does not name the
/// --hostname, a per-client cap above the total.
#[test]
fn serve_warns_at_start_about_what_cannot_work() {
    let dir = scratch("warn");
    write_cert(&dir, "server", "other.serve.test", "other.serve.test", None);
    std::fs::write(dir.join("connectors.toml"), CONNECTORS).unwrap();
    let connectors = dir.join("connectors.toml");
    let (mut child, _, lines) = serve(
        &dir,
        &[
            "--connectors",
            connectors.to_str().unwrap(),
            "--max-per-client",
            "50",
            "--max-connections",
            "10",
            "--max-sessions",
            "0",
        ],
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let warnings: Vec<String> = lines
        .try_iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .filter_map(|v| v["warning"].as_str().map(str::to_owned))
        .collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        has("\"Partner\" names a partner certificate"),
        "{warnings:#?}"
    );
    assert!(has("--client-ca is not given"), "{warnings:#?}");
    assert!(
        has("does not name --hostname \"mx.serve.test\""),
        "{warnings:#?}"
    );
    assert!(
        has("--max-per-client 50 is above --max-connections 10"),
        "{warnings:#?}"
    );
}

/// `mailtls probe` tells what posttls-finger tells (issue 16): the trust word under `may`
/// (`Untrusted` for a self-signed certificate), the peer certificate with RFC 3339 validity
/// and SHA-256/SPKI fingerprints on success AND when verification fails, the reason, and
/// exit 75 for the failure.
#[test]
fn probe_shows_the_trust_word_and_the_chain_on_success_and_failure() {
    let dir = scratch("probe");
    write_cert(&dir, "server", "mx.serve.test", "mx.serve.test", None);
    let (mut child, addr, _lines) = serve(&dir, &["--max-sessions", "2"]);
    let server = format!("mx.serve.test:{}", addr.port());
    let probe = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(["probe", &server, "--address", "127.0.0.1", "--json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let may = probe(&[]);
    assert_eq!(may.status.code(), Some(0), "{}", text(&may));
    let json: serde_json::Value = serde_json::from_slice(&may.stdout).unwrap();
    assert_eq!(json["trust"], "Untrusted", "{json}");
    assert_eq!(json["attempts"][0]["trust"], "Untrusted", "{json}");
    assert!(json["group"].is_string(), "{json}");
    // The dialogue, as posttls-finger -v shows it, and the EHLO keywords after TLS.
    let dialogue: Vec<&str> = json["attempts"][0]["dialogue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for expected in ["< 220 mx.serve.test", "> STARTTLS", "< 220 2.0.0", "> QUIT"] {
        assert!(
            dialogue.iter().any(|l| l.starts_with(expected)),
            "{expected}: {dialogue:#?}"
        );
    }
    assert!(
        dialogue
            .iter()
            .any(|l| l.starts_with("= Untrusted TLS connection: TLSv1.")),
        "{dialogue:#?}"
    );
    let capabilities = json["capabilities"].as_array().unwrap();
    assert!(capabilities.iter().any(|c| c == "PIPELINING"), "{json}");
    assert!(!capabilities.iter().any(|c| c == "STARTTLS"), "{json}");
    let failed = probe(&["--policy", "secure match=other.test"]);
    assert_eq!(failed.status.code(), Some(75), "{}", text(&failed));
    let failed: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert!(failed["certificate_error"].is_string(), "{failed}");
    for json in [&json, &failed] {
        let cert = &json["peer_chain"][0];
        assert_eq!(cert["subject"], "CN=mx.serve.test", "{json}");
        assert_eq!(cert["sans"][0], "DNS:mx.serve.test", "{json}");
        assert!(is_rfc3339(cert["not_before"].as_str().unwrap()), "{json}");
        assert!(is_rfc3339(cert["not_after"].as_str().unwrap()), "{json}");
        assert_eq!(cert["sha256"].as_str().unwrap().len(), 95, "{json}");
        assert_eq!(cert["spki_sha256"].as_str().unwrap().len(), 95, "{json}");
        // No Rust debug text anywhere.
        let raw = json.to_string();
        assert!(!raw.contains("Status {") && !raw.contains("Some("), "{raw}");
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// The four trust words through the binaries (issue 16): `serve` names a client without a
/// certificate `Anonymous` and one whose chain reaches `--client-ca` `Trusted` (no name was
/// asked of it); `probe` of that server names it `Untrusted` without anchors and `Trusted`
/// with `--tafile` at `may` (the chain is checked for the record, as Postfix does), and
/// `Verified` once a name is required and matches.
#[test]
fn every_trust_word_through_serve_and_probe() {
    let dir = scratch("words");
    let client_ca = ca(&dir, "client-ca");
    let server_ca = ca(&dir, "server-ca");
    write_cert(
        &dir,
        "server",
        "mx.serve.test",
        "mx.serve.test",
        Some(&server_ca),
    );
    write_cert(
        &dir,
        "client",
        "relay.client.test",
        "relay.client.test",
        Some(&client_ca),
    );
    let ca_file = dir.join("client-ca.pem");
    let (mut child, addr, lines) = serve(
        &dir,
        &[
            "--client-ca",
            ca_file.to_str().unwrap(),
            "--max-sessions",
            "6",
        ],
    );
    let server = format!("mx.serve.test:{}", addr.port());
    let run = |args: &[&str], stdin: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(args)
            .args(["--server", &server, "--address", "127.0.0.1", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)));
        (out.status.code(), json)
    };
    let message = b"Subject: words\n\nhello\n";
    let send = ["send", "--from", "a@client.test", "--to", "rcpt@serve.test"];
    // Anonymous: no client certificate.
    let (code, json) = run(&send, message);
    assert_eq!(code, Some(0), "{json}");
    // Trusted: the client's chain reaches --client-ca.
    let cert = dir.join("client.pem");
    let key = dir.join("client.key");
    let with_cert = [
        &send[..],
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ]
    .concat();
    let (code, json) = run(&with_cert, message);
    assert_eq!(code, Some(0), "{json}");
    // Outbound words: Untrusted without anchors, Trusted with them, Verified with a name.
    let server_ca_file = dir.join("server-ca.pem");
    let tafile = server_ca_file.to_str().unwrap();
    let probe = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(["probe", &server, "--address", "127.0.0.1", "--json"])
            .args(extra)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), json["trust"].clone())
    };
    assert_eq!(probe(&[]), (Some(0), "Untrusted".into()));
    // The text form says the same, within 100 columns (fingerprints fold at a colon).
    let text_probe = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args([
            "probe",
            &server,
            "--address",
            "127.0.0.1",
            "--tafile",
            tafile,
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&text_probe.stdout).into_owned();
    assert!(
        shown.contains("Trusted TLS connection established to"),
        "{shown}"
    );
    assert!(shown.lines().all(|l| l.chars().count() <= 100), "{shown}");
    assert!(shown.contains("  sha256:       "), "{shown}");
    assert_eq!(probe(&["--tafile", tafile]), (Some(0), "Trusted".into()));
    assert_eq!(
        probe(&["--tafile", tafile, "--policy", "secure match=mx.serve.test"]),
        (Some(0), "Verified".into())
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let lines: Vec<String> = lines.try_iter().collect();
    let words: Vec<String> = sessions(&lines)
        .iter()
        .map(|s| s["client_trust"].as_str().unwrap_or("null").to_owned())
        .collect();
    assert_eq!(words[..2], ["Anonymous", "Trusted"], "{lines:#?}");
}

/// The README's bullet for `name` in the **JSON** list, from after its first `: `.
fn schema_bullet(readme: &str, name: &str) -> String {
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(name));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("README: no {name:?} bullet"));
    let mut text = first.split_once(": ").unwrap().1.to_owned();
    for line in lines.take_while(|l| !l.starts_with("- ") && !l.trim().is_empty()) {
        text.push(' ');
        text.push_str(line.trim());
    }
    text
}

/// The backticked names of a schema bullet: `(depth, name, owner)`, where `owner` is the
/// name whose parentheses hold it (empty at the top). Stops at a `;` at the top.
fn schema_names(text: &str) -> Vec<(usize, String, String)> {
    let mut names = Vec::new();
    let mut owners: Vec<String> = vec![String::new()];
    let mut last = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '(' => owners.push(std::mem::take(&mut last)),
            ')' => {
                owners.pop();
            }
            ';' if owners.len() == 1 => break,
            '`' => {
                let name: String = chars.by_ref().take_while(|c| *c != '`').collect();
                let owner = owners.last().cloned().unwrap_or_default();
                names.push((owners.len() - 1, name.clone(), owner));
                last = name;
            }
            _ => {}
        }
    }
    names
}

fn documented(
    names: &[(usize, String, String)],
    owner: &str,
) -> std::collections::BTreeSet<String> {
    let depth = usize::from(!owner.is_empty());
    names
        .iter()
        .filter(|(d, _, o)| *d == depth && o == owner)
        .map(|(_, n, _)| n.clone())
        .collect()
}

fn keys(value: &serde_json::Value) -> std::collections::BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// One documented schema per command (issue 16): the fields the README lists for `probe`,
/// `explain` and `serve`'s session line are exactly the fields they print, nested ones
/// (`attempts`, `peer_chain`, `decision`) included.
#[test]
fn json_fields_are_the_documented_ones() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let probe_names = schema_names(&schema_bullet(&readme, "- `probe`, `send`:"));
    let dir = scratch("schema");
    write_cert(&dir, "server", "mx.serve.test", "mx.serve.test", None);
    let (mut child, addr, lines) = serve(&dir, &["--max-sessions", "1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["probe", &format!("mx.serve.test:{}", addr.port())])
        .args(["--address", "127.0.0.1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys(&json), documented(&probe_names, ""), "probe: {json}");
    for owner in ["attempts", "peer_chain", "decision"] {
        assert_eq!(
            keys(&json[owner][0]),
            documented(&probe_names, owner),
            "probe {owner}: {json}"
        );
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let lines: Vec<String> = lines.try_iter().collect();
    let session = &sessions(&lines)[0];
    let serve_names = schema_names(&schema_bullet(&readme, "- `serve` (one line per session"));
    assert_eq!(
        keys(session),
        documented(&serve_names, ""),
        "serve: {session}"
    );

    let explain_names = schema_names(&schema_bullet(&readme, "- `explain`:"));
    let out = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args([
            "explain",
            "partner.test",
            "--mx",
            "mx.partner.test",
            "--json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        keys(&json),
        documented(&explain_names, ""),
        "explain: {json}"
    );
    assert_eq!(
        keys(&json["decision"][0]),
        documented(&probe_names, "decision"),
        "explain decision: {json}"
    );
}
