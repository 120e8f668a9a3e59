//! The inbound decision for milters and servers: accept, reject or tempfail a message by the
//! inbound connectors, from plain facts about the connection and the envelope.
//!
//! Inputs are plain data (strings, an address, flags), so a Postfix milter (which sees only the
//! `{cert_subject}` and `{cert_issuer}` common names and whether Postfix verified the
//! certificate) and the C ABI can call it as well as the server session, which has the full
//! certificate facts.
//!
//! Attribution follows Exchange Online: the **verified client certificate's domain** first,
//! then the **MAIL FROM domain**, then (on-premises connectors only) a **RCPT TO domain**.
//! Independently of attribution, a partner connector's restrictions protect its sender
//! domains: `restrict_domains_to_ip_addresses` and `restrict_domains_to_certificate` reject
//! mail from those domains that comes from elsewhere.

use core::fmt;
use core::net::IpAddr;

use super::connector::{ConnectorType, Connectors, InboundConnector};
use super::protocol::{CipherSuite, TlsVersion};
use super::status::Status;
use crate::names::{Dialect, DnsName, NamePattern};

/// What the server knows when it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundFacts<'a> {
    /// The client's address.
    pub client_ip: IpAddr,
    /// The HELO/EHLO name (for the explanation only: it proves nothing).
    pub helo: &'a str,
    /// The MAIL FROM domain; `None` for the null sender `<>`.
    pub mail_from_domain: Option<&'a str>,
    /// The RCPT TO domains so far.
    pub rcpt_domains: &'a [&'a str],
    /// The TLS session, if the client used STARTTLS.
    pub tls: Option<InboundTls<'a>>,
    /// The client certificate, if any.
    pub client_certificate: ClientCertificateFacts<'a>,
}

/// The TLS session of an inbound connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundTls<'a> {
    /// The negotiated protocol version as on the wire (`0x0303` for TLS 1.2).
    pub version: u16,
    /// The cipher suite name, for the explanation.
    pub cipher: &'a str,
}

impl<'a> InboundTls<'a> {
    /// Reads Postfix's `{tls_version}` (`TLSv1.2`) and `{cipher}` macros; `None` when the
    /// version is not one Postfix names.
    pub fn from_macros(version: &str, cipher: &'a str) -> Option<Self> {
        let version = match version {
            "SSLv3" => 0x0300,
            "TLSv1" => 0x0301,
            "TLSv1.1" => 0x0302,
            "TLSv1.2" => 0x0303,
            "TLSv1.3" => 0x0304,
            _ => return None,
        };
        Some(Self { version, cipher })
    }

    /// What a mailtls handshake negotiated (the suite by its IANA name).
    pub fn negotiated(version: TlsVersion, suite: CipherSuite) -> InboundTls<'static> {
        InboundTls {
            version: version.wire_code(),
            cipher: suite.iana_name(),
        }
    }
}

/// The client certificate, as much as the caller knows of it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertificateFacts<'a> {
    /// No certificate.
    None,
    /// The names a certificate presents (DNS SANs and subject common names), with the MTA's
    /// verification verdict.
    Names {
        /// DNS subject alternative names.
        dns_sans: &'a [&'a str],
        /// Subject common names.
        common_names: &'a [&'a str],
        /// Whether the MTA verified the chain.
        verified: Verification,
    },
    /// Only Postfix's milter macros: `{cert_subject}` and `{cert_issuer}` (common names).
    MilterMacros {
        /// `{cert_subject}`.
        subject: &'a str,
        /// `{cert_issuer}`.
        issuer: &'a str,
        /// Whether the MTA verified the chain.
        verified: Verification,
    },
}

/// Whether the MTA verified the client certificate's chain.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verification {
    /// It did not (or the chain is untrusted).
    NotVerified,
    /// The caller cannot tell.
    Unknown,
    /// It did, to a trusted root.
    Verified,
}

impl Verification {
    /// A short stable name for logs and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotVerified => "not-verified",
            Self::Unknown => "unknown",
            Self::Verified => "verified",
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundAction {
    /// Accept the message.
    Accept,
    /// Reject it (5.7.x).
    Reject(Status),
    /// Ask the client to retry later (4.7.x).
    Tempfail(Status),
}

/// How a connector was attributed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attribution {
    /// A verified client certificate presented this name.
    CertificateDomain(String),
    /// The MAIL FROM domain.
    MailFromDomain(String),
    /// A RCPT TO domain (on-premises connectors).
    RcptDomain(String),
}

impl Attribution {
    /// What it was attributed by, and the name.
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::CertificateDomain(name) => ("certificate domain ", name),
            Self::MailFromDomain(name) => ("MAIL FROM domain ", name),
            Self::RcptDomain(name) => ("RCPT TO domain ", name),
        }
    }

    /// Appends the [`Display`](fmt::Display) form to `out`.
    fn push_to(&self, out: &mut String) {
        let (by, name) = self.parts();
        out.push_str(by);
        out.push_str(name);
    }
}

impl fmt::Display for Attribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (by, name) = self.parts();
        f.write_str(by)?;
        f.write_str(name)
    }
}

/// Appends `text` as `{:?}` writes it: quoted, with escapes when it needs any.
fn push_quoted(out: &mut String, text: &str) {
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Writing to a String cannot fail.
        let _ = fmt::Write::write_fmt(out, format_args!("{text:?}"));
    }
}

/// The verdict: the action, the connector that applied and why.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundVerdict {
    /// What to do with the message.
    pub action: InboundAction,
    /// The connector that applied, by name.
    pub connector: Option<String>,
    /// How it was attributed.
    pub attribution: Option<Attribution>,
    /// Every rule that fired, readable by a person.
    pub reasons: Vec<String>,
}

impl fmt::Display for InboundVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            InboundAction::Accept => f.write_str("accept")?,
            InboundAction::Reject(status) => write!(f, "reject: {status}")?,
            InboundAction::Tempfail(status) => write!(f, "tempfail: {status}")?,
        }
        if let (Some(connector), Some(by)) = (&self.connector, &self.attribution) {
            write!(f, " (connector {connector:?} by {by})")?;
        }
        for reason in &self.reasons {
            write!(f, "; {reason}")?;
        }
        Ok(())
    }
}

/// Decides a message by the inbound connectors (see the module docs for the order).
pub fn decide_inbound(connectors: &Connectors, facts: &InboundFacts<'_>) -> InboundVerdict {
    let mut reasons = Vec::new();
    let cert = Presented::from_facts(&facts.client_certificate);

    // 1. Attribution.
    let mut attributed: Option<(&InboundConnector, Attribution)> = None;
    for name in cert.names() {
        let lookup = name.strip_prefix("*.").unwrap_or(name);
        let Some(connector) = connectors
            .inbound_by_certificate_name(lookup)
            .find(|c| cert.matches(c))
        else {
            continue;
        };
        cert.remember_match(connector);
        if cert.verified == Verification::Verified {
            attributed = Some((connector, Attribution::CertificateDomain(name.to_owned())));
            break;
        }
        reasons.push(format!(
            "certificate name {name} matches connector {:?}, but the certificate was not verified ({}): not used for attribution",
            connector.name, cert.verified
        ));
        break;
    }
    let mail_from = facts.mail_from_domain.and_then(|d| DnsName::parse(d).ok());
    let sender_connector = mail_from
        .as_ref()
        .and_then(|d| connectors.inbound_by_sender(d.as_str()).next());
    if attributed.is_none() {
        if let (Some(connector), Some(domain)) = (sender_connector, &mail_from) {
            attributed = Some((connector, Attribution::MailFromDomain(domain.to_string())));
        }
    }
    if attributed.is_none() {
        attributed = facts.rcpt_domains.iter().find_map(|rcpt| {
            let domain = DnsName::parse(rcpt).ok()?;
            let connector = connectors
                .inbound_by_sender(domain.as_str())
                .find(|c| c.connector_type == ConnectorType::OnPremises)?;
            Some((connector, Attribution::RcptDomain(domain.to_string())))
        });
    }

    // 2. The sender domain's partner restrictions, whatever the attribution.
    if let (Some(partner), Some(domain)) = (sender_connector, &mail_from) {
        if partner.connector_type == ConnectorType::Partner {
            if let Some(verdict) = partner_restrictions(partner, domain, facts, &cert, &mut reasons)
            {
                return verdict;
            }
        }
    }

    // 3. The attributed connector's own requirements.
    let Some((connector, attribution)) = attributed else {
        reasons.push("no inbound connector applies: accepted as ordinary mail".into());
        return verdict(InboundAction::Accept, None, reasons);
    };
    if connector.connector_type == ConnectorType::OnPremises {
        let by_ip = connector
            .sender_ip_addresses
            .iter()
            .any(|net| net.contains(facts.client_ip));
        let by_cert = cert.verified == Verification::Verified && cert.matches(connector);
        if !by_ip && !by_cert {
            reasons.push(format!(
                "on-premises connector {:?} matched the {attribution}, but neither a verified certificate nor the client address {} proves the mail comes from its servers: accepted as ordinary mail",
                connector.name, facts.client_ip
            ));
            return verdict(InboundAction::Accept, None, reasons);
        }
    }
    // The reasons of every accepted message: built without the formatting machinery.
    // Sized once for the whole text (quotes, the fixed words and the attribution).
    let (by, named) = attribution.parts();
    let mut reason = String::with_capacity(32 + connector.name.len() + by.len() + named.len());
    reason.push_str("connector ");
    push_quoted(&mut reason, &connector.name);
    reason.push_str(" attributed by ");
    attribution.push_to(&mut reason);
    reasons.push(reason);
    if connector.require_tls {
        match facts.tls {
            None => {
                reasons.push(format!("connector {:?} requires TLS", connector.name));
                return attributed_verdict(
                    InboundAction::Reject(Status::new(
                        530,
                        (5, 7, 0),
                        "Must issue a STARTTLS command first",
                    )),
                    connector,
                    attribution,
                    reasons,
                );
            }
            Some(tls) if tls.version < 0x0303 => {
                reasons.push(format!(
                    "connector {:?} requires TLS 1.2 or later; the client used 0x{:04x} ({})",
                    connector.name, tls.version, tls.cipher
                ));
                return attributed_verdict(
                    InboundAction::Reject(Status::new(
                        550,
                        (5, 7, 0),
                        "TLS 1.2 or later is required",
                    )),
                    connector,
                    attribution,
                    reasons,
                );
            }
            Some(tls) => {
                let mut reason = String::with_capacity(16 + tls.cipher.len());
                reason.push_str("TLS 0x");
                for shift in [12, 8, 4, 0] {
                    let digit = (tls.version >> shift) & 0xf;
                    reason.push(char::from_digit(u32::from(digit), 16).unwrap_or('?'));
                }
                reason.push_str(" with ");
                reason.push_str(tls.cipher);
                reasons.push(reason);
            }
        }
    }
    attributed_verdict(InboundAction::Accept, connector, attribution, reasons)
}

/// `restrict_domains_to_ip_addresses` and `restrict_domains_to_certificate` of the partner
/// connector that owns the MAIL FROM domain.
fn partner_restrictions(
    partner: &InboundConnector,
    domain: &DnsName,
    facts: &InboundFacts<'_>,
    cert: &Presented<'_>,
    reasons: &mut Vec<String>,
) -> Option<InboundVerdict> {
    if partner.restrict_domains_to_ip_addresses
        && !partner
            .sender_ip_addresses
            .iter()
            .any(|net| net.contains(facts.client_ip))
    {
        reasons.push(format!(
            "partner connector {:?} restricts {domain} to its IP addresses; {} is not one of them",
            partner.name, facts.client_ip
        ));
        return Some(attributed_verdict(
            InboundAction::Reject(Status::new(
                550,
                (5, 7, 1),
                "Client host not authorized to send for this sender domain",
            )),
            partner,
            Attribution::MailFromDomain(domain.to_string()),
            core::mem::take(reasons),
        ));
    }
    if partner.restrict_domains_to_certificate {
        let matches = cert.matches(partner);
        let action = match (matches, cert.verified) {
            (true, Verification::Verified) => None,
            (true, Verification::Unknown) => Some(InboundAction::Tempfail(Status::new(
                450,
                (4, 7, 0),
                "Cannot tell whether the client certificate was verified",
            ))),
            _ => Some(InboundAction::Reject(Status::new(
                550,
                (5, 7, 1),
                "Sender domain requires a matching TLS client certificate",
            ))),
        };
        if let Some(action) = action {
            // Written only for the reason of a refusal (an accepted message never needs it).
            let expected = partner
                .tls_sender_certificate_name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            reasons.push(format!(
                "partner connector {:?} restricts {domain} to certificates named {expected}; presented [{}] ({})",
                partner.name,
                cert.names().collect::<Vec<_>>().join(", "),
                cert.verified
            ));
            return Some(attributed_verdict(
                action,
                partner,
                Attribution::MailFromDomain(domain.to_string()),
                core::mem::take(reasons),
            ));
        }
    }
    None
}

fn verdict(
    action: InboundAction,
    connector: Option<&InboundConnector>,
    reasons: Vec<String>,
) -> InboundVerdict {
    InboundVerdict {
        action,
        connector: connector.map(|c| c.name.clone()),
        attribution: None,
        reasons,
    }
}

fn attributed_verdict(
    action: InboundAction,
    connector: &InboundConnector,
    attribution: Attribution,
    reasons: Vec<String>,
) -> InboundVerdict {
    InboundVerdict {
        action,
        connector: Some(connector.name.clone()),
        attribution: Some(attribution),
        reasons,
    }
}

/// The certificate names as the matcher wants them.
struct Presented<'a> {
    sans: &'a [&'a str],
    common_names: [&'a str; 1],
    extra_cns: &'a [&'a str],
    has_cn: bool,
    verified: Verification,
    matched: core::cell::Cell<Option<*const InboundConnector>>,
    /// The names read as certificate names (Exchange dialect), once, when first matched.
    parsed: core::cell::OnceCell<Vec<NamePattern>>,
}

impl<'a> Presented<'a> {
    fn from_facts(facts: &ClientCertificateFacts<'a>) -> Self {
        match *facts {
            ClientCertificateFacts::Names {
                dns_sans,
                common_names,
                verified,
            } => Self {
                sans: dns_sans,
                common_names: [""],
                extra_cns: common_names,
                has_cn: false,
                verified,
                matched: core::cell::Cell::new(None),
                parsed: core::cell::OnceCell::new(),
            },
            ClientCertificateFacts::MilterMacros {
                subject, verified, ..
            } => Self {
                sans: &[],
                common_names: [common_name(subject)],
                extra_cns: &[],
                has_cn: !common_name(subject).is_empty(),
                verified,
                matched: core::cell::Cell::new(None),
                parsed: core::cell::OnceCell::new(),
            },
            _ => Self {
                sans: &[],
                common_names: [""],
                extra_cns: &[],
                has_cn: false,
                verified: Verification::NotVerified,
                matched: core::cell::Cell::new(None),
                parsed: core::cell::OnceCell::new(),
            },
        }
    }

    fn cns(&self) -> &[&'a str] {
        if self.has_cn {
            &self.common_names
        } else {
            self.extra_cns
        }
    }

    fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.sans.iter().chain(self.cns().iter()).copied()
    }

    /// Remembers that the certificate matched `connector` (so the restriction checks need not
    /// match it again).
    fn remember_match(&self, connector: &InboundConnector) {
        self.matched.set(Some(core::ptr::from_ref(connector)));
    }

    /// Whether the certificate presents the connector's `tls_sender_certificate_name`
    /// (Exchange dialect: SANs and the CN count).
    fn matches(&self, connector: &InboundConnector) -> bool {
        if self
            .matched
            .get()
            .is_some_and(|seen| core::ptr::eq(seen, connector))
        {
            return true;
        }
        connector
            .tls_sender_certificate_name
            .as_ref()
            .is_some_and(|name| self.presented().iter().any(|p| name.overlaps(p)))
    }

    /// The DNS SANs and common names that read as certificate names, in the Exchange
    /// dialect (where the CN always counts next to the SANs): what
    /// [`match_presented`](crate::names::match_presented) considers, read once per decision
    /// however many connectors are checked.
    fn presented(&self) -> &[NamePattern] {
        self.parsed.get_or_init(|| {
            self.names()
                .filter_map(|name| NamePattern::presented(name, Dialect::ExchangeConnector).ok())
                .collect()
        })
    }
}

/// The common name in a Postfix `{cert_subject}`: the value itself, or the last `CN=` of a
/// distinguished name (`/C=US/O=Fabrikam/CN=mail.fabrikam.com`, `CN=x, O=y`).
fn common_name(subject: &str) -> &str {
    match subject.rfind("CN=") {
        Some(i) => subject
            .get(i + 3..)
            .unwrap_or("")
            .split(['/', ',', '+'])
            .next()
            .unwrap_or("")
            .trim(),
        None => subject.trim(),
    }
}

#[cfg(test)]
mod tests;
