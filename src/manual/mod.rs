//! The mailtls manual: the rules behind the code, for people who run and embed it.
//!
//! Each page is a rustdoc module with no items. Read them in order:
//!
//! 1. [`_01_starttls_pitfalls`]: what goes wrong around STARTTLS, and the invariants mailtls
//!    holds against hostile peers.
//! 2. [`_02_defaults`]: the defaults, and why each is safe.
//! 3. [`_03_outbound_path`]: plan, decision, delivery, attempts, outcomes: how every
//!    outbound delivery goes, and what each step is for.
//! 4. [`_04_public_roots_and_sts_fetch`]: which anchors "the public roots" are, and the rules
//!    of the MTA-STS policy fetch over HTTPS.
//! 5. [`_05_discovery`]: how a recipient domain's MX, TLSA and MTA-STS answers are found
//!    (feature `dns`), and why a failed lookup never downgrades.
//! 6. [`_06_postfix_policy_server`]: how `mailtls policyd` answers Postfix's policy lookups,
//!    and why a failure is never a weaker answer.
//! 7. [`_07_state`]: the MTA-STS cache, the downgrade memory and the TLS-RPT counts that
//!    survive a restart and are shared by a fleet.

pub mod _01_starttls_pitfalls;
pub mod _02_defaults;
pub mod _03_outbound_path;
pub mod _04_public_roots_and_sts_fetch;
pub mod _05_discovery;
pub mod _06_postfix_policy_server;
pub mod _07_state;
