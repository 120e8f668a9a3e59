//! SMTP commands (RFC 5321 §4.1): typed values, the encoder (client side) and the
//! incremental parser (server side).
//!
//! Verbs are matched without regard to case. A line may hold at most
//! [`CommandConfig::max_line_len`] octets, CRLF included (RFC 5321 §4.5.3.1.4: 512).
//! Trailing spaces and tabs before the CRLF are ignored; otherwise the grammar is RFC 5321's,
//! with one leniency widely relied on: a single SP is allowed after `MAIL FROM:` and
//! `RCPT TO:`. A bare LF line end is an error unless [`CommandConfig::allow_bare_lf`] is set.
//!
//! The parser takes one line per call and stops right after it, so the bytes after a
//! `STARTTLS` line stay with the caller ([`Progress::consumed`]); it never swallows them.
//!
//! ```
//! use mailtls::smtp::{Command, CommandParser};
//! let mut parser = CommandParser::default();
//! let input = b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n";
//! let step = parser.feed(input);
//! assert_eq!(step.item, Some(Ok(Command::StartTls)));
//! // The pipelined command is visible to the session, which must discard it.
//! assert_eq!(&input[step.consumed..], b"MAIL FROM:<evil@example.org>\r\n");
//! assert_eq!(parser.buffered(), 0);
//! ```

use std::fmt;

use super::code::{Code, EnhancedCode};
use super::line::{check_text, plain_line, strip_line_end, LineBuffer, Progress, Scan, TextFault};
use super::params::{
    parse_rcpt_params, split_once_byte, write_params, MailParams, Param, ParamError,
};
use super::path::{
    parse_forward_path, parse_reverse_path, ForwardPath, Host, PathError, ReversePath,
};
use super::reply::Reply;

/// An SMTP command. Every value is a valid command: its parts construct only from valid text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism, upper case.
        mechanism: AuthMechanism,
        /// The initial response (base64, or `=` for an empty one), passed through.
        initial_response: Option<InitialResponse>,
    },
    /// `DATA`.
    Data,
    /// `EHLO host`.
    Ehlo(Host),
    /// `HELO host` (a domain per RFC 5321; an address literal is accepted too).
    Helo(Host),
    /// `HELP [argument]`.
    Help(Option<Argument>),
    /// `MAIL FROM:<path> [params]`.
    Mail {
        /// The reverse-path.
        from: ReversePath,
        /// The parameters.
        params: MailParams,
    },
    /// `NOOP [argument]`.
    Noop(Option<Argument>),
    /// `QUIT`.
    Quit,
    /// `RCPT TO:<path> [params]`.
    Rcpt {
        /// The forward-path.
        to: ForwardPath,
        /// The parameters, verbatim.
        params: Vec<Param>,
    },
    /// `RSET`.
    Rset,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `VRFY argument`.
    Vrfy(Argument),
}

/// The verb of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// AUTH.
    Auth,
    /// DATA.
    Data,
    /// EHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// HELP.
    Help,
    /// MAIL.
    Mail,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
    /// RCPT.
    Rcpt,
    /// RSET.
    Rset,
    /// STARTTLS.
    StartTls,
    /// VRFY.
    Vrfy,
}

/// A SASL mechanism name: 1-20 of `A-Z 0-9 - _` (RFC 4422 §3.1), kept upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthMechanism {
    // The length first: derived comparisons then tell most names apart at once.
    len: u8,
    name: [u8; 20],
}

/// An AUTH initial response: base64 text, or `=` for an empty response (RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InitialResponse(String);

/// A free-text argument (VRFY, HELP, NOOP): non-empty, no control characters but HT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Argument(String);

/// Limits and leniency of a [`CommandParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandConfig {
    /// Longest command line in octets, CRLF included. Default 512 (RFC 5321 §4.5.3.1.4).
    pub max_line_len: usize,
    /// Accept a bare LF as a line end. Default `false`.
    pub allow_bare_lf: bool,
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            max_line_len: 512,
            allow_bare_lf: false,
        }
    }
}

/// Why a command line was refused. [`CommandError::reply`] gives the reply to send.
/// Columns are 1-based within the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A CR not followed by LF.
    #[error("column {column}: bare CR")]
    BareCr {
        /// Column of the CR.
        column: usize,
    },
    /// The line ended with LF alone.
    #[error("bare LF line end (CRLF required)")]
    BareLf,
    /// NUL, a control character other than HT, or DEL.
    #[error("column {column}: forbidden byte 0x{byte:02x}")]
    ForbiddenByte {
        /// Column of the byte.
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// A host, mailbox or path that does not parse.
    #[error("{verb}: invalid address: {reason}")]
    InvalidAddress {
        /// The command.
        verb: Verb,
        /// Why.
        reason: PathError,
    },
    /// The argument does not fit the command's syntax.
    #[error("{verb}: syntax error, expected {expected}")]
    InvalidArgument {
        /// The command.
        verb: Verb,
        /// The syntax expected.
        expected: &'static str,
    },
    /// A MAIL or RCPT parameter that does not parse.
    #[error("{verb}: {reason}")]
    InvalidParameter {
        /// The command.
        verb: Verb,
        /// Why.
        reason: ParamError,
    },
    /// The line is not UTF-8.
    #[error("column {column}: invalid UTF-8")]
    InvalidUtf8 {
        /// Column where the invalid sequence starts.
        column: usize,
    },
    /// The line is longer than the limit; the rest of it is skipped.
    ///
    /// The error names the limit, not the line's length: an incremental parser stops reading
    /// at the limit, so a length would depend on how the input happened to be split.
    #[error("command line exceeds the limit of {limit} octets")]
    LineTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// A verb this parser does not know.
    #[error("unrecognised command {verb:?}")]
    Unrecognised {
        /// The verb presented (at most 16 characters kept).
        verb: String,
    },
    /// A non-ASCII reverse-path without the SMTPUTF8 parameter (RFC 6531 §3.4).
    #[error("MAIL: non-ASCII address without SMTPUTF8")]
    Utf8WithoutSmtputf8,
}

impl CommandError {
    /// The reply code to answer with: 500 (unrecognised or malformed line), 501 (bad
    /// arguments) or 553 (UTF-8 address without SMTPUTF8).
    pub fn reply_code(&self) -> Code {
        match self {
            CommandError::BareCr { .. }
            | CommandError::BareLf
            | CommandError::ForbiddenByte { .. }
            | CommandError::InvalidUtf8 { .. }
            | CommandError::LineTooLong { .. }
            | CommandError::Unrecognised { .. } => Code::SYNTAX_ERROR,
            CommandError::InvalidAddress { .. }
            | CommandError::InvalidArgument { .. }
            | CommandError::InvalidParameter { .. } => Code::PARAMETER_SYNTAX_ERROR,
            CommandError::Utf8WithoutSmtputf8 => Code::MAILBOX_NAME_NOT_ALLOWED,
        }
    }

    /// The enhanced status code to answer with (RFC 3463, RFC 6531).
    pub fn enhanced_code(&self) -> EnhancedCode {
        let (s, d) = match self {
            CommandError::Unrecognised { .. } => (5, 1),
            CommandError::InvalidAddress {
                verb: Verb::Mail, ..
            } => (1, 7),
            CommandError::InvalidAddress {
                verb: Verb::Rcpt, ..
            } => (1, 3),
            CommandError::InvalidAddress { .. }
            | CommandError::InvalidArgument { .. }
            | CommandError::InvalidParameter { .. } => (5, 4),
            CommandError::Utf8WithoutSmtputf8 => (6, 7),
            _ => (5, 2),
        };
        EnhancedCode::new(5, s, d).unwrap_or(EnhancedCode::OK)
    }

    /// The reply to send. The text is fixed per kind of error and never echoes peer input.
    pub fn reply(&self) -> Reply {
        let text = match self {
            CommandError::BareCr { .. } => "Bare CR received",
            CommandError::BareLf => "Bare LF received",
            CommandError::ForbiddenByte { .. } | CommandError::InvalidUtf8 { .. } => {
                "Invalid character in command"
            }
            CommandError::InvalidAddress {
                verb: Verb::Mail, ..
            } => "Bad sender address syntax",
            CommandError::InvalidAddress {
                verb: Verb::Rcpt, ..
            } => "Bad recipient address syntax",
            CommandError::InvalidAddress { .. } => "Invalid domain name",
            CommandError::InvalidArgument { .. } => "Syntax error in arguments",
            CommandError::InvalidParameter { .. } => "Syntax error in parameters",
            CommandError::LineTooLong { .. } => "Line too long",
            CommandError::Unrecognised { .. } => "Command unrecognized",
            CommandError::Utf8WithoutSmtputf8 => "Non-ASCII address requires SMTPUTF8",
        };
        Reply::fixed(self.reply_code(), Some(self.enhanced_code()), text)
    }
}

impl AuthMechanism {
    /// A mechanism name, checked and upper-cased.
    pub fn new(name: &str) -> Option<AuthMechanism> {
        AuthMechanism::from_bytes(name.as_bytes())
    }

    /// A mechanism name from bytes, checked and upper-cased.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<AuthMechanism> {
        if bytes.is_empty() || bytes.len() > 20 {
            return None;
        }
        let mut out = AuthMechanism {
            name: [0; 20],
            len: 0,
        };
        // One table load per octet: its upper-case form, or 0 when it is not allowed. No
        // early exit, so the loop is a straight run.
        let mut bad = false;
        for (slot, &b) in out.name.iter_mut().zip(bytes) {
            let upper = SASL_UPPER.get(usize::from(b)).copied().unwrap_or(0);
            bad |= upper == 0;
            *slot = upper;
        }
        if bad {
            return None;
        }
        // At most 20, checked above.
        out.len = bytes.len() as u8;
        Some(out)
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        let name = self.name.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII is ever stored, so this cannot fail.
        std::str::from_utf8(name).unwrap_or_default()
    }
}

/// For each octet, its upper-case form when it may appear in a SASL mechanism name
/// (`A-Z a-z 0-9 - _`), else 0.
#[allow(clippy::indexing_slicing)] // constant evaluation over 0..=255
static SASL_UPPER: [u8; 256] = byte_table!(0u8, |b| {
    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
        b.to_ascii_uppercase()
    } else {
        0
    }
});

/// For each octet, whether it is a base64 character other than padding (`A-Z a-z 0-9 + /`).
#[allow(clippy::indexing_slicing)] // constant evaluation over 0..=255
static BASE64: [bool; 256] = byte_table!(false, |b| b.is_ascii_alphanumeric()
    || b == b'+'
    || b == b'/');

impl InitialResponse {
    /// An initial response: `=` or non-empty base64 (`A-Z a-z 0-9 + /`, `=` padding at the
    /// end only).
    pub fn new(text: &str) -> Option<InitialResponse> {
        if text == "=" {
            return Some(InitialResponse(text.to_owned()));
        }
        // By octets: the `=` padding at the end, then one table load per octet before it.
        let bytes = text.as_bytes();
        let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
        let body = bytes.get(..bytes.len() - pad).unwrap_or_default();
        let ok = !body.is_empty()
            && pad <= 2
            && body
                .iter()
                .all(|&b| BASE64.get(usize::from(b)).copied().unwrap_or(false));
        ok.then(|| InitialResponse(text.to_owned()))
    }

    /// The response as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Argument {
    /// A free-text argument: non-empty, no control characters but HT, no leading or trailing
    /// white space, at most 500 octets.
    pub fn new(text: &str) -> Option<Argument> {
        let ok = !text.is_empty()
            && text.len() <= 500
            && text.trim_matches([' ', '\t']).len() == text.len()
            && check_text(text.as_bytes()).is_ok();
        ok.then(|| Argument(text.to_owned()))
    }

    /// The argument.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Verb {
    /// The verb as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Auth => "AUTH",
            Verb::Data => "DATA",
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Help => "HELP",
            Verb::Mail => "MAIL",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::Rcpt => "RCPT",
            Verb::Rset => "RSET",
            Verb::StartTls => "STARTTLS",
            Verb::Vrfy => "VRFY",
        }
    }

    /// The verb for a word, any case.
    pub fn from_word(word: &[u8]) -> Option<Verb> {
        // OR-ing 0x20 lower-cases letters; a non-letter cannot land on a letter this way,
        // and every verb is letters only, so the packed compare is exact.
        let packed = |w: &[u8; 4]| u32::from_le_bytes(*w) | 0x2020_2020;
        match word {
            [a, b, c, d] => Some(match packed(&[*a, *b, *c, *d]) {
                x if x == packed(b"auth") => Verb::Auth,
                x if x == packed(b"data") => Verb::Data,
                x if x == packed(b"ehlo") => Verb::Ehlo,
                x if x == packed(b"helo") => Verb::Helo,
                x if x == packed(b"help") => Verb::Help,
                x if x == packed(b"mail") => Verb::Mail,
                x if x == packed(b"noop") => Verb::Noop,
                x if x == packed(b"quit") => Verb::Quit,
                x if x == packed(b"rcpt") => Verb::Rcpt,
                x if x == packed(b"rset") => Verb::Rset,
                x if x == packed(b"vrfy") => Verb::Vrfy,
                _ => return None,
            }),
            _ if word.eq_ignore_ascii_case(b"STARTTLS") => Some(Verb::StartTls),
            _ => None,
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Command {
    /// Parses one command line, without its line end.
    ///
    /// ```
    /// use mailtls::smtp::{Command, CommandError, ReversePath};
    /// let cmd = Command::parse(b"MAIL FROM:<> BODY=8BITMIME").unwrap();
    /// assert!(matches!(cmd, Command::Mail { from: ReversePath::Null, .. }));
    /// let err = Command::parse(b"XYZZY").unwrap_err();
    /// assert_eq!(err.reply_code().as_u16(), 500);
    /// assert_eq!(Command::parse(b"MAIL FROM:<a@@b>").unwrap_err().reply_code().as_u16(), 501);
    /// ```
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        Command::parse_text(check_text(line).map_err(text_error)?)
    }

    /// [`Command::parse`] after the line's bytes were checked.
    fn parse_text(text: &str) -> Result<Command, CommandError> {
        let end = text
            .bytes()
            .rposition(|b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        let text = text.get(..end).unwrap_or_default();
        // Verbs are short: a plain byte search beats a general string searcher here.
        let (word, args) = match text.bytes().position(|b| b == b' ') {
            Some(p) => (text.get(..p).unwrap_or_default(), text.get(p + 1..)),
            None => (text, None),
        };
        let verb = Verb::from_word(word.as_bytes()).ok_or_else(|| CommandError::Unrecognised {
            verb: word.chars().take(16).collect(),
        })?;
        let offset = word.len() + 1;
        let syntax = |expected| CommandError::InvalidArgument { verb, expected };
        let none = |cmd: Command| match args {
            None => Ok(cmd),
            Some(_) => Err(syntax("no argument")),
        };
        match verb {
            Verb::Auth => {
                let args = args.ok_or_else(|| syntax("AUTH mechanism [initial-response]"))?;
                let (mech, resp) = match split_once_byte(args, b' ') {
                    Some((m, r)) => (m, Some(r)),
                    None => (args, None),
                };
                let mechanism =
                    AuthMechanism::new(mech).ok_or_else(|| syntax("a SASL mechanism name"))?;
                let initial_response = match resp {
                    None => None,
                    Some(r) => Some(
                        InitialResponse::new(r)
                            .ok_or_else(|| syntax("a base64 initial response or '='"))?,
                    ),
                };
                Ok(Command::Auth {
                    mechanism,
                    initial_response,
                })
            }
            Verb::Data => none(Command::Data),
            Verb::Ehlo | Verb::Helo => {
                let args = args.ok_or_else(|| syntax("a domain or address literal"))?;
                let host = Host::parse(args)
                    .map_err(|reason| CommandError::InvalidAddress { verb, reason })?;
                Ok(if verb == Verb::Ehlo {
                    Command::Ehlo(host)
                } else {
                    Command::Helo(host)
                })
            }
            Verb::Help => Ok(Command::Help(optional_argument(args, verb)?)),
            Verb::Mail => {
                let args = args.ok_or_else(|| syntax("MAIL FROM:<reverse-path> [parameters]"))?;
                let (path, at) = after_keyword(args, "FROM:", offset)
                    .ok_or_else(|| syntax("MAIL FROM:<reverse-path> [parameters]"))?;
                let (from, n) = parse_reverse_path(path, at)
                    .map_err(|reason| CommandError::InvalidAddress { verb, reason })?;
                let params = match parameters(path, n, verb)? {
                    None => MailParams::default(),
                    Some(p) => MailParams::parse(p)
                        .map_err(|reason| CommandError::InvalidParameter { verb, reason })?,
                };
                if !params.smtputf8 && !from.is_ascii() {
                    return Err(CommandError::Utf8WithoutSmtputf8);
                }
                Ok(Command::Mail { from, params })
            }
            Verb::Noop => Ok(Command::Noop(optional_argument(args, verb)?)),
            Verb::Quit => none(Command::Quit),
            Verb::Rcpt => {
                let args = args.ok_or_else(|| syntax("RCPT TO:<forward-path> [parameters]"))?;
                let (path, at) = after_keyword(args, "TO:", offset)
                    .ok_or_else(|| syntax("RCPT TO:<forward-path> [parameters]"))?;
                let (to, n) = parse_forward_path(path, at)
                    .map_err(|reason| CommandError::InvalidAddress { verb, reason })?;
                let params = match parameters(path, n, verb)? {
                    None => Vec::new(),
                    Some(p) => parse_rcpt_params(p)
                        .map_err(|reason| CommandError::InvalidParameter { verb, reason })?,
                };
                Ok(Command::Rcpt { to, params })
            }
            Verb::Rset => none(Command::Rset),
            Verb::StartTls => none(Command::StartTls),
            Verb::Vrfy => {
                let arg = optional_argument(args, verb)?.ok_or_else(|| syntax("VRFY string"))?;
                Ok(Command::Vrfy(arg))
            }
        }
    }

    /// The command's verb.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Auth { .. } => Verb::Auth,
            Command::Data => Verb::Data,
            Command::Ehlo(_) => Verb::Ehlo,
            Command::Helo(_) => Verb::Helo,
            Command::Help(_) => Verb::Help,
            Command::Mail { .. } => Verb::Mail,
            Command::Noop(_) => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Rset => Verb::Rset,
            Command::StartTls => Verb::StartTls,
            Command::Vrfy(_) => Verb::Vrfy,
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    ///
    /// ```
    /// use mailtls::smtp::{Command, Host};
    /// let mut out = Vec::new();
    /// Command::Ehlo(Host::parse("client.example.org").unwrap()).encode(&mut out);
    /// Command::StartTls.encode(&mut out);
    /// assert_eq!(out, b"EHLO client.example.org\r\nSTARTTLS\r\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// The command line, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// The command line without CRLF.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.verb().as_str();
        match self {
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                write!(f, "AUTH {}", mechanism.as_str())?;
                if let Some(r) = initial_response {
                    write!(f, " {}", r.0)?;
                }
                Ok(())
            }
            Command::Data | Command::Quit | Command::Rset | Command::StartTls => f.write_str(verb),
            Command::Ehlo(h) | Command::Helo(h) => write!(f, "{verb} {h}"),
            Command::Help(a) | Command::Noop(a) => match a {
                Some(a) => write!(f, "{verb} {}", a.0),
                None => f.write_str(verb),
            },
            Command::Mail { from, params } => {
                let mut p = String::new();
                params.write_to(&mut p);
                write!(f, "MAIL FROM:{from}{p}")
            }
            Command::Rcpt { to, params } => {
                let mut p = String::new();
                write_params(params, &mut p);
                write!(f, "RCPT TO:{to}{p}")
            }
            Command::Vrfy(a) => write!(f, "VRFY {}", a.0),
        }
    }
}

/// Incremental command parser (server side): one command line per call.
///
/// An overlong line yields [`CommandError::LineTooLong`] once, as soon as it passes the limit;
/// the rest of it, up to its LF, is then skipped without being held.
#[derive(Debug, Clone)]
pub struct CommandParser {
    config: CommandConfig,
    lines: LineBuffer,
}

impl Default for CommandParser {
    fn default() -> Self {
        CommandParser::new(CommandConfig::default())
    }
}

impl CommandParser {
    /// A parser with the given limits.
    pub fn new(config: CommandConfig) -> Self {
        Self {
            config,
            lines: LineBuffer::new(config.max_line_len),
        }
    }

    /// Takes bytes until one command line is complete (or refused) or the input is used up.
    ///
    /// With `item: Some(_)`, `consumed` ends right after that line's LF (or, for an overlong
    /// line, wherever the limit was passed) and nothing after it was taken. With
    /// `item: None`, all input was taken.
    pub fn feed(&mut self, input: &[u8]) -> Progress<Result<Command, CommandError>> {
        let mut consumed = 0;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            if rest.is_empty() {
                return Progress {
                    consumed,
                    item: None,
                };
            }
            // Common case: a whole printable-ASCII CRLF line in the input, checked in the same
            // pass that finds its end (so only the UTF-8 view is left to take).
            if self.lines.is_idle() {
                if let Some(n) = plain_line(rest, self.config.max_line_len) {
                    let content = rest.get(..n).unwrap_or_default();
                    let result = match std::str::from_utf8(content) {
                        Ok(text) => Command::parse_text(text),
                        Err(_) => Command::parse(content),
                    };
                    return Progress {
                        consumed: consumed + n + 2,
                        item: Some(result),
                    };
                }
            }
            let (n, scan) = self.lines.scan(rest);
            consumed += n;
            let result = match scan {
                Scan::Incomplete => continue,
                Scan::TooLong => Err(CommandError::LineTooLong {
                    limit: self.config.max_line_len,
                }),
                Scan::Line(line) => strip_line_end(line, self.config.allow_bare_lf)
                    .map_err(|_| CommandError::BareLf)
                    .and_then(Command::parse),
            };
            return Progress {
                consumed,
                item: Some(result),
            };
        }
    }

    /// Octets held from a partial line (0 right after a complete line).
    pub fn buffered(&self) -> usize {
        self.lines.buffered()
    }

    /// Forgets any partial line.
    pub fn reset(&mut self) {
        self.lines.reset();
    }
}

/// The text after `KEYWORD` (any case) and an optional SP, with its column offset.
fn after_keyword<'a>(args: &'a str, keyword: &str, offset: usize) -> Option<(&'a str, usize)> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = args.get(keyword.len()..)?;
    let (rest, sp) = match rest.strip_prefix(' ') {
        Some(r) => (r, 1),
        None => (rest, 0),
    };
    Some((rest, offset + keyword.len() + sp))
}

/// The parameter text after a path of `n` octets: `None` when the line ends there.
fn parameters(path: &str, n: usize, verb: Verb) -> Result<Option<&str>, CommandError> {
    let after = path.get(n..).unwrap_or_default();
    if after.is_empty() {
        return Ok(None);
    }
    match after.strip_prefix(' ') {
        Some(p) => Ok(Some(p)),
        None => Err(CommandError::InvalidArgument {
            verb,
            expected: "SP between the path and the parameters",
        }),
    }
}

fn optional_argument(args: Option<&str>, verb: Verb) -> Result<Option<Argument>, CommandError> {
    match args {
        None => Ok(None),
        Some(a) => Argument::new(a)
            .map(Some)
            .ok_or(CommandError::InvalidArgument {
                verb,
                expected: "a text argument",
            }),
    }
}

fn text_error(fault: TextFault) -> CommandError {
    match fault {
        TextFault::BareCr { column } => CommandError::BareCr { column },
        TextFault::Forbidden { column, byte } => CommandError::ForbiddenByte { column, byte },
        TextFault::InvalidUtf8 { column } => CommandError::InvalidUtf8 { column },
    }
}
