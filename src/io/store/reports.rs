//! Sending the TLS-RPT reports a [`Store`] holds (RFC 8460 §5): one report per policy domain
//! and finished UTC day, to every usable `rua` of the domain, marked sent only once a
//! destination accepted it, claimed first so two senders on one store never both send it.
//!
//! [`send_due_reports`] does one run; what carries the reports is a [`ReportTransport`]:
//! `NetTransport` (feature `dns`) mails through mailtls's own client and POSTs through the
//! MTA-STS HTTPS client, with `tlsrpt_record` looking the destinations up in DNS. `mailtls
//! report` is that run from the command line.
//!
//! ```
//! use mailtls::io::store::reports::{
//!     send_due_reports, ReportSend, ReportSettings, ReportTransport, DEFAULT_LEASE,
//! };
//! use mailtls::report::{PolicyRef, PolicyType, SessionOutcome, TlsRptRecord};
//! use mailtls::state::{MemoryState, Store};
//! use mailtls::Timestamp;
//!
//! /// Accepts every POST (a real sender uses `NetTransport`).
//! struct Accept;
//! impl ReportTransport for Accept {
//!     fn mail(&mut self, _: &str, _: &str, _: &[u8]) -> Result<String, String> {
//!         Ok("250 2.0.0 queued".into())
//!     }
//!     fn post(&mut self, _: &str, _: &[u8]) -> Result<String, String> {
//!         Ok("HTTP 200".into())
//!     }
//! }
//!
//! let store = MemoryState::new();
//! let policy = PolicyRef {
//!     policy_type: PolicyType::NoPolicyFound,
//!     policy_string: vec![],
//!     policy_domain: "example.net".into(),
//!     mx_host: vec![],
//! };
//! store.record_outcome(&SessionOutcome {
//!     at: Timestamp::from_unix_secs(1_700_000_000),
//!     policy,
//!     unused_policies: vec![],
//!     mx_host: Some("mx.example.net".into()),
//!     sending_ip: None,
//!     receiving_ip: None,
//!     receiving_helo: None,
//!     result: Ok(()),
//! })?;
//! let settings = ReportSettings {
//!     organization_name: "Example Org".into(),
//!     contact_info: "postmaster@example.org".into(),
//!     submitter: "example.org".into(),
//!     from: "tlsrpt-noreply@example.org".into(),
//!     holder: "cron@relay1".into(),
//!     lease: DEFAULT_LEASE,
//! };
//! let mut record_of = |_domain: &str| {
//!     TlsRptRecord::parse("v=TLSRPTv1; rua=https://tlsrpt.example.net/v1")
//!         .map_err(|e| e.to_string())
//! };
//! let tomorrow = Timestamp::from_unix_secs(1_700_000_000 + 86_400);
//! let sent = send_due_reports(&store, &settings, tomorrow, &mut record_of, &mut Accept)?;
//! assert!(matches!(&sent[0], ReportSend::Sent { accepted, .. } if accepted == "HTTP 200"));
//! // The next run sends nothing again.
//! let again = send_due_reports(&store, &settings, tomorrow, &mut record_of, &mut Accept)?;
//! assert!(matches!(&again[0], ReportSend::AlreadySent { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write as _;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::report::{
    mailto_address, report_message, ReportMail, ReportMeta, ReportUri, TlsRptRecord,
};
use crate::state::{day_report, ReportDay, Store, StoreError};
use crate::time::Timestamp;

/// Who writes the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSettings {
    /// `organization-name`.
    pub organization_name: String,
    /// `contact-info`.
    pub contact_info: String,
    /// The sending MTA's domain: `TLS-Report-Submitter`, and the receiver part of the file
    /// name (RFC 8460 §5.1).
    pub submitter: String,
    /// The mailbox report mail comes from.
    pub from: String,
    /// Who this run is, in the store's claims: unique per sender process (host name and
    /// process id, say), so two senders on one store never send one report twice.
    pub holder: String,
    /// How long a claim on one destination holds: longer than one send can take (connect and
    /// SMTP or HTTPS timeouts). A sender that dies leaves a claim that expires after it.
    pub lease: Duration,
}

/// The [`ReportSettings::lease`] a sender uses unless told otherwise: well over the
/// timeouts of one SMTP delivery or one HTTPS POST.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

/// Delivers one report to one destination. `Ok` only once the destination accepted it (a
/// `250` to the end of DATA, a `2xx` to the POST): only then is it marked sent. Both sides
/// carry what the destination said (the SMTP reply, the HTTP status), for the operator.
pub trait ReportTransport {
    /// Mails `message` (a complete RFC 5322 message) from `from` to `to`, without TLS
    /// enforcement blocking it (RFC 8460 §3: opportunistic TLS, `TLS-Required: No`).
    fn mail(&mut self, from: &str, to: &str, message: &[u8]) -> Result<String, String>;
    /// POSTs `gzipped` to `uri` as `application/tlsrpt+gzip` (RFC 8460 §5.4).
    fn post(&mut self, uri: &str, gzipped: &[u8]) -> Result<String, String>;
}

/// What happened to one report for one destination.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportSend {
    /// Delivered and marked sent.
    Sent {
        /// The domain and day.
        day: ReportDay,
        /// The `rua` URI.
        destination: String,
        /// What the destination said (the SMTP reply to the message, the HTTP status).
        accepted: String,
    },
    /// Due, not sent: a dry run ([`due_reports`]).
    Due {
        /// The domain and day.
        day: ReportDay,
        /// The `rua` URI.
        destination: String,
    },
    /// Not sent now: an earlier run already delivered it there.
    AlreadySent {
        /// The domain and day.
        day: ReportDay,
        /// The `rua` URI.
        destination: String,
    },
    /// Not sent now: another sender on the same store holds the claim on it (it is sending
    /// it, or died and its claim has not expired yet).
    ClaimedElsewhere {
        /// The domain and day.
        day: ReportDay,
        /// The `rua` URI.
        destination: String,
    },
    /// Not sent: the destination refused or could not be reached. Retried on the next run.
    Failed {
        /// The domain and day.
        day: ReportDay,
        /// The `rua` URI.
        destination: String,
        /// Why.
        error: String,
    },
    /// The domain publishes no usable `_smtp._tls` record: nothing to send to. Retried on the
    /// next run (the record may be fixed).
    NoDestination {
        /// The domain and day.
        day: ReportDay,
        /// Why.
        error: String,
    },
}

/// The report file as RFC 8460 wants it on the wire: the JSON, gzip-compressed.
pub fn gzip(json: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(json);
    encoder.finish().unwrap_or_default()
}

/// The `report-id` of a domain's report for a day: the same on every run, so a receiver can
/// drop a duplicate (RFC 8460 §5.3 says that is what the id is for).
pub fn report_id(day: &ReportDay, submitter: &str) -> String {
    format!("{}.{}@{submitter}", day.day, day.policy_domain)
}

/// Sends every report that is due: each policy domain and day that is over at `now`, to each
/// usable `rua` of the domain's TLS-RPT record (`record_of` looks it up), unless already sent
/// there. A failed destination is left unmarked, to be retried on the next run; a sent one is
/// never sent again.
///
/// Run it from one place for a fleet (a cron job): every MTA records outcomes, one sends.
pub fn send_due_reports(
    store: &dyn Store,
    settings: &ReportSettings,
    now: Timestamp,
    record_of: &mut dyn FnMut(&str) -> Result<TlsRptRecord, String>,
    transport: &mut dyn ReportTransport,
) -> Result<Vec<ReportSend>, StoreError> {
    run(store, settings, now, record_of, Some(transport))
}

/// What [`send_due_reports`] would do at `now`, without claiming or sending anything: each
/// destination it would send to is [`ReportSend::Due`].
pub fn due_reports(
    store: &dyn Store,
    settings: &ReportSettings,
    now: Timestamp,
    record_of: &mut dyn FnMut(&str) -> Result<TlsRptRecord, String>,
) -> Result<Vec<ReportSend>, StoreError> {
    run(store, settings, now, record_of, None)
}

fn run(
    store: &dyn Store,
    settings: &ReportSettings,
    now: Timestamp,
    record_of: &mut dyn FnMut(&str) -> Result<TlsRptRecord, String>,
    mut transport: Option<&mut dyn ReportTransport>,
) -> Result<Vec<ReportSend>, StoreError> {
    let mut results = Vec::new();
    for day in store.report_days()? {
        if !day.is_over(now) {
            continue;
        }
        let record = match record_of(&day.policy_domain) {
            Ok(record) => record,
            Err(error) => {
                results.push(ReportSend::NoDestination { day, error });
                continue;
            }
        };
        let meta = ReportMeta {
            organization_name: settings.organization_name.clone(),
            contact_info: settings.contact_info.clone(),
            report_id: report_id(&day, &settings.submitter),
        };
        let Some(report) = day_report(store, &day, &meta)? else {
            continue;
        };
        let gzipped = gzip(report.to_json().as_bytes());
        for uri in record.usable_uris() {
            let destination = match uri {
                ReportUri::Mailto(address) => format!("mailto:{address}"),
                ReportUri::Https(u) | ReportUri::Unsupported(u) => u.clone(),
            };
            if store.is_sent(&day, &destination)? {
                results.push(ReportSend::AlreadySent {
                    day: day.clone(),
                    destination,
                });
                continue;
            }
            let Some(transport) = transport.as_deref_mut() else {
                results.push(ReportSend::Due {
                    day: day.clone(),
                    destination,
                });
                continue;
            };
            // Claims live on the wall clock, whatever `now` says about which days are over:
            // a sender run with another `now` (a test, a catch-up) still sees real claims.
            let clock = crate::io::now();
            let until = Timestamp::from_unix_millis(
                u64::try_from(
                    clock
                        .since_epoch()
                        .saturating_add(settings.lease)
                        .as_millis(),
                )
                .unwrap_or(u64::MAX),
            );
            if !store.claim_send(&day, &destination, &settings.holder, clock, until)? {
                // Sent meanwhile, or another sender is at it.
                results.push(if store.is_sent(&day, &destination)? {
                    ReportSend::AlreadySent {
                        day: day.clone(),
                        destination,
                    }
                } else {
                    ReportSend::ClaimedElsewhere {
                        day: day.clone(),
                        destination,
                    }
                });
                continue;
            }
            let sent = match uri {
                ReportUri::Https(u) => transport.post(u, &gzipped),
                ReportUri::Mailto(address) => {
                    mail_report(&report, &day, settings, address, now, &gzipped, transport)
                }
                ReportUri::Unsupported(_) => continue,
            };
            match sent {
                Ok(accepted) => {
                    store.mark_sent(&day, &destination, now)?;
                    results.push(ReportSend::Sent {
                        day: day.clone(),
                        destination,
                        accepted,
                    });
                }
                Err(error) => {
                    // Let the next run try at once; the counters and the unmarked
                    // destination stay.
                    store.release_send(&day, &destination, &settings.holder)?;
                    results.push(ReportSend::Failed {
                        day: day.clone(),
                        destination,
                        error,
                    });
                }
            }
        }
    }
    Ok(results)
}

fn mail_report(
    report: &crate::report::Report,
    day: &ReportDay,
    settings: &ReportSettings,
    address: &str,
    now: Timestamp,
    gzipped: &[u8],
    transport: &mut dyn ReportTransport,
) -> Result<String, String> {
    let to = mailto_address(address).ok_or("a mailto: rua with a malformed %-escape")?;
    let mail = ReportMail {
        from: settings.from.clone(),
        to: to.clone(),
        submitter: settings.submitter.clone(),
        date: now,
        message_id: format!(
            "tlsrpt.{}.{}@{}",
            day.day, day.policy_domain, settings.submitter
        ),
    };
    let message =
        report_message(report, day.period(), &mail, gzipped).map_err(|e| e.to_string())?;
    transport.mail(&settings.from, &to, &message)
}

/// The [`ReportTransport`] of a real sender: report mail through mailtls's own client to the
/// MX hosts of the recipient's domain, report POSTs through the HTTPS client of
/// [`StsFetcher`](crate::io::StsFetcher), every host name looked up through `resolver`.
///
/// Report mail goes out as RFC 8460 §3 asks: the message carries `TLS-Required: No`, the
/// envelope no REQUIRETLS, and the mailer plans at the opportunistic level (`may`), so the
/// recipient's DANE or MTA-STS policy never blocks a report about broken TLS. Its MTA-STS
/// policy is not even fetched (`NoFetch`): it could not change the outcome.
#[cfg(feature = "dns")]
pub struct NetTransport<'a, R> {
    mailer: crate::io::Mailer,
    resolver: &'a R,
    smtp_port: Option<u16>,
    https: crate::io::StsFetcher,
}

#[cfg(feature = "dns")]
impl<R> std::fmt::Debug for NetTransport<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetTransport")
            .field("smtp_port", &self.smtp_port)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "dns")]
impl<'a, R: crate::io::dns::Resolve> NetTransport<'a, R> {
    /// A transport that mails as `mailer` (build it with the opportunistic default level and
    /// the EHLO name of the sending host: [`NetTransport::report_mailer`]), POSTs through
    /// `https` (its anchors are those the report hosts' certificates must chain to), and
    /// looks names up with `resolver`.
    pub fn new(mailer: crate::io::Mailer, https: crate::io::StsFetcher, resolver: &'a R) -> Self {
        Self {
            mailer,
            resolver,
            smtp_port: None,
            https,
        }
    }

    /// The mailer report mail goes through: EHLO `helo_name`, the opportunistic level for
    /// every destination (RFC 8460 §3).
    pub fn report_mailer(helo_name: &str) -> Result<crate::io::Mailer, crate::client::ClientError> {
        crate::io::Mailer::new(
            helo_name,
            crate::policy::OutboundPolicy::new().with_default_level(crate::policy::Level::May),
        )
    }

    /// Another SMTP port for every MX host (labs).
    #[must_use]
    pub fn with_smtp_port(mut self, port: u16) -> Self {
        self.smtp_port = Some(port);
        self
    }
}

#[cfg(feature = "dns")]
impl<R: crate::io::dns::Resolve> ReportTransport for NetTransport<'_, R> {
    fn mail(&mut self, from: &str, to: &str, message: &[u8]) -> Result<String, String> {
        use crate::io::discover::{Discoverer, NoFetch};
        use crate::policy::requiretls::MessageTls;

        let domain = to
            .rsplit_once('@')
            .and_then(|(_, domain)| crate::names::DnsName::parse(domain).ok())
            .ok_or_else(|| format!("{to}: no domain to mail the report to"))?;
        let message =
            crate::io::Message::new(from, [to], message).map_err(|e| format!("{to}: {e}"))?;
        let mut cache = crate::policy::mta_sts::StsCache::default();
        let mut discoverer = Discoverer::new(self.resolver, &NoFetch, &mut cache);
        if let Some(port) = self.smtp_port {
            discoverer = discoverer.with_smtp_port(port);
        }
        let flags = MessageTls {
            requiretls: false,
            tls_required_no: true,
        };
        let report = crate::io::blocking::deliver_to_domain(
            &self.mailer,
            &mut discoverer,
            &domain,
            &[message],
            flags,
        )
        .map_err(|e| e.to_string())?;
        let result = report.report.messages.first().and_then(Option::as_ref);
        let said = result
            .and_then(|m| m.reply.as_ref())
            .map(|reply| reply_text(&reply.to_bytes()));
        match (result, said) {
            (Some(m), Some(said)) if m.accepted => Ok(said),
            (_, Some(said)) => Err(said),
            _ => Err(match &report.report.outcome {
                Some(crate::client::DeliveryOutcome::Deferred(status))
                | Some(crate::client::DeliveryOutcome::Bounced(status)) => status.to_string(),
                _ => report
                    .report
                    .connect_errors
                    .iter()
                    .map(|(host, error)| format!("{host}: {error}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    fn post(&mut self, uri: &str, gzipped: &[u8]) -> Result<String, String> {
        use crate::io::sts_fetch::PostTarget;

        let target = PostTarget::parse(uri).map_err(|e| e.to_string())?;
        let host = crate::names::DnsName::parse(&target.host).map_err(|e| e.to_string())?;
        let addresses = match self.resolver.addresses(&host) {
            Ok(answer) => answer.records,
            Err(e) => return Err(format!("{}: {e}", target.host)),
        };
        self.https
            .post_report(&target, gzipped, &addresses)
            .map(|status| format!("HTTP {status}"))
            .map_err(|e| e.to_string())
    }
}

/// The TLS-RPT record of `domain`, looked up at `_smtp._tls.<domain>` (RFC 8460 §3), or why
/// there is none to send to: no record, an invalid one (with what is wrong with it), or a
/// failed lookup.
#[cfg(feature = "dns")]
pub fn tlsrpt_record<R: crate::io::dns::Resolve>(
    resolver: &R,
    domain: &str,
) -> Result<TlsRptRecord, String> {
    use crate::policy::discovery::TlsRptLookup;

    let owner = format!("_smtp._tls.{}", domain.trim_end_matches('.'));
    let name = crate::names::DnsName::parse_owner(&owner).map_err(|e| format!("{owner}: {e}"))?;
    match TlsRptLookup::from_answer(&resolver.txt(&name)) {
        TlsRptLookup::Record(record) => Ok(record),
        TlsRptLookup::NoRecord { invalid: None } => {
            Err(format!("{owner}: no TLS-RPT record (v=TLSRPTv1)"))
        }
        TlsRptLookup::NoRecord {
            invalid: Some(error),
        } => Err(format!("{owner}: unusable TLS-RPT record: {error}")),
        TlsRptLookup::Failed(error) => Err(format!("{owner}: lookup failed: {error}")),
    }
}

/// An SMTP reply as one line for an operator: its lines joined by ` / `.
#[cfg(feature = "dns")]
fn reply_text(wire: &[u8]) -> String {
    String::from_utf8_lossy(wire)
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}
