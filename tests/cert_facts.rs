//! Certificate facts from rcgen-made and OpenSSL-made certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use mailtls::cert::{
    CertError, CertFacts, EcCurve, ExtendedKeyUsage, HashAlgorithm, KeyUsage, PublicKeyAlgorithm,
};
use mailtls::names::{Dialect, DnsName, NamePattern};
use mailtls::Timestamp;
use support::fixtures::{RSA1024_DER, SHA1_DER};
use support::pki::*;
use support::NOW;

#[test]
fn openssl_fixtures_known_answers() {
    // Expected values printed by `openssl x509 -fingerprint -sha256/-sha1 -serial -subject
    // -nameopt RFC2253 -dates` and `openssl pkey -pubin -outform DER | openssl dgst -sha256`.
    let sha1 = CertFacts::from_der(SHA1_DER).unwrap();
    assert_eq!(
        sha1.fingerprints.sha256_hex(),
        "26:B5:BF:B2:58:06:FD:0F:D0:A4:D3:60:7A:29:29:BF:96:60:46:A8:2E:E3:78:DA:75:ED:5D:A8:7B:FA:AA:D2"
    );
    assert_eq!(
        sha1.fingerprints.sha1_hex(),
        "BF:76:83:86:A6:4C:B3:CD:84:F0:D2:27:B2:C5:AE:26:AE:3C:72:28"
    );
    assert_eq!(
        sha1.fingerprints.spki_sha256_base64(),
        "XWE3SsRo0zfpUyjUJZ/rfEwCu/32oiFY2Wd6b6Umiu8="
    );
    assert_eq!(
        sha1.serial,
        "14:48:ED:E2:CD:3C:F2:3F:F6:01:D9:F0:DC:63:AA:CA:2A:CB:E8:FA"
    );
    assert_eq!(sha1.subject, "CN=sha1.example.net");
    assert_eq!(sha1.issuer, "CN=sha1.example.net");
    assert_eq!(sha1.not_before, Timestamp::from_unix_secs(1_795_953_783));
    assert_eq!(sha1.not_after, Timestamp::from_unix_secs(4_949_553_783));
    assert_eq!(sha1.signature.name, "ecdsa-with-SHA1");
    assert_eq!(sha1.signature.hash, Some(HashAlgorithm::Sha1));
    assert!(sha1.signature.is_weak());
    assert_eq!(
        sha1.key,
        PublicKeyAlgorithm::Ec {
            curve: EcCurve::P256
        }
    );

    let weak = CertFacts::from_der(RSA1024_DER).unwrap();
    assert_eq!(
        weak.fingerprints.sha256_hex(),
        "02:AA:09:37:02:8D:08:F2:FB:69:63:38:69:11:87:B7:19:C0:F0:27:D9:2A:AB:CC:EA:A4:09:04:05:F8:28:20"
    );
    assert_eq!(
        weak.fingerprints.spki_sha256_base64(),
        "NKFn3XTQD9R+hn/Y5GY6AdXHP6PWPwx618P4V0ktdlQ="
    );
    // RFC 4514 order, as `openssl -nameopt RFC2253` prints it.
    assert_eq!(weak.subject, "O=Weak Keys Inc,CN=weak.example.net");
    assert_eq!(weak.key, PublicKeyAlgorithm::Rsa { bits: 1024 });
    assert_eq!(weak.signature.name, "sha256WithRSAEncryption");
    assert!(!weak.signature.is_weak());
    assert_eq!(
        weak.extended_key_usage,
        Some(vec![
            ExtendedKeyUsage::ServerAuth,
            ExtendedKeyUsage::ClientAuth
        ])
    );
}

#[test]
fn rcgen_leaf_with_many_sans_ips_and_usages() {
    let ca = Ca::root("Test Root");
    let sans = [
        "mx1.example.net",
        "*.example.net",
        "xn--bcher-kva.example",
        "192.0.2.25",
        "2001:db8::25",
    ];
    let leaf = ca.issue(&leaf(&sans, "mx1.example.net"));
    let facts = CertFacts::from_der(&leaf.der).unwrap();
    assert_eq!(
        facts.dns_names,
        ["mx1.example.net", "*.example.net", "xn--bcher-kva.example"]
    );
    assert_eq!(
        facts.ip_addresses,
        [
            "192.0.2.25".parse::<std::net::IpAddr>().unwrap(),
            "2001:db8::25".parse().unwrap()
        ]
    );
    assert_eq!(facts.common_names, ["mx1.example.net"]);
    assert_eq!(facts.subject, "CN=mx1.example.net");
    assert_eq!(facts.issuer, "O=Mailtls Test,CN=Test Root");
    assert_eq!(
        facts.key,
        PublicKeyAlgorithm::Ec {
            curve: EcCurve::P256
        }
    );
    assert_eq!(facts.key.bits(), 256);
    assert_eq!(facts.signature.name, "ecdsa-with-SHA256");
    assert_eq!(facts.key_usage, Some(vec![KeyUsage::DigitalSignature]));
    assert!(facts.allows_usage(&ExtendedKeyUsage::ServerAuth));
    assert!(facts.allows_usage(&ExtendedKeyUsage::ClientAuth));
    assert!(!facts.allows_usage(&ExtendedKeyUsage::CodeSigning));
    assert!(!facts.is_ca);
    assert!(facts.is_valid_at(NOW));
    // IP identities match IP SANs only, never names.
    assert!(facts.matches_ip("192.0.2.25".parse().unwrap()));
    assert!(!facts.matches_ip("192.0.2.26".parse().unwrap()));
    // The IDN SAN matches a U-label reference.
    let idn = NamePattern::parse("bücher.example", Dialect::Rfc9525).unwrap();
    assert!(facts.match_names(Dialect::Rfc9525, &[idn]).is_ok());
    let deep = NamePattern::exact(DnsName::parse("a.b.example.net").unwrap(), Dialect::Rfc9525);
    assert!(facts
        .match_names(Dialect::Rfc9525, std::slice::from_ref(&deep))
        .is_err());
    // Postfix checks a certificate's `*` as one label too (tests/interop_names.rs measures it
    // against posttls-finger).
    assert!(facts
        .match_names(Dialect::PostfixCertificate, &[deep])
        .is_err());

    let ca_facts = CertFacts::from_der(&ca.der).unwrap();
    assert!(ca_facts.is_ca);
    assert_eq!(ca_facts.extended_key_usage, None);
    assert!(ca_facts.allows_usage(&ExtendedKeyUsage::ServerAuth));
}

#[test]
fn rcgen_rsa_leaf_reports_modulus_bits() {
    let ca = Ca::root("Test Root");
    let leaf = ca.issue_rsa(&leaf(&["rsa.example.net"], "rsa.example.net"));
    let facts = CertFacts::from_der(&leaf.der).unwrap();
    assert_eq!(facts.key, PublicKeyAlgorithm::Rsa { bits: 2048 });
}

#[test]
fn validity_dates_come_through() {
    let ca = Ca::root("Test Root");
    let old = ca.issue(&leaf_valid(
        &["old.example.net"],
        (2019, 1, 1),
        (2020, 1, 1),
    ));
    let facts = CertFacts::from_der(&old.der).unwrap();
    assert_eq!(facts.not_after, Timestamp::from_unix_secs(1_577_836_800));
    assert!(!facts.is_valid_at(NOW));
}

#[test]
fn every_truncation_is_a_typed_error() {
    let ca = Ca::root("Test Root");
    let leaf = ca.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    let der = leaf.der.as_ref();
    for len in 0..der.len() {
        let got = CertFacts::from_der(&der[..len]);
        assert!(got.is_err(), "prefix of {len} bytes parsed");
    }
    let mut long = der.to_vec();
    long.extend_from_slice(b"xyz");
    assert_eq!(
        CertFacts::from_der(&long),
        Err(CertError::TrailingData { extra: 3 })
    );
    // Flip every byte in turn: errors or facts, never a panic.
    for i in 0..der.len() {
        let mut bent = der.to_vec();
        bent[i] ^= 0xff;
        let _ = CertFacts::from_der(&bent);
    }
}

#[test]
fn cn_only_certificate_per_dialect() {
    let ca = Ca::root("Test Root");
    let cn_only = ca.issue(&leaf(&[], "mx.example.net"));
    let facts = CertFacts::from_der(&cn_only.der).unwrap();
    assert!(facts.dns_names.is_empty());
    assert_eq!(facts.common_names, ["mx.example.net"]);
    // (dialect, does the CN count?)
    let table = [
        (Dialect::Rfc9525, false),
        (Dialect::PostfixCertificate, true),
        (Dialect::PostfixMatch, true),
        (Dialect::MtaStsMx, false),
        (Dialect::ExchangeConnector, true),
        // RFC 7672 §3.2.3: the CN counts when the certificate has no DNS-ID.
        (Dialect::DaneTa, true),
    ];
    for (dialect, want) in table {
        let reference = NamePattern::parse("mx.example.net", dialect).unwrap();
        let got = facts.match_names(dialect, &[reference]);
        assert_eq!(got.is_ok(), want, "{dialect}: {got:?}");
        if let Ok(m) = got {
            assert!(m.via_common_name);
        }
    }
}
