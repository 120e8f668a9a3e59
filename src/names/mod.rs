//! DNS names and name patterns, matched under an explicit dialect.
//!
//! [`DnsName`] is a host name in normal form (lower-case A-labels, no trailing dot, RFC 1035
//! lengths). [`HostId`] keeps IP identities apart from names. [`NamePattern`] is a pattern read
//! in one [`Dialect`]; the caller always names the dialect, there is no default guess, because
//! the conventions disagree on the very cases that matter:
//!
//! | reference pattern `*.example.net` | `example.net` | `a.example.net` | `a.b.example.net` |
//! |---|---|---|---|
//! | [`Dialect::Rfc9525`] | no | yes | no |
//! | [`Dialect::PostfixCertificate`] | no | yes | yes |
//! | [`Dialect::PostfixMatch`] (`*` refused; `.example.net` shown) | no | yes | yes |
//! | [`Dialect::MtaStsMx`] | no | yes | no |
//! | [`Dialect::ExchangeConnector`] | **yes** | yes | yes |
//! | [`Dialect::DaneTa`] (`*` refused: plain names only) | – | – | – |
//!
//! On the certificate side ([`match_presented`]), the dialect decides whether the subject CN
//! counts and how far a certificate's own wildcard reaches:
//!
//! | dialect | certificate `*.example.net` vs `a.b.example.net` | CN-only certificate `CN=mx.example.net` vs `mx.example.net` |
//! |---|---|---|
//! | [`Dialect::Rfc9525`] | no | no (no CN-ID) |
//! | [`Dialect::PostfixCertificate`] | no (as deployed Postfix checks it) | yes (CN when no DNS SAN) |
//! | [`Dialect::PostfixMatch`] | no | yes |
//! | [`Dialect::MtaStsMx`] | no | no |
//! | [`Dialect::ExchangeConnector`] | no | yes (CN always counts) |
//! | [`Dialect::DaneTa`] | no | yes (CN when no DNS SAN, RFC 7672 §3.2.3) |
//!
//! Internationalised names are A-labels everywhere: `bücher.example` and
//! `XN--BCHER-KVA.example.` both parse to `xn--bcher-kva.example` in every dialect, and a
//! certificate SAN `xn--bcher-kva.example` matches either spelling of the reference.
//!
//! Partial wildcards (`mx*.example.net`) and embedded ones (`a.*.example.net`) are refused in
//! every dialect. Postfix's `match=` strategy words (`nexthop`, `dot-nexthop`, `hostname`) are
//! resolved into names by the policy layer; [`NamePattern::parse`] refuses them.
//!
//! The table above is checked by the `dialect_disagreement_table` unit test.

mod name;
mod pattern;
mod presented;

pub use name::{DnsName, HostId, NameError, MAX_LABEL_LEN, MAX_NAME_LEN};
pub use pattern::{CommonNameRule, Dialect, NamePattern};
pub use presented::{match_presented, NameMatch, NameMismatch};

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    #[test]
    fn dialect_disagreement_table() {
        use Dialect::*;
        // (dialect, pattern, [example.net, a.example.net, a.b.example.net]); None = refused.
        let table: [(Dialect, &str, Option<[bool; 3]>); 7] = [
            (Rfc9525, "*.example.net", Some([false, true, false])),
            (
                PostfixCertificate,
                "*.example.net",
                Some([false, true, true]),
            ),
            (PostfixMatch, "*.example.net", None),
            (PostfixMatch, ".example.net", Some([false, true, true])),
            (MtaStsMx, "*.example.net", Some([false, true, false])),
            (ExchangeConnector, "*.example.net", Some([true, true, true])),
            (DaneTa, "*.example.net", None),
        ];
        let names = [n("example.net"), n("a.example.net"), n("a.b.example.net")];
        for (dialect, text, want) in table {
            let parsed = NamePattern::parse(text, dialect);
            match want {
                None => assert!(
                    matches!(parsed, Err(NameError::Wildcard { .. })),
                    "{dialect} {text}: {parsed:?}"
                ),
                Some(want) => {
                    let pattern = parsed.unwrap();
                    assert_eq!(pattern.dialect(), dialect);
                    assert_eq!(pattern.to_string(), text);
                    let got = names.clone().map(|name| pattern.matches(&name));
                    assert_eq!(got, want, "{dialect} {text}");
                }
            }
        }
    }

    #[test]
    fn certificate_side_table() {
        use Dialect::*;
        // (dialect, wildcard cert vs a.b.example.net, CN-only cert, CN next to a SAN)
        let table = [
            (Rfc9525, false, false, false),
            (PostfixCertificate, false, true, false),
            (PostfixMatch, false, true, false),
            (MtaStsMx, false, false, false),
            (ExchangeConnector, false, true, true),
            (DaneTa, false, true, false),
        ];
        let none: [&str; 0] = [];
        for (dialect, deep, cn_only, cn_with_san) in table {
            let deep_ref = [NamePattern::exact(n("a.b.example.net"), dialect)];
            let got = match_presented(dialect, &deep_ref, &["*.example.net"], &none);
            assert_eq!(got.is_ok(), deep, "{dialect} deep wildcard");
            // A certificate wildcard never covers the apex, and always covers one label.
            let apex = [NamePattern::exact(n("example.net"), dialect)];
            assert!(match_presented(dialect, &apex, &["*.example.net"], &none).is_err());
            let one = [NamePattern::exact(n("a.example.net"), dialect)];
            assert!(match_presented(dialect, &one, &["*.example.net"], &none).is_ok());

            let mx = [NamePattern::exact(n("mx.example.net"), dialect)];
            let got = match_presented(dialect, &mx, &none, &["mx.example.net"]);
            assert_eq!(got.is_ok(), cn_only, "{dialect} CN-only");
            if let Ok(m) = got {
                assert!(m.via_common_name);
            }
            let got = match_presented(dialect, &mx, &["other.example.net"], &["mx.example.net"]);
            assert_eq!(got.is_ok(), cn_with_san, "{dialect} CN next to SAN");
        }
    }

    #[test]
    fn idn_in_every_dialect() {
        let none: [&str; 0] = [];
        for dialect in Dialect::ALL {
            for spelling in ["bücher.example", "XN--BCHER-KVA.example."] {
                let pattern = NamePattern::parse(spelling, dialect).unwrap();
                assert_eq!(pattern.to_string(), "xn--bcher-kva.example");
                assert!(pattern.matches(&n("xn--bcher-kva.example")));
                let got = match_presented(dialect, &[pattern], &["xn--bcher-kva.example"], &none);
                assert!(got.is_ok(), "{dialect}");
            }
        }
    }

    #[test]
    fn pattern_refusals() {
        use Dialect::*;
        for dialect in Dialect::ALL {
            for bad in [
                "mx*.example.net",
                "a.*.example.net",
                "*",
                "**.example.net",
                "*.*.example",
            ] {
                assert!(NamePattern::parse(bad, dialect).is_err(), "{dialect} {bad}");
            }
        }
        assert_eq!(
            NamePattern::parse("a.*.contoso.com", ExchangeConnector),
            Err(NameError::Wildcard {
                input: "a.*.contoso.com".into(),
                dialect: ExchangeConnector,
                reason: "`*` only as the whole left-most label (no partial or embedded wildcards)",
            })
        );
        assert_eq!(
            NamePattern::parse(".example.net", Rfc9525),
            Err(NameError::LeadingDot {
                input: ".example.net".into()
            })
        );
        for word in ["nexthop", "dot-nexthop", "HOSTNAME"] {
            assert_eq!(
                NamePattern::parse(word, PostfixMatch),
                Err(NameError::UnresolvedStrategy { input: word.into() })
            );
        }
        assert!(NamePattern::parse("hostname", Rfc9525).is_ok());
    }

    #[test]
    fn presented_names_refuse_partial_and_short_wildcards() {
        let none: [&str; 0] = [];
        let refs = [NamePattern::exact(
            n("mx1.example.net"),
            Dialect::PostfixCertificate,
        )];
        for cert in ["mx*.example.net", "*.net", "*"] {
            let err =
                match_presented(Dialect::PostfixCertificate, &refs, &[cert], &none).unwrap_err();
            assert_eq!(err.presented, Vec::<String>::new(), "{cert}");
            assert_eq!(err.ignored.len(), 1, "{cert}");
        }
    }

    #[test]
    fn reference_patterns_overlap_certificate_wildcards() {
        use Dialect::*;
        let none: [&str; 0] = [];
        // (dialect, reference, certificate SAN, match?)
        let cases = [
            (PostfixMatch, ".example.net", "*.example.net", true),
            (PostfixMatch, ".example.net", "mx.example.net", true),
            (PostfixMatch, ".example.net", "example.net", false),
            (PostfixMatch, "example.net", "*.example.net", false),
            // `*` is one label, so `*.example.net` names nothing under sub.example.net.
            (PostfixMatch, ".sub.example.net", "*.example.net", false),
            (MtaStsMx, "*.example.net", "*.example.net", true),
            (MtaStsMx, "*.example.net", "mx.example.net", true),
            (MtaStsMx, "*.example.net", "a.mx.example.net", false),
            (MtaStsMx, "*.a.example.net", "*.example.net", false),
            (ExchangeConnector, "*.contoso.com", "contoso.com", true),
            (
                ExchangeConnector,
                "*.contoso.com",
                "mail.eu.contoso.com",
                true,
            ),
            (ExchangeConnector, "*.contoso.com", "notcontoso.com", false),
            (ExchangeConnector, "contoso.com", "*.contoso.com", false),
            (Rfc9525, "mx.example.net", "MX.EXAMPLE.NET", true),
            (DaneTa, "mx.example.net", "*.example.net", true),
        ];
        for (dialect, reference, cert, want) in cases {
            let refs = [NamePattern::parse(reference, dialect).unwrap()];
            let got = match_presented(dialect, &refs, &[cert], &none);
            assert_eq!(
                got.is_ok(),
                want,
                "{dialect} {reference} vs {cert}: {got:?}"
            );
        }
    }

    #[test]
    fn mismatch_names_expected_and_presented() {
        let refs = [NamePattern::parse("mx.example.net", Dialect::Rfc9525).unwrap()];
        let err = match_presented(
            Dialect::Rfc9525,
            &refs,
            &["other.example.org"],
            &["mx.example.net"],
        )
        .unwrap_err();
        assert_eq!(
            err,
            NameMismatch {
                dialect: Dialect::Rfc9525,
                expected: vec!["mx.example.net".into()],
                presented: vec!["other.example.org".into()],
                ignored: vec!["CN=mx.example.net (CN not used)".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "certificate names do not match (rfc9525): expected one of [mx.example.net], \
             presented [other.example.org]; ignored [CN=mx.example.net (CN not used)]"
        );
    }
}
