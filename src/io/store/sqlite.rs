//! The embedded store: one SQLite file (rusqlite with its bundled SQLite).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::{millis, timestamp};
use crate::names::{DnsName, HostId};
use crate::policy::mta_sts::{CachedPolicy, StsPolicy};
use crate::state::{
    host_key, rung_from_str, rung_rank, ReportDay, RungSeen, Store, StoreError, Tally, TallyKey,
};
use crate::time::Timestamp;
use crate::tlsrpt::SessionOutcome;

/// `PRAGMA application_id` of a mailtls state file (`mtls` in ASCII), so another program's
/// SQLite database is never mistaken for one.
pub const APPLICATION_ID: i32 = 0x6d74_6c73;

/// The schema, one migration per version: version `n` is reached by running
/// `MIGRATIONS[n - 1]` on version `n - 1`, inside one transaction with the version bump.
const MIGRATIONS: &[&str] = &[
    // 1: the MTA-STS cache, the downgrade memory, the TLS-RPT counters.
    "CREATE TABLE sts_policy (
        domain TEXT PRIMARY KEY NOT NULL,
        id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE rung_memory (
        host TEXT PRIMARY KEY NOT NULL,
        rung TEXT NOT NULL,
        rank INTEGER NOT NULL,
        seen_at INTEGER NOT NULL
     );
     CREATE TABLE rpt_tally (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        policy TEXT NOT NULL,
        failure TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (domain, day, policy, failure)
     );",
    // 2: which report destinations a day was delivered to.
    "CREATE TABLE rpt_sent (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        destination TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        PRIMARY KEY (domain, day, destination)
     );",
    // 3: who is sending a day's report to a destination right now (two senders, one file).
    "CREATE TABLE rpt_claim (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        destination TEXT NOT NULL,
        holder TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (domain, day, destination)
     );",
];

/// The newest schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How a [`SqliteStore`] opens its file.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a write waits for another process holding the file's write lock before it
    /// fails with [`StoreError::Unavailable`]. Default 5 s.
    pub busy_timeout: Duration,
    /// The largest the file may grow, in bytes; past it writes fail with
    /// [`StoreError::Full`] and nothing recorded before is lost. `None` (the default): no cap
    /// but the disk's.
    pub max_bytes: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            max_bytes: None,
        }
    }
}

impl SqliteOptions {
    /// The same options with a cap on the file's size.
    #[must_use]
    pub const fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// The same options with another busy timeout.
    #[must_use]
    pub const fn with_busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }
}

/// A [`Store`] in one SQLite file: created on first use, its schema versioned and migrated,
/// written in WAL mode with one transaction per change, safe against a crash in the middle of
/// a write and shared safely by several processes (a write waits up to the busy timeout for
/// another's).
///
/// ```
/// use mailtls::io::store::SqliteStore;
/// use mailtls::state::Store;
///
/// let dir = std::env::temp_dir().join(format!("mailtls-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let store = SqliteStore::open(dir.join("state.sqlite")).unwrap();
/// assert!(store.report_days().unwrap().is_empty());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    location: String,
}

impl SqliteStore {
    /// Opens (or creates) the state file at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) the state file at `path`.
    ///
    /// A file that is not SQLite, is corrupt, or is another program's database fails with
    /// [`StoreError::NotAStateFile`] and is left untouched; a schema newer than this build's
    /// fails with [`StoreError::NewerSchema`]; an older one is migrated.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        let err = |e: rusqlite::Error| map_error(&location, &e);
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(options.busy_timeout).map_err(err)?;
        let deadline = std::time::Instant::now() + options.busy_timeout;
        check_identity(&conn, &location, deadline)?;
        // WAL: readers never block the writer, and a crash mid-write leaves the last commit.
        let mode: String = when_free(deadline, || {
            conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        })
        .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend {
                location,
                detail: format!("could not switch the journal to WAL (it is {mode})"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        if let Some(max) = options.max_bytes {
            let page: i64 = conn
                .pragma_query_value(None, "page_size", |row| row.get(0))
                .map_err(err)?;
            let pages = i64::try_from(max).unwrap_or(i64::MAX) / page.max(1);
            conn.pragma_update(None, "max_page_count", pages.max(1))
                .map_err(err)?;
        }
        migrate(&mut conn, &location)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
            location,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (after [`open`](Self::open): [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| self.error(&e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection leaves SQLite's own state consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, e: &rusqlite::Error) -> StoreError {
        map_error(&self.location, e)
    }

    fn bad(&self, what: String, detail: String) -> StoreError {
        StoreError::BadRecord {
            location: self.location.clone(),
            what,
            detail,
        }
    }
}

/// Refuses a file that is not an empty database nor a mailtls state file, before anything is
/// written to it.
fn check_identity(
    conn: &Connection,
    location: &str,
    deadline: std::time::Instant,
) -> Result<(), StoreError> {
    // One read transaction, so the three reads see one snapshot: another process creating
    // the schema at this moment is seen either not at all or whole (never its tables
    // without its application id). Dropped without a commit: nothing was written.
    let (app, version, objects) = when_free(deadline, || {
        let snapshot = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
        let app: i32 = snapshot.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let version: i64 = snapshot.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let objects: i64 =
            snapshot.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        Ok((app, version, objects))
    })
    .map_err(|e| map_error(location, &e))?;
    let empty = app == 0 && version == 0 && objects == 0;
    if !empty && app != APPLICATION_ID {
        return Err(StoreError::NotAStateFile {
            location: location.to_owned(),
            detail: format!(
                "a SQLite database with {objects} schema objects and application id {app:#x}, \
                 not mailtls's {APPLICATION_ID:#x}"
            ),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            location: location.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`] in one write transaction; a second process
/// migrating at the same time waits, then finds nothing left to do.
fn migrate(conn: &mut Connection, location: &str) -> Result<(), StoreError> {
    migrate_to(conn, location, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, location: &str, target: i64) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| map_error(location, &e);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    if version >= target {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            location: location.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let to = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(1);
        if to > version && to <= target {
            tx.execute_batch(sql).map_err(err)?;
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(err)?;
    tx.pragma_update(None, "user_version", target)
        .map_err(err)?;
    tx.commit().map_err(err)
}

/// Runs `op` again while another connection holds the file in a way SQLite's busy handler
/// does not wait for (a second process switching a new file to WAL, or recovering its WAL,
/// at the moment this one opens it), until `deadline`.
fn when_free<T>(
    deadline: std::time::Instant,
    mut op: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    loop {
        match op() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn map_error(location: &str, e: &rusqlite::Error) -> StoreError {
    let location = location.to_owned();
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::NotAStateFile { location, detail }
        }
        Some(ErrorCode::DiskFull) => StoreError::Full { location, detail },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable { location, detail },
        _ => StoreError::Backend { location, detail },
    }
}

impl Store for SqliteStore {
    fn location(&self) -> &str {
        &self.location
    }

    fn sts_policy(&self, domain: &DnsName) -> Result<Option<CachedPolicy>, StoreError> {
        let row: Option<(String, String, i64, i64)> = self
            .lock()
            .prepare_cached(
                "SELECT id, policy, fetched_at, expires_at FROM sts_policy WHERE domain = ?1",
            )
            .and_then(|mut st| {
                st.query_row([domain.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
            })
            .map_err(|e| self.error(&e))?;
        let Some((id, text, fetched_at, expires_at)) = row else {
            return Ok(None);
        };
        let policy = StsPolicy::parse(text.as_bytes()).map_err(|e| {
            self.bad(
                format!("MTA-STS policy for {}", domain.as_str()),
                e.to_string(),
            )
        })?;
        Ok(Some(CachedPolicy {
            id,
            policy,
            fetched_at: timestamp(fetched_at),
            expires_at: timestamp(expires_at),
        }))
    }

    fn put_sts_policy(&self, domain: &DnsName, entry: &CachedPolicy) -> Result<(), StoreError> {
        self.lock()
            .prepare_cached(
                "INSERT INTO sts_policy (domain, id, policy, fetched_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (domain) DO UPDATE SET id = excluded.id, policy = excluded.policy,
                   fetched_at = excluded.fetched_at, expires_at = excluded.expires_at
                 WHERE excluded.fetched_at >= sts_policy.fetched_at",
            )
            .and_then(|mut st| {
                st.execute(params![
                    domain.as_str(),
                    entry.id,
                    entry.policy.lines().join("\n"),
                    millis(entry.fetched_at),
                    millis(entry.expires_at),
                ])
            })
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    fn best_rung(&self, host: &HostId) -> Result<Option<RungSeen>, StoreError> {
        let row: Option<(String, i64)> = self
            .lock()
            .prepare_cached("SELECT rung, seen_at FROM rung_memory WHERE host = ?1")
            .and_then(|mut st| {
                st.query_row([host_key(host)], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.error(&e))?;
        let Some((rung, at)) = row else {
            return Ok(None);
        };
        let rung = rung_from_str(&rung)
            .map_err(|detail| self.bad(format!("downgrade memory for {host}"), detail))?;
        Ok(Some(RungSeen {
            rung,
            at: timestamp(at),
        }))
    }

    fn remember_rung(&self, host: &HostId, seen: RungSeen) -> Result<(), StoreError> {
        self.lock()
            .prepare_cached(
                "INSERT INTO rung_memory (host, rung, rank, seen_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (host) DO UPDATE SET rung = excluded.rung, rank = excluded.rank,
                   seen_at = excluded.seen_at
                 WHERE excluded.rank <= rung_memory.rank",
            )
            .and_then(|mut st| {
                st.execute(params![
                    host_key(host),
                    seen.rung.as_str(),
                    rung_rank(seen.rung),
                    millis(seen.at),
                ])
            })
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    fn forget_rung(&self, host: &HostId) -> Result<(), StoreError> {
        self.lock()
            .execute("DELETE FROM rung_memory WHERE host = ?1", [host_key(host)])
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    fn record_outcome(&self, outcome: &SessionOutcome) -> Result<(), StoreError> {
        let day = ReportDay::of(&outcome.policy.policy_domain, outcome.at);
        let key = TallyKey::of_outcome(outcome);
        self.lock()
            .prepare_cached(
                "INSERT INTO rpt_tally (domain, day, policy, failure, count)
                 VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (domain, day, policy, failure) DO UPDATE SET count = count + 1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    day.policy_domain,
                    day_number(day.day),
                    key.policy,
                    key.failure
                ])
            })
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    fn report_days(&self) -> Result<Vec<ReportDay>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached("SELECT DISTINCT domain, day FROM rpt_tally ORDER BY day, domain")
            .map_err(|e| self.error(&e))?;
        let rows = st
            .query_map([], |r| {
                Ok(ReportDay {
                    policy_domain: r.get(0)?,
                    day: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                })
            })
            .map_err(|e| self.error(&e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(&e))
    }

    fn tallies(&self, day: &ReportDay) -> Result<Vec<Tally>, StoreError> {
        let rows: Vec<(TallyKey, i64)> = {
            let conn = self.lock();
            let mut st = conn
                .prepare_cached(
                    "SELECT policy, failure, count FROM rpt_tally WHERE domain = ?1 AND day = ?2",
                )
                .map_err(|e| self.error(&e))?;
            let rows = st
                .query_map(params![day.policy_domain, day_number(day.day)], |r| {
                    Ok((
                        TallyKey {
                            policy: r.get(0)?,
                            failure: r.get(1)?,
                        },
                        r.get(2)?,
                    ))
                })
                .map_err(|e| self.error(&e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.error(&e))?
        };
        rows.into_iter()
            .map(|(key, count)| {
                key.decode(u64::try_from(count).unwrap_or(0))
                    .map_err(|detail| self.bad(format!("TLS-RPT counter of {day}"), detail))
            })
            .collect()
    }

    fn mark_sent(
        &self,
        day: &ReportDay,
        destination: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.lock()
            .prepare_cached(
                "INSERT OR IGNORE INTO rpt_sent (domain, day, destination, sent_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    day.policy_domain,
                    day_number(day.day),
                    destination,
                    millis(at)
                ])
            })
            .map(|changed| changed == 1)
            .map_err(|e| self.error(&e))
    }

    fn is_sent(&self, day: &ReportDay, destination: &str) -> Result<bool, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT 1 FROM rpt_sent WHERE domain = ?1 AND day = ?2 AND destination = ?3",
            )
            .and_then(|mut st| {
                st.exists(params![day.policy_domain, day_number(day.day), destination])
            })
            .map_err(|e| self.error(&e))
    }

    fn claim_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement, so one atomic step under SQLite's write lock: no claim when the
        // report is marked sent; else take a free or expired claim, or renew our own.
        self.lock()
            .prepare_cached(
                "INSERT INTO rpt_claim (domain, day, destination, holder, until)
                 SELECT ?1, ?2, ?3, ?4, ?6
                 WHERE NOT EXISTS (SELECT 1 FROM rpt_sent
                                   WHERE domain = ?1 AND day = ?2 AND destination = ?3)
                 ON CONFLICT (domain, day, destination) DO UPDATE
                 SET holder = excluded.holder, until = excluded.until
                 WHERE rpt_claim.holder = excluded.holder OR rpt_claim.until <= ?5",
            )
            .and_then(|mut st| {
                st.execute(params![
                    day.policy_domain,
                    day_number(day.day),
                    destination,
                    holder,
                    millis(now),
                    millis(until)
                ])
            })
            .map(|changed| changed == 1)
            .map_err(|e| self.error(&e))
    }

    fn release_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .prepare_cached(
                "DELETE FROM rpt_claim
                 WHERE domain = ?1 AND day = ?2 AND destination = ?3 AND holder = ?4",
            )
            .and_then(|mut st| {
                st.execute(params![
                    day.policy_domain,
                    day_number(day.day),
                    destination,
                    holder
                ])
            })
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    fn forget_days_before(&self, day: u64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let err = |e: rusqlite::Error| map_error(&self.location, &e);
        let tx = conn.transaction().map_err(err)?;
        tx.execute("DELETE FROM rpt_tally WHERE day < ?1", [day_number(day)])
            .map_err(err)?;
        tx.execute("DELETE FROM rpt_sent WHERE day < ?1", [day_number(day)])
            .map_err(err)?;
        tx.execute("DELETE FROM rpt_claim WHERE day < ?1", [day_number(day)])
            .map_err(err)?;
        tx.commit().map_err(err)
    }
}

fn day_number(day: u64) -> i64 {
    i64::try_from(day).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a test failure.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Writes a version-1 file, as the first release of the schema left it.
    pub(super) fn write_v1(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        migrate_to(&mut conn, &path.display().to_string(), 1).unwrap();
        conn.execute(
            "INSERT INTO rung_memory (host, rung, rank, seen_at) VALUES ('dns:mx.example', 'tls12', 1, 5)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_version_1_file_is_migrated_and_keeps_its_rows() {
        let dir = std::env::temp_dir().join(format!("mailtls-sqlite-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v1.sqlite");
        let _ = std::fs::remove_file(&path);
        write_v1(&path);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let host = HostId::Dns(DnsName::parse("mx.example").unwrap());
        assert_eq!(
            store.best_rung(&host).unwrap().map(|s| s.rung),
            Some(crate::policy::ladder::Rung::Tls12Only)
        );
        let day = ReportDay::of("example.com", Timestamp::from_unix_secs(0));
        assert!(store
            .mark_sent(&day, "mailto:a@b", Timestamp::UNIX_EPOCH)
            .unwrap());
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_programs_database_is_refused_untouched() {
        let dir =
            std::env::temp_dir().join(format!("mailtls-sqlite-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("other.db");
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (1);")
            .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotAStateFile { .. }), "{err}");
        assert!(err.to_string().contains("other.db"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused_with_both_versions() {
        let dir = std::env::temp_dir().join(format!("mailtls-sqlite-newer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.sqlite");
        let _ = std::fs::remove_file(&path);
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert_eq!(
            err,
            StoreError::NewerSchema {
                location: path.display().to_string(),
                found: SCHEMA_VERSION + 1,
                supported: SCHEMA_VERSION,
            }
        );
        assert!(err.to_string().contains("upgrade mailtls"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
