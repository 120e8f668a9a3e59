//! `mailtls demo`: both ends in-process on 127.0.0.1 with fresh certificates. Every row of the
//! table comes from sessions that really ran; the command fails if one ends unexpectedly.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailtls::cert::{CertFacts, TrustAnchors};
use mailtls::client::{ClientSettings, Delivery, DeliveryOutcome, Envelope};
use mailtls::io::{blocking, verifiers_for, Connector, DeliveryReport, Message};
use mailtls::policy::connector::Connectors;
use mailtls::policy::mta_sts::StsPolicy;
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Decision, Destination, OutboundPolicy, Plan};
use mailtls::server::{ServerConfig, ServerTls};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::tls::TlsIdentity;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::common::{Failure, EX_SOFTWARE};
use crate::outbound::decide_with;
use crate::serve::Inbound;

/// The demo takes only the global flags (`-v` prints each scenario's explanation trace).
#[derive(Debug, clap::Args)]
pub struct Args {}

const MX: &str = "mx.partner.test";

/// A man in the middle between the client and the server.
#[derive(Clone, Copy, Debug)]
enum Middle {
    /// Relays bytes untouched.
    None,
    /// Hides STARTTLS in the server's EHLO reply (the STRIPTLS attack).
    StripStarttls,
    /// Answers a ClientHello that offers TLS 1.3 with a protocol_version alert and hangs up
    /// (a TLS 1.3-intolerant server).
    Tls13Intolerant,
}

/// What the client side expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Verified,
    Encrypted,
    Plaintext,
    Failed,
    RefusedByServer,
}

/// The discovery answers a scenario hands to the precedence overlay (the demo has no DNS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Discovery {
    /// None: the configuration decides alone.
    None,
    /// A DNSSEC-validated `3 1 1` TLSA record for the MX: of the server's key, or of another.
    Tlsa { matching: bool },
    /// An MTA-STS policy listing the MX, in this mode; the demo CA stands for the public roots.
    Sts(&'static str),
}

struct Scenario {
    name: &'static str,
    policy: String,
    discovery: Discovery,
    server_tls: bool,
    server_cert: &'static str,
    client_cert: Option<&'static str>,
    middle: Middle,
    expect: Expect,
    expect_attempts: usize,
}

pub fn run(_args: &Args) -> Result<u8, Failure> {
    let started = Instant::now();
    let pki = Pki::new().map_err(|e| Failure::io(format!("certificates: {e}")))?;
    let tafile = std::env::temp_dir().join(format!("mailtls-demo-{}.pem", std::process::id()));
    std::fs::write(&tafile, pki.ca.pem())
        .map_err(|e| Failure::io(format!("{}: {e}", tafile.display())))?;
    let ta = tafile.display().to_string();
    let scenarios = [
        Scenario {
            name: "opportunistic, plaintext-only peer",
            policy: "may".into(),
            discovery: Discovery::None,
            server_tls: false,
            server_cert: MX,
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Plaintext,
            expect_attempts: 1,
        },
        Scenario {
            name: "forced TLS, STARTTLS stripped on path",
            policy: "encrypt".into(),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: MX,
            client_cert: None,
            middle: Middle::StripStarttls,
            expect: Expect::Failed,
            expect_attempts: 1,
        },
        Scenario {
            name: "domain validation, right name",
            policy: format!("secure match={MX} tafile={ta}"),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: MX,
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Verified,
            expect_attempts: 1,
        },
        Scenario {
            name: "domain validation, wrong name",
            policy: format!("secure match={MX} tafile={ta}"),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: "mx.wrong.test",
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Failed,
            expect_attempts: 1,
        },
        Scenario {
            name: "inbound partner, right client cert",
            policy: "encrypt".into(),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: MX,
            client_cert: Some("relay.sender.test"),
            middle: Middle::None,
            expect: Expect::Encrypted,
            expect_attempts: 1,
        },
        Scenario {
            name: "inbound partner, wrong client cert",
            policy: "encrypt".into(),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: MX,
            client_cert: Some("intruder.example"),
            middle: Middle::None,
            expect: Expect::RefusedByServer,
            expect_attempts: 1,
        },
        Scenario {
            name: "ladder past a TLS 1.3-intolerant peer",
            policy: "encrypt".into(),
            discovery: Discovery::None,
            server_tls: true,
            server_cert: MX,
            client_cert: None,
            middle: Middle::Tls13Intolerant,
            expect: Expect::Encrypted,
            expect_attempts: 2,
        },
        Scenario {
            name: "DANE, TLSA 3 1 1 of the server's key",
            policy: "dane".into(),
            discovery: Discovery::Tlsa { matching: true },
            server_tls: true,
            server_cert: MX,
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Verified,
            expect_attempts: 1,
        },
        Scenario {
            name: "DANE, TLSA of another key",
            policy: "dane".into(),
            discovery: Discovery::Tlsa { matching: false },
            server_tls: true,
            server_cert: MX,
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Failed,
            expect_attempts: 1,
        },
        Scenario {
            name: "MTA-STS testing, wrong name",
            policy: "may".into(),
            discovery: Discovery::Sts("testing"),
            server_tls: true,
            server_cert: "mx.wrong.test",
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Encrypted,
            expect_attempts: 1,
        },
        Scenario {
            name: "MTA-STS enforce, wrong name",
            policy: "may".into(),
            discovery: Discovery::Sts("enforce"),
            server_tls: true,
            server_cert: "mx.wrong.test",
            client_cert: None,
            middle: Middle::None,
            expect: Expect::Failed,
            expect_attempts: 1,
        },
    ];
    let connectors = Arc::new(partner_connectors()?);
    let mut rows = Vec::new();
    let mut failures = 0;
    for scenario in &scenarios {
        let row = run_scenario(scenario, &pki, &connectors)?;
        if !row.as_expected {
            failures += 1;
        }
        if crate::common::verbose() {
            outln!("{}:\n{}", scenario.name, row.trace);
        }
        rows.push(row);
    }
    let _ = std::fs::remove_file(&tafile);
    print_table(&rows);
    outln!(
        "\n{} scenarios in {:.2} s; {}",
        rows.len(),
        started.elapsed().as_secs_f64(),
        if failures == 0 {
            "every one ended as expected".to_owned()
        } else {
            format!("{failures} did NOT end as expected")
        }
    );
    Ok(if failures == 0 { 0 } else { EX_SOFTWARE })
}

/// One row of the table.
struct Row {
    scenario: &'static str,
    policy: String,
    outcome: String,
    tls: String,
    result_type: String,
    attempts: String,
    as_expected: bool,
    trace: String,
}

fn run_scenario(
    scenario: &Scenario,
    pki: &Pki,
    connectors: &Arc<Connectors>,
) -> Result<Row, Failure> {
    // The receiving server, with a partner connector and a client-certificate check.
    let mut config = ServerConfig::new(MX);
    // As `serve` does: the connectors decide what a client certificate means.
    config.connectors = Some(Arc::clone(connectors));
    let identity = pki.issue(scenario.server_cert)?;
    let tlsa_record = match scenario.discovery {
        Discovery::Tlsa { matching: true } => tlsa_311(&identity)?,
        _ => format!("3 1 1 {}", "00".repeat(32)),
    };
    if scenario.server_tls {
        let mut tls = ServerTls::new(identity, mailtls::policy::ladder::Rung::Modern);
        tls.client_auth = Some(pki.client_auth());
        config.tls = Some(tls);
    }
    let config = Arc::new(config);
    let listener = bind()?;
    let server_addr = listener.local_addr().map_err(io_failure)?;
    let seen: Arc<Mutex<Vec<Inbound>>> = Arc::new(Mutex::new(Vec::new()));
    let sessions = scenario.expect_attempts;
    let server = std::thread::spawn({
        let seen = Arc::clone(&seen);
        let connectors = Arc::clone(connectors);
        move || {
            for _ in 0..sessions {
                let Ok((stream, peer)) = listener.accept() else {
                    return;
                };
                let mut app = Inbound::new(peer, None, Some(Arc::clone(&connectors)));
                let _ = blocking::serve_connection(stream, peer, Arc::clone(&config), &mut app);
                if let Ok(mut seen) = seen.lock() {
                    seen.push(app);
                }
            }
        }
    });
    let addr = match scenario.middle {
        Middle::None => server_addr,
        middle => start_middle(middle, server_addr, sessions)?,
    };

    // The sending side.
    let next_hop = format!("[{MX}]:{}", addr.port());
    let table = PolicyTable::parse(&format!("{next_hop} {}\n", scenario.policy))
        .map_err(|e| Failure::config(format!("demo policy: {e}")))?;
    let plan = explain(
        &OutboundPolicy::new().with_table(table),
        &Destination::parse(&next_hop).map_err(|e| Failure::config(e.to_string()))?,
    );
    let policy_text = scenario
        .policy
        .split_whitespace()
        .filter(|w| !w.starts_with("tafile="))
        .collect::<Vec<_>>()
        .join(" ")
        + &match scenario.discovery {
            Discovery::None => String::new(),
            Discovery::Tlsa { .. } => " + TLSA".to_owned(),
            Discovery::Sts(mode) => format!(" + MTA-STS {mode}"),
        };
    let decision = decide(plan, scenario.discovery, &tlsa_record)?;
    let verifies = decision
        .plan
        .hosts
        .first()
        .is_some_and(|h| h.requirement.authentication.verifies());
    // The demo CA stands for the public roots (MTA-STS checks chain to them).
    let public = TrustAnchors::from_der([pki.ca.der()])
        .map_err(|e| Failure::config(format!("demo CA: {e}")))?;
    let verifiers = verifiers_for(&decision, public).map_err(|e| Failure::config(e.to_string()))?;
    let trace = decision.to_string();
    let settings =
        ClientSettings::new("relay.sender.test").map_err(|e| Failure::config(e.to_string()))?;
    let identity = match scenario.client_cert {
        Some(name) => Some(pki.issue(name)?),
        None => None,
    };
    let mut delivery =
        Delivery::new(settings, decision, Arc::new(verifiers)).with_identity(identity);
    let connector = Connector::new()
        .with_connect_timeout(Duration::from_secs(5))
        .route(MX, addr);
    // Only the inbound-partner scenarios send from the partner's domain.
    let sender = if scenario.client_cert.is_some() {
        "orders@sender.test"
    } else {
        "orders@elsewhere.test"
    };
    let message = demo_message(sender, scenario.name)?;
    let report = blocking::deliver(&mut delivery, &[message], &connector);
    // A server that never saw a session (a refused STARTTLS ends before it) is not waited for.
    drop(connector);
    let _ = TcpStream::connect_timeout(&server_addr, Duration::from_millis(200));
    let _ = server.join();

    let taken = seen
        .lock()
        .map(|s| s.iter().map(|a| a.delivered().len()).sum::<usize>())
        .unwrap_or(0);
    let refusal = seen
        .lock()
        .ok()
        .and_then(|s| s.iter().find_map(Inbound::refusal));
    let (outcome, got) = classify(&report, verifies, taken, refusal.as_deref());
    let last = report.attempts.last();
    let tls = last
        .and_then(|a| a.tls.as_ref())
        .map_or("-".to_owned(), |t| {
            format!("{} {}", t.facts.version, t.facts.suite)
        });
    // Each attempt as TLS-RPT counts it against the policy that governed it: a session over
    // TLS is a success, a failed one counts by its type (under MTA-STS testing: what enforce
    // would have said); earlier failed rungs are failures of their own.
    let result_type = report
        .attempts
        .iter()
        .map(|a| match a.report_result() {
            Some(Ok(())) => "success".to_owned(),
            Some(Err(failure)) => failure.result_type.to_string(),
            None => "-".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" > ");
    let attempts = report
        .attempts
        .iter()
        .map(|a| a.rung.as_str())
        .collect::<Vec<_>>()
        .join(" > ");
    Ok(Row {
        scenario: scenario.name,
        policy: policy_text,
        outcome,
        tls,
        result_type,
        attempts,
        as_expected: got == scenario.expect && report.attempts.len() == scenario.expect_attempts,
        trace,
    })
}

/// The precedence decision for the scenario's discovery answers, through the same
/// [`decide_with`] as `explain`, `probe` and `send`.
fn decide(plan: Plan, discovery: Discovery, tlsa_record: &str) -> Result<Decision, Failure> {
    match discovery {
        Discovery::None => decide_with(plan, &[], None),
        Discovery::Tlsa { .. } => decide_with(plan, &[tlsa_record.to_owned()], None),
        Discovery::Sts(mode) => {
            let text = format!("version: STSv1\nmode: {mode}\nmx: {MX}\nmax_age: 86400\n");
            let policy = StsPolicy::parse(text.as_bytes())
                .map_err(|e| Failure::config(format!("demo MTA-STS policy: {e}")))?;
            decide_with(plan, &[], Some(policy))
        }
    }
}

/// The `3 1 1` TLSA record of a chain's end entity: SHA-256 of its public key.
fn tlsa_311(identity: &TlsIdentity) -> Result<String, Failure> {
    let leaf = identity
        .chain()
        .first()
        .ok_or_else(|| Failure::config("demo certificate chain is empty"))?;
    let facts = CertFacts::from_der(leaf.as_ref())
        .map_err(|e| Failure::config(format!("demo certificate: {e}")))?;
    let hex: String = facts
        .fingerprints
        .spki_sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("3 1 1 {hex}"))
}

/// What happened, in words and as the expectation's terms.
fn classify(
    report: &DeliveryReport,
    verifies: bool,
    taken: usize,
    refusal: Option<&str>,
) -> (String, Expect) {
    let tls = report.attempts.last().is_some_and(|a| a.tls.is_some());
    if report.all_accepted() && taken == 1 {
        return match (tls, verifies) {
            (true, true) => ("delivered, verified".into(), Expect::Verified),
            (true, false) => ("delivered, encrypted".into(), Expect::Encrypted),
            (false, _) => ("delivered in plaintext".into(), Expect::Plaintext),
        };
    }
    if let Some(refusal) = refusal {
        return (
            format!("refused by server ({refusal})"),
            Expect::RefusedByServer,
        );
    }
    let how = match &report.outcome {
        Some(DeliveryOutcome::Deferred(status)) => format!("not sent, deferred: {status}"),
        Some(DeliveryOutcome::Bounced(status)) => format!("not sent, bounced: {status}"),
        Some(other) => format!("not delivered: {other}"),
        None => "not delivered: no attempt".to_owned(),
    };
    (how, Expect::Failed)
}

/// The widest line the demo prints: the table fits a 100-column terminal.
const WIDTH: usize = 100;

/// One block per scenario: `yes`/`NO`, its name and policy, then the outcome, the TLS
/// session and the RFC 8460 result, each on its own line within [`WIDTH`] columns.
fn print_table(rows: &[Row]) {
    let name_width = rows
        .iter()
        .map(|r| r.scenario.chars().count())
        .max()
        .unwrap_or(0);
    outln!(
        "{}",
        shorten(&format!("ok  {:<name_width$}  policy", "scenario"), WIDTH)
    );
    outln!("{}", "-".repeat(WIDTH.min(name_width + 40)));
    for r in rows {
        let ok = if r.as_expected { "yes" } else { "NO " };
        let head = format!("{ok} {:<name_width$}  {}", r.scenario, r.policy);
        outln!("{}", shorten(&head, WIDTH));
        for (label, value) in [
            ("outcome", &r.outcome),
            ("rungs", &r.attempts),
            ("TLS", &r.tls),
            ("RFC 8460", &r.result_type),
        ] {
            if !value.is_empty() {
                outln!("{}", shorten(&format!("      {label:<9} {value}"), WIDTH));
            }
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(3)).collect();
        s.push_str("...");
        s
    }
}

/// The partner's inbound connector: mail from sender.test only over TLS with a certificate
/// for relay.sender.test.
fn partner_connectors() -> Result<Connectors, Failure> {
    Connectors::from_toml(
        r#"
[[inbound]]
name = "Sender partner"
connector_type = "partner"
sender_domains = ["sender.test"]
require_tls = true
tls_sender_certificate_name = "relay.sender.test"
restrict_domains_to_certificate = true
"#,
    )
    .map_err(|e| Failure::config(format!("demo connectors: {e}")))
}

fn demo_message(sender: &str, token: &str) -> Result<Message, Failure> {
    let from = Mailbox::parse(sender).map_err(|e| Failure::config(e.to_string()))?;
    let to = Mailbox::parse("sales@partner.test").map_err(|e| Failure::config(e.to_string()))?;
    Ok(Message {
        envelope: Envelope::new(ReversePath::Mailbox(from), vec![ForwardPath::Mailbox(to)]),
        content: format!("Subject: mailtls demo: {token}\r\n\r\nHello.\r\n").into_bytes(),
    })
}

fn bind() -> Result<TcpListener, Failure> {
    TcpListener::bind("127.0.0.1:0").map_err(io_failure)
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::io(format!("demo socket: {e}"))
}

/// A relay between a client and `upstream` that plays `middle`, for `sessions` connections.
fn start_middle(
    middle: Middle,
    upstream: SocketAddr,
    sessions: usize,
) -> Result<SocketAddr, Failure> {
    let listener = bind()?;
    let addr = listener.local_addr().map_err(io_failure)?;
    std::thread::spawn(move || {
        for _ in 0..sessions {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            relay(middle, client, server);
        }
    });
    Ok(addr)
}

fn relay(middle: Middle, client: TcpStream, server: TcpStream) {
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || {
        let mut buf = vec![0_u8; 32 * 1024];
        loop {
            let n = match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = buf.get(..n).unwrap_or_default();
            if matches!(middle, Middle::Tls13Intolerant) && offers_tls13(chunk) {
                // protocol_version alert, then hang up on both sides.
                let _ = client_r.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
                let _ = client_r.shutdown(Shutdown::Both);
                let _ = server_w.shutdown(Shutdown::Both);
                break;
            }
            if server_w.write_all(chunk).is_err() {
                break;
            }
        }
        let _ = server_w.shutdown(Shutdown::Write);
    });
    let (mut server_r, mut client_w) = (server, client);
    let mut buf = vec![0_u8; 32 * 1024];
    loop {
        let n = match server_r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = buf.get(..n).unwrap_or_default().to_vec();
        if matches!(middle, Middle::StripStarttls) {
            strip_starttls(&mut chunk);
        }
        if client_w.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = client_w.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

/// Overwrites `STARTTLS` in an EHLO reply with `XXXXXXXX`, keeping the length.
fn strip_starttls(chunk: &mut [u8]) {
    let needle = b"STARTTLS";
    let mut i = 0;
    while let Some(window) = chunk.get(i..i + needle.len()) {
        if window == needle {
            if let Some(w) = chunk.get_mut(i..i + needle.len()) {
                w.copy_from_slice(b"XXXXXXXX");
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

/// Whether `chunk` starts with a TLS ClientHello whose supported_versions offers TLS 1.3.
fn offers_tls13(chunk: &[u8]) -> bool {
    fn inner(c: &[u8]) -> Option<bool> {
        if *c.first()? != 0x16 || *c.get(5)? != 0x01 {
            return None;
        }
        // record header 5, handshake header 4, version 2, random 32.
        let mut at = 5 + 4 + 2 + 32;
        let sid = usize::from(*c.get(at)?);
        at += 1 + sid;
        let suites = usize::from(u16::from_be_bytes([*c.get(at)?, *c.get(at + 1)?]));
        at += 2 + suites;
        let comp = usize::from(*c.get(at)?);
        at += 1 + comp;
        let ext_len = usize::from(u16::from_be_bytes([*c.get(at)?, *c.get(at + 1)?]));
        at += 2;
        let end = at + ext_len;
        while at + 4 <= end {
            let ty = u16::from_be_bytes([*c.get(at)?, *c.get(at + 1)?]);
            let len = usize::from(u16::from_be_bytes([*c.get(at + 2)?, *c.get(at + 3)?]));
            at += 4;
            if ty == 0x002b {
                let list = c.get(at + 1..at + len)?;
                return Some(list.chunks(2).any(|v| v == [0x03, 0x04]));
            }
            at += len;
        }
        Some(false)
    }
    inner(chunk).unwrap_or(false)
}

/// A CA that issues server and client certificates for the demo.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mailtls demo CA");
        Ok(Self {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    fn issue(&self, name: &str) -> Result<TlsIdentity, Failure> {
        let make = || -> Result<(rcgen::Certificate, KeyPair), rcgen::Error> {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(vec![name.to_owned()])?;
            params.distinguished_name.push(DnType::CommonName, name);
            Ok((params.signed_by(&key, &self.ca)?, key))
        };
        let (cert, key) =
            make().map_err(|e| Failure::io(format!("certificate for {name}: {e}")))?;
        TlsIdentity::from_der(
            vec![cert.der().clone(), self.ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| Failure::io(format!("certificate for {name}: {e}")))
    }

    /// Client certificates are asked for and checked against the demo CA; the connectors
    /// decide what a missing or wrong one means.
    fn client_auth(&self) -> mailtls::server::ClientAuth {
        let mut anchors = mailtls::cert::TrustAnchors::new();
        let _ = anchors.add_der(self.ca.der());
        let anchors = Arc::new(anchors);
        mailtls::server::ClientAuth {
            certificate: mailtls::cert::ClientCertRequest::Optional,
            requirement: mailtls::cert::CertificateCheck::Chain {
                anchors: Arc::clone(&anchors),
            },
            on_failure: mailtls::cert::OnFailure::Continue,
            hints: Some(anchors),
        }
    }
}
