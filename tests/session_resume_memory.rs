//! Sessions built once and bounded: the server's TLS configuration is shared so that a
//! returning client resumes; the client resumes per destination *and* policy, and a resumed
//! session must still satisfy the attempt's certificate requirement (hostile); and however
//! input arrives (one huge buffer, one byte at a time), the sessions hold bounded buffers and
//! give back what a burst took. Memory is measured as held capacity
//! (`buffered_bytes`), never time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use mailtls::client::{
    Attempt, AttemptRecord, AttemptResult, ClientEvent, ClientSession, ClientSettings,
};
use mailtls::names::{Dialect, NamePattern};
use mailtls::policy::ladder::{FailureClass, Rung};
use mailtls::policy::{AnchorSource, Level};
use mailtls::server::{ClientInfo, ServerConfig, ServerEvent, ServerSession, ServerTls};
use mailtls::tls::{server_config, ResumptionCache, ServerTlsSetup, TlsEngine, TlsFacts};
use support::drive::Message;
use support::pki::{pki, MX_NAME};
use support::plans::{message, plan, settings, verifiers};
use support::NOW;

struct Run {
    record: AttemptRecord,
    server_tls: Option<TlsFacts>,
    /// What the server judged the client certificate to be.
    client_certificate: Option<mailtls::cert::Outcome>,
    data_len: usize,
    /// The most buffer capacity the server session held after any input call.
    server_peak: usize,
    server_after: usize,
}

/// One delivery from `client` into a fresh session of the shared `config`, feeding the
/// server `step` bytes at a time (0: everything at once).
fn deliver(
    mut client: ClientSession,
    config: &Arc<ServerConfig>,
    msg: &Message,
    step: usize,
) -> Run {
    let ip = "192.0.2.25".parse().unwrap();
    let mut server = ServerSession::new(Arc::clone(config), ClientInfo { ip }, NOW);
    let (mut record, mut server_tls, mut data_len, mut sent) = (None, None, 0, false);
    let mut server_peak = 0;
    let mut client_certificate = None;
    let mut to_server = Vec::new();
    for _ in 0..100_000 {
        let mut moved = false;
        while let Some(bytes) = server.poll_transmit() {
            moved = true;
            client.handle_input(&bytes, NOW);
        }
        if let Some(bytes) = client.poll_transmit() {
            moved = true;
            to_server.extend_from_slice(&bytes);
        }
        // The server takes what fits; the rest waits until its events were taken.
        let piece = if step == 0 {
            to_server.len()
        } else {
            step.min(to_server.len())
        };
        if piece > 0 {
            let n = server.handle_input(&to_server[..piece], NOW);
            server_peak = server_peak.max(server.buffered_bytes());
            to_server.drain(..n);
            moved |= n > 0;
        }
        while let Some(event) = server.poll_event() {
            moved = true;
            match event {
                ServerEvent::MessageData(chunk) => data_len += chunk.len(),
                ServerEvent::TlsEstablished {
                    facts,
                    client_certificate: outcome,
                } => {
                    server_tls = Some(facts);
                    client_certificate = outcome.map(|o| *o);
                }
                _ => {}
            }
        }
        if server.pending().is_some() {
            moved = true;
            server.accept().unwrap();
        }
        while let Some(event) = client.poll_event() {
            moved = true;
            match event {
                ClientEvent::Ready if !sent => {
                    sent = true;
                    client.send_mail(&msg.envelope, NOW).unwrap();
                }
                ClientEvent::Ready => client.quit(NOW).unwrap(),
                ClientEvent::DataReady => {
                    let n = msg.chunks.len();
                    for (i, chunk) in msg.chunks.iter().enumerate() {
                        client.send_data(chunk, i + 1 == n, NOW).unwrap();
                    }
                }
                ClientEvent::Finished(r) => record = Some(*r),
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    Run {
        record: record.expect("the client finished"),
        server_tls,
        client_certificate,
        data_len,
        server_peak,
        server_after: server.buffered_bytes(),
    }
}

fn shared_server() -> Arc<ServerConfig> {
    let mut config = ServerConfig::new(MX_NAME);
    config.tls = Some(ServerTls::new(pki().server.clone(), Rung::Modern));
    Arc::new(config)
}

fn resuming(cache: &Arc<ResumptionCache>) -> ClientSettings {
    settings().with_resumption(Some(Arc::clone(cache)))
}

fn verified_attempt(level: Level) -> Attempt {
    let plan = plan(level);
    let handle = verifiers().verifier_for(&plan);
    Attempt::new(plan, Rung::Modern, handle)
}

fn resumed(run: &Run) -> bool {
    run.record.tls.as_ref().is_some_and(|t| t.facts.resumed)
}

#[test]
fn a_returning_client_resumes_on_the_shared_server_configuration() {
    let server = shared_server();
    let cache = Arc::new(ResumptionCache::new(16));
    let msg = message(2048);
    let first = deliver(
        ClientSession::new(resuming(&cache), verified_attempt(Level::Verify), NOW),
        &server,
        &msg,
        0,
    );
    assert_eq!(first.record.result, AttemptResult::Completed { tls: true });
    assert!(!resumed(&first));
    let second = deliver(
        ClientSession::new(resuming(&cache), verified_attempt(Level::Verify), NOW),
        &server,
        &msg,
        0,
    );
    assert_eq!(second.record.result, AttemptResult::Completed { tls: true });
    assert!(resumed(&second), "the second handshake resumed");
    assert!(second.server_tls.unwrap().resumed);
    let tls = second.record.tls.unwrap();
    // The chain of the first handshake, judged again by this attempt's verifier.
    assert!(!tls.facts.peer_chain.is_empty());
    assert_eq!(tls.trust, mailtls::cert::TrustLevel::Verified);
    assert!(tls.verification.is_some_and(|o| o.is_verified()));
    assert_eq!(second.data_len, first.data_len);
}

#[test]
fn without_a_cache_nothing_resumes() {
    let server = shared_server();
    let msg = message(512);
    for _ in 0..2 {
        let run = deliver(
            ClientSession::new(settings(), verified_attempt(Level::Verify), NOW),
            &server,
            &msg,
            0,
        );
        assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
        assert!(!resumed(&run));
    }
}

/// Hostile: a session made under `encrypt` (no certificate check) with a server whose
/// certificate names someone else is never offered under `verify`: the second attempt runs a
/// full handshake and its verifier refuses the name.
#[test]
fn a_session_from_a_weaker_policy_is_never_resumed_under_a_stronger_one() {
    let mut config = ServerConfig::new(MX_NAME);
    config.tls = Some(ServerTls::new(pki().wrong_name.clone(), Rung::Modern));
    let server = Arc::new(config);
    let cache = Arc::new(ResumptionCache::new(16));
    let msg = message(512);
    let weak = deliver(
        ClientSession::new(resuming(&cache), verified_attempt(Level::Encrypt), NOW),
        &server,
        &msg,
        0,
    );
    assert_eq!(weak.record.result, AttemptResult::Completed { tls: true });
    let strong = deliver(
        ClientSession::new(resuming(&cache), verified_attempt(Level::Verify), NOW),
        &server,
        &msg,
        0,
    );
    assert!(
        matches!(
            strong.record.result,
            AttemptResult::TlsFailed {
                class: FailureClass::Certificate,
                ..
            }
        ),
        "{:?}",
        strong.record.result
    );
    assert_eq!(strong.data_len, 0);
    assert!(strong.server_tls.is_none_or(|t| !t.resumed));
}

/// Hostile: even under the same policy key, a resumed session is trusted only when this
/// attempt's verifier accepts the chain the first handshake presented. Here the second
/// attempt's verifier wants another name: the resumed session is refused before any mail.
#[test]
fn a_resumed_session_must_still_satisfy_the_attempts_verifier() {
    let server = shared_server();
    let cache = Arc::new(ResumptionCache::new(16));
    let msg = message(512);
    let first = deliver(
        ClientSession::new(resuming(&cache), verified_attempt(Level::Verify), NOW),
        &server,
        &msg,
        0,
    );
    assert_eq!(first.record.result, AttemptResult::Completed { tls: true });
    // The same plan (same cache key), a verifier compiled for a name the certificate lacks.
    let mut other = plan(Level::Verify);
    other.requirement = Level::Verify.requirement(
        vec![NamePattern::parse("other.example", Dialect::PostfixCertificate).unwrap()],
        Vec::new(),
        AnchorSource::Public,
    );
    let handle = verifiers().verifier_for(&other);
    let attempt = Attempt::new(plan(Level::Verify), Rung::Modern, handle);
    let second = deliver(
        ClientSession::new(resuming(&cache), attempt, NOW),
        &server,
        &msg,
        0,
    );
    assert!(
        matches!(
            second.record.result,
            AttemptResult::TlsFailed {
                class: FailureClass::Certificate,
                ..
            }
        ),
        "{:?}",
        second.record.result
    );
    assert!(
        second.server_tls.is_some_and(|t| t.resumed),
        "it did resume"
    );
    assert_eq!(second.data_len, 0, "no mail over a refused resumed session");
}

#[test]
fn server_buffers_shrink_back_after_a_large_message_fed_at_once_or_byte_by_byte() {
    let server = shared_server();
    let big = message(1024 * 1024);
    let run = deliver(
        ClientSession::new(settings(), verified_attempt(Level::Verify), NOW),
        &server,
        &big,
        0,
    );
    assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
    // Bounded while the burst runs (the input buffer limit plus one flight), small after.
    let limit = mailtls::server::Limits::default().input_buffer;
    assert!(run.server_peak <= 2 * limit, "peak {}", run.server_peak);
    assert!(run.server_after <= 16 * 1024, "after {}", run.server_after);
    let small = message(4 * 1024);
    let run = deliver(
        ClientSession::new(settings(), verified_attempt(Level::Verify), NOW),
        &server,
        &small,
        1,
    );
    assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
    assert!(run.server_peak <= 16 * 1024, "peak {}", run.server_peak);
}

/// A client handed 1 MiB of ciphertext in one call reads it a TLS record's worth at a time:
/// it never holds the decrypted whole. The server (a bare TLS engine) answers the post-TLS
/// EHLO with one endless multiline reply, which the reply parser refuses at its line limit.
#[test]
fn a_client_fed_one_mebibyte_of_ciphertext_holds_a_slice_of_it() {
    let config = server_config(&ServerTlsSetup::new(
        Rung::Modern,
        pki().server.clone(),
        NOW,
    ))
    .unwrap();
    let mut tls = TlsEngine::server(config).unwrap();
    let mut client = ClientSession::new(settings(), verified_attempt(Level::Encrypt), NOW);
    client.handle_input(b"220 mx.example.com ESMTP\r\n", NOW);
    let _ehlo = client.poll_transmit().unwrap();
    client.handle_input(b"250-mx.example.com\r\n250 STARTTLS\r\n", NOW);
    let _starttls = client.poll_transmit().unwrap();
    client.handle_input(b"220 2.0.0 go ahead\r\n", NOW);
    let mut plain = Vec::new();
    for _ in 0..10 {
        let Some(bytes) = client.poll_transmit() else {
            break;
        };
        tls.handle_ciphertext(&bytes, &mut plain).unwrap();
        let mut back = Vec::new();
        tls.drain_ciphertext(&mut back);
        if !back.is_empty() {
            client.handle_input(&back, NOW);
        }
    }
    assert!(plain.starts_with(b"EHLO "), "the post-TLS EHLO arrived");
    let line = [b"250-".as_slice(), &[b'x'; 1000], b"\r\n"].concat();
    let mut reply = Vec::with_capacity(1024 * 1024 + line.len());
    while reply.len() < 1024 * 1024 {
        reply.extend_from_slice(&line);
    }
    let mut wire = Vec::new();
    tls.encrypt(&reply, &mut wire).unwrap();
    assert!(wire.len() > 1024 * 1024);
    assert_eq!(client.handle_input(&wire, NOW), wire.len());
    // At most one slice of plaintext and the reply lines the parser allows (128 lines of
    // 1006 octets), never the mebibyte.
    let held = client.buffered_bytes();
    assert!(held < 200 * 1024, "held {held}");
    assert!(client.is_finished());
}

/// The server's one verifier records nothing per connection: each session judges the chain
/// itself after the handshake, a resumed one included (its chain is the first handshake's).
#[test]
fn a_resumed_inbound_session_has_its_client_certificate_judged_again() {
    use mailtls::cert::{CertificateCheck, ClientCertRequest, OnFailure, TrustAnchors, TrustLevel};
    use mailtls::server::ClientAuth;
    let anchors = Arc::new(TrustAnchors::from_der([&pki().ca]).unwrap());
    let mut tls = ServerTls::new(pki().server.clone(), Rung::Modern);
    tls.client_auth = Some(ClientAuth {
        certificate: ClientCertRequest::Optional,
        requirement: CertificateCheck::Chain {
            anchors: Arc::clone(&anchors),
        },
        on_failure: OnFailure::Continue,
        hints: Some(anchors),
    });
    let mut config = ServerConfig::new(MX_NAME);
    config.tls = Some(tls);
    let server = Arc::new(config);
    let cache = Arc::new(ResumptionCache::new(4));
    let msg = message(512);
    for round in 0..2 {
        let attempt = verified_attempt(Level::Verify).with_identity(Some(pki().client.clone()));
        let run = deliver(
            ClientSession::new(resuming(&cache), attempt, NOW),
            &server,
            &msg,
            0,
        );
        assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
        assert_eq!(run.server_tls.unwrap().resumed, round == 1, "round {round}");
        let outcome = run.client_certificate.expect("the certificate was judged");
        assert_eq!(outcome.trust, TrustLevel::Trusted, "round {round}");
        assert!(outcome.facts.is_some());
    }
}
