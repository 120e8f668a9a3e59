//! Shared in-memory test helpers: certificates (rcgen), verifiers, a TLS pair driver in the
//! rustls `transfer` style, and intolerant TLS peers for the ladder tests.
//!
//! Each integration test binary includes this module with `mod support;`; not every binary
//! uses every helper.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod drive;
pub mod pair;
pub mod peers;
pub mod pki;
pub mod plans;
pub mod smtp_server;
pub mod tls_pair;
pub mod verify;

use mailtls::Timestamp;

/// The virtual "now" of every test: 2026-09-21, inside every test certificate's validity
/// except the expired one.
pub const NOW: Timestamp = Timestamp::from_unix_secs(1_790_000_000);
