//! Adapters for the [`Store`] trait.
//!
//! - [`SqliteStore`] (feature `sqlite`): one SQLite file, the embedded default. rusqlite with
//!   its bundled SQLite, so no system library is needed.
//! - [`RedisStore`] (feature `redis`): a Redis (or compatible) server shared by a fleet of
//!   MTAs, spoken to over a small RESP2 client of its own on `std::net::TcpStream` (no TLS; a
//!   fleet store sits on a trusted network or behind a local tunnel).
//!
//! [`reports`] (feature `reports`) sends the TLS-RPT reports a store holds.
//!
//! [`open`] picks one from a `--state` argument: `redis://...` or a file path.

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "reports")]
pub mod reports;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore, REDIS_SCHEMA_VERSION};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, APPLICATION_ID, SCHEMA_VERSION};

use crate::state::{Store, StoreError};

#[cfg(any(feature = "sqlite", feature = "redis"))]
/// A timestamp as stores write it: milliseconds since the epoch, saturating.
pub(crate) fn millis(t: crate::time::Timestamp) -> i64 {
    i64::try_from(t.since_epoch().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(any(feature = "sqlite", feature = "redis"))]
/// A timestamp read back from [`millis`]; a negative number reads as the epoch.
pub(crate) fn timestamp(millis: i64) -> crate::time::Timestamp {
    crate::time::Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}

/// Opens the store a `--state` argument names: a `redis://` URL (feature `redis`) or the path
/// of a SQLite file (feature `sqlite`), created on first use.
///
/// A kind of store this build was compiled without fails with [`StoreError::Unavailable`]
/// saying which feature it needs.
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    if spec.starts_with("redis://") {
        #[cfg(feature = "redis")]
        return Ok(Box::new(RedisStore::open(spec)?));
        #[cfg(not(feature = "redis"))]
        return Err(StoreError::Unavailable {
            location: spec.to_owned(),
            detail: "this mailtls was built without the redis feature".to_owned(),
        });
    }
    #[cfg(feature = "sqlite")]
    return Ok(Box::new(SqliteStore::open(spec)?));
    #[cfg(not(feature = "sqlite"))]
    Err(StoreError::Unavailable {
        location: spec.to_owned(),
        detail: "this mailtls was built without the sqlite feature".to_owned(),
    })
}
