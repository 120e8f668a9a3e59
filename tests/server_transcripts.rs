//! Hostile client transcripts against the server session: every one gets the reply the rules
//! demand, and no plaintext byte pipelined behind STARTTLS is ever executed after TLS
//! (security invariants 1 and 2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use mailtls::server::{AbortReason, CloseReason, Limits, Pending, ServerConfig, ServerEvent};
use support::pki::Ca;
use support::server_driver::{codes, tls_config, Driver, TlsClient};

fn greeted(config: ServerConfig) -> Driver {
    let mut driver = Driver::new(config);
    assert_eq!(driver.text(), "220 mx.example.net ESMTP\r\n");
    driver
}

fn discarded(events: &[ServerEvent]) -> Option<(usize, Vec<u8>)> {
    events.iter().find_map(|e| match e {
        ServerEvent::PlaintextDiscarded { length, preview } => Some((*length, preview.clone())),
        _ => None,
    })
}

#[test]
fn ehlo_advertises_starttls_before_tls_and_requiretls_only_after() {
    let pki = Ca::root("Test CA");
    let mut driver = greeted(tls_config(&pki));
    let reply = driver.say("EHLO client.example.org\r\n");
    assert!(reply.starts_with("250-mx.example.net\r\n"), "{reply}");
    assert!(reply.contains("STARTTLS\r\n"), "{reply}");
    assert!(!reply.contains("REQUIRETLS"), "{reply}");
    assert_eq!(codes(&driver.say("STARTTLS\r\n")), ["220 2.0.0"]);
    let mut client = TlsClient::new(&pki, None);
    assert!(client.handshake(&mut driver));
    let reply = client.say(&mut driver, "EHLO client.example.org\r\n");
    assert!(reply.contains("REQUIRETLS\r\n"), "{reply}");
    assert!(!reply.contains("STARTTLS"), "{reply}");
}

/// Sends the pipelined tail behind STARTTLS (in `writes` pieces, all before the server
/// transmits), then completes TLS; returns the driver, the client and the events.
fn starttls_with_tail(writes: &[&[u8]]) -> (Driver, TlsClient, Vec<ServerEvent>) {
    let pki = Ca::root("Test CA");
    let mut driver = greeted(tls_config(&pki));
    driver.say("EHLO client.example.org\r\n");
    driver.events();
    for write in writes {
        driver.input(write);
    }
    // Only the 220 goes out: nothing pipelined behind STARTTLS was answered.
    assert_eq!(driver.text(), "220 2.0.0 Ready to start TLS\r\n");
    let mut client = TlsClient::new(&pki, None);
    assert!(client.handshake(&mut driver), "handshake");
    let events = driver.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::TlsEstablished { .. })),
        "{events:?}"
    );
    (driver, client, events)
}

#[test]
fn starttls_and_ehlo_in_one_write_discards_the_ehlo() {
    let (mut driver, mut client, events) = starttls_with_tail(&[b"STARTTLS\r\nEHLO x\r\n"]);
    assert_eq!(discarded(&events), Some((8, b"EHLO x\r\n".to_vec())));
    // The injected EHLO was not executed: the TLS session starts without a greeting.
    assert_eq!(
        codes(&client.say(&mut driver, "MAIL FROM:<a@example.org>\r\n")),
        ["503 5.5.1"]
    );
}

#[test]
fn starttls_and_ehlo_in_two_writes_before_the_server_transmits() {
    let (mut driver, mut client, events) = starttls_with_tail(&[
        b"STARTTLS\r\n",
        b"EHLO x\r\nMAIL FROM:<evil@example.org>\r\n",
    ]);
    assert_eq!(discarded(&events).map(|d| d.0), Some(38));
    assert_eq!(
        codes(&client.say(&mut driver, "RCPT TO:<b@example.net>\r\n")),
        ["503 5.5.1"]
    );
}

#[test]
fn crlf_less_fragment_after_starttls_never_joins_the_tls_stream() {
    // If the fragment "RSET" survived, the CRLF sent over TLS would complete it into a
    // command and earn a 250.
    let (mut driver, mut client, events) = starttls_with_tail(&[b"STARTTLS\r\nRSET"]);
    assert_eq!(discarded(&events), Some((4, b"RSET".to_vec())));
    assert_eq!(codes(&client.say(&mut driver, "\r\n")), ["500 5.5.1"]);
}

#[test]
fn mail_rcpt_and_auth_before_starttls_are_refused_when_tls_is_required() {
    let pki = Ca::root("Test CA");
    let mut config = tls_config(&pki);
    config.require_tls = true;
    let mut driver = greeted(config);
    assert!(driver.say("EHLO c.example.org\r\n").contains("STARTTLS"));
    for line in [
        "MAIL FROM:<a@example.org>\r\n",
        "RCPT TO:<b@example.net>\r\n",
        "AUTH PLAIN\r\n",
        "DATA\r\n",
        "HELO c.example.org\r\n",
    ] {
        assert_eq!(codes(&driver.say(line)), ["530 5.7.0"], "{line}");
    }
    assert_eq!(codes(&driver.say("NOOP\r\n")), ["250 2.0.0"]);
    assert!(driver.session.pending().is_none());
    // Over TLS the same MAIL goes through to the application.
    assert_eq!(codes(&driver.say("STARTTLS\r\n")), ["220 2.0.0"]);
    let mut client = TlsClient::new(&pki, None);
    assert!(client.handshake(&mut driver));
    client.say(&mut driver, "EHLO c.example.org\r\n");
    driver.events();
    assert_eq!(client.say(&mut driver, "MAIL FROM:<a@example.org>\r\n"), "");
    assert_eq!(driver.session.pending(), Some(Pending::MailFrom));
}

#[test]
fn second_starttls_inside_tls_is_refused_over_tls() {
    let (mut driver, mut client, _) = starttls_with_tail(&[b"STARTTLS\r\n"]);
    client.say(&mut driver, "EHLO c.example.org\r\n");
    assert_eq!(
        codes(&client.say(&mut driver, "STARTTLS\r\n")),
        ["554 5.5.1"]
    );
    assert!(driver.session.is_tls());
}

#[test]
fn garbage_instead_of_a_client_hello_ends_the_session_without_smtp() {
    let pki = Ca::root("Test CA");
    let mut driver = greeted(tls_config(&pki));
    assert_eq!(codes(&driver.say("STARTTLS\r\n")), ["220 2.0.0"]);
    driver.input(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n");
    let out = driver.transmit();
    // At most a TLS alert record, never an SMTP reply.
    assert!(out.is_empty() || out[0] == 0x15, "{out:?}");
    let events = driver.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::TlsFailed(_))),
        "{events:?}"
    );
    assert!(events.contains(&ServerEvent::Closed(CloseReason::TlsFailed)));
    assert!(driver.session.is_closed());
    // Anything after is ignored.
    driver.input(b"QUIT\r\n");
    assert!(driver.transmit().is_empty());
}

#[test]
fn oversized_lines_are_refused_and_skipped() {
    let mut config = ServerConfig::new("mx.example.net");
    config.limits = Limits {
        max_line_length: 507,
        ..Limits::default()
    };
    let mut driver = greeted(config);
    let long = format!("NOOP {}\r\n", "a".repeat(600));
    assert_eq!(codes(&driver.say(&long)), ["500 5.5.2"]);
    assert_eq!(codes(&driver.say("NOOP\r\n")), ["250 2.0.0"]);
    // The same line in small pieces: one refusal, and the tail is not read as a command.
    let mut replies = String::new();
    for piece in long.as_bytes().chunks(100) {
        driver.input(piece);
        replies.push_str(&driver.text());
    }
    assert_eq!(codes(&replies), ["500 5.5.2"]);
    // Exactly at the limit is fine.
    let exact = format!("NOOP {}\r\n", "a".repeat(500));
    assert_eq!(exact.len(), 507);
    assert_eq!(codes(&driver.say(&exact)), ["250 2.0.0"]);
}

#[test]
fn a_client_dripping_one_byte_per_period_is_cut_off_by_the_command_deadline() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    let deadline = driver.session.poll_timeout().unwrap();
    assert_eq!(
        deadline.saturating_duration_since(driver.now).as_secs(),
        300
    );
    for byte in b"NOOP" {
        driver.advance(60);
        driver.input(&[*byte]);
        assert_eq!(
            driver.session.poll_timeout(),
            Some(deadline),
            "a byte extended it"
        );
        assert!(driver.transmit().is_empty());
    }
    driver.advance(60);
    driver.session.handle_timeout(driver.now);
    assert_eq!(codes(&driver.text()), ["421 4.4.2"]);
    assert!(driver.session.is_closed());
    assert!(driver
        .events()
        .contains(&ServerEvent::Closed(CloseReason::Timeout)));
}

#[test]
fn the_data_phase_has_one_overall_deadline() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    driver.say("EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n");
    driver.session.accept().unwrap();
    assert_eq!(
        codes(&driver.say("RCPT TO:<b@example.net>\r\n")),
        ["250 2.1.0"]
    );
    driver.session.accept().unwrap();
    assert_eq!(codes(&driver.text()), ["250 2.1.5"]);
    assert_eq!(
        driver.say("DATA\r\n"),
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    let deadline = driver.session.poll_timeout().unwrap();
    assert_eq!(
        deadline.saturating_duration_since(driver.now).as_secs(),
        600
    );
    for _ in 0..9 {
        driver.advance(60);
        driver.input(b"x");
        assert_eq!(driver.session.poll_timeout(), Some(deadline));
    }
    driver.advance(60);
    // A byte arriving after the deadline does not save the session either.
    driver.input(b"\r\n.\r\n");
    assert_eq!(codes(&driver.text()), ["421 4.4.2"]);
    let events = driver.events();
    assert!(events.contains(&ServerEvent::MessageAborted(AbortReason::Timeout)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageEnd { .. })));
}

#[test]
fn too_many_recipients_get_452() {
    let mut config = ServerConfig::new("mx.example.net");
    config.limits.max_recipients = 2;
    let mut driver = greeted(config);
    driver.say("EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n");
    driver.session.accept().unwrap();
    let mut replies = String::new();
    for _ in 0..2 {
        replies += &driver.say("RCPT TO:<b@example.net>\r\n");
        driver.session.accept().unwrap();
    }
    replies += &driver.say("RCPT TO:<c@example.net>\r\n");
    assert_eq!(
        codes(&replies),
        ["250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3"]
    );
    assert!(driver.session.pending().is_none());
}

#[test]
fn message_size_limits_answer_552_5_3_4() {
    let mut config = ServerConfig::new("mx.example.net");
    config.limits.max_message_size = 100;
    let mut driver = greeted(config);
    assert!(driver
        .say("EHLO c.example.org\r\n")
        .contains("SIZE 100\r\n"));
    assert_eq!(
        codes(&driver.say("MAIL FROM:<a@example.org> SIZE=101\r\n")),
        ["552 5.3.4"]
    );
    driver.say("MAIL FROM:<a@example.org> SIZE=100\r\n");
    driver.session.accept().unwrap();
    driver.say("RCPT TO:<b@example.net>\r\n");
    driver.session.accept().unwrap();
    driver.say("DATA\r\n");
    driver.events();
    let body = format!("{}\r\n.\r\n", "y".repeat(150));
    assert_eq!(codes(&driver.say(&body)), ["552 5.3.4"]);
    let events = driver.events();
    assert!(events.contains(&ServerEvent::MessageAborted(AbortReason::TooLarge)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageEnd { .. })));
    // The transaction is over; a new one may start.
    assert_eq!(
        codes(&driver.say("RCPT TO:<b@example.net>\r\n")),
        ["503 5.5.1"]
    );
}

#[test]
fn requiretls_is_refused_in_plaintext() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    driver.say("EHLO c.example.org\r\n");
    assert_eq!(
        codes(&driver.say("MAIL FROM:<a@example.org> REQUIRETLS\r\n")),
        ["555 5.5.4"]
    );
    assert!(driver.session.pending().is_none());
    assert!(!driver
        .events()
        .iter()
        .any(|e| matches!(e, ServerEvent::MailFrom(_))));
}

#[test]
fn message_data_streams_dot_unstuffed_and_waits_for_the_answer() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    driver.say("EHLO c.example.org\r\nMAIL FROM:<> BODY=8BITMIME\r\n");
    driver.session.accept().unwrap();
    driver.say("RCPT TO:<Postmaster>\r\n");
    driver.session.accept().unwrap();
    driver.say("DATA\r\n");
    driver.events();
    driver.input(b"Subject: x\r\n\r\n..leading dot\r\n");
    driver.input(b"last\r\n.\r\nQUIT\r\n");
    let mut data = Vec::new();
    let mut end = None;
    for event in driver.events() {
        match event {
            ServerEvent::MessageData(chunk) => data.extend(chunk),
            ServerEvent::MessageEnd { size } => end = Some(size),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(data, b"Subject: x\r\n\r\n.leading dot\r\nlast\r\n");
    assert_eq!(end, Some(data.len() as u64));
    // QUIT waits behind the pending message.
    assert_eq!(driver.text(), "");
    driver.session.accept_with("Ok: queued as 42").unwrap();
    assert_eq!(
        driver.text(),
        "250 2.0.0 Ok: queued as 42\r\n221 2.0.0 Bye\r\n"
    );
    assert!(driver.session.is_closed());
}

#[test]
fn pipelined_input_beyond_the_buffer_is_pushed_back() {
    let mut config = ServerConfig::new("mx.example.net");
    config.limits.input_buffer = 1024;
    let mut driver = greeted(config);
    driver.say("EHLO c.example.org\r\n");
    let mut batch = b"MAIL FROM:<a@example.org>\r\n".to_vec();
    for _ in 0..100 {
        batch.extend_from_slice(b"RCPT TO:<b@example.net>\r\n");
    }
    let mut rest = &batch[..];
    let mut recipients = 0;
    let mut rounds = 0;
    while !rest.is_empty() || driver.session.pending().is_some() {
        let taken = driver.session.handle_input(rest, driver.now);
        // Never more than the buffer plus what was parsed out of it meanwhile.
        assert!(taken < 1024 + 64, "{taken}");
        rest = &rest[taken..];
        for event in driver.events() {
            if matches!(event, ServerEvent::RcptTo(_)) {
                recipients += 1;
            }
        }
        if driver.session.pending().is_some() {
            driver.session.accept().unwrap();
        }
        rounds += 1;
        assert!(rounds < 1000);
    }
    assert_eq!(recipients, 100);
    assert!(rounds > 3, "the batch went in at once");
    let replies = driver.text();
    assert_eq!(codes(&replies).len(), 101);
}

#[test]
fn commands_out_of_sequence() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    assert_eq!(
        codes(&driver.say("MAIL FROM:<a@example.org>\r\n")),
        ["503 5.5.1"]
    );
    assert_eq!(codes(&driver.say("STARTTLS\r\n")), ["502 5.5.1"]);
    driver.say("HELO c.example.org\r\n");
    assert_eq!(codes(&driver.say("DATA\r\n")), ["503 5.5.1"]);
    assert_eq!(
        codes(&driver.say("MAIL FROM:<a@example.org> SIZE=10\r\n")),
        ["555 5.5.4"]
    );
    assert_eq!(codes(&driver.say("XYZZY\r\n")), ["500 5.5.1"]);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut config = ServerConfig::new("mx.example.net");
    config.limits.max_errors = 3;
    let mut driver = greeted(config);
    let replies = driver.say("A\r\nB\r\nC\r\nD\r\nNOOP\r\n");
    assert_eq!(
        codes(&replies),
        [
            "500 5.5.1",
            "500 5.5.1",
            "500 5.5.1",
            "500 5.5.1",
            "421 4.7.0"
        ]
    );
    assert!(driver.session.is_closed());
}

#[test]
fn smuggled_end_of_data_with_bare_lf_is_refused_not_split() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    driver.say("EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n");
    driver.session.accept().unwrap();
    driver.say("RCPT TO:<b@example.net>\r\n");
    driver.session.accept().unwrap();
    driver.say("DATA\r\n");
    driver.events();
    // "\n.\n" is not end-of-data: the MAIL behind it is message text, never a command.
    let replies = driver.say("x\n.\nMAIL FROM:<smuggled@example.org>\r\n.\r\n");
    assert_eq!(codes(&replies), ["554 5.5.2"]);
    let events = driver.events();
    assert!(events.contains(&ServerEvent::MessageAborted(AbortReason::Malformed)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, ServerEvent::MailFrom(_) | ServerEvent::MessageEnd { .. })));
    assert!(driver.session.pending().is_none());
}

#[test]
fn unadvertised_mail_parameters_are_refused_555() {
    let mut driver = greeted(ServerConfig::new("mx.example.net"));
    let ehlo = driver.say("EHLO c.example.org\r\n");
    assert!(
        !ehlo.contains("SMTPUTF8") && !ehlo.contains("CHUNKING"),
        "{ehlo}"
    );
    for line in [
        "MAIL FROM:<a@example.org> SMTPUTF8\r\n",
        "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n",
        "MAIL FROM:<a@example.org> XFOO=1\r\n",
    ] {
        assert_eq!(codes(&driver.say(line)), ["555 5.5.4"], "{line}");
    }
    assert!(driver.session.pending().is_none());
}
