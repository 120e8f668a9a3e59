//! Adapters for the [`Store`](crate::state::Store) trait.
//!
//! - [`SqliteStore`] (feature `sqlite`): one SQLite file, the embedded default. rusqlite with
//!   its bundled SQLite, so no system library is needed.
//! - [`RedisStore`] (feature `redis`): a Redis (or compatible) server shared by a fleet of
//!   MTAs, spoken to over a small RESP2 client of its own on `std::net::TcpStream` (no TLS; a
//!   fleet store sits on a trusted network or behind a local tunnel).
//!
//! [`open`] picks one from a `--state` argument: `redis://...` or a file path.

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore, REDIS_SCHEMA_VERSION};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, APPLICATION_ID, SCHEMA_VERSION};

use crate::time::Timestamp;

/// A timestamp as stores write it: milliseconds since the epoch, saturating.
pub(crate) fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// A timestamp read back from [`millis`]; a negative number reads as the epoch.
pub(crate) fn timestamp(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}
