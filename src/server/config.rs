//! What a server session is configured with: its name, TLS, the inbound policy, limits and
//! timeouts.

use core::net::IpAddr;
use core::time::Duration;
use std::sync::{Arc, OnceLock};

use rustls::server::danger::ClientCertVerifier;

use crate::cert::{CertificateCheck, ClientCertRequest, ClientVerifier, OnFailure, TrustAnchors};
use crate::policy::connector::Connectors;
use crate::policy::ladder::Rung;
use crate::time::Timestamp;
use crate::tls::{server_config, ServerTlsSetup, SharedClock, TlsError, TlsIdentity};

/// The configuration every inbound session of one listener shares (wrap it in an `Arc`).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The host name the server announces in its greeting and EHLO reply.
    pub hostname: String,
    /// What STARTTLS needs; `None` means no STARTTLS (not advertised, answered 502).
    pub tls: Option<ServerTls>,
    /// The inbound connectors (Exchange `New-InboundConnector`): which clients must use TLS,
    /// whose certificate must match, which sender domains are restricted. `None`: no
    /// connector applies to anyone.
    pub connectors: Option<Arc<Connectors>>,
    /// Whether every client must issue STARTTLS before anything but NOOP, EHLO, STARTTLS and
    /// QUIT (RFC 3207 §4, answered 530 5.7.0). A publicly referenced MX must not set this;
    /// connectors can require TLS for some clients only.
    pub require_tls: bool,
    /// Bounds on what a client may send.
    pub limits: Limits,
    /// How long the server waits for a client.
    pub timeouts: InputTimeouts,
}

impl ServerConfig {
    /// A configuration with the default limits and timeouts, no TLS and no TLS requirement.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            tls: None,
            connectors: None,
            require_tls: false,
            limits: Limits::default(),
            timeouts: InputTimeouts::default(),
        }
    }
}

/// The server's side of STARTTLS.
///
/// The rustls configuration is built on the first STARTTLS and shared by every later
/// session of this value: one configuration, one certificate resolver, one bounded session
/// cache ([`SERVER_SESSION_CACHE`](crate::tls::SERVER_SESSION_CACHE) entries) so that a
/// client coming back resumes. Time still comes from the sessions: each sets the shared
/// [`SharedClock`] from the `now` it is handed. Set the fields before the first session; a
/// clone starts with no configuration built.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The server's certificate chain and private key.
    pub identity: TlsIdentity,
    /// The TLS profile offered to clients.
    pub rung: Rung,
    /// The client certificate to ask every client for; `None` asks for none.
    pub client_auth: Option<ClientAuth>,
    built: Built,
}

impl ServerTls {
    /// STARTTLS with `identity` on `rung`, asking for no client certificate.
    pub fn new(identity: TlsIdentity, rung: Rung) -> Self {
        Self {
            identity,
            rung,
            client_auth: None,
            built: Built::default(),
        }
    }

    /// What a presented client certificate is judged by, when one is asked for:
    /// `client_auth`, or (when `ask_anyway`, connectors naming partner certificates without
    /// anchors) encryption only, to read its names.
    pub(crate) fn client_judgement(
        &self,
        ask_anyway: bool,
    ) -> Option<(CertificateCheck, OnFailure)> {
        match &self.client_auth {
            Some(auth) => Some((auth.requirement.clone(), auth.on_failure)),
            None if ask_anyway => Some((CertificateCheck::EncryptOnly, OnFailure::Continue)),
            None => None,
        }
    }

    /// The rustls configuration (built once, on the first call, and shared) and the clock
    /// its sessions set, moved to `now`.
    pub(crate) fn rustls_config(
        &self,
        ask_anyway: bool,
        now: Timestamp,
    ) -> Result<(Arc<rustls::ServerConfig>, SharedClock), TlsError> {
        let shape = Shape::of(self, ask_anyway);
        let built = match self.built.0.get() {
            Some(built) => built,
            None => {
                let fresh = self.build(ask_anyway, now)?;
                self.built.0.get_or_init(|| fresh)
            }
        };
        if built.shape != shape {
            // The fields changed after the first session (or the connectors ask for a
            // certificate where the first did not): build for this one alone.
            return self.build(ask_anyway, now).map(|b| (b.config, b.clock));
        }
        built.clock.set(now);
        Ok((Arc::clone(&built.config), built.clock.clone()))
    }

    fn build(&self, ask_anyway: bool, now: Timestamp) -> Result<BuiltConfig, TlsError> {
        let verifier = self
            .client_judgement(ask_anyway)
            .map(|(requirement, on_failure)| {
                let (certificate, hints) = match &self.client_auth {
                    // To answer a missing certificate in SMTP, the handshake must let it through.
                    Some(auth) if auth.on_failure == OnFailure::Abort => {
                        (auth.certificate, auth.hints.as_deref())
                    }
                    Some(auth) => (ClientCertRequest::Optional, auth.hints.as_deref()),
                    None => (ClientCertRequest::Optional, None),
                };
                // Shared by every connection: the verdict each session acts on is evaluated
                // again from the chain after the handshake, never read from this verifier.
                Arc::new(ClientVerifier::new(
                    requirement,
                    certificate,
                    on_failure,
                    hints,
                )) as Arc<dyn ClientCertVerifier>
            });
        let clock = SharedClock::new(now);
        let setup = ServerTlsSetup::new(self.rung, self.identity.clone(), now)
            .with_client_verifier(verifier)
            .with_clock(clock.clone());
        Ok(BuiltConfig {
            shape: Shape::of(self, ask_anyway),
            config: server_config(&setup)?,
            clock,
        })
    }
}

/// The rustls configuration of a [`ServerTls`], once built; a clone starts empty.
#[derive(Debug, Default)]
struct Built(OnceLock<BuiltConfig>);

impl Clone for Built {
    fn clone(&self) -> Self {
        Self::default()
    }
}

#[derive(Debug)]
struct BuiltConfig {
    shape: Shape,
    config: Arc<rustls::ServerConfig>,
    clock: SharedClock,
}

/// What a built configuration was built from, to notice fields changed since.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    rung: Rung,
    identity: usize,
    client_auth: Option<(ClientCertRequest, OnFailure, usize)>,
    ask_anyway: bool,
}

impl Shape {
    fn of(tls: &ServerTls, ask_anyway: bool) -> Self {
        Self {
            rung: tls.rung,
            identity: tls.identity.identity_ptr(),
            client_auth: tls.client_auth.as_ref().map(|a| {
                (
                    a.certificate,
                    a.on_failure,
                    a.hints.as_ref().map_or(0, |h| Arc::as_ptr(h) as usize),
                )
            }),
            ask_anyway,
        }
    }
}

/// How the server asks for and judges client certificates.
///
/// One verifier, in the listener's shared TLS configuration, runs inside every handshake;
/// each session then judges the chain its client presented again (on a resumed session, the
/// chain of the first handshake), with its own `now`, so the verdict belongs to that
/// connection alone; it comes out in [`ServerEvent::TlsEstablished`](super::ServerEvent).
#[derive(Clone, Debug)]
pub struct ClientAuth {
    /// Whether a client must present a certificate. With [`ClientCertRequest::Required`] and
    /// [`OnFailure::Abort`] a client without one fails the handshake; with
    /// [`OnFailure::Continue`] the handshake completes and `MAIL FROM` is refused
    /// `530 5.7.0`.
    pub certificate: ClientCertRequest,
    /// What a presented certificate must satisfy (for a partner: chain to the partner's
    /// anchors and the `TlsSenderCertificateName` rule).
    pub requirement: CertificateCheck,
    /// Fail the handshake when a certificate does not satisfy the requirement
    /// ([`OnFailure::Abort`]), or record the failure and refuse `MAIL FROM` with
    /// `550 5.7.1` ([`OnFailure::Continue`]), which the client can log and report. With
    /// [`ClientCertRequest::Optional`] and [`ServerConfig::connectors`] set, `Continue`
    /// refuses no one for the certificate itself: it is recorded (Untrusted), and only a
    /// connector that names a certificate refuses the client.
    pub on_failure: OnFailure,
    /// Certificate authorities named to the client as acceptable issuers.
    pub hints: Option<Arc<TrustAnchors>>,
}

/// Bounds on what a client may send; each one answers with its own reply when it is hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest command line, CRLF included (RFC 5321 §4.5.3.1.4 allows 512 and lets
    /// extensions raise it). A longer line is answered `500 5.5.2` and skipped.
    pub max_line_length: usize,
    /// The most recipients one transaction may name (RFC 5321 §4.5.3.1.8: at least 100).
    /// The next one is answered `452 4.5.3`.
    pub max_recipients: usize,
    /// The longest message line, CRLF included (RFC 5321 §4.5.3.1.6: 1000). A message with
    /// a longer line is refused `554 5.6.0` after its end-of-data.
    pub max_text_line_length: usize,
    /// The largest message, in octets after dot-unstuffing, announced as `SIZE`. A larger
    /// `SIZE=` parameter or a larger message is answered `552 5.3.4`.
    pub max_message_size: u64,
    /// How many refused or malformed commands a client may send before the server closes the
    /// connection with `421 4.7.0`.
    pub max_errors: u32,
    /// The most input bytes the session holds while it waits for the application (pipelined
    /// commands, message data not yet taken as events). It must exceed `max_line_length`.
    pub input_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_length: 2048,
            max_recipients: 100,
            max_text_line_length: crate::smtp::DEFAULT_MAX_TEXT_LINE,
            max_message_size: 36 * 1024 * 1024,
            max_errors: 20,
            input_buffer: 64 * 1024,
        }
    }
}

/// How long the server waits for the client's input: a command line, the message data, the
/// TLS handshake.
///
/// Not [`client::Timeouts`](crate::client::Timeouts), on purpose: a client bounds its wait
/// for the reply to each command it sent (RFC 5321 §4.5.3.2, one deadline per command), a
/// server bounds the client's next input; the two share no field.
///
/// Each deadline covers a whole phase and is *not* extended by the arrival of a byte: a
/// client that drips one byte per minute into a command still has to finish the command
/// within [`command`](Self::command) of the moment the server became ready for it. While the
/// application has not answered an event, no deadline runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputTimeouts {
    /// The time to send one complete command line, counted from the moment the server is
    /// ready for it (after the greeting or the previous reply). RFC 5321 §4.5.3.2.7: 5 minutes.
    pub command: Duration,
    /// The time for the whole message after the 354 reply, up to the final `.`. RFC 5321
    /// §4.5.3.2.6 gives the client 10 minutes to see the final reply; the server uses the
    /// same span for the whole data phase.
    pub data: Duration,
    /// The time for the TLS handshake after the 220 reply to STARTTLS.
    pub handshake: Duration,
}

impl Default for InputTimeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(5 * 60),
            data: Duration::from_secs(10 * 60),
            handshake: Duration::from_secs(5 * 60),
        }
    }
}

/// What the server knows about the client before the first byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address, as the transport saw it.
    pub ip: IpAddr,
}
