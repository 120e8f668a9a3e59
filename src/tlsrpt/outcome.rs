//! One delivery session's TLS outcome, as TLS-RPT (RFC 8460 §4) counts it.

use core::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ResultType;
use crate::time::Timestamp;

/// The RFC 8460 §4.4 `policy-type`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    /// No policy applied (neither DANE nor MTA-STS).
    NoPolicyFound,
    /// An MTA-STS policy.
    Sts,
    /// A DANE TLSA RRset.
    Tlsa,
}

impl PolicyType {
    /// The RFC 8460 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NoPolicyFound => "no-policy-found",
            Self::Sts => "sts",
            Self::Tlsa => "tlsa",
        }
    }
}

/// A policy as a report names it: the `policy` object of RFC 8460 §4.4.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyRef {
    /// The policy type.
    pub policy_type: PolicyType,
    /// The policy text: for `sts` the policy file's lines, for `tlsa` the TLSA records in
    /// presentation form; empty for `no-policy-found`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_string: Vec<String>,
    /// The domain the policy belongs to (the recipient domain).
    pub policy_domain: String,
    /// For `sts`, the policy's `mx` patterns; for `tlsa`, the MX host names the records were
    /// found under.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mx_host: Vec<String>,
}

impl PolicyRef {
    /// A `no-policy-found` policy for `domain`.
    pub fn none_found(domain: impl Into<String>) -> Self {
        Self {
            policy_type: PolicyType::NoPolicyFound,
            policy_string: Vec::new(),
            policy_domain: domain.into(),
            mx_host: Vec::new(),
        }
    }
}

/// One session, as the client saw it.
///
/// `policy` is the policy that *governed* the session. Policies that were published but did not
/// govern it (for example an MTA-STS policy when DANE decided) go in `unused_policies`: they
/// are kept for logs and never counted (postfix-tlspol #71).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOutcome {
    /// When the session happened; decides which report period counts it.
    pub at: Timestamp,
    /// The policy applied.
    pub policy: PolicyRef,
    /// Policies found but not applied; never counted.
    pub unused_policies: Vec<PolicyRef>,
    /// The MX host name connected to (or that failed before connecting).
    pub mx_host: Option<String>,
    /// The sending MTA's IP address.
    pub sending_ip: Option<IpAddr>,
    /// The receiving MTA's IP address.
    pub receiving_ip: Option<IpAddr>,
    /// The receiving MTA's EHLO/HELO name, when one was received.
    pub receiving_helo: Option<String>,
    /// Success, or the failure.
    pub result: Result<(), SessionFailure>,
}

/// Why a session failed the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFailure {
    /// The RFC 8460 result type.
    pub result_type: ResultType,
    /// A human-readable note (`additional-information`), for example a URI to more detail.
    pub additional_information: Option<String>,
    /// A short machine-readable code (`failure-reason-code`), for example the TLS alert.
    pub failure_reason_code: Option<String>,
}

impl SessionFailure {
    /// A failure with a result type and nothing more.
    pub const fn new(result_type: ResultType) -> Self {
        Self {
            result_type,
            additional_information: None,
            failure_reason_code: None,
        }
    }
}
