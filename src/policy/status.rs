//! SMTP status replies the policy asks for: a reply code, an enhanced status code
//! (RFC 3463) and human text.

use core::fmt;
use std::borrow::Cow;

/// A reply a policy decision maps to, such as `451 4.7.5 TLS handshake failed`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    /// The three-digit SMTP reply code (RFC 5321).
    pub code: u16,
    /// The enhanced status code: class, subject, detail (RFC 3463).
    pub enhanced: (u8, u16, u16),
    /// Human-readable text, without the codes.
    pub text: Cow<'static, str>,
}

impl Status {
    /// A status from its parts.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// Whether the status is permanent (5xx).
    pub const fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// The enhanced code as text (`4.7.5`).
    pub fn enhanced_code(&self) -> String {
        let (class, subject, detail) = self.enhanced;
        format!("{class}.{subject}.{detail}")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (class, subject, detail) = self.enhanced;
        write!(f, "{} {class}.{subject}.{detail} {}", self.code, self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_an_smtp_reply() {
        let s = Status::new(451, (4, 7, 5), "TLS handshake failed");
        assert_eq!(s.to_string(), "451 4.7.5 TLS handshake failed");
        assert_eq!(s.enhanced_code(), "4.7.5");
        assert!(!s.is_permanent());
        assert!(Status::new(550, (5, 7, 1), "no").is_permanent());
    }
}
