//! The C API from C: the examples in `examples/c` built with gcc against the static and the
//! shared library, run plain, under Valgrind and with AddressSanitizer.
//!
//! Needs the libraries `.ci/capi.sh` builds (`$MAILTLS_CAPI_LIBDIR`, else
//! `<target>/capi/lib`): without them each test prints SKIPPED, or fails under CI. The milter
//! test also needs the real peers (`.ci/peers/start.sh`), under the same rule.

#![cfg(feature = "capi")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[cfg(feature = "blocking")]
mod support;
mod support_peers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use support_peers::{unique_token, wait_for_mail, Peers, PostfixServer};

/// The partner connector the Exim and milter examples enforce: mail from partner.test (and
/// its subdomains) only over TLS with a verified certificate named relay.partner.test, the
/// name of the test PKI's `client-relay`.
const CONNECTORS: &str = r#"
[[inbound]]
name = "Partner relay"
connector_type = "partner"
sender_domains = ["*.partner.test"]
require_tls = true
tls_sender_certificate_name = "relay.partner.test"
restrict_domains_to_certificate = true
"#;

/// The reply the library gives a partner-domain sender without the partner's certificate.
const REFUSAL: &str = "550 5.7.1 Sender domain requires a matching TLS client certificate";

/// How a C program is built and run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// Linked against `libmailtls.a`.
    Static,
    /// Linked against `libmailtls.so`.
    Shared,
    /// The static build under Valgrind memcheck (definite leaks are errors).
    Valgrind,
    /// The static build with `-fsanitize=address` on the C side.
    Asan,
}

const ALL: [Variant; 4] = [
    Variant::Static,
    Variant::Shared,
    Variant::Valgrind,
    Variant::Asan,
];

/// The built examples: `<out>/build/{static,shared}/` and `<out>/asan/static/`.
struct Examples {
    build: PathBuf,
    asan: PathBuf,
}

fn ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

/// The target directory this test binary was built into (`<target>/debug/deps/<exe>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn lib_dir() -> PathBuf {
    match std::env::var_os("MAILTLS_CAPI_LIBDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_dir().join("capi").join("lib"),
    }
}

/// Builds the examples once per test run; `None` (skip) when the libraries are missing
/// outside CI.
fn examples(test: &str) -> Option<&'static Examples> {
    let lib = lib_dir();
    let present = lib.join("libmailtls.a").exists() && lib.join("libmailtls.so").exists();
    if !present {
        assert!(
            !ci(),
            "\n\n*** {test}: the C libraries are missing from {}: run .ci/capi.sh ***\n",
            lib.display()
        );
        eprintln!(
            "\n*** SKIPPED {test}: the C libraries are missing from {}; run .ci/capi.sh ***\n",
            lib.display()
        );
        return None;
    }
    static BUILT: OnceLock<Examples> = OnceLock::new();
    Some(BUILT.get_or_init(|| {
        let out = lib.parent().unwrap().join("test-examples");
        let build = out.join("build");
        let asan = out.join("asan");
        make(&lib, &build, None);
        make(&lib, &asan, Some("address"));
        Examples { build, asan }
    }))
}

fn make(lib: &Path, out: &Path, sanitize: Option<&str>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c");
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(&dir)
        .arg(format!("LIBDIR={}", lib.display()))
        .arg(format!("OUT={}", out.display()));
    // The installed header (cargo cinstall puts it next to lib/), else the source tree's.
    let installed = lib.parent().unwrap().join("include").join("mailtls");
    if installed.join("mailtls.h").exists() {
        cmd.arg(format!("INCLUDE={}", installed.display()));
    }
    if let Some(s) = sanitize {
        cmd.arg(format!("SANITIZE={s}"));
    }
    let output = cmd.output().expect("make runs");
    assert!(
        output.status.success(),
        "make failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Examples {
    /// The path of a built example (program or module) for `variant`.
    fn path(&self, variant: Variant, name: &str) -> PathBuf {
        match variant {
            Variant::Static | Variant::Valgrind => self.build.join("static").join(name),
            Variant::Shared => self.build.join("shared").join(name),
            Variant::Asan => self.asan.join("static").join(name),
        }
    }

    /// A command running `name` with `args` as `variant` says.
    fn command(&self, variant: Variant, name: &str, args: &[&str]) -> Command {
        let program = self.path(variant, name);
        let mut cmd = if variant == Variant::Valgrind {
            let mut cmd = Command::new("valgrind");
            let suppressions =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c/valgrind.supp");
            cmd.args([
                "-q",
                "--error-exitcode=1",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
            ])
            .arg(format!("--suppressions={}", suppressions.display()))
            .arg(&program);
            cmd
        } else {
            Command::new(&program)
        };
        cmd.args(args);
        if variant == Variant::Asan {
            cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
        }
        cmd
    }

    fn run(&self, variant: Variant, name: &str, args: &[&str]) -> Run {
        let output = self.command(variant, name, args).output().expect("runs");
        Run { variant, output }
    }
}

/// A finished run, with its output for assertions and messages.
struct Run {
    variant: Variant,
    output: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts the exit code, printing everything when it differs.
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{:?}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.variant,
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

#[test]
fn hostile_calls_get_error_codes_and_never_crash() {
    let Some(examples) = examples("hostile_calls_get_error_codes_and_never_crash") else {
        return;
    };
    for variant in ALL {
        let run = examples.run(variant, "hostile", &[]);
        run.expect_code(0);
        assert!(run.stdout().contains(", 0 failures"), "{}", run.stdout());
    }
}

#[test]
fn explain_prints_the_plan_as_text_and_json_and_the_tlsrpt_report() {
    let Some(examples) = examples("explain_prints_the_plan_as_text_and_json") else {
        return;
    };
    let dir = tempdir("explain");
    let table = dir.join("tls_policy");
    std::fs::write(
        &table,
        "# partners\nexample.com secure match=nexthop:dot-nexthop\n.example.net encrypt\n",
    )
    .unwrap();
    let table = table.to_str().unwrap();
    for variant in ALL {
        let run = examples.run(
            variant,
            "explain",
            &[table, "example.com", "mx1.example.com"],
        );
        run.expect_code(0);
        let stdout = run.stdout();
        assert!(
            stdout.contains(
                "plan for example.com (from policy table entry \"example.com\" at line 2)"
            ),
            "{stdout}"
        );
        let json_line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("JSON "))
            .unwrap();
        let plan: serde_json::Value = serde_json::from_str(json_line).unwrap();
        assert_eq!(plan["destination"], "example.com");
        assert_eq!(plan["hosts"][0]["host"], "mx1.example.com");
        assert_eq!(plan["hosts"][0]["requires_tls"], true);
        assert_eq!(plan["hosts"][0]["floor"], "tls12-conservative");
        assert!(plan["trace"][0].as_str().unwrap().contains("line 2"));

        let report_line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("TLSRPT "))
            .unwrap();
        let report: serde_json::Value = serde_json::from_str(report_line).unwrap();
        let summary = &report["policies"][0]["summary"];
        assert_eq!(summary["total-successful-session-count"], 1);
        assert_eq!(summary["total-failure-session-count"], 1);
        assert_eq!(
            report["policies"][0]["failure-details"][0]["result-type"],
            "certificate-expired"
        );
    }

    // A subdomain of .example.net: the parent entry, TLS required without verification.
    let run = examples.run(
        Variant::Static,
        "explain",
        &[table, "mail.example.net", "mx.mail.example.net"],
    );
    run.expect_code(0);
    let json_line = run.stdout();
    let json_line = json_line
        .lines()
        .find_map(|l| l.strip_prefix("JSON "))
        .unwrap();
    let plan: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(plan["hosts"][0]["level"], "encrypt");
}

#[test]
fn explain_reports_table_errors_with_line_and_column() {
    let Some(examples) = examples("explain_reports_table_errors_with_line_and_column") else {
        return;
    };
    let dir = tempdir("explain-bad");
    let table = dir.join("tls_policy");
    std::fs::write(&table, "example.com secure\nexample.org sekure\n").unwrap();
    let table = table.to_str().unwrap();
    for variant in ALL {
        let run = examples.run(variant, "explain", &[table, "example.com"]);
        run.expect_code(2);
        let stderr = run.stderr();
        assert!(
            stderr.contains(&format!("{table}:2:13: policy table line 2, column 13")),
            "{stderr}"
        );
    }
}

#[test]
fn exim_dlfunc_returns_the_inbound_verdict() {
    let Some(examples) = examples("exim_dlfunc_returns_the_inbound_verdict") else {
        return;
    };
    let dir = tempdir("exim");
    let connectors = dir.join("connectors.toml");
    std::fs::write(&connectors, CONNECTORS).unwrap();
    let connectors = connectors.to_str().unwrap();
    let relay_dn = "CN=relay.partner.test,O=mailtls tests";
    let evil_dn = "CN=relay.evil.test,O=mailtls tests";
    let aes = "TLS_AES_256_GCM_SHA384";
    // (client, $tls_in_ver, $tls_in_peerdn, verified, sender) -> (status, yield)
    let table: [(&[&str], i32, &str); 6] = [
        (
            &["TLS1.3", aes, relay_dn, "1", "a@partner.test"],
            0,
            "accept",
        ),
        (
            &["TLS1.2", aes, relay_dn, "1", "a@mx.partner.test"],
            0,
            "accept",
        ),
        (&["TLS1.3", aes, evil_dn, "1", "a@partner.test"], 0, REFUSAL),
        (
            &["TLS1.3", aes, relay_dn, "0", "a@partner.test"],
            0,
            REFUSAL,
        ),
        (&["", "", "", "0", "a@partner.test"], 0, REFUSAL),
        (&["", "", "", "0", "a@elsewhere.test"], 0, "accept"),
    ];
    for variant in ALL {
        let module = examples.path(variant, "exim_dlfunc.so");
        let module = module.to_str().unwrap();
        for (facts, status, yielded) in table {
            let mut args = vec![module, "mailtls_exim_verdict", connectors, "127.0.0.1"];
            args.extend_from_slice(facts);
            let run = examples.run(variant, "exim_dlfunc_driver", &args);
            run.expect_code(status);
            assert_eq!(
                run.stdout().trim_end(),
                format!("{status} {yielded}"),
                "{variant:?} {facts:?}"
            );
        }
        // Unusable arguments are FAIL (2), an unreadable configuration ERROR (3).
        let run = examples.run(
            variant,
            "exim_dlfunc_driver",
            &[module, "mailtls_exim_verdict", connectors, "127.0.0.1"],
        );
        run.expect_code(2);
        let run = examples.run(
            variant,
            "exim_dlfunc_driver",
            &[
                module,
                "mailtls_exim_verdict",
                "/nonexistent.toml",
                "127.0.0.1",
                "",
                "",
                "",
                "0",
                "a@b.test",
            ],
        );
        run.expect_code(3);
        assert!(
            run.stdout().contains("cannot open /nonexistent.toml"),
            "{}",
            run.stdout()
        );
    }
}

/// The milter behind the real Postfix `milter` instance (port 2509 asks 127.0.0.1:2560):
/// swaks presents the partner's certificate (accepted and delivered), a trusted certificate
/// with the wrong name, and none (both refused at MAIL FROM with the library's reply).
#[test]
fn milter_enforces_the_partner_connector_behind_postfix() {
    let test = "milter_enforces_the_partner_connector_behind_postfix";
    let Some(examples) = examples(test) else {
        return;
    };
    let Some(peers) = Peers::require(test) else {
        return;
    };
    let instance = peers.postfix(PostfixServer::Milter);
    let server = instance.server_arg();
    let port = peers.milter_port();
    let dir = tempdir("milter");
    let connectors = dir.join("connectors.toml");
    std::fs::write(&connectors, CONNECTORS).unwrap();
    let cert = |name: &str| peers.pki(&format!("{name}.cert.pem")).display().to_string();
    let key = |name: &str| peers.pki(&format!("{name}.key.pem")).display().to_string();
    let cases: [(&str, Option<&str>, bool); 3] = [
        ("relay", Some("client-relay"), true),
        ("evil", Some("client-evil"), false),
        ("anonymous", None, false),
    ];
    for variant in ALL {
        let log = dir.join(format!("milter-{variant:?}.log"));
        let mut milter = examples
            .command(
                variant,
                "milter",
                &[
                    "-p",
                    &format!("inet:{port}@127.0.0.1"),
                    "-c",
                    connectors.to_str().unwrap(),
                    "-n",
                    &cases.len().to_string(),
                ],
            )
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        wait_for_listening(&mut milter, &log);
        for (tag, client_cert, accepted) in cases {
            let token = unique_token(&format!("capi-milter-{variant:?}-{tag}"));
            let subject = format!("Subject: {token}");
            let (cert_path, key_path) = client_cert.map(|c| (cert(c), key(c))).unzip();
            let mut args = vec![
                "--server",
                &server,
                "--tls",
                "--from",
                "someone@partner.test",
                "--to",
                "user@example.org",
                "--header",
                &subject,
            ];
            if let (Some(c), Some(k)) = (&cert_path, &key_path) {
                args.extend_from_slice(&["--tls-cert", c, "--tls-key", k]);
            }
            let output = peers.swaks(&args);
            if accepted {
                output.assert_contains("250 2.0.0 Ok: queued");
                let mail = wait_for_mail(
                    &instance.maildir,
                    |m| m.contains(&token),
                    Duration::from_secs(20),
                );
                assert!(mail.is_some(), "{variant:?} {tag}: no mail with {token}");
            } else {
                output.assert_contains(&format!("<~* {REFUSAL}"));
                output.assert_lacks("Ok: queued");
            }
        }
        let status = wait_with_timeout(&mut milter, Duration::from_secs(60));
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status, Some(0), "{variant:?}: milter exit\n{text}");
        assert_eq!(
            text.matches(&format!("MAIL refused {REFUSAL}")).count(),
            2,
            "{text}"
        );
        assert!(
            text.contains("by certificate domain relay.partner.test"),
            "{text}"
        );
        // Refused mail never reached the Maildir.
        for (tag, _, accepted) in cases {
            if !accepted {
                let prefix = format!("capi-milter-{variant:?}-{tag}-");
                assert!(
                    wait_for_mail(&instance.maildir, |m| m.contains(&prefix), Duration::ZERO)
                        .is_none(),
                    "{variant:?} {tag}: refused mail was delivered"
                );
            }
        }
    }
}

/// The C client delivers over a real socket into the Postfix `good` instance (verified TLS,
/// the mail lands in its Maildir) and refuses the `wrongname` instance (certificate name
/// mismatch: deferred, nothing delivered), driving the library's delivery and sessions.
#[test]
fn client_delivers_over_a_socket_and_defers_on_a_wrong_name() {
    let test = "client_delivers_over_a_socket_and_defers_on_a_wrong_name";
    let Some(examples) = examples(test) else {
        return;
    };
    let Some(peers) = Peers::require(test) else {
        return;
    };
    let good = peers.postfix(PostfixServer::Good);
    let wrong = peers.postfix(PostfixServer::WrongName);
    let dir = tempdir("client");
    let table = dir.join("tls_policy");
    std::fs::write(
        &table,
        format!(
            "[127.0.0.1]:{} secure match=mx.partner.test\n[127.0.0.1]:{} secure match=mx.partner.test\n",
            good.addr().port(),
            wrong.addr().port()
        ),
    )
    .unwrap();
    let table = table.to_str().unwrap();
    let anchors = peers.pki("trust-anchors.pem");
    let anchors = anchors.to_str().unwrap();
    let good_hop = format!("[127.0.0.1]:{}", good.addr().port());
    let wrong_hop = format!("[127.0.0.1]:{}", wrong.addr().port());
    for variant in ALL {
        // Every attempt's TLS-RPT outcome goes to a state store, as `mailtls send --state`.
        let state = dir.join(format!("state-{variant:?}.sqlite"));
        let state = state.to_str().unwrap();
        let token = unique_token(&format!("capi-client-{variant:?}"));
        let run = examples.run(
            variant,
            "client",
            &[
                "-a",
                anchors,
                "-s",
                state,
                table,
                &good_hop,
                "sender@client.mailtls.test",
                "user@example.org",
                &token,
            ],
        );
        run.expect_code(0);
        let stdout = run.stdout();
        assert!(stdout.contains("TLS TLSv1.3 "), "{stdout}");
        assert!(stdout.contains("MESSAGE accepted 250"), "{stdout}");
        let mail = wait_for_mail(
            &good.maildir,
            |m| m.contains(&token),
            Duration::from_secs(20),
        );
        assert!(mail.is_some(), "{variant:?}: no mail with {token}");

        let token = unique_token(&format!("capi-client-wrong-{variant:?}"));
        let run = examples.run(
            variant,
            "client",
            &[
                "-a",
                anchors,
                "-s",
                state,
                table,
                &wrong_hop,
                "sender@client.mailtls.test",
                "user@example.org",
                &token,
            ],
        );
        run.expect_code(3);
        let stdout = run.stdout();
        assert!(
            stdout.contains("result type certificate-host-mismatch"),
            "{stdout}"
        );
        assert!(stdout.contains("DEFERRED 451 4.7.5"), "{stdout}");
        assert!(!stdout.contains("MESSAGE"), "{stdout}");
        assert_recorded(state, &["certificate-host-mismatch"]);
    }
}

/// The state store at `path` holds one successful session and one failed session of each
/// result type in `failures` (the library's SQLite store reads what the C client wrote).
#[cfg(feature = "sqlite")]
fn assert_recorded(path: &str, failures: &[&str]) {
    use mailtls::state::Store as _;
    let store =
        mailtls::io::store::SqliteStore::open(path).expect("the C client's state file opens");
    let mut successes = 0;
    let mut failed = Vec::new();
    for day in store.report_days().unwrap() {
        for tally in store.tallies(&day).unwrap() {
            match &tally.failure {
                None => successes += tally.count,
                Some(detail) => failed.push(detail.result_type.to_string()),
            }
        }
    }
    assert_eq!(successes, 1, "{path}: successful sessions");
    assert_eq!(failed, failures, "{path}: failed sessions");
}

/// Without the `sqlite` feature the library cannot read the file back; the C side still ran.
#[cfg(not(feature = "sqlite"))]
fn assert_recorded(_path: &str, _failures: &[&str]) {}

/// The port of the Exim instance this test file starts itself (the lab's servers use
/// 2550-2556; the C server example takes a free port).
const EXIM_PORT: u16 = 2557;

/// The C server example terminates STARTTLS itself over a real socket, asks swaks (OpenSSL)
/// for a client certificate, verifies it against the test CA and enforces the partner
/// connector: the partner's certificate is accepted (the message arrives), a trusted
/// certificate with another name and no certificate are refused at MAIL FROM with the
/// library's reply, which the server reads back as integers.
#[test]
fn server_example_asks_for_client_certificates_and_enforces_the_partner_connector() {
    let test = "server_example_asks_for_client_certificates_and_enforces_the_partner_connector";
    let Some(examples) = examples(test) else {
        return;
    };
    let Some(peers) = Peers::require(test) else {
        return;
    };
    let dir = tempdir("server");
    let connectors = dir.join("connectors.toml");
    std::fs::write(&connectors, CONNECTORS).unwrap();
    let pki = |file: &str| peers.pki(file).display().to_string();
    let cases: [(&str, Option<&str>, bool); 3] = [
        ("relay", Some("client-relay"), true),
        ("evil", Some("client-evil"), false),
        ("anonymous", None, false),
    ];
    for variant in ALL {
        let log = dir.join(format!("server-{variant:?}.log"));
        let mut child = examples
            .command(
                variant,
                "server",
                &[
                    "-p",
                    "0",
                    "-c",
                    &pki("server-good.chain.pem"),
                    "-k",
                    &pki("server-good.key.pem"),
                    "-C",
                    &pki("ca-bundle.pem"),
                    "-n",
                    connectors.to_str().unwrap(),
                    "-m",
                    &cases.len().to_string(),
                ],
            )
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        wait_for_listening(&mut child, &log);
        let port = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
            .unwrap();
        let server = format!("127.0.0.1:{port}");
        for (tag, client_cert, accepted) in cases {
            let token = unique_token(&format!("capi-server-{variant:?}-{tag}"));
            let subject = format!("Subject: {token}");
            let cert =
                client_cert.map(|c| (pki(&format!("{c}.chain.pem")), pki(&format!("{c}.key.pem"))));
            let mut args = vec![
                "--server",
                &server,
                "--tls",
                "--from",
                "someone@partner.test",
                "--to",
                "user@example.org",
                "--header",
                &subject,
            ];
            if let Some((c, k)) = &cert {
                args.extend_from_slice(&["--tls-cert", c, "--tls-key", k]);
            }
            // Under Valgrind on a loaded machine the server takes its time.
            let output = peers.swaks_within(&args, Duration::from_secs(120));
            if accepted {
                output.assert_contains("<~  250 ");
                output.assert_lacks("<~* 5");
            } else {
                output.assert_contains(&format!("<~* {REFUSAL}"));
            }
        }
        let status = wait_with_timeout(&mut child, Duration::from_secs(240));
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status, Some(0), "{variant:?}: server exit\n{text}");
        // Three sessions over TLS 1.3, each with its client-certificate verdict: both
        // certificates chain to the test CA (Trusted: a CA check names no host), the third
        // client presented none.
        assert_eq!(text.matches("TLS 0x0304 TLS_").count(), 3, "{text}");
        assert_eq!(
            text.matches("CLIENT-CERT Trusted success").count(),
            2,
            "{text}"
        );
        assert_eq!(
            text.matches("CLIENT-CERT Anonymous success").count(),
            1,
            "{text}"
        );
        // Two refusals at MAIL FROM, read back as integers; one message taken.
        assert_eq!(text.matches("REFUSED 550 5.7.1").count(), 2, "{text}");
        assert_eq!(
            text.matches("MAIL <someone@partner.test>").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("\nMESSAGE ").count(), 1, "{text}");
    }
}

/// The Exim dlfunc inside the real Exim 4.96 (GnuTLS, `Expand_dlfunc`): an Exim of this test's
/// own (port 2557, spool and log under the target dir) whose `acl_smtp_mail` calls
/// `${dlfunc{...}{mailtls_exim_verdict}...}` from the module linked against the installed
/// `libmailtls.so`. swaks sends partner-domain mail over STARTTLS with the partner's
/// certificate (accepted: an arrival line in Exim's mainlog), with another trusted
/// certificate and without one (refused at MAIL FROM with the library's reply, in the
/// mainlog).
#[test]
fn exim_dlfunc_decides_the_partner_connector_inside_exim() {
    let test = "exim_dlfunc_decides_the_partner_connector_inside_exim";
    let Some(examples) = examples(test) else {
        return;
    };
    let Some(peers) = Peers::require(test) else {
        return;
    };
    let exim = Exim::start(&peers, &examples.path(Variant::Shared, "exim_dlfunc.so"));
    let server = format!("127.0.0.1:{EXIM_PORT}");
    let pki = |file: &str| peers.pki(file).display().to_string();
    let cases: [(&str, Option<&str>, bool); 3] = [
        ("relay", Some("client-relay"), true),
        ("evil", Some("client-evil"), false),
        ("anonymous", None, false),
    ];
    for (tag, client_cert, accepted) in cases {
        let token = unique_token(&format!("capi-exim-{tag}"));
        let subject = format!("Subject: {token}");
        let cert =
            client_cert.map(|c| (pki(&format!("{c}.chain.pem")), pki(&format!("{c}.key.pem"))));
        let from = format!("{tag}@partner.test");
        let mut args = vec![
            "--server",
            &server,
            "--tls",
            "--from",
            &from,
            "--to",
            "user@example.org",
            "--header",
            &subject,
        ];
        if let Some((c, k)) = &cert {
            args.extend_from_slice(&["--tls-cert", c, "--tls-key", k]);
        }
        let output = peers.swaks(&args);
        let mainlog = std::fs::read_to_string(exim.dir.join("log/mainlog")).unwrap_or_default();
        if accepted {
            output.assert_contains("<~  250 ");
            // The arrival line: from the partner, over TLS, certificate verified, our Subject.
            let arrival = mainlog
                .lines()
                .find(|l| l.contains(" <= ") && l.contains(&token))
                .unwrap_or_else(|| panic!("no arrival for {token} in the mainlog:\n{mainlog}"));
            assert!(arrival.contains(&format!("<= {from}")), "{arrival}");
            assert!(arrival.contains("CV=yes"), "{arrival}");
            assert!(mainlog.contains("mailtls: accept"), "{mainlog}");
        } else {
            output.assert_contains(&format!("<~* {REFUSAL}"));
            let refusal = mainlog
                .lines()
                .find(|l| l.contains("rejected MAIL") && l.contains(&from))
                .unwrap_or_else(|| panic!("no refusal of {from} in the mainlog:\n{mainlog}"));
            assert!(
                refusal.contains("5.7.1 Sender domain requires a matching TLS client certificate"),
                "{refusal}"
            );
            assert!(
                !mainlog.contains(&token),
                "{tag}: refused mail arrived:\n{mainlog}"
            );
        }
    }
}

/// An Exim daemon of this test's own, stopped (by its pid) when dropped.
struct Exim {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Exim {
    fn start(peers: &Peers, module: &Path) -> Exim {
        let bin = peers.var("PEERS_EXIM_BIN").to_owned();
        let dir = tempdir("exim-daemon");
        for sub in ["spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let connectors = dir.join("connectors.toml");
        std::fs::write(&connectors, CONNECTORS).unwrap();
        let key = dir.join("server.key.pem");
        std::fs::copy(peers.pki("server-good.key.pem"), &key).unwrap();
        std::fs::write(dir.join("log/mainlog"), "").unwrap();
        // Exim drops root for a -C configuration it does not trust and runs as Debian-exim.
        let owner = Command::new("id")
            .args(["-u", "Debian-exim"])
            .output()
            .unwrap();
        let uid: u32 = String::from_utf8_lossy(&owner.stdout)
            .trim()
            .parse()
            .unwrap();
        let group = Command::new("id")
            .args(["-g", "Debian-exim"])
            .output()
            .unwrap();
        let gid: u32 = String::from_utf8_lossy(&group.stdout)
            .trim()
            .parse()
            .unwrap();
        for path in [
            dir.join("spool"),
            dir.join("log"),
            dir.join("log/mainlog"),
            key.clone(),
        ] {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
        let pki = |file: &str| peers.pki(file).display().to_string();
        let config = format!(
            r#"# Written by tests/capi_examples.rs: Exim calling the mailtls dlfunc in its MAIL ACL.
exim_path = {bin}
keep_environment =
primary_hostname = mx.partner.test
qualify_domain = partner.test
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
local_interfaces = 127.0.0.1
daemon_smtp_ports = {EXIM_PORT}
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = {chain}
tls_privatekey = {key}
tls_verify_certificates = {ca}
tls_try_verify_hosts = *
log_selector = +tls_peerdn +tls_certificate_verified +subject
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt

begin acl
acl_mail:
  warn   set acl_m_mailtls = ${{dlfunc{{{module}}}{{mailtls_exim_verdict}}{{{connectors}}}\
                  {{$sender_host_address}}{{$tls_in_ver}}{{$tls_in_cipher_std}}\
                  {{$tls_in_peerdn}}{{$tls_in_certificate_verified}}{{$sender_address}}}}
         logwrite = mailtls: $acl_m_mailtls
  deny   condition = ${{if !eq{{$acl_m_mailtls}}{{accept}}}}
         message   = ${{substr_4:$acl_m_mailtls}}
  accept
acl_rcpt:
  accept

begin routers
discard:
  driver = redirect
  data = :blackhole:
"#,
            dir = dir.display(),
            chain = pki("server-good.chain.pem"),
            key = key.display(),
            ca = pki("ca-bundle.pem"),
            module = module.display(),
            connectors = connectors.display(),
        );
        let conf = dir.join("exim.conf");
        std::fs::write(&conf, config).unwrap();
        let check = Command::new(&bin)
            .arg("-C")
            .arg(&conf)
            .arg("-bV")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "exim refuses the configuration:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let started = Command::new(&bin)
            .arg("-C")
            .arg(&conf)
            .arg("-bd")
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "exim did not start:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
        let mut exim = Exim { dir, pid: None };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            exim.pid = std::fs::read_to_string(exim.dir.join("exim.pid"))
                .ok()
                .and_then(|p| p.trim().parse().ok());
            let listening = std::net::TcpStream::connect(("127.0.0.1", EXIM_PORT)).is_ok();
            if listening && exim.pid.is_some() {
                return exim;
            }
            assert!(
                Instant::now() < deadline,
                "exim did not listen on {EXIM_PORT}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The DANE example needs a mailtls server, which the blocking adapter provides.
#[cfg(feature = "blocking")]
mod dane {
    use std::net::{SocketAddr, TcpListener};
    use std::sync::{Arc, Mutex};
    use std::thread;

    use mailtls::cert::CertFacts;
    use mailtls::io::blocking;
    use mailtls::server::ServerConfig;

    use super::support::loopback::{recorder, server_config, Inbox, MX};
    use super::support::pki::Ca;
    use super::{examples, ALL};

    /// The C DANE example against a mailtls server on 127.0.0.1 (in this process): a `3 1 1`
    /// record with the SHA-256 of the server's public key delivers, counted as `success` under the
    /// `tlsa` policy; a record for another key defers with `tlsa-invalid`, and nothing arrives.
    /// The decision the example prints says DANE decided. Needs no peers.
    #[test]
    fn dane_example_delivers_on_a_matching_tlsa_record_and_defers_on_a_mismatch() {
        let Some(examples) = examples("dane_example_delivers_on_a_matching_tlsa_record") else {
            return;
        };
        let pki = Ca::root("mailtls io test CA");
        let identity = pki.leaf_for(MX).identity();
        let leaf = CertFacts::from_der(identity.chain()[0].as_ref()).unwrap();
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let matching = format!("3 1 1 {}", hex(&leaf.fingerprints.spki_sha256));
        let mut other_key = leaf.fingerprints.spki_sha256;
        other_key[0] ^= 0xff;
        let mismatching = format!("3 1 1 {}", hex(&other_key));
        let (addr, inbox) = serve_forever(server_config(Some(identity)));
        let port = addr.port().to_string();
        // The replacement anchors do not matter to DANE-EE; passing them exercises the argument.
        let ca_file = pki.tafile();
        let anchors = ca_file.to_str().unwrap();
        for variant in ALL {
            let token = format!("capi-dane-{variant:?}");
            let run = examples.run(
                variant,
                "dane",
                &[
                    "-a",
                    anchors,
                    "-c",
                    "127.0.0.1",
                    MX,
                    &port,
                    &matching,
                    "sender@client.mailtls.test",
                    "rcpt@partner.test",
                    &token,
                ],
            );
            run.expect_code(0);
            let stdout = run.stdout();
            assert!(
                stdout.contains(&format!("DECISION   {MX}: decided by DANE")),
                "{stdout}"
            );
            assert!(stdout.contains("MESSAGE accepted 250"), "{stdout}");
            assert!(stdout.contains("TLSRPT tlsa success\n"), "{stdout}");
            let policy = report_policy(&stdout);
            assert_eq!(policy["policy"]["policy-type"], "tlsa", "{stdout}");
            // The policy string is the record in canonical (upper-case hex) form.
            assert_eq!(
                policy["policy"]["policy-string"][0]
                    .as_str()
                    .map(str::to_ascii_lowercase),
                Some(matching.clone())
            );
            assert_eq!(policy["summary"]["total-successful-session-count"], 1);
            assert_eq!(policy["summary"]["total-failure-session-count"], 0);
            assert!(stdout.contains(&format!("COMPLETED {MX}")), "{stdout}");
            let delivered = inbox
                .lock()
                .unwrap()
                .messages
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains(&token));
            assert!(delivered, "{variant:?}: no message with {token}");

            let token = format!("capi-dane-mismatch-{variant:?}");
            let run = examples.run(
                variant,
                "dane",
                &[
                    "-c",
                    "127.0.0.1",
                    MX,
                    &port,
                    &mismatching,
                    "sender@client.mailtls.test",
                    "rcpt@partner.test",
                    &token,
                ],
            );
            run.expect_code(3);
            let stdout = run.stdout();
            assert!(stdout.contains("TLSRPT tlsa tlsa-invalid\n"), "{stdout}");
            let policy = report_policy(&stdout);
            assert_eq!(policy["policy"]["policy-type"], "tlsa", "{stdout}");
            assert_eq!(policy["summary"]["total-successful-session-count"], 0);
            assert_eq!(policy["summary"]["total-failure-session-count"], 1);
            assert_eq!(policy["failure-details"][0]["result-type"], "tlsa-invalid");
            assert_eq!(
                policy["failure-details"][0]["receiving-mx-hostname"], MX,
                "{stdout}"
            );
            assert!(stdout.contains("DEFERRED 4"), "{stdout}");
            assert!(!stdout.contains("MESSAGE"), "{stdout}");
            let delivered = inbox
                .lock()
                .unwrap()
                .messages
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains(&token));
            assert!(!delivered, "{variant:?}: the mismatching run delivered");
        }
    }

    /// The one policy of the `REPORT` line's RFC 8460 report.
    fn report_policy(stdout: &str) -> serde_json::Value {
        let json = stdout
            .lines()
            .find_map(|l| l.strip_prefix("REPORT "))
            .unwrap_or_else(|| panic!("no REPORT line:\n{stdout}"));
        let report: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            report["policies"].as_array().map(Vec::len),
            Some(1),
            "{json}"
        );
        report["policies"][0].clone()
    }

    /// A mailtls server (blocking adapter) on 127.0.0.1 that serves one connection after another
    /// on a thread for as long as the test runs, recording what it receives.
    fn serve_forever(config: Arc<ServerConfig>) -> (SocketAddr, Arc<Mutex<Inbox>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        thread::spawn({
            let inbox = Arc::clone(&inbox);
            move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let Ok(peer) = stream.peer_addr() else {
                        continue;
                    };
                    let mut app = recorder(Arc::clone(&inbox));
                    let _ = blocking::serve_connection(stream, peer, Arc::clone(&config), &mut app);
                }
            }
        });
        (addr, inbox)
    }
}

/// Waits until a server program (the milter, the server example) logs that it listens (it
/// opens the socket first); panics with the log when it exits or takes longer than 120 s
/// (Valgrind on a loaded machine starts slowly; this bounds a hang, it measures nothing).
fn wait_for_listening(program: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("listening on") {
            return;
        }
        if let Some(status) = program.try_wait().unwrap() {
            panic!("the program exited early ({status}):\n{text}");
        }
        if Instant::now() >= deadline {
            let _ = program.kill();
            let _ = program.wait();
            panic!("the program did not start:\n{text}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The exit code, or `None` after killing a child that outlived `timeout`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh directory under the target dir for one test's files.
fn tempdir(tag: &str) -> PathBuf {
    let dir = target_dir()
        .join("capi")
        .join("tmp")
        .join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
