//! The inbound side: what every server session of a listener shares, and the constructor of
//! a server [`mailtls_session`].

use core::ffi::c_char;
use core::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::policy::ladder::Rung;
use crate::server::{ClientInfo, ServerConfig, ServerSession, ServerTls};
use crate::time::Timestamp;
use crate::tls::TlsIdentity;

use super::boundary;
use super::handle::{self, require_out, Castable};
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
    type Inner = ServerConfig;
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
        let config = ServerConfig::new(hostname);
        handle::give::<mailtls_server_config>(out_config, config)
    })
}

/// Frees a server configuration. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_server_config_free(config: *mut mailtls_server_config) {
    boundary::value(|| handle::free(config));
}

/// Offers STARTTLS with this certificate chain (PEM, leaf first) and private key (PEM),
/// on the modern profile (TLS 1.3 and 1.2, forward-secret AEAD suites).
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_identity_pem(
    config: *mut mailtls_server_config,
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow_mut(config)?;
        let chain = text::bytes(chain_pem, chain_len, MAILTLS_MAX_TEXT)?;
        let key = text::bytes(key_pem, key_len, MAILTLS_MAX_TEXT)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<_, _>>()
            .map_err(|_| mailtls_result::Tls)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| mailtls_result::Tls)?;
        let identity = TlsIdentity::from_der(chain, key).map_err(|_| mailtls_result::Tls)?;
        config.tls = Some(ServerTls::new(identity, Rung::Modern));
        Ok(())
    })
}

/// Whether every client must use STARTTLS before mail (answered `530 5.7.0` otherwise). A
/// publicly referenced MX must not set this.
#[no_mangle]
pub extern "C" fn mailtls_server_config_set_require_tls(
    config: *mut mailtls_server_config,
    require: bool,
) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(config)?.require_tls = require;
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
            Arc::new(config.clone()),
            ClientInfo { ip },
            Timestamp::from_unix_millis(now_ms),
        );
        handle::give::<mailtls_session>(out_session, SessionHandle::of_server(session))
    })
}
