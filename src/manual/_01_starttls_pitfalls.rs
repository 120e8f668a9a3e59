//! # STARTTLS pitfalls and the invariants mailtls holds
//!
//! STARTTLS upgrades a plaintext SMTP connection to TLS in the middle of the dialogue. The
//! switch is where implementations have failed again and again, because an attacker on the
//! path controls every plaintext byte before it.
//!
//! ## 1. Bytes buffered across the switch (command and response injection)
//!
//! A server that reads `STARTTLS\r\nRSET\r\n` in one read, answers 220, starts TLS, and then
//! executes the buffered `RSET` *as if it had come over TLS* lets an attacker inject commands
//! into the protected session (CVE-2011-0411, Postfix and many others). The client side has the
//! mirror image: a `220 go ahead\r\n250 fake\r\n` in one read, where the forged `250` is taken as
//! the answer to the first command after TLS ("NO STARTTLS", USENIX Security 2021; the same bug
//! class was fixed in lettre-like `BufReader` upgrades, nodemailer, aiosmtpd and libetpan).
//!
//! **Invariant 1.** After the reply to STARTTLS (client) or the STARTTLS command line (server),
//! any byte already buffered in plaintext is an error for the client, and is discarded and
//! reported by the server. It is never fed to TLS or to the post-TLS parser. This includes a
//! fragment with no CRLF and complete forged replies pipelined behind a 454 or 5xx. Such an
//! attempt (or one whose STARTTLS got a `221`, a `354` or anything but 220, 454 and 5xx) ends
//! where it is, counted as `validation-failure`: it never moves down the ladder (invariant 5).
//!
//! ## 2. Knowledge from before the handshake
//!
//! RFC 3207 §4.2: both sides MUST discard any knowledge obtained before TLS. An attacker can
//! strip `REQUIRETLS` or `AUTH` from the plaintext EHLO reply, or add capabilities.
//!
//! **Invariant 2.** After the handshake both sides forget the pre-TLS dialogue. The client sends
//! EHLO again and reads capabilities, REQUIRETLS among them, only from the post-TLS reply. The
//! server requires a new EHLO before any envelope command.
//!
//! ## 3. Stripping and refusing
//!
//! An attacker can delete `STARTTLS` from the EHLO reply, answer STARTTLS with `454`, answer
//! `220` and never start TLS, or impersonate a HELO-only server.
//!
//! **Invariant 3.** A policy that requires TLS never ends in a plaintext transaction, whatever
//! the peer does. The attempt fails with the RFC 8460 result `starttls-not-supported`.
//!
//! Plaintext can defer mail, never bounce it: a 5xx greeting sends the client to the next MX
//! and then defers (Postfix's default `smtp_skip_5xx_greeting = yes`), at every level. After
//! a clean 454 or 5xx to STARTTLS the client still says QUIT: the stream is in step.
//!
//! ## 4. Certificates that do not verify
//!
//! Opportunistic TLS accepts any certificate, by design: an unverified encrypted channel is still
//! better than plaintext against a passive attacker. A policy that requires authentication is
//! different: a certificate that cannot be verified the way the policy says must end the attempt.
//!
//! **Invariant 4.** A policy that requires authentication never completes a transaction with a
//! certificate it could not verify the way the policy says.
//!
//! ## 5. Downgrades
//!
//! Some peers cannot complete a modern handshake (they abort on a TLS 1.3 ClientHello, or know
//! only a few suites). Retrying with weaker parameters is what large services do, but a retry
//! that an attacker can trigger at will is a downgrade attack.
//!
//! **Invariant 5.** A downgrade happens only after a handshake failure of a class that allows
//! it, never below the policy's floor (and never below TLS 1.2 at all), always on a new
//! connection, and is always reported as an event. A certificate failure at an authenticated
//! level never walks down the ladder, and neither does an untrusted reply to STARTTLS
//! (`FailureClass::UntrustedStarttlsReply`): bytes an attacker can inject before the handshake
//! never choose the rung, at any level.
//!
//! ## 6. The C boundary
//!
//! **Invariant 6.** Panics never cross the C boundary; NULL and malformed inputs return error
//! codes.
//!
//! Each invariant has a test with a hostile transcript or hostile input in the test suite.
