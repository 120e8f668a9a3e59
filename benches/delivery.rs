//! End-to-end delivery into a real local Postfix (issue 19, goal 4): mailtls's blocking client
//! against lettre (its rustls transport over ring) and against a bare rustls STARTTLS client,
//! side by side in one run, alternating rounds so that the machine's noise hits all three.
//!
//! Every client delivers the same message (a 1 KiB text, one recipient) to the CI peers'
//! Postfix `good` instance (`smtpd_tls_security_level = may`), at the `may` level: STARTTLS
//! with the certificate not verified, the same for all three. Printed: messages per second,
//! the median and the largest per-message latency (connect to the end of QUIT), and mailtls's
//! rate over lettre's and over bare rustls's. Then one connection for every message (mailtls
//! against lettre's `SmtpConnection`), which Postfix bounds.
//!
//! ```sh
//! # the peers the integrator runs (see .ci/peers/start.sh); 200 messages per client
//! MAILTLS_PEERS_ENV=/work/main/target/peers/peers.env cargo bench --bench delivery
//! # one client alone, for `strace -c -f` (syscalls per message), N messages
//! cargo bench --bench delivery --no-run   # then run target/release/deps/delivery-* with:
//! #   --only mailtls|lettre|rustls|mailtls-one|lettre-one  --messages N
//! ```
//!
//! Without a peers file the bench says so and exits: it needs a real Postfix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::address::{Address, Envelope as LettreEnvelope};
use lettre::transport::smtp::client::{SmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};
use mailtls::cert::{CertificateCheck, OnFailure, ServerVerifier};
use mailtls::client::{ClientSettings, Delivery, Envelope, PlanVerifiers};
use mailtls::io::{blocking, Connector, Message};
use mailtls::policy::{explain, Destination, OutboundPolicy};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use rustls::crypto::ring;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

const MX: &str = "mx.partner.test";
const HELO: &str = "client.mailtls.test";
const FROM: &str = "sender@mailtls.test";
const TO: &str = "rcpt@partner.test";
const DEFAULT_MESSAGES: usize = 200;
const ROUNDS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Mailtls,
    Lettre,
    Rustls,
    MailtlsOne,
    LettreOne,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Self::Mailtls => "mailtls",
            Self::Lettre => "lettre",
            Self::Rustls => "rustls",
            Self::MailtlsOne => "mailtls-one",
            Self::LettreOne => "lettre-one",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Mailtls,
            Self::Lettre,
            Self::Rustls,
            Self::MailtlsOne,
            Self::LettreOne,
        ]
        .into_iter()
        .find(|c| c.name() == text)
    }
}

struct Setup {
    addr: SocketAddr,
    content: Vec<u8>,
    lettre_tls: TlsParameters,
    rustls: Arc<ClientConfig>,
}

/// Per-message latencies of one client, and the wall time they took.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn print(&self, name: &str) {
        println!(
            "{name:>12}: {:>5} messages in {:>7.3} s = {:>7.1} msg/s, median {:>6.2} ms, max {:>6.2} ms",
            self.latencies.len(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            ms(self.quantile(0.5)),
            ms(self.quantile(1.0)),
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let messages = value("--messages")
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let only = value("--only")
        .map(|name| Client::parse(&name).unwrap_or_else(|| panic!("--only {name}: not a client")));
    let Some(setup) = setup() else {
        println!("delivery: no peers (MAILTLS_PEERS_ENV); start them with .ci/peers/start.sh");
        return;
    };
    if let Some(client) = only {
        let tally = run(&setup, client, messages);
        tally.print(client.name());
        return;
    }
    println!(
        "delivery into Postfix at {}: {messages} messages per client, {ROUNDS} alternating rounds",
        setup.addr
    );
    let per_round = messages.div_ceil(ROUNDS);
    let clients = [Client::Mailtls, Client::Lettre, Client::Rustls];
    let mut tallies: Vec<Tally> = clients.iter().map(|_| Tally::default()).collect();
    for _ in 0..ROUNDS {
        for (client, tally) in clients.iter().zip(&mut tallies) {
            let round = run(&setup, *client, per_round);
            tally.latencies.extend(round.latencies);
            tally.elapsed += round.elapsed;
        }
    }
    println!("one connection per message:");
    for (client, tally) in clients.iter().zip(&tallies) {
        tally.print(client.name());
    }
    println!(
        "ratio: mailtls/lettre = {:.2}x, mailtls/rustls = {:.2}x",
        tallies[0].rate() / tallies[1].rate(),
        tallies[0].rate() / tallies[2].rate()
    );
    println!("one connection for all messages:");
    let one = run(&setup, Client::MailtlsOne, messages);
    one.print("mailtls-one");
    let lettre_one = run(&setup, Client::LettreOne, messages);
    lettre_one.print("lettre-one");
    println!(
        "ratio: mailtls/lettre = {:.2}x",
        one.rate() / lettre_one.rate()
    );
}

/// `count` messages with `client`, timing each.
fn run(setup: &Setup, client: Client, count: usize) -> Tally {
    let mut tally = Tally::default();
    let started = Instant::now();
    match client {
        Client::Mailtls => {
            for _ in 0..count {
                let t = Instant::now();
                mailtls_deliver(setup, 1);
                tally.latencies.push(t.elapsed());
            }
        }
        Client::Lettre => {
            let transport = SmtpTransport::builder_dangerous(setup.addr.ip().to_string())
                .port(setup.addr.port())
                .hello_name(ClientId::Domain(HELO.to_owned()))
                .tls(Tls::Opportunistic(setup.lettre_tls.clone()))
                .build();
            let envelope = lettre_envelope();
            for _ in 0..count {
                let t = Instant::now();
                transport.send_raw(&envelope, &setup.content).unwrap();
                tally.latencies.push(t.elapsed());
            }
        }
        Client::Rustls => {
            for _ in 0..count {
                let t = Instant::now();
                rustls_deliver(setup).unwrap();
                tally.latencies.push(t.elapsed());
            }
        }
        Client::MailtlsOne => {
            mailtls_deliver(setup, count);
            // One connection: the latency of a message is the mean.
            let each = started.elapsed() / u32::try_from(count.max(1)).unwrap();
            tally.latencies = vec![each; count];
        }
        Client::LettreOne => {
            let mut connection = SmtpConnection::connect(
                setup.addr,
                Some(Duration::from_secs(30)),
                &ClientId::Domain(HELO.to_owned()),
                None,
                None,
            )
            .unwrap();
            let id = ClientId::Domain(HELO.to_owned());
            connection.starttls(&setup.lettre_tls, &id).unwrap();
            let envelope = lettre_envelope();
            for _ in 0..count {
                let t = Instant::now();
                connection.send(&envelope, &setup.content).unwrap();
                tally.latencies.push(t.elapsed());
            }
            connection.quit().unwrap();
        }
    }
    tally.elapsed = started.elapsed();
    tally
}

/// `count` messages over one mailtls session (a new connection), at `may`.
fn mailtls_deliver(setup: &Setup, count: usize) {
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let plan = explain(&OutboundPolicy::new(), &destination);
    let mut delivery = Delivery::from_plan(
        ClientSettings::new(HELO).unwrap(),
        plan,
        Arc::new(PlanVerifiers::default()),
    );
    let message = Message {
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse(FROM).unwrap()),
            vec![ForwardPath::Mailbox(Mailbox::parse(TO).unwrap())],
        ),
        content: setup.content.clone(),
    };
    let messages = vec![message; count];
    let report = blocking::deliver(
        &mut delivery,
        &messages,
        &Connector::new().route(MX, setup.addr),
    );
    assert!(report.all_accepted(), "mailtls: {:?}", report.outcome);
    assert!(
        report.attempts.iter().all(|a| a.tls.is_some()),
        "mailtls delivered without TLS"
    );
}

fn lettre_envelope() -> LettreEnvelope {
    LettreEnvelope::new(
        Some(FROM.parse::<Address>().unwrap()),
        vec![TO.parse::<Address>().unwrap()],
    )
    .unwrap()
}

/// A TCP stream that acknowledges every read at once, as mailtls's adapters do.
struct QuickAck(TcpStream);

impl Read for QuickAck {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        Ok(n)
    }
}

impl Write for QuickAck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Reads until `replies` final reply lines (`NNN text`) have arrived; fails on a 4xx/5xx.
fn read_replies(stream: &mut impl Read, replies: usize) -> io::Result<()> {
    let mut buf = [0_u8; 4096];
    let mut pending = Vec::new();
    let mut seen = 0;
    while seen < replies {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = pending.drain(..end + 2).collect();
            if line.get(3) == Some(&b' ') {
                if matches!(line.first(), Some(b'4' | b'5')) {
                    return Err(io::Error::other(
                        String::from_utf8_lossy(&line).into_owned(),
                    ));
                }
                seen += 1;
            }
        }
    }
    Ok(())
}

/// One message over a fresh connection with a bare rustls client: greeting, EHLO, STARTTLS,
/// handshake, EHLO, pipelined MAIL/RCPT/DATA, the content, QUIT; one write per flight and
/// every read acknowledged at once.
fn rustls_deliver(setup: &Setup) -> io::Result<()> {
    let tcp = TcpStream::connect(setup.addr)?;
    tcp.set_nodelay(true)?;
    let mut tcp = QuickAck(tcp);
    read_replies(&mut tcp, 1)?;
    tcp.write_all(format!("EHLO {HELO}\r\n").as_bytes())?;
    read_replies(&mut tcp, 1)?;
    tcp.write_all(b"STARTTLS\r\n")?;
    read_replies(&mut tcp, 1)?;
    let name = ServerName::try_from(MX).map_err(io::Error::other)?;
    let connection =
        ClientConnection::new(Arc::clone(&setup.rustls), name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(connection, tcp);
    tls.write_all(format!("EHLO {HELO}\r\n").as_bytes())?;
    read_replies(&mut tls, 1)?;
    tls.write_all(format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n").as_bytes())?;
    read_replies(&mut tls, 3)?;
    let mut data = setup.content.clone();
    data.extend_from_slice(b".\r\nQUIT\r\n");
    tls.write_all(&data)?;
    read_replies(&mut tls, 2)?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

fn setup() -> Option<Setup> {
    let path = std::env::var("MAILTLS_PEERS_ENV").ok()?;
    let text = std::fs::read_to_string(&path).ok()?;
    let env: HashMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let host = env.get("PEERS_HOST").copied().unwrap_or("127.0.0.1");
    let port = std::env::var("DELIVERY_PORT")
        .ok()
        .or_else(|| env.get("PEERS_POSTFIX_GOOD_PORT").map(|p| (*p).to_owned()))?;
    let addr: SocketAddr = format!("{host}:{port}").parse().ok()?;
    let mut content = b"Subject: delivery bench\r\nFrom: <sender@mailtls.test>\r\n\r\n".to_vec();
    while content.len() < 1024 {
        content.extend_from_slice(b"The quick brown fox jumps over the lazy dog.\r\n");
    }
    let lettre_tls = TlsParameters::builder(MX.to_owned())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    // No resumption: mailtls resumes nothing yet, and each connection here is a stranger.
    let mut rustls = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        // The verifier mailtls itself uses at `may`: any certificate, signatures checked.
        .with_custom_certificate_verifier(Arc::new(ServerVerifier::new(
            CertificateCheck::EncryptOnly,
            OnFailure::Continue,
        )))
        .with_no_client_auth();
    rustls.resumption = rustls::client::Resumption::disabled();
    Some(Setup {
        addr,
        content,
        lettre_tls,
        rustls: Arc::new(rustls),
    })
}
