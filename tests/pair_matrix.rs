//! The real client against the real server, through the in-memory [`Pair`]: every Postfix
//! level, every outbound connector setting, DANE and MTA-STS, each against a server
//! certificate that is right, names another host, chains to another CA, or has expired.
//!
//! Every row goes the one outbound path: configuration → `explain` → precedence
//! `Decision` → `Delivery` → sessions. Each cell asserts whether the message was delivered,
//! how the delivery ended, whether it ran over TLS, and the RFC 8460 result the attempt is
//! counted with (`AttemptRecord::report_result`). The certificate expectations agree with
//! tests/policy_outcomes.rs (the ladder alone) and tests/client_pairs.rs (a scripted server).
//!
//! [`Pair`]: support::pair::Pair

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use mailtls::client::{AttemptResult, Delivery, DeliveryOutcome, StarttlsFault, Timeouts};
use mailtls::policy::connector::Connectors;
use mailtls::policy::dane::DnssecStatus;
use mailtls::policy::ladder::FailureClass;
use mailtls::policy::mta_sts::{StsLookup, StsPolicy};
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::precedence::{self, PrecedenceInputs};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{explain, Decision, Destination, OutboundPolicy};
use mailtls::report::ResultType;
use mailtls::server::ServerEvent;
use mailtls::smtp::{Code, Reply};
use mailtls::tls::TlsIdentity;
use support::dane::{spki_record, with_tlsa};
use support::pair::{deliver, Delivered, Direction, Peer};
use support::pki::{pki, MX_NAME};
use support::plans::{message, settings, verifiers};
use support::NOW;

/// The recipient domain; its one MX is [`MX_NAME`].
const DOMAIN: &str = "example.com";

// ---- what a cell expects ---------------------------------------------------------------

/// How the delivery ended, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Completed,
    Deferred,
}

/// One cell of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    /// The server's application took the message.
    delivered: bool,
    /// The delivery's outcome.
    kind: Kind,
    /// The last attempt connected (it was not a host the decision skipped).
    connected: bool,
    /// The last attempt ran over TLS.
    tls: bool,
    /// `report_result`: `None` reports nothing, `Some(Ok)` success, `Some(Err)` a failure.
    rpt: Option<Result<(), ResultType>>,
}

/// Delivered over TLS, reported as success.
const TLS: Expect = Expect {
    delivered: true,
    kind: Kind::Completed,
    connected: true,
    tls: true,
    rpt: Some(Ok(())),
};

/// Delivered in plaintext where the policy allows it: no TLS policy was at stake, so the
/// attempt reports nothing (`AttemptRecord::tls_rpt_result`).
const PLAIN: Expect = Expect {
    delivered: true,
    kind: Kind::Completed,
    connected: true,
    tls: false,
    rpt: None,
};

/// Not delivered: deferred, with this failure.
const fn defer(result: ResultType) -> Expect {
    Expect {
        delivered: false,
        kind: Kind::Deferred,
        connected: true,
        tls: false,
        rpt: Some(Err(result)),
    }
}

/// Delivered over TLS, but counted as this failure (MTA-STS `testing`, RFC 8461 §5).
const fn tls_would_fail(result: ResultType) -> Expect {
    Expect {
        delivered: true,
        kind: Kind::Completed,
        connected: true,
        tls: true,
        rpt: Some(Err(result)),
    }
}

/// Not delivered: the host was never contacted (the decision skipped it).
const fn skipped(result: ResultType) -> Expect {
    Expect {
        connected: false,
        ..defer(result)
    }
}

use ResultType::{CertificateExpired as EXPIRED, CertificateHostMismatch as MISMATCH};
use ResultType::{CertificateNotTrusted as UNTRUSTED, StarttlsNotSupported as NO_STARTTLS};
use ResultType::{DaneRequired as DANE_REQUIRED, TlsaInvalid as TLSA_INVALID};

/// The server of each column: one presenting the right certificate (signed by the trusted
/// test CA, for the name the policy asks), one for another name, one from another CA, one
/// that expired in 2020, and one that offers no STARTTLS at all (`None`).
fn columns(right: &TlsIdentity) -> [(&'static str, Option<TlsIdentity>); 5] {
    [
        ("right", Some(right.clone())),
        ("wrong name", Some(pki().wrong_name.clone())),
        ("untrusted", Some(pki().untrusted.clone())),
        ("expired", Some(pki().expired.clone())),
        ("no STARTTLS", None),
    ]
}

/// Delivers one message under `decision` to a server with `identity` (none: no STARTTLS).
fn run(decision: Decision, identity: Option<&TlsIdentity>) -> Delivered {
    let mut delivery = Delivery::new(settings(), decision, Arc::new(verifiers()));
    deliver(&mut delivery, Peer::new(identity), &message(2048))
}

/// What actually happened, in the shape of [`Expect`].
fn observed(delivered: &Delivered) -> Expect {
    let last = delivered.last();
    Expect {
        delivered: !delivered.received.is_empty(),
        kind: match delivered.outcome {
            Some(DeliveryOutcome::Completed { .. }) => Kind::Completed,
            Some(DeliveryOutcome::Deferred(_)) => Kind::Deferred,
            ref other => panic!("unexpected outcome {other:?}"),
        },
        connected: !matches!(last.result, AttemptResult::Skipped { .. }),
        tls: last.tls.is_some(),
        rpt: last
            .report_result()
            .map(|r| r.map_err(|failure| failure.result_type)),
    }
}

/// Runs one row: the decision against every column. The decision is made per column from
/// the certificate presented there (the right one without STARTTLS), so DANE rows can
/// publish the presented key.
fn check_row(
    name: &str,
    decision: impl Fn(&TlsIdentity) -> Decision,
    right: &TlsIdentity,
    row: [Expect; 5],
) {
    for ((column, identity), want) in columns(right).into_iter().zip(row) {
        let delivered = run(
            decision(identity.as_ref().unwrap_or(right)),
            identity.as_ref(),
        );
        assert_eq!(
            observed(&delivered),
            want,
            "{name} against the {column} server: {:?}",
            delivered.records
        );
        // What was delivered arrived whole, over the transport the record says.
        for received in &delivered.received {
            assert_eq!(received.tls, want.tls, "{name}/{column}");
            assert_eq!(received.to.len(), 2, "{name}/{column}");
            // Unstuffed again on arrival: the text as it was sent.
            assert_eq!(
                received.data,
                message(2048).chunks.concat(),
                "{name}/{column}"
            );
        }
    }
}

// ---- decisions -------------------------------------------------------------------------

fn destination() -> Destination {
    Destination::domain(DOMAIN, [MX_NAME]).unwrap()
}

/// A Postfix policy-table entry for the domain (`smtp_tls_policy_maps`), no discovery.
fn table(entry: &str) -> Decision {
    let table = PolicyTable::parse(&format!("{DOMAIN} {entry}\n")).unwrap();
    Decision::from_plan(explain(
        &OutboundPolicy::new().with_table(table),
        &destination(),
    ))
}

/// An Exchange outbound connector for the domain with `settings` (TOML lines).
fn connector(settings: &str) -> Decision {
    let text = format!(
        "[[outbound]]\nname = \"partner\"\nrecipient_domains = [\"{DOMAIN}\"]\n{settings}\n"
    );
    let connectors = Connectors::from_toml(&text).unwrap();
    let policy = OutboundPolicy::new().with_connectors(connectors);
    Decision::from_plan(explain(&policy, &destination()))
}

/// A table entry at `level` (`dane` or `dane-only`) with a DNSSEC-signed MX and this
/// DNSSEC-validated TLSA RRset for it.
fn dane(level: &str, record: &str) -> Decision {
    let table = PolicyTable::parse(&format!("{DOMAIN} {level}\n")).unwrap();
    let plan = explain(&OutboundPolicy::new().with_table(table), &destination());
    with_tlsa(plan, MX_NAME, record)
}

/// The default level (`may`) under an MTA-STS policy in `mode` whose `mx` is `pattern`.
fn sts(mode: &str, pattern: &str) -> Decision {
    let text = format!("version: STSv1\nmode: {mode}\nmx: {pattern}\nmax_age: 86400\n");
    let sts = StsLookup::Policy {
        policy: StsPolicy::parse(text.as_bytes()).unwrap(),
        from_cache: false,
        refresh_error: None,
    };
    precedence::apply(
        explain(&OutboundPolicy::new(), &destination()),
        &PrecedenceInputs {
            message: MessageTls::default(),
            mx_status: DnssecStatus::Insecure,
            sts: Some(&sts),
            dane: &[],
        },
    )
}

/// Postfix `match=` syntax for the SHA-256 fingerprint of a certificate.
fn fingerprint(identity: &TlsIdentity) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, identity.chain()[0].as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// A TLSA record `usage 1 1` for the SHA-256 of the public key of a chain's leaf.
fn tlsa(usage: u8, identity: &TlsIdentity) -> String {
    spki_record(usage, &identity.chain()[0])
}

/// A `3 1 1` record that matches no key.
const WRONG_311: &str = "3 1 1 0000000000000000000000000000000000000000000000000000000000000000";

// ---- the matrix ------------------------------------------------------------------------
//
// Columns everywhere: right, wrong name, untrusted, expired, no STARTTLS.

/// Postfix levels (TLS_README, "Client TLS security levels").
#[test]
fn every_postfix_level() {
    let right = &pki().server;
    // none: "TLS will not be used", even though the server offers it.
    check_row("none", |_| table("none"), right, [PLAIN; 5]);
    // may: opportunistic TLS, the certificate is not checked; plaintext when the server
    // offers no STARTTLS.
    check_row("may", |_| table("may"), right, [TLS, TLS, TLS, TLS, PLAIN]);
    // encrypt: mandatory TLS, the certificate is not checked. Without STARTTLS the mail is
    // deferred (RFC 8460 §4.3 `starttls-not-supported`).
    let encrypt = [TLS, TLS, TLS, TLS, defer(NO_STARTTLS)];
    check_row("encrypt", |_| table("encrypt"), right, encrypt);
    // fingerprint: the certificate (any chain, any name) must match a pinned digest; the
    // other three are different certificates, pinned by nothing.
    let pinned = format!("fingerprint match={}", fingerprint(right));
    check_row(
        "fingerprint",
        |_| table(&pinned),
        right,
        [
            TLS,
            defer(UNTRUSTED),
            defer(UNTRUSTED),
            defer(UNTRUSTED),
            defer(NO_STARTTLS),
        ],
    );
    // verify: a trusted chain and the MX host name (smtp_tls_verify_cert_match = hostname).
    // RFC 8460 §4.3 names each certificate failure.
    let authenticated = [
        TLS,
        defer(MISMATCH),
        defer(UNTRUSTED),
        defer(EXPIRED),
        defer(NO_STARTTLS),
    ];
    check_row("verify", |_| table("verify"), right, authenticated);
    // secure: a trusted chain and nexthop/dot-nexthop (mx.example.com is under .example.com).
    check_row("secure", |_| table("secure"), right, authenticated);
}

/// `dane` and `dane-only` (TLS_README "Opportunistic DANE TLS" / "Mandatory DANE TLS",
/// RFC 7672) with a DNSSEC-signed MX and TLSA RRset. The usable and unusable records are
/// made for the key the column's server presents.
#[test]
fn every_dane_level_and_tlsa_record() {
    let right = &pki().server;
    for level in ["dane", "dane-only"] {
        // A usable `3 1 1` (DANE-EE, SPKI, SHA-256) matching the key: RFC 7672 §3.1.1
        // ignores the names and validity dates of a DANE-EE certificate, so all four pass;
        // usable TLSA make STARTTLS mandatory (§2.2).
        check_row(
            &format!("{level}, matching 3 1 1"),
            |identity| dane(level, &tlsa(3, identity)),
            right,
            [TLS, TLS, TLS, TLS, defer(NO_STARTTLS)],
        );
        // A `3 1 1` that matches nothing: authentication fails (RFC 7672 §2.2), reported
        // `tlsa-invalid` (RFC 8460 §4.3).
        let invalid = defer(TLSA_INVALID);
        check_row(
            &format!("{level}, mismatching 3 1 1"),
            |_| dane(level, WRONG_311),
            right,
            [invalid, invalid, invalid, invalid, defer(NO_STARTTLS)],
        );
    }
    // A usable `2 1 1` (DANE-TA, SPKI, SHA-256) for the test CA: the chain must lead to that
    // anchor and the leaf must carry a reference name, nexthop or MX host (RFC 7672 §3.1.2,
    // §3.2.2); a key that is not the anchor matches no record (`tlsa-invalid`). Only DANE-EE
    // is exempt from validity dates (§3.1.1), so an expired leaf under the anchor fails.
    let ca_record = spki_record(2, &pki().ca);
    check_row(
        "dane, 2 1 1 for the CA",
        |_| dane("dane", &ca_record),
        right,
        [
            TLS,
            defer(MISMATCH),
            defer(TLSA_INVALID),
            // The record matched the CA; the leaf below it expired: RFC 8460 §4.3.2
            // `certificate-expired`, not `tlsa-invalid` (found by this matrix: the DANE hook
            // used to flatten every error into `tlsa-invalid`).
            defer(EXPIRED),
            defer(NO_STARTTLS),
        ],
    );
    // Only unusable records (PKIX-TA 0 and PKIX-EE 1, which SMTP DANE does not use: RFC 7672
    // §3.1.3). `dane`: the records still prove the server means TLS, so TLS is mandatory
    // but unauthenticated (RFC 7672 §2.2; TLS_README: "encrypt"). `dane-only`: no usable
    // TLSA, so the host is never contacted (TLS_README "Mandatory DANE TLS"), reported
    // `dane-required` (RFC 8460 §4.3).
    for usage in [0, 1] {
        check_row(
            &format!("dane, unusable {usage} 1 1"),
            |identity| dane("dane", &tlsa(usage, identity)),
            right,
            [TLS, TLS, TLS, TLS, defer(NO_STARTTLS)],
        );
        check_row(
            &format!("dane-only, unusable {usage} 1 1"),
            |identity| dane("dane-only", &tlsa(usage, identity)),
            right,
            [skipped(DANE_REQUIRED); 5],
        );
    }
    // No DNSSEC answers at all (`Decision::from_plan`): `dane` is `may` (TLS_README: without
    // DNSSEC, opportunistic TLS), `dane-only` never connects.
    check_row(
        "dane, no TLSA",
        |_| table("dane"),
        right,
        [TLS, TLS, TLS, TLS, PLAIN],
    );
    check_row(
        "dane-only, no TLSA",
        |_| table("dane-only"),
        right,
        [skipped(DANE_REQUIRED); 5],
    );
}

/// Exchange Online outbound connectors (New-OutboundConnector `TlsSettings`, `TlsDomain`).
#[test]
fn every_connector_setting() {
    let right = &pki().server;
    // No TlsSettings: opportunistic TLS, nothing verified, plaintext without STARTTLS.
    check_row(
        "opportunistic",
        |_| connector(""),
        right,
        [TLS, TLS, TLS, TLS, PLAIN],
    );
    // EncryptionOnly: TLS required, the certificate is not checked.
    check_row(
        "encryption_only",
        |_| connector("tls_settings = \"encryption_only\""),
        right,
        [TLS, TLS, TLS, TLS, defer(NO_STARTTLS)],
    );
    // CertificateValidation: a chain to a trusted root; the name is not checked.
    check_row(
        "certificate_validation",
        |_| connector("tls_settings = \"certificate_validation\""),
        right,
        [
            TLS,
            TLS,
            defer(UNTRUSTED),
            defer(EXPIRED),
            defer(NO_STARTTLS),
        ],
    );
    // DomainValidation with TlsDomain: chain, and a name matching TlsDomain.
    let authenticated = [
        TLS,
        defer(MISMATCH),
        defer(UNTRUSTED),
        defer(EXPIRED),
        defer(NO_STARTTLS),
    ];
    check_row(
        "domain_validation, tls_domain",
        |_| connector("tls_settings = \"domain_validation\"\ntls_domain = \"mx.example.com\""),
        right,
        authenticated,
    );
    // DomainValidation without TlsDomain: the certificate must name the recipient domain
    // itself (exact in the Exchange dialect; examples/connectors.toml), so the right
    // certificate here is one for example.com.
    check_row(
        "domain_validation, no tls_domain",
        |_| connector("tls_settings = \"domain_validation\""),
        &pki().issue(&[DOMAIN]),
        authenticated,
    );
    // ... and a certificate for the MX alone does not name it.
    let delivered = run(
        connector("tls_settings = \"domain_validation\""),
        Some(&pki().server),
    );
    assert_eq!(observed(&delivered), defer(MISMATCH));
}

/// MTA-STS (RFC 8461) over the default `may`: `enforce` needs STARTTLS, a trusted chain and
/// the MX name (§4.2, §5); `testing` delivers as `may` would and reports what `enforce`
/// would have refused (§5, RFC 8460 §4.3).
#[test]
fn mta_sts_enforce_and_testing() {
    let right = &pki().server;
    check_row(
        "sts enforce",
        |_| sts("enforce", MX_NAME),
        right,
        [
            TLS,
            defer(MISMATCH),
            defer(UNTRUSTED),
            defer(EXPIRED),
            defer(NO_STARTTLS),
        ],
    );
    check_row(
        "sts testing",
        |_| sts("testing", MX_NAME),
        right,
        [
            TLS,
            tls_would_fail(MISMATCH),
            tls_would_fail(UNTRUSTED),
            tls_would_fail(EXPIRED),
            Expect {
                rpt: Some(Err(NO_STARTTLS)),
                ..PLAIN
            },
        ],
    );
}

/// An MX the policy does not list (RFC 8461 §4.1): `enforce` never connects to it and
/// reports `validation-failure`; `testing` delivers and reports the same failure.
#[test]
fn mta_sts_with_an_mx_the_policy_does_not_list() {
    let right = &pki().server;
    check_row(
        "sts enforce, MX not listed",
        |_| sts("enforce", "mx.other.example"),
        right,
        [skipped(ResultType::ValidationFailure); 5],
    );
    let would_fail = tls_would_fail(ResultType::ValidationFailure);
    check_row(
        "sts testing, MX not listed",
        |_| sts("testing", "mx.other.example"),
        right,
        [
            would_fail,
            would_fail,
            would_fail,
            would_fail,
            Expect {
                rpt: Some(Err(ResultType::ValidationFailure)),
                ..PLAIN
            },
        ],
    );
}

// ---- tampering -------------------------------------------------------------------------

/// Arms on the client's STARTTLS and appends `injected` to the server's next flight (its
/// reply to STARTTLS): the CVE-2011-0411 shape seen from the client.
fn inject_behind_starttls_reply(injected: &'static [u8]) -> Peer {
    let mut armed = false;
    Peer::new(Some(&pki().server)).tampering(move |direction, bytes| match direction {
        Direction::ToServer => armed |= bytes.ends_with(b"STARTTLS\r\n"),
        Direction::ToClient if armed => {
            armed = false;
            bytes.extend_from_slice(injected);
        }
        Direction::ToClient => {}
    })
}

/// RFC 3207 §5 against the real server: bytes injected behind its `220` to STARTTLS never
/// reach the post-TLS reply parser, and never move the ladder (ARCHITECTURE.md invariant
/// 5): one attempt, no retry on a TLS 1.2 rung, and at `may` no plaintext delivery, on the
/// injector's say-so. The deferral says what happened; TLS-RPT counts `validation-failure`
/// (RFC 8460 §4.3). (Before, the ladder walked every TLS rung and `may` delivered in
/// plaintext.)
#[test]
fn rfc3207_5_bytes_injected_behind_the_starttls_220_never_move_the_ladder() {
    let injected: &'static [u8] = b"250-PIPELINING\r\n250 SMTPUTF8\r\n";
    for level in ["may", "encrypt", "verify"] {
        let mut delivery = Delivery::new(settings(), table(level), Arc::new(verifiers()));
        let delivered = deliver(
            &mut delivery,
            inject_behind_starttls_reply(injected),
            &message(512),
        );
        assert!(delivered.received.is_empty(), "{level}");
        assert_eq!(
            delivered.records.len(),
            1,
            "{level}: {:?}",
            delivered.records
        );
        let record = delivered.last();
        assert!(record.tls.is_none());
        assert_eq!(
            record.result,
            AttemptResult::StarttlsUntrusted(StarttlsFault::Pipelined {
                code: Code::SERVICE_READY,
                bytes: injected.len(),
            }),
            "{level}"
        );
        match &delivered.outcome {
            Some(DeliveryOutcome::Deferred(status)) => assert_eq!(
                status.to_string(),
                "451 4.7.0 TLS not started: 30 bytes pipelined behind the 220 reply to STARTTLS"
            ),
            other => panic!("{level}: {other:?}"),
        }
        assert_eq!(
            record
                .report_result()
                .map(|r| r.map_err(|failure| failure.result_type)),
            Some(Err(ResultType::ValidationFailure)),
            "{level}"
        );
    }
}

/// Postfix `smtp_skip_5xx_greeting` and ARCHITECTURE.md invariant 6: a `554` greeting forged
/// in the path (the server itself greets with 220) defers the message under a policy that
/// requires TLS, where it used to bounce it.
#[test]
fn postfix_smtp_skip_5xx_greeting_a_forged_554_greeting_defers() {
    for level in ["encrypt", "verify"] {
        let mut first = true;
        let peer = Peer::new(Some(&pki().server)).tampering(move |direction, bytes| {
            if direction == Direction::ToClient && std::mem::take(&mut first) {
                *bytes = b"554 5.7.1 forged refusal\r\n".to_vec();
            }
        });
        let mut delivery = Delivery::new(settings(), table(level), Arc::new(verifiers()));
        let delivered = deliver(&mut delivery, peer, &message(512));
        assert!(delivered.received.is_empty(), "{level}");
        match &delivered.outcome {
            Some(DeliveryOutcome::Deferred(status)) => {
                assert!(!status.is_permanent(), "{level}: {status}");
                assert_eq!(status.enhanced().to_string(), "4.7.1", "{level}");
            }
            other => panic!("{level}: {other:?}"),
        }
    }
}

/// A reply to STARTTLS that never arrives (swallowed on the way): the client's STARTTLS
/// deadline (RFC 5321 §4.5.3.2 style, 5 minutes as Postfix `smtp_starttls_timeout`) ends
/// the attempt on the virtual clock, without sleeping; any retry would wait it out.
#[test]
fn a_swallowed_starttls_reply_times_out_on_the_virtual_clock() {
    let mut armed = false;
    let peer = Peer::new(Some(&pki().server)).tampering(move |direction, bytes| match direction {
        Direction::ToServer => armed = bytes.ends_with(b"STARTTLS\r\n"),
        Direction::ToClient if armed => bytes.clear(),
        Direction::ToClient => {}
    });
    let mut delivery = Delivery::new(settings(), table("encrypt"), Arc::new(verifiers()));
    let delivered = deliver(&mut delivery, peer, &message(512));
    assert!(delivered.received.is_empty());
    for record in &delivered.records {
        assert!(
            matches!(
                record.result,
                AttemptResult::TlsFailed {
                    class: FailureClass::Timeout,
                    ..
                }
            ),
            "{:?}",
            record.result
        );
    }
    let starttls = Timeouts::default().starttls;
    let waited = u32::try_from(delivered.records.len()).unwrap();
    assert_eq!(delivered.ended_at, NOW.saturating_add(starttls * waited));
    assert!(matches!(
        delivered.outcome,
        Some(DeliveryOutcome::Deferred(_))
    ));
}

// ---- the server's application ----------------------------------------------------------

/// The peer's answers reach the client: a refused recipient is left out, a refused message
/// is not taken, and the client's record still says the session completed over TLS.
#[test]
fn the_server_applications_answers_reach_the_client() {
    let refuse =
        |code: u16, text: &str| Some(Reply::new(Code::new(code).unwrap(), None, text).unwrap());
    let peer = Peer::new(Some(&pki().server)).answering(move |event| match event {
        ServerEvent::RcptTo(rcpt) if rcpt.to.to_string().contains("carol") => {
            refuse(550, "no such user")
        }
        _ => None,
    });
    let mut delivery = Delivery::new(settings(), table("verify"), Arc::new(verifiers()));
    let delivered = deliver(&mut delivery, peer, &message(512));
    assert_eq!(delivered.received.len(), 1);
    let to: Vec<String> = delivered.received[0]
        .to
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert!(to.len() == 1 && to[0].contains("bob"), "{to:?}");

    let peer = Peer::new(Some(&pki().server)).answering(move |event| match event {
        ServerEvent::MessageEnd { .. } => refuse(451, "try again later"),
        _ => None,
    });
    let mut delivery = Delivery::new(settings(), table("verify"), Arc::new(verifiers()));
    let delivered = deliver(&mut delivery, peer, &message(512));
    assert!(delivered.received.is_empty());
    assert_eq!(
        delivered.last().result,
        AttemptResult::Completed { tls: true }
    );
}
