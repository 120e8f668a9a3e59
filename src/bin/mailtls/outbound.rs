//! What `probe` and `send` share: the policy flags, the plan, the delivery, the verdict and
//! its JSON.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailtls::cert::TrustAnchors;
use mailtls::client::{AttemptRecord, ClientSettings, Delivery, DeliveryOutcome};
use mailtls::io::{
    blocking, load_trust_anchors, needs_public_roots, verifiers_for, Connector, DeliveryReport,
    Message, PublicRoots,
};
use mailtls::names::DnsName;
use mailtls::policy::connector::Connectors;
use mailtls::policy::dane::{DnssecStatus, TlsaSet};
use mailtls::policy::discovery::DiscoveryAnswers;
use mailtls::policy::mta_sts::{StsLookup, StsPolicy};
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::precedence::{self, HostTlsa, PrecedenceInputs};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{
    explain, AnchorSource, Authentication, Decision, Destination, OutboundPolicy, Plan, Status,
    TestingPolicy,
};
use mailtls::state::Store;

use crate::common::{
    load_identity, quoted, read_config, summarize, summary_of, CertSummary, Failure,
};
use crate::discovery::{discover, domain_target, DiscoveryJson, DnsArgs};

/// The discovery answers the caller gives by hand (no DNS, no HTTPS in this command):
/// TLSA records and an MTA-STS policy. `explain`, `probe` and `send` take the same ones, so
/// `explain` prints exactly the decision `send` acts on.
#[derive(Debug, Default, clap::Args)]
pub struct DiscoveryArgs {
    /// A DNSSEC-validated TLSA record, `[HOST=]USAGE SELECTOR MTYPE HEX` (repeatable).
    /// Without `HOST=` it is the record of every candidate host. The MX RRset is then taken
    /// as DNSSEC-secure.
    #[arg(long, value_name = "[HOST=]RECORD")]
    pub tlsa: Vec<String>,
    /// The destination's MTA-STS policy file (the text served at
    /// `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`); its `mode` says enforce or testing.
    #[arg(long, value_name = "FILE")]
    pub sts_policy: Option<PathBuf>,
}

/// The decision for `plan` with the discovery answers given on the command line: the one
/// path `explain`, `probe` and `send` share.
pub fn decide(plan: Plan, discovery: &DiscoveryArgs) -> Result<Decision, Failure> {
    let sts = match &discovery.sts_policy {
        Some(path) => {
            let text = read_config(path, "MTA-STS policy")?;
            Some(
                StsPolicy::parse(text.as_bytes())
                    .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    decide_with(plan, &discovery.tlsa, sts)
}

/// [`decide`] with the answers in hand: `tlsa` as `--tlsa` takes them (`[HOST=]RECORD`),
/// `sts` the domain's MTA-STS policy.
pub fn decide_with(
    plan: Plan,
    tlsa: &[String],
    sts: Option<StsPolicy>,
) -> Result<Decision, Failure> {
    if tlsa.is_empty() && sts.is_none() {
        return Ok(Decision::from_plan(plan));
    }
    let sts = sts.map(|policy| StsLookup::Policy {
        policy,
        from_cache: false,
        refresh_error: None,
    });
    let candidates: Vec<DnsName> = plan
        .hosts
        .iter()
        .filter_map(|h| DnsName::parse(&h.host.to_string()).ok())
        .collect();
    let mut records: Vec<(DnsName, Vec<String>)> = Vec::new();
    for arg in tlsa {
        let (hosts, record) = match arg.split_once('=') {
            Some((host, record)) => {
                let host = DnsName::parse(host)
                    .map_err(|e| Failure::usage(format!("--tlsa {}: host: {e}", quoted(arg))))?;
                (vec![host], record)
            }
            None => (candidates.clone(), arg.as_str()),
        };
        for host in hosts {
            match records.iter_mut().find(|(h, _)| *h == host) {
                Some((_, list)) => list.push(record.to_owned()),
                None => records.push((host, vec![record.to_owned()])),
            }
        }
    }
    let sets: Vec<(DnsName, TlsaSet)> = records
        .into_iter()
        .map(|(host, texts)| {
            let set = TlsaSet::from_presentation(texts.iter().map(String::as_str));
            (host, set)
        })
        .collect();
    for (host, set) in &sets {
        for unusable in set.unusable() {
            errln!(
                "mailtls: --tlsa for {host}: unusable record {}: {}",
                quoted(&unusable.presented),
                unusable.reason
            );
        }
    }
    let dane: Vec<HostTlsa<'_>> = sets
        .iter()
        .map(|(host, set)| HostTlsa {
            host,
            address_status: DnssecStatus::Secure,
            tlsa_status: DnssecStatus::Secure,
            tlsa: set,
            tlsa_base_domain: host,
        })
        .collect();
    let inputs = PrecedenceInputs {
        message: MessageTls::default(),
        mx_status: if dane.is_empty() {
            DnssecStatus::Insecure
        } else {
            DnssecStatus::Secure
        },
        sts: sts.as_ref(),
        dane: &dane,
    };
    Ok(precedence::apply(plan, &inputs))
}

/// The policy flags of `probe` and `send`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// A Postfix policy-table value for this next hop, e.g. `secure match=mx.partner.test`
    /// or `fingerprint match=AB:CD:...` (default: the level `may`).
    #[arg(long, value_name = "VALUE")]
    pub policy: Option<String>,
    /// Exchange-style connectors (TOML); an outbound connector for the next-hop domain decides.
    #[arg(long, value_name = "FILE")]
    pub connectors: Option<PathBuf>,
    /// The next-hop domain the policy is looked up and names are derived for (default: the
    /// host).
    #[arg(long, value_name = "DOMAIN")]
    pub nexthop: Option<String>,
    /// Trust anchors (PEM); repeatable; replaces the public roots (and every `tafile=`).
    #[arg(long, value_name = "PEM")]
    pub tafile: Vec<PathBuf>,
    /// Where the public roots come from: `system` (the host's store; honours SSL_CERT_FILE
    /// and SSL_CERT_DIR) or `mozilla` (the Mozilla set built in). `--tafile` replaces either.
    #[arg(long, value_name = "STORE", default_value = "system")]
    pub trust_store: PublicRoots,
    /// A client certificate chain to present (PEM).
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The SNI name to send (default: as the policy says).
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// The name to give in EHLO.
    #[arg(long, value_name = "NAME", default_value = "mailtls.localhost")]
    pub helo: String,
    /// Connect to this IP address instead of resolving the server's host name; the name
    /// still names the MX (SNI, certificate names, TLSA records).
    #[arg(long, value_name = "IP")]
    pub address: Option<std::net::IpAddr>,
    /// How long one TCP connect may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub connect_timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep state beyond this process: a SQLite file (created on first use) or
    /// `redis://HOST[:PORT][/DB]` shared by a fleet. Discovered MTA-STS policies are cached
    /// there (a restart keeps enforcing them); `send` records each session's TLS-RPT outcome
    /// and the downgrade memory there. A Redis server that is down is said once on stderr and
    /// never weakens a decision.
    #[arg(long, value_name = "PATH|redis://...")]
    pub state: Option<String>,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    #[command(flatten)]
    pub dns: DnsArgs,
}

/// A decision and everything needed to run it against its hosts.
pub struct Prepared {
    pub decision: Decision,
    pub delivery: Delivery,
    pub connector: Connector,
    /// The target as the user named it: `ADDRESS:PORT` for a host, the domain when
    /// discovered.
    pub server: String,
    /// What discovery found, when the target was a domain.
    pub discovery: Option<DiscoveryAnswers>,
    /// The `--state` store, opened.
    pub state: Option<Arc<dyn Store>>,
}

/// What `prepare` leads to: a delivery to run, or a domain discovery that left no host to try.
pub enum Outbound {
    /// Run it.
    Deliver(Box<Prepared>),
    /// The MX lookup ended the delivery (null MX, no such domain, a failed or bogus answer).
    NoHost {
        answers: Box<DiscoveryAnswers>,
        status: Status,
    },
}

/// Plans the delivery to `target` under the policy flags: `HOST[:PORT]`, `[HOST]` or a host
/// with `--address` names one host (port 25 by default); a bare domain is discovered (MX,
/// addresses, TLSA, MTA-STS, TLS-RPT) as posttls-finger does.
pub fn prepare(target: &str, args: &PolicyArgs) -> Result<Outbound, Failure> {
    let state = match &args.state {
        Some(spec) => Some(crate::state::open(spec, args.json)?),
        None => None,
    };
    Ok(match prepare_with(target, args, state.as_ref())? {
        Outbound::Deliver(mut prepared) => {
            prepared.state = state;
            Outbound::Deliver(prepared)
        }
        other => other,
    })
}

/// [`prepare`] with the `--state` store opened.
fn prepare_with(
    target: &str,
    args: &PolicyArgs,
    state: Option<&Arc<dyn Store>>,
) -> Result<Outbound, Failure> {
    let domain = domain_target(target).filter(|_| args.address.is_none() && args.nexthop.is_none());
    let Some(domain) = domain else {
        if args.dns.given() {
            return Err(Failure::usage(format!(
                "{}: the DNS flags apply to a domain; a host (`[host]`, `host:port`, --address) is not discovered",
                quoted(target)
            )));
        }
        return prepare_host(target, args).map(|p| Outbound::Deliver(Box::new(p)));
    };
    if !args.discovery.tlsa.is_empty() || args.discovery.sts_policy.is_some() {
        return Err(Failure::usage(format!(
            "{}: a domain is discovered; --tlsa and --sts-policy answer for a host target only",
            quoted(target)
        )));
    }
    let named = Destination::parse(domain.as_str())
        .map_err(|e| Failure::usage(format!("{}: {e}", quoted(target))))?;
    let policy = outbound_policy(&named, args)?;
    // The MTA-STS policy host's certificate chains to the same public roots (or the
    // --tafile anchors that replace them).
    let sts_anchors = if args.tafile.is_empty() {
        args.trust_store.load().map_err(|e| {
            Failure::config(format!("--trust-store {}: {e}", args.trust_store.as_str()))
        })?
    } else {
        load_trust_anchors(&args.tafile).map_err(|e| Failure::config(e.to_string()))?
    };
    let answers = discover(&domain, &policy, &args.dns, sts_anchors, state, args.json)?;
    if let Some(status) = answers.mx.failure() {
        return Ok(Outbound::NoHost {
            answers: Box::new(answers),
            status,
        });
    }
    let destination = answers
        .destination()
        .map_err(|e| Failure::usage(format!("{}: {e}", quoted(target))))?;
    let port = args.dns.port.unwrap_or(25);
    let plan = host_plan(&policy, &destination, port, args)?;
    let decision = answers.decide(plan, MessageTls::default());
    let routes = answers
        .hosts
        .iter()
        .map(|h| {
            let addrs = h.addresses.iter().map(|ip| SocketAddr::new(*ip, port));
            (h.host.name.to_string(), addrs.collect())
        })
        .collect();
    let prepared = finish(decision, routes, domain.to_string(), args)?;
    Ok(Outbound::Deliver(Box::new(Prepared {
        discovery: Some(answers),
        ..prepared
    })))
}

/// [`prepare`] for one named host.
fn prepare_host(server: &str, args: &PolicyArgs) -> Result<Prepared, Failure> {
    let (host, port) = split_host_port(server)?;
    let addr = match args.address {
        Some(ip) => SocketAddr::new(ip, port),
        None => resolve(&host, port)?,
    };
    let destination = match &args.nexthop {
        Some(nexthop) => Destination::parse(nexthop)
            .and_then(|d| d.with_hosts([host.as_str()]))
            .map_err(|e| Failure::usage(format!("--nexthop {}: {e}", quoted(nexthop))))?,
        None => Destination::parse(&format!("[{host}]:{port}"))
            .map_err(|e| Failure::usage(format!("server {}: {e}", quoted(server))))?,
    };
    let policy = outbound_policy(&destination, args)?;
    let plan = host_plan(&policy, &destination, port, args)?;
    let decision = decide(plan, &args.discovery)?;
    let routes = decision
        .plan
        .hosts
        .iter()
        .map(|h| (h.host.to_string(), vec![addr]))
        .collect();
    finish(decision, routes, addr.to_string(), args)
}

/// The outbound policy of `--policy` (a table entry for the destination) and `--connectors`.
fn outbound_policy(
    destination: &Destination,
    args: &PolicyArgs,
) -> Result<OutboundPolicy, Failure> {
    let mut policy = OutboundPolicy::new();
    if let Some(value) = &args.policy {
        let line = format!("{} {value}\n", destination.lookup_key());
        let table = PolicyTable::parse(&line)
            .map_err(|e| Failure::usage(format!("--policy {}: {}", quoted(value), e.kind)))?;
        for warning in table.warnings() {
            errln!("mailtls: --policy: warning: {warning}");
        }
        policy = policy.with_table(table);
    }
    if let Some(path) = &args.connectors {
        policy = policy.with_connectors(load_connectors(path)?);
    }
    Ok(policy)
}

/// The plan for `destination`, each host on `port`, with `--servername` and `--tafile`
/// applied: what is printed must be what is checked, so --tafile anchors replace the public
/// roots and every tafile= of the policy in the plan (and so in its trace) and in what
/// precedence adds (MTA-STS).
fn host_plan(
    policy: &OutboundPolicy,
    destination: &Destination,
    port: u16,
    args: &PolicyArgs,
) -> Result<Plan, Failure> {
    let mut plan = explain(policy, destination);
    for host in &mut plan.hosts {
        host.port = port;
        if let Some(name) = &args.servername {
            host.sni = Some(
                DnsName::parse(name)
                    .map_err(|e| Failure::usage(format!("--servername {}: {e}", quoted(name))))?,
            );
        }
        if !args.tafile.is_empty() {
            replace_anchors(&mut host.requirement.authentication, &args.tafile);
        }
    }
    Ok(plan)
}

/// The delivery for `decision`: verifiers, client identity, and a connector routing each
/// host name to its addresses.
fn finish(
    mut decision: Decision,
    routes: Vec<(String, Vec<SocketAddr>)>,
    server: String,
    args: &PolicyArgs,
) -> Result<Prepared, Failure> {
    // The public roots, loaded only when something chains to them (and --tafile does not
    // replace them): a `may` probe does not need a readable trust store.
    let public = if args.tafile.is_empty() && needs_public_roots(&decision) {
        args.trust_store.load().map_err(|e| {
            Failure::config(format!("--trust-store {}: {e}", args.trust_store.as_str()))
        })?
    } else {
        TrustAnchors::new()
    };
    let mut verifiers =
        verifiers_for(&decision, public).map_err(|e| Failure::config(e.to_string()))?;
    if !args.tafile.is_empty() {
        verifiers = verifiers.with_replacement(
            load_trust_anchors(&args.tafile).map_err(|e| Failure::config(e.to_string()))?,
        );
        for host in &mut decision.plan.hosts {
            replace_anchors(&mut host.requirement.authentication, &args.tafile);
        }
        for host in &mut decision.hosts {
            if let Some(TestingPolicy::Verify(requirement)) = &mut host.testing {
                replace_anchors(&mut requirement.authentication, &args.tafile);
            }
        }
    }
    let plan = &decision.plan;
    // The dialogue is kept for the report: capabilities always, every line with -v.
    let settings = ClientSettings::new(&args.helo)
        .map_err(|e| Failure::usage(format!("--helo: {e}")))?
        .with_transcript(true);
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(load_identity(cert, key)?),
        _ => match plan
            .hosts
            .first()
            .and_then(|h| h.client_certificate.as_ref())
        {
            Some(cc) => Some(load_identity(&cc.certificate_chain, &cc.private_key)?),
            None => None,
        },
    };
    let mut connector =
        Connector::new().with_connect_timeout(Duration::from_secs(args.connect_timeout));
    for (host, addrs) in routes {
        connector = connector.route_all(&host, addrs);
    }
    let delivery =
        Delivery::new(settings, decision.clone(), Arc::new(verifiers)).with_identity(identity);
    Ok(Prepared {
        decision,
        delivery,
        connector,
        server,
        discovery: None,
        state: None,
    })
}

/// Points a requirement's chain at the `--tafile` anchors instead of the public roots or the
/// policy's own `tafile=`.
fn replace_anchors(authentication: &mut Authentication, tafile: &[PathBuf]) {
    match authentication {
        Authentication::Chain(trust) | Authentication::ChainAndName { trust, .. } => {
            *trust = AnchorSource::Files(tafile.to_vec());
        }
        _ => {}
    }
}

/// Reads a connector file, saying everything that is wrong with it and where (as `mailtls
/// check` does).
pub fn load_connectors(path: &std::path::Path) -> Result<Connectors, Failure> {
    let text = read_config(path, "connector file")?;
    crate::check::report(
        &crate::check::check_connectors(path, &text),
        "connector file",
        path,
    )?;
    Connectors::from_toml(&text).map_err(|e| Failure::config(format!("{}: {e}", path.display())))
}

/// Runs the delivery.
pub fn run(prepared: &mut Prepared, messages: &[Message]) -> DeliveryReport {
    blocking::deliver(&mut prepared.delivery, messages, &prepared.connector)
}

/// The verdict of a run, as `--json` prints it (the schema is documented in the README).
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    pub server: String,
    pub outcome: &'static str,
    /// Postfix's word for the last TLS session: `Untrusted`, `Trusted` or `Verified` (as in
    /// `Untrusted TLS connection established to ...`), also under `may`, and for a refused
    /// certificate; `null` when no certificate was seen.
    pub trust: Option<&'static str>,
    pub tls_version: Option<&'static str>,
    pub cipher: Option<&'static str>,
    pub group: Option<String>,
    /// Why the peer certificate did not meet the requirement (also when an opportunistic
    /// level let the session go on), as posttls-finger says it.
    pub certificate_error: Option<String>,
    pub result_type: Option<String>,
    pub policy: String,
    pub delivery: String,
    pub attempts: Vec<AttemptJson>,
    /// The EHLO keywords of the last attempt (after TLS when TLS was up).
    pub capabilities: Vec<String>,
    pub peer_chain: Vec<CertSummary>,
    pub messages: Vec<Option<String>>,
    pub connect_errors: Vec<String>,
    pub explanation: Vec<String>,
    /// Per host: which source decided, what is done, which policy TLS-RPT counts it against.
    pub decision: Vec<DecisionJson>,
    /// What discovery found (MX, addresses, TLSA, MTA-STS, TLS-RPT with DNSSEC status), when
    /// the target was a domain.
    pub discovery: Option<DiscoveryJson>,
}

/// One host's precedence decision (`probe`, `send` and `explain` JSON).
#[derive(Debug, serde::Serialize)]
pub struct DecisionJson {
    pub host: String,
    pub decided_by: String,
    pub action: String,
    pub tls_rpt_policy: &'static str,
    pub overruled: Vec<String>,
}

/// The per-host decisions of `decision`.
pub fn decision_json(decision: &Decision) -> Vec<DecisionJson> {
    decision
        .hosts
        .iter()
        .map(|h| DecisionJson {
            host: h.host.to_string(),
            decided_by: h.decided_by.to_string(),
            action: h.action.to_string(),
            tls_rpt_policy: h.report_policy.policy_type.as_str(),
            overruled: h.overruled.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

/// One rung tried.
#[derive(Debug, serde::Serialize)]
pub struct AttemptJson {
    pub host: String,
    pub rung: &'static str,
    pub result: String,
    pub result_type: Option<String>,
    pub tls_version: Option<&'static str>,
    pub cipher: Option<&'static str>,
    pub group: Option<String>,
    /// Postfix's trust word for this attempt's TLS session.
    pub trust: Option<&'static str>,
    /// The RFC 8460 result under the governing policy (`success` or a result type), when
    /// the attempt reports one; under MTA-STS `testing`, what `enforce` would have said.
    pub tls_rpt_result: Option<String>,
    /// The policy TLS-RPT counts the attempt against (`tlsa`, `sts`, `no-policy-found`).
    pub tls_rpt_policy: Option<&'static str>,
    pub next: String,
    /// The dialogue: `> COMMAND`, `< REPLY`, `= ...` (no message content).
    pub dialogue: Vec<String>,
}

impl Verdict {
    /// Whether the policy was satisfied (a session completed the way the plan allows).
    pub fn satisfied(&self) -> bool {
        self.outcome != "failed"
    }
}

/// Sums up a run.
pub fn verdict(prepared: &Prepared, report: &DeliveryReport) -> Verdict {
    let last = report.attempts.last();
    let completed = matches!(report.outcome, Some(DeliveryOutcome::Completed { .. }));
    let tls = last.and_then(|a| a.tls.as_ref());
    let verifies = prepared
        .decision
        .plan
        .hosts
        .first()
        .is_some_and(|h| h.requirement.authentication.verifies());
    let outcome = match (completed, tls) {
        (false, _) => "failed",
        (true, Some(_)) if verifies => "verified",
        (true, Some(_)) => "encrypted",
        (true, None) => "plaintext",
    };
    let result_type = if completed {
        None
    } else {
        report
            .attempts
            .iter()
            .rev()
            .find_map(|a| a.result_type)
            .map(|r| r.to_string())
    };
    Verdict {
        server: prepared.server.clone(),
        outcome,
        trust: last.and_then(attempt_trust),
        certificate_error: last
            .and_then(|a| {
                a.tls
                    .as_ref()
                    .and_then(|t| t.verification.as_ref())
                    .or(a.verification.as_ref())
            })
            .and_then(|o| o.error.as_ref())
            .map(ToString::to_string),
        tls_version: tls.map(|t| t.facts.version.as_str()),
        cipher: tls.map(|t| t.facts.suite.iana_name()),
        group: tls.and_then(|t| t.facts.group).map(|g| g.to_string()),
        result_type,
        policy: prepared
            .decision
            .plan
            .hosts
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        delivery: report
            .outcome
            .as_ref()
            .map_or_else(|| "no attempt".to_owned(), ToString::to_string),
        attempts: report.attempts.iter().map(attempt_json).collect(),
        capabilities: last
            .map(|a| capabilities(&a.transcript))
            .unwrap_or_default(),
        // The whole chain after a handshake; after a failed verification, the end-entity
        // certificate the verifier read (posttls-finger shows the chain it was given).
        peer_chain: match (tls, last.and_then(|a| a.verification.as_ref())) {
            (Some(t), _) => t.facts.peer_chain.iter().map(|c| summarize(c)).collect(),
            (None, Some(outcome)) => outcome.facts.iter().map(summary_of).collect(),
            (None, None) => Vec::new(),
        },
        messages: report
            .messages
            .iter()
            .map(|m| {
                m.as_ref().map(|m| match (&m.reply, &m.refused) {
                    (Some(reply), _) => reply_text(reply),
                    (None, Some(status)) => format!("refused locally: {status}"),
                    (None, None) => "no reply".to_owned(),
                })
            })
            .collect(),
        connect_errors: report
            .connect_errors
            .iter()
            .map(|(host, e)| format!("{host}: {e}"))
            .collect(),
        explanation: explanation(&prepared.decision),
        decision: decision_json(&prepared.decision),
        discovery: prepared.discovery.as_ref().map(DiscoveryJson::of),
    }
}

/// The rules behind a decision, one line each (the JSON `explanation` of every command).
pub fn explanation(decision: &Decision) -> Vec<String> {
    decision
        .plan
        .trace
        .steps()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn attempt_json(record: &AttemptRecord) -> AttemptJson {
    AttemptJson {
        host: record.host.clone(),
        rung: record.rung.as_str(),
        result: record.result.to_string(),
        result_type: record.result_type.map(|r| r.to_string()),
        tls_version: record.tls.as_ref().map(|t| t.facts.version.as_str()),
        cipher: record.tls.as_ref().map(|t| t.facts.suite.iana_name()),
        group: record
            .tls
            .as_ref()
            .and_then(|t| t.facts.group)
            .map(|g| g.to_string()),
        trust: attempt_trust(record),
        tls_rpt_result: record.report_result().map(|r| match r {
            Ok(()) => "success".to_owned(),
            Err(failure) => failure.result_type.to_string(),
        }),
        tls_rpt_policy: record
            .decision
            .as_ref()
            .map(|d| d.report_policy.policy_type.as_str()),
        next: record.next.to_string(),
        dialogue: record.transcript.clone(),
    }
}

/// Postfix's trust word for an attempt: the established session's, or, when the certificate
/// was refused and the handshake aborted, the verifier's verdict on it (posttls-finger prints
/// the word for a refused certificate too).
fn attempt_trust(record: &AttemptRecord) -> Option<&'static str> {
    record
        .tls
        .as_ref()
        .map(|t| t.trust.as_str())
        .or_else(|| record.verification.as_ref().map(|o| o.trust.as_str()))
}

/// The keywords of the last EHLO reply in a dialogue (its first line names the server).
fn capabilities(transcript: &[String]) -> Vec<String> {
    let Some(ehlo) = transcript.iter().rposition(|l| {
        l.get(..7)
            .is_some_and(|c| c.eq_ignore_ascii_case("> EHLO "))
    }) else {
        return Vec::new();
    };
    transcript
        .iter()
        .skip(ehlo + 1)
        .take_while(|l| l.starts_with("< 250"))
        .skip(1)
        .filter_map(|l| l.get(6..))
        .map(str::to_owned)
        .collect()
}

fn reply_text(reply: &mailtls::smtp::Reply) -> String {
    String::from_utf8_lossy(&reply.to_bytes())
        .trim_end()
        .replace("\r\n", " | ")
}

/// Prints the verdict as text.
pub fn print_text(verdict: &Verdict, prepared: &Prepared) {
    let decision = &prepared.decision;
    if let Some(answers) = &prepared.discovery {
        text!("{answers}");
    }
    textln!("server:    {}", verdict.server);
    textln!("policy:    {}", verdict.policy);
    textln!("attempts:");
    for (i, a) in verdict.attempts.iter().enumerate() {
        let rt = a
            .result_type
            .as_deref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        let tls = match (a.tls_version, a.cipher, &a.group) {
            (Some(v), Some(c), Some(g)) => format!(" ({v}, {c}, {g})"),
            (Some(v), Some(c), None) => format!(" ({v}, {c})"),
            _ => String::new(),
        };
        let tls = match a.trust {
            Some(trust) if a.tls_version.is_some() => format!("{tls} {trust}"),
            Some(trust) => format!(" ({trust} certificate)"),
            None => tls,
        };
        let report = match (a.tls_rpt_policy, a.tls_rpt_result.as_deref()) {
            (Some(policy), Some(result)) => format!(" (TLS-RPT {policy}: {result})"),
            _ => String::new(),
        };
        textln!(
            "  {}. {} rung {}: {}{tls}{rt}{report}",
            i + 1,
            a.host,
            a.rung,
            a.result
        );
        if crate::common::verbose() {
            for line in &a.dialogue {
                textln!("     {line}");
            }
        }
    }
    if !verdict.capabilities.is_empty() {
        textln!("ehlo:      {}", verdict.capabilities.join(", "));
    }
    for e in &verdict.connect_errors {
        textln!("  connect failed: {e}");
    }
    match (verdict.tls_version, verdict.cipher, &verdict.group) {
        (Some(v), Some(c), Some(g)) => textln!("tls:       {v} {c} {g}"),
        (Some(v), Some(c), None) => textln!("tls:       {v} {c}"),
        _ => textln!("tls:       none"),
    }
    if let (Some(trust), Some(v), Some(c)) = (verdict.trust, verdict.tls_version, verdict.cipher) {
        // posttls-finger's line.
        textln!(
            "{trust} TLS connection established to {}: {v} with cipher {c}",
            verdict.server
        );
    }
    if let Some(e) = &verdict.certificate_error {
        textln!("certificate: {e}");
    }
    if let (Some(trust), None) = (verdict.trust, verdict.tls_version) {
        // The certificate was refused and the handshake aborted: still Postfix's word for it.
        textln!("{trust} TLS certificate from {}: refused", verdict.server);
    }
    for (i, cert) in verdict.peer_chain.iter().enumerate() {
        textln!("peer certificate {i}:");
        textln!("  subject:      {}", cert.subject);
        textln!("  issuer:       {}", cert.issuer);
        textln!("  SANs:         {}", cert.sans.join(", "));
        textln!("  valid:        {} .. {}", cert.not_before, cert.not_after);
        textln!("  sha256:       {}", cert.sha256);
        textln!("  spki sha256:  {}", cert.spki_sha256);
    }
    for (i, m) in verdict.messages.iter().enumerate() {
        textln!("message {}: {}", i + 1, m.as_deref().unwrap_or("not sent"));
    }
    if prepared.discovery.is_some() {
        // Which source decided each host: the point of discovering.
        textln!("decision:");
        for host in &decision.hosts {
            textln!("  {host}");
        }
    }
    textln!("delivery:  {}", verdict.delivery);
    textln!(
        "verdict:   {}{}",
        verdict.outcome,
        verdict
            .result_type
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    // The rules behind the decision with -v (posttls-finger keeps its detail for -v too).
    if crate::common::verbose() {
        textln!("explanation:");
        text!("{decision}");
    }
}

/// A domain discovery that left no host to try: what was found and why, as text or JSON;
/// the exit code says deferred (75) or refused for good (69), as for a delivery.
pub fn print_no_host(answers: &DiscoveryAnswers, status: &Status, json: bool) -> u8 {
    let code = if status.is_permanent() {
        crate::common::EX_UNAVAILABLE
    } else {
        crate::common::EX_TEMPFAIL
    };
    if json {
        #[derive(serde::Serialize)]
        struct NoHost {
            server: String,
            outcome: &'static str,
            delivery: String,
            discovery: DiscoveryJson,
        }
        let view = NoHost {
            server: answers.domain.to_string(),
            outcome: "failed",
            delivery: status.to_string(),
            discovery: DiscoveryJson::of(answers),
        };
        match serde_json::to_string(&view) {
            Ok(text) => outln!("{text}"),
            Err(e) => errln!("mailtls: JSON: {e}"),
        }
    } else {
        text!("{answers}");
        textln!("delivery:  {status}");
        textln!("verdict:   failed");
    }
    code
}

/// Prints the verdict as one JSON object.
pub fn print_json(verdict: &Verdict) {
    match serde_json::to_string(verdict) {
        Ok(json) => outln!("{json}"),
        Err(e) => errln!("mailtls: JSON: {e}"),
    }
}

fn split_host_port(server: &str) -> Result<(String, u16), Failure> {
    let bad =
        |why: &str| Failure::usage(format!("{}: {why} (expected HOST[:PORT])", quoted(server)));
    if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing `]`"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if after.is_empty() => 25,
            None => return Err(bad("junk after `]`")),
        };
        return Ok((host.to_owned(), port));
    }
    match server.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_owned(), port.parse().map_err(|_| bad("bad port"))?))
        }
        _ if server.is_empty() => Err(bad("empty")),
        _ => Ok((server.to_owned(), 25)),
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Failure> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Failure {
            code: crate::common::EX_NOHOST,
            message: format!("{host}:{port}: the name resolves to no address"),
        })
}
