//! Name patterns and the dialects that give them meaning.

use core::fmt;

use super::name::{DnsName, NameError, Syntax};

/// How a name pattern is read and how certificate names are matched against it.
///
/// There is no default: each caller says which convention its configuration comes from.
/// See the [module docs](super) for the table of the cases where dialects disagree.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    /// DANE-TA reference identifiers (RFC 7672 §3.2.3): plain names only (TLSA base domain,
    /// MX host, next-hop domain); certificate names are matched RFC 9525-style against them.
    DaneTa,
    /// Exchange connector names (`TlsDomain`, `TlsSenderCertificateName`): `*.contoso.com` is
    /// the domain *and* all its subdomains; no `*` anywhere else. Certificate names: DNS SANs
    /// and the subject CN, single-label wildcards.
    ExchangeConnector,
    /// MTA-STS `mx:` patterns (RFC 8461 §4.1): `*.example.net` matches exactly one extra
    /// label, never the apex. Certificate names: DNS SANs only, single-label wildcards.
    MtaStsMx,
    /// Postfix certificate matching: a certificate `*.example.net` stands for exactly one
    /// label, as deployed Postfix checks it (OpenSSL's host check, whatever
    /// `tls_wildcard_matches_multiple_labels` says); the subject CN counts only when the
    /// certificate has no DNS SAN.
    PostfixCertificate,
    /// Postfix `match=` patterns: `example.com` exact, `.example.com` one or more extra labels.
    /// Certificate names follow Postfix certificate matching. The strategy words `nexthop`,
    /// `dot-nexthop` and `hostname` are resolved by the policy layer before parsing.
    PostfixMatch,
    /// RFC 9525 service identity: `*` only as the whole left-most label, matching exactly one
    /// label; no partial wildcards; DNS SANs only, never the CN.
    Rfc9525,
}

/// Whether a dialect lets the subject CN stand in for DNS SANs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonNameRule {
    /// The CN always counts as a presented name, next to the DNS SANs.
    Always,
    /// The CN never counts.
    Never,
    /// The CN counts only when the certificate has no DNS SAN at all.
    WhenNoDnsSan,
}

/// A name pattern read in one [`Dialect`]: the set of DNS names it stands for.
///
/// Every form in every dialect is "a suffix plus between `min` and `max` extra labels":
/// `example.com` is 0..=0, MTA-STS `*.example.com` is 1..=1, Postfix `.example.com` is 1..,
/// Exchange `*.example.com` is 0.. . That one shape also serves certificate names
/// ([`NamePattern::presented`]), so a reference pattern and a certificate wildcard match when
/// some name lies in both sets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NamePattern {
    dialect: Dialect,
    form: Form,
    suffix: DnsName,
    min_extra: usize,
    max_extra: Option<usize>,
}

/// The written form, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Form {
    Dot,
    Exact,
    Star,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Self; 6] = [
        Self::DaneTa,
        Self::ExchangeConnector,
        Self::MtaStsMx,
        Self::PostfixCertificate,
        Self::PostfixMatch,
        Self::Rfc9525,
    ];

    /// A short stable name, for logs and configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DaneTa => "dane-ta",
            Self::ExchangeConnector => "exchange-connector",
            Self::MtaStsMx => "mta-sts-mx",
            Self::PostfixCertificate => "postfix-certificate",
            Self::PostfixMatch => "postfix-match",
            Self::Rfc9525 => "rfc9525",
        }
    }

    /// Whether the subject CN counts as a certificate name in this dialect.
    pub const fn common_name_rule(self) -> CommonNameRule {
        match self {
            Self::MtaStsMx | Self::Rfc9525 => CommonNameRule::Never,
            Self::ExchangeConnector => CommonNameRule::Always,
            // RFC 7672 §3.2.3 and Postfix/OpenSSL DANE: the CN counts when no DNS-ID exists.
            Self::DaneTa | Self::PostfixCertificate | Self::PostfixMatch => {
                CommonNameRule::WhenNoDnsSan
            }
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl NamePattern {
    /// Parses a reference pattern as written in `dialect`'s configuration.
    ///
    /// | dialect | `name` | `.name` | `*.name` |
    /// |---|---|---|---|
    /// | `Rfc9525` | exact | refused | exactly one extra label |
    /// | `PostfixCertificate` | exact | refused | one or more extra labels |
    /// | `PostfixMatch` | exact | one or more extra labels | refused |
    /// | `MtaStsMx` | exact | refused | exactly one extra label |
    /// | `ExchangeConnector` | exact | refused | the name and all its subdomains |
    /// | `DaneTa` | exact | refused | refused |
    ///
    /// Partial wildcards (`mx*.example.net`) and a `*` anywhere but as the whole left-most label
    /// are refused in every dialect. U-labels are converted to A-labels.
    pub fn parse(input: &str, dialect: Dialect) -> Result<Self, NameError> {
        let wildcard = |reason| NameError::Wildcard {
            input: input.to_owned(),
            dialect,
            reason,
        };
        if dialect == Dialect::PostfixMatch
            && matches!(
                input.to_ascii_lowercase().as_str(),
                "nexthop" | "dot-nexthop" | "hostname"
            )
        {
            return Err(NameError::UnresolvedStrategy {
                input: input.to_owned(),
            });
        }
        if let Some(rest) = input.strip_prefix("*.") {
            if rest.contains('*') {
                return Err(wildcard("only one `*`, as the whole left-most label"));
            }
            let suffix = DnsName::parse(rest)?;
            let (min_extra, max_extra) = match dialect {
                Dialect::Rfc9525 | Dialect::MtaStsMx => (1, Some(1)),
                Dialect::PostfixCertificate => (1, None),
                Dialect::ExchangeConnector => (0, None),
                Dialect::PostfixMatch => {
                    return Err(wildcard("Postfix match= has no `*`; write `.example.com`"))
                }
                Dialect::DaneTa => {
                    return Err(wildcard("DANE-TA reference identifiers are plain names"))
                }
            };
            return Ok(Self {
                dialect,
                form: Form::Star,
                suffix,
                min_extra,
                max_extra,
            });
        }
        if input.contains('*') {
            return Err(wildcard(
                "`*` only as the whole left-most label (no partial or embedded wildcards)",
            ));
        }
        if let Some(rest) = input.strip_prefix('.') {
            if dialect != Dialect::PostfixMatch {
                return Err(NameError::LeadingDot {
                    input: input.to_owned(),
                });
            }
            return Ok(Self::below(DnsName::parse(rest)?));
        }
        Ok(Self::exact(DnsName::parse(input)?, dialect))
    }

    /// Postfix `.name` ([`Dialect::PostfixMatch`]): one or more labels below `name`; the
    /// pattern `parse(".name")` gives, without reading the name again.
    pub(crate) fn below(name: DnsName) -> Self {
        Self {
            dialect: Dialect::PostfixMatch,
            form: Form::Dot,
            suffix: name,
            min_extra: 1,
            max_extra: None,
        }
    }

    /// The pattern that matches exactly `name`.
    pub fn exact(name: DnsName, dialect: Dialect) -> Self {
        Self {
            dialect,
            form: Form::Exact,
            suffix: name,
            min_extra: 0,
            max_extra: Some(0),
        }
    }

    /// Reads a name as a certificate presents it (a DNS SAN or a CN), under `dialect`'s
    /// certificate rules: `*` only as the whole left-most label, followed by at least two
    /// labels; it covers one label, or several where the dialect says so. `_` is accepted in
    /// labels, since some certificates carry it; such names still match only equal references.
    pub fn presented(input: &str, dialect: Dialect) -> Result<Self, NameError> {
        let wildcard = |reason| NameError::Wildcard {
            input: input.to_owned(),
            dialect,
            reason,
        };
        if let Some(rest) = input.strip_prefix("*.") {
            let suffix = DnsName::parse_with(rest, Syntax::Owner)?;
            if suffix.label_count() < 2 {
                return Err(wildcard(
                    "a certificate wildcard needs two labels after `*`",
                ));
            }
            if rest.contains('*') {
                return Err(wildcard("only one `*`, as the whole left-most label"));
            }
            // A certificate's `*` covers exactly one label in every dialect: RFC 9525 §6.3,
            // and deployed Postfix too (3.7 with OpenSSL 3.0: posttls-finger reports "hostname
            // mismatch" for `*.example.net` against `a.b.example.net`, whatever
            // `tls_wildcard_matches_multiple_labels` says; tests/interop_server.rs).
            return Ok(Self {
                dialect,
                form: Form::Star,
                suffix,
                min_extra: 1,
                max_extra: Some(1),
            });
        }
        if input.contains('*') {
            return Err(wildcard("partial wildcards are not honoured"));
        }
        Ok(Self::exact(
            DnsName::parse_with(input, Syntax::Owner)?,
            dialect,
        ))
    }

    /// The dialect the pattern was read in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The fixed part of the pattern: the name itself, or what follows `*.` or `.`.
    pub fn suffix(&self) -> &DnsName {
        &self.suffix
    }

    /// The name, when the pattern matches exactly one name.
    pub fn as_exact(&self) -> Option<&DnsName> {
        (self.form == Form::Exact).then_some(&self.suffix)
    }

    /// Whether `name` is one of the names the pattern stands for.
    pub fn matches(&self, name: &DnsName) -> bool {
        name.depth_below(&self.suffix)
            .is_some_and(|depth| self.allows_depth(depth))
    }

    /// Whether some DNS name lies in both patterns' sets. This is how a reference pattern is
    /// matched against a certificate name read with [`NamePattern::presented`].
    pub fn overlaps(&self, other: &Self) -> bool {
        let (outer, inner, gap) = if let Some(gap) = other.suffix.depth_below(&self.suffix) {
            (self, other, gap)
        } else if let Some(gap) = self.suffix.depth_below(&other.suffix) {
            (other, self, gap)
        } else {
            return false;
        };
        // Names in `inner` have between inner.min+gap and inner.max+gap labels beyond
        // `outer.suffix`; some such count must be one `outer` allows.
        let low = outer.min_extra.max(inner.min_extra.saturating_add(gap));
        let high = match (outer.max_extra, inner.max_extra) {
            (Some(a), Some(b)) => Some(a.min(b.saturating_add(gap))),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b.saturating_add(gap)),
            (None, None) => None,
        };
        high.is_none_or(|high| low <= high)
    }

    fn allows_depth(&self, depth: usize) -> bool {
        depth >= self.min_extra && self.max_extra.is_none_or(|max| depth <= max)
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Dot => write!(f, ".{}", self.suffix),
            Form::Exact => write!(f, "{}", self.suffix),
            Form::Star => write!(f, "*.{}", self.suffix),
        }
    }
}

impl fmt::Debug for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NamePattern({:?} in {})", self.to_string(), self.dialect)
    }
}
