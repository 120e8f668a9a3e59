//! Outbound delivery from C: a delivery walks a plan's hosts and ladder rungs, each attempt is
//! a sans-IO client session the caller drives over its own socket.

use core::ffi::c_char;
use std::path::PathBuf;
use std::sync::Arc;

use crate::cert;
use crate::client::PlanVerifiers;
use crate::client::{
    AttemptRecord, ClientEvent, ClientSession, ClientSettings, Delivery, DeliveryOutcome, Envelope,
    TlsSummary,
};
use crate::io::{load_trust_anchors, verifiers_for_hosts};
use crate::policy::Decision;
use crate::smtp::{ForwardPath, Mailbox, ReversePath};
use crate::Timestamp;

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::outbound::mailtls_plan;
use super::result::mailtls_result;
use super::server::{tls_fact, MAILTLS_MAX_INPUT};
use super::text;

/// The most recipients one message may have.
pub const MAILTLS_MAX_RECIPIENTS: usize = 1000;

/// One delivery of one message along a plan: which host and rung next, and the outcome.
/// Made by [`mailtls_delivery_new`], freed by [`mailtls_delivery_free`].
pub struct mailtls_delivery {
    _private: [u8; 0],
}

impl Castable for mailtls_delivery {
    type Inner = Delivery;
}

/// One connection attempt, without I/O. Made by [`mailtls_delivery_next_session`], freed by
/// [`mailtls_client_session_free`].
pub struct mailtls_client_session {
    _private: [u8; 0],
}

/// A session handle: the session, bytes not yet taken, the last event, the TLS summary and
/// the final record.
#[derive(Debug)]
pub(crate) struct Session {
    session: ClientSession,
    outgoing: Vec<u8>,
    last_event: Option<ClientEvent>,
    tls: Option<TlsSummary>,
    record: Option<AttemptRecord>,
}

impl Castable for mailtls_client_session {
    type Inner = Session;
}

/// The kind of a client session event; details through
/// [`mailtls_client_session_event_detail`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_client_event {
    /// No event is waiting.
    None = 0,
    /// The server's EHLO reply was read (detail: `secure` or `plain`).
    Capabilities = 1,
    /// The 354 arrived: push the message with [`mailtls_client_session_send_data`].
    DataReady = 2,
    /// The session ended (detail: the attempt's result); pass the session to
    /// [`mailtls_delivery_record`], send what is still queued, then close the socket.
    Finished = 3,
    /// The server greeted (detail: its reply).
    Greeted = 4,
    /// The reply to MAIL FROM (detail: the reply).
    MailResult = 5,
    /// A message ended (detail: `accepted` or `refused`, then the reply).
    MessageResult = 6,
    /// The session goes on without TLS (detail: why).
    Plaintext = 7,
    /// The reply to one RCPT TO (detail: the reply).
    RcptResult = 8,
    /// A message may be sent now ([`mailtls_client_session_send_mail`]) or the session ended
    /// ([`mailtls_client_session_quit`]).
    Ready = 9,
    /// TLS is established (detail: version and suite; facts through
    /// [`mailtls_client_session_tls_fact`]).
    TlsEstablished = 10,
    /// Reserved for events a later version adds; skip it.
    Other = 11,
}

/// How a delivery ended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_delivery_state {
    /// Not over yet.
    Pending = 0,
    /// A session ran to its end; the message results came as events.
    Completed = 1,
    /// The message stays queued (4xx).
    Deferred = 2,
    /// The message goes back to its sender (5xx).
    Bounced = 3,
}

/// A delivery along `plan` (its hosts in order), saying `helo_name` in EHLO. Trust-anchor
/// files the plan names (`tafile=`) are read now; `MAILTLS_RESULT_TLS` when one cannot be.
#[no_mangle]
pub extern "C" fn mailtls_delivery_new(
    plan: *const mailtls_plan,
    helo_name: *const c_char,
    out_delivery: *mut *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        let plan = handle::borrow(plan)?;
        let helo = text::string(helo_name)?;
        require_out(out_delivery)?;
        let settings = ClientSettings::new(helo).map_err(|_| mailtls_result::InvalidArgument)?;
        let verifiers = verifiers_for_hosts(&plan.hosts, cert::TrustAnchors::new())
            .map_err(|_| mailtls_result::Tls)?;
        let decision = Decision::from_plan(plan.clone());
        let delivery = Delivery::new(settings, decision, Arc::new(verifiers));
        handle::give::<mailtls_delivery>(out_delivery, delivery)
    })
}

/// A delivery like [`mailtls_delivery_new`] whose certificate checks use the anchors in the
/// PEM file `anchors_file` instead of what the plan names (`posttls-finger -F`).
#[no_mangle]
pub extern "C" fn mailtls_delivery_new_with_anchors(
    plan: *const mailtls_plan,
    helo_name: *const c_char,
    anchors_file: *const c_char,
    out_delivery: *mut *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        let plan = handle::borrow(plan)?;
        let helo = text::string(helo_name)?;
        let anchors = PathBuf::from(text::string(anchors_file)?);
        require_out(out_delivery)?;
        let settings = ClientSettings::new(helo).map_err(|_| mailtls_result::InvalidArgument)?;
        let anchors = load_trust_anchors(&[anchors]).map_err(|_| mailtls_result::Tls)?;
        let verifiers = PlanVerifiers::default().with_replacement(anchors);
        let delivery = Delivery::from_plan(settings, plan.clone(), Arc::new(verifiers));
        handle::give::<mailtls_delivery>(out_delivery, delivery)
    })
}

/// Frees a delivery. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_delivery_free(delivery: *mut mailtls_delivery) {
    boundary::value(|| handle::free(delivery));
}

/// The session for the next attempt; `MAILTLS_RESULT_NOT_FOUND` when the delivery is over
/// (see [`mailtls_delivery_outcome`]). Connect to [`mailtls_delivery_current_host`] first;
/// when that fails call [`mailtls_delivery_connect_failed`] and free the session.
#[no_mangle]
pub extern "C" fn mailtls_delivery_next_session(
    delivery: *mut mailtls_delivery,
    now_ms: u64,
    out_session: *mut *mut mailtls_client_session,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow_mut(delivery)?;
        require_out(out_session)?;
        let session = delivery
            .next_session(Timestamp::from_unix_millis(now_ms))
            .ok_or(mailtls_result::NotFound)?;
        let inner = Session {
            session,
            outgoing: Vec::new(),
            last_event: None,
            tls: None,
            record: None,
        };
        handle::give::<mailtls_client_session>(out_session, inner)
    })
}

/// Copies the host the current attempt connects to into `buf`, and its port into
/// `*out_port`. `MAILTLS_RESULT_NOT_FOUND` when no host is left.
#[no_mangle]
pub extern "C" fn mailtls_delivery_current_host(
    delivery: *const mailtls_delivery,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
    out_port: *mut u16,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow(delivery)?;
        require_out(out_port)?;
        let (host, port) = delivery.current_host().ok_or(mailtls_result::NotFound)?;
        text::write_data(&host.to_string(), buf, len, out_n)?;
        write_out(out_port, port)
    })
}

/// The connection to the current host could not be made: the delivery moves to the next host.
#[no_mangle]
pub extern "C" fn mailtls_delivery_connect_failed(
    delivery: *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(delivery)?.connect_failed();
        Ok(())
    })
}

/// Hands the record of a finished session to the delivery, which decides the next attempt.
/// `MAILTLS_RESULT_WRONG_STATE` when the session has not finished (no Finished event polled)
/// or was recorded already.
#[no_mangle]
pub extern "C" fn mailtls_delivery_record(
    delivery: *mut mailtls_delivery,
    session: *mut mailtls_client_session,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow_mut(delivery)?;
        let session = handle::borrow_mut(session)?;
        let record = session.record.take().ok_or(mailtls_result::WrongState)?;
        delivery.record(record);
        Ok(())
    })
}

/// How the delivery ended (`MAILTLS_DELIVERY_STATE_PENDING` while it goes on), with the
/// status text (`451 4.4.0 ...`) or the host it completed on copied into `buf`.
#[no_mangle]
pub extern "C" fn mailtls_delivery_outcome(
    delivery: *const mailtls_delivery,
    out_outcome: *mut mailtls_delivery_state,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow(delivery)?;
        require_out(out_outcome)?;
        let (outcome, detail) = match delivery.outcome() {
            None => (mailtls_delivery_state::Pending, String::new()),
            Some(DeliveryOutcome::Completed { host, rung }) => (
                mailtls_delivery_state::Completed,
                format!("{host} ({rung})"),
            ),
            Some(DeliveryOutcome::Deferred(status)) => {
                (mailtls_delivery_state::Deferred, status.to_string())
            }
            Some(DeliveryOutcome::Bounced(status)) => {
                (mailtls_delivery_state::Bounced, status.to_string())
            }
        };
        text::write_data(&detail, buf, len, out_n)?;
        write_out(out_outcome, outcome)
    })
}

/// Frees a session. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_client_session_free(session: *mut mailtls_client_session) {
    boundary::value(|| handle::free(session));
}

/// Feeds `len` bytes received from the server (at most `MAILTLS_MAX_INPUT`).
#[no_mangle]
pub extern "C" fn mailtls_client_session_handle_input(
    session: *mut mailtls_client_session,
    input: *const u8,
    len: usize,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        let input = text::bytes(input, len, MAILTLS_MAX_INPUT)?;
        inner
            .session
            .handle_input(input, Timestamp::from_unix_millis(now_ms));
        Ok(())
    })
}

/// The server closed the connection.
#[no_mangle]
pub extern "C" fn mailtls_client_session_handle_eof(
    session: *mut mailtls_client_session,
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
/// [`mailtls_client_session_handle_timeout`]; `MAILTLS_RESULT_NOT_FOUND` when none runs.
#[no_mangle]
pub extern "C" fn mailtls_client_session_poll_timeout(
    session: *const mailtls_client_session,
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

/// Tells the session the time is `now_ms`; a passed deadline ends the attempt.
#[no_mangle]
pub extern "C" fn mailtls_client_session_handle_timeout(
    session: *mut mailtls_client_session,
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

/// Copies bytes to send to the server into `buf` (at most `len`); `*out_n` is 0 when there
/// is nothing to send. Bytes that do not fit stay for the next call.
#[no_mangle]
pub extern "C" fn mailtls_client_session_poll_transmit(
    session: *mut mailtls_client_session,
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

/// Takes the next event; `MAILTLS_CLIENT_EVENT_NONE` when none waits.
#[no_mangle]
pub extern "C" fn mailtls_client_session_poll_event(
    session: *mut mailtls_client_session,
    out_event: *mut mailtls_client_event,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        require_out(out_event)?;
        inner.last_event = inner.session.poll_event();
        match &inner.last_event {
            Some(ClientEvent::TlsEstablished(summary)) => inner.tls = Some((**summary).clone()),
            Some(ClientEvent::Finished(record)) => inner.record = Some((**record).clone()),
            _ => {}
        }
        let kind = inner
            .last_event
            .as_ref()
            .map_or(mailtls_client_event::None, kind_of);
        write_out(out_event, kind)
    })
}

/// Copies the detail of the last polled event into `buf`. `MAILTLS_RESULT_NOT_FOUND` when no
/// event was polled; see [`mailtls_client_session_event_detail_size`].
#[no_mangle]
pub extern "C" fn mailtls_client_session_event_detail(
    session: *const mailtls_client_session,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let event = inner.last_event.as_ref().ok_or(mailtls_result::NotFound)?;
        text::write_data(&detail_of(event), buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_client_session_event_detail`] needs.
#[no_mangle]
pub extern "C" fn mailtls_client_session_event_detail_size(
    session: *const mailtls_client_session,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let event = inner.last_event.as_ref().ok_or(mailtls_result::NotFound)?;
        text::size_of(&detail_of(event), out_size)
    })
}

/// Starts a message (after a Ready event): MAIL FROM `from` (`<>` or empty for bounces) and
/// RCPT TO each of `recipients` (`count` addresses, at most `MAILTLS_MAX_RECIPIENTS`).
/// `MAILTLS_RESULT_WRONG_STATE` when the session is not ready.
#[no_mangle]
pub extern "C" fn mailtls_client_session_send_mail(
    session: *mut mailtls_client_session,
    from: *const c_char,
    recipients: *const *const c_char,
    count: usize,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
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
        inner
            .session
            .send_mail(
                &Envelope::new(from, to),
                Timestamp::from_unix_millis(now_ms),
            )
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Pushes message text (headers and body, CRLF line ends) after a DataReady event; with
/// `last` the message ends. The session dot-stuffs it.
#[no_mangle]
pub extern "C" fn mailtls_client_session_send_data(
    session: *mut mailtls_client_session,
    data: *const u8,
    len: usize,
    last: bool,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        let data = text::bytes(data, len, MAILTLS_MAX_INPUT)?;
        inner
            .session
            .send_data(data, last, Timestamp::from_unix_millis(now_ms))
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Ends the session politely (after a Ready event).
#[no_mangle]
pub extern "C" fn mailtls_client_session_quit(
    session: *mut mailtls_client_session,
    now_ms: u64,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow_mut(session)?;
        inner
            .session
            .quit(Timestamp::from_unix_millis(now_ms))
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Copies one fact of the session's TLS (`fact`: a `mailtls_tls_fact` value) into `buf`.
/// `MAILTLS_RESULT_NOT_FOUND` before TLS, or when the fact is unknown.
#[no_mangle]
pub extern "C" fn mailtls_client_session_tls_fact(
    session: *const mailtls_client_session,
    fact: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        let summary = inner.tls.as_ref().ok_or(mailtls_result::NotFound)?;
        let value = tls_fact(&summary.facts, fact)?.ok_or(mailtls_result::NotFound)?;
        text::write_data(&value, buf, len, out_n)
    })
}

fn strip_brackets(address: &str) -> &str {
    let trimmed = address.trim();
    trimmed
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(trimmed)
}

fn kind_of(event: &ClientEvent) -> mailtls_client_event {
    match event {
        ClientEvent::Capabilities { .. } => mailtls_client_event::Capabilities,
        ClientEvent::DataReady => mailtls_client_event::DataReady,
        ClientEvent::Finished(_) => mailtls_client_event::Finished,
        ClientEvent::Greeted(_) => mailtls_client_event::Greeted,
        ClientEvent::MailResult(_) => mailtls_client_event::MailResult,
        ClientEvent::MessageResult(_) => mailtls_client_event::MessageResult,
        ClientEvent::Plaintext(_) => mailtls_client_event::Plaintext,
        ClientEvent::RcptResult { .. } => mailtls_client_event::RcptResult,
        ClientEvent::Ready => mailtls_client_event::Ready,
        ClientEvent::TlsEstablished(_) => mailtls_client_event::TlsEstablished,
    }
}

fn detail_of(event: &ClientEvent) -> String {
    let reply = |r: &crate::smtp::Reply| {
        String::from_utf8_lossy(&r.to_bytes())
            .trim_end()
            .replace("\r\n", " / ")
    };
    match event {
        ClientEvent::Capabilities { secure, .. } => {
            if *secure { "secure" } else { "plain" }.to_owned()
        }
        ClientEvent::Finished(record) => format!(
            "{} on {}: {:?}; next {:?}{}",
            record.host,
            record.rung,
            record.result,
            record.next,
            record
                .result_type
                .map(|t| format!("; result type {t}"))
                .unwrap_or_default()
        ),
        ClientEvent::Greeted(r) | ClientEvent::MailResult(r) => reply(r),
        ClientEvent::RcptResult { reply: r, .. } => reply(r),
        ClientEvent::MessageResult(result) => {
            let verdict = if result.accepted {
                "accepted"
            } else {
                "refused"
            };
            let why = match (&result.reply, &result.refused) {
                (Some(r), _) => reply(r),
                (None, Some(status)) => status.to_string(),
                (None, None) => String::new(),
            };
            format!("{verdict} {why}")
        }
        ClientEvent::Plaintext(reason) => format!("{reason:?}"),
        ClientEvent::TlsEstablished(summary) => format!(
            "{} {} on {}",
            summary.facts.version, summary.facts.suite, summary.rung
        ),
        _ => String::new(),
    }
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
