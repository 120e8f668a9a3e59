//! # The one outbound path
//!
//! Every outbound delivery, from Rust, from C and from the `mailtls` command, goes the same
//! way, and each arrow is a value you can print:
//!
//! ```text
//! configuration ─► Plan ─┐
//! discovery answers ─────┼─► precedence::apply ─► Decision ─► Delivery ─► AttemptRecord ─► SessionOutcome
//! message flags ─────────┘        (policy)                    (client)    (one per try)     (TLS-RPT)
//! ```
//!
//! - **Plan** ([`policy::explain`](fn@crate::policy::explain)): what the configuration (an
//!   outbound connector, a Postfix table entry or the default level) asks of each candidate
//!   host, in the one requirement vocabulary: [`Encryption`](crate::policy::Encryption) ×
//!   [`Authentication`](crate::policy::Authentication) (nothing, chain, chain and name, pins,
//!   DANE).
//! - **Decision** ([`precedence::apply`](crate::policy::precedence::apply), or
//!   [`Decision::from_plan`](crate::policy::Decision::from_plan) with no discovery answers):
//!   REQUIRETLS, `TLS-Required: No`, DANE and MTA-STS laid over the plan host by host. A host
//!   is either connected to under a refined requirement (DANE with usable TLSA becomes
//!   [`Authentication::Tlsa`](crate::policy::Authentication::Tlsa), carrying the records) or
//!   skipped with a reply and an RFC 8460 result type. MTA-STS `testing` becomes a
//!   [`TestingPolicy`](crate::policy::TestingPolicy): evaluated, reported, never enforced.
//!   Every step lands in the plan's trace; print the Decision to read it.
//! - **Delivery** ([`client::Delivery`](crate::client::Delivery)): the Decision is its only
//!   input. It never contacts a skipped host (it records it), compiles each host's requirement
//!   into a certificate verifier in one place
//!   ([`PlanVerifiers::compile`](crate::client::PlanVerifiers::compile)), and walks the
//!   ladder's rungs, each on a new connection.
//! - **AttemptRecord**: how one try ended, with the host decision that governed it, so
//!   [`session_outcome`](crate::client::AttemptRecord::session_outcome) gives the TLS-RPT
//!   session record counted against the right policy (a TLSA policy when DANE decided, the
//!   MTA-STS policy when it applies, `no-policy-found` otherwise; policies found but overruled
//!   are listed, never counted).
//!
//! ## What no discovery means
//!
//! Discovery is the `dns` feature's job ([`_05_discovery`](super::_05_discovery)). Without
//! discovery answers,
//! [`Decision::from_plan`](crate::policy::Decision::from_plan) treats `dane` as Postfix does
//! without DNSSEC support (effective `may`, and the trace says so) and skips every host of a
//! `dane-only` destination (a mandatory policy is never met by downgrading it). A verifier
//! compiled from an unresolved DANE requirement matches nothing.
//!
//! ## MTA-STS `testing`
//!
//! RFC 8461 §5: a `testing` policy must not change delivery, but its failures are reported.
//! The certificate verifier evaluates the policy's requirement (PKIX chain to the public
//! roots and the MX host name) beside the enforced one, recording its verdict separately; the
//! attempt's [`report_result`](crate::client::AttemptRecord::report_result) is what `enforce`
//! would have said: the certificate failure, `starttls-not-supported` for a plaintext
//! session, or `validation-failure` when the MX host matches no `mx` pattern.
//!
//! ## The trust word of a session
//!
//! Every TLS session, and every certificate refused before a session, gets the word Postfix
//! logs for it ([`TrustLevel`](crate::cert::TrustLevel)); `mailtls probe` and
//! posttls-finger agree on each of the test servers (`tests/cli_posttls_finger.rs`):
//!
//! | the certificate | `may`, `encrypt` | `verify`, `secure`, MTA-STS |
//! |---|---|---|
//! | chains to the anchors, name matches | `Trusted` (no name is asked at these levels) | `Verified` |
//! | chains to the anchors, name does not match | `Trusted` | `Untrusted`, refused (OpenSSL checks the name with the chain: `num=62`) |
//! | expired, self-signed, unknown issuer | `Untrusted` | `Untrusted`, refused |
//! | a pin (`fingerprint`) or TLSA record (`dane`) matches | | `Verified` |
//!
//! At `may` and `encrypt` the chain is checked for the record only, against the replacement
//! anchors (`--tafile`) or the public roots when the decision loaded them; without anchors
//! every certificate is `Untrusted`, as in Postfix without `smtp_tls_CAfile`. The check never
//! fails the session and never reaches TLS-RPT: nothing was required. Inbound, a client
//! without a certificate is `Anonymous`.
//!
//! ## From C
//!
//! The C ABI takes the same path, one handle per arrow (`examples/c/dane.c` runs it):
//!
//! ```text
//! mailtls_config_plan ─► mailtls_plan ───────────────────┐
//! mailtls_discovery (MX status, TLSA per host, MTA-STS) ─┴─► mailtls_decision_new ─► mailtls_decision
//! mailtls_delivery_new_from_decision ─► sessions ─► mailtls_delivery_record
//!   ─► mailtls_delivery_last_tlsrpt_result, mailtls_tlsrpt_add_last_attempt
//! ```
//!
//! A NULL discovery handle is [`Decision::from_plan`](crate::policy::Decision::from_plan).
//! The DNSSEC statuses are the caller's resolver's verdicts; mailtls trusts them as given.
