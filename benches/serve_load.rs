//! Inbound load (issue 19, goal 6): many concurrent STARTTLS sessions against `mailtls serve`
//! and against a real Postfix smtpd on the same machine, side by side, with the crate's own
//! tokio client as the load generator.
//!
//! Each session is a new connection: greeting, EHLO, STARTTLS, TLS handshake, EHLO, one
//! message of 1 KiB to one recipient, QUIT, at the `may` level (encrypted, certificate not
//! verified). `--concurrency` sessions run at once (500 by default) until `--sessions` have
//! run (2000 by default); every target gets the same load in turn, `--rounds` times,
//! alternating. Printed per target: sessions per second, the median, p99 and largest session
//! time, and the failures (a refused greeting, a timeout, a message not taken, no TLS).
//!
//! ```sh
//! # the server under test (any Maildir; limits above the load so nobody is turned away)
//! target/release/mailtls serve --listen 127.0.0.1:2570 --cert target/peers/pki/server-good.chain.pem \
//!     --key target/peers/pki/server-good.key.pem --maildir /tmp/load-maildir \
//!     --hostname mx.partner.test --max-connections 2000 --max-per-client 2000 2>/dev/null &
//! # against it and against the CI peers' Postfix `good` instance (PEERS_POSTFIX_GOOD_PORT)
//! MAILTLS_PEERS_ENV=/work/main/target/peers/peers.env \
//!     cargo bench --features tokio --bench serve_load -- --target mailtls=127.0.0.1:2570
//! ```
//!
//! Without any target (no peers file, no `--target`) the bench says so and exits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailtls::client::{ClientSettings, Delivery, Envelope, PlanVerifiers};
use mailtls::io::{tokio as aio, Connector, Message};
use mailtls::policy::{explain, Destination, OutboundPolicy, Plan};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};

const MX: &str = "mx.partner.test";
/// How long any one reply may take before the session counts as timed out.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

struct Load {
    concurrency: usize,
    sessions: usize,
    plan: Plan,
    settings: ClientSettings,
    message: Message,
}

#[derive(Default)]
struct Outcome {
    times: Vec<Duration>,
    failures: BTreeMap<String, usize>,
    elapsed: Duration,
}

impl Outcome {
    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn rate(&self) -> f64 {
        self.times.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, name: &str) {
        let failed: usize = self.failures.values().sum();
        println!(
            "{name:>8}: {:>5} sessions ok, {failed} failed, in {:>7.2} s = {:>6.1} msg/s; \
             median {:>7.1} ms, p99 {:>7.1} ms, max {:>7.1} ms",
            self.times.len(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.quantile(1.0)),
        );
        for (why, count) in &self.failures {
            println!("{name:>8}:   {count} x {why}");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let values = |flag: &str| -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    };
    let number = |flag: &str, default: usize| {
        values(flag)
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let mut targets: Vec<(String, SocketAddr)> = Vec::new();
    if let Some(addr) = postfix_from_peers() {
        targets.push(("postfix".to_owned(), addr));
    }
    for target in values("--target") {
        let (name, addr) = target
            .split_once('=')
            .unwrap_or_else(|| panic!("--target {target}: NAME=ADDR:PORT"));
        targets.push((
            name.to_owned(),
            addr.parse().expect("--target NAME=ADDR:PORT"),
        ));
    }
    if targets.is_empty() {
        println!("serve_load: no target (MAILTLS_PEERS_ENV or --target NAME=ADDR:PORT)");
        return;
    }
    let load = Arc::new(load(
        number("--concurrency", 500),
        number("--sessions", 2000),
    ));
    let rounds = number("--rounds", 1);
    println!(
        "serve_load: {} sessions per target and round, {} at once, {rounds} round(s)",
        load.sessions, load.concurrency
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut outcomes: Vec<Outcome> = targets.iter().map(|_| Outcome::default()).collect();
    for _ in 0..rounds {
        for ((name, addr), total) in targets.iter().zip(&mut outcomes) {
            let outcome = runtime.block_on(run(Arc::clone(&load), *addr));
            outcome.print(name);
            total.times.extend(outcome.times);
            total.elapsed += outcome.elapsed;
            for (why, count) in outcome.failures {
                *total.failures.entry(why).or_default() += count;
            }
        }
    }
    if rounds > 1 {
        println!("all rounds:");
        for ((name, _), outcome) in targets.iter().zip(&outcomes) {
            outcome.print(name);
        }
    }
    if let [first, .., last] = &outcomes[..] {
        println!(
            "ratio {} / {}: throughput {:.2}x, p99 {:.2}x (below 1 is faster)",
            targets.last().map_or("", |t| t.0.as_str()),
            targets[0].0,
            last.rate() / first.rate(),
            last.quantile(0.99).as_secs_f64() / first.quantile(0.99).as_secs_f64(),
        );
    }
}

fn load(concurrency: usize, sessions: usize) -> Load {
    let destination = Destination::domain("partner.test", [MX]).unwrap();
    let plan = explain(&OutboundPolicy::new(), &destination);
    let mut settings = ClientSettings::new("load.mailtls.test").unwrap();
    let timeouts = &mut settings.timeouts;
    for timeout in [
        &mut timeouts.greeting,
        &mut timeouts.ehlo,
        &mut timeouts.starttls,
        &mut timeouts.mail,
        &mut timeouts.rcpt,
        &mut timeouts.data_init,
        &mut timeouts.data_block,
        &mut timeouts.data_end,
        &mut timeouts.other,
    ] {
        *timeout = REPLY_TIMEOUT;
    }
    let mut content = b"Subject: load\r\nFrom: <load@mailtls.test>\r\n\r\n".to_vec();
    while content.len() < 1024 {
        content.extend_from_slice(b"The quick brown fox jumps over the lazy dog.\r\n");
    }
    let message = Message {
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse("load@mailtls.test").unwrap()),
            vec![ForwardPath::Mailbox(
                Mailbox::parse("rcpt@partner.test").unwrap(),
            )],
        ),
        content,
    };
    Load {
        concurrency,
        sessions,
        plan,
        settings,
        message,
    }
}

/// `load.sessions` sessions against `addr`, `load.concurrency` at once.
async fn run(load: Arc<Load>, addr: SocketAddr) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let started = Instant::now();
    let workers: Vec<_> = (0..load.concurrency)
        .map(|_| {
            let (load, next, outcome) =
                (Arc::clone(&load), Arc::clone(&next), Arc::clone(&outcome));
            tokio::spawn(async move {
                let connector = Connector::new()
                    .with_connect_timeout(REPLY_TIMEOUT)
                    .route(MX, addr);
                while next.fetch_add(1, Ordering::Relaxed) < load.sessions {
                    let mut delivery = Delivery::from_plan(
                        load.settings.clone(),
                        load.plan.clone(),
                        Arc::new(PlanVerifiers::default()),
                    );
                    let t = Instant::now();
                    let report = aio::deliver(
                        &mut delivery,
                        std::slice::from_ref(&load.message),
                        &connector,
                    )
                    .await;
                    let took = t.elapsed();
                    let failure = if !report.all_accepted() {
                        Some(
                            report
                                .outcome
                                .as_ref()
                                .map_or_else(|| "no outcome".to_owned(), |o| o.to_string()),
                        )
                    } else if report.attempts.iter().any(|a| a.tls.is_none()) {
                        Some("delivered without TLS".to_owned())
                    } else {
                        None
                    };
                    let mut outcome = outcome.lock().unwrap();
                    match failure {
                        None => outcome.times.push(took),
                        Some(why) => *outcome.failures.entry(why).or_default() += 1,
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let mut outcome = std::mem::take(&mut *outcome.lock().unwrap());
    outcome.elapsed = started.elapsed();
    outcome
}

/// The CI peers' Postfix `good` instance, from `MAILTLS_PEERS_ENV`.
fn postfix_from_peers() -> Option<SocketAddr> {
    let text = std::fs::read_to_string(std::env::var("MAILTLS_PEERS_ENV").ok()?).ok()?;
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    let host = value("PEERS_HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    format!("{host}:{}", value("PEERS_POSTFIX_GOOD_PORT")?)
        .parse()
        .ok()
}
