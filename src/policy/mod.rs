//! The TLS decision: levels, Postfix policy tables, connectors, DANE, MTA-STS, REQUIRETLS,
//! precedence, the fallback ladder and the explanation of every verdict.

pub mod dane;
pub mod ladder;
pub mod mta_sts;
