//! The state store's contract, one generic suite run over every backend: in process memory,
//! a SQLite file, and a real `redis-server` on 127.0.0.1 (`.ci/store/start.sh`, or
//! `MAILTLS_REDIS_URL`; without it the Redis runs print SKIPPED, or fail under CI).
//!
//! Plus what only a real backend shows: a policy that survives a restart (SQLite) and one
//! shared by two MTAs (Redis), concurrent writers losing nothing, and the failures the issue
//! lists (a foreign file, a newer schema, a full store, a server down, slow or hostile).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailtls::io::store::{RedisOptions, RedisStore, SqliteOptions, SqliteStore};
use mailtls::names::{DnsName, HostId};
use mailtls::policy::ladder::{DowngradeMemory, Rung};
use mailtls::policy::mta_sts::{
    CacheStep, CachedPolicy, Discovery, StsCache, StsLookup, StsPolicy, StsRecord,
};
use mailtls::report::{
    Aggregator, PolicyRef, PolicyType, ReportMeta, ResultType, SessionFailure, SessionOutcome,
};
use mailtls::state::{
    day_report, MemoryState, ReportDay, RungSeen, Store, StoreError, StoreNotice,
    StoredDowngradeMemory, StsState,
};
use mailtls::Timestamp;

/// 2016-04-01T00:00:00Z, the day of RFC 8460's example report.
const DAY0: u64 = 1_459_468_800;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn name(s: &str) -> DnsName {
    DnsName::parse(s).unwrap()
}

fn policy(mode: &str, max_age: u32) -> StsPolicy {
    StsPolicy::parse(
        format!("version: STSv1\nmode: {mode}\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: {max_age}\n")
            .as_bytes(),
    )
    .unwrap()
}

fn cached(id: &str, mode: &str, fetched: u64) -> CachedPolicy {
    CachedPolicy {
        id: id.into(),
        policy: policy(mode, 86_400),
        fetched_at: t(fetched),
        expires_at: t(fetched + 86_400),
    }
}

fn sts_ref(domain: &str) -> PolicyRef {
    policy("enforce", 86_400).policy_ref(&name(domain))
}

fn outcome(domain: &str, at: u64, result: Result<(), SessionFailure>) -> SessionOutcome {
    SessionOutcome {
        at: t(at),
        policy: sts_ref(domain),
        unused_policies: vec![PolicyRef::none_found(domain)],
        mx_host: Some("mx1.example.com".into()),
        sending_ip: Some("2001:db8:abcd:12::1".parse().unwrap()),
        receiving_ip: Some("192.0.2.25".parse().unwrap()),
        receiving_helo: Some("mx1.example.com".into()),
        result,
    }
}

fn failure(result_type: ResultType, code: Option<&str>) -> Result<(), SessionFailure> {
    Err(SessionFailure {
        result_type,
        additional_information: None,
        failure_reason_code: code.map(str::to_owned),
    })
}

fn meta() -> ReportMeta {
    ReportMeta {
        organization_name: "mailtls test".into(),
        contact_info: "postmaster@sender.example".into(),
        report_id: "2016-04-01-example".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The backends.

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailtls-store-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn redis_url() -> String {
    std::env::var("MAILTLS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:2558".into())
}

/// A Redis store under a prefix of its own, or `None` (SKIPPED) when no server runs; under CI
/// a missing server fails the test.
fn redis(test: &str) -> Option<RedisStore> {
    let options = RedisOptions::default()
        .with_prefix(format!("test:{}:{test}:", std::process::id()))
        .with_timeout(Duration::from_secs(5));
    let store = RedisStore::from_url(&redis_url(), options).unwrap();
    match store.check_schema() {
        Ok(()) => Some(store),
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
            assert!(
                !ci,
                "{test}: no Redis server in CI ({e}); .ci/run starts one with .ci/store/start.sh"
            );
            eprintln!(
                "SKIPPED {test}: no Redis server ({e}); run bash .ci/store/start.sh target/store"
            );
            None
        }
    }
}

/// Runs `check` over the memory, SQLite and Redis stores.
fn each_backend(test: &str, check: impl Fn(&dyn Store)) {
    check(&MemoryState::new());
    let dir = temp_dir(test);
    check(&SqliteStore::open(dir.join("state.sqlite")).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    if let Some(store) = redis(test) {
        check(&store);
        store.forget_days_before(u64::MAX).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The contract, over every backend.

#[test]
fn sts_policies_round_trip_and_only_a_newer_fetch_replaces() {
    each_backend("sts", |store| {
        let d = name("example.com");
        assert_eq!(store.sts_policy(&d).unwrap(), None, "{}", store.location());
        let first = cached("id1", "enforce", DAY0);
        store.put_sts_policy(&d, &first).unwrap();
        assert_eq!(store.sts_policy(&d).unwrap(), Some(first.clone()));
        // An MTA of the fleet that fetched earlier loses the race.
        store
            .put_sts_policy(&d, &cached("id0", "testing", DAY0 - 10))
            .unwrap();
        assert_eq!(store.sts_policy(&d).unwrap(), Some(first));
        // A later fetch, mode none included, replaces it.
        let none = cached("id2", "none", DAY0 + 10);
        store.put_sts_policy(&d, &none).unwrap();
        assert_eq!(store.sts_policy(&d).unwrap(), Some(none));
        assert_eq!(store.sts_policy(&name("other.example")).unwrap(), None);
    });
}

#[test]
fn downgrade_memory_keeps_the_strongest_rung() {
    each_backend("rung", |store| {
        let host = HostId::Dns(name("mx1.example.com"));
        let ip = HostId::Ip("192.0.2.25".parse().unwrap());
        assert_eq!(store.best_rung(&host).unwrap(), None);
        let seen = |rung, at| RungSeen { rung, at: t(at) };
        store
            .remember_rung(&host, seen(Rung::Tls12Only, 1))
            .unwrap();
        store
            .remember_rung(&host, seen(Rung::Plaintext, 2))
            .unwrap();
        assert_eq!(
            store.best_rung(&host).unwrap(),
            Some(seen(Rung::Tls12Only, 1))
        );
        store
            .remember_rung(&host, seen(Rung::Tls12Only, 3))
            .unwrap();
        assert_eq!(
            store.best_rung(&host).unwrap(),
            Some(seen(Rung::Tls12Only, 3))
        );
        store.remember_rung(&host, seen(Rung::Modern, 4)).unwrap();
        assert_eq!(store.best_rung(&host).unwrap(), Some(seen(Rung::Modern, 4)));
        // A name and an address are different hosts.
        assert_eq!(store.best_rung(&ip).unwrap(), None);
        store.forget_rung(&host).unwrap();
        assert_eq!(store.best_rung(&host).unwrap(), None);
    });
}

#[test]
fn outcomes_make_the_same_report_as_the_in_memory_aggregator() {
    each_backend("outcomes", |store| {
        let sessions = [
            outcome("Example.COM.", DAY0 + 10, Ok(())),
            outcome("example.com", DAY0 + 20, Ok(())),
            outcome(
                "example.com",
                DAY0 + 30,
                failure(ResultType::CertificateExpired, None),
            ),
            outcome(
                "example.com",
                DAY0 + 40,
                failure(ResultType::CertificateExpired, None),
            ),
            outcome(
                "example.com",
                DAY0 + 86_399,
                failure(ResultType::StarttlsNotSupported, Some("alert 40")),
            ),
            // The next day, and another domain.
            outcome("example.com", DAY0 + 86_400, Ok(())),
            outcome(
                "other.example",
                DAY0 + 50,
                failure(ResultType::TlsaInvalid, None),
            ),
        ];
        for s in &sessions {
            store.record_outcome(s).unwrap();
        }
        let day = ReportDay::of("example.com", t(DAY0));
        assert_eq!(
            store.report_days().unwrap(),
            vec![
                day.clone(),
                ReportDay::of("other.example", t(DAY0)),
                ReportDay::of("example.com", t(DAY0 + 86_400)),
            ],
            "{}",
            store.location()
        );
        let mut oracle = Aggregator::new(day.period());
        for s in &sessions {
            oracle.add(s);
        }
        let expected = oracle.report("example.com", &meta()).unwrap();
        let report = day_report(store, &day, &meta()).unwrap().unwrap();
        assert_eq!(report, expected, "{}", store.location());
        let summary = report.policies[0].summary;
        assert_eq!(summary.total_successful_session_count, 2);
        assert_eq!(summary.total_failure_session_count, 3);
        // The unused no-policy-found policy is never counted.
        assert_eq!(report.policies.len(), 1);
        assert_eq!(report.policies[0].policy.policy_type, PolicyType::Sts);
        // A day with nothing counted has no report.
        let empty = ReportDay::of("example.com", t(DAY0 + 5 * 86_400));
        assert_eq!(day_report(store, &empty, &meta()).unwrap(), None);
    });
}

#[test]
fn a_report_is_marked_sent_once_per_destination_and_old_days_are_dropped() {
    each_backend("sent", |store| {
        let day = ReportDay::of("example.com", t(DAY0));
        store
            .record_outcome(&outcome("example.com", DAY0, Ok(())))
            .unwrap();
        store
            .record_outcome(&outcome("example.com", DAY0 + 86_400, Ok(())))
            .unwrap();
        let to = "mailto:tlsrpt@example.com";
        assert!(!store.is_sent(&day, to).unwrap());
        assert!(store.mark_sent(&day, to, t(DAY0 + 90_000)).unwrap());
        assert!(!store.mark_sent(&day, to, t(DAY0 + 90_001)).unwrap());
        assert!(store.is_sent(&day, to).unwrap());
        assert!(!store.is_sent(&day, "https://r.example/v1").unwrap());
        store.forget_days_before(day.day + 1).unwrap();
        assert_eq!(
            store.report_days().unwrap(),
            vec![ReportDay::of("example.com", t(DAY0 + 86_400))]
        );
        assert!(!store.is_sent(&day, to).unwrap());
        assert!(store.tallies(&day).unwrap().is_empty());
    });
}

#[test]
fn one_sender_at_a_time_claims_a_destination() {
    each_backend("claim", |store| {
        let day = ReportDay::of("example.com", t(DAY0));
        let to = "https://r.example/v1";
        let now = t(DAY0 + 90_000);
        let until = t(DAY0 + 90_600);
        assert!(store.claim_send(&day, to, "a", now, until).unwrap());
        // b is refused while a's claim holds; a renews its own.
        assert!(!store.claim_send(&day, to, "b", now, until).unwrap());
        assert!(store.claim_send(&day, to, "a", now, until).unwrap());
        // Another destination is free.
        assert!(store
            .claim_send(&day, "mailto:x@example.com", "b", now, until)
            .unwrap());
        // b cannot release a's claim; a can.
        store.release_send(&day, to, "b").unwrap();
        assert!(!store.claim_send(&day, to, "b", now, until).unwrap());
        store.release_send(&day, to, "a").unwrap();
        assert!(store.claim_send(&day, to, "b", now, until).unwrap());
        // An expired claim is free for anyone.
        assert!(store
            .claim_send(&day, to, "c", until, t(DAY0 + 91_000))
            .unwrap());
        // Sent: nobody claims it again, not even the holder.
        assert!(store.mark_sent(&day, to, now).unwrap());
        assert!(!store.claim_send(&day, to, "c", now, until).unwrap());
        assert!(!store
            .claim_send(&day, to, "d", t(DAY0 + 99_000), until)
            .unwrap());
        store.forget_days_before(day.day + 1).unwrap();
    });
}

/// Four senders, each with its own connection to one store, race for 20 destinations: each
/// destination is won exactly once.
fn claim_race(open: &(dyn Fn() -> Box<dyn Store> + Sync)) {
    let day = ReportDay::of("example.com", t(DAY0));
    let winners: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let day = day.clone();
                scope.spawn(move || {
                    let store = open();
                    (0..20)
                        .filter(|n| {
                            store
                                .claim_send(
                                    &day,
                                    &format!("mailto:r{n}@example.com"),
                                    &format!("sender-{i}"),
                                    t(DAY0 + 90_000),
                                    t(DAY0 + 90_600),
                                )
                                .unwrap()
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        winners, 20,
        "each destination claimed by exactly one sender"
    );
}

#[test]
fn two_senders_on_one_store_claim_each_destination_once() {
    let dir = temp_dir("claim-race");
    let path = dir.join("state.db");
    claim_race(&|| Box::new(SqliteStore::open(&path).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
    if let Some(store) = redis("claim-race") {
        claim_race(&|| Box::new(redis("claim-race").unwrap()));
        store.forget_days_before(u64::MAX).unwrap();
    }
}

#[test]
fn a_stored_policy_applies_in_a_process_that_never_fetched_it() {
    each_backend("sts-state", |store| {
        let d = name("example.com");
        let record = StsRecord::parse("v=STSv1; id=20160401").unwrap();
        // Process 1: the TXT record says fetch; the fetch succeeds; the policy is stored.
        let mut first = StsState::new(StsCache::default(), store);
        let stepped = first.step(&d, Discovery::Record(&record), t(DAY0));
        assert!(matches!(stepped.step, CacheStep::Fetch { .. }));
        let (lookup, notice) =
            first.complete_fetch(&d, "20160401", Ok(policy("enforce", 86_400)), t(DAY0));
        assert!(lookup.active_policy().is_some());
        assert_eq!(notice, None);
        // Process 2: empty memory; an attacker removed the TXT record. The stored enforce
        // policy applies, without a fetch.
        let mut second = StsState::new(StsCache::default(), store);
        let stepped = second.step(&d, Discovery::NoRecord, t(DAY0 + 60));
        let CacheStep::Done(StsLookup::Policy {
            policy: p,
            from_cache: true,
            ..
        }) = stepped.step
        else {
            panic!(
                "{}: expected the stored policy, got {:?}",
                store.location(),
                stepped.step
            );
        };
        assert_eq!(p, policy("enforce", 86_400));
        // The same TXT id: no fetch either. After max_age: the stored policy is gone.
        let stepped = second.step(&d, Discovery::Record(&record), t(DAY0 + 120));
        assert!(matches!(stepped.step, CacheStep::Done(_)));
        let mut third = StsState::new(StsCache::default(), store);
        let late = third.step(&d, Discovery::NoRecord, t(DAY0 + 86_400));
        assert_eq!(
            late.step,
            CacheStep::Done(StsLookup::NoPolicy { fetch_error: None })
        );
    });
}

#[test]
fn downgrade_memory_in_front_of_a_store_is_shared() {
    each_backend("downgrade", |store| {
        let host = HostId::Dns(name("mx1.example.com"));
        let mut first = StoredDowngradeMemory::new(store);
        first.set_now(t(DAY0));
        first.remember(&host, Rung::Modern);
        let second = StoredDowngradeMemory::new(store);
        assert_eq!(second.best_rung(&host), Some(Rung::Modern));
        assert_eq!(
            store.best_rung(&host).unwrap(),
            Some(RungSeen {
                rung: Rung::Modern,
                at: t(DAY0)
            })
        );
        assert_eq!(second.take_notice(), None);
    });
}

// ---------------------------------------------------------------------------------------------
// SQLite: restarts, two writers, bad files.

#[test]
fn sqlite_policy_survives_a_restart() {
    let dir = temp_dir("restart");
    let path = dir.join("state.sqlite");
    let d = name("example.com");
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut sts = StsState::new(StsCache::default(), &store);
        sts.complete_fetch(&d, "id1", Ok(policy("enforce", 86_400)), t(DAY0));
    }
    let store = SqliteStore::open(&path).unwrap();
    let mut sts = StsState::new(StsCache::default(), &store);
    let stepped = sts.step(&d, Discovery::TemporaryFailure, t(DAY0 + 3600));
    let CacheStep::Done(lookup) = stepped.step else {
        panic!("no stored policy")
    };
    assert_eq!(lookup.active_policy(), Some(&policy("enforce", 86_400)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_writers_on_one_sqlite_file_lose_no_count() {
    let dir = temp_dir("writers");
    let path = dir.join("state.sqlite");
    // Two connections, as two processes would have: SQLite's file locks arbitrate.
    let stores: Vec<Arc<SqliteStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(&path).unwrap()))
        .collect();
    let threads: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            std::thread::spawn(move || {
                for i in 0..150 {
                    store
                        .record_outcome(&outcome("example.com", DAY0 + i, Ok(())))
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let day = ReportDay::of("example.com", t(DAY0));
    let report = day_report(&*stores[0], &day, &meta()).unwrap().unwrap();
    assert_eq!(
        report.policies[0].summary.total_successful_session_count,
        300
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_is_not_a_state_file_is_refused_and_left_alone() {
    let dir = temp_dir("foreign");
    let path = dir.join("notes.txt");
    let garbage = b"this is not a database, just some text that happens to be long enough for SQLite to read a header from it.".repeat(10);
    std::fs::write(&path, &garbage).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotAStateFile { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_sqlite_store_fails_typed_and_keeps_what_it_had() {
    let dir = temp_dir("full");
    let path = dir.join("state.sqlite");
    let store =
        SqliteStore::open_with(&path, SqliteOptions::default().with_max_bytes(64 * 1024)).unwrap();
    let d = name("example.com");
    store
        .put_sts_policy(&d, &cached("id1", "enforce", DAY0))
        .unwrap();
    let mut full = None;
    for i in 0..10_000u64 {
        let mut o = outcome(
            "example.com",
            DAY0,
            failure(ResultType::ValidationFailure, None),
        );
        o.receiving_helo = Some(format!("helo-{i}-{}", "x".repeat(200)));
        if let Err(e) = store.record_outcome(&o) {
            full = Some(e);
            break;
        }
    }
    let err = full.expect("64 KiB never filled up");
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert!(err.to_string().contains("state.sqlite"), "{err}");
    assert_eq!(
        store.sts_policy(&d).unwrap(),
        Some(cached("id1", "enforce", DAY0))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Redis: two MTAs, a server down, slow or hostile.

#[test]
fn two_mtas_share_one_redis() {
    let Some(a) = redis("fleet") else { return };
    let b = RedisStore::from_url(
        &redis_url(),
        RedisOptions::default().with_prefix(format!("test:{}:fleet:", std::process::id())),
    )
    .unwrap();
    let d = name("example.com");
    let mut mta_a = StsState::new(StsCache::default(), &a);
    mta_a.complete_fetch(&d, "id1", Ok(policy("enforce", 86_400)), t(DAY0));
    // MTA b never fetched: the TXT lookup fails, the shared policy governs.
    let mut mta_b = StsState::new(StsCache::default(), &b);
    let stepped = mta_b.step(&d, Discovery::TemporaryFailure, t(DAY0 + 1));
    let CacheStep::Done(lookup) = stepped.step else {
        panic!("no shared policy")
    };
    assert_eq!(lookup.active_policy(), Some(&policy("enforce", 86_400)));
    // Counters from both add up.
    a.record_outcome(&outcome("example.com", DAY0, Ok(())))
        .unwrap();
    b.record_outcome(&outcome("example.com", DAY0, Ok(())))
        .unwrap();
    let report = day_report(&a, &ReportDay::of("example.com", t(DAY0)), &meta())
        .unwrap()
        .unwrap();
    assert_eq!(report.policies[0].summary.total_successful_session_count, 2);
    a.forget_days_before(u64::MAX).unwrap();
}

#[test]
fn redis_down_keeps_the_policy_in_memory_and_says_so_once() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let store = RedisStore::new("127.0.0.1:1", RedisOptions::default());
    let d = name("example.com");
    let mut sts = StsState::new(StsCache::default(), &store);
    // The fetch succeeds, the store write fails: the lookup is unaffected; one notice.
    let (lookup, notice) = sts.complete_fetch(&d, "id1", Ok(policy("enforce", 86_400)), t(DAY0));
    assert!(lookup.active_policy().is_some());
    let Some(StoreNotice::Failing(StoreError::Unavailable { location, .. })) = notice else {
        panic!("expected one Unavailable notice, got {notice:?}");
    };
    assert_eq!(location, "redis://127.0.0.1:1/0");
    // A thousand messages later: the memory policy still governs, and nothing more to log.
    for i in 0..1000 {
        let stepped = sts.step(&d, Discovery::NoRecord, t(DAY0 + i));
        assert_eq!(stepped.notice, None);
        let CacheStep::Done(lookup) = stepped.step else {
            panic!("fetch while Redis is down")
        };
        assert!(lookup.active_policy().is_some());
    }
    // A domain memory never saw: the RFC 8461 way (a temporary DNS failure defers), not a
    // downgrade to "no policy".
    let stepped = sts.step(&name("new.example"), Discovery::TemporaryFailure, t(DAY0));
    assert_eq!(stepped.step, CacheStep::Done(StsLookup::TemporaryFailure));
    assert!(sts.store_failing());
}

/// A loopback "server" that accepts and answers each connection with `reply` (or nothing).
fn fake_server(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(reply);
                // Hold the connection open, silent, until the client gives up.
                let _ = conn.read(&mut buf);
            });
        }
    });
    addr
}

#[test]
fn a_silent_redis_times_out_typed() {
    let addr = fake_server(b"");
    let store = RedisStore::new(
        addr,
        RedisOptions::default().with_timeout(Duration::from_millis(200)),
    );
    let err = store.sts_policy(&name("example.com")).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
}

#[test]
fn a_hostile_redis_reply_is_an_error_not_a_crash() {
    for reply in [
        &b"$99999999999\r\n"[..],
        b"*3\r\n$1\r\nx\r\n",
        b"HTTP/1.1 400 Bad\r\n\r\n",
    ] {
        let addr = fake_server(reply);
        let store = RedisStore::new(
            addr,
            RedisOptions::default().with_timeout(Duration::from_millis(500)),
        );
        let err = store.sts_policy(&name("example.com")).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unavailable { .. } | StoreError::BadRecord { .. }
            ),
            "{err}"
        );
    }
}

#[test]
fn a_newer_redis_schema_is_refused() {
    let Some(store) = redis("schema") else { return };
    let key = format!("test:{}:schema:schema", std::process::id());
    let url = redis_url();
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(format!("SET {key} 99\r\n").as_bytes())
        .unwrap();
    let mut ok = [0u8; 5];
    raw.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let err = store.check_schema().unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    raw.write_all(format!("DEL {key}\r\n").as_bytes()).unwrap();
}
