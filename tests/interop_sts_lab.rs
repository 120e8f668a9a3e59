//! mailtls against the DNS + HTTPS lab (.ci/lab): the MTA-STS fetcher against the lab's real
//! HTTPS server (Python `http.server` + `ssl`), one assertion per policy case with its RFC 8460
//! result type, and `mailtls probe` trusting a lab MX through the system store read from a
//! system-style CA file (`SSL_CERT_FILE`), without `--tafile`.
//!
//! Needs the running lab (`MAILTLS_LAB_ENV`, see tests/support/lab.rs): skipped without it,
//! failed without it in CI.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use mailtls::cert::TrustAnchors;
use mailtls::io::StsFetcher;
use mailtls::names::DnsName;
use mailtls::policy::mta_sts::{StsFetchError, StsFetchRequest, StsMode, StsPolicyError};
use mailtls::report::ResultType;

use support::lab::{Lab, StsCase};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A fetcher for the lab's HTTPS port whose public roots are the lab's system-style CA file.
fn fetcher(lab: &Lab) -> StsFetcher {
    let pem = std::fs::read(lab.ca_file()).unwrap();
    StsFetcher::new(TrustAnchors::from_pem(&pem).unwrap())
        .with_port(lab.sts_port())
        .with_timeout(Duration::from_secs(10))
}

#[test]
fn every_policy_case_of_the_lab_fetches_or_fails_with_its_result_type() {
    let Some(lab) =
        Lab::require("every_policy_case_of_the_lab_fetches_or_fails_with_its_result_type")
    else {
        return;
    };
    let fetcher = fetcher(&lab);
    for case in StsCase::ALL {
        let domain = DnsName::parse(lab.sts_domain(case)).unwrap();
        let request = StsFetchRequest::new(&domain);
        let fetcher = match case {
            // The slow case answers after LAB_STS_SLOW_SECONDS: a short timeout must end it.
            StsCase::Slow => fetcher.clone().with_timeout(Duration::from_millis(500)),
            _ => fetcher.clone(),
        };
        let result = fetcher.fetch(&request, &[LOOPBACK]);
        let name = lab.sts_domain(case);
        match case {
            StsCase::Enforce | StsCase::WrongMx => {
                assert_eq!(result.unwrap().mode(), StsMode::Enforce, "{name}");
            }
            StsCase::Testing => assert_eq!(result.unwrap().mode(), StsMode::Testing, "{name}"),
            StsCase::None => assert_eq!(result.unwrap().mode(), StsMode::None, "{name}"),
            _ => {
                let e = result.unwrap_err();
                let (ok, result_type) = match case {
                    StsCase::Malformed => (
                        matches!(e, StsFetchError::InvalidPolicy(_)),
                        ResultType::StsPolicyInvalid,
                    ),
                    StsCase::Oversized => (
                        matches!(
                            e,
                            StsFetchError::InvalidPolicy(StsPolicyError::TooLarge { .. })
                        ),
                        ResultType::StsPolicyInvalid,
                    ),
                    StsCase::MediaType => (
                        matches!(e, StsFetchError::MediaType { .. }),
                        ResultType::StsPolicyInvalid,
                    ),
                    StsCase::Redirect => (
                        e == StsFetchError::Redirect { status: 301 },
                        ResultType::StsPolicyFetchError,
                    ),
                    StsCase::NotFound => (
                        e == StsFetchError::Status { status: 404 },
                        ResultType::StsPolicyFetchError,
                    ),
                    StsCase::WrongCert => (
                        matches!(e, StsFetchError::CertificateInvalid { .. }),
                        ResultType::StsWebpkiInvalid,
                    ),
                    StsCase::Slow => (
                        matches!(e, StsFetchError::Transport { .. })
                            && e.to_string().contains("timed out"),
                        ResultType::StsPolicyFetchError,
                    ),
                    _ => (false, ResultType::StsPolicyFetchError),
                };
                assert!(ok, "{name}: {e}");
                assert_eq!(e.result_type(), result_type, "{name}: {e}");
            }
        }
    }
}

/// `mailtls probe MX:PORT --address 127.0.0.1 --policy secure --json` with `SSL_CERT_FILE`.
fn probe(lab: &Lab, mx: &str, cert_file: &Path) -> (Output, serde_json::Value) {
    let server = format!("{mx}:{}", lab.smtp_port());
    let output = Command::new(env!("CARGO_BIN_EXE_mailtls"))
        .args([
            "probe",
            &server,
            "--address",
            "127.0.0.1",
            "--policy",
            "secure",
            "--json",
        ])
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, json)
}

#[test]
fn secure_probe_of_a_lab_mx_passes_through_a_system_style_ca_file() {
    let Some(lab) = Lab::require("secure_probe_of_a_lab_mx_passes_through_a_system_style_ca_file")
    else {
        return;
    };
    let mx = "mx.partner.test";
    let (output, json) = probe(&lab, mx, &lab.ca_file());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(json["outcome"], "verified", "{text}");
    // The same probe with a store that lacks the lab root fails: the CA file decided.
    let empty = std::env::temp_dir().join(format!("mailtls-lab-roots-{}.pem", std::process::id()));
    let other = rcgen::generate_simple_self_signed(vec!["unrelated.example".to_owned()]).unwrap();
    std::fs::write(&empty, other.cert.pem()).unwrap();
    let (output, json) = probe(&lab, mx, &empty);
    assert_eq!(
        output.status.code(),
        Some(75),
        "a secure probe that fails defers"
    );
    assert_eq!(json["result_type"], "certificate-not-trusted");
}
