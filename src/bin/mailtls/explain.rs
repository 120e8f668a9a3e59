//! `mailtls explain`: the plan for a destination and the rules that made it, no network.

use std::path::PathBuf;

use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::{explain, Destination, Level, OutboundPolicy};

use crate::common::{quoted, read_config, Failure};
use mailtls::io::PublicRoots;
use mailtls::policy::requiretls::MessageTls;

use crate::discovery::{discover, domain_target, DiscoveryJson, DnsArgs};
use crate::outbound::{
    decide, decision_json, explanation, load_connectors, DecisionJson, DiscoveryArgs,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The destination: a domain, or a next hop like `[mx.example.com]:25`.
    destination: String,
    /// Candidate MX hosts, in preference order (default: the domain itself).
    #[arg(long = "mx", value_name = "HOST")]
    mx: Vec<String>,
    /// A Postfix `smtp_tls_policy_maps` table (text form; `hash:FILE` names its source).
    #[arg(long, value_name = "[TYPE:]FILE")]
    policy_map: Option<String>,
    /// Exchange-style connectors (TOML).
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// Discover the destination domain (MX, addresses, TLSA, MTA-STS, TLS-RPT) as `probe` and
    /// `send` do for a domain, instead of taking --mx, --tlsa and --sts-policy; implied by
    /// any DNS flag.
    #[arg(long)]
    discover: bool,
    #[command(flatten)]
    dns: DnsArgs,
    /// Where the public roots for the MTA-STS policy fetch come from (`system`, `mozilla`).
    #[arg(long, value_name = "STORE", default_value = "system")]
    trust_store: PublicRoots,
    /// The default security level when nothing more specific matches.
    #[arg(long, value_name = "LEVEL", default_value = "may")]
    level: String,
    /// Print one JSON object instead of text (schema in the README).
    #[arg(long)]
    json: bool,
}

/// `explain --json`: the same decision as the text, in stable fields.
#[derive(Debug, serde::Serialize)]
struct ExplainJson {
    destination: String,
    /// One line per candidate host: requirement, names, SNI, protocols, ladder, on failure.
    hosts: Vec<String>,
    /// Every rule that fired, in order.
    explanation: Vec<String>,
    /// Per host: who decided, what is done, which policy TLS-RPT counts it against.
    decision: Vec<DecisionJson>,
    /// What discovery found, with --discover.
    discovery: Option<DiscoveryJson>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let mut policy = outbound_policy(&args.level, args.policy_map.as_deref())?;
    if let Some(path) = &args.connectors {
        policy = policy.with_connectors(load_connectors(path)?);
    }
    let mut answers = None;
    let decision = if args.discover || args.dns.given() {
        let domain = domain_target(&args.destination).ok_or_else(|| {
            Failure::usage(format!(
                "{}: only a domain is discovered",
                quoted(&args.destination)
            ))
        })?;
        let anchors = args.trust_store.load().map_err(|e| {
            Failure::config(format!("--trust-store {}: {e}", args.trust_store.as_str()))
        })?;
        let found = discover(&domain, &policy, &args.dns, anchors, None, false)?;
        if let Some(status) = found.mx.failure() {
            return Ok(crate::outbound::print_no_host(&found, &status, args.json));
        }
        let destination = found
            .destination()
            .map_err(|e| Failure::usage(format!("{}: {e}", quoted(&args.destination))))?;
        let mut plan = explain(&policy, &destination);
        for host in &mut plan.hosts {
            host.port = args.dns.port.unwrap_or(25);
        }
        let decision = found.decide(plan, MessageTls::default());
        answers = Some(found);
        decision
    } else {
        let destination = destination(&args.destination, &args.mx)?;
        let plan = explain(&policy, &destination);
        // The same decision `probe` and `send` act on.
        decide(plan, &args.discovery)?
    };
    if !args.json {
        if let Some(found) = &answers {
            text!("{found}");
        }
        text!("{decision}");
        return Ok(0);
    }
    let json = ExplainJson {
        destination: args.destination.clone(),
        hosts: decision
            .plan
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect(),
        explanation: explanation(&decision),
        decision: decision_json(&decision),
        discovery: answers.as_ref().map(DiscoveryJson::of),
    };
    match serde_json::to_string(&json) {
        Ok(text) => outln!("{text}"),
        Err(e) => return Err(Failure::io(format!("JSON: {e}"))),
    }
    Ok(0)
}

/// The outbound policy from a default level and an optional Postfix table file.
pub fn outbound_policy(level: &str, table: Option<&str>) -> Result<OutboundPolicy, Failure> {
    let level = Level::parse(level).ok_or_else(|| {
        Failure::usage(format!(
            "--level {}: expected none, may, encrypt, dane, dane-only, fingerprint, verify or secure",
            quoted(level)
        ))
    })?;
    let mut policy = OutboundPolicy::new().with_default_level(level);
    if let Some(map) = table {
        let path = crate::check::policy_map_source(map)?;
        let text = read_config(&path, "policy map")?;
        // Every error and warning, as `mailtls check` says them.
        crate::check::report(
            &crate::check::check_policy_map(&path, &text),
            "policy map",
            &path,
        )?;
        let table = PolicyTable::parse(&text)
            .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
        policy = policy.with_table(table);
    }
    Ok(policy)
}

/// A destination from a domain or next hop and optional MX hosts.
pub fn destination(next_hop: &str, mx: &[String]) -> Result<Destination, Failure> {
    let destination = Destination::parse(next_hop)
        .map_err(|e| Failure::usage(format!("destination {}: {e}", quoted(next_hop))))?;
    if mx.is_empty() {
        return Ok(destination);
    }
    destination
        .with_hosts(mx.iter().map(String::as_str))
        .map_err(|e| Failure::usage(format!("--mx: {e}")))
}
