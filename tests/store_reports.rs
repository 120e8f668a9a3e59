//! Sending the TLS-RPT reports a store holds: once per destination, retried after a failure,
//! never twice; the mail is RFC 8460 §5.3's and its attachment gunzips to the RFC 8460 §4.4
//! JSON, field for field as in Appendix B's example report.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/tlsrpt.rs"]
mod tlsrpt;

use mailtls::io::store::reports::{
    send_due_reports, ReportSend, ReportSettings, ReportTransport, DEFAULT_LEASE,
};
use mailtls::names::DnsName;
use mailtls::policy::mta_sts::StsPolicy;
use mailtls::report::{ResultType, SessionFailure, SessionOutcome, TlsRptRecord};
use mailtls::state::{MemoryState, ReportDay, Store};
use mailtls::Timestamp;
use tlsrpt::{base64_decode, gunzip};

/// 2016-04-01T00:00:00Z, the day of RFC 8460's example report.
const DAY0: u64 = 1_459_468_800;

#[derive(Default)]
struct Recorder {
    mails: Vec<(String, String, Vec<u8>)>,
    posts: Vec<(String, Vec<u8>)>,
    refuse_mail: bool,
}

impl ReportTransport for Recorder {
    fn mail(&mut self, from: &str, to: &str, message: &[u8]) -> Result<String, String> {
        if self.refuse_mail {
            return Err("451 4.3.0 try again later".into());
        }
        self.mails.push((from.into(), to.into(), message.to_vec()));
        Ok("250 2.0.0 Ok: queued".into())
    }
    fn post(&mut self, uri: &str, gzipped: &[u8]) -> Result<String, String> {
        self.posts.push((uri.into(), gzipped.to_vec()));
        Ok("HTTP 201".into())
    }
}

fn settings() -> ReportSettings {
    ReportSettings {
        organization_name: "Company-X".into(),
        contact_info: "sts-reporting@company-x.example".into(),
        submitter: "company-x.example".into(),
        from: "tlsrpt@company-x.example".into(),
        holder: "test-sender".into(),
        lease: DEFAULT_LEASE,
    }
}

fn record_outcomes(store: &dyn Store) {
    let domain = DnsName::parse("company-y.example").unwrap();
    let policy = StsPolicy::parse(
        b"version: STSv1\nmode: testing\nmx: *.mail.company-y.example\nmax_age: 86400\n",
    )
    .unwrap();
    let session = |at: u64, result| SessionOutcome {
        at: Timestamp::from_unix_secs(at),
        policy: policy.policy_ref(&domain),
        unused_policies: vec![],
        mx_host: Some("mx1.mail.company-y.example".into()),
        sending_ip: Some("2001:db8:abcd:12::1".parse().unwrap()),
        receiving_ip: Some("203.0.113.56".parse().unwrap()),
        receiving_helo: None,
        result,
    };
    for i in 0..3 {
        store.record_outcome(&session(DAY0 + i, Ok(()))).unwrap();
    }
    let failure = SessionFailure {
        result_type: ResultType::StarttlsNotSupported,
        additional_information: None,
        failure_reason_code: Some("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED".into()),
    };
    store
        .record_outcome(&session(DAY0 + 100, Err(failure)))
        .unwrap();
    // Today: not over, not sent.
    store
        .record_outcome(&session(DAY0 + 2 * 86_400, Ok(())))
        .unwrap();
}

#[test]
fn reports_go_once_to_each_destination_and_a_failure_is_retried() {
    let store = MemoryState::new();
    record_outcomes(&store);
    let record = TlsRptRecord::parse(
        "v=TLSRPTv1; rua=mailto:tlsrpt%40company-y.example,https://reports.company-y.example/v1",
    )
    .unwrap();
    let mut lookup = |domain: &str| {
        assert_eq!(domain, "company-y.example");
        Ok(record.clone())
    };
    let now = Timestamp::from_unix_secs(DAY0 + 2 * 86_400 + 60);
    let day = ReportDay::of("company-y.example", Timestamp::from_unix_secs(DAY0));

    // Run 1: the mail is refused, the POST accepted.
    let mut transport = Recorder {
        refuse_mail: true,
        ..Recorder::default()
    };
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        matches!(&results[0], ReportSend::Failed { destination, .. } if destination == "mailto:tlsrpt%40company-y.example")
    );
    assert!(
        matches!(&results[1], ReportSend::Sent { destination, .. } if destination == "https://reports.company-y.example/v1")
    );
    assert!(!store
        .is_sent(&day, "mailto:tlsrpt%40company-y.example")
        .unwrap());

    // Run 2: the mail goes; the POST is not repeated.
    transport.refuse_mail = false;
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        matches!(&results[0], ReportSend::Sent { accepted, .. } if accepted.starts_with("250"))
    );
    assert!(matches!(&results[1], ReportSend::AlreadySent { .. }));
    assert_eq!(transport.posts.len(), 1);
    assert_eq!(transport.mails.len(), 1);

    // Run 3: nothing left to send.
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, ReportSend::AlreadySent { .. })),
        "{results:?}"
    );
    assert_eq!(transport.mails.len() + transport.posts.len(), 2);

    // The mail, as RFC 8460 §5.3 writes it.
    let (from, to, message) = &transport.mails[0];
    assert_eq!(from, "tlsrpt@company-x.example");
    assert_eq!(to, "tlsrpt@company-y.example");
    let message = String::from_utf8(message.clone()).unwrap();
    for header in [
        "TLS-Report-Domain: company-y.example\r\n",
        "TLS-Report-Submitter: company-x.example\r\n",
        "Subject: Report Domain: company-y.example\r\n Submitter: company-x.example\r\n Report-ID: <",
        "TLS-Required: No\r\n",
        "Content-Type: multipart/report; report-type=\"tlsrpt\";",
        "Content-Type: application/tlsrpt+gzip\r\n",
        "filename=\"company-x.example!company-y.example!1459468800!1459555199!",
    ] {
        assert!(message.contains(header), "missing {header:?} in\n{message}");
    }
    let (_, after) = message
        .split_once("Content-Type: application/tlsrpt+gzip\r\n")
        .unwrap();
    let (_, body) = after.split_once("\r\n\r\n").unwrap();
    let attachment = body.split("\r\n--").next().unwrap();
    let json = gunzip(&base64_decode(attachment));
    assert_eq!(
        gunzip(&transport.posts[0].1),
        json,
        "mail and POST carry one report"
    );

    // Field for field as RFC 8460 Appendix B.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["organization-name"], "Company-X");
    assert_eq!(v["date-range"]["start-datetime"], "2016-04-01T00:00:00Z");
    assert_eq!(v["date-range"]["end-datetime"], "2016-04-01T23:59:59Z");
    assert_eq!(v["contact-info"], "sts-reporting@company-x.example");
    assert!(v["report-id"]
        .as_str()
        .unwrap()
        .contains("company-y.example"));
    let p = &v["policies"][0];
    assert_eq!(p["policy"]["policy-type"], "sts");
    assert_eq!(p["policy"]["policy-string"][1], "mode: testing");
    assert_eq!(p["policy"]["policy-domain"], "company-y.example");
    assert_eq!(p["policy"]["mx-host"][0], "*.mail.company-y.example");
    assert_eq!(p["summary"]["total-successful-session-count"], 3);
    assert_eq!(p["summary"]["total-failure-session-count"], 1);
    let d = &p["failure-details"][0];
    assert_eq!(d["result-type"], "starttls-not-supported");
    assert_eq!(d["sending-mta-ip"], "2001:db8:abcd:12::1");
    assert_eq!(d["receiving-mx-hostname"], "mx1.mail.company-y.example");
    assert_eq!(d["receiving-ip"], "203.0.113.56");
    assert_eq!(d["failed-session-count"], 1);
    assert_eq!(
        d["failure-reason-code"],
        "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    );
    assert!(d.get("receiving-mx-helo").is_none());
}

#[test]
fn a_rua_that_smuggles_headers_is_refused_and_not_marked() {
    let store = MemoryState::new();
    record_outcomes(&store);
    // %0D%0A would end the To: header and start one of the attacker's choosing.
    let record = TlsRptRecord::parse(
        "v=TLSRPTv1; rua=mailto:a%40company-y.example%0D%0ABcc:x%40evil.example",
    )
    .unwrap();
    let mut lookup = |_: &str| Ok(record.clone());
    let mut transport = Recorder::default();
    let now = Timestamp::from_unix_secs(DAY0 + 3 * 86_400);
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert!(
        matches!(&results[0], ReportSend::Failed { error, .. } if error.contains("header")),
        "{results:?}"
    );
    assert!(transport.mails.is_empty());
}

#[test]
fn a_domain_without_a_record_is_retried_later() {
    let store = MemoryState::new();
    record_outcomes(&store);
    let mut lookup = |_: &str| Err("no _smtp._tls record".to_owned());
    let mut transport = Recorder::default();
    let now = Timestamp::from_unix_secs(DAY0 + 3 * 86_400);
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, ReportSend::NoDestination { .. })),
        "{results:?}"
    );
    assert_eq!(store.report_days().unwrap().len(), 2);
}

#[test]
fn a_destination_claimed_by_another_sender_is_left_to_it() {
    let store = MemoryState::new();
    record_outcomes(&store);
    let uri = "https://reports.company-y.example/v1";
    let record = TlsRptRecord::parse(&format!("v=TLSRPTv1; rua={uri}")).unwrap();
    let mut lookup = |_: &str| Ok(record.clone());
    let now = Timestamp::from_unix_secs(DAY0 + 2 * 86_400);
    let day = ReportDay::of("company-y.example", Timestamp::from_unix_secs(DAY0));
    // Another sender is at it: claims run on the wall clock, whatever `now` says.
    let clock = mailtls::io::now();
    let later = Timestamp::from_unix_secs(clock.unix_secs() + 600);
    assert!(store.claim_send(&day, uri, "other", clock, later).unwrap());
    let mut transport = Recorder::default();
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert!(
        matches!(&results[0], ReportSend::ClaimedElsewhere { .. }),
        "{results:?}"
    );
    assert!(transport.posts.is_empty());
    // The other sender failed and gave the claim back: this one sends.
    store.release_send(&day, uri, "other").unwrap();
    let results = send_due_reports(&store, &settings(), now, &mut lookup, &mut transport).unwrap();
    assert!(
        matches!(&results[0], ReportSend::Sent { .. }),
        "{results:?}"
    );
    assert_eq!(transport.posts.len(), 1);
    // A claim left behind on a sent destination never sends it again.
    assert!(!store.claim_send(&day, uri, "other", clock, later).unwrap());
}
