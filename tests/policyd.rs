//! `mailtls policyd` as Postfix meets it (issue 15): both lookup protocols on real sockets,
//! hostile input (malformed and oversized netstrings, unknown map names, bad `%XX`), 10,000
//! concurrent connections, slow and half-open clients, a lookup past its budget, `--query`,
//! and real Postfix: `postmap -q` against the server over socketmap and tcp_table.
//!
//! Every wait is bounded; nothing asserts how long something took. All traffic is on
//! 127.0.0.1; the servers listen on ports the kernel picks.

#![cfg(all(feature = "cli", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use support_peers::Peers;

const TABLE: &str = "\
partner.test            secure match=mx.partner.test servername=hostname
[relay.example]:587     fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA
.sub.example            verify
dane.example            dane-only
";

const CONNECTORS: &str = r#"
[[outbound]]
name = "Contoso: forced TLS, domain validation"
recipient_domains = ["contoso.com"]
tls_settings = "domain_validation"
tls_domain = "*.contoso.com"
"#;

const ANSWERS: &str = r#"{
  "sts.example": {"mx": ["mx1.sts.example"], "sts_policy": "version: STSv1\nmode: enforce\nmx: mx1.sts.example\nmx: *.mail.sts.example\nmax_age: 86400\n"},
  "signed.example": {"mx": ["mx.signed.example"], "dnssec": true, "tlsa": {"mx.signed.example": ["3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]}, "sts_policy": "version: STSv1\nmode: enforce\nmx: mx.signed.example\nmax_age: 86400\n"},
  "bogus.example": {"mx": ["mx.bogus.example"], "dnssec": true, "dnssec_failure": "bogus", "tlsa": {"mx.bogus.example": ["3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]}},
  "stsdown.example": {"mx": ["mx.stsdown.example"], "sts_failure": "temporary"},
  "slow.example": {"mx": ["mx.slow.example"], "delay_ms": 5000}
}"#;

/// The expected answers for the configuration cases (socketmap payloads).
const CONFIG_CASES: [(&str, &str); 6] = [
    (
        "partner.test",
        "OK secure match=mx.partner.test servername=hostname",
    ),
    (
        "[relay.example]:587",
        "OK fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA servername=hostname",
    ),
    ("a.sub.example", "OK verify match=hostname servername=hostname"),
    ("dane.example", "OK dane-only"),
    (
        "contoso.com",
        "OK secure match=contoso.com:.contoso.com servername=hostname",
    ),
    ("elsewhere.example", "NOTFOUND "),
];

static INSTANCE: AtomicUsize = AtomicUsize::new(0);

/// A `mailtls policyd` child on a kernel-chosen port, killed on drop.
struct Policyd {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Policyd {
    fn start(args: &[&str]) -> Self {
        let dir = Self::fresh_dir();
        let mut argv = vec![
            "policyd".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        argv.extend(config_args(&dir));
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        Self::start_argv(dir, &argv)
    }

    /// A fresh directory with the test configuration files.
    fn fresh_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mailtls-policyd-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_config(&dir);
        dir
    }

    /// Starts `mailtls` with exactly `argv` (which must listen on port 0).
    fn start_argv(dir: PathBuf, argv: &[String]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(argv)
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
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Self { child, addr, dir }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Policyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_config(dir: &Path) {
    std::fs::write(dir.join("table"), TABLE).unwrap();
    std::fs::write(dir.join("connectors.toml"), CONNECTORS).unwrap();
    std::fs::write(dir.join("answers.json"), ANSWERS).unwrap();
}

fn config_args(dir: &Path) -> Vec<String> {
    [
        ("--policy-map", "table"),
        ("--connectors", "connectors.toml"),
        ("--discovery-answers", "answers.json"),
    ]
    .iter()
    .flat_map(|(flag, file)| [(*flag).to_owned(), dir.join(file).display().to_string()])
    .collect()
}

fn netstring(payload: &str) -> Vec<u8> {
    format!("{}:{payload},", payload.len()).into_bytes()
}

/// Reads one netstring reply; `None` when the server closed the connection first.
fn read_netstring(stream: &mut TcpStream) -> Option<String> {
    let mut len = Vec::new();
    let mut byte = [0_u8; 1];
    loop {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        if byte[0] == b':' {
            break;
        }
        len.push(byte[0]);
    }
    let len: usize = String::from_utf8(len).unwrap().parse().unwrap();
    let mut payload = vec![0_u8; len + 1];
    stream.read_exact(&mut payload).ok()?;
    assert_eq!(payload.pop(), Some(b','));
    Some(String::from_utf8(payload).unwrap())
}

fn socketmap(stream: &mut TcpStream, name: &str, key: &str) -> String {
    stream
        .write_all(&netstring(&format!("{name} {key}")))
        .unwrap();
    read_netstring(stream).unwrap()
}

fn read_line(stream: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0_u8; 1];
    loop {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        if byte[0] == b'\n' {
            return Some(String::from_utf8(line).unwrap());
        }
        line.push(byte[0]);
    }
}

/// Waits (bounded) until the server closes `stream`: a read gives EOF or an error.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0_u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn socketmap_answers_configuration_and_discovery_cases_on_one_connection() {
    let server = Policyd::start(&[]);
    let mut stream = server.connect();
    for (key, expected) in CONFIG_CASES {
        assert_eq!(socketmap(&mut stream, "policy", key), expected, "{key}");
    }
    let discovered = [
        (
            "sts.example",
            "OK secure match=mx1.sts.example:.mail.sts.example servername=hostname",
        ),
        // DANE before MTA-STS, and mandatory once mailtls has seen the signed TLSA records.
        ("signed.example", "OK dane-only"),
        // Failed lookups defer; they never lower the answer.
        (
            "bogus.example",
            "TEMP DANE: DNSSEC validation failed (bogus)",
        ),
        (
            "stsdown.example",
            "TEMP MTA-STS policy discovery failed temporarily",
        ),
        // Parent-domain keys: covered by the next hop's own answer.
        (".sub.example", "NOTFOUND "),
    ];
    for (key, expected) in discovered {
        assert_eq!(socketmap(&mut stream, "policy", key), expected, "{key}");
    }
    // Pipelined requests are answered in order.
    let mut both = netstring("policy partner.test");
    both.extend(netstring("policy elsewhere.example"));
    stream.write_all(&both).unwrap();
    assert!(read_netstring(&mut stream)
        .unwrap()
        .starts_with("OK secure"));
    assert_eq!(read_netstring(&mut stream).unwrap(), "NOTFOUND ");
}

#[test]
fn tcp_table_answers_with_percent_encoding() {
    let server = Policyd::start(&["--protocol", "tcp_table"]);
    let mut stream = server.connect();
    stream
        .write_all(b"get partner.test\nget %5Brelay.example%5D%3A587\nget elsewhere.example\n")
        .unwrap();
    assert_eq!(
        read_line(&mut stream).unwrap(),
        "200 secure%20match=mx.partner.test%20servername=hostname"
    );
    assert!(read_line(&mut stream)
        .unwrap()
        .starts_with("200 fingerprint%20match=3D:95"));
    assert!(read_line(&mut stream).unwrap().starts_with("500 "));
    stream.write_all(b"get bad%zz\n").unwrap();
    assert!(read_line(&mut stream).unwrap().starts_with("400 "));
    stream.write_all(b"put partner.test x\n").unwrap();
    assert!(read_line(&mut stream).unwrap().starts_with("400 "));
    // Still the same connection, still answering.
    stream.write_all(b"get contoso.com\n").unwrap();
    assert!(read_line(&mut stream).unwrap().starts_with("200 secure"));
}

/// Each hostile request is answered (or the connection closed) and the next client is served.
#[test]
fn hostile_requests_never_take_the_server_down() {
    let mut server = Policyd::start(&["--map-name", "policy"]);
    // (bytes sent, expected reply prefix or None for "closed without reply", connection lives)
    let oversized = format!("100000:policy {}", "a".repeat(4000));
    let cases: [(&[u8], Option<&str>, bool); 7] = [
        (b"x:policy partner.test,", Some("PERM bad request"), false),
        (b"19:policy partner.test;", Some("PERM bad request"), false),
        (oversized.as_bytes(), Some("PERM bad request"), false),
        (b"12345678901234567890", Some("PERM bad request"), false),
        (b"12:partner.test,", Some("PERM bad request"), true),
        (
            b"18:other partner.test,",
            Some("PERM unknown map name"),
            true,
        ),
        (b"9:policy \xff\xfe,", Some("PERM bad request"), true),
    ];
    for (input, expected, lives) in cases {
        let mut stream = server.connect();
        stream.write_all(input).unwrap();
        let reply = read_netstring(&mut stream);
        match expected {
            Some(prefix) => {
                let reply = reply.unwrap_or_default();
                assert!(reply.starts_with(prefix), "{reply:?} for {input:?}");
            }
            None => assert_eq!(reply, None),
        }
        if lives {
            assert!(socketmap(&mut stream, "policy", "partner.test").starts_with("OK secure"));
        } else {
            assert!(closed_by_server(&mut stream), "{input:?}");
        }
        let mut fresh = server.connect();
        assert!(socketmap(&mut fresh, "policy", "partner.test").starts_with("OK secure"));
    }
    assert!(server.alive());
}

/// 10,000 connections held open at once: the server keeps them all and still answers.
#[test]
fn ten_thousand_concurrent_connections() {
    let mut server = Policyd::start(&[]);
    let mut held = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        // Every 500th sends half a request and stalls; the rest idle.
        if i % 500 == 0 {
            stream.write_all(b"19:policy partn").unwrap();
        }
        held.push(stream);
    }
    // A sample of the held connections, and a fresh one, get their answers.
    for stream in held.iter_mut().skip(1).step_by(997) {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        assert!(socketmap(stream, "policy", "contoso.com").starts_with("OK secure"));
    }
    let mut fresh = server.connect();
    for (key, expected) in CONFIG_CASES {
        assert_eq!(socketmap(&mut fresh, "policy", key), expected, "{key}");
    }
    drop(held);
    let mut after = server.connect();
    assert!(socketmap(&mut after, "policy", "partner.test").starts_with("OK secure"));
    assert!(server.alive());
}

/// A client that stalls mid-request, or says nothing at all, is disconnected; meanwhile every
/// other client is answered.
#[test]
fn slow_and_half_open_clients_are_disconnected() {
    let server = Policyd::start(&["--request-timeout", "1", "--idle-timeout", "2"]);
    let mut stalled = server.connect();
    stalled.write_all(b"19:policy partn").unwrap();
    let mut silent = server.connect();
    let mut half_closed = server.connect();
    half_closed.write_all(b"19:policy partn").unwrap();
    half_closed.shutdown(Shutdown::Write).unwrap();

    let mut busy = server.connect();
    assert!(socketmap(&mut busy, "policy", "partner.test").starts_with("OK secure"));

    assert!(closed_by_server(&mut stalled));
    assert!(closed_by_server(&mut silent));
    assert!(closed_by_server(&mut half_closed));
    let mut after = server.connect();
    assert!(socketmap(&mut after, "policy", "partner.test").starts_with("OK secure"));
}

/// A lookup that outlasts its budget is answered `TEMP`, never stalled and never weaker; other
/// lookups are answered meanwhile.
#[test]
fn a_lookup_past_its_budget_is_temp() {
    let server = Policyd::start(&["--budget-ms", "200"]);
    let mut slow = server.connect();
    slow.write_all(&netstring("policy slow.example")).unwrap();
    let mut other = server.connect();
    assert!(socketmap(&mut other, "policy", "partner.test").starts_with("OK secure"));
    let reply = read_netstring(&mut slow).unwrap();
    assert!(
        reply.starts_with("TEMP ") && reply.contains("budget"),
        "{reply}"
    );
    // The same connection goes on.
    assert!(socketmap(&mut slow, "policy", "contoso.com").starts_with("OK secure"));
}

#[test]
fn query_prints_the_answer_and_its_explanation() {
    let dir = std::env::temp_dir().join(format!("mailtls-policyd-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_config(&dir);
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(["policyd", "--query", key])
            .args(config_args(&dir))
            .output()
            .unwrap()
    };
    let out = run("partner.test");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("answer: OK secure match=mx.partner.test servername=hostname"),
        "{text}"
    );
    assert!(text.contains("policy table entry"), "{text}");

    let out = run("sts.example");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("decided by MTA-STS"), "{text}");
    assert!(
        text.contains("note: *.mail.sts.example is one label"),
        "{text}"
    );

    let out = run("bogus.example");
    assert_eq!(out.status.code(), Some(75));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("answer: TEMP"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Real Postfix as the client: `postmap -q KEY socketmap:inet:...` and `tcp:...` print the
/// value policyd rendered, and exit 1 (not found) where policyd said NOTFOUND.
#[test]
fn real_postfix_postmap_reads_both_protocols() {
    let Some(peers) = Peers::require("real_postfix_postmap_reads_both_protocols") else {
        return;
    };
    let config_dir = peers.relay().config_dir;
    let socketmap_server = Policyd::start(&["--map-name", "policy"]);
    let tcp_server = Policyd::start(&["--protocol", "tcp_table"]);
    let maps = [
        format!("socketmap:inet:{}:policy", socketmap_server.addr),
        format!("tcp:{}", tcp_server.addr),
    ];
    for map in &maps {
        for (key, expected) in CONFIG_CASES {
            let out = Command::new("postmap")
                .arg("-c")
                .arg(&config_dir)
                .args(["-q", key, map])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
            match expected.strip_prefix("OK ") {
                Some(value) => {
                    assert!(out.status.success(), "{map} {key}: {out:?}");
                    assert_eq!(stdout, value, "{map} {key}");
                }
                None => {
                    assert_eq!(out.status.code(), Some(1), "{map} {key}: {out:?}");
                    assert_eq!(stdout, "", "{map} {key}");
                }
            }
        }
        // A failed lookup is a Postfix lookup error (mail would be deferred), not "not found".
        let out = Command::new("postmap")
            .arg("-c")
            .arg(&config_dir)
            .args(["-q", "bogus.example", map])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{map}: {out:?}");
        assert!(stderr.contains("query error"), "{map}: {stderr}");
    }
    // An unknown socketmap name is refused.
    let out = Command::new("postmap")
        .arg("-c")
        .arg(&config_dir)
        .args(["-q", "partner.test"])
        .arg(format!("socketmap:inet:{}:other", socketmap_server.addr))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown map name"));
}

/// The body of the README's first fenced block at or after `marker`.
fn readme_block(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find(marker).unwrap();
    let fence = start + readme[start..].find("```").unwrap();
    let body = &readme[fence..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

/// The README's systemd unit is valid (`systemd-analyze verify`), its `ExecStart` runs, and
/// its `main.cf` snippet is valid Postfix (`postconf`) whose map, queried by `postmap`, reaches
/// that server.
#[test]
fn readme_unit_and_main_cf_snippet_work() {
    let Some(peers) = Peers::require("readme_unit_and_main_cf_snippet_work") else {
        return;
    };
    let unit = readme_block("```ini");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut argv: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();
    assert_eq!(argv[0], "/usr/local/bin/mailtls");
    let dir = Policyd::fresh_dir();

    // The unit, with the binary under test in place of the installed one.
    let unit_file = dir.join("mailtls-policyd.service");
    std::fs::write(
        &unit_file,
        unit.replace("/usr/local/bin/mailtls", env!("CARGO_BIN_EXE_mailtls")),
    )
    .unwrap();
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_file)
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert!(!stderr.contains("Unknown"), "{stderr}");
        }
        Err(e) => eprintln!("systemd-analyze not run: {e}"),
    }

    // Its command line, with the test's files and a free port.
    argv.remove(0);
    let listen = argv.iter().position(|a| a == "--listen").unwrap();
    let configured_addr = argv[listen + 1].clone();
    argv[listen + 1] = "127.0.0.1:0".into();
    for arg in &mut argv {
        *arg = match arg.as_str() {
            "/etc/mailtls/tls_policy" => dir.join("table").display().to_string(),
            "/etc/mailtls/connectors.toml" => dir.join("connectors.toml").display().to_string(),
            other => other.to_owned(),
        };
    }
    let server = Policyd::start_argv(dir.clone(), &argv);

    // The main.cf snippet as the whole main.cf, beside a real master.cf.
    let snippet = readme_block("And the Postfix side");
    let config = dir.join("postfix");
    std::fs::create_dir_all(&config).unwrap();
    let relay = peers.relay().config_dir;
    std::fs::copy(relay.join("master.cf"), config.join("master.cf")).unwrap();
    std::fs::write(
        config.join("main.cf"),
        snippet.replace(&configured_addr, &server.addr.to_string()),
    )
    .unwrap();
    let out = Command::new("postconf")
        .arg("-c")
        .arg(&config)
        .args(["-h", "smtp_tls_policy_maps"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    let map = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(map, format!("socketmap:inet:{}:policy", server.addr));
    let out = Command::new("postmap")
        .arg("-c")
        .arg(&config)
        .args(["-q", "partner.test", &map])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "secure match=mx.partner.test servername=hostname",
        "{out:?}"
    );
}
