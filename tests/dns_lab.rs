//! Discovery against a real DNS lab (`.ci/lab`): knot serving signed zones under a `test.`
//! parent (valid NSEC, valid NSEC3, an unsigned child, expired signatures, one bad TLSA
//! signature) and unbound validating in front of it. hickory validates the authoritative
//! answers itself from the lab's `test.` key; the AD-bit route asks unbound.
//!
//! Reads the lab's `lab.env` from `MAILTLS_LAB_ENV` (`LAB_DNS`, `LAB_RESOLVER`,
//! `LAB_TRUST_ANCHOR`, ...). hickory trusts an anchored zone's DNSKEY RRset without a DS
//! lookup only when every key in it is an anchor, so `LAB_TRUST_ANCHOR` must list every
//! `test.` DNSKEY (KSK and ZSK), not the KSK alone. Without it the tests pass vacuously, unless
//! `CI=true`: then a missing lab fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use mailtls::io::discover::{Discoverer, NoFetch};
use mailtls::io::dns::{BlockingResolver, DnsSettings, DnssecSource, Resolve, TrustAnchor};
use mailtls::names::DnsName;
use mailtls::policy::dane::DnssecStatus;
use mailtls::policy::discovery::{DiscoveryAnswers, LookupError, MxOutcome};
use mailtls::policy::mta_sts::StsCache;
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{HostAction, Level, OutboundPolicy, Source};
use mailtls::report::ResultType;

fn lab() -> Option<HashMap<String, String>> {
    let Ok(path) = std::env::var("MAILTLS_LAB_ENV") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but MAILTLS_LAB_ENV is not set: the DNS lab must run"
        );
        eprintln!("MAILTLS_LAB_ENV not set: skipping the DNS lab tests");
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

fn addr(env: &HashMap<String, String>, key: &str) -> SocketAddr {
    env[key].parse().unwrap()
}

/// A validating resolver asking knot directly, anchored at the lab's `test.` key.
fn validating(env: &HashMap<String, String>) -> BlockingResolver {
    let settings = DnsSettings::new([addr(env, "LAB_DNS")])
        .with_dnssec(DnssecSource::Validate(TrustAnchor::File(
            env["LAB_TRUST_ANCHOR"].clone().into(),
        )))
        .with_timeout(Duration::from_secs(5));
    BlockingResolver::new(&settings).unwrap()
}

/// A stub trusting unbound's AD bit.
fn trusting_ad(env: &HashMap<String, String>) -> BlockingResolver {
    let settings = DnsSettings::new([addr(env, "LAB_RESOLVER")])
        .with_dnssec(DnssecSource::TrustLocalResolverAd)
        .with_timeout(Duration::from_secs(5));
    BlockingResolver::new(&settings).unwrap()
}

fn name(s: &str) -> DnsName {
    DnsName::parse(s).unwrap()
}

fn discover(resolver: &BlockingResolver, domain: &str) -> DiscoveryAnswers {
    let mut cache = StsCache::default();
    let policy = OutboundPolicy::new().with_default_level(Level::Dane);
    let mut discoverer = Discoverer::new(resolver, &NoFetch, &mut cache);
    discoverer.discover(&policy, &name(domain), mailtls::io::now())
}

#[test]
fn signed_zones_validate_and_carry_their_tlsa() {
    let Some(env) = lab() else { return };
    for resolver in [validating(&env), trusting_ad(&env)] {
        for key in ["LAB_DOMAIN_VALID", "LAB_DOMAIN_NSEC3"] {
            let domain = &env[key];
            let answers = discover(&resolver, domain);
            assert_eq!(answers.mx.status(), DnssecStatus::Secure, "{answers}");
            let host = &answers.hosts[0];
            assert_eq!(host.host.name.as_str(), format!("mx.{domain}"));
            assert_eq!(host.address_status, DnssecStatus::Secure, "{answers}");
            assert!(!host.addresses.is_empty());
            let tlsa = host.tlsa.as_ref().unwrap();
            assert_eq!(tlsa.status, DnssecStatus::Secure, "{answers}");
            assert!(tlsa.set.has_usable(), "{answers}");
            let spki = &env["LAB_SMTP_SPKI_SHA256"];
            assert!(
                tlsa.set
                    .usable()
                    .iter()
                    .any(|r| r.to_string().to_lowercase().ends_with(spki)),
                "{answers}"
            );
            let decision = answers.decide(
                OutboundPolicy::new()
                    .with_default_level(Level::Dane)
                    .plan(&answers.destination().unwrap()),
                MessageTls::default(),
            );
            assert_eq!(decision.hosts[0].decided_by, Source::Dane, "{decision}");
        }
    }
}

#[test]
fn an_unsigned_child_is_insecure_not_bogus() {
    let Some(env) = lab() else { return };
    for resolver in [validating(&env), trusting_ad(&env)] {
        let answers = discover(&resolver, &env["LAB_DOMAIN_INSECURE"]);
        assert_eq!(answers.mx.status(), DnssecStatus::Insecure, "{answers}");
        assert_eq!(answers.hosts[0].address_status, DnssecStatus::Insecure);
        // No TLSA lookup behind insecure addresses: DANE does not apply.
        assert_eq!(
            answers.hosts[0].tlsa.as_ref().unwrap().status,
            DnssecStatus::Insecure
        );
    }
}

#[test]
fn expired_signatures_defer_never_downgrade() {
    let Some(env) = lab() else { return };
    let answers = discover(&validating(&env), &env["LAB_DOMAIN_BOGUS"]);
    assert!(
        matches!(answers.mx, MxOutcome::Failed(LookupError::Bogus { .. })),
        "{answers}"
    );
    assert!(!answers.mx.failure().unwrap().is_permanent());
    // unbound answers SERVFAIL for a bogus answer: a temporary failure, also a defer.
    let answers = discover(&trusting_ad(&env), &env["LAB_DOMAIN_BOGUS"]);
    assert!(matches!(answers.mx, MxOutcome::Failed(_)), "{answers}");
    assert!(!answers.mx.failure().unwrap().is_permanent());
}

#[test]
fn a_bad_tlsa_signature_skips_the_host_with_dnssec_invalid() {
    let Some(env) = lab() else { return };
    let resolver = validating(&env);
    let answers = discover(&resolver, &env["LAB_DOMAIN_BADSIG"]);
    assert_eq!(answers.mx.status(), DnssecStatus::Secure, "{answers}");
    let tlsa = answers.hosts[0].tlsa.as_ref().unwrap();
    assert_eq!(tlsa.status, DnssecStatus::Bogus, "{answers}");
    let decision = answers.decide(
        OutboundPolicy::new()
            .with_default_level(Level::Dane)
            .plan(&answers.destination().unwrap()),
        MessageTls::default(),
    );
    match &decision.hosts[0].action {
        HostAction::Skip {
            status,
            result_type,
        } => {
            assert!(!status.is_permanent());
            assert_eq!(*result_type, Some(ResultType::DnssecInvalid));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn lookups_are_answered_with_their_status() {
    let Some(env) = lab() else { return };
    let resolver = validating(&env);
    let valid = &env["LAB_DOMAIN_VALID"];
    let txt = resolver
        .txt(&DnsName::parse_owner(&format!("_smtp._tls.{valid}")).unwrap())
        .unwrap();
    assert_eq!(txt.status, DnssecStatus::Secure);
    assert!(txt.records.iter().any(|t| t.starts_with("v=TLSRPTv1")));
    // An authenticated denial: NXDOMAIN, secure.
    match resolver.addresses(&name(&format!("nosuchhost.{valid}"))) {
        Err(LookupError::NotFound { nxdomain, status }) => {
            assert!(nxdomain);
            assert_eq!(status, DnssecStatus::Secure);
        }
        other => panic!("{other:?}"),
    }
}
