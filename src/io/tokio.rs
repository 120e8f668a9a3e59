//! The tokio adapter: sessions over tokio streams or any `AsyncRead + AsyncWrite`.
//!
//! The same loop as [`blocking`](super::blocking), with the session's deadlines as
//! `tokio::time::timeout` around each read. It needs a runtime with the time driver enabled.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

use crate::client::{AttemptRecord, ClientSession, Delivery, MessageResult};
use crate::server::{ClientInfo, ServerConfig, ServerSession};

use super::client::{Connector, DeliveryReport, Message, Outbox, Target};
use super::{feed_server, now, pump_server, until, Application, SessionEnd};

/// The read size; a TLS record is at most ~16 KiB.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// Connects to `addr` within `timeout`, trying each resolved address in order, with
/// `TCP_NODELAY` set.
pub async fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "the name resolved to no address");
    for addr in ::tokio::net::lookup_host(addr).await? {
        match ::tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
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
            stream.write_all(&flight).await?;
            stream.flush().await?;
            end.bytes_out += flight.len() as u64;
            flight.clear();
        }
        if session.is_closed() {
            return Ok(end);
        }
        let read = match session.poll_timeout() {
            Some(deadline) => {
                match ::tokio::time::timeout(until(deadline), stream.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        session.handle_timeout(now());
                        continue;
                    }
                }
            }
            None => stream.read(&mut buf).await,
        };
        match read {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => {
                end.bytes_in += n as u64;
                input.extend_from_slice(buf.get(..n).unwrap_or_default());
                feed_server(session, &mut input);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                session.handle_eof(now());
                pump_server(session, app, &mut flight, &mut end);
                return Err(e);
            }
        }
    }
}

/// Runs one accepted connection's session on a fresh [`ServerSession`] to its end.
pub async fn serve_connection<A: Application>(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    stream.set_nodelay(true)?;
    let mut session = ServerSession::new(config, ClientInfo { ip: peer.ip() }, now());
    let result = run_server(&mut stream, &mut session, app).await;
    let _ = stream.shutdown().await;
    result
}

/// Serves `listener` until accepting fails, one task per connection. `make` builds the
/// application for each connection from the client's address; the application hears the
/// end of its session as [`ServerEvent::Closed`](crate::server::ServerEvent::Closed).
pub async fn serve<A, M>(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    make: M,
) -> io::Result<()>
where
    A: Application + Send + 'static,
    M: Fn(SocketAddr) -> A,
{
    loop {
        let (stream, peer) = listener.accept().await?;
        let mut app = make(peer);
        let config = Arc::clone(&config);
        ::tokio::spawn(async move {
            let _ = serve_connection(stream, peer, config, &mut app).await;
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
    let mut connect_errors = Vec::new();
    while let Some(mut session) = delivery.next_session(now()) {
        let Some((host, port)) = delivery.current_host().map(|(h, p)| (h.clone(), p)) else {
            break;
        };
        let stream = match connector.target(&host, port) {
            Target::Addr(addr) => connect(addr, connector.connect_timeout).await,
            Target::Name(name, port) => {
                connect((name.as_str(), port), connector.connect_timeout).await
            }
        };
        match stream {
            Ok(mut stream) => {
                outbox.new_session();
                let record = drive_client(&mut stream, &mut session, &mut outbox).await;
                let _ = stream.shutdown().await;
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

/// Runs one client session over any async stream to its end, sending `messages` in order;
/// returns the session's record and each message's result.
pub async fn run_client<S>(
    stream: &mut S,
    session: &mut ClientSession,
    messages: &[Message],
) -> (AttemptRecord, Vec<Option<MessageResult>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut outbox = Outbox::new(messages);
    let record = drive_client(stream, session, &mut outbox).await;
    (record, outbox.into_results())
}

async fn drive_client<S>(
    stream: &mut S,
    session: &mut ClientSession,
    outbox: &mut Outbox<'_>,
) -> AttemptRecord
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut flight = Vec::new();
    let mut buf = vec![0_u8; READ_CHUNK];
    let mut finished = None;
    loop {
        if let Some(record) = outbox.pump(session, &mut flight) {
            finished = Some(record);
        }
        if !flight.is_empty() {
            // One write per flight. A failed write shows up as EOF on the next read.
            let _ = stream.write_all(&flight).await;
            let _ = stream.flush().await;
            flight.clear();
        }
        if let Some(record) = finished {
            return record;
        }
        let read = match session.poll_timeout() {
            Some(deadline) => {
                match ::tokio::time::timeout(until(deadline), stream.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        session.handle_timeout(now());
                        continue;
                    }
                }
            }
            None => stream.read(&mut buf).await,
        };
        match read {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => session.handle_input(buf.get(..n).unwrap_or_default(), now()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => session.handle_eof(now()),
        }
    }
}
