//! The tokio adapter: sessions over tokio streams or any `AsyncRead + AsyncWrite`.
//!
//! The same loop as [`blocking`](super::blocking), with the session's deadlines as
//! `tokio::time::timeout` around each read: one loop for every [`Session`], client or
//! server. It needs a runtime with the time driver enabled.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use ::tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

use crate::client::{AttemptRecord, ClientSession, Delivery, MessageResult};
use crate::server::{ClientInfo, ServerConfig, ServerSession};
use crate::session::Session;

use super::admission::{is_transient_accept_error, next_backoff, overload_reply, Admission};
use super::client::{Connector, DeliveryReport, Message, Outbox, Target};
use super::drive::{Driver, Handler};
#[cfg(feature = "dns")]
use super::{
    anchors::AnchorError,
    discover::{prepare, AsyncFetchPolicy, Discoverer, DomainReport, Prepared},
    dns::AsyncResolve,
    mailer::Mailer,
};
use super::{
    now, quick_ack, until, Answering, Application, ConnectionLimits, ListenerNotice, SessionEnd,
};
#[cfg(feature = "dns")]
use crate::{names::DnsName, policy::requiretls::MessageTls};

/// The read size; a TLS record is at most ~16 KiB.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// Connects to `addr` within `timeout`, trying each resolved address in order, with
/// `TCP_NODELAY` set.
pub async fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "the name resolved to no address");
    for addr in ::tokio::net::lookup_host(addr).await? {
        match ::tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Quick ACKs are armed after each read (`QuickAck`).
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(ErrorKind::TimedOut, format!("connect to {addr}")),
        }
    }
    Err(last)
}

/// Drives one inbound session over `stream` to its end, handing every event to `app`: the
/// async twin of [`blocking::run_server`](super::blocking::run_server).
pub async fn run_server<S, A>(
    stream: &mut S,
    session: &mut ServerSession,
    app: &mut A,
) -> io::Result<SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Application,
{
    let mut answering = Answering::new(app);
    let mut driver = Driver::new(session, &mut answering);
    run(stream, &mut driver).await?;
    let (bytes_in, bytes_out) = (driver.bytes_in, driver.bytes_out);
    Ok(answering.end(bytes_in, bytes_out))
}

/// Runs one accepted connection's session on a fresh [`ServerSession`] to its end.
pub async fn serve_connection<A: Application>(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    super::events::inbound_connection(peer);
    stream.set_nodelay(true)?;
    let mut session = ServerSession::new(config, ClientInfo { ip: peer.ip() }, now());
    let result = run_server(&mut QuickAck(&mut stream), &mut session, app).await;
    let _ = stream.shutdown().await;
    super::events::session_over(peer, &result);
    result
}

/// Serves `listener` forever, one task per connection, at most `limits` sessions at once:
/// the async twin of [`blocking::serve`](super::blocking::serve). `make` builds the
/// application for each admitted connection from the client's address; `done` hears how each
/// session ended (on the task that ran it); `notice` hears about connections that never became
/// a session. A connection beyond the limits is answered `421 4.7.0` and closed; a failed
/// accept (out of file descriptors, say) waits, 10 ms doubling up to 1 s while failures go
/// on, and accepts again.
pub async fn serve<A, M, D, N>(
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
        let (stream, peer) = match listener.accept().await {
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
                ::tokio::time::sleep(retry_in).await;
                continue;
            }
        };
        let slot = match admission.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(overload) => {
                // Never waits on the client: the reply fits a fresh socket's send buffer.
                let reply = overload_reply();
                super::events::turned_away(peer, &reply);
                let _ = stream.try_write(&reply.to_bytes());
                drop(stream);
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
        ::tokio::spawn(async move {
            let result = serve_connection(stream, peer, config, &mut app).await;
            done(peer, app, result);
            drop(slot);
        });
    }
}

/// Accepts one connection from `listener` and serves its session to the end.
pub async fn serve_one<A: Application>(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    let (stream, peer) = listener.accept().await?;
    serve_connection(stream, peer, config, app).await
}

/// Delivers `messages` as `delivery` says: the async twin of
/// [`blocking::deliver`](super::blocking::deliver).
pub async fn deliver(
    delivery: &mut Delivery,
    messages: &[Message],
    connector: &Connector,
) -> DeliveryReport {
    let mut outbox = Outbox::new(messages);
    while let Some((mut session, target)) = outbox.next_attempt(delivery, connector) {
        let stream = match target {
            Target::Addrs(addrs) => connect(addrs.as_slice(), connector.connect_timeout).await,
            Target::Name(name, port) => {
                connect((name.as_str(), port), connector.connect_timeout).await
            }
        };
        match stream {
            Ok(mut stream) => {
                drive_client(&mut QuickAck(&mut stream), &mut session, &mut outbox).await;
                let _ = stream.shutdown().await;
                outbox.record_into(delivery);
            }
            Err(e) => outbox.connect_failed(delivery, &e),
        }
    }
    outbox.report(delivery)
}

/// Delivers `messages` to the recipient `domain`: the async twin of
/// [`blocking::deliver_to_domain`](super::blocking::deliver_to_domain), the same steps
/// (discovery through `discoverer`, the mailer's plan, precedence with the messages' `flags`,
/// then [`deliver`] to the hosts at the addresses discovery found) and the same recording into
/// the mailer's state store ([`Mailer::with_state`]), if it has one.
#[cfg(feature = "dns")]
pub async fn deliver_to_domain<R: AsyncResolve, F: AsyncFetchPolicy>(
    mailer: &Mailer,
    discoverer: &mut Discoverer<'_, R, F>,
    domain: &DnsName,
    messages: &[Message],
    flags: MessageTls,
) -> Result<DomainReport, AnchorError> {
    let answers = discoverer
        .discover_async(mailer.policy(), domain, now())
        .await;
    match prepare(mailer, answers, flags, discoverer.smtp_port, messages.len())? {
        Prepared::NoHost(report) => Ok(*report),
        Prepared::Deliver(mut job) => {
            let report = deliver(&mut job.delivery, messages, &job.connector).await;
            Ok(job.finish(mailer, report))
        }
    }
}

/// Runs one client session over any async stream to its end, sending `messages` in order;
/// returns the session's record (`None` only if the session never reported one) and each
/// message's result.
pub async fn run_client<S>(
    stream: &mut S,
    session: &mut ClientSession,
    messages: &[Message],
) -> (Option<AttemptRecord>, Vec<Option<MessageResult>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut outbox = Outbox::new(messages);
    drive_client(stream, session, &mut outbox).await;
    (outbox.take_record(), outbox.into_results())
}

/// One client session to its end; a failed stream ends it as a lost connection.
async fn drive_client<S>(stream: &mut S, session: &mut ClientSession, outbox: &mut Outbox<'_>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut driver = Driver::new(session, outbox);
    // A failed write is a lost connection: the record says so, the error adds nothing.
    let _ = run(stream, &mut driver).await;
    driver.lost();
}

/// A TCP stream that acknowledges every read at once ([`quick_ack`]).
struct QuickAck<'a>(&'a mut TcpStream);

impl AsyncRead for QuickAck<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut *self.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            quick_ack(&*self.0);
        }
        polled
    }
}

impl AsyncWrite for QuickAck<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// The loop: drives `driver`'s session over `stream` until the session is closed, one write
/// per flight, each read bounded by the session's deadline. A failed read ends the session as
/// a lost connection (its handler sees the last events); every I/O error is returned.
async fn run<S, H, T>(stream: &mut T, driver: &mut Driver<'_, S, H>) -> io::Result<()>
where
    S: Session,
    H: Handler<S>,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0_u8; READ_CHUNK];
    loop {
        let flight = driver.settle();
        if !flight.is_empty() {
            stream.write_all(flight).await?;
            stream.flush().await?;
            driver.sent();
        }
        if driver.is_closed() {
            return Ok(());
        }
        let read = match driver.deadline() {
            Some(deadline) => {
                match ::tokio::time::timeout(until(deadline), stream.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        driver.timeout();
                        continue;
                    }
                }
            }
            None => stream.read(&mut buf).await,
        };
        match read {
            Ok(0) => driver.eof(),
            Ok(n) => driver.received(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                driver.lost();
                return Err(e);
            }
        }
    }
}
