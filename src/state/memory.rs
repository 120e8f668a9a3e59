//! The in-process [`Store`]: nothing survives the process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{host_key, replaces_rung, ReportDay, RungSeen, Store, StoreError, Tally, TallyKey};
use crate::names::{DnsName, HostId};
use crate::policy::mta_sts::CachedPolicy;
use crate::time::Timestamp;
use crate::tlsrpt::SessionOutcome;

/// A [`Store`] in process memory, shared by the threads of one process and lost with it.
///
/// It implements the same contract as the file and server stores (the same test suite runs
/// over all three), for tests and for a process that wants no persistence. It is unbounded:
/// a long-lived process calls [`Store::forget_days_before`] now and then.
#[derive(Debug, Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sts: HashMap<DnsName, CachedPolicy>,
    rungs: HashMap<String, RungSeen>,
    tallies: BTreeMap<ReportDay, BTreeMap<TallyKey, u64>>,
    sent: BTreeSet<(ReportDay, String)>,
    /// Claims on sending a report: (day, destination) -> (holder, until).
    claims: BTreeMap<(ReportDay, String), (String, Timestamp)>,
}

impl MemoryState {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind, still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryState {
    fn location(&self) -> &str {
        "memory"
    }

    fn sts_policy(&self, domain: &DnsName) -> Result<Option<CachedPolicy>, StoreError> {
        Ok(self.lock().sts.get(domain).cloned())
    }

    fn put_sts_policy(&self, domain: &DnsName, entry: &CachedPolicy) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let newer = inner
            .sts
            .get(domain)
            .is_none_or(|stored| stored.fetched_at <= entry.fetched_at);
        if newer {
            inner.sts.insert(domain.clone(), entry.clone());
        }
        Ok(())
    }

    fn best_rung(&self, host: &HostId) -> Result<Option<RungSeen>, StoreError> {
        Ok(self.lock().rungs.get(&host_key(host)).copied())
    }

    fn remember_rung(&self, host: &HostId, seen: RungSeen) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let key = host_key(host);
        let keep = inner
            .rungs
            .get(&key)
            .is_none_or(|stored| replaces_rung(stored.rung, seen.rung));
        if keep {
            inner.rungs.insert(key, seen);
        }
        Ok(())
    }

    fn forget_rung(&self, host: &HostId) -> Result<(), StoreError> {
        self.lock().rungs.remove(&host_key(host));
        Ok(())
    }

    fn record_outcome(&self, outcome: &SessionOutcome) -> Result<(), StoreError> {
        let day = ReportDay::of(&outcome.policy.policy_domain, outcome.at);
        let key = TallyKey::of_outcome(outcome);
        let mut inner = self.lock();
        let n = inner
            .tallies
            .entry(day)
            .or_default()
            .entry(key)
            .or_default();
        *n = n.saturating_add(1);
        Ok(())
    }

    fn report_days(&self) -> Result<Vec<ReportDay>, StoreError> {
        let mut days: Vec<_> = self.lock().tallies.keys().cloned().collect();
        days.sort_by(|a, b| a.day.cmp(&b.day).then_with(|| a.cmp(b)));
        Ok(days)
    }

    fn tallies(&self, day: &ReportDay) -> Result<Vec<Tally>, StoreError> {
        let inner = self.lock();
        let Some(counters) = inner.tallies.get(day) else {
            return Ok(Vec::new());
        };
        counters
            .iter()
            .map(|(key, &count)| {
                key.decode(count).map_err(|detail| StoreError::BadRecord {
                    location: "memory".to_owned(),
                    what: format!("TLS-RPT counter of {day}"),
                    detail,
                })
            })
            .collect()
    }

    fn mark_sent(
        &self,
        day: &ReportDay,
        destination: &str,
        _at: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .sent
            .insert((day.clone(), destination.to_owned())))
    }

    fn is_sent(&self, day: &ReportDay, destination: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .sent
            .contains(&(day.clone(), destination.to_owned())))
    }

    fn claim_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let key = (day.clone(), destination.to_owned());
        if inner.sent.contains(&key) {
            return Ok(false);
        }
        let free = inner
            .claims
            .get(&key)
            .is_none_or(|(who, expires)| who == holder || *expires <= now);
        if free {
            inner.claims.insert(key, (holder.to_owned(), until));
        }
        Ok(free)
    }

    fn release_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let key = (day.clone(), destination.to_owned());
        if inner.claims.get(&key).is_some_and(|(who, _)| who == holder) {
            inner.claims.remove(&key);
        }
        Ok(())
    }

    fn forget_days_before(&self, day: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.tallies.retain(|d, _| d.day >= day);
        inner.sent.retain(|(d, _)| d.day >= day);
        inner.claims.retain(|(d, _), _| d.day >= day);
        Ok(())
    }
}
