//! Inbound connectors and the inbound decision from plain facts: Postfix milter macros
//! (`{tls_version}`, `{cipher}`, `{cipher_bits}`, `{cert_subject}`, `{cert_issuer}`), the
//! client address, the MAIL FROM and RCPT TO domains. The decision itself is
//! [`crate::policy::inbound::decide_inbound`]; this layer only collects the facts.

use core::ffi::c_char;
use core::net::IpAddr;

use crate::policy::connector::Connectors;
use crate::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundAction, InboundFacts, InboundTls,
    InboundVerdict, Verification,
};

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::outbound::mailtls_config;
use super::result::mailtls_result;
use super::text::{self, MAILTLS_MAX_TEXT};

/// The most RCPT TO domains one set of facts may hold.
pub const MAILTLS_MAX_RCPTS: usize = 1000;

/// What the MTA knows about one inbound message. Made by [`mailtls_inbound_facts_new`],
/// freed by [`mailtls_inbound_facts_free`].
pub struct mailtls_inbound_facts {
    _private: [u8; 0],
}

/// The facts, owned.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    client_ip: Option<IpAddr>,
    helo: String,
    mail_from_domain: Option<String>,
    rcpt_domains: Vec<String>,
    tls_version: Option<String>,
    cipher: Option<String>,
    cipher_bits: Option<u32>,
    cert_subject: Option<String>,
    cert_issuer: Option<String>,
    verified: Option<Verification>,
}

impl Castable for mailtls_inbound_facts {
    type Inner = Facts;
}

/// The decision for one message. Made by [`mailtls_config_decide_inbound`], freed by
/// [`mailtls_verdict_free`].
pub struct mailtls_verdict {
    _private: [u8; 0],
}

impl Castable for mailtls_verdict {
    type Inner = InboundVerdict;
}

/// Whether the MTA verified the client certificate's chain.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_verification {
    /// The MTA cannot tell (the default when a certificate is named but nothing is said).
    Unknown = 0,
    /// It verified the chain to a trusted root. Postfix sets `{cert_subject}` only then.
    Verified = 1,
    /// It did not, or the chain is untrusted.
    NotVerified = 2,
}

/// What to do with the message.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_action {
    /// Accept it.
    Accept = 0,
    /// Reject it (5xx): reply with the verdict's code, enhanced code and text.
    Reject = 1,
    /// Ask the client to retry later (4xx).
    Tempfail = 2,
}

/// Loads Exchange-style connectors from `len` bytes of TOML (at most `MAILTLS_MAX_TEXT`),
/// replacing earlier ones. They route outbound mail (before the Postfix table) and decide
/// inbound mail. On `MAILTLS_RESULT_CONNECTORS` the configuration is unchanged and
/// [`mailtls_config_last_error`](super::mailtls_config_last_error) says what and where.
#[no_mangle]
pub extern "C" fn mailtls_config_load_connectors(
    config: *mut mailtls_config,
    toml: *const u8,
    len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow_mut(config)?;
        let text = text::text(toml, len, MAILTLS_MAX_TEXT)?;
        match Connectors::from_toml(text) {
            Ok(connectors) => {
                config.outbound.connectors = Some(connectors);
                config.last_error = None;
                Ok(())
            }
            Err(error) => {
                let position =
                    match &error {
                        crate::policy::connector::ConnectorError::Syntax {
                            line, column, ..
                        } if *line > 0 => Some((*line, *column)),
                        _ => None,
                    };
                Err(config.fail(mailtls_result::Connectors, error.to_string(), position))
            }
        }
    })
}

/// Empty facts: no address yet, no TLS, no certificate, no envelope.
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_new(
    out_facts: *mut *mut mailtls_inbound_facts,
) -> mailtls_result {
    boundary::call(|| {
        require_out(out_facts)?;
        handle::give::<mailtls_inbound_facts>(out_facts, Facts::default())
    })
}

/// Frees facts. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_free(facts: *mut mailtls_inbound_facts) {
    boundary::value(|| handle::free(facts));
}

/// Sets one milter macro by its name with or without braces: `{tls_version}` (`TLSv1.3`),
/// `{cipher}`, `{cipher_bits}` (a number), `{cert_subject}`, `{cert_issuer}` (common names,
/// as Postfix passes them), or `{verify}` (Sendmail: `OK` means verified). Other macro names
/// give `MAILTLS_RESULT_INVALID_ARGUMENT`, bad values `MAILTLS_RESULT_INBOUND_FACTS`; an
/// empty value clears the fact.
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_set_macro(
    facts: *mut mailtls_inbound_facts,
    name: *const c_char,
    value: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        let name = text::string(name)?;
        let value = text::string(value)?;
        let bare = name
            .strip_prefix('{')
            .and_then(|n| n.strip_suffix('}'))
            .unwrap_or(name);
        let owned = (!value.is_empty()).then(|| value.to_owned());
        match bare {
            "tls_version" => {
                if value.is_empty() || InboundTls::from_macros(value, "").is_some() {
                    facts.tls_version = owned;
                } else {
                    return Err(mailtls_result::InboundFacts);
                }
            }
            "cipher" => facts.cipher = owned,
            "cipher_bits" => {
                facts.cipher_bits = if value.is_empty() {
                    None
                } else {
                    Some(value.parse().map_err(|_| mailtls_result::InboundFacts)?)
                };
            }
            "cert_subject" => facts.cert_subject = owned,
            "cert_issuer" => facts.cert_issuer = owned,
            "verify" => {
                facts.verified = match value {
                    "" => None,
                    "OK" => Some(Verification::Verified),
                    _ => Some(Verification::NotVerified),
                };
            }
            _ => return Err(mailtls_result::InvalidArgument),
        }
        Ok(())
    })
}

/// Says whether the MTA verified the client certificate (`verification`: a
/// `mailtls_verification` value). A milter behind Postfix sets `MAILTLS_VERIFICATION_VERIFIED`
/// when `{cert_subject}` is present: Postfix sets it only for a verified certificate.
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_set_verification(
    facts: *mut mailtls_inbound_facts,
    verification: u32,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        facts.verified = Some(match verification {
            v if v == mailtls_verification::Unknown as u32 => Verification::Unknown,
            v if v == mailtls_verification::Verified as u32 => Verification::Verified,
            v if v == mailtls_verification::NotVerified as u32 => Verification::NotVerified,
            _ => return Err(mailtls_result::InvalidArgument),
        });
        Ok(())
    })
}

/// Sets the client's IP address (`192.0.2.1`, `2001:db8::1`, or the milter `{client_addr}`
/// / `_` spelling `IPv6:2001:db8::1`).
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_set_client_address(
    facts: *mut mailtls_inbound_facts,
    address: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        let address = text::string(address)?;
        let bare = address
            .strip_prefix("IPv6:")
            .or_else(|| address.strip_prefix("ipv6:"))
            .unwrap_or(address);
        let bare = bare
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(bare);
        facts.client_ip = Some(bare.parse().map_err(|_| mailtls_result::InboundFacts)?);
        Ok(())
    })
}

/// Sets the HELO/EHLO name (it proves nothing; it appears in the explanation).
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_set_helo(
    facts: *mut mailtls_inbound_facts,
    helo: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        facts.helo = text::string(helo)?.to_owned();
        Ok(())
    })
}

/// Sets the MAIL FROM address or domain (`<user@example.com>`, `user@example.com` or
/// `example.com`); `<>` or the empty string is the null sender. Replaces the earlier one and
/// forgets the recipients (a new transaction).
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_set_mail_from(
    facts: *mut mailtls_inbound_facts,
    sender: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        let sender = text::string(sender)?;
        facts.mail_from_domain = domain_of(sender)?;
        facts.rcpt_domains.clear();
        Ok(())
    })
}

/// Adds a RCPT TO address or domain (same spellings as MAIL FROM; at most
/// `MAILTLS_MAX_RCPTS`).
#[no_mangle]
pub extern "C" fn mailtls_inbound_facts_add_rcpt(
    facts: *mut mailtls_inbound_facts,
    recipient: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let facts = handle::borrow_mut(facts)?;
        let recipient = text::string(recipient)?;
        if facts.rcpt_domains.len() >= MAILTLS_MAX_RCPTS {
            return Err(mailtls_result::TooLong);
        }
        let domain = domain_of(recipient)?.ok_or(mailtls_result::InboundFacts)?;
        facts.rcpt_domains.push(domain);
        Ok(())
    })
}

/// Decides the message by the configuration's inbound connectors. Needs the client address
/// (`MAILTLS_RESULT_WRONG_STATE` without it). A configuration without connectors accepts.
#[no_mangle]
pub extern "C" fn mailtls_config_decide_inbound(
    config: *const mailtls_config,
    facts: *const mailtls_inbound_facts,
    out_verdict: *mut *mut mailtls_verdict,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let facts = handle::borrow(facts)?;
        require_out(out_verdict)?;
        let client_ip = facts.client_ip.ok_or(mailtls_result::WrongState)?;
        let rcpts: Vec<&str> = facts.rcpt_domains.iter().map(String::as_str).collect();
        let tls = match (&facts.tls_version, &facts.cipher) {
            (Some(version), cipher) => {
                InboundTls::from_macros(version, cipher.as_deref().unwrap_or(""))
            }
            (None, _) => None,
        };
        let client_certificate = match &facts.cert_subject {
            Some(subject) => ClientCertificateFacts::MilterMacros {
                subject,
                issuer: facts.cert_issuer.as_deref().unwrap_or(""),
                verified: facts.verified.unwrap_or(Verification::Unknown),
            },
            None => ClientCertificateFacts::None,
        };
        let inbound = InboundFacts {
            client_ip,
            helo: &facts.helo,
            mail_from_domain: facts.mail_from_domain.as_deref(),
            rcpt_domains: &rcpts,
            tls,
            client_certificate,
        };
        let empty = Connectors::default();
        let connectors = config.outbound.connectors.as_ref().unwrap_or(&empty);
        let verdict = decide_inbound(connectors, &inbound);
        handle::give::<mailtls_verdict>(out_verdict, verdict)
    })
}

/// Frees a verdict. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_verdict_free(verdict: *mut mailtls_verdict) {
    boundary::value(|| handle::free(verdict));
}

/// The action: accept, reject or tempfail.
#[no_mangle]
pub extern "C" fn mailtls_verdict_action(
    verdict: *const mailtls_verdict,
    out_action: *mut mailtls_action,
) -> mailtls_result {
    boundary::call(|| {
        let action = match handle::borrow(verdict)?.action {
            InboundAction::Accept => mailtls_action::Accept,
            InboundAction::Reject(_) => mailtls_action::Reject,
            InboundAction::Tempfail(_) => mailtls_action::Tempfail,
        };
        write_out(out_action, action)
    })
}

/// The SMTP reply of a refusal: the code (`550`), the enhanced code (`5.7.1`) copied into
/// `enhanced` (`enhanced_len` bytes, 16 suffice) and the text into `text` (`text_len` bytes;
/// [`mailtls_verdict_explain_size`] bounds it). `MAILTLS_RESULT_NOT_FOUND` for an accept.
#[no_mangle]
pub extern "C" fn mailtls_verdict_reply(
    verdict: *const mailtls_verdict,
    out_code: *mut u16,
    enhanced: *mut c_char,
    enhanced_len: usize,
    out_enhanced_n: *mut usize,
    reply_text: *mut c_char,
    text_len: usize,
    out_text_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let verdict = handle::borrow(verdict)?;
        require_out(out_code)?;
        require_out(out_enhanced_n)?;
        require_out(out_text_n)?;
        if enhanced.is_null() || reply_text.is_null() {
            return Err(mailtls_result::NullParameter);
        }
        let status = match &verdict.action {
            InboundAction::Accept => return Err(mailtls_result::NotFound),
            InboundAction::Reject(status) | InboundAction::Tempfail(status) => status,
        };
        let code_text = status.enhanced().to_string();
        if code_text.len() >= enhanced_len || status.text().len() >= text_len {
            return Err(mailtls_result::InsufficientSize);
        }
        text::write_data(&code_text, enhanced, enhanced_len, out_enhanced_n)?;
        text::write_data(status.text(), reply_text, text_len, out_text_n)?;
        write_out(out_code, status.code().as_u16())
    })
}

/// Copies the connector that applied (its name) into `buf`; `MAILTLS_RESULT_NOT_FOUND` when
/// none did.
#[no_mangle]
pub extern "C" fn mailtls_verdict_connector(
    verdict: *const mailtls_verdict,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let name = handle::borrow(verdict)?
            .connector
            .as_ref()
            .ok_or(mailtls_result::NotFound)?;
        text::write_data(name, buf, len, out_n)
    })
}

/// Copies the explanation of the verdict (action, connector, attribution and every rule
/// that fired) in `format` (a `mailtls_format` value) into `buf`.
#[no_mangle]
pub extern "C" fn mailtls_verdict_explain(
    verdict: *const mailtls_verdict,
    format: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let text = explanation(handle::borrow(verdict)?, format)?;
        text::write_data(&text, buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_verdict_explain`] needs for `format`.
#[no_mangle]
pub extern "C" fn mailtls_verdict_explain_size(
    verdict: *const mailtls_verdict,
    format: u32,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| text::size_of(&explanation(handle::borrow(verdict)?, format)?, out_size))
}

fn explanation(verdict: &InboundVerdict, format: u32) -> Result<String, mailtls_result> {
    use super::outbound::mailtls_format;
    if format == mailtls_format::Text as u32 {
        return Ok(verdict.to_string());
    }
    if format != mailtls_format::Json as u32 {
        return Err(mailtls_result::InvalidArgument);
    }
    let (action, status) = match &verdict.action {
        InboundAction::Accept => ("accept", None),
        InboundAction::Reject(status) => ("reject", Some(status)),
        InboundAction::Tempfail(status) => ("tempfail", Some(status)),
    };
    Ok(serde_json::json!({
        "action": action,
        "code": status.map(|s| s.code().as_u16()),
        "enhanced_code": status.map(|s| s.enhanced().to_string()),
        "text": status.map(|s| s.text()),
        "connector": verdict.connector,
        "attribution": verdict.attribution.as_ref().map(ToString::to_string),
        "reasons": verdict.reasons,
    })
    .to_string())
}

/// The domain of `<local@domain>`, `local@domain` or `domain`; `None` for the null sender.
fn domain_of(address: &str) -> Result<Option<String>, mailtls_result> {
    let bare = address.trim();
    let bare = bare
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(bare);
    if bare.is_empty() {
        return Ok(None);
    }
    let domain = bare.rsplit_once('@').map_or(bare, |(_, domain)| domain);
    if domain.is_empty() {
        return Err(mailtls_result::InboundFacts);
    }
    Ok(Some(domain.to_owned()))
}
