//! A partner-inbound server on the tokio adapter: it requires TLS, serves one session to an
//! in-process client and exits. No setup: `cargo run --all-features --example tokio_inbound`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mailtls::cert::TrustAnchors;
use mailtls::client::{ClientSettings, Delivery, Envelope};
use mailtls::io::{tokio as aio, verifiers_for_hosts, Answer, Connector, Message};
use mailtls::policy::ladder::Rung;
use mailtls::policy::{explain, Destination, Level, OutboundPolicy};
use mailtls::server::{ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{Code, EnhancedCode, ForwardPath, Mailbox, Reply, ReversePath};
use mailtls::tls::TlsIdentity;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = KeyPair::generate()?;
    let cert =
        CertificateParams::new(vec!["inbound.example.test".to_owned()])?.self_signed(&key)?;
    let identity = TlsIdentity::from_der(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )?;
    let mut config = ServerConfig::new("inbound.example.test");
    config.tls = Some(ServerTls::new(identity, Rung::Modern));
    // Partner inbound: nothing but EHLO, STARTTLS, NOOP and QUIT before TLS.
    config.require_tls = true;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let mut tls = None;
        let mut app = |event: &ServerEvent| {
            match event {
                ServerEvent::TlsEstablished { facts, .. } => {
                    tls = Some(format!("{} {}", facts.version, facts.suite));
                }
                // Only the partner's domain may be written to.
                ServerEvent::RcptTo(rcpt) if !rcpt.to.to_string().ends_with("@example.test>") => {
                    let reply = Reply::new(
                        Code::MAILBOX_UNAVAILABLE,
                        EnhancedCode::new(5, 7, 1),
                        "not here",
                    );
                    if let Ok(reply) = reply {
                        return Answer::Reject(reply);
                    }
                }
                ServerEvent::MessageEnd { size } => println!("server: took {size} octets"),
                _ => {}
            }
            Answer::Accept
        };
        let end = aio::serve_one(&listener, Arc::new(config), &mut app).await;
        (end, tls)
    });

    // The partner's client: TLS required (`encrypt`).
    let plan = explain(
        &OutboundPolicy::new().with_default_level(Level::Encrypt),
        &Destination::parse(&format!("[inbound.example.test]:{}", addr.port()))?,
    );
    let verifiers = verifiers_for_hosts(&plan.hosts, TrustAnchors::new())?;
    let mut delivery = Delivery::from_plan(
        ClientSettings::new("partner.example.net")?,
        plan,
        Arc::new(verifiers),
    );
    let message = Message {
        envelope: Envelope::new(
            ReversePath::Mailbox(Mailbox::parse("orders@example.net")?),
            vec![ForwardPath::Mailbox(Mailbox::parse("sales@example.test")?)],
        ),
        content: b"Subject: order 42\r\n\r\nTwo crates.\r\n".to_vec(),
    };
    let connector = Connector::new().route("inbound.example.test", addr);
    let report = aio::deliver(&mut delivery, &[message], &connector).await;
    let (end, tls) = server.await?;
    let end = end?;
    println!(
        "server: session over {}, closed: {}",
        tls.as_deref().unwrap_or("plaintext"),
        end.reason
            .as_ref()
            .map_or("without a close", |r| r.as_str())
    );
    if !report.all_accepted() || tls.is_none() {
        let attempts: Vec<String> = report
            .attempts
            .iter()
            .map(|a| format!("{} on rung {}: {}", a.host, a.rung, a.result))
            .collect();
        return Err(format!("unexpected: {}", attempts.join("; ")).into());
    }
    println!("client: delivered over TLS");
    Ok(())
}
