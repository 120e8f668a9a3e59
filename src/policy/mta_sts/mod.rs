//! MTA-STS (RFC 8461): discovery record, policy file, MX matching and the policy cache.
