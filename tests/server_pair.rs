//! Server sessions against real TLS clients (rustls, scripted SMTP) with client
//! certificates: a partner with the right certificate is accepted; the wrong certificate, an
//! untrusted one, or none is refused with the right code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::cert::{
    CertificateCheck, ClientCertRequest, OnFailure, PartnerRequirement, Role, TrustAnchors,
    TrustLevel,
};
use mailtls::names::{Dialect, NamePattern};
use mailtls::policy::connector::Connectors;
use mailtls::server::{ClientAuth, ClientInfo, CloseReason, Pending, ServerConfig, ServerEvent};
use support::pki::{Ca, Issued};
use support::server_driver::{codes, tls_config, Driver, TlsClient};

/// The partner's CA and a server configured to match its certificates against
/// `TlsSenderCertificateName = *.partner.example` (Exchange dialect: apex and subdomains).
fn partner_server(
    pki: &Ca,
    partner: &Ca,
    certificate: ClientCertRequest,
    on_failure: OnFailure,
) -> ServerConfig {
    let anchors = Arc::new(TrustAnchors::from_der([&partner.der]).unwrap());
    let rule = PartnerRequirement::new(Role::Inbound, Dialect::ExchangeConnector)
        .with_names([NamePattern::parse("*.partner.example", Dialect::ExchangeConnector).unwrap()]);
    let mut config = tls_config(pki);
    let tls = config.tls.as_mut().unwrap();
    tls.client_auth = Some(ClientAuth {
        certificate,
        requirement: CertificateCheck::Partner {
            anchors: Some(Arc::clone(&anchors)),
            partner: rule,
        },
        on_failure,
        hints: Some(anchors),
    });
    config
}

/// Greets, starts TLS with `identity`, greets again, and sends MAIL FROM; returns the driver,
/// the TLS event's certificate outcome, and the reply to MAIL (empty when the application
/// has to answer).
fn mail_over_tls(
    config: ServerConfig,
    pki: &Ca,
    identity: Option<Issued>,
) -> (Driver, Option<mailtls::cert::Outcome>, String) {
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    assert_eq!(codes(&driver.say("STARTTLS\r\n")), ["220 2.0.0"]);
    let mut client = TlsClient::new(pki, identity);
    assert!(client.handshake(&mut driver), "handshake failed");
    let outcome = driver
        .events()
        .into_iter()
        .find_map(|e| match e {
            ServerEvent::TlsEstablished {
                client_certificate, ..
            } => Some(client_certificate.map(|c| *c)),
            _ => None,
        })
        .expect("TlsEstablished");
    let ehlo = client.say(&mut driver, "EHLO relay.partner.example\r\n");
    assert!(ehlo.starts_with("250-"), "{ehlo}");
    let reply = client.say(&mut driver, "MAIL FROM:<billing@partner.example>\r\n");
    (driver, outcome, reply)
}

#[test]
fn partner_with_the_right_certificate_is_accepted() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Required,
        OnFailure::Continue,
    );
    let identity = partner.leaf_for("relay.partner.example");
    let (driver, outcome, reply) = mail_over_tls(config, &pki, Some(identity));
    let outcome = outcome.expect("a certificate was presented");
    assert_eq!(outcome.trust, TrustLevel::Verified, "{outcome:?}");
    assert_eq!(reply, "", "MAIL went to the application");
    assert_eq!(driver.session.pending(), Some(Pending::MailFrom));
    assert!(driver.session.client_certificate().unwrap().is_verified());
}

#[test]
fn partner_certificate_with_the_wrong_name_is_refused_550_5_7_1() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Required,
        OnFailure::Continue,
    );
    let identity = partner.leaf_for("relay.other.example");
    let (driver, outcome, reply) = mail_over_tls(config, &pki, Some(identity));
    assert!(!outcome.unwrap().is_verified());
    assert_eq!(codes(&reply), ["550 5.7.1"]);
    assert!(driver.session.pending().is_none());
}

#[test]
fn certificate_from_an_untrusted_ca_is_refused_550_5_7_1() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let impostor = Ca::root("Impostor CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Optional,
        OnFailure::Continue,
    );
    let identity = impostor.leaf_for("relay.partner.example");
    let (_, outcome, reply) = mail_over_tls(config, &pki, Some(identity));
    assert!(!outcome.unwrap().is_verified());
    assert_eq!(codes(&reply), ["550 5.7.1"]);
}

#[test]
fn no_certificate_where_one_is_required_is_refused_530_5_7_0() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Required,
        OnFailure::Continue,
    );
    let (_, outcome, reply) = mail_over_tls(config, &pki, None);
    assert_eq!(outcome, None);
    assert_eq!(codes(&reply), ["530 5.7.0"]);
}

#[test]
fn no_certificate_where_one_is_optional_is_accepted() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Optional,
        OnFailure::Continue,
    );
    let (driver, outcome, reply) = mail_over_tls(config, &pki, None);
    assert_eq!(outcome, None);
    assert_eq!(reply, "");
    assert_eq!(driver.session.pending(), Some(Pending::MailFrom));
}

#[test]
fn required_certificate_with_abort_fails_the_handshake_without_one() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Required,
        OnFailure::Abort,
    );
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    driver.say("STARTTLS\r\n");
    let mut client = TlsClient::new(&pki, None);
    // TLS 1.3: the client finishes its side before the server refuses; either way the
    // server ends the session with a TLS failure and never speaks SMTP again.
    client.handshake(&mut driver);
    let events = driver.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::TlsFailed(_))),
        "{events:?}"
    );
    assert!(events.contains(&ServerEvent::Closed(CloseReason::TlsFailed)));
    assert!(driver.session.is_closed());
}

#[test]
fn wrong_certificate_with_abort_fails_the_handshake() {
    let pki = Ca::root("Server CA");
    let partner = Ca::root("Partner CA");
    let config = partner_server(
        &pki,
        &partner,
        ClientCertRequest::Optional,
        OnFailure::Abort,
    );
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    driver.say("STARTTLS\r\n");
    let mut client = TlsClient::new(&pki, Some(partner.leaf_for("relay.other.example")));
    client.handshake(&mut driver);
    let events = driver.events();
    let failure = events
        .iter()
        .find_map(|e| match e {
            ServerEvent::TlsFailed(f) => Some(f.clone()),
            _ => None,
        })
        .expect("TlsFailed");
    assert_eq!(
        failure.class,
        mailtls::policy::ladder::FailureClass::Certificate
    );
}

// ---- inbound connectors -----------------------------------------------------------------

const PARTNER_CONNECTOR: &str = r#"
[[inbound]]
name = "Partner"
connector_type = "partner"
sender_domains = ["partner.example"]
require_tls = true
tls_sender_certificate_name = "*.partner.example"
restrict_domains_to_certificate = true
"#;

/// A server with `connectors`, validating client certificates against the partner CA
/// (chain only: the connector matches the names).
fn connector_server(pki: &Ca, partner: &Ca, connectors: &str) -> ServerConfig {
    let anchors = Arc::new(TrustAnchors::from_der([&partner.der]).unwrap());
    let mut config = tls_config(pki);
    config.tls.as_mut().unwrap().client_auth = Some(ClientAuth {
        certificate: ClientCertRequest::Optional,
        requirement: CertificateCheck::Chain {
            anchors: Arc::clone(&anchors),
        },
        on_failure: OnFailure::Continue,
        hints: Some(anchors),
    });
    config.connectors = Some(Arc::new(Connectors::from_toml(connectors).unwrap()));
    config
}

fn mail_from_over_tls(
    config: ServerConfig,
    pki: &Ca,
    identity: Option<Issued>,
    from: &str,
) -> String {
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    driver.say("STARTTLS\r\n");
    let mut client = TlsClient::new(pki, identity);
    assert!(client.handshake(&mut driver));
    client.say(&mut driver, "EHLO relay.partner.example\r\n");
    client.say(&mut driver, &format!("MAIL FROM:<{from}>\r\n"))
}

#[test]
fn connector_partner_with_the_right_certificate_is_accepted() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let config = connector_server(&pki, &partner, PARTNER_CONNECTOR);
    let identity = partner.leaf_for("relay.partner.example");
    let reply = mail_from_over_tls(config, &pki, Some(identity), "billing@partner.example");
    assert_eq!(reply, "", "MAIL went to the application");
}

#[test]
fn connector_partner_domain_with_the_wrong_certificate_or_none_is_refused() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let impostor = Ca::root("Impostor CA");
    let cases = [
        ("wrong name", Some(partner.leaf_for("relay.other.example"))),
        (
            "untrusted CA",
            Some(impostor.leaf_for("relay.partner.example")),
        ),
        ("no certificate", None),
    ];
    for (case, identity) in cases {
        let config = connector_server(&pki, &partner, PARTNER_CONNECTOR);
        let reply = mail_from_over_tls(config, &pki, identity, "billing@partner.example");
        assert_eq!(codes(&reply), ["550 5.7.1"], "{case}: {reply}");
    }
}

#[test]
fn connector_domain_restriction_leaves_other_senders_alone() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let config = connector_server(&pki, &partner, PARTNER_CONNECTOR);
    // Someone else's mail, without a certificate: ordinary mail.
    let reply = mail_from_over_tls(config, &pki, None, "someone@elsewhere.example");
    assert_eq!(reply, "");
}

#[test]
fn connector_requiring_tls_refuses_the_partner_domain_in_plaintext() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let tls_only = r#"
[[inbound]]
name = "Partner"
connector_type = "partner"
sender_domains = ["partner.example"]
require_tls = true
"#;
    let config = connector_server(&pki, &partner, tls_only);
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    assert_eq!(
        codes(&driver.say("MAIL FROM:<billing@partner.example>\r\n")),
        ["530 5.7.0"]
    );
    // With the domain also restricted to the certificate, the policy refuses on that rule
    // first: still a 5.7.x refusal, never a plaintext transaction.
    let config = connector_server(&pki, &partner, PARTNER_CONNECTOR);
    let mut driver = Driver::new(config);
    driver.say("EHLO relay.partner.example\r\n");
    assert_eq!(
        codes(&driver.say("MAIL FROM:<billing@partner.example>\r\n")),
        ["550 5.7.1"]
    );
    // Other senders may still use plaintext (a public MX must not require TLS).
    assert_eq!(driver.say("MAIL FROM:<a@elsewhere.example>\r\n"), "");
}

#[test]
fn connector_sender_ip_restriction_refuses_other_addresses() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let connectors = r#"
[[inbound]]
name = "Partner by address"
connector_type = "partner"
sender_domains = ["partner.example"]
sender_ip_addresses = ["198.51.100.0/24"]
restrict_domains_to_ip_addresses = true
"#;
    let config = connector_server(&pki, &partner, connectors);
    // The driver's client is 192.0.2.25.
    let identity = partner.leaf_for("relay.partner.example");
    let reply = mail_from_over_tls(
        config.clone(),
        &pki,
        Some(identity),
        "billing@partner.example",
    );
    assert_eq!(codes(&reply), ["550 5.7.1"], "{reply}");
    let mut driver = Driver::with_client(
        config,
        ClientInfo {
            ip: "198.51.100.7".parse().unwrap(),
        },
    );
    driver.say("EHLO relay.partner.example\r\n");
    assert_eq!(driver.say("MAIL FROM:<billing@partner.example>\r\n"), "");
}

#[test]
fn connector_listing_the_client_address_with_require_tls_refuses_mail_before_starttls() {
    let (pki, partner) = (Ca::root("Server CA"), Ca::root("Partner CA"));
    let connectors = r#"
[[inbound]]
name = "Partner relays"
connector_type = "partner"
sender_domains = ["partner.example"]
sender_ip_addresses = ["192.0.2.0/24"]
require_tls = true
"#;
    let config = connector_server(&pki, &partner, connectors);
    let mut driver = Driver::new(config);
    assert!(driver
        .say("EHLO relay.partner.example\r\n")
        .contains("STARTTLS"));
    for line in [
        "MAIL FROM:<a@elsewhere.example>\r\n",
        "RCPT TO:<b@example.net>\r\n",
        "AUTH PLAIN\r\n",
    ] {
        assert_eq!(codes(&driver.say(line)), ["530 5.7.0"], "{line}");
    }
}
