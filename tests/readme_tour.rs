//! The README's tour of the `mailtls` command runs as written (issue 16).
//!
//! Every fenced block of the section "A tour of the `mailtls` command" whose first line is
//! `# file: NAME` is written to `NAME` in a scratch directory; every `sh` block there must
//! start with a line that says what CI checks, visible to the reader:
//!
//! - `# ci: exit N, expect "TEXT"`: the block runs in the scratch directory under
//!   `bash -e`, with `mailtls` (this build) first on `PATH` and the variables of the peers'
//!   and lab's `KEY=VALUE` files (`MAILTLS_PEERS_ENV`, `MAILTLS_LAB_ENV`, and the
//!   `fingerprints.env` the peers name) in its environment; it must exit `N` and print
//!   `TEXT` (stdout or stderr).
//! - `# ci: not run: REASON`: an example that cannot run here (the public internet, a
//!   server that runs until stopped); the reason is printed.
//!
//! Without the peers or the lab, the blocks that use their variables are skipped loudly (and
//! fail in CI, `CI=true`); the others still run.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::real_env::{capture, located, missing, parse};

/// One fenced block of the tour.
#[derive(Debug)]
struct Block {
    /// The README line of its opening fence.
    line: usize,
    language: String,
    text: String,
}

/// What a `sh` block's first line asks for.
#[derive(Debug, PartialEq)]
enum Check {
    Run { exit: i32, expect: String },
    NotRun { reason: String },
}

fn tour_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut in_tour = false;
    let mut open: Option<Block> = None;
    for (n, line) in readme.lines().enumerate() {
        if open.is_none() && line.starts_with("## ") {
            in_tour = line.starts_with("## A tour of the `mailtls` command");
            continue;
        }
        if !in_tour {
            continue;
        }
        if let Some(fence) = line.strip_prefix("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => {
                    open = Some(Block {
                        line: n + 1,
                        language: fence.trim().to_owned(),
                        text: String::new(),
                    });
                }
            }
            continue;
        }
        if let Some(block) = &mut open {
            block.text.push_str(line);
            block.text.push('\n');
        }
    }
    assert!(open.is_none(), "README: a fence of the tour is not closed");
    blocks
}

fn check_of(block: &Block) -> Result<Check, String> {
    let first = block.text.lines().next().unwrap_or_default();
    let Some(rest) = first.strip_prefix("# ci: ") else {
        return Err(format!(
            "README.md:{}: a sh block of the tour must start with `# ci: exit N, expect \"TEXT\"` \
             or `# ci: not run: REASON`, not {first:?}",
            block.line
        ));
    };
    if let Some(reason) = rest.strip_prefix("not run: ") {
        return Ok(Check::NotRun {
            reason: reason.to_owned(),
        });
    }
    let parsed = rest.strip_prefix("exit ").and_then(|r| {
        let (code, expect) = r.split_once(", expect \"")?;
        Some((
            code.parse().ok()?,
            expect.strip_suffix('"')?.replace("\\\"", "\""),
        ))
    });
    match parsed {
        Some((exit, expect)) => Ok(Check::Run { exit, expect }),
        None => Err(format!(
            "README.md:{}: cannot read {first:?} (`# ci: exit N, expect \"TEXT\"`)",
            block.line
        )),
    }
}

fn file_of(block: &Block) -> Option<&str> {
    block.text.lines().next()?.strip_prefix("# file: ")
}

#[test]
fn the_marker_reader_reads_both_forms() {
    let block = |text: &str| Block {
        line: 1,
        language: "sh".into(),
        text: text.into(),
    };
    assert_eq!(
        check_of(&block(
            "# ci: exit 75, expect \"a \\\"b\\\" c\"\nmailtls x\n"
        )),
        Ok(Check::Run {
            exit: 75,
            expect: "a \"b\" c".into()
        })
    );
    assert_eq!(
        check_of(&block("# ci: not run: the public internet\n")),
        Ok(Check::NotRun {
            reason: "the public internet".into()
        })
    );
    assert!(check_of(&block("mailtls probe x\n")).is_err());
    assert!(check_of(&block("# ci: exit zero\n")).is_err());
}

/// The variables the examples may use: every `KEY=VALUE` of the peers', their fingerprints'
/// and the lab's files, when those run.
fn variables() -> (BTreeMap<String, String>, bool, bool) {
    let mut vars = BTreeMap::new();
    let peers = located("MAILTLS_PEERS_ENV", "target/peers/peers.env");
    let have_peers = peers.is_file();
    if have_peers {
        let env = parse(&peers);
        if let Some(fingerprints) = env.get("PEERS_FINGERPRINTS") {
            vars.extend(parse(Path::new(fingerprints)));
        }
        vars.extend(env);
    }
    let lab = located("MAILTLS_LAB_ENV", "target/lab/lab.env");
    let have_lab = lab.is_file();
    if have_lab {
        vars.extend(parse(&lab));
    }
    (vars, have_peers, have_lab)
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailtls-readme-tour-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_tour_example_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = tour_blocks(&readme);
    let dir = scratch();
    for block in &blocks {
        if let Some(name) = file_of(block) {
            std::fs::write(dir.join(name), &block.text).unwrap();
        }
    }
    let (vars, have_peers, have_lab) = variables();
    let bin = Path::new(env!("CARGO_BIN_EXE_mailtls"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    let mut failures = Vec::new();
    for block in blocks.iter().filter(|b| b.language == "sh") {
        let check = match check_of(block) {
            Ok(check) => check,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let (exit, expect) = match check {
            Check::Run { exit, expect } => (exit, expect),
            Check::NotRun { reason } => {
                eprintln!("README.md:{}: not run: {reason}", block.line);
                continue;
            }
        };
        let needs = [
            (
                block.text.contains("$PEERS_"),
                have_peers,
                "real peers",
                ".ci/peers",
                "target/peers",
                "MAILTLS_PEERS_ENV",
                "target/peers/peers.env",
            ),
            (
                block.text.contains("$LAB_"),
                have_lab,
                "the DNS + HTTPS lab",
                ".ci/lab",
                "target/lab",
                "MAILTLS_LAB_ENV",
                "target/lab/lab.env",
            ),
        ];
        let absent = needs.iter().find(|n| n.0 && !n.1);
        if let Some((_, _, what, scripts, state, var, default)) = absent {
            missing(
                &format!("README.md:{}", block.line),
                what,
                &located(var, default),
                scripts,
                state,
            );
            continue;
        }
        let mut cmd = Command::new("bash");
        cmd.arg("-e")
            .arg("-c")
            .arg(&block.text)
            .current_dir(&dir)
            .env("PATH", &path)
            .envs(&vars);
        let out = capture(&mut cmd, None);
        ran += 1;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.and_then(|s| s.code());
        if code != Some(exit) || !text.contains(&expect) {
            failures.push(format!(
                "README.md:{}: exit {code:?} (want {exit}), want {expect:?} in:\n{}\n---\n{text}",
                block.line, block.text
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    assert!(ran >= 3, "only {ran} tour examples ran");
}
