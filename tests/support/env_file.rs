//! The `KEY=VALUE` files the CI scripts write for the tests (`peers.env` by .ci/peers,
//! `lab.env` by .ci/lab), and what a test does when the environment they describe is missing.
//! Used by `support::lab` and, through `#[path]`, by `support_peers`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The file named by the environment variable `var`, else `default` in the crate root.
pub fn located(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(default),
    }
}

/// The file's `KEY=VALUE` lines (no quoting; blank lines and `#` comments skipped). Panics,
/// naming the file, when it cannot be read or a line is not `KEY=VALUE`.
pub fn parse(path: &Path) -> BTreeMap<String, String> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not KEY=VALUE: {l}", path.display()));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// `test` needs `what` (e.g. "real peers"), described by the missing file `path` and started
/// by the scripts in `scripts` (e.g. ".ci/peers") into `state` (e.g. "target/peers"). In CI
/// (`CI` set to anything but `false`/`0`) this panics loudly; elsewhere it prints a loud
/// SKIPPED line, and the test should return.
pub fn missing(test: &str, what: &str, path: &Path, scripts: &str, state: &str) {
    let ci = std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false);
    assert!(
        !ci,
        "\n\n*** {test}: {what} not running in CI: {} is missing. \
         .ci/run must run {scripts}/install.sh and {scripts}/start.sh first. ***\n",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPED {test}: {what} not running ({} missing); \
         run {scripts}/install.sh && {scripts}/start.sh {state} ***\n",
        path.display()
    );
}
