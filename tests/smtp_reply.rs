//! Reply parser and encoder: valid and hostile vectors, every split, every bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::smtp::{Code, EnhancedCode, Reply, ReplyConfig, ReplyError, ReplyParser};

/// (code, enhanced, text lines joined with '\n')
type Expected = (u16, Option<&'static str>, &'static str);

/// Feeds `chunks` one after another; returns the replies, and the bytes left after the last
/// complete reply (unconsumed input of the last call plus whatever the parser holds).
fn run(config: ReplyConfig, chunks: &[&[u8]]) -> Result<(Vec<Reply>, usize), ReplyError> {
    let mut parser = ReplyParser::new(config);
    let mut replies = Vec::new();
    for chunk in chunks {
        let mut at = 0;
        loop {
            let step = parser.feed(&chunk[at..])?;
            at += step.consumed;
            match step.item {
                Some(r) => replies.push(r),
                None => {
                    assert_eq!(at, chunk.len(), "no reply means all input taken");
                    break;
                }
            }
            if at == chunk.len() {
                break;
            }
        }
    }
    Ok((replies, parser.buffered()))
}

fn check(replies: &[Reply], expected: &[Expected]) {
    assert_eq!(replies.len(), expected.len());
    for (r, (code, enh, text)) in replies.iter().zip(expected) {
        assert_eq!(r.code().as_u16(), *code);
        assert_eq!(
            r.enhanced(),
            enh.map(|e| e.parse::<EnhancedCode>().unwrap())
        );
        assert_eq!(r.text(), *text);
    }
}

const VALID: &[(&[u8], &[Expected], usize)] = &[
    (
        b"220 mx.example.org ESMTP\r\n",
        &[(220, None, "mx.example.org ESMTP")],
        0,
    ),
    (b"250\r\n", &[(250, None, "")], 0),
    (b"250 \r\n", &[(250, None, "")], 0),
    (b"250-\r\n250\r\n", &[(250, None, "\n")], 0),
    (
        b"250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
        &[(250, None, "mx.example.org\nPIPELINING\nSTARTTLS")],
        0,
    ),
    (
        b"530 5.7.0 Must issue a STARTTLS command first\r\n",
        &[(530, Some("5.7.0"), "Must issue a STARTTLS command first")],
        0,
    ),
    (
        b"550-5.7.1 Relaying\r\n550 5.7.1 denied\r\n",
        &[(550, Some("5.7.1"), "Relaying\ndenied")],
        0,
    ),
    (b"250 2.0.0\r\n", &[(250, Some("2.0.0"), "")], 0),
    // Enhanced class must match the reply class: kept as text.
    (b"250 5.0.0 odd\r\n", &[(250, None, "5.0.0 odd")], 0),
    // Not followed by SP: kept as text.
    (b"250 2.0.0x\r\n", &[(250, None, "2.0.0x")], 0),
    // Leading zero: not an enhanced code.
    (b"250 2.01.0 x\r\n", &[(250, None, "2.01.0 x")], 0),
    // Enhanced codes that disagree across lines: all kept as text.
    (
        b"550-5.7.1 a\r\n550 5.7.2 b\r\n",
        &[(550, None, "5.7.1 a\n5.7.2 b")],
        0,
    ),
    (b"550-5.7.1 a\r\n550 b\r\n", &[(550, None, "5.7.1 a\nb")], 0),
    // UTF-8 and HT in text.
    (
        "250 h\u{e9}llo\tw\u{f6}rld \u{1f600}\r\n".as_bytes(),
        &[(250, None, "h\u{e9}llo\tw\u{f6}rld \u{1f600}")],
        0,
    ),
    // Several replies in one read.
    (
        b"250 ok\r\n354 go\r\n421 4.3.2 bye\r\n",
        &[
            (250, None, "ok"),
            (354, None, "go"),
            (421, Some("4.3.2"), "bye"),
        ],
        0,
    ),
    // A partial reply after complete ones is held.
    (b"250 ok\r\n250-a\r\n250 b", &[(250, None, "ok")], 5),
];

#[test]
fn valid_vectors_in_one_piece() {
    for (input, expected, held) in VALID {
        let (replies, buffered) = run(ReplyConfig::default(), &[input]).unwrap();
        check(&replies, expected);
        assert_eq!(buffered, *held, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn valid_vectors_split_at_every_boundary() {
    for (input, expected, _) in VALID {
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            let (replies, _) = run(ReplyConfig::default(), &[a, b]).unwrap();
            check(&replies, expected);
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (replies, _) = run(ReplyConfig::default(), &bytes).unwrap();
        check(&replies, expected);
    }
}

#[test]
fn starttls_go_ahead_leaves_injected_bytes_visible() {
    for (read, leftover) in [
        (&b"220 go\r\n250 injected\r\n"[..], &b"250 injected\r\n"[..]),
        (b"220 go\r\n250 inj", b"250 inj"),
        (
            b"220 2.0.0 Ready to start TLS\r\n\x16\x03\x01",
            b"\x16\x03\x01",
        ),
        (b"220 go\r\n", b""),
    ] {
        let mut parser = ReplyParser::default();
        let step = parser.feed(read).unwrap();
        assert_eq!(step.item.unwrap().code(), Code::SERVICE_READY);
        assert_eq!(&read[step.consumed..], leftover);
        assert_eq!(parser.buffered(), 0);
        assert!(!parser.in_progress());
    }
    // A fragment that arrived with the previous read is held, and shows as buffered.
    let mut parser = ReplyParser::default();
    let step = parser.feed(b"220-go\r\n").unwrap();
    assert_eq!(step.item, None);
    assert!(parser.in_progress());
}

#[test]
fn hostile_vectors() {
    let cfg = ReplyConfig::default();
    let cases: &[(&[u8], ReplyError)] = &[
        (
            b"25\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "25".into(),
            },
        ),
        (
            b"abc ok\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "abc".into(),
            },
        ),
        (
            b"199 ok\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "199".into(),
            },
        ),
        (
            b"260 ok\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "260".into(),
            },
        ),
        (
            b"620 ok\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "620".into(),
            },
        ),
        (
            b"250_ok\r\n",
            ReplyError::InvalidSeparator {
                line: 1,
                found: b'_',
            },
        ),
        (
            b"2500 ok\r\n",
            ReplyError::InvalidSeparator {
                line: 1,
                found: b'0',
            },
        ),
        (
            b"250-a\r\n251 b\r\n",
            ReplyError::CodeMismatch {
                line: 2,
                expected: Code::new(250).unwrap(),
                found: Code::new(251).unwrap(),
            },
        ),
        (
            b"250-a\r\n250-b\r\n550 c\r\n",
            ReplyError::CodeMismatch {
                line: 3,
                expected: Code::OK,
                found: Code::MAILBOX_UNAVAILABLE,
            },
        ),
        (b"250 ok\n", ReplyError::BareLf { line: 1 }),
        (b"250-a\r\n250 ok\n", ReplyError::BareLf { line: 2 }),
        (b"250 o\rk\r\n", ReplyError::BareCr { line: 1, column: 6 }),
        (b"250 ok\r\r\n", ReplyError::BareCr { line: 1, column: 7 }),
        (
            b"250 o\0k\r\n",
            ReplyError::ForbiddenByte {
                line: 1,
                column: 6,
                byte: 0,
            },
        ),
        (
            b"\0\r\n",
            ReplyError::InvalidCode {
                line: 1,
                found: "\0".into(),
            },
        ),
        (
            b"250 \x1b[31m\r\n",
            ReplyError::ForbiddenByte {
                line: 1,
                column: 5,
                byte: 0x1b,
            },
        ),
        (
            b"250 \x7f\r\n",
            ReplyError::ForbiddenByte {
                line: 1,
                column: 5,
                byte: 0x7f,
            },
        ),
        (
            b"250 ok\xff\r\n",
            ReplyError::InvalidUtf8 { line: 1, column: 7 },
        ),
        (
            b"250 \xc3\r\n",
            ReplyError::InvalidUtf8 { line: 1, column: 5 },
        ),
        (
            b"250-a\r\n250 \xed\xa0\x80\r\n",
            ReplyError::InvalidUtf8 { line: 2, column: 5 },
        ),
    ];
    for (input, err) in cases {
        assert_eq!(
            run(cfg, &[input]).unwrap_err(),
            *err,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        // The same error whatever the split.
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(run(cfg, &[a, b]).unwrap_err(), *err);
        }
    }
}

#[test]
fn bare_lf_accepted_when_lenient() {
    let mut cfg = ReplyConfig::default();
    cfg.allow_bare_lf = true;
    let (replies, _) = run(cfg, &[b"250-a\n250 b\r\n"]).unwrap();
    check(&replies, &[(250, None, "a\nb")]);
    // Still no bare CR.
    assert_eq!(
        run(cfg, &[b"250 a\rb\n"]).unwrap_err(),
        ReplyError::BareCr { line: 1, column: 6 }
    );
}

#[test]
fn line_limit_is_hit_exactly() {
    // 512 octets with CRLF: accepted.
    let ok = format!("250 {}\r\n", "x".repeat(506));
    assert_eq!(ok.len(), 512);
    let (replies, _) = run(ReplyConfig::default(), &[ok.as_bytes()]).unwrap();
    assert_eq!(replies[0].text().len(), 506);
    // 513: refused, split or not, and before the LF arrives.
    let long = format!("250 {}\r\n", "x".repeat(507));
    for cut in [0, 1, 100, 511, 512, 513] {
        let (a, b) = long.as_bytes().split_at(cut);
        assert!(matches!(
            run(ReplyConfig::default(), &[a, b]),
            Err(ReplyError::LineTooLong {
                line: 1,
                limit: 512,
                ..
            })
        ));
    }
    // A CRLF-less flood is refused once the limit is reached, without holding it.
    let mut parser = ReplyParser::default();
    let flood = vec![b'2'; 4096];
    assert_eq!(
        parser.feed(&flood).unwrap_err(),
        ReplyError::LineTooLong {
            line: 1,
            limit: 512
        }
    );
    // Configurable.
    let mut cfg = ReplyConfig::default();
    cfg.max_line_len = 10;
    assert!(run(cfg, &[b"250 abcd\r\n"]).is_ok());
    assert_eq!(
        run(cfg, &[b"250 abcde\r\n"]).unwrap_err(),
        ReplyError::LineTooLong { line: 1, limit: 10 }
    );
    assert_eq!(
        run(cfg, &[b"250-a\r\n250 abcde\r\n"]).unwrap_err(),
        ReplyError::LineTooLong { line: 2, limit: 10 }
    );
}

#[test]
fn lines_per_reply_cap_is_hit_exactly() {
    let reply = |lines: usize| {
        let mut s = "250-x\r\n".repeat(lines - 1);
        s.push_str("250 end\r\n");
        s
    };
    let (replies, _) = run(ReplyConfig::default(), &[reply(128).as_bytes()]).unwrap();
    assert_eq!(replies[0].lines().count(), 128);
    assert_eq!(
        run(ReplyConfig::default(), &[reply(129).as_bytes()]).unwrap_err(),
        ReplyError::TooManyLines { limit: 128 }
    );
    // Thousands of continuation lines, fed a line at a time: refused at line 129.
    let mut parser = ReplyParser::default();
    let mut refused_at = None;
    for i in 1..=5000 {
        if let Err(e) = parser.feed(b"250-continuation\r\n") {
            assert_eq!(e, ReplyError::TooManyLines { limit: 128 });
            refused_at = Some(i);
            break;
        }
    }
    assert_eq!(refused_at, Some(129));
    let mut cfg = ReplyConfig::default();
    cfg.max_lines = 2;
    assert!(run(cfg, &[reply(2).as_bytes()]).is_ok());
    assert_eq!(
        run(cfg, &[reply(3).as_bytes()]).unwrap_err(),
        ReplyError::TooManyLines { limit: 2 }
    );
}

#[test]
fn encoder_vectors() {
    let e = |s: &str| Some(s.parse::<EnhancedCode>().unwrap());
    let cases: &[(u16, Option<EnhancedCode>, &str, &[u8])] = &[
        (
            530,
            e("5.7.0"),
            "Must issue a STARTTLS command first",
            b"530 5.7.0 Must issue a STARTTLS command first\r\n",
        ),
        (
            220,
            None,
            "mx.example.org ESMTP",
            b"220 mx.example.org ESMTP\r\n",
        ),
        (250, None, "a\nb\nc", b"250-a\r\n250-b\r\n250 c\r\n"),
        (250, None, "a\r\nb", b"250-a\r\n250 b\r\n"),
        (
            554,
            e("5.7.1"),
            "no\nway",
            b"554-5.7.1 no\r\n554 5.7.1 way\r\n",
        ),
        (250, None, "", b"250\r\n"),
        (250, e("2.0.0"), "", b"250 2.0.0\r\n"),
        (250, None, "caf\u{e9}", "250 caf\u{e9}\r\n".as_bytes()),
    ];
    for (code, enh, text, wire) in cases {
        let reply = Reply::new(Code::new(*code).unwrap(), *enh, text).unwrap();
        assert_eq!(reply.to_bytes(), *wire, "{text:?}");
        // And it parses back to the same reply.
        let (back, _) = run(ReplyConfig::default(), &[wire]).unwrap();
        assert_eq!(back, vec![reply]);
    }
}

#[test]
fn encoder_refuses_what_the_parser_would() {
    let ok = Code::OK;
    assert_eq!(
        Reply::new(ok, None, "a\rb").unwrap_err(),
        ReplyError::BareCr { line: 1, column: 2 }
    );
    assert_eq!(
        Reply::new(ok, None, "a\n\0").unwrap_err(),
        ReplyError::ForbiddenByte {
            line: 2,
            column: 1,
            byte: 0
        }
    );
    assert_eq!(
        Reply::new(ok, EnhancedCode::new(5, 7, 1), "x").unwrap_err(),
        ReplyError::EnhancedClassMismatch {
            code: ok,
            enhanced: EnhancedCode::new(5, 7, 1).unwrap()
        }
    );
    assert!(Reply::new(ok, None, &"x".repeat(506)).is_ok());
    assert_eq!(
        Reply::new(ok, None, &"x".repeat(507)).unwrap_err(),
        ReplyError::LineTooLong {
            line: 1,
            limit: 512
        }
    );
    assert!(Reply::new(ok, None, &vec!["x"; 128].join("\n")).is_ok());
    assert_eq!(
        Reply::new(ok, None, &vec!["x"; 129].join("\n")).unwrap_err(),
        ReplyError::TooManyLines { limit: 128 }
    );
}

proptest::proptest! {
    #[test]
    fn encode_then_parse_is_identity(
        code in 200u16..560,
        lines in proptest::collection::vec("[ -~\u{e0}-\u{ff}]{0,40}", 1..6),
        enh in proptest::option::of((0u16..1000, 0u16..1000)),
    ) {
        let Some(code) = Code::new(code) else { return Ok(()) };
        let enhanced = enh.and_then(|(s, d)| EnhancedCode::new(code.first_digit(), s, d));
        // Text that itself starts with an enhanced code would be read as one: skip it.
        let lines: Vec<String> = lines.into_iter().map(|l| l.trim_start_matches(|c: char| c.is_ascii_digit()).to_owned()).collect();
        let reply = Reply::from_lines(code, enhanced, &lines).unwrap();
        let wire = reply.to_bytes();
        let (back, held) = run(ReplyConfig::default(), &[&wire]).unwrap();
        proptest::prop_assert_eq!(held, 0);
        proptest::prop_assert_eq!(back, vec![reply]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
        cut in 0usize..2000,
    ) {
        let mut parser = ReplyParser::default();
        let cut = cut.min(data.len());
        for chunk in [&data[..cut], &data[cut..]] {
            let mut at = 0;
            while at < chunk.len() {
                match parser.feed(&chunk[at..]) {
                    Ok(step) => {
                        proptest::prop_assert!(step.consumed > 0);
                        at += step.consumed;
                    }
                    Err(_) => break,
                }
                proptest::prop_assert!(parser.buffered() < 512);
            }
        }
    }
}
