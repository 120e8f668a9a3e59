//! Reporting a failing store once, not once per message.

use core::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// A change in a store's health worth one log line.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreNotice {
    /// The store started failing (the first failure after a success, or the very first
    /// operation). Later failures are silent until it recovers.
    Failing(StoreError),
    /// The store works again after failing.
    Recovered {
        /// The file or server.
        location: String,
    },
}

impl core::fmt::Display for StoreNotice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Failing(e) => write!(
                f,
                "{e}; continuing on in-process state until it recovers (logged once)"
            ),
            Self::Recovered { location } => write!(f, "state store {location} works again"),
        }
    }
}

/// Remembers whether a store is failing, so that a run of failures yields one
/// [`StoreNotice::Failing`] and the next success one [`StoreNotice::Recovered`].
///
/// Shared by every thread of a process (an atomic flag): with a thousand messages in flight
/// while Redis is down, exactly one of them reports it.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: AtomicBool,
}

impl StoreHealth {
    /// A store assumed healthy.
    pub const fn new() -> Self {
        Self {
            failing: AtomicBool::new(false),
        }
    }

    /// Whether the last operation failed.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Notes an operation's result: the value when it succeeded, and a notice when the health
    /// changed.
    pub fn observe<T>(
        &self,
        location: &str,
        result: Result<T, StoreError>,
    ) -> (Option<T>, Option<StoreNotice>) {
        match result {
            Ok(value) => {
                let notice =
                    self.failing
                        .swap(false, Ordering::Relaxed)
                        .then(|| StoreNotice::Recovered {
                            location: location.to_owned(),
                        });
                (Some(value), notice)
            }
            Err(e) => {
                let was_failing = self.failing.swap(true, Ordering::Relaxed);
                (None, (!was_failing).then_some(StoreNotice::Failing(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            location: "redis://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        })
    }

    #[test]
    fn a_run_of_failures_gives_one_notice_and_one_recovery() {
        let health = StoreHealth::new();
        let (_, first) = health.observe("r", down());
        assert!(matches!(first, Some(StoreNotice::Failing(_))));
        for _ in 0..1000 {
            assert_eq!(health.observe("r", down()).1, None);
        }
        assert!(health.is_failing());
        let (value, notice) = health.observe("r", Ok(7));
        assert_eq!(value, Some(7));
        assert_eq!(
            notice,
            Some(StoreNotice::Recovered {
                location: "r".into()
            })
        );
        assert_eq!(health.observe("r", Ok(())).1, None);
    }
}
