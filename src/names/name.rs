//! The DNS name type, host identities, and the errors of both.

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Dialect;

/// Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4, 255 octets on
/// the wire).
pub const MAX_NAME_LEN: usize = 253;

/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A DNS name in normal form: lower-case A-labels, no trailing dot, at most 253 characters,
/// labels of 1 to 63 characters.
///
/// [`DnsName::parse`] takes host names (letters, digits, hyphens; no hyphen at either end of a
/// label). Input with U-labels (`bücher.example`) is converted to A-labels
/// (`xn--bcher-kva.example`) by UTS #46; input that does not convert is refused. A name whose
/// last label is all digits, or that parses as an IP address, is refused: IP identities are a
/// different kind ([`HostId::Ip`]), never a name.
///
/// [`DnsName::parse_owner`] also allows `_` in labels, for DNS owner names such as
/// `_25._tcp.mx.example.net` or `_mta-sts.example.net`, and for certificate names as
/// presented. Equality, ordering and hashing are on the normal form, so `MX.Example.NET.` and
/// `mx.example.net` are the same name.
///
/// The text is shared: a clone (a plan copying the names it derived, a trace naming a host)
/// costs a reference count, not an allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(Arc<str>);

/// A host identity: a DNS name or an IP address, never confused with each other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostId {
    /// A DNS host name.
    Dns(DnsName),
    /// An IP address (an IP-ID, matched only against `iPAddress` subject alternative names).
    Ip(IpAddr),
}

/// Why a name or a name pattern was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The input was empty (or only a dot).
    #[error("empty DNS name")]
    Empty,
    /// The name is longer than 253 characters.
    #[error("DNS name {name:?} is {len} characters long, the limit is 253")]
    TooLong {
        /// The offending name (normal form, maybe truncated to 300 characters).
        name: String,
        /// Its length.
        len: usize,
    },
    /// A label is empty or longer than 63 characters.
    #[error("label {label:?} in {name:?} is {len} characters long, labels hold 1 to 63")]
    LabelLength {
        /// The offending name.
        name: String,
        /// The offending label.
        label: String,
        /// Its length.
        len: usize,
    },
    /// A character outside the allowed set.
    #[error("character {ch:?} at offset {offset} of {name:?} is not allowed in a {syntax}")]
    InvalidCharacter {
        /// The offending input (after A-label conversion).
        name: String,
        /// The character.
        ch: char,
        /// Byte offset in `name`.
        offset: usize,
        /// What kind of name was expected ("host name", "DNS owner name").
        syntax: &'static str,
    },
    /// A label starts or ends with a hyphen.
    #[error("label {label:?} in {name:?} starts or ends with a hyphen")]
    Hyphen {
        /// The offending name.
        name: String,
        /// The offending label.
        label: String,
    },
    /// The input is an IP address (or looks like one: an all-numeric last label), not a name.
    #[error("{input:?} is an IP address, not a DNS name")]
    IpAddress {
        /// The input.
        input: String,
    },
    /// The input holds U-labels (or malformed A-labels) that IDNA (UTS #46) refused.
    #[error("{input:?} is not a valid internationalised domain name (UTS #46 refused it)")]
    Idna {
        /// The input.
        input: String,
    },
    /// A wildcard where the dialect allows none, or in a form the dialect refuses.
    #[error("pattern {input:?} is not allowed in dialect {dialect}: {reason}")]
    Wildcard {
        /// The pattern as given.
        input: String,
        /// The dialect it was parsed in.
        dialect: Dialect,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A leading dot (Postfix `.example.com`) in a dialect that has no such form.
    #[error("pattern {input:?} starts with a dot, which only dialect postfix-match allows")]
    LeadingDot {
        /// The pattern as given.
        input: String,
    },
    /// A Postfix `match=` strategy word (`nexthop`, `dot-nexthop`, `hostname`) reached the
    /// pattern parser; the policy layer must resolve it into names first.
    #[error("{input:?} is a Postfix match strategy; resolve it into a name before matching")]
    UnresolvedStrategy {
        /// The strategy word.
        input: String,
    },
}

/// Which characters a label may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// Letters, digits, hyphen.
    Host,
    /// Host syntax plus `_`.
    Owner,
}

impl Syntax {
    fn describe(self) -> &'static str {
        match self {
            Self::Host => "host name",
            Self::Owner => "DNS owner name",
        }
    }
}

impl DnsName {
    /// Parses a host name into normal form (see the type docs for the rules).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        Self::parse_with(input, Syntax::Host)
    }

    /// Parses a DNS owner name: host-name rules, but labels may also hold `_`
    /// (`_25._tcp.mx.example.net`, `_smtp._tls.example.net`).
    pub fn parse_owner(input: &str) -> Result<Self, NameError> {
        Self::parse_with(input, Syntax::Owner)
    }

    /// The name in normal form, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with its first label removed, or `None` for a single-label name.
    pub fn parent(&self) -> Option<Self> {
        self.0.split_once('.').map(|(_, rest)| Self(rest.into()))
    }

    /// The labels, left to right.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('.')
    }

    /// How many labels the name has.
    pub fn label_count(&self) -> usize {
        self.0.bytes().filter(|b| *b == b'.').count() + 1
    }

    /// True when `self` equals `ancestor` or lies below it (`a.example.net` is within
    /// `example.net`; `badexample.net` is not).
    pub fn is_within(&self, ancestor: &Self) -> bool {
        self.depth_below(ancestor).is_some()
    }

    /// How many labels `self` has beyond `ancestor`, when it is within it.
    pub fn depth_below(&self, ancestor: &Self) -> Option<usize> {
        if self.0 == ancestor.0 {
            return Some(0);
        }
        let prefix = self.0.strip_suffix(&*ancestor.0)?;
        let prefix = prefix.strip_suffix('.')?;
        if prefix.is_empty() {
            return None;
        }
        Some(prefix.bytes().filter(|b| *b == b'.').count() + 1)
    }

    /// True when every label is letters, digits and hyphens (no `_`).
    pub fn is_host_name(&self) -> bool {
        !self.0.contains('_')
    }

    /// The name with A-labels shown as Unicode, for people (logs, explanations). Never use
    /// this form for matching or on the wire.
    pub fn to_unicode(&self) -> String {
        let (text, result) = idna::domain_to_unicode(&self.0);
        match result {
            Ok(()) => text,
            Err(_) => self.0.to_string(),
        }
    }

    pub(crate) fn parse_with(input: &str, syntax: Syntax) -> Result<Self, NameError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if is_plain_name(trimmed, syntax) {
            return Ok(Self(lower_shared(trimmed)));
        }
        Self::parse_full(input, trimmed, syntax)
    }

    /// The general parse of `input` (`trimmed` without its trailing dot), IDNA included.
    fn parse_full(input: &str, trimmed: &str, syntax: Syntax) -> Result<Self, NameError> {
        if trimmed.parse::<IpAddr>().is_ok() {
            return Err(NameError::IpAddress {
                input: input.to_owned(),
            });
        }
        let needs_idna = !trimmed.is_ascii()
            || trimmed.split('.').any(|l| {
                l.len() >= 4 && l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            });
        let ascii = if needs_idna {
            to_a_labels(trimmed)?
        } else {
            trimmed.to_ascii_lowercase()
        };
        check_syntax(&ascii, syntax)?;
        Ok(Self(ascii.into()))
    }
}

impl HostId {
    /// Parses an IP address (plain, or in brackets as in `[192.0.2.1]` and `[IPv6:2001:db8::1]`)
    /// or else a host name.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let inner = input
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .map(|s| {
                s.get(..5)
                    .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
                    .and_then(|_| s.get(5..))
                    .unwrap_or(s)
            });
        if let Ok(ip) = inner.unwrap_or(input).parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        if let Some(inner) = inner {
            return Err(NameError::InvalidCharacter {
                name: inner.to_owned(),
                ch: '[',
                offset: 0,
                syntax: "IP address literal",
            });
        }
        DnsName::parse(input).map(Self::Dns)
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({:?})", self.0)
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => name.fmt(f),
            Self::Ip(ip) => ip.fmt(f),
        }
    }
}

impl FromStr for DnsName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for DnsName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for DnsName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DnsName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `text` lower-cased (ASCII) into one shared allocation.
fn lower_shared(text: &str) -> Arc<str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        text.to_ascii_lowercase().into()
    } else {
        text.into()
    }
}

/// Converts U-labels (and checks A-labels) with UTS #46, then lower-cases.
fn to_a_labels(input: &str) -> Result<String, NameError> {
    idna::domain_to_ascii_cow(input.as_bytes(), idna::AsciiDenyList::EMPTY)
        .map(|cow| cow.to_ascii_lowercase())
        .map_err(|_| NameError::Idna {
            input: input.to_owned(),
        })
}

/// Whether `name` (no trailing dot) is, in any case, a valid name needing no IDNA: labels of
/// 1 to 63 letters, digits and hyphens (and `_` for owner names), no hyphen at either end of
/// a label, no `xn--` label, the last label not all digits (so not an IPv4 address), at most
/// [`MAX_NAME_LEN`] octets. One pass, for the common case; anything else (errors included)
/// is left to the full parse, which gives the same normal form for what this accepts.
fn is_plain_name(name: &str, syntax: Syntax) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
        return false;
    }
    let mut label_len = 0usize;
    let mut all_digits = true;
    let mut prev = b'.';
    // The label's first four octets, folded, to spot `xn--`.
    let mut head = 0u32;
    for &b in bytes {
        let c = b.to_ascii_lowercase();
        match c {
            b'.' => {
                if label_len == 0 || prev == b'-' {
                    return false;
                }
                label_len = 0;
                all_digits = true;
                head = 0;
                prev = c;
                continue;
            }
            b'a'..=b'z' => all_digits = false,
            b'0'..=b'9' => {}
            b'-' if label_len > 0 => all_digits = false,
            b'_' if syntax == Syntax::Owner => all_digits = false,
            _ => return false,
        }
        if label_len < 4 {
            head |= u32::from(c) << (8 * label_len);
        }
        label_len += 1;
        if label_len > MAX_LABEL_LEN || (label_len == 4 && head == u32::from_le_bytes(*b"xn--")) {
            return false;
        }
        prev = c;
    }
    label_len > 0 && prev != b'-' && !all_digits
}

fn check_syntax(name: &str, syntax: Syntax) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: name.chars().take(300).collect(),
            len: name.len(),
        });
    }
    let mut offset = 0;
    let mut last = "";
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelLength {
                name: name.to_owned(),
                label: label.to_owned(),
                len: label.len(),
            });
        }
        for (i, ch) in label.char_indices() {
            let ok = ch.is_ascii_lowercase()
                || ch.is_ascii_digit()
                || ch == '-'
                || (ch == '_' && syntax == Syntax::Owner);
            if !ok {
                return Err(NameError::InvalidCharacter {
                    name: name.to_owned(),
                    ch,
                    offset: offset + i,
                    syntax: syntax.describe(),
                });
            }
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::Hyphen {
                name: name.to_owned(),
                label: label.to_owned(),
            });
        }
        offset += label.len() + 1;
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::IpAddress {
            input: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form() {
        let cases = [
            ("MX.Example.NET.", "mx.example.net"),
            ("example.net", "example.net"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
            ("BÜCHER.example.", "xn--bcher-kva.example"),
            ("localhost", "localhost"),
            ("a-b.c0.example", "a-b.c0.example"),
        ];
        for (input, want) in cases {
            assert_eq!(DnsName::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn refusals() {
        let long_label = "a".repeat(64);
        let long_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62),
        ]
        .join(".");
        assert_eq!(long_name.len(), 254);
        let ok_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert!(DnsName::parse(&ok_name).is_ok());
        let cases: [(&str, NameError); 9] = [
            ("", NameError::Empty),
            (".", NameError::Empty),
            (
                "a..b",
                NameError::LabelLength {
                    name: "a..b".into(),
                    label: String::new(),
                    len: 0,
                },
            ),
            (
                &format!("{long_label}.example"),
                NameError::LabelLength {
                    name: format!("{long_label}.example"),
                    label: long_label.clone(),
                    len: 64,
                },
            ),
            (
                &long_name,
                NameError::TooLong {
                    name: long_name.clone(),
                    len: 254,
                },
            ),
            (
                "_25._tcp.example",
                NameError::InvalidCharacter {
                    name: "_25._tcp.example".into(),
                    ch: '_',
                    offset: 0,
                    syntax: "host name",
                },
            ),
            (
                "-a.example",
                NameError::Hyphen {
                    name: "-a.example".into(),
                    label: "-a".into(),
                },
            ),
            (
                "192.0.2.1",
                NameError::IpAddress {
                    input: "192.0.2.1".into(),
                },
            ),
            (
                "xn--a.example",
                NameError::Idna {
                    input: "xn--a.example".into(),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(DnsName::parse(input), Err(want), "{input}");
        }
        assert!(matches!(
            DnsName::parse("a b.example"),
            Err(NameError::InvalidCharacter {
                ch: ' ',
                offset: 1,
                ..
            })
        ));
        assert!(matches!(
            DnsName::parse("example.123"),
            Err(NameError::IpAddress { .. })
        ));
        assert!(matches!(
            DnsName::parse("::1"),
            Err(NameError::IpAddress { .. })
        ));
    }

    /// The one-pass check accepts only names the general parse accepts, with the same
    /// normal form; it may leave valid names to the general parse, never wrong ones.
    #[test]
    fn plain_names_parse_as_the_general_parse_does() {
        let alphabet = b"aZ9-_.xn";
        let mut cases: Vec<String> = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = cases
                .iter()
                .filter(|c| c.len() == cases.last().map_or(0, String::len))
                .flat_map(|c| {
                    alphabet.iter().map(move |&b| {
                        let mut c = c.clone();
                        c.push(char::from(b));
                        c
                    })
                })
                .collect();
            cases.extend(longer);
        }
        cases.extend(
            [
                "xn--bcher-kva.example",
                "XN--abc.example",
                "1.2.3.4",
                "a.1",
                "1a.example",
                &"a".repeat(63),
                &"a".repeat(64),
                &["a"; 127].join("."),
                &["a"; 128].join("."),
            ]
            .map(str::to_owned),
        );
        let mut plain = 0;
        for case in &cases {
            for syntax in [Syntax::Host, Syntax::Owner] {
                if is_plain_name(case, syntax) {
                    plain += 1;
                    let full = DnsName::parse_full(case, case, syntax);
                    assert_eq!(
                        full.map(|n| n.0.to_string()),
                        Ok(case.to_ascii_lowercase()),
                        "{case:?}"
                    );
                }
            }
        }
        assert!(plain > 1000, "the fast path is taken: {plain}");
    }

    #[test]
    fn owner_names_allow_underscore() {
        let name = DnsName::parse_owner("_25._TCP.mx.example.net.").unwrap();
        assert_eq!(name.as_str(), "_25._tcp.mx.example.net");
        assert!(!name.is_host_name());
        assert!(DnsName::parse("mx.example.net").unwrap().is_host_name());
    }

    #[test]
    fn relations() {
        let n = |s| DnsName::parse(s).unwrap();
        assert_eq!(n("a.b.example").parent(), Some(n("b.example")));
        assert_eq!(n("example").parent(), None);
        assert_eq!(n("a.b.example").label_count(), 3);
        assert_eq!(n("a.b.example").depth_below(&n("example")), Some(2));
        assert_eq!(n("example").depth_below(&n("example")), Some(0));
        assert_eq!(n("badexample").depth_below(&n("example")), None);
        assert!(!n("example").is_within(&n("a.example")));
        assert_eq!(n("xn--bcher-kva.example").to_unicode(), "bücher.example");
    }

    #[test]
    fn host_ids_keep_ips_apart() {
        let cases = [
            ("192.0.2.1", HostId::Ip("192.0.2.1".parse().unwrap())),
            ("[192.0.2.1]", HostId::Ip("192.0.2.1".parse().unwrap())),
            (
                "[IPv6:2001:db8::1]",
                HostId::Ip("2001:db8::1".parse().unwrap()),
            ),
            ("2001:db8::1", HostId::Ip("2001:db8::1".parse().unwrap())),
            (
                "MX.example",
                HostId::Dns(DnsName::parse("mx.example").unwrap()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(HostId::parse(input).unwrap(), want, "{input}");
        }
        assert!(HostId::parse("[mx.example]").is_err());
    }

    #[test]
    fn serde_as_string() {
        let name: DnsName = serde_json::from_str("\"MX.Example.\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"mx.example\"");
        assert!(serde_json::from_str::<DnsName>("\"a..b\"").is_err());
    }
}
