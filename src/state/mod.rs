//! State that survives a restart and is shared by a fleet: one [`Store`] trait, three families.
//!
//! MTA-STS is trust on first use (RFC 8461 §10): a policy cache that a restart empties is a
//! downgrade an attacker can wait for. The downgrade memory has the same weakness, and TLS-RPT
//! outcomes that live only in memory are never reported. So all three live behind [`Store`]:
//!
//! - **MTA-STS policies** per policy domain: the policy, the TXT id it was fetched under, when
//!   it was fetched and when it expires ([`CachedPolicy`]). A newer fetch replaces an older one;
//!   an older one never replaces a newer one (two MTAs of a fleet racing).
//! - **Downgrade memory** per host: the strongest [`Rung`] a delivery completed on, and when
//!   ([`RungSeen`]). A weaker rung never replaces a stronger one.
//! - **TLS-RPT outcomes** per policy domain and UTC day ([`ReportDay`]): counters per policy,
//!   per success or per RFC 8460 failure detail ([`Tally`]), and which report destinations a day
//!   was already delivered to, so a report is never lost and never sent twice.
//!
//! The trait is the core's vocabulary; it does no I/O itself. The adapters live in
//! `mailtls::io::store` (feature `sqlite`: one SQLite file; feature `redis`: a Redis server
//! shared by several MTAs). [`MemoryState`] is the in-process implementation (tests, and a
//! process that wants no persistence).
//!
//! In front of a store sit the in-process caches: [`StsState`] puts the
//! [`StsCache`](crate::policy::mta_sts::StsCache) in front of the store's policies (memory
//! first, store behind), [`StoredDowngradeMemory`] does the same for the downgrade memory. When
//! the store fails, the in-memory state still applies: a cached policy keeps governing the
//! decision, a miss goes the RFC 8461 way (fetch, or defer on a temporary DNS failure), and the
//! failure is reported once through a [`StoreNotice`] ([`StoreHealth`]), not once per message.
//!
//! ```
//! use mailtls::names::DnsName;
//! use mailtls::policy::mta_sts::{CacheStep, Discovery, StsCache, StsPolicy};
//! use mailtls::state::{MemoryState, StsState};
//! use mailtls::Timestamp;
//!
//! let store = MemoryState::new();
//! let domain = DnsName::parse("example.com").unwrap();
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let policy = StsPolicy::parse(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n").unwrap();
//!
//! // The first process fetched the policy and stored it.
//! let mut first = StsState::new(StsCache::default(), &store);
//! first.complete_fetch(&domain, "20240101", Ok(policy.clone()), now);
//!
//! // A second process (or the same one after a restart) starts with an empty memory cache;
//! // an attacker strips the TXT record: the stored policy still applies.
//! let mut second = StsState::new(StsCache::default(), &store);
//! let stepped = second.step(&domain, Discovery::NoRecord, now);
//! assert!(stepped.notice.is_none());
//! match stepped.step {
//!     CacheStep::Done(lookup) => assert_eq!(lookup.active_policy(), Some(&policy)),
//!     other => panic!("expected the stored policy, got {other:?}"),
//! }
//! ```

mod downgrade;
mod health;
mod memory;
mod sts;
mod tally;

use core::fmt;

pub use downgrade::StoredDowngradeMemory;
pub use health::{StoreHealth, StoreNotice};
pub use memory::MemoryState;
pub use sts::{StsCaching, StsState, StsStepped};
pub use tally::{day_report, Tally, TallyKey};

use crate::names::{DnsName, HostId};
use crate::policy::ladder::Rung;
use crate::policy::mta_sts::CachedPolicy;
use crate::report::ReportPeriod;
use crate::time::Timestamp;
use crate::tlsrpt::SessionOutcome;

/// Seconds in a UTC day, the TLS-RPT report period this store counts in.
pub const DAY_SECS: u64 = 86_400;

/// The strongest rung a host completed a delivery on, and when that was last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RungSeen {
    /// The rung.
    pub rung: Rung,
    /// When a delivery last completed on it.
    pub at: Timestamp,
}

/// One TLS-RPT report's worth of outcomes: a policy domain and a UTC day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportDay {
    /// The policy domain, lower case without a trailing dot.
    pub policy_domain: String,
    /// Days since 1970-01-01 (UTC).
    pub day: u64,
}

impl ReportDay {
    /// The day `at` falls on, for `policy_domain` (normalised to lower case, no trailing dot).
    pub fn of(policy_domain: &str, at: Timestamp) -> Self {
        Self {
            policy_domain: normalise_domain(policy_domain),
            day: at.unix_secs() / DAY_SECS,
        }
    }

    /// The report period: the whole day, `00:00:00Z` to `23:59:59Z`.
    pub fn period(&self) -> ReportPeriod {
        let start = self.day.saturating_mul(DAY_SECS);
        ReportPeriod {
            start: Timestamp::from_unix_secs(start),
            end: Timestamp::from_unix_secs(start.saturating_add(DAY_SECS - 1)),
        }
    }

    /// Whether the day is over at `now` (its report may be sent).
    pub fn is_over(&self, now: Timestamp) -> bool {
        now.unix_secs() / DAY_SECS > self.day
    }
}

impl fmt::Display for ReportDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = crate::report::rfc3339(self.period().start);
        let date = start.get(..10).unwrap_or(&start);
        write!(f, "{} on {date}", self.policy_domain)
    }
}

/// Why a store operation failed. Every variant names the store (a file path or a server
/// address), so a log line says which one.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached: a server refused or timed out, a file could not be
    /// opened. Nothing was changed; the in-memory state still applies.
    #[error("state store {location} is unavailable: {detail}")]
    Unavailable {
        /// The file or server.
        location: String,
        /// What failed.
        detail: String,
    },
    /// The file is not a mailtls state file: not SQLite at all, corrupt, or another
    /// application's database. mailtls does not touch it.
    #[error("{location} is not a mailtls state file (corrupt, or another program's): {detail}")]
    NotAStateFile {
        /// The file.
        location: String,
        /// What was found.
        detail: String,
    },
    /// The state was written by a newer mailtls, with a schema this one does not know.
    #[error(
        "{location} has state schema version {found}, newer than the {supported} this mailtls \
         knows; upgrade mailtls or point it at another file"
    )]
    NewerSchema {
        /// The file or server.
        location: String,
        /// The version found.
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
    /// The store has no room left (a full disk, a server out of memory). Nothing was changed.
    #[error("state store {location} is full: {detail}")]
    Full {
        /// The file or server.
        location: String,
        /// What the store said.
        detail: String,
    },
    /// A stored record does not read back (edited by hand, or written by something else).
    /// It is ignored, never trusted.
    #[error("state store {location} holds an unreadable {what}: {detail}")]
    BadRecord {
        /// The file or server.
        location: String,
        /// Which record (`MTA-STS policy for example.com`, say).
        what: String,
        /// Why it does not read.
        detail: String,
    },
    /// Any other failure the backend reported.
    #[error("state store {location} failed: {detail}")]
    Backend {
        /// The file or server.
        location: String,
        /// What the store said.
        detail: String,
    },
}

/// Where mailtls keeps the state that must outlive one process: the three families of the
/// [module documentation](self).
///
/// Every method takes `&self`: an implementation serialises access itself, so one store can be
/// shared by every thread of a process (`Send + Sync`). Every method can fail with a
/// [`StoreError`]; callers keep their in-memory state when it does (see [`StsState`]).
pub trait Store: Send + Sync {
    /// The file or server, for messages.
    fn location(&self) -> &str;

    /// The cached MTA-STS policy for `domain`, expired or not (the caller checks
    /// [`CachedPolicy::expires_at`]).
    fn sts_policy(&self, domain: &DnsName) -> Result<Option<CachedPolicy>, StoreError>;

    /// Stores the policy fetched for `domain`. It replaces a stored policy fetched at the same
    /// time or earlier, never one fetched later.
    fn put_sts_policy(&self, domain: &DnsName, entry: &CachedPolicy) -> Result<(), StoreError>;

    /// The strongest rung `host` completed a delivery on, if remembered.
    fn best_rung(&self, host: &HostId) -> Result<Option<RungSeen>, StoreError>;

    /// Records a delivery to `host` completed on `seen.rung`: kept when no rung is remembered
    /// or it is at least as strong as the remembered one (the time is refreshed); a weaker rung
    /// changes nothing.
    fn remember_rung(&self, host: &HostId, seen: RungSeen) -> Result<(), StoreError>;

    /// Forgets the host (an operator confirmed its downgrade).
    fn forget_rung(&self, host: &HostId) -> Result<(), StoreError>;

    /// Counts one session outcome against the policy that governed it, on the UTC day of
    /// `outcome.at` (`unused_policies` are never counted).
    fn record_outcome(&self, outcome: &SessionOutcome) -> Result<(), StoreError>;

    /// Every policy domain and day with at least one counted outcome, oldest first.
    fn report_days(&self) -> Result<Vec<ReportDay>, StoreError>;

    /// The counters of one policy domain and day, in no particular order.
    fn tallies(&self, day: &ReportDay) -> Result<Vec<Tally>, StoreError>;

    /// Marks the day's report delivered to `destination` (an `rua` URI). Returns `false` when
    /// it was already marked (by this process or another): the caller must not send again.
    fn mark_sent(
        &self,
        day: &ReportDay,
        destination: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Whether the day's report was delivered to `destination`.
    fn is_sent(&self, day: &ReportDay, destination: &str) -> Result<bool, StoreError>;

    /// Claims the sending of the day's report to `destination` for `holder` (one run of a
    /// report sender) until `until`, so two senders on one store never send it twice.
    /// Returns `true` when the report is not yet marked sent and nobody else holds an
    /// unexpired claim at `now` (`holder`'s own claim is renewed). One atomic step.
    fn claim_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives up `holder`'s claim (the send failed: the next run may try at once). Another
    /// holder's claim is left alone.
    fn release_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
    ) -> Result<(), StoreError>;

    /// Drops the counters and sent marks of every day before `day` (days since the epoch).
    fn forget_days_before(&self, day: u64) -> Result<(), StoreError>;
}

/// Implements [`Store`] for a pointer type by forwarding every call to the store it points to.
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn location(&self) -> &str {
                (**self).location()
            }
            fn sts_policy(&self, domain: &DnsName) -> Result<Option<CachedPolicy>, StoreError> {
                (**self).sts_policy(domain)
            }
            fn put_sts_policy(
                &self,
                domain: &DnsName,
                entry: &CachedPolicy,
            ) -> Result<(), StoreError> {
                (**self).put_sts_policy(domain, entry)
            }
            fn best_rung(&self, host: &HostId) -> Result<Option<RungSeen>, StoreError> {
                (**self).best_rung(host)
            }
            fn remember_rung(&self, host: &HostId, seen: RungSeen) -> Result<(), StoreError> {
                (**self).remember_rung(host, seen)
            }
            fn forget_rung(&self, host: &HostId) -> Result<(), StoreError> {
                (**self).forget_rung(host)
            }
            fn record_outcome(&self, outcome: &SessionOutcome) -> Result<(), StoreError> {
                (**self).record_outcome(outcome)
            }
            fn report_days(&self) -> Result<Vec<ReportDay>, StoreError> {
                (**self).report_days()
            }
            fn tallies(&self, day: &ReportDay) -> Result<Vec<Tally>, StoreError> {
                (**self).tallies(day)
            }
            fn mark_sent(
                &self,
                day: &ReportDay,
                destination: &str,
                at: Timestamp,
            ) -> Result<bool, StoreError> {
                (**self).mark_sent(day, destination, at)
            }
            fn is_sent(&self, day: &ReportDay, destination: &str) -> Result<bool, StoreError> {
                (**self).is_sent(day, destination)
            }
            fn claim_send(
                &self,
                day: &ReportDay,
                destination: &str,
                holder: &str,
                now: Timestamp,
                until: Timestamp,
            ) -> Result<bool, StoreError> {
                (**self).claim_send(day, destination, holder, now, until)
            }
            fn release_send(
                &self,
                day: &ReportDay,
                destination: &str,
                holder: &str,
            ) -> Result<(), StoreError> {
                (**self).release_send(day, destination, holder)
            }
            fn forget_days_before(&self, day: u64) -> Result<(), StoreError> {
                (**self).forget_days_before(day)
            }
        }
    )*};
}

forward_store!(&S, Box<S>, std::sync::Arc<S>);

/// The key a host is stored under: `dns:<name>` or `ip:<address>`, so a name never collides
/// with an address.
pub fn host_key(host: &HostId) -> String {
    match host {
        HostId::Dns(name) => format!("dns:{}", name.as_str()),
        HostId::Ip(ip) => format!("ip:{ip}"),
    }
}

/// Whether `candidate` may replace `stored` in the downgrade memory: the same or a stronger
/// rung (the rung order is strongest first).
pub fn replaces_rung(stored: Rung, candidate: Rung) -> bool {
    candidate <= stored
}

/// A rung's position, strongest first (`0`), as stores write it.
pub const fn rung_rank(rung: Rung) -> u8 {
    match rung {
        Rung::Modern => 0,
        Rung::Tls12Only => 1,
        Rung::Tls12Conservative => 2,
        Rung::Plaintext => 3,
    }
}

/// Reads a rung back from [`Rung::as_str`]; the error names what was found (at most 40
/// printable characters of it).
pub fn rung_from_str(text: &str) -> Result<Rung, String> {
    Rung::ALL
        .into_iter()
        .find(|r| r.as_str() == text)
        .ok_or_else(|| {
            let shown: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
            format!("unknown rung '{shown}'")
        })
}

/// A policy domain as the store keys it: lower case, no trailing dot.
pub fn normalise_domain(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}
