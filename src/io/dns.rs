//! DNS lookups for discovery (feature `dns`): MX, A/AAAA, TLSA and TXT, each with the DNSSEC
//! status of its answer, behind two small traits ([`Resolve`], [`AsyncResolve`]) that the
//! core does not know about, and their hickory-resolver implementation.
//!
//! Answers and failures are the core's words ([`Lookup`], [`LookupError`]): records with a
//! `Secure` or `Insecure` status; `NotFound` (NODATA or NXDOMAIN, with the status of the
//! denial); `Temporary` (SERVFAIL, timeout, network) and `Bogus` (validation failed) kept
//! apart, so that neither is ever read as "no record".
//!
//! Two ways to know the DNSSEC status, as [`DnssecSource`] says:
//!
//! - **Validate** here (hickory's validator over ring), against the root key by default or a
//!   trust anchor file (a zone-file `DNSKEY` line) for a lab.
//! - **Trust the AD bit** of a validating resolver on loopback, as Postfix does with
//!   `smtp_dns_support_level = dnssec`: queries carry the DO bit, an answer with AD is
//!   secure, one without is insecure, and the resolver's SERVFAIL for a bogus answer is a
//!   temporary failure (both defer). Refused for a resolver off loopback: an AD bit that
//!   crossed a network proves nothing.
//!
//! [`HickoryResolver`] is the tokio form; [`BlockingResolver`] runs one on its own
//! current-thread runtime. Every lookup is bounded by [`DnsSettings::timeout`].

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::FirstAnswer;
use hickory_resolver::net::{DnsError, DnsHandle, NetError, NoRecords};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::op::{DnsRequestOptions, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig, TokioResolver};

use crate::names::DnsName;
use crate::policy::dane::DnssecStatus;
use crate::policy::discovery::{DnsAnswer, Lookup, LookupError, MxRecord};

/// Blocking DNS lookups with DNSSEC status.
pub trait Resolve {
    /// The MX RRset of `domain`.
    fn mx(&self, domain: &DnsName) -> Lookup<MxRecord>;
    /// The A and AAAA records of `host` (IPv4 first).
    fn addresses(&self, host: &DnsName) -> Lookup<IpAddr>;
    /// The TLSA RRset at `owner` (`_25._tcp.<host>`), each record as wire RDATA.
    fn tlsa(&self, owner: &DnsName) -> Lookup<Vec<u8>>;
    /// The TXT RRset at `owner`, each record's character-strings concatenated.
    fn txt(&self, owner: &DnsName) -> Lookup<String>;
}

/// Async DNS lookups with DNSSEC status: the twin of [`Resolve`].
pub trait AsyncResolve: Sync {
    /// The MX RRset of `domain`.
    fn mx(&self, domain: &DnsName) -> impl Future<Output = Lookup<MxRecord>> + Send;
    /// The A and AAAA records of `host` (IPv4 first).
    fn addresses(&self, host: &DnsName) -> impl Future<Output = Lookup<IpAddr>> + Send;
    /// The TLSA RRset at `owner`, each record as wire RDATA.
    fn tlsa(&self, owner: &DnsName) -> impl Future<Output = Lookup<Vec<u8>>> + Send;
    /// The TXT RRset at `owner`, each record's character-strings concatenated.
    fn txt(&self, owner: &DnsName) -> impl Future<Output = Lookup<String>> + Send;
}

/// Where DNSSEC validation comes from.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnssecSource {
    /// Validate every answer here, from this trust anchor.
    Validate(TrustAnchor),
    /// Trust the AD bit of the configured resolvers, which must all be on loopback (Postfix
    /// `smtp_dns_support_level = dnssec` with a local validating resolver).
    TrustLocalResolverAd,
}

/// The DNSSEC trust anchor of a validating resolver.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustAnchor {
    /// The root zone's key-signing keys (built into hickory).
    Root,
    /// A file of zone-file `DNSKEY` lines (`test. IN DNSKEY 257 3 13 ...`): a lab's anchor.
    /// DS lines are refused by hickory.
    File(PathBuf),
}

/// How to reach DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSettings {
    /// The name servers (recursive resolvers, or a lab's authoritative server), each asked
    /// over UDP, then TCP on truncation.
    pub servers: Vec<SocketAddr>,
    /// Where DNSSEC status comes from.
    pub dnssec: DnssecSource,
    /// The longest one lookup (all its retries) may take.
    pub timeout: Duration,
}

impl DnsSettings {
    /// Validating lookups through `servers` against the root key, 10 s per lookup.
    pub fn new(servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self {
            servers: servers.into_iter().collect(),
            dnssec: DnssecSource::Validate(TrustAnchor::Root),
            timeout: Duration::from_secs(10),
        }
    }

    /// Another source of DNSSEC status.
    #[must_use]
    pub fn with_dnssec(mut self, dnssec: DnssecSource) -> Self {
        self.dnssec = dnssec;
        self
    }

    /// Another per-lookup timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why a resolver could not be set up.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DnsConfigError {
    /// No name server was given.
    #[error("no DNS server configured")]
    NoServers,
    /// The AD bit is trusted only from a resolver on loopback.
    #[error("the AD bit of {server} is not trusted: only a validating resolver on loopback may vouch for DNSSEC")]
    AdBitFromRemote {
        /// The offending server.
        server: SocketAddr,
    },
    /// The trust anchor file could not be read or parsed.
    #[error("trust anchor {path}: {detail}")]
    TrustAnchor {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// hickory refused the configuration, or the runtime could not start.
    #[error("DNS resolver setup failed: {0}")]
    Setup(String),
}

/// How one lookup reaches DNS.
#[derive(Clone)]
enum Backend {
    /// hickory validates (and caches).
    Validating(Box<TokioResolver>),
    /// A loopback validating resolver's AD bit is trusted.
    AdBit(NameServerPool<TokioRuntimeProvider>),
}

/// The hickory-resolver lookups (tokio). Answers are cached by hickory (validating mode)
/// for their TTL; build a new resolver to forget them.
#[derive(Clone)]
pub struct HickoryResolver {
    backend: Backend,
    timeout: Duration,
}

impl core::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mode = match self.backend {
            Backend::Validating(_) => "validating",
            Backend::AdBit(_) => "trusting the AD bit",
        };
        f.debug_struct("HickoryResolver")
            .field("mode", &mode)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn name_servers(servers: &[SocketAddr]) -> Vec<NameServerConfig> {
    servers
        .iter()
        .map(|server| {
            let mut config = NameServerConfig::udp_and_tcp(server.ip());
            for connection in &mut config.connections {
                connection.port = server.port();
            }
            config
        })
        .collect()
}

fn options(settings: &DnsSettings) -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    options.attempts = 1;
    // One try per server within the lookup's budget.
    options.timeout = settings.timeout / u32::try_from(settings.servers.len().max(1)).unwrap_or(1);
    options.ndots = 0;
    options
}

impl HickoryResolver {
    /// A resolver for `settings`. Call it inside a tokio runtime (hickory spawns its
    /// connection tasks there).
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsConfigError> {
        if settings.servers.is_empty() {
            return Err(DnsConfigError::NoServers);
        }
        let servers = name_servers(&settings.servers);
        let mut options = options(settings);
        let backend = match &settings.dnssec {
            DnssecSource::Validate(anchor) => {
                let anchors = match anchor {
                    TrustAnchor::Root => TrustAnchors::default(),
                    TrustAnchor::File(path) => {
                        TrustAnchors::from_file(path).map_err(|e| DnsConfigError::TrustAnchor {
                            path: path.clone(),
                            detail: e.to_string(),
                        })?
                    }
                };
                options.validate = true;
                let config = ResolverConfig::from_parts(None, Vec::new(), servers);
                let resolver =
                    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                        .with_options(options)
                        .with_trust_anchor(Arc::new(anchors))
                        .build()
                        .map_err(|e| DnsConfigError::Setup(e.to_string()))?;
                Backend::Validating(Box::new(resolver))
            }
            DnssecSource::TrustLocalResolverAd => {
                if let Some(server) = settings.servers.iter().find(|s| !s.ip().is_loopback()) {
                    return Err(DnsConfigError::AdBitFromRemote { server: *server });
                }
                let tls = TlsConfig::new().map_err(|e| DnsConfigError::Setup(e.to_string()))?;
                let context = Arc::new(PoolContext::new(options, tls));
                Backend::AdBit(NameServerPool::from_config(
                    servers,
                    context,
                    TokioRuntimeProvider::default(),
                ))
            }
        };
        Ok(Self {
            backend,
            timeout: settings.timeout,
        })
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        if let Backend::Validating(resolver) = &self.backend {
            resolver.clear_cache();
        }
    }

    /// One lookup: the records of `record_type` at `owner`, with their status.
    async fn lookup(&self, owner: &DnsName, record_type: RecordType) -> Lookup<Record> {
        let name = Name::from_ascii(format!("{}.", owner.as_str())).map_err(|e| {
            LookupError::Temporary {
                detail: format!("{owner}: {e}"),
            }
        })?;
        let query = async {
            match &self.backend {
                Backend::Validating(resolver) => validated(
                    resolver.lookup(name.clone(), record_type).await,
                    &name,
                    record_type,
                ),
                Backend::AdBit(pool) => {
                    let mut options = DnsRequestOptions::default();
                    options.recursion_desired = true;
                    options.use_edns = true;
                    options.edns_set_dnssec_ok = true;
                    let response = pool
                        .lookup(Query::query(name.clone(), record_type), options)
                        .first_answer()
                        .await;
                    ad_bit(response, &name, record_type)
                }
            }
        };
        match ::tokio::time::timeout(self.timeout, query).await {
            Ok(result) => result,
            Err(_) => Err(LookupError::Temporary {
                detail: format!(
                    "{owner} {record_type}: no answer within {} ms",
                    self.timeout.as_millis()
                ),
            }),
        }
    }

    async fn mx_lookup(&self, domain: &DnsName) -> Lookup<MxRecord> {
        let answer = self.lookup(domain, RecordType::MX).await?;
        map_records(answer, |record| match &record.data {
            RData::MX(mx) => Some(MxRecord {
                preference: mx.preference,
                exchange: if mx.exchange.is_root() {
                    None
                } else {
                    // A target that is no host name cannot be connected to: dropped.
                    DnsName::parse(&mx.exchange.to_ascii()).ok()
                },
            }),
            _ => None,
        })
        .and_then(|a| {
            if a.records.is_empty() {
                Err(LookupError::NotFound {
                    nxdomain: false,
                    status: a.status,
                })
            } else {
                Ok(a)
            }
        })
    }

    async fn address_lookup(&self, host: &DnsName) -> Lookup<IpAddr> {
        let v4 = self.lookup(host, RecordType::A).await;
        let v6 = self.lookup(host, RecordType::AAAA).await;
        let to_ip = |record: &Record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        };
        let v4 = v4.and_then(|a| map_records(a, to_ip));
        let v6 = v6.and_then(|a| map_records(a, to_ip));
        merge_addresses(v4, v6)
    }
}

/// Keeps the records `f` maps, with the answer's status and canonical name.
fn map_records<T>(answer: DnsAnswer<Record>, f: impl Fn(&Record) -> Option<T>) -> Lookup<T> {
    Ok(DnsAnswer {
        records: answer.records.iter().filter_map(f).collect(),
        status: answer.status,
        canonical: answer.canonical,
    })
}

/// The A and AAAA answers as one: a bogus half makes the whole bogus; records from either
/// half are used (the weaker status of the two when both have records); with none, the more
/// serious failure wins (temporary over not-found).
fn merge_addresses(v4: Lookup<IpAddr>, v6: Lookup<IpAddr>) -> Lookup<IpAddr> {
    let nonempty = |l: Lookup<IpAddr>| match l {
        Ok(a) if a.records.is_empty() => Err(LookupError::NotFound {
            nxdomain: false,
            status: a.status,
        }),
        other => other,
    };
    match (nonempty(v4), nonempty(v6)) {
        (Err(e @ LookupError::Bogus { .. }), _) | (_, Err(e @ LookupError::Bogus { .. })) => Err(e),
        (Ok(mut a), Ok(b)) => {
            a.status = weaker(a.status, b.status);
            a.records.extend(b.records);
            Ok(a)
        }
        (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
        (Err(e @ LookupError::Temporary { .. }), Err(_))
        | (Err(_), Err(e @ LookupError::Temporary { .. })) => Err(e),
        (Err(e), Err(_)) => Err(e),
    }
}

/// The weaker of two statuses of answers that both exist.
fn weaker(a: DnssecStatus, b: DnssecStatus) -> DnssecStatus {
    let rank = |s| match s {
        DnssecStatus::Bogus => 0,
        DnssecStatus::Indeterminate => 1,
        DnssecStatus::Insecure => 2,
        _ => 3,
    };
    if rank(a) <= rank(b) {
        a
    } else {
        b
    }
}

fn status_of_proof(proof: Proof) -> DnssecStatus {
    match proof {
        Proof::Secure => DnssecStatus::Secure,
        Proof::Insecure => DnssecStatus::Insecure,
        Proof::Bogus => DnssecStatus::Bogus,
        _ => DnssecStatus::Indeterminate,
    }
}

/// The answer's records of `record_type` (CNAMEs on the way only lower the status), with the
/// canonical name when a CNAME led elsewhere.
fn collect(
    answers: &[Record],
    asked: &Name,
    record_type: RecordType,
    status_of: impl Fn(&Record) -> DnssecStatus,
) -> Lookup<Record> {
    let mut status = DnssecStatus::Secure;
    let mut records = Vec::new();
    for record in answers {
        status = weaker(status, status_of(record));
        if record.record_type() == record_type {
            records.push(record.clone());
        }
    }
    match status {
        DnssecStatus::Bogus => {
            return Err(LookupError::Bogus {
                detail: format!("{asked} {record_type}: an answer record failed validation"),
            })
        }
        DnssecStatus::Indeterminate => {
            return Err(LookupError::Temporary {
                detail: format!("{asked} {record_type}: DNSSEC status indeterminate"),
            })
        }
        _ => {}
    }
    if records.is_empty() {
        return Err(LookupError::NotFound {
            nxdomain: false,
            status,
        });
    }
    let canonical = records
        .first()
        .map(|r| r.name.clone())
        .filter(|owner| owner != asked)
        .and_then(|owner| DnsName::parse_owner(owner.to_ascii().trim_end_matches('.')).ok());
    Ok(DnsAnswer {
        records,
        status,
        canonical,
    })
}

/// A validating resolver's result in the core's words.
fn validated(
    result: Result<hickory_resolver::lookup::Lookup, NetError>,
    asked: &Name,
    record_type: RecordType,
) -> Lookup<Record> {
    match result {
        Ok(lookup) => collect(lookup.answers(), asked, record_type, |r| {
            status_of_proof(r.proof)
        }),
        Err(e) => Err(net_error(e, asked, record_type, |authorities| {
            // The denial is secure when every authority record (SOA, NSEC/NSEC3 and their
            // signatures) validated.
            if !authorities.is_empty() && authorities.iter().all(|r| r.proof == Proof::Secure) {
                DnssecStatus::Secure
            } else if authorities.iter().any(|r| r.proof == Proof::Bogus) {
                DnssecStatus::Bogus
            } else {
                DnssecStatus::Insecure
            }
        })),
    }
}

/// A trusted-AD response in the core's words.
fn ad_bit(
    result: Result<hickory_resolver::proto::op::DnsResponse, NetError>,
    asked: &Name,
    record_type: RecordType,
) -> Lookup<Record> {
    match result {
        Ok(response) => {
            let status = if response.metadata.authentic_data {
                DnssecStatus::Secure
            } else {
                DnssecStatus::Insecure
            };
            match response.metadata.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => {}
                code => {
                    return Err(LookupError::Temporary {
                        detail: format!("{asked} {record_type}: {code}"),
                    })
                }
            }
            let nxdomain = response.metadata.response_code == ResponseCode::NXDomain;
            match collect(&response.answers, asked, record_type, |_| status) {
                Err(LookupError::NotFound { .. }) => {
                    Err(LookupError::NotFound { nxdomain, status })
                }
                other => other,
            }
        }
        Err(e) => Err(net_error(e, asked, record_type, |_| DnssecStatus::Insecure)),
    }
}

/// A failed lookup: a denial (with its status), bogus, or temporary.
fn net_error(
    error: NetError,
    asked: &Name,
    record_type: RecordType,
    denial_status: impl Fn(&[Record]) -> DnssecStatus,
) -> LookupError {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code,
            authorities,
            ..
        })) if matches!(
            response_code,
            ResponseCode::NXDomain | ResponseCode::NoError
        ) =>
        {
            let status = denial_status(authorities.as_deref().unwrap_or_default());
            if status == DnssecStatus::Bogus {
                return LookupError::Bogus {
                    detail: format!("{asked} {record_type}: the denial failed validation"),
                };
            }
            LookupError::NotFound {
                nxdomain: response_code == ResponseCode::NXDomain,
                status,
            }
        }
        NetError::Dns(DnsError::Nsec {
            proof, response, ..
        }) => match status_of_proof(proof) {
            DnssecStatus::Bogus => LookupError::Bogus {
                detail: format!("{asked} {record_type}: the denial failed validation"),
            },
            DnssecStatus::Indeterminate => LookupError::Temporary {
                detail: format!("{asked} {record_type}: DNSSEC status of the denial indeterminate"),
            },
            status => LookupError::NotFound {
                nxdomain: response.metadata.response_code == ResponseCode::NXDomain,
                status,
            },
        },
        NetError::Dns(DnsError::DnssecBogus) => LookupError::Bogus {
            detail: format!("{asked} {record_type}: DNSSEC validation failed"),
        },
        other => LookupError::Temporary {
            detail: format!("{asked} {record_type}: {other}"),
        },
    }
}

/// TLSA RDATA in wire form: usage, selector, matching type, data.
fn tlsa_rdata(record: &Record) -> Option<Vec<u8>> {
    match &record.data {
        RData::TLSA(tlsa) => {
            let mut wire = Vec::with_capacity(3 + tlsa.cert_data.len());
            wire.push(u8::from(tlsa.cert_usage));
            wire.push(u8::from(tlsa.selector));
            wire.push(u8::from(tlsa.matching));
            wire.extend_from_slice(&tlsa.cert_data);
            Some(wire)
        }
        _ => None,
    }
}

/// TXT character-strings concatenated (RFC 7208 §3.3 style); invalid UTF-8 is replaced.
fn txt_text(record: &Record) -> Option<String> {
    match &record.data {
        RData::TXT(txt) => {
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

impl AsyncResolve for HickoryResolver {
    async fn mx(&self, domain: &DnsName) -> Lookup<MxRecord> {
        self.mx_lookup(domain).await
    }

    async fn addresses(&self, host: &DnsName) -> Lookup<IpAddr> {
        self.address_lookup(host).await
    }

    async fn tlsa(&self, owner: &DnsName) -> Lookup<Vec<u8>> {
        let answer = self.lookup(owner, RecordType::TLSA).await?;
        map_records(answer, tlsa_rdata)
    }

    async fn txt(&self, owner: &DnsName) -> Lookup<String> {
        let answer = self.lookup(owner, RecordType::TXT).await?;
        map_records(answer, txt_text)
    }
}

/// A [`HickoryResolver`] on its own current-thread tokio runtime: blocking lookups. For
/// threads outside any async runtime (it blocks; inside one, use [`HickoryResolver`]).
#[derive(Debug)]
pub struct BlockingResolver {
    runtime: ::tokio::runtime::Runtime,
    inner: HickoryResolver,
}

impl BlockingResolver {
    /// A blocking resolver for `settings`.
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsConfigError> {
        let runtime = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DnsConfigError::Setup(e.to_string()))?;
        let inner = {
            let _guard = runtime.enter();
            HickoryResolver::new(settings)?
        };
        Ok(Self { runtime, inner })
    }

    /// The async resolver inside.
    pub fn inner(&self) -> &HickoryResolver {
        &self.inner
    }
}

impl Resolve for BlockingResolver {
    fn mx(&self, domain: &DnsName) -> Lookup<MxRecord> {
        self.runtime.block_on(self.inner.mx_lookup(domain))
    }

    fn addresses(&self, host: &DnsName) -> Lookup<IpAddr> {
        self.runtime.block_on(self.inner.address_lookup(host))
    }

    fn tlsa(&self, owner: &DnsName) -> Lookup<Vec<u8>> {
        self.runtime
            .block_on(AsyncResolve::tlsa(&self.inner, owner))
    }

    fn txt(&self, owner: &DnsName) -> Lookup<String> {
        self.runtime.block_on(AsyncResolve::txt(&self.inner, owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ips: &[&str], status: DnssecStatus) -> Lookup<IpAddr> {
        Ok(DnsAnswer {
            records: ips.iter().map(|s| s.parse().unwrap()).collect(),
            status,
            canonical: None,
        })
    }

    #[test]
    fn address_halves_merge_without_hiding_bogus_or_temporary() {
        let bogus = || Err(LookupError::Bogus { detail: "x".into() });
        let temp = || Err(LookupError::Temporary { detail: "x".into() });
        let none = || {
            Err(LookupError::NotFound {
                nxdomain: false,
                status: DnssecStatus::Secure,
            })
        };
        let secure = || ok(&["192.0.2.1"], DnssecStatus::Secure);
        let insecure6 = || ok(&["2001:db8::1"], DnssecStatus::Insecure);
        // A bogus half poisons the whole: an attacker could have forged either.
        assert!(matches!(
            merge_addresses(secure(), bogus()),
            Err(LookupError::Bogus { .. })
        ));
        assert!(matches!(
            merge_addresses(bogus(), secure()),
            Err(LookupError::Bogus { .. })
        ));
        // Both halves: the weaker status.
        let both = merge_addresses(secure(), insecure6()).unwrap();
        assert_eq!(both.records.len(), 2);
        assert_eq!(both.status, DnssecStatus::Insecure);
        // One half found: used.
        assert_eq!(
            merge_addresses(secure(), none()).unwrap().status,
            DnssecStatus::Secure
        );
        assert_eq!(merge_addresses(temp(), secure()).unwrap().records.len(), 1);
        // None found: temporary beats not-found.
        assert!(matches!(
            merge_addresses(none(), temp()),
            Err(LookupError::Temporary { .. })
        ));
        assert!(matches!(
            merge_addresses(none(), none()),
            Err(LookupError::NotFound { .. })
        ));
    }

    #[test]
    fn the_ad_bit_is_trusted_only_from_loopback() {
        let settings = DnsSettings::new(["192.0.2.53:53".parse().unwrap()])
            .with_dnssec(DnssecSource::TrustLocalResolverAd);
        assert!(matches!(
            BlockingResolver::new(&settings),
            Err(DnsConfigError::AdBitFromRemote { .. })
        ));
        assert!(matches!(
            BlockingResolver::new(&DnsSettings::new([])),
            Err(DnsConfigError::NoServers)
        ));
    }

    #[test]
    fn a_missing_trust_anchor_file_is_a_config_error() {
        let settings = DnsSettings::new(["127.0.0.1:53".parse().unwrap()]).with_dnssec(
            DnssecSource::Validate(TrustAnchor::File("/nonexistent/anchor".into())),
        );
        assert!(matches!(
            BlockingResolver::new(&settings),
            Err(DnsConfigError::TrustAnchor { .. })
        ));
    }
}
