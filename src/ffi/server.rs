//! The inbound side: what every server session of a listener shares, and the constructor of
//! a server [`mailtls_session`].

use core::ffi::c_char;
use core::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::cert::{CertificateCheck, ClientCertRequest, OnFailure, TrustAnchors};
use crate::policy::ladder::Rung;
use crate::server::{ClientAuth, ClientInfo, ServerConfig, ServerSession, ServerTls};
use crate::time::Timestamp;
use crate::tls::TlsIdentity;

use super::boundary;
use super::handle::{self, require_out, Castable};
use super::outbound::mailtls_config;
use super::result::mailtls_result;
use super::session::{mailtls_session, SessionHandle};
use super::text::{self, MAILTLS_MAX_TEXT};

/// What every inbound session of one listener shares. Made by [`mailtls_server_config_new`],
/// freed by [`mailtls_server_config_free`]; sessions keep their own reference, so it may be
/// freed while sessions made from it live.
pub struct mailtls_server_config {
    _private: [u8; 0],
}

impl Castable for mailtls_server_config {
    /// Shared with the sessions made from it, so that its TLS configuration (built on the
    /// first STARTTLS) serves them all; a setter called while sessions hold it changes a copy.
    type Inner = Arc<ServerConfig>;
}

/// A server configuration announcing `hostname`, without TLS until an identity is set.
#[no_mangle]
pub extern "C" fn mailtls_server_config_new(
    hostname: *const c_char,
    out_config: *mut *mut mailtls_server_config,
) -> mailtls_result {
    boundary::call(|| {
        let hostname = text::string(hostname)?;
        require_out(out_config)?;
        let config = Arc::new(ServerConfig::new(hostname));
        handle::give::<mailtls_server_config>(out_config, config)
    })
}

/// Frees a server configuration. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_server_config_free(config: *mut mailtls_server_config) {
    boundary::value(|| handle::free(config));
}

/// Offers STARTTLS with this certificate chain (PEM, leaf first) and private key (PEM),
/// on the modern profile (TLS 1.3 and 1.2, forward-secret AEAD suites). Errors:
/// `MAILTLS_RESULT_CERTIFICATE_PEM` (no certificate in `chain_pem`),
/// `MAILTLS_RESULT_PRIVATE_KEY_PEM`, `MAILTLS_RESULT_TLS_IDENTITY` (the key does not fit).
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_identity_pem(
    config: *mut mailtls_server_config,
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = Arc::make_mut(handle::borrow_mut(config)?);
        let identity = identity_from_pem(chain_pem, chain_len, key_pem, key_len)?;
        // A client-certificate request made earlier stays.
        let client_auth = config.tls.take().and_then(|tls| tls.client_auth);
        let mut tls = ServerTls::new(identity, Rung::Modern);
        tls.client_auth = client_auth;
        config.tls = Some(tls);
        Ok(())
    })
}

/// Asks every client for a certificate during STARTTLS and verifies it against the CA
/// certificates in `ca_pem` (PEM, at most `MAILTLS_MAX_TEXT` bytes), which are also named to
/// the client as acceptable issuers. Needs an identity first
/// ([`mailtls_server_config_set_identity_pem`]: `MAILTLS_RESULT_WRONG_STATE` without one).
///
/// With `required` a client without a certificate fails the handshake. With
/// `abort_on_failure` a certificate that does not verify fails the handshake; without it the
/// handshake completes, the session records the failure
/// (`mailtls_session_client_certificate`) and the inbound connectors decide what it means
/// (a partner connector refuses `MAIL FROM` with `550 5.7.1`). Errors:
/// `MAILTLS_RESULT_TRUST_ANCHORS` when `ca_pem` holds no usable CA certificate.
#[no_mangle]
pub extern "C" fn mailtls_server_config_request_client_certificates(
    config: *mut mailtls_server_config,
    ca_pem: *const u8,
    ca_len: usize,
    required: bool,
    abort_on_failure: bool,
) -> mailtls_result {
    boundary::call(|| {
        let config = Arc::make_mut(handle::borrow_mut(config)?);
        let pem = text::bytes(ca_pem, ca_len, MAILTLS_MAX_TEXT)?;
        let tls = config.tls.as_mut().ok_or(mailtls_result::WrongState)?;
        let anchors =
            Arc::new(TrustAnchors::from_pem(pem).map_err(|_| mailtls_result::TrustAnchors)?);
        tls.client_auth = Some(ClientAuth {
            certificate: if required {
                ClientCertRequest::Required
            } else {
                ClientCertRequest::Optional
            },
            requirement: CertificateCheck::Chain {
                anchors: Arc::clone(&anchors),
            },
            on_failure: if abort_on_failure {
                OnFailure::Abort
            } else {
                OnFailure::Continue
            },
            hints: Some(anchors),
        });
        Ok(())
    })
}

/// Applies the inbound connectors loaded into `connectors`
/// (`mailtls_config_load_connectors`) to every session made from this configuration from now
/// on, as the Rust server does: a client a TLS-requiring connector lists by address must use
/// STARTTLS first, and `MAIL FROM` and `RCPT TO` are refused with the connector's reply
/// (`550 5.7.1 ...`, seen as a Refused event) when the client's certificate, address or
/// sender domain does not satisfy it. A copy is taken; `connectors` stays the caller's. A
/// configuration without connectors removes them.
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_connectors(
    config: *mut mailtls_server_config,
    connectors: *const mailtls_config,
) -> mailtls_result {
    boundary::call(|| {
        let from = handle::borrow(connectors)?;
        let config = Arc::make_mut(handle::borrow_mut(config)?);
        config.connectors = from.outbound.connectors.clone().map(Arc::new);
        Ok(())
    })
}

/// The certificate chain (PEM, leaf first) and key (PEM), each given as pointer and length
/// (at most `MAILTLS_MAX_TEXT`), as an identity; each failure has its own code.
pub(crate) fn identity_from_pem(
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> Result<TlsIdentity, mailtls_result> {
    let chain = text::bytes(chain_pem, chain_len, MAILTLS_MAX_TEXT)?;
    let key = text::bytes(key_pem, key_len, MAILTLS_MAX_TEXT)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<_, _>>()
        .map_err(|_| mailtls_result::CertificatePem)?;
    if chain.is_empty() {
        return Err(mailtls_result::CertificatePem);
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| mailtls_result::PrivateKeyPem)?;
    TlsIdentity::from_der(chain, key).map_err(|_| mailtls_result::TlsIdentity)
}

/// Whether every client must use STARTTLS before mail (answered `530 5.7.0` otherwise). A
/// publicly referenced MX must not set this.
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_require_tls(
    config: *mut mailtls_server_config,
    require: bool,
) -> mailtls_result {
    boundary::call(|| {
        Arc::make_mut(handle::borrow_mut(config)?).require_tls = require;
        Ok(())
    })
}

/// A server session for a client that connected from `client_ip` at `now_ms` (Unix
/// milliseconds); the greeting is queued for `mailtls_session_poll_transmit`.
#[no_mangle]
pub extern "C" fn mailtls_session_new_server(
    config: *const mailtls_server_config,
    client_ip: *const c_char,
    now_ms: u64,
    out_session: *mut *mut mailtls_session,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let ip: IpAddr = text::string(client_ip)?
            .parse()
            .map_err(|_| mailtls_result::InvalidArgument)?;
        require_out(out_session)?;
        let session = ServerSession::new(
            Arc::clone(config),
            ClientInfo { ip },
            Timestamp::from_unix_millis(now_ms),
        );
        handle::give::<mailtls_session>(out_session, SessionHandle::of_server(session))
    })
}
