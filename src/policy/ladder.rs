//! The fallback ladder as data: the rungs a delivery may try, strongest first, and the
//! classes of failure that may (or may never) move it down a rung.
//!
//! A move to a lower rung is always a *new connection*: a peer that failed a handshake is in
//! an undefined state. The session reports the move as an event; the adapter reconnects.

use core::fmt;

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
}
