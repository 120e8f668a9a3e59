//! What DANE demands of one MX host, given the DNSSEC status of the lookups and the TLSA RRset
//! (RFC 7672 §2, the Postfix `dane` / `dane-only` level rules).

use core::fmt;

use super::set::TlsaSet;
use crate::tlsrpt::ResultType;

/// The DNSSEC validation status of one DNS answer, as the caller's validating resolver saw it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnssecStatus {
    /// Validation failed: the answer is forged or broken (RFC 4035 "bogus").
    Bogus,
    /// No answer could be had (SERVFAIL, timeout): a temporary failure.
    Indeterminate,
    /// The answer is provably unsigned (RFC 4035 "insecure").
    Insecure,
    /// The answer validated (RFC 4035 "secure"), including an authenticated denial.
    Secure,
}

/// How strongly DANE is wanted for the destination.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaneMode {
    /// Postfix `dane`: use DANE when secure TLSA records exist, else fall back to `may`.
    Opportunistic,
    /// Postfix `dane-only` (RFC 7672 §6 mandatory DANE): no usable TLSA means no delivery to
    /// this host now.
    Mandatory,
}

/// The inputs for one MX host.
#[derive(Clone, Copy, Debug)]
pub struct DaneInputs<'a> {
    /// The status of the next-hop domain's MX RRset (for a domain with no MX, the status of
    /// the implicit-MX address lookup). Only decides whether the next-hop domain may serve as
    /// a reference identifier (RFC 7672 §2.2.1, §3.2.3).
    pub mx_status: DnssecStatus,
    /// The status of the MX host's address records: TLSA is only trusted when they are secure
    /// (RFC 7672 §2.2.2).
    pub address_status: DnssecStatus,
    /// The status of the `_25._tcp.<host>` TLSA lookup; `Secure` with an empty set is an
    /// authenticated denial of existence.
    pub tlsa_status: DnssecStatus,
    /// The TLSA RRset (empty when none was found).
    pub tlsa: &'a TlsaSet,
    /// The TLSA base domain: the MX host name after any secure CNAME expansion.
    pub tlsa_base_domain: &'a str,
    /// The MX host name as found in the MX RRset.
    pub mx_host: &'a str,
    /// The next-hop (recipient) domain.
    pub next_hop: &'a str,
}

/// What DANE requires for one MX host.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneEvaluation {
    /// Authenticate with the usable TLSA records (Postfix `dane` with usable TLSA): TLS is
    /// mandatory, the chain must match ([`verify_chain`](super::verify_chain)), no fallback to
    /// plaintext nor to PKIX or MTA-STS.
    Authenticate {
        /// The SNI to send: the TLSA base domain (RFC 7672 §8.1).
        sni: String,
        /// The DANE-TA reference identifiers, the TLSA base domain first.
        reference_ids: Vec<String>,
    },
    /// Do not deliver to this host now (try the next MX, then defer).
    Defer {
        /// Why.
        reason: DaneDeferReason,
        /// The RFC 8460 result type of the failure.
        result_type: ResultType,
    },
    /// TLS is mandatory but unauthenticated: secure TLSA records exist, all unusable
    /// (Postfix effective level `encrypt`, RFC 7672 §2.2).
    EncryptOnly,
    /// DANE does not apply: no secure TLSA records (Postfix effective level `may`). Other
    /// policy sources decide.
    NotApplicable {
        /// Why DANE does not apply.
        reason: NotApplicableReason,
    },
}

/// Why DANE defers a host.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaneDeferReason {
    /// A lookup was bogus.
    Bogus,
    /// `dane-only` and no usable TLSA record.
    MandatoryWithoutUsableTlsa,
    /// A lookup failed temporarily; never a reason to downgrade.
    TemporaryDnsFailure,
}

/// Why DANE does not apply to a host.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotApplicableReason {
    /// The MX host's address records are not signed.
    InsecureAddress,
    /// The TLSA lookup answer is not signed.
    InsecureTlsa,
    /// The TLSA RRset is provably empty.
    NoTlsaRecords,
}

impl DaneDeferReason {
    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bogus => "bogus",
            Self::MandatoryWithoutUsableTlsa => "mandatory-without-usable-tlsa",
            Self::TemporaryDnsFailure => "temporary-dns-failure",
        }
    }
}

impl fmt::Display for DaneDeferReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl NotApplicableReason {
    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InsecureAddress => "insecure-address",
            Self::InsecureTlsa => "insecure-tlsa",
            Self::NoTlsaRecords => "no-tlsa-records",
        }
    }
}

impl fmt::Display for NotApplicableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Applies the `dane` / `dane-only` rules.
///
/// In order: a bogus answer defers (`dnssec-invalid`); a temporary failure defers (never a
/// downgrade; reported as `dnssec-invalid`); no secure TLSA is `NotApplicable` (`dane`) or a
/// defer with `dane-required` (`dane-only`); secure TLSA with none usable is `EncryptOnly`
/// (`dane`) or a defer with `dane-required` (`dane-only`); usable TLSA is `Authenticate`.
pub fn evaluate(mode: DaneMode, inputs: &DaneInputs<'_>) -> DaneEvaluation {
    let statuses = [inputs.mx_status, inputs.address_status, inputs.tlsa_status];
    if statuses.contains(&DnssecStatus::Bogus) {
        return defer(DaneDeferReason::Bogus, ResultType::DnssecInvalid);
    }
    if statuses.contains(&DnssecStatus::Indeterminate) {
        return defer(
            DaneDeferReason::TemporaryDnsFailure,
            ResultType::DnssecInvalid,
        );
    }
    let not_applicable = if inputs.address_status != DnssecStatus::Secure {
        Some(NotApplicableReason::InsecureAddress)
    } else if inputs.tlsa_status != DnssecStatus::Secure {
        Some(NotApplicableReason::InsecureTlsa)
    } else if inputs.tlsa.is_empty() {
        Some(NotApplicableReason::NoTlsaRecords)
    } else {
        None
    };
    match (not_applicable, mode) {
        (Some(_), DaneMode::Mandatory) => defer(
            DaneDeferReason::MandatoryWithoutUsableTlsa,
            ResultType::DaneRequired,
        ),
        (Some(reason), DaneMode::Opportunistic) => DaneEvaluation::NotApplicable { reason },
        (None, DaneMode::Mandatory) if !inputs.tlsa.has_usable() => defer(
            DaneDeferReason::MandatoryWithoutUsableTlsa,
            ResultType::DaneRequired,
        ),
        (None, DaneMode::Opportunistic) if !inputs.tlsa.has_usable() => DaneEvaluation::EncryptOnly,
        (None, _) => DaneEvaluation::Authenticate {
            sni: inputs.tlsa_base_domain.to_owned(),
            reference_ids: reference_ids(inputs),
        },
    }
}

/// RFC 7672 §3.2.3: the TLSA base domain always; the MX host name when it differs (CNAME);
/// the next-hop domain only when the MX RRset was secure (an insecure MX lookup could have
/// been forged to point anywhere).
fn reference_ids(inputs: &DaneInputs<'_>) -> Vec<String> {
    let mut ids = vec![inputs.tlsa_base_domain.to_owned()];
    let mut push = |s: &str| {
        if !ids.iter().any(|i| i.eq_ignore_ascii_case(s)) {
            ids.push(s.to_owned());
        }
    };
    push(inputs.mx_host);
    if inputs.mx_status == DnssecStatus::Secure {
        push(inputs.next_hop);
    }
    ids
}

fn defer(reason: DaneDeferReason, result_type: ResultType) -> DaneEvaluation {
    DaneEvaluation::Defer {
        reason,
        result_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DnssecStatus::{Bogus, Indeterminate, Insecure, Secure};

    fn run(mode: DaneMode, st: [DnssecStatus; 3], tlsa: &TlsaSet) -> DaneEvaluation {
        evaluate(
            mode,
            &DaneInputs {
                mx_status: st[0],
                address_status: st[1],
                tlsa_status: st[2],
                tlsa,
                tlsa_base_domain: "mx.example.net",
                mx_host: "mx-alias.example.com",
                next_hop: "example.com",
            },
        )
    }

    #[test]
    fn effective_level_table() {
        let usable = TlsaSet::from_presentation([format!("3 1 1 {}", "00".repeat(32)).as_str()]);
        let unusable = TlsaSet::from_presentation([format!("1 1 1 {}", "00".repeat(32)).as_str()]);
        let none = TlsaSet::default();
        let auth = DaneEvaluation::Authenticate {
            sni: "mx.example.net".into(),
            reference_ids: vec![
                "mx.example.net".into(),
                "mx-alias.example.com".into(),
                "example.com".into(),
            ],
        };
        let req = defer(
            DaneDeferReason::MandatoryWithoutUsableTlsa,
            ResultType::DaneRequired,
        );
        use DaneMode::{Mandatory as Only, Opportunistic as Dane};
        let na = |reason| DaneEvaluation::NotApplicable { reason };
        let table: Vec<(DaneMode, [DnssecStatus; 3], &TlsaSet, DaneEvaluation)> = vec![
            (Dane, [Secure; 3], &usable, auth.clone()),
            (Only, [Secure; 3], &usable, auth.clone()),
            (Dane, [Secure; 3], &unusable, DaneEvaluation::EncryptOnly),
            (Only, [Secure; 3], &unusable, req.clone()),
            (
                Dane,
                [Secure; 3],
                &none,
                na(NotApplicableReason::NoTlsaRecords),
            ),
            (Only, [Secure; 3], &none, req.clone()),
            (
                Dane,
                [Secure, Insecure, Secure],
                &usable,
                na(NotApplicableReason::InsecureAddress),
            ),
            (
                Dane,
                [Secure, Secure, Insecure],
                &usable,
                na(NotApplicableReason::InsecureTlsa),
            ),
            (Only, [Secure, Secure, Insecure], &usable, req.clone()),
            (
                Dane,
                [Secure, Secure, Bogus],
                &usable,
                defer(DaneDeferReason::Bogus, ResultType::DnssecInvalid),
            ),
            (
                Dane,
                [Bogus, Secure, Secure],
                &usable,
                defer(DaneDeferReason::Bogus, ResultType::DnssecInvalid),
            ),
            (
                Dane,
                [Secure, Indeterminate, Secure],
                &none,
                defer(
                    DaneDeferReason::TemporaryDnsFailure,
                    ResultType::DnssecInvalid,
                ),
            ),
            (
                Dane,
                [Secure, Secure, Indeterminate],
                &none,
                defer(
                    DaneDeferReason::TemporaryDnsFailure,
                    ResultType::DnssecInvalid,
                ),
            ),
        ];
        for (i, (mode, st, set, expected)) in table.into_iter().enumerate() {
            assert_eq!(run(mode, st, set), expected, "row {i}");
        }
    }

    #[test]
    fn insecure_mx_drops_the_next_hop_reference_id() {
        let usable = TlsaSet::from_presentation([format!("2 1 1 {}", "00".repeat(32)).as_str()]);
        assert_eq!(
            run(DaneMode::Opportunistic, [Insecure, Secure, Secure], &usable),
            DaneEvaluation::Authenticate {
                sni: "mx.example.net".into(),
                reference_ids: vec!["mx.example.net".into(), "mx-alias.example.com".into()],
            }
        );
    }
}
