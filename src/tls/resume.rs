//! Client-side TLS session resumption, kept per destination *and* per policy.
//!
//! A session a server handed out under one policy is never offered under another: the
//! [`ResumptionCache`] keeps one rustls client configuration (and so one bounded session
//! store) per whole host plan (host, port, SNI, certificate requirement, protocols, client
//! certificate), rung and client identity. A resumed handshake shows no certificate, so the
//! client session applies the attempt's verifier to the chain the first handshake presented
//! (rustls keeps it with the session) before it trusts the session, exactly as it does to
//! the chain of a full handshake; see [`ClientSession`](crate::client::ClientSession).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::ClientConfig;

use crate::names::HostId;
use crate::policy::ladder::Rung;
use crate::policy::HostPlan;

use super::config::resumable_client_config;
use super::{ClientTlsSetup, SharedClock, TlsError, TlsIdentity};

/// How many server names one destination under one policy keeps sessions for (rustls keeps
/// a few TLS 1.3 tickets and one TLS 1.2 session per name).
const SESSIONS_PER_DESTINATION: usize = 2;

/// Bounded client-side TLS configurations with their session stores, one per destination
/// and policy, shared by the sessions of a client (put it in
/// [`ClientSettings`](crate::client::ClientSettings) with `with_resumption`).
///
/// At most `destinations` are kept; the oldest goes first.
#[derive(Debug)]
pub struct ResumptionCache {
    destinations: usize,
    inner: Mutex<Stores>,
}

#[derive(Debug, Default)]
struct Stores {
    by_host: HashMap<HostId, Vec<Entry>>,
    /// Insertion order, for eviction: the host and the entry's serial number.
    order: VecDeque<(HostId, u64)>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    serial: u64,
    key: Key,
    config: Arc<ClientConfig>,
    clock: SharedClock,
}

/// Everything a resumed session must share with the one that was stored.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    plan: HostPlan,
    rung: Rung,
    identity: Option<usize>,
}

impl ResumptionCache {
    /// A cache for at most `destinations` destination-and-policy pairs (at least one).
    pub fn new(destinations: usize) -> Self {
        Self {
            destinations: destinations.max(1),
            inner: Mutex::new(Stores::default()),
        }
    }

    /// The client configuration for `setup` toward `plan`'s host: the same one (and so the
    /// same session store) for the same destination under the same policy, a new one
    /// otherwise. Its clock is moved to `setup.now`. Its verifier checks handshake
    /// signatures only: the caller must apply `setup.verifier` to the peer chain once the
    /// handshake ends (the client session does).
    pub(crate) fn client_config(
        &self,
        plan: &HostPlan,
        setup: &ClientTlsSetup,
    ) -> Result<Arc<ClientConfig>, TlsError> {
        let identity = setup.identity.as_ref().map(TlsIdentity::identity_ptr);
        let rung = setup.rung;
        let mut stores = self.lock();
        let found = stores.by_host.get(&plan.host).and_then(|entries| {
            entries
                .iter()
                .find(|e| e.key.rung == rung && e.key.identity == identity && e.key.plan == *plan)
        });
        if let Some(entry) = found {
            entry.clock.set(setup.now);
            return Ok(Arc::clone(&entry.config));
        }
        let clock = SharedClock::new(setup.now);
        let config = resumable_client_config(setup, &clock, SESSIONS_PER_DESTINATION)?;
        while stores.order.len() >= self.destinations {
            let Some((host, serial)) = stores.order.pop_front() else {
                break;
            };
            if let Some(entries) = stores.by_host.get_mut(&host) {
                entries.retain(|e| e.serial != serial);
                if entries.is_empty() {
                    stores.by_host.remove(&host);
                }
            }
        }
        let serial = stores.next;
        stores.next = serial.wrapping_add(1);
        stores.order.push_back((plan.host.clone(), serial));
        stores
            .by_host
            .entry(plan.host.clone())
            .or_default()
            .push(Entry {
                serial,
                key: Key {
                    plan: plan.clone(),
                    rung,
                    identity,
                },
                config: Arc::clone(&config),
                clock,
            });
        Ok(config)
    }

    /// How many destination-and-policy configurations are kept.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Stores> {
        // A panic elsewhere while holding the lock leaves plain maps behind; still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{AnchorSource, Level};

    fn plan(host: &str, level: Level) -> HostPlan {
        HostPlan::new(
            HostId::parse(host).unwrap(),
            25,
            level.requirement(Vec::new(), Vec::new(), AnchorSource::Public),
        )
    }

    #[test]
    fn one_configuration_per_destination_and_policy_and_a_bound() {
        let cache = ResumptionCache::new(3);
        let setup = |rung| {
            ClientTlsSetup::new(
                rung,
                Arc::new(crate::cert::ServerVerifier::new(
                    crate::cert::CertificateCheck::EncryptOnly,
                    crate::cert::OnFailure::Continue,
                )),
                crate::time::Timestamp::from_unix_secs(1),
            )
        };
        let get = |host: &str, level, rung| {
            cache
                .client_config(&plan(host, level), &setup(rung))
                .unwrap()
        };
        let a = get("mx.example.com", Level::Encrypt, Rung::Modern);
        let again = get("mx.example.com", Level::Encrypt, Rung::Modern);
        assert!(Arc::ptr_eq(&a, &again));
        // Another requirement, another rung, another host: never the same configuration.
        let verify = get("mx.example.com", Level::Secure, Rung::Modern);
        assert!(!Arc::ptr_eq(&a, &verify));
        let tls12 = get("mx.example.com", Level::Encrypt, Rung::Tls12Only);
        assert!(!Arc::ptr_eq(&a, &tls12));
        assert_eq!(cache.len(), 3);
        let other = get("mx2.example.com", Level::Encrypt, Rung::Modern);
        assert!(!Arc::ptr_eq(&a, &other));
        // Bounded: the oldest (the first encrypt configuration) went.
        assert_eq!(cache.len(), 3);
        let fresh = get("mx.example.com", Level::Encrypt, Rung::Modern);
        assert!(!Arc::ptr_eq(&a, &fresh));
        assert_eq!(cache.len(), 3);
    }
}
