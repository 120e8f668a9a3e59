//! One TLSA record (RFC 6698 §2): its three parameters and its association data, parsed from
//! zone-file presentation format or from wire RDATA.

use core::fmt;

/// The largest association data accepted, in bytes: a DNS RDATA is at most 65535 bytes, three
/// of which are the parameters.
pub const MAX_DATA_LEN: usize = 65_532;

/// The certificate usage field (RFC 6698 §2.1.1, names from RFC 7218).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertUsage {
    /// 0, PKIX-TA: a CA that must also pass PKIX validation. Unusable for SMTP (RFC 7672 §3.1.3).
    PkixTa,
    /// 1, PKIX-EE: the end entity, which must also pass PKIX validation. Unusable for SMTP.
    PkixEe,
    /// 2, DANE-TA: a trust anchor for the presented chain, with a name check.
    DaneTa,
    /// 3, DANE-EE: the end entity itself; no name check, no expiry check.
    DaneEe,
    /// A value with no assigned meaning.
    Unassigned(u8),
}

/// The selector field (RFC 6698 §2.1.2): which part of a certificate the data matches.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// 0, Cert: the whole DER certificate.
    Cert,
    /// 1, SPKI: the DER SubjectPublicKeyInfo.
    Spki,
    /// A value with no assigned meaning.
    Unassigned(u8),
}

/// The matching type field (RFC 6698 §2.1.3): how the data is compared.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchingType {
    /// 0, Full: the selected content itself, byte for byte.
    Full,
    /// 1, SHA2-256 of the selected content.
    Sha256,
    /// 2, SHA2-512 of the selected content.
    Sha512,
    /// A value with no assigned meaning.
    Unassigned(u8),
}

/// One TLSA record as published: parameters and association data.
///
/// Parsing only checks the syntax; whether the record can be *used* (assigned values, PKIX
/// usages, digest length) is decided by [`TlsaSet`](super::TlsaSet).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsaRecord {
    /// Certificate usage.
    pub usage: CertUsage,
    /// Selector.
    pub selector: Selector,
    /// Matching type.
    pub matching_type: MatchingType,
    /// Certificate association data.
    pub data: Vec<u8>,
}

/// Why a TLSA record could not be parsed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsaParseError {
    /// The association data is longer than [`MAX_DATA_LEN`].
    #[error("TLSA association data of {presented} bytes exceeds the cap of {max}")]
    DataTooLong {
        /// Bytes presented (or, for hex text, the bytes it would decode to).
        presented: usize,
        /// The cap.
        max: usize,
    },
    /// The record has no association data at all.
    #[error("TLSA record has no association data")]
    EmptyData,
    /// A hex digit was expected.
    #[error("TLSA association data: {presented:?} at column {column} is not a hex digit")]
    InvalidHexDigit {
        /// 1-based column in the presentation text.
        column: usize,
        /// The character found.
        presented: char,
    },
    /// One of the three numeric fields is missing.
    #[error("TLSA record lacks its {field} field")]
    MissingField {
        /// `usage`, `selector` or `matching type`.
        field: &'static str,
    },
    /// A numeric field is not a decimal number from 0 to 255.
    #[error("TLSA {field} at column {column}: expected a number 0-255, found {presented:?}")]
    NotAnOctet {
        /// `usage`, `selector` or `matching type`.
        field: &'static str,
        /// 1-based column in the presentation text.
        column: usize,
        /// The text found.
        presented: String,
    },
    /// The hex data has an odd number of digits.
    #[error("TLSA association data has an odd number ({digits}) of hex digits")]
    OddHexDigits {
        /// Number of hex digits.
        digits: usize,
    },
    /// The wire RDATA is shorter than the three parameter octets.
    #[error("TLSA RDATA of {presented} bytes is shorter than the 3 parameter octets")]
    ShortRdata {
        /// Bytes presented.
        presented: usize,
    },
}

impl TlsaRecord {
    /// Parses the presentation form of the RDATA: `3 1 1 ABCD...`.
    ///
    /// The three fields are decimal numbers separated by whitespace; the association data is hex
    /// (either case) and may itself contain whitespace, as zone files split it across lines. An
    /// owner name, TTL, class or `TLSA` type in front are *not* accepted: pass the RDATA only.
    pub fn parse_presentation(text: &str) -> Result<Self, TlsaParseError> {
        let mut fields = Fields::new(text);
        let usage = fields.octet("usage")?;
        let selector = fields.octet("selector")?;
        let matching_type = fields.octet("matching type")?;
        let data = decode_hex(text, fields.rest_start())?;
        Ok(Self::from_parts(usage, selector, matching_type, data))
    }

    /// Parses wire-format RDATA (RFC 6698 §2.1): three octets, then the association data.
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, TlsaParseError> {
        let (&[usage, selector, matching_type], data) = split_params(rdata)?;
        if data.is_empty() {
            return Err(TlsaParseError::EmptyData);
        }
        if data.len() > MAX_DATA_LEN {
            return Err(TlsaParseError::DataTooLong {
                presented: data.len(),
                max: MAX_DATA_LEN,
            });
        }
        Ok(Self::from_parts(
            usage,
            selector,
            matching_type,
            data.to_vec(),
        ))
    }

    /// Builds a record from raw parameter values.
    pub fn from_parts(usage: u8, selector: u8, matching_type: u8, data: Vec<u8>) -> Self {
        Self {
            usage: CertUsage::from(usage),
            selector: Selector::from(selector),
            matching_type: MatchingType::from(matching_type),
            data,
        }
    }

    /// The wire RDATA of this record.
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.data.len());
        out.extend([
            u8::from(self.usage),
            u8::from(self.selector),
            u8::from(self.matching_type),
        ]);
        out.extend_from_slice(&self.data);
        out
    }
}

/// The RFC 7218 acronym with the number: `PKIX-TA(0)`, `DANE-EE(3)`, `unassigned(7)`.
impl fmt::Display for CertUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PkixTa => f.write_str("PKIX-TA(0)"),
            Self::PkixEe => f.write_str("PKIX-EE(1)"),
            Self::DaneTa => f.write_str("DANE-TA(2)"),
            Self::DaneEe => f.write_str("DANE-EE(3)"),
            Self::Unassigned(n) => write!(f, "unassigned({n})"),
        }
    }
}

/// The RFC 7218 acronym with the number: `Cert(0)`, `SPKI(1)`, `unassigned(7)`.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cert => f.write_str("Cert(0)"),
            Self::Spki => f.write_str("SPKI(1)"),
            Self::Unassigned(n) => write!(f, "unassigned({n})"),
        }
    }
}

/// The RFC 7218 acronym with the number: `Full(0)`, `SHA2-256(1)`, `SHA2-512(2)`.
impl fmt::Display for MatchingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("Full(0)"),
            Self::Sha256 => f.write_str("SHA2-256(1)"),
            Self::Sha512 => f.write_str("SHA2-512(2)"),
            Self::Unassigned(n) => write!(f, "unassigned({n})"),
        }
    }
}

impl fmt::Display for TlsaRecord {
    /// The presentation form, upper-case hex without spaces: `3 1 1 ABCD...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ",
            u8::from(self.usage),
            u8::from(self.selector),
            u8::from(self.matching_type)
        )?;
        for b in &self.data {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl MatchingType {
    /// The digest length this matching type produces, or `None` for Full and unassigned types.
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            Self::Sha256 => Some(32),
            Self::Sha512 => Some(64),
            Self::Full | Self::Unassigned(_) => None,
        }
    }
}

macro_rules! octet_enum {
    ($ty:ident { $($val:literal => $var:ident),* }) => {
        impl From<u8> for $ty {
            fn from(v: u8) -> Self {
                match v {
                    $($val => Self::$var,)*
                    other => Self::Unassigned(other),
                }
            }
        }
        impl From<$ty> for u8 {
            fn from(v: $ty) -> u8 {
                match v {
                    $($ty::$var => $val,)*
                    $ty::Unassigned(other) => other,
                }
            }
        }
    };
}

octet_enum!(CertUsage { 0 => PkixTa, 1 => PkixEe, 2 => DaneTa, 3 => DaneEe });
octet_enum!(Selector { 0 => Cert, 1 => Spki });
octet_enum!(MatchingType { 0 => Full, 1 => Sha256, 2 => Sha512 });

fn split_params(rdata: &[u8]) -> Result<(&[u8; 3], &[u8]), TlsaParseError> {
    rdata
        .split_first_chunk::<3>()
        .ok_or(TlsaParseError::ShortRdata {
            presented: rdata.len(),
        })
}

/// A cursor over whitespace-separated numeric fields at the start of a presentation text.
struct Fields<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn octet(&mut self, field: &'static str) -> Result<u8, TlsaParseError> {
        let rest = self.text.get(self.pos..).unwrap_or_default();
        let skipped = rest.len() - rest.trim_start().len();
        let start = self.pos + skipped;
        let token_rest = self.text.get(start..).unwrap_or_default();
        let len = token_rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(token_rest.len());
        let token = token_rest.get(..len).unwrap_or_default();
        if token.is_empty() {
            return Err(TlsaParseError::MissingField { field });
        }
        self.pos = start + len;
        let ok = token.len() <= 3 && token.bytes().all(|b| b.is_ascii_digit());
        match token.parse::<u8>() {
            Ok(v) if ok => Ok(v),
            _ => Err(TlsaParseError::NotAnOctet {
                field,
                column: start + 1,
                presented: token.chars().take(16).collect(),
            }),
        }
    }

    fn rest_start(&self) -> usize {
        self.pos
    }
}

fn decode_hex(text: &str, start: usize) -> Result<Vec<u8>, TlsaParseError> {
    let rest = text.get(start..).unwrap_or_default();
    let digits = rest.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    if digits == 0 {
        return Err(TlsaParseError::EmptyData);
    }
    if digits / 2 > MAX_DATA_LEN {
        return Err(TlsaParseError::DataTooLong {
            presented: digits / 2,
            max: MAX_DATA_LEN,
        });
    }
    let mut out = Vec::with_capacity(digits / 2);
    let mut high: Option<u8> = None;
    for (offset, c) in rest.char_indices() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let Some(nibble) = c.to_digit(16).and_then(|d| u8::try_from(d).ok()) else {
            return Err(TlsaParseError::InvalidHexDigit {
                column: text.get(..start + offset).map_or(0, |s| s.chars().count()) + 1,
                presented: c,
            });
        };
        match high.take() {
            Some(h) => out.push(h << 4 | nibble),
            None => high = Some(nibble),
        }
    }
    if high.is_some() {
        return Err(TlsaParseError::OddHexDigits { digits });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Vector<'a> = (&'a str, (u8, u8, u8), &'a [u8]);

    #[test]
    fn presentation_vectors() {
        let ok: &[Vector<'_>] = &[
            ("3 1 1 abcd", (3, 1, 1), &[0xab, 0xcd]),
            ("  2 0 2\tAB cd\n EF ", (2, 0, 2), &[0xab, 0xcd, 0xef]),
            ("255 255 255 00", (255, 255, 255), &[0]),
            ("003 1 1 0a", (3, 1, 1), &[0x0a]),
        ];
        for (text, (u, s, m), data) in ok {
            let r = TlsaRecord::parse_presentation(text).unwrap();
            assert_eq!(
                r,
                TlsaRecord::from_parts(*u, *s, *m, data.to_vec()),
                "{text}"
            );
        }
        let bad: &[(&str, TlsaParseError)] = &[
            ("", TlsaParseError::MissingField { field: "usage" }),
            (
                "3 1",
                TlsaParseError::MissingField {
                    field: "matching type",
                },
            ),
            ("3 1 1", TlsaParseError::EmptyData),
            ("3 1 1   ", TlsaParseError::EmptyData),
            ("3 1 1 abc", TlsaParseError::OddHexDigits { digits: 3 }),
            (
                "3 1 1 ab zz",
                TlsaParseError::InvalidHexDigit {
                    column: 10,
                    presented: 'z',
                },
            ),
            (
                "256 1 1 ab",
                TlsaParseError::NotAnOctet {
                    field: "usage",
                    column: 1,
                    presented: "256".into(),
                },
            ),
            (
                "3 -1 1 ab",
                TlsaParseError::NotAnOctet {
                    field: "selector",
                    column: 3,
                    presented: "-1".into(),
                },
            ),
            (
                "3 1 +1 ab",
                TlsaParseError::NotAnOctet {
                    field: "matching type",
                    column: 5,
                    presented: "+1".into(),
                },
            ),
        ];
        for (text, err) in bad {
            assert_eq!(
                TlsaRecord::parse_presentation(text).as_ref(),
                Err(err),
                "{text}"
            );
        }
    }

    #[test]
    fn wire_round_trip_and_caps() {
        let r = TlsaRecord::from_rdata(&[3, 1, 1, 0xde, 0xad]).unwrap();
        assert_eq!(r.usage, CertUsage::DaneEe);
        assert_eq!(r.selector, Selector::Spki);
        assert_eq!(r.matching_type, MatchingType::Sha256);
        assert_eq!(r.to_rdata(), vec![3, 1, 1, 0xde, 0xad]);
        assert_eq!(r.to_string(), "3 1 1 DEAD");
        assert_eq!(TlsaRecord::parse_presentation(&r.to_string()).unwrap(), r);
        assert_eq!(
            TlsaRecord::from_rdata(&[3, 1]),
            Err(TlsaParseError::ShortRdata { presented: 2 })
        );
        assert_eq!(
            TlsaRecord::from_rdata(&[3, 1, 1]),
            Err(TlsaParseError::EmptyData)
        );
        let mut big = vec![3, 1, 0];
        big.resize(3 + MAX_DATA_LEN + 1, 0);
        assert_eq!(
            TlsaRecord::from_rdata(&big),
            Err(TlsaParseError::DataTooLong {
                presented: MAX_DATA_LEN + 1,
                max: MAX_DATA_LEN
            })
        );
        let text = format!("3 1 0 {}", "00".repeat(MAX_DATA_LEN + 1));
        assert!(matches!(
            TlsaRecord::parse_presentation(&text),
            Err(TlsaParseError::DataTooLong { .. })
        ));
        assert_eq!(CertUsage::from(7), CertUsage::Unassigned(7));
        assert_eq!(u8::from(MatchingType::Unassigned(9)), 9);
    }
}
