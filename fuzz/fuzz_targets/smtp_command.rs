//! Command parser: any split gives the same commands, bytes after a command are never
//! taken, and every parsed command encodes to a line that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::smtp::{Command, CommandError, CommandParser};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,.;@[] \r\n";
const WORDS: &[&[u8]] = &[
    b"EHLO ", b"HELO ", b"MAIL FROM:", b"RCPT TO:", b"DATA", b"RSET", b"NOOP", b"QUIT",
    b"VRFY ", b"HELP", b"AUTH PLAIN ", b"STARTTLS", b"\r\n", b"<>", b"<Postmaster>",
    b" SIZE=", b" BODY=8BITMIME", b" SMTPUTF8", b" REQUIRETLS", b"[IPv6:", b"[192.0.2.1]",
    b"\"", b"\\", b"\n", b"\r", b"\0", b"\xce\xb4", b"\xff", b"example.org", b"@",
];

fn shape(data: &[u8]) -> (Vec<u8>, usize) {
    let Some((&mode, rest)) = data.split_first() else { return (Vec::new(), 0) };
    let Some((&cut, rest)) = rest.split_first() else { return (Vec::new(), 0) };
    let input = if mode & 1 == 1 {
        rest.to_vec()
    } else {
        let mut out = Vec::with_capacity(rest.len() * 4);
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

fn run(chunks: &[&[u8]]) -> Vec<Result<Command, CommandError>> {
    let mut parser = CommandParser::default();
    let mut items = Vec::new();
    for chunk in chunks {
        let mut at = 0;
        while at < chunk.len() {
            let step = parser.feed(&chunk[at..]);
            assert!(step.consumed > 0 && at + step.consumed <= chunk.len());
            at += step.consumed;
            if let Some(Ok(_)) = &step.item {
                assert_eq!(parser.buffered(), 0);
                // A complete command ends right after an LF.
                assert_eq!(chunk.get(at - 1), Some(&b'\n'));
            }
            items.extend(step.item);
            assert!(parser.buffered() < 512);
        }
    }
    items
}

fuzz_target!(|data: &[u8]| {
    let (input, cut) = shape(data);
    let whole = run(&[&input]);
    let (a, b) = input.split_at(cut);
    assert_eq!(run(&[a, b]), whole);
    for cmd in whole.iter().flatten() {
        let wire = cmd.to_bytes();
        let line = wire.strip_suffix(b"\r\n").expect("encoder ends lines with CRLF");
        assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        assert_eq!(Command::parse(line).as_ref(), Ok(cmd));
    }
});
