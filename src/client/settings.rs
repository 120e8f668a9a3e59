//! What one client session is told before it starts: local settings and the attempt plan.

use core::time::Duration;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;

use crate::cert::OutcomeSlot;
use crate::policy::ladder::{GateFacts, Rung};
use crate::policy::{HostDecision, HostPlan};
use crate::smtp::{Host, ReplyConfig};
use crate::tls::{ResumptionCache, TlsIdentity};

use super::verifiers::VerifierHandle;
use super::ClientError;

/// How long the client waits for the reply to each command: RFC 5321 §4.5.3.2 timeouts, per
/// command. The defaults are the RFC's.
///
/// Not [`server::InputTimeouts`](crate::server::InputTimeouts), on purpose: that one bounds
/// how long a server waits for the client's next input, phase by phase.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The initial 220 greeting (5 minutes).
    pub greeting: Duration,
    /// EHLO and HELO replies (5 minutes, as Postfix `smtp_helo_timeout`).
    pub ehlo: Duration,
    /// The reply to STARTTLS and the TLS handshake (5 minutes, as Postfix
    /// `smtp_starttls_timeout`).
    pub starttls: Duration,
    /// MAIL (5 minutes).
    pub mail: Duration,
    /// Each RCPT (5 minutes).
    pub rcpt: Duration,
    /// The 354 to DATA (2 minutes).
    pub data_init: Duration,
    /// Between two data chunks the caller pushes (3 minutes).
    pub data_block: Duration,
    /// The reply to the terminating dot (10 minutes).
    pub data_end: Duration,
    /// RSET and QUIT (5 minutes).
    pub other: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Self {
            greeting: Duration::from_secs(5 * MIN),
            ehlo: Duration::from_secs(5 * MIN),
            starttls: Duration::from_secs(5 * MIN),
            mail: Duration::from_secs(5 * MIN),
            rcpt: Duration::from_secs(5 * MIN),
            data_init: Duration::from_secs(2 * MIN),
            data_block: Duration::from_secs(3 * MIN),
            data_end: Duration::from_secs(10 * MIN),
            other: Duration::from_secs(5 * MIN),
        }
    }
}

/// Local settings shared by every session of a client.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// The name sent in EHLO / HELO.
    pub helo_name: Host,
    /// Per-command deadlines.
    pub timeouts: Timeouts,
    /// Whether to pipeline the envelope when the server offers PIPELINING after TLS.
    pub pipelining: bool,
    /// Limits of the reply parser. [`ClientSettings::new`] reads reply lines of up to
    /// [`REPLY_LINE_LIMIT`] octets.
    pub reply: ReplyConfig,
    /// Whether each attempt's record keeps the dialogue ([`AttemptRecord::transcript`]):
    /// commands and replies as `posttls-finger -v` shows them, never message content. Off by
    /// default (it costs an allocation per line).
    ///
    /// [`AttemptRecord::transcript`]: super::AttemptRecord::transcript
    pub transcript: bool,
    /// Where TLS sessions are kept for resumption, per destination and policy; `None` (the
    /// default) makes every handshake a full one. A resumed session is trusted only after
    /// the attempt's verifier accepted the chain its first handshake presented.
    pub resumption: Option<Arc<ResumptionCache>>,
}

/// The most dialogue lines one attempt keeps; later ones are counted, not kept.
pub const TRANSCRIPT_MAX: usize = 200;

/// The longest reply line a client reads by default, CRLF included: 2048 octets, Postfix's
/// `line_length_limit` (postconf(5)), the bound its SMTP client reads server replies with.
///
/// RFC 5321 §4.5.3.1.5 sets 512 octets for a reply line, but deployed servers write longer
/// ones (an EHLO `AUTH` line listing sixty mechanisms); refusing them would defer mail to
/// such a server for ever. The bound still holds: a longer line ends the attempt as a
/// protocol violation.
pub const REPLY_LINE_LIMIT: usize = 2048;

impl ClientSettings {
    /// Settings with the RFC timeouts, pipelining on, and the reply parser's default limits
    /// except the line length, which is [`REPLY_LINE_LIMIT`].
    pub fn new(helo_name: &str) -> Result<Self, ClientError> {
        let helo_name = Host::parse(helo_name).map_err(|e| ClientError::HeloName {
            name: helo_name.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            helo_name,
            timeouts: Timeouts::default(),
            pipelining: true,
            transcript: false,
            resumption: None,
            reply: ReplyConfig {
                max_line_len: REPLY_LINE_LIMIT,
                ..ReplyConfig::default()
            },
        })
    }

    /// Keeps (or not) each attempt's dialogue in its record.
    #[must_use]
    pub fn with_transcript(mut self, transcript: bool) -> Self {
        self.transcript = transcript;
        self
    }

    /// Resumes TLS sessions kept in `cache` (shared by the sessions of this client).
    #[must_use]
    pub fn with_resumption(mut self, cache: Option<Arc<ResumptionCache>>) -> Self {
        self.resumption = cache;
        self
    }

    /// Other timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Whether to pipeline after TLS.
    #[must_use]
    pub fn with_pipelining(mut self, pipelining: bool) -> Self {
        self.pipelining = pipelining;
        self
    }
}

/// One connection attempt: a candidate host's plan, the rung to try, and the inputs the
/// policy engine cannot provide by itself (the certificate verifier and the loaded client
/// certificate).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The host's plan from the policy engine.
    pub plan: HostPlan,
    /// The rung of this attempt.
    pub rung: Rung,
    /// Facts the ladder's plaintext gates need (REQUIRETLS, SASL, message age).
    pub gates: GateFacts,
    /// The verifier that applies the plan's certificate requirement.
    pub verifier: Arc<dyn ServerCertVerifier>,
    /// Where the verifier records its verdict (a [`cert::ServerVerifier`]'s slot), read after
    /// the handshake for the trust word and the RFC 8460 result type.
    ///
    /// [`cert::ServerVerifier`]: crate::cert::ServerVerifier
    pub outcome: Option<OutcomeSlot>,
    /// Where the verifier records the verdict of a report-only requirement (MTA-STS
    /// `testing`), read after the handshake.
    pub report: Option<OutcomeSlot>,
    /// The precedence decision that governs this host: the policy TLS-RPT counts the attempt
    /// against, and what is evaluated for reports only.
    pub decision: Option<Arc<HostDecision>>,
    /// The client certificate to present (loaded from `plan.client_certificate`).
    pub identity: Option<TlsIdentity>,
}

impl Attempt {
    /// An attempt on `rung` with default gate facts and no client certificate.
    ///
    /// `verifier` is a [`VerifierHandle`] or anything that converts into one: a
    /// [`cert::ServerVerifier`](crate::cert::ServerVerifier) (its outcome slot comes along) or
    /// a bare `Arc<dyn ServerCertVerifier>`.
    pub fn new(plan: HostPlan, rung: Rung, verifier: impl Into<VerifierHandle>) -> Self {
        let handle = verifier.into();
        Self {
            plan,
            rung,
            gates: GateFacts::default(),
            verifier: handle.verifier,
            outcome: handle.outcome,
            report: handle.report,
            decision: None,
            identity: None,
        }
    }

    /// The precedence decision that governs the host.
    #[must_use]
    pub fn with_decision(mut self, decision: Arc<HostDecision>) -> Self {
        self.decision = Some(decision);
        self
    }

    /// The gate facts.
    #[must_use]
    pub fn with_gates(mut self, gates: GateFacts) -> Self {
        self.gates = gates;
        self
    }

    /// The client certificate.
    #[must_use]
    pub fn with_identity(mut self, identity: Option<TlsIdentity>) -> Self {
        self.identity = identity;
        self
    }
}
