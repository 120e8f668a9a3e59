//! The single-pass fast paths (whole printable-ASCII CRLF lines taken straight from the
//! input, and EHLO replies read straight into capabilities) give exactly what the general
//! paths give: on table vectors, on the fuzz seeds and on generated inputs from the fuzz
//! alphabet. Feeding one byte at a time never takes a fast path (no whole line is ever in
//! the input), so comparing it with feeding everything at once compares the two paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::smtp::{
    Command, CommandError, CommandParser, EhloError, EhloReply, Reply, ReplyError, ReplyParser,
};

/// Every reply until the input ends or an error, feeding `chunk` octets at a time.
fn replies(input: &[u8], chunk: usize) -> (Vec<Reply>, Option<ReplyError>, usize) {
    let mut parser = ReplyParser::default();
    let mut out = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let end = (at + chunk).min(input.len());
        let mut piece = &input[at..end];
        while !piece.is_empty() {
            match parser.feed(piece) {
                Ok(step) => {
                    at += step.consumed;
                    piece = &piece[step.consumed..];
                    out.extend(step.item);
                }
                Err(e) => return (out, Some(e), parser.buffered()),
            }
        }
    }
    (out, None, parser.buffered())
}

/// Every command result until the input ends, feeding `chunk` octets at a time.
fn commands(input: &[u8], chunk: usize) -> (Vec<Result<Command, CommandError>>, usize) {
    let mut parser = CommandParser::default();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let mut piece = piece;
        while !piece.is_empty() {
            let step = parser.feed(piece);
            piece = &piece[step.consumed..];
            out.extend(step.item);
        }
    }
    (out, parser.buffered())
}

/// `feed` then `EhloReply::parse`, the general path.
fn ehlo_slow(input: &[u8]) -> Result<(usize, Option<Result<EhloReply, EhloError>>), ReplyError> {
    let step = ReplyParser::default().feed(input)?;
    Ok((step.consumed, step.item.map(|r| EhloReply::parse(&r))))
}

fn ehlo_fast(input: &[u8]) -> Result<(usize, Option<Result<EhloReply, EhloError>>), ReplyError> {
    let step = ReplyParser::default().feed_ehlo(input)?;
    Ok((step.consumed, step.item))
}

fn check(input: &[u8]) {
    assert_eq!(
        replies(input, usize::MAX),
        replies(input, 1),
        "replies {input:?}"
    );
    assert_eq!(
        commands(input, usize::MAX),
        commands(input, 1),
        "commands {input:?}"
    );
    assert_eq!(ehlo_fast(input), ehlo_slow(input), "ehlo {input:?}");
    // After a first reply the EHLO reader starts mid-stream: compare there too.
    if let Ok(step) = ReplyParser::default().feed(input) {
        let rest = &input[step.consumed..];
        assert_eq!(ehlo_fast(rest), ehlo_slow(rest), "ehlo {rest:?}");
    }
}

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

#[test]
fn table_vectors() {
    let long = format!("250 {}\r\n", "a".repeat(508));
    let too_long = format!("250 {}\r\n", "a".repeat(509));
    let many: String = (0..129).map(|_| "250-x\r\n").collect::<String>() + "250 y\r\n";
    let vectors: &[&[u8]] = &[
        EHLO,
        b"220 mx.example.com ESMTP ready\r\n250 2.1.0 Sender OK\r\n",
        b"550-5.1.1 a\r\n550-5.1.1 b\r\n550 5.1.1 c\r\n",
        b"550-5.7.1 a\r\n550-5.7.1\r\n550 5.1.1 b\r\n",
        b"250-2.0.0 mx.example.org\r\n250 2.0.0 PIPELINING\r\n",
        b"250-2.0.0\r\n250 STARTTLS\r\n",
        b"250 2.80.250\r\n",
        b"250-mx\r\n250-SIZE\r\n250-SIZE 99999999999999999999\r\n250 SIZE 1 2\r\n",
        b"250-mx\r\n250-AUTH=LOGIN PLAIN\r\n250-AUTH\r\n250 auth cram-md5 plain\r\n",
        b"250-mx\r\n250-X-FOO  bar\r\n250 X\r\n",
        b"250-mx\r\n250- STARTTLS\r\n250 X\r\n",
        b"250-mx\r\n250-STARTTLS \r\n250 X\r\n",
        b"250-mx\r\n250-AUTH bad!name\r\n250 X\r\n",
        b"250-mx\r\n250-X-FOO\r\n250-x-foo\r\n250 X-FOO\r\n",
        b"250-[192.0.2.1] hi\r\n250 DSN\r\n",
        b"250-[192.0.2.999] hi\r\n250 DSN\r\n",
        b"250-bad_host hi\r\n250 DSN\r\n",
        b"250-mx\r\n251 DSN\r\n",
        b"220-mx\r\n220 DSN\r\n",
        b"250\r\n",
        b"250-\r\n250\r\n",
        b"250-mx\r\n250 \xc3\xa9\r\n",
        b"250-mx\r\n250 a\tb\r\n",
        b"250-mx\r\n250 a\rb\r\n",
        b"250-mx\n250 DSN\r\n",
        b"250-mx\r\n250 DSN\n",
        b"250-mx\r\n250 D\x00SN\r\n",
        b"250-mx\r\n250 D\x7fSN\r\n",
        b"250-mx\r\n250 \xff\r\n",
        b"25",
        b"250-mx\r\n250-DS",
        b"250xmx\r\n",
        b"999 x\r\n",
        long.as_bytes(),
        too_long.as_bytes(),
        many.as_bytes(),
        b"EHLO client.example.org\r\nSTARTTLS\r\nMAIL FROM:<a@b.c> SIZE=12 BODY=8BITMIME\r\n",
        b"RCPT TO:<carol+tag@sub.example.net> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\nQUIT\r\n",
        b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nVRFY bob\r\nNOOP\r\nRSET\r\nXYZZY\r\n",
        b"MAIL FROM:<\xc3\xa9@b.c>\r\nMAIL FROM:<\xc3\xa9@b.c> SMTPUTF8\r\nHELO [IPv6:::1]  \r\n",
        b"MAIL FROM:<a@b.c>\nRCPT TO:<a@b.c>\r\nhelp\tme\r\n",
    ];
    for v in vectors {
        check(v);
    }
    check(too_long.repeat(2).as_bytes());
}

/// The fuzz target's input shaping (fuzz/fuzz_targets/smtp_ehlo.rs).
fn shape(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,.;@[] \r\n";
    const WORDS: &[&[u8]] = &[
        b"250-",
        b"250 ",
        b"\r\n",
        b"STARTTLS",
        b"REQUIRETLS",
        b"PIPELINING",
        b"SIZE ",
        b"SIZE",
        b"8BITMIME",
        b"SMTPUTF8",
        b"ENHANCEDSTATUSCODES",
        b"CHUNKING",
        b"DSN",
        b"AUTH ",
        b"AUTH=",
        b"PLAIN",
        b"LOGIN",
        b"BINARYMIME",
        b"mx.example.org",
        b"[192.0.2.1]",
        b"X-",
        // Not in the fuzz target: enhanced codes and command verbs, for the other parsers.
        b"2.0.0 ",
        b"5.1.1 ",
        b"MAIL FROM:<",
        b"RCPT TO:<",
        b"EHLO ",
        b"\t",
        b"\xc3\xa9",
    ];
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode & 1 == 1 {
        return rest.to_vec();
    }
    let mut out = b"250-".to_vec();
    for &b in rest {
        if b >= 0xe0 {
            out.extend_from_slice(WORDS[usize::from(b - 0xe0) % WORDS.len()]);
        } else {
            out.push(ALPHABET[usize::from(b) % ALPHABET.len()]);
        }
    }
    out
}

#[test]
fn fuzz_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/smtp_ehlo");
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        check(&data);
        check(&shape(&data));
    }
}

#[test]
fn generated_inputs() {
    // A fixed xorshift stream, so failures reproduce.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..4000 {
        let len = (next() % 160) as usize;
        // Mostly words, so that whole valid lines are common.
        let data: Vec<u8> = (0..len)
            .map(|i| {
                let r = next();
                if i == 0 {
                    (r % 2) as u8 * 2
                } else if r % 3 == 0 {
                    (r >> 8) as u8
                } else {
                    0xe0 | ((r >> 8) as u8 & 0x1f)
                }
            })
            .collect();
        check(&shape(&data));
    }
}
