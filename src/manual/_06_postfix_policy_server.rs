//! # Answering Postfix's outbound TLS policy lookups
//!
//! `mailtls policyd` answers `smtp_tls_policy_maps` (socketmap or tcp_table, see
//! [`policy::postfix::lookup`](crate::policy::postfix::lookup)) with values rendered by
//! [`PolicyAnswer`](crate::policy::postfix::PolicyAnswer). The rules:
//!
//! 1. **The key is the next hop, verbatim.** `example.com`, `[mx.example.com]:587` and
//!    `example.com:2525` are three destinations; brackets and ports never reach a bare-domain
//!    entry. Table `.parent` entries apply to bare domains; a `.parent` key sent by a client
//!    is `NOTFOUND` (the domain's own answer already covered it).
//! 2. **Same decision as delivery.** Connectors, then the policy table, then the default; DANE
//!    before MTA-STS; the answer is the one `mailtls explain` prints for that next hop.
//! 3. **Never weaker because something failed.** A bogus or indeterminate DNSSEC answer, an
//!    MTA-STS discovery failure with nothing cached, a lookup past its budget: `TEMP`, so
//!    Postfix defers and retries. Never a lower level, never `NOTFOUND`.
//! 4. **Never weaker because Postfix cannot say it.** A requirement with no Postfix spelling
//!    (a chain check without a name check; pins that are not SHA-256) is `PERM`. DANE that
//!    mailtls validated is `dane-only`: `dane` would fall back to `may` where Postfix's own
//!    resolver does not validate. Where Postfix's spelling is wider (MTA-STS `*.example.net`
//!    is one label; Postfix's `.example.net` is any depth) the explanation says so, and
//!    `--tlsrpt` adds `mx_host_pattern=` for Postfix 3.10.5+ to enforce the exact patterns,
//!    and `policy_failure=validation-failure` when no MX host matches the policy at all, so
//!    Postfix fails the enforcement (and reports it) whatever certificate a host shows.
//! 5. **Nothing specific is `NOTFOUND`.** A next hop that no connector or table entry covers,
//!    and that no DANE or MTA-STS answer decided, gets Postfix's own
//!    `smtp_tls_security_level`: set it in `main.cf` (see the README snippet). `--level`
//!    is the level policyd's own discovery starts from for such a next hop: `dane` (the
//!    default, for `smtp_dns_support_level = dnssec` sites) looks up TLSA records and answers
//!    `dane-only` where they validate, MTA-STS where they do not; `may` looks up MTA-STS
//!    alone.
//! 6. **Bad clients cost little.** Malformed or oversized netstrings are answered `PERM` and
//!    the connection closed; unknown socketmap names (with `--map-name`) get `PERM`; idle,
//!    slow and half-open clients are closed after their timeouts; connections past
//!    `--max-connections` are closed at once. The server answers everyone else meanwhile.
//! 7. **Lookups do not wait for each other.** Discovery runs on a bounded pool; the MTA-STS
//!    cache is locked only around its own steps, so a slow policy fetch for one domain never
//!    holds up another's lookup, and every lookup answers within `--budget-ms` (`TEMP` past
//!    it).
