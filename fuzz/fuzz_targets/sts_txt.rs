//! Discovery TXT records from hostile DNS: `_mta-sts` (RFC 8461) and `_smtp._tls` (RFC 8460),
//! parsed alone and selected from an RRset split at NUL bytes. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::policy::mta_sts::StsRecord;
use mailtls::report::TlsRptRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = StsRecord::parse(text) {
        assert!(!r.id.is_empty() && r.id.len() <= 32);
    }
    let _ = TlsRptRecord::parse(text);
    let rrset: Vec<&str> = text.split('\0').collect();
    let _ = StsRecord::select(rrset.iter().copied());
    let _ = TlsRptRecord::select(rrset.iter().copied());
});
