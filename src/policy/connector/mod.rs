//! Exchange-style connectors, read from TOML.
//!
//! Field names mirror Exchange Online's `New-OutboundConnector` / `New-InboundConnector`
//! parameters in snake_case; `examples/connectors.toml` shows every field. Unknown fields are
//! errors, and every validation error names the connector and the field.
//!
//! - Outbound: `tls_settings` absent is opportunistic TLS (the service default);
//!   `encryption_only`, `certificate_validation` and `domain_validation` (with `tls_domain`)
//!   force TLS. They map onto [`Requirement`] ([`TlsSettings::requirement`]), the same model
//!   as the Postfix levels.
//! - Inbound: `partner` and `on_premises` connectors, decided by
//!   [`decide_inbound`](super::inbound::decide_inbound).
//!
//! Domain lists use the Exchange dialect: `*.contoso.com` is `contoso.com` *and* all its
//! subdomains; `*` (outbound `recipient_domains` only) is every domain.

mod cidr;
mod index;

use core::fmt;
use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;

use super::plan::ClientCertificate;
use super::requirement::{AnchorSource, Authentication, Encryption, Requirement};
use crate::names::{Dialect, DnsName, HostId, NamePattern};
pub use cidr::IpNetwork;
pub(crate) use index::DomainIndex;
pub use index::DomainPattern;

/// The longest connector file accepted, in bytes.
pub const MAX_CONNECTOR_FILE: usize = 16 * 1024 * 1024;

/// A validated set of connectors, indexed for lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connectors {
    outbound: Vec<OutboundConnector>,
    inbound: Vec<InboundConnector>,
    recipients: DomainIndex,
    senders: DomainIndex,
    certificate_names: DomainIndex,
}

/// An outbound connector (`New-OutboundConnector`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundConnector {
    /// `name`: unique among all connectors.
    pub name: String,
    /// `recipient_domains`: the destinations the connector applies to.
    pub recipient_domains: Vec<DomainPattern>,
    /// `tls_settings`; `None` is opportunistic TLS.
    pub tls_settings: Option<TlsSettings>,
    /// `tls_domain`: the name the certificate must match under `domain_validation`
    /// (Exchange dialect). `None` with `domain_validation` means the recipient domain.
    pub tls_domain: Option<NamePattern>,
    /// `smart_hosts`: route through these hosts instead of the MX hosts.
    pub smart_hosts: Vec<HostId>,
    /// `client_certificate`: a certificate the local server presents (hybrid).
    pub client_certificate: Option<ClientCertificate>,
}

/// Exchange `TlsSettings` of an outbound connector.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsSettings {
    /// `CertificateValidation`: TLS with a chain to a trusted root, no name check.
    CertificateValidation,
    /// `DomainValidation`: chain and a certificate name matching `tls_domain`.
    DomainValidation,
    /// `EncryptionOnly`: TLS, no certificate check.
    EncryptionOnly,
}

impl TlsSettings {
    /// The snake_case name as written in the file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CertificateValidation => "certificate_validation",
            Self::DomainValidation => "domain_validation",
            Self::EncryptionOnly => "encryption_only",
        }
    }

    /// The requirement of these settings (`None`: opportunistic). `domain` is the reference
    /// identifier for `domain_validation` (the `tls_domain`, or the recipient domain).
    pub fn requirement(settings: Option<Self>, domain: Option<NamePattern>) -> Requirement {
        match settings {
            None => Requirement::opportunistic(),
            Some(Self::EncryptionOnly) => {
                Requirement::new(Encryption::Required, Authentication::None)
            }
            Some(Self::CertificateValidation) => Requirement::new(
                Encryption::Required,
                Authentication::Chain(AnchorSource::Public),
            ),
            Some(Self::DomainValidation) => Requirement::new(
                Encryption::Required,
                Authentication::ChainAndName {
                    trust: AnchorSource::Public,
                    reference_ids: domain.into_iter().collect(),
                },
            ),
        }
    }
}

impl fmt::Display for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inbound connector (`New-InboundConnector`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundConnector {
    /// `name`: unique among all connectors.
    pub name: String,
    /// `connector_type`.
    pub connector_type: ConnectorType,
    /// `sender_domains` (`*.x` is x and all its subdomains).
    pub sender_domains: Vec<DomainPattern>,
    /// `sender_ip_addresses`: IPv4 and IPv6 networks.
    pub sender_ip_addresses: Vec<IpNetwork>,
    /// `restrict_domains_to_ip_addresses`: mail from `sender_domains` only from these
    /// addresses.
    pub restrict_domains_to_ip_addresses: bool,
    /// `require_tls` (default false).
    pub require_tls: bool,
    /// `tls_sender_certificate_name`: the name the partner's certificate must present
    /// (Exchange dialect).
    pub tls_sender_certificate_name: Option<NamePattern>,
    /// `restrict_domains_to_certificate`: mail from `sender_domains` only with a certificate
    /// matching `tls_sender_certificate_name` (partner connectors only).
    pub restrict_domains_to_certificate: bool,
}

/// Exchange `ConnectorType` of an inbound connector.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorType {
    /// The organisation's own servers (hybrid).
    OnPremises,
    /// A partner organisation.
    Partner,
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OnPremises => "on_premises",
            Self::Partner => "partner",
        })
    }
}

/// A connector file that is not valid.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The file is larger than [`MAX_CONNECTOR_FILE`].
    #[error("connector file is {len} bytes, the limit is {max}")]
    TooLarge {
        /// The file's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The TOML does not parse or does not fit the schema (unknown field, wrong type).
    #[error("connector file line {line}, column {column}: {message}")]
    Syntax {
        /// The line (1-based; 0 when unknown).
        line: u32,
        /// The column (1-based; 0 when unknown).
        column: u32,
        /// What the TOML reader said.
        message: String,
    },
    /// A field of a connector has an invalid value.
    #[error("{direction} connector {connector:?}, field {field}: {reason}")]
    Invalid {
        /// `outbound` or `inbound`.
        direction: &'static str,
        /// The connector's name (or `#n` when the name itself is missing).
        connector: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Connectors {
    /// Reads and validates a connector file.
    pub fn from_toml(text: &str) -> Result<Self, ConnectorError> {
        if text.len() > MAX_CONNECTOR_FILE {
            return Err(ConnectorError::TooLarge {
                len: text.len(),
                max: MAX_CONNECTOR_FILE,
            });
        }
        let raw: RawFile = toml::from_str(text).map_err(|err| {
            let (line, column) = err
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((0, 0));
            ConnectorError::Syntax {
                line,
                column,
                message: err.message().to_owned(),
            }
        })?;
        let mut connectors = Self::default();
        let mut names: HashSet<String> = HashSet::new();
        for (i, raw) in raw.outbound.into_iter().enumerate() {
            let connector = raw.validate(i, &mut names)?;
            let position = connectors.outbound.len();
            for pattern in &connector.recipient_domains {
                if let Some(first) = connectors.recipients.insert(pattern, position) {
                    return Err(invalid(
                        "outbound",
                        &connector.name,
                        "recipient_domains",
                        format!(
                            "{pattern} is already claimed by outbound connector {:?}",
                            connectors
                                .outbound
                                .get(first)
                                .map_or("", |c| c.name.as_str())
                        ),
                    ));
                }
            }
            connectors.outbound.push(connector);
        }
        for (i, raw) in raw.inbound.into_iter().enumerate() {
            let connector = raw.validate(i, &mut names)?;
            let position = connectors.inbound.len();
            for pattern in &connector.sender_domains {
                if let Some(first) = connectors.senders.insert(pattern, position) {
                    return Err(invalid(
                        "inbound",
                        &connector.name,
                        "sender_domains",
                        format!(
                            "{pattern} is already claimed by inbound connector {:?}",
                            connectors
                                .inbound
                                .get(first)
                                .map_or("", |c| c.name.as_str())
                        ),
                    ));
                }
            }
            if let Some(name) = &connector.tls_sender_certificate_name {
                let pattern = DomainPattern::Pattern(name.clone());
                if let Some(first) = connectors.certificate_names.insert(&pattern, position) {
                    return Err(invalid(
                        "inbound",
                        &connector.name,
                        "tls_sender_certificate_name",
                        format!(
                            "{name} is already the certificate name of inbound connector {:?}",
                            connectors
                                .inbound
                                .get(first)
                                .map_or("", |c| c.name.as_str())
                        ),
                    ));
                }
            }
            connectors.inbound.push(connector);
        }
        Ok(connectors)
    }

    /// The outbound connectors, in file order.
    pub fn outbound(&self) -> &[OutboundConnector] {
        &self.outbound
    }

    /// The inbound connectors, in file order.
    pub fn inbound(&self) -> &[InboundConnector] {
        &self.inbound
    }

    /// The outbound connector for a recipient domain, most specific pattern first, with the
    /// pattern that matched.
    pub fn outbound_for(&self, domain: &DnsName) -> Option<(&OutboundConnector, &DomainPattern)> {
        let hit = self.recipients.lookup(domain.as_str()).next()?;
        let connector = self.outbound.get(hit.connector)?;
        let pattern = connector
            .recipient_domains
            .iter()
            .find(|p| p.matches(domain))?;
        Some((connector, pattern))
    }

    /// Inbound connectors whose `sender_domains` cover `domain`, most specific first.
    pub(crate) fn inbound_by_sender<'a, 'n>(
        &'a self,
        domain: &'n str,
    ) -> impl Iterator<Item = &'a InboundConnector> + use<'a, 'n> {
        self.senders
            .lookup(domain)
            .filter_map(|hit| self.inbound.get(hit.connector))
    }

    /// Inbound connectors whose `tls_sender_certificate_name` covers `name`, most specific
    /// first (candidates: the caller confirms with the certificate rules).
    pub(crate) fn inbound_by_certificate_name<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a InboundConnector> + use<'a, 'n> {
        self.certificate_names
            .lookup(name)
            .filter_map(|hit| self.inbound.get(hit.connector))
    }
}

fn invalid(
    direction: &'static str,
    connector: &str,
    field: &'static str,
    reason: String,
) -> ConnectorError {
    ConnectorError::Invalid {
        direction,
        connector: connector.to_owned(),
        field,
        reason,
    }
}

fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    outbound: Vec<RawOutbound>,
    #[serde(default)]
    inbound: Vec<RawInbound>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    name: Option<String>,
    #[serde(default)]
    recipient_domains: Vec<String>,
    tls_settings: Option<TlsSettings>,
    tls_domain: Option<String>,
    #[serde(default)]
    smart_hosts: Vec<String>,
    client_certificate: Option<RawClientCertificate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientCertificate {
    certificate_chain: PathBuf,
    private_key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbound {
    name: Option<String>,
    connector_type: Option<ConnectorType>,
    #[serde(default)]
    sender_domains: Vec<String>,
    #[serde(default)]
    sender_ip_addresses: Vec<String>,
    #[serde(default)]
    restrict_domains_to_ip_addresses: bool,
    #[serde(default)]
    require_tls: bool,
    tls_sender_certificate_name: Option<String>,
    #[serde(default)]
    restrict_domains_to_certificate: bool,
}

fn validate_name(
    direction: &'static str,
    index: usize,
    name: Option<String>,
    names: &mut HashSet<String>,
) -> Result<String, ConnectorError> {
    let placeholder = format!("#{}", index + 1);
    let name = name.ok_or_else(|| invalid(direction, &placeholder, "name", "missing".into()))?;
    if name.trim().is_empty() {
        return Err(invalid(direction, &placeholder, "name", "empty".into()));
    }
    if !names.insert(name.clone()) {
        return Err(invalid(
            direction,
            &name,
            "name",
            "another connector has the same name".into(),
        ));
    }
    Ok(name)
}

fn domain_list(
    direction: &'static str,
    connector: &str,
    field: &'static str,
    items: &[String],
    allow_all: bool,
) -> Result<Vec<DomainPattern>, ConnectorError> {
    items
        .iter()
        .map(|item| {
            let pattern = DomainPattern::parse(item)
                .map_err(|e| invalid(direction, connector, field, format!("{item:?}: {e}")))?;
            if pattern == DomainPattern::All && !allow_all {
                return Err(invalid(
                    direction,
                    connector,
                    field,
                    "`*` (every domain) is not allowed here".into(),
                ));
            }
            Ok(pattern)
        })
        .collect()
}

impl RawOutbound {
    fn validate(
        self,
        index: usize,
        names: &mut HashSet<String>,
    ) -> Result<OutboundConnector, ConnectorError> {
        const D: &str = "outbound";
        let name = validate_name(D, index, self.name, names)?;
        if self.recipient_domains.is_empty() {
            return Err(invalid(
                D,
                &name,
                "recipient_domains",
                "at least one domain is needed".into(),
            ));
        }
        let recipient_domains =
            domain_list(D, &name, "recipient_domains", &self.recipient_domains, true)?;
        let tls_domain = match (&self.tls_domain, self.tls_settings) {
            (None, _) => None,
            (Some(domain), Some(TlsSettings::DomainValidation)) => Some(
                NamePattern::parse(domain, Dialect::ExchangeConnector)
                    .map_err(|e| invalid(D, &name, "tls_domain", e.to_string()))?,
            ),
            (Some(_), _) => {
                return Err(invalid(
                    D,
                    &name,
                    "tls_domain",
                    "applies only with tls_settings = \"domain_validation\"".into(),
                ))
            }
        };
        let smart_hosts = self
            .smart_hosts
            .iter()
            .map(|host| {
                HostId::parse(host)
                    .map_err(|e| invalid(D, &name, "smart_hosts", format!("{host:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client_certificate = match self.client_certificate {
            None => None,
            Some(raw) => {
                for (field, path) in [
                    (
                        "client_certificate.certificate_chain",
                        &raw.certificate_chain,
                    ),
                    ("client_certificate.private_key", &raw.private_key),
                ] {
                    if path.as_os_str().is_empty() {
                        return Err(invalid(D, &name, field, "empty path".into()));
                    }
                }
                Some(ClientCertificate::new(
                    raw.certificate_chain,
                    raw.private_key,
                ))
            }
        };
        Ok(OutboundConnector {
            name,
            recipient_domains,
            tls_settings: self.tls_settings,
            tls_domain,
            smart_hosts,
            client_certificate,
        })
    }
}

impl RawInbound {
    fn validate(
        self,
        index: usize,
        names: &mut HashSet<String>,
    ) -> Result<InboundConnector, ConnectorError> {
        const D: &str = "inbound";
        let name = validate_name(D, index, self.name, names)?;
        let connector_type = self.connector_type.ok_or_else(|| {
            invalid(
                D,
                &name,
                "connector_type",
                "missing (partner or on_premises)".into(),
            )
        })?;
        let sender_domains = domain_list(D, &name, "sender_domains", &self.sender_domains, false)?;
        if connector_type == ConnectorType::Partner && sender_domains.is_empty() {
            return Err(invalid(
                D,
                &name,
                "sender_domains",
                "a partner connector needs at least one sender domain".into(),
            ));
        }
        let sender_ip_addresses = self
            .sender_ip_addresses
            .iter()
            .map(|net| {
                net.parse::<IpNetwork>().map_err(|reason| {
                    invalid(
                        D,
                        &name,
                        "sender_ip_addresses",
                        format!("{net:?}: {reason}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.restrict_domains_to_ip_addresses && sender_ip_addresses.is_empty() {
            return Err(invalid(
                D,
                &name,
                "restrict_domains_to_ip_addresses",
                "needs sender_ip_addresses".into(),
            ));
        }
        let tls_sender_certificate_name = self
            .tls_sender_certificate_name
            .as_deref()
            .map(|text| {
                NamePattern::parse(text, Dialect::ExchangeConnector)
                    .map_err(|e| invalid(D, &name, "tls_sender_certificate_name", e.to_string()))
            })
            .transpose()?;
        if self.restrict_domains_to_certificate {
            if connector_type != ConnectorType::Partner {
                return Err(invalid(
                    D,
                    &name,
                    "restrict_domains_to_certificate",
                    "applies only to partner connectors".into(),
                ));
            }
            if tls_sender_certificate_name.is_none() {
                return Err(invalid(
                    D,
                    &name,
                    "restrict_domains_to_certificate",
                    "needs tls_sender_certificate_name".into(),
                ));
            }
        }
        if connector_type == ConnectorType::OnPremises
            && sender_ip_addresses.is_empty()
            && tls_sender_certificate_name.is_none()
        {
            return Err(invalid(
                D,
                &name,
                "connector_type",
                "an on_premises connector needs sender_ip_addresses or tls_sender_certificate_name to recognise its servers".into(),
            ));
        }
        Ok(InboundConnector {
            name,
            connector_type,
            sender_domains,
            sender_ip_addresses,
            restrict_domains_to_ip_addresses: self.restrict_domains_to_ip_addresses,
            require_tls: self.require_tls,
            tls_sender_certificate_name,
            restrict_domains_to_certificate: self.restrict_domains_to_certificate,
        })
    }
}

#[cfg(test)]
mod tests;
