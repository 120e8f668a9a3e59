//! DATA framing (RFC 5321 §4.1.1.4 and §4.5.2): dot-stuffing and the end-of-data marker,
//! streaming in both directions.
//!
//! # Line ends, precisely
//!
//! A line end on the wire is CRLF and nothing else. End-of-data is a line holding exactly
//! `.` — the octets `CRLF . CRLF`, where the first CRLF ends the previous line (or is the
//! start of the data). `LF . LF`, `CRLF . LF`, `LF . CRLF` and the like are **never**
//! end-of-data: treating them as such, as some servers did, lets a sender smuggle a second
//! message past a filter that reads the stream differently ("SMTP smuggling", 2023).
//!
//! **Encoder** (client side, [`DataEncoder`]): the message is taken as text lines. A bare
//! LF and a bare CR are each turned into CRLF (so `a\nb`, `a\rb` and `a\r\nb` all go out as
//! `a\r\nb`), a line starting with `.` gets a second `.`, and [`DataEncoder::finish`] adds a
//! CRLF when the message did not end with one, then `.\r\n`. The output therefore never
//! holds a bare CR or LF, and `decode(encode(x)) == x` for every `x` whose line ends are
//! all CRLF and which is empty or ends with CRLF. A line longer than the limit (1000 octets
//! on the wire, CRLF and any stuffing dot included, RFC 5321 §4.5.3.1.6) is an error: the
//! caller must re-encode the message (quoted-printable, base64) or use BDAT.
//!
//! **Decoder** (server side, [`DataDecoder`]): only CRLF ends a line, and only a line that is
//! exactly `.` ends the data. A line starting with `.` loses that first `.`. A bare CR or bare
//! LF is, by default ([`BareLineEnds::Reject`]), a violation: the decoder stops emitting
//! content, keeps scanning for the real end-of-data so the session stays in step, and
//! reports the violation there (answer it with [`DataError::reply`] and drop the message).
//! With [`BareLineEnds::Keep`] a bare CR or LF is message content, passed through unchanged;
//! it ends no line (so no dot-unstuffing and no end-of-data after it) — the input is never
//! rewritten. An overlong line is a violation the same way, in both modes.
//!
//! The decoder never holds the message: it writes unstuffed content to the caller's buffer as
//! it goes (at most `.` and CR of a line start are held between calls), and reports how many
//! input bytes the end-of-data marker ended at, so the bytes after it (a pipelined
//! `QUIT`, say) stay with the caller.
//!
//! ```
//! use mailtls::smtp::{DataDecoder, DataEncoder, DataStatus};
//! let mut wire = Vec::new();
//! let mut enc = DataEncoder::default();
//! enc.encode(b"Subject: hi\n\n.hidden\r\n", &mut wire).unwrap();
//! enc.finish(&mut wire);
//! assert_eq!(wire, b"Subject: hi\r\n\r\n..hidden\r\n.\r\n");
//!
//! wire.extend_from_slice(b"QUIT\r\n");
//! let mut dec = DataDecoder::default();
//! let mut message = Vec::new();
//! let status = dec.decode(&wire[..9], &mut message); // any split works
//! assert_eq!(status, DataStatus::NeedMore);
//! let DataStatus::End { consumed, result } = dec.decode(&wire[9..], &mut message) else {
//!     panic!("end of data expected")
//! };
//! assert_eq!(result, Ok(()));
//! assert_eq!(message, b"Subject: hi\r\n\r\n.hidden\r\n");
//! assert_eq!(&wire[9 + consumed..], b"QUIT\r\n");
//!
//! // LF . LF is not end-of-data: it is a bare-LF violation, and the data goes on.
//! let mut dec = DataDecoder::default();
//! let mut out = Vec::new();
//! assert_eq!(dec.decode(b"a\n.\nMAIL FROM:<x@y>\r\n", &mut out), DataStatus::NeedMore);
//! ```

use super::code::{Code, EnhancedCode};
use super::reply::Reply;

/// Longest text line, CRLF included (RFC 5321 §4.5.3.1.6).
pub const DEFAULT_MAX_TEXT_LINE: usize = 1000;

/// What the decoder does with a CR or LF that is not part of a CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLineEnds {
    /// Pass it through as message content; it ends no line.
    Keep,
    /// Refuse the message (the default).
    #[default]
    Reject,
}

/// Why a message cannot be sent or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A CR not followed by LF (decoder, [`BareLineEnds::Reject`]).
    #[error("line {line}: bare CR in message data")]
    BareCr {
        /// Line of the message (1-based).
        line: u64,
    },
    /// An LF not preceded by CR (decoder, [`BareLineEnds::Reject`]).
    #[error("line {line}: bare LF in message data")]
    BareLf {
        /// Line of the message (1-based).
        line: u64,
    },
    /// A line longer than the limit.
    #[error("line {line}: longer than {limit} octets")]
    LineTooLong {
        /// Line of the message (1-based).
        line: u64,
        /// The limit, CRLF included.
        limit: usize,
    },
}

impl DataError {
    /// The reply for a refused message, sent after end-of-data: 554 5.5.2 for a bare line
    /// end, 554 5.6.0 for an overlong line. The texts are fixed.
    pub fn reply(&self) -> Reply {
        let (code, subject, detail, text) = match self {
            DataError::BareCr { .. } => (Code::TRANSACTION_FAILED, 5, 2, "Bare CR in message"),
            DataError::BareLf { .. } => (Code::TRANSACTION_FAILED, 5, 2, "Bare LF in message"),
            DataError::LineTooLong { .. } => {
                (Code::TRANSACTION_FAILED, 6, 0, "Message line too long")
            }
        };
        Reply::fixed(code, EnhancedCode::new(5, subject, detail), text)
    }
}

/// Dot-stuffs a message for DATA (client side). See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct DataEncoder {
    state: EncState,
    max_line: usize,
    line_len: usize,
    line: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EncState {
    LineStart,
    Mid,
    /// A CR was read; the next byte decides whether it was a CRLF.
    Cr,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder::new(DEFAULT_MAX_TEXT_LINE)
    }
}

impl DataEncoder {
    /// An encoder refusing lines longer than `max_line` octets on the wire, CRLF included.
    pub fn new(max_line: usize) -> Self {
        Self {
            state: EncState::LineStart,
            max_line,
            line_len: 0,
            line: 1,
        }
    }

    /// Encodes the next piece of the message into `out`. On error, `out` may hold part of
    /// the piece; the message must not be sent.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DataError> {
        out.reserve(input.len() + input.len() / 64 + 4);
        let mut rest = input;
        loop {
            if self.state != EncState::Cr {
                rest = self.whole_lines(rest, out);
            }
            let Some((&b, tail)) = rest.split_first() else {
                break;
            };
            match (self.state, b) {
                (EncState::Cr, b'\n') => {
                    self.end_line(out);
                    rest = tail;
                }
                (EncState::Cr, _) => {
                    // A bare CR: end the line, then look at this byte again.
                    self.end_line(out);
                }
                (_, b'\r') => {
                    self.state = EncState::Cr;
                    rest = tail;
                }
                (_, b'\n') => {
                    self.end_line(out);
                    rest = tail;
                }
                (EncState::LineStart, b'.') => {
                    out.extend_from_slice(b"..");
                    self.grow(2)?;
                    self.state = EncState::Mid;
                    rest = tail;
                }
                _ => {
                    // Copy the run up to the next CR or LF in one go.
                    let n = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                    let (run, after) = rest.split_at(n);
                    out.extend_from_slice(run);
                    self.grow(n)?;
                    self.state = EncState::Mid;
                    rest = after;
                }
            }
        }
        Ok(())
    }

    /// The common case in one pass: lines that need no stuffing, ended by CRLF or a bare LF
    /// or CR, copied to `out` in as few pieces as their line ends allow. Stops (returning the
    /// input not taken) before anything else: a line starting with `.`, a line over the
    /// limit, a CR at the end of the input. What it took leaves the encoder exactly as the
    /// byte-wise steps of [`DataEncoder::encode`] would have.
    fn whole_lines<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        // `input[copied..at]` is due to `out` verbatim.
        let (mut copied, mut at) = (0, 0);
        loop {
            let rest = input.get(at..).unwrap_or_default();
            if self.state == EncState::LineStart && rest.first().is_none_or(|&b| b == b'.') {
                break;
            }
            let Some(n) = memchr::memchr2(b'\r', b'\n', rest) else {
                if self.line_len + rest.len() + 2 <= self.max_line {
                    self.line_len += rest.len();
                    self.state = EncState::Mid;
                    at = input.len();
                }
                break;
            };
            if self.line_len + n + 2 > self.max_line {
                break;
            }
            let crlf = rest.get(n..n + 2) == Some(b"\r\n");
            let bare = !crlf && (rest.get(n) == Some(&b'\n') || n + 1 < rest.len());
            if !crlf && !bare {
                // A CR at the end of the input: the next piece decides.
                self.line_len += n;
                if n > 0 {
                    self.state = EncState::Mid;
                }
                at += n;
                break;
            }
            if bare {
                // A bare LF or CR goes out as CRLF.
                out.extend_from_slice(input.get(copied..at + n).unwrap_or_default());
                out.extend_from_slice(b"\r\n");
                at += n + 1;
                copied = at;
            } else {
                at += n + 2;
            }
            self.state = EncState::LineStart;
            self.line_len = 0;
            self.line += 1;
        }
        out.extend_from_slice(input.get(copied..at).unwrap_or_default());
        input.get(at..).unwrap_or_default()
    }

    /// Ends the message: a CRLF if the last line was not ended, then `.\r\n`.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.state != EncState::LineStart {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    fn grow(&mut self, n: usize) -> Result<(), DataError> {
        self.line_len += n;
        // Room for the CRLF that will end the line.
        if self.line_len + 2 > self.max_line {
            return Err(DataError::LineTooLong {
                line: self.line,
                limit: self.max_line,
            });
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.state = EncState::LineStart;
        self.line_len = 0;
        self.line += 1;
    }
}

/// What [`DataDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// End-of-data was reached; `consumed` input bytes of this call were taken (the marker
    /// included) and the rest belongs to the caller. `result` says whether the message is
    /// acceptable.
    End {
        /// Input bytes of this call up to and including the end-of-data marker.
        consumed: usize,
        /// `Err` with the first violation when the message must be refused.
        result: Result<(), DataError>,
    },
    /// All input was taken; the data goes on.
    NeedMore,
}

/// Removes dot-stuffing and finds end-of-data (server side). See the module docs.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    state: DecState,
    bare: BareLineEnds,
    max_line: usize,
    line_len: usize,
    line: u64,
    error: Option<DataError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecState {
    /// At the start of a line.
    LineStart,
    /// The line started with `.` (held).
    Dot,
    /// The line started with `.` CR (both held).
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line after a CR (held).
    Cr,
    /// End-of-data was seen.
    Done,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder::new(DEFAULT_MAX_TEXT_LINE, BareLineEnds::Reject)
    }
}

impl DataDecoder {
    /// A decoder with a line limit (octets on the wire, CRLF included) and a bare line end
    /// rule.
    pub fn new(max_line: usize, bare: BareLineEnds) -> Self {
        Self {
            state: DecState::LineStart,
            bare,
            max_line,
            line_len: 0,
            line: 1,
            error: None,
        }
    }

    /// The first violation seen so far, if any (content is no longer emitted after it).
    pub fn error(&self) -> Option<&DataError> {
        self.error.as_ref()
    }

    /// Whether end-of-data was reached.
    pub fn is_done(&self) -> bool {
        self.state == DecState::Done
    }

    /// Decodes the next piece of the stream, appending message content to `out`.
    /// After [`DataStatus::End`], further calls take nothing and return `End` with
    /// `consumed: 0`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataStatus {
        let mut at = 0;
        loop {
            if matches!(self.state, DecState::LineStart | DecState::Mid) && self.error.is_none() {
                at = self.whole_lines(input, at, out);
            }
            let Some(&b) = input.get(at) else {
                break;
            };
            at += 1;
            match self.state {
                DecState::Done => {
                    return self.end(at - 1);
                }
                DecState::LineStart => match b {
                    b'.' => {
                        self.count(1);
                        self.state = DecState::Dot;
                    }
                    _ => {
                        at -= 1;
                        self.state = DecState::Mid;
                    }
                },
                DecState::Dot => match b {
                    b'\r' => {
                        self.count(1);
                        self.state = DecState::DotCr;
                    }
                    _ => {
                        // A stuffed dot: drop it, then read this byte as line content.
                        at -= 1;
                        self.state = DecState::Mid;
                    }
                },
                DecState::DotCr => {
                    if b == b'\n' {
                        self.state = DecState::Done;
                        return self.end(at);
                    }
                    // `.` CR then not LF: a bare CR on a line whose dot was stuffing.
                    self.bare_cr(out);
                    at -= 1;
                    self.state = DecState::Mid;
                }
                DecState::Cr => {
                    if b == b'\n' {
                        self.count(1);
                        self.emit(out, b"\r\n");
                        self.state = DecState::LineStart;
                        self.line_len = 0;
                        self.line += 1;
                    } else {
                        self.bare_cr(out);
                        at -= 1;
                        self.state = DecState::Mid;
                    }
                }
                DecState::Mid => match b {
                    b'\r' => {
                        self.count(1);
                        self.state = DecState::Cr;
                    }
                    b'\n' => {
                        self.count(1);
                        match self.bare {
                            BareLineEnds::Keep => self.emit(out, b"\n"),
                            BareLineEnds::Reject => {
                                self.violate(DataError::BareLf { line: self.line })
                            }
                        }
                    }
                    _ => {
                        let start = at - 1;
                        let run = input.get(start..).unwrap_or_default();
                        let n = memchr::memchr2(b'\r', b'\n', run).unwrap_or(run.len());
                        self.count(n);
                        self.emit(out, run.get(..n).unwrap_or_default());
                        at = start + n;
                    }
                },
            }
        }
        if self.state == DecState::Done {
            return self.end(at);
        }
        DataStatus::NeedMore
    }

    /// The common case in one pass: from `at`, lines that are not dot-stuffed and end in
    /// CRLF, copied to `out` in one piece. Stops (returning where) before anything else: a
    /// line starting with `.`, a bare CR or LF, a line over the limit, the end of the input.
    /// What it took leaves the decoder exactly as the byte-wise steps of
    /// [`DataDecoder::decode`] would have; it is only used while no violation was seen.
    fn whole_lines(&mut self, input: &[u8], start: usize, out: &mut Vec<u8>) -> usize {
        let mut at = start;
        loop {
            let rest = input.get(at..).unwrap_or_default();
            if self.state == DecState::LineStart && rest.first().is_none_or(|&b| b == b'.') {
                break;
            }
            let Some(n) = memchr::memchr2(b'\r', b'\n', rest) else {
                if self.line_len + rest.len() <= self.max_line {
                    self.line_len += rest.len();
                    self.state = DecState::Mid;
                    at = input.len();
                }
                break;
            };
            if rest.get(n..n + 2) != Some(b"\r\n") {
                // A bare CR or LF, or a CR at the end of the input: take the run before it.
                if self.line_len + n <= self.max_line && n > 0 {
                    self.line_len += n;
                    self.state = DecState::Mid;
                    at += n;
                }
                break;
            }
            if self.line_len + n + 2 > self.max_line {
                break;
            }
            at += n + 2;
            self.state = DecState::LineStart;
            self.line_len = 0;
            self.line += 1;
        }
        out.extend_from_slice(input.get(start..at).unwrap_or_default());
        at
    }

    fn end(&mut self, consumed: usize) -> DataStatus {
        DataStatus::End {
            consumed,
            result: match &self.error {
                None => Ok(()),
                Some(e) => Err(e.clone()),
            },
        }
    }

    fn bare_cr(&mut self, out: &mut Vec<u8>) {
        match self.bare {
            BareLineEnds::Keep => self.emit(out, b"\r"),
            BareLineEnds::Reject => self.violate(DataError::BareCr { line: self.line }),
        }
    }

    fn count(&mut self, n: usize) {
        self.line_len += n;
        if self.line_len > self.max_line {
            self.violate(DataError::LineTooLong {
                line: self.line,
                limit: self.max_line,
            });
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.error.is_none() {
            out.extend_from_slice(bytes);
        }
    }

    fn violate(&mut self, e: DataError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}
