//! Requirements applied during a rustls handshake, with the outcome kept for afterwards.
//!
//! [`evaluate`] is the whole decision, free of rustls connection types; [`ServerVerifier`]
//! (outbound) and [`ClientVerifier`] (inbound) plug it into rustls and record the
//! [`Outcome`] in an [`OutcomeSlot`] the session reads after the handshake. With
//! [`OnFailure::Continue`] the handshake goes on despite a failed requirement (opportunistic
//! TLS still encrypts, and still reports the failure); with [`OnFailure::Abort`] it fails with
//! the matching TLS alert.
//!
//! Whatever the requirement, the handshake signature is checked with the ring provider's
//! algorithms: the peer must hold the key of the certificate it presents.
//!
//! rustls gives a verifier no per-connection context, so the slot belongs to the verifier:
//! build one verifier (and so one rustls config) per connection.

use core::fmt;
use core::time::Duration;
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::chain::{validate_chain, TrustAnchors};
use super::facts::CertFacts;
use super::outcome::{Outcome, TrustLevel, VerifyError};
use super::partner::{PartnerRequirement, Role};
use super::pin::{hex_colon, Pin};
use crate::names::{Dialect, DnsName, HostId, NamePattern};
use crate::time::Timestamp;

/// What a peer certificate must satisfy.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum CertificateCheck {
    /// The chain must validate to `anchors`; names are not checked (Exchange
    /// `CertificateValidation`).
    Chain {
        /// The anchors.
        anchors: Arc<TrustAnchors>,
    },
    /// The chain must validate and a name must match (Postfix `verify`/`secure`, MTA-STS,
    /// Exchange `DomainValidation`). With no `references`, the name the client asked for (SNI)
    /// is the reference, read in `dialect`.
    ChainAndName {
        /// The anchors.
        anchors: Arc<TrustAnchors>,
        /// Dialect for the certificate side of the match.
        dialect: Dialect,
        /// Reference patterns; any one must match.
        references: Vec<NamePattern>,
    },
    /// The policy layer's DANE check decides.
    Dane(Arc<dyn DaneCheck>),
    /// Any certificate will do: encryption only (Postfix `encrypt`/`may`, Exchange
    /// `EncryptionOnly`).
    EncryptOnly,
    /// Any certificate will do, as with [`EncryptOnly`](Self::EncryptOnly), but the chain is
    /// validated against `anchors` for the record: the outcome's trust is `Trusted` when it
    /// validates and `Untrusted` when not, never with an error, and names are not checked.
    /// Postfix does the same at `may` and `encrypt` (it checks the chain against its CAfile
    /// for the log line: `Trusted TLS connection established`).
    EncryptOnlyNotingTrust {
        /// The anchors the chain is checked against, for the record only.
        anchors: Arc<TrustAnchors>,
    },
    /// A partner requirement, optionally with chain validation first.
    Partner {
        /// Anchors to validate the chain against, or `None` to skip chain validation.
        anchors: Option<Arc<TrustAnchors>>,
        /// The partner rules.
        partner: PartnerRequirement,
    },
    /// One of the pins must match; no chain, no expiry (Postfix `fingerprint`).
    Pins(Vec<Pin>),
}

/// The DANE check, implemented by the policy layer from the destination's TLSA records.
pub trait DaneCheck: fmt::Debug + Send + Sync {
    /// Matches the presented chain against the TLSA records.
    ///
    /// Return [`DaneMatch::EndEntity`] for a DANE-EE match, [`DaneMatch::TrustAnchor`] for a
    /// DANE-TA match (the chain is then validated up to that anchor and the names checked), or
    /// an error (usually [`VerifyError::Dane`]) when nothing matched.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: Timestamp,
    ) -> Result<DaneMatch, VerifyError>;
}

/// What a DANE check matched.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneMatch {
    /// A DANE-EE (usage 3) record matched the end-entity certificate: no name, no expiry check.
    EndEntity,
    /// A DANE-TA (usage 2) record matched a key with no certificate to hand over (a bare
    /// public key that signed the chain); the check validated the chain to it itself. Only
    /// the names are left to check.
    ChainValidated {
        /// Reference identifiers, in [`Dialect::DaneTa`].
        reference_ids: Vec<NamePattern>,
    },
    /// A DANE-TA (usage 2) record matched `anchor`.
    TrustAnchor {
        /// The matched trust-anchor certificate.
        anchor: CertificateDer<'static>,
        /// Reference identifiers (TLSA base domain, MX host, next-hop domain), in
        /// [`Dialect::DaneTa`].
        reference_ids: Vec<NamePattern>,
    },
}

/// What a verifier does when the requirement is not met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnFailure {
    /// Fail the handshake with the matching alert.
    Abort,
    /// Let the handshake complete and record the failure (opportunistic TLS, report-only).
    Continue,
}

/// Whether an inbound client must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientCertRequest {
    /// Ask for one; a client without one is Anonymous.
    Optional,
    /// Refuse the handshake without one.
    Required,
}

/// Where a verifier leaves its [`Outcome`], readable after the handshake.
#[derive(Clone, Debug, Default)]
pub struct OutcomeSlot(Arc<Mutex<Option<Outcome>>>);

impl OutcomeSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recorded outcome, if a certificate was verified.
    pub fn get(&self) -> Option<Outcome> {
        self.lock().clone()
    }

    /// Takes the recorded outcome out, leaving the slot empty.
    pub fn take(&self) -> Option<Outcome> {
        self.lock().take()
    }

    fn set(&self, outcome: Outcome) {
        *self.lock() = Some(outcome);
    }

    fn lock(&self) -> MutexGuard<'_, Option<Outcome>> {
        // A panic elsewhere while holding the lock leaves a plain Option behind; still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Applies `requirement` to a presented chain for a peer in `role`, at `now`. `peer_name` is
/// the name the connection is for (SNI), used when a requirement has no explicit reference.
pub fn evaluate(
    requirement: &CertificateCheck,
    role: Role,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    peer_name: Option<&HostId>,
    now: Timestamp,
) -> Outcome {
    if matches!(requirement, CertificateCheck::EncryptOnly) && role == Role::Outbound {
        // Nothing to check and nobody asked: the facts are read on demand from the chain
        // the TLS facts keep (`CertFacts::from_der`), not on every attempt.
        return Outcome {
            facts: None,
            trust: TrustLevel::Untrusted,
            error: None,
            continued: false,
        };
    }
    let facts = match CertFacts::from_der(end_entity.as_ref()) {
        Ok(facts) => facts,
        Err(e) => {
            return Outcome {
                facts: None,
                trust: TrustLevel::Untrusted,
                error: Some(VerifyError::Facts(e)),
                continued: false,
            }
        }
    };
    let (trust, error) = match judge(
        requirement,
        role,
        &facts,
        end_entity,
        intermediates,
        peer_name,
        now,
    ) {
        Ok(trust) => (trust, None),
        Err((trust, error)) => (trust, Some(error)),
    };
    Outcome {
        facts: Some(facts),
        trust,
        error,
        continued: false,
    }
}

type Judgement = Result<TrustLevel, (TrustLevel, VerifyError)>;

fn judge(
    requirement: &CertificateCheck,
    role: Role,
    facts: &CertFacts,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    peer_name: Option<&HostId>,
    now: Timestamp,
) -> Judgement {
    let untrusted = |e: VerifyError| (TrustLevel::Untrusted, e);
    match requirement {
        CertificateCheck::EncryptOnly => Ok(TrustLevel::Untrusted),
        // No anchors were loaded (an opportunistic decision needs none): nothing can chain,
        // and nothing is spent finding that out.
        CertificateCheck::EncryptOnlyNotingTrust { anchors } if anchors.is_empty() => {
            Ok(TrustLevel::Untrusted)
        }
        CertificateCheck::EncryptOnlyNotingTrust { anchors } => Ok(
            match validate_chain(end_entity, intermediates, anchors, now, role) {
                Ok(_) => TrustLevel::Trusted,
                Err(_) => TrustLevel::Untrusted,
            },
        ),
        CertificateCheck::Chain { anchors } => {
            validate_chain(end_entity, intermediates, anchors, now, role)
                .map_err(|e| untrusted(e.into()))?;
            Ok(TrustLevel::Trusted)
        }
        CertificateCheck::ChainAndName {
            anchors,
            dialect,
            references,
        } => {
            validate_chain(end_entity, intermediates, anchors, now, role)
                .map_err(|e| untrusted(e.into()))?;
            // Postfix 3 (OpenSSL checks the name with the chain) logs a name mismatch at
            // `verify`/`secure` as `Untrusted` ("num=62:hostname mismatch"); `Trusted` is a
            // chain nobody asked a name of (`may`, `encrypt`, a chain-only requirement).
            check_names(facts, *dialect, references, peer_name).map_err(untrusted)?;
            Ok(TrustLevel::Verified)
        }
        CertificateCheck::Pins(pins) => {
            if pins
                .iter()
                .any(|p| p.matches(end_entity.as_ref(), &facts.fingerprints))
            {
                Ok(TrustLevel::Verified)
            } else {
                Err(untrusted(VerifyError::Partner(
                    super::partner::PartnerError::Pin {
                        expected: pins.iter().map(ToString::to_string).collect(),
                        presented_certificate: hex_colon(&facts.fingerprints.sha256),
                        presented_public_key: hex_colon(&facts.fingerprints.spki_sha256),
                    },
                )))
            }
        }
        CertificateCheck::Partner { anchors, partner } => {
            let chained = match anchors {
                Some(anchors) => {
                    validate_chain(end_entity, intermediates, anchors, now, role)
                        .map_err(|e| untrusted(e.into()))?;
                    true
                }
                None => false,
            };
            let level = if chained {
                TrustLevel::Trusted
            } else {
                TrustLevel::Untrusted
            };
            partner
                .check(end_entity.as_ref(), facts, now)
                .map_err(|e| (level, VerifyError::Partner(e)))?;
            Ok(TrustLevel::Verified)
        }
        CertificateCheck::Dane(check) => match check.check(end_entity, intermediates, now) {
            Ok(DaneMatch::EndEntity) => Ok(TrustLevel::Verified),
            Ok(DaneMatch::TrustAnchor {
                anchor,
                reference_ids,
            }) => {
                let anchors = TrustAnchors::from_der([&anchor]).map_err(|e| untrusted(e.into()))?;
                validate_chain(end_entity, intermediates, &anchors, now, role)
                    .map_err(|e| untrusted(e.into()))?;
                facts
                    .match_names(Dialect::DaneTa, &reference_ids)
                    .map_err(|e| untrusted(e.into()))?;
                Ok(TrustLevel::Verified)
            }
            Ok(DaneMatch::ChainValidated { reference_ids }) => {
                facts
                    .match_names(Dialect::DaneTa, &reference_ids)
                    .map_err(|e| untrusted(e.into()))?;
                Ok(TrustLevel::Verified)
            }
            Err(e) => Err(untrusted(e)),
        },
    }
}

fn check_names(
    facts: &CertFacts,
    dialect: Dialect,
    references: &[NamePattern],
    peer_name: Option<&HostId>,
) -> Result<(), VerifyError> {
    if !references.is_empty() {
        facts.match_names(dialect, references)?;
        return Ok(());
    }
    match peer_name {
        Some(HostId::Dns(name)) => {
            facts.match_names(dialect, &[NamePattern::exact(name.clone(), dialect)])?;
            Ok(())
        }
        Some(HostId::Ip(ip)) if facts.matches_ip(*ip) => Ok(()),
        Some(HostId::Ip(ip)) => Err(crate::names::NameMismatch {
            dialect,
            expected: vec![ip.to_string()],
            presented: facts.ip_addresses.iter().map(ToString::to_string).collect(),
            ignored: facts.dns_names.clone(),
        }
        .into()),
        None => Err(crate::names::NameMismatch {
            dialect,
            expected: Vec::new(),
            presented: facts.dns_names.clone(),
            ignored: Vec::new(),
        }
        .into()),
    }
}

/// The outbound verifier: applies a [`CertificateCheck`] to the server's certificate, and
/// optionally evaluates a second, report-only requirement (MTA-STS `testing`) whose verdict
/// never affects the handshake.
#[derive(Debug)]
pub struct ServerVerifier {
    requirement: CertificateCheck,
    on_failure: OnFailure,
    slot: OutcomeSlot,
    report_only: Option<(CertificateCheck, OutcomeSlot)>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    /// A verifier applying `requirement`, recording into a fresh slot.
    pub fn new(requirement: CertificateCheck, on_failure: OnFailure) -> Self {
        Self {
            requirement,
            on_failure,
            slot: OutcomeSlot::new(),
            report_only: None,
            algorithms: ring_algorithms(),
        }
    }

    /// Also evaluates `requirement` on every certificate, recording its verdict in
    /// [`report_slot`](Self::report_slot) without ever failing the handshake on it.
    #[must_use]
    pub fn with_report_only(mut self, requirement: CertificateCheck) -> Self {
        self.report_only = Some((requirement, OutcomeSlot::new()));
        self
    }

    /// The slot the outcome lands in (clone it before handing the verifier to rustls).
    pub fn slot(&self) -> OutcomeSlot {
        self.slot.clone()
    }

    /// The slot of the report-only requirement's verdict, when there is one.
    pub fn report_slot(&self) -> Option<OutcomeSlot> {
        self.report_only.as_ref().map(|(_, slot)| slot.clone())
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let peer = match server_name {
            ServerName::DnsName(name) => DnsName::parse(name.as_ref()).ok().map(HostId::Dns),
            ServerName::IpAddress(ip) => Some(HostId::Ip(core::net::IpAddr::from(*ip))),
            _ => None,
        };
        let now = timestamp(now);
        if let Some((requirement, slot)) = &self.report_only {
            let outcome = evaluate(
                requirement,
                Role::Outbound,
                end_entity,
                intermediates,
                peer.as_ref(),
                now,
            );
            // Report-only: whatever it says, the handshake goes on.
            let _ = record(slot, outcome, OnFailure::Continue);
        }
        let outcome = evaluate(
            &self.requirement,
            Role::Outbound,
            end_entity,
            intermediates,
            peer.as_ref(),
            now,
        );
        record(&self.slot, outcome, self.on_failure).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The inbound verifier: asks partners for a certificate and applies a [`CertificateCheck`].
///
/// When the client sends no certificate (allowed with [`ClientCertRequest::Optional`]), the
/// verifier is not called and the slot stays empty: the peer is Anonymous.
#[derive(Debug)]
pub struct ClientVerifier {
    requirement: CertificateCheck,
    certificate: ClientCertRequest,
    on_failure: OnFailure,
    slot: OutcomeSlot,
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl ClientVerifier {
    /// A verifier applying `requirement` to client certificates. The subjects of `hints`
    /// (usually the partner anchors) are sent as acceptable CA names.
    pub fn new(
        requirement: CertificateCheck,
        certificate: ClientCertRequest,
        on_failure: OnFailure,
        hints: Option<&TrustAnchors>,
    ) -> Self {
        let hints = hints
            .map(|anchors| {
                anchors
                    .anchors()
                    .iter()
                    .map(|ta| DistinguishedName::in_sequence(ta.subject.as_ref()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            requirement,
            certificate,
            on_failure,
            slot: OutcomeSlot::new(),
            algorithms: ring_algorithms(),
            hints,
        }
    }

    /// The slot the outcome lands in.
    pub fn slot(&self) -> OutcomeSlot {
        self.slot.clone()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.certificate == ClientCertRequest::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let outcome = evaluate(
            &self.requirement,
            Role::Inbound,
            end_entity,
            intermediates,
            None,
            timestamp(now),
        );
        record(&self.slot, outcome, self.on_failure).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The ring provider, as every mailtls TLS config uses it.
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// ring's signature algorithms, read once per process (a verifier is built per attempt).
fn ring_algorithms() -> WebPkiSupportedAlgorithms {
    static ALGORITHMS: std::sync::OnceLock<WebPkiSupportedAlgorithms> = std::sync::OnceLock::new();
    *ALGORITHMS
        .get_or_init(|| rustls::crypto::ring::default_provider().signature_verification_algorithms)
}

fn timestamp(now: UnixTime) -> Timestamp {
    Timestamp::from_since_epoch(Duration::from_secs(now.as_secs()))
}

fn record(
    slot: &OutcomeSlot,
    mut outcome: Outcome,
    on_failure: OnFailure,
) -> Result<(), rustls::Error> {
    let result = match (&outcome.error, on_failure) {
        (None, _) => Ok(()),
        (Some(_), OnFailure::Continue) => {
            outcome.continued = true;
            Ok(())
        }
        (Some(e), OnFailure::Abort) => Err(e.to_rustls()),
    };
    slot.set(outcome);
    result
}
