//! Postfix policy-table text: parse, then plan a few destinations against it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, OutboundPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(table) = PolicyTable::parse(text) else {
        return;
    };
    let policy = OutboundPolicy::new().with_table(table);
    for hop in ["example.com", "a.b.example.net", "[mx.example.org]:587"] {
        if let Ok(dest) = Destination::parse(hop) {
            if let Ok(dest) = dest.with_hosts(["mx.example.com", "192.0.2.1"]) {
                let plan = explain(&policy, &dest);
                let _ = plan.to_string();
            }
        }
    }
    // Every line of the text, read as a next hop, is a valid lookup too.
    for line in text.lines().take(64) {
        if let Some(key) = line.split_whitespace().next() {
            if let Ok(dest) = Destination::parse(key) {
                let _ = explain(&policy, &dest);
            }
        }
    }
});
