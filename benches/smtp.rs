//! SMTP grammar throughput, side by side with smtp-proto on identical input.
//!
//! ```sh
//! cargo bench --bench smtp -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Before criterion runs, the two crates are timed in alternating rounds on each input
//! (mailtls then smtp-proto, then the other way round, and so on); the table printed gives
//! the median of the per-round ratios, so load on a shared machine cancels out. Set
//! `SMTP_BENCH_ROUNDS=0` to skip it.
//!
//! For instruction counts, `SMTP_BENCH_COUNT=<input>:<crate>:<n>` runs one case `n` times and
//! exits (inputs: `reply`, `capabilities`, `reply_stream`, `command_stream`; crates:
//! `mailtls`, `smtp-proto`). Instructions per item are the difference between two runs under
//! callgrind divided by the difference in items:
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/smtp-<hash> 2>&1 | grep refs   # with SMTP_BENCH_COUNT set
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use mailtls::smtp::{CommandParser, ReplyParser};
use std::hint::black_box;
use std::time::Instant;

/// A realistic 12-line EHLO reply (a large provider's, with AUTH and SIZE).
const EHLO: &[u8] = b"250-mx.example.com at your service, [192.0.2.10]\r\n\
250-SIZE 157286400\r\n\
250-8BITMIME\r\n\
250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-PIPELINING\r\n\
250-CHUNKING\r\n\
250-SMTPUTF8\r\n\
250-STARTTLS\r\n\
250-REQUIRETLS\r\n\
250-DSN\r\n\
250 BINARYMIME\r\n";

/// Replies a client sees in a typical pipelined transaction, some multi-line, most with
/// enhanced codes.
fn reply_stream() -> Vec<u8> {
    let one: &[u8] = b"220 mx.example.com ESMTP ready\r\n\
250 2.1.0 Sender OK\r\n\
250 2.1.5 Recipient OK\r\n\
550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
550-5.1.1 double-checking the recipient's email address for typos or\r\n\
550 5.1.1 unnecessary spaces. For more information, go to the help page.\r\n\
354 Go ahead\r\n\
250 2.0.0 OK 1700000000 a1b2c3d4e5f6g7h8 - queued as 4Xyz\r\n\
421 4.7.0 Try again later, closing connection.\r\n\
221 2.0.0 closing connection\r\n";
    let mut v = Vec::new();
    for _ in 0..8 {
        v.extend_from_slice(one);
        v.extend_from_slice(EHLO);
    }
    v
}

/// Commands a server sees from typical clients.
fn command_stream() -> Vec<u8> {
    let one: &[u8] = b"EHLO client.example.org\r\n\
STARTTLS\r\n\
EHLO client.example.org\r\n\
AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n\
MAIL FROM:<alice.sender@example.org> SIZE=123456 BODY=8BITMIME\r\n\
RCPT TO:<bob@example.net>\r\n\
RCPT TO:<carol.recipient+tag@sub.example.net> NOTIFY=SUCCESS,FAILURE\r\n\
RCPT TO:<dave@mail.example.com>\r\n\
DATA\r\n\
RSET\r\n\
MAIL FROM:<> SMTPUTF8\r\n\
RCPT TO:<postmaster@example.net>\r\n\
NOOP\r\n\
VRFY bob\r\n\
QUIT\r\n";
    one.repeat(8)
}

/// One parse of the EHLO reply into a `Reply`; returns the items parsed (1).
fn mailtls_reply(input: &[u8]) -> usize {
    let mut p = ReplyParser::default();
    black_box(p.feed(black_box(input)).unwrap().item.unwrap());
    1
}

fn proto_reply(input: &[u8]) -> usize {
    let mut r = smtp_proto::response::parser::ResponseReceiver::default();
    black_box(r.parse(&mut black_box(input).iter()).unwrap());
    1
}

/// The EHLO reply straight to typed capabilities.
fn mailtls_capabilities(input: &[u8]) -> usize {
    let mut p = ReplyParser::default();
    black_box(
        p.feed_ehlo(black_box(input))
            .unwrap()
            .item
            .unwrap()
            .unwrap(),
    );
    1
}

fn proto_capabilities(input: &[u8]) -> usize {
    black_box(smtp_proto::EhloResponse::parse(&mut black_box(input).iter()).unwrap());
    1
}

/// Every reply in the stream; returns how many.
fn mailtls_reply_stream(stream: &[u8]) -> usize {
    let mut p = ReplyParser::default();
    let mut input = black_box(stream);
    let mut n = 0;
    while !input.is_empty() {
        let step = p.feed(input).unwrap();
        input = &input[step.consumed..];
        n += usize::from(black_box(step.item).is_some());
    }
    n
}

fn proto_reply_stream(stream: &[u8]) -> usize {
    let mut r = smtp_proto::response::parser::ResponseReceiver::default();
    let mut iter = black_box(stream).iter();
    let mut n = 0;
    while iter.len() > 0 {
        let resp = r.parse(&mut iter).unwrap();
        r.reset();
        black_box(resp);
        n += 1;
    }
    n
}

/// Every command in the stream, each to an owned typed value; returns how many.
fn mailtls_command_stream(stream: &[u8]) -> usize {
    let mut p = CommandParser::default();
    let mut input = black_box(stream);
    let mut n = 0;
    while !input.is_empty() {
        let step = p.feed(input);
        input = &input[step.consumed..];
        black_box(step.item.unwrap().unwrap());
        n += 1;
    }
    n
}

fn proto_command_stream(stream: &[u8]) -> usize {
    let mut r = smtp_proto::request::receiver::RequestReceiver::default();
    let mut iter = black_box(stream).iter();
    let mut n = 0;
    while iter.len() > 0 {
        black_box(r.ingest(&mut iter).unwrap());
        n += 1;
    }
    n
}

type Case = fn(&[u8]) -> usize;

/// Each bench input with its mailtls and smtp-proto runners.
fn cases() -> Vec<(&'static str, Vec<u8>, Case, Case)> {
    vec![
        ("reply", EHLO.to_vec(), mailtls_reply, proto_reply),
        (
            "capabilities",
            EHLO.to_vec(),
            mailtls_capabilities,
            proto_capabilities,
        ),
        (
            "reply_stream",
            reply_stream(),
            mailtls_reply_stream,
            proto_reply_stream,
        ),
        (
            "command_stream",
            command_stream(),
            mailtls_command_stream,
            proto_command_stream,
        ),
    ]
}

fn replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("reply_ehlo");
    group.throughput(Throughput::Bytes(EHLO.len() as u64));
    group.bench_function(BenchmarkId::new("mailtls", "reply"), |b| {
        b.iter(|| mailtls_reply(EHLO))
    });
    group.bench_function(BenchmarkId::new("smtp-proto", "reply"), |b| {
        b.iter(|| proto_reply(EHLO))
    });
    group.bench_function(BenchmarkId::new("mailtls", "capabilities"), |b| {
        b.iter(|| mailtls_capabilities(EHLO))
    });
    group.bench_function(BenchmarkId::new("smtp-proto", "capabilities"), |b| {
        b.iter(|| proto_capabilities(EHLO))
    });
    group.finish();

    let stream = reply_stream();
    let mut group = c.benchmark_group("reply_stream");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("mailtls", |b| b.iter(|| mailtls_reply_stream(&stream)));
    group.bench_function("smtp-proto", |b| b.iter(|| proto_reply_stream(&stream)));
    group.finish();
}

fn commands(c: &mut Criterion) {
    let stream = command_stream();
    let mut group = c.benchmark_group("command_stream");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("mailtls", |b| b.iter(|| mailtls_command_stream(&stream)));
    group.bench_function("smtp-proto", |b| b.iter(|| proto_command_stream(&stream)));
    group.finish();
}

/// Nanoseconds for `iters` runs of `f` on `input`.
fn time(f: Case, input: &[u8], iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f(input));
    }
    start.elapsed().as_nanos() as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times both crates in alternating rounds and prints the median per-round ratio.
fn rounds(count: usize) {
    println!(
        "{:<16} {:>8} {:>14} {:>14} {:>22}",
        "input", "items", "mailtls ns/it", "proto ns/it", "proto/mailtls (median)"
    );
    for (name, input, ours, theirs) in cases() {
        let items = ours(&input);
        assert_eq!(
            items,
            theirs(&input),
            "{name}: both crates see the same items"
        );
        // About a millisecond per batch.
        let once = time(ours, &input, 100) / 100.0;
        let iters = ((1_000_000.0 / once.max(1.0)) as u32).max(1);
        let (mut ratios, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..count {
            let (t_ours, t_theirs) = if round % 2 == 0 {
                let o = time(ours, &input, iters);
                (o, time(theirs, &input, iters))
            } else {
                let t = time(theirs, &input, iters);
                (time(ours, &input, iters), t)
            };
            ratios.push(t_theirs / t_ours);
            a.push(t_ours / f64::from(iters) / items as f64);
            b.push(t_theirs / f64::from(iters) / items as f64);
        }
        println!(
            "{name:<16} {items:>8} {:>14.1} {:>14.1} {:>22.2}",
            median(&mut a),
            median(&mut b),
            median(&mut ratios)
        );
    }
}

/// `SMTP_BENCH_COUNT=<input>:<crate>:<n>`: run one case n times (for callgrind).
fn count(spec: &str) {
    let mut parts = spec.split(':');
    let (name, side, n) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap().parse::<u32>().unwrap(),
    );
    let (_, input, ours, theirs) = cases()
        .into_iter()
        .find(|c| c.0 == name)
        .expect("unknown input");
    let f = match side {
        "mailtls" => ours,
        "smtp-proto" => theirs,
        _ => panic!("unknown crate {side}"),
    };
    let mut items = 0;
    for _ in 0..n {
        items += f(&input);
    }
    println!("{name} {side}: {items} items");
}

criterion_group!(benches, replies, commands);

fn main() {
    if let Ok(spec) = std::env::var("SMTP_BENCH_COUNT") {
        count(&spec);
        return;
    }
    let n = std::env::var("SMTP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(41);
    // `cargo test --benches` runs this once in test mode: keep that quick.
    let testing = std::env::args().any(|a| a == "--test" || a == "--list");
    if n > 0 && !testing {
        rounds(n);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
