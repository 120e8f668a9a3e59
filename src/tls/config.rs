//! rustls configurations per ladder rung.
//!
//! Every configuration starts from the *ring* provider, passed explicitly (never the
//! process-level default), and keeps only forward-secret AEAD suites over TLS 1.3 and 1.2. A
//! rung can only take things away from that base; no rung reaches below TLS 1.2.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::ResolvesClientCert;
use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::ResolvesServerCert;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::time_provider::TimeProvider;
use rustls::{
    CipherSuite, ClientConfig, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion,
};

use crate::policy::ladder::Rung;
use crate::policy::{KeyExchangeGroup, ProtocolPolicy, TlsVersion};
use crate::time::Timestamp;

use super::TlsError;

/// A certificate chain with its private key, loaded once and shared by every connection that
/// presents it (a client certificate for outbound sessions, the server certificate inbound).
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    certified: Arc<CertifiedKey>,
}

impl TlsIdentity {
    /// Loads a DER chain (end entity first) and its private key with the ring provider, and
    /// checks that the key matches the end-entity certificate.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::Identity {
                detail: "the certificate chain is empty".into(),
            });
        }
        let certified =
            CertifiedKey::from_der(chain, key, &ring::default_provider()).map_err(|e| {
                TlsError::Identity {
                    detail: e.to_string(),
                }
            })?;
        Ok(Self {
            certified: Arc::new(certified),
        })
    }

    /// The certificate chain, end entity first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// Which loaded chain and key this is (clones share it), to compare identities by.
    pub(crate) fn identity_ptr(&self) -> usize {
        Arc::as_ptr(&self.certified) as usize
    }

    fn client_resolver(&self) -> Arc<dyn ResolvesClientCert> {
        Arc::new(SingleCertAndKey::from(Arc::clone(&self.certified)))
    }

    fn server_resolver(&self) -> Arc<dyn ResolvesServerCert> {
        Arc::new(SingleCertAndKey::from(Arc::clone(&self.certified)))
    }
}

/// Everything that shapes the client side of one TLS connection attempt.
///
/// Build it with [`ClientTlsSetup::new`] and the `with_*` methods; fields may be added.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ClientTlsSetup {
    /// The ladder rung: protocol versions, suites and groups. Must be a TLS rung.
    pub rung: Rung,
    /// The verifier that applies the policy's certificate requirement (and records the
    /// outcome). The TLS engine never decides trust by itself.
    pub verifier: Arc<dyn ServerCertVerifier>,
    /// Whether to send the server name (SNI) given to [`TlsEngine::client`].
    ///
    /// [`TlsEngine::client`]: super::TlsEngine::client
    pub send_sni: bool,
    /// The client certificate to present when the server asks for one.
    pub identity: Option<TlsIdentity>,
    /// The versions and suites the policy allows; the rung narrows them further. `None`
    /// leaves the rung's own set.
    pub protocols: Option<ProtocolPolicy>,
    /// The time certificate checks run at (time is a parameter in mailtls).
    pub now: Timestamp,
}

/// Everything that shapes the server side of one TLS connection.
///
/// Build it with [`ServerTlsSetup::new`] and the `with_*` methods; fields may be added.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ServerTlsSetup {
    /// The ladder rung: protocol versions, suites and groups. Must be a TLS rung.
    pub rung: Rung,
    /// The verifier for client certificates; `None` asks for none.
    pub client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// The server's certificate chain and key.
    pub identity: TlsIdentity,
    /// The time certificate checks run at, when no [`clock`](Self::clock) is given.
    pub now: Timestamp,
    /// A clock the sessions sharing the configuration set from their own `now`
    /// ([`SharedClock::set`]); `None` freezes the configuration at [`now`](Self::now).
    pub clock: Option<SharedClock>,
}

impl ClientTlsSetup {
    /// A setup for `rung` that sends SNI and presents no client certificate.
    pub fn new(rung: Rung, verifier: Arc<dyn ServerCertVerifier>, now: Timestamp) -> Self {
        Self {
            rung,
            verifier,
            send_sni: true,
            identity: None,
            protocols: None,
            now,
        }
    }

    /// The versions and suites the policy allows (intersected with the rung's).
    #[must_use]
    pub fn with_protocols(mut self, protocols: Option<ProtocolPolicy>) -> Self {
        self.protocols = protocols;
        self
    }

    /// Whether to send SNI.
    #[must_use]
    pub fn with_sni(mut self, send_sni: bool) -> Self {
        self.send_sni = send_sni;
        self
    }

    /// The client certificate to present, if any.
    #[must_use]
    pub fn with_identity(mut self, identity: Option<TlsIdentity>) -> Self {
        self.identity = identity;
        self
    }
}

impl ServerTlsSetup {
    /// A setup for `rung` that presents `identity` and asks for no client certificate.
    pub fn new(rung: Rung, identity: TlsIdentity, now: Timestamp) -> Self {
        Self {
            rung,
            client_verifier: None,
            identity,
            now,
            clock: None,
        }
    }

    /// Reads the time from `clock` (which the sessions set) instead of freezing it at `now`:
    /// for a configuration built once and shared.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The verifier for client certificates; `None` asks for none.
    #[must_use]
    pub fn with_client_verifier(mut self, verifier: Option<Arc<dyn ClientCertVerifier>>) -> Self {
        self.client_verifier = verifier;
        self
    }
}

/// Builds the rustls client configuration for one attempt.
///
/// The rung's provider is built once per process and shared; what remains per attempt is
/// the verifier, the client certificate and SNI.
///
/// Fails only for [`Rung::Plaintext`], which has no TLS configuration.
pub fn client_config(setup: &ClientTlsSetup) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = client_base(setup, fixed_time(setup.now), Arc::clone(&setup.verifier))?;
    // A configuration serves one attempt (its verifier records that attempt's verdict), so a
    // session cache could never be used again: do not keep one. Resumption goes through a
    // `ResumptionCache`, which keeps one configuration per destination and policy.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The client configuration of `setup` with `time` and `verifier`.
fn client_base(
    setup: &ClientTlsSetup,
    time: Arc<dyn TimeProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<ClientConfig, TlsError> {
    let (provider, versions) = shared_parameters(setup.rung, setup.protocols)?;
    let builder = ClientConfig::builder_with_details(provider, time)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config {
            rung: setup.rung,
            detail: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &setup.identity {
        Some(identity) => builder.with_client_cert_resolver(identity.client_resolver()),
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = setup.send_sni;
    Ok(config)
}

/// The client configuration a [`ResumptionCache`](super::ResumptionCache) keeps for one
/// destination and policy: built once, reading `clock`, resuming from its own bounded store.
///
/// rustls resumes a session only under the very verifier that accepted it, so this
/// configuration's verifier is shared by the attempts and records nothing:
/// [`DeferredVerifier`] checks the handshake signatures and leaves the certificate
/// requirement to the session, which applies the attempt's own verifier to the chain (fresh
/// or resumed) as soon as the handshake ends, before a byte of SMTP is written.
pub(crate) fn resumable_client_config(
    setup: &ClientTlsSetup,
    clock: &SharedClock,
    sessions: usize,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = client_base(
        setup,
        Arc::new(clock.clone()),
        Arc::new(DeferredVerifier::new()),
    )?;
    config.resumption = rustls::client::Resumption::in_memory_sessions(sessions);
    Ok(Arc::new(config))
}

/// Accepts any certificate chain and verifies the handshake signatures: the certificate
/// requirement is applied by the session after the handshake (see
/// [`resumable_client_config`]). Never handed to a configuration whose session does not.
#[derive(Debug)]
struct DeferredVerifier {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl DeferredVerifier {
    fn new() -> Self {
        Self {
            algorithms: ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for DeferredVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Builds the rustls server configuration, to be built once and shared by every connection
/// of a listener (wrap the sessions' time in a [`SharedClock`] with
/// [`ServerTlsSetup::with_clock`]).
///
/// The configuration keeps a bounded session cache ([`SERVER_SESSION_CACHE`] entries, the
/// oldest dropped first): a client that comes back resumes with the one TLS 1.3 ticket it
/// was given (or its TLS 1.2 session ID) as long as the same configuration serves it. A
/// configuration built per connection wastes that ticket; share it.
///
/// Fails only for [`Rung::Plaintext`], which has no TLS configuration.
pub fn server_config(setup: &ServerTlsSetup) -> Result<Arc<ServerConfig>, TlsError> {
    let (provider, versions) = shared_parameters(setup.rung, None)?;
    let time = match &setup.clock {
        Some(clock) => Arc::new(clock.clone()) as Arc<dyn TimeProvider>,
        None => fixed_time(setup.now),
    };
    let builder = ServerConfig::builder_with_details(provider, time)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config {
            rung: setup.rung,
            detail: e.to_string(),
        })?;
    let builder = match &setup.client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(Arc::clone(verifier)),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(setup.identity.server_resolver());
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SERVER_SESSION_CACHE);
    // One ticket per handshake: an MTA reconnects one connection at a time.
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// How many sessions a server configuration remembers for resumption.
pub const SERVER_SESSION_CACHE: usize = 256;

/// The current time as the caller last gave it, shared by every connection of one
/// configuration built once: rustls asks it for "now" (certificate checks, ticket ages), and
/// mailtls never reads the system clock. Each session sets it from the `now` it is handed.
#[derive(Clone, Debug)]
pub struct SharedClock(Arc<AtomicU64>);

impl SharedClock {
    /// A clock reading `now` until it is set again.
    pub fn new(now: Timestamp) -> Self {
        Self(Arc::new(AtomicU64::new(now.unix_secs())))
    }

    /// Moves the clock to `now` (the last caller wins: the sessions of one listener all live
    /// in the same present).
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.unix_secs(), Ordering::Relaxed);
    }

    /// The time last set.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_secs(self.0.load(Ordering::Relaxed))
    }
}

impl TimeProvider for SharedClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.now().to_unix_time())
    }
}

/// The cipher suites a rung offers, in preference order.
pub fn rung_suites(rung: Rung) -> Vec<crate::policy::CipherSuite> {
    rung_parameters(rung)
        .map(|(provider, _)| {
            provider
                .cipher_suites
                .iter()
                .filter_map(|s| super::facts::cipher_suite(s.suite()))
                .collect()
        })
        .unwrap_or_default()
}

/// The key-exchange groups a rung offers, in preference order.
pub fn rung_groups(rung: Rung) -> Vec<KeyExchangeGroup> {
    rung_parameters(rung)
        .map(|(provider, _)| {
            provider
                .kx_groups
                .iter()
                .map(|g| super::facts::key_exchange_group(g.name()))
                .collect()
        })
        .unwrap_or_default()
}

static TLS13_AND_12: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The conservative rung: ECDHE with AES-GCM, nothing newer.
const CONSERVATIVE_SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
];

fn rung_parameters(
    rung: Rung,
) -> Result<(CryptoProvider, &'static [&'static SupportedProtocolVersion]), TlsError> {
    let mut provider = ring::default_provider();
    // The base: forward-secret AEAD suites only. ring offers nothing else today; the filter
    // keeps that true if a future provider adds more.
    provider.cipher_suites.retain(is_forward_secret_aead);
    match rung {
        Rung::Modern => Ok((provider, TLS13_AND_12)),
        Rung::Tls12Only => {
            provider
                .cipher_suites
                .retain(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
            Ok((provider, TLS12))
        }
        Rung::Tls12Conservative => {
            provider
                .cipher_suites
                .retain(|s| CONSERVATIVE_SUITES.contains(&s.suite()));
            provider.kx_groups.retain(|g| is_nist_curve(*g));
            Ok((provider, TLS12))
        }
        _ => Err(TlsError::NoTlsRung { rung }),
    }
}

type Parameters = (CryptoProvider, &'static [&'static SupportedProtocolVersion]);
type SharedParameters = (
    Arc<CryptoProvider>,
    &'static [&'static SupportedProtocolVersion],
);

/// The rung's provider, built once per process when the policy does not narrow it.
fn shared_parameters(
    rung: Rung,
    protocols: Option<ProtocolPolicy>,
) -> Result<SharedParameters, TlsError> {
    static MODERN: OnceLock<SharedParameters> = OnceLock::new();
    static TLS12_ONLY: OnceLock<SharedParameters> = OnceLock::new();
    static CONSERVATIVE: OnceLock<SharedParameters> = OnceLock::new();
    let cell = match (rung, protocols) {
        (Rung::Modern, None) => &MODERN,
        (Rung::Tls12Only, None) => &TLS12_ONLY,
        (Rung::Tls12Conservative, None) => &CONSERVATIVE,
        _ => {
            let (provider, versions) = narrowed(rung, protocols)?;
            return Ok((Arc::new(provider), versions));
        }
    };
    if let Some((provider, versions)) = cell.get() {
        return Ok((Arc::clone(provider), versions));
    }
    let (provider, versions) = rung_parameters(rung)?;
    let (provider, versions) = cell.get_or_init(|| (Arc::new(provider), versions));
    Ok((Arc::clone(provider), versions))
}

/// The rung's parameters, narrowed to what the policy allows.
fn narrowed(rung: Rung, protocols: Option<ProtocolPolicy>) -> Result<Parameters, TlsError> {
    let (mut provider, versions) = rung_parameters(rung)?;
    let Some(policy) = protocols else {
        return Ok((provider, versions));
    };
    let tls13 = policy.versions.contains(TlsVersion::Tls13) && versions.len() > 1;
    let tls12 = policy.versions.contains(TlsVersion::Tls12);
    let versions: &'static [&'static SupportedProtocolVersion] = match (tls13, tls12) {
        (true, true) => TLS13_AND_12,
        (true, false) => TLS13,
        (false, true) => TLS12,
        (false, false) => {
            return Err(TlsError::Config {
                rung,
                detail: format!(
                    "the policy allows no version on this rung ({})",
                    policy.versions
                ),
            })
        }
    };
    provider.cipher_suites.retain(|s| {
        let allowed =
            super::facts::cipher_suite(s.suite()).is_some_and(|p| policy.suites.contains(p));
        let version_ok = match s {
            SupportedCipherSuite::Tls13(_) => tls13,
            SupportedCipherSuite::Tls12(_) => tls12,
        };
        allowed && version_ok
    });
    if provider.cipher_suites.is_empty() {
        return Err(TlsError::Config {
            rung,
            detail: format!(
                "the policy allows no suite on this rung ({})",
                policy.suites
            ),
        });
    }
    Ok((provider, versions))
}

fn is_forward_secret_aead(suite: &SupportedCipherSuite) -> bool {
    // TLS 1.3 suites are all AEAD with (EC)DHE; the TLS 1.2 suites mailtls names
    // (`policy::CipherSuite`) are exactly the ECDHE ones with GCM or ChaCha20-Poly1305.
    match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => super::facts::cipher_suite(suite.suite()).is_some(),
    }
}

fn is_nist_curve(group: &dyn SupportedKxGroup) -> bool {
    matches!(
        group.name(),
        rustls::NamedGroup::secp256r1 | rustls::NamedGroup::secp384r1
    )
}

/// A clock frozen at the moment the configuration was built: rustls asks it for "now" when it
/// hands a certificate to the verifier, and mailtls never reads the system clock.
#[derive(Debug)]
struct FixedTime(UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn fixed_time(now: Timestamp) -> Arc<dyn TimeProvider> {
    Arc::new(FixedTime(now.to_unix_time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_offer_what_the_ladder_promises() {
        let cases: [(Rung, &[&str], &[&str]); 3] = [
            (
                Rung::Modern,
                &[
                    "TLS_AES_256_GCM_SHA384",
                    "TLS_AES_128_GCM_SHA256",
                    "TLS_CHACHA20_POLY1305_SHA256",
                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                ],
                &["X25519", "secp256r1", "secp384r1"],
            ),
            (
                Rung::Tls12Only,
                &[
                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                ],
                &["X25519", "secp256r1", "secp384r1"],
            ),
            (
                Rung::Tls12Conservative,
                &[
                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                ],
                &["secp256r1", "secp384r1"],
            ),
        ];
        for (rung, suites, groups) in cases {
            let offered: Vec<String> = rung_suites(rung).iter().map(|s| s.to_string()).collect();
            assert_eq!(offered, suites, "{rung}");
            let offered: Vec<String> = rung_groups(rung).iter().map(|g| g.to_string()).collect();
            assert_eq!(offered, groups, "{rung}");
        }
    }

    #[test]
    fn plaintext_has_no_tls_configuration() {
        assert_eq!(
            rung_parameters(Rung::Plaintext).err(),
            Some(TlsError::NoTlsRung {
                rung: Rung::Plaintext
            })
        );
        assert!(rung_suites(Rung::Plaintext).is_empty());
    }

    #[test]
    fn versions_never_go_below_tls12() {
        for rung in [Rung::Modern, Rung::Tls12Only, Rung::Tls12Conservative] {
            let (_, versions) = rung_parameters(rung).unwrap();
            assert!(versions.contains(&&rustls::version::TLS12));
            assert_eq!(
                versions.contains(&&rustls::version::TLS13),
                rung == Rung::Modern
            );
        }
    }

    #[test]
    fn the_policy_narrows_a_rung_and_never_widens_it() {
        use crate::policy::{CipherSuite as Suite, SuiteSet, VersionSet};
        let only_13 = ProtocolPolicy::new(VersionSet::only(TlsVersion::Tls13), SuiteSet::ALL);
        let (p, v) = narrowed(Rung::Modern, Some(only_13)).unwrap();
        assert_eq!(v, TLS13);
        assert!(p
            .cipher_suites
            .iter()
            .all(|s| matches!(s, SupportedCipherSuite::Tls13(_))));
        // TLS 1.3 only on a TLS 1.2 rung leaves nothing.
        assert!(matches!(
            narrowed(Rung::Tls12Only, Some(only_13)),
            Err(TlsError::Config { .. })
        ));
        let no_chacha = ProtocolPolicy::new(
            VersionSet::ALL,
            SuiteSet::ALL.retain(|s: Suite| !s.is_chacha20()),
        );
        let (p, v) = narrowed(Rung::Modern, Some(no_chacha)).unwrap();
        assert_eq!(v, TLS13_AND_12);
        assert_eq!(p.cipher_suites.len(), 6);
        assert!(p
            .cipher_suites
            .iter()
            .filter_map(|s| super::super::facts::cipher_suite(s.suite()))
            .all(|s| !s.is_chacha20()));
        // The conservative rung stays conservative whatever the policy allows.
        let (p, _) = narrowed(Rung::Tls12Conservative, Some(ProtocolPolicy::MODERN)).unwrap();
        assert_eq!(p.cipher_suites.len(), 4);
    }

    #[test]
    fn identity_refuses_an_empty_chain_and_a_bad_key() {
        let err = TlsIdentity::from_der(Vec::new(), PrivateKeyDer::Pkcs8(vec![1, 2, 3].into()))
            .unwrap_err();
        assert!(matches!(err, TlsError::Identity { .. }));
        let err = TlsIdentity::from_der(
            vec![CertificateDer::from(vec![0x30, 0x00])],
            PrivateKeyDer::Pkcs8(vec![1, 2, 3].into()),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::Identity { .. }));
    }
}
