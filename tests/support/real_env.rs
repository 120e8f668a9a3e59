//! The real environments the CI scripts start for the tests (the mail peers of .ci/peers, the
//! DNS + HTTPS lab of .ci/lab): their `KEY=VALUE` files (`peers.env`, `lab.env`), what a test
//! does when one is missing, and running their command-line tools with a time limit. Used by
//! `support::lab` and, through `#[path]`, by `support_peers`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a tool (swaks, openssl, delv, kdig, curl) may run before it is killed.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

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

/// What a tool wrote, and how it ended.
pub struct Captured {
    /// Its exit status; `None` when killed after [`TOOL_TIMEOUT`].
    pub status: Option<ExitStatus>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Runs `cmd` with `stdin` (or none), capturing both outputs; kills it after [`TOOL_TIMEOUT`].
pub fn capture(cmd: &mut Command, stdin: Option<&[u8]>) -> Captured {
    capture_within(cmd, stdin, TOOL_TIMEOUT)
}

/// [`capture`] with another bound (a peer under Valgrind answers slowly).
pub fn capture_within(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Captured {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A peer that closes early makes this fail; the output tells the story.
        let _ = pipe.write_all(bytes);
    }
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .unwrap_or_else(|e| panic!("wait for {cmd:?}: {e}"))
        {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let join = |r: Option<thread::JoinHandle<Vec<u8>>>| {
        r.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    Captured {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    }
}

/// Reads `pipe` to its end on a thread of its own (so neither pipe can fill and stall the tool).
fn drain<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}
