//! EHLO replies: parsing never panics, `feed_ehlo` agrees with `feed` then `EhloReply::parse`,
//! and a parsed reply generates a reply that parses back to the same capabilities.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::smtp::{EhloReply, ReplyParser};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,.;@[] \r\n";
const WORDS: &[&[u8]] = &[
    b"250-", b"250 ", b"\r\n", b"STARTTLS", b"REQUIRETLS", b"PIPELINING", b"SIZE ", b"SIZE",
    b"8BITMIME", b"SMTPUTF8", b"ENHANCEDSTATUSCODES", b"CHUNKING", b"DSN", b"AUTH ",
    b"AUTH=", b"PLAIN", b"LOGIN", b"BINARYMIME", b"mx.example.org", b"[192.0.2.1]", b"X-",
];

fn shape(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else { return Vec::new() };
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

fuzz_target!(|data: &[u8]| {
    let input = shape(data);
    // The one-pass EHLO reader gives what the reply parser then EhloReply::parse give.
    let slow = ReplyParser::default()
        .feed(&input)
        .map(|s| (s.consumed, s.item.map(|r| EhloReply::parse(&r))));
    let fast = ReplyParser::default()
        .feed_ehlo(&input)
        .map(|s| (s.consumed, s.item));
    assert_eq!(fast, slow);
    let mut parser = ReplyParser::default();
    let Ok(step) = parser.feed(&input) else { return };
    let Some(reply) = step.item else { return };
    let Ok(ehlo) = EhloReply::parse(&reply) else { return };
    if let Ok(generated) = ehlo.to_reply() {
        let wire = generated.to_bytes();
        let again = ReplyParser::default().feed(&wire).expect("generated reply parses");
        assert_eq!(again.consumed, wire.len());
        let again = EhloReply::parse(&again.item.expect("complete")).expect("generated EHLO parses");
        assert_eq!(again, ehlo);
    }
});
