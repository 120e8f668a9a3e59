//! Property tests for names and patterns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::names::{match_presented, Dialect, DnsName, NamePattern};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
        .prop_filter("not all digits", |l| !l.bytes().all(|b| b.is_ascii_digit()))
        // `ab--` labels are reserved (A-labels are `xn--`); IDN is covered by unit tests.
        .prop_filter("no reserved hyphens", |l| l.get(2..4) != Some("--"))
}

fn labels(min: usize, max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(label(), min..=max)
}

proptest! {
    #[test]
    fn normal_form_is_stable(parts in labels(1, 6), upper in any::<bool>(), dot in any::<bool>()) {
        let text = parts.join(".");
        let mut input = if upper { text.to_ascii_uppercase() } else { text.clone() };
        if dot {
            input.push('.');
        }
        let name = DnsName::parse(&input).unwrap();
        prop_assert_eq!(name.as_str(), text.as_str());
        prop_assert_eq!(DnsName::parse(name.as_str()).unwrap(), name.clone());
        prop_assert_eq!(name.label_count(), parts.len());
    }

    #[test]
    fn wildcard_depth_rules(suffix in labels(2, 4), extra in labels(0, 3)) {
        let suffix_text = suffix.join(".");
        let mut full = extra.clone();
        full.extend(suffix.iter().cloned());
        let name = DnsName::parse(&full.join(".")).unwrap();
        let depth = extra.len();
        // (dialect, written pattern, expected match for this depth)
        let cases = [
            (Dialect::Rfc9525, format!("*.{suffix_text}"), depth == 1),
            (Dialect::MtaStsMx, format!("*.{suffix_text}"), depth == 1),
            (Dialect::PostfixCertificate, format!("*.{suffix_text}"), depth >= 1),
            (Dialect::PostfixMatch, format!(".{suffix_text}"), depth >= 1),
            (Dialect::PostfixMatch, suffix_text.clone(), depth == 0),
            (Dialect::ExchangeConnector, format!("*.{suffix_text}"), true),
            (Dialect::DaneTa, suffix_text.clone(), depth == 0),
        ];
        for (dialect, text, want) in cases {
            let pattern = NamePattern::parse(&text, dialect).unwrap();
            prop_assert_eq!(pattern.matches(&name), want, "{} {} vs {}", dialect, text, name);
            // A certificate presenting exactly `name` satisfies the pattern iff it matches.
            let got = match_presented(dialect, std::slice::from_ref(&pattern), &[name.as_str()], &[] as &[&str]);
            prop_assert_eq!(got.is_ok(), want);
        }
    }

    #[test]
    fn overlap_is_symmetric(a in labels(2, 3), b in labels(0, 2), star_a in any::<bool>(), star_b in any::<bool>()) {
        let a_text = a.join(".");
        let mut b_full = b.clone();
        b_full.extend(a.iter().cloned());
        let b_text = b_full.join(".");
        let make = |text: &str, star: bool| {
            let written = if star { format!("*.{text}") } else { text.to_owned() };
            NamePattern::presented(&written, Dialect::PostfixCertificate).unwrap()
        };
        let left = make(&a_text, star_a);
        let right = make(&b_text, star_b);
        prop_assert_eq!(left.overlaps(&right), right.overlaps(&left));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        for dialect in Dialect::ALL {
            let _ = NamePattern::parse(&text, dialect);
            let _ = NamePattern::presented(&text, dialect);
        }
        if let Ok(name) = DnsName::parse(&text) {
            prop_assert!(name.as_str().len() <= 253);
            prop_assert_eq!(DnsName::parse(name.as_str()).unwrap(), name);
        }
    }
}
