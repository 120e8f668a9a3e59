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
//!
//! ## On the delivery path
//!
//! - **Discovery reads and writes the cache through the store.** The
//!   [`Discoverer`](crate::io::discover::Discoverer) takes any
//!   [`StsCaching`](crate::state::StsCaching): the in-process
//!   [`StsCache`](crate::policy::mta_sts::StsCache) alone (nothing survives the process), or an
//!   [`StsState`](crate::state::StsState) over a store. A policy another process fetched
//!   applies without a fetch; a failing store leaves the lookup to memory and the RFC 8461
//!   rules (a miss fetches; with the fetch failing too, the domain is treated as having no
//!   policy, §5; a temporary DNS failure with nothing cached defers).
//! - **Every session is counted, once.** After a delivery,
//!   [`StoredDowngradeMemory::record_delivery`](crate::state::StoredDowngradeMemory::record_delivery)
//!   writes each attempt's TLS-RPT [`SessionOutcome`](crate::tlsrpt::SessionOutcome) with
//!   [`Store::record_outcome`](crate::state::Store::record_outcome) and, when the delivery
//!   completed, the rung it completed on into the downgrade memory (plaintext when the session
//!   ran without TLS: a TLS rung that met no STARTTLS proves nothing stronger).
//!   [`Mailer::with_state`](crate::io::Mailer::with_state) does this after every `send`,
//!   `send_decision` and `deliver_to_domain` (blocking and tokio); `mailtls send --state` after
//!   its delivery. A failing store loses those counts, never the delivery.
//! - **One line per outage.** Each part in front of a store (the MTA-STS cache, the recording)
//!   keeps a [`StoreHealth`](crate::state::StoreHealth) and hands out a
//!   [`StoreNotice`](crate::state::StoreNotice) when the health changes; the `mailtls` command
//!   prints the first "failing" of an outage and the first "works again" after it, whichever
//!   part saw it, on stderr (a `{"event": "state-store"}` JSON line with `--json`). A Redis
//!   server that refuses at start is such an outage, not an error; a file that is not a
//!   mailtls state file, or one from a newer mailtls, is a configuration error naming it.
//! - **Inbound sessions are not counted.** TLS-RPT (RFC 8460) is written by the sending MTA
//!   about the recipient domain's published policy (DANE or MTA-STS); an inbound session has no
//!   such policy to count against, so `mailtls serve` takes no `--state`.
//! - **The downgrade memory is written, not yet consulted by [`Delivery`](crate::client::Delivery).**
//!   The ladder's [`next_rung_remembered`](crate::policy::ladder::next_rung_remembered) reads
//!   it; the attempt driver does not call it yet, so today the memory records what each host
//!   proved (for reports and for a caller that consults it) without refusing a downgrade.
//!
//! ```text
//! # restart: the cached enforce policy survives (the CI lab; 2591 is a closed port)
//! mailtls send ... --to b@enforce.sts.test --port 2555 --sts-port 2552 --state state.sqlite   # exit 0, fetched
//! mailtls send ... --to b@enforce.sts.test --port 2556 --sts-port 2591 --state state.sqlite   # exit 75, from the file
//! # fleet: the second MTA never fetched
//! mailtls send ... --port 2555 --sts-port 2552 --state redis://10.0.0.5:6379/0                # MTA 1
//! mailtls send ... --port 2556 --sts-port 2591 --state redis://10.0.0.5:6379/0                # MTA 2: exit 75
//! ```
