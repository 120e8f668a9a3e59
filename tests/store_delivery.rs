//! Issue 14's first done-when, end to end: a cached `enforce` MTA-STS policy survives a
//! restart (`mailtls send --state FILE`) and is shared by a fleet (`--state redis://...`);
//! the second process, whose MTA-STS HTTPS endpoint is unreachable, still delivers verified to
//! the right MX and defers (exit 75) on the MX with the wrong certificate. A Redis server that
//! refuses weakens nothing and is said once.
//!
//! Real parts: the lab (knotd, the HTTPS policy server, Postfix with the right and the wrong
//! certificate; `.ci/lab`) and the Redis server `.ci/run` starts (`MAILTLS_REDIS_URL`). Without
//! them the tests print SKIPPED, or fail under CI.
//!
//! Ports of this test: 2591 is a closed port standing for the unreachable MTA-STS endpoint,
//! 2592 one standing for a Redis server that refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use mailtls::io::store::{RedisOptions, RedisStore, SqliteStore};
use mailtls::state::Store;
use serde_json::Value;
use support::lab::{Lab, StsCase};

/// The port no MTA-STS server listens on.
const STS_CLOSED: u16 = 2591;
/// The port no Redis server listens on.
const REDIS_CLOSED: u16 = 2592;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn assert_closed(port: u16) {
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} must be closed for this test"
    );
}

/// The Redis URL under a prefix of this test's own, or `None` (SKIPPED; a failure under CI).
fn redis_url(test: &str) -> Option<String> {
    let base =
        std::env::var("MAILTLS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:2558".into());
    let url = format!("{base}?prefix=delivery:{}:{test}:", std::process::id());
    match RedisStore::from_url(&url, RedisOptions::default())
        .unwrap()
        .check_schema()
    {
        Ok(()) => Some(url),
        Err(e) => {
            assert!(
                !ci(),
                "{test}: no Redis server in CI ({e}); .ci/run starts one"
            );
            eprintln!("SKIPPED {test}: no Redis server ({e})");
            None
        }
    }
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

/// `mailtls send --to rcpt@enforce.sts.test` through the lab's DNS to the MX on `smtp_port`,
/// fetching MTA-STS policies on `sts_port`, with `--state state`.
fn send(lab: &Lab, smtp_port: u16, sts_port: u16, state: &str) -> Run {
    let domain = lab.sts_domain(StsCase::Enforce);
    let output = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["send", "--from", "lab@sender.test", "--to"])
        .arg(format!("rcpt@{domain}"))
        .arg("--resolver")
        .arg(lab.dns().to_string())
        .arg("--trust-anchor")
        .arg(lab.trust_anchor())
        .args(["--port", &smtp_port.to_string()])
        .args(["--sts-port", &sts_port.to_string()])
        .args(["--state", state, "--json"])
        .env("SSL_CERT_FILE", lab.ca_file())
        .env_remove("SSL_CERT_DIR")
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    Run {
        code: output.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

impl Run {
    fn says(&self) -> String {
        format!("exit {}\n{}\n{}", self.code, self.json, self.stderr)
    }

    /// The MTA-STS part of the discovery JSON.
    fn sts(&self) -> &Value {
        &self.json["discovery"]["mta_sts"]
    }

    /// Asserts a verified delivery under the enforce policy.
    fn verified(&self, from_cache: bool) {
        assert_eq!(self.code, 0, "{}", self.says());
        assert_eq!(self.json["outcome"], "verified", "{}", self.says());
        assert_eq!(self.sts()["mode"], "enforce", "{}", self.says());
        assert_eq!(self.sts()["from_cache"], from_cache, "{}", self.says());
    }

    /// Asserts the wrong certificate deferred the message under the cached enforce policy.
    fn deferred_by_cached_policy(&self) {
        assert_eq!(self.code, 75, "{}", self.says());
        assert_eq!(self.sts()["mode"], "enforce", "{}", self.says());
        assert_eq!(self.sts()["from_cache"], true, "{}", self.says());
        assert_eq!(
            self.json["decision"][0]["decided_by"],
            "MTA-STS",
            "{}",
            self.says()
        );
        assert_eq!(
            self.json["result_type"],
            "certificate-host-mismatch",
            "{}",
            self.says()
        );
    }

    /// How many lines on stderr say the store is failing.
    fn store_failures_said(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.contains("\"state-store\"") && l.contains("\"failing\""))
            .count()
    }
}

fn state_file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailtls-store-delivery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{test}.sqlite"));
    let _ = std::fs::remove_file(&path);
    path
}

/// Successful and failed sessions counted for the enforce domain, over every day.
fn counted(store: &dyn Store, domain: &str) -> (u64, u64) {
    let mut ok = 0;
    let mut failed = 0;
    for day in store.report_days().unwrap() {
        if day.policy_domain != domain {
            continue;
        }
        for tally in store.tallies(&day).unwrap() {
            assert_eq!(tally.policy.policy_domain, domain);
            match tally.failure {
                None => ok += tally.count,
                Some(_) => failed += tally.count,
            }
        }
    }
    (ok, failed)
}

#[test]
fn a_cached_enforce_policy_survives_a_restart_in_a_sqlite_file() {
    let Some(lab) = Lab::require("a_cached_enforce_policy_survives_a_restart_in_a_sqlite_file")
    else {
        return;
    };
    assert_closed(STS_CLOSED);
    let file = state_file("restart");
    let state = file.display().to_string();

    // Process 1 fetches the policy, caches it in the file and delivers verified.
    let first = send(&lab, lab.smtp_port(), lab.sts_port(), &state);
    first.verified(false);

    // Process 2 cannot reach the MTA-STS endpoint: the file's policy still applies.
    let good = send(&lab, lab.smtp_port(), STS_CLOSED, &state);
    good.verified(true);
    let wrong = send(&lab, lab.smtp_wrong_port(), STS_CLOSED, &state);
    wrong.deferred_by_cached_policy();

    // Without the file, the same process has no policy and delivers to the wrong certificate:
    // the downgrade the store prevents.
    let fresh = state_file("fresh").display().to_string();
    let downgraded = send(&lab, lab.smtp_wrong_port(), STS_CLOSED, &fresh);
    assert_eq!(downgraded.code, 0, "{}", downgraded.says());
    assert_eq!(
        downgraded.sts()["state"],
        "no-policy",
        "{}",
        downgraded.says()
    );

    // Every session was counted for TLS-RPT: two verified, one certificate failure.
    let store = SqliteStore::open(&file).unwrap();
    let domain = lab.sts_domain(StsCase::Enforce);
    assert_eq!(counted(&store, domain), (2, 1));
    for run in [&first, &good, &wrong] {
        assert_eq!(run.store_failures_said(), 0, "{}", run.says());
    }
}

#[test]
fn a_fleet_shares_the_enforce_policy_through_redis() {
    let Some(lab) = Lab::require("a_fleet_shares_the_enforce_policy_through_redis") else {
        return;
    };
    let Some(url) = redis_url("fleet") else {
        return;
    };
    assert_closed(STS_CLOSED);

    // MTA 1 fetches the policy into Redis.
    let first = send(&lab, lab.smtp_port(), lab.sts_port(), &url);
    first.verified(false);

    // MTA 2 never fetched and cannot: it defers on the wrong certificate with only the
    // policy MTA 1 left in Redis.
    let second = send(&lab, lab.smtp_wrong_port(), STS_CLOSED, &url);
    second.deferred_by_cached_policy();

    let store = RedisStore::from_url(&url, RedisOptions::default()).unwrap();
    assert_eq!(counted(&store, lab.sts_domain(StsCase::Enforce)), (1, 1));
    for run in [&first, &second] {
        assert_eq!(run.store_failures_said(), 0, "{}", run.says());
    }
}

#[test]
fn a_redis_server_that_refuses_weakens_nothing_and_is_said_once() {
    let Some(lab) = Lab::require("a_redis_server_that_refuses_weakens_nothing_and_is_said_once")
    else {
        return;
    };
    assert_closed(REDIS_CLOSED);
    assert_closed(STS_CLOSED);
    let down = format!("redis://127.0.0.1:{REDIS_CLOSED}");

    // A miss with the policy reachable: fetched and enforced, no downgrade for the store's
    // sake; the failure said once though the cache and the outcome recording both fail.
    let wrong = send(&lab, lab.smtp_wrong_port(), lab.sts_port(), &down);
    assert_eq!(wrong.code, 75, "{}", wrong.says());
    assert_eq!(wrong.sts()["mode"], "enforce", "{}", wrong.says());
    assert_eq!(wrong.sts()["from_cache"], false, "{}", wrong.says());
    assert_eq!(wrong.store_failures_said(), 1, "{}", wrong.says());
    assert!(
        wrong.stderr.contains(&format!("127.0.0.1:{REDIS_CLOSED}")),
        "the failure names the server\n{}",
        wrong.says()
    );

    // The right MX: delivered verified, the failure said once.
    let good = send(&lab, lab.smtp_port(), lab.sts_port(), &down);
    good.verified(false);
    assert_eq!(good.store_failures_said(), 1, "{}", good.says());

    // A miss with nothing cached and no policy to fetch: RFC 8461 §5 says deliver as though
    // the domain had no MTA-STS (the store being down changes nothing about that).
    let unknown = send(&lab, lab.smtp_port(), STS_CLOSED, &down);
    assert_eq!(unknown.code, 0, "{}", unknown.says());
    assert_eq!(unknown.sts()["state"], "no-policy", "{}", unknown.says());
    assert_eq!(unknown.store_failures_said(), 1, "{}", unknown.says());
}

#[test]
fn a_state_file_that_is_not_ours_fails_naming_it() {
    let Some(lab) = Lab::require("a_state_file_that_is_not_ours_fails_naming_it") else {
        return;
    };
    let file = state_file("foreign");
    std::fs::write(&file, b"this is not a database, it is a letter\n").unwrap();
    let run = send(
        &lab,
        lab.smtp_port(),
        lab.sts_port(),
        &file.display().to_string(),
    );
    assert_eq!(run.code, 78, "{}", run.says());
    assert!(
        run.stderr.contains(&file.display().to_string()),
        "{}",
        run.says()
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"this is not a database, it is a letter\n"
    );
}

/// The library's delivery path, both adapters, against the lab: `deliver_to_domain` with a
/// [`Mailer::with_state`] and a discoverer over an `StsState` writes the fetched policy, every
/// session outcome and the downgrade memory into one store; a second discoverer that cannot
/// fetch enforces the stored policy (tokio).
#[test]
fn the_library_delivery_path_records_into_the_store_on_both_adapters() {
    use std::sync::Arc;

    use mailtls::client::DeliveryOutcome;
    use mailtls::io::discover::Discoverer;
    use mailtls::io::dns::{
        BlockingResolver, DnsSettings, DnssecSource, HickoryResolver, TrustAnchor,
    };
    use mailtls::io::{blocking, load_trust_anchors, Mailer, Message, StsFetcher};
    use mailtls::names::{DnsName, HostId};
    use mailtls::policy::ladder::Rung;
    use mailtls::policy::mta_sts::StsCache;
    use mailtls::policy::requiretls::MessageTls;
    use mailtls::policy::OutboundPolicy;
    use mailtls::state::StsState;

    let Some(lab) =
        Lab::require("the_library_delivery_path_records_into_the_store_on_both_adapters")
    else {
        return;
    };
    assert_closed(STS_CLOSED);
    let file = state_file("library");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let roots = load_trust_anchors(&[lab.ca_file()]).unwrap();
    let mailer = Mailer::new("client.sender.test", OutboundPolicy::new())
        .unwrap()
        .with_public_roots(roots.clone())
        .with_state(Arc::clone(&store));
    let settings = DnsSettings::new([lab.dns()]).with_dnssec(DnssecSource::Validate(
        TrustAnchor::File(lab.trust_anchor()),
    ));
    let domain = DnsName::parse(lab.sts_domain(StsCase::Enforce)).unwrap();
    let rcpt = format!("rcpt@{domain}");
    let message = |token: &str| {
        Message::new(
            "lab@sender.test",
            [rcpt.as_str()],
            format!("Subject: {token}\r\n\r\nstore delivery\r\n").as_bytes(),
        )
        .unwrap()
    };

    // Blocking: fetches the policy into the store, delivers verified to the right MX.
    let resolver = BlockingResolver::new(&settings).unwrap();
    let fetcher = StsFetcher::new(roots.clone()).with_port(lab.sts_port());
    let mut sts = StsState::new(StsCache::default(), Arc::clone(&store));
    let mut discoverer =
        Discoverer::new(&resolver, &fetcher, &mut sts).with_smtp_port(lab.smtp_port());
    let report = blocking::deliver_to_domain(
        &mailer,
        &mut discoverer,
        &domain,
        &[message("library-blocking")],
        MessageTls::default(),
    )
    .unwrap();
    assert!(report.report.all_accepted(), "{}", report.discovery);
    assert_eq!(discoverer.take_store_notice(), None);
    assert!(store.sts_policy(&domain).unwrap().is_some());
    let mx = HostId::Dns(DnsName::parse(&format!("mx.{domain}")).unwrap());
    assert_eq!(
        store.best_rung(&mx).unwrap().map(|s| s.rung),
        Some(Rung::Modern)
    );
    assert_eq!(counted(&*store, domain.as_str()), (1, 0));

    // Tokio, a fresh process's cache that cannot fetch: the stored policy defers the wrong
    // certificate, and the failure is counted.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let resolver = HickoryResolver::new(&settings).unwrap();
        let fetcher = StsFetcher::new(roots).with_port(STS_CLOSED);
        let mut sts = StsState::new(StsCache::default(), Arc::clone(&store));
        let mut discoverer =
            Discoverer::new(&resolver, &fetcher, &mut sts).with_smtp_port(lab.smtp_wrong_port());
        mailtls::io::tokio::deliver_to_domain(
            &mailer,
            &mut discoverer,
            &domain,
            &[message("library-tokio")],
            MessageTls::default(),
        )
        .await
        .unwrap()
    });
    assert!(
        matches!(report.report.outcome, Some(DeliveryOutcome::Deferred(_))),
        "{}",
        report.discovery
    );
    assert_eq!(counted(&*store, domain.as_str()), (1, 1));
    assert_eq!(mailer.take_store_notice(), None);
}

/// `mailtls policyd --state FILE`: the answer Postfix gets for an MTA-STS domain survives a
/// restart during which the policy cannot be fetched (without the file: `NOTFOUND`, which
/// lets Postfix fall back to its own level).
#[test]
fn policyd_keeps_answering_from_the_state_file_after_a_restart() {
    let Some(lab) = Lab::require("policyd_keeps_answering_from_the_state_file_after_a_restart")
    else {
        return;
    };
    assert_closed(STS_CLOSED);
    let domain = lab.sts_domain(StsCase::Enforce);
    let query = |sts_port: u16, state: Option<&PathBuf>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailtls"));
        cmd.args(["policyd", "--query", domain])
            .arg("--resolver")
            .arg(lab.dns().to_string())
            .arg("--trust-anchor")
            .arg(lab.trust_anchor())
            .args(["--sts-port", &sts_port.to_string()])
            .env("SSL_CERT_FILE", lab.ca_file())
            .env_remove("SSL_CERT_DIR");
        if let Some(state) = state {
            cmd.arg("--state").arg(state);
        }
        let output = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let answer = text
            .lines()
            .find_map(|l| l.strip_prefix("answer: "))
            .unwrap_or_default()
            .to_owned();
        (
            answer,
            format!("{text}{}", String::from_utf8_lossy(&output.stderr)),
        )
    };
    let file = state_file("policyd");
    let secure = format!("OK secure match=mx.{domain}:.{domain} servername=hostname");
    let (first, said) = query(lab.sts_port(), Some(&file));
    assert_eq!(first, secure, "{said}");
    let (restarted, said) = query(STS_CLOSED, Some(&file));
    assert_eq!(restarted, secure, "{said}");
    let (without, said) = query(STS_CLOSED, None);
    assert_eq!(without, "NOTFOUND", "{said}");
}
