//! ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2), with the ones this crate
//! understands typed: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and
//! REQUIRETLS (RFC 8689). Others are kept verbatim.

use std::fmt::Write;

/// One `keyword[=value]` parameter kept verbatim.
///
/// The keyword is a letter or digit followed by letters, digits and hyphens; the value is
/// printable ASCII other than `=` and SP, or UTF-8 (RFC 6531).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    keyword: String,
    value: Option<String>,
}

/// The BODY parameter of MAIL FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `BODY=8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BODY=7BIT`.
    SevenBit,
}

/// The parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParams {
    /// `BODY=`.
    pub body: Option<Body>,
    /// Other parameters, verbatim, in the order given.
    pub other: Vec<Param>,
    /// `REQUIRETLS` (RFC 8689).
    pub require_tls: bool,
    /// `SIZE=n` (RFC 1870), the declared message size in octets.
    pub size: Option<u64>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
}

/// Why a parameter is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// The same parameter twice.
    #[error("parameter {keyword} given twice")]
    Duplicate {
        /// The keyword.
        keyword: String,
    },
    /// A keyword that is not `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
    #[error("invalid parameter keyword {keyword:?}")]
    InvalidKeyword {
        /// The keyword presented.
        keyword: String,
    },
    /// A value that does not fit its keyword.
    #[error("invalid value for {keyword}: expected {expected}")]
    InvalidValue {
        /// The keyword.
        keyword: String,
        /// What the value should be.
        expected: &'static str,
    },
}

impl Param {
    /// A parameter, checked.
    pub fn new(keyword: &str, value: Option<&str>) -> Result<Param, ParamError> {
        if !is_keyword(keyword) {
            return Err(ParamError::InvalidKeyword {
                keyword: keyword.to_owned(),
            });
        }
        if let Some(v) = value {
            if !is_value(v) {
                return Err(ParamError::InvalidValue {
                    keyword: keyword.to_owned(),
                    expected: "printable characters other than '=' and space",
                });
            }
        }
        Ok(Param {
            keyword: keyword.to_owned(),
            value: value.map(str::to_owned),
        })
    }

    /// The keyword as given.
    pub fn keyword(&self) -> &str {
        &self.keyword
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    fn write_to(&self, out: &mut String) {
        out.push(' ');
        out.push_str(&self.keyword);
        if let Some(v) = &self.value {
            out.push('=');
            out.push_str(v);
        }
    }
}

impl Body {
    fn as_str(self) -> &'static str {
        match self {
            Body::BinaryMime => "BINARYMIME",
            Body::EightBitMime => "8BITMIME",
            Body::SevenBit => "7BIT",
        }
    }
}

impl MailParams {
    /// Appends ` KEY=value` for each parameter.
    pub(crate) fn write_to(&self, out: &mut String) {
        if let Some(size) = self.size {
            // Writing to a String cannot fail.
            let _ = write!(out, " SIZE={size}");
        }
        if let Some(body) = self.body {
            out.push_str(" BODY=");
            out.push_str(body.as_str());
        }
        if self.smtputf8 {
            out.push_str(" SMTPUTF8");
        }
        if self.require_tls {
            out.push_str(" REQUIRETLS");
        }
        write_params(&self.other, out);
    }

    /// Parses the parameters after the reverse-path (`text` has no leading SP).
    pub(crate) fn parse(text: &str) -> Result<MailParams, ParamError> {
        let mut params = MailParams::default();
        for item in split_sp(text) {
            let (keyword, value) = split_param(item)?;
            // Told apart by length first: one comparison rules out most keywords.
            let is = |name: &str| keyword.len() == name.len() && keyword.eq_ignore_ascii_case(name);
            if is("SIZE") {
                let size = value
                    .filter(|v| !v.is_empty() && v.len() <= 20)
                    .and_then(|v| {
                        v.bytes().try_fold(0u64, |acc, d| {
                            let digit = d.wrapping_sub(b'0');
                            (digit < 10).then_some(())?;
                            acc.checked_mul(10)?.checked_add(u64::from(digit))
                        })
                    })
                    .ok_or_else(|| invalid(keyword, "a size in octets"))?;
                set_once(&mut params.size, size, keyword)?;
            } else if is("BODY") {
                let body = match value {
                    Some(v) if v.eq_ignore_ascii_case("7BIT") => Body::SevenBit,
                    Some(v) if v.eq_ignore_ascii_case("8BITMIME") => Body::EightBitMime,
                    Some(v) if v.eq_ignore_ascii_case("BINARYMIME") => Body::BinaryMime,
                    _ => return Err(invalid(keyword, "7BIT, 8BITMIME or BINARYMIME")),
                };
                set_once(&mut params.body, body, keyword)?;
            } else if is("SMTPUTF8") {
                flag_once(&mut params.smtputf8, value, keyword)?;
            } else if is("REQUIRETLS") {
                flag_once(&mut params.require_tls, value, keyword)?;
            } else {
                push_other(&mut params.other, keyword, value)?;
            }
        }
        Ok(params)
    }
}

/// Parses the parameters after a forward-path (`text` has no leading SP).
pub(crate) fn parse_rcpt_params(text: &str) -> Result<Vec<Param>, ParamError> {
    let mut params = Vec::new();
    for item in split_sp(text) {
        let (keyword, value) = split_param(item)?;
        push_other(&mut params, keyword, value)?;
    }
    Ok(params)
}

/// Appends ` KEY=value` for each parameter.
pub(crate) fn write_params(params: &[Param], out: &mut String) {
    for p in params {
        p.write_to(out);
    }
}

/// `text.split(' ')`, by bytes: cheaper than a string searcher on these short texts.
fn split_sp(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match split_once_byte(r, b' ') {
            Some((head, tail)) => {
                rest = Some(tail);
                Some(head)
            }
            None => rest.take(),
        }
    })
}

/// `text.split_once(b)` for an ASCII `b`, by bytes.
pub(crate) fn split_once_byte(text: &str, b: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|x| x == b)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

fn split_param(item: &str) -> Result<(&str, Option<&str>), ParamError> {
    let (keyword, value) = match split_once_byte(item, b'=') {
        Some((k, v)) => (k, Some(v)),
        None => (item, None),
    };
    if !is_keyword(keyword) {
        return Err(ParamError::InvalidKeyword {
            keyword: keyword.to_owned(),
        });
    }
    if let Some(v) = value {
        if !is_value(v) {
            return Err(invalid(
                keyword,
                "printable characters other than '=' and space",
            ));
        }
    }
    Ok((keyword, value))
}

fn push_other(
    params: &mut Vec<Param>,
    keyword: &str,
    value: Option<&str>,
) -> Result<(), ParamError> {
    if params
        .iter()
        .any(|p| p.keyword.eq_ignore_ascii_case(keyword))
    {
        return Err(ParamError::Duplicate {
            keyword: keyword.to_owned(),
        });
    }
    params.push(Param {
        keyword: keyword.to_owned(),
        value: value.map(str::to_owned),
    });
    Ok(())
}

fn set_once<T>(slot: &mut Option<T>, value: T, keyword: &str) -> Result<(), ParamError> {
    if slot.is_some() {
        return Err(ParamError::Duplicate {
            keyword: keyword.to_owned(),
        });
    }
    *slot = Some(value);
    Ok(())
}

fn flag_once(flag: &mut bool, value: Option<&str>, keyword: &str) -> Result<(), ParamError> {
    if value.is_some() {
        return Err(invalid(keyword, "no value"));
    }
    if *flag {
        return Err(ParamError::Duplicate {
            keyword: keyword.to_owned(),
        });
    }
    *flag = true;
    Ok(())
}

fn invalid(keyword: &str, expected: &'static str) -> ParamError {
    ParamError::InvalidValue {
        keyword: keyword.to_owned(),
        expected,
    }
}

fn is_keyword(k: &str) -> bool {
    match k.as_bytes().split_first() {
        Some((first, rest)) => {
            class(*first) & ALNUM != 0 && rest.iter().all(|&b| class(b) & KEYWORD != 0)
        }
        None => false,
    }
}

/// esmtp-value: %d33-60 / %d62-126, plus UTF-8 (RFC 6531).
fn is_value(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| class(b) & VALUE != 0)
}

const ALNUM: u8 = 1;
const KEYWORD: u8 = 2;
const VALUE: u8 = 4;

fn class(b: u8) -> u8 {
    PARAM_CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// The classes of each octet (letter or digit; esmtp-keyword octet; esmtp-value octet), so a
/// check costs one load per octet.
#[allow(clippy::indexing_slicing, clippy::manual_range_contains)] // constant evaluation
static PARAM_CLASS: [u8; 256] = byte_table!(0u8, |b| {
    let mut c = 0;
    if b.is_ascii_alphanumeric() {
        c |= ALNUM | KEYWORD;
    }
    if b == b'-' {
        c |= KEYWORD;
    }
    if b >= 0x80 || (b >= 33 && b <= 126 && b != b'=') {
        c |= VALUE;
    }
    c
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_splits_match_str_splits() {
        for text in ["", " ", "a", "a b", " a  b ", "a=b=c", "\u{e9} \u{e9}=x"] {
            assert_eq!(
                split_sp(text).collect::<Vec<_>>(),
                text.split(' ').collect::<Vec<_>>()
            );
            assert_eq!(split_once_byte(text, b'='), text.split_once('='));
        }
    }

    #[test]
    fn mail_params() {
        let p =
            MailParams::parse("SIZE=1000 body=8bitmime SMTPUTF8 REQUIRETLS X-Y=z NOTIFY").unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(Body::EightBitMime));
        assert!(p.smtputf8 && p.require_tls);
        assert_eq!(
            p.other,
            vec![
                Param::new("X-Y", Some("z")).unwrap(),
                Param::new("NOTIFY", None).unwrap()
            ]
        );
        let mut s = String::new();
        p.write_to(&mut s);
        assert_eq!(
            s,
            " SIZE=1000 BODY=8BITMIME SMTPUTF8 REQUIRETLS X-Y=z NOTIFY"
        );

        for (text, err) in [
            (
                "SIZE=",
                invalid("SIZE", "printable characters other than '=' and space"),
            ),
            ("SIZE", invalid("SIZE", "a size in octets")),
            ("SIZE=-1", invalid("SIZE", "a size in octets")),
            (
                "SIZE=99999999999999999999",
                invalid("SIZE", "a size in octets"),
            ),
            (
                "SIZE=1 SIZE=2",
                ParamError::Duplicate {
                    keyword: "SIZE".into(),
                },
            ),
            ("BODY=8BIT", invalid("BODY", "7BIT, 8BITMIME or BINARYMIME")),
            ("SMTPUTF8=yes", invalid("SMTPUTF8", "no value")),
            (
                "REQUIRETLS REQUIRETLS",
                ParamError::Duplicate {
                    keyword: "REQUIRETLS".into(),
                },
            ),
            (
                "X=1 x=2",
                ParamError::Duplicate {
                    keyword: "x".into(),
                },
            ),
            (
                "-X=1",
                ParamError::InvalidKeyword {
                    keyword: "-X".into(),
                },
            ),
            ("", ParamError::InvalidKeyword { keyword: "".into() }),
            (
                "X=a=b",
                invalid("X", "printable characters other than '=' and space"),
            ),
            (
                "X=",
                invalid("X", "printable characters other than '=' and space"),
            ),
        ] {
            assert_eq!(MailParams::parse(text), Err(err), "{text}");
        }
    }
}
