//! Errors of the application's calls into a server session.

/// A call the session could not honour; the session itself is unchanged.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// An answer was given while no event waited for one.
    #[error("no event is waiting for an answer")]
    NothingPending,
    /// `reject` was called with a reply that is not a refusal.
    #[error("reply code {code} does not refuse (expected 4xx or 5xx)")]
    NotARefusal {
        /// The code presented.
        code: u16,
    },
    /// The accept text is not valid reply text.
    #[error("invalid reply text: {detail}")]
    InvalidText {
        /// Why the text was refused.
        detail: String,
    },
}
