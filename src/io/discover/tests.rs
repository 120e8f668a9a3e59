//! Every branch of discovery over a fake resolver and a fake policy fetcher.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::policy::discovery::DnsAnswer;
use crate::policy::mta_sts::{StsCache, StsLookup, StsMode};
use crate::policy::{HostAction, Level, Source};
use crate::tlsrpt::ResultType;

fn name(s: &str) -> DnsName {
    DnsName::parse_owner(s).unwrap()
}

fn secure<T>(records: Vec<T>) -> Lookup<T> {
    Ok(DnsAnswer {
        records,
        status: DnssecStatus::Secure,
        canonical: None,
    })
}

fn insecure<T>(records: Vec<T>) -> Lookup<T> {
    Ok(DnsAnswer {
        records,
        status: DnssecStatus::Insecure,
        canonical: None,
    })
}

fn nodata<T>(status: DnssecStatus) -> Lookup<T> {
    Err(LookupError::NotFound {
        nxdomain: false,
        status,
    })
}

fn temporary<T>() -> Lookup<T> {
    Err(LookupError::Temporary {
        detail: "SERVFAIL".into(),
    })
}

fn bogus<T>() -> Lookup<T> {
    Err(LookupError::Bogus {
        detail: "RRSIG expired".into(),
    })
}

/// A `3 1 1` record's wire RDATA (the digest need not match anything here).
fn tlsa_rdata() -> Vec<u8> {
    let mut wire = vec![3, 1, 1];
    wire.extend([0xAB; 32]);
    wire
}

/// Answers from tables; anything not in a table is NXDOMAIN (insecure). Every query is
/// logged as `TYPE name`.
#[derive(Default)]
struct Fake {
    mx: HashMap<String, Lookup<MxRecord>>,
    addresses: HashMap<String, Lookup<IpAddr>>,
    tlsa: HashMap<String, Lookup<Vec<u8>>>,
    txt: RefCell<HashMap<String, Lookup<String>>>,
    log: RefCell<Vec<String>>,
}

fn get<T: Clone>(table: &HashMap<String, Lookup<T>>, key: &DnsName) -> Lookup<T> {
    table
        .get(key.as_str())
        .cloned()
        .unwrap_or(Err(LookupError::NotFound {
            nxdomain: true,
            status: DnssecStatus::Insecure,
        }))
}

impl Resolve for Fake {
    fn mx(&self, domain: &DnsName) -> Lookup<MxRecord> {
        self.log.borrow_mut().push(format!("MX {domain}"));
        get(&self.mx, domain)
    }
    fn addresses(&self, host: &DnsName) -> Lookup<IpAddr> {
        self.log.borrow_mut().push(format!("A {host}"));
        get(&self.addresses, host)
    }
    fn tlsa(&self, owner: &DnsName) -> Lookup<Vec<u8>> {
        self.log.borrow_mut().push(format!("TLSA {owner}"));
        get(&self.tlsa, owner)
    }
    fn txt(&self, owner: &DnsName) -> Lookup<String> {
        self.log.borrow_mut().push(format!("TXT {owner}"));
        get(&self.txt.borrow(), owner)
    }
}

impl Fake {
    /// `example.com`: MX 10 mx.example.com at 192.0.2.25, all with `status`.
    fn one_mx(status: DnssecStatus) -> Self {
        let answer = |records| {
            Ok(DnsAnswer {
                records,
                status,
                canonical: None,
            })
        };
        let mut fake = Self::default();
        fake.mx.insert(
            "example.com".into(),
            answer(vec![MxRecord {
                preference: 10,
                exchange: Some(name("mx.example.com")),
            }]),
        );
        fake.addresses.insert(
            "mx.example.com".into(),
            Ok(DnsAnswer {
                records: vec!["192.0.2.25".parse().unwrap()],
                status,
                canonical: None,
            }),
        );
        fake
    }

    fn set_txt(&self, owner: &str, lookup: Lookup<String>) {
        self.txt.borrow_mut().insert(owner.into(), lookup);
    }

    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";

/// Serves one policy text (or an error), counting fetches and the addresses given.
struct FakeFetch {
    result: Result<&'static str, StsFetchError>,
    fetches: Cell<usize>,
    addresses: RefCell<Vec<IpAddr>>,
}

impl FakeFetch {
    fn serving(text: &'static str) -> Self {
        Self {
            result: Ok(text),
            fetches: Cell::new(0),
            addresses: RefCell::new(Vec::new()),
        }
    }
}

impl FetchPolicy for FakeFetch {
    fn fetch(
        &self,
        request: &StsFetchRequest,
        addresses: &[IpAddr],
    ) -> Result<StsPolicy, StsFetchError> {
        assert_eq!(request.host, "mta-sts.example.com");
        self.fetches.set(self.fetches.get() + 1);
        *self.addresses.borrow_mut() = addresses.to_vec();
        match &self.result {
            Ok(text) => Ok(StsPolicy::parse(text.as_bytes()).unwrap()),
            Err(e) => Err(e.clone()),
        }
    }
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_since_epoch(Duration::from_secs(1_800_000_000 + secs))
}

fn discover(
    fake: &Fake,
    fetch: &FakeFetch,
    cache: &mut StsCache,
    policy: &OutboundPolicy,
    now: Timestamp,
) -> DiscoveryAnswers {
    Discoverer::new(fake, fetch, cache)
        .with_random(|_| 0)
        .discover(policy, &name("example.com"), now)
}

fn dane() -> OutboundPolicy {
    OutboundPolicy::new().with_default_level(Level::Dane)
}

fn decide(answers: &DiscoveryAnswers, policy: &OutboundPolicy) -> Decision {
    answers.decide(
        policy.plan(&answers.destination().unwrap()),
        MessageTls::default(),
    )
}

#[test]
fn null_mx_stops_discovery_and_bounces() {
    let mut fake = Fake::default();
    fake.mx.insert(
        "example.com".into(),
        secure(vec![MxRecord {
            preference: 0,
            exchange: None,
        }]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
    assert!(matches!(answers.mx, MxOutcome::NullMx { .. }));
    assert!(answers.hosts.is_empty());
    assert_eq!(fake.log(), ["MX example.com"]);
    assert!(answers.mx.failure().unwrap().is_permanent());
}

#[test]
fn no_mx_delivers_to_the_domain_itself() {
    let mut fake = Fake::default();
    fake.mx
        .insert("example.com".into(), nodata(DnssecStatus::Insecure));
    fake.addresses.insert(
        "example.com".into(),
        insecure(vec!["192.0.2.7".parse().unwrap()]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(
        &fake,
        &fetch,
        &mut StsCache::default(),
        &OutboundPolicy::new(),
        at(0),
    );
    assert!(matches!(answers.mx, MxOutcome::Implicit { .. }));
    assert_eq!(answers.hosts.len(), 1);
    assert_eq!(answers.hosts[0].host.name.as_str(), "example.com");
    assert_eq!(
        answers.hosts[0].addresses,
        ["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    // No DANE wanted (default level `may`): no TLSA query at all.
    assert_eq!(
        fake.log(),
        [
            "MX example.com",
            "A example.com",
            "TXT _mta-sts.example.com",
            "TXT _smtp._tls.example.com"
        ]
    );
}

#[test]
fn secure_cname_expansion_sets_the_tlsa_base_domain() {
    let mut fake = Fake::one_mx(DnssecStatus::Secure);
    fake.addresses.insert(
        "mx.example.com".into(),
        Ok(DnsAnswer {
            records: vec!["192.0.2.25".parse().unwrap()],
            status: DnssecStatus::Secure,
            canonical: Some(name("smtp.provider.example")),
        }),
    );
    fake.tlsa.insert(
        "_25._tcp.smtp.provider.example".into(),
        secure(vec![tlsa_rdata()]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
    let tlsa = answers.hosts[0].tlsa.as_ref().unwrap();
    assert_eq!(tlsa.base_domain.as_str(), "smtp.provider.example");
    assert_eq!(tlsa.status, DnssecStatus::Secure);
    assert!(tlsa.set.has_usable());
    let decision = decide(&answers, &dane());
    assert_eq!(decision.hosts[0].decided_by, Source::Dane);
    assert_eq!(decision.hosts[0].action, HostAction::Connect);

    // Nothing at the expanded name: the host name is tried next.
    fake.tlsa.remove("_25._tcp.smtp.provider.example");
    fake.tlsa.insert(
        "_25._tcp.smtp.provider.example".into(),
        nodata(DnssecStatus::Secure),
    );
    fake.tlsa
        .insert("_25._tcp.mx.example.com".into(), secure(vec![tlsa_rdata()]));
    let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
    let tlsa = answers.hosts[0].tlsa.as_ref().unwrap();
    assert_eq!(tlsa.base_domain.as_str(), "mx.example.com");
    assert!(tlsa.set.has_usable());
    let log = fake.log();
    let tlsa_queries: Vec<_> = log.iter().filter(|l| l.starts_with("TLSA")).collect();
    assert_eq!(
        tlsa_queries[1..],
        [
            "TLSA _25._tcp.smtp.provider.example",
            "TLSA _25._tcp.mx.example.com"
        ]
    );
}

#[test]
fn insecure_addresses_get_no_tlsa_lookup_and_dane_does_not_apply() {
    let fake = Fake::one_mx(DnssecStatus::Insecure);
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
    assert!(!fake.log().iter().any(|l| l.starts_with("TLSA")));
    assert_eq!(
        answers.hosts[0].tlsa.as_ref().unwrap().status,
        DnssecStatus::Insecure
    );
    let decision = decide(&answers, &dane());
    assert_eq!(decision.hosts[0].action, HostAction::Connect);
}

#[test]
fn bogus_or_failed_tlsa_skips_the_host_never_downgrades() {
    for (lookup, status) in [
        (bogus(), DnssecStatus::Bogus),
        (temporary(), DnssecStatus::Indeterminate),
    ] {
        let mut fake = Fake::one_mx(DnssecStatus::Secure);
        fake.tlsa.insert("_25._tcp.mx.example.com".into(), lookup);
        let fetch = FakeFetch::serving(ENFORCE);
        let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
        let tlsa = answers.hosts[0].tlsa.as_ref().unwrap();
        assert_eq!(tlsa.status, status);
        assert!(tlsa.error.is_some());
        let decision = decide(&answers, &dane());
        match &decision.hosts[0].action {
            HostAction::Skip {
                status,
                result_type,
            } => {
                assert!(!status.is_permanent(), "{status}");
                assert_eq!(*result_type, Some(ResultType::DnssecInvalid));
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn bogus_or_failed_addresses_skip_a_dane_host() {
    for lookup in [bogus(), temporary()] {
        let mut fake = Fake::one_mx(DnssecStatus::Secure);
        fake.addresses.insert("mx.example.com".into(), lookup);
        let fetch = FakeFetch::serving(ENFORCE);
        let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
        assert!(!fake.log().iter().any(|l| l.starts_with("TLSA")));
        let decision = decide(&answers, &dane());
        assert!(
            matches!(decision.hosts[0].action, HostAction::Skip { .. }),
            "{decision}"
        );
    }
}

#[test]
fn bogus_or_failed_mx_defers_without_further_lookups() {
    for lookup in [bogus(), temporary()] {
        let mut fake = Fake::default();
        fake.mx.insert("example.com".into(), lookup);
        let fetch = FakeFetch::serving(ENFORCE);
        let answers = discover(&fake, &fetch, &mut StsCache::default(), &dane(), at(0));
        assert_eq!(fake.log(), ["MX example.com"]);
        let failure = answers.mx.failure().unwrap();
        assert!(!failure.is_permanent(), "{failure}");
    }
}

#[test]
fn sts_temporary_failure_defers_when_nothing_is_cached() {
    for lookup in [temporary(), bogus()] {
        let fake = Fake::one_mx(DnssecStatus::Insecure);
        fake.set_txt("_mta-sts.example.com", lookup);
        let fetch = FakeFetch::serving(ENFORCE);
        let answers = discover(
            &fake,
            &fetch,
            &mut StsCache::default(),
            &OutboundPolicy::new(),
            at(0),
        );
        assert_eq!(answers.sts, Some(StsLookup::TemporaryFailure));
        assert_eq!(fetch.fetches.get(), 0);
        let decision = decide(&answers, &OutboundPolicy::new());
        assert!(
            matches!(decision.hosts[0].action, HostAction::Skip { .. }),
            "{decision}"
        );
    }
}

#[test]
fn sts_policy_is_fetched_once_and_refetched_when_the_id_changes() {
    let mut fake = Fake::one_mx(DnssecStatus::Insecure);
    fake.set_txt(
        "_mta-sts.example.com",
        insecure(vec!["v=STSv1; id=1".into()]),
    );
    fake.addresses.insert(
        "mta-sts.example.com".into(),
        insecure(vec!["192.0.2.80".parse().unwrap()]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let mut cache = StsCache::default();
    let policy = OutboundPolicy::new();

    let answers = discover(&fake, &fetch, &mut cache, &policy, at(0));
    assert_eq!(fetch.fetches.get(), 1);
    assert_eq!(
        *fetch.addresses.borrow(),
        ["192.0.2.80".parse::<IpAddr>().unwrap()]
    );
    match &answers.sts {
        Some(StsLookup::Policy {
            policy, from_cache, ..
        }) => {
            assert_eq!(policy.mode(), StsMode::Enforce);
            assert!(!from_cache);
        }
        _ => panic!("expected a fetched policy\n{answers}"),
    }
    assert_eq!(
        decide(&answers, &policy).hosts[0].decided_by,
        Source::MtaSts
    );

    // Same id: the cache answers.
    let answers = discover(&fake, &fetch, &mut cache, &policy, at(60));
    assert_eq!(fetch.fetches.get(), 1);
    assert!(matches!(
        answers.sts,
        Some(StsLookup::Policy {
            from_cache: true,
            ..
        })
    ));

    // A new id: fetched again.
    fake.set_txt(
        "_mta-sts.example.com",
        insecure(vec!["v=STSv1; id=2".into()]),
    );
    discover(&fake, &fetch, &mut cache, &policy, at(120));
    assert_eq!(fetch.fetches.get(), 2);

    // The TXT lookup fails later: the cached policy still applies, nothing fetched.
    fake.set_txt("_mta-sts.example.com", temporary());
    let answers = discover(&fake, &fetch, &mut cache, &policy, at(180));
    assert_eq!(fetch.fetches.get(), 2);
    assert!(answers.sts.as_ref().unwrap().active_policy().is_some());
}

#[test]
fn a_policy_host_without_address_is_a_failed_fetch() {
    let fake = Fake::one_mx(DnssecStatus::Insecure);
    fake.set_txt(
        "_mta-sts.example.com",
        insecure(vec!["v=STSv1; id=1".into()]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(
        &fake,
        &fetch,
        &mut StsCache::default(),
        &OutboundPolicy::new(),
        at(0),
    );
    assert_eq!(fetch.fetches.get(), 0);
    match &answers.sts {
        Some(StsLookup::NoPolicy {
            fetch_error: Some(e),
        }) => assert_eq!(e.result_type(), ResultType::StsPolicyFetchError),
        _ => panic!("expected a failed fetch\n{answers}"),
    }
}

#[test]
fn tlsrpt_record_is_carried() {
    let fake = Fake::one_mx(DnssecStatus::Insecure);
    fake.set_txt(
        "_smtp._tls.example.com",
        insecure(vec!["v=TLSRPTv1; rua=mailto:tlsrpt@example.com".into()]),
    );
    let fetch = FakeFetch::serving(ENFORCE);
    let answers = discover(
        &fake,
        &fetch,
        &mut StsCache::default(),
        &OutboundPolicy::new(),
        at(0),
    );
    assert!(matches!(answers.tlsrpt, Some(TlsRptLookup::Record(_))));
    let text = answers.to_string();
    assert!(text.contains("MX (insecure): 10 mx.example.com"), "{text}");
    assert!(text.contains("TLS-RPT: 1 destination\n"), "{text}");
}

#[test]
fn mx_failures_report_without_connecting() {
    let mailer = Mailer::new("client.example", OutboundPolicy::new()).unwrap();
    let mut fake = Fake::default();
    fake.mx.insert(
        "example.com".into(),
        secure(vec![MxRecord {
            preference: 0,
            exchange: None,
        }]),
    );
    let fetch = NoFetch;
    let mut cache = StsCache::default();
    let mut discoverer = Discoverer::new(&fake, &fetch, &mut cache);
    let answers = discoverer.discover(mailer.policy(), &name("example.com"), at(0));
    match prepare(&mailer, answers, MessageTls::default(), None, 2).unwrap() {
        Prepared::NoHost(report) => {
            assert!(report.decision.is_none());
            assert_eq!(report.report.messages.len(), 2);
            assert!(matches!(
                report.report.outcome,
                Some(DeliveryOutcome::Bounced(_))
            ));
        }
        Prepared::Deliver { .. } => panic!("a null MX must not be delivered to"),
    }
}

#[test]
fn the_connector_reaches_hosts_at_discovered_addresses_on_the_lab_port() {
    let mailer = Mailer::new("client.example", OutboundPolicy::new()).unwrap();
    let fake = Fake::one_mx(DnssecStatus::Insecure);
    let fetch = NoFetch;
    let mut cache = StsCache::default();
    let mut discoverer = Discoverer::new(&fake, &fetch, &mut cache).with_smtp_port(2525);
    let answers = discoverer.discover(mailer.policy(), &name("example.com"), at(0));
    match prepare(&mailer, answers, MessageTls::default(), Some(2525), 1).unwrap() {
        Prepared::Deliver(job) => {
            let host = crate::names::HostId::Dns(name("mx.example.com"));
            let super::super::client::Target::Addrs(addrs) = job.connector.target(&host, 25) else {
                panic!("expected fixed addresses");
            };
            assert_eq!(addrs, ["192.0.2.25:2525".parse().unwrap()]);
        }
        Prepared::NoHost(report) => panic!("{}", report.discovery),
    }
}

#[test]
fn a_policy_another_process_stored_applies_without_a_fetch_and_without_the_txt_record() {
    use crate::state::{MemoryState, Store, StsState};
    use std::sync::Arc;

    let mut fake = Fake::one_mx(DnssecStatus::Insecure);
    fake.set_txt(
        "_mta-sts.example.com",
        insecure(vec!["v=STSv1; id=1".into()]),
    );
    fake.addresses.insert(
        "mta-sts.example.com".into(),
        insecure(vec!["192.0.2.80".parse().unwrap()]),
    );
    let store: Arc<dyn Store> = Arc::new(MemoryState::new());
    let policy = OutboundPolicy::new();

    // Process 1 fetches and stores the policy.
    let fetch = FakeFetch::serving(ENFORCE);
    let mut first = StsState::new(StsCache::default(), Arc::clone(&store));
    let mut discoverer = Discoverer::new(&fake, &fetch, &mut first).with_random(|_| 0);
    discoverer.discover(&policy, &name("example.com"), at(0));
    assert_eq!(fetch.fetches.get(), 1);
    assert_eq!(discoverer.take_store_notice(), None);

    // Process 2 never fetched, cannot fetch, and the attacker strips the TXT record: the
    // stored enforce policy still decides.
    fake.set_txt("_mta-sts.example.com", nodata(DnssecStatus::Insecure));
    let unreachable = FakeFetch {
        result: Err(StsFetchError::Transport {
            detail: "connection refused".into(),
        }),
        fetches: Cell::new(0),
        addresses: RefCell::new(Vec::new()),
    };
    let mut second = StsState::new(StsCache::default(), Arc::clone(&store));
    let answers = Discoverer::new(&fake, &unreachable, &mut second)
        .with_random(|_| 0)
        .discover(&policy, &name("example.com"), at(60));
    assert_eq!(unreachable.fetches.get(), 0);
    let active = answers.sts.as_ref().and_then(StsLookup::active_policy);
    assert_eq!(active.map(StsPolicy::mode), Some(StsMode::Enforce));
    assert_eq!(
        decide(&answers, &policy).hosts[0].decided_by,
        Source::MtaSts
    );
}
