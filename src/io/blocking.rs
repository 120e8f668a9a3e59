//! The blocking adapter: sessions over `std::net::TcpStream` or any `Read + Write`.
//!
//! One call drives one connection to its end on the calling thread; [`serve`] runs a listener
//! with a thread per connection. Deadlines come from the session's `poll_timeout` and become
//! read timeouts on the stream ([`Transport::set_deadline`]). One loop drives every
//! [`Session`], client or server; [`run_server`], [`run_client`] and [`deliver`] differ only
//! in what answers the session's events.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::client::{AttemptRecord, ClientSession, Delivery, MessageResult};
use crate::server::{ClientInfo, ServerConfig, ServerSession};
use crate::session::Session;
use crate::smtp::Reply;

use super::admission::{
    is_transient_accept_error, next_backoff, overload_reply, spawn_failed_reply, Admission,
};
use super::client::{Connector, DeliveryReport, Message, Outbox, Target};
use super::drive::{Driver, Handler, ReadTimeout};
#[cfg(feature = "dns")]
use super::{
    anchors::AnchorError,
    discover::{prepare, Discoverer, DomainReport, FetchPolicy, Prepared},
    dns::Resolve,
    mailer::Mailer,
};
use super::{
    now, quick_ack, until, Answering, Application, ConnectionLimits, ListenerNotice, SessionEnd,
};
#[cfg(feature = "dns")]
use crate::{names::DnsName, policy::requiretls::MessageTls};

/// The read size; a TLS record is at most ~16 KiB.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// A byte stream that can bound how long a read waits.
pub trait Transport: Read + Write {
    /// Bounds the next reads (and writes) to `timeout`; `None` waits forever.
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Acknowledges what was just read at once instead of delaying the ACK. Called after
    /// every read: Linux leaves quick-ACK mode on its own, so it is re-armed each time. The
    /// default does nothing (a stream with no TCP underneath).
    fn acknowledge_now(&mut self) {}
}

impl Transport for TcpStream {
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (&*self).set_deadline(timeout)
    }

    fn acknowledge_now(&mut self) {
        quick_ack(self);
    }
}

/// Any `Read + Write` without deadlines (an in-memory pipe, a test double): reads wait as
/// long as the stream makes them wait.
#[derive(Debug)]
pub struct Unbounded<S>(pub S);

impl<S: Read> Read for Unbounded<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for Unbounded<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Transport for Unbounded<S> {
    fn set_deadline(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// Connects to `addr` within `timeout`, trying each resolved address in order, with
/// `TCP_NODELAY` set.
pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "the name resolved to no address");
    for addr in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                // Quick ACKs are armed after each read (`Transport::acknowledge_now`).
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Drives one inbound session over `stream` to its end, handing every event to `app`.
///
/// The session's bytes go out one flight per write; reads wait until the session's next
/// deadline, which then ends it the way the session decides (`421 4.4.2`). An I/O error ends
/// the session too and is returned.
pub fn run_server<S, A>(
    stream: S,
    session: &mut ServerSession,
    app: &mut A,
) -> io::Result<SessionEnd>
where
    S: Transport,
    A: Application,
{
    let mut answering = Answering::new(app);
    let mut driver = Driver::new(session, &mut answering);
    run(stream, &mut driver)?;
    let (bytes_in, bytes_out) = (driver.bytes_in, driver.bytes_out);
    Ok(answering.end(bytes_in, bytes_out))
}

/// Accepts one connection's session on a fresh [`ServerSession`] and drives it to its end.
pub fn serve_connection<A: Application>(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    super::events::inbound_connection(peer);
    stream.set_nodelay(true)?;
    let mut session = ServerSession::new(config, ClientInfo { ip: peer.ip() }, now());
    let result = run_server(&stream, &mut session, app);
    let _ = stream.shutdown(Shutdown::Both);
    super::events::session_over(peer, &result);
    result
}

/// Serves `listener` forever, one thread per connection, at most `limits` sessions at once.
///
/// `make` builds the application for each admitted connection from the client's address;
/// `done` hears how each session ended; `notice` hears about connections that never became a
/// session. A connection beyond the limits is answered `421 4.7.0` and closed; one no thread
/// could be started for is answered `421 4.3.2` and closed. A failed accept (out of file
/// descriptors, say) never ends the loop: it waits, 10 ms doubling up to 1 s while failures
/// go on, and accepts again.
pub fn serve<A, M, D, N>(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    limits: ConnectionLimits,
    make: M,
    done: D,
    notice: N,
) where
    A: Application + Send + 'static,
    M: Fn(SocketAddr) -> A,
    D: Fn(SocketAddr, A, io::Result<SessionEnd>) + Send + Sync + 'static,
    N: Fn(ListenerNotice<'_>),
{
    let done = Arc::new(done);
    let admission = Admission::new(limits);
    let mut backoff = None;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => {
                backoff = None;
                accepted
            }
            Err(e) if is_transient_accept_error(&e) => continue,
            Err(error) => {
                let retry_in = next_backoff(backoff);
                backoff = Some(retry_in);
                notice(ListenerNotice::AcceptFailed {
                    error: &error,
                    retry_in,
                });
                std::thread::sleep(retry_in);
                continue;
            }
        };
        let slot = match admission.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(overload) => {
                let reply = overload_reply();
                super::events::turned_away(peer, &reply);
                turn_away(&stream, &reply);
                notice(ListenerNotice::Refused {
                    peer,
                    overload,
                    reply,
                });
                continue;
            }
        };
        let mut app = make(peer);
        let config = Arc::clone(&config);
        let done = Arc::clone(&done);
        // The stream waits here for its thread: if no thread starts, it is still at hand to
        // answer the client (a cloned handle would cost a descriptor when they are scarce).
        let handoff = Arc::new(Mutex::new(Some(stream)));
        let spawned = std::thread::Builder::new()
            .name("mailtls-session".into())
            .spawn({
                let handoff = Arc::clone(&handoff);
                move || {
                    let stream = handoff
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some(stream) = stream {
                        let result = serve_connection(stream, peer, config, &mut app);
                        done(peer, app, result);
                    }
                    drop(slot);
                }
            });
        if let Err(error) = spawned {
            let stream = handoff
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let reply = spawn_failed_reply();
            if let Some(stream) = stream {
                turn_away(&stream, &reply);
            }
            notice(ListenerNotice::SpawnFailed {
                peer,
                error: &error,
                reply,
            });
        }
    }
}

/// Answers a connection that gets no session with `reply` and closes it, never waiting on
/// the client: the reply fits any fresh socket's send buffer, and a client that is not
/// reading loses it.
fn turn_away(stream: &TcpStream, reply: &Reply) {
    let _ = stream.set_nonblocking(true);
    let mut stream = stream;
    let _ = stream.write(&reply.to_bytes());
    let _ = stream.shutdown(Shutdown::Both);
}

/// Delivers `messages` as `delivery` says: one TCP connection per session, candidate hosts
/// in order, a new connection for each rung the ladder steps down to, every message sent
/// over the same connection while the session allows.
///
/// ```no_run
/// use std::sync::Arc;
/// use mailtls::client::{ClientSettings, Delivery, Envelope};
/// use mailtls::cert::TrustAnchors;
/// use mailtls::io::{blocking, verifiers_for_hosts, Connector, Message};
/// use mailtls::policy::{explain, Destination, OutboundPolicy};
/// use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
///
/// let plan = explain(&OutboundPolicy::new(), &Destination::parse("[mx.example.net]")?);
/// let verifiers = verifiers_for_hosts(&plan.hosts, TrustAnchors::new())?;
/// let mut delivery = Delivery::from_plan(ClientSettings::new("client.example.org")?, plan, Arc::new(verifiers));
/// let envelope = Envelope::new(
///     ReversePath::Mailbox(Mailbox::parse("a@example.org")?),
///     vec![ForwardPath::Mailbox(Mailbox::parse("b@example.net")?)],
/// );
/// let message = Message { envelope, content: b"Subject: hi\r\n\r\nhello\r\n".to_vec() };
/// let report = blocking::deliver(&mut delivery, &[message], &Connector::new());
/// if let Some(outcome) = &report.outcome {
///     println!("{outcome}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deliver(
    delivery: &mut Delivery,
    messages: &[Message],
    connector: &Connector,
) -> DeliveryReport {
    let mut outbox = Outbox::new(messages);
    while let Some((mut session, target)) = outbox.next_attempt(delivery, connector) {
        let stream = match target {
            Target::Addrs(addrs) => connect(addrs.as_slice(), connector.connect_timeout),
            Target::Name(name, port) => connect((name.as_str(), port), connector.connect_timeout),
        };
        match stream {
            Ok(stream) => {
                // Dropping the stream closes it: no shutdown call of its own.
                drive_client(&stream, &mut session, &mut outbox);
                outbox.record_into(delivery);
            }
            Err(e) => outbox.connect_failed(delivery, &e),
        }
    }
    outbox.report(delivery)
}

/// Delivers `messages` to the recipient `domain`: discovery (MX, addresses, TLSA where the
/// plan wants DANE, MTA-STS, TLS-RPT) through `discoverer`, the mailer's plan for the MX
/// hosts found, precedence with the answers and the messages' `flags`, then [`deliver`]
/// over the hosts in order at the addresses discovery found (on the discoverer's SMTP port
/// when set). An MX lookup that leaves no host (null MX, no such domain: bounced; a failed
/// or bogus lookup: deferred) contacts nobody.
///
/// With a store: give the discoverer an [`StsState`](crate::state::StsState) over it (the
/// MTA-STS cache then survives a restart and is shared by a fleet) and the mailer
/// [`Mailer::with_state`] (every session's TLS-RPT outcome and the downgrade memory are
/// recorded after the delivery).
///
/// ```no_run
/// use mailtls::io::discover::{Discoverer, NoFetch};
/// use mailtls::io::dns::{BlockingResolver, DnsSettings};
/// use mailtls::io::{blocking, Mailer, Message};
/// use mailtls::names::DnsName;
/// use mailtls::policy::mta_sts::StsCache;
/// use mailtls::policy::requiretls::MessageTls;
/// use mailtls::policy::{Level, OutboundPolicy};
///
/// // A validating resolver (root trust anchor) asking a recursive server.
/// let resolver = BlockingResolver::new(&DnsSettings::new(["127.0.0.1:53".parse()?]))?;
/// let mut sts_cache = StsCache::default();
/// let mut discoverer = Discoverer::new(&resolver, &NoFetch, &mut sts_cache);
/// let policy = OutboundPolicy::new().with_default_level(Level::Dane);
/// let mailer = Mailer::new("relay.example.org", policy)?;
/// let message = Message::new("a@example.org", ["b@example.net"], b"Subject: hi\r\n\r\nhello\r\n")?;
/// let domain = DnsName::parse("example.net")?;
/// let report =
///     blocking::deliver_to_domain(&mailer, &mut discoverer, &domain, &[message], MessageTls::default())?;
/// println!("{}", report.discovery); // MX, addresses, TLSA, MTA-STS, TLS-RPT with DNSSEC status
/// if let Some(decision) = &report.decision {
///     println!("{decision}"); // which source decided each host, and why
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "dns")]
pub fn deliver_to_domain<R: Resolve, F: FetchPolicy>(
    mailer: &Mailer,
    discoverer: &mut Discoverer<'_, R, F>,
    domain: &DnsName,
    messages: &[Message],
    flags: MessageTls,
) -> Result<DomainReport, AnchorError> {
    let answers = discoverer.discover(mailer.policy(), domain, now());
    match prepare(mailer, answers, flags, discoverer.smtp_port, messages.len())? {
        Prepared::NoHost(report) => Ok(*report),
        Prepared::Deliver(mut job) => {
            let report = deliver(&mut job.delivery, messages, &job.connector);
            Ok(job.finish(mailer, report))
        }
    }
}

/// Runs one client session over any stream to its end, sending `messages` in order; returns
/// the session's record (`None` only if the session never reported one) and each message's
/// result.
pub fn run_client<S: Transport>(
    stream: S,
    session: &mut ClientSession,
    messages: &[Message],
) -> (Option<AttemptRecord>, Vec<Option<MessageResult>>) {
    let mut outbox = Outbox::new(messages);
    drive_client(stream, session, &mut outbox);
    (outbox.take_record(), outbox.into_results())
}

/// One client session to its end; a failed stream ends it as a lost connection.
fn drive_client<S: Transport>(stream: S, session: &mut ClientSession, outbox: &mut Outbox<'_>) {
    let mut driver = Driver::new(session, outbox);
    // A write that fails, or a deadline the stream refuses, is a lost connection: the
    // record says so, so the error itself adds nothing.
    let _ = run(stream, &mut driver);
    driver.lost();
}

/// The loop: drives `driver`'s session over `stream` until the session is closed, one write
/// per flight, each read bounded by the session's deadline (the stream's timeout is set when
/// the deadline moves, not before every read: [`ReadTimeout`]). A failed read ends the
/// session as a lost connection (its handler sees the last events); every I/O error is
/// returned.
fn run<S, H, T>(mut stream: T, driver: &mut Driver<'_, S, H>) -> io::Result<()>
where
    S: Session,
    H: Handler<S>,
    T: Transport,
{
    let mut buf = vec![0_u8; READ_CHUNK];
    let mut timeout = ReadTimeout::default();
    loop {
        let flight = driver.settle();
        if !flight.is_empty() {
            stream.write_all(flight)?;
            stream.flush()?;
            driver.sent();
        }
        if driver.is_closed() {
            return Ok(());
        }
        let left = driver.deadline().map(until);
        if left.is_some_and(|left| left.is_zero()) {
            driver.timeout();
            continue;
        }
        // Told again only when the deadline moved away from what the stream has.
        if let Some(left) = timeout.next(left) {
            stream.set_deadline(left)?;
        }
        match stream.read(&mut buf) {
            Ok(0) => driver.eof(),
            Ok(n) => {
                stream.acknowledge_now();
                driver.received(buf.get(..n).unwrap_or_default());
            }
            Err(e) if is_timeout(&e) => driver.timeout(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                driver.lost();
                return Err(e);
            }
        }
    }
}

impl Transport for &TcpStream {
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout is an error for std; the smallest real one stands in for "now".
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    fn acknowledge_now(&mut self) {
        quick_ack(self);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
