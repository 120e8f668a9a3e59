//! Bounded line assembly shared by the reply and command parsers.
//!
//! A [`LineBuffer`] finds the next LF in the input. When the whole line is in the input it is
//! handed out as a slice of the input (no copy); only a line split across calls is copied into
//! a small carry buffer, which never grows past the configured limit.

/// How far one call to a parser's `feed` got.
///
/// `consumed` bytes of the input were taken (parsed, or held in the parser's partial-line
/// buffer); the bytes after them were not looked at and belong to the caller. When `item` is
/// `Some`, the parser stopped right after the line that completed it, so `&input[consumed..]`
/// is exactly what the peer sent after it (for instance bytes pipelined after `STARTTLS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress<T> {
    /// Bytes of the input taken by this call.
    pub consumed: usize,
    /// The item completed by this call, if any.
    pub item: Option<T>,
}

/// What [`LineBuffer::scan`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan<'a> {
    /// A complete line, LF included (and the CR before it, when present).
    Line(&'a [u8]),
    /// No line end yet; the input was held (or discarded after an overlong line).
    Incomplete,
    /// The line grew past the limit. The rest of the line, up to and including its LF, is
    /// discarded by later calls. How many octets were seen is not reported: it depends on how
    /// the input was split, and results must not.
    TooLong,
}

/// Finds lines in a byte stream, holding at most `limit` octets of a partial line.
#[derive(Debug, Clone)]
pub(crate) struct LineBuffer {
    carry: Vec<u8>,
    limit: usize,
    /// The carry holds a line that was already handed out.
    stale: bool,
    /// Skip input up to and including the next LF (after an overlong line).
    discarding: bool,
}

impl LineBuffer {
    /// A buffer for lines of at most `limit` octets, line end included.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            carry: Vec::new(),
            limit,
            stale: false,
            discarding: false,
        }
    }

    /// Octets of a partial line held from earlier calls.
    pub(crate) fn buffered(&self) -> usize {
        if self.stale {
            0
        } else {
            self.carry.len()
        }
    }

    /// Whether no partial line is held and no overlong line is being skipped: the next
    /// line may then be taken straight from the input (see [`plain_line`]).
    pub(crate) fn is_idle(&self) -> bool {
        self.buffered() == 0 && !self.discarding
    }

    /// Whether the rest of an overlong line is being skipped.
    pub(crate) fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Forget any partial line and any discard in progress.
    pub(crate) fn reset(&mut self) {
        self.carry.clear();
        self.stale = false;
        self.discarding = false;
    }

    /// Looks for the next line; returns the bytes of `input` taken and what was found.
    pub(crate) fn scan<'s>(&'s mut self, input: &'s [u8]) -> (usize, Scan<'s>) {
        if self.stale {
            self.carry.clear();
            self.stale = false;
        }
        let mut start = 0;
        if self.discarding {
            match find_lf(input) {
                None => return (input.len(), Scan::Incomplete),
                Some(p) => {
                    self.discarding = false;
                    start = p + 1;
                }
            }
        }
        let rest = input.get(start..).unwrap_or_default();
        match find_lf(rest) {
            Some(p) => {
                let length = self.carry.len() + p + 1;
                let consumed = start + p + 1;
                if length > self.limit {
                    self.carry.clear();
                    return (consumed, Scan::TooLong);
                }
                let line = rest.get(..=p).unwrap_or_default();
                if self.carry.is_empty() {
                    (consumed, Scan::Line(line))
                } else {
                    self.carry.extend_from_slice(line);
                    self.stale = true;
                    (consumed, Scan::Line(&self.carry))
                }
            }
            None => {
                let length = self.carry.len() + rest.len();
                // Without its LF the line already has `length` octets: at the limit it can
                // only end above it.
                if length >= self.limit {
                    self.carry.clear();
                    self.discarding = true;
                    return (input.len(), Scan::TooLong);
                }
                self.carry.extend_from_slice(rest);
                (input.len(), Scan::Incomplete)
            }
        }
    }
}

/// Where a line's content ends, or why its line end is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// The line ended with a bare LF, not CRLF.
    BareLf,
}

/// Strips the line end from a line that ends with LF; a bare LF is refused unless allowed.
pub(crate) fn strip_line_end(line: &[u8], allow_bare_lf: bool) -> Result<&[u8], LineEnd> {
    let without_lf = line.strip_suffix(b"\n").unwrap_or(line);
    match without_lf.strip_suffix(b"\r") {
        Some(content) => Ok(content),
        None if allow_bare_lf => Ok(without_lf),
        None => Err(LineEnd::BareLf),
    }
}

/// A byte that may not appear in SMTP line text, found at a 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFault {
    /// A CR not followed by LF.
    BareCr { column: usize },
    /// NUL, another control character, or DEL.
    Forbidden { column: usize, byte: u8 },
    /// Bytes that are not UTF-8.
    InvalidUtf8 { column: usize },
}

/// Checks line text: HT, printable ASCII and UTF-8 are allowed; CR, LF, NUL, other controls
/// and DEL are not.
pub(crate) fn check_text(text: &[u8]) -> Result<&str, TextFault> {
    // Fast path: the leading run of printable ASCII, a word at a time.
    let start = plain_prefix(text);
    let mut ascii = true;
    for (i, &b) in text.iter().enumerate().skip(start) {
        if b >= 0x80 {
            ascii = false;
        } else if (b < 0x20 && b != b'\t') || b == 0x7f {
            return Err(if b == b'\r' {
                TextFault::BareCr { column: i + 1 }
            } else {
                TextFault::Forbidden {
                    column: i + 1,
                    byte: b,
                }
            });
        }
    }
    std::str::from_utf8(text).map_err(|e| TextFault::InvalidUtf8 {
        column: if ascii { 1 } else { e.valid_up_to() + 1 },
    })
}

/// Octets in the leading run of printable ASCII (SP to `~`), sixteen at a time.
pub(crate) fn plain_prefix(bytes: &[u8]) -> usize {
    let mut pairs = bytes.chunks_exact(16);
    let mut at = 0;
    for pair in &mut pairs {
        let (a, b) = pair.split_at(8);
        let a = special_bytes(u64::from_le_bytes(<[u8; 8]>::try_from(a).unwrap_or([0; 8])));
        let b = special_bytes(u64::from_le_bytes(<[u8; 8]>::try_from(b).unwrap_or([0; 8])));
        if a | b != 0 {
            return at
                + if a != 0 {
                    (a.trailing_zeros() / 8) as usize
                } else {
                    8 + (b.trailing_zeros() / 8) as usize
                };
        }
        at += 16;
    }
    let mut words = pairs.remainder().chunks_exact(8);
    for word in &mut words {
        let special = special_bytes(u64::from_le_bytes(
            <[u8; 8]>::try_from(word).unwrap_or([0; 8]),
        ));
        if special != 0 {
            return at + (special.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|b| !(0x20..0x7f).contains(b))
        .unwrap_or(words.remainder().len())
}

/// A complete line at the start of `input` that is printable ASCII (SP to `~`) ended by
/// CRLF, at most `limit` octets with the CRLF: its content's length.
///
/// Such a line is accepted as it stands by every line check here, so parsers take it
/// straight from the input in one pass; any other line (HT, UTF-8, an error, a bare LF, a
/// split or overlong line) is left to [`LineBuffer::scan`] and the full checks.
pub(crate) fn plain_line(input: &[u8], limit: usize) -> Option<usize> {
    let window = input.get(..limit).unwrap_or(input);
    let n = plain_prefix(window);
    match window.get(n..n + 2) {
        Some(b"\r\n") => Some(n),
        _ => None,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags (in the high bit of a byte) the bytes of `x` that are zero. The lowest flagged byte
/// is exact; bytes above a zero byte may be flagged spuriously.
const fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Flags (in the high bit of a byte) the bytes of `x` below 0x20 or from 0x7f up. The lowest
/// flagged byte is exact; bytes above it may be flagged spuriously (a borrow or carry only
/// leaves a byte that is itself flagged).
const fn special_bytes(x: u64) -> u64 {
    let below_space = x.wrapping_sub(ONES * 0x20) & !x;
    // 0x7f + 1 and anything from 0x80 have the high bit set.
    let from_del = x.wrapping_add(ONES) | x;
    (below_space | from_del) & HIGHS
}

/// The first LF, eight bytes at a time.
fn find_lf(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8]));
        let hits = zero_bytes(word ^ (ONES * u64::from(b'\n')));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| at + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_in_one_piece_is_borrowed() {
        let mut lb = LineBuffer::new(16);
        let (n, scan) = lb.scan(b"abc\r\ndef");
        assert_eq!(n, 5);
        assert_eq!(scan, Scan::Line(b"abc\r\n"));
        assert_eq!(lb.buffered(), 0);
    }

    #[test]
    fn split_line_is_carried() {
        let mut lb = LineBuffer::new(16);
        assert_eq!(lb.scan(b"ab"), (2, Scan::Incomplete));
        assert_eq!(lb.buffered(), 2);
        assert_eq!(lb.scan(b"c\r\nx"), (3, Scan::Line(b"abc\r\n")));
        assert_eq!(lb.buffered(), 0);
        assert_eq!(lb.scan(b"x\n"), (2, Scan::Line(b"x\n")));
    }

    #[test]
    fn limit_is_inclusive_of_crlf() {
        let mut lb = LineBuffer::new(5);
        assert_eq!(lb.scan(b"abc\r\n"), (5, Scan::Line(b"abc\r\n")));
        assert_eq!(lb.scan(b"abcd\r\n"), (6, Scan::TooLong));
        // Split: 4 octets held, the fifth without LF reaches the limit.
        assert_eq!(lb.scan(b"abc\r"), (4, Scan::Incomplete));
        assert_eq!(lb.scan(b"\n"), (1, Scan::Line(b"abc\r\n")));
        assert_eq!(lb.scan(b"abcde"), (5, Scan::TooLong));
        assert!(lb.is_discarding());
        assert_eq!(lb.scan(b"zzzz"), (4, Scan::Incomplete));
        assert_eq!(lb.scan(b"z\r\nok\r\n"), (7, Scan::Line(b"ok\r\n")));
    }

    #[test]
    fn lf_found_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'\x0b'; len];
                v[at] = b'\n';
                if at + 1 < len {
                    v[at + 1] = b'\n';
                }
                assert_eq!(find_lf(&v), Some(at), "{len} {at}");
            }
            assert_eq!(find_lf(&vec![b'a'; len]), None);
        }
    }

    #[test]
    fn special_bytes_found_at_every_position() {
        for at in 0..24 {
            for bad in [0u8, 1, 0x0d, 0x1f, 0x7f, 0x80, 0xff] {
                let mut v = vec![b'a'; 24];
                v[at] = bad;
                assert!(check_text(&v).is_err(), "{at} {bad:#x}");
            }
            let mut v = vec![b'~'; 24];
            v[at] = b' ';
            assert!(check_text(&v).is_ok());
        }
    }

    #[test]
    fn plain_prefix_and_line_at_every_position() {
        let bads = [0u8, b'\t', b'\r', b'\n', 0x1f, 0x7f, 0x80, 0xfe, 0xff];
        for len in 0..40 {
            for at in 0..len {
                for bad in bads {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    assert_eq!(plain_prefix(&v), at, "{len} {at} {bad:#x}");
                    // Whatever follows the first special byte, it is the one found.
                    for after in bads.into_iter().chain([b' ', b'~']) {
                        for rest in v.iter_mut().skip(at + 1) {
                            *rest = after;
                        }
                        assert_eq!(plain_prefix(&v), at, "{len} {at} {bad:#x} {after:#x}");
                    }
                }
            }
            // Every byte value alone, at the start of a word.
            for b in 0..=255u8 {
                let mut v = vec![b'a'; len.max(1)];
                v[0] = b;
                let plain = (0x20..0x7f).contains(&b);
                assert_eq!(plain_prefix(&v) == 0, !plain, "{b:#x}");
            }
            let v = vec![b'~'; len];
            assert_eq!(plain_prefix(&v), len);
            let mut line = vec![b' '; len];
            line.extend_from_slice(b"\r\nrest");
            assert_eq!(plain_line(&line, len + 2), Some(len));
            assert_eq!(plain_line(&line, len + 1), None, "over the limit");
            assert_eq!(plain_line(&line[..len + 1], 512), None, "LF not there yet");
            line[len + 1] = b'x';
            assert_eq!(plain_line(&line, 512), None, "bare CR");
        }
        assert_eq!(plain_line(b"a\n", 512), None);
        assert_eq!(plain_line(b"a\t\r\n", 512), None);
        assert_eq!(plain_line(b"\xc3\xa9\r\n", 512), None);
    }

    #[test]
    fn text_checks() {
        assert_eq!(check_text(b"a\tb \xc3\xa9"), Ok("a\tb \u{e9}"));
        assert_eq!(check_text(b"a\rb"), Err(TextFault::BareCr { column: 2 }));
        assert_eq!(
            check_text(b"ab\0"),
            Err(TextFault::Forbidden { column: 3, byte: 0 })
        );
        assert_eq!(
            check_text(b"a\x7f"),
            Err(TextFault::Forbidden {
                column: 2,
                byte: 0x7f
            })
        );
        assert_eq!(
            check_text(b"ab\xff"),
            Err(TextFault::InvalidUtf8 { column: 3 })
        );
        assert_eq!(strip_line_end(b"a\r\n", false), Ok(&b"a"[..]));
        assert_eq!(strip_line_end(b"a\n", false), Err(LineEnd::BareLf));
        assert_eq!(strip_line_end(b"a\n", true), Ok(&b"a"[..]));
    }
}
