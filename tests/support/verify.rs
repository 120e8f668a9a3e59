//! Certificate verifiers for tests: PKIX against the test CA, and "accept anything" (the
//! opportunistic and encrypt levels do not authenticate).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::pki::pki;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn roots() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca.clone()).unwrap();
    Arc::new(roots)
}

/// PKIX chain and name check against the test CA.
pub fn pkix() -> Arc<dyn ServerCertVerifier> {
    WebPkiServerVerifier::builder_with_provider(roots(), provider())
        .build()
        .unwrap()
}

/// Client certificates must chain to the test CA.
pub fn client_pkix() -> Arc<dyn ClientCertVerifier> {
    WebPkiClientVerifier::builder_with_provider(roots(), provider())
        .build()
        .unwrap()
}

/// Checks handshake signatures but accepts any certificate (no authentication).
#[derive(Debug)]
pub struct AcceptAny(Arc<CryptoProvider>);

/// A verifier that authenticates nothing.
pub fn accept_any() -> Arc<dyn ServerCertVerifier> {
    Arc::new(AcceptAny(provider()))
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Postfix `fingerprint`: the leaf's SHA-256 digest must be one of `pins`; no CA, no name.
#[derive(Debug)]
pub struct PinVerifier {
    pins: Vec<Vec<u8>>,
    inner: AcceptAny,
}

/// A verifier that accepts only a leaf whose SHA-256 digest is in `pins`.
pub fn pins(pins: Vec<Vec<u8>>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(PinVerifier {
        pins,
        inner: AcceptAny(provider()),
    })
}

/// The SHA-256 digest of a certificate.
pub fn sha256(cert: &CertificateDer<'_>) -> Vec<u8> {
    ::ring::digest::digest(&::ring::digest::SHA256, cert.as_ref())
        .as_ref()
        .to_vec()
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pins.contains(&sha256(end_entity)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
