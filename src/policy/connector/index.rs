//! Domain lists of connectors, indexed for lookup in a few hash probes.
//!
//! Exchange domain lists hold `example.com` (exactly), `*.example.com` (the domain and all its
//! subdomains) and `*` (every domain). A lookup walks the name's parents once, so it costs one
//! or two probes per label whatever the number of connectors.

use super::super::fast_hash::FastMap;
use crate::names::{Dialect, DnsName, NamePattern};

/// One entry of an Exchange domain list.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DomainPattern {
    /// `*`: every domain.
    All,
    /// `example.com` or `*.example.com`, in [`Dialect::ExchangeConnector`].
    Pattern(NamePattern),
}

impl DomainPattern {
    /// Parses `*`, `example.com` or `*.example.com` (Exchange dialect).
    pub fn parse(text: &str) -> Result<Self, crate::names::NameError> {
        if text == "*" {
            return Ok(Self::All);
        }
        NamePattern::parse(text, Dialect::ExchangeConnector).map(Self::Pattern)
    }

    /// Whether `name` is covered.
    pub fn matches(&self, name: &DnsName) -> bool {
        match self {
            Self::All => true,
            Self::Pattern(pattern) => pattern.matches(name),
        }
    }
}

impl core::fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Pattern(pattern) => write!(f, "{pattern}"),
        }
    }
}

/// Index from domain patterns to the connector (by position) that claims them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DomainIndex {
    exact: FastMap<Box<str>, usize>,
    subtree: FastMap<Box<str>, usize>,
    all: Option<usize>,
}

/// A hit: the connector's position and the pattern's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexHit {
    pub(crate) connector: usize,
    /// Labels between the looked-up name and the pattern's suffix (0 = most specific).
    pub(crate) depth: usize,
}

impl DomainIndex {
    /// Adds a pattern for `connector`; returns the connector that already claimed exactly the
    /// same pattern, if any (the index keeps the first).
    pub(crate) fn insert(&mut self, pattern: &DomainPattern, connector: usize) -> Option<usize> {
        let (map, key) = match pattern {
            DomainPattern::All => {
                return match self.all {
                    Some(first) => Some(first),
                    None => {
                        self.all = Some(connector);
                        None
                    }
                }
            }
            DomainPattern::Pattern(p) if p.as_exact().is_some() => {
                (&mut self.exact, p.suffix().as_str())
            }
            DomainPattern::Pattern(p) => (&mut self.subtree, p.suffix().as_str()),
        };
        match map.get(key) {
            Some(first) => Some(*first),
            None => {
                map.insert(key.into(), connector);
                None
            }
        }
    }

    /// Every connector covering `name`, most specific first: exact entry, then
    /// `*.name`, `*.parent`, ... and finally `*`.
    pub(crate) fn lookup<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = IndexHit> + use<'a, 'n> {
        let exact = self.exact.get(name).map(|c| IndexHit {
            connector: *c,
            depth: 0,
        });
        let suffixes = core::iter::once((0usize, name)).chain(
            name.char_indices()
                .filter(|(_, c)| *c == '.')
                .enumerate()
                .filter_map(move |(depth, (i, _))| {
                    name.get(i + 1..).map(|suffix| (depth + 1, suffix))
                }),
        );
        let subtree = suffixes.filter_map(move |(depth, suffix)| {
            self.subtree.get(suffix).map(|c| IndexHit {
                connector: *c,
                depth,
            })
        });
        let all = self.all.map(|c| IndexHit {
            connector: c,
            depth: usize::MAX,
        });
        exact.into_iter().chain(subtree).chain(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_first() {
        let mut index = DomainIndex::default();
        let p = |s: &str| DomainPattern::parse(s).unwrap();
        assert_eq!(index.insert(&p("*.contoso.com"), 0), None);
        assert_eq!(index.insert(&p("sales.contoso.com"), 1), None);
        assert_eq!(index.insert(&p("*.sales.contoso.com"), 2), None);
        assert_eq!(index.insert(&p("*"), 3), None);
        assert_eq!(index.insert(&p("*.Contoso.com."), 4), Some(0));
        let hits = |name: &str| -> Vec<usize> { index.lookup(name).map(|h| h.connector).collect() };
        assert_eq!(hits("sales.contoso.com"), [1, 2, 0, 3]);
        assert_eq!(hits("eu.sales.contoso.com"), [2, 0, 3]);
        assert_eq!(hits("contoso.com"), [0, 3]);
        assert_eq!(hits("notcontoso.com"), [3]);
        assert!(DomainPattern::parse("a.*.contoso.com").is_err());
        assert!(p("*.contoso.com").matches(&DnsName::parse("contoso.com").unwrap()));
    }
}
