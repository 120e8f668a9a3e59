//! The one test PKI, made with rcgen (ECDSA P-256 keys unless a test asks for the committed
//! RSA key): certificate authorities that issue leaves and intermediates ([`Ca`]), leaf
//! parameters for names, validity windows and EKUs ([`leaf`], [`leaf_valid`],
//! [`leaf_with_eku`]), self-signed leaves ([`self_signed`]), CA files for `tafile=`
//! ([`Ca::tafile`]), and the shared per-binary PKI most session tests present ([`pki`]).

use std::path::PathBuf;
use std::sync::LazyLock;

use mailtls::tls::TlsIdentity;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::fixtures::RSA2048_KEY_PEM;

/// The name every test MX of the shared [`pki`] answers to.
pub const MX_NAME: &str = "mx.example.com";

/// A certificate with its key and the chain up to (and including) its root.
pub struct Issued {
    /// The certificate (DER).
    pub der: CertificateDer<'static>,
    /// The certificate first, then every CA above it up to the root.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Issued {
    /// The private key (PKCS#8).
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// The chain and key as a mailtls identity.
    pub fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_der(self.chain.clone(), self.key_der()).unwrap()
    }
}

impl Clone for Issued {
    fn clone(&self) -> Self {
        Self {
            der: self.der.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A certificate authority (a root or an intermediate) that issues leaves and sub-CAs.
pub struct Ca {
    /// The CA's own certificate (DER).
    pub der: CertificateDer<'static>,
    /// The CA's certificate first, then every CA above it up to the root.
    chain: Vec<CertificateDer<'static>>,
    /// The CA's certificate in PEM, for CA files.
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root whose subject is `CN=name, O=Mailtls Test`.
    pub fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.self_signed(&key).unwrap();
        Self {
            der: cert.der().clone(),
            chain: vec![cert.der().clone()],
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA named `name`, signed by `self`.
    pub fn intermediate(&self, name: &str) -> Self {
        self.sub_ca(ca_params(name))
    }

    /// A sub-CA with exactly `params` (validity, usages), signed by `self`.
    pub fn sub_ca(&self, params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let mut chain = vec![cert.der().clone()];
        chain.extend(self.chain.iter().cloned());
        Self {
            der: cert.der().clone(),
            chain,
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate with `params`, signed by `self`, with a fresh P-256 key.
    pub fn issue(&self, params: &CertificateParams) -> Issued {
        self.sign(params, KeyPair::generate().unwrap())
    }

    /// A certificate with `params`, signed by `self`, with the committed RSA-2048 key.
    pub fn issue_rsa(&self, params: &CertificateParams) -> Issued {
        self.sign(params, KeyPair::from_pem(RSA2048_KEY_PEM).unwrap())
    }

    /// A leaf for `names` (the first is also the common name), signed by `self`.
    pub fn leaf_for_names(&self, names: &[&str]) -> Issued {
        self.issue(&leaf(names, names.first().copied().unwrap_or("leaf")))
    }

    /// A leaf for `name` (DNS name and common name), signed by `self`.
    pub fn leaf_for(&self, name: &str) -> Issued {
        self.leaf_for_names(&[name])
    }

    /// The CA's certificate written as PEM to a file of its own in the temporary directory,
    /// for `tafile=` and `--client-ca`; the same CA always gets the same file.
    pub fn tafile(&self) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.der.as_ref());
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = std::env::temp_dir().join(format!("mailtls-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("ca-{hex}.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    fn sign(&self, params: &CertificateParams, key: KeyPair) -> Issued {
        let der = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        let mut chain = vec![der.clone()];
        chain.extend(self.chain.iter().cloned());
        Issued {
            der,
            chain,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
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

/// Leaf parameters: `sans` (DNS names or IPs, none for a CN-only certificate), CN `cn`,
/// serverAuth + clientAuth.
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

/// Leaf parameters valid only between two dates (year, month, day): expired or not yet
/// valid at [`super::NOW`] as the test chooses.
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
    Issued {
        chain: vec![der.clone()],
        der,
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// The shared PKI of a test binary: one CA and the identities the session tests present.
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
    issuer: Ca,
}

impl Pki {
    /// A leaf for `names` (the first is also the common name), signed by the test CA.
    pub fn issue(&self, names: &[&str]) -> TlsIdentity {
        self.issuer.leaf_for_names(names).identity()
    }
}

/// The shared PKI of this test binary, made once.
pub fn pki() -> &'static Pki {
    static PKI: LazyLock<Pki> = LazyLock::new(make_pki);
    &PKI
}

fn make_pki() -> Pki {
    let ca = Ca::root("mailtls test CA");
    let untrusted = Ca::root("mailtls untrusted CA");
    Pki {
        ca: ca.der.clone(),
        server: ca.leaf_for(MX_NAME).identity(),
        wrong_name: ca.leaf_for("other.example.net").identity(),
        expired: ca
            .issue(&leaf_valid(&[MX_NAME], (2018, 1, 1), (2020, 1, 1)))
            .identity(),
        self_signed: self_signed(&[MX_NAME], MX_NAME).identity(),
        client: ca.leaf_for("relay.sender.example").identity(),
        untrusted: untrusted.leaf_for(MX_NAME).identity(),
        issuer: ca,
    }
}
