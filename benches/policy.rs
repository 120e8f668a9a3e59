//! Planning cost: a destination against a 100,000-entry Postfix policy table (exact keys and
//! `.parent` recursion) and against 1,000 connectors, outbound and inbound. Goal: under 1 µs
//! per decision.
//!
//! Run: `cargo bench --bench policy -- --warm-up-time 1 --measurement-time 3`
//!
//! The anchor is the goal itself (1 µs per decision, 200 ns stretch). Before criterion runs,
//! every case is timed in rounds (about a millisecond of one case, then the next, round after
//! round, so load on a shared machine spreads over all of them); the table printed gives the
//! median time per decision and the goal's ratio to it (above 1: under the goal). Set
//! `POLICY_BENCH_ROUNDS=0` to skip it. On a loaded machine
//! count instructions instead: `POLICY_BENCH_COUNT=<case>:<n>` runs one case `n` times and
//! exits, and the difference of two runs under callgrind divided by the difference in `n`
//! is the cost of one decision:
//!
//! ```sh
//! POLICY_BENCH_COUNT=parent_hit_depth3:1000 valgrind --tool=callgrind \
//!     --callgrind-out-file=/dev/null target/release/deps/policy-<hash> 2>&1 | grep refs
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use mailtls::policy::connector::Connectors;
use mailtls::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundAction, InboundFacts, InboundTls, Verification,
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

/// One decision to time: its group, its name, and the call.
type Case = (&'static str, &'static str, Box<dyn Fn() -> bool>);

/// Every decision path of the bench, each on its own inputs.
fn cases() -> Vec<Case> {
    let table = PolicyTable::parse(&table_text(100_000)).unwrap();
    assert_eq!(table.len(), 100_000);
    let policy = std::rc::Rc::new(OutboundPolicy::new().with_table(table));
    let mut out: Vec<Case> = Vec::new();
    for (name, hop) in [
        ("exact_hit", "host1234.zone234.example"),
        ("parent_hit_depth3", "a.b.c.zone777.net"),
        ("miss", "nothere.example.org"),
    ] {
        let dest = Destination::domain(hop, ["mx1.example.com", "mx2.example.com"]).unwrap();
        let policy = policy.clone();
        out.push((
            "policy_table_100k",
            name,
            Box::new(move || {
                !explain(black_box(&policy), black_box(&dest))
                    .hosts
                    .is_empty()
            }),
        ));
    }
    let dest = Destination::domain("a.b.c.zone777.net", ["mx1.example.com"]).unwrap();
    out.push((
        "policy_table_100k",
        "lookup_only_parent_hit",
        Box::new(move || {
            policy
                .table
                .as_ref()
                .unwrap()
                .lookup(black_box(&dest))
                .is_some()
        }),
    ));

    let connectors = Connectors::from_toml(&connectors_text(1_000)).unwrap();
    assert_eq!(connectors.outbound().len(), 1_000);
    let policy = std::rc::Rc::new(OutboundPolicy::new().with_connectors(connectors.clone()));
    for (name, hop, mx) in [
        (
            "outbound_plan_hit",
            "mail.partner567.net",
            "mx.partner567.net",
        ),
        (
            "outbound_plan_miss",
            "elsewhere.example",
            "mx.elsewhere.example",
        ),
    ] {
        let dest = Destination::domain(hop, [mx]).unwrap();
        let policy = policy.clone();
        out.push((
            "connectors_1000",
            name,
            Box::new(move || {
                !explain(black_box(&policy), black_box(&dest))
                    .hosts
                    .is_empty()
            }),
        ));
    }
    let connectors = std::rc::Rc::new(connectors);
    static SANS: [&str; 1] = ["mail.partner567.com"];
    let facts = InboundFacts {
        client_ip: "10.2.55.9".parse().unwrap(),
        helo: "mail.partner567.com",
        mail_from_domain: Some("eu.partner567.com"),
        rcpt_domains: &["contoso.com"],
        tls: InboundTls::from_macros("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
        client_certificate: ClientCertificateFacts::Names {
            dns_sans: &SANS,
            common_names: &[],
            verified: Verification::Verified,
        },
    };
    let spoof = InboundFacts {
        client_ip: "192.0.2.1".parse().unwrap(),
        client_certificate: ClientCertificateFacts::None,
        ..facts
    };
    for (name, facts, accepted) in [
        ("inbound_decision_accept", facts, true),
        ("inbound_decision_reject", spoof, false),
    ] {
        let connectors = connectors.clone();
        out.push((
            "connectors_1000",
            name,
            Box::new(move || {
                let verdict = decide_inbound(black_box(&connectors), black_box(&facts));
                (verdict.action == InboundAction::Accept) == accepted
            }),
        ));
    }
    out
}

fn bench_all(c: &mut Criterion) {
    let cases = cases();
    for group_name in ["policy_table_100k", "connectors_1000"] {
        let mut group = c.benchmark_group(group_name);
        for (_, name, f) in cases.iter().filter(|case| case.0 == group_name) {
            assert!(f(), "{name}: the decision the case is about");
            group.bench_function(*name, |b| b.iter(f));
        }
        group.finish();
    }
}

/// `POLICY_BENCH_COUNT=<case>:<n>`: run one case n times and exit (for callgrind).
fn count(spec: &str) {
    let (name, n) = spec.split_once(':').expect("<case>:<n>");
    let n: u32 = n.parse().unwrap();
    let cases = cases();
    let (_, _, f) = cases.iter().find(|c| c.1 == name).expect("unknown case");
    let hits = (0..n).filter(|_| f()).count();
    println!("{name}: {hits} of {n}");
}

/// The goal per decision, in nanoseconds (the stretch goal is 200).
const GOAL_NS: f64 = 1_000.0;

/// Nanoseconds for `iters` calls of `f`.
fn time(f: &dyn Fn() -> bool, iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64
}

/// Times every case in rounds (one batch of each per round) and prints the median time per
/// decision against the goal.
fn rounds(count: usize) {
    let cases = cases();
    let iters: Vec<u32> = cases
        .iter()
        .map(|(_, name, f)| {
            assert!(f(), "{name}: the decision the case is about");
            let once = time(f.as_ref(), 1_000) / 1_000.0;
            // About a millisecond per batch.
            ((1_000_000.0 / once.max(1.0)) as u32).max(1)
        })
        .collect();
    let mut per_case: Vec<Vec<f64>> = vec![Vec::with_capacity(count); cases.len()];
    for round in 0..count {
        // Alternate the order so no case always runs right after the same neighbour.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            let ns = time(cases[i].2.as_ref(), iters[i]) / f64::from(iters[i]);
            per_case[i].push(ns);
        }
    }
    println!(
        "{:<18} {:<24} {:>10} {:>14} {:>18}",
        "group", "case", "goal ns", "mailtls ns", "goal/mailtls (med)"
    );
    for ((group, name, _), times) in cases.iter().zip(&mut per_case) {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{group:<18} {name:<24} {GOAL_NS:>10.0} {median:>14.1} {:>18.2}",
            GOAL_NS / median
        );
    }
}

criterion_group!(benches, bench_all);

fn main() {
    if let Ok(spec) = std::env::var("POLICY_BENCH_COUNT") {
        count(&spec);
        return;
    }
    let n = std::env::var("POLICY_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    // `cargo test --benches` runs this once in test mode: keep that quick.
    let testing = std::env::args().any(|a| a == "--test" || a == "--list");
    if n > 0 && !testing {
        rounds(n);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
