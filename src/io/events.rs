//! What the adapters tell an embedding MTA, as [`log`](https://docs.rs/log) records with
//! typed key-values (the `kv` feature of `log`; a `tracing` subscriber reads them through
//! `tracing-log`). The core stays silent: it has no logger, only events the adapters poll.
//!
//! Every record's target starts with `mailtls::`; the message is a short fixed phrase and the
//! facts are key-values with stable names (strings as Postfix and RFC 8460 spell them, reply
//! codes as numbers), never Rust debug text:
//!
//! | target | level | message | keys |
//! |---|---|---|---|
//! | `mailtls::delivery` | debug | `connecting` | `host` |
//! | `mailtls::delivery` | warn | `connect failed` | `host`, `error` |
//! | `mailtls::delivery` | debug | `greeting` | `host`, `code` |
//! | `mailtls::delivery` | debug | `capabilities` | `host`, `secure`, `starttls` |
//! | `mailtls::delivery` | info | `tls established` | `host`, `trust` (Anonymous, Untrusted, Trusted, Verified), `tls_version`, `cipher`, `group` |
//! | `mailtls::delivery` | info/warn | `plaintext` | `host`, `reason` |
//! | `mailtls::delivery` | info/warn | `message result` | `host`, `accepted`, `recipients`, `code`, `enhanced`, `reply` |
//! | `mailtls::delivery` | info/warn | `attempt finished` | `host`, `rung`, `result`, `result_type`, `trust`, `certificate_error`, `next`, `decided_by`, `action`, `tls_rpt_policy` |
//! | `mailtls::delivery` | info/warn | `delivery over` | `outcome` (`completed`, `deferred`, `bounced`), `host`, `status` |
//! | `mailtls::discovery` | info | `discovered` | `domain`, `mx`, `mx_dnssec`, `hosts`, `mta_sts`, `mta_sts_mode`, `mta_sts_from_cache`, `tls_rpt` |
//! | `mailtls::discovery` | warn | `dns failure` | `domain`, `query` (`mx`, `addresses`, `tlsa`, `tls-rpt`), `name`, `error` |
//! | `mailtls::discovery` | warn | `mta-sts failure` | `domain`, `result_type`, `error`, `from_cache` |
//! | `mailtls::sts` | debug/warn | `policy fetched` / `policy fetch failed` | `host`, `mode`, `max_age`, `result_type`, `error` |
//! | `mailtls::serve` | debug | `connection` | `peer` |
//! | `mailtls::serve` | warn | `turned away` | `peer`, `code`, `reply` |
//! | `mailtls::serve` | info | `tls established` | `client_trust`, `tls_version`, `cipher`, `group` |
//! | `mailtls::serve` | warn | `tls failed` | `class`, `result_type`, `during_handshake` |
//! | `mailtls::serve` | info | `refused` | `command`, `code`, `reply` |
//! | `mailtls::serve` | debug | `session closed` | `close` |
//! | `mailtls::state` | warn/info | `store failing` / `store recovered` | `error` / `location` |
//! | `mailtls::serve` | info/warn | `session over` | `peer`, `close`, `tls`, `bytes_in`, `bytes_out`, `error` |

use std::net::SocketAddr;

use log::{debug, info, log_enabled, warn, Level};

use crate::client::{AttemptRecord, ClientEvent, DeliveryOutcome, NextStep};
use crate::server::ServerEvent;
use crate::smtp::Reply;

const DELIVERY: &str = "mailtls::delivery";
#[cfg(feature = "dns")]
const DISCOVERY: &str = "mailtls::discovery";
#[cfg(feature = "dns")]
const STS: &str = "mailtls::sts";
const SERVE: &str = "mailtls::serve";
const STATE: &str = "mailtls::state";

/// An outbound connection to `host` (`name:port`) is being opened.
pub(crate) fn connecting(host: &str) {
    debug!(target: DELIVERY, host = host; "connecting");
}

/// The connection to `host` could not be made.
pub(crate) fn connect_failed(host: &str, error: &std::io::Error) {
    warn!(target: DELIVERY, host = host, error:% = error; "connect failed");
}

/// One client session event, as the adapter handles it.
pub(crate) fn client_event(host: &str, event: &ClientEvent) {
    match event {
        ClientEvent::Greeted(reply) => {
            debug!(target: DELIVERY, host = host, code = reply.code().as_u16(); "greeting");
        }
        ClientEvent::Capabilities {
            secure,
            capabilities,
        } => {
            debug!(target: DELIVERY, host = host, secure = *secure,
                starttls = capabilities.starttls; "capabilities");
        }
        ClientEvent::TlsEstablished(summary) => {
            info!(target: DELIVERY, host = host, trust = summary.trust.as_str(),
                tls_version = summary.facts.version.as_str(),
                cipher = summary.facts.suite.iana_name(),
                group:% = summary.facts.group.map(|g| g.to_string()).unwrap_or_default();
                "tls established");
        }
        ClientEvent::Plaintext(reason) => {
            let level = if reason.as_str() == "plaintext-rung" {
                Level::Info
            } else {
                Level::Warn
            };
            log::log!(target: DELIVERY, level, host = host, reason = reason.as_str(); "plaintext");
        }
        ClientEvent::MessageResult(result) => {
            let level = if result.accepted {
                Level::Info
            } else {
                Level::Warn
            };
            let (code, enhanced, text) = reply_fields(result.reply.as_ref());
            log::log!(target: DELIVERY, level, host = host, accepted = result.accepted,
                recipients = result.accepted_recipients.len() as u64, code = code,
                enhanced = enhanced.as_str(), reply = text; "message result");
        }
        ClientEvent::Finished(record) => attempt_finished(record),
        _ => {}
    }
}

fn attempt_finished(record: &AttemptRecord) {
    let level = match record.next {
        NextStep::Done => Level::Info,
        _ => Level::Warn,
    };
    if !log_enabled!(target: DELIVERY, level) {
        return;
    }
    let trust = record
        .tls
        .as_ref()
        .map(|t| t.trust.as_str())
        .or_else(|| record.verification.as_ref().map(|o| o.trust.as_str()))
        .unwrap_or_default();
    let certificate_error = record
        .tls
        .as_ref()
        .and_then(|t| t.verification.as_ref())
        .or(record.verification.as_ref())
        .and_then(|o| o.error.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    let decision = record.decision.as_deref();
    log::log!(target: DELIVERY, level, host = record.host.as_str(),
        rung = record.rung.as_str(), result:% = record.result,
        result_type = record.result_type.map(|r| r.as_str()).unwrap_or_default(),
        trust = trust, certificate_error = certificate_error.as_str(),
        next:% = record.next,
        decided_by:% = decision.map(|d| d.decided_by.to_string()).unwrap_or_default(),
        action:% = decision.map(|d| d.action.to_string()).unwrap_or_default(),
        tls_rpt_policy = decision.map(|d| d.report_policy.policy_type.as_str()).unwrap_or_default();
        "attempt finished");
}

/// The delivery ended with `outcome`.
pub(crate) fn delivery_over(outcome: Option<&DeliveryOutcome>) {
    match outcome {
        Some(DeliveryOutcome::Completed { host, tls, .. }) => {
            info!(target: DELIVERY, outcome = "completed", host = host.as_str(), tls = *tls;
                "delivery over");
        }
        Some(DeliveryOutcome::Deferred(status)) => {
            warn!(target: DELIVERY, outcome = "deferred", status:% = status; "delivery over");
        }
        Some(DeliveryOutcome::Bounced(status)) => {
            warn!(target: DELIVERY, outcome = "bounced", status:% = status; "delivery over");
        }
        _ => {}
    }
}

/// The reply's code (0 without one), enhanced code (empty without one) and text.
fn reply_fields(reply: Option<&Reply>) -> (u16, String, &str) {
    match reply {
        Some(r) => (
            r.code().as_u16(),
            r.enhanced().map(|e| e.to_string()).unwrap_or_default(),
            r.text(),
        ),
        None => (0, String::new(), ""),
    }
}

/// What discovery found for a domain, and each lookup that failed.
#[cfg(feature = "dns")]
pub(crate) fn discovered(answers: &crate::policy::discovery::DiscoveryAnswers) {
    use crate::policy::discovery::{status_word, MxOutcome, TlsRptLookup};
    use crate::policy::mta_sts::StsLookup;

    let domain = answers.domain.as_str();
    let mx = match &answers.mx {
        MxOutcome::Hosts { .. } => "hosts",
        MxOutcome::Implicit { .. } => "implicit",
        MxOutcome::NullMx { .. } => "null-mx",
        MxOutcome::NoDomain { .. } => "no-domain",
        _ => "failed",
    };
    if let MxOutcome::Failed(error) = &answers.mx {
        warn!(target: DISCOVERY, domain = domain, query = "mx", name = domain,
            error:% = error; "dns failure");
    }
    for host in &answers.hosts {
        if let Some(error) = &host.address_error {
            warn!(target: DISCOVERY, domain = domain, query = "addresses",
                name = host.host.name.as_str(), error:% = error; "dns failure");
        }
        if let Some(error) = host.tlsa.as_ref().and_then(|t| t.error.as_ref()) {
            warn!(target: DISCOVERY, domain = domain, query = "tlsa",
                name = host.host.name.as_str(), error:% = error; "dns failure");
        }
    }
    if let Some(TlsRptLookup::Failed(error)) = &answers.tlsrpt {
        warn!(target: DISCOVERY, domain = domain, query = "tls-rpt", name = domain,
            error:% = error; "dns failure");
    }
    let (sts, mode, from_cache) = match &answers.sts {
        Some(StsLookup::Policy {
            policy,
            from_cache,
            refresh_error,
        }) => {
            if let Some(error) = refresh_error {
                warn!(target: DISCOVERY, domain = domain,
                    result_type = error.result_type().as_str(), error:% = error,
                    from_cache = *from_cache; "mta-sts failure");
            }
            ("policy", policy.mode().as_str(), *from_cache)
        }
        Some(StsLookup::NoPolicy { fetch_error }) => {
            if let Some(error) = fetch_error {
                warn!(target: DISCOVERY, domain = domain,
                    result_type = error.result_type().as_str(), error:% = error,
                    from_cache = false; "mta-sts failure");
            }
            ("no-policy", "", false)
        }
        Some(StsLookup::TemporaryFailure) => ("temporary-failure", "", false),
        None => ("not-looked-up", "", false),
    };
    let tls_rpt = match &answers.tlsrpt {
        Some(TlsRptLookup::Record(_)) => "record",
        Some(TlsRptLookup::NoRecord { .. }) => "no-record",
        Some(_) => "failed",
        None => "not-looked-up",
    };
    info!(target: DISCOVERY, domain = domain, mx = mx,
        mx_dnssec = status_word(answers.mx.status()), hosts = answers.hosts.len() as u64,
        mta_sts = sts, mta_sts_mode = mode, mta_sts_from_cache = from_cache,
        tls_rpt = tls_rpt; "discovered");
}

/// An MTA-STS policy fetch from `host` ended; the result passes through.
#[cfg(feature = "dns")]
pub(crate) fn sts_fetched(
    host: &str,
    result: Result<crate::policy::mta_sts::StsPolicy, crate::policy::mta_sts::StsFetchError>,
) -> Result<crate::policy::mta_sts::StsPolicy, crate::policy::mta_sts::StsFetchError> {
    match &result {
        Ok(policy) => {
            debug!(target: STS, host = host, mode = policy.mode().as_str(),
                max_age = policy.max_age().as_secs(); "policy fetched");
        }
        Err(error) => {
            warn!(target: STS, host = host, result_type = error.result_type().as_str(),
                error:% = error; "policy fetch failed");
        }
    }
    result
}

/// An inbound connection from `peer` was accepted.
pub(crate) fn inbound_connection(peer: SocketAddr) {
    debug!(target: SERVE, peer:% = peer; "connection");
}

/// A connection from `peer` got `reply` and no session (over the limits).
pub(crate) fn turned_away(peer: SocketAddr, reply: &Reply) {
    warn!(target: SERVE, peer:% = peer, code = reply.code().as_u16(), reply = reply.text();
        "turned away");
}

/// One inbound session event, as the adapter hands it to the application.
pub(crate) fn server_event(event: &ServerEvent) {
    match event {
        ServerEvent::TlsEstablished {
            facts,
            client_certificate,
        } => {
            // Postfix's words for the client: no certificate is Anonymous.
            let trust = client_certificate
                .as_ref()
                .map_or("Anonymous", |o| o.trust.as_str());
            info!(target: SERVE, client_trust = trust, tls_version = facts.version.as_str(),
                cipher = facts.suite.iana_name(),
                group:% = facts.group.map(|g| g.to_string()).unwrap_or_default();
                "tls established");
        }
        ServerEvent::TlsFailed(failure) => {
            warn!(target: SERVE, class = failure.class.as_str(),
                result_type = failure.result_type.as_str(),
                during_handshake = failure.during_handshake; "tls failed");
        }
        ServerEvent::Refused(refusal) => {
            info!(target: SERVE, command = refusal.command,
                code = refusal.reply.code().as_u16(), reply = refusal.reply.text(); "refused");
        }
        ServerEvent::Closed(reason) => {
            debug!(target: SERVE, close = reason.as_str(); "session closed");
        }
        _ => {}
    }
}

/// The inbound session from `peer` ended (an error: the transport failed).
pub(crate) fn session_over(peer: SocketAddr, result: &std::io::Result<super::SessionEnd>) {
    match result {
        Ok(end) => {
            info!(target: SERVE, peer:% = peer,
                close = end.reason.as_ref().map(|r| r.as_str()).unwrap_or_default(),
                tls = end.tls.is_some(), bytes_in = end.bytes_in, bytes_out = end.bytes_out;
                "session over");
        }
        Err(error) => {
            warn!(target: SERVE, peer:% = peer, error:% = error; "session over");
        }
    }
}

/// Logs a state store's notice the way the adapters log everything else (`mailtls::state`):
/// `store failing` (warn, with the error) once when a store starts failing, `store recovered`
/// (info, with its location) once when it works again. For the code that holds a
/// [`StsState`](crate::state::StsState) or a downgrade memory and takes their notices.
pub fn store_notice(notice: &crate::state::StoreNotice) {
    match notice {
        crate::state::StoreNotice::Failing(error) => {
            warn!(target: STATE, error:% = error; "store failing");
        }
        crate::state::StoreNotice::Recovered { location } => {
            info!(target: STATE, location = location.as_str(); "store recovered");
        }
    }
}
