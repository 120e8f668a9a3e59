//! TLS-RPT counters as stores keep them, and the report built from them.

use super::{ReportDay, Store, StoreError};
use crate::report::{AddOutcome, Aggregator, FailureDetail, Report, ReportMeta};
use crate::tlsrpt::{PolicyRef, SessionOutcome};

/// One counter of a [`ReportDay`]: sessions governed by `policy` that succeeded
/// (`failure: None`) or failed with one RFC 8460 failure detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The policy that governed the sessions.
    pub policy: PolicyRef,
    /// The failure detail, `None` for successful sessions. Its `failed_session_count` is
    /// `count`.
    pub failure: Option<FailureDetail>,
    /// How many sessions.
    pub count: u64,
}

/// A counter's name as stores write it: the policy and the failure detail as compact JSON,
/// the detail empty for successes and written with a `failed-session-count` of zero (the
/// count is the counter's value, never part of its name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TallyKey {
    /// The policy, as RFC 8460 JSON.
    pub policy: String,
    /// The failure detail as RFC 8460 JSON, or empty for successes.
    pub failure: String,
}

impl TallyKey {
    /// The counter `outcome` adds one to.
    pub fn of_outcome(outcome: &SessionOutcome) -> Self {
        let failure = FailureDetail::of_session(outcome)
            .map(|mut d| {
                d.failed_session_count = 0;
                to_json(&d)
            })
            .unwrap_or_default();
        Self {
            policy: to_json(&outcome.policy),
            failure,
        }
    }

    /// Both halves in one string, for stores with one key per counter (Redis hash fields):
    /// `policy LF failure`. Compact JSON never holds a raw line feed.
    pub fn to_field(&self) -> String {
        format!("{}\n{}", self.policy, self.failure)
    }

    /// Splits a string made by [`to_field`](Self::to_field).
    pub fn from_field(field: &str) -> Option<Self> {
        let (policy, failure) = field.split_once('\n')?;
        Some(Self {
            policy: policy.to_owned(),
            failure: failure.to_owned(),
        })
    }

    /// Reads the counter back, with its value.
    pub fn decode(&self, count: u64) -> Result<Tally, String> {
        let policy: PolicyRef = serde_json::from_str(&self.policy)
            .map_err(|e| format!("TLS-RPT policy of a counter: {e}"))?;
        let failure = if self.failure.is_empty() {
            None
        } else {
            let mut detail: FailureDetail = serde_json::from_str(&self.failure)
                .map_err(|e| format!("TLS-RPT failure detail of a counter: {e}"))?;
            detail.failed_session_count = count;
            Some(detail)
        };
        Ok(Tally {
            policy,
            failure,
            count,
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain structs of strings, numbers and enums always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

/// The RFC 8460 aggregate report of one policy domain and day, from the store's counters, or
/// `None` when nothing was counted. Counters of another domain (a store that returns too much)
/// are left out.
pub fn day_report(
    store: &dyn Store,
    day: &ReportDay,
    meta: &ReportMeta,
) -> Result<Option<Report>, StoreError> {
    let mut aggregator = Aggregator::new(day.period());
    for tally in store.tallies(day)? {
        if super::normalise_domain(&tally.policy.policy_domain) != day.policy_domain {
            continue;
        }
        // Over a cap, the report carries what fits, like the in-memory aggregator's.
        let _: AddOutcome =
            aggregator.add_count(&tally.policy, tally.failure.as_ref(), tally.count);
    }
    Ok(aggregator.report(&day.policy_domain, meta))
}
