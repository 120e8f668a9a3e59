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

use crate::server::{ClientInfo, ServerConfig, ServerSession};

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

/// Accepts one connection from `listener` and serves its session to the end.
pub async fn serve_one<A: Application>(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    app: &mut A,
) -> io::Result<SessionEnd> {
    let (stream, peer) = listener.accept().await?;
    serve_connection(stream, peer, config, app).await
}
