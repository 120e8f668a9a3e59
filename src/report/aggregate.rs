//! The aggregate report (RFC 8460 §4): outcomes grouped per policy domain and policy over a
//! date range, written as the RFC's JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::tlsrpt::{PolicyRef, ResultType, SessionOutcome};

/// The most distinct policy domains one [`Aggregator`] holds.
pub const MAX_DOMAINS: usize = 100_000;
/// The most distinct policies per domain.
pub const MAX_POLICIES_PER_DOMAIN: usize = 64;
/// The most distinct `failure-details` entries per policy; further failures still count in
/// the summary.
pub const MAX_FAILURE_DETAILS: usize = 1_000;

/// The report period: from `start` to `end`, both inclusive, to the second (RFC 8460's
/// example covers `00:00:00Z` to `23:59:59Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportPeriod {
    /// First second counted.
    pub start: Timestamp,
    /// Last second counted.
    pub end: Timestamp,
}

/// Who writes the report: the fields of RFC 8460 §4.4 that come from the reporter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportMeta {
    /// `organization-name`.
    pub organization_name: String,
    /// `contact-info` (an e-mail address or URI).
    pub contact_info: String,
    /// `report-id`, unique per report (the caller makes it; the core has no randomness).
    pub report_id: String,
}

/// What [`Aggregator::add`] did with an outcome.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// Counted against its policy.
    Counted,
    /// Counted in the summary, but its failure details were dropped: the policy already has
    /// [`MAX_FAILURE_DETAILS`] distinct entries.
    CountedWithoutDetail,
    /// Not counted: outside the period.
    OutsidePeriod,
    /// Not counted: [`MAX_DOMAINS`] or [`MAX_POLICIES_PER_DOMAIN`] reached.
    OverCap,
}

/// Groups outcomes per policy domain and per policy.
#[derive(Clone, Debug)]
pub struct Aggregator {
    period: ReportPeriod,
    domains: BTreeMap<String, BTreeMap<PolicyRef, PolicyCounts>>,
}

/// The RFC 8460 §4.4 aggregate report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    /// `organization-name`.
    pub organization_name: String,
    /// `date-range`.
    pub date_range: DateRange,
    /// `contact-info`.
    pub contact_info: String,
    /// `report-id`.
    pub report_id: String,
    /// `policies`.
    pub policies: Vec<PolicyReport>,
}

/// `date-range`: RFC 3339 date-times in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DateRange {
    /// `start-datetime`.
    pub start_datetime: String,
    /// `end-datetime`.
    pub end_datetime: String,
}

/// One entry of `policies`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyReport {
    /// `policy`.
    pub policy: PolicyRef,
    /// `summary`.
    pub summary: Summary,
    /// `failure-details`, omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_details: Vec<FailureDetail>,
}

/// `summary`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    /// `total-successful-session-count`.
    pub total_successful_session_count: u64,
    /// `total-failure-session-count`.
    pub total_failure_session_count: u64,
}

/// One entry of `failure-details`; optional fields are omitted when unknown.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FailureDetail {
    /// `result-type`.
    pub result_type: ResultType,
    /// `sending-mta-ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<String>,
    /// `receiving-mx-hostname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_mx_helo: Option<String>,
    /// `receiving-ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<String>,
    /// `failed-session-count`.
    pub failed_session_count: u64,
    /// `additional-information`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    /// `failure-reason-code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct PolicyCounts {
    summary: Summary,
    details: BTreeMap<DetailKey, u64>,
}

type DetailKey = (
    ResultType,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Aggregator {
    /// An empty aggregator for one period.
    pub fn new(period: ReportPeriod) -> Self {
        Self {
            period,
            domains: BTreeMap::new(),
        }
    }

    /// The period.
    pub const fn period(&self) -> ReportPeriod {
        self.period
    }

    /// Counts one outcome against the policy that governed it (`outcome.policy`) and nothing
    /// else: `unused_policies` are never counted.
    pub fn add(&mut self, outcome: &SessionOutcome) -> AddOutcome {
        let secs = outcome.at.unix_secs();
        if secs < self.period.start.unix_secs() || secs > self.period.end.unix_secs() {
            return AddOutcome::OutsidePeriod;
        }
        let detail = FailureDetail::of_session(outcome);
        self.add_count(&outcome.policy, detail.as_ref(), 1)
    }

    /// Counts `count` sessions against `policy` at once, already known to fall in the period
    /// (a counter kept by a [`Store`](crate::state::Store)): successful ones when `failure` is
    /// `None`, else failed ones with that detail (its `failed_session_count` is ignored).
    pub fn add_count(
        &mut self,
        policy: &PolicyRef,
        failure: Option<&FailureDetail>,
        count: u64,
    ) -> AddOutcome {
        let domain = normalise(&policy.policy_domain);
        if !self.domains.contains_key(&domain) && self.domains.len() >= MAX_DOMAINS {
            return AddOutcome::OverCap;
        }
        let policies = self.domains.entry(domain).or_default();
        if !policies.contains_key(policy) && policies.len() >= MAX_POLICIES_PER_DOMAIN {
            return AddOutcome::OverCap;
        }
        let tally = policies.entry(policy.clone()).or_default();
        let Some(failure) = failure else {
            tally.summary.total_successful_session_count = tally
                .summary
                .total_successful_session_count
                .saturating_add(count);
            return AddOutcome::Counted;
        };
        tally.summary.total_failure_session_count = tally
            .summary
            .total_failure_session_count
            .saturating_add(count);
        let key: DetailKey = (
            failure.result_type,
            failure.sending_mta_ip.clone(),
            failure.receiving_mx_hostname.clone(),
            failure.receiving_mx_helo.clone(),
            failure.receiving_ip.clone(),
            failure.additional_information.clone(),
            failure.failure_reason_code.clone(),
        );
        if let Some(n) = tally.details.get_mut(&key) {
            *n = n.saturating_add(count);
        } else if tally.details.len() >= MAX_FAILURE_DETAILS {
            return AddOutcome::CountedWithoutDetail;
        } else {
            tally.details.insert(key, count);
        }
        AddOutcome::Counted
    }

    /// The policy domains with at least one counted outcome (lower case, no trailing dot).
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    /// The report for one policy domain, or `None` when nothing was counted for it.
    pub fn report(&self, policy_domain: &str, meta: &ReportMeta) -> Option<Report> {
        let policies = self.domains.get(&normalise(policy_domain))?;
        Some(Report {
            organization_name: meta.organization_name.clone(),
            date_range: DateRange {
                start_datetime: rfc3339(self.period.start),
                end_datetime: rfc3339(self.period.end),
            },
            contact_info: meta.contact_info.clone(),
            report_id: meta.report_id.clone(),
            policies: policies
                .iter()
                .map(|(policy, tally)| PolicyReport {
                    policy: policy.clone(),
                    summary: tally.summary,
                    failure_details: tally
                        .details
                        .iter()
                        .map(|(k, &n)| FailureDetail {
                            result_type: k.0,
                            sending_mta_ip: k.1.clone(),
                            receiving_mx_hostname: k.2.clone(),
                            receiving_mx_helo: k.3.clone(),
                            receiving_ip: k.4.clone(),
                            failed_session_count: n,
                            additional_information: k.5.clone(),
                            failure_reason_code: k.6.clone(),
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

impl FailureDetail {
    /// The failure detail of one failed session, counted once; `None` for a success.
    pub fn of_session(outcome: &SessionOutcome) -> Option<Self> {
        let failure = outcome.result.as_ref().err()?;
        Some(Self {
            result_type: failure.result_type,
            sending_mta_ip: outcome.sending_ip.map(|ip| ip.to_string()),
            receiving_mx_hostname: outcome.mx_host.clone(),
            receiving_mx_helo: outcome.receiving_helo.clone(),
            receiving_ip: outcome.receiving_ip.map(|ip| ip.to_string()),
            failed_session_count: 1,
            additional_information: failure.additional_information.clone(),
            failure_reason_code: failure.failure_reason_code.clone(),
        })
    }
}

impl Report {
    /// The report as compact JSON (RFC 8460 §4.4).
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // non-finite floats.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The report as indented JSON, for people.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The RFC 8460 §5.1 file name of the (uncompressed) report:
    /// `<receiver>!<policy-domain>!<start>!<end>!<unique-id>.json`, with Unix seconds. The
    /// grammar allows only letters and digits in the unique-id (`1*(ALPHA / DIGIT)`), so it is
    /// the report-id with everything else left out (a UUID loses its hyphens), and it is
    /// omitted when nothing is left.
    pub fn file_name(&self, receiver: &str, period: ReportPeriod) -> String {
        let domain = self
            .policies
            .first()
            .map(|p| p.policy.policy_domain.as_str())
            .unwrap_or_default();
        let unique: String = self
            .report_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let unique = if unique.is_empty() {
            unique
        } else {
            format!("!{unique}")
        };
        format!(
            "{receiver}!{domain}!{}!{}{unique}.json",
            period.start.unix_secs(),
            period.end.unix_secs(),
        )
    }
}

fn normalise(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a timestamp (whole seconds, UTC).
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_rfc3339() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_459_468_800, "2016-04-01T00:00:00Z"),
            (1_459_555_199, "2016-04-01T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(rfc3339(Timestamp::from_unix_secs(secs)), text);
        }
    }
}
