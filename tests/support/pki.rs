//! Test certificates, made once per test binary with rcgen (ECDSA P-256 keys).

use std::sync::LazyLock;

use mailtls::tls::TlsIdentity;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The name every test MX answers to.
pub const MX_NAME: &str = "mx.example.com";

/// A small PKI: one CA and the leaves the tests present.
pub struct Pki {
    /// The test CA's certificate (DER).
    pub ca: CertificateDer<'static>,
    /// A leaf for [`MX_NAME`] signed by the CA, with its chain.
    pub server: TlsIdentity,
    /// A leaf for `other.example.net`, signed by the CA.
    pub wrong_name: TlsIdentity,
    /// A leaf for [`MX_NAME`] that expired in 2020, signed by the CA.
    pub expired: TlsIdentity,
    /// A self-signed leaf for [`MX_NAME`] (no chain to the CA).
    pub self_signed: TlsIdentity,
    /// A client certificate for `relay.sender.example`, signed by the CA.
    pub client: TlsIdentity,
    /// A leaf for [`MX_NAME`] signed by another CA, which no test trusts.
    pub untrusted: TlsIdentity,
    /// The test CA itself, to issue further leaves ([`Pki::issue`]).
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A leaf for `names` (the first is also the common name), signed by the test CA.
    pub fn issue(&self, names: &[&str]) -> TlsIdentity {
        leaf(&self.issuer, names, false)
    }
}

/// The PKI of this test binary.
pub fn pki() -> &'static Pki {
    static PKI: LazyLock<Pki> = LazyLock::new(make_pki);
    &PKI
}

fn make_pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailtls test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let ca_der = ca.der().clone();

    let self_signed = {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![MX_NAME.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        identity(vec![cert.der().clone()], &key)
    };

    // A second CA, whose leaves chain to nothing the tests trust.
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    other_params
        .distinguished_name
        .push(DnType::CommonName, "mailtls untrusted CA");
    let other = CertifiedIssuer::self_signed(other_params, KeyPair::generate().unwrap()).unwrap();

    Pki {
        server: leaf(&ca, &[MX_NAME], false),
        wrong_name: leaf(&ca, &["other.example.net"], false),
        expired: leaf(&ca, &[MX_NAME], true),
        self_signed,
        client: leaf(&ca, &["relay.sender.example"], false),
        untrusted: leaf(&other, &[MX_NAME], false),
        ca: ca_der,
        issuer: ca,
    }
}

/// A leaf for `names` signed by `ca`, with its chain (leaf, CA); `expired` ended in 2020.
fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str], expired: bool) -> TlsIdentity {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    if expired {
        params.not_before = date_time_ymd(2018, 1, 1);
        params.not_after = date_time_ymd(2020, 1, 1);
    }
    let cert = params.signed_by(&key, ca).unwrap();
    identity(vec![cert.der().clone(), ca.der().clone()], &key)
}

fn identity(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> TlsIdentity {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    TlsIdentity::from_der(chain, key).unwrap()
}
