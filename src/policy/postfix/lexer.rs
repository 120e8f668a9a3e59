//! Postfix map text into logical lines of positioned tokens.
//!
//! As `postmap(1)` reads it: empty lines and lines whose first non-blank character is `#` are
//! ignored; a line that starts with whitespace continues the previous logical line. Tokens
//! are separated by whitespace or commas; `{ name = value }` is one token whose value may
//! hold spaces (Postfix ≥ 3.10).

use super::{TableError, TableErrorKind};

/// The longest logical line accepted, in bytes.
pub const MAX_LOGICAL_LINE: usize = 64 * 1024;

/// A token with its 1-based position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub(super) text: &'a str,
    pub(super) line: u32,
    pub(super) column: u32,
    /// Whether the token was written in braces (`{ name = value }`).
    pub(super) braced: bool,
}

/// Splits `text` into logical lines of tokens, calling `each` for every logical line.
pub(super) fn for_each_logical_line<'a>(
    text: &'a str,
    mut each: impl FnMut(&[Token<'a>]) -> Result<(), TableError>,
) -> Result<(), TableError> {
    let mut current: Vec<Token<'a>> = Vec::new();
    let mut current_len = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let continues = trimmed.len() != raw.len();
        if continues {
            if current.is_empty() {
                return Err(TableError {
                    line,
                    column: 1,
                    kind: TableErrorKind::OrphanContinuation,
                });
            }
        } else if !current.is_empty() {
            each(&current)?;
            current.clear();
            current_len = 0;
        }
        current_len = current_len.saturating_add(raw.len());
        if current_len > MAX_LOGICAL_LINE {
            return Err(TableError {
                line,
                column: 1,
                kind: TableErrorKind::LineTooLong {
                    max: MAX_LOGICAL_LINE,
                },
            });
        }
        tokenize(raw, line, &mut current)?;
    }
    if !current.is_empty() {
        each(&current)?;
    }
    Ok(())
}

fn tokenize<'a>(raw: &'a str, line: u32, out: &mut Vec<Token<'a>>) -> Result<(), TableError> {
    let column = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX).saturating_add(1);
    let mut rest = raw;
    let mut offset = 0usize;
    loop {
        let skipped = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_whitespace() || c == ',')
                .len();
        offset += skipped;
        rest = rest.get(skipped..).unwrap_or("");
        if rest.is_empty() {
            return Ok(());
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let close = inner.find('}').ok_or(TableError {
                line,
                column: column(offset),
                kind: TableErrorKind::UnterminatedBrace,
            })?;
            out.push(Token {
                text: inner.get(..close).unwrap_or("").trim(),
                line,
                column: column(offset),
                braced: true,
            });
            let used = close + 2;
            offset += used;
            rest = rest.get(used..).unwrap_or("");
            continue;
        }
        let len = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        out.push(Token {
            text: rest.get(..len).unwrap_or(""),
            line,
            column: column(offset),
            braced: false,
        });
        offset += len;
        rest = rest.get(len..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Positioned = Vec<(String, u32, u32)>;

    fn lines(text: &str) -> Result<Vec<Positioned>, TableError> {
        let mut out = Vec::new();
        for_each_logical_line(text, |tokens| {
            out.push(
                tokens
                    .iter()
                    .map(|t| (t.text.to_owned(), t.line, t.column))
                    .collect(),
            );
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn continuation_comments_and_braces() {
        let text = "# comment\n\nexample.com  secure\n   match=a.example.com,protocols=>=TLSv1.2\n  # inner comment\n\tciphers=high\n[mx.example]:587 encrypt { policy_string = x y }\n";
        let got = lines(text).unwrap();
        assert_eq!(got.len(), 2);
        let first: Vec<(&str, u32, u32)> = got[0]
            .iter()
            .map(|(t, l, c)| (t.as_str(), *l, *c))
            .collect();
        assert_eq!(
            first,
            [
                ("example.com", 3, 1),
                ("secure", 3, 14),
                ("match=a.example.com", 4, 4),
                ("protocols=>=TLSv1.2", 4, 24),
                ("ciphers=high", 6, 2),
            ]
        );
        assert_eq!(got[1][2], ("policy_string = x y".to_owned(), 7, 26));
    }

    #[test]
    fn errors_carry_positions() {
        let err = lines("  may\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        assert_eq!(err.kind, TableErrorKind::OrphanContinuation);
        let err = lines("a may\nb may {x=1\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 7));
        assert_eq!(err.kind, TableErrorKind::UnterminatedBrace);
        let long = format!("a may match={}\n", "x".repeat(MAX_LOGICAL_LINE));
        let err = lines(&long).unwrap_err();
        assert_eq!(
            err.kind,
            TableErrorKind::LineTooLong {
                max: MAX_LOGICAL_LINE
            }
        );
    }
}
