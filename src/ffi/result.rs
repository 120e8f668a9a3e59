//! The result codes every fallible function returns, and their messages.
//!
//! The lowest module of the C ABI: the panic boundary, handles and text all return these
//! codes. The C functions that describe a code are in `describe`, above them.

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
    /// A certificate or key could not be loaded, or the TLS configuration was refused.
    Tls = 9200,
    /// The session refused the call (answer without a pending event, ...).
    Session = 9300,
}

impl mailtls_result {
    const ALL: [Self; 20] = [
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
        Self::Tls,
        Self::Session,
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
            Self::Tls => "the certificate, key or TLS configuration was refused",
            Self::Session => "the session refused the call",
        }
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
        assert_eq!(seen.len(), 20);
        assert_eq!(mailtls_result::from_raw(0), None);
        assert_eq!(mailtls_result::from_raw(7000), None);
    }
}
