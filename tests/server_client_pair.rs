//! The server session against the crate's own client session, wired back to back in memory:
//! a delivery over STARTTLS arrives intact, and a client whose policy requires TLS never
//! runs a plaintext transaction against a server without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use mailtls::client::{AttemptRecord, AttemptResult, ClientEvent, ClientSession};
use mailtls::policy::ladder::Rung;
use mailtls::policy::Level;
use mailtls::server::{ClientInfo, ServerConfig, ServerEvent, ServerSession, ServerTls};
use mailtls::Session;
use support::drive::Message;
use support::pki::{pki, MX_NAME};
use support::plans::{message, planned};
use support::NOW;

struct Outcome {
    record: Option<AttemptRecord>,
    server_events: Vec<ServerEvent>,
    data: Vec<u8>,
}

/// Runs `client` against `server` until neither moves, delivering `msg`; the application
/// side of the server accepts everything.
fn pair(mut client: ClientSession, mut server: ServerSession, msg: &Message) -> Outcome {
    let now = NOW;
    let mut out = Outcome {
        record: None,
        server_events: Vec::new(),
        data: Vec::new(),
    };
    let mut sent = false;
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(bytes) = server.poll_transmit() {
            moved = true;
            client.handle_input(&bytes, now);
        }
        while let Some(bytes) = client.poll_transmit() {
            moved = true;
            assert_eq!(server.handle_input(&bytes, now), bytes.len());
        }
        while let Some(event) = server.poll_event() {
            moved = true;
            if let ServerEvent::MessageData(chunk) = &event {
                out.data.extend_from_slice(chunk);
            }
            out.server_events.push(event);
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
                    client.send_mail(&msg.envelope, now).unwrap();
                }
                ClientEvent::Ready => client.quit(now).unwrap(),
                ClientEvent::DataReady => {
                    let n = msg.chunks.len();
                    for (i, chunk) in msg.chunks.iter().enumerate() {
                        client.send_data(chunk, i + 1 == n, now).unwrap();
                    }
                }
                ClientEvent::Finished(record) => out.record = Some((*record).clone()),
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    out
}

fn server(tls: bool) -> ServerSession {
    let mut config = ServerConfig::new(MX_NAME);
    if tls {
        config.tls = Some(ServerTls::new(pki().server.clone(), Rung::Modern));
    }
    let client = ClientInfo {
        ip: "192.0.2.25".parse().unwrap(),
    };
    ServerSession::new(Arc::new(config), client, NOW)
}

#[test]
fn a_verified_delivery_over_starttls_arrives_intact() {
    let msg = message(8 * 1024);
    let out = pair(planned(Level::Verify, Rung::Modern), server(true), &msg);
    let record = out.record.expect("the client finished");
    assert_eq!(record.result, AttemptResult::Completed { tls: true });
    assert_eq!(out.data, msg.chunks.concat(), "dot-unstuffed text");
    let greetings: Vec<bool> = out
        .server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Greeted { extended, .. } => Some(*extended),
            _ => None,
        })
        .collect();
    assert_eq!(greetings, [true, true], "EHLO before and again after TLS");
    assert!(out
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::TlsEstablished { .. })));
    assert!(!out
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::PlaintextDiscarded { .. })));
    let recipients = out
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::RcptTo(_)))
        .count();
    assert_eq!(recipients, 2);
}

#[test]
fn a_client_that_requires_tls_never_sends_mail_to_a_server_without_it() {
    let msg = message(1024);
    let out = pair(planned(Level::Encrypt, Rung::Modern), server(false), &msg);
    let record = out.record.expect("the client finished");
    assert!(
        !matches!(record.result, AttemptResult::Completed { .. }),
        "{:?}",
        record.result
    );
    assert!(!out
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::MailFrom(_))));
    assert!(out.data.is_empty());
}

/// Moves every byte `from` has for its peer into `to` through the shared [`Session`] surface;
/// returns whether any moved.
fn shuttle<A: Session, B: Session>(from: &mut A, to: &mut B) -> bool {
    let mut wire = Vec::new();
    if from.poll_transmit_into(&mut wire) == 0 {
        return false;
    }
    let mut rest = wire.as_slice();
    while !rest.is_empty() {
        let taken = to.handle_input(rest, NOW);
        assert!(taken > 0, "an idle session takes input");
        rest = &rest[taken..];
    }
    true
}

#[test]
fn both_sessions_are_driven_through_one_session_surface_until_closed() {
    let mut client = planned(Level::Verify, Rung::Modern);
    let mut server = server(true);
    let mut record = None;
    let mut sent = false;
    let msg = message(1024);
    for _ in 0..10_000 {
        let mut moved = shuttle(&mut server, &mut client) | shuttle(&mut client, &mut server);
        while let Some(event) = Session::poll_event(&mut server) {
            moved = true;
            if matches!(
                event,
                ServerEvent::MailFrom(_) | ServerEvent::RcptTo(_) | ServerEvent::MessageEnd { .. }
            ) {
                server.accept().unwrap();
            }
        }
        while let Some(event) = Session::poll_event(&mut client) {
            moved = true;
            match event {
                ClientEvent::Ready if !sent => {
                    sent = true;
                    client.send_mail(&msg.envelope, NOW).unwrap();
                }
                ClientEvent::Ready => client.quit(NOW).unwrap(),
                ClientEvent::DataReady => {
                    client.send_data(&msg.chunks.concat(), true, NOW).unwrap()
                }
                ClientEvent::Finished(r) => record = Some(*r),
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    let record = record.expect("the client finished");
    assert_eq!(record.result, AttemptResult::Completed { tls: true });
    // The server closes once its 221 is out; the client once QUIT's reply ended it and every
    // byte (the close_notify) was handed out.
    assert!(Session::is_closed(&server));
    assert!(Session::is_closed(&client));
    assert_eq!(Session::poll_timeout(&client), None);
    assert_eq!(Session::poll_timeout(&server), None);
}
