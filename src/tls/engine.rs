//! The TLS engine: bytes through rustls's buffered API, with no I/O of its own.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::facts::{cipher_suite, key_exchange_group, tls_version, TlsFacts};
use super::{TlsError, TlsFailure};

/// One TLS connection, client or server side, driven by bytes.
///
/// ```text
///  ciphertext from the peer ──► handle_ciphertext ──► plaintext for the session
///  ciphertext for the peer  ◄── drain_ciphertext  ◄── encrypt ◄── plaintext from the session
/// ```
///
/// Any failure is fatal and sticky: every later call returns the same [`TlsFailure`], and
/// [`drain_ciphertext`](Self::drain_ciphertext) still yields the alert rustls queued for it.
#[derive(Debug)]
pub struct TlsEngine {
    conn: Connection,
    failure: Option<TlsFailure>,
    peer_closed: bool,
}

impl TlsEngine {
    /// Starts a client connection. `server_name` (a DNS name or an IP address) is what the
    /// verifier is asked to check and, when the configuration sends SNI, what the server sees.
    ///
    /// The ClientHello is queued at once: call [`drain_ciphertext`](Self::drain_ciphertext).
    pub fn client(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, TlsError> {
        let name =
            ServerName::try_from(server_name.trim_end_matches('.').to_owned()).map_err(|_| {
                TlsError::ServerName {
                    name: server_name.to_owned(),
                }
            })?;
        let conn = ClientConnection::new(config, name).map_err(|e| TlsError::Start {
            detail: e.to_string(),
        })?;
        Ok(Self::new(conn.into()))
    }

    /// Starts a server connection; it waits for the ClientHello.
    pub fn server(config: Arc<ServerConfig>) -> Result<Self, TlsError> {
        let conn = ServerConnection::new(config).map_err(|e| TlsError::Start {
            detail: e.to_string(),
        })?;
        Ok(Self::new(conn.into()))
    }

    fn new(conn: Connection) -> Self {
        Self {
            conn,
            failure: None,
            peer_closed: false,
        }
    }

    /// Whether the handshake is still in progress.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the peer sent `close_notify`.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The failure that ended this connection, if any.
    pub fn failure(&self) -> Option<&TlsFailure> {
        self.failure.as_ref()
    }

    /// Feeds ciphertext from the peer, all of it, and appends whatever plaintext it decrypts
    /// to `plaintext`. The plaintext added is never longer than `input`.
    pub fn handle_ciphertext(
        &mut self,
        input: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<(), TlsFailure> {
        self.check()?;
        let mut rest = input;
        let mut stalled = false;
        while !rest.is_empty() {
            let before = rest.len();
            match self.conn.read_tls(&mut rest) {
                Ok(_) => {}
                // A full buffer (decrypted plaintext not yet drained): drain below, go on.
                Err(e) if e.kind() == io::ErrorKind::Other => {}
                Err(e) => return Err(self.fail_io(&e)),
            }
            let handshaking = self.conn.is_handshaking();
            if let Err(e) = self.conn.process_new_packets() {
                return Err(self.fail(TlsFailure::classify(&e, handshaking)));
            }
            self.read_plaintext(plaintext)?;
            if rest.len() == before {
                if self.peer_closed {
                    // Bytes after close_notify mean nothing; drop them.
                    break;
                }
                if stalled {
                    return Err(self.fail(TlsFailure::classify(
                        &rustls::Error::General("TLS input stalled".into()),
                        handshaking,
                    )));
                }
                stalled = true;
            } else {
                stalled = false;
            }
        }
        Ok(())
    }

    /// The peer closed its side of the transport. An error unless the handshake completed
    /// and the peer said `close_notify` first.
    pub fn handle_eof(&mut self) -> Result<(), TlsFailure> {
        self.check()?;
        if self.conn.is_handshaking() {
            return Err(self.fail(TlsFailure::eof_during_handshake()));
        }
        if !self.peer_closed {
            return Err(self.fail(TlsFailure::truncated()));
        }
        Ok(())
    }

    /// Encrypts `data` (after the handshake) and appends the records to `out`.
    pub fn encrypt(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), TlsFailure> {
        self.check()?;
        if self.conn.is_handshaking() {
            return Err(TlsFailure::not_ready());
        }
        let mut rest = data;
        while !rest.is_empty() {
            let n =
                self.conn.writer().write(rest).map_err(|e| {
                    TlsFailure::classify(&rustls::Error::General(e.to_string()), false)
                })?;
            rest = rest.get(n..).unwrap_or_default();
            self.drain_ciphertext(out);
            if n == 0 {
                return Err(TlsFailure::classify(
                    &rustls::Error::General("TLS send buffer refused data".into()),
                    false,
                ));
            }
        }
        Ok(())
    }

    /// Whether ciphertext is waiting for [`drain_ciphertext`](Self::drain_ciphertext).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Appends every pending TLS record (handshake messages, alerts, application data) to
    /// `out`, returning how many bytes were added.
    pub fn drain_ciphertext(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        while self.conn.wants_write() {
            // Writing to a Vec cannot fail; stop on any surprise rather than spin.
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.len().saturating_sub(start)
    }

    /// Queues a `close_notify` alert.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// The facts of the established session; `None` while handshaking, and for a session
    /// whose version or suite mailtls never offers (possible only with a rustls configuration
    /// not built by [`client_config`](super::client_config) or
    /// [`server_config`](super::server_config)).
    pub fn facts(&self) -> Option<TlsFacts> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = tls_version(self.conn.protocol_version()?)?;
        let suite = cipher_suite(self.conn.negotiated_cipher_suite()?.suite())?;
        let sni = match &self.conn {
            Connection::Server(server) => server.server_name().map(str::to_owned),
            Connection::Client(_) => None,
        };
        Some(TlsFacts {
            version,
            suite,
            group: self
                .conn
                .negotiated_key_exchange_group()
                .map(|g| key_exchange_group(g.name())),
            peer_chain: self
                .conn
                .peer_certificates()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            sni,
            resumed: self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        })
    }

    fn read_plaintext(&mut self, plaintext: &mut Vec<u8>) -> Result<(), TlsFailure> {
        match self.conn.reader().read_to_end(plaintext) {
            Ok(_) => {
                self.peer_closed = true;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(self.fail_io(&e)),
        }
    }

    fn check(&self) -> Result<(), TlsFailure> {
        match &self.failure {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    fn fail_io(&mut self, e: &io::Error) -> TlsFailure {
        let handshaking = self.conn.is_handshaking();
        self.fail(TlsFailure::classify(
            &rustls::Error::General(e.to_string()),
            handshaking,
        ))
    }

    fn fail(&mut self, failure: TlsFailure) -> TlsFailure {
        self.failure = Some(failure.clone());
        failure
    }
}
