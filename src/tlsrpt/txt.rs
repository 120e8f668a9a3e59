//! The tag-value TXT grammar shared by the `_smtp._tls` (RFC 8460 §3) and `_mta-sts`
//! (RFC 8461 §3.1) discovery records:
//!
//! ```text
//! record      = version 1*(field-delim field) [field-delim]
//! field-delim = *WSP ";" *WSP
//! field       = name "=" value          ; no whitespace around "="
//! name        = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! ```
//!
//! Values are checked by each record type (extension values: `1*(%x21-3A / %x3C / %x3E-7E)`).

/// The longest TXT record text accepted (the character-strings concatenated).
pub const MAX_TXT_LEN: usize = 8_192;

/// A syntax error in a discovery TXT record.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxtSyntaxError {
    /// The record does not start with the expected version field.
    #[error("expected the record to start with {expected:?}")]
    BadVersion {
        /// The version field expected, such as `v=STSv1`.
        expected: &'static str,
    },
    /// A required field is missing.
    #[error("the record has no {field:?} field")]
    MissingField {
        /// The field name.
        field: &'static str,
    },
    /// A field that may appear once appears again.
    #[error("field {field:?} repeated at column {column}")]
    DuplicateField {
        /// The field name.
        field: &'static str,
        /// 1-based column of the repetition.
        column: usize,
    },
    /// Two delimiters with nothing between them, or a lone delimiter.
    #[error("empty field at column {column}")]
    EmptyField {
        /// 1-based column.
        column: usize,
    },
    /// A field name breaks the grammar.
    #[error("invalid field name {presented:?} at column {column}")]
    InvalidName {
        /// 1-based column.
        column: usize,
        /// The name, cut to 40 characters.
        presented: String,
    },
    /// A field value breaks the grammar of its field.
    #[error("invalid value for {field:?} at column {column}: {rule}")]
    InvalidValue {
        /// The field name.
        field: String,
        /// 1-based column of the value.
        column: usize,
        /// The rule broken.
        rule: &'static str,
    },
    /// A field has no `=`.
    #[error("field at column {column} has no '='")]
    MissingEquals {
        /// 1-based column.
        column: usize,
    },
    /// The record is longer than [`MAX_TXT_LEN`].
    #[error("record of {presented} bytes exceeds the cap of {max}")]
    TooLong {
        /// Bytes presented.
        presented: usize,
        /// The cap.
        max: usize,
    },
}

/// Why no single record was selected from a TXT RRset.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxtSelectError {
    /// The only candidate record is invalid.
    #[error("invalid record: {0}")]
    Invalid(TxtSyntaxError),
    /// More than one record starts with the version field.
    #[error("{count} records start with the version field; exactly one is allowed")]
    Multiple {
        /// How many.
        count: usize,
    },
    /// No record starts with the version field.
    #[error("no record starts with the version field")]
    None,
}

/// One `name=value` field, with the 1-based column of its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) column: usize,
}

/// Whether `text` is a candidate record of this version: it starts with the version field,
/// followed by the end, whitespace or `;`.
pub(crate) fn is_candidate(text: &str, version: &str) -> bool {
    text.strip_prefix(version)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// Picks the one candidate record among `texts` and parses it with `parse`.
pub(crate) fn select<'a, T>(
    texts: impl IntoIterator<Item = &'a str>,
    version: &str,
    parse: impl Fn(&str) -> Result<T, TxtSyntaxError>,
) -> Result<T, TxtSelectError> {
    let candidates: Vec<&str> = texts
        .into_iter()
        .filter(|t| is_candidate(t, version))
        .collect();
    match candidates.as_slice() {
        [] => Err(TxtSelectError::None),
        [one] => parse(one).map_err(TxtSelectError::Invalid),
        more => Err(TxtSelectError::Multiple { count: more.len() }),
    }
}

/// Splits a record into its fields after checking the version field.
pub(crate) fn fields<'a>(
    text: &'a str,
    version: &'static str,
) -> Result<Vec<Field<'a>>, TxtSyntaxError> {
    if text.len() > MAX_TXT_LEN {
        return Err(TxtSyntaxError::TooLong {
            presented: text.len(),
            max: MAX_TXT_LEN,
        });
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for piece in text.split(';') {
        parts.push((start, piece));
        start += piece.len() + 1;
    }
    let mut iter = parts.into_iter();
    match iter.next() {
        Some((_, first)) if trim_wsp(first) == version && !first.starts_with([' ', '\t']) => {}
        _ => return Err(TxtSyntaxError::BadVersion { expected: version }),
    }
    let mut out = Vec::new();
    let mut rest = iter.peekable();
    while let Some((offset, piece)) = rest.next() {
        let trimmed = trim_wsp(piece);
        let lead = piece.len() - piece.trim_start_matches([' ', '\t']).len();
        let column = offset + lead + 1;
        if trimmed.is_empty() {
            // Only a single trailing delimiter may be followed by nothing.
            if rest.peek().is_none() && !out.is_empty() {
                break;
            }
            return Err(TxtSyntaxError::EmptyField { column });
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(TxtSyntaxError::MissingEquals { column });
        };
        if !valid_name(name) {
            return Err(TxtSyntaxError::InvalidName {
                column,
                presented: name.chars().take(40).collect(),
            });
        }
        out.push(Field {
            name,
            value,
            column: column + name.len() + 1,
        });
    }
    if out.is_empty() {
        return Err(TxtSyntaxError::EmptyField {
            column: text.len() + 1,
        });
    }
    Ok(out)
}

/// Checks an extension value: `1*(%x21-3A / %x3C / %x3E-7E)`.
pub(crate) fn check_ext_value(field: &Field<'_>) -> Result<(), TxtSyntaxError> {
    let ok = !field.value.is_empty()
        && field
            .value
            .bytes()
            .all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e));
    if ok {
        Ok(())
    } else {
        Err(TxtSyntaxError::InvalidValue {
            field: field.name.to_owned(),
            column: field.column,
            rule: "extension value: 1*(%x21-3A / %x3C / %x3E-7E)",
        })
    }
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() <= 32
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn trim_wsp(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_splitting() {
        let f = fields("v=X1; a=1 ;b=2;", "v=X1").unwrap();
        assert_eq!(
            f.iter().map(|f| (f.name, f.value)).collect::<Vec<_>>(),
            vec![("a", "1"), ("b", "2")]
        );
        assert_eq!(f[0].column, 9);
        let bad: &[(&str, TxtSyntaxError)] = &[
            ("v=X2; a=1", TxtSyntaxError::BadVersion { expected: "v=X1" }),
            (
                " v=X1; a=1",
                TxtSyntaxError::BadVersion { expected: "v=X1" },
            ),
            ("v=X1", TxtSyntaxError::EmptyField { column: 5 }),
            ("v=X1;", TxtSyntaxError::EmptyField { column: 6 }),
            ("v=X1;;a=1", TxtSyntaxError::EmptyField { column: 6 }),
            ("v=X1; a=1;;", TxtSyntaxError::EmptyField { column: 11 }),
            ("v=X1; a", TxtSyntaxError::MissingEquals { column: 7 }),
            (
                "v=X1; _a=1",
                TxtSyntaxError::InvalidName {
                    column: 7,
                    presented: "_a".into(),
                },
            ),
            (
                "v=X1; a =1",
                TxtSyntaxError::InvalidName {
                    column: 7,
                    presented: "a ".into(),
                },
            ),
        ];
        for (text, err) in bad {
            assert_eq!(fields(text, "v=X1").as_ref(), Err(err), "{text}");
        }
        let long = format!("v=X1; a={}", "x".repeat(MAX_TXT_LEN));
        assert!(matches!(
            fields(&long, "v=X1"),
            Err(TxtSyntaxError::TooLong { .. })
        ));
    }

    #[test]
    fn candidates_and_selection() {
        assert!(is_candidate("v=X1; a=1", "v=X1"));
        assert!(is_candidate("v=X1 ; a=1", "v=X1"));
        assert!(!is_candidate("v=X10; a=1", "v=X1"));
        assert!(!is_candidate("spf1", "v=X1"));
        let parse = |t: &str| fields(t, "v=X1").map(|f| f.len());
        assert_eq!(select(["other", "v=X1; a=1"], "v=X1", parse), Ok(1));
        assert_eq!(select(["other"], "v=X1", parse), Err(TxtSelectError::None));
        assert_eq!(
            select(["v=X1; a=1", "v=X1; a=2"], "v=X1", parse),
            Err(TxtSelectError::Multiple { count: 2 })
        );
        assert_eq!(
            select(["v=X1; a", "x"], "v=X1", parse),
            Err(TxtSelectError::Invalid(TxtSyntaxError::MissingEquals {
                column: 7
            }))
        );
    }
}
