//! The `mailtls` admin command: demo, probe, send, serve, explain.
//!
//! Exit codes follow sysexits, one table for every command: [`common::EXIT_CODES`].

#![allow(unreachable_pub)]

#[macro_use]
#[path = "mailtls/common.rs"]
mod common;
#[path = "mailtls/check.rs"]
mod check;
#[path = "mailtls/demo.rs"]
mod demo;
#[path = "mailtls/explain.rs"]
mod explain;
#[path = "mailtls/outbound.rs"]
mod outbound;
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
#[command(name = "mailtls", version, about, after_help = common::EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check connector and policy-map files: every error and warning at once, each with its
    /// file, line and column (like `postfix check`). Exit 0 without errors, 78 with.
    Check(check::Args),
    /// Run both ends in-process with fresh certificates and show what each policy does.
    Demo(demo::Args),
    /// Plan the TLS policy for a destination and explain every rule that fired (no network).
    Explain(explain::Args),
    /// Connect to a server, STARTTLS as the policy says, and show what it presents and
    /// whether the policy is satisfied (like posttls-finger). Exit 0 when satisfied, 75 when
    /// not (the delivery would be deferred).
    Probe(probe::Args),
    /// Send a message read from stdin: exit 0 delivered, 75 deferred, 69 refused (a 5xx to
    /// the message; a 5xx greeting defers, as Postfix `smtp_skip_5xx_greeting`).
    Send(send::Args),
    /// Serve SMTP with STARTTLS, enforcing the inbound connectors, into a Maildir.
    Serve(serve::Args),
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
        Command::Check(args) => check::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Probe(args) => probe::run_probe(&args),
        Command::Send(args) => send::run_send(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            errln!("mailtls: {message}");
            ExitCode::from(code)
        }
    }
}
