//! Planning cost: a destination against a 100,000-entry Postfix policy table (exact keys and
//! `.parent` recursion) and against 1,000 connectors, outbound and inbound. Goal: under 1 µs
//! per decision.
//!
//! Run: `cargo bench --bench policy -- --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mailtls::policy::connector::Connectors;
use mailtls::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundFacts, InboundTls, Verification,
};
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, OutboundPolicy};

fn table_text(entries: usize) -> String {
    let mut text = String::with_capacity(entries * 48);
    for i in 0..entries / 2 {
        writeln!(text, "host{i}.zone{}.example verify", i % 500).unwrap();
        writeln!(
            text,
            ".zone{i}.net secure match=nexthop:dot-nexthop protocols=>=TLSv1.2"
        )
        .unwrap();
    }
    text
}

fn connectors_text(count: usize) -> String {
    let settings = [
        "",
        "encryption_only",
        "certificate_validation",
        "domain_validation",
    ];
    let mut text = String::new();
    for i in 0..count {
        writeln!(text, "[[outbound]]\nname = \"out{i}\"").unwrap();
        writeln!(
            text,
            "recipient_domains = [\"partner{i}.com\", \"*.partner{i}.net\"]"
        )
        .unwrap();
        let s = settings[i % settings.len()];
        if !s.is_empty() {
            writeln!(text, "tls_settings = \"{s}\"").unwrap();
        }
        if s == "domain_validation" {
            writeln!(text, "tls_domain = \"*.partner{i}.net\"").unwrap();
        }
        writeln!(
            text,
            "[[inbound]]\nname = \"in{i}\"\nconnector_type = \"partner\""
        )
        .unwrap();
        writeln!(text, "sender_domains = [\"*.partner{i}.com\"]").unwrap();
        writeln!(
            text,
            "sender_ip_addresses = [\"10.{}.{}.0/24\"]\nrestrict_domains_to_ip_addresses = true",
            i / 256,
            i % 256
        )
        .unwrap();
        writeln!(
            text,
            "require_tls = true\ntls_sender_certificate_name = \"*.partner{i}.com\"\nrestrict_domains_to_certificate = true"
        )
        .unwrap();
    }
    text
}

fn bench_table(c: &mut Criterion) {
    let table = PolicyTable::parse(&table_text(100_000)).unwrap();
    assert_eq!(table.len(), 100_000);
    let policy = OutboundPolicy::new().with_table(table);
    let mut group = c.benchmark_group("policy_table_100k");
    let cases = [
        ("exact_hit", "host1234.zone234.example"),
        ("parent_hit_depth3", "a.b.c.zone777.net"),
        ("miss", "nothere.example.org"),
    ];
    for (name, hop) in cases {
        let dest = Destination::domain(hop, ["mx1.example.com", "mx2.example.com"]).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| explain(black_box(&policy), black_box(&dest)))
        });
    }
    let dest = Destination::domain("a.b.c.zone777.net", ["mx1.example.com"]).unwrap();
    group.bench_function("lookup_only_parent_hit", |b| {
        b.iter(|| {
            policy
                .table
                .as_ref()
                .unwrap()
                .lookup(black_box(&dest))
                .is_some()
        })
    });
    group.finish();
}

fn bench_connectors(c: &mut Criterion) {
    let connectors = Connectors::from_toml(&connectors_text(1_000)).unwrap();
    assert_eq!(connectors.outbound().len(), 1_000);
    let policy = OutboundPolicy::new().with_connectors(connectors.clone());
    let mut group = c.benchmark_group("connectors_1000");
    let dest = Destination::domain("mail.partner567.net", ["mx.partner567.net"]).unwrap();
    group.bench_function("outbound_plan_hit", |b| {
        b.iter(|| explain(black_box(&policy), black_box(&dest)))
    });
    let miss = Destination::domain("elsewhere.example", ["mx.elsewhere.example"]).unwrap();
    group.bench_function("outbound_plan_miss", |b| {
        b.iter(|| explain(black_box(&policy), black_box(&miss)))
    });
    let sans = ["mail.partner567.com"];
    let facts = InboundFacts {
        client_ip: "10.2.55.9".parse().unwrap(),
        helo: "mail.partner567.com",
        mail_from_domain: Some("eu.partner567.com"),
        rcpt_domains: &["contoso.com"],
        tls: InboundTls::from_macros("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
        client_certificate: ClientCertificateFacts::Names {
            dns_sans: &sans,
            common_names: &[],
            verified: Verification::Verified,
        },
    };
    group.bench_function("inbound_decision_accept", |b| {
        b.iter(|| decide_inbound(black_box(&connectors), black_box(&facts)))
    });
    let spoof = InboundFacts {
        client_ip: "192.0.2.1".parse().unwrap(),
        client_certificate: ClientCertificateFacts::None,
        ..facts
    };
    group.bench_function("inbound_decision_reject", |b| {
        b.iter(|| decide_inbound(black_box(&connectors), black_box(&spoof)))
    });
    group.finish();
}

criterion_group!(benches, bench_table, bench_connectors);
criterion_main!(benches);
