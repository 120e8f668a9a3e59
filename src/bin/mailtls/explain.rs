//! `mailtls explain`: the plan for a destination and the rules that made it, no network.

use std::path::PathBuf;

use mailtls::names::DnsName;
use mailtls::policy::dane::{DnssecStatus, TlsaSet};
use mailtls::policy::mta_sts::{StsLookup, StsPolicy};
use mailtls::policy::postfix::PolicyTable;
use mailtls::policy::precedence::{self, HostAction, HostTlsa, PrecedenceInputs};
use mailtls::policy::requiretls::MessageTls;
use mailtls::policy::{explain, Destination, Level, OutboundPolicy};

use crate::common::{read_config, Failure};
use crate::outbound::load_connectors;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The destination: a domain, or a next hop like `[mx.example.com]:25`.
    destination: String,
    /// Candidate MX hosts, in preference order (default: the domain itself).
    #[arg(long = "mx", value_name = "HOST")]
    mx: Vec<String>,
    /// A Postfix `smtp_tls_policy_maps` table (text form).
    #[arg(long, value_name = "FILE")]
    policy_map: Option<PathBuf>,
    /// Exchange-style connectors (TOML).
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    /// A DNSSEC-validated TLSA record for an MX host: `HOST=USAGE SELECTOR MTYPE HEX`
    /// (repeatable). The MX RRset is then taken as DNSSEC-secure.
    #[arg(long, value_name = "HOST=RECORD")]
    tlsa: Vec<String>,
    /// The destination's MTA-STS policy file (the text served at
    /// `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`).
    #[arg(long, value_name = "FILE")]
    sts_policy: Option<PathBuf>,
    /// The default security level when nothing more specific matches.
    #[arg(long, value_name = "LEVEL", default_value = "may")]
    level: String,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let mut policy = outbound_policy(&args.level, args.policy_map.as_deref())?;
    if let Some(path) = &args.connectors {
        policy = policy.with_connectors(load_connectors(path)?);
    }
    let destination = destination(&args.destination, &args.mx)?;
    let plan = explain(&policy, &destination);
    if args.tlsa.is_empty() && args.sts_policy.is_none() {
        print!("{plan}");
        return Ok(0);
    }
    // DANE and MTA-STS refine the configuration's plan (precedence overlay).
    let sts = match &args.sts_policy {
        Some(path) => {
            let text = read_config(path, "MTA-STS policy")?;
            let policy = StsPolicy::parse(text.as_bytes())
                .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
            Some(StsLookup::Policy {
                policy,
                from_cache: false,
                refresh_error: None,
            })
        }
        None => None,
    };
    let mut records: Vec<(DnsName, Vec<String>)> = Vec::new();
    for arg in &args.tlsa {
        let (host, record) = arg
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--tlsa {arg:?}: expected HOST=RECORD")))?;
        let host = DnsName::parse(host)
            .map_err(|e| Failure::usage(format!("--tlsa {arg:?}: host: {e}")))?;
        match records.iter_mut().find(|(h, _)| *h == host) {
            Some((_, list)) => list.push(record.to_owned()),
            None => records.push((host, vec![record.to_owned()])),
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
            eprintln!("mailtls: --tlsa for {host}: unusable record: {unusable:?}");
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
    let decision = precedence::apply(plan, &inputs);
    print!("{}", decision.plan);
    println!("precedence:");
    for host in &decision.hosts {
        let action = match &host.action {
            HostAction::Connect => "connect".to_owned(),
            HostAction::Skip { status, .. } => format!("skip ({status})"),
            other => format!("{other:?}"),
        };
        println!("  {}: decided by {}; {action}", host.host, host.decided_by);
        for (source, why) in &host.overruled {
            println!("    overruled {source}: {why}");
        }
    }
    for (i, step) in decision.trace.iter().enumerate() {
        println!("{:>3}. {step}", i + 1);
    }
    Ok(0)
}

/// The outbound policy from a default level and an optional Postfix table file.
pub fn outbound_policy(
    level: &str,
    table: Option<&std::path::Path>,
) -> Result<OutboundPolicy, Failure> {
    let level = Level::parse(level).ok_or_else(|| {
        Failure::usage(format!(
            "--level {level:?}: expected none, may, encrypt, dane, dane-only, fingerprint, verify or secure"
        ))
    })?;
    let mut policy = OutboundPolicy::new().with_default_level(level);
    if let Some(path) = table {
        let text = read_config(path, "policy map")?;
        let table = PolicyTable::parse(&text)
            .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
        for warning in table.warnings() {
            eprintln!("mailtls: {}: warning: {warning}", path.display());
        }
        policy = policy.with_table(table);
    }
    Ok(policy)
}

/// A destination from a domain or next hop and optional MX hosts.
pub fn destination(next_hop: &str, mx: &[String]) -> Result<Destination, Failure> {
    let destination = Destination::parse(next_hop)
        .map_err(|e| Failure::usage(format!("destination {next_hop:?}: {e}")))?;
    if mx.is_empty() {
        return Ok(destination);
    }
    destination
        .with_hosts(mx.iter().map(String::as_str))
        .map_err(|e| Failure::usage(format!("--mx: {e}")))
}
