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
    /// [`take_notice`](Self::take_notice), shared with the downgrade memory's own; the
    /// notice this call raised, if any, is also returned, for the caller's log.
    pub fn record_delivery(&mut self, delivery: &Delivery, at: Timestamp) -> Option<StoreNotice> {
        let before = lock(&self.notice).clone();
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
        let after = lock(&self.notice).clone();
        after.filter(|notice| before.as_ref() != Some(notice))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cert::TrustAnchors;
    use crate::cert::TrustLevel;
    use crate::client::{
        AttemptRecord, AttemptResult, ClientSettings, NextStep, PlanVerifiers, TlsSummary,
    };
    use crate::names::DnsName;
    use crate::policy::{explain, Destination, OutboundPolicy};
    use crate::policy::{CipherSuite, TlsVersion};
    use crate::state::MemoryState;
    use crate::tls::TlsFacts;

    fn mx() -> HostId {
        HostId::Dns(DnsName::parse("mx.example.com").unwrap())
    }

    /// A delivery to `[mx.example.com]` whose one session ran to QUIT on `rung`, over TLS or
    /// not.
    fn completed(rung: Rung, tls: bool) -> Delivery {
        let plan = explain(
            &OutboundPolicy::new(),
            &Destination::parse("[mx.example.com]").unwrap(),
        );
        let mut delivery = Delivery::from_plan(
            ClientSettings::new("client.example.org").unwrap(),
            plan,
            Arc::new(PlanVerifiers::new(TrustAnchors::new())),
        );
        let _ = delivery.next_session(Timestamp::UNIX_EPOCH);
        delivery.record(AttemptRecord {
            host: "mx.example.com".into(),
            rung,
            result: AttemptResult::Completed { tls },
            result_type: None,
            tls: tls.then(|| TlsSummary {
                facts: TlsFacts {
                    version: TlsVersion::Tls13,
                    suite: CipherSuite::Tls13Aes256GcmSha384,
                    group: None,
                    peer_chain: Vec::new(),
                    sni: None,
                    resumed: false,
                },
                rung,
                trust: TrustLevel::Untrusted,
                verification: None,
                report_only: None,
            }),
            verification: None,
            receiving_helo: None,
            decision: None,
            next: NextStep::Done,
            transcript: Vec::new(),
        });
        delivery
    }

    #[test]
    fn a_tls_rung_that_completed_in_plaintext_proves_plaintext_only() {
        let store = MemoryState::new();
        let mut memory = StoredDowngradeMemory::new(&store);
        // The peer offered no STARTTLS: the session completed in plaintext on the modern rung.
        memory.record_delivery(
            &completed(Rung::Modern, false),
            Timestamp::from_unix_secs(10),
        );
        let seen = store.best_rung(&mx()).unwrap().unwrap();
        assert_eq!(seen.rung, Rung::Plaintext);
        // A later session over TLS raises it; a later plaintext one never lowers it again.
        memory.record_delivery(
            &completed(Rung::Tls12Only, true),
            Timestamp::from_unix_secs(20),
        );
        memory.record_delivery(
            &completed(Rung::Modern, false),
            Timestamp::from_unix_secs(30),
        );
        let seen = store.best_rung(&mx()).unwrap().unwrap();
        assert_eq!(seen.rung, Rung::Tls12Only);
        assert_eq!(seen.at, Timestamp::from_unix_secs(20));
        assert_eq!(memory.take_notice(), None);
    }
}
