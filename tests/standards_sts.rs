//! MTA-STS: cache timelines on a virtual clock, and valid and hostile policy texts end to end
//! (TXT record, fetch response, policy, MX check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use core::time::Duration;

use mailtls::names::DnsName;
use mailtls::policy::mta_sts::{
    consume, CacheStep, Discovery, StsCache, StsFetchError, StsFetchResponse, StsLookup, StsMode,
    StsPolicy, StsRecord,
};
use mailtls::report::ResultType;
use mailtls::Timestamp;

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + secs)
}

fn domain() -> DnsName {
    DnsName::parse("example.com").unwrap()
}

fn policy(mode: &str, max_age: u32) -> StsPolicy {
    let text = format!("version: STSv1\nmode: {mode}\nmx: mx.example.com\nmax_age: {max_age}\n");
    StsPolicy::parse(text.as_bytes()).unwrap()
}

fn record(id: &str) -> StsRecord {
    StsRecord::parse(&format!("v=STSv1; id={id}")).unwrap()
}

/// Runs one lookup: TXT discovery, then the fetch if asked, with the given fetch result.
fn lookup(
    cache: &mut StsCache,
    discovery: Discovery<'_>,
    fetch: impl FnOnce() -> Result<StsPolicy, StsFetchError>,
    now: Timestamp,
) -> (bool, StsLookup) {
    match cache.step(&domain(), discovery, now) {
        CacheStep::Fetch { request, id } => {
            assert_eq!(
                request.url,
                "https://mta-sts.example.com/.well-known/mta-sts.txt"
            );
            (true, cache.complete_fetch(&domain(), &id, fetch(), now))
        }
        CacheStep::Done(l) => (false, l),
        other => panic!("unexpected step {other:?}"),
    }
}

fn mode_of(l: &StsLookup) -> Option<StsMode> {
    match l {
        StsLookup::Policy { policy, .. } => Some(policy.mode()),
        _ => None,
    }
}

fn transport_error() -> Result<StsPolicy, StsFetchError> {
    Err(StsFetchError::Transport {
        detail: "connection refused".into(),
    })
}

#[test]
fn same_id_uses_the_cache_until_max_age_then_refetches() {
    let mut cache = StsCache::default();
    let r1 = record("1");
    let (fetched, l) = lookup(
        &mut cache,
        Discovery::Record(&r1),
        || Ok(policy("enforce", 3600)),
        at(0),
    );
    assert!(fetched);
    assert_eq!(mode_of(&l), Some(StsMode::Enforce));
    let (fetched, l) = lookup(
        &mut cache,
        Discovery::Record(&r1),
        || unreachable!(),
        at(3599),
    );
    assert!(!fetched, "same id, unexpired: no fetch");
    assert!(matches!(
        l,
        StsLookup::Policy {
            from_cache: true,
            ..
        }
    ));
    assert_eq!(cache.get(&domain(), at(3599)).unwrap().expires_at, at(3600));
    assert!(
        cache.get(&domain(), at(3600)).is_none(),
        "expired at max_age"
    );
    let (fetched, _) = lookup(
        &mut cache,
        Discovery::Record(&r1),
        || Ok(policy("enforce", 3600)),
        at(3600),
    );
    assert!(fetched, "expired: fetched again even with the same id");
}

#[test]
fn a_new_id_triggers_a_refresh() {
    let mut cache = StsCache::default();
    lookup(
        &mut cache,
        Discovery::Record(&record("1")),
        || Ok(policy("testing", 86400)),
        at(0),
    );
    let (fetched, l) = lookup(
        &mut cache,
        Discovery::Record(&record("2")),
        || Ok(policy("enforce", 86400)),
        at(10),
    );
    assert!(fetched);
    assert_eq!(mode_of(&l), Some(StsMode::Enforce));
    assert_eq!(cache.get(&domain(), at(11)).unwrap().id, "2");
}

#[test]
fn a_failed_refresh_keeps_an_unexpired_policy() {
    let mut cache = StsCache::default();
    lookup(
        &mut cache,
        Discovery::Record(&record("1")),
        || Ok(policy("enforce", 100)),
        at(0),
    );
    let (fetched, l) = lookup(
        &mut cache,
        Discovery::Record(&record("2")),
        transport_error,
        at(50),
    );
    assert!(fetched);
    match &l {
        StsLookup::Policy {
            policy,
            from_cache: true,
            refresh_error: Some(e),
        } => {
            assert_eq!(policy.mode(), StsMode::Enforce);
            assert_eq!(e.result_type(), ResultType::StsPolicyFetchError);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cache.get(&domain(), at(50)).unwrap().id, "1", "old id kept");
    // Once expired, a failed refresh means no policy, with the fetch error to report.
    let (_, l) = lookup(
        &mut cache,
        Discovery::Record(&record("2")),
        transport_error,
        at(100),
    );
    assert!(
        matches!(
            l,
            StsLookup::NoPolicy {
                fetch_error: Some(_)
            }
        ),
        "{l:?}"
    );
}

#[test]
fn a_fetched_none_replaces_the_cached_policy() {
    let mut cache = StsCache::default();
    lookup(
        &mut cache,
        Discovery::Record(&record("1")),
        || Ok(policy("enforce", 86400)),
        at(0),
    );
    let (_, l) = lookup(
        &mut cache,
        Discovery::Record(&record("2")),
        || Ok(policy("none", 86400)),
        at(10),
    );
    assert_eq!(mode_of(&l), Some(StsMode::None));
    assert!(l.active_policy().is_none());
    let (fetched, l) = lookup(
        &mut cache,
        Discovery::Record(&record("2")),
        || unreachable!(),
        at(20),
    );
    assert!(!fetched);
    assert!(
        l.active_policy().is_none(),
        "the none policy is cached in place of enforce"
    );
}

#[test]
fn missing_txt_keeps_a_cached_policy_and_dns_failures_are_not_no_policy() {
    let mut cache = StsCache::default();
    let (_, l) = lookup(&mut cache, Discovery::NoRecord, || unreachable!(), at(0));
    assert_eq!(l, StsLookup::NoPolicy { fetch_error: None });
    let (_, l) = lookup(
        &mut cache,
        Discovery::TemporaryFailure,
        || unreachable!(),
        at(0),
    );
    assert_eq!(l, StsLookup::TemporaryFailure);
    lookup(
        &mut cache,
        Discovery::Record(&record("1")),
        || Ok(policy("enforce", 100)),
        at(0),
    );
    for d in [Discovery::NoRecord, Discovery::TemporaryFailure] {
        let (fetched, l) = lookup(&mut cache, d, || unreachable!(), at(99));
        assert!(!fetched);
        assert!(l.active_policy().is_some(), "{d:?}");
    }
    let (_, l) = lookup(&mut cache, Discovery::NoRecord, || unreachable!(), at(100));
    assert_eq!(l, StsLookup::NoPolicy { fetch_error: None });
}

#[test]
fn max_age_is_capped_and_the_cache_is_bounded() {
    let mut cache = StsCache::new(2);
    let big = StsPolicy::parse(
        b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 4000000000\n",
    )
    .unwrap();
    assert_eq!(big.max_age(), Duration::from_secs(31_557_600));
    for (i, name) in ["a.example", "b.example", "c.example"].iter().enumerate() {
        let d = DnsName::parse(name).unwrap();
        cache.complete_fetch(&d, "1", Ok(policy("enforce", 100 + i as u32)), at(0));
    }
    assert_eq!(cache.len(), 2);
    assert!(
        cache
            .get(&DnsName::parse("a.example").unwrap(), at(1))
            .is_none(),
        "soonest expiry evicted"
    );
    assert!(cache
        .get(&DnsName::parse("c.example").unwrap(), at(1))
        .is_some());
    cache.purge_expired(at(1000));
    assert!(cache.is_empty());
}

#[test]
fn hostile_and_odd_policy_texts() {
    let http = |body: &'static [u8]| StsFetchResponse::Http {
        status: 200,
        content_type: Some("text/plain"),
        body,
    };
    // Valid: odd but legal.
    let ok: &[&[u8]] = &[
        b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400",
        b"version:STSv1\r\nmode:\tenforce\r\nmx: mx.example.com \r\nmax_age: 86400\r\n",
        b"mx: mx.example.com\nmax_age: 1\nmode: testing\nversion: STSv1\nextension.key-1: x\n",
        b"version: STSv1\nmode: enforce\nmx: *.example.com\nmx: b\xc3\xbccher.example\nmax_age: 0\n",
    ];
    for body in ok {
        assert!(
            consume(http(body)).is_ok(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Hostile: each is refused as sts-policy-invalid.
    let bad: &[&[u8]] = &[
        b"",
        b"\n\n\n",
        b"version: STSv1\x00\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1e9\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
        b"version: STSv1\nmode: enforce\n mx: a.example\nmax_age: 1\n",
        b"<html><body>version: STSv1</body></html>",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n\xfe",
    ];
    for body in bad {
        assert_eq!(
            consume(http(body)).unwrap_err().result_type(),
            ResultType::StsPolicyInvalid,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // A huge body is refused before parsing, and a newline flood within the cap is harmless.
    let flood = vec![b'\n'; 70_000];
    let leaked: &'static [u8] = Box::leak(flood.into_boxed_slice());
    assert!(matches!(
        consume(http(leaked)),
        Err(StsFetchError::InvalidPolicy(_))
    ));
}

#[test]
fn mx_matching_uses_the_mta_sts_dialect() {
    let p = StsPolicy::parse(
        b"version: STSv1\nmode: enforce\nmx: *.mail.example.com\nmx: mx.example.org\nmax_age: 1\n",
    )
    .unwrap();
    let table = [
        ("a.mail.example.com", true),
        ("mail.example.com", false),
        ("a.b.mail.example.com", false),
        ("MX.EXAMPLE.ORG.", true),
        ("mx.example.org.evil.test", false),
        ("xmx.example.org", false),
        ("", false),
    ];
    for (host, ok) in table {
        assert_eq!(p.check_mx(host).is_ok(), ok, "{host}");
    }
    assert_eq!(
        p.check_mx("evil.test").unwrap_err().result_type(),
        ResultType::ValidationFailure
    );
}
