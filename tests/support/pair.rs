//! The real client against the real server, in memory, in the quinn-proto test style.
//!
//! A [`Pair`] wires a [`ClientSession`] (taken from a [`Delivery`], so it runs the one
//! outbound path) to a [`ServerSession`] back to back. [`Pair::drive`] steps both until
//! neither can move, then jumps `now` to the earlier of their deadlines, so timeouts are
//! tested without sleeping. The server's application answers come from a [`Peer`] (accept
//! everything unless told otherwise), which can also tamper with bytes in flight.
//! [`deliver`] runs a whole delivery: one fresh pair per attempt, since every attempt
//! (a retry on a lower rung included) is a new connection.
//!
//! ```text
//!   Delivery ─next_session─► ClientSession ─bytes─► tamper ─► ServerSession ─events─► Peer
//!                            ClientSession ◄─ tamper ◄─bytes─ ServerSession ◄─answers─┘
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use mailtls::client::{AttemptRecord, ClientEvent, ClientSession, Delivery, DeliveryOutcome};
use mailtls::policy::ladder::Rung;
use mailtls::server::{ClientInfo, ServerConfig, ServerEvent, ServerSession, ServerTls};
use mailtls::smtp::{ForwardPath, Reply, ReversePath};
use mailtls::tls::TlsIdentity;
use mailtls::Timestamp;

use super::drive::Message;
use super::pki::MX_NAME;
use super::NOW;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// How the server's application answers a `MAIL FROM`, `RCPT TO` or end of message:
/// `None` accepts, `Some(reply)` refuses with that 4xx/5xx reply.
pub type Answer = Box<dyn FnMut(&ServerEvent) -> Option<Reply>>;

/// A hook that sees (and may change) every flight of bytes before it is delivered.
pub type Tamper = Box<dyn FnMut(Direction, &mut Vec<u8>)>;

/// The receiving side of every connection: the server's configuration, its application's
/// answers, and an optional tamper hook. It outlives the pairs of one delivery.
pub struct Peer {
    /// The configuration every session shares.
    pub config: Arc<ServerConfig>,
    answer: Answer,
    tamper: Tamper,
}

impl Peer {
    /// A server named [`MX_NAME`] offering STARTTLS with `identity` (none: no STARTTLS),
    /// accepting everything, touching no byte.
    pub fn new(identity: Option<&TlsIdentity>) -> Self {
        let mut config = ServerConfig::new(MX_NAME);
        config.tls = identity.map(|id| ServerTls::new(id.clone(), Rung::Modern));
        Self {
            config: Arc::new(config),
            answer: Box::new(|_| None),
            tamper: Box::new(|_, _| {}),
        }
    }

    /// The same peer, whose application answers with `answer`.
    pub fn answering(
        mut self,
        answer: impl FnMut(&ServerEvent) -> Option<Reply> + 'static,
    ) -> Self {
        self.answer = Box::new(answer);
        self
    }

    /// The same peer, with `tamper` on the wire.
    pub fn tampering(mut self, tamper: impl FnMut(Direction, &mut Vec<u8>) + 'static) -> Self {
        self.tamper = Box::new(tamper);
        self
    }
}

/// A message the server's application took (it answered the end of data with 250).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The reverse path.
    pub from: ReversePath,
    /// The recipients it accepted.
    pub to: Vec<ForwardPath>,
    /// The text, dot-unstuffed, without the terminating dot.
    pub data: Vec<u8>,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// One connection: a client session and a server session, and the virtual clock.
pub struct Pair {
    /// The client side.
    pub client: ClientSession,
    /// The server side.
    pub server: ServerSession,
    /// The virtual time.
    pub now: Timestamp,
    /// The receiving side's behaviour.
    pub peer: Peer,
    /// Every client event, in order.
    pub client_events: Vec<ClientEvent>,
    /// Every server event, in order.
    pub server_events: Vec<ServerEvent>,
    /// The messages the server's application took.
    pub received: Vec<Received>,
    /// Client bytes the server has not taken yet (it holds input while an answer is due).
    to_server: Vec<u8>,
    /// The message to send once, then QUIT.
    message: Option<Message>,
    sent: bool,
    /// The transaction the server is receiving.
    receiving: Option<Received>,
    /// Whether each side has seen the other close.
    client_eof: bool,
    server_eof: bool,
}

impl Pair {
    /// Connects `client` to a new server session of `peer` at `now`.
    pub fn new(client: ClientSession, peer: Peer, now: Timestamp) -> Self {
        let info = ClientInfo {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        };
        let server = ServerSession::new(Arc::clone(&peer.config), info, now);
        Self {
            client,
            server,
            now,
            peer,
            client_events: Vec::new(),
            server_events: Vec::new(),
            received: Vec::new(),
            to_server: Vec::new(),
            message: None,
            sent: false,
            receiving: None,
            client_eof: false,
            server_eof: false,
        }
    }

    /// The pair with `message` to send when the client is ready (without one it just QUITs).
    pub fn with_message(mut self, message: Option<Message>) -> Self {
        self.message = message;
        self
    }

    /// Runs the connection to its end and returns the client's record. Steps both sides
    /// until neither moves, then advances the clock to the earliest deadline.
    pub fn drive(&mut self) -> AttemptRecord {
        for _ in 0..100_000 {
            if self.step() {
                continue;
            }
            if let Some(record) = self.record() {
                if self.server.is_closed() {
                    return record;
                }
            }
            // Quiet: only time can move things now.
            let deadline = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(deadline) = deadline else {
                return self
                    .record()
                    .expect("both sides are stuck and the client never finished");
            };
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
        panic!("the pair never settled")
    }

    /// The client's record, once it finished.
    pub fn record(&self) -> Option<AttemptRecord> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Finished(record) => Some((**record).clone()),
            _ => None,
        })
    }

    /// One round: bytes both ways, then both sides' events. Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(mut bytes) = self.server.poll_transmit() {
            moved = true;
            (self.peer.tamper)(Direction::ToClient, &mut bytes);
            self.client.handle_input(&bytes, self.now);
        }
        while let Some(mut bytes) = self.client.poll_transmit() {
            moved = true;
            (self.peer.tamper)(Direction::ToServer, &mut bytes);
            self.to_server.extend_from_slice(&bytes);
        }
        if !self.to_server.is_empty() {
            let taken = self.server.handle_input(&self.to_server, self.now);
            moved |= taken > 0;
            self.to_server.drain(..taken.min(self.to_server.len()));
        }
        moved |= self.server_events();
        moved |= self.client_events();
        moved | self.closes()
    }

    /// The application side of the server: records events and answers those that wait.
    fn server_events(&mut self) -> bool {
        let mut moved = false;
        while let Some(event) = self.server.poll_event() {
            moved = true;
            let waits = matches!(
                event,
                ServerEvent::MailFrom(_) | ServerEvent::RcptTo(_) | ServerEvent::MessageEnd { .. }
            );
            let refusal = if waits {
                (self.peer.answer)(&event)
            } else {
                None
            };
            match (&event, &refusal) {
                (ServerEvent::MailFrom(mail), None) => {
                    self.receiving = Some(Received {
                        from: mail.from.clone(),
                        to: Vec::new(),
                        data: Vec::new(),
                        tls: self.server.is_tls(),
                    });
                }
                (ServerEvent::RcptTo(rcpt), None) => {
                    if let Some(r) = self.receiving.as_mut() {
                        r.to.push(rcpt.to.clone());
                    }
                }
                (ServerEvent::MessageData(chunk), _) => {
                    if let Some(r) = self.receiving.as_mut() {
                        r.data.extend_from_slice(chunk);
                    }
                }
                (ServerEvent::MessageEnd { .. }, None) => {
                    self.received.extend(self.receiving.take());
                }
                (ServerEvent::MessageEnd { .. }, Some(_))
                | (ServerEvent::MessageAborted(_) | ServerEvent::Reset, _) => {
                    self.receiving = None;
                }
                _ => {}
            }
            if waits {
                match &refusal {
                    None => self.server.accept().unwrap(),
                    Some(reply) => self.server.reject(reply).unwrap(),
                }
            }
            self.server_events.push(event);
        }
        moved
    }

    /// The sending application: one message when the session is ready, then QUIT.
    fn client_events(&mut self) -> bool {
        let mut moved = false;
        while let Some(event) = self.client.poll_event() {
            moved = true;
            match &event {
                ClientEvent::Ready => match (&self.message, self.sent) {
                    (Some(message), false) => {
                        self.sent = true;
                        self.client.send_mail(&message.envelope, self.now).unwrap();
                    }
                    _ => self.client.quit(self.now).unwrap(),
                },
                ClientEvent::DataReady => {
                    let chunks = self.message.as_ref().map_or(&[][..], |m| &m.chunks[..]);
                    if chunks.is_empty() {
                        self.client.send_data(b"", true, self.now).unwrap();
                    }
                    for (i, chunk) in chunks.iter().enumerate() {
                        let last = i + 1 == chunks.len();
                        self.client.send_data(chunk, last, self.now).unwrap();
                    }
                }
                _ => {}
            }
            self.client_events.push(event);
        }
        moved
    }

    /// A side that is done closes the connection once its last bytes are out; the other
    /// side then sees the end of the stream (as a socket adapter would report it).
    fn closes(&mut self) -> bool {
        let mut moved = false;
        if self.client.is_finished() && !self.server_eof && self.to_server.is_empty() {
            self.server_eof = true;
            self.server.handle_eof(self.now);
            moved = true;
        }
        if self.server.is_closed() && !self.client_eof {
            self.client_eof = true;
            self.client.handle_eof(self.now);
            moved = true;
        }
        moved
    }
}

/// What a whole delivery did.
pub struct Delivered {
    /// Every attempt's record, skipped hosts included, oldest first.
    pub records: Vec<AttemptRecord>,
    /// How the delivery ended.
    pub outcome: Option<DeliveryOutcome>,
    /// Every message the server's application took, over all connections.
    pub received: Vec<Received>,
    /// The virtual time the delivery ended at.
    pub ended_at: Timestamp,
}

impl Delivered {
    /// The record of the last attempt (the one that decided the outcome).
    pub fn last(&self) -> &AttemptRecord {
        self.records.last().expect("the delivery made no attempt")
    }
}

/// Runs every attempt of `delivery` against `peer`, sending `message`, from [`NOW`]. Each
/// attempt is a new connection: a new server session, the same peer.
pub fn deliver(delivery: &mut Delivery, mut peer: Peer, message: &Message) -> Delivered {
    let mut now = NOW;
    let mut received = Vec::new();
    while let Some(session) = delivery.next_session(now) {
        let mut pair = Pair::new(session, peer, now).with_message(Some(message.clone()));
        let record = pair.drive();
        received.append(&mut pair.received);
        now = pair.now;
        peer = pair.peer;
        delivery.record(record);
    }
    Delivered {
        records: delivery.records().to_vec(),
        outcome: delivery.outcome().cloned(),
        received,
        ended_at: now,
    }
}
