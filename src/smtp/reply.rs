//! SMTP replies (RFC 5321 §4.2): the incremental parser (client side) and the encoder
//! (server side).
//!
//! Grammar accepted, per line: three digits (first 2-5, second 0-5), then `-` (more lines
//! follow), SP or nothing (last line), then text, then CRLF. Every line of a reply carries the
//! same code. Text may hold HT, printable ASCII and UTF-8; NUL, other control characters,
//! DEL, bare CR and invalid UTF-8 are errors. A bare LF line end is an error unless
//! [`ReplyConfig::allow_bare_lf`] is set.
//!
//! An enhanced status code (RFC 3463) at the start of the text is split out into
//! [`Reply::enhanced`] when every line starts with the same one and its class matches the
//! reply code's first digit; otherwise the text is kept verbatim and `enhanced` is `None`.
//! (When a later line disagrees, the earlier lines get their code back, written as
//! `code SP text`, or just `code` for an empty text.)
//!
//! Bounds: a line may hold at most [`ReplyConfig::max_line_len`] octets, CRLF included
//! (RFC 5321 §4.5.3.1.5: 512), and a reply at most [`ReplyConfig::max_lines`] lines, so the
//! parser never holds more than their product.
//!
//! After any error the stream is out of step: the parser forgets the reply in progress, and
//! the caller should close the connection.

use super::code::{Code, EnhancedCode};
use super::ehlo::{parse_plain as parse_plain_ehlo, EhloError, EhloReply};
use super::line::{check_text, plain_line, strip_line_end, LineBuffer, Progress, Scan, TextFault};

/// A complete SMTP reply: a code, an optional enhanced status code, and one or more lines
/// of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: Code,
    enhanced: Option<EnhancedCode>,
    /// The lines' texts (enhanced code removed), joined with `\n`.
    text: String,
}

/// Limits and leniency of a [`ReplyParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyConfig {
    /// Longest line in octets, CRLF included. Default 512 (RFC 5321 §4.5.3.1.5).
    pub max_line_len: usize,
    /// Most lines in one reply. Default 128.
    pub max_lines: usize,
    /// Accept a bare LF as a line end. Default `false`.
    pub allow_bare_lf: bool,
}

impl Default for ReplyConfig {
    fn default() -> Self {
        Self {
            max_line_len: 512,
            max_lines: 128,
            allow_bare_lf: false,
        }
    }
}

/// Why a reply could not be parsed or built. `line` and `column` are 1-based, counted within
/// the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A CR not followed by LF inside a line.
    #[error("reply line {line}, column {column}: bare CR")]
    BareCr {
        /// Line within the reply.
        line: usize,
        /// Column of the CR.
        column: usize,
    },
    /// A line ended with LF alone (refused unless `allow_bare_lf`).
    #[error("reply line {line}: bare LF line end (CRLF required)")]
    BareLf {
        /// Line within the reply.
        line: usize,
    },
    /// A line's code differs from the first line's.
    #[error("reply line {line}: code {found} differs from {expected} on the first line")]
    CodeMismatch {
        /// Line within the reply.
        line: usize,
        /// The code of the first line.
        expected: Code,
        /// The code presented on this line.
        found: Code,
    },
    /// An enhanced status code whose class is not the reply code's first digit.
    #[error("enhanced code {enhanced} does not match reply code {code}")]
    EnhancedClassMismatch {
        /// The reply code.
        code: Code,
        /// The enhanced code presented.
        enhanced: EnhancedCode,
    },
    /// NUL, a control character other than HT, or DEL.
    #[error("reply line {line}, column {column}: forbidden byte 0x{byte:02x}")]
    ForbiddenByte {
        /// Line within the reply.
        line: usize,
        /// Column of the byte.
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// The line does not start with a valid three-digit reply code.
    #[error("reply line {line}: no valid reply code (2-5, 0-5, 0-9) at the start: {found:?}")]
    InvalidCode {
        /// Line within the reply.
        line: usize,
        /// Up to three octets presented, lossily decoded.
        found: String,
    },
    /// The code is followed by neither `-`, SP nor the line end.
    #[error("reply line {line}, column 4: expected '-', ' ' or CRLF after the code, found 0x{found:02x}")]
    InvalidSeparator {
        /// Line within the reply.
        line: usize,
        /// The octet presented.
        found: u8,
    },
    /// The text is not UTF-8.
    #[error("reply line {line}, column {column}: invalid UTF-8")]
    InvalidUtf8 {
        /// Line within the reply.
        line: usize,
        /// Column where the invalid sequence starts.
        column: usize,
    },
    /// A line is longer than the limit.
    ///
    /// The error names the limit, not the line's length: the incremental parser stops reading
    /// at the limit, so a length would depend on how the input happened to be split.
    #[error("reply line {line} exceeds the limit of {limit} octets")]
    LineTooLong {
        /// Line within the reply.
        line: usize,
        /// The limit, CRLF included.
        limit: usize,
    },
    /// A reply has more lines than the limit.
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
}

impl Reply {
    /// A reply with one line per `\n`-separated line of `text` (a CR before each `\n` is
    /// dropped). The lines are checked like parsed ones with the default limits: no control
    /// characters but HT, and each encoded line fits in 512 octets.
    ///
    /// ```
    /// use mailtls::smtp::{Code, EnhancedCode, Reply};
    /// let reply = Reply::new(
    ///     Code::ENCRYPTION_REQUIRED,
    ///     EnhancedCode::new(5, 7, 0),
    ///     "Must issue a STARTTLS command first",
    /// )
    /// .unwrap();
    /// assert_eq!(reply.to_bytes(), b"530 5.7.0 Must issue a STARTTLS command first\r\n");
    ///
    /// let multi = Reply::new(Code::OK, None, "mx.example.org\nPIPELINING\nSTARTTLS").unwrap();
    /// assert_eq!(
    ///     multi.to_bytes(),
    ///     b"250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
    /// );
    /// ```
    pub fn new(
        code: Code,
        enhanced: Option<EnhancedCode>,
        text: &str,
    ) -> Result<Reply, ReplyError> {
        Reply::from_lines(code, enhanced, text.split('\n'))
    }

    /// A reply with the given lines (a trailing CR on a line is dropped); checked as in
    /// [`Reply::new`]. No lines at all gives one empty line.
    pub fn from_lines<I, S>(
        code: Code,
        enhanced: Option<EnhancedCode>,
        lines: I,
    ) -> Result<Reply, ReplyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if let Some(e) = enhanced {
            if e.class() != code.first_digit() {
                return Err(ReplyError::EnhancedClassMismatch { code, enhanced: e });
            }
        }
        let limits = ReplyConfig::default();
        let prefix = 4 + enhanced.map_or(0, |e| {
            let mut v = Vec::new();
            e.write_to(&mut v);
            v.len() + 1
        });
        let mut text = String::new();
        let mut count = 0;
        for line in lines {
            let line = line.as_ref();
            let line = line.strip_suffix('\r').unwrap_or(line);
            count += 1;
            if count > limits.max_lines {
                return Err(ReplyError::TooManyLines {
                    limit: limits.max_lines,
                });
            }
            let length = prefix + line.len() + 2;
            if length > limits.max_line_len {
                return Err(ReplyError::LineTooLong {
                    line: count,
                    limit: limits.max_line_len,
                });
            }
            check_text(line.as_bytes()).map_err(|f| text_error(count, 0, f))?;
            if count > 1 {
                text.push('\n');
            }
            text.push_str(line);
        }
        Ok(Reply {
            code,
            enhanced,
            text,
        })
    }

    /// A reply from trusted static text (no CR, LF or control characters, short lines).
    pub(crate) fn fixed(code: Code, enhanced: Option<EnhancedCode>, text: &str) -> Reply {
        Reply {
            code,
            enhanced,
            text: text.to_owned(),
        }
    }

    /// The reply code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The enhanced status code, when every line carried the same one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text of each line, without code, separator, enhanced code or CRLF.
    pub fn lines(&self) -> std::str::Split<'_, char> {
        self.text.split('\n')
    }

    /// All lines' texts joined with `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends the reply in wire form (`250-a\r\n250 b\r\n`) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let digits = self.code.digits();
        let mut lines = self.lines().peekable();
        while let Some(line) = lines.next() {
            out.extend_from_slice(&digits);
            let last = lines.peek().is_none();
            let mut rest_needs_sp = false;
            if let Some(e) = self.enhanced {
                out.push(if last { b' ' } else { b'-' });
                e.write_to(out);
                rest_needs_sp = true;
            } else if !line.is_empty() || !last {
                out.push(if last { b' ' } else { b'-' });
            }
            if !line.is_empty() {
                if rest_needs_sp {
                    out.push(b' ');
                }
                out.extend_from_slice(line.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply in wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        self.encode(&mut out);
        out
    }
}

/// Incremental reply parser: feed it the byte stream in any split, get complete replies.
///
/// ```
/// use mailtls::smtp::{Code, ReplyParser};
/// let mut parser = ReplyParser::default();
/// // One read held the STARTTLS go-ahead and an injected reply behind it.
/// let input = b"220 2.0.0 go ahead\r\n250 injected\r\n";
/// let step = parser.feed(input).unwrap();
/// let reply = step.item.unwrap();
/// assert_eq!(reply.code(), Code::SERVICE_READY);
/// assert_eq!(reply.text(), "go ahead");
/// // The bytes after the reply are the caller's to see (and to refuse).
/// assert_eq!(&input[step.consumed..], b"250 injected\r\n");
/// assert_eq!(parser.buffered(), 0);
///
/// // A reply split across reads:
/// assert_eq!(parser.feed(b"250-mx.example.org\r\n250-PIPE").unwrap().item, None);
/// let step = parser.feed(b"LINING\r\n250 STARTTLS\r\n").unwrap();
/// let reply = step.item.unwrap();
/// assert_eq!(reply.lines().collect::<Vec<_>>(), ["mx.example.org", "PIPELINING", "STARTTLS"]);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    config: ReplyConfig,
    lines: LineBuffer,
    pending: Pending,
}

/// The reply being assembled.
#[derive(Debug, Clone, Default)]
struct Pending {
    /// Lines taken so far (0: no reply in progress).
    count: usize,
    code: Option<Code>,
    /// The code's three digits as written on the first line.
    digits: [u8; 3],
    enhanced: Option<EnhancedCode>,
    /// Octets of the enhanced code prefix as written on the first line.
    enhanced_len: usize,
    /// The texts so far, joined with `\n`; every part was checked (printable ASCII, or
    /// [`check_text`]), so the whole is UTF-8.
    text: Vec<u8>,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new(ReplyConfig::default())
    }
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(config: ReplyConfig) -> Self {
        Self {
            config,
            lines: LineBuffer::new(config.max_line_len),
            pending: Pending::default(),
        }
    }

    /// Takes bytes until one reply is complete or the input is used up.
    ///
    /// With `item: Some(reply)`, `consumed` ends right after the reply's last CRLF and
    /// nothing after it was taken. With `item: None`, all input was taken and is held (at
    /// most one partial line plus the reply's earlier lines, all bounded).
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress<Reply>, ReplyError> {
        let mut consumed = 0;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(Progress {
                    consumed,
                    item: None,
                });
            }
            // Common case: a whole printable-ASCII CRLF line in the input, checked in the same
            // pass that finds its end. Anything else goes through the line buffer.
            let plain = if self.lines.is_idle() {
                plain_line(rest, self.config.max_line_len)
            } else {
                None
            };
            let taken = match plain {
                Some(n) => {
                    consumed += n + 2;
                    let content = rest.get(..n).unwrap_or_default();
                    if let Some(last) = continue_plain(&mut self.pending, &self.config, content) {
                        if !last {
                            continue;
                        }
                        let reply = finish(&mut self.pending);
                        return Ok(Progress {
                            consumed,
                            item: Some(reply),
                        });
                    }
                    let line = Line::Plain(content);
                    take_line(&mut self.pending, &self.config, line, rest.len() - n - 2)
                }
                None => {
                    let (n, scan) = self.lines.scan(rest);
                    consumed += n;
                    let line = match scan {
                        Scan::Line(line) => line,
                        Scan::Incomplete => continue,
                        Scan::TooLong => {
                            let line = self.pending.count + 1;
                            self.reset();
                            return Err(ReplyError::LineTooLong {
                                line,
                                limit: self.config.max_line_len,
                            });
                        }
                    };
                    let hint = input.len().saturating_sub(consumed);
                    take_line(&mut self.pending, &self.config, Line::Raw(line), hint)
                }
            };
            match taken {
                Ok(None) => {}
                Ok(Some(reply)) => {
                    return Ok(Progress {
                        consumed,
                        item: Some(reply),
                    })
                }
                Err(e) => {
                    self.reset();
                    return Err(e);
                }
            }
        }
    }

    /// Takes bytes until one reply is complete, like [`ReplyParser::feed`], and reads it as
    /// the reply to EHLO.
    ///
    /// The outcome is exactly `feed` followed by [`EhloReply::parse`]: the outer error is
    /// the reply's (the stream is out of step), the inner one the EHLO reading's (the reply
    /// was complete and `consumed` ends after it). A reply that is in the input in full, as
    /// printable-ASCII CRLF lines, is read in one pass straight into [`Capabilities`]
    /// without building the [`Reply`] first.
    ///
    /// [`Capabilities`]: super::Capabilities
    ///
    /// ```
    /// use mailtls::smtp::ReplyParser;
    /// let mut parser = ReplyParser::default();
    /// let input = b"250-mx.example.org hi\r\n250-STARTTLS\r\n250 SIZE 1000\r\n";
    /// let step = parser.feed_ehlo(input).unwrap();
    /// assert_eq!(step.consumed, input.len());
    /// let ehlo = step.item.unwrap().unwrap();
    /// assert!(ehlo.capabilities.starttls);
    /// assert_eq!(ehlo.capabilities.size, Some(1000));
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn feed_ehlo(
        &mut self,
        input: &[u8],
    ) -> Result<Progress<Result<EhloReply, EhloError>>, ReplyError> {
        if self.pending.count == 0 && self.lines.is_idle() {
            if let Some((consumed, ehlo)) = parse_plain_ehlo(input, &self.config) {
                return Ok(Progress {
                    consumed,
                    item: Some(Ok(ehlo)),
                });
            }
        }
        let step = self.feed(input)?;
        Ok(Progress {
            consumed: step.consumed,
            item: step.item.map(|reply| EhloReply::parse(&reply)),
        })
    }

    /// Octets held from a partial line (0 right after a complete reply).
    pub fn buffered(&self) -> usize {
        self.lines.buffered()
    }

    /// Whether a reply is in progress (some of its lines or a partial line were taken).
    pub fn in_progress(&self) -> bool {
        self.pending.count > 0 || self.lines.buffered() > 0 || self.lines.is_discarding()
    }

    /// Forgets any partial reply (for instance when the connection restarts under TLS).
    pub fn reset(&mut self) {
        self.lines.reset();
        self.pending = Pending::default();
    }
}

/// A line handed to [`take_line`].
#[derive(Clone, Copy)]
enum Line<'a> {
    /// As read, line end included; checked in full.
    Raw(&'a [u8]),
    /// Content only, already known to be printable ASCII ended by CRLF ([`plain_line`]),
    /// which every check below accepts.
    Plain(&'a [u8]),
}

/// Adds one line to the pending reply; returns the reply when the line was its last.
/// `hint` is how many input octets follow the line (a bound on the rest of a reply that is
/// already in the input), used to size the text once.
fn take_line(
    pending: &mut Pending,
    config: &ReplyConfig,
    line: Line<'_>,
    hint: usize,
) -> Result<Option<Reply>, ReplyError> {
    let number = pending.count + 1;
    if number > config.max_lines {
        return Err(ReplyError::TooManyLines {
            limit: config.max_lines,
        });
    }
    let content = match line {
        Line::Plain(content) => content,
        Line::Raw(line) => strip_line_end(line, config.allow_bare_lf)
            .map_err(|_| ReplyError::BareLf { line: number })?,
    };
    let code = match content {
        [a, b, c, ..] => Code::from_digits([*a, *b, *c]),
        _ => None,
    }
    .ok_or_else(|| ReplyError::InvalidCode {
        line: number,
        found: String::from_utf8_lossy(content.get(..3).unwrap_or(content)).into_owned(),
    })?;
    let (last, text) = match content.get(3..) {
        None | Some([]) => (true, &[][..]),
        Some([b' ', text @ ..]) => (true, text),
        Some([b'-', text @ ..]) => (false, text),
        Some([other, ..]) => {
            return Err(ReplyError::InvalidSeparator {
                line: number,
                found: *other,
            })
        }
    };
    if let Line::Raw(_) = line {
        check_text(text).map_err(|f| text_error(number, 4, f))?;
    }
    match pending.code {
        Some(expected) if expected != code => {
            return Err(ReplyError::CodeMismatch {
                line: number,
                expected,
                found: code,
            })
        }
        _ => pending.code = Some(code),
    }
    pending.count = number;
    if number == 1 {
        if !last {
            // The rest of the reply is usually in the input already: size the text once.
            pending
                .text
                .reserve(text.len() + hint.min(config.max_line_len));
        }
        match split_enhanced(code, text) {
            Some((e, len, rest)) => {
                pending.enhanced = Some(e);
                pending.enhanced_len = len;
                pending.text.extend_from_slice(rest);
            }
            None => pending.text.extend_from_slice(text),
        }
    } else {
        pending.text.push(b'\n');
        match pending.enhanced {
            Some(e) => match split_enhanced(code, text) {
                Some((found, _, rest)) if found == e => pending.text.extend_from_slice(rest),
                _ => {
                    restore_enhanced(pending, e);
                    pending.text.extend_from_slice(text);
                }
            },
            None => pending.text.extend_from_slice(text),
        }
    }
    if number == 1 {
        pending.digits = [content.first(), content.get(1), content.get(2)]
            .map(|d| d.copied().unwrap_or_default());
    }
    if !last {
        return Ok(None);
    }
    Ok(Some(finish(pending)))
}

/// The common continuation line, taken without the general checks when they cannot fail: a
/// plain line ([`plain_line`]) after the first, of a reply without an enhanced code, with
/// the first line's digits and a `-` or SP after them. Returns whether it was the last line,
/// or `None` (nothing changed) for [`take_line`] to handle.
fn continue_plain(pending: &mut Pending, config: &ReplyConfig, content: &[u8]) -> Option<bool> {
    if pending.count == 0 || pending.count >= config.max_lines || pending.enhanced.is_some() {
        return None;
    }
    let (last, text) = match content {
        [a, b, c, sep, text @ ..] if [*a, *b, *c] == pending.digits => match sep {
            b'-' => (false, text),
            b' ' => (true, text),
            _ => return None,
        },
        _ => return None,
    };
    pending.count += 1;
    pending.text.push(b'\n');
    pending.text.extend_from_slice(text);
    Some(last)
}

/// The pending reply, complete.
fn finish(pending: &mut Pending) -> Reply {
    let done = std::mem::take(pending);
    // Every part was checked on the way in, so this conversion cannot fail; were it to, the
    // text would be kept lossily rather than panic.
    let text = String::from_utf8(done.text)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Reply {
        // Set by the first line; a complete reply has one.
        code: done.code.unwrap_or(Code::OK),
        enhanced: done.enhanced,
        text,
    }
}

/// The enhanced code at the start of `text` when it is followed by SP or the end and its
/// class matches the reply code; returns it, its length and the text after it.
fn split_enhanced(code: Code, text: &[u8]) -> Option<(EnhancedCode, usize, &[u8])> {
    let (e, n) = EnhancedCode::parse_prefix(text)?;
    if e.class() != code.first_digit() {
        return None;
    }
    let rest = text.get(n..)?;
    if rest.is_empty() {
        return Some((e, n, rest));
    }
    rest.strip_prefix(b" ").map(|r| (e, n, r))
}

/// A later line disagreed: put the enhanced code back in front of the earlier lines.
fn restore_enhanced(pending: &mut Pending, e: EnhancedCode) {
    let mut code = Vec::with_capacity(pending.enhanced_len);
    e.write_to(&mut code);
    let old = std::mem::take(&mut pending.text);
    // `old` ends with the '\n' that starts the current line; keep that.
    let body = old.strip_suffix(b"\n").unwrap_or(&old);
    let mut text = Vec::with_capacity(old.len() + pending.count * (code.len() + 1));
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push(b'\n');
        }
        text.extend_from_slice(&code);
        if !line.is_empty() {
            text.push(b' ');
            text.extend_from_slice(line);
        }
    }
    text.push(b'\n');
    pending.text = text;
    pending.enhanced = None;
}

fn text_error(line: usize, offset: usize, fault: TextFault) -> ReplyError {
    match fault {
        TextFault::BareCr { column } => ReplyError::BareCr {
            line,
            column: column + offset,
        },
        TextFault::Forbidden { column, byte } => ReplyError::ForbiddenByte {
            line,
            column: column + offset,
            byte,
        },
        TextFault::InvalidUtf8 { column } => ReplyError::InvalidUtf8 {
            line,
            column: column + offset,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<(Vec<Reply>, usize), ReplyError> {
        let mut parser = ReplyParser::default();
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let step = parser.feed(&input[at..])?;
            at += step.consumed;
            match step.item {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok((out, parser.buffered()))
    }

    #[test]
    fn enhanced_restored_on_disagreement() {
        let (replies, _) = parse_all(b"550-5.7.1 a\r\n550-5.7.1\r\n550 5.1.1 b\r\n").unwrap();
        assert_eq!(replies[0].enhanced(), None);
        assert_eq!(replies[0].text(), "5.7.1 a\n5.7.1\n5.1.1 b");
    }

    #[test]
    fn encode_shapes() {
        let r = Reply::from_lines(Code::OK, None, [""]).unwrap();
        assert_eq!(r.to_bytes(), b"250\r\n");
        let r = Reply::from_lines(Code::OK, None, ["", ""]).unwrap();
        assert_eq!(r.to_bytes(), b"250-\r\n250\r\n");
        let r = Reply::from_lines(Code::OK, EnhancedCode::new(2, 0, 0), ["", "x"]).unwrap();
        assert_eq!(r.to_bytes(), b"250-2.0.0\r\n250 2.0.0 x\r\n");
    }
}
