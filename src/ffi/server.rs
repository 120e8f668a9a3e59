//! The inbound SMTP session: configuration, bytes in and out, events, answers, TLS facts.

use core::ffi::c_char;
use core::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::policy::ladder::Rung;
use crate::server::{ClientInfo, ServerConfig, ServerEvent, ServerSession, ServerTls};
use crate::smtp::{Code, EnhancedCode, Reply};
use crate::tls::{TlsFacts, TlsIdentity};
use crate::Timestamp;

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::result::mailtls_result;
use super::text::{self, MAILTLS_MAX_TEXT};

/// The most bytes one `handle_input` call takes.
pub const MAILTLS_MAX_INPUT: usize = 1024 * 1024;

/// What every inbound session of one listener shares. Made by [`mailtls_server_config_new`],
/// freed by [`mailtls_server_config_free`]; sessions keep their own reference, so it may be
/// freed while sessions made from it live.
pub struct mailtls_server_config {
    _private: [u8; 0],
}

impl Castable for mailtls_server_config {
    type Inner = ServerConfig;
}

/// One inbound SMTP session, without I/O. Made by [`mailtls_server_session_new`], freed by
/// [`mailtls_server_session_free`].
pub struct mailtls_server_session {
    _private: [u8; 0],
}

/// What a session handle points to: the session, bytes not yet taken by the caller, and the
/// last event polled.
#[derive(Debug)]
pub(crate) struct Session {
    session: ServerSession,
    outgoing: Vec<u8>,
    last_event: Option<ServerEvent>,
}

impl Castable for mailtls_server_session {
    type Inner = Session;
}

/// The kind of a server session event; details through [`mailtls_server_session_event_detail`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_server_event {
    /// No event is waiting.
    None = 0,
    /// The session is over (detail: the reason). Close the transport after the last transmit.
    Closed = 1,
    /// The client greeted (detail: the name it gave).
    Greeted = 2,
    /// A `MAIL FROM` waits for an answer (detail: the reverse path).
    MailFrom = 3,
    /// The message being received was abandoned (detail: why).
    MessageAborted = 4,
    /// Message content (detail: the bytes, dot-unstuffed).
    MessageData = 5,
    /// The message is complete and waits for an answer (detail: its size).
    MessageEnd = 6,
    /// DATA was answered 354.
    MessageStart = 7,
    /// Plaintext bytes after STARTTLS were discarded (detail: how many).
    PlaintextDiscarded = 8,
    /// A `RCPT TO` waits for an answer (detail: the forward path).
    RcptTo = 9,
    /// The session refused a command by itself (detail: the reply sent).
    Refused = 10,
    /// The transaction was reset.
    Reset = 11,
    /// TLS is established (detail: version and suite; facts through
    /// [`mailtls_server_session_tls_fact`]).
    TlsEstablished = 12,
    /// TLS failed (detail: the failure and its RFC 8460 result type).
    TlsFailed = 13,
    /// Reserved for events a later version adds; skip it.
    Other = 14,
}

/// A fact of an established TLS session.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_tls_fact {
    /// The protocol version, `TLSv1.3` or `TLSv1.2` (the milter `{tls_version}` spelling).
    Version = 0,
    /// The cipher suite, IANA name.
    Suite = 1,
    /// The cipher suite, OpenSSL name (the milter `{cipher}` spelling).
    OpensslSuite = 2,
    /// The key-exchange group, when known.
    Group = 3,
    /// The SNI the client sent, when any.
    Sni = 4,
}

/// A server configuration announcing `hostname`, without TLS until an identity is set.
#[no_mangle]
pub extern "C" fn mailtls_server_config_new(
    hostname: *const c_char,
    out_config: *mut *mut mailtls_server_config,
) -> mailtls_result {
    boundary::call(|| {
        let hostname = text::string(hostname)?;
        require_out(out_config)?;
        let config = ServerConfig::new(hostname);
        handle::give::<mailtls_server_config>(out_config, config)
    })
}

/// Frees a server configuration. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_server_config_free(config: *mut mailtls_server_config) {
    boundary::value(|| handle::free(config));
}

/// Offers STARTTLS with this certificate chain (PEM, leaf first) and private key (PEM),
/// on the modern profile (TLS 1.3 and 1.2, forward-secret AEAD suites).
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_identity_pem(
    config: *mut mailtls_server_config,
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow_mut(config)?;
        let chain = text::bytes(chain_pem, chain_len, MAILTLS_MAX_TEXT)?;
        let key = text::bytes(key_pem, key_len, MAILTLS_MAX_TEXT)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<_, _>>()
            .map_err(|_| mailtls_result::Tls)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| mailtls_result::Tls)?;
        let identity = TlsIdentity::from_der(chain, key).map_err(|_| mailtls_result::Tls)?;
        config.tls = Some(ServerTls::new(identity, Rung::Modern));
        Ok(())
    })
}

/// Whether every client must use STARTTLS before mail (answered `530 5.7.0` otherwise). A
/// publicly referenced MX must not set this.
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_require_tls(
    config: *mut mailtls_server_config,
    require: bool,
) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(config)?.require_tls = require;
        Ok(())
    })
}

/// A session for a client that connected from `client_ip` at `now_ms` (Unix milliseconds);
/// the greeting is queued for [`mailtls_server_session_poll_transmit`].
#[no_mangle]
pub extern "C" fn mailtls_server_session_new(
    config: *const mailtls_server_config,
    client_ip: *const c_char,
    now_ms: u64,
    out_session: *mut *mut mailtls_server_session,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let ip: IpAddr = text::string(client_ip)?
            .parse()
            .map_err(|_| mailtls_result::InvalidArgument)?;
        require_out(out_session)?;
        let session = ServerSession::new(
            Arc::new(config.clone()),
            ClientInfo { ip },
            Timestamp::from_unix_millis(now_ms),
        );
        let inner = Session {
            session,
            outgoing: Vec::new(),
            last_event: None,
        };
        handle::give::<mailtls_server_session>(out_session, inner)
    })
}

/// Frees a session. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_server_session_free(session: *mut mailtls_server_session) {
    boundary::value(|| handle::free(session));
}

/// Feeds `len` bytes received from the client (at most `MAILTLS_MAX_INPUT`); `*out_taken`
/// says how many were taken. Fewer are taken only while an event waits for an answer or the
/// input buffer is full: offer the rest again later.
#[no_mangle]
pub extern "C" fn mailtls_server_session_handle_input(
    session: *mut mailtls_server_session,
    input: *const u8,
    len: usize,
    now_ms: u64,
    out_taken: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        let input = text::bytes(input, len, MAILTLS_MAX_INPUT)?;
        require_out(out_taken)?;
        let taken = inner
            .session
            .handle_input(input, Timestamp::from_unix_millis(now_ms));
        write_out(out_taken, taken)
    })
}

/// The client closed its side of the connection.
#[no_mangle]
pub extern "C" fn mailtls_server_session_handle_eof(
    session: *mut mailtls_server_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .session
            .handle_eof(Timestamp::from_unix_millis(now_ms));
        Ok(())
    })
}

/// The deadline (Unix milliseconds) at which to call
/// [`mailtls_server_session_handle_timeout`]; `MAILTLS_RESULT_NOT_FOUND` when none runs.
#[no_mangle]
pub extern "C" fn mailtls_server_session_poll_timeout(
    session: *const mailtls_server_session,
    out_deadline_ms: *mut u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let deadline = inner
            .session
            .poll_timeout()
            .ok_or(mailtls_result::NotFound)?;
        let ms = u64::try_from(deadline.since_epoch().as_millis()).unwrap_or(u64::MAX);
        write_out(out_deadline_ms, ms)
    })
}

/// Tells the session the time is `now_ms`; a passed deadline closes the phase it guards.
#[no_mangle]
pub extern "C" fn mailtls_server_session_handle_timeout(
    session: *mut mailtls_server_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .session
            .handle_timeout(Timestamp::from_unix_millis(now_ms));
        Ok(())
    })
}

/// Copies bytes to send to the client into `buf` (at most `len`); `*out_n` is 0 when there
/// is nothing to send. Bytes that do not fit stay for the next call.
#[no_mangle]
pub extern "C" fn mailtls_server_session_poll_transmit(
    session: *mut mailtls_server_session,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        if buf.is_null() {
            return Err(mailtls_result::NullParameter);
        }
        require_out(out_n)?;
        while let Some(more) = inner.session.poll_transmit() {
            inner.outgoing.extend_from_slice(&more);
        }
        let n = text::copy_bytes(&inner.outgoing, buf, len)?;
        inner.outgoing.drain(..n);
        write_out(out_n, n)
    })
}

/// Takes the next event; `MAILTLS_SERVER_EVENT_NONE` when none waits. Its detail stays
/// readable through [`mailtls_server_session_event_detail`] until the next poll.
#[no_mangle]
pub extern "C" fn mailtls_server_session_poll_event(
    session: *mut mailtls_server_session,
    out_event: *mut mailtls_server_event,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        require_out(out_event)?;
        inner.last_event = inner.session.poll_event();
        let kind = inner
            .last_event
            .as_ref()
            .map_or(mailtls_server_event::None, kind_of);
        write_out(out_event, kind)
    })
}

/// Copies the detail of the last polled event into `buf` (bytes, NUL-terminated; message
/// data may contain any byte, so use `*out_n`). `MAILTLS_RESULT_NOT_FOUND` when no event was
/// polled; `MAILTLS_RESULT_INSUFFICIENT_SIZE` when it does not fit (see
/// [`mailtls_server_session_event_detail_size`]).
#[no_mangle]
pub extern "C" fn mailtls_server_session_event_detail(
    session: *const mailtls_server_session,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let event = inner.last_event.as_ref().ok_or(mailtls_result::NotFound)?;
        text::write_bytes(&detail_of(event), buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_server_session_event_detail`] needs.
#[no_mangle]
pub extern "C" fn mailtls_server_session_event_detail_size(
    session: *const mailtls_server_session,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let event = inner.last_event.as_ref().ok_or(mailtls_result::NotFound)?;
        write_out(out_size, detail_of(event).len() + 1)
    })
}

/// Accepts the pending `MAIL FROM`, `RCPT TO` or message with `250`.
/// `MAILTLS_RESULT_WRONG_STATE` when nothing waits for an answer.
#[no_mangle]
pub extern "C" fn mailtls_server_session_accept(
    session: *mut mailtls_server_session,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .session
            .accept()
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Refuses the pending command with `code` (4xx or 5xx), an optional enhanced code
/// (`"5.7.1"`, or NULL) and `text` (lines separated by `\n`).
#[no_mangle]
pub extern "C" fn mailtls_server_session_reject(
    session: *mut mailtls_server_session,
    code: u16,
    enhanced: *const c_char,
    reply_text: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        let enhanced = text::optional_string(enhanced)?
            .map(|e| e.parse::<EnhancedCode>())
            .transpose()
            .map_err(|_| mailtls_result::InvalidArgument)?;
        let reply_text = text::string(reply_text)?;
        let code = Code::new(code).ok_or(mailtls_result::InvalidArgument)?;
        let reply =
            Reply::new(code, enhanced, reply_text).map_err(|_| mailtls_result::InvalidArgument)?;
        if inner.session.pending().is_none() {
            return Err(mailtls_result::WrongState);
        }
        inner
            .session
            .reject(&reply)
            .map_err(|_| mailtls_result::InvalidArgument)
    })
}

/// Ends the session from the server side (`421 4.3.2`); transmit what is queued, then close.
#[no_mangle]
pub extern "C" fn mailtls_server_session_close(
    session: *mut mailtls_server_session,
) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(session)?.session.close();
        Ok(())
    })
}

/// Whether the session is over and every byte for the client was handed out.
#[no_mangle]
pub extern "C" fn mailtls_server_session_is_closed(
    session: *const mailtls_server_session,
    out_closed: *mut bool,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        write_out(
            out_closed,
            inner.session.is_closed() && inner.outgoing.is_empty(),
        )
    })
}

/// Copies one fact of the established TLS session (`fact`: a `mailtls_tls_fact` value) into
/// `buf`. `MAILTLS_RESULT_NOT_FOUND` before TLS, or when the fact is unknown (no SNI sent).
#[no_mangle]
pub extern "C" fn mailtls_server_session_tls_fact(
    session: *const mailtls_server_session,
    fact: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let facts = inner.session.tls_facts().ok_or(mailtls_result::NotFound)?;
        let value = tls_fact(facts, fact)?.ok_or(mailtls_result::NotFound)?;
        text::write_data(&value, buf, len, out_n)
    })
}

/// Copies certificate `index` (0 = the client's own) of the chain the client presented, as
/// DER, into `buf`. `MAILTLS_RESULT_NOT_FOUND` before TLS or past the end of the chain.
#[no_mangle]
pub extern "C" fn mailtls_server_session_peer_certificate(
    session: *const mailtls_server_session,
    index: usize,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let facts = inner.session.tls_facts().ok_or(mailtls_result::NotFound)?;
        let der = facts
            .peer_chain
            .get(index)
            .ok_or(mailtls_result::NotFound)?;
        if buf.is_null() {
            return Err(mailtls_result::NullParameter);
        }
        require_out(out_n)?;
        if der.len() > len {
            return Err(mailtls_result::InsufficientSize);
        }
        let n = text::copy_bytes(der.as_ref(), buf, len)?;
        write_out(out_n, n)
    })
}

pub(crate) fn tls_fact(facts: &TlsFacts, fact: u32) -> Result<Option<String>, mailtls_result> {
    let value = match fact {
        f if f == mailtls_tls_fact::Version as u32 => Some(facts.version.to_owned()),
        f if f == mailtls_tls_fact::Suite as u32 => Some(facts.suite.to_owned()),
        f if f == mailtls_tls_fact::OpensslSuite as u32 => Some(facts.openssl_suite.to_owned()),
        f if f == mailtls_tls_fact::Group as u32 => facts.group.map(str::to_owned),
        f if f == mailtls_tls_fact::Sni as u32 => facts.sni.clone(),
        _ => return Err(mailtls_result::InvalidArgument),
    };
    Ok(value)
}

fn kind_of(event: &ServerEvent) -> mailtls_server_event {
    match event {
        ServerEvent::Closed(_) => mailtls_server_event::Closed,
        ServerEvent::Greeted { .. } => mailtls_server_event::Greeted,
        ServerEvent::MailFrom(_) => mailtls_server_event::MailFrom,
        ServerEvent::MessageAborted(_) => mailtls_server_event::MessageAborted,
        ServerEvent::MessageData(_) => mailtls_server_event::MessageData,
        ServerEvent::MessageEnd { .. } => mailtls_server_event::MessageEnd,
        ServerEvent::MessageStart => mailtls_server_event::MessageStart,
        ServerEvent::PlaintextDiscarded { .. } => mailtls_server_event::PlaintextDiscarded,
        ServerEvent::RcptTo(_) => mailtls_server_event::RcptTo,
        ServerEvent::Refused(_) => mailtls_server_event::Refused,
        ServerEvent::Reset => mailtls_server_event::Reset,
        ServerEvent::TlsEstablished { .. } => mailtls_server_event::TlsEstablished,
        ServerEvent::TlsFailed(_) => mailtls_server_event::TlsFailed,
    }
}

fn detail_of(event: &ServerEvent) -> Vec<u8> {
    let text = match event {
        ServerEvent::Closed(reason) => format!("{reason:?}"),
        ServerEvent::Greeted { host, .. } => host.to_string(),
        ServerEvent::MailFrom(mail) => mail.from.to_string(),
        ServerEvent::MessageAborted(reason) => format!("{reason:?}"),
        ServerEvent::MessageData(data) => return data.clone(),
        ServerEvent::MessageEnd { size } => size.to_string(),
        ServerEvent::PlaintextDiscarded { length, .. } => length.to_string(),
        ServerEvent::RcptTo(rcpt) => rcpt.to.to_string(),
        ServerEvent::Refused(refusal) => String::from_utf8_lossy(&refusal.reply.to_bytes())
            .trim_end()
            .to_owned(),
        ServerEvent::TlsEstablished { facts, .. } => format!("{} {}", facts.version, facts.suite),
        ServerEvent::TlsFailed(failure) => {
            format!(
                "{} ({}): {}",
                failure.class, failure.result_type, failure.detail
            )
        }
        _ => String::new(),
    };
    text.into_bytes()
}
