//! The one place where policy turns configuration strings into names.
//!
//! Every domain, host and name pattern the policy module reads from a table, a connector file
//! or a destination goes through here into the [`names`](crate::names) types, so the policy
//! code depends on their parsing rules in one spot.

use crate::names::{Dialect, DnsName, HostId, NameError, NamePattern};

/// A domain or host name (normal form: lower-case A-labels, no trailing dot).
pub(crate) fn domain(text: &str) -> Result<DnsName, NameError> {
    DnsName::parse(text)
}

/// A host: a name, or an IP address (plain, or bracketed as `[192.0.2.1]`,
/// `[ipv6:2001:db8::1]`).
pub(crate) fn host(text: &str) -> Result<HostId, NameError> {
    HostId::parse(text).or_else(|err| {
        // Postfix writes IPv6 next hops as `ipv6:2001:db8::1` inside its brackets.
        let bare = text
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
            .and_then(|_| text.get(5..));
        match bare.and_then(|b| b.parse().ok()) {
            Some(ip) => Ok(HostId::Ip(ip)),
            None => Err(err),
        }
    })
}

/// The pattern that matches exactly `name`, in `dialect`.
pub(crate) fn exact(name: &DnsName, dialect: Dialect) -> NamePattern {
    NamePattern::exact(name.clone(), dialect)
}

/// Postfix `dot-nexthop`: one or more labels below `name`.
pub(crate) fn below(name: &DnsName) -> Option<NamePattern> {
    Some(NamePattern::below(name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(domain("Example.COM.").unwrap().as_str(), "example.com");
        assert!(domain("192.0.2.1").is_err());
        assert!(matches!(host("192.0.2.1"), Ok(HostId::Ip(_))));
        assert!(matches!(host("ipv6:2001:db8::1"), Ok(HostId::Ip(_))));
        assert!(matches!(host("[IPv6:2001:db8::1]"), Ok(HostId::Ip(_))));
        assert!(matches!(host("mx.example.com"), Ok(HostId::Dns(_))));
        let name = domain("example.com").unwrap();
        let dot = below(&name).unwrap();
        assert_eq!(
            dot,
            NamePattern::parse(".example.com", Dialect::PostfixMatch).unwrap()
        );
        assert!(dot.matches(&domain("a.b.example.com").unwrap()));
        assert!(!dot.matches(&name));
        assert!(
            NamePattern::parse("*.contoso.com", Dialect::ExchangeConnector)
                .unwrap()
                .matches(&domain("contoso.com").unwrap())
        );
    }
}
