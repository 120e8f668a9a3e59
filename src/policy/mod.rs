//! The TLS decision: levels, Postfix policy tables, connectors, DANE, MTA-STS, REQUIRETLS,
//! precedence, the fallback ladder and the explanation of every verdict.
//!
//! The model in one picture:
//!
//! ```text
//!  default level ─┐
//!  Postfix table ─┼─► Requirement (encryption × authentication) ─► Plan ─► HostPlan per host
//!  connectors ────┘        (requirement.rs)                    (plan.rs)   requirement, names,
//!                                                                          SNI, protocols,
//!  DANE / MTA-STS / REQUIRETLS overlays refine a Plan afterwards           ladder, on_failure
//! ```
//!
//! - [`requirement`]: the one requirement model every source maps onto.
//! - [`plan`]: destinations, host plans, failure actions.
//! - [`outbound`]: the planner ([`explain()`]).
//! - [`ladder`]: the fallback ladder and its gates ([`ladder::next_rung`]).
//! - [`explain`](mod@explain): the trace of rules that fired.
//! - [`protocol`]: versions and suites (never below TLS 1.2, forward-secret AEAD only).
//! - [`postfix`]: `smtp_tls_policy_maps` import and lookup.
//! - [`connector`]: Exchange-style connectors in TOML (outbound and inbound).
//! - [`discovery`]: what DNS and MTA-STS discovery found for a domain, lent to [`precedence`].
//! - [`inbound`]: accept / reject / tempfail by the inbound connectors ([`inbound::decide_inbound`]).

pub mod connector;
pub mod dane;
mod destination;
pub mod discovery;
pub mod explain;
mod fast_hash;
pub mod inbound;
pub mod ladder;
pub mod mta_sts;
mod name_ref;
pub mod outbound;
pub mod plan;
pub mod postfix;
pub mod precedence;
pub mod protocol;
pub mod requirement;
pub mod requiretls;
mod rung;
pub mod status;

pub use explain::{OverruleReason, Rule, Source, Step, StepOutcome, Trace};
pub use outbound::{explain, OutboundPolicy};
pub use plan::{
    ClientCertificate, Destination, DestinationError, FailureAction, HostPlan, NameSource, Plan,
    PolicySource, SniStrategy,
};
pub use precedence::{Decision, HostAction, HostDecision, TestingPolicy};
pub use protocol::{
    CipherSuite, KeyExchangeGroup, ProtocolPolicy, SuiteSet, TlsVersion, VersionSet,
};
pub use requirement::{
    AnchorSource, Authentication, DaneAuthentication, DaneRequirement, Encryption, Level,
    Requirement,
};
pub use status::Status;
