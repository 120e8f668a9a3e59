//! One domain's discovery next to the precedence decision it feeds.
//!
//! - `discovery/in-memory`: the lookup order and answer handling alone, over an in-memory
//!   resolver (a DANE domain: MX, addresses, TLSA, `_mta-sts`, `_smtp._tls`).
//! - `discovery/hickory-cached`: the same discovery through hickory-resolver with every answer
//!   already in its cache (DNSSEC-validated once, when the cache was filled), against the
//!   DNS lab named by `MAILTLS_LAB_ENV` (`LAB_DNS`, `LAB_TRUST_ANCHOR`, `LAB_DOMAIN_VALID`);
//!   left out without a lab.
//! - `discovery/precedence`: the plan and precedence decision for the answers (the anchor).
//!
//! Run: `MAILTLS_LAB_ENV=target/lab/lab.env cargo bench --features dns --bench discovery --
//! --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mailtls::io::discover::{Discoverer, NoFetch};
use mailtls::io::dns::{BlockingResolver, DnsSettings, DnssecSource, Resolve, TrustAnchor};
use mailtls::names::DnsName;
use mailtls::policy::dane::DnssecStatus;
use mailtls::policy::discovery::{DnsAnswer, Lookup, LookupError, MxRecord};
use mailtls::policy::mta_sts::StsCache;
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{Level, OutboundPolicy};
use mailtls::time::Timestamp;

/// A signed domain in memory: MX 10 mx.example.com, its address, a `3 1 1` TLSA record and
/// a TLS-RPT record; no MTA-STS record.
struct InMemory;

fn secure<T>(records: Vec<T>) -> Lookup<T> {
    Ok(DnsAnswer {
        records,
        status: DnssecStatus::Secure,
        canonical: None,
    })
}

impl Resolve for InMemory {
    fn mx(&self, _: &DnsName) -> Lookup<MxRecord> {
        secure(vec![MxRecord {
            preference: 10,
            exchange: Some(DnsName::parse("mx.example.com").unwrap()),
        }])
    }
    fn addresses(&self, _: &DnsName) -> Lookup<IpAddr> {
        secure(vec!["192.0.2.25".parse().unwrap()])
    }
    fn tlsa(&self, _: &DnsName) -> Lookup<Vec<u8>> {
        let mut wire = vec![3, 1, 1];
        wire.extend([0xAB; 32]);
        secure(vec![wire])
    }
    fn txt(&self, owner: &DnsName) -> Lookup<String> {
        if owner.as_str().starts_with("_smtp._tls.") {
            secure(vec!["v=TLSRPTv1; rua=mailto:tlsrpt@example.com".into()])
        } else {
            Err(LookupError::NotFound {
                nxdomain: true,
                status: DnssecStatus::Secure,
            })
        }
    }
}

fn lab_resolver() -> Option<(BlockingResolver, DnsName)> {
    let path = std::env::var("MAILTLS_LAB_ENV").ok()?;
    let env: HashMap<String, String> = std::fs::read_to_string(path)
        .ok()?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let settings = DnsSettings::new([env.get("LAB_DNS")?.parse().ok()?])
        .with_dnssec(DnssecSource::Validate(TrustAnchor::File(
            env.get("LAB_TRUST_ANCHOR")?.into(),
        )))
        .with_timeout(Duration::from_secs(5));
    let resolver = BlockingResolver::new(&settings).ok()?;
    Some((resolver, DnsName::parse(env.get("LAB_DOMAIN_VALID")?).ok()?))
}

fn bench_discovery(c: &mut Criterion) {
    let policy = OutboundPolicy::new().with_default_level(Level::Dane);
    let now = Timestamp::from_since_epoch(Duration::from_secs(1_800_000_000));
    let domain = DnsName::parse("example.com").unwrap();
    let mut group = c.benchmark_group("discovery");

    let mut cache = StsCache::default();
    group.bench_function("in-memory", |b| {
        let mut discoverer = Discoverer::new(&InMemory, &NoFetch, &mut cache).with_random(|_| 0);
        b.iter(|| black_box(discoverer.discover(&policy, black_box(&domain), now)));
    });

    if let Some((resolver, lab_domain)) = lab_resolver() {
        let mut cache = StsCache::default();
        let mut discoverer = Discoverer::new(&resolver, &NoFetch, &mut cache).with_random(|_| 0);
        // Fill hickory's cache (and validate) once.
        let first = discoverer.discover(&policy, &lab_domain, now);
        assert!(
            first.hosts.first().and_then(|h| h.tlsa.as_ref()).is_some(),
            "{first}"
        );
        group.bench_function("hickory-cached", |b| {
            b.iter(|| black_box(discoverer.discover(&policy, black_box(&lab_domain), now)));
        });
    } else {
        eprintln!("MAILTLS_LAB_ENV not set: discovery/hickory-cached left out");
    }

    let mut cache = StsCache::default();
    let answers = Discoverer::new(&InMemory, &NoFetch, &mut cache)
        .with_random(|_| 0)
        .discover(&policy, &domain, now);
    let destination = answers.destination().unwrap();
    group.bench_function("precedence", |b| {
        b.iter(|| {
            let plan = policy.plan(black_box(&destination));
            black_box(answers.decide(plan, MessageTls::default()))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_discovery);
criterion_main!(benches);
