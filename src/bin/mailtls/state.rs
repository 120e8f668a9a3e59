//! `--state PATH|redis://...`: the store MTA-STS policies, the downgrade memory and TLS-RPT
//! outcomes live in (`mailtls::state`), and its health said once on stderr.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mailtls::io::store::{self, RedisOptions, RedisStore};
use mailtls::state::{Store, StoreError, StoreNotice};

use crate::common::{quoted, Failure};

/// Whether a "store failing" line was printed and no "works again" since: one line per
/// outage for the whole process, however many parts of it (the MTA-STS cache, the outcome
/// recording) see the failure.
static FAILING_SAID: AtomicBool = AtomicBool::new(false);

/// Opens the store `--state` names: a SQLite file (created on first use) or a `redis://` URL.
///
/// A Redis server that refuses or times out is no reason to stop: the store is used as it
/// comes back (it retries after a pause), the command runs on in-process state meanwhile
/// (a miss fetches the MTA-STS policy or defers, as RFC 8461 says; nothing is downgraded),
/// and the failure is said once. Anything else (a file that is not a mailtls state file, a
/// newer schema, a bad URL) is a configuration error naming the file or URL.
pub fn open(spec: &str, json: bool) -> Result<Arc<dyn Store>, Failure> {
    match store::open(spec) {
        Ok(store) => Ok(Arc::from(store)),
        Err(error @ StoreError::Unavailable { .. }) if spec.starts_with("redis://") => {
            let store = RedisStore::from_url(spec, RedisOptions::default())
                .map_err(|e| Failure::config(format!("--state {}: {e}", quoted(spec))))?;
            say(Some(StoreNotice::Failing(error)), json);
            Ok(Arc::new(store))
        }
        Err(e) => Err(Failure::config(format!("--state {}: {e}", quoted(spec)))),
    }
}

/// Says a change in the store's health on stderr (a JSON object with `--json`), once per
/// outage and once per recovery.
pub fn say(notice: Option<StoreNotice>, json: bool) {
    let Some(notice) = notice else {
        return;
    };
    let failing = matches!(notice, StoreNotice::Failing(_));
    if FAILING_SAID.swap(failing, Ordering::Relaxed) == failing {
        return;
    }
    if json {
        let event = serde_json::json!({
            "event": "state-store",
            "state": if failing { "failing" } else { "recovered" },
            "message": notice.to_string(),
        });
        errln!("{event}");
    } else {
        errln!("mailtls: {notice}");
    }
}
