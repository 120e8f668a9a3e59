//! Time as a parameter.
//!
//! The core never reads a clock. Every function that needs "now" (certificate validity,
//! MTA-STS cache expiry, SMTP deadlines) takes a [`Timestamp`], and sessions report the next
//! deadline they need as a [`Timestamp`] too. Adapters read the system clock and pass it in;
//! tests pass a virtual clock.

use core::fmt;
use core::time::Duration;

use rustls_pki_types::UnixTime;

/// A point in time, counted from the Unix epoch (1970-01-01T00:00:00Z).
///
/// One notion of time serves certificate validity and protocol deadlines alike, so that a C
/// caller can pass a plain `uint64_t` of milliseconds and a test can move a virtual clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The Unix epoch itself.
    pub const UNIX_EPOCH: Self = Self(Duration::ZERO);

    /// A timestamp `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// A timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// A timestamp the given duration after the Unix epoch.
    pub const fn from_since_epoch(since_epoch: Duration) -> Self {
        Self(since_epoch)
    }

    /// Time since the Unix epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// The same instant as the `UnixTime` that rustls and webpki take.
    pub fn to_unix_time(self) -> UnixTime {
        UnixTime::since_unix_epoch(self.0)
    }

    /// `self + duration`, saturating at the far future instead of overflowing.
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration))
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}.{:03}", self.0.as_secs(), self.0.subsec_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix_secs(10);
        assert_eq!(t.saturating_add(Duration::from_secs(5)).unix_secs(), 15);
        assert_eq!(
            Timestamp::from_since_epoch(Duration::MAX).saturating_add(Duration::from_secs(1)),
            Timestamp::from_since_epoch(Duration::MAX)
        );
        assert_eq!(
            Timestamp::UNIX_EPOCH.saturating_duration_since(t),
            Duration::ZERO
        );
        assert_eq!(t.to_unix_time().as_secs(), 10);
        assert_eq!(Timestamp::from_unix_millis(1_500).to_string(), "@1.500");
    }
}
