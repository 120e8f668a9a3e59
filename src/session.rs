//! The one shape of every sans-IO session, client and server alike (quinn-proto's).
//!
//! A [`Session`] owns no socket and reads no clock. Whoever drives it moves bytes and time
//! in and takes bytes, events and deadlines out:
//!
//! ```text
//!  handle_input(bytes, now) -> taken ─►┌─────────┐─► poll_transmit() -> bytes for the peer
//!  handle_eof(now)                   ─►│ Session │─► poll_event()    -> Session::Event
//!  handle_timeout(now)               ─►└─────────┘─► poll_timeout()  -> next deadline
//! ```
//!
//! [`ClientSession`](crate::client::ClientSession) and
//! [`ServerSession`](crate::server::ServerSession) both implement it, so a driver (the
//! blocking and tokio adapters, the C ABI, a test harness) is written once for both. What
//! only one role does (sending a message, answering a command) stays on the concrete type.
//!
//! The loop every driver runs:
//!
//! 1. offer what the peer sent to [`handle_input`](Session::handle_input), keeping what it
//!    did not take for later;
//! 2. send everything [`poll_transmit`](Session::poll_transmit) returns, one write per
//!    flight;
//! 3. act on every [`poll_event`](Session::poll_event);
//! 4. wait for input until [`poll_timeout`](Session::poll_timeout), then call
//!    [`handle_timeout`](Session::handle_timeout) (or
//!    [`handle_eof`](Session::handle_eof) when the peer closed);
//! 5. stop once [`is_closed`](Session::is_closed).

use crate::time::Timestamp;

/// A sans-IO SMTP session: deterministic, driven by bytes and time.
pub trait Session {
    /// What the session reports to its driver.
    type Event;

    /// Bytes received from the peer; returns how many were taken. Fewer than `input.len()`
    /// are taken only while the session holds a full buffer: offer the rest again after
    /// its events were handled. Once the session ended, input is taken and ignored.
    fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize;

    /// The peer closed its side of the connection.
    fn handle_eof(&mut self, now: Timestamp);

    /// Bytes for the peer, one flight at a time; `None` when there are none.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;

    /// Like [`poll_transmit`](Self::poll_transmit), appending to `buf`; returns the number of
    /// bytes added.
    fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize;

    /// The next event.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`handle_timeout`](Self::handle_timeout) must be called, if ever.
    #[must_use]
    fn poll_timeout(&self) -> Option<Timestamp>;

    /// Tells the session the time; a passed deadline ends what it guards.
    fn handle_timeout(&mut self, now: Timestamp);

    /// Whether the session is over and every byte for the peer was handed out.
    fn is_closed(&self) -> bool;
}
