//! The inbound policy as the session applies it: which clients must use TLS, which client
//! certificate to ask for, and the verdicts at MAIL FROM and RCPT TO.

use std::sync::Arc;

use crate::cert::{
    evaluate, CertificateCheck, ClientCertRequest, OnFailure, Outcome, Role, TrustLevel,
};
use crate::policy::connector::Connectors;
use crate::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundAction, InboundFacts, InboundTls, Verification,
};
use crate::smtp::{Code, EnhancedCode, ForwardPath, Host, Reply, ReversePath};
use crate::time::Timestamp;
use crate::tls::{SharedClock, TlsEngine, TlsError, TlsFacts};

use super::config::{ClientAuth, ClientInfo, ServerConfig, ServerTls};

/// What the session knows about the client, gathered as the dialogue goes.
#[derive(Debug)]
pub(crate) struct Enforcement {
    client: ClientInfo,
    require_tls: bool,
    client_auth: Option<ClientAuth>,
    connectors: Option<Arc<Connectors>>,
    helo: Option<Host>,
    /// The MAIL FROM domain of the transaction (`None`: none yet, or the null sender).
    mail_from_domain: Option<String>,
    /// The RCPT TO domains accepted so far by the policy.
    rcpt_domains: Vec<String>,
    tls: Option<TlsFacts>,
    /// What a client certificate is judged by, once STARTTLS asked for one.
    judgement: Option<(CertificateCheck, OnFailure)>,
    client_certificate: Option<Outcome>,
}

impl Enforcement {
    pub(crate) fn new(config: &ServerConfig, client: ClientInfo) -> Self {
        Self {
            client,
            require_tls: config.require_tls,
            client_auth: config.tls.as_ref().and_then(|t| t.client_auth.clone()),
            connectors: config.connectors.clone(),
            helo: None,
            mail_from_domain: None,
            rcpt_domains: Vec::new(),
            tls: None,
            judgement: None,
            client_certificate: None,
        }
    }

    /// Whether this client must STARTTLS before anything but NOOP, EHLO, STARTTLS and QUIT:
    /// the server says so, or an inbound connector that requires TLS lists the client's
    /// address. (A connector attributed later, by certificate or MAIL FROM domain, refuses
    /// at MAIL FROM instead.)
    pub(crate) fn tls_required(&self) -> bool {
        self.require_tls
            || self.connectors.as_ref().is_some_and(|connectors| {
                connectors.inbound().iter().any(|c| {
                    c.require_tls
                        && c.sender_ip_addresses
                            .iter()
                            .any(|net| net.contains(self.client.ip))
                })
            })
    }

    /// Whether some inbound connector names a partner certificate, so that a client
    /// certificate must be asked for.
    fn connectors_want_certificates(&self) -> bool {
        self.connectors.as_ref().is_some_and(|connectors| {
            connectors
                .inbound()
                .iter()
                .any(|c| c.tls_sender_certificate_name.is_some())
        })
    }

    pub(crate) fn set_helo(&mut self, host: &Host) {
        self.helo = Some(host.clone());
    }

    /// Records the finished handshake; returns what the client certificate was judged to be.
    ///
    /// The verdict is evaluated here, from the chain the connection presented (or, on a
    /// resumed session, the chain its first handshake presented), with this session's time:
    /// the shared verifier inside the handshake records nothing per connection.
    pub(crate) fn set_tls(&mut self, facts: TlsFacts, now: Timestamp) -> Option<Outcome> {
        self.client_certificate = match (&self.judgement, facts.peer_chain.split_first()) {
            (Some((requirement, on_failure)), Some((end_entity, intermediates))) => {
                let mut outcome = evaluate(
                    requirement,
                    Role::Inbound,
                    end_entity,
                    intermediates,
                    None,
                    now,
                );
                outcome.continued = outcome.error.is_some() && *on_failure == OnFailure::Continue;
                Some(outcome)
            }
            _ => None,
        };
        self.tls = Some(facts);
        self.helo = None;
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

    pub(crate) fn reset_transaction(&mut self) {
        self.mail_from_domain = None;
        self.rcpt_domains.clear();
    }

    /// The TLS engine for STARTTLS, asking for the client certificate the connectors need,
    /// over the listener's shared rustls configuration; the clock it reads is returned for the
    /// session to keep setting.
    pub(crate) fn tls_engine(
        &mut self,
        tls: &ServerTls,
        now: Timestamp,
    ) -> Result<(TlsEngine, SharedClock), TlsError> {
        // Connectors name partner certificates but no anchors were configured: ask for a
        // certificate to read its names; it counts as not verified.
        let ask_anyway = self.connectors_want_certificates();
        self.judgement = tls.client_judgement(ask_anyway);
        let (config, clock) = tls.rustls_config(ask_anyway, now)?;
        Ok((TlsEngine::server(config)?, clock))
    }

    /// The inbound policy's refusal of this sender, if any.
    pub(crate) fn check_mail(&mut self, from: &ReversePath) -> Option<Reply> {
        if let Some(refusal) = self.check_client_certificate() {
            return Some(refusal);
        }
        let domain = match from {
            ReversePath::Mailbox(mailbox) => match mailbox.host() {
                Host::Domain(domain) => Some(domain.as_str().to_owned()),
                Host::Literal(_) => None,
            },
            ReversePath::Null => None,
        };
        let refusal = self.decide(domain.as_deref(), &[]);
        if refusal.is_none() {
            self.mail_from_domain = domain;
        }
        refusal
    }

    /// The server-wide client-certificate rule, once TLS is up (a plaintext MAIL is the
    /// business of the TLS requirement).
    fn check_client_certificate(&self) -> Option<Reply> {
        let auth = self.client_auth.as_ref()?;
        self.tls.as_ref()?;
        match &self.client_certificate {
            None if auth.certificate == ClientCertRequest::Required => Some(refusal(
                Code::ENCRYPTION_REQUIRED,
                (5, 7, 0),
                "Client certificate required",
            )),
            // Under `Optional` with connectors, an unverified certificate is no worse than
            // none: only a connector that names a certificate refuses it (issue 16: an MX
            // must not bounce ordinary MTAs with self-signed certificates).
            Some(outcome) if !outcome.is_verified() && !self.connectors_judge(auth) => {
                Some(refusal(
                    Code::MAILBOX_UNAVAILABLE,
                    (5, 7, 1),
                    "Client certificate not accepted",
                ))
            }
            _ => None,
        }
    }

    /// Whether the connectors, not the server-wide rule, decide what an unverified
    /// certificate means: a certificate is optional and an inbound policy is configured.
    fn connectors_judge(&self, auth: &ClientAuth) -> bool {
        auth.certificate == ClientCertRequest::Optional && self.connectors.is_some()
    }

    /// The inbound policy's refusal of this recipient, if any.
    /// Recipients count for attribution only through on-premises connectors (Exchange's
    /// last resort); the decision is taken again with this recipient's domain added.
    pub(crate) fn check_rcpt(&mut self, to: &ForwardPath) -> Option<Reply> {
        let ForwardPath::Mailbox(mailbox) = to else {
            return None;
        };
        let Host::Domain(domain) = mailbox.host() else {
            return None;
        };
        let mut domains: Vec<&str> = self.rcpt_domains.iter().map(String::as_str).collect();
        domains.push(domain.as_str());
        let refusal = self.decide(self.mail_from_domain.as_deref(), &domains);
        if refusal.is_none() {
            self.rcpt_domains.push(domain.as_str().to_owned());
        }
        refusal
    }

    /// The inbound connectors' verdict on what is known now, as a reply when it refuses.
    fn decide(&self, mail_from_domain: Option<&str>, rcpt_domains: &[&str]) -> Option<Reply> {
        let connectors = self.connectors.as_ref()?;
        let helo = self
            .helo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let tls = self
            .tls
            .as_ref()
            .map(|facts| InboundTls::negotiated(facts.version, facts.suite));
        let cert = self
            .client_certificate
            .as_ref()
            .and_then(|o| o.facts.as_ref());
        let dns_sans: Vec<&str> = cert
            .map(|c| c.dns_names.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let common_names: Vec<&str> = cert
            .map(|c| c.common_names.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let client_certificate = match &self.client_certificate {
            Some(outcome) if outcome.facts.is_some() => ClientCertificateFacts::Names {
                dns_sans: &dns_sans,
                common_names: &common_names,
                verified: verification(outcome),
            },
            _ => ClientCertificateFacts::None,
        };
        let facts = InboundFacts {
            client_ip: self.client.ip,
            helo: &helo,
            mail_from_domain,
            rcpt_domains,
            tls,
            client_certificate,
        };
        match decide_inbound(connectors, &facts).action {
            InboundAction::Reject(status) | InboundAction::Tempfail(status) => {
                Some(status.to_reply())
            }
            _ => None,
        }
    }
}

fn refusal(code: Code, enhanced: (u8, u16, u16), text: &str) -> Reply {
    let enhanced = EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2);
    Reply::new(code, enhanced, text).unwrap_or_else(|_| Reply::fixed(code, enhanced, "Error"))
}

/// Whether the chain was validated: a certificate the verifier trusted (a chain to the
/// configured anchors) counts as verified for connector matching, whatever its names.
fn verification(outcome: &Outcome) -> Verification {
    match outcome.trust {
        TrustLevel::Trusted | TrustLevel::Verified => Verification::Verified,
        _ => Verification::NotVerified,
    }
}
