//! DANE matching against real certificate chains made with rcgen: every usage × selector ×
//! matching type, the name and expiry rules, digest agility and the unusable usages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::policy::dane::{
    verify_chain, CertUsage, DaneVerifyError, MatchingType, Selector, TlsaRecord, TlsaSet,
};
use mailtls::report::ResultType;
use mailtls::Timestamp;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PublicKeyData,
};
use ring::digest;
use rustls_pki_types::CertificateDer;

/// 2030-01-01: inside every validity period below except the expired leaf's.
const NOW: Timestamp = Timestamp::from_unix_secs(1_893_456_000);

struct Pki {
    root: CertificateDer<'static>,
    root_spki: Vec<u8>,
    intermediate: CertificateDer<'static>,
    intermediate_spki: Vec<u8>,
    leaf: CertificateDer<'static>,
    leaf_spki: Vec<u8>,
    expired_leaf: CertificateDer<'static>,
    other_leaf: CertificateDer<'static>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2040, 1, 1);
    p
}

fn leaf_params(names: &[&str], not_after: (i32, u8, u8)) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "leaf");
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
    p
}

fn pki() -> Pki {
    let root_key = KeyPair::generate().unwrap();
    let root_spki = root_key.subject_public_key_info();
    let root = CertifiedIssuer::self_signed(ca_params("Test Root"), root_key).unwrap();
    let int_key = KeyPair::generate().unwrap();
    let intermediate_spki = int_key.subject_public_key_info();
    let intermediate =
        CertifiedIssuer::signed_by(ca_params("Test Intermediate"), int_key, &root).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_spki = leaf_key.subject_public_key_info();
    let leaf = leaf_params(&["mx.example.net"], (2035, 1, 1))
        .signed_by(&leaf_key, &intermediate)
        .unwrap();
    let expired_leaf = leaf_params(&["mx.example.net"], (2021, 1, 1))
        .signed_by(&leaf_key, &intermediate)
        .unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other_leaf = leaf_params(&["mx.example.net"], (2035, 1, 1))
        .self_signed(&other_key)
        .unwrap();
    Pki {
        root: root.der().clone(),
        root_spki,
        intermediate: intermediate.der().clone(),
        intermediate_spki,
        leaf: leaf.der().clone(),
        leaf_spki,
        expired_leaf: expired_leaf.der().clone(),
        other_leaf: other_leaf.der().clone(),
    }
}

/// The association data for (selector, matching type), computed from the certificate DER or
/// the key pair's SPKI as rcgen produced them (independent of the crate's own selection).
fn data(cert: &[u8], spki: &[u8], selector: u8, mtype: u8) -> Vec<u8> {
    let content = if selector == 0 { cert } else { spki };
    match mtype {
        0 => content.to_vec(),
        1 => digest::digest(&digest::SHA256, content).as_ref().to_vec(),
        2 => digest::digest(&digest::SHA512, content).as_ref().to_vec(),
        _ => unreachable!(),
    }
}

fn set(records: Vec<TlsaRecord>) -> TlsaSet {
    let set = TlsaSet::from_records(records);
    assert!(set.unusable().is_empty(), "{:?}", set.unusable());
    set
}

const REFS: &[&str] = &["mx.example.net", "example.com"];

#[test]
fn dane_ee_every_selector_and_matching_type() {
    let p = pki();
    for selector in 0..=1 {
        for mtype in 0..=2 {
            let rec = TlsaRecord::from_parts(
                3,
                selector,
                mtype,
                data(&p.leaf, &p.leaf_spki, selector, mtype),
            );
            let tlsa = set(vec![rec.clone()]);
            let m = verify_chain(
                &tlsa,
                &p.leaf,
                core::slice::from_ref(&p.intermediate),
                REFS,
                NOW,
            )
            .unwrap_or_else(|e| panic!("3 {selector} {mtype}: {e}"));
            assert_eq!(m.record, rec);
            assert_eq!(m.depth, Some(0));
            assert_eq!(m.matched_name, None);
            // A different key never matches.
            let err = verify_chain(&tlsa, &p.other_leaf, &[], REFS, NOW).unwrap_err();
            assert_eq!(
                err,
                DaneVerifyError::NoMatch {
                    records: 1,
                    presented: 1
                }
            );
            assert_eq!(err.result_type(), ResultType::TlsaInvalid);
        }
    }
}

#[test]
fn dane_ee_ignores_names_and_expiry() {
    let p = pki();
    let tlsa = set(vec![TlsaRecord::from_parts(
        3,
        1,
        1,
        data(&p.leaf, &p.leaf_spki, 1, 1),
    )]);
    // Wrong reference identifiers, expired leaf, no chain: still a match.
    assert!(verify_chain(&tlsa, &p.expired_leaf, &[], &["other.example"], NOW).is_ok());
    assert!(verify_chain(&tlsa, &p.leaf, &[], &[], NOW).is_ok());
}

#[test]
fn dane_ta_every_selector_and_matching_type_on_a_presented_anchor() {
    let p = pki();
    for selector in 0..=1 {
        for mtype in 0..=2 {
            let rec = TlsaRecord::from_parts(
                2,
                selector,
                mtype,
                data(&p.intermediate, &p.intermediate_spki, selector, mtype),
            );
            let tlsa = set(vec![rec.clone()]);
            let m = verify_chain(
                &tlsa,
                &p.leaf,
                core::slice::from_ref(&p.intermediate),
                REFS,
                NOW,
            )
            .unwrap_or_else(|e| panic!("2 {selector} {mtype}: {e}"));
            assert_eq!((m.record, m.depth), (rec, Some(1)));
            assert_eq!(m.matched_name.as_deref(), Some("mx.example.net"));
            // The anchor must be presented when the record holds only a digest or the full
            // data: without the intermediate there is nothing to match.
            if mtype != 0 {
                let err = verify_chain(&tlsa, &p.leaf, &[], REFS, NOW).unwrap_err();
                assert_eq!(err.result_type(), ResultType::TlsaInvalid, "{err}");
            }
        }
    }
}

#[test]
fn dane_ta_full_record_need_not_be_presented() {
    let p = pki();
    // The root is never presented: a digest of it cannot be matched, the full cert or SPKI can.
    for (selector, mtype, ok) in [(0, 0, true), (1, 0, true), (0, 1, false), (1, 2, false)] {
        let tlsa = set(vec![TlsaRecord::from_parts(
            2,
            selector,
            mtype,
            data(&p.root, &p.root_spki, selector, mtype),
        )]);
        let got = verify_chain(
            &tlsa,
            &p.leaf,
            core::slice::from_ref(&p.intermediate),
            REFS,
            NOW,
        );
        assert_eq!(got.is_ok(), ok, "2 {selector} {mtype}: {got:?}");
        if let Ok(m) = got {
            assert_eq!(m.depth, None);
        }
    }
}

#[test]
fn dane_ta_checks_the_name_against_the_reference_identifiers() {
    let p = pki();
    let tlsa = set(vec![TlsaRecord::from_parts(
        2,
        1,
        1,
        data(&p.intermediate, &p.intermediate_spki, 1, 1),
    )]);
    let chain = [p.intermediate.clone()];
    let err = verify_chain(
        &tlsa,
        &p.leaf,
        &chain,
        &["example.com", "mx.example.org"],
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        DaneVerifyError::NameMismatch {
            expected: vec!["example.com".into(), "mx.example.org".into()]
        }
    );
    assert_eq!(err.result_type(), ResultType::CertificateHostMismatch);
    // Any one reference identifier is enough: the next-hop domain is not in the SAN, the TLSA
    // base domain is.
    let m = verify_chain(
        &tlsa,
        &p.leaf,
        &chain,
        &["example.com", "mx.example.net"],
        NOW,
    )
    .unwrap();
    assert_eq!(m.matched_name.as_deref(), Some("mx.example.net"));
}

#[test]
fn dane_ta_checks_the_leaf_dates() {
    let p = pki();
    let tlsa = set(vec![TlsaRecord::from_parts(
        2,
        0,
        1,
        data(&p.intermediate, &p.intermediate_spki, 0, 1),
    )]);
    let err = verify_chain(
        &tlsa,
        &p.expired_leaf,
        core::slice::from_ref(&p.intermediate),
        REFS,
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DaneVerifyError::Chain(mailtls::cert::ChainError::Expired { .. })
        ),
        "{err}"
    );
    assert_eq!(err.result_type(), ResultType::CertificateExpired);
}

#[test]
fn dane_ta_anchor_dates_are_ignored_but_the_chain_below_it_is_checked() {
    // root (valid) -> intermediate (expired in 2021) -> leaf (valid until 2035).
    let root_key = KeyPair::generate().unwrap();
    let root_spki = root_key.subject_public_key_info();
    let root = CertifiedIssuer::self_signed(ca_params("Root"), root_key).unwrap();
    let int_key = KeyPair::generate().unwrap();
    let int_spki = int_key.subject_public_key_info();
    let mut int_params = ca_params("Expired Intermediate");
    int_params.not_after = date_time_ymd(2021, 1, 1);
    let intermediate = CertifiedIssuer::signed_by(int_params, int_key, &root).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params(&["mx.example.net"], (2035, 1, 1))
        .signed_by(&leaf_key, &intermediate)
        .unwrap();
    let chain = [intermediate.der().clone()];
    // The expired intermediate is the anchor: its dates do not count.
    let on_intermediate = set(vec![TlsaRecord::from_parts(
        2,
        1,
        1,
        data(intermediate.der(), &int_spki, 1, 1),
    )]);
    assert!(verify_chain(&on_intermediate, leaf.der(), &chain, REFS, NOW).is_ok());
    // The root is the anchor: the expired intermediate sits inside the chain and fails it.
    let on_root = set(vec![TlsaRecord::from_parts(
        2,
        1,
        0,
        data(root.der(), &root_spki, 1, 0),
    )]);
    let err = verify_chain(&on_root, leaf.der(), &chain, REFS, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            DaneVerifyError::Chain(mailtls::cert::ChainError::Expired { .. })
        ),
        "{err}"
    );
}

#[test]
fn dane_ta_record_matching_the_leaf_is_not_an_anchor() {
    let p = pki();
    let tlsa = set(vec![TlsaRecord::from_parts(
        2,
        1,
        1,
        data(&p.leaf, &p.leaf_spki, 1, 1),
    )]);
    let err = verify_chain(
        &tlsa,
        &p.leaf,
        core::slice::from_ref(&p.intermediate),
        REFS,
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        DaneVerifyError::NoMatch {
            records: 1,
            presented: 2
        }
    );
}

#[test]
fn pkix_usages_are_unusable_even_when_they_match() {
    let p = pki();
    for usage in [0u8, 1] {
        let tlsa = TlsaSet::from_records([TlsaRecord::from_parts(
            usage,
            1,
            1,
            data(&p.leaf, &p.leaf_spki, 1, 1),
        )]);
        assert!(!tlsa.has_usable());
        assert_eq!(
            verify_chain(&tlsa, &p.leaf, &[], REFS, NOW),
            Err(DaneVerifyError::NoUsableRecords)
        );
    }
}

#[test]
fn digest_agility_ignores_a_matching_weaker_digest() {
    let p = pki();
    let good256 = TlsaRecord::from_parts(3, 1, 1, data(&p.leaf, &p.leaf_spki, 1, 1));
    let stale512 = TlsaRecord::from_parts(3, 1, 2, vec![0x11; 64]);
    let tlsa = TlsaSet::from_records([good256.clone(), stale512]);
    assert_eq!(tlsa.usable().len(), 1);
    assert_eq!(tlsa.usable()[0].matching_type, MatchingType::Sha512);
    assert!(verify_chain(&tlsa, &p.leaf, &[], REFS, NOW).is_err());
    // Without the stronger record the SHA2-256 one is used and matches.
    assert!(verify_chain(&TlsaSet::from_records([good256]), &p.leaf, &[], REFS, NOW).is_ok());
}

#[test]
fn presentation_and_rdata_of_computed_vectors_agree() {
    let p = pki();
    for usage in [2u8, 3] {
        for selector in 0..=1u8 {
            for mtype in 0..=2u8 {
                let rec = TlsaRecord::from_parts(
                    usage,
                    selector,
                    mtype,
                    data(&p.leaf, &p.leaf_spki, selector, mtype),
                );
                // Zone files split long hex across lines and use either case.
                let text = rec.to_string();
                let (params, hex) = text.rsplit_once(' ').unwrap();
                let split: String = hex
                    .as_bytes()
                    .chunks(56)
                    .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
                    .collect::<Vec<_>>()
                    .join("\n\t");
                let parsed = TlsaRecord::parse_presentation(
                    &format!("{params} ( {split} )").replace(['(', ')'], " "),
                )
                .unwrap();
                assert_eq!(parsed, rec);
                assert_eq!(TlsaRecord::from_rdata(&rec.to_rdata()).unwrap(), rec);
                assert_eq!(
                    rec.usage,
                    if usage == 2 {
                        CertUsage::DaneTa
                    } else {
                        CertUsage::DaneEe
                    }
                );
                assert_eq!(
                    rec.selector,
                    if selector == 0 {
                        Selector::Cert
                    } else {
                        Selector::Spki
                    }
                );
            }
        }
    }
}

mod hook {
    use super::*;
    use mailtls::cert::{evaluate, CertificateCheck, Role, TrustLevel};
    use mailtls::names::{DnsName, HostId};
    use mailtls::policy::dane::TlsaCheck;
    use std::sync::Arc;

    fn run(
        records: Vec<TlsaRecord>,
        leaf: &CertificateDer<'_>,
        chain: &[CertificateDer<'_>],
        refs: &[&str],
    ) -> mailtls::cert::Outcome {
        let check = TlsaCheck::new(
            TlsaSet::from_records(records),
            refs.iter().map(|s| (*s).to_owned()).collect(),
        );
        let host = HostId::Dns(DnsName::parse("mx.example.net").unwrap());
        evaluate(
            &CertificateCheck::Dane(Arc::new(check)),
            Role::Outbound,
            leaf,
            chain,
            Some(&host),
            NOW,
        )
    }

    #[test]
    fn the_certificate_verifier_calls_the_tlsa_match() {
        let p = pki();
        let chain = [p.intermediate.clone()];
        let ee = TlsaRecord::from_parts(3, 1, 1, data(&p.leaf, &p.leaf_spki, 1, 1));
        let out = run(vec![ee.clone()], &p.expired_leaf, &[], &[]);
        assert!(out.is_verified(), "{:?}", out.error);
        assert_eq!(out.trust, TrustLevel::Verified);

        // DANE-TA on the presented intermediate, on the root by full cert, and on the root
        // by bare key: the verifier re-validates the chain and the names itself.
        let ta_records = [
            TlsaRecord::from_parts(2, 0, 1, data(&p.intermediate, &p.intermediate_spki, 0, 1)),
            TlsaRecord::from_parts(2, 0, 0, data(&p.root, &p.root_spki, 0, 0)),
            TlsaRecord::from_parts(2, 1, 0, data(&p.root, &p.root_spki, 1, 0)),
        ];
        for rec in ta_records {
            let out = run(vec![rec.clone()], &p.leaf, &chain, REFS);
            assert!(out.is_verified(), "{rec}: {:?}", out.error);
            let out = run(vec![rec.clone()], &p.leaf, &chain, &["other.example"]);
            assert_eq!(
                out.result_type(),
                Some(ResultType::CertificateHostMismatch),
                "{rec}"
            );
        }

        let other = TlsaRecord::from_parts(3, 1, 1, vec![0x42; 32]);
        let out = run(vec![other], &p.leaf, &chain, REFS);
        assert_eq!(out.result_type(), Some(ResultType::TlsaInvalid));
    }
}

/// A leaf with a subject CN and no DNS subjectAltName, issued by the intermediate.
fn cn_only_leaf(cn: &str, issuer: &CertifiedIssuer<'_, KeyPair>) -> CertificateDer<'static> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2035, 1, 1);
    params
        .signed_by(&KeyPair::generate().unwrap(), issuer)
        .unwrap()
        .der()
        .clone()
}

/// RFC 7672 §3.2.3 (and Postfix and OpenSSL's DANE name checks): with no DNS-ID in the
/// subjectAltName, the subject CN is matched against the reference identifiers; next to a
/// DNS-ID it is not.
#[test]
fn dane_ta_uses_the_common_name_when_no_dns_id_is_present() {
    let root_key = KeyPair::generate().unwrap();
    let root_spki = root_key.subject_public_key_info();
    let root = CertifiedIssuer::self_signed(ca_params("CN Root"), root_key).unwrap();
    let tlsa = set(vec![TlsaRecord::from_parts(
        2,
        1,
        1,
        data(root.der(), &root_spki, 1, 1),
    )]);
    let chain = [root.der().clone()];
    let leaf = cn_only_leaf("mx.example.net", &root);
    let m = verify_chain(&tlsa, &leaf, &chain, REFS, NOW).unwrap();
    assert_eq!(m.matched_name.as_deref(), Some("mx.example.net"));
    let other = cn_only_leaf("other.example.org", &root);
    assert!(matches!(
        verify_chain(&tlsa, &other, &chain, REFS, NOW),
        Err(DaneVerifyError::NameMismatch { .. })
    ));
    // A CN next to a DNS-ID is not consulted: the SAN decides.
    let key = KeyPair::generate().unwrap();
    let mut params = leaf_params(&["other.example.org"], (2035, 1, 1));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "mx.example.net");
    let san_leaf = params.signed_by(&key, &root).unwrap().der().clone();
    assert!(matches!(
        verify_chain(&tlsa, &san_leaf, &chain, REFS, NOW),
        Err(DaneVerifyError::NameMismatch { .. })
    ));
}

/// OpenSSL `test/danetest.in`, case "DANE-TA(2) SPKI(1) Full(0)" with no intermediate: the
/// record is the bare public key that signed the leaf, and the server sends the leaf alone.
#[test]
fn dane_ta_bare_key_that_signed_the_leaf_directly() {
    let ca_key = KeyPair::generate().unwrap();
    let ca_spki = ca_key.subject_public_key_info();
    let ca = CertifiedIssuer::self_signed(ca_params("Bare Key CA"), ca_key).unwrap();
    let leaf = leaf_params(&["mx.example.net"], (2035, 1, 1))
        .signed_by(&KeyPair::generate().unwrap(), &ca)
        .unwrap()
        .der()
        .clone();
    let tlsa = set(vec![TlsaRecord::from_parts(2, 1, 0, ca_spki.clone())]);
    let m = verify_chain(&tlsa, &leaf, &[], REFS, NOW).unwrap();
    assert_eq!(m.record.usage, CertUsage::DaneTa);
    assert_eq!(m.matched_name.as_deref(), Some("mx.example.net"));
    // The same key that did not sign it: no match.
    let other = pki();
    assert!(verify_chain(&tlsa, &other.other_leaf, &[], REFS, NOW).is_err());
}
