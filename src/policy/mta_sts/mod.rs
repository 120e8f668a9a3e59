//! MTA-STS (RFC 8461): discovery record, policy file, MX matching and the policy cache.
//!
//! - [`StsRecord`]: the `_mta-sts.<domain>` TXT record and its `id`.
//! - [`StsPolicy`]: the policy file, with [`StsPolicy::check_mx`] matching MX hosts through
//!   [`crate::names`] in the MTA-STS dialect (`*.example.net` is exactly one extra label).
//! - [`StsFetchRequest`] / [`consume`]: the HTTPS fetch, described and consumed; the caller
//!   performs it (no redirects, PKIX-valid certificate for `mta-sts.<domain>`).
//! - [`StsCache`]: per-domain cache with an injected clock; [`StsLookup`] is what a lookup
//!   yields for the precedence overlay.
//!
//! Applying a policy: in `enforce` and `testing` mode, an MX host must match an `mx` pattern
//! (else `validation-failure`) and present a PKIX-valid certificate whose name matches the MX
//! host name; `enforce` skips a failing host, `testing` delivers and reports. The precedence
//! overlay ([`crate::policy::precedence`]) turns this into a host requirement.

mod cache;
mod fetch;
mod policy;
mod record;

pub use cache::{CacheStep, CachedPolicy, Discovery, StsCache, StsLookup, DEFAULT_CAPACITY};
pub use fetch::{consume, StsFetchError, StsFetchRequest, StsFetchResponse};
pub use policy::{MxMismatch, StsMode, StsPolicy, StsPolicyError, MAX_AGE_CAP, MAX_POLICY_BYTES};
pub use record::{StsRecord, MAX_ID_LEN, STS_VERSION};
