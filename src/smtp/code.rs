//! Reply codes (RFC 5321 §4.2) and enhanced status codes (RFC 3463).

use std::fmt;
use std::str::FromStr;

/// A three-digit SMTP reply code: first digit 2-5, second 0-5, third 0-9 (RFC 5321 §4.2).
///
/// ```
/// use mailtls::smtp::{Class, Code};
/// let code = Code::new(454).unwrap();
/// assert_eq!(code.class(), Class::TransientNegative);
/// assert!(Code::new(199).is_none() && Code::new(260).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(u16);

/// The first digit of a reply code: what the client should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 5yz: the command failed for good.
    PermanentNegative,
    /// 2yz: the command succeeded.
    PositiveCompletion,
    /// 3yz: the server waits for more (DATA, AUTH).
    PositiveIntermediate,
    /// 4yz: the command failed; trying again later may work.
    TransientNegative,
}

impl Code {
    /// 214 Help message.
    pub const HELP: Code = Code(214);
    /// 220 Service ready (greeting, and the go-ahead for STARTTLS).
    pub const SERVICE_READY: Code = Code(220);
    /// 221 Service closing transmission channel.
    pub const CLOSING: Code = Code(221);
    /// 235 Authentication succeeded (RFC 4954).
    pub const AUTH_SUCCEEDED: Code = Code(235);
    /// 250 Requested mail action okay, completed.
    pub const OK: Code = Code(250);
    /// 252 Cannot VRFY user, but will accept message.
    pub const CANNOT_VERIFY: Code = Code(252);
    /// 334 Authentication challenge (RFC 4954).
    pub const AUTH_CHALLENGE: Code = Code(334);
    /// 354 Start mail input.
    pub const START_MAIL_INPUT: Code = Code(354);
    /// 421 Service not available, closing transmission channel.
    pub const SERVICE_UNAVAILABLE: Code = Code(421);
    /// 451 Requested action aborted: local error in processing.
    pub const LOCAL_ERROR: Code = Code(451);
    /// 452 Insufficient system storage.
    pub const INSUFFICIENT_STORAGE: Code = Code(452);
    /// 454 TLS not available due to temporary reason (RFC 3207).
    pub const TLS_NOT_AVAILABLE: Code = Code(454);
    /// 500 Syntax error, command unrecognised (also: line too long).
    pub const SYNTAX_ERROR: Code = Code(500);
    /// 501 Syntax error in parameters or arguments.
    pub const PARAMETER_SYNTAX_ERROR: Code = Code(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: Code = Code(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: Code = Code(503);
    /// 504 Command parameter not implemented.
    pub const PARAMETER_NOT_IMPLEMENTED: Code = Code(504);
    /// 530 Must issue a STARTTLS command first (RFC 3207) / authentication required.
    pub const ENCRYPTION_REQUIRED: Code = Code(530);
    /// 550 Requested action not taken: mailbox unavailable.
    pub const MAILBOX_UNAVAILABLE: Code = Code(550);
    /// 552 Requested mail action aborted: exceeded storage allocation.
    pub const EXCEEDED_STORAGE: Code = Code(552);
    /// 553 Requested action not taken: mailbox name not allowed.
    pub const MAILBOX_NAME_NOT_ALLOWED: Code = Code(553);
    /// 554 Transaction failed.
    pub const TRANSACTION_FAILED: Code = Code(554);
    /// 555 MAIL FROM/RCPT TO parameters not recognised or not implemented.
    pub const PARAMETERS_NOT_RECOGNISED: Code = Code(555);

    /// The code for `value`, or `None` when it is not a valid reply code.
    pub const fn new(value: u16) -> Option<Code> {
        let (a, b) = (value / 100, (value / 10) % 10);
        if a >= 2 && a <= 5 && b <= 5 {
            Some(Code(value))
        } else {
            None
        }
    }

    /// The code from its three ASCII digits.
    pub(crate) fn from_digits(d: [u8; 3]) -> Option<Code> {
        let [a, b, c] = d;
        if !(b'2'..=b'5').contains(&a) || !(b'0'..=b'5').contains(&b) || !c.is_ascii_digit() {
            return None;
        }
        Some(Code(
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
        ))
    }

    /// The numeric value, e.g. `250`.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class given by the first digit.
    pub const fn class(self) -> Class {
        match self.0 / 100 {
            2 => Class::PositiveCompletion,
            3 => Class::PositiveIntermediate,
            4 => Class::TransientNegative,
            _ => Class::PermanentNegative,
        }
    }

    /// The first digit (2-5).
    pub const fn first_digit(self) -> u8 {
        // The value is at most 559, so the quotient fits in a u8.
        (self.0 / 100) as u8
    }

    /// 2yz.
    pub const fn is_positive_completion(self) -> bool {
        self.0 / 100 == 2
    }

    /// 3yz.
    pub const fn is_positive_intermediate(self) -> bool {
        self.0 / 100 == 3
    }

    /// 4yz.
    pub const fn is_transient_negative(self) -> bool {
        self.0 / 100 == 4
    }

    /// 5yz.
    pub const fn is_permanent_negative(self) -> bool {
        self.0 / 100 == 5
    }

    /// The three ASCII digits.
    pub(crate) fn digits(self) -> [u8; 3] {
        // Each digit is below 10, so the casts cannot truncate.
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + ((self.0 / 10) % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463), e.g. `5.7.1`.
///
/// Class is 2, 4 or 5; subject and detail are 0-999 and written without leading zeros.
///
/// ```
/// use mailtls::smtp::EnhancedCode;
/// let e: EnhancedCode = "5.7.0".parse().unwrap();
/// assert_eq!(e, EnhancedCode::new(5, 7, 0).unwrap());
/// assert_eq!(e.to_string(), "5.7.0");
/// assert!("5.07.0".parse::<EnhancedCode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

/// A text that is not an enhanced status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code (class.subject.detail, class 2/4/5, parts 0-999)")]
pub struct InvalidEnhancedCode;

impl EnhancedCode {
    /// 2.0.0 Other undefined status (success).
    pub const OK: EnhancedCode = EnhancedCode::from_parts(2, 0, 0);

    /// The code, or `None` when a part is out of range.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
        if (class == 2 || class == 4 || class == 5) && subject <= 999 && detail <= 999 {
            Some(EnhancedCode::from_parts(class, subject, detail))
        } else {
            None
        }
    }

    const fn from_parts(class: u8, subject: u16, detail: u16) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// The class digit: 2, 4 or 5.
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject (RFC 3463 §3), e.g. 7 for security or policy status.
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// Parses a code at the start of `text`; returns it and the octets it took.
    pub(crate) fn parse_prefix(text: &[u8]) -> Option<(EnhancedCode, usize)> {
        let (&class, rest) = text.split_first()?;
        if !matches!(class, b'2' | b'4' | b'5') {
            return None;
        }
        let rest = rest.strip_prefix(b".")?;
        let (subject, n1) = number(rest)?;
        let rest = rest.get(n1..)?.strip_prefix(b".")?;
        let (detail, n2) = number(rest)?;
        Some((
            EnhancedCode::from_parts(class - b'0', subject, detail),
            1 + 1 + n1 + 1 + n2,
        ))
    }

    /// Writes `c.s.d` to `out`.
    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        out.push(b'0' + self.class);
        out.push(b'.');
        push_number(out, self.subject);
        out.push(b'.');
        push_number(out, self.detail);
    }
}

impl FromStr for EnhancedCode {
    type Err = InvalidEnhancedCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match EnhancedCode::parse_prefix(s.as_bytes()) {
            Some((code, n)) if n == s.len() => Ok(code),
            _ => Err(InvalidEnhancedCode),
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// 1-3 digits without a leading zero (a lone "0" is fine); stops before a further digit is
/// an error (the whole run of digits must be the number).
fn number(text: &[u8]) -> Option<(u16, usize)> {
    let len = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = text.get(..len)?;
    if len == 0 || len > 3 || (len > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
    Some((value, len))
}

fn push_number(out: &mut Vec<u8>, n: u16) {
    if n >= 100 {
        out.push(b'0' + (n / 100 % 10) as u8);
    }
    if n >= 10 {
        out.push(b'0' + (n / 10 % 10) as u8);
    }
    out.push(b'0' + (n % 10) as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for (value, valid) in [
            (199, false),
            (200, true),
            (220, true),
            (259, true),
            (260, false),
            (354, true),
            (421, true),
            (559, true),
            (560, false),
            (600, false),
            (0, false),
        ] {
            assert_eq!(Code::new(value).is_some(), valid, "{value}");
        }
        assert_eq!(Code::from_digits(*b"250"), Some(Code::OK));
        assert_eq!(Code::from_digits(*b"2a0"), None);
        assert_eq!(Code::from_digits(*b"170"), None);
        assert_eq!(Code::OK.digits(), *b"250");
        assert!(Code::OK.is_positive_completion());
        assert!(Code::START_MAIL_INPUT.is_positive_intermediate());
        assert!(Code::TLS_NOT_AVAILABLE.is_transient_negative());
        assert!(Code::ENCRYPTION_REQUIRED.is_permanent_negative());
        assert_eq!(Code::ENCRYPTION_REQUIRED.first_digit(), 5);
    }

    #[test]
    fn enhanced_codes() {
        for (text, expected) in [
            ("5.7.1", Some((5, 7, 1))),
            ("2.0.0", Some((2, 0, 0))),
            ("4.999.999", Some((4, 999, 999))),
            ("4.1000.1", None),
            ("3.1.1", None),
            ("5.01.1", None),
            ("5.1.01", None),
            ("5.1", None),
            ("5..1", None),
            ("5.1.1x", None),
            ("", None),
        ] {
            let parsed = text.parse::<EnhancedCode>().ok();
            let expected = expected.map(|(c, s, d)| EnhancedCode::new(c, s, d).unwrap());
            assert_eq!(parsed, expected, "{text}");
            if let Some(code) = parsed {
                let mut out = Vec::new();
                code.write_to(&mut out);
                assert_eq!(out, text.as_bytes());
            }
        }
        assert_eq!(
            EnhancedCode::parse_prefix(b"5.7.1 text"),
            Some((EnhancedCode::new(5, 7, 1).unwrap(), 5))
        );
        assert!(EnhancedCode::new(3, 0, 0).is_none());
        assert!(EnhancedCode::new(2, 1000, 0).is_none());
    }
}
