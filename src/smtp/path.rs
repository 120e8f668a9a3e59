//! Domains, address literals, mailboxes and paths (RFC 5321 §4.1.2 and §4.1.3, with the
//! UTF-8 extensions of RFC 6531).
//!
//! Each type constructs only from valid text, so a value in hand is valid. Limits from
//! RFC 5321 §4.5.3.1: local part 64 octets, domain 255 octets, path 256 octets (brackets
//! included). A source route (`<@a,@b:user@c>`) is accepted and dropped, as §4.1.1.3 asks.

use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;
use std::str::FromStr;

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest path, brackets included, in octets (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// Why a domain, address literal, mailbox or path is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A label is empty, too long, or starts or ends with a hyphen.
    #[error("column {column}: invalid domain label")]
    BadLabel {
        /// Column (1-based, within the text given) where the label starts.
        column: usize,
    },
    /// A byte that may not appear here.
    #[error("column {column}: unexpected {found:?} in {within}")]
    Unexpected {
        /// Column (1-based).
        column: usize,
        /// The character presented.
        found: char,
        /// The part being parsed, e.g. "local part".
        within: &'static str,
    },
    /// The text ended early.
    #[error("unexpected end: expected {expected}")]
    End {
        /// What was expected.
        expected: &'static str,
    },
    /// An address literal whose content is not an address.
    #[error("invalid address literal [{literal}]")]
    BadLiteral {
        /// The text between the brackets.
        literal: String,
    },
    /// A part exceeds its RFC 5321 length limit.
    #[error("{part} of {length} octets exceeds the limit of {limit}")]
    TooLong {
        /// Which part.
        part: &'static str,
        /// The length presented.
        length: usize,
        /// The limit.
        limit: usize,
    },
}

/// A domain name: dot-separated labels of letters, digits and hyphens (not at either end of
/// a label), at most 63 octets each and 255 in all. Non-ASCII (U-label) characters are allowed
/// (RFC 6531). Case is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);

/// An address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]` or a general literal
/// `[tag:content]` (RFC 5321 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// A tagged literal other than IPv6; the tag is a standardized-tag (letters, digits,
    /// hyphens) and the content printable ASCII without `[`, `\` or `]`.
    General {
        /// The tag before the colon.
        tag: String,
        /// The content after the colon.
        content: String,
    },
    /// `[a.b.c.d]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:...]`.
    Ipv6(Ipv6Addr),
}

/// A host as named in EHLO, HELO and mailbox domains: a domain or an address literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name.
    Domain(Domain),
    /// An address literal.
    Literal(AddressLiteral),
}

/// A mailbox `local-part@domain`; the local part is a dot-string or a quoted string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local: String,
    host: Host,
}

/// The reverse-path of MAIL FROM: a mailbox, or the null path `<>` (bounces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// A sender mailbox.
    Mailbox(Mailbox),
    /// `<>`.
    Null,
}

/// The forward-path of RCPT TO: a mailbox, or the bare `<Postmaster>` (any case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// A recipient mailbox.
    Mailbox(Mailbox),
    /// `<Postmaster>` without a domain.
    Postmaster,
}

impl Domain {
    /// Parses a domain.
    ///
    /// ```
    /// use mailtls::smtp::Domain;
    /// assert!(Domain::parse("mx1.example.org").is_ok());
    /// assert!(Domain::parse("bücher.example").is_ok());
    /// assert!(Domain::parse("-bad.example").is_err());
    /// assert!(Domain::parse("a..b").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Domain, PathError> {
        check_domain(text, 0)?;
        Ok(Domain(text.to_owned()))
    }

    /// The domain as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AddressLiteral {
    /// Parses the text between the brackets (`192.0.2.1`, `IPv6:2001:db8::1`, `tag:content`).
    pub fn parse_inner(inner: &str) -> Result<AddressLiteral, PathError> {
        let bad = || PathError::BadLiteral {
            literal: inner.to_owned(),
        };
        match inner.split_once(':') {
            None => inner
                .parse::<Ipv4Addr>()
                .map(AddressLiteral::Ipv4)
                .map_err(|_| bad()),
            Some((tag, rest)) if tag.eq_ignore_ascii_case("IPv6") => rest
                .parse::<Ipv6Addr>()
                .map(AddressLiteral::Ipv6)
                .map_err(|_| bad()),
            Some((tag, content)) => {
                let tag_ok = !tag.is_empty()
                    && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !tag.ends_with('-');
                let content_ok = !content.is_empty()
                    && content
                        .bytes()
                        .all(|b| (33..=126).contains(&b) && !matches!(b, b'[' | b'\\' | b']'));
                if tag_ok && content_ok {
                    Ok(AddressLiteral::General {
                        tag: tag.to_owned(),
                        content: content.to_owned(),
                    })
                } else {
                    Err(bad())
                }
            }
        }
    }

    fn write_to(&self, out: &mut String) {
        use fmt::Write;
        // Writing to a String cannot fail.
        let _ = match self {
            AddressLiteral::General { tag, content } => write!(out, "[{tag}:{content}]"),
            AddressLiteral::Ipv4(a) => write!(out, "[{a}]"),
            AddressLiteral::Ipv6(a) => write!(out, "[IPv6:{a}]"),
        };
    }
}

impl Host {
    /// Parses a domain or a bracketed address literal.
    ///
    /// ```
    /// use mailtls::smtp::{AddressLiteral, Host};
    /// assert!(matches!(Host::parse("[192.0.2.1]"), Ok(Host::Literal(AddressLiteral::Ipv4(_)))));
    /// assert!(matches!(Host::parse("[IPv6:2001:db8::1]"), Ok(Host::Literal(AddressLiteral::Ipv6(_)))));
    /// assert!(matches!(Host::parse("example.org"), Ok(Host::Domain(_))));
    /// assert!(Host::parse("[999.0.0.1]").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Host, PathError> {
        match text.strip_prefix('[') {
            Some(rest) => {
                let inner = rest
                    .strip_suffix(']')
                    .ok_or(PathError::End { expected: "]" })?;
                AddressLiteral::parse_inner(inner).map(Host::Literal)
            }
            None => Domain::parse(text).map(Host::Domain),
        }
    }

    /// Whether the host is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            Host::Domain(d) => d.0.is_ascii(),
            Host::Literal(_) => true,
        }
    }
}

impl Mailbox {
    /// Parses `local-part@domain` (no angle brackets).
    ///
    /// ```
    /// use mailtls::smtp::Mailbox;
    /// let m = Mailbox::parse("\"john doe\"@example.org").unwrap();
    /// assert_eq!(m.local_part(), "\"john doe\"");
    /// assert!(Mailbox::parse("a..b@example.org").is_err());
    /// assert!(Mailbox::parse("postmaster").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Mailbox, PathError> {
        let mut cursor = Cursor::new(text, 0);
        let mailbox = cursor.mailbox(|_| false)?;
        match cursor.peek() {
            None => Ok(mailbox),
            Some(c) => Err(cursor.unexpected(c, "mailbox")),
        }
    }

    /// The local part as written (quotes and escapes kept).
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The domain or address literal after the `@`.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the mailbox is all ASCII (a UTF-8 mailbox needs SMTPUTF8, RFC 6531).
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.host.is_ascii()
    }
}

impl ReversePath {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ReversePath::Mailbox(m) => m.is_ascii(),
            ReversePath::Null => true,
        }
    }
}

impl ForwardPath {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ForwardPath::Mailbox(m) => m.is_ascii(),
            ForwardPath::Postmaster => true,
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => d.fmt(f),
            Host::Literal(l) => l.fmt(f),
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.host)
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
            ReversePath::Null => f.write_str("<>"),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
        }
    }
}

impl FromStr for Domain {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

impl FromStr for Host {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Host::parse(s)
    }
}

impl FromStr for Mailbox {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mailbox::parse(s)
    }
}

/// Parses `<...>` at the start of `text` as a reverse-path; returns it and the octets taken.
pub(crate) fn parse_reverse_path(
    text: &str,
    offset: usize,
) -> Result<(ReversePath, usize), PathError> {
    if text.starts_with("<>") {
        return Ok((ReversePath::Null, 2));
    }
    let (mailbox, n) = bracketed(text, offset)?;
    Ok((ReversePath::Mailbox(mailbox), n))
}

/// Parses `<...>` at the start of `text` as a forward-path; returns it and the octets taken.
pub(crate) fn parse_forward_path(
    text: &str,
    offset: usize,
) -> Result<(ForwardPath, usize), PathError> {
    if let Some(head) = text.get(..12) {
        if head.eq_ignore_ascii_case("<postmaster>") {
            return Ok((ForwardPath::Postmaster, 12));
        }
    }
    let (mailbox, n) = bracketed(text, offset)?;
    Ok((ForwardPath::Mailbox(mailbox), n))
}

fn bracketed(text: &str, offset: usize) -> Result<(Mailbox, usize), PathError> {
    let mut cursor = Cursor::new(text, offset);
    cursor.expect(b'<', "'<' opening the path")?;
    if cursor.peek() == Some(b'@') {
        cursor.source_route()?;
    }
    let mailbox = cursor.mailbox(|b| b == b'>')?;
    cursor.expect(b'>', "'>' closing the path")?;
    if cursor.at > MAX_PATH {
        return Err(PathError::TooLong {
            part: "path",
            length: cursor.at,
            limit: MAX_PATH,
        });
    }
    Ok((mailbox, cursor.at))
}

/// A position in text being parsed; `offset` shifts reported columns.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, offset: usize) -> Self {
        Cursor {
            text,
            at: 0,
            offset,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn column(&self) -> usize {
        self.offset + self.at + 1
    }

    fn unexpected(&self, _byte: u8, within: &'static str) -> PathError {
        let found = self
            .text
            .get(self.at..)
            .and_then(|s| s.chars().next())
            .unwrap_or('\u{fffd}');
        PathError::Unexpected {
            column: self.column(),
            found,
            within,
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), PathError> {
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(b) => Err(self.unexpected(b, expected)),
            None => Err(PathError::End { expected }),
        }
    }

    /// `@dom,@dom:` — checked and dropped.
    fn source_route(&mut self) -> Result<(), PathError> {
        loop {
            self.expect(b'@', "'@' in source route")?;
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b',' || b == b':' {
                    break;
                }
                self.at += 1;
            }
            let domain = self.text.get(start..self.at).unwrap_or_default();
            check_domain(domain, self.offset + start)?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b':') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => {
                    return Err(PathError::End {
                        expected: "':' after source route",
                    })
                }
            }
        }
    }

    /// `local@host`, stopping before a byte for which `stop` holds (or at the end).
    fn mailbox(&mut self, stop: impl Fn(u8) -> bool) -> Result<Mailbox, PathError> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            self.quoted_string()?;
        } else {
            self.dot_string()?;
        }
        let local = self.text.get(start..self.at).unwrap_or_default();
        if local.len() > MAX_LOCAL_PART {
            return Err(PathError::TooLong {
                part: "local part",
                length: local.len(),
                limit: MAX_LOCAL_PART,
            });
        }
        self.expect(b'@', "'@' after the local part")?;
        let host_start = self.at;
        let host = if self.peek() == Some(b'[') {
            while let Some(b) = self.peek() {
                self.at += 1;
                if b == b']' {
                    break;
                }
            }
            let text = self.text.get(host_start..self.at).unwrap_or_default();
            Host::parse(text)?
        } else {
            let rest = self.text.as_bytes().get(host_start..).unwrap_or_default();
            self.at += rest.iter().position(|&b| stop(b)).unwrap_or(rest.len());
            let text = self.text.get(host_start..self.at).unwrap_or_default();
            check_domain(text, self.offset + host_start)?;
            Host::Domain(Domain(text.to_owned()))
        };
        Ok(Mailbox {
            local: local.to_owned(),
            host,
        })
    }

    fn dot_string(&mut self) -> Result<(), PathError> {
        // One pass over the rest as a slice (no per-octet bounds check through `peek`).
        let rest = self.text.as_bytes().get(self.at..).unwrap_or_default();
        let mut atom_len = 0;
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'.' if atom_len > 0 => atom_len = 0,
                b'@' if atom_len > 0 => {
                    self.at += i;
                    return Ok(());
                }
                b if is_atext(b) => atom_len += 1,
                b => {
                    self.at += i;
                    return Err(self.unexpected(b, "local part"));
                }
            }
        }
        self.at += rest.len();
        Err(PathError::End {
            expected: "'@' after the local part",
        })
    }

    fn quoted_string(&mut self) -> Result<(), PathError> {
        self.at += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b) if (32..=126).contains(&b) => {}
                        Some(b) => return Err(self.unexpected(b, "quoted pair")),
                        None => return Err(PathError::End { expected: "'\"'" }),
                    }
                }
                Some(b) if b >= 0x80 || (32..=126).contains(&b) => {}
                Some(b) => return Err(self.unexpected(b, "quoted string")),
                None => return Err(PathError::End { expected: "'\"'" }),
            }
            self.at += 1;
        }
    }
}

/// atext (RFC 5322) plus UTF-8 (RFC 6531).
fn is_atext(b: u8) -> bool {
    BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0) & ATEXT != 0
}

/// A domain octet other than `.`: letter, digit, hyphen, or UTF-8.
fn is_domain_byte(b: u8) -> bool {
    BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0) & DOMAIN != 0
}

const ATEXT: u8 = 1;
const DOMAIN: u8 = 2;

/// The classes of each octet, so a scan costs one load per octet.
#[allow(clippy::indexing_slicing)] // constant evaluation over 0..=255
static BYTE_CLASS: [u8; 256] = byte_table!(0u8, |b| {
    let mut class = 0;
    if is_atext_slow(b) {
        class |= ATEXT;
    }
    if b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80 {
        class |= DOMAIN;
    }
    class
});

const fn is_atext_slow(b: u8) -> bool {
    matches!(
        b,
        b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | 0x80..=0xff
            | b'!'
            | b'#'..=b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'/'
            | b'='
            | b'?'
            | b'^'..=b'`'
            | b'{'..=b'~'
    )
}

fn check_domain(text: &str, offset: usize) -> Result<(), PathError> {
    if text.is_empty() {
        return Err(PathError::End {
            expected: "a domain",
        });
    }
    if text.len() > MAX_DOMAIN {
        return Err(PathError::TooLong {
            part: "domain",
            length: text.len(),
            limit: MAX_DOMAIN,
        });
    }
    let bytes = text.as_bytes();
    let mut label_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // One table load decides the common octet (letter, digit, hyphen, UTF-8).
        if is_domain_byte(b) {
            continue;
        }
        if b == b'.' {
            check_label(bytes, label_start, i, offset)?;
            label_start = i + 1;
        } else {
            let found = text.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
            return Err(PathError::Unexpected {
                column: offset + i + 1,
                found,
                within: "domain",
            });
        }
    }
    check_label(bytes, label_start, bytes.len(), offset)
}

/// A label is 1-63 octets and neither starts nor ends with a hyphen.
fn check_label(bytes: &[u8], start: usize, end: usize, offset: usize) -> Result<(), PathError> {
    let label = bytes.get(start..end).unwrap_or_default();
    let ok = !label.is_empty()
        && label.len() <= 63
        && label.first() != Some(&b'-')
        && label.last() != Some(&b'-');
    if ok {
        Ok(())
    } else {
        Err(PathError::BadLabel {
            column: offset + start + 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atext_is_the_rfc_5322_set_plus_utf8() {
        for b in 0..=255u8 {
            let expected =
                b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
            assert_eq!(is_atext(b), expected, "{b:#x}");
        }
    }

    #[test]
    fn domains() {
        for (text, ok) in [
            ("example.org", true),
            ("a", true),
            ("xn--bcher-kva.example", true),
            ("bücher.example", true),
            ("a-b.c", true),
            ("", false),
            ("a.", false),
            (".a", false),
            ("a..b", false),
            ("-a.b", false),
            ("a-.b", false),
            ("a_b.c", false),
            ("a b", false),
            (&"a".repeat(64), false),
            (&"a".repeat(63), true),
            (&["a"; 129].join("."), false),
            (&["a"; 128].join("."), true),
        ] {
            assert_eq!(Domain::parse(text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn literals() {
        for (text, ok) in [
            ("[192.0.2.1]", true),
            ("[IPv6:2001:db8::1]", true),
            ("[ipv6:::1]", true),
            ("[IPv6:::ffff:192.0.2.1]", true),
            ("[x-tag:abc]", true),
            ("[192.0.2.256]", false),
            ("[192.0.2]", false),
            ("[IPv6:zz]", false),
            ("[:abc]", false),
            ("[tag:a b]", false),
            ("[192.0.2.1", false),
        ] {
            assert_eq!(Host::parse(text).is_ok(), ok, "{text}");
            if let Ok(h) = Host::parse(text) {
                assert_eq!(Host::parse(&h.to_string()).unwrap(), h);
            }
        }
    }

    #[test]
    fn paths() {
        for (text, expected) in [
            ("<>", Some(("<>", 2))),
            ("<a@b.c> SIZE=1", Some(("<a@b.c>", 7))),
            ("<@r1.example,@r2.example:a@b.c>", Some(("<a@b.c>", 31))),
            ("<\"a b\\\"c\"@b.c>", Some(("<\"a b\\\"c\"@b.c>", 14))),
            ("<a@[192.0.2.1]>", Some(("<a@[192.0.2.1]>", 15))),
            (
                "<δοκιμή@παράδειγμα.δοκιμή>",
                Some(("<δοκιμή@παράδειγμα.δοκιμή>", 48)),
            ),
            ("<a@b.c", None),
            ("a@b.c", None),
            ("<a@>", None),
            ("<@b.c>", None),
            ("<a.@b.c>", None),
            ("<a b@c>", None),
            ("<\"a@b.c>", None),
            ("<a@b..c>", None),
            ("<@r1:>", None),
        ] {
            let got = parse_reverse_path(text, 0)
                .ok()
                .map(|(p, n)| (p.to_string(), n));
            assert_eq!(got, expected.map(|(s, n)| (s.to_owned(), n)), "{text}");
        }
        let long_local = format!("<{}@b.c>", "a".repeat(65));
        assert!(matches!(
            parse_reverse_path(&long_local, 0),
            Err(PathError::TooLong {
                part: "local part",
                ..
            })
        ));
        let long_path = format!("<{}@{}>", "a".repeat(10), ["abcdefghi"; 25].join("."));
        assert!(matches!(
            parse_reverse_path(&long_path, 0),
            Err(PathError::TooLong { part: "path", .. })
        ));
        assert_eq!(
            parse_forward_path("<POSTMASTER>", 0).unwrap(),
            (ForwardPath::Postmaster, 12)
        );
    }
}
