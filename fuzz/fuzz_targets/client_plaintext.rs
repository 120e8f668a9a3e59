//! Arbitrary server bytes against a client session through its plaintext phase: no panic, no
//! unbounded buffering, and under a plan that requires TLS no MAIL FROM ever leaves in
//! plaintext, whatever the server says.
//!
//! The first byte picks the plan (bits 0-1: may, encrypt, verify; bit 2: pipelining off) and
//! whether the input is mapped onto an SMTP alphabet (bit 3) so the fuzzer reaches deep
//! grammar fast. The second byte is the read size, so replies arrive split every way.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailtls::client::{Attempt, ClientEvent, ClientSession, ClientSettings, Envelope};
use mailtls::names::{Dialect, HostId, NamePattern};
use mailtls::policy::ladder::Rung;
use mailtls::policy::{HostPlan, Level, AnchorSource};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::Timestamp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

const ALPHABET: &[u8] = b"0123456789 -\r\n.STARTTLSPIPELINGSIZE8BITMIMEREQUIRETLSmx.example\r\n";

/// Refuses every certificate: the plaintext phase never needs one.
#[derive(Debug)]
struct RefuseAll;

impl ServerCertVerifier for RefuseAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General("fuzzing".into()))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("fuzzing".into()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("fuzzing".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ECDSA_NISTP256_SHA256]
    }
}

struct Fixture {
    plans: [HostPlan; 3],
    envelope: Envelope,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let host = HostId::parse("mx.example.com").expect("host");
        let names =
            vec![NamePattern::parse("mx.example.com", Dialect::PostfixCertificate).expect("name")];
        let plan = |level: Level| {
            HostPlan::new(
                host.clone(),
                25,
                level.requirement(names.clone(), Vec::new(), AnchorSource::Public),
            )
        };
        Fixture {
            plans: [plan(Level::May), plan(Level::Encrypt), plan(Level::Verify)],
            envelope: Envelope::new(
                ReversePath::Mailbox(Mailbox::parse("a@sender.example").expect("from")),
                vec![ForwardPath::Mailbox(
                    Mailbox::parse("b@example.com").expect("to"),
                )],
            )
            .with_size(100),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&read, rest)) = rest.split_first() else {
        return;
    };
    let fixture = fixture();
    let plan = fixture.plans[usize::from(flags & 3) % 3].clone();
    let requires_tls = plan.requirement.requires_tls();
    let input: Vec<u8> = if flags & 8 != 0 {
        rest.iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
            .collect()
    } else {
        rest.to_vec()
    };
    let settings = ClientSettings::new("relay.sender.example")
        .expect("settings")
        .with_pipelining(flags & 4 == 0);
    let mut now = Timestamp::from_unix_secs(1_800_000_000);
    let mut session = ClientSession::new(
        settings,
        Attempt::new(
            plan,
            Rung::Modern,
            Arc::new(RefuseAll) as Arc<dyn ServerCertVerifier>,
        ),
        now,
    );
    let mut sent = false;
    let mut tls = false;
    for chunk in input.chunks(usize::from(read).max(1)) {
        session.handle_input(chunk, now);
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::TlsEstablished(_) => tls = true,
                ClientEvent::Ready if !sent => {
                    sent = true;
                    let _ = session.send_mail(&fixture.envelope, now);
                }
                ClientEvent::Ready => {
                    let _ = session.quit(now);
                }
                ClientEvent::DataReady => {
                    let _ = session.send_data(b".hello\r\n", true, now);
                }
                _ => {}
            }
        }
        while let Some(bytes) = session.poll_transmit() {
            let plaintext_mail = bytes.windows(10).any(|w| w == b"MAIL FROM:");
            assert!(
                !(requires_tls && !tls && plaintext_mail),
                "MAIL FROM in plaintext under a plan that requires TLS"
            );
        }
        if session.is_finished() {
            break;
        }
        now = now.saturating_add(Duration::from_secs(1));
    }
    if let Some(deadline) = session.poll_timeout() {
        session.handle_timeout(deadline);
    }
    session.handle_eof(now);
    while session.poll_event().is_some() {}
    while session.poll_transmit().is_some() {}
});
