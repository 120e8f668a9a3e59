//! State store cost next to the decision it feeds: an outbound plan (`explain`, the anchor,
//! about a microsecond) against an MTA-STS lookup from the memory cache, and against each store
//! operation on a SQLite file and on a Redis server on loopback (started by
//! `.ci/store/start.sh`, or `MAILTLS_REDIS_URL`; skipped without one).
//!
//! A cached policy lookup must not dominate a decision: `sts_step_memory_hit` is what every
//! message pays; a store read (`*_sts_read`) is paid only on a memory miss; `*_record_outcome`
//! is what recording one message's TLS-RPT outcome costs.
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
use mailtls::state::{RungSeen, Store, StsState};
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

fn bench_backends(c: &mut Criterion) {
    bench_decision(c);
    let dir = std::env::temp_dir().join(format!("mailtls-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open(dir.join("state.sqlite")).unwrap();
    bench_store(c, "sqlite", &sqlite);
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);
    let url =
        std::env::var("MAILTLS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:2558".into());
    let options = RedisOptions::default()
        .with_prefix(format!("bench:{}:", std::process::id()))
        .with_timeout(Duration::from_secs(2));
    let redis = RedisStore::from_url(&url, options).unwrap();
    match redis.check_schema() {
        Ok(()) => bench_store(c, "redis", &redis),
        Err(e) => eprintln!("SKIPPED the Redis benches: {e}"),
    }
}

criterion_group!(benches, bench_backends);
criterion_main!(benches);
