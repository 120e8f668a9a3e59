//! `mailtls report`: send the TLS-RPT reports a state store holds (RFC 8460 §5), one per
//! policy domain and finished UTC day, to every `rua` of the domain's `_smtp._tls` record.

use std::path::PathBuf;
use std::time::Duration;

use mailtls::io::store::reports::{
    due_reports, send_due_reports, tlsrpt_record, NetTransport, ReportSend, ReportSettings,
    DEFAULT_LEASE,
};
use mailtls::io::{load_trust_anchors, now, PublicRoots, StsFetcher};
use mailtls::state::{ReportDay, StoreError};
use mailtls::Timestamp;

use crate::common::{quoted, Failure, EX_CONFIG, EX_TEMPFAIL};
use crate::discovery::{resolver, DnsArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state store the outcomes were recorded in: a SQLite file or `redis://...`.
    #[arg(long, value_name = "SPEC")]
    state: String,
    /// The reporting domain: `TLS-Report-Submitter`, the file name's sender part, and the
    /// default organization, contact, sender and EHLO name (default: this host's name).
    #[arg(long, value_name = "NAME")]
    submitter: Option<String>,
    /// `organization-name` of the reports (default: the submitter).
    #[arg(long, value_name = "NAME")]
    organization: Option<String>,
    /// `contact-info` of the reports (default: `postmaster@SUBMITTER`).
    #[arg(long, value_name = "ADDR")]
    contact: Option<String>,
    /// The mailbox report mail comes from (default: `tlsrpt-noreply@SUBMITTER`).
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// The name to give in EHLO (default: the submitter).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// Trust anchors (PEM) the certificates of `https:` report hosts must chain to;
    /// repeatable; replaces the public roots.
    #[arg(long, value_name = "PEM")]
    tafile: Vec<PathBuf>,
    /// Where the public roots come from: `system` or `mozilla`. `--tafile` replaces either.
    #[arg(long, value_name = "STORE", default_value = "system")]
    trust_store: PublicRoots,
    /// The time to act at, in seconds since the epoch (default: now): days over by then
    /// are due. For tests: claims between senders always use the real clock.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
    /// Show what is due and where it would go; claim and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON array instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    dns: DnsArgs,
}

/// One line of the result, as `--json` prints it.
#[derive(Debug, serde::Serialize)]
struct ReportLine {
    domain: String,
    /// `YYYY-MM-DD` (UTC).
    date: String,
    destination: Option<String>,
    /// `sent`, `failed`, `already-sent`, `claimed-elsewhere`, `due` or `no-destination`.
    result: &'static str,
    /// The SMTP reply or HTTP status, or why not.
    detail: Option<String>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let submitter = match &args.submitter {
        Some(name) => name.trim_end_matches('.').to_ascii_lowercase(),
        None => host_name(),
    };
    let settings = ReportSettings {
        organization_name: args
            .organization
            .clone()
            .unwrap_or_else(|| submitter.clone()),
        contact_info: args
            .contact
            .clone()
            .unwrap_or_else(|| format!("postmaster@{submitter}")),
        from: args
            .from
            .clone()
            .unwrap_or_else(|| format!("tlsrpt-noreply@{submitter}")),
        holder: format!("{submitter}/{}/{}", std::process::id(), now().unix_secs()),
        lease: DEFAULT_LEASE,
        submitter: submitter.clone(),
    };
    let at = args.now.map_or_else(now, Timestamp::from_unix_secs);
    let store = mailtls::io::store::open(&args.state).map_err(store_failure)?;
    let resolver = resolver(&args.dns)?;
    let mut record_of = |domain: &str| tlsrpt_record(&resolver, domain);
    let results = if args.dry_run {
        due_reports(&*store, &settings, at, &mut record_of)
    } else {
        let anchors = if args.tafile.is_empty() {
            args.trust_store
                .load()
                .map_err(|e| Failure::config(e.to_string()))?
        } else {
            load_trust_anchors(&args.tafile).map_err(|e| Failure::config(e.to_string()))?
        };
        let https = StsFetcher::new(anchors).with_timeout(Duration::from_secs(30));
        let helo = args.helo.clone().unwrap_or_else(|| submitter.clone());
        let mailer = NetTransport::<mailtls::io::dns::BlockingResolver>::report_mailer(&helo)
            .map_err(|e| Failure::usage(format!("--helo {}: {e}", quoted(&helo))))?;
        let mut transport = NetTransport::new(mailer, https, &resolver);
        if let Some(port) = args.dns.port {
            transport = transport.with_smtp_port(port);
        }
        send_due_reports(&*store, &settings, at, &mut record_of, &mut transport)
    }
    .map_err(store_failure)?;
    let lines: Vec<ReportLine> = results.iter().filter_map(line).collect();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&lines).unwrap_or_default()
        );
    } else if lines.is_empty() {
        outln!("no report is due");
    } else {
        for l in &lines {
            let mut text = format!("{:<17} {} {}", l.result, l.domain, l.date);
            if let Some(destination) = &l.destination {
                text.push_str(&format!(" -> {destination}"));
            }
            if let Some(detail) = &l.detail {
                text.push_str(&format!(": {detail}"));
            }
            outln!("{text}");
        }
    }
    let retry = lines
        .iter()
        .any(|l| matches!(l.result, "failed" | "no-destination"));
    Ok(if retry { EX_TEMPFAIL } else { 0 })
}

fn line(send: &ReportSend) -> Option<ReportLine> {
    let (day, destination, result, detail) = match send {
        ReportSend::Sent {
            day,
            destination,
            accepted,
        } => (day, Some(destination), "sent", Some(accepted.clone())),
        ReportSend::Failed {
            day,
            destination,
            error,
        } => (day, Some(destination), "failed", Some(error.clone())),
        ReportSend::AlreadySent { day, destination } => {
            (day, Some(destination), "already-sent", None)
        }
        ReportSend::ClaimedElsewhere { day, destination } => (
            day,
            Some(destination),
            "claimed-elsewhere",
            Some("another sender holds the claim".to_owned()),
        ),
        ReportSend::Due { day, destination } => (day, Some(destination), "due", None),
        ReportSend::NoDestination { day, error } => {
            (day, None, "no-destination", Some(error.clone()))
        }
        _ => return None,
    };
    Some(ReportLine {
        domain: day.policy_domain.clone(),
        date: date(day),
        destination: destination.cloned(),
        result,
        detail,
    })
}

/// The day as `YYYY-MM-DD`.
fn date(day: &ReportDay) -> String {
    let start = day.period().start.rfc3339();
    start.get(..10).unwrap_or(&start).to_owned()
}

fn store_failure(error: StoreError) -> Failure {
    let code = match error {
        StoreError::Unavailable { .. } | StoreError::Backend { .. } => EX_TEMPFAIL,
        _ => EX_CONFIG,
    };
    Failure {
        code,
        message: format!("--state: {error}"),
    }
}

/// This host's name, for the default submitter.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
