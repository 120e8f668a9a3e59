//! Discovery from the command line: the DNS and MTA-STS flags of `probe`, `send` and
//! `explain`, the lookups for one recipient domain (`io::discover`), and what they found as
//! JSON. A target written as a bare domain is discovered (MX, addresses, TLSA, MTA-STS,
//! TLS-RPT), as posttls-finger does; `[host]`, `host:port` and `--address` name one host.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailtls::cert::TrustAnchors;
use mailtls::io::discover::Discoverer;
use mailtls::io::dns::{BlockingResolver, DnsSettings, DnssecSource, TrustAnchor};
use mailtls::io::{now, StsFetcher};
use mailtls::names::DnsName;
use mailtls::policy::discovery::{
    status_word, DiscoveryAnswers, LookupError, MxOutcome, TlsRptLookup,
};
use mailtls::policy::mta_sts::{StsCache, StsLookup};
use mailtls::policy::OutboundPolicy;
use mailtls::state::{Store, StsCaching, StsState};
use mailtls::tlsrpt::ReportUri;

use crate::common::{quoted, Failure};

/// Where DNS answers and MTA-STS policies come from when a domain is discovered.
#[derive(Debug, Default, clap::Args)]
pub struct DnsArgs {
    /// A DNS server to ask, `IP[:PORT]` (repeatable; default: the `nameserver` lines of
    /// /etc/resolv.conf).
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,
    /// The DNSSEC trust anchor: a file of zone-file DNSKEY lines (default: the root's keys).
    #[arg(long, value_name = "FILE", conflicts_with = "dnssec_from_resolver")]
    pub trust_anchor: Option<PathBuf>,
    /// Take DNSSEC status from the AD bit of the resolvers, which must be on loopback
    /// (Postfix `smtp_dns_support_level = dnssec`), instead of validating here.
    #[arg(long)]
    pub dnssec_from_resolver: bool,
    /// The SMTP port of every MX host (default 25; for labs).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The HTTPS port of every MTA-STS policy host (default 443; for labs).
    #[arg(long, value_name = "PORT")]
    pub sts_port: Option<u16>,
    /// How long one DNS lookup may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub dns_timeout: u64,
}

impl DnsArgs {
    /// Whether any discovery flag was given.
    pub fn given(&self) -> bool {
        !self.resolver.is_empty()
            || self.trust_anchor.is_some()
            || self.dnssec_from_resolver
            || self.port.is_some()
            || self.sts_port.is_some()
    }
}

/// The domain `target` names when it is to be discovered: a bare DNS name, no port, no
/// brackets, not an IP address.
pub fn domain_target(target: &str) -> Option<DnsName> {
    if target.starts_with('[') || target.contains(':') || target.parse::<IpAddr>().is_ok() {
        return None;
    }
    DnsName::parse(target).ok()
}

/// Discovers `domain` for `policy`: MX, addresses, TLSA where the plan wants DANE, MTA-STS
/// (fetched over HTTPS, the certificate checked against `sts_anchors`; cached in `state`
/// when given, `--state`) and TLS-RPT.
pub fn discover(
    domain: &DnsName,
    policy: &OutboundPolicy,
    args: &DnsArgs,
    sts_anchors: TrustAnchors,
    state: Option<&Arc<dyn Store>>,
    json: bool,
) -> Result<DiscoveryAnswers, Failure> {
    let resolver = resolver(args)?;
    let mut fetcher = StsFetcher::new(sts_anchors);
    if let Some(port) = args.sts_port {
        fetcher = fetcher.with_port(port);
    }
    // One process, one destination: the in-process MTA-STS cache lives as long as the
    // command; with --state the store behind it outlives the process.
    let mut memory = StsCache::default();
    let mut stored;
    let cache: &mut (dyn StsCaching + Send) = match state {
        Some(store) => {
            stored = StsState::new(StsCache::default(), Arc::clone(store));
            &mut stored
        }
        None => &mut memory,
    };
    let mut discoverer = Discoverer::new(&resolver, &fetcher, cache);
    if let Some(port) = args.port {
        discoverer = discoverer.with_smtp_port(port);
    }
    let answers = discoverer.discover(policy, domain, now());
    crate::state::say(discoverer.take_store_notice(), json);
    Ok(answers)
}

/// The resolver the DNS flags describe: `--resolver` (else /etc/resolv.conf), validating
/// from `--trust-anchor` (else the root) or trusting a loopback resolver's AD bit.
pub fn resolver(args: &DnsArgs) -> Result<BlockingResolver, Failure> {
    let servers = if args.resolver.is_empty() {
        system_resolvers()?
    } else {
        args.resolver
            .iter()
            .map(|text| resolver_address(text))
            .collect::<Result<Vec<_>, _>>()?
    };
    let dnssec = match (&args.trust_anchor, args.dnssec_from_resolver) {
        (_, true) => DnssecSource::TrustLocalResolverAd,
        (Some(path), false) => DnssecSource::Validate(TrustAnchor::File(path.clone())),
        (None, false) => DnssecSource::Validate(TrustAnchor::Root),
    };
    let settings = DnsSettings::new(servers)
        .with_dnssec(dnssec)
        .with_timeout(Duration::from_secs(args.dns_timeout.max(1)));
    BlockingResolver::new(&settings).map_err(|e| Failure::config(e.to_string()))
}

/// `IP[:PORT]` (or `[IPv6]:PORT`), port 53 by default.
fn resolver_address(text: &str) -> Result<SocketAddr, Failure> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| Failure::usage(format!("--resolver {}: expected IP[:PORT]", quoted(text))))
}

/// The `nameserver` lines of /etc/resolv.conf.
fn system_resolvers() -> Result<Vec<SocketAddr>, Failure> {
    const PATH: &str = "/etc/resolv.conf";
    let text = std::fs::read_to_string(PATH)
        .map_err(|e| Failure::config(format!("{PATH}: {e}; give --resolver IP[:PORT]")))?;
    let servers: Vec<SocketAddr> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if servers.is_empty() {
        return Err(Failure::config(format!(
            "{PATH}: no nameserver line; give --resolver IP[:PORT]"
        )));
    }
    Ok(servers)
}

/// What discovery found, as `--json` prints it (schema in the README).
#[derive(Debug, serde::Serialize)]
pub struct DiscoveryJson {
    pub domain: String,
    pub mx: MxJson,
    pub hosts: Vec<HostJson>,
    pub mta_sts: Option<StsJson>,
    pub tls_rpt: Option<TlsRptJson>,
}

/// The MX lookup.
#[derive(Debug, serde::Serialize)]
pub struct MxJson {
    /// `hosts`, `implicit`, `null-mx`, `no-domain` or `failed`.
    pub outcome: &'static str,
    /// `secure`, `insecure`, `bogus` or `indeterminate`.
    pub dnssec: &'static str,
    pub error: Option<String>,
}

/// One MX host.
#[derive(Debug, serde::Serialize)]
pub struct HostJson {
    pub name: String,
    pub preference: u16,
    pub addresses: Vec<String>,
    pub address_dnssec: &'static str,
    pub address_error: Option<String>,
    /// `null` when the plan wanted no DANE for the host (so TLSA was not looked up).
    pub tlsa: Option<TlsaJson>,
}

/// One host's TLSA lookup.
#[derive(Debug, serde::Serialize)]
pub struct TlsaJson {
    pub dnssec: &'static str,
    pub base_domain: String,
    /// The usable records, presentation form.
    pub records: Vec<String>,
    /// Records present but unusable, with why.
    pub unusable: Vec<String>,
    pub error: Option<String>,
}

/// The MTA-STS lookup.
#[derive(Debug, serde::Serialize)]
pub struct StsJson {
    /// `policy`, `no-policy` or `temporary-failure`.
    pub state: &'static str,
    pub mode: Option<&'static str>,
    pub max_age: Option<u64>,
    pub mx: Vec<String>,
    /// Whether the policy came from the cache rather than a fetch just now.
    pub from_cache: bool,
    /// A failed fetch or refresh, with its RFC 8460 result type.
    pub error: Option<String>,
    pub result_type: Option<String>,
}

/// The TLS-RPT record lookup.
#[derive(Debug, serde::Serialize)]
pub struct TlsRptJson {
    /// `record`, `no-record` or `failed`.
    pub state: &'static str,
    pub rua: Vec<String>,
    pub error: Option<String>,
}

impl DiscoveryJson {
    /// The JSON view of `answers`.
    pub fn of(answers: &DiscoveryAnswers) -> Self {
        Self {
            domain: answers.domain.to_string(),
            mx: mx_json(&answers.mx),
            hosts: answers
                .hosts
                .iter()
                .map(|h| HostJson {
                    name: h.host.name.to_string(),
                    preference: h.host.preference,
                    addresses: h.addresses.iter().map(ToString::to_string).collect(),
                    address_dnssec: status_word(h.address_status),
                    address_error: h.address_error.as_ref().map(ToString::to_string),
                    tlsa: h.tlsa.as_ref().map(|t| TlsaJson {
                        dnssec: status_word(t.status),
                        base_domain: t.base_domain.to_string(),
                        records: t.set.usable().iter().map(ToString::to_string).collect(),
                        unusable: t
                            .set
                            .unusable()
                            .iter()
                            .map(|u| format!("{}: {}", u.presented, u.reason))
                            .collect(),
                        error: t.error.as_ref().map(ToString::to_string),
                    }),
                })
                .collect(),
            mta_sts: answers.sts.as_ref().map(sts_json),
            tls_rpt: answers.tlsrpt.as_ref().map(tlsrpt_json),
        }
    }
}

fn mx_json(mx: &MxOutcome) -> MxJson {
    let (outcome, status, error): (_, _, Option<&LookupError>) = match mx {
        MxOutcome::Hosts { status, .. } => ("hosts", *status, None),
        MxOutcome::Implicit { status } => ("implicit", *status, None),
        MxOutcome::NullMx { status } => ("null-mx", *status, None),
        MxOutcome::NoDomain { status } => ("no-domain", *status, None),
        MxOutcome::Failed(e) => ("failed", e.status(), Some(e)),
        _ => ("failed", mx.status(), None),
    };
    MxJson {
        outcome,
        dnssec: status_word(status),
        error: error.map(ToString::to_string),
    }
}

fn sts_json(lookup: &StsLookup) -> StsJson {
    let empty = StsJson {
        state: "no-policy",
        mode: None,
        max_age: None,
        mx: Vec::new(),
        from_cache: false,
        error: None,
        result_type: None,
    };
    match lookup {
        StsLookup::Policy {
            policy,
            from_cache,
            refresh_error,
        } => StsJson {
            state: "policy",
            mode: Some(policy.mode().as_str()),
            max_age: Some(policy.max_age().as_secs()),
            mx: policy
                .mx_patterns()
                .iter()
                .map(ToString::to_string)
                .collect(),
            from_cache: *from_cache,
            error: refresh_error.as_ref().map(ToString::to_string),
            result_type: refresh_error.as_ref().map(|e| e.result_type().to_string()),
        },
        StsLookup::NoPolicy { fetch_error } => StsJson {
            error: fetch_error.as_ref().map(ToString::to_string),
            result_type: fetch_error.as_ref().map(|e| e.result_type().to_string()),
            ..empty
        },
        StsLookup::TemporaryFailure => StsJson {
            state: "temporary-failure",
            ..empty
        },
        _ => empty,
    }
}

fn tlsrpt_json(lookup: &TlsRptLookup) -> TlsRptJson {
    match lookup {
        TlsRptLookup::Record(record) => TlsRptJson {
            state: "record",
            rua: record
                .rua
                .iter()
                .map(|uri| match uri {
                    ReportUri::Https(url) => url.clone(),
                    ReportUri::Mailto(address) => format!("mailto:{address}"),
                    _ => String::new(),
                })
                .collect(),
            error: None,
        },
        TlsRptLookup::NoRecord { invalid } => TlsRptJson {
            state: "no-record",
            rua: Vec::new(),
            error: invalid.as_ref().map(ToString::to_string),
        },
        TlsRptLookup::Failed(e) => TlsRptJson {
            state: "failed",
            rua: Vec::new(),
            error: Some(e.to_string()),
        },
        _ => TlsRptJson {
            state: "failed",
            rua: Vec::new(),
            error: None,
        },
    }
}
