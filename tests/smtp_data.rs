//! DATA dot-stuffing: encoder and decoder vectors, smuggling vectors, every split, limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::smtp::{BareLineEnds, DataDecoder, DataEncoder, DataError, DataStatus};

fn encode(chunks: &[&[u8]]) -> Result<Vec<u8>, DataError> {
    let mut enc = DataEncoder::default();
    let mut out = Vec::new();
    for c in chunks {
        enc.encode(c, &mut out)?;
    }
    enc.finish(&mut out);
    Ok(out)
}

/// Decodes `chunks`; returns (content, Some((bytes after the marker, verdict))) or None
/// when the data did not end.
type Decoded = (Vec<u8>, Option<(Vec<u8>, Result<(), DataError>)>);

fn decode_with(dec: &mut DataDecoder, chunks: &[&[u8]]) -> Decoded {
    let mut out = Vec::new();
    let mut end = None;
    for (i, chunk) in chunks.iter().enumerate() {
        match dec.decode(chunk, &mut out) {
            DataStatus::NeedMore => {}
            DataStatus::End { consumed, result } => {
                let mut rest = chunk[consumed..].to_vec();
                for later in &chunks[i + 1..] {
                    rest.extend_from_slice(later);
                }
                end = Some((rest, result));
                break;
            }
        }
    }
    (out, end)
}

fn decode(chunks: &[&[u8]]) -> Decoded {
    decode_with(&mut DataDecoder::default(), chunks)
}

#[test]
fn encoder_vectors() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"..x\r\n", b"...x\r\n.\r\n"),
        (b"x.\r\n.y", b"x.\r\n..y\r\n.\r\n"),
        // Bare LF and bare CR become CRLF.
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
        (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
        (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
    ];
    for (input, wire) in cases {
        assert_eq!(
            encode(&[input]).unwrap(),
            *wire,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(encode(&[a, b]).unwrap(), *wire);
        }
    }
}

#[test]
fn decoder_vectors() {
    // (wire, content, bytes after the end marker)
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (b".\r\n", b"", b""),
        (b"a\r\n.\r\n", b"a\r\n", b""),
        (b"a\r\n.\r\nQUIT\r\n", b"a\r\n", b"QUIT\r\n"),
        (b"..\r\n.\r\n", b".\r\n", b""),
        (b"...x\r\n.\r\n", b"..x\r\n", b""),
        (b"a\r\n..\r\nb\r\n.\r\nMAIL", b"a\r\n.\r\nb\r\n", b"MAIL"),
        (b".a\r\n.\r\n", b"a\r\n", b""),
        (b"\r\n\r\n.\r\n", b"\r\n\r\n", b""),
        (b"x.\r\n.\r\n", b"x.\r\n", b""),
        // Only the first end marker counts; the rest is the caller's.
        (b".\r\n.\r\n", b"", b".\r\n"),
    ];
    for (wire, content, after) in cases {
        let (out, end) = decode(&[wire]);
        assert_eq!(out, *content, "{:?}", String::from_utf8_lossy(wire));
        assert_eq!(end, Some((after.to_vec(), Ok(()))));
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            assert_eq!(
                decode(&[a, b]),
                (content.to_vec(), Some((after.to_vec(), Ok(())))),
                "cut {cut}"
            );
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode(&bytes).0, *content);
    }
}

#[test]
fn smuggling_markers_never_end_data() {
    // Each of these holds a would-be end marker that is not CRLF.CRLF, then a smuggled
    // command; the real end comes last. None may end early; by default all are refused.
    let cases: &[(&[u8], DataError)] = &[
        (
            b"a\n.\nMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareLf { line: 1 },
        ),
        (
            b"a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareLf { line: 2 },
        ),
        (
            b"a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareLf { line: 1 },
        ),
        (
            b"a\r.\rMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareCr { line: 1 },
        ),
        (
            b"a\r\n.\rMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareCr { line: 2 },
        ),
        (
            b"a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareCr { line: 1 },
        ),
        (
            b"a\r\n.\r\r\nMAIL FROM:<x@y>\r\n.\r\n",
            DataError::BareCr { line: 2 },
        ),
    ];
    for (wire, err) in cases {
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            let (_, end) = decode(&[a, b]);
            assert_eq!(
                end,
                Some((Vec::new(), Err(err.clone()))),
                "{:?} cut {cut}",
                String::from_utf8_lossy(wire)
            );
        }
        // With bare line ends kept, they are content, passed through, and still end nothing.
        let mut dec = DataDecoder::new(1000, BareLineEnds::Keep);
        let (out, end) = decode_with(&mut dec, &[wire]);
        assert_eq!(end, Some((Vec::new(), Ok(()))));
        assert!(
            out.ends_with(b"MAIL FROM:<x@y>\r\n"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
    // Kept content is not rewritten (except for dot-unstuffing at real line starts).
    let mut dec = DataDecoder::new(1000, BareLineEnds::Keep);
    let (out, _) = decode_with(&mut dec, &[b"a\n.\nb\rc\r\n..d\r\n.\r\n"]);
    assert_eq!(out, b"a\n.\nb\rc\r\n.d\r\n");
}

#[test]
fn violation_stops_content_but_keeps_the_stream_in_step() {
    let mut dec = DataDecoder::default();
    let mut out = Vec::new();
    assert_eq!(
        dec.decode(b"good\r\nbad\nmore content\r\n", &mut out),
        DataStatus::NeedMore
    );
    assert_eq!(dec.error(), Some(&DataError::BareLf { line: 2 }));
    assert_eq!(out, b"good\r\nbad");
    let status = dec.decode(b"still more\r\n.\r\nRSET\r\n", &mut out);
    assert_eq!(
        status,
        DataStatus::End {
            consumed: 15,
            result: Err(DataError::BareLf { line: 2 })
        }
    );
    assert_eq!(out, b"good\r\nbad");
    assert!(dec.is_done());
    // After the end nothing more is taken.
    assert_eq!(
        dec.decode(b"RSET\r\n", &mut out),
        DataStatus::End {
            consumed: 0,
            result: Err(DataError::BareLf { line: 2 })
        }
    );
    let reply = DataError::BareLf { line: 2 }.reply().to_bytes();
    assert_eq!(reply, b"554 5.5.2 Bare LF in message\r\n");
}

#[test]
fn text_line_limit_is_hit_exactly() {
    let line = |n: usize| {
        let mut l = vec![b'x'; n];
        l.extend_from_slice(b"\r\n");
        l
    };
    // 1000 octets with CRLF: fine both ways.
    let ok = line(998);
    let wire = encode(&[&ok]).unwrap();
    let (out, end) = decode(&[&wire]);
    assert_eq!((out, end), (ok.clone(), Some((Vec::new(), Ok(())))));
    // 1001: the encoder refuses, the decoder flags it and still finds the end.
    let long = line(999);
    assert_eq!(
        encode(&[&long]).unwrap_err(),
        DataError::LineTooLong {
            line: 1,
            limit: 1000
        }
    );
    let mut wire = b"ok\r\n".to_vec();
    wire.extend_from_slice(&long);
    wire.extend_from_slice(b".\r\nQUIT\r\n");
    let (_, end) = decode(&[&wire]);
    assert_eq!(
        end,
        Some((
            b"QUIT\r\n".to_vec(),
            Err(DataError::LineTooLong {
                line: 2,
                limit: 1000
            })
        ))
    );
    // The stuffing dot counts: 998 octets starting with '.' go out as 999 + CRLF.
    let mut dotted = vec![b'.'; 998];
    dotted.extend_from_slice(b"\r\n");
    assert_eq!(
        encode(&[&dotted]).unwrap_err(),
        DataError::LineTooLong {
            line: 1,
            limit: 1000
        }
    );
    // A CRLF-less flood is flagged without being held.
    let mut dec = DataDecoder::default();
    let mut out = Vec::new();
    for _ in 0..1000 {
        assert_eq!(dec.decode(&[b'z'; 1024], &mut out), DataStatus::NeedMore);
    }
    assert!(out.len() < 1000, "content after the limit is not emitted");
    assert_eq!(
        dec.error(),
        Some(&DataError::LineTooLong {
            line: 1,
            limit: 1000
        })
    );
    // Configurable.
    let mut enc = DataEncoder::new(5);
    let mut out = Vec::new();
    assert!(enc.encode(b"abc\r\n", &mut out).is_ok());
    assert!(enc.encode(b"abcd\r\n", &mut out).is_err());
    let mut dec = DataDecoder::new(5, BareLineEnds::Reject);
    let (_, end) = decode_with(&mut dec, &[b"abc\r\nabcd\r\n.\r\n"]);
    assert_eq!(
        end,
        Some((
            Vec::new(),
            Err(DataError::LineTooLong { line: 2, limit: 5 })
        ))
    );
}

/// Decodes `wire` fed `chunk` octets at a time: content, the first violation, and where the
/// data ended (octets of `wire` up to the marker).
fn decode_split(
    wire: &[u8],
    chunk: usize,
    max: usize,
    bare: BareLineEnds,
) -> (Vec<u8>, Option<DataError>, Option<usize>) {
    let mut dec = DataDecoder::new(max, bare);
    let mut out = Vec::new();
    for (i, piece) in wire.chunks(chunk).enumerate() {
        if let DataStatus::End { consumed, result } = dec.decode(piece, &mut out) {
            return (out, result.err(), Some(i * chunk + consumed));
        }
    }
    (out, dec.error().cloned(), None)
}

/// Encodes `text` fed `chunk` octets at a time: the wire (or how far it got) and the error.
fn encode_split(text: &[u8], chunk: usize, max: usize) -> (Vec<u8>, Option<DataError>) {
    let mut enc = DataEncoder::new(max);
    let mut out = Vec::new();
    for piece in text.chunks(chunk) {
        if let Err(e) = enc.encode(piece, &mut out) {
            return (out, Some(e));
        }
    }
    enc.finish(&mut out);
    (out, None)
}

proptest::proptest! {
    // The whole-line fast paths take lines only when the input holds them in full, so feeding
    // one octet at a time runs the byte-wise steps: every split must give the same result.
    #[test]
    fn decoder_is_the_same_for_every_split(
        wire in proptest::collection::vec(proptest::sample::select(b".\r\nab".to_vec()), 0..120),
        chunk in 1usize..9,
        max in 2usize..12,
        keep in proptest::bool::ANY,
    ) {
        let bare = if keep { BareLineEnds::Keep } else { BareLineEnds::Reject };
        // Content stops at a violation, at a point that depends on the split: compare it
        // only when there is none.
        let seen = |(out, err, end): (Vec<u8>, Option<DataError>, Option<usize>)| {
            (if err.is_none() { out } else { Vec::new() }, err, end)
        };
        let whole = seen(decode_split(&wire, wire.len().max(1), max, bare));
        proptest::prop_assert_eq!(&seen(decode_split(&wire, 1, max, bare)), &whole);
        proptest::prop_assert_eq!(&seen(decode_split(&wire, chunk, max, bare)), &whole);
    }

    #[test]
    fn encoder_is_the_same_for_every_split(
        text in proptest::collection::vec(proptest::sample::select(b".\r\nab".to_vec()), 0..120),
        chunk in 1usize..9,
        max in 2usize..12,
    ) {
        let whole = encode_split(&text, text.len().max(1), max);
        let (one, one_err) = encode_split(&text, 1, max);
        proptest::prop_assert_eq!(&one_err, &whole.1);
        if whole.1.is_none() {
            proptest::prop_assert_eq!(&one, &whole.0);
            proptest::prop_assert_eq!(&encode_split(&text, chunk, max), &whole);
        }
    }
    #[test]
    fn decode_of_encode_is_identity_for_crlf_text(
        lines in proptest::collection::vec("[.a-z \r\n]{0,30}", 0..20),
        cut in 0usize..800,
    ) {
        // Build CRLF-only text (the encoder's identity domain) from arbitrary pieces.
        let text: Vec<u8> = lines
            .iter()
            .flat_map(|l| {
                let mut l = l.replace(['\r', '\n'], "").into_bytes();
                l.extend_from_slice(b"\r\n");
                l
            })
            .collect();
        let wire = encode(&[&text]).unwrap();
        let cut = cut.min(wire.len());
        let (out, end) = decode(&[&wire[..cut], &wire[cut..]]);
        proptest::prop_assert_eq!(out, text);
        proptest::prop_assert_eq!(end, Some((Vec::new(), Ok(()))));
    }

    #[test]
    fn decode_of_encode_normalises_any_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let wire = encode(&[&data]).unwrap();
        // The wire never holds a bare CR or LF, and ends exactly at its marker.
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\n' { proptest::prop_assert_eq!(wire.get(i.wrapping_sub(1)), Some(&b'\r')); }
            if b == b'\r' { proptest::prop_assert_eq!(wire.get(i + 1), Some(&b'\n')); }
        }
        let (out, end) = decode(&[&wire]);
        proptest::prop_assert_eq!(end, Some((Vec::new(), Ok(()))));
        // Expected: every bare CR/LF turned into CRLF, and a final CRLF if missing.
        let mut expected = Vec::new();
        let mut i = 0;
        while i < data.len() {
            match (data[i], data.get(i + 1)) {
                (b'\r', Some(b'\n')) => { expected.extend_from_slice(b"\r\n"); i += 2; }
                (b'\r' | b'\n', _) => { expected.extend_from_slice(b"\r\n"); i += 1; }
                (b, _) => { expected.push(b); i += 1; }
            }
        }
        if !expected.is_empty() && !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        proptest::prop_assert_eq!(out, expected);
    }
}
