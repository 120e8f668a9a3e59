//! Command parser and encoder: valid and hostile vectors, every split, every bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::smtp::{
    AddressLiteral, Argument, AuthMechanism, Body, Command, CommandConfig, CommandError,
    CommandParser, ForwardPath, Host, InitialResponse, MailParams, Mailbox, Param, ParamError,
    PathError, ReversePath, Verb,
};

fn host(s: &str) -> Host {
    Host::parse(s).unwrap()
}

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

/// (line without CRLF, expected command, canonical encoding without CRLF)
fn valid() -> Vec<(&'static str, Command, &'static str)> {
    let mail = |from: ReversePath, params: MailParams| Command::Mail { from, params };
    vec![
        (
            "EHLO client.example.org",
            Command::Ehlo(host("client.example.org")),
            "EHLO client.example.org",
        ),
        (
            "ehlo Client.Example.ORG",
            Command::Ehlo(host("Client.Example.ORG")),
            "EHLO Client.Example.ORG",
        ),
        (
            "EHLO [192.0.2.1]",
            Command::Ehlo(host("[192.0.2.1]")),
            "EHLO [192.0.2.1]",
        ),
        (
            "EHLO [IPv6:2001:db8::1]",
            Command::Ehlo(host("[IPv6:2001:db8::1]")),
            "EHLO [IPv6:2001:db8::1]",
        ),
        (
            "EhLo [ipv6:2001:DB8:0:0:0:0:0:1]",
            Command::Ehlo(Host::Literal(AddressLiteral::Ipv6(
                "2001:db8::1".parse().unwrap(),
            ))),
            "EHLO [IPv6:2001:db8::1]",
        ),
        ("HELO relay", Command::Helo(host("relay")), "HELO relay"),
        ("STARTTLS", Command::StartTls, "STARTTLS"),
        ("starttls", Command::StartTls, "STARTTLS"),
        ("StartTLS  ", Command::StartTls, "STARTTLS"),
        ("DATA", Command::Data, "DATA"),
        ("RSET", Command::Rset, "RSET"),
        ("QUIT", Command::Quit, "QUIT"),
        ("NOOP", Command::Noop(None), "NOOP"),
        (
            "NOOP hello there",
            Command::Noop(Argument::new("hello there")),
            "NOOP hello there",
        ),
        ("HELP", Command::Help(None), "HELP"),
        (
            "help MAIL",
            Command::Help(Argument::new("MAIL")),
            "HELP MAIL",
        ),
        (
            "VRFY postmaster",
            Command::Vrfy(Argument::new("postmaster").unwrap()),
            "VRFY postmaster",
        ),
        (
            "MAIL FROM:<>",
            mail(ReversePath::Null, MailParams::default()),
            "MAIL FROM:<>",
        ),
        (
            "mail from:<a@b.example>",
            mail(
                ReversePath::Mailbox(mailbox("a@b.example")),
                MailParams::default(),
            ),
            "MAIL FROM:<a@b.example>",
        ),
        (
            "MAIL FROM: <a@b.example>",
            mail(
                ReversePath::Mailbox(mailbox("a@b.example")),
                MailParams::default(),
            ),
            "MAIL FROM:<a@b.example>",
        ),
        (
            "MAIL FROM:<@relay.example:a@b.example>",
            mail(
                ReversePath::Mailbox(mailbox("a@b.example")),
                MailParams::default(),
            ),
            "MAIL FROM:<a@b.example>",
        ),
        (
            "MAIL FROM:<\"john q\"@[192.0.2.7]>",
            mail(
                ReversePath::Mailbox(mailbox("\"john q\"@[192.0.2.7]")),
                MailParams::default(),
            ),
            "MAIL FROM:<\"john q\"@[192.0.2.7]>",
        ),
        (
            "MAIL FROM:<a@b.example> SIZE=12345 BODY=8BITMIME",
            mail(
                ReversePath::Mailbox(mailbox("a@b.example")),
                MailParams {
                    size: Some(12345),
                    body: Some(Body::EightBitMime),
                    ..MailParams::default()
                },
            ),
            "MAIL FROM:<a@b.example> SIZE=12345 BODY=8BITMIME",
        ),
        (
            "MAIL FROM:<> body=binarymime requiretls ENVID=QQ314159 RET=HDRS",
            mail(
                ReversePath::Null,
                MailParams {
                    body: Some(Body::BinaryMime),
                    require_tls: true,
                    other: vec![
                        Param::new("ENVID", Some("QQ314159")).unwrap(),
                        Param::new("RET", Some("HDRS")).unwrap(),
                    ],
                    ..MailParams::default()
                },
            ),
            "MAIL FROM:<> BODY=BINARYMIME REQUIRETLS ENVID=QQ314159 RET=HDRS",
        ),
        (
            "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8 BODY=7BIT",
            mail(
                ReversePath::Mailbox(mailbox("δοκιμή@παράδειγμα.δοκιμή")),
                MailParams {
                    smtputf8: true,
                    body: Some(Body::SevenBit),
                    ..MailParams::default()
                },
            ),
            "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> BODY=7BIT SMTPUTF8",
        ),
        (
            "RCPT TO:<Postmaster>",
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: vec![],
            },
            "RCPT TO:<Postmaster>",
        ),
        (
            "rcpt to:<postmaster>",
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: vec![],
            },
            "RCPT TO:<Postmaster>",
        ),
        (
            "RCPT TO:<postmaster@example.org>",
            Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("postmaster@example.org")),
                params: vec![],
            },
            "RCPT TO:<postmaster@example.org>",
        ),
        (
            "RCPT TO:<x+tag@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2Btag@example.org",
            Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("x+tag@example.org")),
                params: vec![
                    Param::new("NOTIFY", Some("SUCCESS,FAILURE")).unwrap(),
                    Param::new("ORCPT", Some("rfc822;x+2Btag@example.org")).unwrap(),
                ],
            },
            "RCPT TO:<x+tag@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2Btag@example.org",
        ),
        (
            "AUTH PLAIN",
            Command::Auth {
                mechanism: AuthMechanism::new("PLAIN").unwrap(),
                initial_response: None,
            },
            "AUTH PLAIN",
        ),
        (
            "auth plain AGZvbwBiYXI=",
            Command::Auth {
                mechanism: AuthMechanism::new("PLAIN").unwrap(),
                initial_response: InitialResponse::new("AGZvbwBiYXI="),
            },
            "AUTH PLAIN AGZvbwBiYXI=",
        ),
        (
            "AUTH EXTERNAL =",
            Command::Auth {
                mechanism: AuthMechanism::new("EXTERNAL").unwrap(),
                initial_response: InitialResponse::new("="),
            },
            "AUTH EXTERNAL =",
        ),
        (
            "AUTH SCRAM-SHA-256",
            Command::Auth {
                mechanism: AuthMechanism::new("scram-sha-256").unwrap(),
                initial_response: None,
            },
            "AUTH SCRAM-SHA-256",
        ),
    ]
}

#[test]
fn valid_vectors_parse_and_encode() {
    for (line, expected, canonical) in valid() {
        let parsed = Command::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(parsed, expected, "{line}");
        assert_eq!(
            parsed.to_bytes(),
            format!("{canonical}\r\n").into_bytes(),
            "{line}"
        );
        // The encoding parses back to the same command.
        assert_eq!(Command::parse(canonical.as_bytes()).unwrap(), expected);
    }
}

#[test]
fn stream_of_commands_split_at_every_boundary() {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for (line, cmd, _) in valid() {
        stream.extend_from_slice(line.as_bytes());
        stream.extend_from_slice(b"\r\n");
        expected.push(cmd);
    }
    let parse = |chunks: &[&[u8]]| {
        let mut parser = CommandParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut at = 0;
            while at < chunk.len() {
                let step = parser.feed(&chunk[at..]);
                at += step.consumed;
                if let Some(item) = step.item {
                    out.push(item.unwrap());
                }
            }
        }
        assert_eq!(parser.buffered(), 0);
        out
    };
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(parse(&[a, b]), expected, "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(parse(&bytes), expected);
}

#[test]
fn bytes_pipelined_after_starttls_stay_visible() {
    for (read, leftover) in [
        (
            &b"STARTTLS\r\nMAIL FROM:<a@b.example>\r\n"[..],
            &b"MAIL FROM:<a@b.example>\r\n"[..],
        ),
        (b"STARTTLS\r\nRSET", b"RSET"),
        (b"STARTTLS\r\n\x16\x03\x01\x02\x00", b"\x16\x03\x01\x02\x00"),
        (b"STARTTLS\r\n", b""),
    ] {
        let mut parser = CommandParser::default();
        let step = parser.feed(read);
        assert_eq!(step.item, Some(Ok(Command::StartTls)));
        assert_eq!(&read[step.consumed..], leftover);
        assert_eq!(parser.buffered(), 0);
    }
    // Split: STARTTLS arrives in pieces, then with a tail.
    let mut parser = CommandParser::default();
    assert_eq!(parser.feed(b"START").item, None);
    assert_eq!(parser.buffered(), 5);
    let step = parser.feed(b"TLS\r\nQUIT\r\n");
    assert_eq!((step.consumed, step.item), (5, Some(Ok(Command::StartTls))));
}

#[test]
fn hostile_vectors() {
    let syntax = |verb, expected| CommandError::InvalidArgument { verb, expected };
    let cases: Vec<(&[u8], CommandError)> = vec![
        (
            b"XYZZY",
            CommandError::Unrecognised {
                verb: "XYZZY".into(),
            },
        ),
        (b"", CommandError::Unrecognised { verb: "".into() }),
        (b" EHLO x", CommandError::Unrecognised { verb: "".into() }),
        (
            b"EHLOX x",
            CommandError::Unrecognised {
                verb: "EHLOX".into(),
            },
        ),
        (
            b"EXPN list",
            CommandError::Unrecognised {
                verb: "EXPN".into(),
            },
        ),
        (
            b"MAIL\0 FROM:<>",
            CommandError::ForbiddenByte { column: 5, byte: 0 },
        ),
        (
            b"NOOP \x01",
            CommandError::ForbiddenByte { column: 6, byte: 1 },
        ),
        (b"NOOP a\rb", CommandError::BareCr { column: 7 }),
        (b"NOOP \xff", CommandError::InvalidUtf8 { column: 6 }),
        (b"EHLO", syntax(Verb::Ehlo, "a domain or address literal")),
        (
            b"EHLO bad_name",
            CommandError::InvalidAddress {
                verb: Verb::Ehlo,
                reason: PathError::Unexpected {
                    column: 4,
                    found: '_',
                    within: "domain",
                },
            },
        ),
        (
            b"EHLO [300.1.1.1]",
            CommandError::InvalidAddress {
                verb: Verb::Ehlo,
                reason: PathError::BadLiteral {
                    literal: "300.1.1.1".into(),
                },
            },
        ),
        (
            b"HELO a..b",
            CommandError::InvalidAddress {
                verb: Verb::Helo,
                reason: PathError::BadLabel { column: 3 },
            },
        ),
        (b"DATA now", syntax(Verb::Data, "no argument")),
        (b"QUIT please", syntax(Verb::Quit, "no argument")),
        (b"RSET x", syntax(Verb::Rset, "no argument")),
        (b"STARTTLS x", syntax(Verb::StartTls, "no argument")),
        (b"VRFY", syntax(Verb::Vrfy, "VRFY string")),
        (
            b"MAIL",
            syntax(Verb::Mail, "MAIL FROM:<reverse-path> [parameters]"),
        ),
        (
            b"MAIL TO:<a@b>",
            syntax(Verb::Mail, "MAIL FROM:<reverse-path> [parameters]"),
        ),
        (
            b"MAIL FROM:a@b.example",
            CommandError::InvalidAddress {
                verb: Verb::Mail,
                reason: PathError::Unexpected {
                    column: 11,
                    found: 'a',
                    within: "'<' opening the path",
                },
            },
        ),
        (
            b"MAIL FROM:<a@b.example",
            CommandError::InvalidAddress {
                verb: Verb::Mail,
                reason: PathError::End {
                    expected: "'>' closing the path",
                },
            },
        ),
        (
            b"MAIL FROM:<a@b.example>SIZE=1",
            syntax(Verb::Mail, "SP between the path and the parameters"),
        ),
        (
            b"MAIL FROM:  <a@b.example>",
            CommandError::InvalidAddress {
                verb: Verb::Mail,
                reason: PathError::Unexpected {
                    column: 12,
                    found: ' ',
                    within: "'<' opening the path",
                },
            },
        ),
        (
            b"MAIL FROM:<a@b.example> SIZE=x",
            CommandError::InvalidParameter {
                verb: Verb::Mail,
                reason: ParamError::InvalidValue {
                    keyword: "SIZE".into(),
                    expected: "a size in octets",
                },
            },
        ),
        (
            // One more than u64::MAX: refused, not wrapped.
            b"MAIL FROM:<a@b.example> SIZE=18446744073709551616",
            CommandError::InvalidParameter {
                verb: Verb::Mail,
                reason: ParamError::InvalidValue {
                    keyword: "SIZE".into(),
                    expected: "a size in octets",
                },
            },
        ),
        (
            b"MAIL FROM:<a@b.example> SIZE=+1",
            CommandError::InvalidParameter {
                verb: Verb::Mail,
                reason: ParamError::InvalidValue {
                    keyword: "SIZE".into(),
                    expected: "a size in octets",
                },
            },
        ),
        (
            b"MAIL FROM:<a@b.example>  SIZE=1",
            CommandError::InvalidParameter {
                verb: Verb::Mail,
                reason: ParamError::InvalidKeyword { keyword: "".into() },
            },
        ),
        (
            b"MAIL FROM:<a@b.example> BODY=8BITMIME BODY=7BIT",
            CommandError::InvalidParameter {
                verb: Verb::Mail,
                reason: ParamError::Duplicate {
                    keyword: "BODY".into(),
                },
            },
        ),
        (
            "MAIL FROM:<δ@example.org>".as_bytes(),
            CommandError::Utf8WithoutSmtputf8,
        ),
        (
            b"RCPT TO:<>",
            CommandError::InvalidAddress {
                verb: Verb::Rcpt,
                reason: PathError::Unexpected {
                    column: 10,
                    found: '>',
                    within: "local part",
                },
            },
        ),
        (
            b"RCPT TO:<a@b> X=",
            CommandError::InvalidParameter {
                verb: Verb::Rcpt,
                reason: ParamError::InvalidValue {
                    keyword: "X".into(),
                    expected: "printable characters other than '=' and space",
                },
            },
        ),
        (
            b"RCPT FROM:<a@b>",
            syntax(Verb::Rcpt, "RCPT TO:<forward-path> [parameters]"),
        ),
        (
            b"AUTH",
            syntax(Verb::Auth, "AUTH mechanism [initial-response]"),
        ),
        (b"AUTH PL@IN", syntax(Verb::Auth, "a SASL mechanism name")),
        (
            b"AUTH ABCDEFGHIJKLMNOPQRSTU",
            syntax(Verb::Auth, "a SASL mechanism name"),
        ),
        (
            b"AUTH PLAIN not*base64",
            syntax(Verb::Auth, "a base64 initial response or '='"),
        ),
        (
            b"AUTH PLAIN abc===",
            syntax(Verb::Auth, "a base64 initial response or '='"),
        ),
    ];
    for (line, err) in cases {
        let got = Command::parse(line).unwrap_err();
        assert_eq!(got, err, "{:?}", String::from_utf8_lossy(line));
        // Through the stream parser the same error comes out, and the line is consumed.
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\nQUIT\r\n");
        let mut parser = CommandParser::default();
        let step = parser.feed(&wire);
        assert_eq!(step.item, Some(Err(err)));
        assert_eq!(&wire[step.consumed..], b"QUIT\r\n");
    }
}

#[test]
fn error_replies() {
    for (line, code, enhanced) in [
        (&b"XYZZY"[..], 500, "5.5.1"),
        (b"NOOP \x00", 500, "5.5.2"),
        (b"EHLO", 501, "5.5.4"),
        (b"EHLO a_b", 501, "5.5.4"),
        (b"MAIL FROM:<a>", 501, "5.1.7"),
        (b"RCPT TO:<a>", 501, "5.1.3"),
        (b"MAIL FROM:<> SIZE=a", 501, "5.5.4"),
        ("MAIL FROM:<é@x.example>".as_bytes(), 553, "5.6.7"),
    ] {
        let err = Command::parse(line).unwrap_err();
        assert_eq!(err.reply_code().as_u16(), code, "{err}");
        assert_eq!(err.enhanced_code().to_string(), enhanced, "{err}");
        let reply = err.reply();
        assert_eq!(reply.code(), err.reply_code());
        let wire = reply.to_bytes();
        assert!(wire.starts_with(format!("{code} {enhanced} ").as_bytes()));
        // Fixed text: nothing of the peer's line is echoed.
        assert!(!String::from_utf8_lossy(&wire).contains("XYZZY"));
    }
    let parser_errors = [
        CommandError::BareLf,
        CommandError::LineTooLong { limit: 512 },
    ];
    for err in parser_errors {
        assert_eq!(err.reply_code().as_u16(), 500);
        assert_eq!(err.reply().to_bytes()[..10], *b"500 5.5.2 ");
    }
}

#[test]
fn bare_lf_refused_by_default_and_accepted_when_lenient() {
    let mut parser = CommandParser::default();
    let step = parser.feed(b"QUIT\nRSET\r\n");
    assert_eq!(
        (step.consumed, step.item),
        (5, Some(Err(CommandError::BareLf)))
    );
    let mut cfg = CommandConfig::default();
    cfg.allow_bare_lf = true;
    let mut parser = CommandParser::new(cfg);
    let step = parser.feed(b"QUIT\nRSET\r\n");
    assert_eq!((step.consumed, step.item), (5, Some(Ok(Command::Quit))));
}

#[test]
fn command_line_limit_is_hit_exactly() {
    // 512 octets with CRLF: accepted (a MAIL with a long parameter).
    let mail = |n: usize| format!("MAIL FROM:<a@b.example> X-PAD={}\r\n", "p".repeat(n));
    let pad = 512 - mail(0).len();
    let mut parser = CommandParser::default();
    let input = mail(pad);
    assert_eq!(input.len(), 512);
    let step = parser.feed(input.as_bytes());
    assert!(
        matches!(step.item, Some(Ok(Command::Mail { .. }))),
        "{:?}",
        step.item
    );
    // 513: refused, whatever the split, and the next command still parses.
    let long = mail(pad + 1);
    for cut in [0, 1, 200, 511, 512, 513] {
        let mut wire = long.clone().into_bytes();
        wire.extend_from_slice(b"QUIT\r\n");
        let (a, b) = wire.split_at(cut);
        let mut parser = CommandParser::default();
        let mut items = Vec::new();
        for chunk in [a, b] {
            let mut at = 0;
            while at < chunk.len() {
                let step = parser.feed(&chunk[at..]);
                at += step.consumed;
                items.extend(step.item);
            }
        }
        assert_eq!(items.len(), 2, "cut {cut}: {items:?}");
        assert!(matches!(
            items[0],
            Err(CommandError::LineTooLong { limit: 512, .. })
        ));
        assert_eq!(items[1], Ok(Command::Quit));
    }
    // A CRLF-less flood: refused once, then skipped without being held.
    let mut parser = CommandParser::default();
    let step = parser.feed(&vec![b'A'; 10_000]);
    assert_eq!(
        step.item,
        Some(Err(CommandError::LineTooLong { limit: 512 }))
    );
    for _ in 0..100 {
        let step = parser.feed(&[b'A'; 4096]);
        assert_eq!((step.consumed, step.item), (4096, None));
        assert_eq!(parser.buffered(), 0);
    }
    let step = parser.feed(b"A\r\nQUIT\r\n");
    assert_eq!((step.consumed, step.item), (9, Some(Ok(Command::Quit))));
    // Configurable.
    let mut cfg = CommandConfig::default();
    cfg.max_line_len = 6;
    let mut parser = CommandParser::new(cfg);
    assert_eq!(parser.feed(b"QUIT\r\n").item, Some(Ok(Command::Quit)));
    assert_eq!(
        parser.feed(b"RSET \r\n").item,
        Some(Err(CommandError::LineTooLong { limit: 6 }))
    );
}

#[test]
fn typed_parts_refuse_invalid_text() {
    assert!(Argument::new("a\r\nRSET").is_none());
    assert!(Argument::new("").is_none());
    assert!(Argument::new(" lead").is_none());
    assert!(InitialResponse::new("AAAA\r\n").is_none());
    assert!(InitialResponse::new("").is_none());
    // Padding: at most two `=`, only at the end, never alone but for the empty response.
    assert!(InitialResponse::new("AA==").is_some());
    assert!(InitialResponse::new("==").is_none());
    assert!(InitialResponse::new("A=A=").is_none());
    assert!(InitialResponse::new("A\u{e9}==").is_none());
    assert!(AuthMechanism::new("PLAIN LOGIN").is_none());
    assert!(Param::new("SIZE", Some("1 2")).is_err());
    assert!(Param::new("A B", None).is_err());
    assert!(Mailbox::parse("a@b.example\r\nRCPT TO:<c@d>").is_err());
}

/// Found by the fuzz smoke: the error for an overlong line once reported the octets seen so
/// far, so feeding a line whole or in two pieces gave different errors. Results must not
/// depend on how the peer's bytes were split.
#[test]
fn overlong_line_error_does_not_depend_on_the_split() {
    let line = [b"\n".as_slice(), &[0xF0; 630]].concat();
    let feed_all = |pieces: &[&[u8]]| {
        let mut parser = CommandParser::default();
        let mut items = Vec::new();
        for piece in pieces {
            let mut at = 0;
            while at < piece.len() {
                let step = parser.feed(&piece[at..]);
                at += step.consumed;
                items.extend(step.item);
            }
        }
        items
    };
    let whole = feed_all(&[&line]);
    assert_eq!(
        whole.last(),
        Some(&Err(CommandError::LineTooLong { limit: 512 }))
    );
    for cut in [1, 100, 512, 513, 592, 630] {
        let (a, b) = line.split_at(cut);
        assert_eq!(feed_all(&[a, b]), whole, "split at {cut}");
    }
}
