//! The MTA-STS policy fetch (`io::StsFetcher`) against an in-process HTTPS server on
//! loopback (rustls, one thread per case), one case per RFC 8461 §3.3 rule: every failure is
//! the typed error with its RFC 8460 result type (RFC 8460 §4.3.2.2: `sts-policy-fetch-error`,
//! `sts-policy-invalid`, `sts-webpki-invalid`).
#![cfg(any(feature = "blocking", feature = "tokio"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::Duration;

use mailtls::cert::TrustAnchors;
use mailtls::io::{PostTarget, ReportPostError, StsFetcher};
use mailtls::names::DnsName;
use mailtls::policy::ladder::Rung;
use mailtls::policy::mta_sts::{
    StsFetchError, StsFetchRequest, StsMode, StsPolicy, StsPolicyError,
};
use mailtls::report::ResultType;
use mailtls::tls::{server_config, ServerTlsSetup, TlsIdentity};
use rustls::{ServerConnection, StreamOwned};

use support::pki::Ca;

const DOMAIN: &str = "sts.test";
const HOST: &str = "mta-sts.sts.test";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Lab {
    ca: Ca,
    right: TlsIdentity,
    wrong_name: TlsIdentity,
    untrusted: TlsIdentity,
}

fn lab() -> &'static Lab {
    static LAB: LazyLock<Lab> = LazyLock::new(|| {
        let ca = Ca::root("mailtls MTA-STS test CA");
        let other = Ca::root("mailtls untrusted CA");
        Lab {
            right: ca.leaf_for(HOST).identity(),
            wrong_name: ca.leaf_for("www.sts.test").identity(),
            untrusted: other.leaf_for(HOST).identity(),
            ca,
        }
    });
    &LAB
}

fn fetcher(port: u16) -> StsFetcher {
    StsFetcher::new(TrustAnchors::from_der([&lab().ca.der]).unwrap())
        .with_port(port)
        .with_timeout(Duration::from_secs(20))
}

fn request() -> StsFetchRequest {
    StsFetchRequest::new(&DnsName::parse(DOMAIN).unwrap())
}

/// What the server does after reading the request.
enum Then {
    /// Writes these bytes, then `close_notify`, then closes.
    Respond(Vec<u8>),
    /// Writes these bytes, then closes the TCP connection without `close_notify`.
    RespondAndDrop(Vec<u8>),
    /// Writes nothing; waits for the client to give up.
    Stall,
}

/// What the server saw: the request head and the SNI.
struct Seen {
    request: String,
    sni: Option<String>,
}

/// The server side of one TLS connection, as the tests drive it.
type ServerTls = StreamOwned<ServerConnection, TcpStream>;

/// An HTTPS server for one connection on an ephemeral loopback port: reads the request head,
/// then lets `then` answer; `None` when no request head came (the client refused the
/// handshake: a certificate it does not accept).
fn serve_with<T: Send + 'static>(
    identity: &TlsIdentity,
    then: impl FnOnce(&mut ServerTls, String) -> T + Send + 'static,
) -> (u16, JoinHandle<Option<T>>) {
    let config = server_config(&ServerTlsSetup::new(
        Rung::Modern,
        identity.clone(),
        mailtls::io::now(),
    ))
    .unwrap();
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let conn = ServerConnection::new(Arc::clone(&config)).unwrap();
        let mut tls = StreamOwned::new(conn, socket);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tls.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return None,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        Some(then(&mut tls, head))
    });
    (port, server)
}

/// An HTTPS server for one GET, doing `then` after the request.
fn serve(identity: &TlsIdentity, then: Then) -> (u16, JoinHandle<Option<Seen>>) {
    serve_with(identity, move |tls, request| {
        let seen = Seen {
            request,
            sni: tls.conn.server_name().map(str::to_owned),
        };
        match then {
            Then::Respond(bytes) => {
                let _ = tls.write_all(&bytes);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
            Then::RespondAndDrop(bytes) => {
                let _ = tls.write_all(&bytes);
                let _ = tls.flush();
                let _ = tls.sock.shutdown(Shutdown::Both);
            }
            Then::Stall => {
                // Blocks until the client closes its end.
                let _ = tls.sock.read(&mut [0u8; 64]);
            }
        }
        seen
    })
}

fn response(status: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 response with an `enforce` policy.
fn enforce() -> Then {
    Then::Respond(response(
        "200 OK",
        Some("text/plain"),
        &policy_text("enforce"),
    ))
}

fn policy_text(mode: &str) -> Vec<u8> {
    format!("version: STSv1\r\nmode: {mode}\r\nmx: mx.sts.test\r\nmx: *.backup.sts.test\r\nmax_age: 604800\r\n")
        .into_bytes()
}

/// Runs one fetch against a server doing `then` with `identity`.
fn fetch_from(
    identity: &TlsIdentity,
    then: Then,
) -> (Result<StsPolicy, StsFetchError>, Option<Seen>) {
    let (port, server) = serve(identity, then);
    let result = fetcher(port).fetch(&request(), &[LOOPBACK]);
    (result, server.join().unwrap())
}

fn fetch(then: Then) -> Result<StsPolicy, StsFetchError> {
    fetch_from(&lab().right, then).0
}

#[test]
fn enforce_policy_is_fetched_with_the_right_request_and_sni() {
    let (result, seen) = fetch_from(&lab().right, enforce());
    let policy = result.unwrap();
    assert_eq!(policy.mode(), StsMode::Enforce);
    assert_eq!(policy.max_age(), Duration::from_secs(604_800));
    assert!(policy.check_mx("mx.sts.test").is_ok());
    assert!(policy.check_mx("a.backup.sts.test").is_ok());
    assert!(policy.check_mx("mx.elsewhere.test").is_err());
    let seen = seen.unwrap();
    assert_eq!(seen.sni.as_deref(), Some(HOST));
    let lines: Vec<&str> = seen.request.split("\r\n").collect();
    assert_eq!(lines[0], "GET /.well-known/mta-sts.txt HTTP/1.1");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Host: mta-sts.sts.test:")),
        "{lines:?}"
    );
    assert!(lines.contains(&"Connection: close"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("User-Agent: mailtls/")),
        "{lines:?}"
    );
}

#[test]
fn testing_and_none_policies_are_fetched() {
    let testing = fetch(Then::Respond(response(
        "200 OK",
        Some("text/plain; charset=utf-8"),
        &policy_text("testing"),
    )))
    .unwrap();
    assert_eq!(testing.mode(), StsMode::Testing);
    let none = fetch(Then::Respond(response(
        "200 OK",
        Some("text/plain"),
        b"version: STSv1\nmode: none\nmax_age: 86400\n",
    )))
    .unwrap();
    assert_eq!(none.mode(), StsMode::None);
}

#[test]
fn malformed_policy_is_sts_policy_invalid() {
    let e = fetch(Then::Respond(response(
        "200 OK",
        Some("text/plain"),
        b"version: STSv1\nmode: enforce\n",
    )))
    .unwrap_err();
    assert!(matches!(e, StsFetchError::InvalidPolicy(_)), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyInvalid);
}

#[test]
fn redirect_is_not_followed() {
    let redirect = b"HTTP/1.1 301 Moved Permanently\r\n\
        Location: https://elsewhere.test/.well-known/mta-sts.txt\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let e = fetch(Then::Respond(redirect)).unwrap_err();
    assert_eq!(e, StsFetchError::Redirect { status: 301 });
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
}

#[test]
fn not_found_is_a_fetch_error() {
    let e = fetch(Then::Respond(response(
        "404 Not Found",
        Some("text/html"),
        b"<h1>no</h1>",
    )))
    .unwrap_err();
    assert_eq!(e, StsFetchError::Status { status: 404 });
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
}

#[test]
fn oversized_body_is_refused_after_the_cap() {
    // 1 MiB of comment-free padding lines: the client reads 64 KiB + 1 and stops.
    let mut body = policy_text("enforce");
    while body.len() < 1 << 20 {
        body.extend_from_slice(b"mx: padding.sts.test\r\n");
    }
    let e = fetch(Then::Respond(response("200 OK", Some("text/plain"), &body))).unwrap_err();
    assert!(
        matches!(
            e,
            StsFetchError::InvalidPolicy(StsPolicyError::TooLarge { .. })
        ),
        "{e}"
    );
    assert_eq!(e.result_type(), ResultType::StsPolicyInvalid);
}

#[test]
fn wrong_media_type_is_sts_policy_invalid() {
    let e = fetch(Then::Respond(response(
        "200 OK",
        Some("text/html"),
        &policy_text("enforce"),
    )))
    .unwrap_err();
    assert_eq!(
        e,
        StsFetchError::MediaType {
            presented: Some("text/html".to_owned())
        }
    );
    assert_eq!(e.result_type(), ResultType::StsPolicyInvalid);
    let e = fetch(Then::Respond(response(
        "200 OK",
        None,
        &policy_text("enforce"),
    )))
    .unwrap_err();
    assert_eq!(e, StsFetchError::MediaType { presented: None });
}

#[test]
fn certificate_for_another_name_is_sts_webpki_invalid() {
    let (result, seen) = fetch_from(&lab().wrong_name, enforce());
    let e = result.unwrap_err();
    assert!(matches!(e, StsFetchError::CertificateInvalid { .. }), "{e}");
    assert_eq!(e.result_type(), ResultType::StsWebpkiInvalid);
    assert!(
        seen.is_none(),
        "no request may be sent over an unverified connection"
    );
}

#[test]
fn certificate_from_an_unknown_ca_is_sts_webpki_invalid() {
    let (result, seen) = fetch_from(&lab().untrusted, enforce());
    let e = result.unwrap_err();
    assert!(matches!(e, StsFetchError::CertificateInvalid { .. }), "{e}");
    assert_eq!(e.result_type(), ResultType::StsWebpkiInvalid);
    assert!(seen.is_none());
}

#[test]
fn chunked_body_is_decoded() {
    let policy = policy_text("enforce");
    let (a, b) = policy.split_at(10);
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for part in [a, b] {
        bytes.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        bytes.extend_from_slice(part);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    // The server drops the connection without close_notify: the last chunk made it whole.
    let policy = fetch(Then::RespondAndDrop(bytes)).unwrap();
    assert_eq!(policy.mode(), StsMode::Enforce);
}

#[test]
fn body_to_the_close_needs_close_notify() {
    let mut head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    head.extend_from_slice(&policy_text("testing"));
    let policy = fetch(Then::Respond(head.clone())).unwrap();
    assert_eq!(policy.mode(), StsMode::Testing);
    let e = fetch(Then::RespondAndDrop(head)).unwrap_err();
    assert!(matches!(e, StsFetchError::Transport { .. }), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
}

#[test]
fn truncated_body_is_a_fetch_error() {
    let mut bytes = response("200 OK", Some("text/plain"), &policy_text("enforce"));
    bytes.truncate(bytes.len() - 20);
    let e = fetch(Then::RespondAndDrop(bytes)).unwrap_err();
    assert!(matches!(e, StsFetchError::Transport { .. }), "{e}");
    assert!(e.to_string().contains("Content-Length"), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
}

#[test]
fn slow_server_hits_the_timeout() {
    let (port, server) = serve(&lab().right, Then::Stall);
    let e = fetcher(port)
        .with_timeout(Duration::from_millis(300))
        .fetch(&request(), &[LOOPBACK])
        .unwrap_err();
    assert!(matches!(e, StsFetchError::Transport { .. }), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
    assert!(server.join().unwrap().is_some());
}

#[test]
fn addresses_are_tried_in_order_and_none_is_an_error() {
    let (port, server) = serve(&lab().right, enforce());
    // Nothing listens on 127.0.0.2 at that port: refused, then the next address answers.
    let unused = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let policy = fetcher(port)
        .fetch(&request(), &[unused, LOOPBACK])
        .unwrap();
    assert_eq!(policy.mode(), StsMode::Enforce);
    server.join().unwrap();
    let e = fetcher(port).fetch(&request(), &[]).unwrap_err();
    assert!(e.to_string().contains("no address"), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
    // A closed port: refused.
    let closed = TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = fetcher(closed).fetch(&request(), &[LOOPBACK]).unwrap_err();
    assert!(matches!(e, StsFetchError::Transport { .. }), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
}

#[test]
fn plaintext_http_server_is_a_fetch_error_not_a_policy() {
    // A server that answers the ClientHello with a plain HTTP response.
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut socket, _): (TcpStream, _) = listener.accept().unwrap();
        let _ = socket.read(&mut [0u8; 512]);
        let _ = socket.write_all(&response(
            "200 OK",
            Some("text/plain"),
            &policy_text("none"),
        ));
    });
    let e = fetcher(port).fetch(&request(), &[LOOPBACK]).unwrap_err();
    assert!(matches!(e, StsFetchError::Transport { .. }), "{e}");
    assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
    server.join().unwrap();
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// One async fetch against a server doing `then` with `identity`.
    fn fetch_async(
        identity: &TlsIdentity,
        then: Then,
        timeout: Duration,
    ) -> (Result<StsPolicy, StsFetchError>, Option<Seen>) {
        let (port, server) = serve(identity, then);
        let fetcher = fetcher(port).with_timeout(timeout);
        let result = runtime().block_on(fetcher.fetch_async(&request(), &[LOOPBACK]));
        (result, server.join().unwrap())
    }

    #[test]
    fn the_async_twin_fetches_and_refuses_alike() {
        let long = Duration::from_secs(20);
        let (policy, seen) = fetch_async(&lab().right, enforce(), long);
        assert_eq!(policy.unwrap().mode(), StsMode::Enforce);
        assert_eq!(seen.unwrap().sni.as_deref(), Some(HOST));

        let (e, seen) = fetch_async(&lab().wrong_name, enforce(), long);
        assert_eq!(e.unwrap_err().result_type(), ResultType::StsWebpkiInvalid);
        assert!(seen.is_none());

        let (e, seen) = fetch_async(&lab().right, Then::Stall, Duration::from_millis(300));
        let e = e.unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
        assert!(seen.is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// The same client POSTing a TLS-RPT report (RFC 8460 §5.4): `StsFetcher::post_report`.

/// What a POST server saw: the request head, the body, the SNI.
type SeenPost = (String, Vec<u8>, Option<String>);

/// An HTTPS server for one POST: reads the `Content-Length` body after the head, answers
/// `reply`; returns what it saw, or `None` when no request came.
fn serve_post(identity: &TlsIdentity, reply: Vec<u8>) -> (u16, JoinHandle<Option<SeenPost>>) {
    serve_with(identity, move |tls, head| {
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        tls.read_exact(&mut body).unwrap();
        let _ = tls.write_all(&reply);
        tls.conn.send_close_notify();
        let _ = tls.flush();
        (head, body, tls.conn.server_name().map(str::to_owned))
    })
}

fn post_to(
    identity: &TlsIdentity,
    reply: Vec<u8>,
) -> (Result<u16, ReportPostError>, Option<SeenPost>) {
    let (port, server) = serve_post(identity, reply);
    let target = PostTarget::parse(&format!("https://{HOST}:{port}/v1/report?from=x")).unwrap();
    let result = fetcher(443).post_report(&target, b"\x1f\x8bgzipped report", &[LOOPBACK]);
    (result, server.join().unwrap())
}

#[test]
fn a_report_is_posted_as_tlsrpt_gzip_and_a_2xx_accepts_it() {
    let (result, seen) = post_to(&lab().right, response("201 Created", None, b""));
    assert_eq!(result.unwrap(), 201);
    let (head, body, sni) = seen.unwrap();
    assert!(
        head.starts_with("POST /v1/report?from=x HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("\r\nHost: {HOST}:")), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/tlsrpt+gzip\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nContent-Length: 16\r\n"), "{head}");
    assert_eq!(body, b"\x1f\x8bgzipped report");
    assert_eq!(sni.as_deref(), Some(HOST));
}

#[test]
fn a_report_post_follows_no_redirect_and_a_5xx_is_a_refusal() {
    // The server takes one connection: a client following the Location would hang or fail.
    let redirect = b"HTTP/1.1 307 Temporary Redirect\r\n\
        Location: https://elsewhere.test/v1/report\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let (result, _) = post_to(&lab().right, redirect);
    assert!(
        matches!(result, Err(ReportPostError::Refused { status: 307, .. })),
        "{result:?}"
    );
    let (result, _) = post_to(
        &lab().right,
        response("500 Internal Server Error", None, b""),
    );
    let e = result.unwrap_err();
    assert!(
        matches!(e, ReportPostError::Refused { status: 500, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("HTTP status 500"), "{e}");
}

#[test]
fn a_report_is_never_posted_over_an_unverified_connection() {
    for identity in [&lab().wrong_name, &lab().untrusted] {
        let (result, seen) = post_to(identity, response("200 OK", None, b""));
        assert!(
            matches!(result, Err(ReportPostError::Certificate { .. })),
            "{result:?}"
        );
        assert!(
            seen.is_none(),
            "the report went out before the certificate was checked"
        );
    }
}

#[test]
fn report_uris_that_name_no_certifiable_host_are_refused() {
    for bad in [
        "http://reports.example/v1",
        "https://",
        "https:///v1",
        "https://user@reports.example/v1",
        "https://[2001:db8::1]/v1",
        "https://192.0.2.1/v1",
        "https://reports.example:0/v1",
        "https://reports.example:65536/v1",
        "https://reports.example:x/v1",
        "https://reports example/v1",
        "https://reports.example/v1\r\nX-Injected: 1",
        "https://repörts.example/v1",
    ] {
        assert!(
            matches!(PostTarget::parse(bad), Err(ReportPostError::BadUri { .. })),
            "{bad:?} accepted"
        );
    }
    let t = PostTarget::parse("HTTPS://Reports.Example.:8443?a=b#frag").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.path.as_str()),
        ("reports.example", 8443, "/?a=b")
    );
    let t = PostTarget::parse("https://reports.example").unwrap();
    assert_eq!((t.port, t.path.as_str()), (443, "/"));
}
