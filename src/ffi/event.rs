//! Typed facts of session events, for C callers that branch on them: the SMTP reply code and
//! enhanced code as integers, the RFC 8460 result type as an enum, the failure class as a
//! result code, the TLS version, suite and group as IANA numbers (with functions naming
//! them), and how far a client certificate was trusted. The text of
//! `mailtls_session_event_detail` stays for display only.
//!
//! It also logs each polled event through the log callback (`library`).

use core::ffi::c_char;

use crate::cert::{Outcome, TrustLevel};
use crate::client::ClientEvent;
use crate::policy::protocol::{CipherSuite, KeyExchangeGroup, TlsVersion};
use crate::policy::Status;
use crate::server::ServerEvent;
use crate::smtp::{EnhancedCode, Reply};
use crate::tlsrpt::ResultType;

use super::boundary;
use super::handle::{self, require_out, write_out};
use super::inbound::mailtls_verdict;
use super::library::{self, mailtls_log_level};
use super::result::{self, mailtls_result};
use super::session::{mailtls_session, mailtls_session_event, SessionHandle};
use super::text;

/// An RFC 8460 result type (§4.3), or success. Functions that return one write it only on
/// `MAILTLS_RESULT_OK`; [`mailtls_result_type_name`] gives the name reports use.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_result_type {
    /// The session succeeded under its policy.
    Success = 0,
    /// `starttls-not-supported`.
    StarttlsNotSupported = 1,
    /// `certificate-host-mismatch`.
    CertificateHostMismatch = 2,
    /// `certificate-expired`.
    CertificateExpired = 3,
    /// `certificate-not-trusted`.
    CertificateNotTrusted = 4,
    /// `validation-failure`.
    ValidationFailure = 5,
    /// `tlsa-invalid`.
    TlsaInvalid = 6,
    /// `dnssec-invalid`.
    DnssecInvalid = 7,
    /// `dane-required`.
    DaneRequired = 8,
    /// `sts-policy-fetch-error`.
    StsPolicyFetchError = 9,
    /// `sts-policy-invalid`.
    StsPolicyInvalid = 10,
    /// `sts-webpki-invalid`.
    StsWebpkiInvalid = 11,
}

impl mailtls_result_type {
    const ALL: [Self; 12] = [
        Self::Success,
        Self::StarttlsNotSupported,
        Self::CertificateHostMismatch,
        Self::CertificateExpired,
        Self::CertificateNotTrusted,
        Self::ValidationFailure,
        Self::TlsaInvalid,
        Self::DnssecInvalid,
        Self::DaneRequired,
        Self::StsPolicyFetchError,
        Self::StsPolicyInvalid,
        Self::StsWebpkiInvalid,
    ];

    /// The C value of a result type; `ValidationFailure` for one a later version adds.
    pub(crate) fn of(result_type: ResultType) -> Self {
        match result_type {
            ResultType::StarttlsNotSupported => Self::StarttlsNotSupported,
            ResultType::CertificateHostMismatch => Self::CertificateHostMismatch,
            ResultType::CertificateExpired => Self::CertificateExpired,
            ResultType::CertificateNotTrusted => Self::CertificateNotTrusted,
            ResultType::TlsaInvalid => Self::TlsaInvalid,
            ResultType::DnssecInvalid => Self::DnssecInvalid,
            ResultType::DaneRequired => Self::DaneRequired,
            ResultType::StsPolicyFetchError => Self::StsPolicyFetchError,
            ResultType::StsPolicyInvalid => Self::StsPolicyInvalid,
            ResultType::StsWebpkiInvalid => Self::StsWebpkiInvalid,
            _ => Self::ValidationFailure,
        }
    }

    /// The name RFC 8460 reports use (`success` for success).
    fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::StarttlsNotSupported => ResultType::StarttlsNotSupported.as_str(),
            Self::CertificateHostMismatch => ResultType::CertificateHostMismatch.as_str(),
            Self::CertificateExpired => ResultType::CertificateExpired.as_str(),
            Self::CertificateNotTrusted => ResultType::CertificateNotTrusted.as_str(),
            Self::ValidationFailure => ResultType::ValidationFailure.as_str(),
            Self::TlsaInvalid => ResultType::TlsaInvalid.as_str(),
            Self::DnssecInvalid => ResultType::DnssecInvalid.as_str(),
            Self::DaneRequired => ResultType::DaneRequired.as_str(),
            Self::StsPolicyFetchError => ResultType::StsPolicyFetchError.as_str(),
            Self::StsPolicyInvalid => ResultType::StsPolicyInvalid.as_str(),
            Self::StsWebpkiInvalid => ResultType::StsWebpkiInvalid.as_str(),
        }
    }
}

/// How far a peer's certificate was authenticated, in the words Postfix logs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_trust_level {
    /// No certificate was presented (or none was asked for).
    Anonymous = 0,
    /// A certificate was presented but not validated, or its validation failed.
    Untrusted = 1,
    /// The chain validated, but the name was not checked or did not match.
    Trusted = 2,
    /// The certificate met the whole requirement.
    Verified = 3,
}

impl mailtls_trust_level {
    fn of(trust: TrustLevel) -> Self {
        match trust {
            TrustLevel::Anonymous => Self::Anonymous,
            TrustLevel::Untrusted => Self::Untrusted,
            TrustLevel::Trusted => Self::Trusted,
            TrustLevel::Verified => Self::Verified,
        }
    }
}

/// An SMTP reply's codes as integers: `code` (250, 550, ...) and the RFC 3463 enhanced code
/// `enhanced_class.enhanced_subject.enhanced_detail` (5.7.1), all zero when the reply has none.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mailtls_reply_code {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced code's class (2, 4 or 5), or 0 without one.
    pub enhanced_class: u16,
    /// The enhanced code's subject.
    pub enhanced_subject: u16,
    /// The enhanced code's detail.
    pub enhanced_detail: u16,
}

impl mailtls_reply_code {
    fn new(code: u16, enhanced: Option<EnhancedCode>) -> Self {
        let (class, subject, detail) = enhanced.map_or((0, 0, 0), |e| {
            (u16::from(e.class()), e.subject(), e.detail())
        });
        Self {
            code,
            enhanced_class: class,
            enhanced_subject: subject,
            enhanced_detail: detail,
        }
    }

    fn of_reply(reply: &Reply) -> Self {
        Self::new(reply.code().as_u16(), reply.enhanced())
    }

    pub(crate) fn of_status(status: &Status) -> Self {
        Self::new(status.code().as_u16(), Some(status.enhanced()))
    }
}

/// The reply codes of the last polled event: the server's reply (client Greeted,
/// MailResult, RcptResult, MessageResult; Closed when the server ended the session with a
/// refusal or the host was skipped, with the status the delivery uses), or the reply the
/// server session sent on its own (server Refused). `MAILTLS_RESULT_NOT_FOUND` for events
/// without a reply; `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mailtls_session_event_reply(
    session: *const mailtls_session,
    out_reply: *mut mailtls_reply_code,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        require_out(out_reply)?;
        let code = event_reply(inner).ok_or(mailtls_result::NotFound)?;
        write_out(out_reply, code)
    })
}

fn event_reply(inner: &SessionHandle) -> Option<mailtls_reply_code> {
    use crate::client::AttemptResult;
    if let Some(event) = inner.client_event() {
        return match event {
            ClientEvent::Greeted(r) | ClientEvent::MailResult(r) => {
                Some(mailtls_reply_code::of_reply(r))
            }
            ClientEvent::RcptResult { reply, .. } => Some(mailtls_reply_code::of_reply(reply)),
            ClientEvent::MessageResult(result) => match (&result.reply, &result.refused) {
                (Some(reply), _) => Some(mailtls_reply_code::of_reply(reply)),
                (None, Some(status)) => Some(mailtls_reply_code::of_status(status)),
                (None, None) => None,
            },
            ClientEvent::Finished(record) => match &record.result {
                AttemptResult::Rejected { reply, .. } => Some(mailtls_reply_code::of_reply(reply)),
                AttemptResult::Skipped { status } => Some(mailtls_reply_code::of_status(status)),
                _ => None,
            },
            _ => None,
        };
    }
    match inner.server_event()? {
        ServerEvent::Refused(refusal) => Some(mailtls_reply_code::of_reply(&refusal.reply)),
        _ => None,
    }
}

/// The RFC 8460 result type of the last polled event: a client Closed event whose attempt
/// failed a TLS policy, or a server TlsFailed event. `MAILTLS_RESULT_NOT_FOUND` for other
/// events and for an attempt that failed nothing TLS-RPT counts.
#[no_mangle]
pub extern "C" fn mailtls_session_event_result_type(
    session: *const mailtls_session,
    out_result_type: *mut mailtls_result_type,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        require_out(out_result_type)?;
        let result_type = match (inner.client_event(), inner.server_event()) {
            (Some(ClientEvent::Finished(record)), _) => record.result_type,
            (_, Some(ServerEvent::TlsFailed(failure))) => Some(failure.result_type),
            _ => None,
        };
        let result_type = result_type.ok_or(mailtls_result::NotFound)?;
        write_out(out_result_type, mailtls_result_type::of(result_type))
    })
}

/// How the session's failure is classed, as a result code (rustls-ffi style): for a client
/// Closed event how the attempt ended (`MAILTLS_RESULT_OK` when it ran to QUIT, else
/// `MAILTLS_RESULT_CERTIFICATE_REJECTED`, `MAILTLS_RESULT_STARTTLS_NOT_OFFERED`,
/// `MAILTLS_RESULT_REJECTED`, `MAILTLS_RESULT_TIMEOUT`, ...), for a server TlsFailed event
/// the TLS failure class. `MAILTLS_RESULT_NOT_FOUND` for other events.
#[no_mangle]
pub extern "C" fn mailtls_session_event_failure(
    session: *const mailtls_session,
    out_failure: *mut mailtls_result,
) -> mailtls_result {
    boundary::call(|| {
        let inner = handle::borrow(session)?;
        require_out(out_failure)?;
        let failure = match (inner.client_event(), inner.server_event()) {
            (Some(ClientEvent::Finished(record)), _) => result::of_attempt(&record.result),
            (_, Some(ServerEvent::TlsFailed(failure))) => result::of_failure_class(failure.class),
            _ => return Err(mailtls_result::NotFound),
        };
        write_out(out_failure, failure)
    })
}

/// The established TLS session's protocol version as its IANA number (`0x0304` for TLS 1.3,
/// `0x0303` for TLS 1.2). `MAILTLS_RESULT_NOT_FOUND` before TLS (for a client: before its
/// TlsEstablished event was polled).
#[no_mangle]
pub extern "C" fn mailtls_session_tls_version(
    session: *const mailtls_session,
    out_version: *mut u16,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow(session)?.tls_facts()?;
        write_out(out_version, facts.version.wire_code())
    })
}

/// The established TLS session's cipher suite as its IANA number (`0x1302` for
/// `TLS_AES_256_GCM_SHA384`). `MAILTLS_RESULT_NOT_FOUND` before TLS.
#[no_mangle]
pub extern "C" fn mailtls_session_cipher_suite(
    session: *const mailtls_session,
    out_suite: *mut u16,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow(session)?.tls_facts()?;
        write_out(out_suite, facts.suite.iana_code())
    })
}

/// The established TLS session's key-exchange group as its IANA number (`0x001d` for X25519,
/// `0x11ec` for X25519MLKEM768). `MAILTLS_RESULT_NOT_FOUND` before TLS or when the group is
/// not known.
#[no_mangle]
pub extern "C" fn mailtls_session_kx_group(
    session: *const mailtls_session,
    out_group: *mut u16,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow(session)?.tls_facts()?;
        let group = facts.group.ok_or(mailtls_result::NotFound)?;
        write_out(out_group, group.iana_code())
    })
}

/// Server: how far the client's certificate was authenticated against the configuration's
/// client-certificate requirement ([`mailtls_server_config_request_client_certificates`]),
/// and the RFC 8460 result type of its failure (`MAILTLS_RESULT_TYPE_SUCCESS` when it met the
/// requirement or none was presented). `MAILTLS_RESULT_NOT_FOUND` before TLS;
/// `MAILTLS_RESULT_WRONG_ROLE` for a client session.
///
/// [`mailtls_server_config_request_client_certificates`]: super::mailtls_server_config_request_client_certificates
#[no_mangle]
pub extern "C" fn mailtls_session_client_certificate(
    session: *const mailtls_session,
    out_trust: *mut mailtls_trust_level,
    out_result_type: *mut mailtls_result_type,
) -> mailtls_result {
    boundary::call(|| {
        let server = handle::borrow(session)?.server_session()?;
        require_out(out_trust)?;
        require_out(out_result_type)?;
        if !server.is_tls() {
            return Err(mailtls_result::NotFound);
        }
        let (trust, result_type) = match server.client_certificate() {
            None => (TrustLevel::Anonymous, None),
            Some(outcome) => (outcome.trust, Outcome::result_type(outcome)),
        };
        write_out(out_trust, mailtls_trust_level::of(trust))?;
        write_out(
            out_result_type,
            result_type.map_or(mailtls_result_type::Success, mailtls_result_type::of),
        )
    })
}

/// The reply codes of a refusing verdict (see `mailtls_verdict_reply` for the text).
/// `MAILTLS_RESULT_NOT_FOUND` for an accept.
#[no_mangle]
pub extern "C" fn mailtls_verdict_reply_code(
    verdict: *const mailtls_verdict,
    out_reply: *mut mailtls_reply_code,
) -> mailtls_result {
    use crate::policy::inbound::InboundAction;
    boundary::call(|| {
        let verdict = handle::borrow(verdict)?;
        require_out(out_reply)?;
        let status = match &verdict.action {
            InboundAction::Reject(status) | InboundAction::Tempfail(status) => status,
            _ => return Err(mailtls_result::NotFound),
        };
        write_out(out_reply, mailtls_reply_code::of_status(status))
    })
}

/// Copies the RFC 8460 name of `result_type` (a `mailtls_result_type` value: `success`,
/// `certificate-expired`, ...) into `buf`. `MAILTLS_RESULT_INVALID_ARGUMENT` for an unknown
/// value.
#[no_mangle]
pub extern "C" fn mailtls_result_type_name(
    result_type: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let known = mailtls_result_type::ALL
            .into_iter()
            .find(|t| *t as u32 == result_type)
            .ok_or(mailtls_result::InvalidArgument)?;
        text::write_data(known.name(), buf, len, out_n)
    })
}

/// Copies the name of the TLS version with IANA number `version` (`TLSv1.3`, `TLSv1.2`)
/// into `buf`. `MAILTLS_RESULT_NOT_FOUND` for a version mailtls does not speak.
#[no_mangle]
pub extern "C" fn mailtls_tls_version_name(
    version: u16,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let version = TlsVersion::from_wire_code(version).ok_or(mailtls_result::NotFound)?;
        text::write_data(version.as_str(), buf, len, out_n)
    })
}

/// Copies the IANA name of the cipher suite with IANA number `suite`
/// (`TLS_AES_256_GCM_SHA384`) into `buf`. `MAILTLS_RESULT_NOT_FOUND` for a suite mailtls does
/// not negotiate.
#[no_mangle]
pub extern "C" fn mailtls_cipher_suite_name(
    suite: u16,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let suite = CipherSuite::from_iana_code(suite).ok_or(mailtls_result::NotFound)?;
        text::write_data(suite.iana_name(), buf, len, out_n)
    })
}

/// Copies the name of the key-exchange group with IANA number `group` (`X25519`,
/// `secp256r1`, `X25519MLKEM768`) into `buf`. `MAILTLS_RESULT_NOT_FOUND` for a group mailtls
/// has no name for.
#[no_mangle]
pub extern "C" fn mailtls_kx_group_name(
    group: u16,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let name = KeyExchangeGroup::from_iana_code(group)
            .name()
            .ok_or(mailtls_result::NotFound)?;
        text::write_data(name, buf, len, out_n)
    })
}

/// Logs a polled event through the log callback: its role, kind and detail, at a level by
/// what it means. Message data is logged by size only.
pub(crate) fn log_event(inner: &SessionHandle, kind: mailtls_session_event) {
    let level = level_of(inner, kind);
    if kind == mailtls_session_event::None || !library::enabled(level) {
        return;
    }
    let detail = match kind {
        mailtls_session_event::MessageData => inner
            .event_detail()
            .map(|d| format!("{} bytes", d.len()))
            .unwrap_or_default(),
        _ => inner
            .event_detail()
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default(),
    };
    let line = if detail.is_empty() {
        format!("{} {}", inner.role_name(), event_name(kind))
    } else {
        format!("{} {}: {detail}", inner.role_name(), event_name(kind))
    };
    library::log(level, &line);
}

fn level_of(inner: &SessionHandle, kind: mailtls_session_event) -> mailtls_log_level {
    use mailtls_session_event as E;
    match kind {
        E::TlsFailed => mailtls_log_level::Error,
        E::Refused | E::MessageAborted | E::PlaintextDiscarded => mailtls_log_level::Warn,
        E::Closed => match inner.client_event() {
            Some(ClientEvent::Finished(record))
                if result::of_attempt(&record.result) != mailtls_result::Ok =>
            {
                mailtls_log_level::Warn
            }
            _ => mailtls_log_level::Info,
        },
        E::TlsEstablished | E::MessageResult | E::MessageEnd | E::Plaintext => {
            mailtls_log_level::Info
        }
        _ => mailtls_log_level::Debug,
    }
}

/// The event's name in log lines.
fn event_name(kind: mailtls_session_event) -> &'static str {
    use mailtls_session_event as E;
    match kind {
        E::None => "none",
        E::Capabilities => "capabilities",
        E::Closed => "closed",
        E::DataReady => "data-ready",
        E::Greeted => "greeted",
        E::MailFrom => "mail-from",
        E::MailResult => "mail-result",
        E::MessageAborted => "message-aborted",
        E::MessageData => "message-data",
        E::MessageEnd => "message-end",
        E::MessageResult => "message-result",
        E::MessageStart => "message-start",
        E::Plaintext => "plaintext",
        E::PlaintextDiscarded => "plaintext-discarded",
        E::RcptResult => "rcpt-result",
        E::RcptTo => "rcpt-to",
        E::Ready => "ready",
        E::Refused => "refused",
        E::Reset => "reset",
        E::TlsEstablished => "tls-established",
        E::TlsFailed => "tls-failed",
        E::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_types_round_trip_by_name() {
        for t in ResultType::ALL {
            assert_eq!(mailtls_result_type::of(t).name(), t.as_str());
        }
        assert_eq!(mailtls_result_type::Success.name(), "success");
    }

    #[test]
    fn numbers_have_names() {
        let mut buf = [0 as c_char; 64];
        let mut n = 0usize;
        assert_eq!(
            mailtls_cipher_suite_name(0x1302, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        assert_eq!(n, "TLS_AES_256_GCM_SHA384".len());
        assert_eq!(
            mailtls_kx_group_name(0x001d, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        assert_eq!(n, "X25519".len());
        assert_eq!(
            mailtls_tls_version_name(0x0301, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::NotFound
        );
        assert_eq!(
            mailtls_result_type_name(12, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::InvalidArgument
        );
    }

    #[test]
    fn reply_codes_split_the_enhanced_code() {
        let status = Status::new(550, (5, 7, 1), "no");
        assert_eq!(
            mailtls_reply_code::of_status(&status),
            mailtls_reply_code {
                code: 550,
                enhanced_class: 5,
                enhanced_subject: 7,
                enhanced_detail: 1
            }
        );
    }
}
