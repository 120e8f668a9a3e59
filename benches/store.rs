//! State store cost next to the decision it feeds: an outbound plan (`explain`, the anchor,
//! about a microsecond) against an MTA-STS lookup from the memory cache, and against each store
//! operation on a SQLite file and on a Redis server on loopback (started by
//! `.ci/store/start.sh`, or `MAILTLS_REDIS_URL`; skipped without one).
//!
//! A cached policy lookup must not dominate a decision: `sts_step_memory_hit` is what every
//! message pays; a store read (`*_sts_read`) is paid only on a memory miss; `*_record_outcome`
//! is what recording one message's TLS-RPT outcome costs (memory, SQLite, Redis), and
//! `*_claim_send` what a report sender pays per destination and day before it sends. After the
//! criterion groups, one summary line per backend prints the recording cost per message next
//! to the outbound plan it follows (plain wall-clock means over a fixed count, for reading
//! side by side; criterion's numbers above are the measured ones).
//!
//! Run: `cargo bench --features sqlite,redis --bench store -- --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mailtls::io::store::{RedisOptions, RedisStore, SqliteStore};
use mailtls::names::{DnsName, HostId};
use mailtls::policy::ladder::Rung;
use mailtls::policy::mta_sts::{CachedPolicy, Discovery, StsCache, StsPolicy, StsRecord};
use mailtls::policy::{explain, Destination, OutboundPolicy};
use mailtls::report::{PolicyRef, SessionOutcome};
use mailtls::state::{MemoryState, ReportDay, RungSeen, Store, StsState};
use mailtls::Timestamp;

const NOW: u64 = 1_700_000_000;

fn entry() -> CachedPolicy {
    let policy = StsPolicy::parse(
        b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: 86400\n",
    )
    .unwrap();
    CachedPolicy {
        id: "20231114".into(),
        policy,
        fetched_at: Timestamp::from_unix_secs(NOW),
        expires_at: Timestamp::from_unix_secs(NOW + 86_400),
    }
}

fn outcome(domain: &DnsName) -> SessionOutcome {
    SessionOutcome {
        at: Timestamp::from_unix_secs(NOW),
        policy: entry().policy.policy_ref(domain),
        unused_policies: vec![PolicyRef::none_found(domain.as_str())],
        mx_host: Some("mx1.example.com".into()),
        sending_ip: Some("192.0.2.1".parse().unwrap()),
        receiving_ip: Some("192.0.2.25".parse().unwrap()),
        receiving_helo: Some("mx1.example.com".into()),
        result: Ok(()),
    }
}

fn bench_store(c: &mut Criterion, label: &str, store: &dyn Store) {
    let domain = DnsName::parse("example.com").unwrap();
    let host = HostId::Dns(DnsName::parse("mx1.example.com").unwrap());
    store.put_sts_policy(&domain, &entry()).unwrap();
    let seen = RungSeen {
        rung: Rung::Modern,
        at: Timestamp::from_unix_secs(NOW),
    };
    let record = outcome(&domain);
    let mut group = c.benchmark_group("store");
    group.bench_function(format!("{label}_sts_read"), |b| {
        b.iter(|| store.sts_policy(black_box(&domain)).unwrap())
    });
    group.bench_function(format!("{label}_sts_write"), |b| {
        b.iter(|| store.put_sts_policy(black_box(&domain), &entry()).unwrap())
    });
    group.bench_function(format!("{label}_best_rung"), |b| {
        b.iter(|| store.best_rung(black_box(&host)).unwrap())
    });
    group.bench_function(format!("{label}_remember_rung"), |b| {
        b.iter(|| store.remember_rung(black_box(&host), seen).unwrap())
    });
    group.bench_function(format!("{label}_record_outcome"), |b| {
        b.iter(|| store.record_outcome(black_box(&record)).unwrap())
    });
    let day = ReportDay::of("example.com", Timestamp::from_unix_secs(NOW));
    let now = Timestamp::from_unix_secs(NOW + 86_400);
    let until = Timestamp::from_unix_secs(NOW + 87_000);
    group.bench_function(format!("{label}_claim_send"), |b| {
        b.iter(|| {
            store
                .claim_send(
                    black_box(&day),
                    "mailto:tlsrpt@example.com",
                    "bench",
                    now,
                    until,
                )
                .unwrap()
        })
    });
    group.finish();
    store.forget_days_before(u64::MAX).unwrap();
}

fn bench_decision(c: &mut Criterion) {
    let policy = OutboundPolicy::new();
    let dest = Destination::domain("example.com", ["mx1.example.com"]).unwrap();
    let domain = DnsName::parse("example.com").unwrap();
    let record = StsRecord::parse("v=STSv1; id=20231114").unwrap();
    let now = Timestamp::from_unix_secs(NOW + 60);
    let mut group = c.benchmark_group("store");
    group.bench_function("anchor_outbound_plan", |b| {
        b.iter(|| explain(black_box(&policy), black_box(&dest)))
    });
    let mut cache = StsCache::default();
    let e = entry();
    cache.restore(&domain, e, now);
    let mut state = StsState::new(cache, mailtls::state::MemoryState::new());
    group.bench_function("sts_step_memory_hit", |b| {
        b.iter(|| state.step(black_box(&domain), Discovery::Record(&record), now))
    });
    group.finish();
}

/// Mean wall-clock time of `f` over `n` runs, in microseconds.
fn mean_micros(n: u32, mut f: impl FnMut()) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// One line per backend: recording one message's outcome next to the decision it follows.
fn summary(stores: &[(&str, &dyn Store)]) {
    let policy = OutboundPolicy::new();
    let dest = Destination::domain("example.com", ["mx1.example.com"]).unwrap();
    let domain = DnsName::parse("example.com").unwrap();
    let record = outcome(&domain);
    let plan = mean_micros(20_000, || {
        black_box(explain(black_box(&policy), black_box(&dest)));
    });
    for (label, store) in stores {
        let n = if *label == "memory" { 20_000 } else { 2_000 };
        let per = mean_micros(n, || store.record_outcome(black_box(&record)).unwrap());
        eprintln!(
            "summary: {label:<6} record_outcome {per:>9.2} us per message, next to the \
             outbound plan {plan:.2} us ({:.1}x)",
            per / plan
        );
        store.forget_days_before(u64::MAX).unwrap();
    }
}

fn bench_backends(c: &mut Criterion) {
    bench_decision(c);
    let memory = MemoryState::new();
    bench_store(c, "memory", &memory);
    let dir = std::env::temp_dir().join(format!("mailtls-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open(dir.join("state.sqlite")).unwrap();
    bench_store(c, "sqlite", &sqlite);
    let url =
        std::env::var("MAILTLS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:2558".into());
    let options = RedisOptions::default()
        .with_prefix(format!("bench:{}:", std::process::id()))
        .with_timeout(Duration::from_secs(2));
    let redis = RedisStore::from_url(&url, options).unwrap();
    let mut stores: Vec<(&str, &dyn Store)> = vec![("memory", &memory), ("sqlite", &sqlite)];
    match redis.check_schema() {
        Ok(()) => {
            bench_store(c, "redis", &redis);
            stores.push(("redis", &redis));
        }
        Err(e) => eprintln!("SKIPPED the Redis benches: {e}"),
    }
    summary(&stores);
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_backends);
criterion_main!(benches);
