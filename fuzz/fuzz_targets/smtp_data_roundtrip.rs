//! DATA framing: decode(encode(x)) is x with line ends normalised to CRLF, under any split;
//! the decoder ends data only right after CRLF.CRLF (or `.CRLF` at the very start) and
//! never takes a byte after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::smtp::{BareLineEnds, DataDecoder, DataEncoder, DataStatus};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,.;@[] \r\n";
const WORDS: &[&[u8]] = &[b"\r\n.\r\n", b"\n.\n", b"\r\n.", b".\r\n", b"..", b"\r", b"\n", b"\r\n"];

fn shape(data: &[u8]) -> (Vec<u8>, usize, usize, bool) {
    let [mode, c1, c2, rest @ ..] = data else { return (Vec::new(), 0, 0, false) };
    let input: Vec<u8> = if mode & 1 == 1 {
        rest.to_vec()
    } else {
        rest.iter()
            .flat_map(|&b| {
                if b >= 0xe0 {
                    WORDS[usize::from(b - 0xe0) % WORDS.len()].to_vec()
                } else {
                    vec![ALPHABET[usize::from(b) % ALPHABET.len()]]
                }
            })
            .collect()
    };
    let scale = |c: u8, len: usize| usize::from(c) * len / 255;
    let n = input.len();
    (input, scale(*c1, n), scale(*c2, n), mode & 2 == 2)
}

fn normalise(x: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len() + 2);
    let mut i = 0;
    while let Some(&b) = x.get(i) {
        match (b, x.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            (b'\r' | b'\n', _) => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (input, cut1, cut2, keep) = shape(data);

    // Round trip, with a large enough line limit that no line is refused.
    let limit = input.len() * 2 + 8;
    let mut enc = DataEncoder::new(limit);
    let mut wire = Vec::new();
    let (a, b) = input.split_at(cut1);
    enc.encode(a, &mut wire).expect("within limit");
    enc.encode(b, &mut wire).expect("within limit");
    enc.finish(&mut wire);
    let marker_end = wire.len();
    wire.extend_from_slice(b"QUIT\r\n");
    let mut dec = DataDecoder::new(limit, BareLineEnds::Reject);
    let mut out = Vec::new();
    let cut = cut2.min(wire.len());
    let mut ended = None;
    for (offset, piece) in [(0, &wire[..cut]), (cut, &wire[cut..])] {
        if let DataStatus::End { consumed, result } = dec.decode(piece, &mut out) {
            assert_eq!(result, Ok(()));
            ended = Some(offset + consumed);
            break;
        }
    }
    assert_eq!(ended, Some(marker_end));
    assert_eq!(out, normalise(&input));

    // Untrusted input: data ends exactly at the first CRLF.CRLF (or at a leading `.CRLF`),
    // whatever bare CR/LF precede it, and nothing after it is taken.
    let expected_end = if input.starts_with(b".\r\n") {
        Some(3)
    } else {
        input.windows(5).position(|w| w == b"\r\n.\r\n").map(|p| p + 5)
    };
    let mode = if keep { BareLineEnds::Keep } else { BareLineEnds::Reject };
    let mut dec = DataDecoder::new(1000, mode);
    let mut out = Vec::new();
    let (a, b) = input.split_at(cut1);
    let mut ended = None;
    for (offset, piece) in [(0, a), (cut1, b)] {
        if let DataStatus::End { consumed, .. } = dec.decode(piece, &mut out) {
            ended = Some(offset + consumed);
            break;
        }
    }
    assert_eq!(ended, expected_end);
    assert!(out.len() <= input.len());
});
