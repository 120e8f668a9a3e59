//! A full in-memory STARTTLS delivery through `mailtls::client::ClientSession` (greeting, EHLO,
//! STARTTLS, TLS 1.3 handshake, EHLO, pipelined MAIL/RCPT/DATA, 10 KiB of text, QUIT)
//! against a bare rustls client/server pair doing the same handshake and moving the same
//! 10 KiB, with the same certificates, provider, verifier and server configuration, side by
//! side in one criterion run. The ratio of the two is printed at the end.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target cargo bench --bench session
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

use criterion::Criterion;
use mailtls::client::{Attempt, ClientEvent, ClientSession, ClientSettings, Envelope};
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
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

const NOW: Timestamp = Timestamp::from_unix_secs(1_790_000_000);
const MX: &str = "mx.example.com";
const MESSAGE_LEN: usize = 10 * 1024;

struct Fixture {
    server: Arc<ServerConfig>,
    verifier: Arc<dyn ServerCertVerifier>,
    bare_client: Arc<ClientConfig>,
    plan: HostPlan,
    settings: ClientSettings,
    envelope: Envelope,
    message: Vec<u8>,
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
    Fixture {
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

fn mailtls_delivery(f: &Fixture) -> usize {
    let attempt = Attempt::new(f.plan.clone(), Rung::Modern, Arc::clone(&f.verifier));
    let mut client = ClientSession::new(f.settings.clone(), attempt, NOW);
    let mut server = Server {
        config: Arc::clone(&f.server),
        tls: None,
        lines: Vec::new(),
        in_data: false,
        received: 0,
    };
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

fn transfer(from: &mut dyn FnMut(&mut Vec<u8>), to: &mut dyn FnMut(&[u8]), buf: &mut Vec<u8>) {
    buf.clear();
    from(buf);
    if !buf.is_empty() {
        to(buf);
    }
}

fn bare_pair(f: &Fixture) -> usize {
    let mut client = ClientConnection::new(
        Arc::clone(&f.bare_client),
        ServerName::try_from(MX).unwrap(),
    )
    .unwrap();
    let mut server = ServerConnection::new(Arc::clone(&f.server)).unwrap();
    let mut buf = Vec::new();
    while client.is_handshaking() || server.is_handshaking() || client.wants_write() {
        transfer(
            &mut |b| {
                while client.wants_write() {
                    client.write_tls(b).unwrap();
                }
            },
            &mut |b| {
                server.read_tls(&mut &b[..]).unwrap();
                server.process_new_packets().unwrap();
            },
            &mut buf,
        );
        transfer(
            &mut |b| {
                while server.wants_write() {
                    server.write_tls(b).unwrap();
                }
            },
            &mut |b| {
                client.read_tls(&mut &b[..]).unwrap();
                client.process_new_packets().unwrap();
            },
            &mut buf,
        );
    }
    client.writer().write_all(&f.message).unwrap();
    let mut received = Vec::new();
    transfer(
        &mut |b| {
            while client.wants_write() {
                client.write_tls(b).unwrap();
            }
        },
        &mut |b| {
            let mut rest = b;
            while !rest.is_empty() {
                server.read_tls(&mut rest).unwrap();
                server.process_new_packets().unwrap();
                let _ = server.reader().read_to_end(&mut received);
            }
        },
        &mut buf,
    );
    received.len()
}

fn main() {
    let f = fixture();
    assert_eq!(mailtls_delivery(&f), MESSAGE_LEN);
    assert_eq!(bare_pair(&f), MESSAGE_LEN);
    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("session");
        group.bench_function("mailtls_starttls_delivery", |b| {
            b.iter(|| black_box(mailtls_delivery(&f)))
        });
        group.bench_function("bare_rustls_pair", |b| b.iter(|| black_box(bare_pair(&f))));
        group.finish();
    }
    {
        // Where the difference goes: the per-attempt client configuration.
        let mut parts = c.benchmark_group("session_parts");
        let setup = mailtls::tls::ClientTlsSetup::new(Rung::Modern, Arc::clone(&f.verifier), NOW);
        parts.bench_function("client_config_per_attempt", |b| {
            b.iter(|| black_box(mailtls::tls::client_config(&setup).unwrap()))
        });
        parts.finish();
    }
    c.final_summary();
    print_ratio();
}

/// Reads criterion's estimates for the two functions and prints their ratio. Criterion
/// writes them under `<target dir>/criterion`; the bench binary lives in
/// `<target dir>/<profile>/deps`.
fn print_ratio() {
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")));
    let Some(dir) = from_exe else {
        return;
    };
    let mean = |name: &str| -> Option<f64> {
        let path = dir.join("session").join(name).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    if let (Some(ours), Some(bare)) = (mean("mailtls_starttls_delivery"), mean("bare_rustls_pair"))
    {
        println!(
            "session ratio mailtls/bare = {:.3} ({:.1} us vs {:.1} us)",
            ours / bare,
            ours / 1000.0,
            bare / 1000.0
        );
    }
}
