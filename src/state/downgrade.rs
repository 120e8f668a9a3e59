//! The downgrade memory in process memory, in front of a [`Store`].

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{RungSeen, Store, StoreHealth, StoreNotice};
use crate::names::HostId;
use crate::policy::ladder::{record_completion, DowngradeMemory, MemoryStore, Rung};
use crate::time::Timestamp;

/// A [`DowngradeMemory`] for the ladder: the in-process [`MemoryStore`] first, the [`Store`]
/// behind it, so the best rung a host completed on survives a restart and is shared by a
/// fleet.
///
/// [`best_rung`](DowngradeMemory::best_rung) answers the stronger of memory and store;
/// [`remember`](DowngradeMemory::remember) writes both, stamped with the time given to
/// [`set_now`](Self::set_now) (the core reads no clock). When the store fails, memory alone
/// answers and the failure is kept once for [`take_notice`](Self::take_notice).
#[derive(Debug)]
pub struct StoredDowngradeMemory<S> {
    memory: Mutex<MemoryStore>,
    store: S,
    health: StoreHealth,
    notice: Mutex<Option<StoreNotice>>,
    now: Timestamp,
}

impl<S: Store> StoredDowngradeMemory<S> {
    /// An empty memory in front of `store`.
    pub fn new(store: S) -> Self {
        Self {
            memory: Mutex::new(MemoryStore::new()),
            store,
            health: StoreHealth::new(),
            notice: Mutex::new(None),
            now: Timestamp::UNIX_EPOCH,
        }
    }

    /// The time [`remember`](DowngradeMemory::remember) stamps on what it records.
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    /// The latest change in the store's health, once: log it.
    pub fn take_notice(&self) -> Option<StoreNotice> {
        lock(&self.notice).take()
    }

    fn observe<T>(&self, result: Result<T, super::StoreError>) -> Option<T> {
        let (value, notice) = self.health.observe(self.store.location(), result);
        if notice.is_some() {
            *lock(&self.notice) = notice;
        }
        value
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: Store> DowngradeMemory for StoredDowngradeMemory<S> {
    fn best_rung(&self, host: &HostId) -> Option<Rung> {
        let remembered = lock(&self.memory).best_rung(host);
        if remembered == Some(Rung::Modern) {
            return remembered;
        }
        let stored = self.observe(self.store.best_rung(host)).flatten();
        let best = match (remembered, stored) {
            (Some(m), Some(s)) => Some(m.min(s.rung)),
            (m, s) => m.or(s.map(|s| s.rung)),
        };
        if let Some(rung) = best {
            record_completion(&mut *lock(&self.memory), host, rung);
        }
        best
    }

    fn remember(&mut self, host: &HostId, rung: Rung) {
        record_completion(&mut *lock(&self.memory), host, rung);
        let seen = RungSeen { rung, at: self.now };
        let _ = self.observe(self.store.remember_rung(host, seen));
    }
}
