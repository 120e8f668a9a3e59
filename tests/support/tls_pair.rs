//! A client engine and a server peer wired back to back, in the rustls `transfer` style.

use mailtls::tls::{client_config, ClientTlsSetup, TlsEngine, TlsFailure};

use super::peers::TlsPeer;
use super::pki::MX_NAME;

/// How a handshake between a [`TlsEngine`] client and a [`TlsPeer`] ended.
#[derive(Debug)]
pub struct Handshake {
    /// The client's view: `Ok` when the handshake completed.
    pub client: Result<(), TlsFailure>,
    /// The server's view.
    pub server: Result<(), TlsFailure>,
}

/// A client engine and a server peer, with the plaintext each received.
pub struct TlsPair {
    /// The client side.
    pub client: TlsEngine,
    /// The server side.
    pub server: TlsPeer,
    /// Plaintext the client decrypted.
    pub client_plain: Vec<u8>,
    /// Plaintext the server decrypted.
    pub server_plain: Vec<u8>,
}

impl TlsPair {
    /// A client for [`MX_NAME`] with `setup`, facing `server`.
    pub fn new(setup: &ClientTlsSetup, server: TlsPeer) -> Self {
        let config = client_config(setup).unwrap();
        Self {
            client: TlsEngine::client(config, MX_NAME).unwrap(),
            server,
            client_plain: Vec::new(),
            server_plain: Vec::new(),
        }
    }

    /// Moves bytes both ways until the client finishes the handshake, fails, or nothing moves.
    pub fn handshake(&mut self) -> Handshake {
        let mut server_result = Ok(());
        for _ in 0..32 {
            let mut to_server = Vec::new();
            self.client.drain_ciphertext(&mut to_server);
            let mut to_client = Vec::new();
            if !to_server.is_empty() {
                if let Err(e) =
                    self.server
                        .handle(&to_server, &mut to_client, &mut self.server_plain)
                {
                    server_result = Err(e);
                }
            }
            if !to_client.is_empty() {
                if let Err(e) = self
                    .client
                    .handle_ciphertext(&to_client, &mut self.client_plain)
                {
                    return Handshake {
                        client: Err(e),
                        server: server_result,
                    };
                }
            } else if self.server.closed() || server_result.is_err() {
                if let Err(e) = self.client.handle_eof() {
                    return Handshake {
                        client: Err(e),
                        server: server_result,
                    };
                }
            }
            if !self.client.is_handshaking() && !self.client.wants_write() {
                break;
            }
        }
        Handshake {
            client: if self.client.is_handshaking() {
                Err(TlsFailure::eof_during_handshake())
            } else {
                Ok(())
            },
            server: server_result,
        }
    }

    /// Sends `data` from the client to the server; returns what the server decrypted.
    pub fn client_to_server(&mut self, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.client.encrypt(data, &mut wire).unwrap();
        let mut back = Vec::new();
        self.server
            .handle(&wire, &mut back, &mut self.server_plain)
            .unwrap();
        std::mem::take(&mut self.server_plain)
    }

    /// Sends `data` from the server to the client; returns what the client decrypted.
    pub fn server_to_client(&mut self, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.server.send(data, &mut wire);
        self.client
            .handle_ciphertext(&wire, &mut self.client_plain)
            .unwrap();
        std::mem::take(&mut self.client_plain)
    }
}
