//! Sending the TLS-RPT reports a [`Store`] holds (RFC 8460 §5): one report per policy domain
//! and finished UTC day, to every usable `rua` of the domain, marked sent only once a
//! destination accepted it.

use std::io::Write as _;

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
}

/// Delivers one report to one destination. `Ok` only once the destination accepted it (a
/// `250` to the end of DATA, a `2xx` to the POST): only then is it marked sent.
pub trait ReportTransport {
    /// Mails `message` (a complete RFC 5322 message) from `from` to `to`, without TLS
    /// enforcement blocking it (RFC 8460 §3: opportunistic TLS, `TLS-Required: No`).
    fn mail(&mut self, from: &str, to: &str, message: &[u8]) -> Result<(), String>;
    /// POSTs `gzipped` to `uri` as `application/tlsrpt+gzip` (RFC 8460 §5.4).
    fn post(&mut self, uri: &str, gzipped: &[u8]) -> Result<(), String>;
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
                continue;
            }
            let sent = match uri {
                ReportUri::Https(u) => transport.post(u, &gzipped),
                ReportUri::Mailto(address) => {
                    mail_report(&report, &day, settings, address, now, &gzipped, transport)
                }
                _ => continue,
            };
            match sent {
                Ok(()) => {
                    store.mark_sent(&day, &destination, now)?;
                    results.push(ReportSend::Sent {
                        day: day.clone(),
                        destination,
                    });
                }
                Err(error) => results.push(ReportSend::Failed {
                    day: day.clone(),
                    destination,
                    error,
                }),
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
) -> Result<(), String> {
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
