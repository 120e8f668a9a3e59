//! Shared test helpers: the one test PKI (rcgen) and the committed certificate fixtures,
//! verifiers, the quinn-style client/server [`pair`], a TLS pair driver in the rustls
//! `transfer` style, intolerant TLS peers for the ladder tests, a server session on a
//! virtual clock with a scripted rustls client, loopback helpers for the adapter tests, the
//! DNS + HTTPS lab (`lab`), and what the real environments of .ci share (`real_env`).
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

pub mod dane;
pub mod drive;
pub mod fixtures;
pub mod lab;
#[cfg(any(feature = "blocking", feature = "tokio"))]
pub mod loopback;
pub mod pair;
pub mod peers;
pub mod pki;
pub mod plans;
// Also included by `support_peers` (`#[path]`); a test binary may include both modules.
#[allow(clippy::duplicate_mod)]
pub mod real_env;
pub mod server_driver;
pub mod smtp_server;
pub mod tls_pair;
pub mod verify;

use mailtls::Timestamp;

/// The virtual "now" of every test: 2027-01-01T00:00:00Z, inside the validity of every test
/// certificate (the committed fixtures of `tests/data` included) except those made expired or
/// not yet valid on purpose.
pub const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);
