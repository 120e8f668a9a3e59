//! The MTA-STS policy fetch over HTTPS (RFC 8461 §3.3): the adapter that performs the
//! [`StsFetchRequest`] the core describes and hands what came back to
//! [`consume`], so every failure carries its RFC 8460 result type.
//!
//! The rules, each one enforced here or in [`consume`]:
//!
//! - HTTPS only, to `mta-sts.<domain>` at one of the addresses the caller resolved, on
//!   [`StsFetcher::port`] (443 unless a lab says otherwise), SNI `mta-sts.<domain>`.
//! - The certificate must chain to the fetcher's anchors (the public roots: see
//!   [`PublicRoots`](super::PublicRoots)) and name `mta-sts.<domain>` (RFC 9525 matching: DNS
//!   SANs only, `*` only as a whole left-most label). A refusal is
//!   [`StsFetchError::CertificateInvalid`] (`sts-webpki-invalid`), never a transport error.
//! - TLS 1.2 or 1.3 with forward-secret AEAD suites, from the ring provider (the same base
//!   configuration as every other mailtls connection).
//! - One `GET` over HTTP/1.1, `Connection: close`; no redirect is followed (a 3xx is
//!   `sts-policy-fetch-error`), only 200 yields a policy, the media type must be `text/plain`.
//! - The response head is capped at 16 KiB and 64 header fields; at most
//!   [`StsFetchRequest::max_body`]` + 1` body bytes are read (so a larger body is refused as
//!   `sts-policy-invalid` without reading the rest). Bodies framed by `Content-Length`, by the
//!   `chunked` transfer coding, or by the end of the connection are read; a body cut short (a
//!   connection closed before `Content-Length` bytes, before the last chunk, or without
//!   `close_notify` when the body runs to the close) is a fetch error, never a policy.
//! - One overall timeout covers connecting, the handshake and the whole response
//!   ([`DEFAULT_TIMEOUT`] unless set): nothing blocks longer.
//!
//! ```no_run
//! use mailtls::io::{PublicRoots, StsFetcher};
//! use mailtls::names::DnsName;
//! use mailtls::policy::mta_sts::StsFetchRequest;
//!
//! let fetcher = StsFetcher::new(PublicRoots::System.load()?);
//! let request = StsFetchRequest::new(&DnsName::parse("example.com")?);
//! // The addresses of mta-sts.example.com, from the caller's resolver.
//! let addresses = ["192.0.2.10".parse()?];
//! match fetcher.fetch(&request, &addresses) {
//!     Ok(policy) => println!("{} policy, max_age {} s", policy.mode(), policy.max_age().as_secs()),
//!     Err(e) => println!("no policy ({}): {e}", e.result_type()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cert::{CertificateCheck, OnFailure, OutcomeSlot, ServerVerifier, TrustAnchors};
use crate::names::{Dialect, NamePattern};
use crate::policy::ladder::{FailureClass, Rung};
use crate::policy::mta_sts::{
    consume, StsFetchError, StsFetchRequest, StsFetchResponse, StsPolicy,
};
use crate::tls::{client_config, ClientTlsSetup, TlsEngine, TlsFailure};

use super::now;

/// The HTTPS port a policy is fetched from unless the fetcher says otherwise.
pub const DEFAULT_PORT: u16 = 443;

/// The overall time one fetch may take (connect, handshake and response) unless the fetcher
/// says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response head (status line and header fields) read.
const MAX_HEAD: usize = 16 * 1024;
/// The most header fields a response head may have.
const MAX_HEADERS: usize = 64;
/// The longest chunk-size line or trailer field line of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;
/// The most trailer bytes after the last chunk.
const MAX_TRAILER: usize = 8 * 1024;
/// One read from the socket.
const READ_BUFFER: usize = 16 * 1024;

/// What the fetch says in `User-Agent`.
const USER_AGENT: &str = concat!("mailtls/", env!("CARGO_PKG_VERSION"), " (MTA-STS)");
/// What a report POST says in `User-Agent`.
const POST_USER_AGENT: &str = concat!("mailtls/", env!("CARGO_PKG_VERSION"), " (TLS-RPT)");
/// The media type of a gzipped TLS-RPT report (RFC 8460 §6.4).
pub const TLSRPT_GZIP: &str = "application/tlsrpt+gzip";
/// The most response body bytes kept after a report POST (the body is not used).
const MAX_POST_RESPONSE: usize = 64 * 1024;

/// Where a TLS-RPT report is POSTed: an `https:` `rua` (RFC 8460 §3) taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostTarget {
    /// The URI as published.
    pub uri: String,
    /// The host: the TCP connection, SNI, `Host` and the certificate name check.
    pub host: String,
    /// The port (443 unless the URI says otherwise).
    pub port: u16,
    /// The path and query sent in the request line (`/` when the URI has none).
    pub path: String,
}

impl PostTarget {
    /// Takes an `https://host[:port][/path][?query]` URI apart. User information, IP
    /// literals, a fragment and anything but printable ASCII are refused: the host must be a
    /// DNS name its certificate can name.
    pub fn parse(uri: &str) -> Result<Self, ReportPostError> {
        let bad = |detail: &str| ReportPostError::BadUri {
            uri: uri.chars().filter(|c| !c.is_control()).take(200).collect(),
            detail: detail.to_owned(),
        };
        if !uri.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("a character outside printable ASCII"));
        }
        let rest = uri
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .and_then(|_| uri.get(8..))
            .ok_or_else(|| bad("not an https:// URI"))?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or("/"),
            ),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("user information in the URI"));
        }
        if authority.starts_with('[') {
            return Err(bad("an IP literal host: no certificate names it"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("a port that is not 1-65535"))?,
            ),
            None => (authority, DEFAULT_PORT),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.parse::<IpAddr>().is_ok() {
            return Err(bad("an IP address host: no certificate names it"));
        }
        crate::names::DnsName::parse(&host).map_err(|e| bad(&format!("host: {e}")))?;
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(Self {
            uri: uri.to_owned(),
            host,
            port,
            path,
        })
    }
}

/// Why a report POST was not accepted.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportPostError {
    /// The `rua` is not a usable `https:` URI.
    #[error("report URI {uri} is unusable: {detail}")]
    BadUri {
        /// The URI (printable characters, at most 200).
        uri: String,
        /// Why.
        detail: String,
    },
    /// The host's certificate did not validate.
    #[error("{uri}: the report host's certificate is invalid: {detail}")]
    Certificate {
        /// The URI.
        uri: String,
        /// Why.
        detail: String,
    },
    /// No HTTP response: connecting, TLS, a timeout, a malformed response.
    #[error("{uri}: {detail}")]
    Transport {
        /// The URI.
        uri: String,
        /// What failed.
        detail: String,
    },
    /// The server answered with a status other than 2xx (a redirect is not followed).
    #[error("{uri} refused the report: HTTP status {status}")]
    Refused {
        /// The URI.
        uri: String,
        /// The status code.
        status: u16,
    },
}

impl ReportPostError {
    fn from_exchange(uri: &str, error: StsFetchError) -> Self {
        match error {
            StsFetchError::CertificateInvalid { detail } => Self::Certificate {
                uri: uri.to_owned(),
                detail,
            },
            StsFetchError::Transport { detail } => Self::Transport {
                uri: uri.to_owned(),
                detail,
            },
            other => Self::Transport {
                uri: uri.to_owned(),
                detail: other.to_string(),
            },
        }
    }
}

/// Performs MTA-STS policy fetches: the trust anchors the policy host's certificate must chain
/// to, the port, and the overall timeout. Built once, shared by every fetch (it is cheap to
/// clone).
#[derive(Clone, Debug)]
pub struct StsFetcher {
    anchors: Arc<TrustAnchors>,
    port: u16,
    timeout: Duration,
}

impl StsFetcher {
    /// A fetcher whose policy hosts must present certificates chaining to `anchors` (the
    /// public roots in production: [`PublicRoots::load`](super::PublicRoots::load)), on port
    /// 443, with the [`DEFAULT_TIMEOUT`].
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors: Arc::new(anchors),
            port: DEFAULT_PORT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Another HTTPS port (labs serve policies on a port of their own; the certificate name
    /// checked stays `mta-sts.<domain>`).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Another overall timeout for one fetch (connect, handshake and response together).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The HTTPS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The overall timeout of one fetch.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Fetches `request`'s policy from the first of `addresses` (the addresses of
    /// `request.host`, in the order to try) that accepts a TCP connection, blocking the
    /// calling thread for at most [`timeout`](Self::timeout) in all (an address that never
    /// answers can use it up).
    ///
    /// Every failure is an [`StsFetchError`] whose
    /// [`result_type`](StsFetchError::result_type) is what TLS-RPT reports.
    pub fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        let exchange = Exchange::start(self, request)?;
        self.run(exchange, &request.host, self.port, addresses)?
            .finish()
    }

    /// Runs `exchange` with `host` over the first of `addresses` that accepts a TCP
    /// connection on `port`, within the overall timeout; returns it complete.
    fn run(
        &self,
        mut exchange: Exchange,
        host: &str,
        port: u16,
        addresses: &[IpAddr],
    ) -> Result<Exchange, StsFetchError> {
        let deadline = Instant::now() + self.timeout;
        let mut stream = self.connect(host, port, addresses, deadline)?;
        let mut out = Vec::new();
        let mut buffer = vec![0; READ_BUFFER];
        loop {
            exchange.transmit(&mut out)?;
            if !out.is_empty() {
                let left = self.left(deadline)?;
                stream
                    .set_write_timeout(Some(left))
                    .and_then(|()| stream.write_all(&out))
                    .map_err(|e| self.io_error(&e))?;
                out.clear();
            }
            if exchange.is_complete() {
                break;
            }
            let left = self.left(deadline)?;
            let read = stream
                .set_read_timeout(Some(left))
                .and_then(|()| stream.read(&mut buffer));
            if exchange.after_read(read, &buffer, self)? {
                break;
            }
        }
        Ok(exchange)
    }

    /// POSTs a TLS-RPT report (`gzipped`, RFC 8460 §5.4) to `target` at the first of
    /// `addresses` (the addresses of `target.host`, from the caller's resolver) that accepts
    /// a connection, under the same rules as a policy fetch: the certificate must chain to
    /// the fetcher's anchors and name the host, TLS 1.2 minimum, one overall
    /// [`timeout`](Self::timeout), no redirect followed, the response head and body capped.
    /// `Ok` carries the `2xx` status; any other status is [`ReportPostError::Refused`].
    pub fn post_report(
        &self,
        target: &PostTarget,
        gzipped: &[u8],
        addresses: &[IpAddr],
    ) -> Result<u16, ReportPostError> {
        let authority = if target.port == DEFAULT_PORT {
            target.host.clone()
        } else {
            format!("{}:{}", target.host, target.port)
        };
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {POST_USER_AGENT}\r\n\
             Content-Type: {TLSRPT_GZIP}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            target.path,
            gzipped.len()
        )
        .into_bytes();
        request.extend_from_slice(gzipped);
        let failed = |e: StsFetchError| ReportPostError::from_exchange(&target.uri, e);
        let exchange = Exchange::open(&self.anchors, &target.host, request, MAX_POST_RESPONSE)
            .map_err(failed)?;
        let exchange = self
            .run(exchange, &target.host, target.port, addresses)
            .map_err(failed)?;
        let status = exchange.verified_status().map_err(failed)?;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(ReportPostError::Refused {
                uri: target.uri.clone(),
                status,
            })
        }
    }

    /// Connects to the first address that answers, within the deadline.
    fn connect(
        &self,
        host: &str,
        port: u16,
        addresses: &[IpAddr],
        deadline: Instant,
    ) -> Result<TcpStream, StsFetchError> {
        let mut errors = Vec::new();
        for ip in addresses {
            let addr = SocketAddr::new(*ip, port);
            let left = self.left(deadline)?;
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    // The request is one small write: send it at once.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) if is_timeout(&e) => return Err(self.timed_out()),
                Err(e) => errors.push(format!("{addr}: {e}")),
            }
        }
        Err(no_connection(host, &errors))
    }

    /// The time left before `deadline`, or the timeout error.
    fn left(&self, deadline: Instant) -> Result<Duration, StsFetchError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out());
        }
        Ok(left)
    }

    fn timed_out(&self) -> StsFetchError {
        transport(&format!(
            "timed out after {} ms (connect, TLS handshake and response together)",
            self.timeout.as_millis()
        ))
    }

    fn io_error(&self, error: &std::io::Error) -> StsFetchError {
        if is_timeout(error) {
            self.timed_out()
        } else {
            transport(&format!("connection failed: {error}"))
        }
    }
}

#[cfg(feature = "tokio")]
impl StsFetcher {
    /// [`fetch`](Self::fetch) on tokio: the same exchange over a tokio socket, within the same
    /// overall [`timeout`](Self::timeout). The runtime must have its time driver enabled.
    pub async fn fetch_async(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        match ::tokio::time::timeout(self.timeout, self.fetch_async_within(request, addresses))
            .await
        {
            Ok(result) => result,
            Err(_elapsed) => Err(self.timed_out()),
        }
    }

    async fn fetch_async_within(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        use ::tokio::io::{AsyncReadExt, AsyncWriteExt};

        let mut exchange = Exchange::start(self, request)?;
        let mut stream = None;
        let mut errors = Vec::new();
        for ip in addresses {
            let addr = SocketAddr::new(*ip, self.port);
            match ::tokio::net::TcpStream::connect(addr).await {
                Ok(connected) => {
                    let _ = connected.set_nodelay(true);
                    stream = Some(connected);
                    break;
                }
                Err(e) => errors.push(format!("{addr}: {e}")),
            }
        }
        let Some(mut stream) = stream else {
            return Err(no_connection(&request.host, &errors));
        };
        let mut out = Vec::new();
        let mut buffer = vec![0; READ_BUFFER];
        loop {
            exchange.transmit(&mut out)?;
            if !out.is_empty() {
                stream
                    .write_all(&out)
                    .await
                    .map_err(|e| self.io_error(&e))?;
                out.clear();
            }
            if exchange.is_complete() {
                break;
            }
            let read = stream.read(&mut buffer).await;
            if exchange.after_read(read, &buffer, self)? {
                break;
            }
        }
        exchange.finish()
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

/// A fetch that never got an HTTP response: `sts-policy-fetch-error`.
fn transport(detail: &str) -> StsFetchError {
    refused(StsFetchResponse::TransportFailure { detail })
}

/// What [`consume`] makes of a response that cannot be a policy.
fn refused(response: StsFetchResponse<'_>) -> StsFetchError {
    match consume(response) {
        Err(error) => error,
        // Certificate and transport failures never parse as a policy.
        Ok(_) => StsFetchError::Transport {
            detail: "a failure was taken for a policy".to_owned(),
        },
    }
}

fn no_connection(host: &str, errors: &[String]) -> StsFetchError {
    if errors.is_empty() {
        transport(&format!("{host} has no address to connect to"))
    } else {
        transport(&format!("cannot connect to {host}: {}", errors.join("; ")))
    }
}

/// One fetch without I/O: the TLS connection and the HTTP response, fed with the bytes the
/// driver moves. Both drivers (blocking and tokio) share it.
struct Exchange {
    tls: TlsEngine,
    slot: OutcomeSlot,
    /// The request, until the handshake completes and it is encrypted.
    request: Option<Vec<u8>>,
    response: ResponseReader,
}

impl Exchange {
    fn start(fetcher: &StsFetcher, request: &StsFetchRequest) -> Result<Self, StsFetchError> {
        let host = request.host.trim_end_matches('.');
        let path = request_path(request)?;
        let authority = if fetcher.port == DEFAULT_PORT {
            host.to_owned()
        } else {
            format!("{host}:{}", fetcher.port)
        };
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n\
             Accept: text/plain\r\nConnection: close\r\n\r\n"
        );
        Self::open(
            &fetcher.anchors,
            host,
            head.into_bytes(),
            request.max_body().saturating_add(1),
        )
    }

    /// One request (`request`: head and body) to `host`, whose certificate must chain to
    /// `anchors` and name it; at most `body_cap` response body bytes are kept.
    fn open(
        anchors: &Arc<TrustAnchors>,
        host: &str,
        request: Vec<u8>,
        body_cap: usize,
    ) -> Result<Self, StsFetchError> {
        let host = host.trim_end_matches('.');
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(transport("the HTTPS host is not a DNS name"));
        }
        let reference = NamePattern::parse(host, Dialect::Rfc9525)
            .map_err(|e| transport(&format!("the HTTPS host is not a DNS name: {e}")))?;
        let verifier = ServerVerifier::new(
            CertificateCheck::ChainAndName {
                anchors: Arc::clone(anchors),
                dialect: Dialect::Rfc9525,
                references: vec![reference],
            },
            OnFailure::Abort,
        );
        let slot = verifier.slot();
        let config = client_config(&ClientTlsSetup::new(
            Rung::Modern,
            Arc::new(verifier),
            now(),
        ))
        .map_err(|e| transport(&e.to_string()))?;
        let tls = TlsEngine::client(config, host).map_err(|e| transport(&e.to_string()))?;
        Ok(Self {
            tls,
            slot,
            request: Some(request),
            response: ResponseReader::new(body_cap),
        })
    }

    /// Appends what is to be sent now: handshake records, then the encrypted request.
    fn transmit(&mut self, out: &mut Vec<u8>) -> Result<(), StsFetchError> {
        self.tls.drain_ciphertext(out);
        if !self.tls.is_handshaking() {
            if let Some(request) = self.request.take() {
                self.tls
                    .encrypt(&request, out)
                    .map_err(|f| self.tls_failed(&f))?;
            }
        }
        Ok(())
    }

    /// Feeds ciphertext from the server.
    fn receive(&mut self, ciphertext: &[u8]) -> Result<(), StsFetchError> {
        let mut plaintext = Vec::new();
        let fed = self.tls.handle_ciphertext(ciphertext, &mut plaintext);
        // Plaintext decrypted before a failure still counts (a response then an alert).
        self.response.push(&plaintext).map_err(|e| transport(&e))?;
        if let Err(failure) = fed {
            if !self.response.is_complete() {
                return Err(self.tls_failed(&failure));
            }
        }
        if self.tls.peer_closed() {
            self.response.close_notify();
        }
        Ok(())
    }

    /// Takes the result of one read into `buffer`: `true` when the server closed the
    /// connection (and what came is a whole response).
    fn after_read(
        &mut self,
        read: std::io::Result<usize>,
        buffer: &[u8],
        fetcher: &StsFetcher,
    ) -> Result<bool, StsFetchError> {
        match read {
            Ok(0) => self.end_of_stream().map(|()| true),
            Ok(n) => self
                .receive(buffer.get(..n).unwrap_or_default())
                .map(|()| false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(fetcher.io_error(&e)),
        }
    }

    /// The server closed the connection.
    fn end_of_stream(&mut self) -> Result<(), StsFetchError> {
        if self.response.is_complete() {
            return Ok(());
        }
        match self.tls.handle_eof() {
            Err(failure) if self.tls.is_handshaking() => return Err(self.tls_failed(&failure)),
            // No close_notify: what came is all there is, and it may be cut.
            Err(_) => {}
            // The server said close_notify: a body that runs to the close is whole.
            Ok(()) => self.response.close_notify(),
        }
        if self.response.is_complete() {
            Ok(())
        } else {
            Err(transport(&format!(
                "the server closed the connection {}",
                self.response.cut_short()
            )))
        }
    }

    fn is_complete(&self) -> bool {
        self.response.is_complete()
    }

    /// The response's status, once the certificate is known to have been verified.
    fn verified_status(&self) -> Result<u16, StsFetchError> {
        // A completed handshake passed the verifier: trust the response only if it recorded
        // that pass.
        if !self.slot.get().is_some_and(|o| o.is_verified()) {
            return Err(refused(StsFetchResponse::CertificateInvalid {
                detail: "the certificate was not verified",
            }));
        }
        self.response
            .head
            .as_ref()
            .map(|head| head.status)
            .ok_or_else(|| transport("no HTTP response"))
    }

    /// The response, through [`consume`].
    fn finish(self) -> Result<StsPolicy, StsFetchError> {
        self.verified_status()?;
        let Some(head) = self.response.head.as_ref() else {
            return Err(transport("no HTTP response"));
        };
        consume(StsFetchResponse::Http {
            status: head.status,
            content_type: head.content_type.as_deref(),
            body: &self.response.body,
        })
    }

    /// A TLS failure: the certificate (`sts-webpki-invalid`) or the transport.
    fn tls_failed(&self, failure: &TlsFailure) -> StsFetchError {
        if failure.class == FailureClass::Certificate {
            let why = self
                .slot
                .get()
                .and_then(|outcome| outcome.error)
                .map_or_else(|| failure.detail(), |error| error.to_string());
            refused(StsFetchResponse::CertificateInvalid { detail: &why })
        } else {
            // The detail alone: the failure's SMTP-side classification means nothing here.
            let phase = if failure.during_handshake {
                "handshake"
            } else {
                "session"
            };
            transport(&format!("TLS {phase} failed: {}", failure.detail()))
        }
    }
}

/// The path of the request's URL (`/.well-known/mta-sts.txt`).
fn request_path(request: &StsFetchRequest) -> Result<&str, StsFetchError> {
    let path = request
        .url
        .strip_prefix("https://")
        .and_then(|rest| rest.find('/').and_then(|i| rest.get(i..)))
        .filter(|p| p.bytes().all(|b| b.is_ascii_graphic()));
    path.ok_or_else(|| transport("the policy URL is not an https:// URL with a path"))
}

/// The parts of the response head that matter.
#[derive(Debug)]
struct Head {
    status: u16,
    content_type: Option<String>,
}

/// How the body ends.
#[derive(Debug)]
enum Framing {
    /// After this many more bytes.
    Length(usize),
    /// At the last chunk.
    Chunked(Chunk),
    /// At the end of the connection (with `close_notify`).
    Close,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Reading chunk data, this much left.
    Data(usize),
    /// Reading the CRLF after chunk data.
    DataEnd,
    /// Reading trailer fields after the last chunk (bytes so far).
    Trailer(usize),
}

/// The HTTP/1.x response, read incrementally with caps.
#[derive(Debug)]
struct ResponseReader {
    /// Bytes received and not yet consumed (the head, a chunk line).
    pending: Vec<u8>,
    head: Option<Head>,
    framing: Option<Framing>,
    body: Vec<u8>,
    /// The most body bytes kept (the cap + 1, so an oversized body is seen as one).
    body_cap: usize,
    complete: bool,
}

impl ResponseReader {
    fn new(body_cap: usize) -> Self {
        Self {
            pending: Vec::new(),
            head: None,
            framing: None,
            body: Vec::new(),
            body_cap,
            complete: false,
        }
    }

    fn is_complete(&self) -> bool {
        self.complete
    }

    /// The server said `close_notify`: a body running to the close is complete.
    fn close_notify(&mut self) {
        if matches!(self.framing, Some(Framing::Close)) {
            self.complete = true;
        }
    }

    /// Where the response stood when the connection ended early.
    fn cut_short(&self) -> &'static str {
        match self.framing {
            None => "before a complete response head",
            Some(Framing::Length(_)) => "before the whole Content-Length body",
            Some(Framing::Chunked(_)) => "before the last chunk of a chunked body",
            Some(Framing::Close) => "without close_notify (the body may be truncated)",
        }
    }

    /// Takes plaintext from the server.
    fn push(&mut self, data: &[u8]) -> Result<(), String> {
        if self.complete || data.is_empty() {
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        if self.head.is_none() && !self.read_head()? {
            return Ok(());
        }
        self.read_body()
    }

    /// Parses the head once it is all there; `false` while more is needed.
    fn read_head(&mut self) -> Result<bool, String> {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut fields);
            let parsed = response
                .parse(&self.pending)
                .map_err(|e| format!("malformed HTTP response head: {e}"))?;
            let httparse::Status::Complete(length) = parsed else {
                if self.pending.len() > MAX_HEAD {
                    return Err(format!(
                        "the HTTP response head exceeds {} KiB",
                        MAX_HEAD / 1024
                    ));
                }
                return Ok(false);
            };
            if length > MAX_HEAD {
                return Err(format!(
                    "the HTTP response head exceeds {} KiB",
                    MAX_HEAD / 1024
                ));
            }
            let status = response.code.unwrap_or_default();
            if status == 101 {
                return Err("the server switched protocols, which was not asked for".to_owned());
            }
            if (100..200).contains(&status) {
                // An interim response (100 Continue, 103 Early Hints): the final one follows.
                self.pending.drain(..length);
                continue;
            }
            let mut content_type = None;
            let mut content_length: Option<usize> = None;
            let mut chunked = false;
            for field in response.headers.iter() {
                let value = String::from_utf8_lossy(field.value);
                let value = value.trim();
                if field.name.eq_ignore_ascii_case("content-type") {
                    if content_type.is_none() {
                        content_type = Some(value.to_owned());
                    }
                } else if field.name.eq_ignore_ascii_case("content-length") {
                    let length = value
                        .parse::<usize>()
                        .ok()
                        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| format!("invalid Content-Length {value}"))?;
                    if content_length.is_some_and(|l| l != length) {
                        return Err("conflicting Content-Length fields".to_owned());
                    }
                    content_length = Some(length);
                } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
                    if !value.eq_ignore_ascii_case("chunked") || chunked {
                        return Err(format!(
                            "unsupported Transfer-Encoding {value} (only chunked)"
                        ));
                    }
                    chunked = true;
                }
            }
            self.pending.drain(..length);
            // A status other than 200 yields no policy whatever the body says: stop here.
            let framing = if status != 200 {
                self.complete = true;
                Framing::Length(0)
            } else if chunked {
                // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3).
                Framing::Chunked(Chunk::Size)
            } else if let Some(length) = content_length {
                Framing::Length(length)
            } else {
                Framing::Close
            };
            self.head = Some(Head {
                status,
                content_type,
            });
            self.framing = Some(framing);
            return Ok(true);
        }
    }

    /// Moves pending bytes into the body as the framing says.
    fn read_body(&mut self) -> Result<(), String> {
        loop {
            if self.complete {
                self.pending.clear();
                return Ok(());
            }
            if self.body.len() >= self.body_cap {
                // Enough to know the body is too large: stop reading.
                self.complete = true;
                continue;
            }
            let Some(framing) = self.framing.as_mut() else {
                return Ok(());
            };
            match framing {
                Framing::Close => {
                    let pending = std::mem::take(&mut self.pending);
                    self.take_body(&pending);
                    return Ok(());
                }
                Framing::Length(left) => {
                    let n = (*left).min(self.pending.len());
                    *left -= n;
                    if *left == 0 {
                        self.complete = true;
                    }
                    let data: Vec<u8> = self.pending.drain(..n).collect();
                    self.take_body(&data);
                    if !self.complete {
                        return Ok(());
                    }
                }
                Framing::Chunked(chunk) => {
                    let step = *chunk;
                    let Some(next) = self.chunk_step(step)? else {
                        return Ok(());
                    };
                    match next {
                        Some(chunk) => self.framing = Some(Framing::Chunked(chunk)),
                        None => self.complete = true,
                    }
                }
            }
        }
    }

    /// One step of chunked decoding: `None` when more bytes are needed, `Some(None)` at the
    /// end of the body.
    fn chunk_step(&mut self, step: Chunk) -> Result<Option<Option<Chunk>>, String> {
        match step {
            Chunk::Size => {
                let Some(line) = self.line(MAX_CHUNK_LINE, "chunk-size line")? else {
                    return Ok(None);
                };
                let size = line.split(|&b| b == b';').next().unwrap_or_default();
                let size = std::str::from_utf8(size)
                    .ok()
                    .map(|s| s.trim_matches(|c| c == ' ' || c == '\t'))
                    .filter(|s| !s.is_empty() && s.len() <= 8)
                    .and_then(|s| usize::from_str_radix(s, 16).ok())
                    .ok_or_else(|| "malformed chunk size".to_owned())?;
                Ok(Some(Some(if size == 0 {
                    Chunk::Trailer(0)
                } else {
                    Chunk::Data(size)
                })))
            }
            Chunk::Data(left) => {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let n = left.min(self.pending.len());
                let data: Vec<u8> = self.pending.drain(..n).collect();
                self.take_body(&data);
                Ok(Some(Some(if n == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n)
                })))
            }
            Chunk::DataEnd => {
                let Some(line) = self.line(2, "chunk end")? else {
                    return Ok(None);
                };
                if !line.is_empty() {
                    return Err("chunk data longer than its size".to_owned());
                }
                Ok(Some(Some(Chunk::Size)))
            }
            Chunk::Trailer(seen) => {
                let Some(line) = self.line(MAX_CHUNK_LINE, "trailer field")? else {
                    return Ok(None);
                };
                if line.is_empty() {
                    return Ok(Some(None));
                }
                let seen = seen + line.len();
                if seen > MAX_TRAILER {
                    return Err(format!("trailer fields exceed {} KiB", MAX_TRAILER / 1024));
                }
                Ok(Some(Some(Chunk::Trailer(seen))))
            }
        }
    }

    /// Takes one line (without its CRLF or LF) from the pending bytes, `None` while it is
    /// incomplete; a line longer than `max` is an error.
    fn line(&mut self, max: usize, what: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > max {
                return Err(format!("{what} too long"));
            }
            return Ok(None);
        };
        if end > max {
            return Err(format!("{what} too long"));
        }
        let mut line: Vec<u8> = self.pending.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    /// Appends body bytes up to the cap.
    fn take_body(&mut self, data: &[u8]) {
        let room = self.body_cap.saturating_sub(self.body.len());
        self.body
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        if self.body.len() >= self.body_cap {
            self.complete = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]]) -> Result<ResponseReader, String> {
        let mut reader = ResponseReader::new(65);
        for chunk in chunks {
            reader.push(chunk)?;
        }
        Ok(reader)
    }

    #[test]
    fn content_length_body_split_anywhere() {
        let whole: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            let reader = read(&[a, b]).unwrap();
            assert!(reader.is_complete(), "cut at {cut}");
            assert_eq!(reader.body, b"hello");
            let head = reader.head.as_ref().unwrap();
            assert_eq!(head.status, 200);
            assert_eq!(head.content_type.as_deref(), Some("text/plain"));
        }
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let whole: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: yes\r\n\r\n";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            let reader = read(&[a, b]).unwrap();
            assert!(reader.is_complete(), "cut at {cut}");
            assert_eq!(reader.body, b"abcde");
        }
        // Byte by byte.
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(read(&bytes).unwrap().body, b"abcde");
    }

    #[test]
    fn interim_responses_are_skipped() {
        let reader = read(&[
            b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n",
        ])
        .unwrap();
        assert!(reader.is_complete());
        assert_eq!(reader.head.unwrap().status, 404);
    }

    #[test]
    fn body_is_cut_at_the_cap_plus_one() {
        let mut reader = ResponseReader::new(11);
        reader
            .push(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            .unwrap();
        assert!(!reader.is_complete());
        reader.push(&[b'a'; 100]).unwrap();
        assert!(reader.is_complete());
        assert_eq!(reader.body.len(), 11);
        let mut chunked = ResponseReader::new(4);
        chunked
            .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nabcdefgh")
            .unwrap();
        assert!(chunked.is_complete());
        assert_eq!(chunked.body, b"abcd");
    }

    #[test]
    fn close_framed_body_needs_close_notify() {
        let mut reader = read(&[b"HTTP/1.0 200 OK\r\n\r\nversion"]).unwrap();
        assert!(!reader.is_complete());
        assert_eq!(
            reader.cut_short(),
            "without close_notify (the body may be truncated)"
        );
        reader.close_notify();
        assert!(reader.is_complete());
        assert_eq!(reader.body, b"version");
    }

    #[test]
    fn hostile_heads_and_chunks_are_refused() {
        let bad: [&[u8]; 9] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"SMTP/1.1 200 OK\r\n\r\n",
        ];
        for input in bad {
            assert!(
                read(&[input]).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        // An endless head, an endless chunk-size line, endless trailers.
        let mut reader = ResponseReader::new(65);
        reader.push(b"HTTP/1.1 200 OK\r\n").unwrap();
        let filler =
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(20);
        let mut failed = false;
        for _ in 0..40 {
            if reader.push(&filler).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a head over 16 KiB must be refused");
        let mut reader = ResponseReader::new(65);
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        reader.push(head).unwrap();
        assert!(reader.push(&[b'0'; 2000]).is_err());
        let mut reader = ResponseReader::new(65);
        reader.push(head).unwrap();
        reader.push(b"0\r\n").unwrap();
        let trailer = b"X-T: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(10);
        let mut failed = false;
        for _ in 0..40 {
            if reader.push(&trailer).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "trailers over 8 KiB must be refused");
    }

    #[test]
    fn the_request_path_comes_from_the_url() {
        let domain = crate::names::DnsName::parse("example.com").unwrap();
        let mut request = StsFetchRequest::new(&domain);
        assert_eq!(request_path(&request).unwrap(), "/.well-known/mta-sts.txt");
        request.url = "https://mta-sts.example.com/a b".to_owned();
        assert!(request_path(&request).is_err());
        request.url = "http://mta-sts.example.com/.well-known/mta-sts.txt".to_owned();
        assert!(request_path(&request).is_err());
    }
}
