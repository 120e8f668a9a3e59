//! TLS-RPT aggregate reports: the RFC 8460 §4.4 example rebuilt from recorded outcomes and
//! compared field by field, grouping, the date range, caps, and the unused-policy rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/tlsrpt.rs"]
mod tlsrpt;

use core::net::IpAddr;

use mailtls::report::{
    AddOutcome, Aggregator, PolicyRef, PolicyType, ReportMeta, ReportPeriod, ResultType,
    SessionFailure, SessionOutcome, MAX_FAILURE_DETAILS, MAX_POLICIES_PER_DOMAIN,
};
use mailtls::Timestamp;
use serde_json::Value;
use tlsrpt::assert_same;

/// The example report of RFC 8460 §4.4 (its JSON, with the example's IP spellings).
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
            "mx: *.mail.company-y.example","max_age: 86400"],
      "policy-domain": "company-y.example",
      "mx-host": ["*.mail.company-y.example"]
    },
    "summary": {
      "total-successful-session-count": 5326,
      "total-failure-session-count": 303
    },
    "failure-details": [{
      "result-type": "certificate-expired",
      "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.company-y.example",
      "failed-session-count": 100
    }, {
      "result-type": "starttls-not-supported",
      "sending-mta-ip": "2001:db8:abcd:0013::1",
      "receiving-mx-hostname": "mx2.mail.company-y.example",
      "receiving-ip": "203.0.113.56",
      "failed-session-count": 200,
      "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
    }, {
      "result-type": "validation-failure",
      "sending-mta-ip": "198.51.100.62",
      "receiving-ip": "203.0.113.58",
      "receiving-mx-hostname": "mx-backup.mail.company-y.example",
      "failed-session-count": 3,
      "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    }]
  }]
}"#;

const DAY_START: u64 = 1_459_468_800; // 2016-04-01T00:00:00Z
const DAY_END: u64 = 1_459_555_199; // 2016-04-01T23:59:59Z

fn day() -> ReportPeriod {
    ReportPeriod {
        start: Timestamp::from_unix_secs(DAY_START),
        end: Timestamp::from_unix_secs(DAY_END),
    }
}

fn meta() -> ReportMeta {
    ReportMeta {
        organization_name: "Company-X".into(),
        contact_info: "sts-reporting@company-x.example".into(),
        report_id: "5065427c-23d3-47ca-b6e0-946ea0e8c4be".into(),
    }
}

fn sts_policy() -> PolicyRef {
    PolicyRef {
        policy_type: PolicyType::Sts,
        policy_string: vec![
            "version: STSv1".into(),
            "mode: testing".into(),
            "mx: *.mail.company-y.example".into(),
            "max_age: 86400".into(),
        ],
        policy_domain: "company-y.example".into(),
        mx_host: vec!["*.mail.company-y.example".into()],
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn outcome(at: u64, policy: PolicyRef, result: Result<(), SessionFailure>) -> SessionOutcome {
    SessionOutcome {
        at: Timestamp::from_unix_secs(at),
        policy,
        unused_policies: vec![],
        mx_host: Some("mx1.mail.company-y.example".into()),
        sending_ip: ip("192.0.2.1"),
        receiving_ip: None,
        receiving_helo: None,
        result,
    }
}

/// The RFC example's sessions, as a client would have recorded them.
fn rfc_outcomes() -> Vec<SessionOutcome> {
    let mut out = Vec::new();
    for i in 0..5326 {
        out.push(outcome(DAY_START + i, sts_policy(), Ok(())));
    }
    for i in 0..100 {
        let mut o = outcome(
            DAY_START + 10 * i,
            sts_policy(),
            Err(SessionFailure::new(ResultType::CertificateExpired)),
        );
        o.sending_ip = ip("2001:db8:abcd:0012::1");
        out.push(o);
    }
    for i in 0..200 {
        let mut o = outcome(
            DAY_END - i,
            sts_policy(),
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
        o.mx_host = Some("mx2.mail.company-y.example".into());
        o.receiving_ip = ip("203.0.113.56");
        out.push(o);
    }
    for i in 0..3 {
        let mut o = outcome(
            DAY_START + 3600 * i,
            sts_policy(),
            Err(SessionFailure {
                result_type: ResultType::ValidationFailure,
                additional_information: None,
                failure_reason_code: Some("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED".into()),
            }),
        );
        o.sending_ip = ip("198.51.100.62");
        o.mx_host = Some("mx-backup.mail.company-y.example".into());
        o.receiving_ip = ip("203.0.113.58");
        out.push(o);
    }
    out
}

#[test]
fn the_rfc_8460_example_rebuilt_from_outcomes() {
    let mut agg = Aggregator::new(day());
    for o in rfc_outcomes() {
        assert_eq!(agg.add(&o), AddOutcome::Counted);
    }
    let report = agg.report("company-y.example", &meta()).unwrap();
    let ours: Value = serde_json::from_str(&report.to_json()).unwrap();
    let mut rfc: Value = serde_json::from_str(RFC_EXAMPLE).unwrap();
    // The RFC does not order failure-details; ours are sorted by result type then the rest,
    // which here is the RFC's own order.
    assert_same("$", &ours, &rfc);
    // And the typed view agrees.
    let p = &report.policies[0];
    assert_eq!(p.summary.total_successful_session_count, 5326);
    assert_eq!(p.summary.total_failure_session_count, 303);
    assert_eq!(
        p.failure_details
            .iter()
            .map(|f| f.failed_session_count)
            .sum::<u64>(),
        303
    );
    // The report parses back into the same structure.
    let back: mailtls::report::Report = serde_json::from_value(ours).unwrap();
    assert_eq!(back, report);
    rfc["report-id"] = Value::from("x");
    assert_ne!(serde_json::to_value(&report).unwrap(), rfc);
    // RFC 8460 §5.1: `unique-id = 1*(ALPHA / DIGIT)`, so the UUID's hyphens go.
    assert_eq!(
        report.file_name("company-x.example", day()),
        "company-x.example!company-y.example!1459468800!1459555199!5065427c23d347cab6e0946ea0e8c4be.json"
    );
    let mut unnamed = report.clone();
    unnamed.report_id = "--".into();
    assert_eq!(
        unnamed.file_name("company-x.example", day()),
        "company-x.example!company-y.example!1459468800!1459555199.json",
        "an empty unique-id is left out, as the grammar's optional part"
    );
}

#[test]
fn an_unused_policy_is_not_counted_postfix_tlspol_71() {
    let tlsa = PolicyRef {
        policy_type: PolicyType::Tlsa,
        policy_string: vec!["3 1 1 ABCD".into()],
        policy_domain: "company-y.example".into(),
        mx_host: vec!["mx1.mail.company-y.example".into()],
    };
    let mut agg = Aggregator::new(day());
    let mut o = outcome(
        DAY_START,
        tlsa.clone(),
        Err(SessionFailure::new(ResultType::TlsaInvalid)),
    );
    o.unused_policies = vec![sts_policy()];
    agg.add(&o);
    let mut ok = outcome(DAY_START + 1, tlsa.clone(), Ok(()));
    ok.unused_policies = vec![sts_policy()];
    agg.add(&ok);
    let report = agg.report("company-y.example", &meta()).unwrap();
    assert_eq!(report.policies.len(), 1, "{}", report.to_json_pretty());
    assert_eq!(report.policies[0].policy, tlsa);
    assert_eq!(report.policies[0].summary.total_failure_session_count, 1);
    assert_eq!(report.policies[0].summary.total_successful_session_count, 1);
    assert!(!report.to_json().contains("\"sts\""));
}

#[test]
fn grouping_by_domain_and_policy_and_the_date_range() {
    let mut agg = Aggregator::new(day());
    assert_eq!(
        agg.add(&outcome(DAY_START - 1, sts_policy(), Ok(()))),
        AddOutcome::OutsidePeriod
    );
    assert_eq!(
        agg.add(&outcome(DAY_END + 1, sts_policy(), Ok(()))),
        AddOutcome::OutsidePeriod
    );
    assert_eq!(
        agg.add(&outcome(DAY_END, sts_policy(), Ok(()))),
        AddOutcome::Counted
    );
    let other = PolicyRef::none_found("Other.Example.");
    agg.add(&outcome(DAY_START, other.clone(), Ok(())));
    agg.add(&outcome(
        DAY_START,
        other,
        Err(SessionFailure::new(ResultType::StarttlsNotSupported)),
    ));
    assert_eq!(
        agg.domains().collect::<Vec<_>>(),
        ["company-y.example", "other.example"]
    );
    let r = agg.report("OTHER.example", &meta()).unwrap();
    assert_eq!(r.policies.len(), 1);
    assert_eq!(r.policies[0].policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(r.policies[0].summary.total_failure_session_count, 1);
    let json = r.to_json();
    assert!(json.contains(r#""policy-type":"no-policy-found""#));
    assert!(
        !json.contains("policy-string"),
        "empty lists are omitted: {json}"
    );
    assert!(agg.report("absent.example", &meta()).is_none());
    let y = agg.report("company-y.example", &meta()).unwrap();
    assert_eq!(y.policies[0].summary.total_successful_session_count, 1);
}

#[test]
fn caps_hold() {
    let mut agg = Aggregator::new(day());
    for i in 0..MAX_FAILURE_DETAILS {
        let mut o = outcome(
            DAY_START,
            sts_policy(),
            Err(SessionFailure::new(ResultType::CertificateNotTrusted)),
        );
        o.mx_host = Some(format!("mx{i}.mail.company-y.example"));
        assert_eq!(agg.add(&o), AddOutcome::Counted);
    }
    let mut o = outcome(
        DAY_START,
        sts_policy(),
        Err(SessionFailure::new(ResultType::CertificateNotTrusted)),
    );
    o.mx_host = Some("one-too-many.mail.company-y.example".into());
    assert_eq!(agg.add(&o), AddOutcome::CountedWithoutDetail);
    let r = agg.report("company-y.example", &meta()).unwrap();
    assert_eq!(r.policies[0].failure_details.len(), MAX_FAILURE_DETAILS);
    assert_eq!(
        r.policies[0].summary.total_failure_session_count,
        MAX_FAILURE_DETAILS as u64 + 1
    );

    let mut agg = Aggregator::new(day());
    for i in 0..MAX_POLICIES_PER_DOMAIN {
        let mut p = sts_policy();
        p.policy_string.push(format!("ext: {i}"));
        assert_eq!(agg.add(&outcome(DAY_START, p, Ok(()))), AddOutcome::Counted);
    }
    let mut p = sts_policy();
    p.policy_string.push("ext: new".into());
    assert_eq!(agg.add(&outcome(DAY_START, p, Ok(()))), AddOutcome::OverCap);
}
