//! The blocking adapter: sessions over `std::net::TcpStream` or any `Read + Write`.
//!
//! One call drives one connection to its end on the calling thread; [`serve`] runs a listener
//! with a thread per connection. Deadlines come from the session's `poll_timeout` and become
//! read timeouts on the stream ([`Transport::set_deadline`]).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{AttemptRecord, ClientSession, Delivery};
use crate::server::{ClientInfo, ServerConfig, ServerSession};

use super::client::{Connector, DeliveryReport, Message, Outbox, Target};
use super::{feed_server, now, pump_server, until, Application, SessionEnd};

/// The read size; a TLS record is at most ~16 KiB.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// A byte stream that can bound how long a read waits.
pub trait Transport: Read + Write {
    /// Bounds the next reads (and writes) to `timeout`; `None` waits forever.
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout is an error for std; the smallest real one stands in for "now".
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
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
    mut stream: S,
    session: &mut ServerSession,
    app: &mut A,
) -> io::Result<SessionEnd>
where
    S: Transport,
    A: Application,
{
    let mut end = SessionEnd::default();
    let mut input = Vec::new();
    let mut flight = Vec::new();
    let mut buf = vec![0_u8; READ_CHUNK];
    loop {
        loop {
            let pumped = pump_server(session, app, &mut flight, &mut end);
            let fed = feed_server(session, &mut input);
            if !pumped && fed == 0 {
                break;
            }
        }
        if !flight.is_empty() {
            stream.write_all(&flight)?;
            stream.flush()?;
            end.bytes_out += flight.len() as u64;
            flight.clear();
        }
        if session.is_closed() {
            return Ok(end);
        }
        let deadline = session.poll_timeout();
        if deadline.is_some_and(|d| until(d).is_zero()) {
            session.handle_timeout(now());
            continue;
        }
        stream.set_deadline(deadline.map(until))?;
        match stream.read(&mut buf) {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => {
                end.bytes_in += n as u64;
                input.extend_from_slice(buf.get(..n).unwrap_or_default());
                feed_server(session, &mut input);
            }
            Err(e) if is_timeout(&e) => session.handle_timeout(now()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                session.handle_eof(now());
                // Let the application see the end of the session before the error.
                pump_server(session, app, &mut flight, &mut end);
                return Err(e);
            }
        }
    }
}

/// Accepts one connection's session on a fresh [`ServerSession`] and drives it to its end.
pub fn serve_connection<A: Application>(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    stream.set_nodelay(true)?;
    let mut session = ServerSession::new(config, ClientInfo { ip: peer.ip() }, now());
    let result = run_server(&stream, &mut session, app);
    let _ = stream.shutdown(Shutdown::Both);
    result
}

/// Serves `listener` forever (or until accepting fails), one thread per connection. `make`
/// builds the application for each connection from the client's address; `done` hears how
/// each session ended.
pub fn serve<A, M, D>(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    make: M,
    done: D,
) -> io::Result<()>
where
    A: Application + Send + 'static,
    M: Fn(SocketAddr) -> A,
    D: Fn(SocketAddr, A, io::Result<SessionEnd>) + Send + Sync + 'static,
{
    let done = Arc::new(done);
    loop {
        let (stream, peer) = listener.accept()?;
        let mut app = make(peer);
        let config = Arc::clone(&config);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let result = serve_connection(stream, peer, config, &mut app);
            done(peer, app, result);
        });
    }
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
/// println!("{:?}", report.outcome);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deliver(
    delivery: &mut Delivery,
    messages: &[Message],
    connector: &Connector,
) -> DeliveryReport {
    let mut outbox = Outbox::new(messages);
    let mut connect_errors = Vec::new();
    while let Some(mut session) = delivery.next_session(now()) {
        let Some((host, port)) = delivery.current_host().map(|(h, p)| (h.clone(), p)) else {
            break;
        };
        let stream = match connector.target(&host, port) {
            Target::Addr(addr) => connect(addr, connector.connect_timeout),
            Target::Name(name, port) => connect((name.as_str(), port), connector.connect_timeout),
        };
        match stream {
            Ok(stream) => {
                outbox.new_session();
                let record = drive_client(&stream, &mut session, &mut outbox);
                let _ = stream.shutdown(Shutdown::Both);
                delivery.record(record);
            }
            Err(e) => {
                connect_errors.push((format!("{host}:{port}"), e.to_string()));
                delivery.connect_failed();
            }
        }
    }
    outbox.report(delivery, connect_errors)
}

/// Runs one client session over any stream to its end, sending `messages` in order; returns
/// the session's record and each message's result.
pub fn run_client<S: Transport>(
    stream: S,
    session: &mut ClientSession,
    messages: &[Message],
) -> (AttemptRecord, Vec<Option<crate::client::MessageResult>>) {
    let mut outbox = Outbox::new(messages);
    let record = drive_client(stream, session, &mut outbox);
    (record, outbox.into_results())
}

fn drive_client<S: Transport>(
    mut stream: S,
    session: &mut ClientSession,
    outbox: &mut Outbox<'_>,
) -> AttemptRecord {
    let mut flight = Vec::new();
    let mut buf = vec![0_u8; READ_CHUNK];
    let mut finished = None;
    loop {
        if let Some(record) = outbox.pump(session, &mut flight) {
            finished = Some(record);
        }
        if !flight.is_empty() {
            // One write per flight. A failed write shows up as EOF on the next read.
            let _ = stream.write_all(&flight).and_then(|()| stream.flush());
            flight.clear();
        }
        if let Some(record) = finished {
            return record;
        }
        let deadline = session.poll_timeout();
        if deadline.is_some_and(|d| until(d).is_zero()) {
            session.handle_timeout(now());
            continue;
        }
        if stream.set_deadline(deadline.map(until)).is_err() {
            session.handle_eof(now());
            continue;
        }
        match stream.read(&mut buf) {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => session.handle_input(buf.get(..n).unwrap_or_default(), now()),
            Err(e) if is_timeout(&e) => session.handle_timeout(now()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => session.handle_eof(now()),
        }
    }
}

impl Transport for &TcpStream {
    fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
