//! What both adapters share on the client side: the messages, the handler that answers a
//! session's events, the connector's address book and the report.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::client::{
    AttemptRecord, ClientEvent, ClientSession, Delivery, DeliveryOutcome, Envelope, MessageResult,
};
use crate::names::HostId;
use crate::smtp::{ForwardPath, Mailbox, PathError, ReversePath};

use super::drive::Handler;
use super::now;

/// One message to deliver: its envelope and its content (CRLF line ends, not dot-stuffed,
/// without the final `.` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender, recipients and MAIL parameters.
    pub envelope: Envelope,
    /// The message content.
    pub content: Vec<u8>,
}

impl Message {
    /// A message from `from` (empty for the null sender `<>`) to `to`, with `content` in
    /// CRLF line ends; the envelope declares its size.
    pub fn new<'a>(
        from: &str,
        to: impl IntoIterator<Item = &'a str>,
        content: &[u8],
    ) -> Result<Self, PathError> {
        let from = match from {
            "" | "<>" => ReversePath::Null,
            address => ReversePath::Mailbox(Mailbox::parse(address)?),
        };
        let to = to
            .into_iter()
            .map(|address| Mailbox::parse(address).map(ForwardPath::Mailbox))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            envelope: Envelope::new(from, to).with_size(content.len() as u64),
            content: content.to_vec(),
        })
    }
}

/// How a delivery went: every attempt, every message's result, and the outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// How the delivery ended (`None` only if it never started).
    pub outcome: Option<DeliveryOutcome>,
    /// One record per session, oldest first (the rungs and hosts tried).
    pub attempts: Vec<AttemptRecord>,
    /// Hosts that could not be connected to, with the error, in order.
    pub connect_errors: Vec<(String, String)>,
    /// Per message (same order as given), the last result the server gave it.
    pub messages: Vec<Option<MessageResult>>,
}

impl DeliveryReport {
    /// Whether every message was accepted by the server.
    pub fn all_accepted(&self) -> bool {
        !self.messages.is_empty()
            && self
                .messages
                .iter()
                .all(|m| m.as_ref().is_some_and(|m| m.accepted))
    }
}

/// Where the adapters connect: a host's own addresses, or a fixed address per host name
/// (tests, a smart host, `/etc/hosts`-style overrides), with a connect timeout.
#[derive(Clone, Debug)]
pub struct Connector {
    /// How long one TCP connect may take.
    pub connect_timeout: Duration,
    routes: HashMap<String, Vec<SocketAddr>>,
}

impl Default for Connector {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            routes: HashMap::new(),
        }
    }
}

impl Connector {
    /// A connector that resolves host names with the system resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects to `addr` whenever a plan names `host` (whatever the plan's port).
    #[must_use]
    pub fn route(self, host: &str, addr: SocketAddr) -> Self {
        self.route_all(host, [addr])
    }

    /// Connects to these addresses, in order until one answers, whenever a plan names
    /// `host` (whatever the plan's port). No address at all makes every connection to `host`
    /// fail: how discovery says a host has no address.
    #[must_use]
    pub fn route_all(mut self, host: &str, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.routes.insert(
            host.trim_end_matches('.').to_ascii_lowercase(),
            addrs.into_iter().collect(),
        );
        self
    }

    /// Whether `host` has a fixed route.
    pub fn has_route(&self, host: &str) -> bool {
        self.routes
            .contains_key(&host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The fixed address for `host`, or what to resolve: an IP literal, or the name and port.
    pub(crate) fn target(&self, host: &HostId, port: u16) -> Target {
        match host {
            HostId::Ip(ip) => Target::Addrs(vec![SocketAddr::new(*ip, port)]),
            HostId::Dns(name) => match self.routes.get(name.as_str()) {
                Some(addrs) => Target::Addrs(addrs.clone()),
                None => match name.as_str().parse::<IpAddr>() {
                    Ok(ip) => Target::Addrs(vec![SocketAddr::new(ip, port)]),
                    Err(_) => Target::Name(name.as_str().to_owned(), port),
                },
            },
        }
    }
}

/// Where to connect.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// Fixed addresses, tried in order (none: the connection fails).
    Addrs(Vec<SocketAddr>),
    Name(String, u16),
}

/// The messages of one delivery and how far each got; it answers a session's events.
#[derive(Debug)]
pub(crate) struct Outbox<'a> {
    messages: &'a [Message],
    results: Vec<Option<MessageResult>>,
    /// Messages tried on the current connection (never twice on one connection).
    tried: Vec<bool>,
    current: Option<usize>,
    /// The current session's record, once it finished.
    finished: Option<AttemptRecord>,
    /// The current attempt's `host:port`.
    host: String,
    /// Hosts that could not be connected to, with the error, in order.
    connect_errors: Vec<(String, String)>,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(messages: &'a [Message]) -> Self {
        Self {
            messages,
            results: vec![None; messages.len()],
            tried: vec![false; messages.len()],
            current: None,
            finished: None,
            host: String::new(),
            connect_errors: Vec::new(),
        }
    }

    /// The next attempt of `delivery` and where to connect for it; `None` when the delivery
    /// is over.
    pub(crate) fn next_attempt(
        &mut self,
        delivery: &mut Delivery,
        connector: &Connector,
    ) -> Option<(ClientSession, Target)> {
        let session = delivery.next_session(now())?;
        let (host, port) = delivery.current_host().map(|(h, p)| (h.clone(), p))?;
        self.new_session();
        self.host = format!("{host}:{port}");
        super::events::connecting(&self.host);
        Some((session, connector.target(&host, port)))
    }

    /// The connection for the current attempt could not be made: the delivery moves on.
    pub(crate) fn connect_failed(&mut self, delivery: &mut Delivery, error: &std::io::Error) {
        super::events::connect_failed(&self.host, error);
        self.connect_errors
            .push((self.host.clone(), error.to_string()));
        delivery.connect_failed();
    }

    /// A new connection: every message not finished may be tried again.
    fn new_session(&mut self) {
        self.tried.iter_mut().for_each(|t| *t = false);
        self.current = None;
        self.finished = None;
    }

    /// The current session's record, once its Finished event was handled.
    pub(crate) fn take_record(&mut self) -> Option<AttemptRecord> {
        self.finished.take()
    }

    /// Hands the current session's record to `delivery`, which decides the next attempt.
    pub(crate) fn record_into(&mut self, delivery: &mut Delivery) {
        match self.finished.take() {
            Some(record) => delivery.record(record),
            // Never happens (a session that ended always reported how); the host counts as
            // unreachable rather than stalling the delivery.
            None => delivery.connect_failed(),
        }
    }

    fn start_next(&mut self, session: &mut ClientSession) {
        let next = (0..self.messages.len()).find(|&i| {
            !self.tried.get(i).copied().unwrap_or(true)
                && !self
                    .results
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_some_and(is_final)
        });
        let Some((index, message)) = next.and_then(|i| Some((i, self.messages.get(i)?))) else {
            let _ = session.quit(now());
            return;
        };
        if let Some(tried) = self.tried.get_mut(index) {
            *tried = true;
        }
        self.current = Some(index);
        if session.send_mail(&message.envelope, now()).is_err() {
            self.current = None;
            let _ = session.quit(now());
        }
    }

    /// Each message's last result.
    pub(crate) fn into_results(self) -> Vec<Option<MessageResult>> {
        self.results
    }

    /// The report, once the delivery is over.
    pub(crate) fn report(self, delivery: &Delivery) -> DeliveryReport {
        super::events::delivery_over(delivery.outcome());
        DeliveryReport {
            outcome: delivery.outcome().cloned(),
            attempts: delivery.records().to_vec(),
            connect_errors: self.connect_errors,
            messages: self.results,
        }
    }
}

impl Handler<ClientSession> for Outbox<'_> {
    fn on_event(&mut self, session: &mut ClientSession, event: ClientEvent) {
        super::events::client_event(&self.host, &event);
        match event {
            ClientEvent::Ready => self.start_next(session),
            ClientEvent::DataReady => {
                let content = self
                    .current
                    .and_then(|i| self.messages.get(i))
                    .map_or(&[][..], |m| m.content.as_slice());
                if session.send_data(content, true, now()).is_err() {
                    let _ = session.quit(now());
                }
            }
            ClientEvent::MessageResult(result) => {
                if let Some(slot) = self.current.take().and_then(|i| self.results.get_mut(i)) {
                    *slot = Some(result);
                }
            }
            ClientEvent::Finished(record) => self.finished = Some(*record),
            _ => {}
        }
    }
}

/// A message result nothing will change: accepted, or refused permanently.
fn is_final(result: &MessageResult) -> bool {
    result.accepted
        || result
            .reply
            .as_ref()
            .is_some_and(|r| r.code().is_permanent_negative())
        || result.refused.is_some()
}
