//! Thin adapters that drive the sans-IO sessions over real byte streams.
//!
//! - [`blocking`] (feature `blocking`, the default): `std::net::TcpStream` or any
//!   `Read + Write`, one thread per connection.
//! - [`tokio`](mod@self::tokio) (feature `tokio`): tokio streams or any
//!   `AsyncRead + AsyncWrite`.
//!
//! Both do the same four things and nothing else: move bytes between the socket and the
//! session, writing everything the session has for the peer as one write per protocol flight
//! (never a write per line, so no delayed-ACK stall), and on TCP sockets acknowledging every
//! read at once (`TCP_QUICKACK` on Linux, re-armed after each read, so a peer behind Nagle
//! never waits 40 ms for our ACK); turn the session's
//! [`poll_timeout`](crate::Session::poll_timeout) into read deadlines; read the clock
//! ([`now`]); and hand the session's events to the application. Every protocol and policy
//! decision stays in the core. Each adapter has one loop that drives any
//! [`Session`](crate::Session), client or server, over a stream until it is closed; only
//! what answers the events differs (the messages to send, or the [`Application`]).
//!
//! Outbound, `deliver` (in either adapter) runs a [`client::Delivery`](crate::client::Delivery):
//! it connects to each candidate host in order through a [`Connector`] (connect timeout,
//! `TCP_NODELAY`, optional fixed routes), opens a new connection for each rung the ladder steps
//! down to, sends every [`Message`] over one connection while the session allows, and returns
//! a [`DeliveryReport`]. [`verifiers_for`] loads the `tafile` trust anchors a decision names
//! (the core reads no files) into the [`PlanVerifiers`](crate::client::PlanVerifiers) that
//! compiles each host's certificate verifier.
//!
//! With feature `dns`, [`dns`](mod@self::dns) looks up MX, addresses, TLSA and the discovery
//! TXT records with their DNSSEC status (hickory-resolver), and [`discover`] turns one
//! recipient domain into the core's discovery answers; `deliver_to_domain` (in either
//! adapter) then decides and delivers over the MX hosts it found.
//!
//! The public roots those verifiers chain to come from a [`PublicRoots`] store (the system
//! store by default, or the Mozilla set); [`StsFetcher`] performs the MTA-STS policy fetch
//! over HTTPS with the RFC 8461 rules ([`sts_fetch`]).
//!
//! The application side of an inbound session is an [`Application`]: a trait with one method,
//! implemented for closures too.
//!
//! ```
//! use mailtls::io::Answer;
//! use mailtls::server::ServerEvent;
//!
//! let mut stored = Vec::new();
//! let mut app = |event: &ServerEvent| {
//!     if let ServerEvent::MessageData(chunk) = event {
//!         stored.extend_from_slice(chunk);
//!     }
//!     Answer::Accept
//! };
//! # let _ = &mut app;
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::server::{CloseReason, ServerEvent, ServerSession};
use crate::smtp::Reply;
use crate::time::Timestamp;
use crate::tls::TlsFacts;

use self::drive::Handler;

mod admission;
mod anchors;
#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
#[cfg(feature = "dns")]
pub mod discover;
#[cfg(feature = "dns")]
pub mod dns;
mod drive;
pub mod events;
mod mailer;
#[cfg(any(feature = "sqlite", feature = "redis", feature = "reports"))]
pub mod store;
pub mod sts_fetch;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use admission::{ConnectionLimits, ListenerNotice, Overload};
pub use anchors::{
    load_anchor_files, load_trust_anchors, needs_public_roots, verifiers_for, verifiers_for_hosts,
    AnchorError, PublicRoots, PublicRootsError, UnknownPublicRoots,
};
pub use client::{Connector, DeliveryReport, Message};
pub use mailer::Mailer;
pub use sts_fetch::{PostTarget, ReportPostError, StsFetcher};

/// `TCP_QUICKACK` on Linux: without it, a peer that writes a small reply and waits for our ACK
/// before its next write (Postfix, behind Nagle) stalls 40 ms on our delayed ACK, once per new
/// connection (21 messages/s into a local Postfix with a connection each, 230-270 with it).
/// Linux leaves quick-ACK mode by itself, so the adapters re-arm it after every read. Best
/// effort: a socket that refuses it keeps working as before.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn quick_ack<'a, T>(socket: &'a T)
where
    socket2::SockRef<'a>: From<&'a T>,
{
    let _ = socket2::SockRef::from(socket).set_tcp_quickack(true);
}

/// Elsewhere there is no `TCP_QUICKACK`: nothing to do.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn quick_ack<T>(_socket: &T) {}

/// The wall clock as the core's [`Timestamp`].
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Timestamp::from_since_epoch(since)
}

/// The time left until `deadline`, zero when it has passed.
pub fn until(deadline: Timestamp) -> Duration {
    deadline.saturating_duration_since(now())
}

/// The application's answer to an inbound event.
///
/// Only [`ServerEvent::MailFrom`], [`ServerEvent::RcptTo`] and [`ServerEvent::MessageEnd`]
/// wait for an answer; for every other event the answer is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Accept with the standard `250` reply.
    Accept,
    /// Accept with `250` and this text (a queue id, say).
    AcceptWith(String),
    /// Refuse with this 4xx or 5xx reply.
    Reject(Reply),
}

/// What an inbound session hands to the application: every event, in order.
///
/// Implemented for every `FnMut(&ServerEvent) -> Answer`.
pub trait Application {
    /// One event of the session; the answer matters for the three events that wait for one.
    fn on_event(&mut self, event: &ServerEvent) -> Answer;
}

impl<F> Application for F
where
    F: FnMut(&ServerEvent) -> Answer,
{
    fn on_event(&mut self, event: &ServerEvent) -> Answer {
        self(event)
    }
}

/// How an inbound session ended, for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionEnd {
    /// Why the session closed, when it closed itself (`None` when the transport failed).
    pub reason: Option<CloseReason>,
    /// The TLS session's facts, when TLS was established.
    pub tls: Option<TlsFacts>,
    /// Bytes read from the peer.
    pub bytes_in: u64,
    /// Bytes written to the peer.
    pub bytes_out: u64,
}

/// The server's half of the adapter loop: hands every event to the [`Application`] and
/// applies its answers, noting for the [`SessionEnd`] how the session closed and its TLS.
pub(crate) struct Answering<'a, A: ?Sized> {
    app: &'a mut A,
    end: SessionEnd,
}

impl<'a, A: Application + ?Sized> Answering<'a, A> {
    pub(crate) fn new(app: &'a mut A) -> Self {
        Self {
            app,
            end: SessionEnd::default(),
        }
    }

    /// How the session ended, with the traffic the loop counted.
    pub(crate) fn end(self, bytes_in: u64, bytes_out: u64) -> SessionEnd {
        SessionEnd {
            bytes_in,
            bytes_out,
            ..self.end
        }
    }
}

impl<A: Application + ?Sized> Handler<ServerSession> for Answering<'_, A> {
    fn on_event(&mut self, session: &mut ServerSession, event: ServerEvent) {
        events::server_event(&event);
        match &event {
            ServerEvent::Closed(reason) => self.end.reason = Some(reason.clone()),
            ServerEvent::TlsEstablished { facts, .. } => self.end.tls = Some(facts.clone()),
            _ => {}
        }
        let answer = self.app.on_event(&event);
        let asks = matches!(
            event,
            ServerEvent::MailFrom(_) | ServerEvent::RcptTo(_) | ServerEvent::MessageEnd { .. }
        );
        // Events queue ahead of the one that waits: only the waiting event's own answer is
        // applied.
        if asks && session.pending().is_some() {
            let applied = match answer {
                Answer::Accept => session.accept(),
                Answer::AcceptWith(text) => {
                    session.accept_with(&text).or_else(|_| session.accept())
                }
                Answer::Reject(reply) => session.reject(&reply),
            };
            // A reject with a reply that refuses nothing is the application's bug; closing
            // (421) is the safe way out, never an accept it did not give.
            if applied.is_err() {
                session.close();
            }
        }
    }

    fn holds_input(&self, session: &ServerSession) -> bool {
        session.pending().is_some()
    }
}
