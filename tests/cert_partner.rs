//! Every partner rule, passing and failing; each failure names its rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use mailtls::cert::{
    base64_encode, CertFacts, DistinguishedName, ExchangeCertName, ExtendedKeyUsage, KeyStrength,
    PartnerError, PartnerRequirement, PartnerRule, Pin, PinDigest, PinTarget, PublicKeyAlgorithm,
    Role,
};
use mailtls::names::{Dialect, NamePattern};
use mailtls::Timestamp;
use rcgen::ExtendedKeyUsagePurpose;
use support::fixtures::{RSA1024_DER, SHA1_DER};
use support::pki::*;
use support::NOW;

/// A presented certificate: its DER and the facts read from it.
struct Cert {
    der: Vec<u8>,
    facts: CertFacts,
}

impl core::ops::Deref for Cert {
    type Target = CertFacts;
    fn deref(&self) -> &CertFacts {
        &self.facts
    }
}

fn facts(der: &[u8]) -> Cert {
    Cert {
        der: der.to_vec(),
        facts: CertFacts::from_der(der).unwrap(),
    }
}

fn base(role: Role) -> PartnerRequirement {
    PartnerRequirement::new(role, Dialect::ExchangeConnector)
}

/// Asserts `result` failed on `rule` and that its message names the rule.
fn assert_rule(result: Result<(), PartnerError>, rule: PartnerRule, word: &str) -> PartnerError {
    let err = result.unwrap_err();
    assert_eq!(err.rule(), rule, "{err}");
    assert!(
        err.to_string().starts_with(&format!("rule {word}")),
        "{err}"
    );
    err
}

struct Fixture {
    root: Ca,
    good: Cert,
}

fn fixture() -> Fixture {
    let root = Ca::root("Partner CA");
    let good = facts(
        &root
            .issue(&leaf(&["mail.contoso.com"], "mail.contoso.com"))
            .der,
    );
    Fixture { root, good }
}

#[test]
fn names_rule() {
    let f = fixture();
    let pass = base(Role::Inbound).with_names([NamePattern::parse(
        "*.contoso.com",
        Dialect::ExchangeConnector,
    )
    .unwrap()]);
    assert_eq!(pass.check(&f.good.der, &f.good, NOW), Ok(()));
    let fail = base(Role::Inbound).with_names([NamePattern::parse(
        "*.fabrikam.com",
        Dialect::ExchangeConnector,
    )
    .unwrap()]);
    let err = assert_rule(
        fail.check(&f.good.der, &f.good, NOW),
        PartnerRule::Names,
        "names",
    );
    let PartnerError::Names(mismatch) = err else {
        panic!("{err:?}")
    };
    assert_eq!(mismatch.expected, ["*.fabrikam.com"]);
    assert_eq!(
        mismatch.presented,
        ["mail.contoso.com", "CN=mail.contoso.com"]
    );
}

#[test]
fn subject_and_issuer_rules() {
    let f = fixture();
    let subject = DistinguishedName::parse("CN=MAIL.contoso.com").unwrap();
    let issuer = DistinguishedName::parse("CN=Partner CA, O=Mailtls Test").unwrap();
    let pass = base(Role::Inbound)
        .with_subject(subject.clone())
        .with_issuer(issuer.clone());
    assert_eq!(pass.check(&f.good.der, &f.good, NOW), Ok(()));

    let wrong_subject =
        base(Role::Inbound).with_subject(DistinguishedName::parse("CN=mail.fabrikam.com").unwrap());
    let err = assert_rule(
        wrong_subject.check(&f.good.der, &f.good, NOW),
        PartnerRule::Subject,
        "subject",
    );
    assert_eq!(
        err,
        PartnerError::Subject {
            expected: "CN=mail.fabrikam.com".into(),
            presented: "CN=mail.contoso.com".into()
        }
    );
    let wrong_issuer = base(Role::Inbound)
        .with_issuer(DistinguishedName::parse("CN=Other CA,O=Mailtls Test").unwrap());
    let err = assert_rule(
        wrong_issuer.check(&f.good.der, &f.good, NOW),
        PartnerRule::Issuer,
        "issuer",
    );
    assert_eq!(
        err,
        PartnerError::Issuer {
            expected: "CN=Other CA,O=Mailtls Test".into(),
            presented: "O=Mailtls Test,CN=Partner CA".into()
        }
    );
}

#[test]
fn exchange_certificate_name_rule() {
    let f = fixture();
    let pass = base(Role::Inbound).with_exchange_name(
        ExchangeCertName::parse("<I>CN=Partner CA, O=Mailtls Test<S>CN=mail.contoso.com").unwrap(),
    );
    assert_eq!(pass.check(&f.good.der, &f.good, NOW), Ok(()));
    let fail = base(Role::Inbound).with_exchange_name(
        ExchangeCertName::parse("<I>CN=Other CA<S>CN=mail.contoso.com").unwrap(),
    );
    let err = assert_rule(
        fail.check(&f.good.der, &f.good, NOW),
        PartnerRule::ExchangeName,
        "exchange-name",
    );
    assert!(err
        .to_string()
        .contains("<I>O=Mailtls Test,CN=Partner CA<S>CN=mail.contoso.com"));
}

#[test]
fn pin_rule_any_of() {
    let f = fixture();
    let cert_pin = Pin::certificate(&f.good.fingerprints.sha256_hex()).unwrap();
    let key_pin = Pin::public_key(&f.good.fingerprints.spki_sha256_base64()).unwrap();
    let other = Pin::certificate(&"AB".repeat(32)).unwrap();
    // SHA-512 digests are computed from the DER only for the pin that needs them.
    let sha512 =
        |data: &[u8]| base64_encode(ring::digest::digest(&ring::digest::SHA512, data).as_ref());
    let cert_pin512 = Pin::certificate(&sha512(&f.good.der)).unwrap();
    let spki = x509_parser::parse_x509_certificate(&f.good.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let key_pin512 = Pin::public_key(&format!("sha512/{}", sha512(&spki))).unwrap();
    assert_eq!(key_pin512.digest(), PinDigest::Sha512);
    for pins in [
        vec![other.clone(), cert_pin],
        vec![key_pin, other.clone()],
        vec![other.clone(), cert_pin512.clone()],
        vec![key_pin512.clone()],
    ] {
        assert_eq!(
            base(Role::Inbound)
                .with_pins(pins)
                .check(&f.good.der, &f.good, NOW),
            Ok(())
        );
    }
    let err = assert_rule(
        base(Role::Inbound)
            .with_pins([other])
            .check(&f.good.der, &f.good, NOW),
        PartnerRule::Pin,
        "pin",
    );
    let PartnerError::Pin {
        presented_certificate,
        ..
    } = err
    else {
        panic!()
    };
    assert_eq!(presented_certificate, f.good.fingerprints.sha256_hex());
    // A SHA-512 pin aimed at the wrong target does not match.
    let crossed = Pin::new(
        PinTarget::PublicKey,
        PinDigest::Sha512,
        cert_pin512.value().to_vec(),
    );
    assert_rule(
        base(Role::Inbound)
            .with_pins([crossed.unwrap()])
            .check(&f.good.der, &f.good, NOW),
        PartnerRule::Pin,
        "pin",
    );
}

#[test]
fn key_strength_rule() {
    let f = fixture();
    // EC P-256 passes the default; RSA-2048 passes; the RSA-1024 fixture fails.
    assert_eq!(
        base(Role::Outbound).check(&f.good.der, &f.good, NOW),
        Ok(())
    );
    let rsa = facts(&f.root.issue_rsa(&leaf(&["rsa.contoso.com"], "rsa")).der);
    assert_eq!(base(Role::Outbound).check(&rsa.der, &rsa, NOW), Ok(()));
    let weak = facts(RSA1024_DER);
    let err = assert_rule(
        base(Role::Outbound).check(&weak.der, &weak, NOW),
        PartnerRule::KeyStrength,
        "key-strength",
    );
    assert_eq!(
        err,
        PartnerError::KeyStrength {
            expected: KeyStrength::default(),
            presented: PublicKeyAlgorithm::Rsa { bits: 1024 }
        }
    );
    assert_eq!(
        err.to_string(),
        "rule key-strength: expected RSA >= 2048 bits or EC >= 256 bits, presented RSA 1024 bits"
    );
    let strict = base(Role::Outbound).with_min_key(KeyStrength {
        rsa_bits: 3072,
        ec_bits: 384,
    });
    assert_rule(
        strict.check(&f.good.der, &f.good, NOW),
        PartnerRule::KeyStrength,
        "key-strength",
    );
    assert_rule(
        strict.check(&rsa.der, &rsa, NOW),
        PartnerRule::KeyStrength,
        "key-strength",
    );
}

#[test]
fn sha1_signature_rule() {
    let sha1 = facts(SHA1_DER);
    let err = assert_rule(
        base(Role::Outbound).check(&sha1.der, &sha1, NOW),
        PartnerRule::Signature,
        "signature",
    );
    assert_eq!(
        err,
        PartnerError::Signature {
            presented: "ecdsa-with-SHA1".into()
        }
    );
    let mut lenient = base(Role::Outbound);
    lenient.danger_allow_weak_signatures = true;
    assert_eq!(lenient.check(&sha1.der, &sha1, NOW), Ok(()));
}

#[test]
fn validity_rule_at_injected_now() {
    let f = fixture();
    let expired = facts(
        &f.root
            .issue(&leaf_valid(&["a.contoso.com"], (2019, 1, 1), (2020, 1, 1)))
            .der,
    );
    let future = facts(
        &f.root
            .issue(&leaf_valid(&["a.contoso.com"], (2030, 1, 1), (2031, 1, 1)))
            .der,
    );
    assert_rule(
        base(Role::Inbound).check(&expired.der, &expired, NOW),
        PartnerRule::Validity,
        "validity",
    );
    assert_eq!(
        base(Role::Inbound).check(&future.der, &future, NOW),
        Err(PartnerError::NotYetValid {
            now: NOW,
            not_before: Timestamp::from_unix_secs(1_893_456_000)
        })
    );
    // The same certificates pass at a time inside their periods.
    assert_eq!(
        base(Role::Inbound).check(
            &expired.der,
            &expired,
            Timestamp::from_unix_secs(1_560_000_000)
        ),
        Ok(())
    );
    assert_eq!(
        base(Role::Inbound).check(
            &future.der,
            &future,
            Timestamp::from_unix_secs(1_900_000_000)
        ),
        Ok(())
    );
    let mut no_dates = base(Role::Inbound);
    no_dates.check_validity = false;
    assert_eq!(no_dates.check(&expired.der, &expired, NOW), Ok(()));
}

#[test]
fn usage_rule_per_role() {
    let f = fixture();
    let server_only = facts(
        &f.root
            .issue(&leaf_with_eku(
                &["mx.contoso.com"],
                "mx.contoso.com",
                vec![ExtendedKeyUsagePurpose::ServerAuth],
            ))
            .der,
    );
    assert_eq!(
        base(Role::Outbound).check(&server_only.der, &server_only, NOW),
        Ok(())
    );
    let err = assert_rule(
        base(Role::Inbound).check(&server_only.der, &server_only, NOW),
        PartnerRule::Usage,
        "usage",
    );
    assert_eq!(
        err,
        PartnerError::Usage {
            expected: ExtendedKeyUsage::ClientAuth,
            presented: vec![ExtendedKeyUsage::ServerAuth]
        }
    );
    assert_eq!(
        err.to_string(),
        "rule usage: expected clientAuth, presented [serverAuth]"
    );
}
