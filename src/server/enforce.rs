//! The inbound policy as the session applies it: which clients must use TLS, which client
//! certificate to ask for, and the verdicts at MAIL FROM and RCPT TO.

use crate::smtp::{ForwardPath, Host, Reply, ReversePath};
use crate::time::Timestamp;
use crate::tls::{server_config, ServerTlsSetup, TlsEngine, TlsError, TlsFacts};

use super::config::{ClientInfo, ServerConfig, ServerTls};

/// What the session knows about the client, gathered as the dialogue goes.
#[derive(Debug)]
pub(crate) struct Enforcement {
    client: ClientInfo,
    require_tls: bool,
    helo: Option<Host>,
    tls: Option<TlsFacts>,
}

impl Enforcement {
    pub(crate) fn new(config: &ServerConfig, client: ClientInfo) -> Self {
        Self {
            client,
            require_tls: config.require_tls,
            helo: None,
            tls: None,
        }
    }

    /// Whether this client must STARTTLS before anything but NOOP, EHLO, STARTTLS and QUIT.
    pub(crate) fn tls_required(&self) -> bool {
        self.require_tls
    }

    pub(crate) fn set_helo(&mut self, host: &Host) {
        self.helo = Some(host.clone());
    }

    pub(crate) fn set_tls(&mut self, facts: TlsFacts) {
        self.tls = Some(facts);
        self.helo = None;
    }

    pub(crate) fn tls_facts(&self) -> Option<&TlsFacts> {
        self.tls.as_ref()
    }

    pub(crate) fn reset_transaction(&mut self) {}

    /// The TLS engine for STARTTLS, asking for the client certificate the connectors need.
    pub(crate) fn tls_engine(
        &self,
        tls: &ServerTls,
        now: Timestamp,
    ) -> Result<TlsEngine, TlsError> {
        let setup = ServerTlsSetup {
            rung: tls.rung,
            client_verifier: None,
            identity: tls.identity.clone(),
            now,
        };
        TlsEngine::server(server_config(&setup)?)
    }

    /// The inbound policy's refusal of this sender, if any.
    pub(crate) fn check_mail(&mut self, _from: &ReversePath) -> Option<Reply> {
        let _ = &self.client;
        None
    }

    /// The inbound policy's refusal of this recipient, if any.
    pub(crate) fn check_rcpt(&mut self, _to: &ForwardPath) -> Option<Reply> {
        None
    }
}
