//! DANE for SMTP (RFC 7672, 6698, 7671): TLSA records and their use.
//!
//! - [`TlsaRecord`]: one record, parsed from presentation text or wire RDATA.
//! - [`TlsaSet`]: an RRset sorted into usable and unusable records (PKIX usages, malformed
//!   records, digest agility), each unusable one kept with its [`Unusable`] reason.
//! - [`evaluate`]: the `dane` / `dane-only` rules, from the DNSSEC status of the lookups to a
//!   [`DaneEvaluation`] (authenticate, encrypt only, not applicable, or defer).
//! - [`verify_chain`]: the matching itself, over DER certificates, for the client's
//!   certificate verifier to call; [`TlsaCheck`] wraps it as the
//!   [`cert::DaneCheck`](crate::cert::DaneCheck) hook of `cert::ServerVerifier`.
//!
//! The caller does the DNS: it looks up the MX, the host's addresses and
//! `_25._tcp.<tlsa-base-domain>` TLSA with a validating resolver and passes the answers with
//! their [`DnssecStatus`].

mod hook;
mod level;
mod record;
mod set;
mod verify;

pub use hook::TlsaCheck;
pub use level::{
    evaluate, DaneDeferReason, DaneEvaluation, DaneInputs, DaneMode, DnssecStatus,
    NotApplicableReason,
};
pub use record::{CertUsage, MatchingType, Selector, TlsaParseError, TlsaRecord, MAX_DATA_LEN};
pub use set::{TlsaSet, Unusable, UnusableTlsa, MAX_RECORDS};
pub use verify::{matches, selected, verify_chain, DaneVerifyError, TlsaMatch, MAX_CHAIN_LEN};
