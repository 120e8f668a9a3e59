//! One session handle for both roles: a client attempt (from
//! `mailtls_delivery_next_session`) or an inbound session (from
//! `mailtls_session_new_server`), driven by one `mailtls_session_*` family: bytes and time
//! in, bytes, events and deadlines out. The calls only one role has (sending a message,
//! answering a command) return `MAILTLS_RESULT_WRONG_ROLE` on the other.

use core::ffi::c_char;

use crate::client::{AttemptRecord, ClientEvent, ClientSession, Envelope, TlsSummary};
use crate::server::{ServerEvent, ServerSession};
use crate::session::Session;
use crate::smtp::{Code, EnhancedCode, ForwardPath, Mailbox, Reply, ReversePath};
use crate::time::Timestamp;
use crate::tls::TlsFacts;

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::result::mailtls_result;
use super::text;

/// The most bytes one `mailtls_session_handle_input` or `mailtls_session_send_data` call
/// takes.
pub const MAILTLS_MAX_INPUT: usize = 1024 * 1024;

/// The most recipients one message may have.
pub const MAILTLS_MAX_RECIPIENTS: usize = 1000;

/// One SMTP session, client or server, without I/O. Made by `mailtls_delivery_next_session`
/// (client) or `mailtls_session_new_server` (server), freed by [`mailtls_session_free`].
pub struct mailtls_session {
    _private: [u8; 0],
}

impl Castable for mailtls_session {
    type Inner = SessionHandle;
}

/// Which side of the connection a session is.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_role {
    /// It connects to a server and sends mail.
    Client = 0,
    /// It accepted a connection and receives mail.
    Server = 1,
}

/// The kind of a session event; details through [`mailtls_session_event_detail`]. Each kind
/// says which role reports it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_session_event {
    /// No event is waiting.
    None = 0,
    /// Client: the server's EHLO reply was read (detail: `secure` or `plain`).
    Capabilities = 1,
    /// Both: the session is over (detail: the attempt's result, or why the server session
    /// closed). Send what is still queued, then close the transport; a client session goes
    /// to `mailtls_delivery_record` first.
    Closed = 2,
    /// Client: the 354 arrived; push the message with [`mailtls_session_send_data`].
    DataReady = 3,
    /// Both: the greeting (client: the server's reply; server: the name the client gave).
    Greeted = 4,
    /// Server: a `MAIL FROM` waits for an answer (detail: the reverse path).
    MailFrom = 5,
    /// Client: the reply to MAIL FROM (detail: the reply).
    MailResult = 6,
    /// Server: the message being received was abandoned (detail: why).
    MessageAborted = 7,
    /// Server: message content (detail: the bytes, dot-unstuffed).
    MessageData = 8,
    /// Server: the message is complete and waits for an answer (detail: its size).
    MessageEnd = 9,
    /// Client: a message ended (detail: `accepted` or `refused`, then the reply).
    MessageResult = 10,
    /// Server: DATA was answered 354.
    MessageStart = 11,
    /// Client: the session goes on without TLS (detail: why).
    Plaintext = 12,
    /// Server: plaintext bytes after STARTTLS were discarded (detail: how many).
    PlaintextDiscarded = 13,
    /// Client: the reply to one RCPT TO (detail: the reply).
    RcptResult = 14,
    /// Server: a `RCPT TO` waits for an answer (detail: the forward path).
    RcptTo = 15,
    /// Client: a message may be sent now ([`mailtls_session_send_mail`]) or the session
    /// ended ([`mailtls_session_quit`]).
    Ready = 16,
    /// Server: the session refused a command by itself (detail: the reply sent).
    Refused = 17,
    /// Server: the transaction was reset.
    Reset = 18,
    /// Both: TLS is established (detail: version and suite; facts through
    /// [`mailtls_session_tls_fact`]).
    TlsEstablished = 19,
    /// Server: TLS failed (detail: the failure and its RFC 8460 result type). A client
    /// reports a TLS failure in its Closed event.
    TlsFailed = 20,
    /// Reserved for events a later version adds; skip it.
    Other = 21,
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
    /// The key-exchange group (`X25519`, `secp256r1`, `X25519MLKEM768`), when known.
    Group = 3,
    /// The SNI the client sent, when any.
    Sni = 4,
}

/// What a session handle points to: the session of either role, and the bytes polled from
/// it that the caller has not taken yet.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    role: Role,
    outgoing: Vec<u8>,
}

/// Client sessions come from deliveries, which need the `blocking` feature.
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
#[derive(Debug)]
enum Role {
    Client(Box<ClientState>),
    Server(Box<ServerState>),
}

/// A client session, its last event, and what it reported that outlives the event: the TLS
/// summary and the final record.
#[derive(Debug)]
struct ClientState {
    session: ClientSession,
    last_event: Option<ClientEvent>,
    tls: Option<TlsSummary>,
    record: Option<AttemptRecord>,
}

/// A server session and its last event.
#[derive(Debug)]
struct ServerState {
    session: ServerSession,
    last_event: Option<ServerEvent>,
}

impl SessionHandle {
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn of_client(session: ClientSession) -> Self {
        Self::new(Role::Client(Box::new(ClientState {
            session,
            last_event: None,
            tls: None,
            record: None,
        })))
    }

    pub(crate) fn of_server(session: ServerSession) -> Self {
        Self::new(Role::Server(Box::new(ServerState {
            session,
            last_event: None,
        })))
    }

    fn new(role: Role) -> Self {
        Self {
            role,
            outgoing: Vec::new(),
        }
    }

    /// The record of a finished client session, once; `WRONG_STATE` before the Closed event
    /// was polled or after the record was taken.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn take_record(&mut self) -> Result<AttemptRecord, mailtls_result> {
        self.client()?
            .record
            .take()
            .ok_or(mailtls_result::WrongState)
    }

    /// The calls both roles answer.
    fn driving(&mut self) -> &mut dyn Driving {
        match &mut self.role {
            Role::Client(state) => &mut state.session,
            Role::Server(state) => &mut state.session,
        }
    }

    /// The calls both roles answer, shared.
    fn driven(&self) -> &dyn Driving {
        match &self.role {
            Role::Client(state) => &state.session,
            Role::Server(state) => &state.session,
        }
    }

    fn client(&mut self) -> Result<&mut ClientState, mailtls_result> {
        match &mut self.role {
            Role::Client(state) => Ok(state),
            Role::Server(_) => Err(mailtls_result::WrongRole),
        }
    }

    fn server(&mut self) -> Result<&mut ServerSession, mailtls_result> {
        match &mut self.role {
            Role::Server(state) => Ok(&mut state.session),
            Role::Client(_) => Err(mailtls_result::WrongRole),
        }
    }

    /// Takes the next event and remembers it (and, for a client, what outlives it).
    fn poll_event(&mut self) -> mailtls_session_event {
        match &mut self.role {
            Role::Client(state) => {
                state.last_event = state.session.poll_event();
                match &state.last_event {
                    Some(ClientEvent::TlsEstablished(summary)) => {
                        state.tls = Some((**summary).clone());
                    }
                    Some(ClientEvent::Finished(record)) => state.record = Some((**record).clone()),
                    _ => {}
                }
                state
                    .last_event
                    .as_ref()
                    .map_or(mailtls_session_event::None, client_kind)
            }
            Role::Server(state) => {
                state.last_event = state.session.poll_event();
                state
                    .last_event
                    .as_ref()
                    .map_or(mailtls_session_event::None, server_kind)
            }
        }
    }

    /// The last client event polled; `None` for a server session or before the first poll.
    pub(crate) fn client_event(&self) -> Option<&ClientEvent> {
        match &self.role {
            Role::Client(state) => state.last_event.as_ref(),
            Role::Server(_) => None,
        }
    }

    /// The last server event polled; `None` for a client session or before the first poll.
    pub(crate) fn server_event(&self) -> Option<&ServerEvent> {
        match &self.role {
            Role::Server(state) => state.last_event.as_ref(),
            Role::Client(_) => None,
        }
    }

    /// The server session; `WRONG_ROLE` for a client.
    pub(crate) fn server_session(&self) -> Result<&ServerSession, mailtls_result> {
        match &self.role {
            Role::Server(state) => Ok(&state.session),
            Role::Client(_) => Err(mailtls_result::WrongRole),
        }
    }

    /// `client` or `server`, for log lines.
    pub(crate) fn role_name(&self) -> &'static str {
        match &self.role {
            Role::Client(_) => "client",
            Role::Server(_) => "server",
        }
    }

    /// The detail of the last event polled; `NOT_FOUND` when none was.
    pub(crate) fn event_detail(&self) -> Result<Vec<u8>, mailtls_result> {
        let detail = match &self.role {
            Role::Client(state) => state.last_event.as_ref().map(client_detail),
            Role::Server(state) => state.last_event.as_ref().map(server_detail),
        };
        detail.ok_or(mailtls_result::NotFound)
    }

    /// The established TLS session's facts; `NOT_FOUND` before TLS.
    pub(crate) fn tls_facts(&self) -> Result<&TlsFacts, mailtls_result> {
        let facts = match &self.role {
            Role::Client(state) => state.tls.as_ref().map(|summary| &summary.facts),
            Role::Server(state) => state.session.tls_facts(),
        };
        facts.ok_or(mailtls_result::NotFound)
    }
}

/// The part of [`Session`] that does not name the event type, so that one handle can hold
/// either role.
trait Driving {
    fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize;
    fn handle_eof(&mut self, now: Timestamp);
    fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize;
    fn poll_timeout(&self) -> Option<Timestamp>;
    fn handle_timeout(&mut self, now: Timestamp);
    fn is_closed(&self) -> bool;
}

impl<S: Session> Driving for S {
    fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize {
        Session::handle_input(self, input, now)
    }
    fn handle_eof(&mut self, now: Timestamp) {
        Session::handle_eof(self, now);
    }
    fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        Session::poll_transmit_into(self, buf)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Session::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        Session::handle_timeout(self, now);
    }
    fn is_closed(&self) -> bool {
        Session::is_closed(self)
    }
}

// ---- both roles ---------------------------------------------------------------------------

/// Frees a session. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_session_free(session: *mut mailtls_session) {
    boundary::value(|| handle::free(session));
}

/// Which role the session plays.
#[no_mangle]
pub extern "C" fn mailtls_session_role(
    session: *const mailtls_session,
    out_role: *mut mailtls_role,
) -> mailtls_result {
    boundary::call(|| {
        let role = match handle::borrow(session)?.role {
            Role::Client(_) => mailtls_role::Client,
            Role::Server(_) => mailtls_role::Server,
        };
        write_out(out_role, role)
    })
}

/// Feeds `len` bytes received from the peer (at most `MAILTLS_MAX_INPUT`); `*out_taken`
/// says how many were taken. A server session takes fewer only while an event waits for an
/// answer or its input buffer is full: offer the rest again later. A client session takes
/// them all.
#[no_mangle]
pub extern "C" fn mailtls_session_handle_input(
    session: *mut mailtls_session,
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
            .driving()
            .handle_input(input, Timestamp::from_unix_millis(now_ms));
        write_out(out_taken, taken)
    })
}

/// The peer closed its side of the connection.
#[no_mangle]
pub extern "C" fn mailtls_session_handle_eof(
    session: *mut mailtls_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .driving()
            .handle_eof(Timestamp::from_unix_millis(now_ms));
        Ok(())
    })
}

/// The deadline (Unix milliseconds) at which to call [`mailtls_session_handle_timeout`];
/// `MAILTLS_RESULT_NOT_FOUND` when none runs.
#[no_mangle]
pub extern "C" fn mailtls_session_poll_timeout(
    session: *const mailtls_session,
    out_deadline_ms: *mut u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let deadline = inner
            .driven()
            .poll_timeout()
            .ok_or(mailtls_result::NotFound)?;
        let ms = u64::try_from(deadline.since_epoch().as_millis()).unwrap_or(u64::MAX);
        write_out(out_deadline_ms, ms)
    })
}

/// Tells the session the time is `now_ms`; a passed deadline ends what it guards.
#[no_mangle]
pub extern "C" fn mailtls_session_handle_timeout(
    session: *mut mailtls_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .driving()
            .handle_timeout(Timestamp::from_unix_millis(now_ms));
        Ok(())
    })
}

/// Copies bytes to send to the peer into `buf` (at most `len`); `*out_n` is 0 when there is
/// nothing to send. Bytes that do not fit stay for the next call.
#[no_mangle]
pub extern "C" fn mailtls_session_poll_transmit(
    session: *mut mailtls_session,
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
        let mut outgoing = core::mem::take(&mut inner.outgoing);
        inner.driving().poll_transmit_into(&mut outgoing);
        let n = text::copy_bytes(&outgoing, buf, len)?;
        outgoing.drain(..n);
        inner.outgoing = outgoing;
        write_out(out_n, n)
    })
}

/// Takes the next event; `MAILTLS_SESSION_EVENT_NONE` when none waits. Its detail stays
/// readable through [`mailtls_session_event_detail`] until the next poll.
#[no_mangle]
pub extern "C" fn mailtls_session_poll_event(
    session: *mut mailtls_session,
    out_event: *mut mailtls_session_event,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        require_out(out_event)?;
        let kind = inner.poll_event();
        super::event::log_event(inner, kind);
        write_out(out_event, kind)
    })
}

/// Copies the detail of the last polled event into `buf` (bytes, NUL-terminated; message
/// data may contain any byte, so use `*out_n`). `MAILTLS_RESULT_NOT_FOUND` when no event was
/// polled; `MAILTLS_RESULT_INSUFFICIENT_SIZE` when it does not fit (see
/// [`mailtls_session_event_detail_size`]).
#[no_mangle]
pub extern "C" fn mailtls_session_event_detail(
    session: *const mailtls_session,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let detail = handle::borrow(session)?.event_detail()?;
        text::write_bytes(&detail, buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_session_event_detail`] needs.
#[no_mangle]
pub extern "C" fn mailtls_session_event_detail_size(
    session: *const mailtls_session,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let detail = handle::borrow(session)?.event_detail()?;
        write_out(out_size, detail.len() + 1)
    })
}

/// Copies one fact of the established TLS session (`fact`: a `mailtls_tls_fact` value) into
/// `buf`. `MAILTLS_RESULT_NOT_FOUND` before TLS (for a client: before its TlsEstablished event
/// was polled), or when the fact is unknown (no SNI sent).
#[no_mangle]
pub extern "C" fn mailtls_session_tls_fact(
    session: *const mailtls_session,
    fact: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow(session)?.tls_facts()?;
        let value = tls_fact(facts, fact)?.ok_or(mailtls_result::NotFound)?;
        text::write_data(&value, buf, len, out_n)
    })
}

/// Whether the session is over and every byte for the peer was handed out.
#[no_mangle]
pub extern "C" fn mailtls_session_is_closed(
    session: *const mailtls_session,
    out_closed: *mut bool,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let closed = inner.driven().is_closed() && inner.outgoing.is_empty();
        write_out(out_closed, closed)
    })
}

// ---- client role --------------------------------------------------------------------------

/// Client: starts a message (after a Ready event): MAIL FROM `from` (`<>` or empty for
/// bounces) and RCPT TO each of `recipients` (`count` addresses, at most
/// `MAILTLS_MAX_RECIPIENTS`). `MAILTLS_RESULT_WRONG_STATE` when the session is not ready.
#[no_mangle]
pub extern "C" fn mailtls_session_send_mail(
    session: *mut mailtls_session,
    from: *const c_char,
    recipients: *const *const c_char,
    count: usize,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let state = handle::borrow_mut(session)?.client()?;
        let from = text::string(from)?;
        let recipients = text::strings(recipients, count, MAILTLS_MAX_RECIPIENTS)?;
        if recipients.is_empty() {
            return Err(mailtls_result::InvalidArgument);
        }
        let from = match strip_brackets(from) {
            "" => ReversePath::Null,
            address => ReversePath::Mailbox(
                Mailbox::parse(address).map_err(|_| mailtls_result::InvalidArgument)?,
            ),
        };
        let to = recipients
            .into_iter()
            .map(|r| {
                Mailbox::parse(strip_brackets(r))
                    .map(ForwardPath::Mailbox)
                    .map_err(|_| mailtls_result::InvalidArgument)
            })
            .collect::<Result<Vec<_>, _>>()?;
        state
            .session
            .send_mail(
                &Envelope::new(from, to),
                Timestamp::from_unix_millis(now_ms),
            )
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Client: pushes message text (headers and body, CRLF line ends) after a DataReady event;
/// with `last` the message ends. The session dot-stuffs it.
#[no_mangle]
pub extern "C" fn mailtls_session_send_data(
    session: *mut mailtls_session,
    data: *const u8,
    len: usize,
    last: bool,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let state = handle::borrow_mut(session)?.client()?;
        let data = text::bytes(data, len, MAILTLS_MAX_INPUT)?;
        state
            .session
            .send_data(data, last, Timestamp::from_unix_millis(now_ms))
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Client: ends the session politely (after a Ready event).
#[no_mangle]
pub extern "C" fn mailtls_session_quit(
    session: *mut mailtls_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let state = handle::borrow_mut(session)?.client()?;
        state
            .session
            .quit(Timestamp::from_unix_millis(now_ms))
            .map_err(|_| mailtls_result::WrongState)
    })
}

// ---- server role --------------------------------------------------------------------------

/// Server: accepts the pending `MAIL FROM`, `RCPT TO` or message with `250`.
/// `MAILTLS_RESULT_WRONG_STATE` when nothing waits for an answer.
#[no_mangle]
pub extern "C" fn mailtls_session_accept(session: *mut mailtls_session) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(session)?
            .server()?
            .accept()
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Server: refuses the pending command with `code` (4xx or 5xx), an optional enhanced code
/// (`"5.7.1"`, or NULL) and `text` (lines separated by `\n`).
#[no_mangle]
pub extern "C" fn mailtls_session_reject(
    session: *mut mailtls_session,
    code: u16,
    enhanced: *const c_char,
    reply_text: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let server = handle::borrow_mut(session)?.server()?;
        let enhanced = text::optional_string(enhanced)?
            .map(|e| e.parse::<EnhancedCode>())
            .transpose()
            .map_err(|_| mailtls_result::InvalidArgument)?;
        let reply_text = text::string(reply_text)?;
        let code = Code::new(code).ok_or(mailtls_result::InvalidArgument)?;
        let reply =
            Reply::new(code, enhanced, reply_text).map_err(|_| mailtls_result::InvalidArgument)?;
        if server.pending().is_none() {
            return Err(mailtls_result::WrongState);
        }
        server
            .reject(&reply)
            .map_err(|_| mailtls_result::InvalidArgument)
    })
}

/// Server: ends the session (`421 4.3.2`); transmit what is queued, then close.
#[no_mangle]
pub extern "C" fn mailtls_session_close(session: *mut mailtls_session) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(session)?.server()?.close();
        Ok(())
    })
}

/// Server: copies certificate `index` (0 = the client's own) of the chain the client
/// presented, as DER, into `buf`. `MAILTLS_RESULT_NOT_FOUND` before TLS or past the end of
/// the chain.
#[no_mangle]
pub extern "C" fn mailtls_session_peer_certificate(
    session: *const mailtls_session,
    index: usize,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let Role::Server(state) = &inner.role else {
            return Err(mailtls_result::WrongRole);
        };
        let facts = state.session.tls_facts().ok_or(mailtls_result::NotFound)?;
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

// ---- helpers ------------------------------------------------------------------------------

fn tls_fact(facts: &TlsFacts, fact: u32) -> Result<Option<String>, mailtls_result> {
    let value = match fact {
        f if f == mailtls_tls_fact::Version as u32 => Some(facts.version.to_string()),
        f if f == mailtls_tls_fact::Suite as u32 => Some(facts.suite.to_string()),
        f if f == mailtls_tls_fact::OpensslSuite as u32 => Some(facts.openssl_suite().to_owned()),
        f if f == mailtls_tls_fact::Group as u32 => facts.group.map(|g| g.to_string()),
        f if f == mailtls_tls_fact::Sni as u32 => facts.sni.clone(),
        _ => return Err(mailtls_result::InvalidArgument),
    };
    Ok(value)
}

fn strip_brackets(address: &str) -> &str {
    let trimmed = address.trim();
    trimmed
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(trimmed)
}

fn client_kind(event: &ClientEvent) -> mailtls_session_event {
    match event {
        ClientEvent::Capabilities { .. } => mailtls_session_event::Capabilities,
        ClientEvent::DataReady => mailtls_session_event::DataReady,
        ClientEvent::Finished(_) => mailtls_session_event::Closed,
        ClientEvent::Greeted(_) => mailtls_session_event::Greeted,
        ClientEvent::MailResult(_) => mailtls_session_event::MailResult,
        ClientEvent::MessageResult(_) => mailtls_session_event::MessageResult,
        ClientEvent::Plaintext(_) => mailtls_session_event::Plaintext,
        ClientEvent::RcptResult { .. } => mailtls_session_event::RcptResult,
        ClientEvent::Ready => mailtls_session_event::Ready,
        ClientEvent::TlsEstablished(_) => mailtls_session_event::TlsEstablished,
    }
}

fn server_kind(event: &ServerEvent) -> mailtls_session_event {
    match event {
        ServerEvent::Closed(_) => mailtls_session_event::Closed,
        ServerEvent::Greeted { .. } => mailtls_session_event::Greeted,
        ServerEvent::MailFrom(_) => mailtls_session_event::MailFrom,
        ServerEvent::MessageAborted(_) => mailtls_session_event::MessageAborted,
        ServerEvent::MessageData(_) => mailtls_session_event::MessageData,
        ServerEvent::MessageEnd { .. } => mailtls_session_event::MessageEnd,
        ServerEvent::MessageStart => mailtls_session_event::MessageStart,
        ServerEvent::PlaintextDiscarded { .. } => mailtls_session_event::PlaintextDiscarded,
        ServerEvent::RcptTo(_) => mailtls_session_event::RcptTo,
        ServerEvent::Refused(_) => mailtls_session_event::Refused,
        ServerEvent::Reset => mailtls_session_event::Reset,
        ServerEvent::TlsEstablished { .. } => mailtls_session_event::TlsEstablished,
        ServerEvent::TlsFailed(_) => mailtls_session_event::TlsFailed,
    }
}

/// A reply on one line, as event details show it.
fn one_line(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.to_bytes())
        .trim_end()
        .replace("\r\n", " / ")
}

fn client_detail(event: &ClientEvent) -> Vec<u8> {
    let text = match event {
        ClientEvent::Capabilities { secure, .. } => {
            if *secure { "secure" } else { "plain" }.to_owned()
        }
        ClientEvent::Finished(record) => format!(
            "{} on {}: {}; next {}{}",
            record.host,
            record.rung,
            record.result,
            record.next,
            record
                .result_type
                .map(|t| format!("; result type {t}"))
                .unwrap_or_default()
        ),
        ClientEvent::Greeted(r) | ClientEvent::MailResult(r) => one_line(r),
        ClientEvent::RcptResult { reply: r, .. } => one_line(r),
        ClientEvent::MessageResult(result) => {
            let verdict = if result.accepted {
                "accepted"
            } else {
                "refused"
            };
            let why = match (&result.reply, &result.refused) {
                (Some(r), _) => one_line(r),
                (None, Some(status)) => status.to_string(),
                (None, None) => String::new(),
            };
            format!("{verdict} {why}")
        }
        ClientEvent::Plaintext(reason) => reason.to_string(),
        ClientEvent::TlsEstablished(summary) => format!(
            "{} {} on {}",
            summary.facts.version, summary.facts.suite, summary.rung
        ),
        _ => String::new(),
    };
    text.into_bytes()
}

fn server_detail(event: &ServerEvent) -> Vec<u8> {
    let text = match event {
        ServerEvent::Closed(reason) => reason.to_string(),
        ServerEvent::Greeted { host, .. } => host.to_string(),
        ServerEvent::MailFrom(mail) => mail.from.to_string(),
        ServerEvent::MessageAborted(reason) => reason.to_string(),
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
                failure.class,
                failure.result_type,
                failure.detail()
            )
        }
        _ => String::new(),
    };
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_brackets() {
        assert_eq!(strip_brackets(" <a@b.example> "), "a@b.example");
        assert_eq!(strip_brackets("<>"), "");
        assert_eq!(strip_brackets("a@b.example"), "a@b.example");
    }
}
