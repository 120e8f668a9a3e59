//! # Defaults, and why they are safe
//!
//! | setting | default | why |
//! |---|---|---|
//! | protocol versions | TLS 1.3 and TLS 1.2 | TLS 1.0 and 1.1 are deprecated (RFC 8996) and large mail services no longer send them; rustls implements neither |
//! | cipher suites | ECDHE key exchange with AEAD ciphers only | forward secrecy: a stolen server key does not decrypt recorded mail |
//! | crypto provider | *ring* | one audited provider, no C toolchain surprises, no aws-lc in the tree |
//! | outbound level | opportunistic (Postfix `may`) | the destination may offer no TLS; refusing would lose mail, accepting an unverified certificate still defeats passive attackers |
//! | plaintext after a failed handshake | only at the opportunistic level, on a new connection, behind Postfix's gates (no REQUIRETLS, no AUTH credentials for the destination, message old enough) | a one-off handshake failure must not become a silent, attacker-triggered downgrade |
//! | SMTP line limits | 512 octets for command lines, 1000 for text lines (RFC 5321 §4.5.3.1); the client reads reply lines up to 2048 (Postfix `line_length_limit`: an EHLO line listing sixty AUTH mechanisms passes 512) | bounded memory against hostile peers |
//! | SMTP timeouts | RFC 5321 §4.5.3.2 (greeting 5 min, MAIL and RCPT 5 min, DATA 2 min, data block 3 min, end of data 10 min) | a peer that drips bytes cannot hold a session forever |
//! | minimum partner key | RSA 2048, EC 256 | the strength large services publish for their own certificates |
//! | public roots (what `verify`, `secure`, connector domain validation and MTA-STS chain to) | the system trust store (`io::PublicRoots::System`; `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured), loaded only when a decision needs it; `mozilla` is the built-in alternative; `tafile` replaces either | the host's CA updates and local additions apply, and a store that cannot be read fails the deliveries that need it instead of trusting nothing or everything |
//! | MTA-STS policy fetch | HTTPS port 443, 10 s for connect, handshake and response together, 64 KiB body, no redirects, 200 and `text/plain` only | RFC 8461 §3.3; a slow or hostile policy host delays one fetch, never a queue |
//! | SHA-1 signed certificates | refused for partner matching | SHA-1 certificates are no longer trusted by large mail services since 2016 |
//!
//! Anything weaker than these defaults is reachable only through an option whose name contains
//! `danger`.
