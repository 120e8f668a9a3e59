//! The one place where policy turns configuration strings into names.
//!
//! Every domain, host name and name pattern the policy module reads from a table, a connector
//! file or a destination goes through the functions here, so that the policy code depends on
//! the [`names`](crate::names) module in one spot only.

use core::fmt;

/// The matching dialect of a reference identifier (see the name-dialect table in the
/// project's policy reference, §2.5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Exchange connectors: `*.example.com` is the domain *and* all its subdomains.
    Exchange,
    /// Postfix `match=` patterns: `example.com` exactly, `.example.com` one or more extra labels
    /// in front; certificate wildcards may cover several labels.
    Postfix,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exchange => "exchange",
            Self::Postfix => "postfix",
        })
    }
}

/// Why a name from the configuration was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameRefError {
    /// The text is not a DNS name (or name pattern) in the dialect.
    #[error("{presented:?} is not a valid {dialect} name: {reason}")]
    Invalid {
        /// The text as presented.
        presented: String,
        /// The dialect it was read in.
        dialect: Dialect,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Normalises a DNS host or domain name: lower case, no trailing dot, LDH labels of 1 to 63
/// octets, at most 253 octets. Returns `None` when `text` is not such a name.
pub(crate) fn normalise_domain(text: &str) -> Option<String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.len() > 253 {
        return None;
    }
    for label in text.split('.') {
        let bytes = label.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-');
        if !ok {
            return None;
        }
    }
    // A name whose last label is numeric is an address, not a domain.
    if text
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(text.to_ascii_lowercase())
}

/// Normalises a name pattern in `dialect`.
pub(crate) fn normalise_pattern(text: &str, dialect: Dialect) -> Result<String, NameRefError> {
    let invalid = |reason| NameRefError::Invalid {
        presented: text.to_owned(),
        dialect,
        reason,
    };
    let (prefix, rest) = match dialect {
        Dialect::Postfix => match text.strip_prefix('.') {
            Some(rest) => (".", rest),
            None => ("", text),
        },
        Dialect::Exchange => match text.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", text),
        },
    };
    if rest.contains('*') {
        return Err(invalid(
            "a wildcard is allowed only as the whole first label",
        ));
    }
    let name = normalise_domain(rest).ok_or_else(|| invalid("not a DNS name"))?;
    Ok(format!("{prefix}{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_normalise_per_dialect() {
        let table = [
            ("Example.COM.", Dialect::Postfix, Some("example.com")),
            (".example.com", Dialect::Postfix, Some(".example.com")),
            ("*.example.com", Dialect::Postfix, None),
            ("*.Contoso.com", Dialect::Exchange, Some("*.contoso.com")),
            ("domain.*.contoso.com", Dialect::Exchange, None),
            (".contoso.com", Dialect::Exchange, None),
            ("", Dialect::Exchange, None),
            ("a..b", Dialect::Postfix, None),
            ("-a.b", Dialect::Postfix, None),
            ("192.0.2.1", Dialect::Postfix, None),
        ];
        for (text, dialect, expected) in table {
            assert_eq!(
                normalise_pattern(text, dialect).ok().as_deref(),
                expected,
                "{text}"
            );
        }
    }
}
