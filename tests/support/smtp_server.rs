//! A scripted SMTP server over rustls, for client tests: it answers each command with the
//! bytes its [`Script`] names (so a test can make it hostile), runs STARTTLS through a
//! [`TlsPeer`], and keeps a log of what it received.

use mailtls::tls::ServerTlsSetup;

use super::peers::{Intolerance, TlsPeer};
use super::pki::pki;
use super::NOW;

/// What the server says, as raw bytes, so tests can forge, split and pipeline replies.
#[derive(Clone, Debug)]
pub struct Script {
    /// The greeting.
    pub greeting: Vec<u8>,
    /// The reply to EHLO before TLS.
    pub ehlo: Vec<u8>,
    /// The reply to HELO.
    pub helo: Vec<u8>,
    /// The reply to STARTTLS (may carry forged bytes behind it).
    pub starttls: Vec<u8>,
    /// Whether a 220 to STARTTLS really starts TLS.
    pub starts_tls: bool,
    /// What a server that does not start TLS answers to the ClientHello (empty: silence).
    pub instead_of_tls: Vec<u8>,
    /// The TLS side: setup and intolerance.
    pub tls: (ServerTlsSetup, Intolerance),
    /// The reply to EHLO inside TLS.
    pub ehlo_tls: Vec<u8>,
    /// The reply to MAIL.
    pub mail: Vec<u8>,
    /// The replies to RCPT, by position; recipients past the end get `250 ok`.
    pub rcpt: Vec<Vec<u8>>,
    /// The reply to DATA.
    pub data: Vec<u8>,
    /// The reply to the final dot.
    pub data_end: Vec<u8>,
    /// The reply to STARTTLS inside TLS (a server that offers it twice).
    pub starttls_in_tls: Vec<u8>,
}

/// The capabilities of a well-behaved server before TLS.
pub const EHLO_STARTTLS: &[u8] =
    b"250-mx.example.com hello\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250 STARTTLS\r\n";
/// The capabilities of a well-behaved server inside TLS.
pub const EHLO_TLS: &[u8] =
    b"250-mx.example.com hello again\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 REQUIRETLS\r\n";

impl Default for Script {
    fn default() -> Self {
        Self {
            greeting: b"220 mx.example.com ESMTP\r\n".to_vec(),
            ehlo: EHLO_STARTTLS.to_vec(),
            helo: b"250 mx.example.com\r\n".to_vec(),
            starttls: b"220 2.0.0 go ahead\r\n".to_vec(),
            starts_tls: true,
            instead_of_tls: Vec::new(),
            tls: (
                ServerTlsSetup::new(
                    mailtls::policy::ladder::Rung::Modern,
                    pki().server.clone(),
                    NOW,
                ),
                Intolerance::None,
            ),
            ehlo_tls: EHLO_TLS.to_vec(),
            mail: b"250 2.1.0 ok\r\n".to_vec(),
            rcpt: Vec::new(),
            data: b"354 go on\r\n".to_vec(),
            data_end: b"250 2.0.0 queued as 42\r\n".to_vec(),
            starttls_in_tls: b"503 5.5.1 TLS already active\r\n".to_vec(),
        }
    }
}

/// One command the server read, and whether it came through TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Through TLS?
    pub tls: bool,
    /// The line, without CRLF.
    pub line: String,
    /// Which client write (transmit) carried it, counted from 0.
    pub write: usize,
}

/// The scripted server.
pub struct SmtpServer {
    /// The script.
    pub script: Script,
    tls: Option<TlsPeer>,
    awaiting_hello: bool,
    lines: Vec<u8>,
    in_data: bool,
    rcpts: usize,
    /// Whether the server has closed the connection.
    pub closed: bool,
    /// Commands received, in order.
    pub log: Vec<Received>,
    /// The DATA text as received (dot-stuffed, terminator included).
    pub data: Vec<u8>,
    /// The number of separate client writes (transmits) while the body was streaming.
    pub writes: usize,
    handled: usize,
}

impl SmtpServer {
    /// A server following `script`.
    pub fn new(script: Script) -> Self {
        Self {
            script,
            tls: None,
            awaiting_hello: false,
            lines: Vec::new(),
            in_data: false,
            rcpts: 0,
            closed: false,
            log: Vec::new(),
            data: Vec::new(),
            writes: 0,
            handled: 0,
        }
    }

    /// The greeting bytes.
    pub fn greet(&self) -> Vec<u8> {
        self.script.greeting.clone()
    }

    /// Whether TLS is up.
    pub fn in_tls(&self) -> bool {
        self.tls.is_some() && !self.awaiting_hello
    }

    /// The TLS peer, once STARTTLS went ahead.
    pub fn tls_peer(&mut self) -> Option<&mut TlsPeer> {
        self.tls.as_mut()
    }

    /// Bytes from the client; returns the bytes for the client.
    pub fn handle(&mut self, input: &[u8]) -> Vec<u8> {
        if self.closed {
            return Vec::new();
        }
        self.handled += 1;
        if self.in_data {
            self.writes += 1;
        }
        let mut out = Vec::new();
        if self.awaiting_hello && !self.script.starts_tls {
            // A server that said 220 but never speaks TLS.
            out.extend_from_slice(&self.script.instead_of_tls);
            self.awaiting_hello = false;
            return out;
        }
        match self.tls.as_mut() {
            Some(peer) => {
                let mut plain = Vec::new();
                if peer.handle(input, &mut out, &mut plain).is_err() || peer.closed() {
                    self.closed = true;
                    return out;
                }
                self.awaiting_hello = false;
                let mut replies = Vec::new();
                self.lines.extend_from_slice(&plain);
                self.process_lines(&mut replies);
                if !replies.is_empty() {
                    if let Some(peer) = self.tls.as_mut() {
                        peer.send(&replies, &mut out);
                    }
                }
            }
            None => {
                self.lines.extend_from_slice(input);
                self.process_lines(&mut out);
            }
        }
        out
    }

    fn process_lines(&mut self, out: &mut Vec<u8>) {
        while let Some(pos) = self.lines.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.lines.drain(..=pos).collect();
            if self.in_data {
                self.data.extend_from_slice(&line);
                if line == b".\r\n" {
                    self.in_data = false;
                    out.extend_from_slice(&self.script.data_end);
                }
                continue;
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            let tls = self.tls.is_some();
            self.log.push(Received {
                tls,
                line: text.clone(),
                write: self.handled,
            });
            let verb = text
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" if tls => out.extend_from_slice(&self.script.ehlo_tls),
                "EHLO" => out.extend_from_slice(&self.script.ehlo),
                "HELO" => out.extend_from_slice(&self.script.helo),
                "STARTTLS" if tls => out.extend_from_slice(&self.script.starttls_in_tls),
                "STARTTLS" => {
                    out.extend_from_slice(&self.script.starttls);
                    if self.script.starttls.starts_with(b"220") {
                        let (setup, intolerance) = &self.script.tls;
                        self.tls = Some(TlsPeer::new(setup, *intolerance));
                        self.awaiting_hello = true;
                        // RFC 3207: the server discards anything buffered behind STARTTLS.
                        self.lines.clear();
                        if !self.script.starts_tls {
                            self.tls = None;
                        }
                        return;
                    }
                }
                "MAIL" => {
                    self.rcpts = 0;
                    out.extend_from_slice(&self.script.mail);
                }
                "RCPT" => {
                    let reply = self
                        .script
                        .rcpt
                        .get(self.rcpts)
                        .cloned()
                        .unwrap_or_else(|| b"250 2.1.5 ok\r\n".to_vec());
                    self.rcpts += 1;
                    out.extend_from_slice(&reply);
                }
                "DATA" => {
                    out.extend_from_slice(&self.script.data);
                    if self.script.data.starts_with(b"354") {
                        self.in_data = true;
                        self.writes = 0;
                    }
                }
                "RSET" => out.extend_from_slice(b"250 2.0.0 ok\r\n"),
                "QUIT" => {
                    out.extend_from_slice(b"221 2.0.0 bye\r\n");
                    self.closed = true;
                }
                _ => out.extend_from_slice(b"500 5.5.2 what?\r\n"),
            }
        }
    }
}
