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

    /// RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC), as logs and JSON carry times.
    ///
    /// ```
    /// # use mailtls::time::Timestamp;
    /// assert_eq!(Timestamp::from_unix_secs(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
    /// ```
    pub fn rfc3339(self) -> String {
        let (y, m, d, rem) = self.civil();
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    /// RFC 5322 §3.3 `date-time` in UTC, as a `Received:` header ends: `Mon, 7 Dec 2026
    /// 23:12:13 +0000`.
    ///
    /// ```
    /// # use mailtls::time::Timestamp;
    /// assert_eq!(
    ///     Timestamp::from_unix_secs(951_782_400).rfc5322(),
    ///     "Tue, 29 Feb 2000 00:00:00 +0000"
    /// );
    /// ```
    pub fn rfc5322(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (y, m, d, rem) = self.civil();
        // 1970-01-01 was a Thursday.
        let weekday = DAYS
            .get(usize::try_from(self.unix_secs() / 86_400 % 7).unwrap_or(0))
            .copied()
            .unwrap_or("Thu");
        let month = usize::try_from(m)
            .ok()
            .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
            .copied()
            .unwrap_or("Jan");
        format!(
            "{weekday}, {d} {month} {y:04} {:02}:{:02}:{:02} +0000",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    /// Year, month, day and the seconds into that day (UTC).
    fn civil(self) -> (u64, u64, u64, u64) {
        let secs = self.unix_secs();
        let (y, m, d) = civil_from_days(secs / 86_400);
        (y, m, d, secs % 86_400)
    }
}

/// Gregorian date of a day count since 1970-01-01 (the era-based conversion: 400-year eras of
/// 146097 days, years starting in March).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// RFC 3339 in UTC, with milliseconds when there are any: `2021-01-01T00:00:00Z`,
/// `2021-01-01T00:00:00.250Z` (what a person reads in an error message or a log).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.rfc3339();
        match self.0.subsec_millis() {
            0 => f.write_str(&text),
            millis => write!(
                f,
                "{}.{millis:03}Z",
                text.strip_suffix('Z').unwrap_or(&text)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_rfc3339_with_milliseconds_when_there_are_any() {
        assert_eq!(
            Timestamp::from_unix_secs(1_609_459_200).to_string(),
            "2021-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_609_459_200_250).to_string(),
            "2021-01-01T00:00:00.250Z"
        );
    }

    /// Weekdays checked against `date -u -d @SECS -R` (GNU coreutils).
    #[test]
    fn dates_format_as_rfc5322() {
        let cases = [
            (0, "Thu, 1 Jan 1970 00:00:00 +0000"),
            (1_459_555_199, "Fri, 1 Apr 2016 23:59:59 +0000"),
            (4_107_542_400, "Mon, 1 Mar 2100 00:00:00 +0000"),
        ];
        for (secs, text) in cases {
            assert_eq!(Timestamp::from_unix_secs(secs).rfc5322(), text);
        }
    }

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
        assert_eq!(
            Timestamp::from_unix_millis(1_500).to_string(),
            "1970-01-01T00:00:01.500Z"
        );
    }
}
