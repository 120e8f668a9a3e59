//! The TLS engine: the only module that names rustls connection types.
