//! `mailtls probe`: connect, STARTTLS as the policy says, show what the server presents and
//! whether the policy is satisfied (like posttls-finger).

use crate::common::{Failure, EX_TEMPFAIL};
use crate::outbound::{
    prepare, print_json, print_no_host, print_text, run, verdict, Outbound, PolicyArgs,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to probe: a domain (its MX hosts are discovered, as posttls-finger does), or one
    /// host: `[HOST]`, `HOST:PORT`, or a name with `--address` (default port 25).
    server: String,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn run_probe(args: &Args) -> Result<u8, Failure> {
    let mut prepared = match prepare(&args.server, &args.policy)? {
        Outbound::Deliver(prepared) => prepared,
        Outbound::NoHost { answers, status } => {
            return Ok(print_no_host(&answers, &status, args.policy.json))
        }
    };
    let report = run(&mut prepared, &[]);
    let verdict = verdict(&prepared, &report);
    if args.policy.json {
        print_json(&verdict);
    } else {
        print_text(&verdict, &prepared);
    }
    // Not satisfied is what `send` calls deferred (Postfix defers a TLS failure): the same 75.
    Ok(if verdict.satisfied() { 0 } else { EX_TEMPFAIL })
}
