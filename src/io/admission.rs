//! What a listener admits: how many connections at once, in all and from one client address,
//! and what it says to the ones beyond the cap. Bookkeeping only; the adapters accept, refuse
//! and close.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::smtp::{Code, EnhancedCode, Reply};

/// Bounds on the connections one listener serves at once.
///
/// A connection beyond either bound is answered `421 4.7.0 Too many connections, try again
/// later` and closed before a session starts, so one client (or a crowd) cannot take every
/// thread, file descriptor and byte of memory the server has: each admitted session holds a
/// bounded amount of memory, so the cap bounds the whole server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most sessions served at once.
    pub max_connections: usize,
    /// The most sessions served at once for one client IP address.
    pub max_per_client: usize,
}

impl Default for ConnectionLimits {
    /// 500 sessions, 20 from one address.
    fn default() -> Self {
        Self {
            max_connections: 500,
            max_per_client: 20,
        }
    }
}

/// Which bound a refused connection hit.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overload {
    /// [`ConnectionLimits::max_connections`].
    Global,
    /// [`ConnectionLimits::max_per_client`].
    PerClient,
}

impl Overload {
    /// A stable name for logs: `"max-connections"` or `"max-per-client"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Global => "max-connections",
            Self::PerClient => "max-per-client",
        }
    }
}

/// What a listener reports about connections that never became a session.
#[non_exhaustive]
#[derive(Debug)]
pub enum ListenerNotice<'a> {
    /// Accepting failed (out of file descriptors, say); the listener waits `retry_in` and
    /// accepts again. The wait doubles while failures go on, from 10 ms up to 1 s.
    AcceptFailed {
        /// What `accept` said.
        error: &'a io::Error,
        /// How long the listener waits before the next accept.
        retry_in: Duration,
    },
    /// A connection beyond the [`ConnectionLimits`] was answered `421 4.7.0` and closed.
    Refused {
        /// The client.
        peer: SocketAddr,
        /// The bound it hit.
        overload: Overload,
        /// The reply it was sent.
        reply: Reply,
    },
    /// No thread could be started for a connection; it was answered `421 4.3.2` and closed.
    SpawnFailed {
        /// The client.
        peer: SocketAddr,
        /// What the spawn said.
        error: &'a io::Error,
        /// The reply it was sent.
        reply: Reply,
    },
}

/// The first wait after a failed accept.
pub(crate) const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest wait after failed accepts.
pub(crate) const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The next wait after a failed accept: `previous` doubled within the bounds.
pub(crate) fn next_backoff(previous: Option<Duration>) -> Duration {
    match previous {
        None => ACCEPT_BACKOFF_MIN,
        Some(wait) => wait
            .saturating_mul(2)
            .clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX),
    }
}

/// Whether an accept error concerns only the connection being accepted (it was reset before
/// it was taken, the call was interrupted): accept again at once.
pub(crate) fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The reply to a connection beyond the cap.
pub(crate) fn overload_reply() -> Reply {
    Reply::fixed(
        Code::SERVICE_UNAVAILABLE,
        EnhancedCode::new(4, 7, 0),
        "Too many connections, try again later",
    )
}

/// The reply to a connection no thread could be started for.
#[cfg(feature = "blocking")]
pub(crate) fn spawn_failed_reply() -> Reply {
    Reply::fixed(
        Code::SERVICE_UNAVAILABLE,
        EnhancedCode::new(4, 3, 2),
        "System not accepting connections, try again later",
    )
}

/// The sessions a listener serves now, by client address.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Admits a session from `ip` when both bounds allow; the slot frees itself when dropped.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Overload> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.limits.max_connections {
            return Err(Overload::Global);
        }
        let mine = counts.per_client.entry(ip).or_insert(0);
        if *mine >= self.limits.max_per_client {
            if *mine == 0 {
                counts.per_client.remove(&ip);
            }
            return Err(Overload::PerClient);
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            ip,
        })
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted session's place under the cap, given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_client.get_mut(&self.ip) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.per_client.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_client_and_in_all_and_frees_on_drop() {
        let admission = Admission::new(ConnectionLimits {
            max_connections: 3,
            max_per_client: 2,
        });
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let c: IpAddr = [192, 0, 2, 3].into();
        let a1 = admission.admit(a);
        let a2 = admission.admit(a);
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(admission.admit(a).err(), Some(Overload::PerClient));
        let b1 = admission.admit(b);
        assert!(b1.is_ok());
        assert_eq!(admission.admit(c).err(), Some(Overload::Global));
        drop(a1);
        assert_eq!(admission.total(), 2);
        assert!(admission.admit(a).is_ok(), "a freed slot is reused");
        drop((a2, b1));
        assert_eq!(admission.total(), 0);
        assert!(admission
            .counts
            .lock()
            .is_ok_and(|c| c.per_client.is_empty()));
    }

    #[test]
    fn a_zero_per_client_cap_refuses_without_leaving_an_entry() {
        let admission = Admission::new(ConnectionLimits {
            max_connections: 1,
            max_per_client: 0,
        });
        assert_eq!(
            admission.admit([127, 0, 0, 1].into()).err(),
            Some(Overload::PerClient)
        );
        assert!(admission
            .counts
            .lock()
            .is_ok_and(|c| c.per_client.is_empty()));
    }

    #[test]
    fn backoff_doubles_from_ten_milliseconds_to_one_second() {
        let mut wait = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let next = next_backoff(wait);
            seen.push(next.as_millis());
            wait = Some(next);
        }
        assert_eq!(seen, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
    }

    #[test]
    fn the_overload_reply_is_421_4_7_0() {
        assert_eq!(
            overload_reply().to_bytes(),
            b"421 4.7.0 Too many connections, try again later\r\n"
        );
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn a_failed_spawn_is_answered_421_4_3_2() {
        assert!(spawn_failed_reply().to_bytes().starts_with(b"421 4.3.2 "));
    }
}
