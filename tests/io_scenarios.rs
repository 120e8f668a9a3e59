//! Both adapters, client and server in-process on 127.0.0.1 with rcgen certificates: the same
//! scenarios through `io::blocking` and `io::tokio`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailtls::client::{AttemptResult, DeliveryOutcome};
use mailtls::io::{blocking, DeliveryReport, Message};
use mailtls::report::ResultType;
use mailtls::server::ServerConfig;
use support::loopback::{blocking_server, delivery, message, recorder, server_config, Inbox, MX};
use support::pki::Ca;

/// One scenario: the server's configuration, the client's policy, what must happen.
struct Scenario {
    name: &'static str,
    server_cert: Option<&'static str>,
    policy: String,
    expect: Expect,
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Delivered over TLS with this version.
    Tls(&'static str),
    /// Delivered in plaintext.
    Plaintext,
    /// Not delivered; the attempt failed with this RFC 8460 result type.
    Refused(ResultType),
}

fn scenarios(pki: &Ca) -> Vec<Scenario> {
    let ta = pki.tafile().display().to_string();
    vec![
        Scenario {
            name: "may-tls",
            server_cert: Some(MX),
            policy: "may".into(),
            expect: Expect::Tls("TLSv1.3"),
        },
        Scenario {
            name: "may-plaintext-peer",
            server_cert: None,
            policy: "may".into(),
            expect: Expect::Plaintext,
        },
        Scenario {
            name: "encrypt-plaintext-peer",
            server_cert: None,
            policy: "encrypt".into(),
            expect: Expect::Refused(ResultType::StarttlsNotSupported),
        },
        Scenario {
            name: "secure-right-name",
            server_cert: Some(MX),
            policy: format!("secure match={MX} tafile={ta}"),
            expect: Expect::Tls("TLSv1.3"),
        },
        Scenario {
            name: "secure-wrong-name",
            server_cert: Some("wrong.example"),
            policy: format!("secure match={MX} tafile={ta}"),
            expect: Expect::Refused(ResultType::CertificateHostMismatch),
        },
    ]
}

fn check(scenario: &Scenario, report: &DeliveryReport, inbox: &Inbox, token: &str) {
    let name = scenario.name;
    let last = report
        .attempts
        .last()
        .unwrap_or_else(|| panic!("{name}: no attempt"));
    match &scenario.expect {
        Expect::Tls(version) => {
            assert!(report.all_accepted(), "{name}: {report:#?}");
            let tls = last
                .tls
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no TLS"));
            assert_eq!(tls.facts.version.as_str(), *version, "{name}");
            assert_eq!(inbox.tls_versions, [*version], "{name}");
            assert_eq!(inbox.messages.len(), 1, "{name}");
        }
        Expect::Plaintext => {
            assert!(report.all_accepted(), "{name}: {report:#?}");
            assert!(last.tls.is_none(), "{name}");
            assert!(
                matches!(last.result, AttemptResult::Completed { tls: false }),
                "{name}: {:?}",
                last.result
            );
            assert_eq!(inbox.messages.len(), 1, "{name}");
        }
        Expect::Refused(result_type) => {
            assert!(!report.all_accepted(), "{name}: {report:#?}");
            assert!(inbox.messages.is_empty(), "{name}: the server got mail");
            assert_eq!(last.result_type, Some(*result_type), "{name}: {last:#?}");
            assert!(
                matches!(
                    report.outcome,
                    Some(DeliveryOutcome::Deferred(_) | DeliveryOutcome::Bounced(_))
                ),
                "{name}: {:?}",
                report.outcome
            );
        }
    }
    if let Some(message) = inbox.messages.first() {
        let text = String::from_utf8_lossy(message);
        assert!(text.contains(token), "{name}: {text}");
        // Dot-stuffed on the wire, unstuffed at the other end.
        assert!(text.contains("\r\n.leading dot\r\n"), "{name}: {text}");
    }
}

fn config_for(pki: &Ca, scenario: &Scenario) -> Arc<ServerConfig> {
    server_config(
        scenario
            .server_cert
            .map(|name| pki.leaf_for(name).identity()),
    )
}

#[test]
fn blocking_adapter_scenarios() {
    let pki = Ca::root("mailtls io test CA");
    for scenario in scenarios(&pki) {
        let (addr, inbox, server) = blocking_server(config_for(&pki, &scenario), 1);
        let token = format!("blocking-{}", scenario.name);
        let (mut delivery, connector) = delivery(&scenario.policy, addr);
        let messages = [message(&token, "rcpt@partner.test")];
        let report = blocking::deliver(&mut delivery, &messages, &connector);
        server.join().unwrap();
        check(&scenario, &report, &inbox.lock().unwrap(), &token);
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_adapter_scenarios() {
    use mailtls::io::tokio as aio;
    let pki = Ca::root("mailtls io test CA");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for scenario in scenarios(&pki) {
        let config = config_for(&pki, &scenario);
        let token = format!("tokio-{}", scenario.name);
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let report = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn({
                let inbox = Arc::clone(&inbox);
                async move {
                    let mut app = recorder(inbox);
                    let _ = aio::serve_one(&listener, config, &mut app).await;
                }
            });
            let (mut delivery, connector) = delivery(&scenario.policy, addr);
            let messages = [message(&token, "rcpt@partner.test")];
            let report = aio::deliver(&mut delivery, &messages, &connector).await;
            server.await.unwrap();
            report
        });
        check(&scenario, &report, &inbox.lock().unwrap(), &token);
    }
}

/// Many messages go over one connection, one transaction after the other.
#[test]
fn blocking_client_sends_every_message_over_one_connection() {
    let pki = Ca::root("mailtls io test CA");
    let (addr, inbox, server) =
        blocking_server(server_config(Some(pki.leaf_for(MX).identity())), 1);
    let (mut delivery, connector) = delivery("encrypt", addr);
    let messages: Vec<Message> = (0..20)
        .map(|i| message(&format!("many-{i}"), "rcpt@partner.test"))
        .collect();
    let report = blocking::deliver(&mut delivery, &messages, &connector);
    server.join().unwrap();
    assert!(report.all_accepted(), "{report:#?}");
    assert_eq!(report.attempts.len(), 1);
    let inbox = inbox.lock().unwrap();
    assert_eq!(inbox.messages.len(), 20);
    for (i, m) in inbox.messages.iter().enumerate() {
        assert!(String::from_utf8_lossy(m).contains(&format!("Subject: many-{i}\r\n")));
    }
}

/// A host that refuses connections is skipped; the next candidate takes the mail.
#[test]
fn blocking_client_tries_candidate_hosts_in_order() {
    use mailtls::cert::TrustAnchors;
    use mailtls::client::{ClientSettings, Delivery};
    use mailtls::io::{verifiers_for_hosts, Connector};
    use mailtls::policy::{explain, Destination, OutboundPolicy};

    let pki = Ca::root("mailtls io test CA");
    let (addr, inbox, server) =
        blocking_server(server_config(Some(pki.leaf_for(MX).identity())), 1);
    // A port nobody listens on: bind, note the port, close.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let destination = Destination::domain("partner.test", ["mx1.partner.test", MX]).unwrap();
    let plan = explain(&OutboundPolicy::new(), &destination);
    let verifiers = verifiers_for_hosts(&plan.hosts, TrustAnchors::new()).unwrap();
    let mut delivery = Delivery::from_plan(
        ClientSettings::new("client.sender.test").unwrap(),
        plan,
        Arc::new(verifiers),
    );
    let connector = Connector::new()
        .route("mx1.partner.test", dead)
        .route(MX, addr);
    let report = blocking::deliver(
        &mut delivery,
        &[message("cand", "r@partner.test")],
        &connector,
    );
    server.join().unwrap();
    assert!(report.all_accepted(), "{report:#?}");
    assert_eq!(report.connect_errors.len(), 1, "{report:#?}");
    assert!(report.connect_errors[0].0.starts_with("mx1.partner.test:"));
    assert_eq!(inbox.lock().unwrap().messages.len(), 1);
}

/// The tokio accept loop serves concurrent clients, each session its own task.
#[cfg(feature = "tokio")]
#[test]
fn tokio_server_loop_serves_concurrent_clients() {
    use mailtls::io::tokio as aio;
    let pki = Ca::root("mailtls io test CA");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let reports = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = server_config(Some(pki.leaf_for(MX).identity()));
        let server = tokio::spawn({
            let inbox = Arc::clone(&inbox);
            async move {
                let make = move |_| recorder(Arc::clone(&inbox));
                let limits = mailtls::io::ConnectionLimits::default();
                aio::serve(&listener, config, limits, make, |_, _, _| {}, |_| {}).await;
            }
        });
        let clients: Vec<_> = (0..4)
            .map(|i| {
                tokio::spawn(async move {
                    let (mut delivery, connector) = delivery("encrypt", addr);
                    let messages = [message(&format!("loop-{i}"), "rcpt@partner.test")];
                    aio::deliver(&mut delivery, &messages, &connector).await
                })
            })
            .collect();
        let mut reports = Vec::new();
        for client in clients {
            reports.push(client.await.unwrap());
        }
        server.abort();
        reports
    });
    assert!(
        reports.iter().all(DeliveryReport::all_accepted),
        "{reports:#?}"
    );
    let inbox = inbox.lock().unwrap();
    assert_eq!(inbox.messages.len(), 4);
    assert_eq!(inbox.tls_versions.len(), 4);
}
