//! The DNS + HTTPS lab itself (.ci/lab), checked with real tools rather than mailtls: `delv`
//! validating against the lab trust anchor, `kdig` against knotd and unbound, `curl` against
//! the MTA-STS HTTPS server, and `openssl s_client` and `swaks` against the lab Postfix. These
//! prove that each case is built as designed, so that the discovery and MTA-STS tests that use
//! the lab test mailtls and not the lab.
//!
//! Needs the running lab (`MAILTLS_LAB_ENV`, see tests/support/lab.rs): skipped without it,
//! failed without it in CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use support::lab::{Lab, StsCase, ToolOutput, Zone};

/// What `delv` must say about every record of a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Secure,
    Insecure,
    Bogus,
}

/// The record types every DNSSEC zone holds, by owner prefix ("" = the apex).
const ZONE_RECORDS: [(&str, &str); 5] = [
    ("", "MX"),
    ("mx.", "A"),
    ("mta-sts.", "A"),
    ("_mta-sts.", "TXT"),
    ("_smtp._tls.", "TXT"),
];

fn delv(lab: &Lab, name: &str, rtype: &str) -> ToolOutput {
    let dns = lab.dns();
    let anchor = lab.trust_anchor_bind();
    Lab::tool(
        "delv",
        &[
            &format!("@{}", dns.ip()),
            "-p",
            &dns.port().to_string(),
            "-a",
            &anchor.to_string_lossy(),
            "+root=test",
            name,
            rtype,
        ],
    )
}

fn assert_delv(lab: &Lab, name: &str, rtype: &str, expect: Expect) {
    let out = delv(lab, name, rtype);
    let text = out.all();
    let ok = match expect {
        Expect::Secure => text.contains("; fully validated") && !text.contains("resolution failed"),
        Expect::Insecure => text.contains("; unsigned answer"),
        Expect::Bogus => {
            !text.contains("fully validated")
                && !text.contains("unsigned answer")
                && (text.contains("resolution failed") || text.contains("broken trust chain"))
        }
    };
    assert!(
        ok,
        "delv {name} {rtype}: expected {expect:?}\n{}\n{text}",
        out.command
    );
}

fn kdig(server: std::net::SocketAddr, args: &[&str]) -> ToolOutput {
    let mut all = vec![
        format!("@{}", server.ip()),
        "-p".to_owned(),
        server.port().to_string(),
        "+retry=0".to_owned(),
        "+timeout=2".to_owned(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    Lab::tool("kdig", &refs)
}

/// The answer records of `kdig +short`, one per line.
fn short(lab: &Lab, name: &str, rtype: &str) -> Vec<String> {
    let out = kdig(lab.dns(), &["+short", name, rtype]);
    assert_eq!(out.code(), Some(0), "{}\n{}", out.command, out.all());
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn delv_validates_each_zone_as_designed() {
    let Some(lab) = Lab::require("delv_validates_each_zone_as_designed") else {
        return;
    };
    for zone in Zone::ALL {
        let domain = lab.zone(zone);
        let expect = match zone {
            Zone::Valid | Zone::Nsec3 | Zone::BadSig => Expect::Secure,
            Zone::Insecure => Expect::Insecure,
            Zone::Bogus => Expect::Bogus,
        };
        for (prefix, rtype) in ZONE_RECORDS {
            assert_delv(&lab, &format!("{prefix}{domain}"), rtype, expect);
        }
        let tlsa = match zone {
            Zone::BadSig => Expect::Bogus,
            _ => expect,
        };
        assert_delv(&lab, &format!("_25._tcp.mx.{domain}"), "TLSA", tlsa);
    }
    for case in StsCase::ALL {
        let domain = lab.sts_domain(case);
        assert_delv(&lab, domain, "MX", Expect::Insecure);
        assert_delv(&lab, &format!("_mta-sts.{domain}"), "TXT", Expect::Insecure);
    }
}

#[test]
fn delv_validates_the_denials() {
    let Some(lab) = Lab::require("delv_validates_the_denials") else {
        return;
    };
    // The parent proves there is no DS for the unsigned children (what makes them insecure
    // rather than bogus), and each signed child proves NXDOMAIN and NODATA, with NSEC and with
    // NSEC3.
    let insecure = lab.zone(Zone::Insecure).to_owned();
    let valid = lab.zone(Zone::Valid).to_owned();
    let nsec3 = lab.zone(Zone::Nsec3).to_owned();
    for (name, rtype) in [
        (insecure.as_str(), "DS"),
        ("sts.test", "DS"),
        (&format!("nowhere.{valid}"), "A"),
        (&format!("mx.{valid}"), "AAAA"),
        (&format!("nowhere.{nsec3}"), "A"),
        (&format!("mx.{nsec3}"), "AAAA"),
    ] {
        let out = delv(&lab, name, rtype);
        assert!(
            out.all().contains("; negative response, fully validated"),
            "delv {name} {rtype}: expected a validated denial\n{}",
            out.all()
        );
    }
    // The signed children have a validated DS in the parent.
    for zone in [Zone::Valid, Zone::Nsec3, Zone::Bogus, Zone::BadSig] {
        assert_delv(&lab, lab.zone(zone), "DS", Expect::Secure);
    }
}

#[test]
fn delv_validates_the_discovery_corner_cases() {
    let Some(lab) = Lab::require("delv_validates_the_discovery_corner_cases") else {
        return;
    };
    let answer = |name: &str, rtype: &str, record: &str| {
        let out = delv(&lab, name, rtype);
        let text = out.all();
        assert!(
            text.contains("; fully validated") && text.contains(record),
            "delv {name} {rtype}: expected a validated {record}\n{text}"
        );
    };
    let denial = |name: &str, rtype: &str| {
        let out = delv(&lab, name, rtype);
        assert!(
            out.all().contains("; negative response, fully validated"),
            "delv {name} {rtype}: expected a validated denial\n{}",
            out.all()
        );
    };
    let spki = lab.smtp_spki_sha256().to_ascii_uppercase();
    let null_mx = lab.null_mx_domain();
    answer(null_mx, "MX", "MX\t0 .");
    let implicit = lab.implicit_mx_domain();
    denial(implicit, "MX");
    answer(implicit, "A", "A\t127.0.0.1");
    answer(&format!("_25._tcp.{implicit}"), "TLSA", "TLSA\t3 1 1 ");
    let tlsa = short(&lab, &format!("_25._tcp.{implicit}"), "TLSA");
    assert_eq!(
        tlsa.concat().to_ascii_uppercase().replace(' ', ""),
        format!("311{spki}")
    );
    let cname = lab.cname_mx_domain();
    let valid = lab.zone(Zone::Valid);
    answer(cname, "MX", &format!("MX\t10 mxalias.{valid}."));
    answer(
        &format!("mxalias.{valid}"),
        "A",
        &format!("CNAME\tmx.{valid}."),
    );
    denial(&format!("_25._tcp.mxalias.{valid}"), "TLSA");
}

#[test]
fn kdig_answers_each_record() {
    let Some(lab) = Lab::require("kdig_answers_each_record") else {
        return;
    };
    let spki = lab.smtp_spki_sha256().to_ascii_lowercase();
    let domains: Vec<(String, bool)> = Zone::ALL
        .iter()
        .map(|z| (lab.zone(*z).to_owned(), true))
        .chain(
            StsCase::ALL
                .iter()
                .map(|c| (lab.sts_domain(*c).to_owned(), false)),
        )
        .collect();
    // Both servers answer over TCP too (large answers and truncation fall back to it).
    let valid = lab.zone(Zone::Valid);
    for server in [lab.dns(), lab.resolver()] {
        let out = kdig(server, &["+tcp", "+short", valid, "MX"]);
        assert_eq!(
            out.stdout.trim(),
            format!("10 mx.{valid}."),
            "{}",
            out.all()
        );
    }
    for (domain, has_tlsa) in &domains {
        assert_eq!(short(&lab, domain, "MX"), [format!("10 mx.{domain}.")]);
        assert_eq!(short(&lab, &format!("mx.{domain}"), "A"), ["127.0.0.1"]);
        assert_eq!(
            short(&lab, &format!("mta-sts.{domain}"), "A"),
            ["127.0.0.1"]
        );
        assert_eq!(
            short(&lab, &format!("_mta-sts.{domain}"), "TXT"),
            [format!("\"v=STSv1; id={}\"", lab.sts_id())]
        );
        assert_eq!(
            short(&lab, &format!("_smtp._tls.{domain}"), "TXT"),
            [format!("\"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"")]
        );
        let tlsa = short(&lab, &format!("_25._tcp.mx.{domain}"), "TLSA");
        if !has_tlsa {
            assert!(tlsa.is_empty(), "{domain}: {tlsa:?}");
            continue;
        }
        let [record] = tlsa.as_slice() else {
            panic!("{domain}: one TLSA record expected, got {tlsa:?}");
        };
        let data: String = record
            .split_whitespace()
            .skip(3)
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(record.starts_with("3 1 1 "), "{domain}: {record}");
        // badsig.test serves a TLSA rdata changed after signing: it must differ from the
        // server's SPKI (and its signature fail, see delv above); every other zone matches it.
        if *domain == lab.zone(Zone::BadSig) {
            assert_ne!(data, spki, "{domain}: the changed TLSA rdata");
        } else {
            assert_eq!(data, spki, "{domain}: TLSA 3 1 1 of the lab SMTP server");
        }
    }
}

#[test]
fn unbound_sets_ad_only_on_secure_answers() {
    let Some(lab) = Lab::require("unbound_sets_ad_only_on_secure_answers") else {
        return;
    };
    let resolver = lab.resolver();
    let check = |name: &str, rtype: &str, want: &str| {
        let out = kdig(resolver, &["+dnssec", name, rtype]);
        let text = out.all();
        let flags = text
            .lines()
            .find(|l| l.starts_with(";; Flags:"))
            .unwrap_or_default();
        let ad = flags.split([' ', ';']).any(|f| f == "ad");
        let got = if text.contains("status: SERVFAIL") {
            "servfail"
        } else if !text.contains("status: NOERROR") {
            "other"
        } else if ad {
            "ad"
        } else {
            "no-ad"
        };
        assert_eq!(got, want, "{name} {rtype} via unbound\n{text}");
    };
    for zone in [Zone::Valid, Zone::Nsec3] {
        let d = lab.zone(zone);
        check(&format!("mx.{d}"), "A", "ad");
        check(&format!("_25._tcp.mx.{d}"), "TLSA", "ad");
    }
    let plain = lab.zone(Zone::Insecure);
    check(&format!("mx.{plain}"), "A", "no-ad");
    check(&format!("_25._tcp.mx.{plain}"), "TLSA", "no-ad");
    let bogus = lab.zone(Zone::Bogus);
    check(&format!("mx.{bogus}"), "A", "servfail");
    let badsig = lab.zone(Zone::BadSig);
    check(&format!("mx.{badsig}"), "A", "ad");
    check(&format!("_25._tcp.mx.{badsig}"), "TLSA", "servfail");
}

/// `curl` for `https://mta-sts.<domain>:<port>/.well-known/mta-sts.txt`, resolving the host to
/// 127.0.0.1 and trusting only the lab CA file; never follows redirects. Returns the output and
/// the body file.
fn fetch_policy(lab: &Lab, domain: &str, extra: &[&str]) -> (ToolOutput, String) {
    let host = format!("mta-sts.{domain}");
    let port = lab.sts_port();
    let dir = std::env::temp_dir().join(format!("mailtls-lab-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let body = dir.join(&host);
    let _ = fs::remove_file(&body);
    let url = format!("https://{host}:{port}/.well-known/mta-sts.txt");
    let resolve = format!("{host}:{port}:127.0.0.1");
    let ca = lab.ca_file();
    let body_path = body.to_string_lossy().into_owned();
    let mut args = vec![
        "-sS",
        "--cacert",
        ca.to_str().unwrap(),
        "--resolve",
        &resolve,
        "-o",
        &body_path,
        "-w",
        "%{http_code} %{content_type} %{size_download} %{redirect_url}",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = Lab::tool("curl", &args);
    let text = fs::read_to_string(&body).unwrap_or_default();
    (out, text)
}

#[test]
fn https_serves_each_mta_sts_case_as_designed() {
    let Some(lab) = Lab::require("https_serves_each_mta_sts_case_as_designed") else {
        return;
    };
    let expect_ok = |domain: &str, mode: &str, mx: &[&str]| {
        let (out, body) = fetch_policy(&lab, domain, &[]);
        assert_eq!(out.code(), Some(0), "{}\n{}", out.command, out.all());
        assert!(
            out.stdout.starts_with("200 text/plain "),
            "{domain}: {}",
            out.stdout
        );
        let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
        let mut want = vec!["version: STSv1".to_owned(), format!("mode: {mode}")];
        want.extend(mx.iter().map(|m| format!("mx: {m}")));
        want.push("max_age: 86400".to_owned());
        assert_eq!(lines, want, "{domain}: policy");
    };
    for zone in Zone::ALL {
        let d = lab.zone(zone);
        expect_ok(d, "enforce", &[&format!("mx.{d}")]);
    }
    let d = lab.sts_domain(StsCase::Enforce);
    expect_ok(d, "enforce", &[&format!("mx.{d}"), &format!("*.{d}")]);
    expect_ok(
        lab.sts_domain(StsCase::WrongMx),
        "enforce",
        &["mx.elsewhere.example"],
    );
    expect_ok(
        lab.sts_domain(StsCase::Testing),
        "testing",
        &["mx.elsewhere.example"],
    );
    let d = lab.sts_domain(StsCase::None);
    expect_ok(d, "none", &[&format!("mx.{d}")]);

    // Malformed: served fine, but not a policy (an invalid mode, no mx, a bad max_age).
    let (out, body) = fetch_policy(&lab, lab.sts_domain(StsCase::Malformed), &[]);
    assert!(out.stdout.starts_with("200 text/plain "), "{}", out.stdout);
    assert!(
        body.contains("mode: enforcing") && !body.contains("mx:"),
        "{body}"
    );

    // Redirect: a 301 whose target is a valid policy on the lab port.
    let (out, _) = fetch_policy(&lab, lab.sts_domain(StsCase::Redirect), &[]);
    let enforce = lab.sts_domain(StsCase::Enforce);
    assert_eq!(
        out.stdout,
        format!(
            "301 text/plain {} https://mta-sts.{enforce}:{}/.well-known/mta-sts.txt",
            out.stdout.split(' ').nth(2).unwrap_or_default(),
            lab.sts_port()
        ),
        "redirect"
    );

    // Oversized: over 64 KiB, otherwise a valid enforce policy.
    let d = lab.sts_domain(StsCase::Oversized);
    let (out, body) = fetch_policy(&lab, d, &[]);
    assert!(out.stdout.starts_with("200 text/plain "), "{}", out.stdout);
    assert!(body.len() > 64 * 1024, "{d}: {} bytes", body.len());
    assert!(
        body.starts_with("version: STSv1\r\nmode: enforce\r\n"),
        "{d}"
    );

    // Wrong media type.
    let (out, body) = fetch_policy(&lab, lab.sts_domain(StsCase::MediaType), &[]);
    assert!(out.stdout.starts_with("200 text/html "), "{}", out.stdout);
    assert!(body.contains("mode: enforce"), "{body}");

    // Wrong certificate: the chain is trusted but names another host; curl refuses it (60:
    // peer certificate cannot be authenticated), and accepts it when told not to check.
    let d = lab.sts_domain(StsCase::WrongCert);
    let (out, _) = fetch_policy(&lab, d, &[]);
    assert_eq!(out.code(), Some(60), "{d}: {}", out.all());
    let (out, body) = fetch_policy(&lab, d, &["--insecure"]);
    assert!(out.stdout.starts_with("200 text/plain "), "{}", out.all());
    assert!(body.contains("mode: enforce"), "{body}");
    let presented = s_client_subject(&lab, &format!("mta-sts.{d}"));
    assert!(
        presented.contains("mta-sts.elsewhere.example"),
        "{presented}"
    );

    // Not found.
    let (out, _) = fetch_policy(&lab, lab.sts_domain(StsCase::NotFound), &[]);
    assert!(out.stdout.starts_with("404 "), "{}", out.stdout);
}

#[test]
fn https_slow_case_does_not_answer_before_its_delay() {
    let Some(lab) = Lab::require("https_slow_case_does_not_answer_before_its_delay") else {
        return;
    };
    // The server waits LAB_STS_SLOW_SECONDS (30 s) before its headers, so a client giving up
    // after one second has received nothing: curl's 28 is "operation timed out". A slower
    // machine only makes this more certain.
    let (out, body) = fetch_policy(&lab, lab.sts_domain(StsCase::Slow), &["--max-time", "1"]);
    assert_eq!(out.code(), Some(28), "{}", out.all());
    assert!(body.is_empty(), "{body}");
}

/// The subject and SANs of the certificate the HTTPS server presents for the SNI `host`.
fn s_client_subject(lab: &Lab, host: &str) -> String {
    let connect = format!("127.0.0.1:{}", lab.sts_port());
    let script = format!(
        "openssl s_client -connect {connect} -servername {host} </dev/null 2>/dev/null \
         | openssl x509 -noout -subject -ext subjectAltName"
    );
    let out = Lab::tool("sh", &["-c", &script]);
    out.stdout
}

/// `openssl s_client -starttls smtp` to `port`, verifying `name` against the lab CA file; the
/// verification result line and the SPKI SHA-256 of the presented leaf.
fn smtp_handshake(lab: &Lab, port: u16, name: &str) -> (String, String) {
    let ca = lab.ca_file();
    let script = format!(
        "out=$(openssl s_client -starttls smtp -connect 127.0.0.1:{port} -servername {name} \
           -verify_hostname {name} -CAfile {ca} </dev/null 2>&1); \
         printf '%s\\n' \"$out\" | grep -m1 '^Verification'; \
         printf '%s\\n' \"$out\" | openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER \
           | openssl dgst -sha256 -r | cut -d' ' -f1",
        ca = ca.display()
    );
    let out = Lab::tool("sh", &["-c", &script]);
    let mut lines = out.stdout.lines();
    let verification = lines.next().unwrap_or_default().to_owned();
    let spki = lines.next().unwrap_or_default().to_owned();
    (verification, spki)
}

#[test]
fn lab_smtp_certificates_match_names_and_tlsa_as_designed() {
    let Some(lab) = Lab::require("lab_smtp_certificates_match_names_and_tlsa_as_designed") else {
        return;
    };
    let spki = lab.smtp_spki_sha256().to_owned();
    for name in lab.var("LAB_MX_NAMES").split_whitespace() {
        let (verification, presented) = smtp_handshake(&lab, lab.smtp_port(), name);
        assert_eq!(verification, "Verification: OK", "{name} on the lab MX");
        assert_eq!(presented, spki, "{name}: the TLSA 3 1 1 data");
    }
    let name = format!("mx.{}", lab.zone(Zone::Valid));
    let (verification, presented) = smtp_handshake(&lab, lab.smtp_wrong_port(), &name);
    assert!(
        verification.contains("hostname mismatch"),
        "{name} on the wrong MX: {verification}"
    );
    assert_eq!(presented, lab.var("LAB_SMTP_WRONG_SPKI_SHA256"));
    assert_ne!(
        presented, spki,
        "the wrong MX must not match the TLSA records"
    );
}

#[test]
fn lab_smtp_delivers_into_its_maildir() {
    let Some(lab) = Lab::require("lab_smtp_delivers_into_its_maildir") else {
        return;
    };
    let token = format!(
        "lab-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let server = format!("127.0.0.1:{}", lab.smtp_port());
    let out = Lab::tool(
        "swaks",
        &[
            "--server",
            &server,
            "--to",
            &format!("someone@{}", lab.zone(Zone::Valid)),
            "--from",
            "lab@sender.test",
            "--tls",
            "--header",
            &format!("Subject: {token}"),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.command, out.all());
    let new = lab.smtp_maildir().join("new");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = fs::read_dir(&new).unwrap().flatten().any(|e| {
            fs::read_to_string(e.path())
                .map(|m| m.contains(&token))
                .unwrap_or(false)
        });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mail {token} not in {}",
            new.display()
        );
        thread::sleep(Duration::from_millis(100));
    }
}
