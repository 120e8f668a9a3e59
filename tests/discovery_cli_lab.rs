//! Issue 13's end-to-end proof: `mailtls send --to user@DOMAIN` and `mailtls probe DOMAIN`
//! discover the lab's zones for real (knotd with DNSSEC-signed zones, hickory validating from
//! the lab's `test.` anchor, MTA-STS policies over HTTPS) and deliver to the lab's real
//! Postfix; `mailtls explain DOMAIN` prints exactly the decision `send` acted on.
//!
//! Needs `MAILTLS_LAB_ENV` (`.ci/lab/start.sh`); skipped without it unless `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::lab::{Lab, StsCase, Zone};

/// The discovery flags that point mailtls at the lab.
fn lab_flags(lab: &Lab, smtp_port: u16) -> Vec<String> {
    vec![
        "--resolver".into(),
        lab.dns().to_string(),
        "--trust-anchor".into(),
        lab.trust_anchor().display().to_string(),
        "--port".into(),
        smtp_port.to_string(),
        "--sts-port".into(),
        lab.sts_port().to_string(),
        "--policy".into(),
        "dane".into(),
        "--json".into(),
    ]
}

/// Runs the binary with the lab's root as the system store; returns exit code and JSON.
fn mailtls(lab: &Lab, args: &[String], stdin: Option<&str>) -> (i32, Value, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args(args)
        .env("SSL_CERT_FILE", lab.ca_file())
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, text)
}

fn send(lab: &Lab, domain: &str, smtp_port: u16, token: &str) -> (i32, Value, String) {
    let mut args: Vec<String> = vec![
        "send".into(),
        "--from".into(),
        "lab@sender.test".into(),
        "--to".into(),
        format!("rcpt@{domain}"),
    ];
    args.extend(lab_flags(lab, smtp_port));
    let message = format!("Subject: {token}\n\nissue 13 lab delivery {token}\n");
    mailtls(lab, &args, Some(&message))
}

fn explain(lab: &Lab, domain: &str, smtp_port: u16) -> Value {
    // The same policy `send --policy dane` builds: a one-line table for the domain.
    let map = std::env::temp_dir().join(format!("mailtls-lab-{}-{domain}.map", std::process::id()));
    std::fs::write(&map, format!("{domain} dane\n")).unwrap();
    let mut args: Vec<String> = vec![
        "explain".into(),
        domain.into(),
        "--policy-map".into(),
        map.display().to_string(),
    ];
    // explain takes the same discovery flags; --policy is a probe/send flag.
    let flags = lab_flags(lab, smtp_port);
    let mut i = 0;
    while i < flags.len() {
        if flags[i] == "--policy" {
            i += 2;
            continue;
        }
        args.push(flags[i].clone());
        i += 1;
    }
    let (code, json, text) = mailtls(lab, &args, None);
    let _ = std::fs::remove_file(&map);
    assert!(code == 0 || code == 75, "explain {domain}: {text}");
    json
}

/// The per-host decision as `explain` and `send` both print it.
fn decisions(json: &Value) -> Vec<(String, String, String)> {
    json["decision"]
        .as_array()
        .map(|hosts| {
            hosts
                .iter()
                .map(|h| {
                    (
                        h["host"].as_str().unwrap_or("").to_owned(),
                        h["decided_by"].as_str().unwrap_or("").to_owned(),
                        h["action"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn token(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("lab-{name}-{}-{nanos}", std::process::id())
}

fn wait_for_mail(lab: &Lab, token: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    let new = lab.smtp_maildir().join("new");
    while Instant::now() < deadline {
        if let Ok(entries) = std::fs::read_dir(&new) {
            for entry in entries.flatten() {
                if std::fs::read_to_string(entry.path()).is_ok_and(|m| m.contains(token)) {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// One case: the domain, the SMTP port its MX answers on, what must happen.
struct Case {
    name: &'static str,
    domain: String,
    port: u16,
    /// `Some(source)`: delivered, decided by this source; `None`: deferred.
    delivered_by: Option<&'static str>,
    /// The RFC 8460 result a deferral carries, or the would-be failure of `testing`.
    result: Option<&'static str>,
}

#[test]
fn send_to_each_lab_domain_does_what_explain_says() {
    let Some(lab) = Lab::require("send_to_each_lab_domain_does_what_explain_says") else {
        return;
    };
    let cases = [
        Case {
            name: "valid DANE zone (NSEC)",
            domain: lab.zone(Zone::Valid).to_owned(),
            port: lab.smtp_port(),
            delivered_by: Some("DANE"),
            result: None,
        },
        Case {
            name: "valid DANE zone (NSEC3)",
            domain: lab.zone(Zone::Nsec3).to_owned(),
            port: lab.smtp_port(),
            delivered_by: Some("DANE"),
            result: None,
        },
        Case {
            name: "TLSA that matches no certificate the MX presents",
            domain: lab.zone(Zone::Valid).to_owned(),
            port: lab.smtp_wrong_port(),
            delivered_by: None,
            result: Some("tlsa-invalid"),
        },
        Case {
            name: "bad TLSA signature",
            domain: lab.zone(Zone::BadSig).to_owned(),
            port: lab.smtp_port(),
            delivered_by: None,
            result: Some("dnssec-invalid"),
        },
        Case {
            name: "unsigned zone falls through to MTA-STS",
            domain: lab.zone(Zone::Insecure).to_owned(),
            port: lab.smtp_port(),
            delivered_by: Some("MTA-STS"),
            result: None,
        },
        Case {
            name: "MTA-STS enforce",
            domain: lab.sts_domain(StsCase::Enforce).to_owned(),
            port: lab.smtp_port(),
            delivered_by: Some("MTA-STS"),
            result: None,
        },
        Case {
            name: "MTA-STS enforce with a wrong mx pattern",
            domain: lab.sts_domain(StsCase::WrongMx).to_owned(),
            port: lab.smtp_port(),
            delivered_by: None,
            result: Some("validation-failure"),
        },
        Case {
            name: "MTA-STS testing records the would-be failure",
            domain: lab.sts_domain(StsCase::Testing).to_owned(),
            port: lab.smtp_port(),
            delivered_by: Some("policy table"),
            result: Some("validation-failure"),
        },
    ];
    for case in &cases {
        let token = token(&case.domain);
        let (code, json, text) = send(&lab, &case.domain, case.port, &token);
        let name = case.name;
        match case.delivered_by {
            Some(source) => {
                assert_eq!(code, 0, "{name}: {text}");
                assert!(
                    wait_for_mail(&lab, &token),
                    "{name}: no mail in the lab Maildir"
                );
                let decided = &json["decision"][0]["decided_by"];
                assert!(
                    decided.as_str().is_some_and(|d| d.contains(source)),
                    "{name}: decided by {decided}, expected {source}: {text}"
                );
                let attempt = &json["attempts"][0];
                match case.result {
                    Some(would_be) => assert_eq!(attempt["tls_rpt_result"], would_be, "{name}"),
                    None => assert_eq!(attempt["tls_rpt_result"], "success", "{name}"),
                }
            }
            None => {
                assert_eq!(code, 75, "{name}: a failure defers: {text}");
                assert_eq!(json["outcome"], "failed", "{name}");
                assert_eq!(json["result_type"], case.result.unwrap(), "{name}: {text}");
            }
        }
        let plan = explain(&lab, &case.domain, case.port);
        assert_eq!(
            decisions(&plan),
            decisions(&json),
            "{name}: explain and send disagree"
        );
    }
}

#[test]
fn a_bogus_mx_defers_without_contacting_anyone() {
    let Some(lab) = Lab::require("a_bogus_mx_defers_without_contacting_anyone") else {
        return;
    };
    let domain = lab.zone(Zone::Bogus).to_owned();
    let (code, json, text) = send(&lab, &domain, lab.smtp_port(), &token("bogus"));
    assert_eq!(code, 75, "{text}");
    assert_eq!(json["discovery"]["mx"]["outcome"], "failed", "{text}");
    assert_eq!(json["discovery"]["mx"]["dnssec"], "bogus", "{text}");
    assert!(json["attempts"].is_null(), "no host was contacted: {text}");
}

#[test]
fn probe_json_shows_what_discovery_found_and_who_decided() {
    let Some(lab) = Lab::require("probe_json_shows_what_discovery_found_and_who_decided") else {
        return;
    };
    let domain = lab.zone(Zone::Valid).to_owned();
    let mut args = vec!["probe".to_owned(), domain.clone()];
    args.extend(lab_flags(&lab, lab.smtp_port()));
    let (code, json, text) = mailtls(&lab, &args, None);
    assert_eq!(code, 0, "{text}");
    let found = &json["discovery"];
    assert_eq!(found["domain"], domain.as_str());
    assert_eq!(found["mx"]["outcome"], "hosts");
    assert_eq!(found["mx"]["dnssec"], "secure");
    let host = &found["hosts"][0];
    assert_eq!(host["name"], format!("mx.{domain}").as_str());
    assert_eq!(host["address_dnssec"], "secure");
    assert_eq!(host["tlsa"]["dnssec"], "secure");
    let spki = lab.smtp_spki_sha256().to_ascii_uppercase();
    assert!(
        host["tlsa"]["records"][0]
            .as_str()
            .is_some_and(|r| r.to_ascii_uppercase().ends_with(&spki)),
        "{text}"
    );
    assert_eq!(found["mta_sts"]["state"], "policy");
    assert_eq!(found["mta_sts"]["mode"], "enforce");
    assert_eq!(found["mta_sts"]["from_cache"], false);
    assert_eq!(found["tls_rpt"]["state"], "record");
    assert!(json["decision"][0]["decided_by"]
        .as_str()
        .is_some_and(|d| d.contains("DANE")));
    assert_eq!(json["attempts"][0]["tls_rpt_policy"], "tlsa");
    assert_eq!(json["outcome"], "verified");
}
