//! The precedence decision from C: the caller's discovery answers (MX DNSSEC status, TLSA
//! records, the MTA-STS policy) overlaid on a plan, a delivery built from that decision, and
//! the RFC 8460 result of its attempts under the policy that governed them.
//!
//! ```text
//!  mailtls_discovery_new / _set_mx_status / _add_tlsa / _set_sts_policy
//!  mailtls_decision_new(plan, discovery)          // precedence: DANE, MTA-STS, table, ...
//!  mailtls_delivery_new_from_decision(decision)   // then drive sessions as with any delivery
//!  mailtls_delivery_last_tlsrpt_result / _policy_type after each mailtls_delivery_record
//! ```

use core::ffi::c_char;

use crate::names::DnsName;
use crate::policy::dane::{DnssecStatus, TlsaRecord, TlsaSet};
use crate::policy::mta_sts::{StsLookup, StsPolicy};
use crate::policy::precedence::{self, HostTlsa, PrecedenceInputs};
use crate::policy::requiretls::MessageTls;
use crate::policy::Decision;

use super::boundary;
use super::handle::{self, require_out, Castable};
use super::outbound::{mailtls_plan, MAILTLS_MAX_HOSTS};
use super::result::mailtls_result;
use super::text::{self, MAILTLS_MAX_TEXT};

/// The most TLSA records one host's RRset may bring through [`mailtls_discovery_add_tlsa`].
pub const MAILTLS_MAX_TLSA_RECORDS: usize = 256;

/// The DNSSEC validation status of one DNS answer, as the caller's validating resolver saw it
/// (RFC 4035). Functions take it as a `uint32_t`; other values are
/// `MAILTLS_RESULT_INVALID_ARGUMENT`. Zero is `insecure`, so a zeroed value never claims
/// validation.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_dnssec_status {
    /// The answer is provably unsigned.
    Insecure = 0,
    /// The answer validated, an authenticated denial included.
    Secure = 1,
    /// Validation failed: the answer is forged or broken.
    Bogus = 2,
    /// No answer could be had (SERVFAIL, timeout): a temporary failure.
    Indeterminate = 3,
}

impl mailtls_dnssec_status {
    const ALL: [Self; 4] = [
        Self::Insecure,
        Self::Secure,
        Self::Bogus,
        Self::Indeterminate,
    ];

    /// The status for a raw value from C.
    fn from_raw(raw: u32) -> Result<DnssecStatus, mailtls_result> {
        let known = Self::ALL
            .into_iter()
            .find(|s| *s as u32 == raw)
            .ok_or(mailtls_result::InvalidArgument)?;
        Ok(match known {
            Self::Insecure => DnssecStatus::Insecure,
            Self::Secure => DnssecStatus::Secure,
            Self::Bogus => DnssecStatus::Bogus,
            Self::Indeterminate => DnssecStatus::Indeterminate,
        })
    }
}

/// What the caller learnt from DNS and HTTPS about one destination: the DNSSEC status of its
/// MX RRset, the TLSA lookups of its hosts and its MTA-STS policy. Made by
/// [`mailtls_discovery_new`], freed by [`mailtls_discovery_free`].
pub struct mailtls_discovery {
    _private: [u8; 0],
}

/// The TLSA lookup of one host.
#[derive(Debug)]
struct TlsaLookup {
    host: DnsName,
    address_status: DnssecStatus,
    tlsa_status: DnssecStatus,
    records: Vec<TlsaRecord>,
    /// The TLSA base domain when it is not the host (a secure CNAME expansion, RFC 7672
    /// §2.2.2).
    base_domain: Option<DnsName>,
}

/// What a discovery handle points to: owned answers, lent to [`PrecedenceInputs`] when a
/// decision is made.
#[derive(Debug)]
pub(crate) struct Discovery {
    mx_status: DnssecStatus,
    tlsa: Vec<TlsaLookup>,
    sts: Option<StsLookup>,
    message: MessageTls,
    last_error: Option<String>,
}

impl Castable for mailtls_discovery {
    type Inner = Discovery;
}

impl Discovery {
    fn fail(&mut self, code: mailtls_result, message: String) -> mailtls_result {
        self.last_error = Some(message);
        code
    }

    /// Takes `policy` as the destination's MTA-STS policy from a cache: it applies as if
    /// fetched now (RFC 8461 §5.1).
    #[cfg(any(feature = "sqlite", feature = "redis"))]
    pub(super) fn use_cached_sts_policy(&mut self, policy: StsPolicy) {
        self.sts = Some(StsLookup::Policy {
            policy,
            from_cache: true,
            refresh_error: None,
        });
        self.last_error = None;
    }

    /// The precedence decision for `plan` under these answers.
    fn decide(&self, plan: crate::policy::Plan) -> Decision {
        let sets: Vec<TlsaSet> = self
            .tlsa
            .iter()
            .map(|lookup| TlsaSet::from_records(lookup.records.iter().cloned()))
            .collect();
        let dane: Vec<HostTlsa<'_>> = self
            .tlsa
            .iter()
            .zip(&sets)
            .map(|(lookup, set)| HostTlsa {
                host: &lookup.host,
                address_status: lookup.address_status,
                tlsa_status: lookup.tlsa_status,
                tlsa: set,
                tlsa_base_domain: lookup.base_domain.as_ref().unwrap_or(&lookup.host),
            })
            .collect();
        let inputs = PrecedenceInputs {
            message: self.message,
            mx_status: self.mx_status,
            sts: self.sts.as_ref(),
            dane: &dane,
        };
        precedence::apply(plan, &inputs)
    }
}

/// The precedence decision for one destination: the plan refined by DANE, MTA-STS and the
/// configuration, and the policy each host's sessions are reported under. Made by
/// [`mailtls_decision_new`], freed by [`mailtls_decision_free`].
pub struct mailtls_decision {
    _private: [u8; 0],
}

impl Castable for mailtls_decision {
    type Inner = Decision;
}

/// Empty discovery answers: MX RRset `insecure`, no TLSA lookups, no MTA-STS policy.
/// `MAILTLS_RESULT_NULL_PARAMETER` when `out_discovery` is NULL.
#[no_mangle]
pub extern "C" fn mailtls_discovery_new(
    out_discovery: *mut *mut mailtls_discovery,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = Discovery {
            mx_status: DnssecStatus::Insecure,
            tlsa: Vec::new(),
            sts: None,
            message: MessageTls::default(),
            last_error: None,
        };
        handle::give::<mailtls_discovery>(out_discovery, discovery)
    })
}

/// Frees discovery answers. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_discovery_free(discovery: *mut mailtls_discovery) {
    boundary::value(|| handle::free(discovery));
}

/// Sets the DNSSEC status (a `mailtls_dnssec_status` value) of the destination's MX RRset
/// (for a next hop without MX lookup, of its address records). It decides whether
/// `dane-only` may apply and whether the next-hop domain may serve as a reference identifier.
/// `MAILTLS_RESULT_INVALID_ARGUMENT` for an unknown status; nothing changes on error.
#[no_mangle]
pub extern "C" fn mailtls_discovery_set_mx_status(
    discovery: *mut mailtls_discovery,
    status: u32,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow_mut(discovery)?;
        let status = mailtls_dnssec_status::from_raw(status)
            .map_err(|code| discovery.fail(code, format!("unknown DNSSEC status {status}")))?;
        discovery.mx_status = status;
        discovery.last_error = None;
        Ok(())
    })
}

/// Adds the TLSA lookup of `host` (the MX host name, as the plan names it): one `record` in
/// presentation form (`3 1 1 <hex>`: usage, selector, matching type, data) with the DNSSEC
/// status of the host's address records and of the TLSA answer (`mailtls_dnssec_status`
/// values). Records of one host accumulate into its RRset; a NULL `record` says the lookup
/// was made and brought no record (an authenticated denial, or a failed lookup with status
/// `bogus` or `indeterminate`).
///
/// Records that parse but a client may not use (PKIX usages, unassigned values, a digest of
/// the wrong length) are kept and ignored, as RFC 7672 says. Errors, after which nothing
/// changes: `MAILTLS_RESULT_TLSA` when `record` does not parse (the last error says why),
/// `MAILTLS_RESULT_DESTINATION` when `host` is not a DNS name, `MAILTLS_RESULT_INVALID_ARGUMENT`
/// for an unknown status or statuses that differ from those given earlier for the same host,
/// `MAILTLS_RESULT_TOO_LONG` beyond `MAILTLS_MAX_TLSA_RECORDS` records for one host or
/// `MAILTLS_MAX_HOSTS` hosts, and the string errors (NULL `host`, invalid UTF-8, longer than
/// `MAILTLS_MAX_STRING`).
#[no_mangle]
pub extern "C" fn mailtls_discovery_add_tlsa(
    discovery: *mut mailtls_discovery,
    host: *const c_char,
    record: *const c_char,
    address_status: u32,
    tlsa_status: u32,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow_mut(discovery)?;
        let host_text = text::string(host)?;
        let record_text = text::optional_string(record)?;
        let host = DnsName::parse(host_text).map_err(|error| {
            discovery.fail(
                mailtls_result::Destination,
                format!("TLSA host \"{}\": {error}", host_text.escape_debug()),
            )
        })?;
        let address_status = mailtls_dnssec_status::from_raw(address_status).map_err(|code| {
            discovery.fail(code, format!("unknown DNSSEC status {address_status}"))
        })?;
        let tlsa_status = mailtls_dnssec_status::from_raw(tlsa_status)
            .map_err(|code| discovery.fail(code, format!("unknown DNSSEC status {tlsa_status}")))?;
        let parsed = match record_text {
            Some(text) => Some(TlsaRecord::parse_presentation(text).map_err(|error| {
                discovery.fail(
                    mailtls_result::Tlsa,
                    format!(
                        "TLSA record \"{}\" for {host}: {error}",
                        text.escape_debug()
                    ),
                )
            })?),
            None => None,
        };
        let index = match discovery.tlsa.iter().position(|l| l.host == host) {
            Some(index) => index,
            None if discovery.tlsa.len() >= MAILTLS_MAX_HOSTS => {
                return Err(discovery.fail(
                    mailtls_result::TooLong,
                    format!("TLSA lookups for more than {MAILTLS_MAX_HOSTS} hosts"),
                ));
            }
            None => {
                discovery.tlsa.push(TlsaLookup {
                    host: host.clone(),
                    address_status,
                    tlsa_status,
                    records: Vec::new(),
                    base_domain: None,
                });
                discovery.tlsa.len() - 1
            }
        };
        let Some(lookup) = discovery.tlsa.get_mut(index) else {
            return Err(mailtls_result::InvalidArgument);
        };
        let error = if (lookup.address_status, lookup.tlsa_status) != (address_status, tlsa_status)
        {
            Some((
                mailtls_result::InvalidArgument,
                format!("the TLSA lookup of {host} was given other DNSSEC statuses before"),
            ))
        } else if parsed.is_some() && lookup.records.len() >= MAILTLS_MAX_TLSA_RECORDS {
            Some((
                mailtls_result::TooLong,
                format!("more than {MAILTLS_MAX_TLSA_RECORDS} TLSA records for {host}"),
            ))
        } else {
            lookup.records.extend(parsed);
            None
        };
        match error {
            Some((code, message)) => Err(discovery.fail(code, message)),
            None => {
                discovery.last_error = None;
                Ok(())
            }
        }
    })
}

/// Sets the destination's MTA-STS policy from the policy file's `len` bytes of UTF-8 text
/// (at most `MAILTLS_MAX_TEXT`, and RFC 8461's 64 KiB for the policy itself), as fetched and
/// validated by the caller; it replaces an earlier one. On error nothing changes:
/// `MAILTLS_RESULT_STS_POLICY` when the text is not a valid policy (the last error says why),
/// `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_TOO_LONG`, `MAILTLS_RESULT_INVALID_UTF8`.
#[no_mangle]
pub extern "C" fn mailtls_discovery_set_sts_policy(
    discovery: *mut mailtls_discovery,
    policy: *const u8,
    len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow_mut(discovery)?;
        let text = text::text(policy, len, MAILTLS_MAX_TEXT)?;
        match StsPolicy::parse(text.as_bytes()) {
            Ok(policy) => {
                discovery.sts = Some(StsLookup::Policy {
                    policy,
                    from_cache: false,
                    refresh_error: None,
                });
                discovery.last_error = None;
                Ok(())
            }
            Err(error) => Err(discovery.fail(
                mailtls_result::StsPolicy,
                format!("MTA-STS policy: {error}"),
            )),
        }
    })
}

/// Sets the TLSA base domain of `host` (RFC 7672 §2.2.2: the name its TLSA records were
/// found under after a DNSSEC-validated CNAME expansion, which the server certificate may
/// also match); without it the base domain is the host. Call it after
/// [`mailtls_discovery_add_tlsa`] for that host: `MAILTLS_RESULT_WRONG_STATE` when there was
/// none, `MAILTLS_RESULT_DESTINATION` when either name is not a DNS name; nothing changes on
/// error.
#[no_mangle]
pub extern "C" fn mailtls_discovery_set_tlsa_base_domain(
    discovery: *mut mailtls_discovery,
    host: *const c_char,
    base_domain: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow_mut(discovery)?;
        let host_text = text::string(host)?;
        let base_text = text::string(base_domain)?;
        let mut parse = |text: &str| {
            DnsName::parse(text).map_err(|error| {
                discovery.fail(
                    mailtls_result::Destination,
                    format!("TLSA name \"{}\": {error}", text.escape_debug()),
                )
            })
        };
        let host = parse(host_text)?;
        let base = parse(base_text)?;
        let Some(lookup) = discovery.tlsa.iter_mut().find(|l| l.host == host) else {
            return Err(discovery.fail(
                mailtls_result::WrongState,
                format!("no TLSA lookup of {host} was added"),
            ));
        };
        lookup.base_domain = Some(base);
        discovery.last_error = None;
        Ok(())
    })
}

/// Sets the message's TLS flags for the decision: `requiretls` when its MAIL FROM carried
/// the `REQUIRETLS` parameter (RFC 8689: every host must then offer verified TLS, or the
/// message bounces), `tls_required_no` when it has a valid `TLS-Required: No` header field
/// (RFC 8689 §4: the sender asks that TLS policies be ignored). Both false by default.
#[no_mangle]
pub extern "C" fn mailtls_discovery_set_message_tls(
    discovery: *mut mailtls_discovery,
    requiretls: bool,
    tls_required_no: bool,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow_mut(discovery)?;
        discovery.message = MessageTls {
            requiretls,
            tls_required_no,
        };
        discovery.last_error = None;
        Ok(())
    })
}

/// Copies the message of the last error a call on these answers returned (which record or
/// policy, and why). `MAILTLS_RESULT_NOT_FOUND` when the last call succeeded.
#[no_mangle]
pub extern "C" fn mailtls_discovery_last_error(
    discovery: *const mailtls_discovery,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let discovery = handle::borrow(discovery)?;
        let error = discovery
            .last_error
            .as_ref()
            .ok_or(mailtls_result::NotFound)?;
        text::write_message(error, buf, len, out_n)
    })
}

/// The precedence decision for `plan` under the answers in `discovery`: REQUIRETLS, DANE,
/// MTA-STS and the configuration in RFC order, one decision per host. `discovery` may be NULL:
/// no discovery answers (no DNSSEC, no TLSA, no MTA-STS), so `dane` acts as `may` and
/// `dane-only` skips every host. Both inputs stay the caller's. Errors:
/// `MAILTLS_RESULT_NULL_PARAMETER` (`plan`, `out_decision`), `MAILTLS_RESULT_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mailtls_decision_new(
    plan: *const mailtls_plan,
    discovery: *const mailtls_discovery,
    out_decision: *mut *mut mailtls_decision,
) -> mailtls_result {
    boundary::call(|| {
        let plan = handle::borrow(plan)?.clone();
        let discovery = if discovery.is_null() {
            None
        } else {
            Some(handle::borrow(discovery)?)
        };
        require_out(out_decision)?;
        let decision = match discovery {
            Some(discovery) => discovery.decide(plan),
            None => Decision::from_plan(plan),
        };
        handle::give::<mailtls_decision>(out_decision, decision)
    })
}

/// Frees a decision. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_decision_free(decision: *mut mailtls_decision) {
    boundary::value(|| handle::free(decision));
}

/// Copies the decision's explanation into `buf`: the refined plan with its trace, then one
/// line per host (who decided, connect or skip, the policy TLS-RPT counts it against, what
/// was overruled and why). `MAILTLS_RESULT_INSUFFICIENT_SIZE` when it does not fit (see
/// [`mailtls_decision_explain_size`]); `MAILTLS_RESULT_NULL_PARAMETER`,
/// `MAILTLS_RESULT_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mailtls_decision_explain(
    decision: *const mailtls_decision,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let decision = handle::borrow(decision)?;
        text::write_data(&decision.to_string(), buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_decision_explain`] needs.
#[no_mangle]
pub extern "C" fn mailtls_decision_explain_size(
    decision: *const mailtls_decision,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| text::size_of(&handle::borrow(decision)?.to_string(), out_size))
}

#[cfg(feature = "blocking")]
pub use delivery::*;

/// The delivery side: it needs the certificate verifiers, which read trust-anchor files.
#[cfg(feature = "blocking")]
mod delivery {
    use core::ffi::c_char;
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::cert;
    use crate::client::{AttemptRecord, ClientSettings, Delivery, PlanVerifiers};
    use crate::io::{load_trust_anchors, verifiers_for};
    use crate::time::Timestamp;

    use super::super::boundary;
    use super::super::client::mailtls_delivery;
    use super::super::event::mailtls_result_type;
    use super::super::handle::{self, require_out, write_out};
    use super::super::report::{added, mailtls_tlsrpt, mailtls_tlsrpt_added};
    use super::super::result::mailtls_result;
    use super::super::text;
    use super::mailtls_decision;

    /// A delivery as `decision` says (DANE hosts verified against their TLSA records,
    /// MTA-STS `testing` evaluated for reports, skipped hosts recorded, never contacted),
    /// saying `helo_name` in EHLO. With `anchors_file` NULL, the trust-anchor files the
    /// decision names (`tafile=`) are read now; otherwise the PEM file `anchors_file` replaces
    /// them and the public roots (like `posttls-finger -F`). The decision stays the caller's.
    /// Errors: `MAILTLS_RESULT_TRUST_ANCHORS` when an anchor file cannot be read or holds no usable
    /// anchor, `MAILTLS_RESULT_INVALID_ARGUMENT` for an unusable HELO name,
    /// `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_INVALID_HANDLE` and the string errors.
    #[no_mangle]
    pub extern "C" fn mailtls_delivery_new_from_decision(
        decision: *const mailtls_decision,
        helo_name: *const c_char,
        anchors_file: *const c_char,
        out_delivery: *mut *mut mailtls_delivery,
    ) -> mailtls_result {
        boundary::call(|| {
            let decision = handle::borrow(decision)?;
            let helo = text::string(helo_name)?;
            let anchors = text::optional_string(anchors_file)?.map(PathBuf::from);
            require_out(out_delivery)?;
            let settings =
                ClientSettings::new(helo).map_err(|_| mailtls_result::InvalidArgument)?;
            let verifiers = match anchors {
                Some(path) => PlanVerifiers::default().with_replacement(
                    load_trust_anchors(&[path]).map_err(|_| mailtls_result::TrustAnchors)?,
                ),
                None => verifiers_for(decision, cert::TrustAnchors::new())
                    .map_err(|_| mailtls_result::TrustAnchors)?,
            };
            let delivery = Delivery::new(settings, decision.clone(), Arc::new(verifiers));
            handle::give::<mailtls_delivery>(out_delivery, delivery)
        })
    }

    /// Copies the RFC 8460 result of the delivery's last recorded attempt (see
    /// `mailtls_delivery_record`), under the policy that governed its host, into `buf`:
    /// `success`, or the result type (`tlsa-invalid`, `certificate-host-mismatch`,
    /// `starttls-not-supported`, ...). Under MTA-STS `testing` it is what `enforce` would have
    /// said. A skipped host counts as an attempt. `MAILTLS_RESULT_NOT_FOUND` when no attempt
    /// was recorded or the last one reports nothing (it ended before TLS was at stake, or ran
    /// in plaintext where no policy asked for TLS); `MAILTLS_RESULT_INSUFFICIENT_SIZE`,
    /// `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_INVALID_HANDLE`.
    #[no_mangle]
    pub extern "C" fn mailtls_delivery_last_tlsrpt_result(
        delivery: *const mailtls_delivery,
        buf: *mut c_char,
        len: usize,
        out_n: *mut usize,
    ) -> mailtls_result {
        boundary::call(|| {
            let record = last_record(delivery)?;
            let result = record.report_result().ok_or(mailtls_result::NotFound)?;
            let name = match &result {
                Ok(()) => "success",
                Err(failure) => failure.result_type.as_str(),
            };
            text::write_data(name, buf, len, out_n)
        })
    }

    /// Copies the RFC 8460 policy type the delivery's last recorded attempt is counted against
    /// into `buf`: `tlsa`, `sts` or `no-policy-found`. `MAILTLS_RESULT_NOT_FOUND` when no
    /// attempt was recorded; `MAILTLS_RESULT_INSUFFICIENT_SIZE`,
    /// `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_INVALID_HANDLE`.
    #[no_mangle]
    pub extern "C" fn mailtls_delivery_last_tlsrpt_policy_type(
        delivery: *const mailtls_delivery,
        buf: *mut c_char,
        len: usize,
        out_n: *mut usize,
    ) -> mailtls_result {
        boundary::call(|| {
            let record = last_record(delivery)?;
            let decision = record.decision.as_ref().ok_or(mailtls_result::NotFound)?;
            text::write_data(decision.report_policy.policy_type.as_str(), buf, len, out_n)
        })
    }

    /// Counts the delivery's last recorded attempt in `tlsrpt` as a TLS-RPT session at
    /// `at_unix` (Unix seconds), under the policy that governed its host, with the MX host
    /// and its EHLO name; the IP addresses stay empty (the caller's socket knows them, use
    /// `mailtls_tlsrpt_add` to report them). `*out_added` says whether and how it was
    /// counted. `MAILTLS_RESULT_NOT_FOUND` when no attempt was recorded or the last one
    /// reports nothing (see [`mailtls_delivery_last_tlsrpt_result`]);
    /// `MAILTLS_RESULT_NULL_PARAMETER`, `MAILTLS_RESULT_INVALID_HANDLE`.
    #[no_mangle]
    pub extern "C" fn mailtls_tlsrpt_add_last_attempt(
        tlsrpt: *mut mailtls_tlsrpt,
        delivery: *const mailtls_delivery,
        at_unix: u64,
        out_added: *mut mailtls_tlsrpt_added,
    ) -> mailtls_result {
        boundary::call(|| {
            let aggregator = handle::borrow_mut(tlsrpt)?;
            let record = last_record(delivery)?;
            require_out(out_added)?;
            let outcome = record
                .session_outcome(Timestamp::from_unix_secs(at_unix))
                .ok_or(mailtls_result::NotFound)?;
            write_out(out_added, added(aggregator.add(&outcome)))
        })
    }

    /// The RFC 8460 result of the delivery's last recorded attempt as a
    /// `mailtls_result_type` (`MAILTLS_RESULT_TYPE_SUCCESS`, ...), the typed form of
    /// [`mailtls_delivery_last_tlsrpt_result`]; the same `MAILTLS_RESULT_NOT_FOUND` cases.
    #[no_mangle]
    pub extern "C" fn mailtls_delivery_last_result_type(
        delivery: *const mailtls_delivery,
        out_result_type: *mut mailtls_result_type,
    ) -> mailtls_result {
        boundary::call(|| {
            let record = last_record(delivery)?;
            require_out(out_result_type)?;
            let result = record.report_result().ok_or(mailtls_result::NotFound)?;
            let typed = match &result {
                Ok(()) => mailtls_result_type::Success,
                Err(failure) => mailtls_result_type::of(failure.result_type),
            };
            write_out(out_result_type, typed)
        })
    }

    pub(in crate::ffi) fn last_record<'a>(
        delivery: *const mailtls_delivery,
    ) -> Result<&'a AttemptRecord, mailtls_result> {
        let delivery: &Delivery = handle::borrow(delivery)?;
        delivery.records().last().ok_or(mailtls_result::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::super::outbound::{
        mailtls_config, mailtls_config_free, mailtls_config_new, mailtls_config_plan,
        mailtls_config_set_default_level, mailtls_plan_free,
    };
    use super::*;

    const RECORD: &str = "3 1 1 5fa4ace807065ebf020382dc3c61ddabda72a186cb6c293961f354ad7639894e";

    fn plan(level: &core::ffi::CStr, next_hop: &core::ffi::CStr) -> *mut mailtls_plan {
        let mut config: *mut mailtls_config = core::ptr::null_mut();
        assert_eq!(mailtls_config_new(&mut config), mailtls_result::Ok);
        assert_eq!(
            mailtls_config_set_default_level(config, level.as_ptr()),
            mailtls_result::Ok
        );
        let mut plan: *mut mailtls_plan = core::ptr::null_mut();
        assert_eq!(
            mailtls_config_plan(config, next_hop.as_ptr(), core::ptr::null(), 0, &mut plan),
            mailtls_result::Ok
        );
        mailtls_config_free(config);
        plan
    }

    fn explain(decision: *const mailtls_decision) -> String {
        let mut size = 0usize;
        assert_eq!(
            mailtls_decision_explain_size(decision, &mut size),
            mailtls_result::Ok
        );
        let mut buf = vec![0 as c_char; size];
        let mut n = 0usize;
        assert_eq!(
            mailtls_decision_explain(decision, buf.as_mut_ptr(), size, &mut n),
            mailtls_result::Ok
        );
        let bytes: Vec<u8> = buf.iter().take(n).map(|&c| c as u8).collect();
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn last_error(discovery: *const mailtls_discovery) -> String {
        let mut buf = [0 as c_char; 256];
        let mut n = 0usize;
        assert_eq!(
            mailtls_discovery_last_error(discovery, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        let bytes: Vec<u8> = buf.iter().take(n).map(|&c| c as u8).collect();
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn tlsa_answers_make_dane_decide_and_no_answers_do_not() {
        let plan = plan(c"dane", c"[mx.partner.test]:2525");
        let mut discovery: *mut mailtls_discovery = core::ptr::null_mut();
        assert_eq!(mailtls_discovery_new(&mut discovery), mailtls_result::Ok);
        let secure = mailtls_dnssec_status::Secure as u32;
        assert_eq!(
            mailtls_discovery_set_mx_status(discovery, secure),
            mailtls_result::Ok
        );
        let record = std::ffi::CString::new(RECORD).unwrap_or_default();
        assert_eq!(
            mailtls_discovery_add_tlsa(
                discovery,
                c"mx.partner.test".as_ptr(),
                record.as_ptr(),
                secure,
                secure
            ),
            mailtls_result::Ok
        );

        let mut with: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, discovery, &mut with),
            mailtls_result::Ok
        );
        let text = explain(with);
        assert!(text.contains("mx.partner.test: decided by DANE"), "{text}");

        let mut without: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, core::ptr::null(), &mut without),
            mailtls_result::Ok
        );
        let text = explain(without);
        assert!(!text.contains("decided by DANE"), "{text}");

        // Handles of the wrong type are refused.
        let mut out: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, with.cast_const().cast(), &mut out),
            mailtls_result::InvalidHandle
        );
        assert!(out.is_null());
        mailtls_decision_free(with);
        mailtls_decision_free(without);
        mailtls_discovery_free(discovery);
        mailtls_plan_free(plan);
    }

    /// REQUIRETLS from C: a `may` host cannot authenticate the server, so the message's
    /// flag skips it; without the flag it is contacted.
    #[test]
    fn the_requiretls_flag_skips_a_host_that_cannot_authenticate() {
        let plan = plan(c"may", c"[mx.example.com]:25");
        let mut discovery: *mut mailtls_discovery = core::ptr::null_mut();
        assert_eq!(mailtls_discovery_new(&mut discovery), mailtls_result::Ok);
        let mut plain: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, discovery, &mut plain),
            mailtls_result::Ok
        );
        assert!(!explain(plain).contains("REQUIRETLS"));
        assert_eq!(
            mailtls_discovery_set_message_tls(discovery, true, false),
            mailtls_result::Ok
        );
        let mut flagged: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, discovery, &mut flagged),
            mailtls_result::Ok
        );
        let text = explain(flagged);
        assert!(text.contains("decided by REQUIRETLS; skip"), "{text}");
        mailtls_decision_free(plain);
        mailtls_decision_free(flagged);
        mailtls_discovery_free(discovery);
        mailtls_plan_free(plan);
    }

    /// The TLSA base domain needs the host's lookup first, and then lands in the decision's
    /// DANE inputs (the explanation names the host's TLSA policy either way).
    #[test]
    fn a_tlsa_base_domain_needs_a_lookup_of_its_host() {
        let mut discovery: *mut mailtls_discovery = core::ptr::null_mut();
        assert_eq!(mailtls_discovery_new(&mut discovery), mailtls_result::Ok);
        assert_eq!(
            mailtls_discovery_set_tlsa_base_domain(
                discovery,
                c"mx.partner.test".as_ptr(),
                c"mx.cdn.partner.test".as_ptr()
            ),
            mailtls_result::WrongState
        );
        assert!(last_error(discovery).contains("mx.partner.test"));
        let secure = mailtls_dnssec_status::Secure as u32;
        let record = std::ffi::CString::new(RECORD).unwrap_or_default();
        assert_eq!(
            mailtls_discovery_add_tlsa(
                discovery,
                c"mx.partner.test".as_ptr(),
                record.as_ptr(),
                secure,
                secure
            ),
            mailtls_result::Ok
        );
        assert_eq!(
            mailtls_discovery_set_tlsa_base_domain(
                discovery,
                c"mx.partner.test".as_ptr(),
                c"mx.cdn.partner.test".as_ptr()
            ),
            mailtls_result::Ok
        );
        let Ok(inner) = handle::borrow(discovery.cast_const()) else {
            panic!("a live discovery handle");
        };
        assert_eq!(
            inner
                .tlsa
                .first()
                .and_then(|l| l.base_domain.as_ref())
                .map(DnsName::as_str),
            Some("mx.cdn.partner.test")
        );
        mailtls_discovery_free(discovery);
    }

    #[test]
    fn an_mta_sts_policy_decides_for_the_hosts_it_lists() {
        let mut config: *mut mailtls_config = core::ptr::null_mut();
        assert_eq!(mailtls_config_new(&mut config), mailtls_result::Ok);
        let hosts = [c"mx1.partner.test".as_ptr(), c"mx.elsewhere.test".as_ptr()];
        let mut plan: *mut mailtls_plan = core::ptr::null_mut();
        assert_eq!(
            mailtls_config_plan(
                config,
                c"partner.test".as_ptr(),
                hosts.as_ptr(),
                2,
                &mut plan
            ),
            mailtls_result::Ok
        );
        let mut discovery: *mut mailtls_discovery = core::ptr::null_mut();
        assert_eq!(mailtls_discovery_new(&mut discovery), mailtls_result::Ok);
        let policy = b"version: STSv1\nmode: enforce\nmx: *.partner.test\nmax_age: 86400\n";
        assert_eq!(
            mailtls_discovery_set_sts_policy(discovery, policy.as_ptr(), policy.len()),
            mailtls_result::Ok
        );
        let mut decision: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, discovery, &mut decision),
            mailtls_result::Ok
        );
        let text = explain(decision);
        assert!(
            text.contains("mx1.partner.test: decided by MTA-STS; connect"),
            "{text}"
        );
        assert!(
            text.contains("mx.elsewhere.test: decided by MTA-STS; skip"),
            "{text}"
        );
        mailtls_decision_free(decision);
        mailtls_discovery_free(discovery);
        mailtls_plan_free(plan);
        mailtls_config_free(config);
    }

    /// `dane-only` without discovery answers skips its only host: the delivery defers without
    /// a session, and the skip is reported as `dane-required` under no policy.
    #[cfg(feature = "blocking")]
    #[test]
    fn a_skipped_host_is_reported_without_a_session() {
        use super::super::client::{
            mailtls_delivery, mailtls_delivery_free, mailtls_delivery_next_session,
        };
        use super::super::report::{
            mailtls_tlsrpt, mailtls_tlsrpt_added, mailtls_tlsrpt_free, mailtls_tlsrpt_new,
        };
        let plan = plan(c"dane-only", c"[mx.partner.test]:2525");
        let mut decision: *mut mailtls_decision = core::ptr::null_mut();
        assert_eq!(
            mailtls_decision_new(plan, core::ptr::null(), &mut decision),
            mailtls_result::Ok
        );
        let mut delivery: *mut mailtls_delivery = core::ptr::null_mut();
        assert_eq!(
            mailtls_delivery_new_from_decision(
                decision,
                c"client.example".as_ptr(),
                core::ptr::null(),
                &mut delivery
            ),
            mailtls_result::Ok
        );
        let mut buf = [0 as c_char; 64];
        let mut n = 0usize;
        assert_eq!(
            mailtls_delivery_last_tlsrpt_result(delivery, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::NotFound
        );
        let mut session: *mut super::super::session::mailtls_session = core::ptr::null_mut();
        assert_eq!(
            mailtls_delivery_next_session(delivery, 1_000, &mut session),
            mailtls_result::NotFound
        );
        let text = |buf: &[c_char], n: usize| -> String {
            buf.iter().take(n).map(|&c| char::from(c as u8)).collect()
        };
        assert_eq!(
            mailtls_delivery_last_tlsrpt_result(delivery, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        assert_eq!(text(&buf, n), "dane-required");
        assert_eq!(
            mailtls_delivery_last_tlsrpt_policy_type(delivery, buf.as_mut_ptr(), buf.len(), &mut n),
            mailtls_result::Ok
        );
        assert_eq!(text(&buf, n), "no-policy-found");
        let mut tlsrpt: *mut mailtls_tlsrpt = core::ptr::null_mut();
        assert_eq!(mailtls_tlsrpt_new(0, 100, &mut tlsrpt), mailtls_result::Ok);
        let mut added = mailtls_tlsrpt_added::OverCap;
        assert_eq!(
            mailtls_tlsrpt_add_last_attempt(tlsrpt, delivery, 50, &mut added),
            mailtls_result::Ok
        );
        assert_eq!(added, mailtls_tlsrpt_added::Counted);
        mailtls_tlsrpt_free(tlsrpt);
        mailtls_delivery_free(delivery);
        mailtls_decision_free(decision);
        mailtls_plan_free(plan);
    }

    #[test]
    fn bad_answers_are_typed_errors_and_change_nothing() {
        let mut discovery: *mut mailtls_discovery = core::ptr::null_mut();
        assert_eq!(mailtls_discovery_new(&mut discovery), mailtls_result::Ok);
        let secure = mailtls_dnssec_status::Secure as u32;
        let host = c"mx.partner.test".as_ptr();
        assert_eq!(
            mailtls_discovery_set_mx_status(discovery, 4),
            mailtls_result::InvalidArgument
        );
        assert_eq!(
            mailtls_discovery_add_tlsa(discovery, host, c"3 1 1 zz".as_ptr(), secure, secure),
            mailtls_result::Tlsa
        );
        assert!(last_error(discovery).contains("3 1 1 zz"));
        assert_eq!(
            mailtls_discovery_add_tlsa(
                discovery,
                c"not a host!".as_ptr(),
                core::ptr::null(),
                secure,
                secure
            ),
            mailtls_result::Destination
        );
        // A lookup with no record, then a record under other statuses: refused.
        assert_eq!(
            mailtls_discovery_add_tlsa(discovery, host, core::ptr::null(), secure, secure),
            mailtls_result::Ok
        );
        let record = std::ffi::CString::new(RECORD).unwrap_or_default();
        assert_eq!(
            mailtls_discovery_add_tlsa(
                discovery,
                host,
                record.as_ptr(),
                secure,
                mailtls_dnssec_status::Insecure as u32
            ),
            mailtls_result::InvalidArgument
        );
        // A usable policy, then a broken one: the first stays.
        let good = b"version: STSv1\nmode: enforce\nmx: *.partner.test\nmax_age: 86400\n";
        assert_eq!(
            mailtls_discovery_set_sts_policy(discovery, good.as_ptr(), good.len()),
            mailtls_result::Ok
        );
        let bad = b"version: STSv1\nmode: sometimes\n";
        assert_eq!(
            mailtls_discovery_set_sts_policy(discovery, bad.as_ptr(), bad.len()),
            mailtls_result::StsPolicy
        );
        assert!(last_error(discovery).contains("MTA-STS policy"));
        let inner = handle::borrow(discovery.cast_const()).ok();
        assert!(matches!(
            inner.and_then(|d| d.sts.as_ref()),
            Some(StsLookup::Policy { .. })
        ));
        assert_eq!(
            inner.map(|d| d.tlsa.iter().map(|l| l.records.len()).sum::<usize>()),
            Some(0)
        );
        mailtls_discovery_free(discovery);
        mailtls_discovery_free(discovery);
        assert_eq!(
            mailtls_discovery_set_mx_status(discovery, secure),
            mailtls_result::InvalidHandle
        );
    }
}
