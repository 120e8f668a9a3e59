use super::*;

fn connectors() -> Connectors {
    Connectors::from_toml(include_str!("../../../examples/connectors.toml")).unwrap()
}

const TLS13: Option<InboundTls<'static>> = Some(InboundTls {
    version: 0x0304,
    cipher: "TLS_AES_256_GCM_SHA384",
});
const TLS11: Option<InboundTls<'static>> = Some(InboundTls {
    version: 0x0302,
    cipher: "ECDHE-RSA-AES256-SHA",
});

fn san(names: &'static [&'static str], verified: Verification) -> ClientCertificateFacts<'static> {
    ClientCertificateFacts::Names {
        dns_sans: names,
        common_names: &[],
        verified,
    }
}

fn facts(
    ip: &str,
    from: Option<&'static str>,
    rcpt: &'static [&'static str],
    tls: Option<InboundTls<'static>>,
    cert: ClientCertificateFacts<'static>,
) -> InboundFacts<'static> {
    InboundFacts {
        client_ip: ip.parse().unwrap(),
        helo: "client.example",
        mail_from_domain: from,
        rcpt_domains: rcpt,
        tls,
        client_certificate: cert,
    }
}

/// The expected outcome: action kind and enhanced code, connector, attribution.
type Expected = (
    &'static str,
    Option<(u8, u16, u16)>,
    Option<&'static str>,
    Option<Attribution>,
);

#[test]
fn inbound_vectors() {
    use Verification::*;
    let fab = Some("Fabrikam partner");
    let tail = Some("Tailspin partner (TLS only)");
    let onprem = Some("On-premises servers");
    let good = san(&["mail.fabrikam.com"], Verified);
    let vectors: Vec<(&str, InboundFacts<'static>, Expected)> = vec![
        (
            "partner, everything right",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &["contoso.com"],
                TLS13,
                good,
            ),
            (
                "accept",
                None,
                fab,
                Some(Attribution::CertificateDomain("mail.fabrikam.com".into())),
            ),
        ),
        (
            "partner subdomain sender, IPv6",
            facts(
                "2001:db8:fab::25",
                Some("eu.fabrikam.com"),
                &[],
                TLS13,
                good,
            ),
            (
                "accept",
                None,
                fab,
                Some(Attribution::CertificateDomain("mail.fabrikam.com".into())),
            ),
        ),
        (
            "partner domain from a foreign address",
            facts("203.0.113.5", Some("fabrikam.com"), &[], TLS13, good),
            (
                "reject",
                Some((5, 7, 1)),
                fab,
                Some(Attribution::MailFromDomain("fabrikam.com".into())),
            ),
        ),
        (
            "partner domain without a certificate",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                ClientCertificateFacts::None,
            ),
            (
                "reject",
                Some((5, 7, 1)),
                fab,
                Some(Attribution::MailFromDomain("fabrikam.com".into())),
            ),
        ),
        (
            "partner domain with a certificate of another name",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                san(&["mail.contoso.com"], Verified),
            ),
            (
                "reject",
                Some((5, 7, 1)),
                fab,
                Some(Attribution::MailFromDomain("fabrikam.com".into())),
            ),
        ),
        (
            "partner domain with an unverified certificate",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                san(&["mail.fabrikam.com"], NotVerified),
            ),
            (
                "reject",
                Some((5, 7, 1)),
                fab,
                Some(Attribution::MailFromDomain("fabrikam.com".into())),
            ),
        ),
        (
            "partner domain, verification unknown",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                san(&["mail.fabrikam.com"], Unknown),
            ),
            (
                "tempfail",
                Some((4, 7, 0)),
                fab,
                Some(Attribution::MailFromDomain("fabrikam.com".into())),
            ),
        ),
        (
            "milter macros only",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                ClientCertificateFacts::MilterMacros {
                    subject: "mail.fabrikam.com",
                    issuer: "Fabrikam CA",
                    verified: Verified,
                },
            ),
            (
                "accept",
                None,
                fab,
                Some(Attribution::CertificateDomain("mail.fabrikam.com".into())),
            ),
        ),
        (
            "milter macros with a DN subject",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                ClientCertificateFacts::MilterMacros {
                    subject: "/C=US/O=Fabrikam/CN=fabrikam.com",
                    issuer: "Fabrikam CA",
                    verified: Verified,
                },
            ),
            (
                "accept",
                None,
                fab,
                Some(Attribution::CertificateDomain("fabrikam.com".into())),
            ),
        ),
        (
            "wildcard certificate",
            facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                TLS13,
                san(&["*.fabrikam.com"], Verified),
            ),
            (
                "accept",
                None,
                fab,
                Some(Attribution::CertificateDomain("*.fabrikam.com".into())),
            ),
        ),
        (
            "TLS-only partner without TLS",
            facts(
                "203.0.113.7",
                Some("tailspintoys.com"),
                &[],
                None,
                ClientCertificateFacts::None,
            ),
            (
                "reject",
                Some((5, 7, 0)),
                tail,
                Some(Attribution::MailFromDomain("tailspintoys.com".into())),
            ),
        ),
        (
            "TLS-only partner with TLS 1.1",
            facts(
                "203.0.113.7",
                Some("tailspintoys.com"),
                &[],
                TLS11,
                ClientCertificateFacts::None,
            ),
            (
                "reject",
                Some((5, 7, 0)),
                tail,
                Some(Attribution::MailFromDomain("tailspintoys.com".into())),
            ),
        ),
        (
            "TLS-only partner with TLS 1.3",
            facts(
                "203.0.113.7",
                Some("tailspintoys.com"),
                &[],
                TLS13,
                ClientCertificateFacts::None,
            ),
            (
                "accept",
                None,
                tail,
                Some(Attribution::MailFromDomain("tailspintoys.com".into())),
            ),
        ),
        (
            "no connector: ordinary mail, even in plaintext",
            facts(
                "203.0.113.8",
                Some("gmail.example"),
                &["contoso.com"],
                None,
                ClientCertificateFacts::None,
            ),
            ("accept", None, None, None),
        ),
        (
            "on-premises by RCPT domain and address",
            facts(
                "198.51.100.5",
                None,
                &["other.example", "sales.example.org"],
                TLS13,
                ClientCertificateFacts::None,
            ),
            (
                "accept",
                None,
                onprem,
                Some(Attribution::RcptDomain("sales.example.org".into())),
            ),
        ),
        (
            "on-premises domain from a foreign address: ordinary mail",
            facts(
                "203.0.113.9",
                Some("example.org"),
                &[],
                None,
                ClientCertificateFacts::None,
            ),
            ("accept", None, None, None),
        ),
        (
            "on-premises by certificate from any address",
            facts(
                "203.0.113.9",
                Some("other.example"),
                &[],
                TLS13,
                san(&["mail.example.org"], Verified),
            ),
            (
                "accept",
                None,
                onprem,
                Some(Attribution::CertificateDomain("mail.example.org".into())),
            ),
        ),
        (
            "on-premises by address without TLS",
            facts(
                "198.51.100.5",
                Some("example.org"),
                &[],
                None,
                ClientCertificateFacts::None,
            ),
            (
                "reject",
                Some((5, 7, 0)),
                onprem,
                Some(Attribution::MailFromDomain("example.org".into())),
            ),
        ),
    ];
    let connectors = connectors();
    let parts = |e: crate::smtp::EnhancedCode| (e.class(), e.subject(), e.detail());
    for (name, facts, (kind, code, connector, attribution)) in vectors {
        let verdict = decide_inbound(&connectors, &facts);
        let (got_kind, got_code) = match &verdict.action {
            InboundAction::Accept => ("accept", None),
            InboundAction::Reject(s) => ("reject", Some(parts(s.enhanced()))),
            InboundAction::Tempfail(s) => ("tempfail", Some(parts(s.enhanced()))),
        };
        assert_eq!((got_kind, got_code), (kind, code), "{name}: {verdict}");
        assert_eq!(verdict.connector.as_deref(), connector, "{name}: {verdict}");
        assert_eq!(verdict.attribution, attribution, "{name}: {verdict}");
        assert!(!verdict.reasons.is_empty(), "{name}");
        if let InboundAction::Reject(s) = &verdict.action {
            assert!(s.is_permanent());
        }
    }
}

#[test]
fn milter_macros_parse() {
    let tls = InboundTls::from_macros("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384").unwrap();
    assert_eq!(tls.version, 0x0303);
    assert!(InboundTls::from_macros("TLSv9", "x").is_none());
    assert_eq!(common_name("CN=mx.example, O=Example"), "mx.example");
    assert_eq!(common_name("mx.example"), "mx.example");
    assert_eq!(common_name("/O=x/CN=a.example/emailAddress=b"), "a.example");
}

/// The decision reads the certificate's names once and matches every connector against that
/// reading: it must agree with `match_presented` in the Exchange dialect on every case.
#[test]
fn presented_names_match_as_match_presented_does() {
    use crate::names::match_presented;
    let patterns = [
        "mail.fabrikam.com",
        "*.fabrikam.com",
        "fabrikam.com",
        "*.b.fabrikam.com",
    ];
    let names: [&[&str]; 7] = [
        &[],
        &["mail.fabrikam.com"],
        &["*.fabrikam.com"],
        &["x.b.fabrikam.com", "Mail.Fabrikam.COM."],
        &["*"],
        &["mail.*.com", "bad name"],
        &["a.b.c.fabrikam.com"],
    ];
    for pattern in patterns {
        let reference = NamePattern::parse(pattern, Dialect::ExchangeConnector).unwrap();
        let connector = InboundConnector {
            tls_sender_certificate_name: Some(reference.clone()),
            ..connectors().inbound()[0].clone()
        };
        for sans in names {
            for cns in names {
                let facts = ClientCertificateFacts::Names {
                    dns_sans: sans,
                    common_names: cns,
                    verified: Verification::Verified,
                };
                let expected = match_presented(
                    Dialect::ExchangeConnector,
                    core::slice::from_ref(&reference),
                    sans,
                    cns,
                )
                .is_ok();
                let cert = Presented::from_facts(&facts);
                assert_eq!(
                    cert.matches(&connector),
                    expected,
                    "{pattern} {sans:?} {cns:?}"
                );
            }
        }
    }
}

/// The reasons built by hand read exactly as the formatted ones would.
#[test]
fn hand_built_reasons_match_formatting() {
    for name in [
        "Fabrikam partner",
        "quote\"d",
        "back\\slash",
        "tab\there",
        "é",
        "",
    ] {
        let mut out = String::new();
        push_quoted(&mut out, name);
        assert_eq!(out, format!("{name:?}"));
    }
    for by in [
        Attribution::CertificateDomain("a.example".into()),
        Attribution::MailFromDomain("b.example".into()),
        Attribution::RcptDomain("c.example".into()),
    ] {
        let mut out = String::new();
        by.push_to(&mut out);
        assert_eq!(out, by.to_string());
    }
    let connectors = connectors();
    for version in ["TLSv1.2", "TLSv1.3"] {
        let tls = InboundTls::from_macros(version, "TLS_AES_256_GCM_SHA384");
        let f = InboundFacts {
            tls,
            ..facts(
                "192.0.2.10",
                Some("fabrikam.com"),
                &[],
                None,
                san(&["mail.fabrikam.com"], Verification::Verified),
            )
        };
        let verdict = decide_inbound(&connectors, &f);
        if let Some(tls) = tls {
            let expected = format!("TLS 0x{:04x} with {}", tls.version, tls.cipher);
            assert!(verdict.reasons.contains(&expected), "{verdict}");
        }
    }
}
