//! The outbound planner: configuration plus destination in, [`Plan`] with its trace out.
//!
//! Sources, most specific first (the first that matches decides, the trace says which):
//! 1. an outbound connector whose `recipient_domains` cover the next-hop domain;
//! 2. a Postfix policy-table entry for the next hop (or a `.parent` domain);
//! 3. the default level (Postfix `smtp_tls_security_level`; mailtls defaults to `may`).

use super::connector::{Connectors, DomainPattern, OutboundConnector, TlsSettings};
use super::destination::{Destination, NameResolver, NameSource, SniStrategy};
use super::explain::{Rule, Trace};
use super::plan::{self, FailureAction, HostPlan, Plan, PolicySource};
use super::postfix::{PolicyTable, TableHit};
use super::protocol::ProtocolPolicy;
use super::requirement::{AnchorSource, Authentication, Level, Requirement};
use crate::names::{Dialect, DnsName, HostId, NamePattern};

/// The outbound configuration: default level, SNI strategy, and the optional sources.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// The level when nothing more specific matches (default `may`).
    pub default_level: Level,
    /// How SNI is chosen when the source does not say (default: the host name).
    pub sni: SniStrategy,
    /// A Postfix `smtp_tls_policy_maps` table.
    pub table: Option<PolicyTable>,
    /// Exchange-style connectors (only the outbound ones matter here).
    pub connectors: Option<Connectors>,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            default_level: Level::May,
            sni: SniStrategy::Hostname,
            table: None,
            connectors: None,
        }
    }
}

impl OutboundPolicy {
    /// The product default: opportunistic TLS (`may`), SNI = host name.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same policy with another default level.
    #[must_use]
    pub fn with_default_level(mut self, level: Level) -> Self {
        self.default_level = level;
        self
    }

    /// The same policy with a Postfix policy table.
    #[must_use]
    pub fn with_table(mut self, table: PolicyTable) -> Self {
        self.table = Some(table);
        self
    }

    /// The same policy with connectors.
    #[must_use]
    pub fn with_connectors(mut self, connectors: Connectors) -> Self {
        self.connectors = Some(connectors);
        self
    }

    /// Plans `destination`: see [`explain`].
    pub fn plan(&self, destination: &Destination) -> Plan {
        explain(self, destination)
    }
}

/// Plans `destination` under `policy`: per candidate host the effective requirement, what to
/// verify, the SNI, the protocols, the ladder and the failure action, and the trace of every
/// rule that fired.
///
/// ```
/// use mailtls::policy::{explain, Destination, Level, OutboundPolicy};
/// use mailtls::policy::ladder::Rung;
///
/// let policy = OutboundPolicy::new().with_default_level(Level::Secure);
/// let destination = Destination::domain("example.com", ["mx1.example.com", "mx2.example.com"])?;
/// let plan = explain(&policy, &destination);
///
/// let first = &plan.hosts[0];
/// assert!(first.requirement.requires_tls());
/// let names: Vec<String> = first.requirement.authentication.reference_ids().iter()
///     .map(|id| id.to_string()).collect();
/// assert_eq!(names, ["example.com", ".example.com"]);
/// assert_eq!(first.floor(), Some(Rung::Tls12Conservative)); // never plaintext
/// println!("{plan}");
/// # Ok::<(), mailtls::policy::DestinationError>(())
/// ```
pub fn explain(policy: &OutboundPolicy, destination: &Destination) -> Plan {
    let mut trace = Trace::with_capacity(8);
    if let (Some(connectors), Some(domain)) = (&policy.connectors, destination.next_hop_name()) {
        if let Some((connector, pattern)) = connectors.outbound_for(domain) {
            return from_connector(policy, destination, domain, connector, pattern, trace);
        }
    }
    if let Some(table) = &policy.table {
        if let Some(hit) = table.lookup(destination) {
            return from_table(policy, destination, hit, trace);
        }
        trace.push(Rule::TableMiss {
            key: destination.lookup_key().to_owned(),
            tried: PolicyTable::lookup_keys(destination).count(),
        });
    }
    trace.push(Rule::DefaultLevel {
        level: policy.default_level,
    });
    let site = SitePolicy::for_level(policy.default_level, &policy.sni);
    build(destination, PolicySource::Default, &site, trace)
}

fn from_connector(
    policy: &OutboundPolicy,
    destination: &Destination,
    domain: &DnsName,
    connector: &OutboundConnector,
    pattern: &DomainPattern,
    mut trace: Trace,
) -> Plan {
    trace.push(Rule::ConnectorMatched {
        connector: connector.name.clone(),
        pattern: pattern.to_string(),
    });
    let tls_domain = match (connector.tls_settings, &connector.tls_domain) {
        (Some(TlsSettings::DomainValidation), None) => {
            trace.push(Rule::DomainValidationDefault {
                connector: connector.name.clone(),
                domain: domain.to_string(),
            });
            Some(NamePattern::exact(
                domain.clone(),
                Dialect::ExchangeConnector,
            ))
        }
        (_, tls_domain) => tls_domain.clone(),
    };
    let requirement = TlsSettings::requirement(connector.tls_settings, tls_domain);
    trace.push(Rule::ConnectorTlsSettings {
        connector: connector.name.clone(),
        settings: connector
            .tls_settings
            .map_or("opportunistic", TlsSettings::as_str),
        requirement: requirement.clone(),
    });
    let hosts = (!connector.smart_hosts.is_empty()).then(|| {
        trace.push(Rule::SmartHosts {
            connector: connector.name.clone(),
            count: connector.smart_hosts.len(),
        });
        connector.smart_hosts.as_slice()
    });
    if connector.client_certificate.is_some() {
        trace.push(Rule::ClientCertificate {
            connector: connector.name.clone(),
        });
    }
    let site = SitePolicy {
        requirement,
        names: &[],
        dialect: Dialect::ExchangeConnector,
        protocols: ProtocolPolicy::MODERN,
        sni: &policy.sni,
        connection_reuse: false,
        client_certificate: connector.client_certificate.as_ref(),
        hosts,
        level: None,
    };
    build(
        destination,
        PolicySource::Connector(connector.name.clone()),
        &site,
        trace,
    )
}

fn from_table(
    policy: &OutboundPolicy,
    destination: &Destination,
    hit: TableHit<'_>,
    mut trace: Trace,
) -> Plan {
    let entry = hit.entry;
    trace.push(Rule::TableEntry {
        key: hit.key.to_owned(),
        line: entry.line,
        level: entry.level,
    });
    for warning in &entry.warnings {
        trace.push(Rule::Warning {
            line: Some(warning.line),
            message: warning.message.clone(),
        });
    }
    if let AnchorSource::Files(files) = &entry.trust {
        trace.push(Rule::TrustAnchorFiles { count: files.len() });
    }
    let names = if entry.names.is_empty() {
        default_names(entry.level)
    } else {
        &entry.names
    };
    let site = SitePolicy {
        requirement: entry
            .level
            .requirement(Vec::new(), entry.pins.clone(), entry.trust.clone()),
        names,
        dialect: default_dialect(entry.level),
        protocols: entry.protocols,
        sni: entry.servername.as_ref().unwrap_or(&policy.sni),
        connection_reuse: entry.connection_reuse,
        client_certificate: None,
        hosts: None,
        level: Some(entry.level),
    };
    let source = PolicySource::PostfixTable {
        key: hit.key.to_owned(),
        line: entry.line,
    };
    build(destination, source, &site, trace)
}

/// The static policy for one destination, before per-host names are resolved.
pub(crate) struct SitePolicy<'a> {
    /// The requirement with its names still empty (filled per host from `names`).
    pub(crate) requirement: Requirement,
    /// Where the reference identifiers come from.
    pub(crate) names: &'a [NameSource],
    /// The dialect derived names are read in.
    pub(crate) dialect: Dialect,
    /// The allowed protocols.
    pub(crate) protocols: ProtocolPolicy,
    /// How SNI is chosen.
    pub(crate) sni: &'a SniStrategy,
    /// Postfix `connection_reuse=`.
    pub(crate) connection_reuse: bool,
    /// A client certificate to present.
    pub(crate) client_certificate: Option<&'a plan::ClientCertificate>,
    /// Hosts that replace the destination's candidates (connector smart hosts).
    pub(crate) hosts: Option<&'a [HostId]>,
    /// The Postfix level the configuration named, if it named one.
    pub(crate) level: Option<Level>,
}

const VERIFY_NAMES: &[NameSource] = &[NameSource::Hostname];
const SECURE_NAMES: &[NameSource] = &[NameSource::NextHop, NameSource::DotNextHop];
const DANE_NAMES: &[NameSource] = &[NameSource::NextHop, NameSource::Hostname];

impl<'a> SitePolicy<'a> {
    /// A level with its Postfix default name strategies and the public roots.
    pub(crate) fn for_level(level: Level, sni: &'a SniStrategy) -> Self {
        Self {
            requirement: level.requirement(Vec::new(), Vec::new(), AnchorSource::Public),
            names: default_names(level),
            dialect: default_dialect(level),
            protocols: ProtocolPolicy::MODERN,
            sni,
            connection_reuse: false,
            client_certificate: None,
            hosts: None,
            level: Some(level),
        }
    }
}

/// The Postfix default `match=` strategies of a level (`smtp_tls_verify_cert_match`,
/// `smtp_tls_secure_cert_match`, and the fixed DANE-TA `nexthop, hostname`).
pub(crate) const fn default_names(level: Level) -> &'static [NameSource] {
    match level {
        Level::Verify => VERIFY_NAMES,
        Level::Secure => SECURE_NAMES,
        Level::Dane | Level::DaneOnly => DANE_NAMES,
        _ => &[],
    }
}

/// The dialect of the names a level derives: DANE-TA for the DANE levels, else Postfix.
pub(crate) const fn default_dialect(level: Level) -> Dialect {
    match level {
        Level::Dane | Level::DaneOnly => Dialect::DaneTa,
        _ => Dialect::PostfixMatch,
    }
}

/// Builds the plan from a site policy.
pub(crate) fn build(
    destination: &Destination,
    source: PolicySource,
    site: &SitePolicy<'_>,
    mut trace: Trace,
) -> Plan {
    if !site.names.is_empty() && needs_names(&site.requirement) {
        trace.push(Rule::NameSources {
            sources: site.names.to_vec(),
        });
    }
    if !matches!(site.sni, SniStrategy::Hostname) {
        trace.push(Rule::ServerName {
            strategy: site.sni.clone(),
        });
    }
    if site.protocols != ProtocolPolicy::MODERN {
        trace.push(Rule::Protocols {
            policy: site.protocols,
        });
    }
    if site.connection_reuse {
        trace.push(Rule::ConnectionReuse);
    }
    let hosts = site.hosts.unwrap_or(destination.hosts());
    let mut plans = Vec::with_capacity(hosts.len());
    let resolver = needs_names(&site.requirement)
        .then(|| NameResolver::new(site.names, destination, site.dialect));
    for host in hosts {
        let mut requirement = site.requirement.clone();
        if let Some(resolver) = &resolver {
            let ids = resolver.for_host(host);
            set_names(&mut requirement, ids);
            if plan::lacks_names(&requirement) {
                trace.push(Rule::Warning {
                    line: None,
                    message: format!(
                        "no certificate name can be derived for host {host}: it cannot be verified"
                    ),
                });
            }
        }
        plans.push(HostPlan {
            host: host.clone(),
            port: destination.port(),
            requirement,
            sni: site.sni.resolve(host, destination),
            protocols: site.protocols,
            client_certificate: site.client_certificate.cloned(),
            connection_reuse: site.connection_reuse,
            // Set by `plan::finish` from the host's position.
            on_failure: FailureAction::NextHost,
            level: site.level,
        });
    }
    plan::finish(destination.clone(), source, plans, trace)
}

fn needs_names(requirement: &Requirement) -> bool {
    matches!(
        requirement.authentication,
        Authentication::ChainAndName { .. } | Authentication::Dane(_)
    )
}

fn set_names(requirement: &mut Requirement, ids: Vec<NamePattern>) {
    match &mut requirement.authentication {
        Authentication::ChainAndName { reference_ids, .. } => {
            // Keep fixed patterns already present (Exchange TlsDomain), add derived names.
            for id in ids {
                if !reference_ids.contains(&id) {
                    reference_ids.push(id);
                }
            }
        }
        Authentication::Dane(dane) => dane.reference_ids = ids,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ladder::Rung;

    fn names(plan: &HostPlan) -> Vec<String> {
        plan.requirement
            .authentication
            .reference_ids()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn default_levels_plan_per_host() {
        let dest =
            Destination::domain("example.com", ["mx1.example.net", "mx2.example.net"]).unwrap();
        let table: [(Level, &[&str], Option<Rung>); 5] = [
            (Level::May, &[], Some(Rung::Plaintext)),
            (Level::Encrypt, &[], Some(Rung::Tls12Conservative)),
            (
                Level::Verify,
                &["mx1.example.net"],
                Some(Rung::Tls12Conservative),
            ),
            (
                Level::Secure,
                &["example.com", ".example.com"],
                Some(Rung::Tls12Conservative),
            ),
            (
                Level::DaneOnly,
                &["example.com", "mx1.example.net"],
                Some(Rung::Tls12Conservative),
            ),
        ];
        for (level, expected_names, floor) in table {
            let plan = explain(&OutboundPolicy::new().with_default_level(level), &dest);
            assert_eq!(plan.source, PolicySource::Default);
            assert_eq!(plan.hosts.len(), 2);
            let first = plan.hosts.first().unwrap();
            assert_eq!(names(first), expected_names, "{level}");
            assert_eq!(first.floor(), floor, "{level}");
            assert_eq!(first.on_failure, FailureAction::NextHost);
            assert!(matches!(
                plan.hosts.last().unwrap().on_failure,
                FailureAction::Defer(_)
            ));
            assert_eq!(
                first.sni.as_ref().map(|n| n.as_str()),
                Some("mx1.example.net")
            );
            assert_eq!(
                plan.trace.steps().first(),
                Some(&Rule::DefaultLevel { level })
            );
        }
    }

    #[test]
    fn bracketed_next_hop_secure_checks_the_host() {
        let dest = Destination::parse("[relay.example.com]:587").unwrap();
        let plan = explain(
            &OutboundPolicy::new().with_default_level(Level::Secure),
            &dest,
        );
        let host = plan.hosts.first().unwrap();
        assert_eq!(host.port, 587);
        assert_eq!(names(host), ["relay.example.com", ".relay.example.com"]);
    }

    #[test]
    fn table_entries_decide_per_next_hop() {
        let table = PolicyTable::parse(
            "example.net secure\n\
             .example.net verify match=hostname:.example.net servername=nexthop protocols=>=TLSv1.3\n\
             [relay.example.org]:587 encrypt tafile=/ta.pem\n",
        )
        .unwrap();
        let policy = OutboundPolicy::new().with_table(table);

        let dest = Destination::domain("mail.example.net", ["mx.example.org"]).unwrap();
        let plan = explain(&policy, &dest);
        assert_eq!(
            plan.source,
            PolicySource::PostfixTable {
                key: ".example.net".into(),
                line: 2
            }
        );
        let host = plan.hosts.first().unwrap();
        assert_eq!(names(host), ["mx.example.org", ".example.net"]);
        assert_eq!(
            host.sni.as_ref().map(|n| n.as_str()),
            Some("mail.example.net")
        );
        assert_eq!(host.ladder().iter().collect::<Vec<_>>(), [Rung::Modern]);

        // An attribute the level ignores is in the trace as a warning.
        let dest = Destination::parse("[relay.example.org]:587").unwrap();
        let plan = explain(&policy, &dest);
        assert!(plan
            .trace
            .steps()
            .iter()
            .any(|r| matches!(r, Rule::Warning { line: Some(3), .. })));

        let dest = Destination::domain("other.example", ["mx.other.example"]).unwrap();
        let plan = explain(&policy, &dest);
        assert_eq!(plan.source, PolicySource::Default);
        assert_eq!(
            plan.trace.steps().first(),
            Some(&Rule::TableMiss {
                key: "other.example".into(),
                tried: 2
            })
        );
    }

    #[test]
    fn connectors_come_first_and_map_exchange_settings() {
        let connectors =
            Connectors::from_toml(include_str!("../../examples/connectors.toml")).unwrap();
        let table = PolicyTable::parse("contoso.com encrypt\n").unwrap();
        let policy = OutboundPolicy::new()
            .with_table(table)
            .with_connectors(connectors);

        let dest = Destination::domain("contoso.com", ["mx.contoso.com"]).unwrap();
        let plan = explain(&policy, &dest);
        assert_eq!(
            plan.source,
            PolicySource::Connector("Contoso (forced TLS, domain validation)".into())
        );
        let host = plan.hosts.first().unwrap();
        assert_eq!(names(host), ["*.contoso.com"]);
        assert!(!host.ladder().contains(Rung::Plaintext));
        assert_eq!(
            host.requirement.authentication.reference_ids()[0].dialect(),
            Dialect::ExchangeConnector
        );

        let dest = Destination::domain("fabrikam.com", ["mx.fabrikam.com"]).unwrap();
        let plan = explain(&policy, &dest);
        let hosts: Vec<String> = plan.hosts.iter().map(|h| h.host.to_string()).collect();
        assert_eq!(hosts, ["relay1.fabrikam.com", "192.0.2.25"]);
        assert_eq!(plan.hosts[1].sni, None);
        assert_eq!(plan.hosts[0].requirement.level(), Level::Encrypt);

        let dest = Destination::domain("onprem.example.org", ["mx.example.org"]).unwrap();
        let plan = explain(&policy, &dest);
        assert!(plan.hosts[0].client_certificate.is_some());
        assert!(plan
            .trace
            .steps()
            .iter()
            .any(|r| matches!(r, Rule::ClientCertificate { .. })));

        // Not covered by a connector: the table, then the default.
        let dest = Destination::domain("other.example", ["mx.other.example"]).unwrap();
        assert_eq!(explain(&policy, &dest).source, PolicySource::Default);
    }

    #[test]
    fn domain_validation_without_tls_domain_uses_the_recipient_domain() {
        let connectors = Connectors::from_toml(
            "[[outbound]]\nname = \"dv\"\nrecipient_domains = [\"*.example.com\"]\ntls_settings = \"domain_validation\"\n",
        )
        .unwrap();
        let policy = OutboundPolicy::new().with_connectors(connectors);
        let dest = Destination::domain("eu.example.com", ["mx.example.net"]).unwrap();
        let plan = explain(&policy, &dest);
        assert_eq!(names(&plan.hosts[0]), ["eu.example.com"]);
        assert!(plan.trace.steps().iter().any(|r| matches!(
            r,
            Rule::DomainValidationDefault { domain, .. } if domain == "eu.example.com"
        )));
    }

    #[test]
    fn no_hosts_says_so() {
        let dest = Destination::parse("example.com").unwrap();
        let plan = explain(&OutboundPolicy::new(), &dest);
        assert!(plan.hosts.is_empty());
        assert_eq!(plan.trace.steps().last(), Some(&Rule::NoCandidateHosts));
    }
}
