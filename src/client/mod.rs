//! The SMTP client session, sans-IO, in the quinn-proto shape.
//!
//! A [`ClientSession`] runs one connection attempt to one candidate host on one ladder rung:
//! greeting, EHLO, STARTTLS as the plan says, the TLS handshake through [`crate::tls`], EHLO
//! again with every pre-TLS fact forgotten, then message transactions and QUIT. It ends with
//! [`ClientEvent::Finished`] carrying an [`AttemptRecord`]: host, rung, result, RFC 8460
//! result type, TLS facts, and the [`NextStep`] (a retry on a lower rung is a new
//! connection). A [`Delivery`] walks rungs and candidate hosts so that adapters stay thin.
//!
//! ```text
//!  handle_input(bytes, now) ─►┌───────────────┐─► poll_transmit() -> bytes
//!  handle_eof(now)          ─►│ ClientSession │─► poll_event()    -> ClientEvent
//!  handle_timeout(now)      ─►│  SMTP + TLS   │─► poll_timeout()  -> deadline
//!  send_mail / send_data    ─►└───────────────┘
//! ```

mod delivery;
mod envelope;
mod event;
mod session;
mod settings;
mod verifiers;

pub use delivery::{Delivery, DeliveryOutcome};
pub use envelope::Envelope;
pub use event::{
    AttemptRecord, AttemptResult, ClientError, ClientEvent, MessageResult, NextStep,
    PlaintextReason, Stage, StarttlsFault, TlsSummary,
};
pub use session::ClientSession;
pub use settings::{Attempt, ClientSettings, Timeouts, REPLY_LINE_LIMIT, TRANSCRIPT_MAX};
pub use verifiers::{PlanVerifiers, VerifierHandle, VerifierSource};
