//! The `_smtp._tls.<domain>` TXT record (RFC 8460 §3): where reports go.

use crate::tlsrpt::txt::{self, TxtSelectError, TxtSyntaxError};

/// The version field every TLS-RPT record starts with.
pub const TLSRPT_VERSION: &str = "v=TLSRPTv1";

/// A parsed TLS-RPT record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsRptRecord {
    /// The `rua` destinations, in record order.
    pub rua: Vec<ReportUri>,
}

/// One `rua` destination.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportUri {
    /// `https:` — POST the gzipped report to this URI (RFC 8460 §5.4).
    Https(String),
    /// `mailto:` — mail the report to this address (RFC 8460 §5.3); the address is the URI's
    /// path, still percent-encoded as published.
    Mailto(String),
    /// Any other scheme: not defined for TLS-RPT; kept so callers can log it, never used.
    Unsupported(String),
}

impl TlsRptRecord {
    /// Parses one record's text (the TXT character-strings concatenated).
    ///
    /// `rua` is required and may appear once; its URIs are separated by commas with optional
    /// whitespace (RFC 8460 §3: commas and semicolons inside a URI are percent-encoded).
    /// Extension fields are checked against the grammar and otherwise ignored.
    pub fn parse(text: &str) -> Result<Self, TxtSyntaxError> {
        let mut rua: Option<Vec<ReportUri>> = None;
        for field in txt::fields(text, TLSRPT_VERSION)? {
            if field.name == "rua" {
                if rua.is_some() {
                    return Err(TxtSyntaxError::DuplicateField {
                        field: "rua",
                        column: field.column.saturating_sub(field.name.len() + 1),
                    });
                }
                rua = Some(parse_rua(field.value, field.column)?);
            } else {
                txt::check_ext_value(&field)?;
            }
        }
        rua.map(|rua| Self { rua })
            .ok_or(TxtSyntaxError::MissingField { field: "rua" })
    }

    /// Picks and parses the record from all TXT records at `_smtp._tls.<domain>`: records
    /// that do not start with `v=TLSRPTv1` are discarded; exactly one must remain and be
    /// valid, else the domain has no TLS-RPT (RFC 8460 §3).
    pub fn select<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, TxtSelectError> {
        txt::select(texts, TLSRPT_VERSION, Self::parse)
    }

    /// The destinations this crate knows how to use (`https` and `mailto`).
    pub fn usable_uris(&self) -> impl Iterator<Item = &ReportUri> {
        self.rua
            .iter()
            .filter(|u| !matches!(u, ReportUri::Unsupported(_)))
    }
}

fn parse_rua(value: &str, column: usize) -> Result<Vec<ReportUri>, TxtSyntaxError> {
    let invalid = |rule| TxtSyntaxError::InvalidValue {
        field: "rua".to_owned(),
        column,
        rule,
    };
    let mut out = Vec::new();
    for uri in value.split(',').map(|u| u.trim_matches([' ', '\t'])) {
        if uri.is_empty() {
            return Err(invalid("empty URI in the list"));
        }
        if !uri.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("URI with a character outside %x21-7E"));
        }
        let Some((scheme, rest)) = uri.split_once(':') else {
            return Err(invalid("URI without a scheme"));
        };
        let valid_scheme = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(invalid(
                "URI scheme: ALPHA *( ALPHA / DIGIT / \"+\" / \"-\" / \".\" )",
            ));
        }
        out.push(if scheme.eq_ignore_ascii_case("mailto") {
            if rest.is_empty() {
                return Err(invalid("mailto: URI without an address"));
            }
            ReportUri::Mailto(rest.to_owned())
        } else if scheme.eq_ignore_ascii_case("https") {
            if !rest.starts_with("//") || rest.len() <= 2 {
                return Err(invalid("https: URI without an authority"));
            }
            ReportUri::Https(uri.to_owned())
        } else {
            ReportUri::Unsupported(uri.to_owned())
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_records() {
        let cases: &[(&str, Vec<ReportUri>)] = &[
            (
                "v=TLSRPTv1; rua=mailto:reports@example.com",
                vec![ReportUri::Mailto("reports@example.com".into())],
            ),
            (
                "v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt",
                vec![ReportUri::Https(
                    "https://reporting.example.com/v1/tlsrpt".into(),
                )],
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@example.com , https://r.example/x ;ext=1;",
                vec![
                    ReportUri::Mailto("a@example.com".into()),
                    ReportUri::Https("https://r.example/x".into()),
                ],
            ),
            (
                "v=TLSRPTv1; rua=MAILTO:a@example.com,ftp://x.example/",
                vec![
                    ReportUri::Mailto("a@example.com".into()),
                    ReportUri::Unsupported("ftp://x.example/".into()),
                ],
            ),
        ];
        for (text, rua) in cases {
            assert_eq!(TlsRptRecord::parse(text).unwrap().rua, *rua, "{text}");
        }
        let r = TlsRptRecord::parse("v=TLSRPTv1; rua=gopher:x,mailto:a@b").unwrap();
        assert_eq!(r.usable_uris().count(), 1);
    }

    #[test]
    fn invalid_records() {
        let cases: &[(&str, TxtSyntaxError)] = &[
            (
                "v=TLSRPTv1; ext=1",
                TxtSyntaxError::MissingField { field: "rua" },
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d",
                TxtSyntaxError::DuplicateField {
                    field: "rua",
                    column: 29,
                },
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@b,,mailto:c@d",
                TxtSyntaxError::InvalidValue {
                    field: "rua".into(),
                    column: 17,
                    rule: "empty URI in the list",
                },
            ),
            (
                "v=TLSRPTv1; rua=reports@example.com",
                TxtSyntaxError::InvalidValue {
                    field: "rua".into(),
                    column: 17,
                    rule: "URI without a scheme",
                },
            ),
            (
                "v=TLSRPTv1; rua=https:nohost",
                TxtSyntaxError::InvalidValue {
                    field: "rua".into(),
                    column: 17,
                    rule: "https: URI without an authority",
                },
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@b; x=a=b",
                TxtSyntaxError::InvalidValue {
                    field: "x".into(),
                    column: 31,
                    rule: "extension value: 1*(%x21-3A / %x3C / %x3E-7E)",
                },
            ),
            (
                "v=TLSRPTv2; rua=mailto:a@b",
                TxtSyntaxError::BadVersion {
                    expected: TLSRPT_VERSION,
                },
            ),
        ];
        for (text, err) in cases {
            assert_eq!(TlsRptRecord::parse(text).as_ref(), Err(err), "{text}");
        }
    }

    #[test]
    fn exactly_one_candidate_record() {
        let good = "v=TLSRPTv1; rua=mailto:a@example.com";
        assert!(TlsRptRecord::select(["v=spf1 -all", good]).is_ok());
        assert_eq!(
            TlsRptRecord::select([good, good]),
            Err(TxtSelectError::Multiple { count: 2 })
        );
        assert_eq!(
            TlsRptRecord::select(["v=spf1 -all"]),
            Err(TxtSelectError::None)
        );
    }
}
