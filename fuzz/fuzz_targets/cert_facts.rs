//! Arbitrary bytes as a DER certificate: facts extraction, name matching and partner rules
//! must return values or typed errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::cert::{CertFacts, DistinguishedName, PartnerRequirement, Role};
use mailtls::names::{Dialect, NamePattern};
use mailtls::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = CertFacts::from_der(data) else {
        return;
    };
    // Our RFC 4514 output always reads back, and names the same entity.
    for dn in [&facts.subject, &facts.issuer] {
        let parsed = DistinguishedName::parse(dn).expect("own RFC 4514 output parses");
        assert!(parsed.same_as(&parsed));
    }
    let now = Timestamp::from_unix_secs(1_800_000_000);
    for dialect in Dialect::ALL {
        if let Ok(pattern) = NamePattern::parse("mx.example.net", dialect) {
            let _ = facts.match_names(dialect, &[pattern]);
        }
        let partner = PartnerRequirement::new(Role::Outbound, dialect);
        let _ = partner.check(data, &facts, now);
    }
});
