//! The MTA-STS cache in memory, in front of a [`Store`].

use super::{Store, StoreHealth, StoreNotice};
use crate::names::DnsName;
use crate::policy::mta_sts::{CacheStep, Discovery, StsCache, StsFetchError, StsLookup, StsPolicy};
use crate::time::Timestamp;

/// An [`StsCache`] in memory with a [`Store`] behind it: the same two calls
/// ([`step`](Self::step), [`complete_fetch`](Self::complete_fetch)) with the store consulted on
/// a memory miss and written after every successful fetch.
///
/// - Memory first: a policy in memory is used without asking the store, unless the TXT id
///   changed (then the store may already hold the new policy, fetched by another MTA of the
///   fleet, and no fetch is needed).
/// - A stored policy that has not expired is copied into memory and applies exactly as if this
///   process had fetched it, in particular when the TXT record is gone (RFC 8461 §5.1).
/// - When the store fails, the lookup continues on memory alone: a policy in memory still
///   applies, a miss goes the RFC 8461 way (fetch, no policy, or a temporary failure that
///   defers). The failure comes back as a [`StoreNotice`] once, until the store recovers.
#[derive(Debug)]
pub struct StsState<S> {
    cache: StsCache,
    store: S,
    health: StoreHealth,
}

/// What [`StsState::step`] decided, and a store notice to log when its health changed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsStepped {
    /// The next step, as [`StsCache::step`] gives it.
    pub step: CacheStep,
    /// The store started failing or recovered: log this once.
    pub notice: Option<StoreNotice>,
}

impl<S: Store> StsState<S> {
    /// The memory cache `cache` in front of `store`.
    pub fn new(cache: StsCache, store: S) -> Self {
        Self {
            cache,
            store,
            health: StoreHealth::new(),
        }
    }

    /// The memory cache.
    pub const fn cache(&self) -> &StsCache {
        &self.cache
    }

    /// The store behind it.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// Whether the last store operation failed.
    pub fn store_failing(&self) -> bool {
        self.health.is_failing()
    }

    /// [`StsCache::step`], after copying the store's policy into memory when memory has none
    /// for `domain` (or one under another TXT id than `discovery` names).
    pub fn step(
        &mut self,
        domain: &DnsName,
        discovery: Discovery<'_>,
        now: Timestamp,
    ) -> StsStepped {
        let in_memory = self.cache.get(domain, now);
        let ask_store = match (in_memory, discovery) {
            (None, _) => true,
            (Some(cached), Discovery::Record(record)) => cached.id != record.id,
            (Some(_), _) => false,
        };
        let mut notice = None;
        if ask_store {
            let (found, changed) = self
                .health
                .observe(self.store.location(), self.store.sts_policy(domain));
            notice = changed;
            if let Some(Some(entry)) = found {
                self.cache.restore(domain, entry, now);
            }
        }
        StsStepped {
            step: self.cache.step(domain, discovery, now),
            notice,
        }
    }

    /// [`StsCache::complete_fetch`], then stores a fetched policy for the next process and the
    /// rest of the fleet. A store failure changes nothing in the lookup; it comes back as a
    /// notice when the store's health changed.
    pub fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>) {
        let fetched = result.is_ok();
        let lookup = self.cache.complete_fetch(domain, id, result, now);
        let mut notice = None;
        if fetched {
            if let Some(entry) = self.cache.get(domain, now) {
                let stored = self.store.put_sts_policy(domain, entry);
                notice = self.health.observe(self.store.location(), stored).1;
            }
        }
        (lookup, notice)
    }
}

/// The MTA-STS cache that discovery steps through: the in-process [`StsCache`] alone (nothing
/// survives the process), or an [`StsState`] with a [`Store`] behind it.
///
/// [`Discoverer`](crate::io::discover::Discoverer) takes either, so a caller with no store
/// passes `&mut StsCache::default()` as before, and one with a store passes
/// `&mut StsState::new(StsCache::default(), store)`.
///
/// ```
/// use mailtls::names::DnsName;
/// use mailtls::policy::mta_sts::{Discovery, StsCache, StsPolicy};
/// use mailtls::state::{MemoryState, StsCaching, StsState};
/// use mailtls::Timestamp;
///
/// let domain = DnsName::parse("example.com").unwrap();
/// let now = Timestamp::from_unix_secs(1_700_000_000);
/// let policy = StsPolicy::parse(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n").unwrap();
/// let store = MemoryState::new();
///
/// // Memory alone, or memory in front of a store: the same two calls.
/// let mut memory = StsCache::default();
/// let mut stored = StsState::new(StsCache::default(), &store);
/// for cache in [&mut memory as &mut dyn StsCaching, &mut stored] {
///     let (lookup, notice) = cache.complete_fetch(&domain, "1", Ok(policy.clone()), now);
///     assert_eq!(lookup.active_policy(), Some(&policy));
///     assert!(notice.is_none());
///     assert!(cache.step(&domain, Discovery::NoRecord, now).notice.is_none());
/// }
/// // Only the store outlives the process.
/// let mut restarted = StsState::new(StsCache::default(), &store);
/// let stepped = StsCaching::step(&mut restarted, &domain, Discovery::NoRecord, now);
/// assert!(matches!(stepped.step, mailtls::policy::mta_sts::CacheStep::Done(ref l) if l.active_policy() == Some(&policy)));
/// ```
pub trait StsCaching {
    /// The next step for `domain` given what the `_mta-sts` TXT lookup found
    /// ([`StsCache::step`], [`StsState::step`]).
    fn step(&mut self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> StsStepped;

    /// Completes the fetch a step asked for ([`StsCache::complete_fetch`],
    /// [`StsState::complete_fetch`]); a notice when a store's health changed.
    fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>);

    /// How many policies the in-process cache holds.
    fn cached_policies(&self) -> usize;
}

impl StsCaching for StsCache {
    fn step(&mut self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> StsStepped {
        StsStepped {
            step: Self::step(self, domain, discovery, now),
            notice: None,
        }
    }

    fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>) {
        (Self::complete_fetch(self, domain, id, result, now), None)
    }

    fn cached_policies(&self) -> usize {
        self.len()
    }
}

impl<S: Store> StsCaching for StsState<S> {
    fn step(&mut self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> StsStepped {
        Self::step(self, domain, discovery, now)
    }

    fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>) {
        Self::complete_fetch(self, domain, id, result, now)
    }

    fn cached_policies(&self) -> usize {
        self.cache.len()
    }
}

impl<C: StsCaching + ?Sized> StsCaching for Box<C> {
    fn step(&mut self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> StsStepped {
        (**self).step(domain, discovery, now)
    }

    fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>) {
        (**self).complete_fetch(domain, id, result, now)
    }

    fn cached_policies(&self) -> usize {
        (**self).cached_policies()
    }
}

/// One cache shared by concurrent discoveries (a policy server's lookups, a tokio MTA's
/// deliveries): the lock is taken inside each step only, never held across the DNS lookups or
/// the HTTPS fetch between them, so a slow fetch for one domain holds up no other. Two
/// discoveries of one domain at once may both fetch; the later result wins.
impl<C: StsCaching + ?Sized> StsCaching for &std::sync::Mutex<C> {
    fn step(&mut self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> StsStepped {
        lock(self).step(domain, discovery, now)
    }

    fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> (StsLookup, Option<StoreNotice>) {
        lock(self).complete_fetch(domain, id, result, now)
    }

    fn cached_policies(&self) -> usize {
        lock(self).cached_policies()
    }
}

/// The cache behind a poisoned lock is still consistent: every step leaves it whole.
fn lock<C: ?Sized>(mutex: &std::sync::Mutex<C>) -> std::sync::MutexGuard<'_, C> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
