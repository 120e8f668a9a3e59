//! What a session reports: events while it runs, and one record when it ends.

use core::fmt;
use std::sync::Arc;

use crate::cert::{Outcome, TrustLevel};
use crate::policy::ladder::{DowngradeRefusal, FailureClass, Rung};
use crate::policy::{FailureAction, HostDecision, Status, TestingPolicy};
use crate::smtp::{Capabilities, Code, DataError, Reply, ReplyError};
use crate::time::Timestamp;
use crate::tls::{alert_name, TlsFacts, TlsFailure};
use crate::tlsrpt::{ResultType, SessionFailure, SessionOutcome};

/// Something that happened in a session, in order.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server's EHLO (or HELO) reply was read. `secure` is true after TLS; capabilities
    /// learnt before TLS are forgotten when it starts.
    Capabilities {
        /// Whether this reply came through TLS.
        secure: bool,
        /// The keywords (empty after HELO).
        capabilities: Capabilities,
    },
    /// The 354 to DATA arrived: push the message with
    /// [`send_data`](super::ClientSession::send_data).
    DataReady,
    /// The session ended; nothing more will happen. The adapter sends what
    /// [`poll_transmit`](super::ClientSession::poll_transmit) still holds, then closes.
    Finished(Box<AttemptRecord>),
    /// The server greeted us with 220.
    Greeted(Reply),
    /// The reply to MAIL FROM.
    MailResult(Reply),
    /// A message transaction ended: the reply to the final dot, or the reply that stopped it
    /// earlier, or a local refusal (REQUIRETLS, SMTPUTF8, SIZE) that never reached the wire.
    MessageResult(MessageResult),
    /// The session continues without TLS, and why (opportunistic plans only).
    Plaintext(PlaintextReason),
    /// The reply to one RCPT TO.
    RcptResult {
        /// The recipient's index in the envelope.
        index: usize,
        /// The server's reply.
        reply: Reply,
    },
    /// A message may be sent now: call [`send_mail`](super::ClientSession::send_mail) or
    /// [`quit`](super::ClientSession::quit).
    Ready,
    /// The TLS handshake completed.
    TlsEstablished(Box<TlsSummary>),
}

/// Why a session goes on in plaintext.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaintextReason {
    /// The server refused EHLO; HELO was used (no extensions, no STARTTLS).
    HeloOnly,
    /// This attempt is the ladder's plaintext rung (or the plan never uses TLS).
    PlaintextRung,
    /// The server did not offer STARTTLS.
    StarttlsNotOffered,
}

impl PlaintextReason {
    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HeloOnly => "helo-only",
            Self::PlaintextRung => "plaintext-rung",
            Self::StarttlsNotOffered => "starttls-not-offered",
        }
    }
}

impl fmt::Display for PlaintextReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS side of a session that reached TLS: the handshake facts and the certificate
/// verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSummary {
    /// Version, suite, group, peer chain.
    pub facts: TlsFacts,
    /// The rung the handshake ran on.
    pub rung: Rung,
    /// The verdict in Postfix's words: `Verified`, `Trusted`, `Untrusted` (`Anonymous` is
    /// for inbound clients). Read from the verifier's outcome slot; without one it is
    /// inferred: an authenticating plan only completes a handshake its verifier accepted
    /// (`Verified`), any other plan checked nothing (`Untrusted`).
    pub trust: TrustLevel,
    /// What the verifier recorded (certificate facts, and a failure it let pass at an
    /// opportunistic level), when it records anything.
    pub verification: Option<Outcome>,
    /// The verdict of the report-only requirement (MTA-STS `testing`), when there is one.
    pub report_only: Option<Outcome>,
}

/// How one message transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageResult {
    /// Whether the server took the message (2xx to the final dot).
    pub accepted: bool,
    /// The indexes of recipients the server accepted at RCPT.
    pub accepted_recipients: Vec<usize>,
    /// The reply that decided, or `None` for a local refusal.
    pub reply: Option<Reply>,
    /// Why the session refused to send the message itself, if it did.
    pub refused: Option<Status>,
}

/// The stage a session was in.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// STARTTLS.
    StartTls,
    /// The TLS handshake.
    Handshake,
    /// Idle between messages.
    Idle,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA and the message body.
    Data,
    /// The reply to the final dot.
    DataEnd,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::Helo => "HELO",
            Self::StartTls => "STARTTLS",
            Self::Handshake => "TLS handshake",
            Self::Idle => "idle",
            Self::Mail => "MAIL",
            Self::Rcpt => "RCPT",
            Self::Data => "DATA",
            Self::DataEnd => "end of data",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
        };
        f.write_str(s)
    }
}

/// How one connection attempt ended.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The session ran to QUIT. `tls` tells whether it was protected.
    Completed {
        /// Whether the session ran over TLS.
        tls: bool,
    },
    /// The peer closed the connection.
    ConnectionLost {
        /// Where.
        stage: Stage,
    },
    /// The peer broke the protocol: a malformed reply, a reply nobody asked for. (A reply to
    /// STARTTLS that cannot be trusted is a
    /// [`StarttlsUntrusted`](Self::StarttlsUntrusted).)
    ProtocolViolation {
        /// Where.
        stage: Stage,
        /// What exactly.
        detail: String,
    },
    /// The server refused with a 4xx/5xx reply at a stage that ends the session.
    Rejected {
        /// Where.
        stage: Stage,
        /// The reply.
        reply: Reply,
    },
    /// The message text could not be encoded for DATA (a line over 1000 octets): the
    /// connection was abandoned before the final dot, so the message was not sent.
    MessageUnsendable {
        /// Why.
        detail: String,
    },
    /// The server did not answer in time.
    Timeout {
        /// Where.
        stage: Stage,
    },
    /// The host was never contacted: the precedence decision skipped it (a failing DANE
    /// lookup, an MX not listed in an enforced MTA-STS policy, REQUIRETLS not satisfiable).
    Skipped {
        /// Why, as the reply the delivery uses when this was the last host.
        status: Status,
    },
    /// The reply to STARTTLS could not be trusted (plaintext pipelined behind it, a code
    /// STARTTLS does not allow, or no reply at all that parses), so TLS was never started.
    /// Bytes an attacker in the path can inject before the handshake: the attempt ends
    /// without moving down the ladder (class
    /// [`FailureClass::UntrustedStarttlsReply`]: no weaker rung, no plaintext, at any level),
    /// and TLS-RPT counts it as `validation-failure` (RFC 8460 §4.3).
    StarttlsUntrusted(StarttlsFault),
    /// TLS could not be had the way the plan demands: STARTTLS missing or refused, the
    /// handshake failed, or the certificate did not pass.
    TlsFailed {
        /// The ladder's failure class.
        class: FailureClass,
        /// The TLS engine's diagnosis, when the handshake itself failed.
        failure: Option<TlsFailure>,
        /// Any further detail.
        detail: String,
    },
}

impl AttemptResult {
    /// A short stable name for the kind of result, for logs and JSON.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Completed { .. } => "completed",
            Self::ConnectionLost { .. } => "connection-lost",
            Self::ProtocolViolation { .. } => "protocol-violation",
            Self::Rejected { .. } => "rejected",
            Self::MessageUnsendable { .. } => "message-unsendable",
            Self::Timeout { .. } => "timeout",
            Self::StarttlsUntrusted(_) => "starttls-untrusted",
            Self::TlsFailed { .. } => "tls-failed",
            Self::Skipped { .. } => "skipped",
        }
    }
}

/// One line for people: `completed over TLS`, `rejected at MAIL: 550 5.7.1 no`,
/// `TLS failed (certificate): the peer's certificate was refused: ...`.
impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed { tls: true } => f.write_str("completed over TLS"),
            Self::Completed { tls: false } => f.write_str("completed in plaintext"),
            Self::ConnectionLost { stage } => write!(f, "connection lost at {stage}"),
            Self::ProtocolViolation { stage, detail } => {
                write!(f, "protocol violation at {stage}: {detail}")
            }
            Self::Rejected { stage, reply } => {
                write!(f, "rejected at {stage}: ")?;
                write_reply(f, reply)
            }
            Self::MessageUnsendable { detail } => write!(f, "message not sendable: {detail}"),
            Self::Timeout { stage } => write!(f, "timeout at {stage}"),
            Self::Skipped { status } => write!(f, "skipped, not contacted: {status}"),
            Self::StarttlsUntrusted(fault) => write!(f, "TLS not started: {fault}"),
            Self::TlsFailed {
                class,
                failure,
                detail,
            } => {
                write!(f, "TLS failed ({class})")?;
                if let Some(failure) = failure {
                    write!(f, ": {}", failure.cause)?;
                }
                if !detail.is_empty() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
        }
    }
}

/// A reply on one line: its lines joined by ` | `, invalid UTF-8 replaced.
fn write_reply(f: &mut fmt::Formatter<'_>, reply: &Reply) -> fmt::Result {
    let bytes = reply.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    for (i, line) in text.trim_end().split("\r\n").enumerate() {
        if i > 0 {
            f.write_str(" | ")?;
        }
        f.write_str(line)?;
    }
    Ok(())
}

/// What was wrong with the reply to STARTTLS (RFC 3207 §4 allows `220`, `454` and 5xx; §5:
/// nothing read before the handshake may be used after it).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StarttlsFault {
    /// Bytes followed the reply in the same read (complete replies or a fragment): a server
    /// may not pipeline behind its answer to STARTTLS, so someone wrote them for it.
    #[error("{bytes} byte{s} pipelined behind the {code} reply to STARTTLS", s = if *bytes == 1 { "" } else { "s" })]
    Pipelined {
        /// The code of the reply they followed.
        code: Code,
        /// How many bytes followed it.
        bytes: usize,
    },
    /// A complete reply whose code is neither the `220` go-ahead nor a 4xx/5xx refusal.
    #[error("the reply to STARTTLS has code {code}: neither the 220 go-ahead nor a refusal")]
    UnexpectedCode {
        /// The code.
        code: Code,
    },
    /// What came back did not parse as a reply.
    #[error("the reply to STARTTLS is malformed: {0}")]
    Malformed(ReplyError),
}

/// What the caller does after an attempt.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Give up on this message: return it to the sender.
    Bounce(Status),
    /// Keep the message and retry later.
    Defer(Status),
    /// Nothing: the session completed.
    Done,
    /// Try the next candidate host (or defer when there is none).
    NextHost,
    /// Open a new connection to the same host on this rung.
    Retry {
        /// The next rung.
        rung: Rung,
    },
}

impl NextStep {
    /// A short stable name: `bounce`, `defer`, `done`, `next-host`, `retry`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Bounce(_) => "bounce",
            Self::Defer(_) => "defer",
            Self::Done => "done",
            Self::NextHost => "next-host",
            Self::Retry { .. } => "retry",
        }
    }

    /// The step a ladder refusal asks for.
    pub fn from_refusal(refusal: &DowngradeRefusal) -> Self {
        Self::from_action(&refusal.action, &refusal.reason.status())
    }

    fn from_action(action: &FailureAction, status: &Status) -> Self {
        match action {
            FailureAction::Bounce(s) => Self::Bounce(s.clone()),
            FailureAction::Defer(s) => Self::Defer(s.clone()),
            FailureAction::NextHost => Self::NextHost,
            // A refusal never means plaintext; be safe and defer.
            _ => Self::Defer(status.clone()),
        }
    }
}

/// The name with what it carries: `defer: 451 4.7.5 ...`, `retry on rung tls12-only`.
impl fmt::Display for NextStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bounce(status) | Self::Defer(status) => write!(f, "{}: {status}", self.as_str()),
            Self::Retry { rung } => write!(f, "retry on rung {rung}"),
            Self::Done | Self::NextHost => f.write_str(self.as_str()),
        }
    }
}

/// `completed with mx.example.net over TLS on rung tls13+tls12`, `completed with
/// mx.example.net in plaintext`, `deferred: 451 4.7.5 ...`, `bounced: 550 5.7.1 ...`.
impl fmt::Display for super::DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed {
                host,
                rung,
                tls: true,
            } => write!(f, "completed with {host} over TLS on rung {rung}"),
            Self::Completed { host, .. } => write!(f, "completed with {host} in plaintext"),
            Self::Deferred(status) => write!(f, "deferred: {status}"),
            Self::Bounced(status) => write!(f, "bounced: {status}"),
        }
    }
}

/// The record every attempt leaves: host, rung, result, RFC 8460 result type, TLS facts,
/// and what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The host tried.
    pub host: String,
    /// The rung tried.
    pub rung: Rung,
    /// How it ended.
    pub result: AttemptResult,
    /// The RFC 8460 result type of a TLS policy failure, if any.
    pub result_type: Option<ResultType>,
    /// The TLS session, when the handshake completed.
    pub tls: Option<TlsSummary>,
    /// What the certificate verifier recorded, also when the handshake failed on it.
    pub verification: Option<Outcome>,
    /// The first line of the server's EHLO reply (TLS-RPT `receiving-mx-helo`).
    pub receiving_helo: Option<String>,
    /// The precedence decision that governed the host: the policy TLS-RPT counts this
    /// attempt against (`None` for a session built without a [`Delivery`](super::Delivery)).
    pub decision: Option<Arc<HostDecision>>,
    /// What to do next.
    pub next: NextStep,
    /// The dialogue, when [`ClientSettings::transcript`](super::ClientSettings::transcript)
    /// is on: `> COMMAND` sent, `< REPLY LINE` received, `= TLS ...` when the handshake
    /// completed; at most [`TRANSCRIPT_MAX`](super::TRANSCRIPT_MAX) lines. Never
    /// message content.
    pub transcript: Vec<String>,
}

impl AttemptRecord {
    /// The attempt as a TLS-RPT session record, counted against the policy that governed it
    /// (`None` when no decision governed it, or when the attempt reports nothing: see
    /// [`report_result`](Self::report_result)). The sending and receiving addresses are the
    /// adapter's to fill in.
    pub fn session_outcome(&self, at: Timestamp) -> Option<SessionOutcome> {
        let decision = self.decision.as_ref()?;
        let result = self.report_result()?;
        let mut outcome = decision.session_outcome(at, result);
        outcome.receiving_helo = self.receiving_helo.clone();
        Some(outcome)
    }

    /// The RFC 8460 result under the governing policy. Under MTA-STS `testing` this is what
    /// `enforce` would have said (the report-only verdict, `starttls-not-supported` for a
    /// plaintext session, or the host's standing failure); otherwise
    /// [`tls_rpt_result`](Self::tls_rpt_result).
    pub fn report_result(&self) -> Option<Result<(), SessionFailure>> {
        if let AttemptResult::Skipped { status } = &self.result {
            let result_type = self.result_type?;
            return Some(Err(SessionFailure {
                result_type,
                additional_information: Some(status.to_string()),
                failure_reason_code: None,
            }));
        }
        let testing = self.decision.as_ref().and_then(|d| d.testing.as_ref());
        let would_fail = |result_type: ResultType, information: Option<String>| {
            Some(Err(SessionFailure {
                result_type,
                additional_information: information,
                failure_reason_code: None,
            }))
        };
        match (testing, &self.result, &self.tls) {
            (None, _, _) => self.tls_rpt_result(),
            (Some(TestingPolicy::Fails(result_type)), _, _) => would_fail(
                *result_type,
                Some("MTA-STS testing: MX host not listed".into()),
            ),
            (Some(_), _, Some(tls)) => match tls.report_only.as_ref().and_then(|o| {
                let error = o.error.as_ref()?;
                Some((o.result_type()?, error.to_string()))
            }) {
                Some((result_type, information)) => would_fail(result_type, Some(information)),
                None => Some(Ok(())),
            },
            (Some(_), AttemptResult::Completed { tls: false }, None) => would_fail(
                ResultType::StarttlsNotSupported,
                Some("MTA-STS testing: the session ran in plaintext".into()),
            ),
            (Some(_), _, None) => self.tls_rpt_result(),
        }
    }

    /// The attempt's TLS-RPT (RFC 8460) session result: `Some(Ok(()))` when TLS was
    /// established, `Some(Err(..))` for a TLS policy failure (the failure-reason code is the
    /// TLS alert when one was exchanged, else the ladder's failure class), and `None` when the
    /// attempt ended before TLS was at stake (a refused greeting, a lost connection) or ran
    /// in plaintext, which reports nothing.
    pub fn tls_rpt_result(&self) -> Option<Result<(), SessionFailure>> {
        if self.tls.is_some() {
            return Some(Ok(()));
        }
        if let AttemptResult::StarttlsUntrusted(fault) = &self.result {
            return Some(Err(SessionFailure {
                result_type: self.result_type.unwrap_or(ResultType::ValidationFailure),
                additional_information: Some(fault.to_string()),
                failure_reason_code: Some(FailureClass::UntrustedStarttlsReply.as_str().into()),
            }));
        }
        let AttemptResult::TlsFailed {
            class,
            failure,
            detail,
        } = &self.result
        else {
            return None;
        };
        let result_type = self.result_type?;
        let code = failure
            .as_ref()
            .and_then(|f| f.alert_received.or(f.alert_sent))
            .map_or_else(|| class.as_str().to_owned(), |a| alert_name(a).into_owned());
        let information = failure
            .as_ref()
            .map(TlsFailure::detail)
            .filter(|d| !d.is_empty())
            .or_else(|| (!detail.is_empty()).then(|| detail.clone()));
        Some(Err(SessionFailure {
            result_type,
            additional_information: information,
            failure_reason_code: Some(code),
        }))
    }
}

/// Errors of the client API itself (not of the peer).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The local EHLO name is not a valid host.
    #[error("invalid EHLO name {name:?}: {detail}")]
    HeloName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        detail: String,
    },
    /// A call came at the wrong time.
    #[error("{call} is not allowed now (stage: {stage})")]
    NotNow {
        /// The call.
        call: &'static str,
        /// The session's stage.
        stage: Stage,
    },
    /// The envelope has no recipients.
    #[error("the envelope has no recipients")]
    NoRecipients,
    /// The message text cannot be sent as DATA; the session ended.
    #[error("message text refused: {0}")]
    Data(#[from] DataError),
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] crate::tls::TlsError),
}
