//! SMTP wire grammar: replies, commands, EHLO capabilities and DATA framing.
//!
//! Everything here is bounded and incremental, and knows nothing of sessions:
//!
//! - [`ReplyParser`] / [`Reply`]: replies, parsed from any split of the stream (client side)
//!   and encoded (server side); grammar and limits in [`reply`].
//! - [`CommandParser`] / [`Command`]: commands, parsed one line at a time (server side) and
//!   encoded (client side), with typed paths ([`ReversePath`], [`ForwardPath`]) and
//!   parameters ([`MailParams`]); see [`command`], [`path`], [`params`].
//! - [`EhloReply`] / [`Capabilities`]: the EHLO reply, read and generated.
//! - [`DataEncoder`] / [`DataDecoder`]: DATA dot-stuffing and end-of-data, streaming; the
//!   exact CR/LF rules (and why `LF . LF` never ends data) are in [`data`].
//!
//! Both parsers stop right after the item they complete and report how many bytes they
//! took ([`Progress::consumed`]), so the bytes after a `STARTTLS` line or after the `220`
//! reply to it stay visible to the session (RFC 3207 §5, CVE-2011-0411):
//!
//! ```
//! use mailtls::smtp::ReplyParser;
//! let mut parser = ReplyParser::default();
//! let read = b"220 go\r\n250 inj"; // a forged, CRLF-less fragment behind the go-ahead
//! let step = parser.feed(read).unwrap();
//! assert_eq!(step.item.unwrap().code().as_u16(), 220);
//! let leftover = &read[step.consumed..];
//! assert_eq!(leftover, b"250 inj"); // the client must refuse to start TLS now
//! ```

/// A 256-entry lookup table built at compile time: `byte_table!(init, |b| value)` sets entry
/// `b` to `value` for every octet `b`, so a scan costs one load per octet.
macro_rules! byte_table {
    ($init:expr, |$b:ident| $value:expr) => {{
        let mut table = [$init; 256];
        let mut $b = 0u8;
        loop {
            table[$b as usize] = $value;
            if $b == u8::MAX {
                break;
            }
            $b += 1;
        }
        table
    }};
}

pub mod code;
pub mod command;
pub mod data;
pub mod ehlo;
mod line;
pub mod params;
pub mod path;
pub mod reply;

pub use code::{Class, Code, EnhancedCode, InvalidEnhancedCode};
pub use command::{
    Argument, AuthMechanism, Command, CommandConfig, CommandError, CommandParser, InitialResponse,
    Verb,
};
pub use data::{
    BareLineEnds, DataDecoder, DataEncoder, DataError, DataStatus, DEFAULT_MAX_TEXT_LINE,
};
pub use ehlo::{Capabilities, EhloError, EhloReply, Extension};
pub use line::Progress;
pub use params::{Body, MailParams, Param, ParamError};
pub use path::{
    AddressLiteral, Domain, ForwardPath, Host, Mailbox, PathError, ReversePath, MAX_DOMAIN,
    MAX_LOCAL_PART, MAX_PATH,
};
pub use reply::{Reply, ReplyConfig, ReplyError, ReplyParser};
