//! Helpers for the adapter tests that run client and server on 127.0.0.1 (blocking and
//! tokio): a server configuration for the test MX, a recording server application,
//! deliveries under a Postfix policy-table value, and messages carrying a token.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mailtls::cert::TrustAnchors;
use mailtls::client::{ClientSettings, Delivery, Envelope};
use mailtls::io::{verifiers_for_hosts, Answer, Connector, Message};
use mailtls::policy::ladder::Rung;
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, OutboundPolicy};
use mailtls::server::{ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::tls::TlsIdentity;

/// The name the test MX's certificate carries.
pub const MX: &str = "mx.partner.test";

/// A server configuration with STARTTLS (`identity`) or without.
pub fn server_config(identity: Option<TlsIdentity>) -> Arc<ServerConfig> {
    let mut config = ServerConfig::new(MX);
    config.tls = identity.map(|identity| ServerTls::new(identity, Rung::Modern));
    Arc::new(config)
}

/// What a server application received.
#[derive(Debug, Default)]
pub struct Inbox {
    pub messages: Vec<Vec<u8>>,
    pub tls_versions: Vec<String>,
    current: Vec<u8>,
}

/// A recording application that accepts everything.
pub fn recorder(inbox: Arc<Mutex<Inbox>>) -> impl FnMut(&ServerEvent) -> Answer + Send {
    move |event| {
        let mut inbox = inbox.lock().unwrap();
        match event {
            ServerEvent::TlsEstablished { facts, .. } => {
                inbox.tls_versions.push(facts.version.to_string())
            }
            ServerEvent::MessageData(chunk) => inbox.current.extend_from_slice(chunk),
            ServerEvent::MessageEnd { .. } => {
                let message = std::mem::take(&mut inbox.current);
                inbox.messages.push(message);
            }
            _ => {}
        }
        Answer::Accept
    }
}

/// Serves exactly `sessions` sessions with the blocking adapter on a thread.
#[cfg(feature = "blocking")]
pub fn blocking_server(
    config: Arc<ServerConfig>,
    sessions: usize,
) -> (SocketAddr, Arc<Mutex<Inbox>>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let handle = std::thread::spawn({
        let inbox = Arc::clone(&inbox);
        move || {
            for _ in 0..sessions {
                let (stream, peer) = listener.accept().unwrap();
                let mut app = recorder(Arc::clone(&inbox));
                let _ = mailtls::io::blocking::serve_connection(
                    stream,
                    peer,
                    Arc::clone(&config),
                    &mut app,
                );
            }
        }
    });
    (addr, inbox, handle)
}

/// A delivery to `[MX]:port` under a Postfix policy-table value (`may`, `secure match=...`),
/// and the connector that routes MX to `addr`.
pub fn delivery(policy: &str, addr: SocketAddr) -> (Delivery, Connector) {
    let next_hop = format!("[{MX}]:{}", addr.port());
    let table = PolicyTable::parse(&format!("{next_hop} {policy}\n")).unwrap();
    let plan = explain(
        &OutboundPolicy::new().with_table(table),
        &Destination::parse(&next_hop).unwrap(),
    );
    let verifiers = verifiers_for_hosts(&plan.hosts, TrustAnchors::new()).unwrap();
    let settings = ClientSettings::new("client.sender.test").unwrap();
    let delivery = Delivery::from_plan(settings, plan, Arc::new(verifiers));
    (delivery, Connector::new().route(MX, addr))
}

/// A message to `rcpt` whose subject carries `token`.
pub fn message(token: &str, rcpt: &str) -> Message {
    let envelope = Envelope::new(
        ReversePath::Mailbox(Mailbox::parse("sender@sender.test").unwrap()),
        vec![ForwardPath::Mailbox(Mailbox::parse(rcpt).unwrap())],
    );
    let content = format!(
        "From: sender@sender.test\r\nTo: {rcpt}\r\nSubject: {token}\r\n\r\nHello.\r\n.leading dot\r\n"
    );
    Message {
        envelope,
        content: content.into_bytes(),
    }
}
