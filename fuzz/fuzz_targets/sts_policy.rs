//! MTA-STS policy bodies from a hostile HTTPS server, through the fetch consumer, then MX
//! matching against a name taken from the input. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::policy::mta_sts::{consume, StsFetchResponse, StsPolicy, MAX_AGE_CAP};

fuzz_target!(|data: &[u8]| {
    let response = StsFetchResponse::Http {
        status: 200,
        content_type: Some("text/plain"),
        body: data,
    };
    if let Ok(policy) = consume(response) {
        assert!(policy.max_age().as_secs() <= u64::from(MAX_AGE_CAP));
        for line in policy.lines() {
            let _ = policy.check_mx(line);
        }
    }
    let _ = StsPolicy::parse(data);
});
