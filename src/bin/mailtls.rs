//! The `mailtls` admin command: demo, probe, send, serve, explain, policyd.
//!
//! Exit codes follow sysexits: 0 success, 64 usage, 69 refused permanently, 75 deferred,
//! 78 configuration, 1 a policy not satisfied (probe) or a demo scenario that went wrong.

#![allow(unreachable_pub)]

#[path = "mailtls/common.rs"]
mod common;
#[path = "mailtls/demo.rs"]
mod demo;
#[path = "mailtls/explain.rs"]
mod explain;
#[path = "mailtls/outbound.rs"]
mod outbound;
#[path = "mailtls/policyd.rs"]
mod policyd;
#[path = "mailtls/probe.rs"]
mod probe;
#[path = "mailtls/send.rs"]
mod send;
#[path = "mailtls/serve.rs"]
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::Failure;

/// Transport TLS for mail servers: try it, probe a peer, send, serve, explain a decision.
#[derive(Debug, Parser)]
#[command(name = "mailtls", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run both ends in-process with fresh certificates and show what each policy does.
    Demo(demo::Args),
    /// Plan the TLS policy for a destination and explain every rule that fired (no network).
    Explain(explain::Args),
    /// Connect to a server, STARTTLS as the policy says, and show what it presents and
    /// whether the policy is satisfied (like posttls-finger). Exit 0 when satisfied.
    Probe(probe::Args),
    /// Send a message read from stdin: exit 0 delivered, 75 deferred, 69 refused (a 5xx to
    /// the message; a 5xx greeting defers, as Postfix `smtp_skip_5xx_greeting`).
    Send(send::Args),
    /// Serve SMTP with STARTTLS, enforcing the inbound connectors, into a Maildir.
    Serve(serve::Args),
    /// Answer Postfix's outbound TLS policy lookups (socketmap or tcp_table) for
    /// `smtp_tls_policy_maps`, or `--query` one next hop with its explanation.
    Policyd(policyd::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                ExitCode::from(common::EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Probe(args) => probe::run_probe(&args),
        Command::Send(args) => send::run_send(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Policyd(args) => policyd::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("mailtls: {message}");
            ExitCode::from(code)
        }
    }
}
