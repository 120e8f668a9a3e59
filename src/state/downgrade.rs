//! The downgrade memory in process memory, in front of a [`Store`].

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{RungSeen, Store, StoreHealth, StoreNotice};
use crate::client::{Delivery, DeliveryOutcome};
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

    /// The store behind the memory.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// Writes what `delivery` did into the store, at `at`: every TLS-RPT session outcome
    /// ([`Delivery::session_outcomes`]) through [`Store::record_outcome`], and, when the
    /// delivery completed, the rung it completed on as the host's downgrade memory
    /// ([`Rung::Plaintext`] when the session ran without TLS).
    ///
    /// This is the delivery path's one write: `Mailer` and `deliver_to_domain` in
    /// `mailtls::io` and `mailtls send --state` call it after every delivery. A failing store
    /// loses these counts (the delivery itself is done) and keeps one notice for
    /// [`take_notice`](Self::take_notice), shared with the downgrade memory's own.
    pub fn record_delivery(&mut self, delivery: &Delivery, at: Timestamp) {
        for outcome in delivery.session_outcomes(at) {
            if self.observe(self.store.record_outcome(&outcome)).is_none() {
                // Down: the rest would fail the same way (and the Redis store backs off).
                break;
            }
        }
        if let (Some(DeliveryOutcome::Completed { rung, tls, .. }), Some((host, _))) =
            (delivery.outcome(), delivery.current_host())
        {
            // A TLS rung that completed without TLS (no STARTTLS offered) proves plaintext only.
            let rung = if *tls { *rung } else { Rung::Plaintext };
            let host = host.clone();
            self.set_now(at);
            record_completion(self, &host, rung);
        }
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
