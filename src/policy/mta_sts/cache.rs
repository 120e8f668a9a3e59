//! The MTA-STS policy cache (RFC 8461 §3.3, §5.1) with an injected clock.
//!
//! One lookup for a domain goes:
//!
//! 1. The caller looks up the `_mta-sts` TXT records and calls [`StsCache::step`] with the
//!    [`Discovery`] result and `now`.
//! 2. The answer is [`CacheStep::Fetch`] (perform the request, then call
//!    [`StsCache::complete_fetch`]) or [`CacheStep::Done`] with the [`StsLookup`] outcome.
//!
//! Rules (each has a test): a policy expires `max_age` after it was fetched; a TXT id that
//! differs from the cached one triggers a refresh; a failed refresh keeps an unexpired cached
//! policy; a freshly fetched policy, `mode: none` included, replaces the cached one; without a
//! TXT record an unexpired cached policy still applies (RFC 8461 §5.1); a temporary DNS
//! failure with nothing cached is reported as such, never as "no policy".

use std::collections::BTreeMap;

use super::fetch::{StsFetchError, StsFetchRequest};
use super::policy::StsPolicy;
use super::record::StsRecord;
use crate::names::DnsName;
use crate::time::Timestamp;

/// The default number of domains a cache holds.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Cached policies, one per domain, bounded in number.
#[derive(Clone, Debug)]
pub struct StsCache {
    entries: BTreeMap<DnsName, CachedPolicy>,
    capacity: usize,
}

/// One cached policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPolicy {
    /// The TXT id the policy was fetched under.
    pub id: String,
    /// The policy.
    pub policy: StsPolicy,
    /// When it was fetched.
    pub fetched_at: Timestamp,
    /// When it expires: `fetched_at + max_age`.
    pub expires_at: Timestamp,
}

/// The `_mta-sts.<domain>` TXT lookup, as the caller saw it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovery<'a> {
    /// Exactly one valid record ([`StsRecord::select`] succeeded).
    Record(&'a StsRecord),
    /// No valid record: NXDOMAIN, no candidate, several candidates, or an invalid one.
    NoRecord,
    /// The lookup failed temporarily (SERVFAIL, timeout).
    TemporaryFailure,
}

/// What to do next.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStep {
    /// Perform this fetch, then call [`StsCache::complete_fetch`] with the TXT id.
    Fetch {
        /// The request.
        request: StsFetchRequest,
        /// The TXT id to store the policy under.
        id: String,
    },
    /// The lookup is complete.
    Done(StsLookup),
}

/// The outcome of an MTA-STS lookup for one domain.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsLookup {
    /// A policy applies (its mode may be `none`: then no policy is in force).
    Policy {
        /// The policy.
        policy: StsPolicy,
        /// Whether it came from the cache rather than a fetch just now.
        from_cache: bool,
        /// A refresh that failed, while the cached policy stays in force. Not a session
        /// failure; worth a log line.
        refresh_error: Option<StsFetchError>,
    },
    /// No policy applies. `fetch_error` says why when a fetch was tried and failed (reported
    /// to TLS-RPT under `no-policy-found` with its result type).
    NoPolicy {
        /// The failed fetch, if any.
        fetch_error: Option<StsFetchError>,
    },
    /// The TXT lookup failed temporarily and nothing is cached: whether a policy exists is
    /// unknown. Precedence defers rather than deliver without a policy that may exist.
    TemporaryFailure,
}

impl StsLookup {
    /// The policy in force, if any, ignoring `mode: none`.
    pub fn active_policy(&self) -> Option<&StsPolicy> {
        match self {
            Self::Policy { policy, .. } if policy.mode() != super::StsMode::None => Some(policy),
            _ => None,
        }
    }
}

impl Default for StsCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl StsCache {
    /// An empty cache for at most `capacity` domains (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The unexpired cached policy for `domain`.
    pub fn get(&self, domain: &DnsName, now: Timestamp) -> Option<&CachedPolicy> {
        self.entries.get(domain).filter(|e| now < e.expires_at)
    }

    /// How many domains are cached (expired entries included until purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decides the next step for `domain` from the TXT lookup.
    pub fn step(&self, domain: &DnsName, discovery: Discovery<'_>, now: Timestamp) -> CacheStep {
        let cached = self.get(domain, now);
        match (discovery, cached) {
            (Discovery::Record(record), Some(c)) if c.id == record.id => {
                CacheStep::Done(cached_lookup(c, None))
            }
            (Discovery::Record(record), _) => CacheStep::Fetch {
                request: StsFetchRequest::new(domain),
                id: record.id.clone(),
            },
            (Discovery::NoRecord | Discovery::TemporaryFailure, Some(c)) => {
                CacheStep::Done(cached_lookup(c, None))
            }
            (Discovery::NoRecord, None) => {
                CacheStep::Done(StsLookup::NoPolicy { fetch_error: None })
            }
            (Discovery::TemporaryFailure, None) => CacheStep::Done(StsLookup::TemporaryFailure),
        }
    }

    /// Records the result of the fetch [`step`](Self::step) asked for.
    ///
    /// A policy replaces whatever was cached (a `none` policy too) and expires after its
    /// `max_age`. A failure keeps an unexpired cached policy in force; with none, there is no
    /// policy.
    pub fn complete_fetch(
        &mut self,
        domain: &DnsName,
        id: &str,
        result: Result<StsPolicy, StsFetchError>,
        now: Timestamp,
    ) -> StsLookup {
        match result {
            Ok(policy) => {
                let entry = CachedPolicy {
                    id: id.to_owned(),
                    expires_at: now.saturating_add(policy.max_age()),
                    fetched_at: now,
                    policy: policy.clone(),
                };
                self.insert(domain.clone(), entry, now);
                StsLookup::Policy {
                    policy,
                    from_cache: false,
                    refresh_error: None,
                }
            }
            Err(e) => match self.get(domain, now) {
                Some(c) => cached_lookup(c, Some(e)),
                None => StsLookup::NoPolicy {
                    fetch_error: Some(e),
                },
            },
        }
    }

    /// Puts a policy cached elsewhere (a persistent store, another MTA of a fleet) into
    /// memory, as if it had been fetched at its `fetched_at`. Nothing changes when the entry
    /// has expired at `now`, or memory holds a policy fetched later. Returns whether it was
    /// taken.
    pub fn restore(&mut self, domain: &DnsName, entry: CachedPolicy, now: Timestamp) -> bool {
        let newer_in_memory = self
            .entries
            .get(domain)
            .is_some_and(|held| held.fetched_at > entry.fetched_at);
        if now >= entry.expires_at || newer_in_memory {
            return false;
        }
        self.insert(domain.clone(), entry, now);
        true
    }

    /// Drops every expired entry.
    pub fn purge_expired(&mut self, now: Timestamp) {
        self.entries.retain(|_, e| now < e.expires_at);
    }

    fn insert(&mut self, domain: DnsName, entry: CachedPolicy, now: Timestamp) {
        if !self.entries.contains_key(&domain) && self.entries.len() >= self.capacity {
            self.purge_expired(now);
            if self.entries.len() >= self.capacity {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires_at)
                    .map(|(d, _)| d.clone());
                if let Some(d) = soonest {
                    self.entries.remove(&d);
                }
            }
        }
        self.entries.insert(domain, entry);
    }
}

fn cached_lookup(c: &CachedPolicy, refresh_error: Option<StsFetchError>) -> StsLookup {
    StsLookup::Policy {
        policy: c.policy.clone(),
        from_cache: true,
        refresh_error,
    }
}
