//! The TLS engine against in-memory rustls peers: rungs, facts, failure classes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::policy::ladder::{FailureClass, Rung};
use mailtls::policy::TlsVersion;
use mailtls::report::ResultType;
use mailtls::tls::{alert_name, ClientTlsSetup, ServerTlsSetup, TlsIdentity};
use rustls::client::danger::ServerCertVerifier;
use support::peers::{Intolerance, TlsPeer};
use support::pki::{pki, MX_NAME};
use support::tls_pair::TlsPair;
use support::{verify, NOW};

fn client(rung: Rung, verifier: Arc<dyn ServerCertVerifier>) -> ClientTlsSetup {
    ClientTlsSetup::new(rung, verifier, NOW)
}

fn server(rung: Rung, identity: &TlsIdentity) -> ServerTlsSetup {
    ServerTlsSetup::new(rung, identity.clone(), NOW)
}

fn pair(client_rung: Rung, server_rung: Rung, intolerance: Intolerance) -> TlsPair {
    TlsPair::new(
        &client(client_rung, verify::pkix()),
        TlsPeer::new(&server(server_rung, &pki().server), intolerance),
    )
}

#[test]
fn modern_rung_negotiates_tls13_and_reports_its_facts() {
    let mut pair = pair(Rung::Modern, Rung::Modern, Intolerance::None);
    let hs = pair.handshake();
    hs.client.unwrap();
    hs.server.unwrap();
    let facts = pair.client.facts().unwrap();
    assert_eq!(facts.version.to_string(), "TLSv1.3");
    assert_eq!(facts.suite.to_string(), "TLS_AES_256_GCM_SHA384");
    assert_eq!(facts.openssl_suite(), "TLS_AES_256_GCM_SHA384");
    assert_eq!(
        facts.group.map(|g| g.to_string()).as_deref(),
        Some("X25519")
    );
    assert_eq!(
        facts.to_string(),
        "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 key-exchange X25519"
    );
    assert_eq!(facts.peer_chain, pki().server.chain());
    assert_eq!(facts.sni, None);
    let server_facts = pair.server.engine().facts().unwrap();
    assert_eq!(server_facts.sni.as_deref(), Some(MX_NAME));
    assert!(server_facts.peer_chain.is_empty());
    let hello = pair.server.client_hello.clone().unwrap();
    assert!(hello.versions.contains(&0x0304));
    assert_eq!(hello.sni.as_deref(), Some(MX_NAME));
}

#[test]
fn each_rung_negotiates_what_it_offers() {
    let cases = [
        (Rung::Modern, "TLSv1.3", "TLS_AES_256_GCM_SHA384", "X25519"),
        (
            Rung::Tls12Only,
            "TLSv1.2",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "X25519",
        ),
        (
            Rung::Tls12Conservative,
            "TLSv1.2",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "secp256r1",
        ),
    ];
    for (rung, version, suite, group) in cases {
        let mut pair = pair(rung, Rung::Modern, Intolerance::None);
        pair.handshake().client.unwrap();
        let facts = pair.client.facts().unwrap();
        assert_eq!(
            (
                facts.version.to_string(),
                facts.suite.to_string(),
                facts.group.map(|g| g.to_string())
            ),
            (version.to_owned(), suite.to_owned(), Some(group.to_owned())),
            "{rung}"
        );
        let hello = pair.server.client_hello.clone().unwrap();
        assert_eq!(
            hello.versions.contains(&0x0304),
            rung == Rung::Modern,
            "{rung}"
        );
        // No rung ever offers a non-forward-secret suite (TLS_RSA_* is 0x009c/0x009d).
        assert!(!hello
            .suites
            .iter()
            .any(|s| matches!(s, 0x009c | 0x009d | 0x002f | 0x0035)));
    }
}

#[test]
fn sni_is_left_out_when_the_plan_says_so() {
    let setup = client(Rung::Modern, verify::pkix()).with_sni(false);
    let mut pair = TlsPair::new(
        &setup,
        TlsPeer::new(&server(Rung::Modern, &pki().server), Intolerance::None),
    );
    pair.handshake().client.unwrap();
    assert_eq!(pair.server.client_hello.clone().unwrap().sni, None);
    assert_eq!(pair.server.engine().facts().unwrap().sni, None);
}

#[test]
fn application_data_round_trips_beyond_the_rustls_buffers() {
    let mut pair = pair(Rung::Modern, Rung::Modern, Intolerance::None);
    pair.handshake().client.unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(pair.client_to_server(&big), big);
    assert_eq!(pair.server_to_client(&big), big);
}

#[test]
fn a_tls12_only_server_is_met_on_the_first_rung() {
    let mut pair = pair(Rung::Modern, Rung::Tls12Only, Intolerance::None);
    pair.handshake().client.unwrap();
    assert_eq!(pair.client.facts().unwrap().version, TlsVersion::Tls12);
}

#[test]
fn intolerant_peers_fail_with_the_class_the_ladder_needs() {
    let cases = [
        (
            Rung::Modern,
            Intolerance::AlertOnTls13,
            Some(FailureClass::ProtocolVersionAlert),
        ),
        (Rung::Tls12Only, Intolerance::AlertOnTls13, None),
        (
            Rung::Modern,
            Intolerance::CloseOnTls13,
            Some(FailureClass::EofDuringHandshake),
        ),
        (Rung::Tls12Only, Intolerance::CloseOnTls13, None),
        (
            Rung::Modern,
            Intolerance::HandshakeFailureOnX25519,
            Some(FailureClass::HandshakeFailureAlert),
        ),
        (
            Rung::Tls12Only,
            Intolerance::HandshakeFailureOnX25519,
            Some(FailureClass::HandshakeFailureAlert),
        ),
        (
            Rung::Tls12Conservative,
            Intolerance::HandshakeFailureOnX25519,
            None,
        ),
    ];
    for (rung, intolerance, expected) in cases {
        let mut pair = pair(rung, Rung::Tls12Only, intolerance);
        let hs = pair.handshake();
        match expected {
            None => {
                hs.client.unwrap();
                assert_eq!(pair.client.facts().unwrap().version, TlsVersion::Tls12);
            }
            Some(class) => {
                let failure = hs.client.unwrap_err();
                assert_eq!(failure.class, class, "{rung} vs {intolerance:?}");
                assert!(failure.during_handshake);
                assert_eq!(failure.result_type, ResultType::StarttlsNotSupported);
                assert!(pair.client.facts().is_none());
            }
        }
    }
}

#[test]
fn certificate_failures_carry_their_rfc8460_result_type() {
    let cases = [
        (
            &pki().self_signed,
            ResultType::CertificateNotTrusted,
            "unknown_ca",
        ),
        (
            &pki().expired,
            ResultType::CertificateExpired,
            "certificate_expired",
        ),
        (
            &pki().wrong_name,
            ResultType::CertificateHostMismatch,
            "bad_certificate",
        ),
    ];
    for (identity, result_type, alert) in cases {
        let mut pair = TlsPair::new(
            &client(Rung::Modern, verify::pkix()),
            TlsPeer::new(&server(Rung::Modern, identity), Intolerance::None),
        );
        let failure = pair.handshake().client.unwrap_err();
        assert_eq!(failure.class, FailureClass::Certificate);
        assert_eq!(failure.result_type, result_type);
        assert_eq!(failure.alert_sent.map(alert_name).as_deref(), Some(alert));
        // The alert rustls queued still goes out, and the server hears it.
        let mut wire = Vec::new();
        assert!(pair.client.drain_ciphertext(&mut wire) > 0);
        let mut sink = Vec::new();
        let server_err = pair
            .server
            .handle(&wire, &mut Vec::new(), &mut sink)
            .unwrap_err();
        assert_eq!(
            server_err.alert_received.map(alert_name).as_deref(),
            Some(alert)
        );
        // Failures are sticky.
        assert_eq!(
            pair.client
                .handle_ciphertext(b"\x17", &mut sink)
                .unwrap_err(),
            failure
        );
    }
}

#[test]
fn an_unauthenticating_verifier_accepts_any_certificate() {
    let mut pair = TlsPair::new(
        &client(Rung::Modern, verify::accept_any()),
        TlsPeer::new(&server(Rung::Modern, &pki().self_signed), Intolerance::None),
    );
    pair.handshake().client.unwrap();
    assert_eq!(
        pair.client.facts().unwrap().peer_chain,
        pki().self_signed.chain()
    );
}

#[test]
fn client_certificates_reach_the_server() {
    let server_setup =
        server(Rung::Modern, &pki().server).with_client_verifier(Some(verify::client_pkix()));
    let setup = client(Rung::Modern, verify::pkix()).with_identity(Some(pki().client.clone()));
    let mut pair = TlsPair::new(&setup, TlsPeer::new(&server_setup, Intolerance::None));
    let hs = pair.handshake();
    hs.client.unwrap();
    // TLS 1.3: the server checks the client's flight after the client thinks it is done.
    hs.server.unwrap();
    assert_eq!(
        pair.server.engine().facts().unwrap().peer_chain,
        pki().client.chain()
    );

    // Without a certificate the server refuses, and the client learns it from the alert.
    let mut pair = TlsPair::new(
        &client(Rung::Modern, verify::pkix()),
        TlsPeer::new(&server_setup, Intolerance::None),
    );
    let hs = pair.handshake();
    assert_eq!(hs.server.unwrap_err().class, FailureClass::Certificate);
    let mut wire = Vec::new();
    pair.server.engine().drain_ciphertext(&mut wire);
    let err = pair
        .client
        .handle_ciphertext(&wire, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.class, FailureClass::OtherTls);
    assert_eq!(
        err.alert_received.map(alert_name).as_deref(),
        Some("certificate_required")
    );
}

#[test]
fn plaintext_where_tls_belongs_is_a_decode_failure() {
    let mut pair = pair(Rung::Modern, Rung::Modern, Intolerance::None);
    let mut hello = Vec::new();
    pair.client.drain_ciphertext(&mut hello);
    let err = pair
        .client
        .handle_ciphertext(b"250 injected\r\n", &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Decode);
    assert_eq!(err.result_type, ResultType::StarttlsNotSupported);
}

#[test]
fn end_of_stream_is_judged_by_phase() {
    let mut pair = pair(Rung::Modern, Rung::Modern, Intolerance::None);
    assert_eq!(
        pair.client.handle_eof().unwrap_err().class,
        FailureClass::EofDuringHandshake
    );

    let mut pair = self::pair(Rung::Modern, Rung::Modern, Intolerance::None);
    pair.handshake().client.unwrap();
    assert!(pair.client.encrypt(b"x", &mut Vec::new()).is_ok());
    let truncated = pair.client.handle_eof().unwrap_err();
    assert_eq!(truncated.class, FailureClass::OtherTls);
    assert!(!truncated.during_handshake);

    let mut pair = self::pair(Rung::Modern, Rung::Modern, Intolerance::None);
    pair.handshake().client.unwrap();
    let mut wire = Vec::new();
    pair.server.engine().close();
    pair.server.engine().drain_ciphertext(&mut wire);
    pair.client
        .handle_ciphertext(&wire, &mut Vec::new())
        .unwrap();
    assert!(pair.client.peer_closed());
    pair.client.handle_eof().unwrap();
}

#[test]
fn plaintext_is_refused_before_the_handshake() {
    let mut pair = pair(Rung::Modern, Rung::Modern, Intolerance::None);
    assert!(pair.client.encrypt(b"EHLO x\r\n", &mut Vec::new()).is_err());
}
