//! The `mailtls` admin command: demo, probe, send, serve, explain.
//!
//! Exit codes follow sysexits: 0 success, 64 usage, 69 refused permanently, 75 deferred,
//! 78 configuration, 1 a policy not satisfied (probe) or a demo scenario that went wrong.

#![allow(unreachable_pub)]

// Parts of it serve the client commands that land with the client session.
#[allow(dead_code)]
#[path = "mailtls/common.rs"]
mod common;
#[path = "mailtls/explain.rs"]
mod explain;
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
    /// Plan the TLS policy for a destination and explain every rule that fired (no network).
    Explain(explain::Args),
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
        Command::Explain(args) => explain::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("mailtls: {message}");
            ExitCode::from(code)
        }
    }
}
