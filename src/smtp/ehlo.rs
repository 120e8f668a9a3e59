//! The EHLO reply (RFC 5321 §4.1.1.1): the server's name and greeting, then one capability
//! per line, parsed into [`Capabilities`] (client side) and generated from it (server side).
//!
//! Keywords are matched without regard to case. Known keywords: STARTTLS (RFC 3207),
//! REQUIRETLS (RFC 8689), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
//! BINARYMIME and CHUNKING (RFC 3030), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034),
//! DSN (RFC 3461) and AUTH (RFC 4954, including the old `AUTH=` form). Parameters of the flag
//! keywords are ignored; a repeated keyword counts once (AUTH mechanisms are merged). Other
//! lines are kept verbatim as [`Extension`]s. A line that is not `keyword *(SP param)` is an
//! error: capabilities must never be guessed.
//!
//! ```
//! use mailtls::smtp::{EhloReply, ReplyParser};
//! let wire = b"250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n\
//!              250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 X-FOO bar\r\n";
//! let reply = ReplyParser::default().feed(wire).unwrap().item.unwrap();
//! let ehlo = EhloReply::parse(&reply).unwrap();
//! let caps = &ehlo.capabilities;
//! assert!(caps.starttls && caps.pipelining && caps.smtputf8 && !caps.require_tls);
//! assert_eq!(caps.size, Some(35882577));
//! assert_eq!(caps.auth.iter().map(|m| m.as_str()).collect::<Vec<_>>(), ["PLAIN", "LOGIN"]);
//! assert_eq!(caps.other[0].line(), "X-FOO bar");
//! // And back: the server side generates the same reply (capabilities in a fixed order).
//! assert_eq!(ehlo.to_reply().unwrap().to_bytes(), wire);
//! ```

use std::fmt::Write;

use super::code::{Code, EnhancedCode};
use super::command::AuthMechanism;
use super::line::plain_line;
use super::path::{Host, PathError};
use super::reply::{Reply, ReplyConfig, ReplyError};

/// A parsed EHLO reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhloReply {
    /// The server's name from the first line.
    pub domain: Host,
    /// The rest of the first line (may be empty).
    pub greeting: String,
    /// The capabilities, one per following line.
    pub capabilities: Capabilities,
}

/// The capabilities a server announces in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// AUTH mechanisms, in the order announced, without repeats.
    pub auth: Vec<AuthMechanism>,
    /// BINARYMIME.
    pub binary_mime: bool,
    /// CHUNKING (BDAT).
    pub chunking: bool,
    /// DSN.
    pub dsn: bool,
    /// 8BITMIME.
    pub eight_bit_mime: bool,
    /// ENHANCEDSTATUSCODES.
    pub enhanced_status_codes: bool,
    /// Other capability lines, verbatim, in the order announced.
    pub other: Vec<Extension>,
    /// PIPELINING.
    pub pipelining: bool,
    /// REQUIRETLS.
    pub require_tls: bool,
    /// SIZE: the largest message accepted in octets; `Some(0)` when SIZE came without a
    /// number or with 0 (no fixed limit).
    pub size: Option<u64>,
    /// SMTPUTF8.
    pub smtputf8: bool,
    /// STARTTLS.
    pub starttls: bool,
}

/// A capability line this crate does not interpret: `keyword *(SP param)`, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension(String);

/// Why a reply is not a usable EHLO reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EhloError {
    /// The first line does not start with a domain or address literal.
    #[error("EHLO reply names no valid host: {reason}")]
    InvalidDomain {
        /// Why.
        reason: PathError,
    },
    /// A capability line that is not `keyword *(SP param)`, or a known keyword with a
    /// malformed parameter (SIZE, AUTH).
    #[error("EHLO reply line {line}: invalid capability: {why}")]
    InvalidLine {
        /// Line within the reply (1-based; the first capability is line 2).
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The reply code is not 250.
    #[error("EHLO answered with {code}, not 250")]
    NotOk {
        /// The code presented.
        code: Code,
    },
}

impl Extension {
    /// A capability line, checked: an ehlo-keyword (letter or digit, then letters, digits,
    /// hyphens), then parameters of printable ASCII separated by single spaces.
    pub fn new(line: &str) -> Option<Extension> {
        let mut words = line.split(' ');
        let keyword = words.next()?;
        let ok = is_keyword(keyword.as_bytes())
            && words.all(|p| !p.is_empty() && p.bytes().all(|b| (33..=126).contains(&b)));
        ok.then(|| Extension(line.to_owned()))
    }

    /// The whole line.
    pub fn line(&self) -> &str {
        &self.0
    }

    /// The keyword.
    pub fn keyword(&self) -> &str {
        self.0.split(' ').next().unwrap_or_default()
    }

    /// The parameters after the keyword.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').skip(1)
    }
}

impl EhloReply {
    /// Reads an EHLO reply.
    pub fn parse(reply: &Reply) -> Result<EhloReply, EhloError> {
        if reply.code() != Code::OK {
            return Err(EhloError::NotOk { code: reply.code() });
        }
        let mut lines = reply.lines();
        let first = lines.next().unwrap_or_default();
        // The first line of an EHLO reply is the domain (RFC 5321 §4.1.1.1), never an
        // enhanced status code: a numeric domain such as `2.80.250` that the reply parser read
        // as one is put back, so a reply parses the same whether it has one line or several.
        let restored;
        let first = match reply.enhanced() {
            Some(code) => {
                restored = if first.is_empty() {
                    code.to_string()
                } else {
                    format!("{code} {first}")
                };
                restored.as_str()
            }
            None => first,
        };
        let (name, greeting) = first.split_once(' ').unwrap_or((first, ""));
        let domain = Host::parse(name).map_err(|reason| EhloError::InvalidDomain { reason })?;
        let mut capabilities = Capabilities::default();
        for (i, line) in lines.enumerate() {
            capabilities
                .add_line(line.as_bytes())
                .map_err(|why| EhloError::InvalidLine { line: i + 2, why })?;
        }
        Ok(EhloReply {
            domain,
            greeting: greeting.to_owned(),
            capabilities,
        })
    }

    /// The server's reply: `250-domain greeting`, then one line per capability.
    pub fn to_reply(&self) -> Result<Reply, ReplyError> {
        let mut first = self.domain.to_string();
        if !self.greeting.is_empty() {
            first.push(' ');
            first.push_str(&self.greeting);
        }
        let mut lines = vec![first];
        lines.extend(self.capabilities.lines());
        Reply::from_lines(Code::OK, None, lines)
    }
}

impl Capabilities {
    /// One line per capability, in a fixed order: PIPELINING, SIZE, 8BITMIME, BINARYMIME,
    /// CHUNKING, DSN, ENHANCEDSTATUSCODES, SMTPUTF8, STARTTLS, REQUIRETLS, AUTH, then the
    /// others as given.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let flags = [
            (self.pipelining, "PIPELINING"),
            (false, "SIZE"),
            (self.eight_bit_mime, "8BITMIME"),
            (self.binary_mime, "BINARYMIME"),
            (self.chunking, "CHUNKING"),
            (self.dsn, "DSN"),
            (self.enhanced_status_codes, "ENHANCEDSTATUSCODES"),
            (self.smtputf8, "SMTPUTF8"),
            (self.starttls, "STARTTLS"),
            (self.require_tls, "REQUIRETLS"),
        ];
        for (on, name) in flags {
            if name == "SIZE" {
                if let Some(size) = self.size {
                    out.push(format!("SIZE {size}"));
                }
            } else if on {
                out.push(name.to_owned());
            }
        }
        if !self.auth.is_empty() {
            let mut line = String::from("AUTH");
            for m in &self.auth {
                // Writing to a String cannot fail.
                let _ = write!(line, " {}", m.as_str());
            }
            out.push(line);
        }
        out.extend(self.other.iter().map(|e| e.0.clone()));
        out
    }

    /// Adds one capability line (UTF-8, as every reply line is).
    fn add_line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        // One pass over the keyword: it ends at the first byte that is not a letter, digit
        // or hyphen, which must be SP or the end of the line.
        let k = line
            .iter()
            .position(|&b| !is_keyword_byte(b))
            .unwrap_or(line.len());
        let (keyword, params) = match line.get(k) {
            None => (line, None),
            Some(b' ') => (line.get(..k).unwrap_or_default(), line.get(k + 1..)),
            Some(_) => return self.add_other_form(line),
        };
        if !keyword.first().is_some_and(u8::is_ascii_alphanumeric) {
            return Err(BAD_KEYWORD);
        }
        let words = params.into_iter().flat_map(|p| p.split(|&b| b == b' '));
        // Keyword bytes are letters, digits and hyphens, so OR-ing 0x20 lower-cases them
        // exactly: each line is told apart by its length and first eight octets, folded.
        let head = fold8(keyword);
        let tail = keyword.get(8..).unwrap_or_default();
        let known = match keyword.len() {
            3 if head == const { pack8(b"dsn") } => Known::Dsn,
            4 if head == const { pack8(b"auth") } => Known::Auth,
            4 if head == const { pack8(b"size") } => Known::Size,
            8 if head == const { pack8(b"8bitmime") } => Known::EightBitMime,
            8 if head == const { pack8(b"chunking") } => Known::Chunking,
            8 if head == const { pack8(b"smtputf8") } => Known::Smtputf8,
            8 if head == const { pack8(b"starttls") } => Known::StartTls,
            10 if head == const { pack8(b"binarymi") } && folded_eq(tail, b"me") => {
                Known::BinaryMime
            }
            10 if head == const { pack8(b"pipelini") } && folded_eq(tail, b"ng") => {
                Known::Pipelining
            }
            10 if head == const { pack8(b"requiret") } && folded_eq(tail, b"ls") => {
                Known::RequireTls
            }
            19 if head == const { pack8(b"enhanced") } && folded_eq(tail, b"statuscodes") => {
                Known::EnhancedStatusCodes
            }
            _ => Known::Other,
        };
        // AUTH checks its parameters as it reads them: every word a SASL name means they are
        // words separated by single spaces. Any other keyword is checked here first.
        if !matches!(known, Known::Auth) && !params.is_none_or(params_are_words) {
            return Err(BAD_PARAMS);
        }
        let slot = match known {
            Known::Auth => {
                // One allocation for the usual handful of mechanisms.
                if self.auth.capacity() == 0 {
                    self.auth.reserve(8);
                }
                // On failure the error is the one the separate check would have given first.
                return self.add_auth(words).map_err(|e| {
                    if params.is_none_or(params_are_words) {
                        e
                    } else {
                        BAD_PARAMS
                    }
                });
            }
            Known::Size => {
                let size = match params {
                    None => 0,
                    Some(n) if n.len() <= 20 && n.iter().all(u8::is_ascii_digit) => n
                        .iter()
                        .try_fold(0u64, |acc, &d| {
                            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                        })
                        .ok_or("SIZE is not a number")?,
                    _ => return Err("SIZE takes one number"),
                };
                self.size.get_or_insert(size);
                return Ok(());
            }
            Known::EightBitMime => &mut self.eight_bit_mime,
            Known::BinaryMime => &mut self.binary_mime,
            Known::Chunking => &mut self.chunking,
            Known::Dsn => &mut self.dsn,
            Known::EnhancedStatusCodes => &mut self.enhanced_status_codes,
            Known::Pipelining => &mut self.pipelining,
            Known::RequireTls => &mut self.require_tls,
            Known::Smtputf8 => &mut self.smtputf8,
            Known::StartTls => &mut self.starttls,
            Known::Other => {
                // The keyword and parameters were checked above: the line is ASCII.
                let line = std::str::from_utf8(line).map_err(|_| BAD_PARAMS)?;
                if !self.other.iter().any(|e| e.0 == line) {
                    self.other.push(Extension(line.to_owned()));
                }
                return Ok(());
            }
        };
        *slot = true;
        Ok(())
    }

    /// A line whose keyword holds a byte other than a letter, digit or hyphen: the
    /// pre-standard `AUTH=LOGIN PLAIN` form, or an error.
    fn add_other_form(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let (keyword, params) = match line.iter().position(|&b| b == b' ') {
            Some(p) => (line.get(..p).unwrap_or_default(), line.get(p + 1..)),
            None => (line, None),
        };
        if keyword.len() <= 20 && starts_with_ignore_case(keyword, b"AUTH=") {
            if !params.is_none_or(params_are_words) {
                return Err(BAD_PARAMS);
            }
            let first = keyword.get(5..).unwrap_or_default();
            let words = params.into_iter().flat_map(|p| p.split(|&b| b == b' '));
            return self.add_auth(std::iter::once(first).chain(words));
        }
        Err(BAD_KEYWORD)
    }

    fn add_auth<'a>(&mut self, mechs: impl Iterator<Item = &'a [u8]>) -> Result<(), &'static str> {
        for name in mechs {
            let m = AuthMechanism::from_bytes(name).ok_or("AUTH mechanism is not a SASL name")?;
            if !self.auth.contains(&m) {
                self.auth.push(m);
            }
        }
        Ok(())
    }
}

const BAD_PARAMS: &str = "parameters are not printable ASCII separated by single spaces";
const BAD_KEYWORD: &str = "keyword is not letters, digits and hyphens";

/// A letter, digit or hyphen.
fn is_keyword_byte(b: u8) -> bool {
    KEYWORD_BYTE.get(usize::from(b)).copied().unwrap_or(false)
}

/// For each octet, whether it is a letter, digit or hyphen.
#[allow(clippy::indexing_slicing)] // constant evaluation over 0..=255
static KEYWORD_BYTE: [bool; 256] = byte_table!(false, |b| b.is_ascii_alphanumeric() || b == b'-');

/// The first eight octets (or fewer, zero-padded) with 0x20 OR-ed in: lower case for a
/// keyword's letters, digits and hyphens unchanged.
fn fold8(keyword: &[u8]) -> u64 {
    if let Some(head) = keyword.first_chunk::<8>() {
        // The usual keyword has eight octets or more: one load, one OR.
        return u64::from_le_bytes(*head) | 0x2020_2020_2020_2020;
    }
    let mut word = [0u8; 8];
    for (w, &b) in word.iter_mut().zip(keyword) {
        *w = b | 0x20;
    }
    u64::from_le_bytes(word)
}

/// A lower-case name's first eight octets as [`fold8`] packs them (for constants only).
#[allow(clippy::indexing_slicing)]
const fn pack8(name: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let mut i = 0;
    while i < name.len() && i < 8 {
        word[i] = name[i];
        i += 1;
    }
    u64::from_le_bytes(word)
}

/// Whether keyword octets, folded as in [`fold8`], spell the lower-case `name`.
fn folded_eq(keyword: &[u8], name: &[u8]) -> bool {
    keyword.len() == name.len() && keyword.iter().zip(name).all(|(&k, &n)| k | 0x20 == n)
}

/// The capability keywords interpreted here.
#[derive(Clone, Copy)]
enum Known {
    Auth,
    BinaryMime,
    Chunking,
    Dsn,
    EightBitMime,
    EnhancedStatusCodes,
    Other,
    Pipelining,
    RequireTls,
    Size,
    Smtputf8,
    StartTls,
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// `word *(SP word)`, each word printable ASCII other than SP.
fn params_are_words(p: &[u8]) -> bool {
    let mut after_space = true;
    for &b in p {
        if b == b' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if (33..=126).contains(&b) {
            after_space = false;
        } else {
            return false;
        }
    }
    !after_space
}

/// The whole EHLO reply straight from `input`, when it is there in full as plain lines (see
/// [`plain_line`]) and parses without error: the octets it took and the reply. The result
/// is the one [`ReplyParser::feed`](super::reply::ReplyParser::feed) then [`EhloReply::parse`] give; any other input
/// (`None`) is left to them, errors included.
pub(crate) fn parse_plain(input: &[u8], config: &ReplyConfig) -> Option<(usize, EhloReply)> {
    let mut at = 0;
    let mut number = 0;
    let mut first = None;
    let mut capabilities = Capabilities::default();
    loop {
        let rest = input.get(at..)?;
        let n = plain_line(rest, config.max_line_len)?;
        at += n + 2;
        number += 1;
        if number > config.max_lines {
            return None;
        }
        let (last, text) = match rest.get(..n)? {
            [b'2', b'5', b'0'] => (true, &[][..]),
            [b'2', b'5', b'0', b' ', text @ ..] => (true, text),
            [b'2', b'5', b'0', b'-', text @ ..] => (false, text),
            _ => return None,
        };
        if number == 1 {
            // An enhanced code on the first line changes how the reply reads: leave that to
            // the full parsers.
            if EnhancedCode::parse_prefix(text).is_some() {
                return None;
            }
            let text = std::str::from_utf8(text).ok()?;
            let (name, greeting) = text.split_once(' ').unwrap_or((text, ""));
            first = Some((Host::parse(name).ok()?, greeting));
        } else {
            capabilities.add_line(text).ok()?;
        }
        if last {
            let (domain, greeting) = first?;
            return Some((
                at,
                EhloReply {
                    domain,
                    greeting: greeting.to_owned(),
                    capabilities,
                },
            ));
        }
    }
}

fn is_keyword(k: &[u8]) -> bool {
    match k.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphanumeric()
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        None => false,
    }
}
