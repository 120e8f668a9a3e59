//! The `mailtls` admin command: demo, probe, send, serve, explain, policyd.
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
#[path = "mailtls/discovery.rs"]
mod discovery;
#[path = "mailtls/explain.rs"]
mod explain;
#[path = "mailtls/outbound.rs"]
mod outbound;
#[path = "mailtls/policyd.rs"]
mod policyd;
#[path = "mailtls/probe.rs"]
mod probe;
#[path = "mailtls/report.rs"]
mod report;
#[path = "mailtls/send.rs"]
mod send;
#[path = "mailtls/serve.rs"]
mod serve;
#[path = "mailtls/state.rs"]
mod state;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use common::Failure;

/// Transport TLS for mail servers: try it, probe a peer, send, serve, explain a decision,
/// check the configuration.
#[derive(Debug, Parser)]
#[command(name = "mailtls", about, after_help = common::EXIT_CODES, max_term_width = 100)]
struct Cli {
    /// More detail: the rules behind a probe or send verdict, the demo's traces.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Nothing on stdout: the exit code says how it went (warnings and errors still go to
    /// stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Give up after this many seconds, exit 75 (every command but serve).
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<u64>,
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
    /// Answer Postfix's outbound TLS policy lookups (socketmap or tcp_table) for
    /// `smtp_tls_policy_maps`, or `--query` one next hop with its explanation.
    Policyd(policyd::Args),
    /// Send the TLS-RPT reports a state store holds (RFC 8460): each policy domain's
    /// finished days, to every `rua` of its `_smtp._tls` record, each destination once.
    /// Exit 0 when nothing is left to retry, 75 when a destination failed (retried next run).
    Report(report::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from this command's definition.
    Man,
}

/// `mailtls 0.1.0 (rustls 0.23.x, ring 0.17.x)`: the versions an interoperability report
/// needs, read from the Cargo.lock the binary was built with.
fn version() -> &'static str {
    const LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"));
    let of = |name: &str| {
        let header = format!("name = \"{name}\"\nversion = \"");
        LOCK.split_once(&header)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map_or("unknown", |(version, _)| version)
    };
    let text = format!(
        "{} (rustls {}, ring {})",
        env!("CARGO_PKG_VERSION"),
        of("rustls"),
        of("ring")
    );
    Box::leak(text.into_boxed_str())
}

/// The command's definition, with its version.
fn definition() -> clap::Command {
    Cli::command().version(version())
}

/// Output a generator wrote into a buffer, through the closed-pipe-safe writer.
fn print_generated(generate: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> u8 {
    let mut buffer = Vec::new();
    match generate(&mut buffer) {
        Ok(()) => {
            out!("{}", String::from_utf8_lossy(&buffer));
            0
        }
        Err(e) => {
            errln!("mailtls: {e}");
            common::EX_IOERR
        }
    }
}

fn main() -> ExitCode {
    let parsed = definition()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
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
    common::set_verbosity(cli.quiet, cli.verbose);
    if let Some(seconds) = cli.timeout {
        if matches!(cli.command, Command::Serve(_)) {
            errln!("mailtls: --timeout does not apply to serve (it runs until stopped)");
            return ExitCode::from(common::EX_USAGE);
        }
        // A watchdog: a peer that stalls cannot hold the command past the deadline.
        let _ = std::thread::Builder::new()
            .name("timeout".into())
            .spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(seconds));
                errln!("mailtls: timed out after {seconds} s (--timeout)");
                std::process::exit(i32::from(common::EX_TEMPFAIL));
            });
    }
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Probe(args) => probe::run_probe(&args),
        Command::Send(args) => send::run_send(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Completions { shell } => Ok(print_generated(|buffer| {
            clap_complete::generate(shell, &mut definition(), "mailtls", buffer);
            Ok(())
        })),
        Command::Man => Ok(print_generated(|buffer| {
            clap_mangen::Man::new(definition()).render(buffer)
        })),
        Command::Policyd(args) => policyd::run(&args),
        Command::Report(args) => report::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            errln!("mailtls: {message}");
            ExitCode::from(code)
        }
    }
}
