//! The TLS engine: the only module that names rustls connection types.
//!
//! - [`config`] builds a rustls client or server configuration per ladder
//!   [`Rung`](crate::policy::ladder::Rung), from the ring provider only, with the certificate
//!   verifier, SNI and identity as inputs. No rung goes below TLS 1.2 or offers a suite without
//!   forward secrecy.
//! - [`TlsEngine`] moves bytes through rustls's buffered API (rustls 0.23 `read_tls`,
//!   `process_new_packets`, `write_tls`, `reader`, `writer`) over plain byte buffers.
//! - [`TlsFailure`] classifies a failure into the ladder's
//!   [`FailureClass`](crate::policy::ladder::FailureClass) and an RFC 8460
//!   [`ResultType`](crate::tlsrpt::ResultType).
//! - [`TlsFacts`] are what a finished handshake tells: version, suite, group, peer chain,
//!   whether it resumed a session.
//! - [`ResumptionCache`] keeps client sessions per destination and policy;
//!   [`server_config`] keeps a bounded server session cache, and [`SharedClock`] lets a
//!   configuration built once read the time its sessions are handed.
//!
//! Keeping every rustls connection call here makes the move to rustls 0.24 a change in this
//! module alone.

pub mod config;
mod engine;
mod facts;
mod failure;
mod resume;

pub use config::{
    client_config, rung_groups, rung_suites, server_config, ClientTlsSetup, ServerTlsSetup,
    SharedClock, TlsIdentity, SERVER_SESSION_CACHE,
};
pub use engine::TlsEngine;
pub use facts::{cipher_suite, key_exchange_group, tls_version, TlsFacts};
pub use failure::{alert_name, certificate_result, TlsError, TlsFailure, TlsFailureCause};
pub use resume::ResumptionCache;
