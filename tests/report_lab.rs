//! Issue 14's done-when for TLS-RPT: a day of outcomes in a state store becomes RFC 8460
//! reports that leave the process for real. `mailtls report` mails one to the lab's Postfix
//! (found in its Maildir: the RFC 8460 §5.3 headers, the attachment gunzips to the JSON of
//! RFC 8460 Appendix B's example report, field for field) and POSTs one to the lab's HTTPS
//! report server; a second run sends nothing twice. A destination that refuses (SMTP 554,
//! HTTP 500) is retried on the next run, and a malformed `_smtp._tls` record is named.
//!
//! Most outcomes are written through the Store API, to have Appendix B's exact numbers; one
//! test makes its day with `mailtls send --state` against the lab, the whole path. Needs `MAILTLS_LAB_ENV` (`.ci/lab/start.sh`); skipped without it unless
//! `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;
#[path = "support/tlsrpt.rs"]
mod tlsrpt;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use mailtls::io::store::SqliteStore;
use mailtls::report::{PolicyRef, PolicyType, ResultType, SessionFailure, SessionOutcome};
use mailtls::state::{ReportDay, Store};
use mailtls::Timestamp;
use serde_json::Value;
use support::lab::Lab;
use tlsrpt::{assert_same, base64_decode, gunzip};

/// 2016-04-01T00:00:00Z and its last second: the day of RFC 8460's example report.
const DAY_START: u64 = 1_459_468_800;
const DAY_END: u64 = 1_459_555_199;
/// 01:00 the next day: the day is over, its report due; the next day is not.
const NOW: u64 = DAY_START + 86_400 + 3_600;

/// RFC 8460 Appendix B's example report (§4.4), with `{domain}` for company-y.example (the
/// lab's policy domain stands in for it) and the RFC's IP spellings.
const RFC_EXAMPLE: &str = r#"{
  "organization-name": "Company-X",
  "date-range": {
    "start-datetime": "2016-04-01T00:00:00Z",
    "end-datetime": "2016-04-01T23:59:59Z"
  },
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {
      "policy-type": "sts",
      "policy-string": ["version: STSv1","mode: testing",
            "mx: *.mail.{domain}","max_age: 86400"],
      "policy-domain": "{domain}",
      "mx-host": ["*.mail.{domain}"]
    },
    "summary": {
      "total-successful-session-count": 5326,
      "total-failure-session-count": 303
    },
    "failure-details": [{
      "result-type": "certificate-expired",
      "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.{domain}",
      "failed-session-count": 100
    }, {
      "result-type": "starttls-not-supported",
      "sending-mta-ip": "2001:db8:abcd:0013::1",
      "receiving-mx-hostname": "mx2.mail.{domain}",
      "receiving-ip": "203.0.113.56",
      "failed-session-count": 200,
      "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
    }, {
      "result-type": "validation-failure",
      "sending-mta-ip": "198.51.100.62",
      "receiving-ip": "203.0.113.58",
      "receiving-mx-hostname": "mx-backup.mail.{domain}",
      "failed-session-count": 3,
      "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    }]
  }]
}"#;

/// The lab, with the report destinations this branch's `.ci/lab/start.sh` adds; a lab started
/// by an older start.sh fails the test in CI (restart it) and is skipped elsewhere.
fn lab(test: &str) -> Option<Lab> {
    let lab = Lab::require(test)?;
    if std::fs::read_to_string(lab.path()).is_ok_and(|env| env.contains("LAB_REPORT_PORT=")) {
        return Some(lab);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{test}: {} has no LAB_REPORT_PORT: the lab predates the TLS-RPT destinations; \
         restart it with .ci/lab/start.sh",
        lab.path().display()
    );
    eprintln!(
        "SKIPPED {test}: {} has no LAB_REPORT_PORT (restart the lab with .ci/lab/start.sh)",
        lab.path().display()
    );
    None
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

fn temp_store(name: &str) -> (PathBuf, SqliteStore) {
    let dir = std::env::temp_dir().join(format!("mailtls-{}", unique(name)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    (path, store)
}

fn sts_policy(domain: &str) -> PolicyRef {
    PolicyRef {
        policy_type: PolicyType::Sts,
        policy_string: vec![
            "version: STSv1".into(),
            "mode: testing".into(),
            format!("mx: *.mail.{domain}"),
            "max_age: 86400".into(),
        ],
        policy_domain: domain.into(),
        mx_host: vec![format!("*.mail.{domain}")],
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn outcome(domain: &str, at: u64, result: Result<(), SessionFailure>) -> SessionOutcome {
    SessionOutcome {
        at: Timestamp::from_unix_secs(at),
        policy: sts_policy(domain),
        unused_policies: vec![],
        mx_host: Some(format!("mx1.mail.{domain}")),
        sending_ip: ip("192.0.2.1"),
        receiving_ip: None,
        receiving_helo: None,
        result,
    }
}

/// The sessions behind RFC 8460 Appendix B's report, recorded one by one as a sending MTA
/// records them, plus one on the next day (not yet over at [`NOW`]: not reported).
fn record_rfc_day(store: &dyn Store, domain: &str) {
    let record = |o: SessionOutcome| store.record_outcome(&o).unwrap();
    for i in 0..5326 {
        record(outcome(domain, DAY_START + i, Ok(())));
    }
    for i in 0..100 {
        let mut o = outcome(
            domain,
            DAY_START + 10 * i,
            Err(SessionFailure::new(ResultType::CertificateExpired)),
        );
        o.sending_ip = ip("2001:db8:abcd:0012::1");
        record(o);
    }
    for i in 0..200 {
        let mut o = outcome(
            domain,
            DAY_END - i,
            Err(SessionFailure {
                result_type: ResultType::StarttlsNotSupported,
                additional_information: Some(
                    "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
                        .into(),
                ),
                failure_reason_code: None,
            }),
        );
        o.sending_ip = ip("2001:db8:abcd:0013::1");
        o.mx_host = Some(format!("mx2.mail.{domain}"));
        o.receiving_ip = ip("203.0.113.56");
        record(o);
    }
    for i in 0..3 {
        let mut o = outcome(
            domain,
            DAY_START + 3600 * i,
            Err(SessionFailure {
                result_type: ResultType::ValidationFailure,
                additional_information: None,
                failure_reason_code: Some("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED".into()),
            }),
        );
        o.sending_ip = ip("198.51.100.62");
        o.mx_host = Some(format!("mx-backup.mail.{domain}"));
        o.receiving_ip = ip("203.0.113.58");
        record(o);
    }
    record(outcome(domain, DAY_END + 1, Ok(())));
}

/// Runs `mailtls report --json` against the lab; returns the exit code, the JSON array and
/// everything printed.
fn report(lab: &Lab, state: &Path, from: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let output = report_command(lab, state, from, extra).output().unwrap();
    parse_output(&output)
}

fn parse_output(output: &std::process::Output) -> (i32, Vec<Value>, String) {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let lines = json.as_array().cloned().unwrap_or_default();
    (output.status.code().unwrap_or(-1), lines, text)
}

fn report_command(lab: &Lab, state: &Path, from: &str, extra: &[&str]) -> Command {
    report_command_at(lab, state, from, NOW, extra)
}

/// `mailtls report` as if run at `now` (Unix seconds).
fn report_command_at(lab: &Lab, state: &Path, from: &str, now: u64, extra: &[&str]) -> Command {
    let pki = lab.file("LAB_PKI_DIR");
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailtls"));
    command
        .arg("report")
        .arg("--state")
        .arg(state)
        .args([
            "--submitter",
            "company-x.example",
            "--organization",
            "Company-X",
            "--contact",
            "sts-reporting@company-x.example",
            "--from",
            from,
            "--now",
            &now.to_string(),
            "--resolver",
            &lab.dns().to_string(),
            "--trust-anchor",
            &lab.trust_anchor().display().to_string(),
            "--port",
            &lab.smtp_port().to_string(),
            "--json",
        ])
        .arg("--tafile")
        .arg(pki.join("trust-anchors.pem"))
        .args(extra);
    command
}

fn line<'a>(lines: &'a [Value], destination_prefix: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| {
            l["destination"]
                .as_str()
                .is_some_and(|d| d.starts_with(destination_prefix))
        })
        .unwrap_or_else(|| panic!("no line for {destination_prefix} in {lines:?}"))
}

/// The messages in the lab Maildir that came from `from`.
fn mails_from(lab: &Lab, from: &str) -> Vec<String> {
    let header = format!("From: <{from}>");
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(lab.smtp_maildir().join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                if text.contains(&header) {
                    found.push(text);
                }
            }
        }
    }
    found
}

fn posts(lab: &Lab) -> BTreeSet<PathBuf> {
    std::fs::read_dir(lab.file("LAB_REPORT_POSTS"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "body"))
        .collect()
}

/// Checks a report's JSON against Appendix B, field for field; the report-id is ours.
fn assert_appendix_b(json: &str, domain: &str) {
    let mut ours: Value = serde_json::from_str(json).unwrap();
    let rfc: Value = serde_json::from_str(&RFC_EXAMPLE.replace("{domain}", domain)).unwrap();
    assert_eq!(
        ours["report-id"],
        format!("{}.{domain}@company-x.example", DAY_START / 86_400).as_str()
    );
    ours["report-id"] = rfc["report-id"].clone();
    assert_same("$", &ours, &rfc);
}

/// The body of the MIME part whose header block contains `content_type`.
fn part_body<'a>(message: &'a str, content_type: &str) -> &'a str {
    let (_, after) = message
        .split_once(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in\n{message}"));
    let (_, body) = after
        .split_once("\r\n\r\n")
        .or_else(|| after.split_once("\n\n"))
        .unwrap();
    body.split("\n--").next().unwrap()
}

#[test]
fn a_day_of_outcomes_reaches_postfix_by_mail_and_https_by_post_once() {
    let Some(lab) = lab("report_lab") else { return };
    let domain = lab.var("LAB_DOMAIN_RPT").to_owned();
    let (state, store) = temp_store("report-lab");
    record_rfc_day(&store, &domain);
    let from = format!("{}@company-x.example", unique("tlsrpt"));
    let posts_before = posts(&lab);

    // Dry run: both destinations due, nothing sent.
    let (code, lines, text) = report(&lab, &state, &from, &["--dry-run"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines.iter().all(|l| l["result"] == "due"), "{text}");
    assert!(mails_from(&lab, &from).is_empty());

    let (code, lines, text) = report(&lab, &state, &from, &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(lines.len(), 2, "one report, two destinations: {text}");
    let mail = line(&lines, "mailto:");
    assert_eq!(mail["result"], "sent", "{text}");
    assert_eq!(mail["domain"], domain.as_str());
    assert_eq!(mail["date"], "2016-04-01");
    assert!(
        mail["detail"].as_str().unwrap().starts_with("250"),
        "{text}"
    );
    let post = line(&lines, "https://");
    assert_eq!(post["result"], "sent", "{text}");
    assert_eq!(post["detail"], "HTTP 201", "{text}");

    // The mail, in Postfix's Maildir, as RFC 8460 §5.3 writes it.
    let mails = mails_from(&lab, &from);
    assert_eq!(mails.len(), 1, "exactly one report mail");
    let message = mails[0].replace("\r\n", "\n");
    for header in [
        format!("TLS-Report-Domain: {domain}\n"),
        "TLS-Report-Submitter: company-x.example\n".to_owned(),
        format!("Subject: Report Domain: {domain}\n Submitter: company-x.example\n Report-ID: <"),
        "TLS-Required: No\n".to_owned(),
        "To: <tlsrpt@partner.test>\n".to_owned(),
        "Content-Type: multipart/report; report-type=\"tlsrpt\";".to_owned(),
        "Content-Type: application/tlsrpt+gzip\n".to_owned(),
        // RFC 8460 §5.1: sender!policy-domain!begin!end!unique-id.json.gz
        format!(
            "filename=\"company-x.example!{domain}!{DAY_START}!{DAY_END}!{}{}companyxexample.json.gz\"",
            DAY_START / 86_400,
            domain.replace('.', "")
        ),
    ] {
        assert!(message.contains(&header), "missing {header:?} in\n{message}");
    }
    let attachment = part_body(&message, "application/tlsrpt+gzip");
    let mailed = gunzip(&base64_decode(attachment));
    assert_appendix_b(&mailed, &domain);

    // The POST, as the HTTPS endpoint kept it: application/tlsrpt+gzip, the same report.
    let new_posts: Vec<PathBuf> = posts(&lab).difference(&posts_before).cloned().collect();
    let ours: Vec<&PathBuf> = new_posts
        .iter()
        .filter(|p| {
            let json = gunzip(&std::fs::read(p).unwrap());
            json.contains(&format!("\"policy-domain\":\"{domain}\""))
                && json.contains("\"total-successful-session-count\":5326,")
        })
        .collect();
    assert_eq!(ours.len(), 1, "exactly one POST: {new_posts:?}");
    let meta = std::fs::read_to_string(ours[0].with_extension("meta")).unwrap();
    assert_eq!(meta, "/v1/tlsrpt\napplication/tlsrpt+gzip\n");
    let posted = gunzip(&std::fs::read(ours[0]).unwrap());
    assert_appendix_b(&posted, &domain);
    assert_eq!(posted, mailed, "the mail and the POST carry one report");

    // Again: nothing is sent twice.
    let (code, lines, text) = report(&lab, &state, &from, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        lines.iter().all(|l| l["result"] == "already-sent"),
        "{text}"
    );
    assert_eq!(mails_from(&lab, &from).len(), 1);
    let again = posts(&lab)
        .difference(&posts_before)
        .filter(|p| {
            gunzip(&std::fs::read(p).unwrap()).contains("\"total-successful-session-count\":5326,")
        })
        .count();
    assert_eq!(again, 1, "no second POST");
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[test]
fn a_refusing_destination_is_retried_on_the_next_run() {
    let Some(lab) = lab("report_lab_refused") else {
        return;
    };
    let domain = lab.var("LAB_DOMAIN_RPT_REFUSED").to_owned();
    let (state, store) = temp_store("report-refused");
    store
        .record_outcome(&outcome(&domain, DAY_START + 60, Ok(())))
        .unwrap();
    let from = format!("{}@company-x.example", unique("tlsrpt"));
    for run in 0..2 {
        let (code, lines, text) = report(&lab, &state, &from, &[]);
        assert_eq!(
            code, 75,
            "run {run}: a refused report exits 75 (retry): {text}"
        );
        let mail = line(&lines, "mailto:");
        assert_eq!(mail["result"], "failed", "{text}");
        assert!(
            mail["detail"].as_str().unwrap().starts_with("554"),
            "the SMTP reply is shown: {text}"
        );
        let post = line(&lines, "https://");
        assert_eq!(post["result"], "failed", "{text}");
        assert!(
            post["detail"].as_str().unwrap().contains("HTTP status 500"),
            "{text}"
        );
    }
    // Nothing marked sent, nothing lost: the day is still there to retry.
    let day = ReportDay::of(&domain, Timestamp::from_unix_secs(DAY_START));
    assert_eq!(store.report_days().unwrap(), vec![day.clone()]);
    let refused = format!("mailto:{}", lab.var("LAB_REPORT_REFUSED_RCPT"));
    assert!(!store.is_sent(&day, &refused).unwrap());
    assert_eq!(store.tallies(&day).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[test]
fn a_malformed_tlsrpt_record_is_named_and_the_day_kept() {
    let Some(lab) = lab("report_lab_malformed") else {
        return;
    };
    let domain = lab.var("LAB_DOMAIN_RPT_MALFORMED").to_owned();
    let (state, store) = temp_store("report-malformed");
    store
        .record_outcome(&outcome(&domain, DAY_START + 60, Ok(())))
        .unwrap();
    let from = format!("{}@company-x.example", unique("tlsrpt"));
    let (code, lines, text) = report(&lab, &state, &from, &[]);
    assert_eq!(code, 75, "{text}");
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["result"], "no-destination", "{text}");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("_smtp._tls.{domain}"))
            && detail.contains("unusable TLS-RPT record")
            && detail.contains("mailto: URI without an address"),
        "the record, and what is wrong with it: {detail}"
    );
    assert_eq!(store.report_days().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[test]
fn two_report_processes_on_one_store_send_each_report_once() {
    let Some(lab) = lab("report_lab_two_processes") else {
        return;
    };
    let domain = lab.var("LAB_DOMAIN_RPT").to_owned();
    let (state, store) = temp_store("report-two");
    for i in 0..50 {
        store
            .record_outcome(&outcome(&domain, DAY_START + i, Ok(())))
            .unwrap();
    }
    drop(store);
    let from = format!("{}@company-x.example", unique("tlsrpt"));
    let posts_before = posts(&lab);
    // Both start before either finishes; each destination is claimed by one of them.
    let children: Vec<_> = (0..2)
        .map(|_| {
            report_command(&lab, &state, &from, &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| parse_output(&c.wait_with_output().unwrap()))
        .collect();
    let mut sent = 0;
    for (code, lines, text) in &outputs {
        assert_eq!(*code, 0, "{text}");
        for l in lines {
            match l["result"].as_str().unwrap() {
                "sent" => sent += 1,
                "already-sent" | "claimed-elsewhere" => {}
                other => panic!("unexpected {other}: {text}"),
            }
        }
    }
    assert_eq!(
        sent, 2,
        "each destination once between the two: {outputs:?}"
    );
    assert_eq!(mails_from(&lab, &from).len(), 1, "one mail");
    let ours = posts(&lab)
        .difference(&posts_before)
        .filter(|p| {
            gunzip(&std::fs::read(p).unwrap()).contains("\"total-successful-session-count\":50,")
        })
        .count();
    assert_eq!(ours, 1, "one POST");
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

/// `mailtls send` into the lab with a state file: the DANE-verified delivery to `domain`
/// through the MX on `port`. Returns the exit code and what was printed.
fn send_with_state(lab: &Lab, domain: &str, port: u16, state: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(["send", "--from", "lab@sender.test", "--to"])
        .arg(format!("rcpt@{domain}"))
        .args(["--policy", "dane"])
        .arg("--resolver")
        .arg(lab.dns().to_string())
        .arg("--trust-anchor")
        .arg(lab.trust_anchor())
        .args(["--port", &port.to_string()])
        .arg("--state")
        .arg(state)
        .env("SSL_CERT_FILE", lab.ca_file())
        .env_remove("SSL_CERT_DIR")
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// The whole path: a day of `mailtls send --state` against the lab (two deliveries verified
/// by DANE, one deferred because the MX presents a certificate its TLSA record does not
/// match) becomes, the day after, the RFC 8460 report `mailtls report` mails to Postfix and
/// POSTs to the HTTPS endpoint, with exactly those sessions in it.
#[test]
fn a_day_of_sends_with_state_is_reported_the_next_day() {
    let Some(lab) = lab("report_lab_sends") else {
        return;
    };
    let domain = lab.var("LAB_DOMAIN_RPT").to_owned();
    let (state, store) = temp_store("report-lab-sends");
    drop(store);
    for (port, want) in [
        (lab.smtp_port(), 0),
        (lab.smtp_port(), 0),
        (lab.smtp_wrong_port(), 75),
    ] {
        let (code, text) = send_with_state(&lab, &domain, port, &state);
        assert_eq!(code, want, "send through port {port}:\n{text}");
    }

    // The day after, at 01:00 UTC.
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let now = (today + 1) * 86_400 + 3_600;
    let from = format!("{}@company-x.example", unique("tlsrpt-sends"));
    let posts_before = posts(&lab);
    let output = report_command_at(&lab, &state, &from, now, &[])
        .output()
        .unwrap();
    let (code, lines, text) = parse_output(&output);
    assert_eq!(code, 0, "{text}");
    assert!(
        lines.iter().all(|l| l["result"] == "sent"),
        "both destinations: {text}"
    );
    assert_eq!(lines.len(), 2, "{text}");

    let mails = mails_from(&lab, &from);
    assert_eq!(mails.len(), 1, "exactly one report mail");
    let message = mails[0].replace("\r\n", "\n");
    let mailed = gunzip(&base64_decode(part_body(
        &message,
        "application/tlsrpt+gzip",
    )));
    let posted: Vec<String> = posts(&lab)
        .difference(&posts_before)
        .map(|p| gunzip(&std::fs::read(p).unwrap()))
        .filter(|json| json.contains(&format!("\"policy-domain\":\"{domain}\"")))
        .collect();
    assert_eq!(posted.len(), 1, "one POST");
    assert_eq!(
        posted[0], mailed,
        "the POST and the mail carry the same report"
    );

    // RFC 8460 §4.4, field by field, with what the three sends did.
    let report: Value = serde_json::from_str(&mailed).unwrap();
    assert_eq!(report["organization-name"], "Company-X");
    assert_eq!(report["contact-info"], "sts-reporting@company-x.example");
    let day = time_of_day_start(today);
    assert_eq!(report["date-range"]["start-datetime"], day.0.as_str());
    assert_eq!(report["date-range"]["end-datetime"], day.1.as_str());
    assert!(report["report-id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    let policies = report["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "{report:#}");
    let policy = &policies[0];
    assert_eq!(policy["policy"]["policy-type"], "tlsa", "{report:#}");
    assert_eq!(policy["policy"]["policy-domain"], domain.as_str());
    let spki = lab.var("LAB_SMTP_SPKI_SHA256").to_ascii_lowercase();
    let strings = policy["policy"]["policy-string"].as_array().unwrap();
    assert!(
        strings.iter().any(|s| s
            .as_str()
            .is_some_and(|s| s.to_ascii_lowercase() == format!("3 1 1 {spki}"))),
        "the TLSA record is the policy string: {report:#}"
    );
    assert_eq!(policy["summary"]["total-successful-session-count"], 2);
    assert_eq!(policy["summary"]["total-failure-session-count"], 1);
    let failures = policy["failure-details"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert_eq!(failures[0]["failed-session-count"], 1);
    assert_eq!(failures[0]["receiving-mx-hostname"], "mx.partner.test");
    if !failures[0]["receiving-ip"].is_null() {
        assert_eq!(failures[0]["receiving-ip"], "127.0.0.1", "{report:#}");
    }
    assert!(
        [
            "validation-failure",
            "tlsa-invalid",
            "certificate-host-mismatch"
        ]
        .contains(&failures[0]["result-type"].as_str().unwrap_or_default()),
        "{report:#}"
    );
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

/// The RFC 3339 start and end of UTC day `day` (days since the epoch).
fn time_of_day_start(day: u64) -> (String, String) {
    let start = Timestamp::from_unix_secs(day * 86_400).rfc3339();
    let end = Timestamp::from_unix_secs(day * 86_400 + 86_399).rfc3339();
    (start, end)
}
