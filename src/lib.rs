//! # mailtls: transport TLS for mail servers, without I/O
//!
//! mailtls gives a mail transfer agent the transport-TLS behaviour of a large hosted mail
//! service: opportunistic STARTTLS by default, forced TLS per partner, partner-certificate
//! matching, a safe protocol and cipher fallback ladder, DANE, MTA-STS, TLS-RPT and REQUIRETLS.
//!
//! The core is *sans-IO*. It owns no socket, reads no clock and opens no file. The caller moves
//! bytes and time in, and takes bytes, deadlines and events out:
//!
//! ```text
//!              bytes from the peer                          events
//!   socket  ─────────────────────────►  ┌────────────┐  ─────────────────►  your MTA
//!   (yours)                             │  session   │   greeted, ready,
//!           ◄─────────────────────────  │ SMTP + TLS │   TLS established,
//!              bytes to the peer        │  + policy  │   downgraded, failed
//!                                       └────────────┘
//!                 now ───────────────►        │        ───────────────►  next deadline
//! ```
//!
//! Layers, lowest first; a module uses only its own layer and the ones below
//! (`tests/layering.rs` checks every `crate::` path against this list):
//!
//! - [`time`] and [`tlsrpt`]: the ground floor. Time as a parameter, and the TLS-RPT
//!   (RFC 8460) words every layer records an outcome in: result types, policy references,
//!   session outcomes.
//! - [`smtp`]: the SMTP wire grammar (replies, commands, EHLO capabilities, DATA), bounded and
//!   incremental.
//! - [`names`]: DNS names and name patterns, with an explicit matching dialect per caller.
//! - [`cert`]: certificate facts, fingerprints and pins, chain validation, partner matching.
//! - [`policy`]: the decision. Levels, Postfix tables, connectors, DANE, MTA-STS, the ladder.
//! - [`tls`]: the only module that names rustls connection types.
//! - [`session`]: the one driving surface ([`Session`]) both sessions implement.
//! - [`client`] and [`server`]: the sans-IO SMTP sessions (the client's attempt driver walks
//!   the ladder, the server applies the inbound TLS policy); neither uses the other.
//! - [`report`]: TLS-RPT aggregation and the report documents.
//!
//! The thin adapters in `io` (feature `blocking`, the default, and `tokio`) drive the core over
//! real sockets, and the `ffi` module (feature `capi`) exports it to C.

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod cert;
pub mod client;
#[cfg(feature = "capi")]
#[allow(unsafe_code)]
pub mod ffi;
#[cfg(any(feature = "blocking", feature = "tokio"))]
pub mod io;
pub mod manual;
pub mod names;
pub mod policy;
pub mod report;
pub mod server;
pub mod session;
pub mod smtp;
pub mod state;
pub mod time;
pub mod tls;
pub mod tlsrpt;

// For users. Inside the crate name them by their modules (`crate::session::Session`,
// `crate::time::Timestamp`): a root re-export is no module, and tests/layering.rs refuses it.
pub use session::Session;
pub use time::Timestamp;
