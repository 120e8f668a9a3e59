//! The facade for the common case: send messages to a destination under a configuration,
//! in a handful of lines, through the same path as everything else (plan, precedence
//! [`Decision`], [`Delivery`], attempts, outcomes), with the Decision there for those who
//! want to look at it or feed it discovery answers.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::cert::TrustAnchors;
use crate::client::{ClientError, ClientSettings, Delivery};
use crate::policy::{Decision, Destination, OutboundPolicy};
use crate::state::{Store, StoreNotice, StoredDowngradeMemory};
use crate::tls::TlsIdentity;

use super::anchors::{
    needs_public_roots, verifiers_for, AnchorError, PublicRoots, PublicRootsError,
};
use super::client::{Connector, DeliveryReport, Message};

/// Sends mail under one outbound configuration: a Postfix table, connectors, a default
/// level (an [`OutboundPolicy`]), the public roots the configuration's `verify`/`secure`/
/// `domain_validation`/MTA-STS checks chain to (the system trust store unless
/// [`with_trust_store`](Self::with_trust_store) or [`with_public_roots`](Self::with_public_roots)
/// say otherwise), and how to connect.
///
/// Forced TLS with domain validation to a partner through a connector:
///
/// ```
/// # use std::sync::Arc;
/// # use mailtls::io::{blocking, Answer};
/// # use mailtls::server::{ServerConfig, ServerTls};
/// # use mailtls::policy::ladder::Rung;
/// # use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
/// # use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
/// # // A partner MX on loopback whose certificate a private CA issued for mx.partner.example.
/// # let mut ca = CertificateParams::new(Vec::<String>::new())?;
/// # ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
/// # let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
/// # let key = KeyPair::generate()?;
/// # let leaf = CertificateParams::new(vec!["mx.partner.example".to_owned()])?.signed_by(&key, &ca)?;
/// # let identity = mailtls::tls::TlsIdentity::from_der(
/// #     vec![leaf.der().clone()],
/// #     PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
/// # )?;
/// # let mut config = ServerConfig::new("mx.partner.example");
/// # config.tls = Some(ServerTls::new(identity, Rung::Modern));
/// # let config = Arc::new(config);
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let addr = listener.local_addr()?;
/// # let server = std::thread::spawn(move || {
/// #     let (stream, peer) = listener.accept().unwrap();
/// #     let _ = blocking::serve_connection(stream, peer, config, &mut |_: &_| Answer::Accept);
/// # });
/// # let public_roots = mailtls::cert::TrustAnchors::from_der([ca.der()])?;
/// use mailtls::io::{Connector, Mailer, Message};
/// use mailtls::policy::{connector::Connectors, Destination, OutboundPolicy};
///
/// let connectors = Connectors::from_toml(r#"
///     [[outbound]]
///     name = "Partner"
///     recipient_domains = ["partner.example"]
///     tls_settings = "domain_validation"
///     tls_domain = "mx.partner.example"
/// "#)?;
/// let mailer = Mailer::new("relay.sender.example", OutboundPolicy::new().with_connectors(connectors))?
///     .with_public_roots(public_roots)
///     .with_connector(Connector::new().route("mx.partner.example", addr));
/// let destination = Destination::domain("partner.example", ["mx.partner.example"])?;
/// let message = Message::new("orders@sender.example", ["ap@partner.example"], b"Subject: PO 42\r\n\r\nHi.\r\n")?;
///
/// let report = mailer.send(&destination, &[message])?;
/// assert!(report.all_accepted());
/// println!("{}", mailer.decide(&destination)); // what was required, and why
/// # server.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mailer {
    settings: ClientSettings,
    policy: Arc<OutboundPolicy>,
    public_roots: Roots,
    connector: Connector,
    identity: Option<TlsIdentity>,
    state: Option<State>,
}

/// A mailer's state store: the store, and the downgrade memory in front of it that every
/// delivery's outcomes are written through.
#[derive(Clone)]
struct State {
    store: Arc<dyn Store>,
    memory: Arc<Mutex<StoredDowngradeMemory<Arc<dyn Store>>>>,
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("State")
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

/// The public roots of a mailer: given, or a store loaded at the first delivery and kept.
#[derive(Clone, Debug)]
enum Roots {
    Given(TrustAnchors),
    Store {
        store: PublicRoots,
        loaded: Arc<OnceLock<Result<TrustAnchors, PublicRootsError>>>,
    },
}

impl Roots {
    fn store(store: PublicRoots) -> Self {
        Self::Store {
            store,
            loaded: Arc::new(OnceLock::new()),
        }
    }

    fn anchors(&self) -> Result<TrustAnchors, PublicRootsError> {
        match self {
            Self::Given(anchors) => Ok(anchors.clone()),
            Self::Store { store, loaded } => loaded.get_or_init(|| store.load()).clone(),
        }
    }
}

impl Mailer {
    /// A mailer that says `helo_name` in EHLO and plans under `policy`. Its public roots are
    /// the system trust store ([`PublicRoots::System`]), read at the first delivery that needs
    /// them and kept; a store with no usable certificate fails such a delivery with
    /// [`AnchorError::PublicRoots`] rather than trust nothing silently.
    pub fn new(helo_name: &str, policy: OutboundPolicy) -> Result<Self, ClientError> {
        Ok(Self {
            settings: ClientSettings::new(helo_name)?,
            policy: Arc::new(policy),
            public_roots: Roots::store(PublicRoots::System),
            connector: Connector::new(),
            identity: None,
            state: None,
        })
    }

    /// The anchors the configuration's "public roots" stand for, instead of a trust store
    /// (a private PKI, a test CA).
    #[must_use]
    pub fn with_public_roots(mut self, anchors: TrustAnchors) -> Self {
        self.public_roots = Roots::Given(anchors);
        self
    }

    /// The trust store the "public roots" are loaded from (at the first delivery).
    #[must_use]
    pub fn with_trust_store(mut self, store: PublicRoots) -> Self {
        self.public_roots = Roots::store(store);
        self
    }

    /// How to connect (timeouts, fixed routes).
    #[must_use]
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// The client certificate to present when a server asks.
    #[must_use]
    pub fn with_identity(mut self, identity: TlsIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Records what every delivery does into `store` (a [`Store`]: a SQLite file or a Redis
    /// server, opened with [`io::store::open`](super::store::open), or
    /// [`MemoryState`](crate::state::MemoryState)): each session's TLS-RPT outcome
    /// ([`Store::record_outcome`]) and the rung a completed delivery ran on (the downgrade
    /// memory, [`StoredDowngradeMemory`]). `deliver_to_domain` in
    /// [`blocking`](super::blocking::deliver_to_domain) and
    /// [`tokio`](super::tokio::deliver_to_domain) record too; give their
    /// [`Discoverer`](super::discover::Discoverer) an [`StsState`](crate::state::StsState)
    /// over [`state`](Self::state) so the MTA-STS cache lives in the same store.
    ///
    /// A failing store never fails a delivery: its counts are lost, and the change in its
    /// health is kept once for [`take_store_notice`](Self::take_store_notice). The store's
    /// calls block (SQLite, or Redis over `std::net`): under tokio they run on the delivering
    /// task, once per delivery, bounded by the store's own timeout.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mailtls::io::Mailer;
    /// use mailtls::policy::OutboundPolicy;
    /// use mailtls::state::{MemoryState, Store};
    ///
    /// let store: Arc<dyn Store> = Arc::new(MemoryState::new());
    /// let mailer = Mailer::new("relay.example.org", OutboundPolicy::new())?.with_state(Arc::clone(&store));
    /// assert_eq!(mailer.state().map(|s| s.location()), Some("memory"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_state(mut self, store: Arc<dyn Store>) -> Self {
        let memory = StoredDowngradeMemory::new(Arc::clone(&store));
        self.state = Some(State {
            store,
            memory: Arc::new(Mutex::new(memory)),
        });
        self
    }

    /// The store deliveries are recorded into, if any ([`with_state`](Self::with_state)).
    pub fn state(&self) -> Option<&Arc<dyn Store>> {
        self.state.as_ref().map(|s| &s.store)
    }

    /// The latest change in the state store's health (it started failing, or recovered),
    /// once: log it. `None` with no store or no change.
    pub fn take_store_notice(&self) -> Option<StoreNotice> {
        let state = self.state.as_ref()?;
        let memory = state.memory.lock().unwrap_or_else(PoisonError::into_inner);
        memory.take_notice()
    }

    /// Writes what `delivery` did into the state store, if one is configured
    /// ([`StoredDowngradeMemory::record_delivery`], at the current time).
    pub(crate) fn record(&self, delivery: &Delivery) {
        if let Some(state) = &self.state {
            let mut memory = state.memory.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(notice) = memory.record_delivery(delivery, super::now()) {
                super::events::store_notice(&notice);
            }
        }
    }

    /// The outbound configuration this mailer plans under.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// How this mailer connects (timeouts, fixed routes).
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The decision for `destination` from the configuration alone (no discovery answers):
    /// what [`send`](Self::send) acts on. Print it to see why.
    pub fn decide(&self, destination: &Destination) -> Decision {
        Decision::from_plan(self.policy.plan(destination))
    }

    /// Delivers `messages` to `destination` over the blocking adapter (recording into the
    /// state store, if any).
    #[cfg(feature = "blocking")]
    pub fn send(
        &self,
        destination: &Destination,
        messages: &[Message],
    ) -> Result<DeliveryReport, AnchorError> {
        self.send_decision(self.decide(destination), messages)
    }

    /// Delivers `messages` as `decision` says (built with discovery answers through
    /// [`precedence::apply`](crate::policy::precedence::apply)), over the blocking adapter.
    #[cfg(feature = "blocking")]
    pub fn send_decision(
        &self,
        decision: Decision,
        messages: &[Message],
    ) -> Result<DeliveryReport, AnchorError> {
        let mut delivery = self.delivery(decision)?;
        let report = super::blocking::deliver(&mut delivery, messages, &self.connector);
        self.record(&delivery);
        Ok(report)
    }

    /// Delivers `messages` as `decision` says, over the tokio adapter.
    #[cfg(feature = "tokio")]
    pub async fn send_decision_async(
        &self,
        decision: Decision,
        messages: &[Message],
    ) -> Result<DeliveryReport, AnchorError> {
        let mut delivery = self.delivery(decision)?;
        let report = super::tokio::deliver(&mut delivery, messages, &self.connector).await;
        self.record(&delivery);
        Ok(report)
    }

    /// The delivery for `decision`: the public roots and its `tafile=` anchors loaded, this
    /// mailer's settings.
    pub fn delivery(&self, decision: Decision) -> Result<Delivery, AnchorError> {
        let public = if needs_public_roots(&decision) {
            self.public_roots.anchors()?
        } else {
            TrustAnchors::new()
        };
        let verifiers = verifiers_for(&decision, public)?;
        Ok(
            Delivery::new(self.settings.clone(), decision, Arc::new(verifiers))
                .with_identity(self.identity.clone()),
        )
    }
}
