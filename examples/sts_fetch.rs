//! Fetches one domain's MTA-STS policy with `io::StsFetcher` and says how long it took, after
//! loading the public roots (and how long that took):
//!
//! ```sh
//! cargo run --release --example sts_fetch -- DOMAIN ADDRESS [PORT] [system|mozilla] [COUNT]
//! # against the lab: the lab's CA file stands for the system store
//! SSL_CERT_FILE=target/lab/ca/ca-certificates.crt \
//!     cargo run --release --example sts_fetch -- enforce.sts.test 127.0.0.1 2552 system 200
//! ```
//!
//! `ADDRESS` is an IP address of `mta-sts.DOMAIN` (this example resolves nothing); `COUNT`
//! fetches run one after the other, each a new connection and handshake. Without arguments it
//! fetches the CI lab's `enforce` policy, trusting the lab's CA file, when `MAILTLS_LAB_ENV`
//! names the lab's `lab.env` (as `.ci/run` sets it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use mailtls::io::{load_trust_anchors, PublicRoots, StsFetcher};
use mailtls::names::DnsName;
use mailtls::policy::mta_sts::StsFetchRequest;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts_fetch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut lab_ca = None;
    if args.is_empty() {
        let lab = lab_env()?;
        let get = |key: &str| lab.get(key).cloned().ok_or(format!("lab.env has no {key}"));
        args = vec![
            get("LAB_DOMAIN_STS_ENFORCE")?,
            get("LAB_HOST")?,
            get("LAB_STS_PORT")?,
        ];
        lab_ca = Some(PathBuf::from(get("LAB_CA_FILE")?));
    }
    let (Some(domain), Some(address)) = (args.first(), args.get(1)) else {
        return Err("usage: sts_fetch DOMAIN ADDRESS [PORT] [system|mozilla] [COUNT]".into());
    };
    let domain = DnsName::parse(domain)?;
    let address: IpAddr = address.parse()?;
    let port: u16 = args.get(2).map_or(Ok(443), |p| p.parse())?;
    let store: PublicRoots = args.get(3).map_or(Ok(PublicRoots::System), |s| s.parse())?;
    let count: u32 = args.get(4).map_or(Ok(1), |c| c.parse())?;

    let started = Instant::now();
    let (roots, source) = match &lab_ca {
        Some(file) => (
            load_trust_anchors(std::slice::from_ref(file))?,
            file.display().to_string(),
        ),
        None => (store.load()?, store.to_string()),
    };
    println!(
        "{} anchors from the {source} in {:.1} ms",
        roots.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let fetcher = StsFetcher::new(roots).with_port(port);
    let request = StsFetchRequest::new(&domain);
    let started = Instant::now();
    for _ in 0..count.max(1) {
        match fetcher.fetch(&request, &[address]) {
            Ok(policy) => println!(
                "{}: {} policy, max_age {} s, {} mx pattern(s)",
                request.url,
                policy.mode(),
                policy.max_age().as_secs(),
                policy.mx_patterns().len()
            ),
            Err(e) => println!("{}: no policy ({}): {e}", request.url, e.result_type()),
        }
    }
    let each = started.elapsed().as_secs_f64() * 1e3 / f64::from(count.max(1));
    println!("{each:.2} ms per fetch over {} fetch(es)", count.max(1));
    Ok(())
}

/// The CI lab's settings (`KEY=VALUE` lines of the file `MAILTLS_LAB_ENV` names).
fn lab_env() -> Result<HashMap<String, String>, Box<dyn std::error::Error>> {
    let path = std::env::var("MAILTLS_LAB_ENV").map_err(|_| {
        "usage: sts_fetch DOMAIN ADDRESS [PORT] [system|mozilla] [COUNT] \
         (or set MAILTLS_LAB_ENV to the CI lab's lab.env)"
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
