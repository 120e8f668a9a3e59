//! The two Postfix lookup-table protocols a policy server speaks, sans-IO: bytes in,
//! [`LookupRequest`]s out; a [`LookupReply`] in, bytes out.
//!
//! - **socketmap** (`socketmap_table(5)`): each request and each reply is one netstring
//!   (`<len>:<data>,`). A request is `name key`; a reply is `OK data`, `NOTFOUND `,
//!   `TEMP reason`, `TIMEOUT reason` or `PERM reason`. Postfix refuses replies longer than
//!   100000 characters ([`SOCKETMAP_MAX_REPLY`]).
//! - **tcp_table** (`tcp_table(5)`): one line each way. A request is `get key\n`; a reply is
//!   `200 data\n` (found), `500 text\n` (not found) or `400 text\n` (try again later). The
//!   key and the data encode `%`, whitespace and non-printing characters as `%XX`; a reply
//!   is at most 4096 characters with its newline ([`TCP_TABLE_MAX_REPLY`]).
//!
//! Postfix sends no request bigger than a next hop; [`MAX_REQUEST`] caps what the decoder
//! buffers, so a client cannot make the server hold more. A framing error (a bad netstring
//! length, a missing `,`, an oversized request) leaves the stream unsynchronised: the
//! connection must be answered once and closed ([`RequestError::is_fatal`]). A request that
//! is framed but unusable (no map name, bad `%XX`, not UTF-8) is answered with a permanent
//! error and the connection goes on.
//!
//! ```
//! use mailtls::policy::postfix::lookup::{LookupDecoder, LookupProtocol, LookupReply};
//!
//! let mut decoder = LookupDecoder::new(LookupProtocol::Socketmap);
//! decoder.feed(b"27:policy [mx.example.com]:587,");
//! let request = decoder.next_request()?.expect("one whole request");
//! assert_eq!(request.map_name.as_deref(), Some("policy"));
//! assert_eq!(request.key, "[mx.example.com]:587");
//!
//! let mut out = Vec::new();
//! LookupReply::Found("secure match=nexthop".into()).encode(LookupProtocol::Socketmap, &mut out);
//! assert_eq!(out, b"23:OK secure match=nexthop,");
//! # Ok::<(), mailtls::policy::postfix::lookup::RequestError>(())
//! ```

use core::fmt;

/// The longest request the decoder accepts, in bytes of payload (a netstring's data, a
/// tcp_table line without its newline). A next hop is at most a 255-byte name in brackets
/// with a port; the cap leaves room for a map name and `%XX` encoding.
pub const MAX_REQUEST: usize = 2048;

/// The longest socketmap reply payload Postfix accepts (`socketmap_table(5)`).
pub const SOCKETMAP_MAX_REPLY: usize = 100_000;

/// The longest tcp_table reply Postfix accepts, newline included (`tcp_table(5)`).
pub const TCP_TABLE_MAX_REPLY: usize = 4096;

/// Which of the two protocols a connection speaks.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupProtocol {
    /// Sendmail-style socketmap: netstrings, `name key` requests.
    Socketmap,
    /// Postfix tcp_table: `get key` lines with `%XX` encoding.
    TcpTable,
}

impl LookupProtocol {
    /// The name used on the command line and in Postfix's map type (`socketmap`, `tcp_table`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Socketmap => "socketmap",
            Self::TcpTable => "tcp_table",
        }
    }

    /// Parses [`LookupProtocol::as_str`] (also `tcp`, Postfix's map type name).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "socketmap" => Some(Self::Socketmap),
            "tcp_table" | "tcp" => Some(Self::TcpTable),
            _ => None,
        }
    }
}

impl fmt::Display for LookupProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lookup: the map name (socketmap only) and the key, decoded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupRequest {
    /// The socketmap name (`policy` in `socketmap:inet:127.0.0.1:2559:policy`); `None` for
    /// tcp_table, which has none.
    pub map_name: Option<String>,
    /// The key: for `smtp_tls_policy_maps`, the next hop verbatim.
    pub key: String,
}

/// The answer to one lookup.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupReply {
    /// The key was found: the value.
    Found(String),
    /// The key is not in the table: Postfix goes on to its next table or default.
    NotFound,
    /// The lookup failed for now: Postfix defers what needed it and tries again later.
    TempFail(String),
    /// The lookup took too long (socketmap `TIMEOUT`; tcp_table has only `400`).
    Timeout(String),
    /// The lookup failed and will fail again (socketmap `PERM`; tcp_table `400`, as it has no
    /// permanent error: Postfix then defers, it never treats the key as absent).
    PermFail(String),
}

impl LookupReply {
    /// Appends the reply's wire form to `out`. Text that would exceed the protocol's reply
    /// limit is cut (a `Found` value that does not fit becomes `TEMP`/`400`, never a shorter
    /// and so possibly weaker policy); newlines and other control characters in reason text
    /// become spaces for socketmap and `%XX` for tcp_table.
    pub fn encode(&self, protocol: LookupProtocol, out: &mut Vec<u8>) {
        match protocol {
            LookupProtocol::Socketmap => self.encode_socketmap(out),
            LookupProtocol::TcpTable => self.encode_tcp_table(out),
        }
    }

    fn encode_socketmap(&self, out: &mut Vec<u8>) {
        let (word, text) = match self {
            Self::Found(value) => {
                if value.len() + 3 > SOCKETMAP_MAX_REPLY {
                    return Self::TempFail("policy value too long for a socketmap reply".into())
                        .encode_socketmap(out);
                }
                ("OK", value.as_str())
            }
            Self::NotFound => ("NOTFOUND", ""),
            Self::TempFail(reason) => ("TEMP", reason.as_str()),
            Self::Timeout(reason) => ("TIMEOUT", reason.as_str()),
            Self::PermFail(reason) => ("PERM", reason.as_str()),
        };
        let mut payload = String::with_capacity(word.len() + 1 + text.len());
        payload.push_str(word);
        payload.push(' ');
        for c in text.chars() {
            if payload.len() + c.len_utf8() > SOCKETMAP_MAX_REPLY {
                break;
            }
            payload.push(if c.is_control() { ' ' } else { c });
        }
        out.extend_from_slice(payload.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(payload.as_bytes());
        out.push(b',');
    }

    fn encode_tcp_table(&self, out: &mut Vec<u8>) {
        let (code, text) = match self {
            Self::Found(value) => ("200", value.as_str()),
            Self::NotFound => ("500", "not found"),
            Self::TempFail(reason) | Self::Timeout(reason) | Self::PermFail(reason) => {
                ("400", reason.as_str())
            }
        };
        let mut encoded = String::with_capacity(text.len());
        percent_encode(text, &mut encoded);
        // "200 " + text + "\n" within the limit.
        let room = TCP_TABLE_MAX_REPLY - code.len() - 2;
        if encoded.len() > room {
            if matches!(self, Self::Found(_)) {
                return Self::TempFail("policy value too long for a tcp_table reply".into())
                    .encode_tcp_table(out);
            }
            // Cut on a boundary that does not split a %XX triple.
            let mut cut = room;
            while cut > 0 && !encoded.is_char_boundary(cut) {
                cut -= 1;
            }
            if let Some(pos) = encoded.get(..cut).and_then(|s| s.rfind('%')) {
                if pos + 3 > cut {
                    cut = pos;
                }
            }
            encoded.truncate(cut);
        }
        out.extend_from_slice(code.as_bytes());
        out.push(b' ');
        out.extend_from_slice(encoded.as_bytes());
        out.push(b'\n');
    }
}

impl fmt::Display for LookupReply {
    /// The reply as a person reads it: `OK value`, `NOTFOUND`, `TEMP reason`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found(value) => write!(f, "OK {value}"),
            Self::NotFound => f.write_str("NOTFOUND"),
            Self::TempFail(reason) => write!(f, "TEMP {reason}"),
            Self::Timeout(reason) => write!(f, "TIMEOUT {reason}"),
            Self::PermFail(reason) => write!(f, "PERM {reason}"),
        }
    }
}

/// A request the decoder cannot use.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The netstring length is not decimal digits followed by `:`.
    #[error("malformed netstring length")]
    BadLength,
    /// The request is longer than [`MAX_REQUEST`].
    #[error("request of {len} bytes or more is longer than the {max}-byte limit")]
    Oversized {
        /// The length announced or buffered so far.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The netstring data is not followed by `,`.
    #[error("netstring not terminated by a comma")]
    MissingComma,
    /// A socketmap request without a space between map name and key, or with an empty part.
    #[error("socketmap request is not `name key`")]
    NoMapName,
    /// A tcp_table request that is not `get key`.
    #[error("tcp_table request is not `get key`")]
    UnknownCommand,
    /// A `%` not followed by two hex digits in a tcp_table request.
    #[error("bad %XX encoding in the key")]
    BadEncoding,
    /// The key (after decoding) is not UTF-8 or holds control characters.
    #[error("the key is not printable UTF-8 text")]
    NotText,
}

impl RequestError {
    /// Whether the stream is lost: the connection is answered once, then closed. Otherwise the
    /// request is answered with a permanent error and the connection goes on.
    pub const fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::BadLength | Self::Oversized { .. } | Self::MissingComma
        )
    }

    /// The reply to send for this error.
    pub fn reply(&self) -> LookupReply {
        LookupReply::PermFail(format!("bad request: {self}"))
    }
}

/// Turns the bytes of one connection into requests, one at a time (pipelined requests are
/// kept in order). Feed what one read returned, then take requests until
/// [`LookupDecoder::next_request`] gives `None`: a partial request longer than
/// [`MAX_REQUEST`] is an error, so the buffer never holds more than that plus one read.
#[derive(Clone, Debug)]
pub struct LookupDecoder {
    protocol: LookupProtocol,
    buffer: Vec<u8>,
    /// Bytes at the front of `buffer` already decoded.
    consumed: usize,
    /// After a fatal error nothing more is decoded.
    failed: Option<RequestError>,
}

impl LookupDecoder {
    /// A decoder for one connection.
    pub fn new(protocol: LookupProtocol) -> Self {
        Self {
            protocol,
            buffer: Vec::new(),
            consumed: 0,
            failed: None,
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> LookupProtocol {
        self.protocol
    }

    /// Appends received bytes (after a fatal error, drops them). Call
    /// [`LookupDecoder::next_request`] until it gives `None` before feeding more.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.consumed > 0 {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The bytes held: a partial request, or whole ones not yet taken.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.consumed
    }

    /// The next whole request, `None` when more bytes are needed. After a fatal error (see
    /// [`RequestError::is_fatal`]) every call repeats it.
    pub fn next_request(&mut self) -> Result<Option<LookupRequest>, RequestError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pending = self.buffer.get(self.consumed..).unwrap_or_default();
        let framed = match self.protocol {
            LookupProtocol::Socketmap => frame_netstring(pending),
            LookupProtocol::TcpTable => frame_line(pending),
        };
        let (payload, used) = match framed {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(None),
            Err(e) => {
                if e.is_fatal() {
                    self.failed = Some(e.clone());
                    self.buffer = Vec::new();
                    self.consumed = 0;
                }
                return Err(e);
            }
        };
        let request = match self.protocol {
            LookupProtocol::Socketmap => socketmap_request(payload),
            LookupProtocol::TcpTable => tcp_table_request(payload),
        };
        self.consumed += used;
        request.map(Some)
    }
}

/// Finds one netstring at the start of `bytes`: its payload and the bytes it takes.
fn frame_netstring(bytes: &[u8]) -> Result<Option<(&[u8], usize)>, RequestError> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    // Seven digits or more is far past the limit, whatever follows (leading zeros are valid
    // netstring syntax, but no client needs that many).
    if digits >= 7 {
        return Err(RequestError::Oversized {
            len: bytes.len(),
            max: MAX_REQUEST,
        });
    }
    match bytes.get(digits) {
        None => return Ok(None),
        Some(b':') if digits > 0 => {}
        _ => return Err(RequestError::BadLength),
    }
    let len: usize = bytes
        .get(..digits)
        .and_then(|d| core::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
        .ok_or(RequestError::BadLength)?;
    if len > MAX_REQUEST {
        return Err(RequestError::Oversized {
            len,
            max: MAX_REQUEST,
        });
    }
    let start = digits + 1;
    let end = start + len;
    match bytes.get(end) {
        None => Ok(None),
        Some(b',') => Ok(bytes.get(start..end).map(|payload| (payload, end + 1))),
        Some(_) => Err(RequestError::MissingComma),
    }
}

/// Finds one `\n`-terminated line at the start of `bytes` (a `\r` before it is dropped).
fn frame_line(bytes: &[u8]) -> Result<Option<(&[u8], usize)>, RequestError> {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(pos) if pos <= MAX_REQUEST + 1 => {
            let line = bytes.get(..pos).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, pos + 1)))
        }
        Some(pos) => Err(RequestError::Oversized {
            len: pos,
            max: MAX_REQUEST,
        }),
        None if bytes.len() > MAX_REQUEST + 1 => Err(RequestError::Oversized {
            len: bytes.len(),
            max: MAX_REQUEST,
        }),
        None => Ok(None),
    }
}

fn socketmap_request(payload: &[u8]) -> Result<LookupRequest, RequestError> {
    let text = core::str::from_utf8(payload).map_err(|_| RequestError::NotText)?;
    let (name, key) = text.split_once(' ').ok_or(RequestError::NoMapName)?;
    if name.is_empty() || key.is_empty() {
        return Err(RequestError::NoMapName);
    }
    if text.chars().any(char::is_control) {
        return Err(RequestError::NotText);
    }
    Ok(LookupRequest {
        map_name: Some(name.to_owned()),
        key: key.to_owned(),
    })
}

fn tcp_table_request(line: &[u8]) -> Result<LookupRequest, RequestError> {
    let rest = line
        .strip_prefix(b"get ")
        .or_else(|| line.strip_prefix(b"GET "))
        .ok_or(RequestError::UnknownCommand)?;
    let key = percent_decode(rest)?;
    if key.is_empty() {
        return Err(RequestError::UnknownCommand);
    }
    Ok(LookupRequest {
        map_name: None,
        key,
    })
}

/// Decodes `%XX` (any case); the result must be UTF-8 without control characters.
fn percent_decode(raw: &[u8]) -> Result<String, RequestError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(|h| (*h as char).to_digit(16));
            let lo = bytes.next().and_then(|l| (*l as char).to_digit(16));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(u8::try_from(hi * 16 + lo).unwrap_or(0)),
                _ => return Err(RequestError::BadEncoding),
            }
        } else {
            out.push(b);
        }
    }
    let text = String::from_utf8(out).map_err(|_| RequestError::NotText)?;
    if text.chars().any(char::is_control) {
        return Err(RequestError::NotText);
    }
    Ok(text)
}

/// Encodes `%`, whitespace and non-printing characters as `%XX` (each byte of a non-ASCII
/// character too, as Postfix's client does).
fn percent_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b == b'%' || !b.is_ascii_graphic() {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        } else {
            out.push(char::from(b));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = Result<LookupRequest, RequestError>;

    fn decode_all(
        protocol: LookupProtocol,
        input: &[u8],
    ) -> Vec<Result<LookupRequest, RequestError>> {
        let mut decoder = LookupDecoder::new(protocol);
        decoder.feed(input);
        let mut out = Vec::new();
        loop {
            match decoder.next_request() {
                Ok(Some(request)) => out.push(Ok(request)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.is_fatal();
                    out.push(Err(e));
                    if fatal {
                        break;
                    }
                }
            }
        }
        out
    }

    fn request(name: Option<&str>, key: &str) -> Result<LookupRequest, RequestError> {
        Ok(LookupRequest {
            map_name: name.map(str::to_owned),
            key: key.to_owned(),
        })
    }

    /// Netstring vectors: D. J. Bernstein's netstring definition (cr.yp.to/proto/netstrings.txt,
    /// `12:hello world!,`) and socketmap_table(5) requests as Postfix sends them.
    #[test]
    fn socketmap_requests() {
        let long_key = "a".repeat(MAX_REQUEST - 7);
        let exact = format!("{}:policy {long_key},", MAX_REQUEST);
        let vectors: Vec<(&[u8], Vec<Decoded>)> = vec![
            (
                b"18:policy example.com,",
                vec![request(Some("policy"), "example.com")],
            ),
            (
                b"27:policy [mx.example.com]:587,19:policy a.example:25,",
                vec![
                    request(Some("policy"), "[mx.example.com]:587"),
                    request(Some("policy"), "a.example:25"),
                ],
            ),
            // Leading zeros are valid netstring syntax.
            (
                b"00018:policy example.com,",
                vec![request(Some("policy"), "example.com")],
            ),
            // Incomplete: wait for more.
            (b"18:policy exam", vec![]),
            (b"18", vec![]),
            (b"", vec![]),
            // Framing errors are fatal.
            (b"x:policy example.com,", vec![Err(RequestError::BadLength)]),
            (b":policy,", vec![Err(RequestError::BadLength)]),
            (b"-1:policy,", vec![Err(RequestError::BadLength)]),
            (
                b"18 policy example.com,",
                vec![Err(RequestError::BadLength)],
            ),
            (b"12:hello world!;", vec![Err(RequestError::MissingComma)]),
            (
                b"5:policy example.com,",
                vec![Err(RequestError::MissingComma)],
            ),
            (
                b"99999:policy x",
                vec![Err(RequestError::Oversized {
                    len: 99999,
                    max: MAX_REQUEST,
                })],
            ),
            (
                b"123456789012:x",
                vec![Err(RequestError::Oversized {
                    len: 14,
                    max: MAX_REQUEST,
                })],
            ),
            (
                b"0000000018:policy example.com,",
                vec![Err(RequestError::Oversized {
                    len: 30,
                    max: MAX_REQUEST,
                })],
            ),
            (exact.as_bytes(), vec![request(Some("policy"), &long_key)]),
            // Framed but unusable: answered, the stream goes on.
            (
                b"11:example.com,18:policy example.com,",
                vec![
                    Err(RequestError::NoMapName),
                    request(Some("policy"), "example.com"),
                ],
            ),
            (b"7:policy ,", vec![Err(RequestError::NoMapName)]),
            (b"0:,", vec![Err(RequestError::NoMapName)]),
            (b"8:policy \xff,", vec![Err(RequestError::NotText)]),
            (b"10:policy a\nb,", vec![Err(RequestError::NotText)]),
        ];
        for (input, expected) in vectors {
            assert_eq!(
                decode_all(LookupProtocol::Socketmap, input),
                expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// tcp_table(5) requests: `get SPACE key NEWLINE`, `%XX` in any case.
    #[test]
    fn tcp_table_requests() {
        let vectors: Vec<(&[u8], Vec<Decoded>)> = vec![
            (b"get example.com\n", vec![request(None, "example.com")]),
            (
                b"get [mx.example.com]:587\r\n",
                vec![request(None, "[mx.example.com]:587")],
            ),
            (
                b"get a%2eexample\nget b%2Eexample\n",
                vec![request(None, "a.example"), request(None, "b.example")],
            ),
            (b"get %25\n", vec![request(None, "%")]),
            (
                b"get caf%C3%A9.example\n",
                vec![request(None, "caf\u{e9}.example")],
            ),
            (b"get example.com", vec![]),
            (
                b"put example.com value\n",
                vec![Err(RequestError::UnknownCommand)],
            ),
            (b"get \n", vec![Err(RequestError::UnknownCommand)]),
            (b"get a%2\n", vec![Err(RequestError::BadEncoding)]),
            (b"get a%zz\n", vec![Err(RequestError::BadEncoding)]),
            (b"get a%0Ab\n", vec![Err(RequestError::NotText)]),
            (b"get a%FF\n", vec![Err(RequestError::NotText)]),
            // An error line does not stop the next request.
            (
                b"bogus\nget example.com\n",
                vec![
                    Err(RequestError::UnknownCommand),
                    request(None, "example.com"),
                ],
            ),
        ];
        for (input, expected) in vectors {
            assert_eq!(
                decode_all(LookupProtocol::TcpTable, input),
                expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn oversized_lines_and_buffers_are_bounded() {
        let mut decoder = LookupDecoder::new(LookupProtocol::TcpTable);
        let big = vec![b'a'; 10 * MAX_REQUEST];
        decoder.feed(&big);
        assert!(matches!(
            decoder.next_request(),
            Err(RequestError::Oversized { .. })
        ));
        // A fatal error sticks, and frees the buffer.
        assert_eq!(decoder.buffered(), 0);
        decoder.feed(b"get example.com\n");
        assert_eq!(decoder.buffered(), 0);
        assert!(decoder.next_request().is_err());

        let mut decoder = LookupDecoder::new(LookupProtocol::Socketmap);
        for _ in 0..1000 {
            decoder.feed(b"1");
        }
        assert!(decoder.next_request().unwrap_err().is_fatal());
    }

    #[test]
    fn byte_by_byte_feeding_gives_the_same_requests() {
        let input = b"18:policy example.com,27:policy [mx.example.com]:587,";
        let mut decoder = LookupDecoder::new(LookupProtocol::Socketmap);
        let mut keys = Vec::new();
        for b in input {
            decoder.feed(core::slice::from_ref(b));
            while let Some(request) = decoder.next_request().unwrap() {
                keys.push(request.key);
            }
        }
        assert_eq!(keys, ["example.com", "[mx.example.com]:587"]);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn replies_on_the_wire() {
        let s = LookupProtocol::Socketmap;
        let t = LookupProtocol::TcpTable;
        let vectors: [(LookupReply, LookupProtocol, &[u8]); 10] = [
            (
                LookupReply::Found("dane-only".into()),
                s,
                b"12:OK dane-only,",
            ),
            (LookupReply::NotFound, s, b"9:NOTFOUND ,"),
            (
                LookupReply::TempFail("dns down".into()),
                s,
                b"13:TEMP dns down,",
            ),
            (LookupReply::Timeout("slow".into()), s, b"12:TIMEOUT slow,"),
            (
                LookupReply::PermFail("bad\nline".into()),
                s,
                b"13:PERM bad line,",
            ),
            (
                LookupReply::Found("secure match=nexthop".into()),
                t,
                b"200 secure%20match=nexthop\n",
            ),
            (LookupReply::NotFound, t, b"500 not%20found\n"),
            (
                LookupReply::TempFail("try 100%".into()),
                t,
                b"400 try%20100%25\n",
            ),
            (LookupReply::PermFail("x".into()), t, b"400 x\n"),
            (
                LookupReply::Found("caf\u{e9}".into()),
                t,
                b"200 caf%C3%A9\n",
            ),
        ];
        for (reply, protocol, expected) in vectors {
            let mut out = Vec::new();
            reply.encode(protocol, &mut out);
            assert_eq!(out, expected, "{reply} over {protocol}");
        }
    }

    #[test]
    fn replies_respect_postfix_limits_and_never_shorten_a_value() {
        let huge = "x".repeat(SOCKETMAP_MAX_REPLY);
        let mut out = Vec::new();
        LookupReply::Found(huge.clone()).encode(LookupProtocol::Socketmap, &mut out);
        assert!(
            out.starts_with(b"48:TEMP "),
            "{}",
            String::from_utf8_lossy(&out)
        );
        out.clear();
        LookupReply::TempFail(huge.clone()).encode(LookupProtocol::Socketmap, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let (len, rest) = text.split_once(':').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), SOCKETMAP_MAX_REPLY);
        assert_eq!(rest.len(), SOCKETMAP_MAX_REPLY + 1);

        let value = "a b ".repeat(1000);
        out.clear();
        LookupReply::Found(value).encode(LookupProtocol::TcpTable, &mut out);
        assert!(out.starts_with(b"400 "));
        out.clear();
        LookupReply::TempFail("% ".repeat(2000)).encode(LookupProtocol::TcpTable, &mut out);
        assert!(out.len() <= TCP_TABLE_MAX_REPLY);
        assert!(out.ends_with(b"%20\n") || out.ends_with(b"%25\n"));
    }

    #[test]
    fn errors_say_whether_the_stream_is_lost() {
        assert!(RequestError::MissingComma.is_fatal());
        assert!(!RequestError::NoMapName.is_fatal());
        assert_eq!(
            RequestError::NoMapName.reply().to_string(),
            "PERM bad request: socketmap request is not `name key`"
        );
    }
}
