//! Certificate facts extraction and name matching, per certificate and per match.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mailtls::cert::{validate_chain, CertFacts, PartnerRequirement, Role, TrustAnchors};
use mailtls::names::{match_presented, Dialect, DnsName, NamePattern};
use mailtls::Timestamp;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);

fn certificates() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "Bench Root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
    let issuer = Issuer::new(ca, ca_key);
    let sans: Vec<String> = (0..20)
        .map(|i| format!("mx{i}.example.net"))
        .chain(["*.example.net".to_owned(), "192.0.2.25".to_owned()])
        .collect();
    let mut leaf = CertificateParams::new(sans).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "mx0.example.net");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_der = leaf.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
    let rsa_key = KeyPair::from_pem(include_str!("../tests/data/key_rsa2048.pem")).unwrap();
    let one = CertificateParams::new(vec!["mx.example.net".to_owned()]).unwrap();
    let rsa_der = one.signed_by(&rsa_key, &issuer).unwrap().der().to_vec();
    (ca_der, leaf_der, rsa_der)
}

fn bench(c: &mut Criterion) {
    let (ca_der, leaf_der, rsa_der) = certificates();
    let mut group = c.benchmark_group("cert");
    group.bench_function("facts/ec_22_sans", |b| {
        b.iter(|| CertFacts::from_der(black_box(&leaf_der)).unwrap())
    });
    group.bench_function("facts/rsa_1_san", |b| {
        b.iter(|| CertFacts::from_der(black_box(&rsa_der)).unwrap())
    });
    let facts = CertFacts::from_der(&leaf_der).unwrap();
    let partner = PartnerRequirement::new(Role::Outbound, Dialect::PostfixCertificate)
        .with_names([NamePattern::parse("a.b.example.net", Dialect::PostfixCertificate).unwrap()]);
    group.bench_function("partner/check_all_rules", |b| {
        b.iter(|| partner.check(&leaf_der, black_box(&facts), NOW).unwrap())
    });
    let anchors =
        TrustAnchors::from_der([&rustls_pki_types::CertificateDer::from(ca_der)]).unwrap();
    let leaf = rustls_pki_types::CertificateDer::from(leaf_der.clone());
    group.bench_function("chain/validate_one_level", |b| {
        b.iter(|| validate_chain(black_box(&leaf), &[], &anchors, NOW, Role::Outbound).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("names");
    group.bench_function("parse/dns_name", |b| {
        b.iter(|| DnsName::parse(black_box("MX1.Mail.Example.NET.")).unwrap())
    });
    group.bench_function("parse/idn_name", |b| {
        b.iter(|| DnsName::parse(black_box("mx.bücher.example")).unwrap())
    });
    let pattern = NamePattern::parse("*.example.net", Dialect::MtaStsMx).unwrap();
    let name = DnsName::parse("mx7.example.net").unwrap();
    group.bench_function("match/pattern_vs_name", |b| {
        b.iter(|| black_box(&pattern).matches(black_box(&name)))
    });
    let refs = [NamePattern::parse("mx19.example.net", Dialect::Rfc9525).unwrap()];
    group.bench_function("match/cert_22_sans_last_hit", |b| {
        b.iter(|| {
            match_presented(
                Dialect::Rfc9525,
                black_box(&refs),
                &facts.dns_names,
                &facts.common_names,
            )
            .unwrap()
        })
    });
    let miss = [NamePattern::parse("other.example.org", Dialect::Rfc9525).unwrap()];
    group.bench_function("match/cert_22_sans_miss", |b| {
        b.iter(|| {
            match_presented(
                Dialect::Rfc9525,
                black_box(&miss),
                &facts.dns_names,
                &facts.common_names,
            )
            .unwrap_err()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
