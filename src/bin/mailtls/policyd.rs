//! `mailtls policyd`: a Postfix `smtp_tls_policy_maps` server (socketmap or tcp_table) that
//! answers each next hop with the policy value the library decides (connectors, policy
//! table, and DANE / MTA-STS when discovery answers exist), and `--query` to print one answer
//! and its explanation without a server.
//!
//! Concurrency: one small event loop (tokio, current thread) holds every connection, so ten
//! thousand idle or slow clients cost memory, not threads. Discovery, which may block on DNS
//! or HTTPS, runs on a bounded blocking pool under a per-lookup budget: past it the answer is
//! `TEMP`, never a weaker policy.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailtls::io::discover::Discoverer;
use mailtls::io::dns::BlockingResolver;
use mailtls::io::{now, PublicRoots, StsFetcher};
use mailtls::names::DnsName;
use mailtls::policy::dane::{DnssecStatus, TlsaSet};
use mailtls::policy::discovery::{DiscoveryAnswers, HostAnswers, MxHost, MxOutcome, TlsaAnswer};
use mailtls::policy::mta_sts::{StsCache, StsLookup, StsPolicy};
use mailtls::policy::postfix::lookup::{LookupDecoder, LookupProtocol, LookupReply, LookupRequest};
use mailtls::policy::postfix::{PolicyAnswer, RenderOptions};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{explain, Decision, Destination, OutboundPolicy, Plan};
use mailtls::state::{StsCaching, StsState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{quoted, read_config, Failure, EX_CONFIG, EX_TEMPFAIL};
use crate::discovery::{resolver, DnsArgs};
use crate::explain::outbound_policy;
use crate::outbound::load_connectors;

/// The candidate host a bare domain is planned with when its MX hosts are unknown: its name
/// only ever becomes Postfix's `hostname` strategy (`.invalid` is reserved, RFC 2606).
const PLACEHOLDER_HOST: &str = "mx.mailtls-policyd.invalid";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen, `ADDR:PORT` (required unless --query).
    #[arg(long, value_name = "ADDR:PORT", required_unless_present = "query")]
    listen: Option<SocketAddr>,
    /// Answer one key (a next hop as Postfix sends it) with its explanation, then exit.
    #[arg(long, value_name = "KEY", conflicts_with = "listen")]
    query: Option<String>,
    /// Exchange-style connectors (TOML).
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    /// A Postfix `smtp_tls_policy_maps` table (text form; `hash:FILE` names its source).
    #[arg(long, value_name = "[TYPE:]FILE")]
    policy_map: Option<String>,
    /// The level of a next hop no connector or table entry matches, for discovery: `dane`
    /// (the default; Postfix needs `smtp_dns_support_level = dnssec`) looks up TLSA records
    /// and answers `dane-only` where they validate, MTA-STS where they do not; `may` looks up
    /// MTA-STS alone. What nothing decided is `NOTFOUND`: Postfix's own
    /// `smtp_tls_security_level` applies.
    #[arg(long, value_name = "LEVEL", default_value = "dane")]
    level: String,
    /// The lookup protocol: `socketmap` (netstrings) or `tcp_table` (Postfix `tcp:`).
    #[arg(long, value_name = "PROTOCOL", default_value = "socketmap", value_parser = protocol)]
    protocol: LookupProtocol,
    /// Answer only these socketmap names (repeatable); others get `PERM`. Default: any name.
    #[arg(long = "map-name", value_name = "NAME")]
    map_names: Vec<String>,
    /// Add Postfix 3.10's TLSRPT attributes (policy_type, policy_domain, mx_host_pattern,
    /// policy_string; policy_failure when no MX host matches the policy) to MTA-STS answers.
    /// Postfix before 3.10 refuses them.
    #[arg(long)]
    tlsrpt: bool,
    /// DANE and MTA-STS answers given by hand (JSON, keyed by domain), in place of DNS and
    /// HTTPS discovery: for tests and dry runs. See the README.
    #[arg(long, value_name = "FILE")]
    discovery_answers: Option<PathBuf>,
    /// Discover each domain for real (MX, TLSA with DNSSEC, MTA-STS over HTTPS): any of these
    /// flags turns it on.
    #[command(flatten)]
    dns: DnsArgs,
    /// Keep the discovered MTA-STS policies beyond this process: a SQLite file or
    /// `redis://HOST[:PORT][/DB]` shared by a fleet (with discovery on). A restart keeps
    /// enforcing what was cached; a store that is down is said once and weakens nothing.
    #[arg(long, value_name = "PATH|redis://...")]
    state: Option<String>,
    /// Where the public roots for the MTA-STS policy fetch come from (`system`, `mozilla`).
    #[arg(long, value_name = "STORE", default_value = "system")]
    trust_store: PublicRoots,
    /// The longest one lookup may take, in milliseconds; past it the answer is `TEMP`.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    budget_ms: u64,
    /// Close a connection idle this long, in seconds (Postfix reconnects when it needs to).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    idle_timeout: u64,
    /// Close a connection whose request (or reply) is not complete after this long, in
    /// seconds: slow and half-open clients.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    request_timeout: u64,
    /// The most connections held at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 16384)]
    max_connections: usize,
    /// The most lookups running discovery at once (threads of the blocking pool).
    #[arg(long, value_name = "N", default_value_t = 32)]
    max_lookups: usize,
}

fn protocol(text: &str) -> Result<LookupProtocol, String> {
    LookupProtocol::parse(text).ok_or_else(|| "expected socketmap or tcp_table".to_owned())
}

/// What discovery says about a destination.
#[derive(Debug)]
pub enum Discovery {
    /// Nothing to add: Postfix does its own DANE; no MTA-STS.
    Nothing,
    /// Answers.
    Found(Box<DiscoveryAnswers>),
    /// DNS failed for now (the MX lookup itself): the answer is `TEMP`.
    TemporaryFailure(String),
}

/// Where DNS and MTA-STS answers come from: DNS and HTTPS ([`DnsDiscover`]), or answers
/// given by hand.
pub trait Discover: Send + Sync {
    /// The answers for `destination`. May block; the caller bounds how long it waits.
    fn discover(&self, destination: &Destination) -> Discovery;
}

/// Answers given by hand, keyed by domain (`--discovery-answers`).
#[derive(Debug, Default)]
struct HandAnswers {
    domains: BTreeMap<String, DomainAnswers>,
    /// Each domain's `sts_policy`, parsed once at load.
    policies: BTreeMap<String, StsPolicy>,
}

/// One domain's hand-given answers.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainAnswers {
    /// MX hosts, preference order.
    #[serde(default)]
    mx: Vec<String>,
    /// Whether the MX, address and TLSA answers validated (DNSSEC secure).
    #[serde(default)]
    dnssec: bool,
    /// TLSA records per MX host, presentation form (`3 1 1 HEX`).
    #[serde(default)]
    tlsa: BTreeMap<String, Vec<String>>,
    /// The MTA-STS policy text.
    #[serde(default)]
    sts_policy: Option<String>,
    /// `bogus` or `temporary`: the DNSSEC answer for the TLSA records failed.
    #[serde(default)]
    dnssec_failure: Option<String>,
    /// `temporary`: MTA-STS discovery failed with nothing cached.
    #[serde(default)]
    sts_failure: Option<String>,
    /// `temporary`: the MX lookup failed.
    #[serde(default)]
    dns_failure: Option<String>,
    /// Simulates a slow resolver: the lookup takes this long (milliseconds).
    #[serde(default)]
    delay_ms: u64,
}

impl HandAnswers {
    fn load(path: &Path) -> Result<Self, Failure> {
        let text = read_config(path, "discovery answers")?;
        let domains: BTreeMap<String, DomainAnswers> = serde_json::from_str(&text)
            .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
        let mut out = BTreeMap::new();
        let mut policies = BTreeMap::new();
        for (domain, answers) in domains {
            let name = DnsName::parse(&domain).map_err(|e| {
                Failure::config(format!("{}: {}: {e}", path.display(), quoted(&domain)))
            })?;
            if let Some(text) = &answers.sts_policy {
                let policy = StsPolicy::parse(text.as_bytes()).map_err(|e| {
                    Failure::config(format!("{}: {domain}: sts_policy: {e}", path.display()))
                })?;
                policies.insert(name.as_str().to_owned(), policy);
            }
            out.insert(name.as_str().to_owned(), answers);
        }
        Ok(Self {
            domains: out,
            policies,
        })
    }
}

impl Discover for HandAnswers {
    fn discover(&self, destination: &Destination) -> Discovery {
        let Some((domain_key, answers)) = destination
            .next_hop_name()
            .and_then(|name| self.domains.get_key_value(name.as_str()))
        else {
            return Discovery::Nothing;
        };
        let domain_key = domain_key.as_str();
        if answers.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(answers.delay_ms));
        }
        if answers.dns_failure.is_some() {
            return Discovery::TemporaryFailure("the MX lookup failed temporarily".into());
        }
        let secure = |yes: bool| {
            if yes {
                DnssecStatus::Secure
            } else {
                DnssecStatus::Insecure
            }
        };
        let tlsa_status = match answers.dnssec_failure.as_deref() {
            Some("bogus") => DnssecStatus::Bogus,
            Some(_) => DnssecStatus::Indeterminate,
            None => secure(answers.dnssec),
        };
        let Some(domain) = destination.next_hop_name().cloned() else {
            return Discovery::Nothing;
        };
        let hosts: Vec<MxHost> = answers
            .mx
            .iter()
            .filter_map(|h| DnsName::parse(h).ok())
            .zip(0_u16..)
            .map(|(name, i)| MxHost {
                name,
                preference: i.saturating_mul(10),
            })
            .collect();
        let mx = MxOutcome::Hosts {
            hosts: hosts.clone(),
            status: secure(answers.dnssec),
        };
        let mut found = DiscoveryAnswers::new(domain, mx);
        found.hosts = hosts
            .into_iter()
            .map(|host| {
                let tlsa = answers
                    .tlsa
                    .get(host.name.as_str())
                    .map(|records| TlsaAnswer {
                        status: tlsa_status,
                        set: TlsaSet::from_presentation(records.iter().map(String::as_str)),
                        base_domain: host.name.clone(),
                        error: None,
                    });
                HostAnswers {
                    addresses: Vec::new(),
                    address_status: tlsa.as_ref().map_or(secure(answers.dnssec), |t| t.status),
                    canonical: None,
                    address_error: None,
                    tlsa,
                    host,
                }
            })
            .collect();
        found.sts = match (&answers.sts_failure, &answers.sts_policy) {
            (Some(_), _) => Some(StsLookup::TemporaryFailure),
            (None, Some(_)) => self
                .policies
                .get(domain_key)
                .map(|policy| StsLookup::Policy {
                    policy: policy.clone(),
                    from_cache: true,
                    refresh_error: None,
                }),
            (None, None) => Some(StsLookup::NoPolicy { fetch_error: None }),
        };
        Discovery::Found(Box::new(found))
    }
}

/// Discovery for real: MX, addresses, TLSA (DNSSEC) and MTA-STS over HTTPS, with one MTA-STS
/// cache for the life of the server.
///
/// The cache (memory, or memory in front of `--state`) is locked only inside its own steps,
/// never across DNS or HTTPS (the `StsCaching` impl for `&Mutex`): a fetch in flight for one
/// domain never blocks a lookup for another.
struct DnsDiscover {
    policy: OutboundPolicy,
    resolver: BlockingResolver,
    fetcher: StsFetcher,
    cache: Mutex<Box<dyn StsCaching + Send>>,
}

impl Discover for DnsDiscover {
    fn discover(&self, destination: &Destination) -> Discovery {
        let Some(domain) = destination.next_hop_name() else {
            return Discovery::Nothing;
        };
        let mut shared = &self.cache;
        let mut discoverer = Discoverer::new(&self.resolver, &self.fetcher, &mut shared);
        let found = discoverer.discover(&self.policy, domain, now());
        crate::state::say(discoverer.take_store_notice(), false);
        match found.mx.failure() {
            // Postfix bounces a null MX or a missing domain itself.
            Some(status) if status.is_permanent() => Discovery::Nothing,
            Some(status) => Discovery::TemporaryFailure(status.to_string()),
            None => Discovery::Found(Box::new(found)),
        }
    }
}

/// Everything one lookup needs, shared by all connections.
pub struct Responder {
    policy: OutboundPolicy,
    options: RenderOptions,
    map_names: Vec<String>,
    discover: Option<Arc<dyn Discover>>,
}

/// One answer and how it came about.
pub struct Explained {
    pub reply: LookupReply,
    pub explanation: String,
}

impl Responder {
    /// Answers one request (no budget here: see [`serve`]). The explanation is left empty:
    /// a server sends only the reply, and writing out plans costs more than deciding them.
    pub fn answer(&self, request: &LookupRequest) -> Explained {
        if let Some(name) = &request.map_name {
            if !self.map_names.is_empty() && !self.map_names.iter().any(|n| n == name) {
                return Explained {
                    reply: LookupReply::PermFail(format!("unknown map name {name}")),
                    explanation: format!(
                        "map name {} is not one of --map-name {}",
                        quoted(name),
                        self.map_names.join(", ")
                    ),
                };
            }
        }
        self.decide_key(&request.key, false)
    }

    /// Answers one key, with its explanation.
    pub fn answer_key(&self, key: &str) -> Explained {
        self.decide_key(key, true)
    }

    /// Answers one key; the explanation only when `explain` (else it is empty).
    fn decide_key(&self, key: &str, explain: bool) -> Explained {
        let text = |f: &dyn Fn() -> String| if explain { f() } else { String::new() };
        let not_found = |why: String| Explained {
            reply: LookupReply::NotFound,
            explanation: why,
        };
        // Parent-domain keys: the answer for the domain already applied the table's own
        // `.parent` entries.
        if key.starts_with('.') {
            return not_found(format!(
                "{} is a parent-domain key: the next hop's own answer covers it",
                quoted(key)
            ));
        }
        let destination = match Destination::parse(key) {
            Ok(d) => d,
            Err(e) => return not_found(format!("not a next hop: {e}")),
        };
        let configured = configured_plan(&self.policy, &destination);
        let discovery = match &self.discover {
            Some(discover) if !destination.is_literal() => discover.discover(&destination),
            _ => Discovery::Nothing,
        };
        let (answer, explanation) = match discovery {
            Discovery::Nothing => (
                PolicyAnswer::for_plan(&configured, &self.options),
                text(&|| configured.to_string()),
            ),
            Discovery::TemporaryFailure(reason) => (
                PolicyAnswer::Defer(reason.clone()),
                text(&|| format!("{configured}discovery: {reason}\n")),
            ),
            Discovery::Found(found) => {
                let decision = decide(&self.policy, &destination, &found);
                (
                    PolicyAnswer::for_decision(&configured, &decision, &self.options),
                    text(&|| decision.to_string()),
                )
            }
        };
        let mut explanation = explanation;
        if let (true, PolicyAnswer::Value(value)) = (explain, &answer) {
            for note in &value.notes {
                explanation.push_str("note: ");
                explanation.push_str(note);
                explanation.push('\n');
            }
        }
        Explained {
            reply: answer.reply(),
            explanation,
        }
    }
}

/// The configuration's plan, with a placeholder host for a bare domain.
fn configured_plan(policy: &OutboundPolicy, destination: &Destination) -> Plan {
    let planned = if destination.is_literal() {
        destination.clone()
    } else {
        destination
            .clone()
            .with_hosts([PLACEHOLDER_HOST])
            .unwrap_or_else(|_| destination.clone())
    };
    explain(policy, &planned)
}

/// The decision with discovery's answers, over the real MX hosts.
fn decide(
    policy: &OutboundPolicy,
    destination: &Destination,
    found: &DiscoveryAnswers,
) -> Decision {
    let planned = if found.hosts.is_empty() {
        destination
            .clone()
            .with_hosts([PLACEHOLDER_HOST])
            .unwrap_or_else(|_| destination.clone())
    } else {
        found.destination().unwrap_or_else(|_| destination.clone())
    };
    found.decide(explain(policy, &planned), MessageTls::default())
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let mut policy = outbound_policy(&args.level, args.policy_map.as_deref())?;
    if let Some(path) = &args.connectors {
        policy = policy.with_connectors(load_connectors(path)?);
    }
    if args.state.is_some() && (args.discovery_answers.is_some() || !args.dns.given()) {
        return Err(Failure::usage(
            "--state keeps discovered MTA-STS policies: give the DNS flags (--resolver, ...) \
             and no --discovery-answers"
                .to_owned(),
        ));
    }
    let discover: Option<Arc<dyn Discover>> = match &args.discovery_answers {
        Some(path) => Some(Arc::new(HandAnswers::load(path)?)),
        None if args.dns.given() => {
            let anchors = args.trust_store.load().map_err(|e| {
                Failure::config(format!("--trust-store {}: {e}", args.trust_store.as_str()))
            })?;
            let mut fetcher = StsFetcher::new(anchors);
            if let Some(port) = args.dns.sts_port {
                fetcher = fetcher.with_port(port);
            }
            Some(Arc::new(DnsDiscover {
                policy: policy.clone(),
                resolver: resolver(&args.dns)?,
                fetcher,
                cache: Mutex::new(match &args.state {
                    Some(spec) => Box::new(StsState::new(
                        StsCache::default(),
                        crate::state::open(spec, false)?,
                    )),
                    None => Box::new(StsCache::default()),
                }),
            }))
        }
        None => None,
    };
    let responder = Arc::new(Responder {
        policy,
        options: RenderOptions::default().with_tlsrpt(args.tlsrpt),
        map_names: args.map_names.clone(),
        discover,
    });
    if let Some(key) = &args.query {
        let explained = responder.answer_key(key);
        println!("key: {key}");
        println!("answer: {}", explained.reply);
        print!("{}", explained.explanation);
        return Ok(match explained.reply {
            LookupReply::TempFail(_) | LookupReply::Timeout(_) => EX_TEMPFAIL,
            LookupReply::PermFail(_) => EX_CONFIG,
            _ => 0,
        });
    }
    let Some(listen) = args.listen else {
        return Err(Failure::usage("--listen or --query is required"));
    };
    let limits = LookupLimits {
        budget: Duration::from_millis(args.budget_ms.max(1)),
        idle: Duration::from_secs(args.idle_timeout.max(1)),
        request: Duration::from_secs(args.request_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        protocol: args.protocol,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(args.max_lookups.max(1))
        .build()
        .map_err(|e| Failure::io(format!("cannot start the event loop: {e}")))?;
    runtime.block_on(serve(listen, responder, limits))
}

/// The connection limits and timeouts.
#[derive(Clone, Copy)]
struct LookupLimits {
    budget: Duration,
    idle: Duration,
    request: Duration,
    max_connections: usize,
    protocol: LookupProtocol,
}

async fn serve(
    listen: SocketAddr,
    responder: Arc<Responder>,
    limits: LookupLimits,
) -> Result<u8, Failure> {
    let failed = |e: std::io::Error| Failure::io(format!("--listen {listen}: {e}"));
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(failed)?;
    socket.set_reuseaddr(true).map_err(failed)?;
    socket.bind(listen).map_err(failed)?;
    let listener = socket.listen(4096).map_err(failed)?;
    eprintln!(
        "{}",
        serde_json::json!({
            "listening": listener.local_addr().map_or_else(|_| listen.to_string(), |a| a.to_string()),
            "protocol": limits.protocol.as_str(),
            "max_connections": limits.max_connections,
            "budget_ms": u64::try_from(limits.budget.as_millis()).unwrap_or(u64::MAX),
        })
    );
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or similar: wait a little rather than spin.
                eprintln!("{}", serde_json::json!({ "accept_error": e.to_string() }));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= limits.max_connections {
            eprintln!(
                "{}",
                serde_json::json!({ "peer": peer.to_string(), "verdict": "turned-away", "limit": "max-connections" })
            );
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let responder = Arc::clone(&responder);
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            connection(stream, responder, limits).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Serves one connection until the client closes it, errs, idles or stalls.
async fn connection(
    mut stream: tokio::net::TcpStream,
    responder: Arc<Responder>,
    limits: LookupLimits,
) {
    let mut decoder = LookupDecoder::new(limits.protocol);
    let mut buffer = vec![0_u8; 4096];
    let mut out = Vec::new();
    let mut partial_since: Option<tokio::time::Instant> = None;
    loop {
        let deadline = match partial_since {
            Some(start) => start + limits.request,
            None => tokio::time::Instant::now() + limits.idle,
        };
        let read = match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        decoder.feed(buffer.get(..read).unwrap_or_default());
        let mut close = false;
        loop {
            match decoder.next_request() {
                Ok(Some(request)) => {
                    let reply = answer_within_budget(&responder, request, limits.budget).await;
                    reply.encode(limits.protocol, &mut out);
                }
                Ok(None) => break,
                Err(e) => {
                    e.reply().encode(limits.protocol, &mut out);
                    if e.is_fatal() {
                        close = true;
                        break;
                    }
                }
            }
        }
        if !out.is_empty() {
            let write = stream.write_all(&out);
            if !matches!(
                tokio::time::timeout(limits.request, write).await,
                Ok(Ok(()))
            ) {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        partial_since = match (decoder.buffered(), partial_since) {
            (0, _) => None,
            (_, Some(start)) => Some(start),
            (_, None) => Some(tokio::time::Instant::now()),
        };
    }
}

/// The reply for one request, or `TEMP` when discovery outlasts the budget.
async fn answer_within_budget(
    responder: &Arc<Responder>,
    request: LookupRequest,
    budget: Duration,
) -> LookupReply {
    if responder.discover.is_none() {
        // Configuration only: microseconds, no blocking.
        return responder.answer(&request).reply;
    }
    let responder = Arc::clone(responder);
    let task = tokio::task::spawn_blocking(move || responder.answer(&request).reply);
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => LookupReply::TempFail("the lookup failed".into()),
        Err(_) => LookupReply::TempFail(format!(
            "the lookup took longer than its {} ms budget",
            budget.as_millis()
        )),
    }
}
