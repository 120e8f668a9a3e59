//! TLS-RPT (RFC 8460): count session outcomes, export the aggregate report as JSON.

use core::ffi::c_char;
use core::net::IpAddr;

use crate::report::{AddOutcome, Aggregator, Report, ReportMeta, ReportPeriod};
use crate::time::Timestamp;
use crate::tlsrpt::{PolicyRef, PolicyType, ResultType, SessionFailure, SessionOutcome};

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::result::mailtls_result;
use super::text;

/// The most policy strings or MX patterns one outcome may carry.
pub const MAILTLS_MAX_POLICY_STRINGS: usize = 256;

/// Outcomes counted over one report period. Made by [`mailtls_tlsrpt_new`], freed by
/// [`mailtls_tlsrpt_free`].
pub struct mailtls_tlsrpt {
    _private: [u8; 0],
}

impl Castable for mailtls_tlsrpt {
    type Inner = Aggregator;
}

/// One delivery session as the sending side saw it. Strings are NUL-terminated UTF-8; the
/// optional ones may be NULL. The library copies what it keeps.
#[repr(C)]
pub struct mailtls_tlsrpt_session {
    /// When the session happened, Unix seconds.
    pub at_unix: u64,
    /// `"sts"`, `"tlsa"` or `"no-policy-found"`.
    pub policy_type: *const c_char,
    /// The policy domain (the recipient domain).
    pub policy_domain: *const c_char,
    /// The policy text lines (MTA-STS file lines, TLSA records); may be NULL when the count is 0.
    pub policy_strings: *const *const c_char,
    /// How many `policy_strings`.
    pub policy_string_count: usize,
    /// The MX patterns (sts) or MX names (tlsa); may be NULL when the count is 0.
    pub mx_patterns: *const *const c_char,
    /// How many `mx_patterns`.
    pub mx_pattern_count: usize,
    /// The MX host connected to, or NULL.
    pub mx_host: *const c_char,
    /// The sending IP address, or NULL.
    pub sending_ip: *const c_char,
    /// The receiving IP address, or NULL.
    pub receiving_ip: *const c_char,
    /// The receiving MTA's EHLO name, or NULL.
    pub receiving_helo: *const c_char,
    /// NULL for a successful session, else the RFC 8460 result type
    /// (`"certificate-expired"`, `"starttls-not-supported"`, ...).
    pub result_type: *const c_char,
    /// `additional-information` for a failure, or NULL.
    pub additional_information: *const c_char,
    /// `failure-reason-code` for a failure, or NULL.
    pub failure_reason_code: *const c_char,
}

/// What [`mailtls_tlsrpt_add`] did with a session.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_tlsrpt_added {
    /// Counted with its details.
    Counted = 0,
    /// Counted in the summary; the policy already had the most distinct failure details.
    CountedWithoutDetail = 1,
    /// Not counted: outside the period.
    OutsidePeriod = 2,
    /// Not counted: the most domains or policies per domain are reached.
    OverCap = 3,
}

/// An aggregator for the period `[start_unix, end_unix]` (Unix seconds, inclusive).
#[no_mangle]
pub extern "C" fn mailtls_tlsrpt_new(
    start_unix: u64,
    end_unix: u64,
    out_tlsrpt: *mut *mut mailtls_tlsrpt,
) -> mailtls_result {
    boundary::call(|| {
        require_out(out_tlsrpt)?;
        if end_unix < start_unix {
            return Err(mailtls_result::Report);
        }
        let period = ReportPeriod {
            start: Timestamp::from_unix_secs(start_unix),
            end: Timestamp::from_unix_secs(end_unix),
        };
        handle::give::<mailtls_tlsrpt>(out_tlsrpt, Aggregator::new(period))
    })
}

/// Frees an aggregator. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_tlsrpt_free(tlsrpt: *mut mailtls_tlsrpt) {
    boundary::value(|| handle::free(tlsrpt));
}

/// Counts one session; `*out_added` says whether and how it was counted.
#[no_mangle]
pub extern "C" fn mailtls_tlsrpt_add(
    tlsrpt: *mut mailtls_tlsrpt,
    session: *const mailtls_tlsrpt_session,
    out_added: *mut mailtls_tlsrpt_added,
) -> mailtls_result {
    boundary::call(|| {
        let aggregator = handle::borrow_mut(tlsrpt)?;
        if session.is_null() {
            return Err(mailtls_result::NullParameter);
        }
        // SAFETY: non-NULL; the caller promises a readable, initialised struct.
        let session = unsafe { &*session };
        require_out(out_added)?;
        let outcome = outcome(session)?;
        write_out(out_added, added(aggregator.add(&outcome)))
    })
}

/// What the aggregator did with a session, as C sees it.
pub(crate) fn added(outcome: AddOutcome) -> mailtls_tlsrpt_added {
    match outcome {
        AddOutcome::Counted => mailtls_tlsrpt_added::Counted,
        AddOutcome::CountedWithoutDetail => mailtls_tlsrpt_added::CountedWithoutDetail,
        AddOutcome::OutsidePeriod => mailtls_tlsrpt_added::OutsidePeriod,
        _ => mailtls_tlsrpt_added::OverCap,
    }
}

/// Copies the RFC 8460 JSON report for `policy_domain` into `buf`, with the reporting
/// organisation's name, contact and a unique report id. `MAILTLS_RESULT_NOT_FOUND` when
/// nothing was counted for the domain; `MAILTLS_RESULT_INSUFFICIENT_SIZE` when it does not
/// fit (see [`mailtls_tlsrpt_json_size`]).
#[no_mangle]
pub extern "C" fn mailtls_tlsrpt_json(
    tlsrpt: *const mailtls_tlsrpt,
    policy_domain: *const c_char,
    organization_name: *const c_char,
    contact_info: *const c_char,
    report_id: *const c_char,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let report = report(
            tlsrpt,
            policy_domain,
            organization_name,
            contact_info,
            report_id,
        )?;
        text::write_data(&report.to_json(), buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_tlsrpt_json`] needs for the same arguments.
#[no_mangle]
pub extern "C" fn mailtls_tlsrpt_json_size(
    tlsrpt: *const mailtls_tlsrpt,
    policy_domain: *const c_char,
    organization_name: *const c_char,
    contact_info: *const c_char,
    report_id: *const c_char,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let report = report(
            tlsrpt,
            policy_domain,
            organization_name,
            contact_info,
            report_id,
        )?;
        text::size_of(&report.to_json(), out_size)
    })
}

fn report(
    tlsrpt: *const mailtls_tlsrpt,
    policy_domain: *const c_char,
    organization_name: *const c_char,
    contact_info: *const c_char,
    report_id: *const c_char,
) -> Result<Report, mailtls_result> {
    let aggregator = handle::borrow(tlsrpt)?;
    let domain = text::string(policy_domain)?;
    let meta = ReportMeta {
        organization_name: text::string(organization_name)?.to_owned(),
        contact_info: text::string(contact_info)?.to_owned(),
        report_id: text::string(report_id)?.to_owned(),
    };
    aggregator
        .report(domain, &meta)
        .ok_or(mailtls_result::NotFound)
}

fn outcome(s: &mailtls_tlsrpt_session) -> Result<SessionOutcome, mailtls_result> {
    let policy_type = match text::string(s.policy_type)? {
        "sts" => PolicyType::Sts,
        "tlsa" => PolicyType::Tlsa,
        "no-policy-found" => PolicyType::NoPolicyFound,
        _ => return Err(mailtls_result::Report),
    };
    let owned = |items: Vec<&str>| items.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let policy = PolicyRef {
        policy_type,
        policy_string: owned(text::strings(
            s.policy_strings,
            s.policy_string_count,
            MAILTLS_MAX_POLICY_STRINGS,
        )?),
        policy_domain: text::string(s.policy_domain)?.to_owned(),
        mx_host: owned(text::strings(
            s.mx_patterns,
            s.mx_pattern_count,
            MAILTLS_MAX_POLICY_STRINGS,
        )?),
    };
    let ip = |ptr| -> Result<Option<IpAddr>, mailtls_result> {
        text::optional_string(ptr)?
            .map(|t| t.parse().map_err(|_| mailtls_result::InvalidArgument))
            .transpose()
    };
    let owned_opt = |ptr| -> Result<Option<String>, mailtls_result> {
        Ok(text::optional_string(ptr)?.map(str::to_owned))
    };
    let result = match text::optional_string(s.result_type)? {
        None => Ok(()),
        Some(name) => Err(SessionFailure {
            result_type: name
                .parse::<ResultType>()
                .map_err(|_| mailtls_result::Report)?,
            additional_information: owned_opt(s.additional_information)?,
            failure_reason_code: owned_opt(s.failure_reason_code)?,
        }),
    };
    Ok(SessionOutcome {
        at: Timestamp::from_unix_secs(s.at_unix),
        policy,
        unused_policies: Vec::new(),
        mx_host: owned_opt(s.mx_host)?,
        sending_ip: ip(s.sending_ip)?,
        receiving_ip: ip(s.receiving_ip)?,
        receiving_helo: owned_opt(s.receiving_helo)?,
        result,
    })
}
