//! What a server session tells the application, and what the application answers.

use core::fmt;

use crate::cert::Outcome;
use crate::smtp::{ForwardPath, Host, MailParams, Param, Reply, ReversePath};
use crate::tls::{TlsFacts, TlsFailure};

/// Something that happened in a server session, taken with
/// [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Three events wait for an answer ([`ServerSession::accept`](super::ServerSession::accept) or
/// [`ServerSession::reject`](super::ServerSession::reject)): [`MailFrom`](Self::MailFrom),
/// [`RcptTo`](Self::RcptTo) and [`MessageEnd`](Self::MessageEnd). Until the answer the
/// session reads no further command.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The session is over; after the last transmit the transport can be closed.
    Closed(CloseReason),
    /// The client greeted with EHLO (`extended`) or HELO and the server answered 250.
    Greeted {
        /// The name the client gave.
        host: Host,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// A `MAIL FROM` the session and the inbound policy let through; answer it.
    MailFrom(MailFrom),
    /// The message being received was abandoned; the session answered the client itself.
    MessageAborted(AbortReason),
    /// Message content, dot-unstuffed, in arrival order. The line ends are those of the wire
    /// (CRLF); the terminating `.` line is not part of it.
    MessageData(Vec<u8>),
    /// The client finished the message; answer it (accept = the message is taken).
    MessageEnd {
        /// Octets of content received (after dot-unstuffing).
        size: u64,
    },
    /// The server answered DATA with 354; [`MessageData`](Self::MessageData) follows.
    MessageStart,
    /// Plaintext bytes that arrived after the STARTTLS line and before the TLS handshake were
    /// thrown away unread (RFC 3207 §5, CVE-2011-0411). A well-behaved client never sends
    /// any: it waits for the 220.
    PlaintextDiscarded {
        /// How many bytes were discarded.
        length: usize,
        /// The first of them (at most 64), for the log.
        preview: Vec<u8>,
    },
    /// A `RCPT TO` the session and the inbound policy let through; answer it.
    RcptTo(RcptTo),
    /// The session refused a command on its own (limits, sequence, TLS requirement, inbound
    /// policy), or a message after its end-of-data (command `"DATA"`: over the size limit,
    /// a bare CR or LF, a line over the limit); the reply is already queued.
    Refused(Refusal),
    /// The transaction was reset (RSET, EHLO, HELO or the end of TLS negotiation).
    Reset,
    /// The TLS handshake completed; everything learnt before it was forgotten and the
    /// client must greet again.
    TlsEstablished {
        /// Version, suite, group, the client's chain and SNI.
        facts: TlsFacts,
        /// What the client-certificate verifier found: `None` when no certificate was asked
        /// for or none was presented (an Anonymous client).
        client_certificate: Option<Box<Outcome>>,
    },
    /// TLS failed (handshake or later); the session is closed.
    TlsFailed(TlsFailure),
}

/// A `MAIL FROM` command waiting for the application's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom {
    /// The reverse path (`<>` for bounces).
    pub from: ReversePath,
    /// The parameters. `require_tls` (RFC 8689) is only ever set over TLS: the session
    /// refuses the parameter in plaintext.
    pub params: MailParams,
}

/// A `RCPT TO` command waiting for the application's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcptTo {
    /// The forward path.
    pub to: ForwardPath,
    /// The parameters, verbatim.
    pub params: Vec<Param>,
}

/// Why a message was abandoned.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// The client closed the connection (or TLS failed) in the middle of the message.
    ConnectionLost,
    /// The message held a bare CR or LF, or a line over the limit; the client was answered
    /// 554 (5.5.2 or 5.6.0) after its end-of-data.
    Malformed,
    /// The message grew past the size limit; the client was answered 552 5.3.4.
    TooLarge,
    /// The client did not finish the message in time; it was answered 421 4.4.2.
    Timeout,
}

/// Why a session ended.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The application closed the session.
    Application,
    /// The client closed the connection.
    PeerClosed,
    /// The client said QUIT and was answered 221.
    Quit,
    /// TLS failed; see the [`ServerEvent::TlsFailed`] event before this one.
    TlsFailed,
    /// The client was too slow; answered 421 4.4.2 when the phase allowed a reply.
    Timeout,
    /// The client sent too many bad commands; answered 421 4.7.0.
    TooManyErrors,
}

impl AbortReason {
    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionLost => "connection-lost",
            Self::Malformed => "malformed",
            Self::TooLarge => "too-large",
            Self::Timeout => "timeout",
        }
    }
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CloseReason {
    /// A short stable name for logs and JSON.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::PeerClosed => "peer-closed",
            Self::Quit => "quit",
            Self::TlsFailed => "tls-failed",
            Self::Timeout => "timeout",
            Self::TooManyErrors => "too-many-errors",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command the session refused by itself, for the log.
///
/// Not the ladder's [`DowngradeRefusal`](crate::policy::ladder::DowngradeRefusal), which is
/// an outbound fallback the policy forbids: this is one SMTP command and the reply it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The command verb (`"MAIL"`, `"RCPT"`; `"DATA"` for a message refused after its
    /// end-of-data), or `"LINE"` for a line that could not be read as a command.
    pub command: &'static str,
    /// The reply sent.
    pub reply: Reply,
}

/// Which event an answer is for.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// A [`ServerEvent::MailFrom`].
    MailFrom,
    /// A [`ServerEvent::MessageEnd`].
    MessageEnd,
    /// A [`ServerEvent::RcptTo`].
    RcptTo,
}
