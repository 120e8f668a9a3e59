//! The `mailtls` command without real peers: the demo's scenarios, explain, and the exit
//! codes of usage and configuration errors, and of `send` against a refusing greeting.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::{Command, Output};

fn mailtls(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn demo_runs_every_scenario_as_expected() {
    let output = mailtls(&["demo"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    // One block per scenario: `yes NAME POLICY`, then indented detail lines; 100 columns.
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("yes ") || line.starts_with("NO ") {
            blocks.push(line.to_owned());
        } else if line.starts_with("      ") {
            if let Some(block) = blocks.last_mut() {
                block.push_str(" | ");
                block.push_str(line.trim());
            }
        }
    }
    let rows: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.strip_prefix("yes "))
        .collect();
    assert_eq!(rows.len(), 11, "{text}");
    let row = |name: &str| *rows.iter().find(|r| r.starts_with(name)).unwrap();
    assert!(row("opportunistic, plaintext-only").contains("delivered in plaintext"));
    assert!(row("forced TLS, STARTTLS stripped").contains("starttls-not-supported"));
    assert!(row("domain validation, right name").contains("delivered, verified"));
    assert!(row("domain validation, wrong name").contains("certificate-host-mismatch"));
    assert!(row("inbound partner, right client cert").contains("delivered"));
    assert!(row("inbound partner, wrong client cert").contains("550 5.7.1"));
    let ladder = row("ladder past a TLS 1.3-intolerant");
    assert!(ladder.contains("tls13+tls12 > tls12"), "{ladder}");
    assert!(ladder.contains("TLSv1.2"), "{ladder}");
    // The one outbound path: discovery answers through precedence into the delivery, and
    // the TLS-RPT result of the policy that governed each attempt.
    let dane = row("DANE, TLSA 3 1 1 of the server's key");
    assert!(
        dane.contains("delivered, verified") && dane.contains("success"),
        "{dane}"
    );
    assert!(row("DANE, TLSA of another key").contains("tlsa-invalid"));
    let testing = row("MTA-STS testing, wrong name");
    assert!(
        testing.contains("delivered") && testing.contains("certificate-host-mismatch"),
        "{testing}"
    );
    let enforce = row("MTA-STS enforce, wrong name");
    assert!(enforce.contains("not sent") && enforce.contains("certificate-host-mismatch"));
    assert!(text.contains("every one ended as expected"));
}

#[test]
fn explain_prints_the_plan_and_the_rules_without_network() {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map = dir.join("tls_policy");
    std::fs::write(&map, "partner.test secure match=mx.partner.test\n").unwrap();
    let output = mailtls(&[
        "explain",
        "partner.test",
        "--mx",
        "mx.partner.test",
        "--policy-map",
        map.to_str().unwrap(),
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(
        text.contains("policy table entry \"partner.test\" (line 1): level secure"),
        "{text}"
    );
    assert!(text.contains("mx.partner.test"), "{text}");
    assert!(text.contains("TLS required"), "{text}");
}

#[test]
fn errors_say_what_is_wrong_and_where_with_sysexits_codes() {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_map = dir.join("bad_policy");
    std::fs::write(&bad_map, "partner.test secure\nother.test sekure\n").unwrap();
    let bad_connectors = dir.join("bad.toml");
    std::fs::write(
        &bad_connectors,
        "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["probe"], 64, "<SERVER>"),
        (vec!["frobnicate"], 64, "frobnicate"),
        (
            vec!["explain", "partner.test", "--level", "paranoid"],
            64,
            "paranoid",
        ),
        (
            vec!["probe", "127.0.0.1:25", "--policy", "sekure"],
            64,
            "sekure",
        ),
        (
            vec![
                "explain",
                "partner.test",
                "--policy-map",
                bad_map.to_str().unwrap(),
            ],
            78,
            "bad_policy:2:12: error: unknown security level",
        ),
        (
            vec![
                "probe",
                "127.0.0.1:1",
                "--connectors",
                bad_connectors.to_str().unwrap(),
            ],
            78,
            "sender_domains",
        ),
        (
            vec![
                "explain",
                "partner.test",
                "--policy-map",
                "/nonexistent/map",
            ],
            78,
            "/nonexistent/map",
        ),
    ];
    for (args, code, needle) in cases {
        let output = mailtls(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn explain_applies_connectors_dane_and_mta_sts() {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-overlay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let connectors = dir.join("connectors.toml");
    std::fs::write(
        &connectors,
        "[[outbound]]\nname = \"Partner\"\nrecipient_domains = [\"partner.test\"]\ntls_settings = \"encryption_only\"\n",
    )
    .unwrap();
    let sts = dir.join("mta-sts.txt");
    std::fs::write(
        &sts,
        "version: STSv1\nmode: enforce\nmx: *.partner.test\nmax_age: 86400\n",
    )
    .unwrap();
    let output = mailtls(&[
        "explain",
        "partner.test",
        "--mx",
        "mx1.partner.test",
        "--mx",
        "mx2.partner.test",
        "--connectors",
        connectors.to_str().unwrap(),
        "--sts-policy",
        sts.to_str().unwrap(),
        "--tlsa",
        "mx2.partner.test=3 1 1 5fa4ace807065ebf020382dc3c61ddabda72a186cb6c293961f354ad7639894e",
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("outbound connector \"Partner\""), "{text}");
    assert!(
        text.contains("mx1.partner.test: decided by MTA-STS"),
        "{text}"
    );
    assert!(text.contains("mx2.partner.test: decided by DANE"), "{text}");
    assert!(text.contains("overruled MTA-STS"), "{text}");
}

/// Postfix `smtp_skip_5xx_greeting` (postconf(5)) and ARCHITECTURE.md invariant 6: `mailtls
/// send` to a server that greets with 554 exits 75 (deferred), not 69 (refused), at a level
/// that requires TLS and at `may` alike: the greeting is plaintext anyone can forge. The
/// server is a listener on an ephemeral loopback port that greets, then reads to the end.
#[test]
fn send_defers_a_5xx_greeting_with_exit_75() {
    use std::io::{Read as _, Write as _};
    for policy in ["secure match=mx.partner.test", "encrypt", "may"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"554 5.7.1 go away\r\n").unwrap();
            let mut heard = Vec::new();
            let _ = stream.read_to_end(&mut heard);
            heard
        });
        let server_arg = format!("mx.partner.test:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args([
                "send",
                "--server",
                &server_arg,
                "--address",
                "127.0.0.1",
                "--nexthop",
                "partner.test",
                "--policy",
                policy,
                "--from",
                "alice@sender.test",
                "--to",
                "bob@partner.test",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: hi\n\nhello\n")
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let text = stdout(&output);
        assert_eq!(
            output.status.code(),
            Some(75),
            "{policy}: {text}{}",
            stderr(&output)
        );
        assert!(text.contains("deferred: 451 4.7.1"), "{policy}: {text}");
        // The client said goodbye and sent nothing else.
        assert_eq!(server.join().unwrap(), b"QUIT\r\n", "{policy}");
    }
}

/// A listener on an ephemeral loopback port that greets with `greeting` and reads to the end.
fn greeting_server(greeting: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(greeting).unwrap();
        let mut heard = Vec::new();
        let _ = stream.read_to_end(&mut heard);
        heard
    });
    (port, server)
}

/// Issue 16: one exit-code table for every command. `probe` exits 75 where `send` defers
/// (here a 5xx greeting, which `send` defers as Postfix `smtp_skip_5xx_greeting` does).
#[test]
fn probe_exits_75_where_send_defers() {
    let (port, server) = greeting_server(b"554 5.7.1 go away\r\n");
    let server_arg = format!("mx.partner.test:{port}");
    let output = mailtls(&[
        "-v",
        "probe",
        &server_arg,
        "--address",
        "127.0.0.1",
        "--policy",
        "encrypt",
    ]);
    assert_eq!(
        output.status.code(),
        Some(75),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(server.join().unwrap(), b"QUIT\r\n");
    // -v: the SMTP dialogue, as posttls-finger shows it, and the rules behind the verdict.
    let text = stdout(&output);
    for line in ["     < 554 5.7.1 go away", "     > QUIT", "explanation:"] {
        assert!(text.lines().any(|l| l.starts_with(line)), "{line}: {text}");
    }
}

/// The exit-code table is in `--help` and, word for word, in the README.
#[test]
fn the_exit_code_table_is_in_help_and_readme() {
    let output = mailtls(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    let start = help.find("Exit codes").expect("the table in --help");
    let table = &help[start..];
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for code in ["0", "64", "68", "69", "70", "74", "75", "78"] {
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("exit code {code} missing from --help: {table}"));
        assert!(readme.contains(line), "README lacks {line:?}");
    }
}

/// `mailtls demo | head -1`: the reader has gone away. Here it is gone before the first
/// write (a pipe whose read end is closed), so every write fails with EPIPE, deterministically:
/// the command neither panics (exit 101) nor dies of SIGPIPE, and ends with its own code.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    for args in [
        &["demo"][..],
        &["explain", "partner.test", "-v"][..],
        &["man"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// `mailtls check` (issue 16): every error and warning at once, each as FILE:LINE:COLUMN, like
/// `postfix check`; semantic errors (a name given twice, `*.*.example`) and what the parsers
/// let pass (empty `ciphers=`/`exclude=`/`match=`, a missing `tafile=`) included; a `hash:`
/// prefix names the source file. `explain` reports the same findings and exits 78.
#[test]
fn check_lists_every_error_with_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map = dir.join("tls_policy");
    std::fs::write(
        &map,
        "# partners\n\
         partner.test secure match=mx.partner.test\n\
         other.test sekure\n\
         third.test encrypt ciphers=high exclude=\n\
         fourth.test verify match= tafile=/nonexistent/ca.pem\n\
         Partner.test may\n",
    )
    .unwrap();
    let connectors = dir.join("connectors.toml");
    std::fs::write(
        &connectors,
        "[[outbound]]\nname = \"A\"\nrecipient_domains = [\"*.*.example\"]\n\n\
         [[outbound]]\nname = \"A\"\nrecipient_domains = [\"b.example\"]\n\n\
         [[inbound]]\nname = \"P\"\nconnector_type = \"partner\"\nsender_domains = [\"p.example\"]\ncolour = \"red\"\n",
    )
    .unwrap();
    let hash_map = format!("hash:{}", map.display());
    let output = mailtls(&[
        "check",
        "--connectors",
        connectors.to_str().unwrap(),
        "--policy-map",
        &hash_map,
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(78), "{text}{}", stderr(&output));
    let c = connectors.display().to_string();
    let m = map.display().to_string();
    for expected in [
        format!("{c}:3:22: error: outbound connector \"A\", recipient_domains:"),
        format!("{c}:6:8: error: connector name \"A\" is already used at line 2"),
        format!("{c}:13:1: error: unknown field `colour`"),
        format!("{m}:3:12: error: unknown security level \"sekure\""),
        format!("{m}:4:33: error: exclude= has no value"),
        format!("{m}:5:20: error: match= has no value"),
        format!("{m}:5:27: error: tafile=/nonexistent/ca.pem: no such file"),
        format!("{m}:6:1: warning: duplicate key \"Partner.test\""),
        "7 error(s), 1 warning(s)".to_owned(),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&expected)),
            "{expected}\n{text}"
        );
    }
    // A clean file passes; explain says the same findings on stderr and exits 78.
    let good = dir.join("good_policy");
    std::fs::write(&good, "partner.test secure match=mx.partner.test\n").unwrap();
    let output = mailtls(&["check", "--policy-map", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = mailtls(&["explain", "partner.test", "--policy-map", &hash_map]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!("{m}:4:33: error: exclude= has no value")),
        "{err}"
    );
    assert!(err.contains(&format!("{m}:5:27: error: tafile=")), "{err}");
}

/// `explain '[192.0.2.1]'` plans the address literal itself: no MX, no SNI.
#[test]
fn explain_plans_an_address_literal() {
    let output = mailtls(&["explain", "[192.0.2.1]"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.starts_with("plan for [192.0.2.1]"), "{text}");
    assert!(text.contains("  192.0.2.1:25: "), "{text}");
    assert!(text.contains("no SNI"), "{text}");
}

/// `--version` names the crate, rustls and ring versions; completions and the man page come
/// from the command's definition; `-q` prints nothing; `--timeout` ends a stalled probe with
/// 75 instead of waiting minutes.
#[test]
fn version_completions_man_quiet_and_timeout() {
    let version = stdout(&mailtls(&["--version"]));
    assert!(
        version.starts_with(&format!("mailtls {} (rustls 0.", env!("CARGO_PKG_VERSION")))
            && version.contains(", ring 0."),
        "{version}"
    );
    let bash = mailtls(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    assert!(stdout(&bash).contains("_mailtls()"), "{}", stdout(&bash));
    assert!(stdout(&bash).contains("--policy-map"));
    let man = mailtls(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let man = stdout(&man);
    assert!(
        man.contains(".TH mailtls 1") && man.contains("probe"),
        "{man}"
    );
    let quiet = mailtls(&["-q", "explain", "partner.test"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty(), "{}", stdout(&quiet));
    // A server that accepts and then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut stream = stream;
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut sink);
    });
    let target = format!("127.0.0.1:{port}");
    let output = mailtls(&["probe", &target, "--timeout", "1"]);
    assert_eq!(output.status.code(), Some(75), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("timed out after 1 s"),
        "{}",
        stderr(&output)
    );
    server.join().unwrap();
}

/// `explain --json`: the decision in the documented fields, no debug text.
#[test]
fn explain_json_has_the_documented_fields() {
    let output = mailtls(&[
        "explain",
        "partner.test",
        "--mx",
        "mx.partner.test",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["destination"], "partner.test");
    assert!(json["hosts"][0]
        .as_str()
        .unwrap()
        .starts_with("mx.partner.test:25: "));
    assert!(!json["explanation"].as_array().unwrap().is_empty());
    let decision = &json["decision"][0];
    assert_eq!(decision["host"], "mx.partner.test");
    assert_eq!(decision["decided_by"], "the default level");
    assert_eq!(decision["tls_rpt_policy"], "no-policy-found");
    assert!(!json.to_string().contains("Some("), "{json}");
}

/// A connector's `[outbound.client_certificate]` sub-table, written with its own header, is
/// part of the connector: `check` reads its fields (it once said "missing field
/// `certificate_chain`" for a complete table) and names only the files that do not exist.
#[test]
fn check_reads_a_client_certificate_sub_table() {
    let dir = std::env::temp_dir().join(format!("mailtls-cli-check-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chain = dir.join("chain.pem");
    std::fs::write(&chain, "").unwrap();
    let connectors = dir.join("connectors.toml");
    std::fs::write(
        &connectors,
        format!(
            "[[outbound]]\nname = \"H\"\nrecipient_domains = [\"a.example\"]\n\
             tls_settings = \"domain_validation\"\n[outbound.client_certificate]\n\
             certificate_chain = \"{}\"\nprivate_key = \"/nonexistent/key.pem\"\n",
            chain.display()
        ),
    )
    .unwrap();
    let out = mailtls(&["check", "--connectors", connectors.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let text = stdout(&out) + &stderr(&out);
    assert!(!text.contains("missing field"), "{text}");
    assert!(
        text.contains(
            ":7:15: error: client_certificate.private_key \"/nonexistent/key.pem\": no such file"
        ),
        "{text}"
    );
    assert!(text.contains("1 error(s), 0 warning(s)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Everything a person reads fits 100 columns (issue 16): the help of every command, and
/// `explain`'s plan, whose lines fold under their value.
#[test]
fn text_output_fits_100_columns() {
    let wide = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.chars().count() > 100)
            .map(str::to_owned)
            .collect()
    };
    for command in [
        &[][..],
        &["probe"],
        &["send"],
        &["explain"],
        &["serve"],
        &["check"],
        &["policyd"],
        &["demo"],
        &["completions"],
        &["man"],
    ] {
        let out = mailtls(&[command, &["--help"]].concat());
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        let text = stdout(&out);
        assert!(
            wide(&text).is_empty(),
            "{command:?} --help: {:#?}",
            wide(&text)
        );
    }
    let out = mailtls(&[
        "explain",
        "partner.test",
        "--mx",
        "mx.partner.test",
        "--level",
        "dane",
        "--tlsa",
        "3 1 1 a947fb0ca93f41872e5fcb2cea76f0cc2e951a7f868b6b3613dd897b6a4b530c",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(wide(&text).is_empty(), "{:#?}", wide(&text));
    // Folded, not cut: the long plan line is all there.
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains("on failure: defer (451 4.4.0 TLS policy could not be met by any host)"),
        "{text}"
    );
}
