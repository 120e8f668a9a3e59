//! A [`ServerSession`] driven by hand on a virtual clock ([`Driver`]), and a scripted client
//! speaking TLS through rustls directly ([`TlsClient`]), for the server transcript tests.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use mailtls::policy::ladder::Rung;
use mailtls::server::{ClientInfo, ServerConfig, ServerEvent, ServerSession, ServerTls};
use mailtls::Timestamp;
use rustls::pki_types::ServerName;

use super::pki::{Ca, Issued};
use super::NOW;

/// The name the server under test answers to and its certificate carries.
pub const SERVER_NAME: &str = "mx.example.net";

/// The client address every driven session sees.
pub fn client_info() -> ClientInfo {
    ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25)),
    }
}

/// A server configuration with STARTTLS (a certificate for [`SERVER_NAME`] from `pki`).
pub fn tls_config(pki: &Ca) -> ServerConfig {
    let identity = pki.leaf_for(SERVER_NAME).identity();
    let mut config = ServerConfig::new(SERVER_NAME);
    config.tls = Some(ServerTls::new(identity, Rung::Modern));
    config
}

/// A session with a virtual clock and everything it sent collected.
pub struct Driver {
    pub session: ServerSession,
    pub now: Timestamp,
}

impl Driver {
    pub fn new(config: ServerConfig) -> Self {
        Self::with_client(config, client_info())
    }

    pub fn with_client(config: ServerConfig, client: ClientInfo) -> Self {
        Self {
            session: ServerSession::new(Arc::new(config), client, NOW),
            now: NOW,
        }
    }

    /// Feeds all of `bytes` (the test fails if the session refuses part of them).
    pub fn input(&mut self, bytes: &[u8]) {
        let n = self.session.handle_input(bytes, self.now);
        assert_eq!(n, bytes.len(), "the session took only part of the input");
    }

    /// Everything the session wants to send now.
    pub fn transmit(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.session.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Everything the session sends now, as text (plaintext phase only).
    pub fn text(&mut self) -> String {
        String::from_utf8(self.transmit()).unwrap()
    }

    pub fn events(&mut self) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.session.poll_event() {
            events.push(event);
        }
        events
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self
            .now
            .saturating_add(core::time::Duration::from_secs(secs));
    }

    /// Sends `line` in plaintext and returns the reply text.
    pub fn say(&mut self, line: &str) -> String {
        self.input(line.as_bytes());
        self.text()
    }
}

/// A scripted client speaking TLS through rustls directly (no SMTP logic of its own).
pub struct TlsClient {
    pub conn: rustls::ClientConnection,
}

impl TlsClient {
    /// A client trusting `pki`'s root, presenting `identity` when asked.
    pub fn new(pki: &Ca, identity: Option<Issued>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.der.clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            Some(issued) => builder
                .with_client_auth_cert(issued.chain.clone(), issued.key_der())
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let name = ServerName::try_from(SERVER_NAME.to_owned()).unwrap();
        Self {
            conn: rustls::ClientConnection::new(Arc::new(config), name).unwrap(),
        }
    }

    /// Runs the handshake against the driver's session; returns whether it completed.
    pub fn handshake(&mut self, driver: &mut Driver) -> bool {
        for _ in 0..20 {
            self.flush(driver);
            let back = driver.transmit();
            if !back.is_empty() && self.receive(&back).is_err() {
                return false;
            }
            if !self.conn.is_handshaking() && !self.conn.wants_write() {
                return true;
            }
            if driver.session.is_closed() {
                return false;
            }
        }
        !self.conn.is_handshaking()
    }

    fn flush(&mut self, driver: &mut Driver) {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out).unwrap();
        }
        if !out.is_empty() {
            driver.input(&out);
        }
    }

    /// Feeds TLS bytes from the server; returns the plaintext they carried.
    pub fn receive(&mut self, mut bytes: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        while !bytes.is_empty() {
            self.conn.read_tls(&mut bytes).unwrap();
            self.conn.process_new_packets()?;
        }
        let mut plain = Vec::new();
        match self.conn.reader().read_to_end(&mut plain) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        Ok(plain)
    }

    /// Sends `line` over TLS and returns the plaintext reply.
    pub fn say(&mut self, driver: &mut Driver, line: &str) -> String {
        self.conn.writer().write_all(line.as_bytes()).unwrap();
        self.flush(driver);
        let back = driver.transmit();
        String::from_utf8(self.receive(&back).unwrap()).unwrap()
    }
}

/// The replies' first lines' code and enhanced code, e.g. `["250 2.0.0"]`, ignoring the
/// multi-line continuations.
pub fn codes(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}
