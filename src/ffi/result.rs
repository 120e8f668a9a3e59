//! The result codes every fallible function returns, and their messages; and the codes of
//! the typed failures (a session's failure class, a load error) they are mapped from, in the
//! way rustls-ffi maps `rustls::Error` into `rustls_result`.
//!
//! The lowest module of the C ABI: the panic boundary, handles and text all return these
//! codes. The C functions that describe a code are in `describe`, above them.

use crate::client::AttemptResult;
use crate::policy::ladder::FailureClass;

/// What a call did. The values live in their own range (9000 and up) so they are never
/// confused with errno values or another library's codes; they are never renumbered.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_result {
    /// Success; the out-parameters are written.
    Ok = 9000,
    /// A required pointer was NULL.
    NullParameter = 9001,
    /// A handle is not a live object of the expected type (already freed, or foreign).
    InvalidHandle = 9002,
    /// Text is not valid UTF-8.
    InvalidUtf8 = 9003,
    /// An input is longer than its cap (`MAILTLS_MAX_STRING`, `MAILTLS_MAX_TEXT`, ...).
    TooLong = 9004,
    /// The output buffer is too small; the matching `_size` function says how large it must be.
    InsufficientSize = 9005,
    /// A panic was caught at the boundary; the object involved should be freed.
    Panic = 9006,
    /// An argument has a value outside its domain (unknown level, unknown format, bad
    /// address, index out of range).
    InvalidArgument = 9007,
    /// The call is not allowed in the object's current state (wrong call order).
    WrongState = 9008,
    /// There is nothing to return (no last error, no TLS facts yet, no pending event).
    NotFound = 9009,
    /// The call belongs to the other role: a client-only call on a server session, or the
    /// reverse.
    WrongRole = 9010,
    /// A Postfix policy table does not parse; the object's last error says where.
    PolicyTable = 9100,
    /// A connectors configuration does not parse or is inconsistent; the last error says where.
    Connectors = 9101,
    /// A next hop or host name is not valid.
    Destination = 9102,
    /// Inbound facts (milter macros, addresses) are not valid.
    InboundFacts = 9103,
    /// A TLS-RPT input is not valid (result type, policy type, period).
    Report = 9104,
    /// An MTA-STS policy text does not parse; the object's last error says why.
    StsPolicy = 9105,
    /// A TLSA record does not parse; the object's last error says why.
    Tlsa = 9106,
    /// The state store could not be opened or failed (a server down, a full disk, a file that
    /// is not a mailtls state file); the store's last error names it and says why.
    Store = 9107,
    /// A certificate or key could not be loaded, or the TLS configuration was refused.
    Tls = 9200,
    /// A certificate chain in PEM does not parse, or holds no certificate.
    CertificatePem = 9201,
    /// A private key in PEM does not parse, or holds no key.
    PrivateKeyPem = 9202,
    /// The certificate chain and the key were refused together (the key does not belong to
    /// the certificate, or its type is not supported).
    TlsIdentity = 9203,
    /// A trust-anchor file cannot be read or holds no usable anchor.
    TrustAnchors = 9204,
    /// The session refused the call (answer without a pending event, ...).
    Session = 9300,
    /// Failure class (from `mailtls_session_event_failure`): the peer's certificate did not
    /// satisfy the policy.
    CertificateRejected = 9400,
    /// Failure class: the peer sent bytes that are not TLS, or a TLS message that did not
    /// decode.
    TlsDecodeError = 9401,
    /// Failure class: the peer closed the connection in the middle of the TLS handshake.
    EofDuringHandshake = 9402,
    /// Failure class: the peer sent a `handshake_failure` alert (no common parameters).
    HandshakeFailureAlert = 9403,
    /// Failure class: the peer sent an `insufficient_security` alert.
    InsufficientSecurityAlert = 9404,
    /// Failure class: any other TLS alert or TLS error.
    TlsOther = 9405,
    /// Failure class: the peer sent a `protocol_version` alert.
    ProtocolVersionAlert = 9406,
    /// Failure class: the server did not offer STARTTLS (or it was stripped on the way).
    StarttlsNotOffered = 9407,
    /// Failure class: the server answered STARTTLS with a 4xx or 5xx reply.
    StarttlsRefused = 9408,
    /// Failure class: the peer did not answer in time.
    Timeout = 9409,
    /// Failure class: the reply to STARTTLS could not be trusted (plaintext pipelined behind
    /// it, or a code STARTTLS does not allow); the attempt never moves to a weaker rung.
    UntrustedStarttlsReply = 9410,
    /// Attempt result: the peer closed the connection.
    ConnectionLost = 9420,
    /// Attempt result: the peer broke the SMTP protocol.
    ProtocolViolation = 9421,
    /// Attempt result: the server refused with a reply that ends the session
    /// (`mailtls_session_event_reply` gives it).
    Rejected = 9422,
    /// Attempt result: the message could not be encoded for DATA (a line over 1000 octets).
    MessageUnsendable = 9423,
    /// Attempt result: the precedence decision skipped the host; it was never contacted.
    HostSkipped = 9424,
}

impl mailtls_result {
    const ALL: [Self; 41] = [
        Self::Ok,
        Self::NullParameter,
        Self::InvalidHandle,
        Self::InvalidUtf8,
        Self::TooLong,
        Self::InsufficientSize,
        Self::Panic,
        Self::InvalidArgument,
        Self::WrongState,
        Self::NotFound,
        Self::WrongRole,
        Self::PolicyTable,
        Self::Connectors,
        Self::Destination,
        Self::InboundFacts,
        Self::Report,
        Self::StsPolicy,
        Self::Tlsa,
        Self::Store,
        Self::Tls,
        Self::CertificatePem,
        Self::PrivateKeyPem,
        Self::TlsIdentity,
        Self::TrustAnchors,
        Self::Session,
        Self::CertificateRejected,
        Self::TlsDecodeError,
        Self::EofDuringHandshake,
        Self::HandshakeFailureAlert,
        Self::InsufficientSecurityAlert,
        Self::TlsOther,
        Self::ProtocolVersionAlert,
        Self::StarttlsNotOffered,
        Self::StarttlsRefused,
        Self::Timeout,
        Self::UntrustedStarttlsReply,
        Self::ConnectionLost,
        Self::ProtocolViolation,
        Self::Rejected,
        Self::MessageUnsendable,
        Self::HostSkipped,
    ];

    /// The code for a raw value, if it is one.
    pub(crate) fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as u32 == raw)
    }

    /// A one-line description.
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Self::Ok => "success",
            Self::NullParameter => "a required pointer was NULL",
            Self::InvalidHandle => "the handle is not a live object of the expected type",
            Self::InvalidUtf8 => "text is not valid UTF-8",
            Self::TooLong => "an input is longer than its cap",
            Self::InsufficientSize => "the output buffer is too small",
            Self::Panic => "a panic was caught at the C boundary",
            Self::InvalidArgument => "an argument has a value outside its domain",
            Self::WrongState => "the call is not allowed in the object's current state",
            Self::NotFound => "there is nothing to return",
            Self::WrongRole => "the call belongs to the session's other role",
            Self::PolicyTable => "the Postfix policy table does not parse",
            Self::Connectors => "the connectors configuration is not valid",
            Self::Destination => "the next hop or host name is not valid",
            Self::InboundFacts => "the inbound facts are not valid",
            Self::Report => "the TLS-RPT input is not valid",
            Self::StsPolicy => "the MTA-STS policy does not parse",
            Self::Tlsa => "the TLSA record does not parse",
            Self::Store => "the state store could not be opened or failed",
            Self::Tls => "the certificate, key or TLS configuration was refused",
            Self::CertificatePem => "the certificate chain PEM does not parse",
            Self::PrivateKeyPem => "the private key PEM does not parse",
            Self::TlsIdentity => "the certificate chain and key were refused together",
            Self::TrustAnchors => "the trust-anchor file cannot be read or holds no anchor",
            Self::Session => "the session refused the call",
            Self::CertificateRejected => "the peer's certificate did not satisfy the policy",
            Self::TlsDecodeError => "the peer sent bytes that are not TLS",
            Self::EofDuringHandshake => "the peer closed the connection during the TLS handshake",
            Self::HandshakeFailureAlert => "the peer sent a handshake_failure alert",
            Self::InsufficientSecurityAlert => "the peer sent an insufficient_security alert",
            Self::TlsOther => "TLS failed",
            Self::ProtocolVersionAlert => "the peer sent a protocol_version alert",
            Self::StarttlsNotOffered => "the server did not offer STARTTLS",
            Self::StarttlsRefused => "the server refused STARTTLS",
            Self::Timeout => "the peer did not answer in time",
            Self::UntrustedStarttlsReply => "the reply to STARTTLS could not be trusted",
            Self::ConnectionLost => "the peer closed the connection",
            Self::ProtocolViolation => "the peer broke the SMTP protocol",
            Self::Rejected => "the server refused with a reply that ends the session",
            Self::MessageUnsendable => "the message could not be encoded for DATA",
            Self::HostSkipped => "the precedence decision skipped the host",
        }
    }
}

/// The code of a failure class (a session's TLS failure, for the ladder).
pub(crate) fn of_failure_class(class: FailureClass) -> mailtls_result {
    match class {
        FailureClass::Certificate => mailtls_result::CertificateRejected,
        FailureClass::Decode => mailtls_result::TlsDecodeError,
        FailureClass::EofDuringHandshake => mailtls_result::EofDuringHandshake,
        FailureClass::HandshakeFailureAlert => mailtls_result::HandshakeFailureAlert,
        FailureClass::InsufficientSecurityAlert => mailtls_result::InsufficientSecurityAlert,
        FailureClass::ProtocolVersionAlert => mailtls_result::ProtocolVersionAlert,
        FailureClass::StarttlsNotOffered => mailtls_result::StarttlsNotOffered,
        FailureClass::StarttlsRefused => mailtls_result::StarttlsRefused,
        FailureClass::Timeout => mailtls_result::Timeout,
        FailureClass::UntrustedStarttlsReply => mailtls_result::UntrustedStarttlsReply,
        // OtherTls, and classes a later version adds.
        _ => mailtls_result::TlsOther,
    }
}

/// The code of how a client attempt ended: `Ok` for a session that ran to QUIT.
pub(crate) fn of_attempt(result: &AttemptResult) -> mailtls_result {
    match result {
        AttemptResult::Completed { .. } => mailtls_result::Ok,
        AttemptResult::ConnectionLost { .. } => mailtls_result::ConnectionLost,
        AttemptResult::ProtocolViolation { .. } => mailtls_result::ProtocolViolation,
        AttemptResult::Rejected { .. } => mailtls_result::Rejected,
        AttemptResult::MessageUnsendable { .. } => mailtls_result::MessageUnsendable,
        AttemptResult::Timeout { .. } => mailtls_result::Timeout,
        AttemptResult::Skipped { .. } => mailtls_result::HostSkipped,
        AttemptResult::StarttlsUntrusted(_) => mailtls_result::UntrustedStarttlsReply,
        AttemptResult::TlsFailed { class, .. } => of_failure_class(*class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_in_range_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in mailtls_result::ALL {
            assert!((9000..10000).contains(&(code as u32)));
            seen.insert(code as u32);
            assert_eq!(mailtls_result::from_raw(code as u32), Some(code));
        }
        assert_eq!(seen.len(), mailtls_result::ALL.len());
        assert_eq!(mailtls_result::from_raw(0), None);
        assert_eq!(mailtls_result::from_raw(7000), None);
    }
}
