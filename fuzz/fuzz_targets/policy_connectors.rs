//! Connector TOML: parse and validate, then route and decide with fixed facts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::policy::connector::Connectors;
use mailtls::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundFacts, InboundTls, Verification,
};
use mailtls::policy::{explain, Destination, OutboundPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(connectors) = Connectors::from_toml(text) else {
        return;
    };
    let domains: Vec<String> = connectors
        .inbound()
        .iter()
        .flat_map(|c| c.sender_domains.iter().map(|d| d.to_string()))
        .map(|d| d.trim_start_matches("*.").to_owned())
        .chain(["example.com".to_owned()])
        .take(16)
        .collect();
    for domain in &domains {
        for (tls, cert) in [
            (None, ClientCertificateFacts::None),
            (
                InboundTls::from_macros("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
                ClientCertificateFacts::MilterMacros {
                    subject: domain,
                    issuer: "CA",
                    verified: Verification::Verified,
                },
            ),
        ] {
            let facts = InboundFacts {
                client_ip: "192.0.2.1".parse().unwrap_or(core::net::IpAddr::from([0, 0, 0, 0])),
                helo: "client.example",
                mail_from_domain: Some(domain),
                rcpt_domains: &[domain.as_str()],
                tls,
                client_certificate: cert,
            };
            let _ = decide_inbound(&connectors, &facts).to_string();
        }
    }
    let policy = OutboundPolicy::new().with_connectors(connectors);
    for domain in &domains {
        if let Ok(dest) = Destination::domain(domain, ["mx.example.com"]) {
            let _ = explain(&policy, &dest).to_string();
        }
    }
});
