//! TLSA records from hostile DNS: presentation text and wire RDATA, sorted into a set, then
//! matched against the input as a certificate. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::policy::dane::{verify_chain, TlsaRecord, TlsaSet};
use mailtls::Timestamp;
use rustls_pki_types::CertificateDer;

fuzz_target!(|data: &[u8]| {
    let (records, cert) = data.split_at(data.len() / 2);
    if let Ok(text) = core::str::from_utf8(records) {
        if let Ok(r) = TlsaRecord::parse_presentation(text) {
            assert_eq!(TlsaRecord::parse_presentation(&r.to_string()).ok(), Some(r));
        }
        let _ = TlsaSet::from_presentation(text.lines());
    }
    if let Ok(r) = TlsaRecord::from_rdata(records) {
        assert_eq!(r.to_rdata(), records);
    }
    let set = TlsaSet::from_rdata(records.chunks(40));
    let leaf = CertificateDer::from(cert);
    let _ = verify_chain(
        &set,
        &leaf,
        &[CertificateDer::from(records)],
        &["mx.example.net"],
        Timestamp::from_unix_secs(1_800_000_000),
    );
});
