//! Discovery for one recipient domain (feature `dns`): MX, then for each MX host its
//! addresses and (when the plan wants DANE for it, as Postfix does) its TLSA records, then
//! the `_mta-sts` TXT record, the MTA-STS cache and, when the cache asks, the policy fetch,
//! then the `_smtp._tls` TXT record. The result is the core's
//! [`DiscoveryAnswers`], which [`precedence`](crate::policy::precedence) turns into a
//! [`Decision`].
//!
//! The order of lookups is one private state machine; [`Discoverer::discover`] (blocking,
//! over [`Resolve`] and [`FetchPolicy`]) and [`Discoverer::discover_async`] (over
//! [`AsyncResolve`] and [`AsyncFetchPolicy`]) only answer its queries, so both forms take the
//! same steps. The clock (`now`) and the random source that shuffles MX hosts of equal
//! preference are injected.
//!
//! Rules that keep failures from downgrading:
//!
//! - A TLSA lookup happens only when the host's address records are secure (RFC 7672
//!   §2.2.2); a secure CNAME expansion is looked up first at the expanded name, then at the
//!   host name (RFC 7672 §2.2.2, the TLSA base domain). A failed or bogus TLSA lookup is
//!   kept with its status: precedence skips that host (the mail waits).
//! - A failed or bogus `_mta-sts` lookup is a temporary failure, never "no policy": a cached
//!   policy still applies, and with none cached precedence defers.
//! - The policy host's addresses are looked up through the same resolver; a failure there
//!   is a failed fetch (reported with `sts-policy-fetch-error`, the cached policy kept).

use std::future::Future;
use std::net::IpAddr;

use std::net::SocketAddr;

use crate::client::{Delivery, DeliveryOutcome};
use crate::names::DnsName;
use crate::policy::dane::{DnssecStatus, TlsaSet};
use crate::policy::discovery::{
    DiscoveryAnswers, HostAnswers, Lookup, LookupError, MxOutcome, MxRecord, TlsRptLookup,
    TlsaAnswer,
};
use crate::policy::mta_sts::{
    CacheStep, Discovery, StsFetchError, StsFetchRequest, StsPolicy, StsRecord,
};
use crate::policy::requiretls::MessageTls;
use crate::policy::Decision;
use crate::policy::{Authentication, OutboundPolicy};
use crate::state::{StoreNotice, StsCaching};
use crate::time::Timestamp;

use super::anchors::AnchorError;
use super::client::{Connector, DeliveryReport};
use super::dns::{AsyncResolve, Resolve};
use super::mailer::Mailer;

/// Fetches an MTA-STS policy (RFC 8461 §3.3): HTTPS GET of `request.url`, connecting to
/// `addresses` (found through the discovery resolver) while checking the certificate for
/// `request.host` against the public roots, no redirects, `text/plain`, at most
/// `request.max_body()` bytes, within a short timeout.
pub trait FetchPolicy {
    /// Performs the fetch.
    fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError>;
}

/// The async twin of [`FetchPolicy`].
pub trait AsyncFetchPolicy: Sync {
    /// Performs the fetch.
    fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> impl Future<Output = Result<StsPolicy, StsFetchError>> + Send;
}

/// A fetcher that fetches nothing: every fetch fails (`sts-policy-fetch-error`), so a
/// domain's MTA-STS policy is never learnt, only reported as unavailable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFetch;

impl NoFetch {
    fn error() -> StsFetchError {
        StsFetchError::Transport {
            detail: "no MTA-STS fetcher is configured".to_owned(),
        }
    }
}

impl FetchPolicy for NoFetch {
    fn fetch(&self, _: &StsFetchRequest, _: &[IpAddr]) -> Result<StsPolicy, StsFetchError> {
        Err(Self::error())
    }
}

impl AsyncFetchPolicy for NoFetch {
    async fn fetch(&self, _: &StsFetchRequest, _: &[IpAddr]) -> Result<StsPolicy, StsFetchError> {
        Err(Self::error())
    }
}

// The HTTPS fetcher of `io::sts_fetch` is the fetcher discovery uses in production.
impl FetchPolicy for super::StsFetcher {
    fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        super::StsFetcher::fetch(self, request, addresses)
    }
}

#[cfg(feature = "tokio")]
impl AsyncFetchPolicy for super::StsFetcher {
    async fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        self.fetch_async(request, addresses).await
    }
}

/// A number below `n` from the operating system's random source (ring), for shuffling MX
/// hosts of equal preference. Zero if the source fails (the order is then the sorted one).
pub fn system_random(n: usize) -> usize {
    use ring::rand::SecureRandom;
    let mut bytes = [0_u8; 8];
    if n == 0 || ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        return 0;
    }
    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    usize::try_from(u64::from_le_bytes(bytes) % n64).unwrap_or(0)
}

/// What one domain's discovery runs with: the resolver, the policy fetcher, the MTA-STS
/// cache, the random source, and (for labs) the SMTP port every MX host is reached on.
///
/// The cache is any [`StsCaching`]: the in-process
/// [`StsCache`](crate::policy::mta_sts::StsCache) alone, or an
/// [`StsState`](crate::state::StsState) that keeps the policies in a
/// [`Store`](crate::state::Store) too (a SQLite file, a Redis server shared by a fleet), so a
/// cached `enforce` policy survives a restart. A failing store never weakens the lookup; the
/// change in its health is kept once for [`take_store_notice`](Self::take_store_notice).
pub struct Discoverer<'a, R, F> {
    /// The DNS lookups.
    pub resolver: &'a R,
    /// The MTA-STS policy fetcher.
    pub fetcher: &'a F,
    /// The MTA-STS cache, updated by every discovery.
    pub cache: &'a mut (dyn StsCaching + Send),
    /// The SMTP port for every MX host (`None`: 25). A lab setting.
    pub smtp_port: Option<u16>,
    random: Box<dyn FnMut(usize) -> usize + Send + 'a>,
    notice: Option<StoreNotice>,
}

impl<R, F> core::fmt::Debug for Discoverer<'_, R, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Discoverer")
            .field("cached_policies", &self.cache.cached_policies())
            .field("smtp_port", &self.smtp_port)
            .finish_non_exhaustive()
    }
}

impl<'a, R, F> Discoverer<'a, R, F> {
    /// Discovery through `resolver` and `fetcher`, caching MTA-STS policies in `cache` (an
    /// [`StsCache`](crate::policy::mta_sts::StsCache), or an
    /// [`StsState`](crate::state::StsState) over a store), shuffling equal MX preferences
    /// with [`system_random`].
    pub fn new(resolver: &'a R, fetcher: &'a F, cache: &'a mut (dyn StsCaching + Send)) -> Self {
        Self {
            resolver,
            fetcher,
            cache,
            smtp_port: None,
            random: Box::new(system_random),
            notice: None,
        }
    }

    /// The latest change in the health of the store behind the MTA-STS cache (it started
    /// failing, or recovered), once: log it. `None` with no store, or when nothing changed.
    pub fn take_store_notice(&mut self) -> Option<StoreNotice> {
        self.notice.take()
    }

    /// Another random source: `random(n)` returns a number below `n`.
    #[must_use]
    pub fn with_random(mut self, random: impl FnMut(usize) -> usize + Send + 'a) -> Self {
        self.random = Box::new(random);
        self
    }

    /// Reaches every MX host on `port` instead of 25 (a lab whose SMTP servers all listen on
    /// loopback).
    #[must_use]
    pub fn with_smtp_port(mut self, port: u16) -> Self {
        self.smtp_port = Some(port);
        self
    }

    fn run<'r>(
        &'r mut self,
        policy: &'r OutboundPolicy,
        domain: &DnsName,
        now: Timestamp,
    ) -> Run<'r> {
        Run {
            answers: DiscoveryAnswers::new(
                domain.clone(),
                MxOutcome::Failed(LookupError::Temporary {
                    detail: "not looked up".to_owned(),
                }),
            ),
            policy,
            cache: &mut *self.cache,
            notice: &mut self.notice,
            random: &mut *self.random,
            now,
            stage: Stage::Mx,
            dane_wanted: Vec::new(),
        }
    }
}

/// Runs one discovery to its end: every query of the machine answered by the resolver and
/// the fetcher, each call followed by `$($wait)*` (nothing, or `.await`), so the blocking and
/// the async form take the same steps in one text.
macro_rules! drive {
    ($discoverer:expr, $policy:expr, $domain:expr, $now:expr $(, $wait:tt)*) => {{
        let discoverer = $discoverer;
        let (resolver, fetcher) = (discoverer.resolver, discoverer.fetcher);
        let mut run = discoverer.run($policy, $domain, $now);
        while let Some(query) = run.query() {
            let reply = match query {
                Query::Mx(name) => Reply::Mx(resolver.mx(&name)$(.$wait)*),
                Query::Addresses(name) => Reply::Addresses(resolver.addresses(&name)$(.$wait)*),
                Query::Tlsa(name) => Reply::Tlsa(resolver.tlsa(&name)$(.$wait)*),
                Query::Txt(name) => Reply::Txt(resolver.txt(&name)$(.$wait)*),
                Query::Fetch(request, addresses) => Reply::Fetched(super::events::sts_fetched(
                    &request.host,
                    fetcher.fetch(&request, &addresses)$(.$wait)*,
                )),
            };
            run.answer(reply);
        }
        super::events::discovered(&run.answers);
        run.answers
    }};
}

impl<R: Resolve, F: FetchPolicy> Discoverer<'_, R, F> {
    /// Discovers `domain` for `policy` at `now`, blocking on each lookup in turn.
    pub fn discover(
        &mut self,
        policy: &OutboundPolicy,
        domain: &DnsName,
        now: Timestamp,
    ) -> DiscoveryAnswers {
        drive!(self, policy, domain, now)
    }
}

impl<R: AsyncResolve, F: AsyncFetchPolicy> Discoverer<'_, R, F> {
    /// Discovers `domain` for `policy` at `now`: the async twin of
    /// [`discover`](Self::discover).
    pub async fn discover_async(
        &mut self,
        policy: &OutboundPolicy,
        domain: &DnsName,
        now: Timestamp,
    ) -> DiscoveryAnswers {
        drive!(self, policy, domain, now, await)
    }
}

/// What the machine needs answered next.
enum Query {
    Mx(DnsName),
    Addresses(DnsName),
    Tlsa(DnsName),
    Txt(DnsName),
    Fetch(StsFetchRequest, Vec<IpAddr>),
}

/// The answer to a [`Query`].
enum Reply {
    Mx(Lookup<MxRecord>),
    Addresses(Lookup<IpAddr>),
    Tlsa(Lookup<Vec<u8>>),
    Txt(Lookup<String>),
    Fetched(Result<StsPolicy, StsFetchError>),
}

enum Stage {
    Mx,
    Address(usize),
    /// The TLSA lookup of host `host` at `_25._tcp.<at>`; `fallback`: a denial there is
    /// retried at the host name (`at` came from a secure CNAME expansion).
    Tlsa {
        host: usize,
        at: DnsName,
        fallback: bool,
    },
    StsTxt,
    StsAddresses {
        request: StsFetchRequest,
        id: String,
    },
    StsFetch {
        request: StsFetchRequest,
        id: String,
        addresses: Vec<IpAddr>,
    },
    TlsRpt,
    Done,
}

/// One domain's discovery in progress.
struct Run<'r> {
    answers: DiscoveryAnswers,
    policy: &'r OutboundPolicy,
    cache: &'r mut (dyn StsCaching + Send),
    /// Where a change in the store's health is kept for the caller.
    notice: &'r mut Option<StoreNotice>,
    random: &'r mut (dyn FnMut(usize) -> usize + Send),
    now: Timestamp,
    stage: Stage,
    dane_wanted: Vec<bool>,
}

/// `prefix.name` as an owner name; `None` when it would be no valid name (too long).
fn owner(prefix: &str, name: &DnsName) -> Option<DnsName> {
    DnsName::parse_owner(&format!("{prefix}.{name}")).ok()
}

fn unformable(what: &str) -> LookupError {
    LookupError::Temporary {
        detail: format!("{what}: the owner name would be too long"),
    }
}

impl Run<'_> {
    /// The next query, or `None` when discovery is complete. A query whose name cannot be
    /// formed is answered at once as a temporary failure (never as "no record").
    fn query(&mut self) -> Option<Query> {
        loop {
            let query = match &self.stage {
                Stage::Done => return None,
                Stage::Mx => Some(Query::Mx(self.answers.domain.clone())),
                Stage::Address(i) => self
                    .answers
                    .hosts
                    .get(*i)
                    .map(|h| Query::Addresses(h.host.name.clone())),
                Stage::Tlsa { at, .. } => owner("_25._tcp", at).map(Query::Tlsa),
                Stage::StsTxt => owner("_mta-sts", &self.answers.domain).map(Query::Txt),
                Stage::StsAddresses { request, .. } => {
                    DnsName::parse(&request.host).ok().map(Query::Addresses)
                }
                Stage::StsFetch {
                    request, addresses, ..
                } => Some(Query::Fetch(request.clone(), addresses.clone())),
                Stage::TlsRpt => owner("_smtp._tls", &self.answers.domain).map(Query::Txt),
            };
            match query {
                Some(q) => return Some(q),
                None => {
                    let e = unformable(self.answers.domain.as_str());
                    let reply = match self.stage {
                        Stage::Tlsa { .. } => Reply::Tlsa(Err(e)),
                        Stage::StsTxt | Stage::TlsRpt => Reply::Txt(Err(e)),
                        _ => Reply::Addresses(Err(e)),
                    };
                    self.answer(reply);
                }
            }
        }
    }

    fn answer(&mut self, reply: Reply) {
        let stage = core::mem::replace(&mut self.stage, Stage::Done);
        self.stage = match (stage, reply) {
            (Stage::Mx, Reply::Mx(lookup)) => self.mx(lookup),
            (Stage::Address(i), Reply::Addresses(lookup)) => self.addresses(i, lookup),
            (Stage::Tlsa { host, at, fallback }, Reply::Tlsa(lookup)) => {
                self.tlsa(host, at, fallback, lookup)
            }
            (Stage::StsTxt, Reply::Txt(lookup)) => self.sts_txt(lookup),
            (Stage::StsAddresses { request, id }, Reply::Addresses(lookup)) => match lookup {
                Ok(a) => Stage::StsFetch {
                    request,
                    id,
                    addresses: a.records,
                },
                Err(e) => {
                    let error = StsFetchError::Transport {
                        detail: format!("{}: {e}", request.host),
                    };
                    self.fetched(&id, Err(error))
                }
            },
            (Stage::StsFetch { id, .. }, Reply::Fetched(result)) => self.fetched(&id, result),
            (Stage::TlsRpt, Reply::Txt(lookup)) => {
                self.answers.tlsrpt = Some(TlsRptLookup::from_answer(&lookup));
                Stage::Done
            }
            // A reply to another question: the drivers never send one.
            (stage, _) => stage,
        };
    }

    fn mx(&mut self, lookup: Lookup<MxRecord>) -> Stage {
        let mx = MxOutcome::from_answer(lookup, &mut *self.random);
        let hosts = mx.hosts(&self.answers.domain);
        self.answers.mx = mx;
        if hosts.is_empty() {
            return Stage::Done;
        }
        self.answers.hosts = hosts
            .into_iter()
            .map(|host| HostAnswers {
                host,
                addresses: Vec::new(),
                address_status: DnssecStatus::Indeterminate,
                canonical: None,
                address_error: None,
                tlsa: None,
            })
            .collect();
        // Which hosts the configuration wants DANE for: only those get TLSA lookups.
        self.dane_wanted = match self.answers.destination() {
            Ok(destination) => self
                .policy
                .plan(&destination)
                .hosts
                .iter()
                .map(|h| matches!(h.requirement.authentication, Authentication::Dane(_)))
                .collect(),
            Err(_) => Vec::new(),
        };
        Stage::Address(0)
    }

    fn addresses(&mut self, i: usize, lookup: Lookup<IpAddr>) -> Stage {
        let wanted = self.dane_wanted.get(i).copied().unwrap_or(false);
        let Some(host) = self.answers.hosts.get_mut(i) else {
            return Stage::StsTxt;
        };
        match lookup {
            Ok(a) => {
                host.addresses = a.records;
                host.address_status = a.status;
                host.canonical = a.canonical;
            }
            Err(e) => {
                host.address_status = e.status();
                host.address_error = Some(e);
            }
        }
        if wanted {
            if host.address_status == DnssecStatus::Secure && !host.addresses.is_empty() {
                return match host.canonical.clone() {
                    Some(at) => Stage::Tlsa {
                        host: i,
                        at,
                        fallback: true,
                    },
                    None => Stage::Tlsa {
                        host: i,
                        at: host.host.name.clone(),
                        fallback: false,
                    },
                };
            }
            // No TLSA lookup without secure addresses (RFC 7672 §2.2.2): the address status
            // decides (insecure: DANE does not apply; bogus or failed: the host waits).
            host.tlsa = Some(TlsaAnswer {
                status: match host.address_status {
                    DnssecStatus::Secure => DnssecStatus::Insecure,
                    other => other,
                },
                set: TlsaSet::default(),
                base_domain: host.host.name.clone(),
                error: None,
            });
        }
        self.next_host(i + 1)
    }

    fn tlsa(&mut self, i: usize, at: DnsName, fallback: bool, lookup: Lookup<Vec<u8>>) -> Stage {
        let Some(host) = self.answers.hosts.get_mut(i) else {
            return Stage::StsTxt;
        };
        let answer = match lookup {
            Ok(a) => TlsaAnswer {
                status: a.status,
                set: TlsaSet::from_rdata(a.records.iter().map(Vec::as_slice)),
                base_domain: at,
                error: None,
            },
            Err(LookupError::NotFound { .. }) if fallback => {
                return Stage::Tlsa {
                    host: i,
                    at: host.host.name.clone(),
                    fallback: false,
                };
            }
            Err(e) => TlsaAnswer {
                status: e.status(),
                set: TlsaSet::default(),
                base_domain: at,
                error: Some(e),
            },
        };
        host.tlsa = Some(answer);
        self.next_host(i + 1)
    }

    fn next_host(&self, next: usize) -> Stage {
        if next < self.answers.hosts.len() {
            Stage::Address(next)
        } else {
            Stage::StsTxt
        }
    }

    fn sts_txt(&mut self, lookup: Lookup<String>) -> Stage {
        let record = match &lookup {
            Ok(a) => StsRecord::select(a.records.iter().map(String::as_str)).ok(),
            Err(_) => None,
        };
        let discovery = match (&lookup, &record) {
            (_, Some(record)) => Discovery::Record(record),
            (Ok(_) | Err(LookupError::NotFound { .. }), None) => Discovery::NoRecord,
            // Temporary or bogus: whether a policy exists is unknown.
            (Err(_), None) => Discovery::TemporaryFailure,
        };
        let stepped = self.cache.step(&self.answers.domain, discovery, self.now);
        self.keep(stepped.notice);
        match stepped.step {
            CacheStep::Fetch { request, id } => Stage::StsAddresses { request, id },
            CacheStep::Done(lookup) => {
                self.answers.sts = Some(lookup);
                Stage::TlsRpt
            }
        }
    }

    fn fetched(&mut self, id: &str, result: Result<StsPolicy, StsFetchError>) -> Stage {
        let (lookup, notice) =
            self.cache
                .complete_fetch(&self.answers.domain, id, result, self.now);
        self.keep(notice);
        self.answers.sts = Some(lookup);
        Stage::TlsRpt
    }

    /// Keeps the latest change in the store's health for [`Discoverer::take_store_notice`].
    fn keep(&mut self, notice: Option<StoreNotice>) {
        if let Some(notice) = notice {
            super::events::store_notice(&notice);
            *self.notice = Some(notice);
        }
    }
}

/// What a delivery to a domain found, decided and did.
#[derive(Clone, Debug)]
pub struct DomainReport {
    /// What discovery found.
    pub discovery: DiscoveryAnswers,
    /// The precedence decision the delivery acted on; `None` when the MX lookup left no
    /// host to try (null MX, no such domain, failed lookup).
    pub decision: Option<Decision>,
    /// The delivery: its outcome (for an MX failure, deferred or bounced with no attempt),
    /// attempts and per-message results.
    pub report: DeliveryReport,
}

/// A delivery ready to run, or the report of one that cannot start.
pub(crate) enum Prepared {
    /// No host to try: the report says why.
    NoHost(Box<DomainReport>),
    /// Run the job's delivery through its connector, then [`Job::finish`].
    Deliver(Box<Job>),
}

/// One domain's delivery, decided and ready to run: the half that both adapters'
/// `deliver_to_domain` share around their own `deliver`.
pub(crate) struct Job {
    /// The delivery to run.
    pub(crate) delivery: Delivery,
    /// How to reach the hosts discovery found.
    pub(crate) connector: Connector,
    discovery: DiscoveryAnswers,
    decision: Decision,
}

impl Job {
    /// The domain's report once `report` came back: what the delivery did is recorded into
    /// the mailer's state store, if it has one.
    pub(crate) fn finish(self, mailer: &Mailer, report: DeliveryReport) -> DomainReport {
        mailer.record(&self.delivery);
        DomainReport {
            discovery: self.discovery,
            decision: Some(self.decision),
            report,
        }
    }
}

/// The decision and delivery for `answers`: the mailer's plan for the discovered hosts,
/// precedence with the answers and the message flags, and a connector that reaches each MX
/// host at the addresses discovery found (on `smtp_port`, else the plan's port); hosts the
/// mailer already routes keep their route.
pub(crate) fn prepare(
    mailer: &Mailer,
    answers: DiscoveryAnswers,
    message: MessageTls,
    smtp_port: Option<u16>,
    messages: usize,
) -> Result<Prepared, AnchorError> {
    let no_host = |answers: DiscoveryAnswers, status| {
        let outcome = match status {
            Some(status) if crate::policy::Status::is_permanent(&status) => {
                DeliveryOutcome::Bounced(status)
            }
            Some(status) => DeliveryOutcome::Deferred(status),
            None => DeliveryOutcome::Deferred(crate::policy::Status::new(
                451,
                (4, 4, 4),
                "no MX host could be planned",
            )),
        };
        Prepared::NoHost(Box::new(DomainReport {
            discovery: answers,
            decision: None,
            report: DeliveryReport {
                outcome: Some(outcome),
                attempts: Vec::new(),
                connect_errors: Vec::new(),
                messages: vec![None; messages],
            },
        }))
    };
    if let Some(status) = answers.mx.failure() {
        return Ok(no_host(answers, Some(status)));
    }
    let Ok(destination) = answers.destination() else {
        return Ok(no_host(answers, None));
    };
    let port = smtp_port.unwrap_or_else(|| destination.port());
    let decision = answers.decide(mailer.policy().plan(&destination), message);
    let mut connector = mailer.connector().clone();
    for host in &answers.hosts {
        if !connector.has_route(host.host.name.as_str()) {
            connector = connector.route_all(
                host.host.name.as_str(),
                host.addresses.iter().map(|ip| SocketAddr::new(*ip, port)),
            );
        }
    }
    let delivery = mailer.delivery(decision.clone())?;
    Ok(Prepared::Deliver(Box::new(Job {
        delivery,
        connector,
        discovery: answers,
        decision,
    })))
}

#[cfg(test)]
mod tests;
