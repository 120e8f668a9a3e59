//! State that outlives the process, from C: the store `mailtls send --state`, `mailtls
//! policyd` and `mailtls report` use (a SQLite file, or a Redis server shared by a fleet).
//!
//! A C MTA keeps two things there: the MTA-STS policies it fetched (so a restart or another
//! MTA of the fleet still enforces them, RFC 8461 §10) and the TLS-RPT outcome of every
//! attempt (so `mailtls report` can send the day's aggregate).
//!
//! ```text
//!  mailtls_store_new, mailtls_store_open(store, "/var/lib/mailtls/state.sqlite")
//!  mailtls_discovery_use_stored_sts_policy(discovery, store, domain, now)  // before a fetch
//!  mailtls_store_put_sts_policy(store, domain, id, policy, len, now)       // after a fetch
//!  mailtls_store_record_last_attempt(store, delivery, now, local_ip, peer_ip)
//! ```
//!
//! A store that fails (a server down, a full disk) returns `MAILTLS_RESULT_STORE` and says
//! why in [`mailtls_store_last_error`]; nothing the caller holds in memory changes, so a
//! policy it already has still applies.

use core::ffi::c_char;
use core::net::IpAddr;

use crate::names::DnsName;
use crate::policy::mta_sts::{CachedPolicy, StsPolicy};
use crate::state::{Store, StoreError};
use crate::time::Timestamp;

use super::boundary;
use super::client::mailtls_delivery;
use super::decision::mailtls_discovery;
use super::handle::{self, Castable};
use super::result::mailtls_result;
use super::text::{self, MAILTLS_MAX_TEXT};

/// A state store. Made by [`mailtls_store_new`], opened by [`mailtls_store_open`], freed by
/// [`mailtls_store_free`].
pub struct mailtls_store {
    _private: [u8; 0],
}

/// What a store handle points to: the opened store, and the last error of a call on it.
pub(crate) struct StoreHandle {
    store: Option<Box<dyn Store>>,
    last_error: Option<String>,
}

impl core::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("location", &self.store.as_ref().map(|s| s.location()))
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl Castable for mailtls_store {
    type Inner = StoreHandle;
}

impl StoreHandle {
    fn fail(&mut self, code: mailtls_result, message: String) -> mailtls_result {
        self.last_error = Some(message);
        code
    }

    /// The opened store, or `MAILTLS_RESULT_WRONG_STATE` before [`mailtls_store_open`].
    fn opened(&mut self) -> Result<&dyn Store, mailtls_result> {
        if self.store.is_none() {
            return Err(self.fail(
                mailtls_result::WrongState,
                "the store is not open: call mailtls_store_open first".to_owned(),
            ));
        }
        self.store.as_deref().ok_or(mailtls_result::WrongState)
    }

    /// Runs `op` on the opened store; a store error becomes `MAILTLS_RESULT_STORE` with its
    /// message as the last error.
    fn with_store<T>(
        &mut self,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, mailtls_result> {
        let result = op(self.opened()?);
        match result {
            Ok(value) => {
                self.last_error = None;
                Ok(value)
            }
            Err(error) => Err(self.fail(mailtls_result::Store, error.to_string())),
        }
    }
}

/// A store handle that is not open yet. `MAILTLS_RESULT_NULL_PARAMETER` when `out_store` is
/// NULL.
#[no_mangle]
pub extern "C" fn mailtls_store_new(out_store: *mut *mut mailtls_store) -> mailtls_result {
    boundary::call(|| {
        let store = StoreHandle {
            store: None,
            last_error: None,
        };
        handle::give::<mailtls_store>(out_store, store)
    })
}

/// Frees a store (and closes its file or connection). NULL, and a handle already freed, are
/// ignored.
#[no_mangle]
pub extern "C" fn mailtls_store_free(store: *mut mailtls_store) {
    boundary::value(|| handle::free(store));
}

/// Opens the store `spec` names, as `--state` does: `redis://host:port[/db]` for a Redis
/// server, anything else is the path of a SQLite file, created on first use. The library must
/// have been built with the matching feature (`sqlite`, `redis`; the README's build has both).
/// `MAILTLS_RESULT_STORE` when it cannot be opened (unreachable server, a file that is not a
/// mailtls state file, a schema from a newer mailtls, a build without the feature: the last
/// error names the file or server and says why); `MAILTLS_RESULT_WRONG_STATE` when the handle
/// is already open.
#[no_mangle]
pub extern "C" fn mailtls_store_open(
    store: *mut mailtls_store,
    spec: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let handle = handle::borrow_mut(store)?;
        let spec = text::string(spec)?;
        if let Some(open) = &handle.store {
            let message = format!("the store is already open on {}", open.location());
            return Err(handle.fail(mailtls_result::WrongState, message));
        }
        match crate::io::store::open(spec) {
            Ok(opened) => {
                handle.store = Some(opened);
                handle.last_error = None;
                Ok(())
            }
            Err(error) => Err(handle.fail(mailtls_result::Store, error.to_string())),
        }
    })
}

/// Copies the message of the last error a call on this store returned (which file or server,
/// and why). `MAILTLS_RESULT_NOT_FOUND` when the last call succeeded.
#[no_mangle]
pub extern "C" fn mailtls_store_last_error(
    store: *const mailtls_store,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let handle = handle::borrow(store)?;
        let error = handle.last_error.as_ref().ok_or(mailtls_result::NotFound)?;
        text::write_message(error, buf, len, out_n)
    })
}

/// Records the delivery's last attempt in the store as a TLS-RPT session at `at_unix` (Unix
/// seconds), under the policy that governed its host, for `mailtls report` to send. The
/// addresses of the connection (`sending_ip` ours, `receiving_ip` the MX's, text such as
/// `192.0.2.1` or `2001:db8::1`) may be NULL. `MAILTLS_RESULT_NOT_FOUND` when no attempt was
/// recorded or the last one reports nothing; `MAILTLS_RESULT_INVALID_ARGUMENT` for an
/// address that does not parse; `MAILTLS_RESULT_STORE` when the store fails (nothing was
/// recorded; the last error says why).
#[no_mangle]
pub extern "C" fn mailtls_store_record_last_attempt(
    store: *mut mailtls_store,
    delivery: *const mailtls_delivery,
    at_unix: u64,
    sending_ip: *const c_char,
    receiving_ip: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let handle = handle::borrow_mut(store)?;
        let record = super::decision::last_record(delivery)?;
        let address = |ptr| -> Result<Option<IpAddr>, mailtls_result> {
            text::optional_string(ptr)?
                .map(|t| t.parse().map_err(|_| mailtls_result::InvalidArgument))
                .transpose()
        };
        let sending_ip = address(sending_ip)?;
        let receiving_ip = address(receiving_ip)?;
        let mut outcome = record
            .session_outcome(Timestamp::from_unix_secs(at_unix))
            .ok_or(mailtls_result::NotFound)?;
        outcome.sending_ip = sending_ip;
        outcome.receiving_ip = receiving_ip;
        handle.with_store(|store| store.record_outcome(&outcome))
    })
}

/// Stores the MTA-STS policy of `domain` that the caller fetched at `fetched_unix` (Unix
/// seconds) under the TXT record id `id`: the `len` bytes of the policy file (UTF-8, at most
/// `MAILTLS_MAX_TEXT`). It is kept until `fetched_unix + max_age`, for this process after a
/// restart and for every MTA sharing the store. Errors, after which nothing is stored:
/// `MAILTLS_RESULT_STS_POLICY` when the text is not a valid policy,
/// `MAILTLS_RESULT_DESTINATION` when `domain` is not a DNS name, `MAILTLS_RESULT_STORE` when
/// the store fails (the last error says why for all three), and the string errors.
#[no_mangle]
pub extern "C" fn mailtls_store_put_sts_policy(
    store: *mut mailtls_store,
    domain: *const c_char,
    id: *const c_char,
    policy: *const u8,
    len: usize,
    fetched_unix: u64,
) -> mailtls_result {
    boundary::call(|| {
        let handle = handle::borrow_mut(store)?;
        let domain_text = text::string(domain)?;
        let id = text::string(id)?;
        let policy_text = text::text(policy, len, MAILTLS_MAX_TEXT)?;
        let domain = DnsName::parse(domain_text).map_err(|error| {
            handle.fail(
                mailtls_result::Destination,
                format!("MTA-STS domain \"{}\": {error}", domain_text.escape_debug()),
            )
        })?;
        let policy = StsPolicy::parse(policy_text.as_bytes()).map_err(|error| {
            handle.fail(
                mailtls_result::StsPolicy,
                format!("MTA-STS policy of {domain}: {error}"),
            )
        })?;
        let fetched_at = Timestamp::from_unix_secs(fetched_unix);
        let entry = CachedPolicy {
            id: id.to_owned(),
            expires_at: fetched_at.saturating_add(policy.max_age()),
            policy,
            fetched_at,
        };
        handle.with_store(|store| store.put_sts_policy(&domain, &entry))
    })
}

/// Sets the MTA-STS policy of `discovery` to the one the store holds for `domain`, when it
/// has one that has not expired at `now_unix` (Unix seconds): the policy applies as if the
/// caller had fetched it (RFC 8461 §5.1: also when the TXT record is gone). Look here before
/// fetching, and fetch when the TXT record's id differs from the stored one
/// ([`mailtls_store_put_sts_policy`] then replaces it). `MAILTLS_RESULT_NOT_FOUND` when there
/// is none (the discovery is unchanged); `MAILTLS_RESULT_DESTINATION` when `domain` is not a
/// DNS name; `MAILTLS_RESULT_STORE` when the store fails (the discovery is unchanged and a
/// policy set earlier still applies; the store's last error says why).
#[no_mangle]
pub extern "C" fn mailtls_discovery_use_stored_sts_policy(
    discovery: *mut mailtls_discovery,
    store: *mut mailtls_store,
    domain: *const c_char,
    now_unix: u64,
) -> mailtls_result {
    boundary::call(|| {
        let handle = handle::borrow_mut(store)?;
        let answers = handle::borrow_mut(discovery)?;
        let domain_text = text::string(domain)?;
        let domain = DnsName::parse(domain_text).map_err(|error| {
            handle.fail(
                mailtls_result::Destination,
                format!("MTA-STS domain \"{}\": {error}", domain_text.escape_debug()),
            )
        })?;
        let now = Timestamp::from_unix_secs(now_unix);
        let stored = handle.with_store(|store| store.sts_policy(&domain))?;
        match stored {
            Some(entry) if entry.expires_at > now => {
                answers.use_cached_sts_policy(entry.policy);
                Ok(())
            }
            _ => Err(mailtls_result::NotFound),
        }
    })
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::*;

    const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";

    fn last_error(store: *const mailtls_store) -> String {
        let mut buf = [0 as c_char; 512];
        let mut n = 0;
        assert_eq!(
            mailtls_store_last_error(store, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        let bytes: Vec<u8> = buf.iter().take(n).map(|&c| c as u8).collect();
        String::from_utf8(bytes).unwrap()
    }

    /// A fresh directory for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mailtls-ffi-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open(path: &std::path::Path) -> *mut mailtls_store {
        let mut store = core::ptr::null_mut();
        assert_eq!(mailtls_store_new(&mut store), mailtls_result::Ok);
        let spec = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(mailtls_store_open(store, spec.as_ptr()), mailtls_result::Ok);
        store
    }

    #[test]
    fn a_stored_policy_survives_the_handle_and_expires_with_max_age() {
        let dir = scratch("restart");
        let path = dir.join("state.sqlite");
        let store = open(&path);
        let domain = c"example.com";
        assert_eq!(
            mailtls_store_put_sts_policy(
                store,
                domain.as_ptr(),
                c"20261208".as_ptr(),
                POLICY.as_ptr(),
                POLICY.len(),
                1_796_000_000,
            ),
            mailtls_result::Ok
        );
        mailtls_store_free(store);

        // A new handle on the same file: another process after a restart.
        let store = open(&path);
        let mut discovery = core::ptr::null_mut();
        assert_eq!(
            super::super::decision::mailtls_discovery_new(&mut discovery),
            mailtls_result::Ok
        );
        assert_eq!(
            mailtls_discovery_use_stored_sts_policy(
                discovery,
                store,
                domain.as_ptr(),
                1_796_000_000 + 3_600
            ),
            mailtls_result::Ok
        );
        assert_eq!(
            mailtls_discovery_use_stored_sts_policy(
                discovery,
                store,
                domain.as_ptr(),
                1_796_000_000 + 86_400
            ),
            mailtls_result::NotFound,
            "expired at fetched + max_age"
        );
        assert_eq!(
            mailtls_discovery_use_stored_sts_policy(
                discovery,
                store,
                c"other.example".as_ptr(),
                1_796_000_000
            ),
            mailtls_result::NotFound
        );
        super::super::decision::mailtls_discovery_free(discovery);
        mailtls_store_free(store);
    }

    #[test]
    fn bad_input_and_a_foreign_file_are_typed_errors_with_messages() {
        let dir = scratch("bad-input");
        let foreign = dir.join("foreign.txt");
        std::fs::write(&foreign, b"not a database, just text that is long enough").unwrap();
        let mut store = core::ptr::null_mut();
        assert_eq!(mailtls_store_new(&mut store), mailtls_result::Ok);
        let spec = std::ffi::CString::new(foreign.to_str().unwrap()).unwrap();
        assert_eq!(
            mailtls_store_open(store, spec.as_ptr()),
            mailtls_result::Store
        );
        assert!(
            last_error(store).contains("foreign.txt"),
            "{}",
            last_error(store)
        );
        assert_eq!(
            mailtls_store_put_sts_policy(
                store,
                c"example.com".as_ptr(),
                c"1".as_ptr(),
                POLICY.as_ptr(),
                POLICY.len(),
                0
            ),
            mailtls_result::WrongState,
            "not open"
        );
        mailtls_store_free(store);

        let store = open(&dir.join("state.sqlite"));
        let bad = "version: STSv1\nmode: sometimes\n";
        assert_eq!(
            mailtls_store_put_sts_policy(
                store,
                c"example.com".as_ptr(),
                c"1".as_ptr(),
                bad.as_ptr(),
                bad.len(),
                0
            ),
            mailtls_result::StsPolicy
        );
        assert!(last_error(store).contains("example.com"));
        assert_eq!(
            mailtls_store_put_sts_policy(
                store,
                c"exa mple".as_ptr(),
                c"1".as_ptr(),
                POLICY.as_ptr(),
                POLICY.len(),
                0
            ),
            mailtls_result::Destination
        );
        assert_eq!(
            mailtls_store_open(store, c"/elsewhere".as_ptr()),
            mailtls_result::WrongState
        );
        mailtls_store_free(store);
    }

    #[test]
    fn the_last_attempt_of_a_delivery_is_recorded_for_the_report() {
        use super::super::client::{mailtls_delivery_free, mailtls_delivery_next_session};
        use super::super::decision::{
            mailtls_decision, mailtls_decision_free, mailtls_decision_new,
            mailtls_delivery_new_from_decision,
        };
        use super::super::outbound::{
            mailtls_config, mailtls_config_free, mailtls_config_new, mailtls_config_plan,
            mailtls_config_set_default_level, mailtls_plan, mailtls_plan_free,
        };
        let dir = scratch("record");
        let path = dir.join("state.sqlite");
        let store = open(&path);

        // dane-only without DNSSEC answers skips the host: an attempt that reports
        // `dane-required` without a session.
        let mut config: *mut mailtls_config = core::ptr::null_mut();
        assert_eq!(mailtls_config_new(&mut config), mailtls_result::Ok);
        assert_eq!(
            mailtls_config_set_default_level(config, c"dane-only".as_ptr()),
            mailtls_result::Ok
        );
        let mut plan: *mut mailtls_plan = core::ptr::null_mut();
        assert_eq!(
            mailtls_config_plan(
                config,
                c"[mx.partner.test]:2525".as_ptr(),
                core::ptr::null(),
                0,
                &mut plan
            ),
            mailtls_result::Ok
        );
        let mut decision: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, core::ptr::null(), &mut decision),
            mailtls_result::Ok
        );
        let mut delivery = core::ptr::null_mut();
        assert_eq!(
            mailtls_delivery_new_from_decision(
                decision,
                c"client.example".as_ptr(),
                core::ptr::null(),
                &mut delivery
            ),
            mailtls_result::Ok
        );
        assert_eq!(
            mailtls_store_record_last_attempt(
                store,
                delivery,
                1_796_000_000,
                core::ptr::null(),
                core::ptr::null()
            ),
            mailtls_result::NotFound,
            "nothing attempted yet"
        );
        let mut session = core::ptr::null_mut();
        assert_eq!(
            mailtls_delivery_next_session(delivery, 1_000, &mut session),
            mailtls_result::NotFound
        );
        assert_eq!(
            mailtls_store_record_last_attempt(
                store,
                delivery,
                1_796_000_000,
                c"not an address".as_ptr(),
                core::ptr::null()
            ),
            mailtls_result::InvalidArgument
        );
        assert_eq!(
            mailtls_store_record_last_attempt(
                store,
                delivery,
                1_796_000_000,
                c"192.0.2.1".as_ptr(),
                core::ptr::null()
            ),
            mailtls_result::Ok
        );
        mailtls_delivery_free(delivery);
        mailtls_decision_free(decision);
        mailtls_plan_free(plan);
        mailtls_config_free(config);
        mailtls_store_free(store);

        let reopened = crate::io::store::open(path.to_str().unwrap()).unwrap();
        let days = reopened.report_days().unwrap();
        assert_eq!(days.len(), 1, "one policy domain and day");
        let tallies = reopened.tallies(&days[0]).unwrap();
        assert_eq!(
            tallies.iter().map(|t| t.count).sum::<u64>(),
            1,
            "one session counted"
        );
    }
}
