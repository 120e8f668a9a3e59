//! # State that survives a restart and a fleet
//!
//! MTA-STS is trust on first use (RFC 8461 §10): it protects a domain only while its policy
//! is cached. A cache in process memory is emptied by every restart, and an attacker on the
//! path can wait for that, strip the `_mta-sts` TXT record and the STARTTLS offer, and get
//! plaintext. The downgrade memory has the same weakness, and TLS-RPT outcomes that live only
//! in memory are never reported. So all three live behind one trait,
//! [`Store`](crate::state::Store), kept in a SQLite file or a Redis server.
//!
//! ## The rules
//!
//! - **Memory first, store behind.** [`StsState`](crate::state::StsState) answers from the
//!   in-process [`StsCache`](crate::policy::mta_sts::StsCache) and asks the store only on a
//!   miss (or when the TXT id changed: another MTA of the fleet may already hold the new
//!   policy). A stored policy that has not expired applies exactly as a fetched one, also
//!   when the TXT record is gone (RFC 8461 §5.1).
//! - **A newer fetch wins, an older one never does.** Two MTAs racing to store a policy for
//!   one domain leave the one fetched last. The downgrade memory keeps the strongest rung
//!   seen; a weaker one never replaces it.
//! - **A failing store never downgrades.** When the store cannot be read, the lookup goes on
//!   with memory alone: a policy in memory still governs, a miss is treated as RFC 8461 says
//!   (fetch the policy; a temporary DNS failure with nothing cached defers). The failure is
//!   reported once, as a [`StoreNotice`](crate::state::StoreNotice), and once more when the
//!   store recovers, never once per message. The Redis store also stops trying for a moment
//!   after a failure, so a down server costs each message nothing.
//! - **A file that is not ours is not touched.** A SQLite state file carries mailtls's
//!   `application_id`; a file that is not SQLite, is corrupt, or is another program's
//!   database fails with [`StoreError::NotAStateFile`](crate::state::StoreError) naming the
//!   file. A schema newer than the running mailtls fails with `NewerSchema` and both versions;
//!   an older one is migrated in one transaction.
//! - **Nothing recorded is lost.** Every write is one transaction (SQLite, WAL) or one atomic
//!   script (Redis); a full disk fails the write with `Full` and keeps what was there.
//! - **A report is sent once per destination, after it was accepted.** Outcomes are counted
//!   per policy domain and UTC day. When the day is over, the report goes to every usable
//!   `rua` of the domain; a destination is marked sent only after its `250` or `2xx`, so a
//!   refused report is retried on the next run and an accepted one never repeated. Report
//!   mail carries `TLS-Required: No` and is sent at the opportunistic level (RFC 8460 §3).
//!   Run the sender from one place for a fleet; every MTA records.
//! - **Two senders never send one report twice.** Before a destination is tried, the sender
//!   claims it in the store ([`Store::claim_send`](crate::state::Store::claim_send): one
//!   atomic step in SQLite, Redis and memory) for a lease (15 minutes by default, longer than
//!   one SMTP or HTTPS attempt can take). Another sender finds it claimed and leaves it; a
//!   failed send gives the claim back at once, so the next run retries; a sender that dies
//!   leaves a claim that simply expires. The claim is refused for good once the destination
//!   is marked sent.
//! - **The report goes where the record says, and nowhere else.** `mailto:` through mailtls's
//!   own client to the MX hosts of the address's domain (their MTA-STS policy is not even
//!   fetched: it could not block a `TLS-Required: No` message); `https:` by one POST of
//!   `application/tlsrpt+gzip` through the same HTTPS client as the MTA-STS fetch: the
//!   certificate chains to the public roots and names the host, one overall timeout, the
//!   response capped, no redirect followed (a 3xx is a refusal). A destination is sent only
//!   after a `250` or `2xx`; anything else is shown (the SMTP reply, the HTTP status) and
//!   retried. A missing, malformed or unreadable `_smtp._tls` record leaves the day for the
//!   next run, with the record's problem named.
//!
//! `mailtls report --state SPEC` does all of this once (a cron job): each line it prints says
//! per domain, day and destination what was sent, what failed and why, what was already sent
//! or claimed by another sender; it exits 75 while anything is left to retry.
