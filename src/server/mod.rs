//! The inbound SMTP session, without I/O: greeting, EHLO, STARTTLS with the server-side TLS
//! handshake, the inbound TLS policy, limits and timeouts.
//!
//! ```text
//!   bytes from the client ──► handle_input ──►┌───────────────┐──► poll_event ──► your MTA
//!   bytes to the client   ◄── poll_transmit ◄─│ ServerSession │◄── accept / reject
//!   now                   ──► handle_timeout─►└───────────────┘──► poll_timeout
//! ```
//!
//! The session decides everything the protocol and the TLS policy decide (sequence, TLS
//! requirement, limits, inbound connectors); the application decides who may send what to
//! whom (each `MAIL FROM`, `RCPT TO` and message is an event it answers) and where message
//! data goes (it comes out as dot-unstuffed chunks, never buffered whole).

mod config;
mod enforce;
mod error;
mod event;
mod session;

pub use config::{ClientAuth, ClientInfo, InputTimeouts, Limits, ServerConfig, ServerTls};
pub use error::ServerError;
pub use event::{AbortReason, CloseReason, MailFrom, Pending, RcptTo, Refusal, ServerEvent};
pub use session::ServerSession;
