//! Delivery to a recipient domain, both adapters: discovery over an in-memory resolver whose
//! MX points at a server on 127.0.0.1 (reached on the discoverer's SMTP port), precedence,
//! then the delivery. The DANE case authenticates the server's certificate through the TLSA
//! record discovery found, with no trust anchor at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::IpAddr;

use mailtls::client::DeliveryOutcome;
use mailtls::io::discover::{Discoverer, NoFetch};
use mailtls::io::dns::Resolve;
use mailtls::io::{blocking, Mailer};
use mailtls::names::DnsName;
use mailtls::policy::dane::{DnssecStatus, TlsaRecord};
use mailtls::policy::discovery::{DnsAnswer, Lookup, LookupError, MxRecord};
use mailtls::policy::mta_sts::StsCache;
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{Authentication, Level, OutboundPolicy, Source};
use support::dane::spki_record;
use support::loopback::{blocking_server, message, server_config, MX};
use support::pki::Ca;

/// `partner.test`: MX 10 mx.partner.test at 127.0.0.1, with `tlsa` at `_25._tcp`, all
/// DNSSEC-secure.
struct Zone {
    tlsa: Vec<u8>,
}

fn secure<T>(records: Vec<T>) -> Lookup<T> {
    Ok(DnsAnswer {
        records,
        status: DnssecStatus::Secure,
        canonical: None,
    })
}

impl Resolve for Zone {
    fn mx(&self, _: &DnsName) -> Lookup<MxRecord> {
        secure(vec![MxRecord {
            preference: 10,
            exchange: Some(DnsName::parse(MX).unwrap()),
        }])
    }
    fn addresses(&self, _: &DnsName) -> Lookup<IpAddr> {
        secure(vec!["127.0.0.1".parse().unwrap()])
    }
    fn tlsa(&self, _: &DnsName) -> Lookup<Vec<u8>> {
        secure(vec![self.tlsa.clone()])
    }
    fn txt(&self, _: &DnsName) -> Lookup<String> {
        Err(LookupError::NotFound {
            nxdomain: false,
            status: DnssecStatus::Secure,
        })
    }
}

#[cfg(feature = "tokio")]
impl mailtls::io::dns::AsyncResolve for Zone {
    async fn mx(&self, domain: &DnsName) -> Lookup<MxRecord> {
        Resolve::mx(self, domain)
    }
    async fn addresses(&self, host: &DnsName) -> Lookup<IpAddr> {
        Resolve::addresses(self, host)
    }
    async fn tlsa(&self, owner: &DnsName) -> Lookup<Vec<u8>> {
        Resolve::tlsa(self, owner)
    }
    async fn txt(&self, owner: &DnsName) -> Lookup<String> {
        Resolve::txt(self, owner)
    }
}

fn zone_for(pki: &Ca) -> (Zone, mailtls::tls::TlsIdentity) {
    let leaf = pki.leaf_for(MX);
    let record = TlsaRecord::parse_presentation(&spki_record(3, &leaf.der)).unwrap();
    (
        Zone {
            tlsa: record.to_rdata(),
        },
        leaf.identity(),
    )
}

fn mailer() -> Mailer {
    Mailer::new(
        "client.sender.test",
        OutboundPolicy::new().with_default_level(Level::Dane),
    )
    .unwrap()
}

#[test]
fn blocking_delivery_to_a_dane_domain_authenticates_through_discovered_tlsa() {
    let pki = Ca::root("mailtls domain delivery CA");
    let (zone, identity) = zone_for(&pki);
    let (addr, inbox, server) = blocking_server(server_config(Some(identity)), 1);
    let mut cache = StsCache::default();
    let mut discoverer = Discoverer::new(&zone, &NoFetch, &mut cache).with_smtp_port(addr.port());
    let messages = [message("dane-domain", "rcpt@partner.test")];
    let report = blocking::deliver_to_domain(
        &mailer(),
        &mut discoverer,
        &DnsName::parse("partner.test").unwrap(),
        &messages,
        MessageTls::default(),
    )
    .unwrap();
    server.join().unwrap();
    let decision = report.decision.as_ref().unwrap();
    assert_eq!(decision.hosts[0].decided_by, Source::Dane, "{decision}");
    assert!(matches!(
        decision.plan.hosts[0].requirement.authentication,
        Authentication::Tlsa(_)
    ));
    assert!(report.report.all_accepted(), "{:?}", report.report.outcome);
    assert!(matches!(
        report.report.outcome,
        Some(DeliveryOutcome::Completed { tls: true, .. })
    ));
    assert_eq!(inbox.lock().unwrap().messages.len(), 1);
}

#[test]
fn a_tlsa_record_that_does_not_match_never_delivers() {
    let pki = Ca::root("mailtls domain delivery CA");
    let (_, identity) = zone_for(&pki);
    // The TLSA record of another key: the server's certificate cannot match it.
    let other = Ca::root("another CA").leaf_for(MX);
    let zone = Zone {
        tlsa: TlsaRecord::parse_presentation(&spki_record(3, &other.der))
            .unwrap()
            .to_rdata(),
    };
    let (addr, inbox, server) = blocking_server(server_config(Some(identity)), 1);
    let mut cache = StsCache::default();
    let mut discoverer = Discoverer::new(&zone, &NoFetch, &mut cache).with_smtp_port(addr.port());
    let messages = [message("dane-mismatch", "rcpt@partner.test")];
    let report = blocking::deliver_to_domain(
        &mailer(),
        &mut discoverer,
        &DnsName::parse("partner.test").unwrap(),
        &messages,
        MessageTls::default(),
    )
    .unwrap();
    server.join().unwrap();
    assert!(!report.report.all_accepted());
    assert!(matches!(
        report.report.outcome,
        Some(DeliveryOutcome::Deferred(_))
    ));
    assert!(inbox.lock().unwrap().messages.is_empty());
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_delivery_to_a_dane_domain_authenticates_through_discovered_tlsa() {
    use mailtls::io::tokio as aio;
    use std::sync::{Arc, Mutex};
    use support::loopback::{recorder, Inbox};

    let pki = Ca::root("mailtls domain delivery CA");
    let (zone, identity) = zone_for(&pki);
    let config = server_config(Some(identity));
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn({
            let inbox = Arc::clone(&inbox);
            async move {
                let mut app = recorder(inbox);
                let _ = aio::serve_one(&listener, config, &mut app).await;
            }
        });
        let mut cache = StsCache::default();
        let mut discoverer = Discoverer::new(&zone, &NoFetch, &mut cache).with_smtp_port(port);
        let messages = [message("dane-domain-tokio", "rcpt@partner.test")];
        let report = aio::deliver_to_domain(
            &mailer(),
            &mut discoverer,
            &DnsName::parse("partner.test").unwrap(),
            &messages,
            MessageTls::default(),
        )
        .await
        .unwrap();
        server.await.unwrap();
        report
    });
    assert!(report.report.all_accepted(), "{:?}", report.report.outcome);
    assert_eq!(report.decision.unwrap().hosts[0].decided_by, Source::Dane);
    assert_eq!(inbox.lock().unwrap().messages.len(), 1);
}
