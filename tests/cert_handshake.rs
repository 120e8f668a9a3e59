//! The verifiers in real rustls handshakes, in memory, one requirement at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::cert::{
    ring_provider, CertFacts, CertificateCheck, ClientCertRequest, ClientVerifier, DaneCheck,
    DaneMatch, OnFailure, OutcomeSlot, PartnerRequirement, PartnerRule, Pin, Role, ServerVerifier,
    TrustAnchors, TrustLevel, VerifyError,
};
use mailtls::names::{Dialect, NamePattern};
use mailtls::report::ResultType;
use rcgen::ExtendedKeyUsagePurpose;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use support::fixtures::sha1_fixture;
use support::pki::*;
use support::NOW;

/// The test clock, injected into both configs.
#[derive(Debug)]
struct FixedClock;

impl TimeProvider for FixedClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(NOW.to_unix_time())
    }
}

/// What the server presents, and whether it asks for a client certificate.
struct Server {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Option<ClientVerifier>,
}

impl Server {
    fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self {
            chain,
            key,
            client_verifier: None,
        }
    }

    fn config(self) -> ServerConfig {
        let builder = ServerConfig::builder_with_details(ring_provider(), Arc::new(FixedClock))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match self.client_verifier {
            Some(v) => builder.with_client_cert_verifier(Arc::new(v)),
            None => builder.with_no_client_auth(),
        };
        builder.with_single_cert(self.chain, self.key).unwrap()
    }
}

fn client_config(verifier: ServerVerifier, tls12_only: bool) -> ClientConfig {
    let builder = ClientConfig::builder_with_details(ring_provider(), Arc::new(FixedClock));
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    builder
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth()
}

fn client_config_with_cert(
    verifier: ServerVerifier,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> ClientConfig {
    ClientConfig::builder_with_details(ring_provider(), Arc::new(FixedClock))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .unwrap()
}

/// Runs a handshake over Vec<u8> buffers; returns each side's first error.
fn handshake(
    client: ClientConfig,
    server: ServerConfig,
    name: &str,
) -> (Result<(), rustls::Error>, Result<(), rustls::Error>) {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let mut client = ClientConnection::new(Arc::new(client), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server)).unwrap();
    let mut client_result = Ok(());
    let mut server_result = Ok(());
    for _ in 0..20 {
        let moved_to_server = transfer_to_server(&mut client, &mut server);
        if moved_to_server && server_result.is_ok() {
            server_result = server.process_new_packets().map(|_| ());
        }
        let moved_to_client = transfer_to_client(&mut server, &mut client);
        if moved_to_client && client_result.is_ok() {
            client_result = client.process_new_packets().map(|_| ());
        }
        let done = !client.is_handshaking() && !server.is_handshaking();
        if !moved_to_server
            && !moved_to_client
            && (done || client_result.is_err() || server_result.is_err())
        {
            break;
        }
    }
    (client_result, server_result)
}

fn transfer_to_server(from: &mut ClientConnection, to: &mut ServerConnection) -> bool {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        if to.read_tls(&mut rest).is_err() {
            break;
        }
    }
    !buf.is_empty()
}

fn transfer_to_client(from: &mut ServerConnection, to: &mut ClientConnection) -> bool {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        if to.read_tls(&mut rest).is_err() {
            break;
        }
    }
    !buf.is_empty()
}

/// Runs an outbound handshake against a server presenting `chain`, with `requirement`.
fn outbound(
    requirement: CertificateCheck,
    on_failure: OnFailure,
    server: Server,
    name: &str,
) -> (Result<(), rustls::Error>, OutcomeSlot) {
    let verifier = ServerVerifier::new(requirement, on_failure);
    let slot = verifier.slot();
    let (client, _) = handshake(client_config(verifier, false), server.config(), name);
    (client, slot)
}

struct Pki {
    root: Ca,
    sub: Ca,
    roots: Arc<TrustAnchors>,
}

fn pki() -> Pki {
    named_pki("Root", "Sub")
}

fn named_pki(root: &str, sub: &str) -> Pki {
    let root = Ca::root(root);
    let sub = root.intermediate(sub);
    let roots = Arc::new(TrustAnchors::from_der([&root.der]).unwrap());
    Pki { root, sub, roots }
}

/// A server whose leaf (for `sans`) is issued by the intermediate and sent with it.
fn mx_server(p: &Pki, sans: &[&str]) -> Server {
    let leaf = p
        .sub
        .issue(&leaf(sans, sans.first().copied().unwrap_or("mx")));
    Server::new(vec![leaf.der.clone(), p.sub.der.clone()], leaf.key_der())
}

#[test]
fn encrypt_only_accepts_any_certificate_and_reads_nothing_from_it() {
    let stranger = self_signed(&["whatever.example"], "whatever.example");
    let server = Server::new(vec![stranger.der.clone()], stranger.key_der());
    let (result, slot) = outbound(
        CertificateCheck::EncryptOnly,
        OnFailure::Abort,
        server,
        "mx.example.net",
    );
    assert_eq!(result, Ok(()));
    let outcome = slot.get().unwrap();
    assert_eq!(outcome.trust, TrustLevel::Untrusted);
    assert_eq!(outcome.error, None);
    // Nothing is read at encrypt; the facts come on demand from the chain.
    assert_eq!(outcome.facts, None);
    let facts = CertFacts::from_der(stranger.der.as_ref()).unwrap();
    assert_eq!(facts.dns_names, ["whatever.example"]);
}

#[test]
fn encrypt_only_over_tls12_too() {
    let stranger = self_signed(&["whatever.example"], "whatever.example");
    let server = Server::new(vec![stranger.der.clone()], stranger.key_der());
    let verifier = ServerVerifier::new(CertificateCheck::EncryptOnly, OnFailure::Abort);
    let slot = verifier.slot();
    let (client, server) = handshake(
        client_config(verifier, true),
        server.config(),
        "mx.example.net",
    );
    assert_eq!((client, server), (Ok(()), Ok(())));
    assert!(slot.get().unwrap().is_verified());
}

/// Presents `cert` but signs with an unrelated key: rustls's own consistency check is
/// bypassed with a custom resolver, so only our handshake-signature check can catch it.
#[derive(Debug)]
struct MismatchedKey(Arc<CertifiedKey>);

impl ResolvesServerCert for MismatchedKey {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn handshake_signatures_are_checked_whatever_the_requirement() {
    let presented = self_signed(&["mx.example.net"], "mx.example.net");
    let impostor = self_signed(&["mx.example.net"], "mx.example.net");
    let key = ring_provider()
        .key_provider
        .load_private_key(impostor.key_der())
        .unwrap();
    let certified = Arc::new(CertifiedKey::new(vec![presented.der.clone()], key));
    for tls12 in [false, true] {
        let server = ServerConfig::builder_with_details(ring_provider(), Arc::new(FixedClock))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(MismatchedKey(certified.clone())));
        let verifier = ServerVerifier::new(CertificateCheck::EncryptOnly, OnFailure::Continue);
        let (client, _) = handshake(client_config(verifier, tls12), server, "mx.example.net");
        assert!(
            matches!(
                client,
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature
                ))
            ),
            "tls12={tls12}: {client:?}"
        );
    }
}

#[test]
fn chain_requirement() {
    let p = pki();
    let (result, slot) = outbound(
        CertificateCheck::Chain {
            anchors: p.roots.clone(),
        },
        OnFailure::Abort,
        mx_server(&p, &["anything.example.org"]),
        "mx.example.net",
    );
    assert_eq!(result, Ok(()));
    assert_eq!(slot.get().unwrap().trust, TrustLevel::Trusted);

    // A forged chain with the same CA names: the signature check catches it.
    let forged = pki();
    let (result, slot) = outbound(
        CertificateCheck::Chain {
            anchors: p.roots.clone(),
        },
        OnFailure::Abort,
        mx_server(&forged, &["mx.example.net"]),
        "mx.example.net",
    );
    assert_eq!(
        result,
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadSignature
        ))
    );
    assert_eq!(
        slot.get().unwrap().result_type(),
        Some(ResultType::CertificateNotTrusted)
    );

    // A stranger's chain: aborted with UnknownIssuer ...
    let other = named_pki("Other Root", "Other Sub");
    let (result, slot) = outbound(
        CertificateCheck::Chain {
            anchors: p.roots.clone(),
        },
        OnFailure::Abort,
        mx_server(&other, &["mx.example.net"]),
        "mx.example.net",
    );
    assert_eq!(
        result,
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );
    assert_eq!(
        slot.get().unwrap().result_type(),
        Some(ResultType::CertificateNotTrusted)
    );
    // ... or, opportunistically, continued and reported.
    let (result, slot) = outbound(
        CertificateCheck::Chain {
            anchors: p.roots.clone(),
        },
        OnFailure::Continue,
        mx_server(&other, &["mx.example.net"]),
        "mx.example.net",
    );
    assert_eq!(result, Ok(()));
    let outcome = slot.get().unwrap();
    assert!(outcome.continued);
    assert_eq!(outcome.trust, TrustLevel::Untrusted);
    assert_eq!(
        outcome.result_type(),
        Some(ResultType::CertificateNotTrusted)
    );
}

#[test]
fn chain_and_name_requirement() {
    let p = pki();
    let sni = |anchors: &Arc<TrustAnchors>| CertificateCheck::ChainAndName {
        anchors: anchors.clone(),
        dialect: Dialect::Rfc9525,
        references: Vec::new(),
    };
    // The SNI name is the reference: wildcard certificate covers it.
    let (result, slot) = outbound(
        sni(&p.roots),
        OnFailure::Abort,
        mx_server(&p, &["*.example.net"]),
        "mx.example.net",
    );
    assert_eq!(result, Ok(()));
    assert_eq!(slot.get().unwrap().trust, TrustLevel::Verified);
    // RFC 9525: a wildcard does not cover two labels.
    let (result, slot) = outbound(
        sni(&p.roots),
        OnFailure::Abort,
        mx_server(&p, &["*.example.net"]),
        "a.mx.example.net",
    );
    assert_eq!(
        result,
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
        ))
    );
    let outcome = slot.get().unwrap();
    assert_eq!(outcome.trust, TrustLevel::Untrusted);
    assert_eq!(
        outcome.result_type(),
        Some(ResultType::CertificateHostMismatch)
    );
    let Some(VerifyError::Names(mismatch)) = outcome.error else {
        panic!("{outcome:?}")
    };
    assert_eq!(mismatch.expected, ["a.mx.example.net"]);
    assert_eq!(mismatch.presented, ["*.example.net"]);

    // Explicit MTA-STS references, independent of SNI.
    let sts = CertificateCheck::ChainAndName {
        anchors: p.roots.clone(),
        dialect: Dialect::MtaStsMx,
        references: vec![NamePattern::parse("*.example.net", Dialect::MtaStsMx).unwrap()],
    };
    let (result, _) = outbound(
        sts,
        OnFailure::Abort,
        mx_server(&p, &["mx1.example.net"]),
        "mx1.example.net",
    );
    assert_eq!(result, Ok(()));

    // An expired server certificate, opportunistic: continued, reported as expired.
    let old = p
        .sub
        .issue(&leaf_valid(&["mx.example.net"], (2019, 1, 1), (2020, 1, 1)));
    let server = Server::new(vec![old.der.clone(), p.sub.der.clone()], old.key_der());
    let (result, slot) = outbound(sni(&p.roots), OnFailure::Continue, server, "mx.example.net");
    assert_eq!(result, Ok(()));
    assert_eq!(
        slot.get().unwrap().result_type(),
        Some(ResultType::CertificateExpired)
    );
}

#[test]
fn mid_chain_trust_anchor_in_a_handshake() {
    let p = pki();
    let tafile = Arc::new(TrustAnchors::from_der([&p.sub.der]).unwrap());
    let leaf = p.sub.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    // The server sends only its leaf; the anchor is the intermediate.
    let server = Server::new(vec![leaf.der.clone()], leaf.key_der());
    let requirement = CertificateCheck::ChainAndName {
        anchors: tafile,
        dialect: Dialect::PostfixMatch,
        references: vec![NamePattern::parse(".example.net", Dialect::PostfixMatch).unwrap()],
    };
    let (result, slot) = outbound(requirement, OnFailure::Abort, server, "mx.example.net");
    assert_eq!(result, Ok(()));
    assert_eq!(slot.get().unwrap().trust, TrustLevel::Verified);
    let _ = &p.root;
}

#[test]
fn pins_requirement_with_self_signed_leaf() {
    let leaf = self_signed(&["partner.example"], "partner.example");
    let fp = CertFacts::from_der(&leaf.der).unwrap().fingerprints;
    let pinned = CertificateCheck::Pins(vec![Pin::certificate(&fp.sha256_hex()).unwrap()]);
    let server = || Server::new(vec![leaf.der.clone()], leaf.key_der());
    let (result, slot) = outbound(pinned, OnFailure::Abort, server(), "partner.example");
    assert_eq!(result, Ok(()));
    assert_eq!(slot.get().unwrap().trust, TrustLevel::Verified);

    let wrong = CertificateCheck::Pins(vec![Pin::public_key(&"00".repeat(32)).unwrap()]);
    let (result, slot) = outbound(wrong, OnFailure::Abort, server(), "partner.example");
    assert!(result.is_err());
    let outcome = slot.get().unwrap();
    let Some(VerifyError::Partner(e)) = &outcome.error else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.rule(), PartnerRule::Pin);
}

#[test]
fn partner_requirement_refuses_sha1_in_a_handshake() {
    let (cert, key) = sha1_fixture();
    let server = || Server::new(vec![cert.clone()], key.clone_key());
    let partner = PartnerRequirement::new(Role::Outbound, Dialect::Rfc9525)
        .with_names([NamePattern::parse("sha1.example.net", Dialect::Rfc9525).unwrap()]);
    let requirement = CertificateCheck::Partner {
        anchors: None,
        partner: partner.clone(),
    };
    let (result, slot) = outbound(requirement, OnFailure::Abort, server(), "sha1.example.net");
    assert_eq!(
        result,
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure
        ))
    );
    let outcome = slot.get().unwrap();
    let Some(VerifyError::Partner(e)) = &outcome.error else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.rule(), PartnerRule::Signature);
    assert_eq!(outcome.result_type(), Some(ResultType::ValidationFailure));

    let mut lenient = partner;
    lenient.danger_allow_weak_signatures = true;
    let requirement = CertificateCheck::Partner {
        anchors: None,
        partner: lenient,
    };
    let (result, slot) = outbound(requirement, OnFailure::Abort, server(), "sha1.example.net");
    assert_eq!(result, Ok(()));
    assert_eq!(slot.get().unwrap().trust, TrustLevel::Verified);
}

/// A DANE check that matches by the leaf's SHA-256 (EE) or names an anchor (TA).
#[derive(Debug)]
enum TestDane {
    Ee([u8; 32]),
    Ta(CertificateDer<'static>, Vec<NamePattern>),
    Nothing,
}

impl DaneCheck for TestDane {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: mailtls::Timestamp,
    ) -> Result<DaneMatch, VerifyError> {
        match self {
            Self::Ee(digest) => {
                let facts = CertFacts::from_der(end_entity)?;
                if facts.fingerprints.sha256 == *digest {
                    Ok(DaneMatch::EndEntity)
                } else {
                    Err(VerifyError::Dane {
                        reason: "no TLSA 3 0 1 record matched".into(),
                    })
                }
            }
            Self::Ta(anchor, ids) => Ok(DaneMatch::TrustAnchor {
                anchor: anchor.clone(),
                reference_ids: ids.clone(),
            }),
            Self::Nothing => Err(VerifyError::Dane {
                reason: "no usable TLSA record matched".into(),
            }),
        }
    }
}

#[test]
fn dane_hook_requirement() {
    let p = pki();
    let leaf = p.sub.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    let server = || Server::new(vec![leaf.der.clone(), p.sub.der.clone()], leaf.key_der());
    let digest = CertFacts::from_der(&leaf.der).unwrap().fingerprints.sha256;
    let ids = vec![
        NamePattern::parse("example.net", Dialect::DaneTa).unwrap(),
        NamePattern::parse("mx.example.net", Dialect::DaneTa).unwrap(),
    ];
    let cases = [
        (TestDane::Ee(digest), Ok(()), TrustLevel::Verified, None),
        (
            TestDane::Ta(p.root.der.clone(), ids),
            Ok(()),
            TrustLevel::Verified,
            None,
        ),
        (
            TestDane::Ta(
                p.root.der.clone(),
                vec![NamePattern::parse("other.example", Dialect::DaneTa).unwrap()],
            ),
            Err(()),
            TrustLevel::Untrusted,
            Some(ResultType::CertificateHostMismatch),
        ),
        (
            TestDane::Nothing,
            Err(()),
            TrustLevel::Untrusted,
            Some(ResultType::TlsaInvalid),
        ),
    ];
    for (i, (dane, want, trust, result_type)) in cases.into_iter().enumerate() {
        let (result, slot) = outbound(
            CertificateCheck::Dane(Arc::new(dane)),
            OnFailure::Abort,
            server(),
            "mx.example.net",
        );
        assert_eq!(result.is_ok(), want.is_ok(), "case {i}: {result:?}");
        let outcome = slot.get().unwrap();
        assert_eq!(outcome.trust, trust, "case {i}");
        assert_eq!(outcome.result_type(), result_type, "case {i}");
    }
}

/// Runs an inbound handshake: the client presents `client_cert` (if any).
fn inbound(
    requirement: CertificateCheck,
    certificate: ClientCertRequest,
    on_failure: OnFailure,
    client_cert: Option<&Issued>,
    hints: Option<&TrustAnchors>,
) -> (
    Result<(), rustls::Error>,
    Result<(), rustls::Error>,
    OutcomeSlot,
) {
    let our = self_signed(&["mx.ours.example"], "mx.ours.example");
    let verifier = ClientVerifier::new(requirement, certificate, on_failure, hints);
    let slot = verifier.slot();
    let server = Server {
        chain: vec![our.der.clone()],
        key: our.key_der(),
        client_verifier: Some(verifier),
    };
    let client_verifier = ServerVerifier::new(CertificateCheck::EncryptOnly, OnFailure::Abort);
    let client = match client_cert {
        Some(c) => client_config_with_cert(client_verifier, vec![c.der.clone()], c.key_der()),
        None => client_config(client_verifier, false),
    };
    let (client_result, server_result) = handshake(client, server.config(), "mx.ours.example");
    (client_result, server_result, slot)
}

#[test]
fn inbound_partner_with_client_certificate() {
    let partner_ca = Ca::root("Partner CA");
    let anchors = Arc::new(TrustAnchors::from_der([&partner_ca.der]).unwrap());
    let requirement = || CertificateCheck::Partner {
        anchors: Some(anchors.clone()),
        partner: PartnerRequirement::new(Role::Inbound, Dialect::ExchangeConnector)
            .with_names([NamePattern::parse("*.contoso.com", Dialect::ExchangeConnector).unwrap()]),
    };
    let good = partner_ca.issue(&leaf_with_eku(
        &["mail.contoso.com"],
        "mail.contoso.com",
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    ));
    let (client, server, slot) = inbound(
        requirement(),
        ClientCertRequest::Required,
        OnFailure::Abort,
        Some(&good),
        Some(&anchors),
    );
    assert_eq!((client, server), (Ok(()), Ok(())));
    let outcome = slot.get().unwrap();
    assert_eq!(outcome.trust, TrustLevel::Verified);
    assert_eq!(outcome.facts.unwrap().dns_names, ["mail.contoso.com"]);

    // Server-only EKU: refused inbound, and the rule says so.
    let server_only = partner_ca.issue(&leaf_with_eku(
        &["mail.contoso.com"],
        "mail.contoso.com",
        vec![ExtendedKeyUsagePurpose::ServerAuth],
    ));
    let (_, server, slot) = inbound(
        requirement(),
        ClientCertRequest::Required,
        OnFailure::Abort,
        Some(&server_only),
        None,
    );
    assert!(server.is_err());
    assert!(matches!(
        slot.get().unwrap().error,
        Some(VerifyError::Chain(mailtls::cert::ChainError::Usage {
            expected: "clientAuth"
        }))
    ));

    // Wrong name, opportunistic: the session goes on and knows why.
    let stranger = partner_ca.issue(&leaf(&["mail.fabrikam.com"], "mail.fabrikam.com"));
    let (_, server, slot) = inbound(
        requirement(),
        ClientCertRequest::Optional,
        OnFailure::Continue,
        Some(&stranger),
        None,
    );
    assert_eq!(server, Ok(()));
    let outcome = slot.get().unwrap();
    assert!(outcome.continued);
    assert_eq!(outcome.trust, TrustLevel::Trusted);
    assert_eq!(
        outcome.result_type(),
        Some(ResultType::CertificateHostMismatch)
    );

    // No certificate: refused when required; Anonymous (empty slot) when optional.
    let (_, server, _) = inbound(
        requirement(),
        ClientCertRequest::Required,
        OnFailure::Abort,
        None,
        None,
    );
    assert_eq!(server, Err(rustls::Error::NoCertificatesPresented));
    let (client, server, slot) = inbound(
        requirement(),
        ClientCertRequest::Optional,
        OnFailure::Abort,
        None,
        None,
    );
    assert_eq!((client, server), (Ok(()), Ok(())));
    assert_eq!(slot.get(), None);
}
