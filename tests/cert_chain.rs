//! Chain validation against caller-supplied anchors, and the outcome mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::cert::{
    evaluate, validate_chain, CertificateCheck, ChainError, PartnerRequirement, Pin, Role,
    TrustAnchors, TrustLevel, VerifyError,
};
use mailtls::names::{Dialect, DnsName, HostId, NamePattern};
use mailtls::report::ResultType;
use mailtls::Timestamp;
use rcgen::ExtendedKeyUsagePurpose;
use rustls_pki_types::CertificateDer;
use support::pki::*;
use support::NOW;

fn anchors(certs: &[&CertificateDer<'static>]) -> TrustAnchors {
    TrustAnchors::from_der(certs.iter().copied()).unwrap()
}

#[test]
fn root_intermediate_leaf() {
    let root = Ca::root("Root");
    let sub = root.intermediate("Sub");
    let leaf = sub.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    let roots = anchors(&[&root.der]);
    let inter = [sub.der.clone()];
    assert_eq!(
        validate_chain(&leaf.der, &inter, &roots, NOW, Role::Outbound),
        Ok(())
    );
    // Without the intermediate there is no path.
    assert!(matches!(
        validate_chain(&leaf.der, &[], &roots, NOW, Role::Outbound),
        Err(ChainError::UnknownIssuer { .. })
    ));
    // Another root is no help.
    let other = Ca::root("Other");
    assert!(matches!(
        validate_chain(
            &leaf.der,
            &inter,
            &anchors(&[&other.der]),
            NOW,
            Role::Outbound
        ),
        Err(ChainError::UnknownIssuer { .. })
    ));
}

#[test]
fn mid_chain_anchor_like_postfix_tafile() {
    let root = Ca::root("Root");
    let sub = root.intermediate("Sub");
    let leaf = sub.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    let tafile = anchors(&[&sub.der]);
    // Validated up to the intermediate: with or without the peer sending it.
    assert_eq!(
        validate_chain(&leaf.der, &[], &tafile, NOW, Role::Outbound),
        Ok(())
    );
    assert_eq!(
        validate_chain(
            &leaf.der,
            std::slice::from_ref(&sub.der),
            &tafile,
            NOW,
            Role::Outbound
        ),
        Ok(())
    );
    // The anchor's own validity is not checked: an expired intermediate still anchors.
    let mut old_params = leaf_valid(&[], (2000, 1, 1), (2001, 1, 1));
    old_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    old_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    old_params.extended_key_usages = Vec::new();
    let old_ca = root.sub_ca(old_params);
    let leaf2 = old_ca.issue(&support::pki::leaf(&["mx.example.net"], "mx.example.net"));
    assert_eq!(
        validate_chain(
            &leaf2.der,
            &[],
            &anchors(&[&old_ca.der]),
            NOW,
            Role::Outbound
        ),
        Ok(())
    );
    // ... but through the root, the expired intermediate fails the chain.
    assert!(matches!(
        validate_chain(
            &leaf2.der,
            std::slice::from_ref(&old_ca.der),
            &anchors(&[&root.der]),
            NOW,
            Role::Outbound
        ),
        Err(ChainError::Expired { .. })
    ));
}

#[test]
fn validity_and_usage_failures() {
    let root = Ca::root("Root");
    let roots = anchors(&[&root.der]);
    let expired = root.issue(&leaf_valid(
        &["old.example.net"],
        (2019, 1, 1),
        (2020, 1, 1),
    ));
    assert_eq!(
        validate_chain(&expired.der, &[], &roots, NOW, Role::Outbound),
        Err(ChainError::Expired {
            now: NOW,
            not_after: Timestamp::from_unix_secs(1_577_836_800)
        })
    );
    let future = root.issue(&leaf_valid(
        &["new.example.net"],
        (2030, 1, 1),
        (2031, 1, 1),
    ));
    assert_eq!(
        validate_chain(&future.der, &[], &roots, NOW, Role::Outbound),
        Err(ChainError::NotYetValid {
            now: NOW,
            not_before: Timestamp::from_unix_secs(1_893_456_000)
        })
    );
    let client_only = root.issue(&leaf_with_eku(
        &["partner.example"],
        "partner.example",
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    ));
    assert_eq!(
        validate_chain(&client_only.der, &[], &roots, NOW, Role::Outbound),
        Err(ChainError::Usage {
            expected: "serverAuth"
        })
    );
    assert_eq!(
        validate_chain(&client_only.der, &[], &roots, NOW, Role::Inbound),
        Ok(())
    );
}

#[test]
fn anchors_from_pem_and_refusals() {
    let root = Ca::root("Root");
    let sub = root.intermediate("Sub");
    let pem = format!("# tafile\n{}{}", pem_of(&root.der), pem_of(&sub.der));
    let set = TrustAnchors::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(
        TrustAnchors::from_pem(b"no certificates here").unwrap_err(),
        ChainError::NoAnchors
    );
    let leaf = root.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    assert_eq!(
        validate_chain(&leaf.der, &[], &TrustAnchors::new(), NOW, Role::Outbound),
        Err(ChainError::NoAnchors)
    );
    assert!(matches!(
        TrustAnchors::from_der([&CertificateDer::from(vec![0x30, 0x00])]),
        Err(ChainError::Anchor { index: 0, .. })
    ));
}

#[cfg(feature = "webpki-roots")]
#[test]
fn public_roots_are_available() {
    assert!(TrustAnchors::webpki_roots().len() > 100);
}

fn pem_of(der: &CertificateDer<'_>) -> String {
    let b64 = mailtls::cert::base64_encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[test]
fn outcomes_map_to_trust_words_and_rfc8460() {
    let root = Ca::root("Root");
    let roots = Arc::new(anchors(&[&root.der]));
    let good = root.issue(&leaf(&["mx.example.net"], "mx.example.net"));
    let expired = root.issue(&leaf_valid(&["mx.example.net"], (2019, 1, 1), (2020, 1, 1)));
    let stranger = self_signed(&["mx.example.net"], "mx.example.net");
    let mx = HostId::Dns(DnsName::parse("mx.example.net").unwrap());
    let chain_and_name = |references: Vec<NamePattern>| CertificateCheck::ChainAndName {
        anchors: roots.clone(),
        dialect: Dialect::Rfc9525,
        references,
    };
    let other = vec![NamePattern::parse("other.example.net", Dialect::Rfc9525).unwrap()];
    // (requirement, certificate, trust, result type)
    let cases: Vec<(
        CertificateCheck,
        &CertificateDer<'static>,
        TrustLevel,
        Option<ResultType>,
    )> = vec![
        (
            CertificateCheck::EncryptOnly,
            &stranger.der,
            TrustLevel::Untrusted,
            None,
        ),
        // `may`/`encrypt`: the chain is checked for the record only; never an error.
        (
            CertificateCheck::EncryptOnlyNotingTrust {
                anchors: roots.clone(),
            },
            &good.der,
            TrustLevel::Trusted,
            None,
        ),
        (
            CertificateCheck::EncryptOnlyNotingTrust {
                anchors: roots.clone(),
            },
            &expired.der,
            TrustLevel::Untrusted,
            None,
        ),
        (
            CertificateCheck::EncryptOnlyNotingTrust {
                anchors: roots.clone(),
            },
            &stranger.der,
            TrustLevel::Untrusted,
            None,
        ),
        (
            CertificateCheck::EncryptOnlyNotingTrust {
                anchors: Default::default(),
            },
            &good.der,
            TrustLevel::Untrusted,
            None,
        ),
        (
            CertificateCheck::Chain {
                anchors: roots.clone(),
            },
            &good.der,
            TrustLevel::Trusted,
            None,
        ),
        (
            chain_and_name(vec![]),
            &good.der,
            TrustLevel::Verified,
            None,
        ),
        (
            chain_and_name(other),
            &good.der,
            // Postfix 3: a name asked for and not matched is Untrusted (OpenSSL's num=62).
            TrustLevel::Untrusted,
            Some(ResultType::CertificateHostMismatch),
        ),
        (
            chain_and_name(vec![]),
            &expired.der,
            TrustLevel::Untrusted,
            Some(ResultType::CertificateExpired),
        ),
        (
            chain_and_name(vec![]),
            &stranger.der,
            TrustLevel::Untrusted,
            Some(ResultType::CertificateNotTrusted),
        ),
        (
            CertificateCheck::Pins(vec![Pin::certificate(
                &mailtls::cert::CertFacts::from_der(&stranger.der)
                    .unwrap()
                    .fingerprints
                    .sha256_hex(),
            )
            .unwrap()]),
            &stranger.der,
            TrustLevel::Verified,
            None,
        ),
        (
            CertificateCheck::Pins(vec![Pin::certificate(&"00".repeat(32)).unwrap()]),
            &stranger.der,
            TrustLevel::Untrusted,
            Some(ResultType::CertificateNotTrusted),
        ),
        (
            CertificateCheck::Partner {
                anchors: Some(roots.clone()),
                partner: PartnerRequirement::new(Role::Outbound, Dialect::Rfc9525).with_names([
                    NamePattern::parse("nope.example.net", Dialect::Rfc9525).unwrap(),
                ]),
            },
            &good.der,
            TrustLevel::Trusted,
            Some(ResultType::CertificateHostMismatch),
        ),
    ];
    for (i, (requirement, cert, trust, result)) in cases.into_iter().enumerate() {
        let outcome = evaluate(&requirement, Role::Outbound, cert, &[], Some(&mx), NOW);
        assert_eq!(outcome.trust, trust, "case {i}: {outcome:?}");
        assert_eq!(outcome.result_type(), result, "case {i}: {outcome:?}");
        // An outbound encrypt-only check reads nothing from the certificate (facts on
        // demand); every other check reads the facts it judges.
        let reads = !matches!(requirement, CertificateCheck::EncryptOnly);
        assert_eq!(outcome.facts.is_some(), reads, "case {i}");
    }
    let garbage = evaluate(
        &CertificateCheck::EncryptOnly,
        Role::Inbound,
        &CertificateDer::from(vec![1, 2, 3]),
        &[],
        None,
        NOW,
    );
    assert!(matches!(garbage.error, Some(VerifyError::Facts(_))));
    assert_eq!(garbage.result_type(), Some(ResultType::ValidationFailure));
}
