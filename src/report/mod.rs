//! TLS-RPT (RFC 8460): aggregate reports and the records saying where they go.
//!
//! The vocabulary the lower layers record outcomes in lives in [`tlsrpt`](crate::tlsrpt) and
//! is re-exported here under its familiar paths:
//!
//! - [`ResultType`]: the RFC 8460 §4.3 failure names every TLS failure in mailtls carries.
//! - [`SessionOutcome`]: what one delivery session records: the policy that governed it, the
//!   hosts and addresses, success or a [`SessionFailure`].
//!
//! This module adds what is built from them:
//!
//! - [`Aggregator`]: groups outcomes per policy domain and policy over a [`ReportPeriod`] and
//!   builds the RFC 8460 §4.4 [`Report`], written as JSON with [`Report::to_json`].
//! - [`TlsRptRecord`]: the `_smtp._tls.<domain>` TXT record saying where reports go.
//!
//! # Sending the report itself
//!
//! RFC 8460 §3 says a report must be deliverable even when the TLS it reports on is broken:
//! the report mail must **not** be subject to the recipient's TLS policy (DANE, MTA-STS), or a
//! domain whose TLS is broken would never learn why. A caller mailing a report to a `mailto:`
//! destination therefore:
//!
//! 1. adds the header `TLS-Required: No` (RFC 8689 §5) to the report message, which makes
//!    the REQUIRETLS overlay (`policy::requiretls`) drop the recipient policies and allow plaintext;
//! 2. does not set REQUIRETLS on the envelope;
//! 3. delivers at the opportunistic level (Postfix `may`): STARTTLS when offered, no
//!    certificate checks, plaintext when TLS fails.
//!
//! The message is `multipart/report; report-type=tlsrpt` with the gzipped JSON as
//! `application/tlsrpt+gzip` (RFC 8460 §5.3), named by [`Report::file_name`]. For an `https:`
//! destination the caller POSTs the gzipped JSON with media type `application/tlsrpt+gzip`
//! and does not apply MTA-STS or DANE to that request either.
//!
//! # Example
//!
//! ```
//! use mailtls::report::{
//!     Aggregator, PolicyRef, PolicyType, ReportMeta, ReportPeriod, ResultType, SessionFailure,
//!     SessionOutcome,
//! };
//! use mailtls::Timestamp;
//!
//! let day = ReportPeriod {
//!     start: Timestamp::from_unix_secs(1_459_468_800), // 2016-04-01T00:00:00Z
//!     end: Timestamp::from_unix_secs(1_459_555_199),   // 2016-04-01T23:59:59Z
//! };
//! let sts = PolicyRef {
//!     policy_type: PolicyType::Sts,
//!     policy_string: vec!["version: STSv1".into(), "mode: testing".into(),
//!                         "mx: *.mail.company-y.example".into(), "max_age: 86400".into()],
//!     policy_domain: "company-y.example".into(),
//!     mx_host: vec!["*.mail.company-y.example".into()],
//! };
//! let session = |result| SessionOutcome {
//!     at: Timestamp::from_unix_secs(1_459_500_000),
//!     policy: sts.clone(),
//!     unused_policies: vec![],
//!     mx_host: Some("mx1.mail.company-y.example".into()),
//!     sending_ip: Some("2001:db8:abcd:12::1".parse().unwrap()),
//!     receiving_ip: None,
//!     receiving_helo: None,
//!     result,
//! };
//! let mut agg = Aggregator::new(day);
//! agg.add(&session(Ok(())));
//! agg.add(&session(Err(SessionFailure::new(ResultType::CertificateExpired))));
//!
//! let meta = ReportMeta {
//!     organization_name: "Company-X".into(),
//!     contact_info: "sts-reporting@company-x.example".into(),
//!     report_id: "5065427c-23d3-47ca-b6e0-946ea0e8c4be".into(),
//! };
//! let report = agg.report("company-y.example", &meta).unwrap();
//! println!("{}", report.to_json_pretty());
//! assert_eq!(report.policies[0].summary.total_failure_session_count, 1);
//! assert!(report.to_json().contains(r#""result-type":"certificate-expired""#));
//! ```

mod aggregate;
mod mail;

pub(crate) use aggregate::rfc3339;
pub use aggregate::{
    AddOutcome, Aggregator, DateRange, FailureDetail, PolicyReport, Report, ReportMeta,
    ReportPeriod, Summary, MAX_DOMAINS, MAX_FAILURE_DETAILS, MAX_POLICIES_PER_DOMAIN,
};
pub use mail::{mailto_address, report_message, ReportMail, ReportMailError};
// The vocabulary, re-exported for users; code inside the crate names `crate::tlsrpt`.
pub use crate::tlsrpt::{
    PolicyRef, PolicyType, ReportUri, ResultType, SessionFailure, SessionOutcome, TlsRptRecord,
    TxtSelectError, TxtSyntaxError, UnknownResultType, MAX_TXT_LEN, TLSRPT_VERSION,
};
