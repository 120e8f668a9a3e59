//! Drives a [`ClientSession`] against a [`SmtpServer`] in memory, on a virtual clock.

use mailtls::client::{AttemptRecord, ClientEvent, ClientSession, Envelope};
use mailtls::Timestamp;

use super::smtp_server::SmtpServer;
use super::NOW;

/// A message to send when the session is ready.
#[derive(Clone, Debug)]
pub struct Message {
    /// The envelope.
    pub envelope: Envelope,
    /// The text, in the chunks the caller pushes.
    pub chunks: Vec<Vec<u8>>,
}

/// What happened in one run.
pub struct Run {
    /// Every event, in order.
    pub events: Vec<ClientEvent>,
    /// The attempt record from `Finished`.
    pub record: AttemptRecord,
    /// The server, with its log.
    pub server: SmtpServer,
    /// Every transmit the client made, in order.
    pub transmits: Vec<Vec<u8>>,
    /// The virtual time the session ended at.
    pub ended_at: Timestamp,
}

impl Run {
    /// Whether any MAIL FROM reached the server (in plaintext or in TLS).
    pub fn mail_sent(&self) -> bool {
        self.server
            .log
            .iter()
            .any(|r| r.line.to_ascii_uppercase().starts_with("MAIL"))
    }

    /// Whether a MAIL FROM reached the server in plaintext.
    pub fn plaintext_mail(&self) -> bool {
        self.server
            .log
            .iter()
            .any(|r| !r.tls && r.line.to_ascii_uppercase().starts_with("MAIL"))
    }
}

/// Runs `session` against `server`, sending `message` (then QUIT) when it is ready.
pub fn run(mut session: ClientSession, mut server: SmtpServer, message: Option<Message>) -> Run {
    let mut now = NOW;
    let mut events = Vec::new();
    let mut transmits = Vec::new();
    let mut record = None;
    let pending = message;
    let mut sent = false;
    session.handle_input(&server.greet(), now);
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            moved = true;
            match &event {
                ClientEvent::Ready => match (&pending, sent) {
                    (Some(m), false) => {
                        sent = true;
                        session.send_mail(&m.envelope, now).unwrap();
                    }
                    _ => session.quit(now).unwrap(),
                },
                ClientEvent::DataReady => {
                    let chunks = pending
                        .as_ref()
                        .map(|m| m.chunks.clone())
                        .unwrap_or_default();
                    let n = chunks.len();
                    for (i, chunk) in chunks.iter().enumerate() {
                        session.send_data(chunk, i + 1 == n, now).unwrap();
                    }
                    if n == 0 {
                        session.send_data(b"", true, now).unwrap();
                    }
                }
                ClientEvent::Finished(r) => record = Some((**r).clone()),
                _ => {}
            }
            events.push(event);
        }
        if let Some(bytes) = session.poll_transmit() {
            moved = true;
            transmits.push(bytes.clone());
            let reply = server.handle(&bytes);
            if !reply.is_empty() {
                session.handle_input(&reply, now);
            }
        }
        if record.is_some() && !moved {
            break;
        }
        if !moved {
            if server.closed {
                session.handle_eof(now);
            } else if let Some(deadline) = session.poll_timeout() {
                now = deadline;
                session.handle_timeout(now);
            } else if record.is_some() {
                break;
            }
        }
    }
    Run {
        events,
        record: record.expect("the session never finished"),
        server,
        transmits,
        ended_at: now,
    }
}
