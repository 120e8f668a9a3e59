//! Delivers two messages with the blocking adapter under `secure` (verified chain and name)
//! to an in-process server on 127.0.0.1, with certificates made on the spot. No setup:
//! `cargo run --all-features --example deliver`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;

use mailtls::cert::TrustAnchors;
use mailtls::client::{ClientSettings, Delivery, Envelope};
use mailtls::io::{blocking, verifiers_for_hosts, Answer, Connector, Message};
use mailtls::policy::ladder::Rung;
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, OutboundPolicy};
use mailtls::server::{ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::tls::TlsIdentity;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A CA and a server certificate for mx.partner.test; the CA goes into a tafile.
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["mx.partner.test".to_owned()])?.signed_by(&key, &ca)?;
    let identity = TlsIdentity::from_der(
        vec![leaf.der().clone(), ca.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )?;
    let tafile = std::env::temp_dir().join(format!("mailtls-deliver-{}.pem", std::process::id()));
    std::fs::write(&tafile, ca.pem())?;

    // The receiving side: one session, every message printed.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut config = ServerConfig::new("mx.partner.test");
    config.tls = Some(ServerTls::new(identity, Rung::Modern));
    let server = std::thread::spawn(move || {
        let (stream, peer) = listener.accept().unwrap();
        let mut received = 0;
        let mut app = |event: &ServerEvent| {
            if let ServerEvent::MessageEnd { size } = event {
                received += 1;
                println!("server: message {received} of {size} octets taken");
            }
            Answer::Accept
        };
        blocking::serve_connection(stream, peer, Arc::new(config), &mut app).unwrap()
    });

    // The sending side: a Postfix policy-table line decides, the plan says why.
    let next_hop = format!("[mx.partner.test]:{}", addr.port());
    let table = PolicyTable::parse(&format!(
        "{next_hop} secure match=mx.partner.test tafile={}\n",
        tafile.display()
    ))?;
    let plan = explain(
        &OutboundPolicy::new().with_table(table),
        &Destination::parse(&next_hop)?,
    );
    print!("{plan}");
    let verifiers = verifiers_for_hosts(&plan.hosts, TrustAnchors::new())?;
    let settings = ClientSettings::new("client.sender.test")?;
    let mut delivery = Delivery::from_plan(settings, plan, Arc::new(verifiers));
    let connector = Connector::new().route("mx.partner.test", addr);
    let messages: Vec<Message> = (1..=2)
        .map(|i| Message {
            envelope: Envelope::new(
                ReversePath::Mailbox(Mailbox::parse("me@sender.test").unwrap()),
                vec![ForwardPath::Mailbox(
                    Mailbox::parse("you@partner.test").unwrap(),
                )],
            ),
            content: format!("Subject: hello {i}\r\n\r\nHi.\r\n").into_bytes(),
        })
        .collect();
    let report = blocking::deliver(&mut delivery, &messages, &connector);
    let end = server.join().map_err(|_| "server thread panicked")?;
    let _ = std::fs::remove_file(&tafile);

    for attempt in &report.attempts {
        let tls = attempt
            .tls
            .as_ref()
            .map_or("plaintext".to_owned(), |t| t.facts.to_string());
        println!(
            "client: {} on rung {}: {} ({tls})",
            attempt.host, attempt.rung, attempt.result
        );
    }
    let reason = end
        .reason
        .as_ref()
        .map_or("without a close", |r| r.as_str());
    println!("server: session ended: {reason}");
    if !report.all_accepted() {
        let outcome = report
            .outcome
            .as_ref()
            .map_or_else(|| "no attempt".to_owned(), ToString::to_string);
        return Err(format!("not delivered: {outcome}").into());
    }
    println!(
        "delivered {} messages over one verified connection",
        messages.len()
    );
    Ok(())
}
