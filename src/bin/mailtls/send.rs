//! `mailtls send`: deliver a message from stdin under a policy.

use std::io::Read as _;
use std::sync::Arc;

use mailtls::client::{DeliveryOutcome, Envelope};
use mailtls::io::{now, Message};
use mailtls::smtp::{ForwardPath, Mailbox, ReversePath};
use mailtls::state::StoredDowngradeMemory;

use crate::common::{quoted, Failure, EX_TEMPFAIL, EX_UNAVAILABLE};
use crate::outbound::{
    prepare, print_json, print_no_host, print_text, run, verdict, Outbound, PolicyArgs,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server: HOST[:PORT] (default port 25), `[HOST]`, or a domain whose MX hosts are
    /// discovered. Default: the recipients' domain, discovered.
    #[arg(long, value_name = "HOST[:PORT]")]
    server: Option<String>,
    /// The envelope sender (empty for `<>`).
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// An envelope recipient; repeatable.
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<String>,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn run_send(args: &Args) -> Result<u8, Failure> {
    let from = if args.from.is_empty() || args.from == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox("--from", &args.from)?)
    };
    let to = args
        .to
        .iter()
        .map(|t| mailbox("--to", t).map(ForwardPath::Mailbox))
        .collect::<Result<Vec<_>, _>>()?;
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .map_err(|e| Failure::io(format!("stdin: {e}")))?;
    let content = crlf(&raw);
    let target = match &args.server {
        Some(server) => server.clone(),
        None => recipient_domain(&to)?,
    };
    let envelope = Envelope::new(from, to).with_size(content.len() as u64);
    let mut prepared = match prepare(&target, &args.policy)? {
        Outbound::Deliver(prepared) => prepared,
        Outbound::NoHost { answers, status } => {
            return Ok(print_no_host(&answers, &status, args.policy.json))
        }
    };
    let report = run(&mut prepared, &[Message { envelope, content }]);
    if let Some(store) = &prepared.state {
        // Every session's TLS-RPT outcome, and the rung a completed delivery ran on.
        let mut memory = StoredDowngradeMemory::new(Arc::clone(store));
        let notice = memory.record_delivery(&prepared.delivery, now());
        crate::state::say(notice, args.policy.json);
    }
    let verdict = verdict(&prepared, &report);
    if args.policy.json {
        print_json(&verdict);
    } else {
        print_text(&verdict, &prepared);
    }
    if report.all_accepted() {
        return Ok(0);
    }
    let permanent = matches!(report.outcome, Some(DeliveryOutcome::Bounced(_)))
        || report.messages.iter().flatten().any(|m| {
            m.reply
                .as_ref()
                .is_some_and(|r| r.code().is_permanent_negative())
        });
    Ok(if permanent {
        EX_UNAVAILABLE
    } else {
        EX_TEMPFAIL
    })
}

/// The one domain of every recipient (one delivery goes to one destination), as a target
/// `prepare` takes: a domain is discovered, an address literal names its host.
fn recipient_domain(to: &[ForwardPath]) -> Result<String, Failure> {
    let mut hosts = to.iter().filter_map(|path| match path {
        ForwardPath::Mailbox(mailbox) => Some(mailbox.host().to_string().to_ascii_lowercase()),
        _ => None,
    });
    let first = hosts.next().ok_or_else(|| {
        Failure::usage("--to: no recipient mailbox to take a domain from; give --server".to_owned())
    })?;
    if hosts.any(|host| host != first) {
        return Err(Failure::usage(
            "--to: recipients in several domains; send to one domain at a time, or give --server"
                .to_owned(),
        ));
    }
    Ok(first)
}

fn mailbox(flag: &str, text: &str) -> Result<Mailbox, Failure> {
    let inner = text.trim().trim_start_matches('<').trim_end_matches('>');
    Mailbox::parse(inner).map_err(|e| Failure::usage(format!("{flag} {}: {e}", quoted(text))))
}

/// Line ends as SMTP wants them: every bare LF becomes CRLF; a final line end is added.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut previous = 0_u8;
    for &b in raw {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
