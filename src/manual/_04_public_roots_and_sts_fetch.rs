//! # The public roots, and the MTA-STS policy fetch
//!
//! ## Which anchors "the public roots" are
//!
//! A Postfix `verify` or `secure` level without `tafile=`, an Exchange-style connector with
//! domain or certificate validation, and MTA-STS (both the MX hosts and the policy host) check
//! a certificate chain "to the public roots". What that set is belongs to the caller, outside
//! the core (which reads no files):
//!
//! - [`PublicRoots::System`](crate::io::PublicRoots::System), the default of
//!   [`Mailer`](crate::io::Mailer) and of `mailtls probe`/`send` (`--trust-store system`): the
//!   host's store as `rustls-native-certs` finds it. `SSL_CERT_FILE` and `SSL_CERT_DIR`, when
//!   set, name the files instead of the platform bundle, as they do for OpenSSL.
//! - [`PublicRoots::Mozilla`](crate::io::PublicRoots::Mozilla) (`--trust-store mozilla`,
//!   cargo feature `webpki-roots`): the Mozilla set compiled in; the same anchors on every
//!   host.
//! - Your own set: [`Mailer::with_public_roots`](crate::io::Mailer::with_public_roots), or the
//!   anchors handed to [`verifiers_for`](crate::io::verifiers_for).
//!
//! `--tafile` (and a connector's or policy table's `tafile=`) *replaces* the public roots for
//! what it covers; the plan says so ("trust-anchor file(s) replace the public roots"), so what
//! `explain` prints is what is checked. The store is read only when a decision chains to it: an
//! opportunistic delivery works on a host with no CA bundle, while a `secure` one fails with a
//! configuration error (exit 78) rather than trust nothing.
//!
//! ## The MTA-STS policy fetch
//!
//! The core describes the fetch ([`StsFetchRequest`](crate::policy::mta_sts::StsFetchRequest))
//! and judges its result ([`consume`](crate::policy::mta_sts::consume)); the adapter
//! [`StsFetcher`](crate::io::StsFetcher) performs it, blocking or on tokio. RFC 8461 §3.3, and
//! what each failure is reported as (RFC 8460 §4.3.2.2):
//!
//! | rule | a breach is |
//! |---|---|
//! | HTTPS to `mta-sts.<domain>`, SNI that name, the certificate valid for it (RFC 9525: DNS SANs, `*` only as a whole left-most label) and chaining to the public roots | `sts-webpki-invalid`; no request is sent |
//! | TLS 1.2 or 1.3, forward-secret AEAD suites (the ring provider) | `sts-policy-fetch-error` |
//! | no redirect followed: any 3xx | `sts-policy-fetch-error` |
//! | status 200 only | `sts-policy-fetch-error` |
//! | media type `text/plain` (parameters allowed) | `sts-policy-invalid` |
//! | at most 64 KiB: 64 KiB + 1 bytes are read, then the connection is dropped | `sts-policy-invalid` |
//! | a well-formed policy | `sts-policy-invalid` |
//! | a complete body: `Content-Length` bytes, the last chunk, or `close_notify` when the body runs to the close | `sts-policy-fetch-error` |
//! | a response head of at most 16 KiB and 64 fields; well-formed chunk framing | `sts-policy-fetch-error` |
//! | one overall timeout (10 s by default) for connect, handshake and response | `sts-policy-fetch-error` |
//!
//! The port is a setting (443 by default) so that a lab can serve policies elsewhere while the
//! name checked stays `mta-sts.<domain>`; the addresses come from the caller's resolver.
