//! SMTP status replies the policy asks for: a reply code, an enhanced status code
//! (RFC 3463) and human text, in [`smtp`](crate::smtp)'s own code types.

use core::fmt;
use std::borrow::Cow;

use crate::smtp::{Code, EnhancedCode, Reply};

/// A reply a policy decision maps to, such as `451 4.7.5 TLS handshake failed`.
///
/// The codes are [`smtp::Code`](Code) and [`smtp::EnhancedCode`](EnhancedCode), so a status is
/// always a valid reply; [`Status::to_reply`] gives the wire reply.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    code: Code,
    enhanced: EnhancedCode,
    text: Cow<'static, str>,
}

/// The enhanced code a status falls back to when [`Status::new`] gets numbers that are no
/// enhanced code: `4.0.0`, "other or undefined" and transient.
const FALLBACK_ENHANCED: EnhancedCode = match EnhancedCode::new(4, 0, 0) {
    Some(code) => code,
    None => EnhancedCode::OK,
};

impl Status {
    /// A status from literal numbers, as policy code writes them:
    /// `Status::new(451, (4, 7, 5), "TLS handshake failed")`.
    ///
    /// Numbers that are no reply code fall back to `451`, an enhanced code that is not valid
    /// to `X.0.0` of the reply code's class (else `4.0.0`): a mistyped status defers rather
    /// than bounces. Use [`Status::from_codes`] when the codes are already typed.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<Cow<'static, str>>) -> Self {
        let (class, subject, detail) = enhanced;
        let typed_code = Code::new(code);
        let typed_enhanced = EnhancedCode::new(class, subject, detail);
        let code = typed_code.unwrap_or(Code::LOCAL_ERROR);
        let enhanced = typed_enhanced
            .or_else(|| EnhancedCode::new(code.first_digit(), 0, 0))
            .unwrap_or(FALLBACK_ENHANCED);
        Self::from_codes(code, enhanced, text)
    }

    /// A status from typed codes.
    pub fn from_codes(
        code: Code,
        enhanced: EnhancedCode,
        text: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// The SMTP reply code (RFC 5321).
    pub const fn code(&self) -> Code {
        self.code
    }

    /// The enhanced status code (RFC 3463).
    pub const fn enhanced(&self) -> EnhancedCode {
        self.enhanced
    }

    /// Human-readable text, without the codes.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the status is permanent (5xx).
    pub const fn is_permanent(&self) -> bool {
        self.code.is_permanent_negative()
    }

    /// The SMTP reply for this status. The enhanced code is left out when its class is not
    /// the reply code's; a text that cannot go on the wire (control characters, an overlong
    /// line) is replaced by `policy status`.
    pub fn to_reply(&self) -> Reply {
        let enhanced = Some(self.enhanced).filter(|e| e.class() == self.code.first_digit());
        Reply::new(self.code, enhanced, &self.text)
            .unwrap_or_else(|_| Reply::fixed(self.code, enhanced, "policy status"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_an_smtp_reply() {
        let s = Status::new(451, (4, 7, 5), "TLS handshake failed");
        assert_eq!(s.to_string(), "451 4.7.5 TLS handshake failed");
        assert_eq!(s.code(), Code::LOCAL_ERROR);
        assert_eq!(s.enhanced(), EnhancedCode::new(4, 7, 5).unwrap());
        assert_eq!(s.enhanced().to_string(), "4.7.5");
        assert_eq!(s.text(), "TLS handshake failed");
        assert!(!s.is_permanent());
        assert!(Status::new(550, (5, 7, 1), "no").is_permanent());
        assert_eq!(
            s,
            Status::from_codes(
                Code::LOCAL_ERROR,
                "4.7.5".parse().unwrap(),
                "TLS handshake failed"
            )
        );
    }

    #[test]
    fn converts_to_a_wire_reply() {
        let reply = Status::new(550, (5, 7, 1), "relay denied").to_reply();
        assert_eq!(reply.to_bytes(), b"550 5.7.1 relay denied\r\n");
        // A class that does not fit the code drops the enhanced code; bad text is replaced.
        let odd = Status::from_codes(Code::LOCAL_ERROR, EnhancedCode::OK, "a\rb").to_reply();
        assert_eq!(odd.to_bytes(), b"451 policy status\r\n");
    }

    #[test]
    fn invalid_numbers_defer() {
        let s = Status::new(999, (9, 0, 0), "typo");
        assert_eq!(s.to_string(), "451 4.0.0 typo");
        let s = Status::new(550, (5, 1000, 0), "typo");
        assert_eq!(s.to_string(), "550 5.0.0 typo");
    }
}
