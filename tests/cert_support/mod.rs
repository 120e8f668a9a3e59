//! Test certificates made with rcgen (ring), plus the committed OpenSSL fixtures.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use mailtls::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The fixed "now" of every test: 2027-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);

pub const RSA1024_DER: &[u8] = include_bytes!("../data/cert_rsa1024.der");
pub const SHA1_DER: &[u8] = include_bytes!("../data/cert_sha1.der");
pub const SHA1_KEY_PEM: &str = include_str!("../data/key_sha1_cert_p256.pem");
pub const RSA2048_KEY_PEM: &str = include_str!("../data/key_rsa2048.pem");

/// A certificate and its key.
pub struct Issued {
    pub der: CertificateDer<'static>,
    pub key: KeyPair,
}

impl Issued {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// A certificate authority that can issue leaves and sub-CAs.
pub struct Ca {
    pub der: CertificateDer<'static>,
    pub issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root.
    pub fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let der = params.self_signed(&key).unwrap().der().clone();
        Self {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA signed by `self`.
    pub fn intermediate(&self, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let der = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        Self {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf signed by `self`, with a fresh P-256 key.
    pub fn issue(&self, params: &CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let der = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        Issued { der, key }
    }

    /// A leaf signed by `self` with the committed RSA-2048 key.
    pub fn issue_rsa(&self, params: &CertificateParams) -> Issued {
        let key = KeyPair::from_pem(RSA2048_KEY_PEM).unwrap();
        let der = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        Issued { der, key }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Mailtls Test");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Leaf parameters: `sans` (DNS names or IPs), CN `cn`, serverAuth + clientAuth.
pub fn leaf(sans: &[&str], cn: &str) -> CertificateParams {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params
}

/// Leaf parameters with only the given EKUs.
pub fn leaf_with_eku(
    sans: &[&str],
    cn: &str,
    ekus: Vec<ExtendedKeyUsagePurpose>,
) -> CertificateParams {
    let mut params = leaf(sans, cn);
    params.extended_key_usages = ekus;
    params
}

/// Leaf parameters valid only between two Unix dates (year, month, day).
pub fn leaf_valid(sans: &[&str], from: (i32, u8, u8), to: (i32, u8, u8)) -> CertificateParams {
    let mut params = leaf(sans, sans.first().copied().unwrap_or("leaf"));
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    params
}

/// A self-signed leaf (no CA), with a fresh P-256 key.
pub fn self_signed(sans: &[&str], cn: &str) -> Issued {
    let key = KeyPair::generate().unwrap();
    let der = leaf(sans, cn).self_signed(&key).unwrap().der().clone();
    Issued { der, key }
}

/// The SHA-1 fixture with its key.
pub fn sha1_fixture() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    use rustls_pki_types::pem::PemObject;
    (
        CertificateDer::from(SHA1_DER.to_vec()),
        PrivateKeyDer::from_pem_slice(SHA1_KEY_PEM.as_bytes()).unwrap(),
    )
}
