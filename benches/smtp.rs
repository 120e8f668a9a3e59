//! SMTP grammar throughput, side by side with smtp-proto on identical input.
//!
//! ```sh
//! cargo bench --bench smtp -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mailtls::smtp::{CommandParser, EhloReply, ReplyParser};
use std::hint::black_box;

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

fn replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("reply_ehlo");
    group.throughput(Throughput::Bytes(EHLO.len() as u64));
    group.bench_function(BenchmarkId::new("mailtls", "reply"), |b| {
        b.iter(|| {
            let mut p = ReplyParser::default();
            black_box(p.feed(black_box(EHLO)).unwrap().item.unwrap())
        })
    });
    group.bench_function(BenchmarkId::new("smtp-proto", "reply"), |b| {
        b.iter(|| {
            let mut r = smtp_proto::response::parser::ResponseReceiver::default();
            black_box(r.parse(&mut black_box(EHLO).iter()).unwrap())
        })
    });
    group.bench_function(BenchmarkId::new("mailtls", "capabilities"), |b| {
        b.iter(|| {
            let mut p = ReplyParser::default();
            let reply = p.feed(black_box(EHLO)).unwrap().item.unwrap();
            black_box(EhloReply::parse(&reply).unwrap())
        })
    });
    group.bench_function(BenchmarkId::new("smtp-proto", "capabilities"), |b| {
        b.iter(|| black_box(smtp_proto::EhloResponse::parse(&mut black_box(EHLO).iter()).unwrap()))
    });
    group.finish();

    let stream = reply_stream();
    let mut group = c.benchmark_group("reply_stream");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("mailtls", |b| {
        b.iter(|| {
            let mut p = ReplyParser::default();
            let mut input = black_box(&stream[..]);
            let mut n = 0;
            while !input.is_empty() {
                let step = p.feed(input).unwrap();
                input = &input[step.consumed..];
                n += usize::from(black_box(step.item).is_some());
            }
            n
        })
    });
    group.bench_function("smtp-proto", |b| {
        b.iter(|| {
            let mut r = smtp_proto::response::parser::ResponseReceiver::default();
            let mut iter = black_box(&stream[..]).iter();
            let mut n = 0;
            while iter.len() > 0 {
                let resp = r.parse(&mut iter).unwrap();
                r.reset();
                black_box(resp);
                n += 1;
            }
            n
        })
    });
    group.finish();
}

fn commands(c: &mut Criterion) {
    let stream = command_stream();
    let mut group = c.benchmark_group("command_stream");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("mailtls", |b| {
        b.iter(|| {
            let mut p = CommandParser::default();
            let mut input = black_box(&stream[..]);
            let mut n = 0;
            while !input.is_empty() {
                let step = p.feed(input);
                input = &input[step.consumed..];
                black_box(step.item.unwrap().unwrap());
                n += 1;
            }
            n
        })
    });
    group.bench_function("smtp-proto", |b| {
        b.iter(|| {
            let mut r = smtp_proto::request::receiver::RequestReceiver::default();
            let mut iter = black_box(&stream[..]).iter();
            let mut n = 0;
            while iter.len() > 0 {
                black_box(r.ingest(&mut iter).unwrap());
                n += 1;
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, replies, commands);
criterion_main!(benches);
