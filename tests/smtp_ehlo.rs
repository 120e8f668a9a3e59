//! EHLO reply: capabilities parsed, generated, and refused when malformed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mailtls::smtp::{
    AuthMechanism, Capabilities, Code, EhloError, EhloReply, Extension, Host, Reply, ReplyParser,
};

fn reply(wire: &[u8]) -> Reply {
    let step = ReplyParser::default().feed(wire).unwrap();
    assert_eq!(step.consumed, wire.len());
    step.item.unwrap()
}

fn mechs(names: &[&str]) -> Vec<AuthMechanism> {
    names
        .iter()
        .map(|n| AuthMechanism::new(n).unwrap())
        .collect()
}

#[test]
fn capability_vectors() {
    let cases: Vec<(&[u8], Capabilities)> = vec![
        (b"250 mx.example.org\r\n", Capabilities::default()),
        (
            b"250-mx.example.org\r\n250-starttls\r\n250 Pipelining\r\n",
            Capabilities {
                starttls: true,
                pipelining: true,
                ..Capabilities::default()
            },
        ),
        (
            b"250-mx\r\n250-SIZE\r\n250 REQUIRETLS\r\n",
            Capabilities {
                size: Some(0),
                require_tls: true,
                ..Capabilities::default()
            },
        ),
        (
            b"250-mx\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n\
              250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n",
            Capabilities {
                size: Some(52_428_800),
                eight_bit_mime: true,
                binary_mime: true,
                chunking: true,
                dsn: true,
                enhanced_status_codes: true,
                smtputf8: true,
                ..Capabilities::default()
            },
        ),
        // Both AUTH forms, merged without repeats.
        (
            b"250-mx\r\n250-AUTH LOGIN PLAIN\r\n250-AUTH=LOGIN CRAM-MD5\r\n250 auth xoauth2\r\n",
            Capabilities {
                auth: mechs(&["LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"]),
                ..Capabilities::default()
            },
        ),
        // Unknown keywords kept verbatim; repeats counted once.
        (
            b"250-mx\r\n250-X-EXPS GSSAPI NTLM\r\n250-VRFY\r\n250-STARTTLS\r\n250 STARTTLS\r\n",
            Capabilities {
                starttls: true,
                other: vec![
                    Extension::new("X-EXPS GSSAPI NTLM").unwrap(),
                    Extension::new("VRFY").unwrap(),
                ],
                ..Capabilities::default()
            },
        ),
    ];
    for (wire, expected) in cases {
        let ehlo = EhloReply::parse(&reply(wire)).unwrap();
        assert_eq!(
            ehlo.capabilities,
            expected,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn realistic_reply_round_trips() {
    let wire: &[u8] = b"250-smtp.example.com at your service, [192.0.2.10]\r\n\
        250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n\
        250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";
    let ehlo = EhloReply::parse(&reply(wire)).unwrap();
    assert_eq!(ehlo.domain, Host::parse("smtp.example.com").unwrap());
    assert_eq!(ehlo.greeting, "at your service, [192.0.2.10]");
    let again = EhloReply::parse(&ehlo.to_reply().unwrap()).unwrap();
    assert_eq!(again, ehlo);
    assert_eq!(
        ehlo.to_reply().unwrap().to_bytes(),
        b"250-smtp.example.com at your service, [192.0.2.10]\r\n250-PIPELINING\r\n\
          250-SIZE 35882577\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n\
          250-SMTPUTF8\r\n250 STARTTLS\r\n"
    );
}

#[test]
fn server_generates_reply_from_capabilities() {
    let ehlo = EhloReply {
        domain: Host::parse("[192.0.2.1]").unwrap(),
        greeting: String::new(),
        capabilities: Capabilities {
            starttls: true,
            require_tls: true,
            auth: mechs(&["PLAIN"]),
            other: vec![Extension::new("X-CUSTOM a b").unwrap()],
            ..Capabilities::default()
        },
    };
    assert_eq!(
        ehlo.to_reply().unwrap().to_bytes(),
        b"250-[192.0.2.1]\r\n250-STARTTLS\r\n250-REQUIRETLS\r\n250-AUTH PLAIN\r\n250 X-CUSTOM a b\r\n"
    );
    // Only the name: a one-line reply.
    let bare = EhloReply {
        domain: Host::parse("mx").unwrap(),
        greeting: String::new(),
        capabilities: Capabilities::default(),
    };
    assert_eq!(bare.to_reply().unwrap().to_bytes(), b"250 mx\r\n");
}

#[test]
fn malformed_replies_are_refused() {
    let line = |line, why| EhloError::InvalidLine { line, why };
    let cases: Vec<(&[u8], EhloError)> = vec![
        (
            b"502 5.5.1 EHLO not supported\r\n",
            EhloError::NotOk {
                code: Code::NOT_IMPLEMENTED,
            },
        ),
        (
            b"554 go away\r\n",
            EhloError::NotOk {
                code: Code::TRANSACTION_FAILED,
            },
        ),
        (
            b"250 bad_host\r\n",
            EhloError::InvalidDomain {
                reason: mailtls::smtp::PathError::Unexpected {
                    column: 4,
                    found: '_',
                    within: "domain",
                },
            },
        ),
        (
            b"250-mx\r\n250-STAR TTLS \r\n250 X\r\n",
            line(
                2,
                "parameters are not printable ASCII separated by single spaces",
            ),
        ),
        (
            b"250-mx\r\n250-SIZE big\r\n250 X\r\n",
            line(2, "SIZE takes one number"),
        ),
        (
            b"250-mx\r\n250-SIZE 1 2\r\n250 X\r\n",
            line(2, "SIZE takes one number"),
        ),
        (
            b"250-mx\r\n250-X\r\n250-AUTH PL@IN\r\n250 X\r\n",
            line(3, "AUTH mechanism is not a SASL name"),
        ),
        // AUTH reads its mechanisms and checks the spacing in one pass; a line that fails
        // both checks still reports the spacing first.
        (
            b"250-mx\r\n250-AUTH PLAIN  LOGIN\r\n250 X\r\n",
            line(
                2,
                "parameters are not printable ASCII separated by single spaces",
            ),
        ),
        (
            b"250-mx\r\n250-AUTH PL@IN \r\n250 X\r\n",
            line(
                2,
                "parameters are not printable ASCII separated by single spaces",
            ),
        ),
        (
            "250-mx\r\n250-AUTH PLAIN caf\u{e9}\r\n250 X\r\n".as_bytes(),
            line(
                2,
                "parameters are not printable ASCII separated by single spaces",
            ),
        ),
        (
            b"250-mx\r\n250-AUTH=\r\n250 X\r\n",
            line(2, "AUTH mechanism is not a SASL name"),
        ),
        (
            b"250-mx\r\n250-\r\n250 X\r\n",
            line(2, "keyword is not letters, digits and hyphens"),
        ),
        (
            b"250-mx\r\n250--X\r\n250 X\r\n",
            line(2, "keyword is not letters, digits and hyphens"),
        ),
        (
            "250-mx\r\n250-X caf\u{e9}\r\n250 X\r\n".as_bytes(),
            line(
                2,
                "parameters are not printable ASCII separated by single spaces",
            ),
        ),
    ];
    for (wire, err) in cases {
        assert_eq!(
            EhloReply::parse(&reply(wire)).unwrap_err(),
            err,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn generation_respects_reply_limits() {
    let caps = Capabilities {
        other: (0..200)
            .map(|i| Extension::new(&format!("X-{i}")).unwrap())
            .collect(),
        ..Capabilities::default()
    };
    let ehlo = EhloReply {
        domain: Host::parse("mx").unwrap(),
        greeting: String::new(),
        capabilities: caps,
    };
    assert!(ehlo.to_reply().is_err());
}

/// Fuzz reproducer (smtp_ehlo, kept in fuzz/seeds/smtp_ehlo/numeric-domain-bare-auth): a
/// numeric domain that looks like an enhanced status code, and a bare `AUTH` line that
/// generation drops. The one-line reply generated from it must parse back to the same EHLO
/// reply: the first line is the domain (RFC 5321 §4.1.1.1), never an enhanced code.
#[test]
fn numeric_domain_survives_a_round_trip_without_the_bare_auth_line() {
    let wire = b"250-2.80.250 greeting\r\n250 auth\r\n";
    let reply = ReplyParser::default().feed(wire).unwrap().item.unwrap();
    let ehlo = EhloReply::parse(&reply).unwrap();
    assert_eq!(ehlo.domain.to_string(), "2.80.250");
    assert_eq!(ehlo.greeting, "greeting");
    assert!(ehlo.capabilities.auth.is_empty());
    let generated = ehlo.to_reply().unwrap().to_bytes();
    assert_eq!(generated, b"250 2.80.250 greeting\r\n");
    let again = ReplyParser::default()
        .feed(&generated)
        .unwrap()
        .item
        .unwrap();
    assert_eq!(EhloReply::parse(&again).unwrap(), ehlo);
}
