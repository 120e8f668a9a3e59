//! What the blocking and tokio loops share, for client and server sessions alike: everything
//! between the stream and the [`Session`] except the reads and writes themselves.
//!
//! A [`Driver`] holds the bytes read but not yet taken, the flight being collected for one
//! write, and the traffic counters; a [`Handler`] is the role's half (the [`Outbox`] answering
//! client events, the [`Application`] answering server events). Each adapter has one loop
//! over a `Driver`: settle, write the flight, stop once closed, read until the deadline.
//!
//! [`Outbox`]: super::client::Outbox
//! [`Application`]: super::Application

use std::time::Duration;

use crate::session::Session;
use crate::time::Timestamp;

use super::now;

/// The role-specific half of an adapter: what it does with a session's events.
pub(crate) trait Handler<S: Session> {
    /// One event, in order; an event that waits for an answer is answered on `session`.
    fn on_event(&mut self, session: &mut S, event: S::Event);

    /// Whether the session must not be offered input now (an event still waits for its
    /// answer).
    fn holds_input(&self, session: &S) -> bool {
        let _ = session;
        false
    }
}

/// One connection's bookkeeping, without the stream.
pub(crate) struct Driver<'a, S: Session, H: Handler<S>> {
    session: &'a mut S,
    handler: &'a mut H,
    /// Bytes read that the session has not taken yet.
    input: Vec<u8>,
    /// Everything the session has for the peer since the last write: one write per flight.
    flight: Vec<u8>,
    /// Bytes read from the peer.
    pub(crate) bytes_in: u64,
    /// Bytes written to the peer.
    pub(crate) bytes_out: u64,
}

impl<'a, S: Session, H: Handler<S>> Driver<'a, S, H> {
    pub(crate) fn new(session: &'a mut S, handler: &'a mut H) -> Self {
        Self {
            session,
            handler,
            input: Vec::new(),
            flight: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Runs the session until it waits for the peer (events handled, held input offered);
    /// returns the flight to write, empty when there is none.
    pub(crate) fn settle(&mut self) -> &[u8] {
        while self.pump() || self.feed() > 0 {}
        &self.flight
    }

    /// The flight was written.
    pub(crate) fn sent(&mut self) {
        self.bytes_out += self.flight.len() as u64;
        self.flight.clear();
    }

    /// Whether the session is over and its last flight was collected.
    pub(crate) fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    /// When the session's deadline passes, if it has one.
    pub(crate) fn deadline(&self) -> Option<Timestamp> {
        self.session.poll_timeout()
    }

    /// Bytes read from the peer.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        self.bytes_in += bytes.len() as u64;
        self.input.extend_from_slice(bytes);
        self.feed();
    }

    /// The peer closed the connection.
    pub(crate) fn eof(&mut self) {
        self.session.handle_eof(now());
    }

    /// The session's deadline passed (or a read timed out).
    pub(crate) fn timeout(&mut self) {
        self.session.handle_timeout(now());
    }

    /// The stream failed: the session ends as if the peer had closed, and the handler sees
    /// its last events. Nothing happens for a session that already ended.
    pub(crate) fn lost(&mut self) {
        self.session.handle_eof(now());
        self.pump();
    }

    /// Collects every transmit into the flight and hands every event to the handler until
    /// the session is quiet. Returns whether anything happened.
    fn pump(&mut self) -> bool {
        let mut progressed = false;
        loop {
            let mut moved = self.session.poll_transmit_into(&mut self.flight) > 0;
            while let Some(event) = self.session.poll_event() {
                moved = true;
                self.handler.on_event(self.session, event);
            }
            if !moved {
                return progressed;
            }
            progressed = true;
        }
    }

    /// Offers the held input to the session; returns the bytes it took.
    fn feed(&mut self) -> usize {
        if self.input.is_empty() || self.handler.holds_input(self.session) {
            return 0;
        }
        let taken = self
            .session
            .handle_input(&self.input, now())
            .min(self.input.len());
        self.input.drain(..taken);
        taken
    }
}

/// The read timeout a blocking stream was last given, so that the loop tells the stream again
/// only when the session's deadline has moved well away from it: a timeout set before every
/// read costs two system calls a read (read and write timeouts) for nothing.
///
/// A new timeout is a quarter of the time left, so one setting serves every SMTP deadline of
/// a connection (2 to 10 minutes from one reply to the next: set once per connection). It is
/// kept while it fires neither after the deadline by more than [`LATE`](Self::LATE) (or 1/32
/// of the time left, if less) nor before a sixteenth of the time left: a read that times out
/// early only has the session see the time (sessions ignore a deadline not yet passed), so
/// a peer that stays silent until its deadline costs a few more reads, no more.
#[derive(Debug, Default)]
pub(crate) struct ReadTimeout {
    /// What the stream was given (`Some(None)`: no timeout); `None` before the first read.
    set: Option<Option<Duration>>,
}

impl ReadTimeout {
    /// The most a kept timeout may fire after the session's deadline.
    pub(crate) const LATE: Duration = Duration::from_secs(1);

    /// The timeout to give the stream before the next read, which has `left` until the
    /// session's deadline (`None`: no deadline); `None` when the one it has will do.
    pub(crate) fn next(&mut self, left: Option<Duration>) -> Option<Option<Duration>> {
        let keep = match (self.set, left) {
            // No deadline (waiting for the peer to close, say): any timeout only wakes the
            // loop now and then.
            (Some(_), None) => true,
            (Some(Some(set)), Some(left)) => {
                let late = Self::LATE.min(left / 32);
                set <= left.saturating_add(late) && set >= left / 16
            }
            _ => false,
        };
        if keep {
            return None;
        }
        let timeout = left.map(|left| left / 4);
        self.set = Some(timeout);
        Some(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_first_read_sets_a_quarter_of_the_time_left() {
        assert_eq!(ReadTimeout::default().next(None), Some(None));
        assert_eq!(
            ReadTimeout::default().next(Some(4 * MINUTE)),
            Some(Some(MINUTE))
        );
    }

    #[test]
    fn one_timeout_serves_every_smtp_deadline() {
        let mut timeout = ReadTimeout::default();
        assert_eq!(timeout.next(Some(5 * MINUTE)), Some(Some(5 * MINUTE / 4)));
        // Greeting, EHLO, STARTTLS, MAIL, RCPT (5 min), DATA (2 min), the dot (10 min).
        for left in [5, 5, 5, 2, 10, 5].map(|m| m * MINUTE) {
            assert_eq!(timeout.next(Some(left)), None, "{left:?}");
        }
        let mut none = ReadTimeout::default();
        none.next(None);
        assert_eq!(none.next(None), None);
    }

    #[test]
    fn a_timeout_that_would_fire_late_is_set_again() {
        let mut timeout = ReadTimeout::default();
        timeout.next(Some(4 * MINUTE));
        // A minute set, 58 s left: it would fire 2 s after the deadline.
        let left = MINUTE - Duration::from_secs(2);
        assert_eq!(timeout.next(Some(left)), Some(Some(left / 4)));
        // Short deadlines are held to 1/32 of what is left.
        let mut short = ReadTimeout::default();
        short.next(Some(Duration::from_secs(2)));
        let left = Duration::from_millis(480);
        assert_eq!(short.next(Some(left)), Some(Some(left / 4)));
    }

    #[test]
    fn a_timeout_far_too_early_or_missing_is_set_again() {
        let mut timeout = ReadTimeout::default();
        timeout.next(Some(MINUTE));
        assert_eq!(timeout.next(Some(10 * MINUTE)), Some(Some(10 * MINUTE / 4)));
        // No deadline any more: the timeout the stream has only wakes the loop.
        assert_eq!(timeout.next(None), None);
        let mut forever = ReadTimeout::default();
        forever.next(None);
        assert_eq!(forever.next(Some(MINUTE)), Some(Some(MINUTE / 4)));
    }
}
