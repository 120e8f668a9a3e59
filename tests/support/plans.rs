//! Host plans, settings and sessions for client tests, one per Postfix level.

use std::sync::Arc;

use mailtls::cert::{Pin, PinDigest, PinTarget, TrustAnchors as CertAnchors};
use mailtls::client::{Attempt, ClientSession, ClientSettings, Envelope, PlanVerifiers};
use mailtls::names::{Dialect, HostId, NamePattern};
use mailtls::policy::ladder::Rung;
use mailtls::policy::{AnchorSource, HostPlan, Level};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use rustls::client::danger::ServerCertVerifier;

use super::drive::Message;
use super::pki::MX_NAME;
use super::NOW;

/// The plan for the test MX at `level` (pins: the test server's leaf; names: the MX name).
pub fn plan(level: Level) -> HostPlan {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        super::pki::pki().server.chain()[0].as_ref(),
    );
    let pin = Pin::new(
        PinTarget::CertificateOrPublicKey,
        PinDigest::Sha256,
        digest.as_ref().to_vec(),
    )
    .unwrap();
    let requirement = level.requirement(
        vec![NamePattern::parse(MX_NAME, Dialect::PostfixCertificate).unwrap()],
        vec![pin],
        AnchorSource::Public,
    );
    HostPlan::new(HostId::parse(MX_NAME).unwrap(), 25, requirement)
}

/// Client settings with the RFC defaults.
pub fn settings() -> ClientSettings {
    ClientSettings::new("relay.sender.example").unwrap()
}

/// A session at `level` on `rung` with `verifier`.
pub fn session(level: Level, rung: Rung, verifier: Arc<dyn ServerCertVerifier>) -> ClientSession {
    ClientSession::new(settings(), Attempt::new(plan(level), rung, verifier), NOW)
}

/// A message of `size` bytes in 1 KiB chunks, to two recipients.
pub fn message(size: usize) -> Message {
    let mut text = b"Subject: test\r\n\r\n".to_vec();
    let mut i = 0;
    while text.len() < size {
        // Every 7th line starts with a dot, to exercise dot-stuffing.
        if i % 7 == 0 {
            text.extend_from_slice(b".");
        }
        text.extend_from_slice(format!("line {i} of the test message\r\n").as_bytes());
        i += 1;
    }
    Message {
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse("alice@sender.example").unwrap()),
            vec![
                ForwardPath::Mailbox(Mailbox::parse("bob@example.com").unwrap()),
                ForwardPath::Mailbox(Mailbox::parse("carol@example.com").unwrap()),
            ],
        ),
        chunks: text.chunks(1024).map(<[u8]>::to_vec).collect(),
    }
}

/// The message text as a server must see it after dot-stuffing, terminator included.
pub fn stuffed(message: &Message) -> Vec<u8> {
    let text: Vec<u8> = message.chunks.concat();
    let mut out = Vec::new();
    let mut at_start = true;
    for &b in &text {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The standard verifier source, with the test CA as the public roots.
pub fn verifiers() -> PlanVerifiers {
    PlanVerifiers::new(CertAnchors::from_der([&super::pki::pki().ca]).unwrap())
}

/// A session at `level` on `rung` with the certificate module's verifier for the plan.
pub fn planned(level: Level, rung: Rung) -> ClientSession {
    let plan = plan(level);
    let handle = verifiers().verifier_for(&plan);
    ClientSession::new(settings(), Attempt::new(plan, rung, handle), NOW)
}
