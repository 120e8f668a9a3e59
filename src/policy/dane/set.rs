//! A TLSA RRset sorted into the records a client may use and the ones it must ignore, each
//! ignored record kept with the reason.

use std::collections::BTreeMap;

use x509_parser::prelude::FromDer;

use super::record::{CertUsage, MatchingType, Selector, TlsaParseError, TlsaRecord};

/// The most records one RRset may bring; further records are kept as unusable.
pub const MAX_RECORDS: usize = 64;

/// A secure TLSA RRset, split into usable and unusable records.
///
/// The rules applied (each has a test):
///
/// - PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 §3.1.3): an MTA has no agreed
///   set of public CAs.
/// - Unassigned usages, selectors and matching types are unusable (RFC 7672 §2.2).
/// - A digest whose length does not fit its matching type, a Full(0) record whose data does not
///   parse as the selected structure, and a record that did not parse at all are unusable
///   (RFC 7671 §4: "malformed" records are treated as unusable).
/// - Digest algorithm agility (RFC 7671 §9): among the usable records with the same usage and
///   selector, only those with the strongest digest matching type present are used:
///   SHA2-512(2) over SHA2-256(1). The rest are kept as [`Unusable::Superseded`].
///   Full(0) is not a digest and takes no part in the ordering: a Full(0) record stays usable
///   whatever digests sit beside it. (verify: RFC 7671 §9 defines agility over digest
///   algorithms and names no rank for Full(0); Postfix's `tls_dane_digests` ranks only digests.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsaSet {
    usable: Vec<TlsaRecord>,
    unusable: Vec<UnusableTlsa>,
}

/// A record the client must not use, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusableTlsa {
    /// The record, when it parsed.
    pub record: Option<TlsaRecord>,
    /// What was presented (presentation text, or the RDATA in hex), cut to 256 characters.
    pub presented: String,
    /// Why it is unusable.
    pub reason: Unusable,
}

/// Why a TLSA record is unusable.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// The digest has the wrong length for its matching type.
    #[error("{matching_type} digest of {presented} bytes, expected {expected}")]
    DigestLength {
        /// The record's matching type.
        matching_type: MatchingType,
        /// The length the matching type produces.
        expected: usize,
        /// The length presented.
        presented: usize,
    },
    /// A Full(0) record whose data is not a DER certificate or SubjectPublicKeyInfo.
    #[error("Full(0) data does not parse as a DER {expected}")]
    MalformedFullData {
        /// `certificate` or `SubjectPublicKeyInfo`.
        expected: &'static str,
    },
    /// The record did not parse.
    #[error("malformed TLSA record: {0}")]
    Malformed(TlsaParseError),
    /// PKIX-TA(0) or PKIX-EE(1): unusable for SMTP (RFC 7672 §3.1.3).
    #[error("usage {0} is unusable for SMTP (RFC 7672 section 3.1.3)")]
    PkixUsage(CertUsage),
    /// A stronger digest with the same usage and selector is present (RFC 7671 §9).
    #[error("superseded by a {by} record with the same usage and selector (digest agility)")]
    Superseded {
        /// The matching type that is used instead.
        by: MatchingType,
    },
    /// The RRset has more than [`MAX_RECORDS`] records; this one is beyond the cap.
    #[error("more than {max} TLSA records")]
    TooManyRecords {
        /// The cap.
        max: usize,
    },
    /// The matching type has no assigned meaning.
    #[error("unassigned matching type {0}")]
    UnassignedMatchingType(u8),
    /// The selector has no assigned meaning.
    #[error("unassigned selector {0}")]
    UnassignedSelector(u8),
    /// The certificate usage has no assigned meaning.
    #[error("unassigned certificate usage {0}")]
    UnassignedUsage(u8),
}

impl TlsaSet {
    /// Sorts already parsed records.
    pub fn from_records(records: impl IntoIterator<Item = TlsaRecord>) -> Self {
        Self::build(records.into_iter().map(|r| {
            let presented = cut(r.to_string());
            (Ok(r), presented)
        }))
    }

    /// Parses and sorts records in presentation form (`3 1 1 ABCD...`), one per item.
    pub fn from_presentation<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        Self::build(
            texts
                .into_iter()
                .map(|t| (TlsaRecord::parse_presentation(t), cut(t.to_owned()))),
        )
    }

    /// Parses and sorts records in wire RDATA form, one per item.
    pub fn from_rdata<'a>(rdatas: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Self::build(rdatas.into_iter().map(|d| {
            let parsed = TlsaRecord::from_rdata(d);
            let presented = match &parsed {
                Ok(r) => cut(r.to_string()),
                Err(_) => d.iter().take(128).map(|b| format!("{b:02X}")).collect(),
            };
            (parsed, presented)
        }))
    }

    /// The records the client uses, in RRset order.
    pub fn usable(&self) -> &[TlsaRecord] {
        &self.usable
    }

    /// The records the client ignores, with reasons.
    pub fn unusable(&self) -> &[UnusableTlsa] {
        &self.unusable
    }

    /// Whether the RRset had no records at all.
    pub fn is_empty(&self) -> bool {
        self.usable.is_empty() && self.unusable.is_empty()
    }

    /// Whether at least one record is usable.
    pub fn has_usable(&self) -> bool {
        !self.usable.is_empty()
    }

    /// Every record as presented, usable ones first: the RFC 8460 `policy-string` of a `tlsa`
    /// policy.
    pub fn policy_strings(&self) -> Vec<String> {
        self.usable
            .iter()
            .map(ToString::to_string)
            .chain(self.unusable.iter().map(|u| u.presented.clone()))
            .collect()
    }

    fn build(items: impl Iterator<Item = (Result<TlsaRecord, TlsaParseError>, String)>) -> Self {
        let mut set = Self::default();
        for (index, (parsed, presented)) in items.enumerate() {
            let checked = match parsed {
                Err(e) => Err((None, Unusable::Malformed(e))),
                Ok(_) if index >= MAX_RECORDS => {
                    Err((None, Unusable::TooManyRecords { max: MAX_RECORDS }))
                }
                Ok(r) => match check(&r) {
                    Some(reason) => Err((Some(r), reason)),
                    None => Ok(r),
                },
            };
            match checked {
                Ok(r) => set.usable.push(r),
                Err((record, reason)) => set.unusable.push(UnusableTlsa {
                    record,
                    presented,
                    reason,
                }),
            }
        }
        set.apply_digest_agility();
        set
    }

    fn apply_digest_agility(&mut self) {
        let mut strongest: BTreeMap<(CertUsage, Selector), MatchingType> = BTreeMap::new();
        for r in &self.usable {
            if let Some(rank) = digest_rank(r.matching_type) {
                let best = strongest
                    .entry((r.usage, r.selector))
                    .or_insert(r.matching_type);
                if digest_rank(*best) < Some(rank) {
                    *best = r.matching_type;
                }
            }
        }
        let (keep, drop): (Vec<_>, Vec<_>) = core::mem::take(&mut self.usable)
            .into_iter()
            .partition(|r| {
                digest_rank(r.matching_type).is_none()
                    || strongest.get(&(r.usage, r.selector)) == Some(&r.matching_type)
            });
        self.usable = keep;
        for r in drop {
            let by = strongest
                .get(&(r.usage, r.selector))
                .copied()
                .unwrap_or(r.matching_type);
            self.unusable.push(UnusableTlsa {
                presented: cut(r.to_string()),
                record: Some(r),
                reason: Unusable::Superseded { by },
            });
        }
    }
}

/// The digest-agility rank of a matching type; `None` for Full(0) and unassigned types.
fn digest_rank(m: MatchingType) -> Option<u8> {
    match m {
        MatchingType::Sha256 => Some(1),
        MatchingType::Sha512 => Some(2),
        MatchingType::Full | MatchingType::Unassigned(_) => None,
    }
}

fn check(r: &TlsaRecord) -> Option<Unusable> {
    match r.usage {
        CertUsage::PkixTa | CertUsage::PkixEe => return Some(Unusable::PkixUsage(r.usage)),
        CertUsage::Unassigned(v) => return Some(Unusable::UnassignedUsage(v)),
        CertUsage::DaneTa | CertUsage::DaneEe => {}
    }
    if let Selector::Unassigned(v) = r.selector {
        return Some(Unusable::UnassignedSelector(v));
    }
    match r.matching_type {
        MatchingType::Unassigned(v) => Some(Unusable::UnassignedMatchingType(v)),
        MatchingType::Full => full_data_problem(r.selector, &r.data),
        MatchingType::Sha256 | MatchingType::Sha512 => {
            let expected = r.matching_type.digest_len()?;
            (r.data.len() != expected).then_some(Unusable::DigestLength {
                matching_type: r.matching_type,
                expected,
                presented: r.data.len(),
            })
        }
    }
}

fn full_data_problem(selector: Selector, data: &[u8]) -> Option<Unusable> {
    let ok = match selector {
        Selector::Cert => {
            x509_parser::parse_x509_certificate(data).is_ok_and(|(rest, _)| rest.is_empty())
        }
        Selector::Spki => x509_parser::x509::SubjectPublicKeyInfo::from_der(data)
            .is_ok_and(|(rest, _)| rest.is_empty()),
        Selector::Unassigned(_) => true,
    };
    (!ok).then_some(Unusable::MalformedFullData {
        expected: match selector {
            Selector::Cert => "certificate",
            _ => "SubjectPublicKeyInfo",
        },
    })
}

fn cut(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(256) {
        s.truncate(i);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(len: usize) -> String {
        "ab".repeat(len)
    }

    #[test]
    fn usability_rules() {
        let d32 = digest(32);
        let d64 = digest(64);
        let cases: Vec<(String, Option<Unusable>)> = vec![
            (format!("3 1 1 {d32}"), None),
            (format!("2 0 2 {d64}"), None),
            (
                format!("0 0 1 {d32}"),
                Some(Unusable::PkixUsage(CertUsage::PkixTa)),
            ),
            (
                format!("1 1 1 {d32}"),
                Some(Unusable::PkixUsage(CertUsage::PkixEe)),
            ),
            (format!("4 1 1 {d32}"), Some(Unusable::UnassignedUsage(4))),
            (
                format!("3 2 1 {d32}"),
                Some(Unusable::UnassignedSelector(2)),
            ),
            (
                format!("3 1 3 {d32}"),
                Some(Unusable::UnassignedMatchingType(3)),
            ),
            (
                format!("3 1 1 {d64}"),
                Some(Unusable::DigestLength {
                    matching_type: MatchingType::Sha256,
                    expected: 32,
                    presented: 64,
                }),
            ),
            (
                "3 1 0 3000".to_owned(),
                Some(Unusable::MalformedFullData {
                    expected: "SubjectPublicKeyInfo",
                }),
            ),
            (
                "3 0 0 abcd".to_owned(),
                Some(Unusable::MalformedFullData {
                    expected: "certificate",
                }),
            ),
            (
                "3 1 1 xyz".to_owned(),
                Some(Unusable::Malformed(TlsaParseError::InvalidHexDigit {
                    column: 7,
                    presented: 'x',
                })),
            ),
        ];
        for (text, expected) in cases {
            let set = TlsaSet::from_presentation([text.as_str()]);
            match expected {
                None => {
                    assert!(set.has_usable(), "{text}");
                    assert!(set.unusable().is_empty(), "{text}");
                }
                Some(reason) => {
                    assert!(!set.has_usable(), "{text}");
                    assert_eq!(set.unusable().len(), 1);
                    assert_eq!(set.unusable()[0].reason, reason, "{text}");
                    assert_eq!(set.unusable()[0].presented, text);
                }
            }
        }
    }

    #[test]
    fn digest_agility_keeps_the_strongest_digest_per_usage_and_selector() {
        let d32 = digest(32);
        let d64 = digest(64);
        let set = TlsaSet::from_presentation([
            format!("3 1 1 {d32}").as_str(),
            format!("3 1 2 {d64}").as_str(),
            // Other selector: its SHA2-256 stays, nothing stronger beside it.
            format!("3 0 1 {d32}").as_str(),
            // Other usage with the same selector: untouched by the 3 1 group.
            format!("2 1 1 {d32}").as_str(),
        ]);
        let used: Vec<String> = set.usable().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            used,
            vec![
                format!("3 1 2 {}", d64.to_uppercase()),
                format!("3 0 1 {}", d32.to_uppercase()),
                format!("2 1 1 {}", d32.to_uppercase()),
            ]
        );
        assert_eq!(set.unusable().len(), 1);
        assert_eq!(
            set.unusable()[0].reason,
            Unusable::Superseded {
                by: MatchingType::Sha512
            }
        );
    }

    #[test]
    fn malformed_stronger_digest_does_not_supersede() {
        let set = TlsaSet::from_presentation([
            format!("3 1 1 {}", digest(32)).as_str(),
            format!("3 1 2 {}", digest(10)).as_str(),
        ]);
        assert_eq!(set.usable().len(), 1);
        assert_eq!(set.usable()[0].matching_type, MatchingType::Sha256);
    }

    #[test]
    fn record_count_is_capped() {
        let text = format!("3 1 1 {}", digest(32));
        let set = TlsaSet::from_presentation(core::iter::repeat_n(text.as_str(), MAX_RECORDS + 2));
        assert_eq!(set.usable().len(), MAX_RECORDS);
        assert_eq!(set.unusable().len(), 2);
        assert_eq!(
            set.unusable()[0].reason,
            Unusable::TooManyRecords { max: MAX_RECORDS }
        );
        assert!(TlsaSet::from_records([]).is_empty());
    }
}
