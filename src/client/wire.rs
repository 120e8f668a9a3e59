//! The few wire helpers the session needs beyond `crate::smtp`: reading EHLO capabilities
//! and dot-stuffing DATA as it streams.

use crate::smtp::Reply;

/// The EHLO keywords the client acts on, read from one EHLO reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `SIZE [n]` (RFC 1870): `Some(0)` when no limit is given.
    pub size: Option<u64>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// Every keyword as the server sent it, upper-cased, without parameters.
    pub keywords: Vec<String>,
}

impl Capabilities {
    /// Reads the keyword lines of a 250 EHLO reply (every line after the first).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Self::default();
        for line in reply.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "8BITMIME" => caps.eight_bit_mime = true,
                "PIPELINING" => caps.pipelining = true,
                "REQUIRETLS" => caps.requiretls = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "STARTTLS" => caps.starttls = true,
                "SIZE" => {
                    caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                _ => {}
            }
            if caps.keywords.len() < MAX_KEYWORDS {
                caps.keywords.push(keyword);
            }
        }
        caps
    }
}

/// Keywords kept for the event (a hostile server may send many lines).
const MAX_KEYWORDS: usize = 64;

/// Dot-stuffs message text as it streams (RFC 5321 §4.5.2), remembering across chunks
/// whether the next byte starts a line.
#[derive(Clone, Debug)]
pub(crate) struct DotStuffer {
    at_line_start: bool,
    after_cr: bool,
    ended_with_crlf: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self {
            at_line_start: true,
            after_cr: false,
            ended_with_crlf: true,
        }
    }
}

impl DotStuffer {
    /// Appends `chunk` to `out`, doubling a dot at the start of any line.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 64 + 1);
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if self.at_line_start && b == b'.' {
                out.extend_from_slice(chunk.get(start..i).unwrap_or_default());
                out.push(b'.');
                start = i;
            }
            self.ended_with_crlf = self.after_cr && b == b'\n';
            self.at_line_start = b == b'\n';
            self.after_cr = b == b'\r';
        }
        out.extend_from_slice(chunk.get(start..).unwrap_or_default());
    }

    /// Appends the end-of-data marker, closing an unterminated last line first.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.ended_with_crlf {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_stuffed_across_chunk_boundaries() {
        let cases: [(&[&[u8]], &[u8]); 5] = [
            (&[b"a\r\n.b\r\n"], b"a\r\n..b\r\n.\r\n"),
            (&[b"a\r\n", b".b\r\n"], b"a\r\n..b\r\n.\r\n"),
            (&[b".\r\n"], b"..\r\n.\r\n"),
            (&[b"no end"], b"no end\r\n.\r\n"),
            (&[b"x\r", b"\n", b"."], b"x\r\n..\r\n.\r\n"),
        ];
        for (chunks, wire) in cases {
            let mut s = DotStuffer::default();
            let mut out = Vec::new();
            for c in chunks {
                s.push(c, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(out, wire, "{chunks:?}");
        }
    }

    #[test]
    fn capabilities_come_from_keyword_lines_only() {
        let reply = Reply::from_lines(
            crate::smtp::Code::OK,
            None,
            [
                "mx.example.com STARTTLS",
                "pipelining",
                "SIZE 1000",
                "REQUIRETLS",
            ],
        )
        .unwrap();
        let caps = Capabilities::from_ehlo(&reply);
        assert!(caps.pipelining && caps.requiretls);
        assert!(!caps.starttls, "the greeting line is not a keyword");
        assert_eq!(caps.size, Some(1000));
        assert_eq!(caps.keywords, ["PIPELINING", "SIZE", "REQUIRETLS"]);
    }
}
