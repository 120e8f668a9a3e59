//! Server-side TLS peers for tests, some of them intolerant in the ways real MX hosts are.
//!
//! rustls cannot be told to abort on a TLS 1.3 ClientHello, so the intolerant peers read the
//! ClientHello record themselves first and either answer with an alert, close, or hand the
//! bytes to a real rustls server.

use mailtls::tls::{server_config, ServerTlsSetup, TlsEngine, TlsFailure};

/// How a peer misbehaves on the ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intolerance {
    /// None: a plain rustls server.
    None,
    /// A ClientHello offering TLS 1.3 gets a fatal `protocol_version` alert.
    AlertOnTls13,
    /// A ClientHello offering TLS 1.3 makes the peer close the connection.
    CloseOnTls13,
    /// A ClientHello offering the X25519 group gets a fatal `handshake_failure` alert (a peer
    /// that only copes with the NIST curves).
    HandshakeFailureOnX25519,
    /// Every ClientHello gets a fatal `handshake_failure` alert (no common parameters on any
    /// rung).
    AlwaysHandshakeFailure,
}

/// What a ClientHello offered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHelloFacts {
    /// `supported_versions` entries (0x0304 = TLS 1.3); empty when the extension is absent.
    pub versions: Vec<u16>,
    /// `supported_groups` entries (0x001d = X25519).
    pub groups: Vec<u16>,
    /// Cipher suites.
    pub suites: Vec<u16>,
    /// The SNI host name, when sent.
    pub sni: Option<String>,
}

/// A server-side TLS endpoint driven by bytes.
pub struct TlsPeer {
    engine: TlsEngine,
    intolerance: Intolerance,
    hello: Vec<u8>,
    decided: bool,
    closed: bool,
    /// The ClientHello as parsed, once seen.
    pub client_hello: Option<ClientHelloFacts>,
}

impl TlsPeer {
    /// A peer with the given server setup and intolerance.
    pub fn new(setup: &ServerTlsSetup, intolerance: Intolerance) -> Self {
        let config = server_config(setup).unwrap();
        Self {
            engine: TlsEngine::server(config).unwrap(),
            intolerance,
            hello: Vec::new(),
            decided: false,
            closed: false,
            client_hello: None,
        }
    }

    /// Whether the peer closed the connection (the client will see end of stream).
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The rustls engine behind the peer.
    pub fn engine(&mut self) -> &mut TlsEngine {
        &mut self.engine
    }

    /// Feeds client bytes; ciphertext for the client goes to `out`, decrypted plaintext to
    /// `plain`. A server-side TLS failure is returned (its alert is already in `out`).
    pub fn handle(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        plain: &mut Vec<u8>,
    ) -> Result<(), TlsFailure> {
        if self.closed {
            return Ok(());
        }
        if !self.decided {
            self.hello.extend_from_slice(input);
            let Some(facts) = parse_client_hello(&self.hello) else {
                return Ok(()); // wait for the whole record
            };
            self.decided = true;
            let offers_tls13 = facts.versions.contains(&0x0304);
            let offers_x25519 = facts.groups.contains(&0x001d);
            self.client_hello = Some(facts);
            match self.intolerance {
                Intolerance::AlertOnTls13 if offers_tls13 => {
                    out.extend_from_slice(&alert(0x46));
                    self.closed = true;
                    return Ok(());
                }
                Intolerance::CloseOnTls13 if offers_tls13 => {
                    self.closed = true;
                    return Ok(());
                }
                Intolerance::AlwaysHandshakeFailure => {
                    out.extend_from_slice(&alert(0x28));
                    self.closed = true;
                    return Ok(());
                }
                Intolerance::HandshakeFailureOnX25519 if offers_x25519 => {
                    out.extend_from_slice(&alert(0x28));
                    self.closed = true;
                    return Ok(());
                }
                _ => {}
            }
            let hello = std::mem::take(&mut self.hello);
            let result = self.engine.handle_ciphertext(&hello, plain);
            self.engine.drain_ciphertext(out);
            return result;
        }
        let result = self.engine.handle_ciphertext(input, plain);
        self.engine.drain_ciphertext(out);
        result
    }

    /// Encrypts plaintext for the client.
    pub fn send(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.engine.encrypt(data, out).unwrap();
    }
}

/// A fatal alert record (TLS 1.2 record version).
pub fn alert(description: u8) -> [u8; 7] {
    [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]
}

/// Parses the first TLS record as a ClientHello; `None` until the record is complete (or
/// when it is not a ClientHello at all).
pub fn parse_client_hello(bytes: &[u8]) -> Option<ClientHelloFacts> {
    let mut r = Reader(bytes);
    if r.u8()? != 0x16 {
        return None;
    }
    r.take(2)?;
    let record_len = r.u16()? as usize;
    let mut r = Reader(r.take(record_len)?);
    if r.u8()? != 0x01 {
        return None;
    }
    r.take(3)?; // handshake length
    r.take(2 + 32)?; // legacy version, random
    let sid = r.u8()? as usize;
    r.take(sid)?;
    let suites_len = r.u16()? as usize;
    let mut suites_r = Reader(r.take(suites_len)?);
    let mut facts = ClientHelloFacts::default();
    while let Some(s) = suites_r.u16() {
        facts.suites.push(s);
    }
    let comp = r.u8()? as usize;
    r.take(comp)?;
    let ext_len = r.u16()? as usize;
    let mut exts = Reader(r.take(ext_len)?);
    while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
        let mut body = Reader(exts.take(len as usize)?);
        match kind {
            0x0000 => {
                body.take(2)?;
                body.take(1)?;
                let n = body.u16()? as usize;
                facts.sni = Some(String::from_utf8_lossy(body.take(n)?).into_owned());
            }
            0x000a => {
                let n = body.u16()? as usize;
                let mut list = Reader(body.take(n)?);
                while let Some(g) = list.u16() {
                    facts.groups.push(g);
                }
            }
            0x002b => {
                let n = body.u8()? as usize;
                let mut list = Reader(body.take(n)?);
                while let Some(v) = list.u16() {
                    facts.versions.push(v);
                }
            }
            _ => {}
        }
    }
    Some(facts)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}
