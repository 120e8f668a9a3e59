use super::*;

const EXAMPLE: &str = include_str!("../../../examples/connectors.toml");

fn name(text: &str) -> DnsName {
    DnsName::parse(text).unwrap()
}

#[test]
fn the_example_file_is_valid() {
    let connectors = Connectors::from_toml(EXAMPLE).unwrap();
    assert_eq!(connectors.outbound().len(), 4);
    assert_eq!(connectors.inbound().len(), 3);

    let (contoso, pattern) = connectors.outbound_for(&name("mail.contoso.net")).unwrap();
    assert_eq!(contoso.name, "Contoso (forced TLS, domain validation)");
    assert_eq!(pattern.to_string(), "*.contoso.net");
    assert_eq!(contoso.tls_settings, Some(TlsSettings::DomainValidation));
    assert_eq!(
        contoso.tls_domain.as_ref().unwrap().to_string(),
        "*.contoso.com"
    );
    assert!(connectors.outbound_for(&name("sub.contoso.com")).is_none());
    assert!(connectors.outbound_for(&name("contoso.net")).is_some());

    let hybrid = &connectors.outbound()[3];
    let cert = hybrid.client_certificate.as_ref().unwrap();
    assert_eq!(
        cert.certificate_chain,
        PathBuf::from("/etc/mailtls/hybrid-chain.pem")
    );
    assert_eq!(hybrid.smart_hosts.len(), 1);

    let fabrikam = &connectors.inbound()[0];
    assert_eq!(fabrikam.connector_type, ConnectorType::Partner);
    assert_eq!(fabrikam.sender_ip_addresses.len(), 2);
    assert!(fabrikam.restrict_domains_to_certificate);
    let by_sender: Vec<&str> = connectors
        .inbound_by_sender("eu.fabrikam.com")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(by_sender, ["Fabrikam partner"]);
}

#[test]
fn settings_map_onto_the_requirement_model() {
    let domain = NamePattern::parse("*.contoso.com", Dialect::ExchangeConnector).unwrap();
    let table = [
        (None, Encryption::Opportunistic, false),
        (
            Some(TlsSettings::EncryptionOnly),
            Encryption::Required,
            false,
        ),
        (
            Some(TlsSettings::CertificateValidation),
            Encryption::Required,
            true,
        ),
        (
            Some(TlsSettings::DomainValidation),
            Encryption::Required,
            true,
        ),
    ];
    for (settings, encryption, verifies) in table {
        let req = TlsSettings::requirement(settings, Some(domain.clone()));
        assert_eq!(req.encryption, encryption);
        assert_eq!(req.authentication.verifies(), verifies);
    }
    let req = TlsSettings::requirement(Some(TlsSettings::DomainValidation), Some(domain.clone()));
    assert_eq!(req.authentication.reference_ids(), [domain]);
    assert!(req.authentication.trust_anchors().is_some());
}

#[test]
fn invalid_files_name_connector_and_field() {
    fn invalid(
        direction: &'static str,
        connector: &'static str,
        field: &'static str,
    ) -> impl Fn(&ConnectorError) -> bool {
        move |err: &ConnectorError| match err {
            ConnectorError::Invalid {
                direction: d,
                connector: c,
                field: f,
                ..
            } => *d == direction && c == connector && *f == field,
            _ => false,
        }
    }
    type Check = Box<dyn Fn(&ConnectorError) -> bool>;
    let vectors: Vec<(&str, Check)> = vec![
        (
            "[[outbound]]\nname = \"a\"\n",
            Box::new(invalid("outbound", "a", "recipient_domains")),
        ),
        (
            "[[outbound]]\nrecipient_domains = [\"x.example\"]\n",
            Box::new(invalid("outbound", "#1", "name")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"a.*.example\"]\n",
            Box::new(invalid("outbound", "a", "recipient_domains")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"x.example\"]\ntls_domain = \"x.example\"\n",
            Box::new(invalid("outbound", "a", "tls_domain")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"x.example\"]\ntls_settings = \"domain_validation\"\ntls_domain = \"*x.example\"\n",
            Box::new(invalid("outbound", "a", "tls_domain")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"x.example\"]\nsmart_hosts = [\"bad host\"]\n",
            Box::new(invalid("outbound", "a", "smart_hosts")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"x.example\"]\n[[outbound]]\nname = \"b\"\nrecipient_domains = [\"X.example.\"]\n",
            Box::new(invalid("outbound", "b", "recipient_domains")),
        ),
        (
            "[[outbound]]\nname = \"a\"\nrecipient_domains = [\"x.example\"]\n[[inbound]]\nname = \"a\"\nconnector_type = \"partner\"\nsender_domains = [\"y.example\"]\n",
            Box::new(invalid("inbound", "a", "name")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nsender_domains = [\"y.example\"]\n",
            Box::new(invalid("inbound", "p", "connector_type")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\n",
            Box::new(invalid("inbound", "p", "sender_domains")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\nsender_domains = [\"*\"]\n",
            Box::new(invalid("inbound", "p", "sender_domains")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\nsender_domains = [\"y.example\"]\nsender_ip_addresses = [\"192.0.2.1/24\"]\n",
            Box::new(invalid("inbound", "p", "sender_ip_addresses")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\nsender_domains = [\"y.example\"]\nrestrict_domains_to_ip_addresses = true\n",
            Box::new(invalid("inbound", "p", "restrict_domains_to_ip_addresses")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\nsender_domains = [\"y.example\"]\nrestrict_domains_to_certificate = true\n",
            Box::new(invalid("inbound", "p", "restrict_domains_to_certificate")),
        ),
        (
            "[[inbound]]\nname = \"o\"\nconnector_type = \"on_premises\"\nsender_domains = [\"y.example\"]\ntls_sender_certificate_name = \"mail.y.example\"\nrestrict_domains_to_certificate = true\n",
            Box::new(invalid("inbound", "o", "restrict_domains_to_certificate")),
        ),
        (
            "[[inbound]]\nname = \"o\"\nconnector_type = \"on_premises\"\nsender_domains = [\"y.example\"]\n",
            Box::new(invalid("inbound", "o", "connector_type")),
        ),
        (
            "[[inbound]]\nname = \"p\"\nconnector_type = \"partner\"\nsender_domains = [\"y.example\"]\ntls_sender_certificate_name = \"mail.*.y.example\"\n",
            Box::new(invalid("inbound", "p", "tls_sender_certificate_name")),
        ),
    ];
    for (text, check) in vectors {
        let err = Connectors::from_toml(text).unwrap_err();
        assert!(check(&err), "{text:?}: {err}");
    }
}

#[test]
fn schema_errors_carry_positions() {
    let err = Connectors::from_toml("[[outbound]]\nname = \"a\"\nrecipient_domain = [\"x\"]\n")
        .unwrap_err();
    match err {
        ConnectorError::Syntax { line, message, .. } => {
            assert_eq!(line, 3, "{message}");
            assert!(message.contains("unknown field"), "{message}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let err = Connectors::from_toml("[[outbound]]\nname = \"a\"\ntls_settings = \"strict\"\nrecipient_domains = [\"x.example\"]\n").unwrap_err();
    assert!(
        matches!(err, ConnectorError::Syntax { line: 3, .. }),
        "{err}"
    );
    let err =
        Connectors::from_toml("[[inbound]]\nname = \"a\"\nrequire_tls = \"yes\"\n").unwrap_err();
    assert!(
        matches!(err, ConnectorError::Syntax { line: 3, .. }),
        "{err}"
    );
    let err = Connectors::from_toml("[unknown]\n").unwrap_err();
    assert!(matches!(err, ConnectorError::Syntax { .. }), "{err}");
}

#[test]
fn size_cap() {
    let big = " ".repeat(MAX_CONNECTOR_FILE + 1);
    assert_eq!(
        Connectors::from_toml(&big).unwrap_err(),
        ConnectorError::TooLarge {
            len: MAX_CONNECTOR_FILE + 1,
            max: MAX_CONNECTOR_FILE
        }
    );
    assert_eq!(Connectors::from_toml("").unwrap(), Connectors::default());
}
