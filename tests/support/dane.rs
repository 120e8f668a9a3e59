//! DANE inputs for tests: the TLSA record of a certificate, and the precedence decision for a
//! plan whose MX has one DNSSEC-validated TLSA record (everything DNSSEC-secure).

use mailtls::cert::CertFacts;
use mailtls::names::DnsName;
use mailtls::policy::dane::{DnssecStatus, TlsaSet};
use mailtls::policy::precedence::{self, HostTlsa, PrecedenceInputs};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{Decision, Plan};
use rustls::pki_types::CertificateDer;

/// The TLSA record `USAGE 1 1`: SHA-256 of the certificate's public key.
pub fn spki_record(usage: u8, certificate: &CertificateDer<'_>) -> String {
    let facts = CertFacts::from_der(certificate.as_ref()).unwrap();
    let hex: String = facts
        .fingerprints
        .spki_sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{usage} 1 1 {hex}")
}

/// `plan` under precedence, with `record` as the only TLSA record of `mx`, and the MX RRset,
/// the host's addresses and the TLSA answer all DNSSEC-secure.
pub fn with_tlsa(plan: Plan, mx: &str, record: &str) -> Decision {
    let mx = DnsName::parse(mx).unwrap();
    let tlsa = TlsaSet::from_presentation([record]);
    let dane = [HostTlsa {
        host: &mx,
        address_status: DnssecStatus::Secure,
        tlsa_status: DnssecStatus::Secure,
        tlsa: &tlsa,
        tlsa_base_domain: &mx,
    }];
    precedence::apply(
        plan,
        &PrecedenceInputs {
            message: MessageTls::default(),
            mx_status: DnssecStatus::Secure,
            sts: None,
            dane: &dane,
        },
    )
}
