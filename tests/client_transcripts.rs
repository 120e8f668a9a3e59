//! Hostile transcripts: a scripted server feeds bytes, and every transcript must end the way
//! the plan demands, never in a plaintext transaction under a plan that requires TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::Duration;

use mailtls::client::{
    AttemptResult, ClientEvent, NextStep, PlaintextReason, Stage, StarttlsFault, REPLY_LINE_LIMIT,
};
use mailtls::policy::ladder::{FailureClass, Rung};
use mailtls::policy::Level;
use mailtls::report::ResultType;
use mailtls::smtp::Code;
use support::drive::{run, Run};
use support::plans::{message, session};
use support::smtp_server::{Script, SmtpServer, EHLO_TLS};
use support::{verify, NOW};

/// Runs `script` at `level` on the Modern rung with an unauthenticating verifier (or PKIX for
/// the authenticated levels), sending one message when ready.
fn transcript(level: Level, script: Script) -> Run {
    let verifier = if level.authenticates() {
        verify::pkix()
    } else {
        verify::accept_any()
    };
    run(
        session(level, Rung::Modern, verifier),
        SmtpServer::new(script),
        Some(message(300)),
    )
}

fn tls_class(run: &Run) -> Option<FailureClass> {
    match &run.record.result {
        AttemptResult::TlsFailed { class, .. } => Some(*class),
        _ => None,
    }
}

fn client_hello_sent(run: &Run) -> bool {
    run.transmits.iter().any(|t| t.first() == Some(&0x16))
}

const FORCED: [Level; 3] = [Level::Encrypt, Level::Verify, Level::Fingerprint];

/// Every level that tries TLS, opportunistic or not.
const TRYING: [Level; 5] = [
    Level::May,
    Level::Encrypt,
    Level::Verify,
    Level::Secure,
    Level::Fingerprint,
];

/// What an attempt stopped at an untrusted reply to STARTTLS must look like (ARCHITECTURE.md
/// invariants 1 and 5): TLS never started, no MAIL, no QUIT into a stream out of step, no
/// move down the ladder (the plan's failure action, here a deferral that says what
/// happened), and RFC 8460 §4.3 `validation-failure`.
fn assert_untrusted_starttls(run: &Run, level: Level, fault: &StarttlsFault) {
    assert_eq!(
        run.record.result,
        AttemptResult::StarttlsUntrusted(fault.clone()),
        "{level}"
    );
    assert!(!client_hello_sent(run), "{level}: TLS must not start");
    assert!(!run.mail_sent(), "{level}");
    assert!(!run.server.log.iter().any(|r| r.line == "QUIT"), "{level}");
    assert_eq!(
        run.record.result_type,
        Some(ResultType::ValidationFailure),
        "{level}"
    );
    match &run.record.next {
        NextStep::Defer(status) => {
            assert_eq!(
                status.to_string(),
                format!("451 4.7.0 TLS not started: {fault}"),
                "{level}"
            );
            assert!(!status.text().contains("handshake"), "{status}");
        }
        other => panic!("{level}: {other:?}"),
    }
    let failure = run.record.tls_rpt_result().unwrap().unwrap_err();
    assert_eq!(failure.result_type, ResultType::ValidationFailure);
    assert_eq!(
        failure.failure_reason_code.as_deref(),
        Some("untrusted-starttls-reply")
    );
    assert_eq!(failure.additional_information, Some(fault.to_string()));
}

/// RFC 3207 §5 (and the CVE-2011-0411 response-injection shape): replies pipelined behind
/// the `220` to STARTTLS end the attempt without moving down the ladder, at every level: no
/// TLS 1.2 rung, and at `may` no plaintext, on the injector's say-so.
#[test]
fn rfc3207_5_replies_pipelined_behind_the_starttls_220_never_move_the_ladder() {
    let injected = b"250-mx.example.com\r\n250 AUTH PLAIN\r\n";
    for level in TRYING {
        let run = transcript(
            level,
            Script {
                starttls: [&b"220 2.0.0 go ahead\r\n"[..], injected].concat(),
                ..Script::default()
            },
        );
        let fault = StarttlsFault::Pipelined {
            code: Code::SERVICE_READY,
            bytes: injected.len(),
        };
        assert_untrusted_starttls(&run, level, &fault);
        assert_eq!(
            fault.to_string(),
            "36 bytes pipelined behind the 220 reply to STARTTLS"
        );
    }
}

/// RFC 3207 §5: a fragment without CRLF behind the `220` counts as much as a whole reply.
#[test]
fn rfc3207_5_a_crlf_less_fragment_behind_the_220_never_moves_the_ladder() {
    for level in TRYING {
        let run = transcript(
            level,
            Script {
                starttls: b"220 go\r\n250 inj".to_vec(),
                ..Script::default()
            },
        );
        let fault = StarttlsFault::Pipelined {
            code: Code::SERVICE_READY,
            bytes: 7,
        };
        assert_untrusted_starttls(&run, level, &fault);
    }
    let one = StarttlsFault::Pipelined {
        code: Code::SERVICE_READY,
        bytes: 1,
    };
    assert_eq!(
        one.to_string(),
        "1 byte pipelined behind the 220 reply to STARTTLS"
    );
}

/// RFC 3207 §4 allows a 454 or 5xx refusal, after which the session goes on in plaintext; a
/// refusal with forged replies pipelined behind it is not a clean refusal: the forged 250 is
/// never read, and even `may` does not go on to plaintext.
#[test]
fn rfc3207_4_forged_replies_pipelined_behind_a_refusal_never_move_the_ladder() {
    for (refusal, code) in [
        (&b"454 4.7.0 TLS not available\r\n"[..], 454),
        (&b"554 5.7.0 no TLS for you\r\n"[..], 554),
    ] {
        let forged = b"250 2.1.0 forged\r\n";
        for level in TRYING {
            let run = transcript(
                level,
                Script {
                    starttls: [refusal, forged].concat(),
                    ..Script::default()
                },
            );
            let fault = StarttlsFault::Pipelined {
                code: Code::new(code).unwrap(),
                bytes: forged.len(),
            };
            assert_untrusted_starttls(&run, level, &fault);
        }
    }
}

/// RFC 3207 §4: the answers to STARTTLS are 220, 454 and 5xx. A 221 (closing), a 354 (go on
/// with data) or a 250 is an answer no conforming server gives: the attempt ends where it is.
#[test]
fn rfc3207_4_a_reply_to_starttls_that_is_neither_220_nor_a_refusal_never_moves_the_ladder() {
    for (reply, code) in [
        (&b"221 2.0.0 bye\r\n"[..], 221),
        (&b"354 go ahead\r\n"[..], 354),
        (&b"250 2.0.0 ok\r\n"[..], 250),
    ] {
        for level in TRYING {
            let run = transcript(
                level,
                Script {
                    starttls: reply.to_vec(),
                    ..Script::default()
                },
            );
            let fault = StarttlsFault::UnexpectedCode {
                code: Code::new(code).unwrap(),
            };
            assert_untrusted_starttls(&run, level, &fault);
        }
    }
    // A reply that does not parse is no better.
    let run = transcript(
        Level::May,
        Script {
            starttls: b"220-go\r\n221 bye\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert!(
        matches!(
            run.record.result,
            AttemptResult::StarttlsUntrusted(StarttlsFault::Malformed(_))
        ),
        "{:?}",
        run.record.result
    );
    assert!(matches!(run.record.next, NextStep::Defer(_)));
}

/// RFC 3207 §4: after a 454 or 5xx refusal the session is plain SMTP and in step, so the
/// client ends it with QUIT (as after a missing STARTTLS) before any other attempt.
#[test]
fn rfc3207_4_a_clean_starttls_refusal_is_followed_by_quit() {
    for refusal in [
        &b"454 4.7.0 TLS not available\r\n"[..],
        &b"554 5.7.0 no TLS for you\r\n"[..],
    ] {
        for level in [Level::May, Level::Encrypt, Level::Verify] {
            let run = transcript(
                level,
                Script {
                    starttls: refusal.to_vec(),
                    ..Script::default()
                },
            );
            assert_eq!(
                tls_class(&run),
                Some(FailureClass::StarttlsRefused),
                "{level}"
            );
            let lines: Vec<&str> = run.server.log.iter().map(|r| r.line.as_str()).collect();
            assert_eq!(lines.last(), Some(&"QUIT"), "{level}: {lines:?}");
            assert!(!run.mail_sent(), "{level}");
        }
    }
}

/// Postfix `line_length_limit` (postconf(5), 2048): a server whose EHLO reply lists sixty
/// AUTH mechanisms on one line (over RFC 5321 §4.5.3.1.5's 512 octets) is served, before
/// and inside TLS; a line over the bound still ends the attempt cleanly.
#[test]
fn postfix_line_length_limit_accepts_an_ehlo_line_with_sixty_auth_mechanisms() {
    let mechanisms: Vec<String> = (0..60).map(|i| format!("X-MECHANISM-{i:02}")).collect();
    let auth = format!("250-AUTH {}\r\n", mechanisms.join(" "));
    assert!(
        auth.len() > 512 && auth.len() <= REPLY_LINE_LIMIT,
        "{}",
        auth.len()
    );
    let ehlo = |tail: &[u8]| [&b"250-mx.example.com hello\r\n"[..], auth.as_bytes(), tail].concat();
    let run = transcript(
        Level::Verify,
        Script {
            ehlo: ehlo(b"250 STARTTLS\r\n"),
            ehlo_tls: ehlo(b"250 PIPELINING\r\n"),
            ..Script::default()
        },
    );
    assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
    assert!(run.mail_sent() && !run.plaintext_mail());

    // One octet over the bound (CRLF included): a protocol violation, never a hang.
    let mut long = b"250-AUTH ".to_vec();
    long.resize(REPLY_LINE_LIMIT - 1, b'X');
    long.extend_from_slice(b"\r\n");
    let run = transcript(
        Level::Verify,
        Script {
            ehlo: [
                &b"250-mx.example.com hello\r\n"[..],
                &long,
                b"250 STARTTLS\r\n",
            ]
            .concat(),
            ..Script::default()
        },
    );
    assert!(
        matches!(
            run.record.result,
            AttemptResult::ProtocolViolation {
                stage: Stage::Ehlo,
                ..
            }
        ),
        "{:?}",
        run.record.result
    );
    assert!(!run.mail_sent());
}

#[test]
fn a_refusal_without_trailing_bytes_walks_to_plaintext_only_when_allowed() {
    let run = transcript(
        Level::May,
        Script {
            starttls: b"454 4.7.0 TLS not available\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert_eq!(tls_class(&run), Some(FailureClass::StarttlsRefused));
    assert_eq!(
        run.record.next,
        NextStep::Retry {
            rung: Rung::Plaintext
        }
    );
    let run = transcript(
        Level::Encrypt,
        Script {
            starttls: b"454 4.7.0 TLS not available\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert!(matches!(run.record.next, NextStep::Defer(_)));
    assert!(!run.mail_sent());
}

#[test]
fn a_220_that_never_starts_tls_never_carries_mail() {
    // The server answers the ClientHello in plaintext.
    for level in FORCED {
        let run = transcript(
            level,
            Script {
                starts_tls: false,
                instead_of_tls: b"250 2.0.0 ok\r\n".to_vec(),
                ..Script::default()
            },
        );
        assert_eq!(tls_class(&run), Some(FailureClass::Decode), "{level}");
        assert!(!run.mail_sent(), "{level}");
    }
    // The server falls silent: the handshake times out after the STARTTLS timeout.
    let run = transcript(
        Level::Encrypt,
        Script {
            starts_tls: false,
            ..Script::default()
        },
    );
    assert_eq!(tls_class(&run), Some(FailureClass::Timeout));
    assert_eq!(run.ended_at, NOW.saturating_add(Duration::from_secs(300)));
    assert!(matches!(run.record.next, NextStep::Defer(_)));
    assert!(!run.mail_sent());
}

#[test]
fn starttls_missing_or_stripped_ends_a_forced_plan() {
    let stripped = Script {
        ehlo: b"250-mx.example.com\r\n250-PIPELINING\r\n250 XXXXXXXX\r\n".to_vec(),
        ..Script::default()
    };
    for level in FORCED {
        let run = transcript(level, stripped.clone());
        assert_eq!(
            tls_class(&run),
            Some(FailureClass::StarttlsNotOffered),
            "{level}"
        );
        assert_eq!(
            run.record.result_type,
            Some(ResultType::StarttlsNotSupported)
        );
        assert!(matches!(run.record.next, NextStep::Defer(_)));
        assert!(!run.mail_sent());
        // The stream is still in step: the client says goodbye.
        assert_eq!(run.server.log.last().unwrap().line, "QUIT");
    }
    // The opportunistic level delivers in plaintext on the same connection, and says so.
    let run = transcript(Level::May, stripped);
    assert!(run
        .events
        .contains(&ClientEvent::Plaintext(PlaintextReason::StarttlsNotOffered)));
    assert!(run.plaintext_mail());
    assert_eq!(run.record.result, AttemptResult::Completed { tls: false });
}

#[test]
fn an_ehlo_refusing_helo_only_server_ends_a_forced_plan() {
    let helo_only = Script {
        ehlo: b"500 5.5.1 command unrecognized\r\n".to_vec(),
        ..Script::default()
    };
    for level in FORCED {
        let run = transcript(level, helo_only.clone());
        assert_eq!(
            tls_class(&run),
            Some(FailureClass::StarttlsNotOffered),
            "{level}"
        );
        assert!(!run.server.log.iter().any(|r| r.line.starts_with("HELO")));
        assert!(!run.mail_sent());
    }
    let run = transcript(Level::May, helo_only);
    assert!(run.server.log.iter().any(|r| r.line.starts_with("HELO")));
    assert!(run
        .events
        .contains(&ClientEvent::Plaintext(PlaintextReason::HeloOnly)));
    assert!(run.plaintext_mail());
}

#[test]
fn starttls_advertised_only_inside_tls_is_not_offered() {
    let run = transcript(
        Level::Verify,
        Script {
            ehlo: b"250-mx.example.com\r\n250 PIPELINING\r\n".to_vec(),
            ehlo_tls: [EHLO_TLS, b""].concat(),
            ..Script::default()
        },
    );
    assert_eq!(tls_class(&run), Some(FailureClass::StarttlsNotOffered));
    assert!(!client_hello_sent(&run));
    assert!(!run.mail_sent());
}

#[test]
fn a_second_starttls_inside_tls_is_never_sent() {
    let run = transcript(
        Level::Encrypt,
        Script {
            ehlo_tls: b"250-mx.example.com\r\n250-STARTTLS\r\n250 PIPELINING\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
    let starttls: Vec<_> = run
        .server
        .log
        .iter()
        .filter(|r| r.line.eq_ignore_ascii_case("STARTTLS"))
        .collect();
    assert_eq!(starttls.len(), 1);
    assert!(!starttls[0].tls);
    assert!(run.mail_sent() && !run.plaintext_mail());
}

#[test]
fn a_non_220_greeting_ends_the_attempt() {
    for (greeting, permanent) in [
        (&b"554 5.3.2 not accepting mail\r\n"[..], true),
        (&b"421 4.3.2 try later\r\n"[..], false),
    ] {
        let run = transcript(
            Level::Encrypt,
            Script {
                greeting: greeting.to_vec(),
                ..Script::default()
            },
        );
        match &run.record.result {
            AttemptResult::Rejected { stage, reply } => {
                assert_eq!(*stage, Stage::Greeting);
                assert_eq!(reply.code().is_permanent_negative(), permanent);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(run.record.next, NextStep::NextHost);
        assert!(!run.server.log.iter().any(|r| r.line.starts_with("EHLO")));
    }
    // A greeting that is not a 220 nor a refusal is a protocol violation.
    let run = transcript(
        Level::May,
        Script {
            greeting: b"250 hello?\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert!(matches!(
        run.record.result,
        AttemptResult::ProtocolViolation {
            stage: Stage::Greeting,
            ..
        }
    ));
}

#[test]
fn a_multi_line_greeting_is_accepted() {
    let run = transcript(
        Level::Encrypt,
        Script {
            greeting: b"220-mx.example.com ESMTP\r\n220-no UCE\r\n220 ready\r\n".to_vec(),
            ..Script::default()
        },
    );
    assert_eq!(run.record.result, AttemptResult::Completed { tls: true });
}

#[test]
fn replies_with_mismatched_codes_end_the_attempt() {
    for level in [Level::May, Level::Encrypt] {
        let run = transcript(
            level,
            Script {
                ehlo: b"250-mx.example.com\r\n251 STARTTLS\r\n".to_vec(),
                ..Script::default()
            },
        );
        assert!(
            matches!(
                run.record.result,
                AttemptResult::ProtocolViolation {
                    stage: Stage::Ehlo,
                    ..
                }
            ),
            "{:?}",
            run.record.result
        );
        assert!(!run.mail_sent());
    }
}

#[test]
fn pre_tls_capabilities_are_forgotten() {
    // REQUIRETLS advertised before TLS only: a REQUIRETLS message is refused locally.
    let mut msg = message(100);
    msg.envelope = msg.envelope.with_require_tls(true);
    let script = Script {
        ehlo: b"250-mx.example.com\r\n250-REQUIRETLS\r\n250 STARTTLS\r\n".to_vec(),
        ehlo_tls: b"250-mx.example.com\r\n250 PIPELINING\r\n".to_vec(),
        ..Script::default()
    };
    let run = run(
        session(Level::Verify, Rung::Modern, verify::pkix()),
        SmtpServer::new(script),
        Some(msg.clone()),
    );
    let refused = run.events.iter().find_map(|e| match e {
        ClientEvent::MessageResult(m) => Some(m.clone()),
        _ => None,
    });
    let refused = refused.unwrap();
    assert!(!refused.accepted);
    assert_eq!(refused.refused.unwrap().enhanced().to_string(), "5.7.30");
    assert!(!run.mail_sent());
    // Capabilities events: one before TLS, one after, and the second knows nothing of the first.
    let caps: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Capabilities {
                secure,
                capabilities,
            } => Some((*secure, capabilities.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(caps.len(), 2);
    assert!(!caps[0].0 && caps[0].1.require_tls);
    assert!(caps[1].0 && !caps[1].1.require_tls && !caps[1].1.starttls);

    // REQUIRETLS advertised inside TLS: MAIL FROM carries it.
    let run = support::drive::run(
        session(Level::Verify, Rung::Modern, verify::pkix()),
        SmtpServer::new(Script::default()),
        Some(msg),
    );
    let mail = run
        .server
        .log
        .iter()
        .find(|r| r.line.starts_with("MAIL"))
        .unwrap();
    assert!(mail.tls);
    assert!(mail.line.ends_with("REQUIRETLS"), "{}", mail.line);
}

#[test]
fn the_greeting_may_arrive_one_byte_at_a_time() {
    let mut s = session(Level::Encrypt, Rung::Modern, verify::accept_any());
    for b in b"220-mx.example.com\r\n220 ready\r\n" {
        s.handle_input(&[*b], NOW);
    }
    assert!(matches!(s.poll_event(), Some(ClientEvent::Greeted(_))));
    assert_eq!(s.poll_transmit().unwrap(), b"EHLO relay.sender.example\r\n");
}

#[test]
fn an_overlong_reply_line_is_a_protocol_violation() {
    let mut long = b"220 ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 100_000));
    let run = transcript(
        Level::May,
        Script {
            greeting: long,
            ..Script::default()
        },
    );
    assert!(matches!(
        run.record.result,
        AttemptResult::ProtocolViolation { .. } | AttemptResult::Timeout { .. }
    ));
    assert!(!run.mail_sent());
}
