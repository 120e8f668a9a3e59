//! The mailtls manual: the rules behind the code, for people who run and embed it.
//!
//! Each page is a rustdoc module with no items. Read them in order:
//!
//! 1. [`_01_starttls_pitfalls`]: what goes wrong around STARTTLS, and the invariants mailtls
//!    holds against hostile peers.
//! 2. [`_02_defaults`]: the defaults, and why each is safe.
//! 3. [`_03_outbound_path`]: plan, decision, delivery, attempts, outcomes: how every
//!    outbound delivery goes, and what each step is for.
//! 4. [`_04_state`]: the MTA-STS cache, the downgrade memory and the TLS-RPT counts that
//!    survive a restart and are shared by a fleet.

pub mod _01_starttls_pitfalls;
pub mod _02_defaults;
pub mod _03_outbound_path;
pub mod _04_state;
