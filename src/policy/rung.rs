//! The ladder's data: the rungs a delivery may try, strongest first, the classes of failure
//! that may (or may never) move it down a rung, the set of rungs one host may use, and why
//! the ladder refuses to move.
//!
//! Re-exported by [`ladder`](super::ladder), the public home of these types. They live apart
//! from the ladder's decision ([`next_rung`](super::ladder::next_rung), which reads a host
//! plan) so that `protocol` and `plan` can name a rung without importing that decision.

use core::fmt;
use core::time::Duration;

use super::status::Status;
/// One rung of the ladder: the TLS parameters of one connection attempt.
///
/// Ordered strongest first, so `a < b` means `a` is the stronger rung.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rung {
    /// TLS 1.3 and 1.2, every forward-secret AEAD suite and key-exchange group mailtls offers.
    Modern,
    /// TLS 1.2 only, for peers that abort on a TLS 1.3 ClientHello (version intolerance).
    Tls12Only,
    /// TLS 1.2 with a conservative suite and group set (ECDHE with AES-GCM over P-256 and
    /// P-384), for peers that choke on newer suites or groups.
    Tls12Conservative,
    /// No TLS at all, on a new connection. Only opportunistic policies may reach it.
    Plaintext,
}

impl Rung {
    /// Every rung, strongest first.
    pub const ALL: [Self; 4] = [
        Self::Modern,
        Self::Tls12Only,
        Self::Tls12Conservative,
        Self::Plaintext,
    ];

    /// Whether this rung uses TLS at all.
    pub const fn is_tls(self) -> bool {
        !matches!(self, Self::Plaintext)
    }

    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Modern => "tls13+tls12",
            Self::Tls12Only => "tls12",
            Self::Tls12Conservative => "tls12-conservative",
            Self::Plaintext => "plaintext",
        }
    }
}

impl fmt::Display for Rung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connection attempt failed, as far as the ladder cares.
///
/// Only some classes suggest that the peer could succeed with a weaker rung; the policy decides
/// which (see the gates in the policy engine). A certificate failure is never one of them at an
/// authenticated level.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// The peer's certificate did not satisfy the policy.
    Certificate,
    /// The peer sent bytes that are not TLS, or a TLS message that did not decode.
    Decode,
    /// The peer closed the connection (or reset it) in the middle of the handshake.
    EofDuringHandshake,
    /// The peer sent a `handshake_failure` alert (no common parameters).
    HandshakeFailureAlert,
    /// The peer sent an `insufficient_security` alert.
    InsufficientSecurityAlert,
    /// Any other TLS alert or local TLS error.
    OtherTls,
    /// The peer sent a `protocol_version` alert (version intolerance).
    ProtocolVersionAlert,
    /// The peer did not advertise STARTTLS, or it was stripped on the way.
    StarttlsNotOffered,
    /// The peer answered STARTTLS with a 4xx or 5xx reply (RFC 3207: 454, or 5xx).
    StarttlsRefused,
    /// The peer did not answer within the deadline.
    Timeout,
    /// The reply to STARTTLS cannot be trusted: plaintext was pipelined behind it (RFC 3207
    /// §5, the response-injection shape of CVE-2011-0411), or its code is neither the `220`
    /// go-ahead nor a 4xx/5xx refusal (a `221` or `354`, say), or it did not parse. No
    /// conforming server sends that, and an attacker in the path can at will, before any TLS
    /// byte: the ladder never moves on it, neither to a weaker TLS rung nor to plaintext
    /// (ARCHITECTURE.md invariant 5; see [`FailureClass::is_tampering`]).
    UntrustedStarttlsReply,
}

impl Rung {
    const fn bit(self) -> u8 {
        match self {
            Self::Modern => 1,
            Self::Tls12Only => 2,
            Self::Tls12Conservative => 4,
            Self::Plaintext => 8,
        }
    }
}

impl FailureClass {
    /// Whether this class suggests the peer could succeed on a weaker *TLS* rung: the
    /// `handshake_failure`, `protocol_version` and `insufficient_security` alerts, and an EOF or
    /// a decode error during the handshake (signs of version or suite intolerance). Certificate
    /// failures, timeouts and other TLS errors never move down a TLS rung.
    pub const fn allows_weaker_tls(self) -> bool {
        matches!(
            self,
            Self::HandshakeFailureAlert
                | Self::ProtocolVersionAlert
                | Self::InsufficientSecurityAlert
                | Self::EofDuringHandshake
                | Self::Decode
        )
    }

    /// Whether the failure is evidence of bytes injected in plaintext before the handshake
    /// ([`FailureClass::UntrustedStarttlsReply`]): such a failure ends the attempt where it is,
    /// never on a weaker rung and never in plaintext, at every level. (A missing or refused
    /// STARTTLS is not evidence of tampering: servers without TLS do that, and opportunistic
    /// levels accept the risk of a stripped STARTTLS.)
    pub const fn is_tampering(self) -> bool {
        matches!(self, Self::UntrustedStarttlsReply)
    }

    /// Whether the failure happened before any TLS byte was exchanged (STARTTLS missing or
    /// refused): the SMTP session is still in a clean plaintext state.
    pub const fn is_before_tls(self) -> bool {
        matches!(self, Self::StarttlsNotOffered | Self::StarttlsRefused)
    }

    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::Decode => "decode-error",
            Self::EofDuringHandshake => "eof-during-handshake",
            Self::HandshakeFailureAlert => "handshake-failure-alert",
            Self::InsufficientSecurityAlert => "insufficient-security-alert",
            Self::OtherTls => "other-tls-error",
            Self::ProtocolVersionAlert => "protocol-version-alert",
            Self::StarttlsNotOffered => "starttls-not-offered",
            Self::StarttlsRefused => "starttls-refused",
            Self::Timeout => "timeout",
            Self::UntrustedStarttlsReply => "untrusted-starttls-reply",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rungs one host plan may use, strongest first: a small copyable set.
///
/// Built by [`HostPlan::ladder`](super::plan::HostPlan::ladder) from the requirement and the
/// allowed protocols: a TLS rung is on the ladder when the protocols leave it something to
/// negotiate, [`Rung::Plaintext`] only when the requirement allows plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ladder(u8);

impl Ladder {
    /// A ladder with no rung.
    pub const EMPTY: Self = Self(0);

    /// The ladder with `rung` added.
    #[must_use]
    pub const fn with(self, rung: Rung) -> Self {
        Self(self.0 | rung.bit())
    }

    /// Whether `rung` is on the ladder.
    pub const fn contains(self, rung: Rung) -> bool {
        self.0 & rung.bit() != 0
    }

    /// The rungs, strongest first.
    pub fn iter(self) -> impl Iterator<Item = Rung> {
        Rung::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The first rung to try.
    pub fn first(self) -> Option<Rung> {
        self.iter().next()
    }

    /// The floor: the weakest rung the plan may ever reach.
    pub fn floor(self) -> Option<Rung> {
        self.iter().last()
    }

    /// The next TLS rung below `rung`, if any.
    pub fn next_tls_below(self, rung: Rung) -> Option<Rung> {
        self.iter().find(|r| *r > rung && r.is_tls())
    }
}

impl fmt::Display for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rung) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" > ")?;
            }
            write!(f, "{rung}")?;
        }
        Ok(())
    }
}

/// Why the ladder refuses to move.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefusalReason {
    /// A certificate failure at an authenticated level: never a weaker rung, never plaintext.
    #[error("the certificate failed an authenticated policy on rung {rung}")]
    Authentication {
        /// The rung the failure happened on.
        rung: Rung,
    },
    /// The last TLS rung failed and the requirement forbids plaintext.
    #[error("TLS is required and failed ({class}) on rung {rung}; no plaintext at this level")]
    TlsRequired {
        /// The failure.
        class: FailureClass,
        /// The rung it happened on.
        rung: Rung,
    },
    /// The failure is evidence of tampering before the handshake
    /// ([`FailureClass::is_tampering`]): no weaker rung, no plaintext, at any level.
    #[error("{class} on rung {rung}: bytes an attacker can inject never move the ladder")]
    Tampering {
        /// The failure.
        class: FailureClass,
        /// The rung it happened on.
        rung: Rung,
    },
    /// The message asked for REQUIRETLS.
    #[error("the message requires TLS (REQUIRETLS): no plaintext fallback")]
    RequireTls,
    /// The caller holds SASL credentials for the destination.
    #[error("SASL credentials are configured for this destination: no plaintext fallback")]
    SaslCredentials,
    /// The message is younger than the minimal backoff time.
    #[error("message age {}s is below the minimal backoff {}s: no plaintext fallback yet", .age.as_secs(), .minimal_backoff.as_secs())]
    MessageTooYoung {
        /// The message's age.
        age: Duration,
        /// The required age.
        minimal_backoff: Duration,
    },
    /// Plaintext failed too: there is nothing below.
    #[error("delivery failed in plaintext ({class}): no rung below plaintext")]
    BottomOfLadder {
        /// The failure.
        class: FailureClass,
    },
    /// The current rung is not on this plan's ladder (a caller bug).
    #[error("rung {rung} is not on this plan's ladder ({ladder})")]
    NotOnLadder {
        /// The rung the caller claimed.
        rung: Rung,
        /// The plan's ladder.
        ladder: Ladder,
    },
    /// Enforced downgrade memory: the host completed a stronger rung before.
    #[error("host completed rung {best} before; refusing the downgrade to {requested}")]
    DowngradeRemembered {
        /// The best rung the host completed.
        best: Rung,
        /// The rung the ladder would have moved to.
        requested: Rung,
    },
}

impl RefusalReason {
    /// The temporary SMTP status a deferral for this reason carries.
    pub fn status(&self) -> Status {
        match self {
            Self::Authentication { .. } => {
                Status::new(451, (4, 7, 5), "Server certificate not verified")
            }
            Self::TlsRequired {
                class: FailureClass::StarttlsNotOffered,
                ..
            } => Status::new(
                451,
                (4, 7, 4),
                "TLS is required, but was not offered by host",
            ),
            Self::TlsRequired {
                class: FailureClass::StarttlsRefused,
                ..
            } => Status::new(
                451,
                (4, 7, 4),
                "TLS is required, but host refused to start TLS",
            ),
            Self::TlsRequired { .. } => {
                Status::new(451, (4, 7, 5), "TLS is required, but the handshake failed")
            }
            Self::Tampering { .. } => Status::new(
                451,
                (4, 7, 0),
                "TLS not started: the reply to STARTTLS could not be trusted",
            ),
            Self::RequireTls => Status::new(
                451,
                (4, 7, 10),
                "REQUIRETLS: the message must not be sent without TLS",
            ),
            Self::SaslCredentials | Self::MessageTooYoung { .. } => Status::new(
                451,
                (4, 7, 5),
                "TLS failed and plaintext fallback is not allowed now",
            ),
            Self::BottomOfLadder { .. } | Self::NotOnLadder { .. } => {
                Status::new(451, (4, 4, 0), "Delivery failed on every allowed rung")
            }
            Self::DowngradeRemembered { .. } => Status::new(
                451,
                (4, 7, 5),
                "Refusing a downgrade below what this host completed before",
            ),
        }
    }
}
