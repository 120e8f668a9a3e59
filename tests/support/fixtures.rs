//! The committed OpenSSL certificates and keys of `tests/data` (what rcgen cannot make:
//! an RSA-1024 leaf, a SHA-1 signature), see `tests/data/README.md`.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A leaf with an RSA-1024 key (DER).
pub const RSA1024_DER: &[u8] = include_bytes!("../data/cert_rsa1024.der");
/// A leaf signed with SHA-1 (DER); its key is [`SHA1_KEY_PEM`].
pub const SHA1_DER: &[u8] = include_bytes!("../data/cert_sha1.der");
/// The P-256 key of [`SHA1_DER`] (PEM).
pub const SHA1_KEY_PEM: &str = include_str!("../data/key_sha1_cert_p256.pem");
/// An RSA-2048 key (PEM), for [`super::pki::Ca::issue_rsa`].
pub const RSA2048_KEY_PEM: &str = include_str!("../data/key_rsa2048.pem");

/// The SHA-1 fixture with its key.
pub fn sha1_fixture() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    (
        CertificateDer::from(SHA1_DER.to_vec()),
        PrivateKeyDer::from_pem_slice(SHA1_KEY_PEM.as_bytes()).unwrap(),
    )
}
