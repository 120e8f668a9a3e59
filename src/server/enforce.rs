//! The inbound policy as the session applies it: which clients must use TLS, which client
//! certificate to ask for, and the verdicts at MAIL FROM and RCPT TO.

use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;

use crate::cert::{ClientCertificate, ClientVerifier, OnFailure, Outcome, OutcomeSlot};
use crate::smtp::{Code, EnhancedCode};
use crate::smtp::{ForwardPath, Host, Reply, ReversePath};
use crate::time::Timestamp;
use crate::tls::{server_config, ServerTlsSetup, TlsEngine, TlsError, TlsFacts};

use super::config::{ClientAuth, ClientInfo, ServerConfig, ServerTls};

/// What the session knows about the client, gathered as the dialogue goes.
#[derive(Debug)]
pub(crate) struct Enforcement {
    client: ClientInfo,
    require_tls: bool,
    client_auth: Option<ClientAuth>,
    helo: Option<Host>,
    tls: Option<TlsFacts>,
    /// Where this connection's client-certificate verifier records its outcome.
    slot: Option<OutcomeSlot>,
    client_certificate: Option<Outcome>,
}

impl Enforcement {
    pub(crate) fn new(config: &ServerConfig, client: ClientInfo) -> Self {
        Self {
            client,
            require_tls: config.require_tls,
            client_auth: config.tls.as_ref().and_then(|t| t.client_auth.clone()),
            helo: None,
            tls: None,
            slot: None,
            client_certificate: None,
        }
    }

    /// Whether this client must STARTTLS before anything but NOOP, EHLO, STARTTLS and QUIT.
    pub(crate) fn tls_required(&self) -> bool {
        self.require_tls
    }

    pub(crate) fn set_helo(&mut self, host: &Host) {
        self.helo = Some(host.clone());
    }

    /// Records the finished handshake; returns what the client-certificate verifier found.
    pub(crate) fn set_tls(&mut self, facts: TlsFacts) -> Option<Outcome> {
        self.tls = Some(facts);
        self.helo = None;
        self.client_certificate = self.slot.as_ref().and_then(OutcomeSlot::get);
        self.client_certificate.clone()
    }

    /// What the client-certificate verifier found, once TLS is up (`None`: no certificate
    /// was asked for or presented).
    pub(crate) fn client_certificate(&self) -> Option<&Outcome> {
        self.client_certificate.as_ref()
    }

    pub(crate) fn tls_facts(&self) -> Option<&TlsFacts> {
        self.tls.as_ref()
    }

    pub(crate) fn reset_transaction(&mut self) {}

    /// The TLS engine for STARTTLS, asking for the client certificate the connectors need.
    pub(crate) fn tls_engine(
        &mut self,
        tls: &ServerTls,
        now: Timestamp,
    ) -> Result<TlsEngine, TlsError> {
        let verifier = tls.client_auth.as_ref().map(|auth| {
            // To answer a missing certificate in SMTP, the handshake must let it through.
            let certificate = match auth.on_failure {
                OnFailure::Abort => auth.certificate,
                OnFailure::Continue => ClientCertificate::Optional,
            };
            ClientVerifier::new(
                auth.requirement.clone(),
                certificate,
                auth.on_failure,
                auth.hints.as_deref(),
            )
        });
        self.slot = verifier.as_ref().map(ClientVerifier::slot);
        let setup = ServerTlsSetup {
            rung: tls.rung,
            client_verifier: verifier.map(|v| Arc::new(v) as Arc<dyn ClientCertVerifier>),
            identity: tls.identity.clone(),
            now,
        };
        TlsEngine::server(server_config(&setup)?)
    }

    /// The inbound policy's refusal of this sender, if any.
    pub(crate) fn check_mail(&mut self, _from: &ReversePath) -> Option<Reply> {
        let _ = &self.client;
        self.check_client_certificate()
    }

    /// The server-wide client-certificate rule, once TLS is up (a plaintext MAIL is the
    /// business of the TLS requirement).
    fn check_client_certificate(&self) -> Option<Reply> {
        let auth = self.client_auth.as_ref()?;
        self.tls.as_ref()?;
        match &self.client_certificate {
            None if auth.certificate == ClientCertificate::Required => Some(refusal(
                Code::ENCRYPTION_REQUIRED,
                (5, 7, 0),
                "Client certificate required",
            )),
            Some(outcome) if !outcome.is_verified() => Some(refusal(
                Code::MAILBOX_UNAVAILABLE,
                (5, 7, 1),
                "Client certificate not accepted",
            )),
            _ => None,
        }
    }

    /// The inbound policy's refusal of this recipient, if any.
    pub(crate) fn check_rcpt(&mut self, _to: &ForwardPath) -> Option<Reply> {
        None
    }
}

fn refusal(code: Code, enhanced: (u8, u16, u16), text: &str) -> Reply {
    let enhanced = EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2);
    Reply::new(code, enhanced, text).unwrap_or_else(|_| Reply::fixed(code, enhanced, "Error"))
}
