//! Reply parser: any split gives the same result, memory stays bounded, and every parsed
//! reply encodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::smtp::{Reply, ReplyError, ReplyParser};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,.;@[] \r\n";
const WORDS: &[&[u8]] = &[
    b"250", b"250-", b"250 ", b"220 ", b"421 ", b"354 ", b"530 5.7.0 ", b"2.0.0 ", b"5.7.1 ",
    b"\r\n", b"\n", b"\r", b"\0", b"\xc3\xa9", b"\xff", b"\t",
];

/// First byte: bit 0 selects raw (1) or alphabet (0) mode; the second byte picks a split.
fn shape(data: &[u8]) -> (Vec<u8>, usize) {
    let Some((&mode, rest)) = data.split_first() else { return (Vec::new(), 0) };
    let Some((&cut, rest)) = rest.split_first() else { return (Vec::new(), 0) };
    let input = if mode & 1 == 1 {
        rest.to_vec()
    } else {
        let mut out = Vec::with_capacity(rest.len() * 2);
        for &b in rest {
            if b >= 0xe0 {
                out.extend_from_slice(WORDS[usize::from(b - 0xe0) % WORDS.len()]);
            } else {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()]);
            }
        }
        out
    };
    let cut = if input.is_empty() { 0 } else { usize::from(cut) * input.len() / 255 };
    (input, cut)
}

fn run(chunks: &[&[u8]]) -> (Vec<Reply>, Option<ReplyError>) {
    let mut parser = ReplyParser::default();
    let mut replies = Vec::new();
    for chunk in chunks {
        let mut at = 0;
        while at < chunk.len() {
            match parser.feed(&chunk[at..]) {
                Ok(step) => {
                    assert!(step.consumed > 0 && at + step.consumed <= chunk.len());
                    at += step.consumed;
                    if let Some(r) = step.item {
                        assert_eq!(parser.buffered(), 0);
                        replies.push(r);
                    }
                }
                Err(e) => return (replies, Some(e)),
            }
            assert!(parser.buffered() < 512);
        }
    }
    (replies, None)
}

fuzz_target!(|data: &[u8]| {
    let (input, cut) = shape(data);
    let whole = run(&[&input]);
    let (a, b) = input.split_at(cut);
    assert_eq!(run(&[a, b]), whole);
    for reply in &whole.0 {
        let wire = reply.to_bytes();
        let (again, err) = run(&[&wire]);
        assert_eq!(err, None);
        assert_eq!(again.as_slice(), std::slice::from_ref(reply));
    }
});
