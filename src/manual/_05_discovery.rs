//! # Discovery: MX, TLSA and MTA-STS found for real
//!
//! With feature `dns`, mailtls finds the discovery answers of a recipient domain itself
//! (`io::discover`, over `io::dns`) and keeps them in one owned value,
//! [`DiscoveryAnswers`](crate::policy::discovery::DiscoveryAnswers), which lends them to
//! precedence. A mail server with its own resolver fills the same value and gets the same
//! decision.
//!
//! ## The order of lookups
//!
//! 1. **MX** of the domain. Hosts go in preference order; hosts of equal preference in a
//!    random order from an injected source (RFC 5321 §5.1). No MX RRset (NODATA) means the
//!    domain itself is the host (the implicit MX). A null MX (`MX 0 .`, RFC 7505) bounces
//!    (`556 5.1.10`), as does a domain that does not exist (`550 5.1.2`); a failed or bogus MX
//!    lookup defers (`451 4.4.3`). None of these contacts any host.
//! 2. For each host, its **A and AAAA** records. A bogus half makes the whole answer bogus.
//! 3. **TLSA** at `_25._tcp.<host>`, only when the plan wants DANE for the host (as Postfix)
//!    and only when the host's addresses are DNSSEC-secure (RFC 7672 §2.2.2). When a secure
//!    CNAME chain led the address lookup elsewhere, the expanded name is tried first and is
//!    the TLSA base domain if records are there; otherwise the host name is.
//! 4. **`_mta-sts`** TXT, then the MTA-STS cache: a new `id` (or nothing cached) fetches the
//!    policy from `mta-sts.<domain>`, whose addresses come from the same resolver; an
//!    unchanged `id` uses the cached policy; a failed fetch keeps the cached policy.
//! 5. **`_smtp._tls`** TXT: where TLS-RPT reports go.
//!
//! ## Failures never downgrade
//!
//! Each answer keeps its DNSSEC status (secure, insecure, bogus, indeterminate), and a
//! temporary failure or a bogus answer is never read as "no record":
//!
//! - a bogus or failed TLSA lookup, or bogus or failed addresses of a DANE host, skips that
//!   host (`dnssec-invalid`); the mail waits rather than go without DANE;
//! - a bogus or failed `_mta-sts` lookup with no cached policy defers; with one cached, the
//!   cached policy applies;
//! - trusting a resolver's AD bit (`smtp_dns_support_level = dnssec`) is allowed only for a
//!   resolver on loopback; its SERVFAIL for a bogus answer is a temporary failure;
//! - every lookup is bounded by the resolver's timeout.
