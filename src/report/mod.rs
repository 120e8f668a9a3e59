//! TLS-RPT (RFC 8460): result types, session outcomes and aggregate reports.
