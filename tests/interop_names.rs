//! Postfix's own certificate name check against mailtls's, on the same certificates: a
//! differential test. For each certificate (wildcard, CN-only, CN next to a SAN) and each
//! reference name, Postfix's `posttls-finger -l secure` (the smtp client's TLS code, OpenSSL
//! 3.0 underneath) connects to a mailtls server on 127.0.0.1 presenting it, and its verdict
//! ("Verified" or a hostname mismatch) must be what mailtls's `PostfixMatch` dialect says.
//!
//! Needs Postfix installed (`.ci/peers/install.sh`); gated like the other interop tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support_peers;

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use mailtls::cert::CertFacts;
use mailtls::io::{blocking, Answer};
use mailtls::names::{Dialect, NamePattern};
use mailtls::policy::ladder::Rung;
use mailtls::server::{ServerConfig, ServerTls};
use mailtls::tls::TlsIdentity;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use support_peers::Peers;

/// What Postfix says of a certificate (`sans`, `cn`) for the reference `name`.
fn postfix_verifies(
    dir: &std::path::Path,
    ca_file: &std::path::Path,
    identity: TlsIdentity,
    name: &str,
) -> bool {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServerConfig::new("mx.partner.test");
    config.tls = Some(ServerTls::new(identity, Rung::Modern));
    let config = Arc::new(config);
    let server = std::thread::spawn(move || {
        let (stream, peer) = listener.accept().unwrap();
        let _ = blocking::serve_connection(stream, peer, config, &mut |_: &_| Answer::Accept);
    });
    let output = Command::new("posttls-finger")
        .env("MAIL_CONFIG", dir)
        .args(["-c", "-l", "secure", "-F"])
        .arg(ca_file)
        .arg(format!("[127.0.0.1]:{}", addr.port()))
        .arg(name)
        .output()
        .expect("posttls-finger (Postfix) is installed");
    server.join().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let verified = text.contains("Verified TLS connection established");
    assert!(
        verified || text.contains("hostname mismatch") || text.contains("Untrusted TLS"),
        "posttls-finger said neither: {text}"
    );
    verified
}

#[test]
fn postfix_and_mailtls_agree_on_certificate_names() {
    let Some(_peers) = Peers::require("postfix_and_mailtls_agree_on_certificate_names") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mailtls-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // posttls-finger reads main.cf; an empty one gives Postfix's defaults
    // (tls_wildcard_matches_multiple_labels = yes among them).
    std::fs::write(dir.join("main.cf"), "").unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mailtls names CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    // (SANs, CN, reference name, what Postfix 3.7 / OpenSSL 3.0 says)
    let cases: &[(&[&str], &str, &str, bool)] = &[
        (&["*.partner.test"], "wild", "mx.partner.test", true),
        // Issue 18 item 3: `*` is one label, tls_wildcard_matches_multiple_labels or not.
        (&["*.partner.test"], "wild", "a.mx.partner.test", false),
        (&["*.partner.test"], "wild", "partner.test", false),
        // TLS_README: the CN is used only when the certificate has no DNS SAN.
        (&[], "mx.partner.test", "mx.partner.test", true),
        (
            &["other.partner.test"],
            "mx.partner.test",
            "mx.partner.test",
            false,
        ),
        (&["MX.Partner.Test"], "x", "mx.partner.test", true),
    ];
    let mut disagreements = Vec::new();
    for (sans, cn, name, want) in cases {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, *cn);
        let leaf = params.signed_by(&key, &ca).unwrap();
        let facts = CertFacts::from_der(leaf.der().as_ref()).unwrap();
        let reference = NamePattern::parse(name, Dialect::PostfixMatch).unwrap();
        let mailtls = facts
            .match_names(Dialect::PostfixMatch, &[reference])
            .is_ok();
        let identity = TlsIdentity::from_der(
            vec![leaf.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        let postfix = postfix_verifies(&dir, &ca_file, identity, name);
        if postfix != *want || mailtls != *want {
            disagreements.push(format!(
                "SAN {sans:?} CN {cn} vs {name}: expected {want}, Postfix {postfix}, mailtls {mailtls}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
