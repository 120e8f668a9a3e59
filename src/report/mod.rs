//! TLS-RPT (RFC 8460): result types, session outcomes and aggregate reports.

mod result_type;

pub use result_type::{ResultType, UnknownResultType};
