//! A full in-memory STARTTLS delivery through `mailtls::client::ClientSession` (greeting, EHLO,
//! STARTTLS, TLS 1.3 handshake, EHLO, pipelined MAIL/RCPT/DATA, 10 KiB of text, QUIT)
//! against a bare rustls client doing the same dialogue by hand (the same commands, the same
//! handshake, the same 10 KiB, a reply code check per reply), both against the same scripted
//! SMTP server over the same rustls server configuration, with the same certificates,
//! provider and verifier.
//!
//! The two are timed in alternating rounds (the order flips every round) and the median of
//! the per-round ratios is printed, so that machine noise cancels:
//!
//! ```sh
//! cargo bench --bench session
//! ```
//!
//! Instructions, with callgrind: `SESSION_ONLY=mailtls|bare` runs one side
//! `SESSION_ITERS` times and exits; `.ci/session_instructions.sh` runs each side for two
//! counts under callgrind and prints the instructions of one delivery (the difference over
//! the difference in count, so the fixture cancels out) and the ratio:
//!
//! ```sh
//! bash .ci/session_instructions.sh
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use criterion::Criterion;
use mailtls::client::{
    Attempt, ClientEvent, ClientSession, ClientSettings, Envelope, PlanVerifiers,
};
use mailtls::names::HostId;
use mailtls::policy::ladder::Rung;
use mailtls::policy::{AnchorSource, HostPlan, Level};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::tls::{server_config, ServerTlsSetup, TlsEngine, TlsIdentity};
use mailtls::Timestamp;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

const NOW: Timestamp = Timestamp::from_unix_secs(1_790_000_000);
const MX: &str = "mx.example.com";
const MESSAGE_LEN: usize = 10 * 1024;

struct Fixture {
    server: Arc<ServerConfig>,
    verifier: Arc<dyn ServerCertVerifier>,
    bare_client: Arc<ClientConfig>,
    /// The `encrypt` pair: mailtls compiles its own verifier per attempt (as a delivery
    /// does); the anchor accepts any certificate and checks the handshake signatures.
    encrypt_plan: HostPlan,
    verifiers: PlanVerifiers,
    bare_any: Arc<ClientConfig>,
    plan: HostPlan,
    settings: ClientSettings,
    envelope: Envelope,
    message: Vec<u8>,
    /// The message with its terminating dot, as the anchor sends it (it needs no stuffing).
    bare_data: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![MX.to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let identity = TlsIdentity::from_der(
        vec![leaf.der().clone(), ca.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    let server = server_config(&ServerTlsSetup::new(Rung::Modern, identity, NOW)).unwrap();

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    let provider = Arc::new(ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .unwrap();
    let mut bare = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier))
        .with_no_client_auth();
    // Every mailtls attempt is a fresh handshake; make the anchor one too.
    bare.resumption = Resumption::disabled();

    let requirement = Level::Encrypt.requirement(Vec::new(), Vec::new(), AnchorSource::Public);
    let mut message = Vec::with_capacity(MESSAGE_LEN);
    while message.len() < MESSAGE_LEN {
        message.extend_from_slice(b"The quick brown fox jumps over the lazy dog 0123456789.\r\n");
    }
    message.truncate(MESSAGE_LEN - 2);
    message.extend_from_slice(b"\r\n");
    let mut any = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(
            ring::default_provider().signature_verification_algorithms,
        )))
        .with_no_client_auth();
    any.resumption = Resumption::disabled();
    Fixture {
        encrypt_plan: HostPlan::new(
            HostId::parse(MX).unwrap(),
            25,
            Level::Encrypt.requirement(Vec::new(), Vec::new(), AnchorSource::Public),
        ),
        bare_any: Arc::new(any),
        verifiers: PlanVerifiers::default(),
        server,
        verifier,
        bare_client: Arc::new(bare),
        plan: HostPlan::new(HostId::parse(MX).unwrap(), 25, requirement),
        settings: ClientSettings::new("relay.sender.example").unwrap(),
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse("alice@sender.example").unwrap()),
            vec![ForwardPath::Mailbox(
                Mailbox::parse("bob@example.com").unwrap(),
            )],
        ),
        bare_data: [&message[..], b".\r\n"].concat(),
        message,
    }
}

/// A minimal scripted SMTP server over the same rustls server configuration.
struct Server {
    config: Arc<ServerConfig>,
    tls: Option<TlsEngine>,
    lines: Vec<u8>,
    in_data: bool,
    received: usize,
}

impl Server {
    fn new(config: &Arc<ServerConfig>) -> Self {
        Self {
            config: Arc::clone(config),
            tls: None,
            lines: Vec::new(),
            in_data: false,
            received: 0,
        }
    }

    fn handle(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut replies = Vec::new();
        match self.tls.as_mut() {
            Some(tls) => {
                tls.handle_ciphertext(input, &mut self.lines).unwrap();
                tls.drain_ciphertext(out);
            }
            None => self.lines.extend_from_slice(input),
        }
        let mut start = 0;
        while let Some(pos) = self.lines[start..].iter().position(|&b| b == b'\n') {
            let line = &self.lines[start..start + pos + 1];
            start += pos + 1;
            if self.in_data {
                if line == b".\r\n" {
                    self.in_data = false;
                    replies.extend_from_slice(b"250 2.0.0 queued\r\n");
                } else {
                    self.received += line.len();
                }
                continue;
            }
            match &line[..4] {
                b"EHLO" if self.tls.is_some() => replies.extend_from_slice(
                    b"250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
                ),
                b"EHLO" => replies.extend_from_slice(
                    b"250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
                ),
                b"STAR" => {
                    out.extend_from_slice(b"220 2.0.0 go ahead\r\n");
                    self.tls = Some(TlsEngine::server(Arc::clone(&self.config)).unwrap());
                    self.lines.clear();
                    return;
                }
                b"MAIL" | b"RCPT" => replies.extend_from_slice(b"250 ok\r\n"),
                b"DATA" => {
                    replies.extend_from_slice(b"354 go on\r\n");
                    self.in_data = true;
                }
                b"QUIT" => replies.extend_from_slice(b"221 bye\r\n"),
                _ => replies.extend_from_slice(b"500 what\r\n"),
            }
        }
        self.lines.drain(..start);
        if replies.is_empty() {
            return;
        }
        match self.tls.as_mut() {
            Some(tls) => tls.encrypt(&replies, out).unwrap(),
            None => out.extend_from_slice(&replies),
        }
    }
}

#[inline(never)]
fn mailtls_delivery(f: &Fixture) -> usize {
    let attempt = Attempt::new(f.plan.clone(), Rung::Modern, Arc::clone(&f.verifier));
    deliver_with(f, attempt)
}

/// At `encrypt`, with the verifier a delivery compiles for the plan.
#[inline(never)]
fn mailtls_encrypt_delivery(f: &Fixture) -> usize {
    let handle = f.verifiers.verifier_for(&f.encrypt_plan);
    let attempt = Attempt::new(f.encrypt_plan.clone(), Rung::Modern, handle);
    deliver_with(f, attempt)
}

fn deliver_with(f: &Fixture, attempt: Attempt) -> usize {
    let mut client = ClientSession::new(f.settings.clone(), attempt, NOW);
    let mut server = Server::new(&f.server);
    let mut wire = Vec::new();
    client.handle_input(b"220 mx.example.com ESMTP\r\n", NOW);
    let mut sent = false;
    loop {
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Ready if !sent => {
                    sent = true;
                    client.send_mail(&f.envelope, NOW).unwrap();
                }
                ClientEvent::Ready => client.quit(NOW).unwrap(),
                ClientEvent::DataReady => client.send_data(&f.message, true, NOW).unwrap(),
                ClientEvent::Finished(record) => {
                    assert!(record.tls.is_some());
                    return server.received;
                }
                _ => {}
            }
        }
        let Some(bytes) = client.poll_transmit() else {
            panic!("stalled");
        };
        wire.clear();
        server.handle(&bytes, &mut wire);
        if !wire.is_empty() {
            client.handle_input(&wire, NOW);
        }
    }
}

/// The bare anchor: a rustls client that speaks the same SMTP dialogue from a script,
/// checking each reply's code and nothing else.
#[inline(never)]
fn bare_delivery(f: &Fixture) -> usize {
    bare_with(f, &f.bare_client)
}

#[inline(never)]
fn bare_encrypt_delivery(f: &Fixture) -> usize {
    bare_with(f, &f.bare_any)
}

fn bare_with(f: &Fixture, config: &Arc<ClientConfig>) -> usize {
    let mut server = Server::new(&f.server);
    let mut wire = Vec::new();
    let mut plain = Vec::new();
    // The greeting was read (as the mailtls side is handed it).
    expect(b"220 mx.example.com ESMTP\r\n", b"220");
    server.handle(b"EHLO relay.sender.example\r\n", &mut wire);
    expect(&wire, b"250");
    wire.clear();
    server.handle(b"STARTTLS\r\n", &mut wire);
    expect(&wire, b"220");
    let mut client =
        ClientConnection::new(Arc::clone(config), ServerName::try_from(MX).unwrap()).unwrap();
    let mut out = Vec::new();
    loop {
        out.clear();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        if out.is_empty() && !client.is_handshaking() {
            break;
        }
        wire.clear();
        server.handle(&out, &mut wire);
        feed(&mut client, &wire, &mut plain);
    }
    let mut exchange = |client: &mut ClientConnection, data: &[u8], code: &[u8]| {
        client.writer().write_all(data).unwrap();
        out.clear();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        wire.clear();
        server.handle(&out, &mut wire);
        plain.clear();
        feed(client, &wire, &mut plain);
        expect(&plain, code);
    };
    exchange(&mut client, b"EHLO relay.sender.example\r\n", b"250");
    exchange(
        &mut client,
        b"MAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
        b"354",
    );
    exchange(&mut client, &f.bare_data, b"250");
    exchange(&mut client, b"QUIT\r\n", b"221");
    // mailtls closes with close_notify after the reply to QUIT: so does the anchor.
    client.send_close_notify();
    out.clear();
    while client.wants_write() {
        client.write_tls(&mut out).unwrap();
    }
    black_box(&out);
    server.received
}

fn feed(client: &mut ClientConnection, mut wire: &[u8], plain: &mut Vec<u8>) {
    while !wire.is_empty() {
        client.read_tls(&mut wire).unwrap();
        client.process_new_packets().unwrap();
        let _ = client.reader().read_to_end(plain);
    }
}

/// The anchor's `encrypt`: any certificate, real handshake signatures.
#[derive(Debug)]
struct AnyCertificate(rustls::crypto::WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The reply's last line starts with `code`.
fn expect(reply: &[u8], code: &[u8]) {
    let body = reply.strip_suffix(b"\r\n").unwrap_or(reply);
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(body);
    assert!(last.starts_with(code), "{}", String::from_utf8_lossy(reply));
}

fn main() {
    let f = fixture();
    assert_eq!(mailtls_delivery(&f), MESSAGE_LEN);
    assert_eq!(bare_delivery(&f), MESSAGE_LEN);
    assert_eq!(mailtls_encrypt_delivery(&f), MESSAGE_LEN);
    assert_eq!(bare_encrypt_delivery(&f), MESSAGE_LEN);
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let iters = number("SESSION_ITERS", 40);
    let only: Option<fn(&Fixture) -> usize> = match std::env::var("SESSION_ONLY").as_deref() {
        Ok("mailtls") => Some(mailtls_delivery),
        Ok("bare") => Some(bare_delivery),
        Ok("mailtls-encrypt") => Some(mailtls_encrypt_delivery),
        Ok("bare-encrypt") => Some(bare_encrypt_delivery),
        _ => None,
    };
    if let Some(run) = only {
        for _ in 0..iters {
            black_box(run(&f));
        }
        return;
    }
    let rounds = number("SESSION_ROUNDS", 31);
    alternating_rounds(
        "webpki verifier",
        &f,
        mailtls_delivery,
        bare_delivery,
        rounds,
        iters,
    );
    alternating_rounds(
        "encrypt",
        &f,
        mailtls_encrypt_delivery,
        bare_encrypt_delivery,
        rounds,
        iters,
    );
    if std::env::var_os("SESSION_CRITERION").is_none() {
        return;
    }
    // Where the difference goes, with criterion (SESSION_CRITERION=1).
    let mut c = Criterion::default().configure_from_args();
    let mut parts = c.benchmark_group("session_parts");
    parts.bench_function("mailtls_starttls_delivery", |b| {
        b.iter(|| black_box(mailtls_delivery(&f)))
    });
    parts.bench_function("bare_rustls_delivery", |b| {
        b.iter(|| black_box(bare_delivery(&f)))
    });
    let setup = mailtls::tls::ClientTlsSetup::new(Rung::Modern, Arc::clone(&f.verifier), NOW);
    parts.bench_function("client_config_per_attempt", |b| {
        b.iter(|| black_box(mailtls::tls::client_config(&setup).unwrap()))
    });
    parts.finish();
    c.final_summary();
}

/// Times `iters` deliveries of each side per round, the order flipping every round, and
/// prints the median of the per-round ratios (mailtls / bare).
fn alternating_rounds(
    name: &str,
    f: &Fixture,
    ours: fn(&Fixture) -> usize,
    bare: fn(&Fixture) -> usize,
    rounds: usize,
    iters: usize,
) {
    let time = |run: &dyn Fn() -> usize| {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(run());
        }
        start.elapsed().as_secs_f64() / iters as f64
    };
    let ours = || ours(f);
    let bare = || bare(f);
    // Warm both up once.
    time(&ours);
    time(&bare);
    let mut ratios = Vec::with_capacity(rounds);
    let mut ours_times = Vec::with_capacity(rounds);
    let mut bare_times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = time(&ours);
            (a, time(&bare))
        } else {
            let b = time(&bare);
            (time(&ours), b)
        };
        ratios.push(a / b);
        ours_times.push(a);
        bare_times.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lo, hi) = {
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        (
            sorted[sorted.len() / 10],
            sorted[sorted.len() - 1 - sorted.len() / 10],
        )
    };
    println!(
        "session ratio mailtls/bare ({name}) = {:.3} (median of {rounds} alternating rounds of {iters}; \
         p10 {lo:.3}, p90 {hi:.3}; {:.1} us vs {:.1} us per delivery)",
        median(&mut ratios),
        median(&mut ours_times) * 1e6,
        median(&mut bare_times) * 1e6,
    );
}
