//! The TLS-RPT (RFC 8460) vocabulary: the words every layer records a TLS outcome in.
//!
//! This module sits on the ground floor, beside [`time`](crate::time), so that `cert`,
//! `policy`, `tls` and `client` can name a failure the way a report will count it without
//! depending on the report machinery above them:
//!
//! - [`ResultType`]: the RFC 8460 §4.3 failure names every TLS failure in mailtls carries.
//! - [`PolicyRef`] and [`PolicyType`]: the policy a session is counted against.
//! - [`SessionOutcome`] and [`SessionFailure`]: what one delivery session records.
//! - The tag-value TXT grammar shared by the `_smtp._tls` (RFC 8460 §3) and `_mta-sts`
//!   (RFC 8461 §3.1) records: [`TxtSyntaxError`], [`TxtSelectError`], [`MAX_TXT_LEN`].
//! - [`TlsRptRecord`]: the `_smtp._tls.<domain>` record itself, which discovery (in `policy`)
//!   carries as one of a destination's answers.
//!
//! Aggregation and the report documents built from these words live in
//! [`report`](crate::report), which re-exports them under their familiar paths
//! (`mailtls::report::ResultType` and so on).

mod outcome;
mod record;
mod result_type;
pub(crate) mod txt;

pub use outcome::{PolicyRef, PolicyType, SessionFailure, SessionOutcome};
pub use record::{ReportUri, TlsRptRecord, TLSRPT_VERSION};
pub use result_type::{ResultType, UnknownResultType};
pub use txt::{TxtSelectError, TxtSyntaxError, MAX_TXT_LEN};
