//! Matching the names a certificate presents against reference patterns.

use super::{CommonNameRule, Dialect, NamePattern};

/// Which reference matched which presented name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMatch {
    /// The reference pattern, as displayed.
    pub reference: String,
    /// The certificate name, as presented.
    pub presented: String,
    /// True when the presented name was the subject CN rather than a DNS SAN.
    pub via_common_name: bool,
}

/// No reference pattern matched any name the certificate presents.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "certificate names do not match ({dialect}): expected one of [{}], presented [{}]{}",
    expected.join(", "),
    presented.join(", "),
    ignored_note(ignored)
)]
pub struct NameMismatch {
    /// The dialect used.
    pub dialect: Dialect,
    /// The reference patterns, as displayed.
    pub expected: Vec<String>,
    /// The certificate names that were considered.
    pub presented: Vec<String>,
    /// Certificate names that were not considered, each with the reason (CN not used in this
    /// dialect, partial wildcard, malformed).
    pub ignored: Vec<String>,
}

fn ignored_note(ignored: &[String]) -> String {
    if ignored.is_empty() {
        String::new()
    } else {
        format!("; ignored [{}]", ignored.join(", "))
    }
}

/// Matches the certificate names (`dns_sans`, `common_names`) against `references` under
/// `dialect`'s certificate rules (which CNs count, how far a certificate wildcard reaches).
/// Each reference keeps the meaning of the dialect it was parsed in.
///
/// Returns the first match, in reference order then certificate order.
pub fn match_presented<S: AsRef<str>, C: AsRef<str>>(
    dialect: Dialect,
    references: &[NamePattern],
    dns_sans: &[S],
    common_names: &[C],
) -> Result<NameMatch, NameMismatch> {
    let use_cn = match dialect.common_name_rule() {
        CommonNameRule::Always => true,
        CommonNameRule::Never => false,
        CommonNameRule::WhenNoDnsSan => dns_sans.is_empty(),
    };
    let mut considered: Vec<(NamePattern, &str, bool)> = Vec::new();
    let mut ignored = Vec::new();
    let sans = dns_sans.iter().map(|s| (s.as_ref(), false));
    let cns = common_names.iter().map(|s| (s.as_ref(), true));
    for (name, is_cn) in sans.chain(cns) {
        if is_cn && !use_cn {
            ignored.push(format!("CN={name} (CN not used)"));
            continue;
        }
        match NamePattern::presented(name, dialect) {
            Ok(pattern) => considered.push((pattern, name, is_cn)),
            Err(_) if is_cn => ignored.push(format!("CN={name} (not a DNS name)")),
            Err(_) => ignored.push(format!("{name} (not a usable DNS name)")),
        }
    }
    for reference in references {
        for (pattern, name, is_cn) in &considered {
            if reference.overlaps(pattern) {
                return Ok(NameMatch {
                    reference: reference.to_string(),
                    presented: (*name).to_owned(),
                    via_common_name: *is_cn,
                });
            }
        }
    }
    Err(NameMismatch {
        dialect,
        expected: references.iter().map(ToString::to_string).collect(),
        presented: considered
            .iter()
            .map(|(_, name, is_cn)| {
                if *is_cn {
                    format!("CN={name}")
                } else {
                    (*name).to_owned()
                }
            })
            .collect(),
        ignored,
    })
}
