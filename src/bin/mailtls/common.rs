//! What every subcommand shares: exit codes, errors, output, PEM loading, certificate
//! summaries.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use mailtls::cert::CertFacts;
use mailtls::tls::TlsIdentity;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The exit codes, for `--help` and the README: one table for every command (sysexits.h).
pub const EXIT_CODES: &str = "\
Exit codes (sysexits.h, the same for every command):
   0  done: delivered, policy satisfied, configuration without errors
  64  EX_USAGE        a bad flag or argument
  68  EX_NOHOST       the server's name resolves to no address
  69  EX_UNAVAILABLE  refused permanently (a 5xx to the message)
  70  EX_SOFTWARE     a demo scenario ended other than expected; an internal error
  74  EX_IOERR        reading stdin, listening or writing the Maildir failed
  75  EX_TEMPFAIL     deferred: TLS policy not satisfied, connection failed, 4xx, 5xx greeting,
                   --timeout reached
  78  EX_CONFIG       a configuration file is wrong (`mailtls check` lists every error)";

/// sysexits EX_USAGE: a bad flag or argument.
pub const EX_USAGE: u8 = 64;
/// sysexits EX_UNAVAILABLE: refused permanently.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits EX_TEMPFAIL: deferred.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits EX_CONFIG: a configuration file is wrong.
pub const EX_CONFIG: u8 = 78;
/// sysexits EX_NOHOST: the host name is unknown.
pub const EX_NOHOST: u8 = 68;
/// sysexits EX_IOERR.
pub const EX_IOERR: u8 = 74;
/// sysexits EX_SOFTWARE: something that should not happen did (a demo scenario that went
/// wrong).
pub const EX_SOFTWARE: u8 = 70;

/// Set once stdout is gone (a closed pipe: `mailtls demo | head -1`); later output is dropped
/// and the command ends with its own exit code instead of a panic.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// `-q`: nothing goes to stdout.
static QUIET: AtomicBool = AtomicBool::new(false);
/// `-v`: more detail.
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Sets the global `-q` and `-v`.
pub fn set_verbosity(quiet: bool, verbose: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
}

/// Whether `-v` was given.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Writes to stdout; a write error (a reader that went away) silences the rest.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) || QUIET.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_fmt(args)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        STDOUT_GONE.store(true, Ordering::Relaxed);
    }
}

/// The widest line of text output (help, probe, send, explain), in characters.
pub const COLUMNS: usize = 100;

/// Writes text (not JSON) to stdout, every line folded to [`COLUMNS`].
pub fn write_text(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    if text.lines().all(|l| l.chars().count() <= COLUMNS) {
        return write_out(format_args!("{text}"));
    }
    let mut folded = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        fold(body, COLUMNS, &mut folded);
        folded.push_str(newline);
    }
    write_out(format_args!("{folded}"));
}

/// Folds one line to `width` characters: at the last space that fits, else after the last
/// `:` or `,` (a fingerprint), else anywhere. Continuations hang under the value of a
/// `label:   value` line, or four columns in from the line's own indent.
pub fn fold(line: &str, width: usize, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    let indent = chars.iter().take_while(|c| **c == ' ').count();
    let hang = value_column(&chars, indent)
        .unwrap_or(indent + 4)
        .min(width / 2);
    let mut start = 0;
    let mut first = true;
    loop {
        let room = if first { width } else { width - hang };
        let rest = chars.get(start..).unwrap_or_default();
        if !first {
            out.extend(core::iter::repeat_n(' ', hang));
        }
        if rest.len() <= room {
            out.extend(rest);
            return;
        }
        let window = rest.get(..=room).unwrap_or(rest);
        let cut = match window
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|&i| i > if first { hang.max(indent) } else { 0 })
        {
            Some(space) => (space, space + 1),
            None => match window
                .iter()
                .take(room)
                .rposition(|c| *c == ':' || *c == ',')
            {
                Some(mark) if mark > 0 => (mark + 1, mark + 1),
                _ => (room, room),
            },
        };
        out.extend(rest.get(..cut.0).unwrap_or_default());
        out.push('\n');
        start += cut.1;
        while chars.get(start) == Some(&' ') {
            start += 1;
        }
        first = false;
    }
}

/// The column where the value of a `label:   value` line starts (a label of one or two
/// words, a colon, then spaces), when the line is one.
fn value_column(chars: &[char], indent: usize) -> Option<usize> {
    let colon = chars.iter().skip(indent).take(24).position(|c| *c == ':')? + indent;
    let after = chars.get(colon + 1..)?;
    let spaces = after.iter().take_while(|c| **c == ' ').count();
    (spaces >= 1 && colon + 1 + spaces < 40).then_some(colon + 1 + spaces)
}

/// Writes one line to stderr (a log line, a warning); a closed stderr is not an error.
pub fn write_err(line: std::fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// `print!` that survives a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::common::write_out(format_args!($($arg)*)) };
}

/// `println!` that survives a closed stdout.
macro_rules! outln {
    () => { $crate::common::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::common::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for text output (not JSON): lines folded to [`COLUMNS`].
macro_rules! text {
    ($($arg:tt)*) => { $crate::common::write_text(format_args!($($arg)*)) };
}

/// `println!` for text output (not JSON): lines folded to [`COLUMNS`].
macro_rules! textln {
    () => { $crate::common::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::common::write_text(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that survives a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::common::write_err(format_args!($($arg)*)) };
}

/// A subcommand that cannot go on: the exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EX_USAGE,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self {
            code: EX_CONFIG,
            message: message.into(),
        }
    }

    pub fn io(message: impl Into<String>) -> Self {
        Self {
            code: EX_IOERR,
            message: message.into(),
        }
    }
}

/// `text` between double quotes, with quotes, backslashes and control characters escaped, so
/// a value from the command line shows exactly what was given.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", text.escape_debug())
}

/// Reads a configuration file, saying which one failed.
pub fn read_config(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("{what} {}: {e}", path.display())))
}

/// Every certificate in a PEM file, in order.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Failure::config(format!("certificate file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Failure::config(format!(
            "certificate file {}: no CERTIFICATE block found",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Failure::config(format!("key file {}: {e}", path.display())))
}

/// A chain and its key, checked to belong together.
pub fn load_identity(cert: &Path, key: &Path) -> Result<TlsIdentity, Failure> {
    TlsIdentity::from_der(load_certs(cert)?, load_key(key)?).map_err(|e| {
        Failure::config(format!(
            "certificate {} with key {}: {e}",
            cert.display(),
            key.display()
        ))
    })
}

/// What a person wants to know about one certificate (the JSON `peer_chain` items). Times
/// are RFC 3339; fingerprints are colon hex, as Postfix prints and takes them.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// `DNS:name` and `IP:address`, as `openssl x509 -text` prints them.
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub sha256: String,
    pub spki_sha256: String,
}

/// Summarises a DER certificate (an unreadable one keeps only its fingerprint).
pub fn summarize(der: &[u8]) -> CertSummary {
    match CertFacts::from_der(der) {
        Ok(facts) => summary_of(&facts),
        Err(_) => CertSummary {
            sha256: colon_hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref()),
            ..CertSummary::default()
        },
    }
}

/// Summarises what the library read from a certificate.
pub fn summary_of(facts: &CertFacts) -> CertSummary {
    CertSummary {
        subject: facts.subject.clone(),
        issuer: facts.issuer.clone(),
        sans: facts
            .dns_names
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(facts.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
            .collect(),
        not_before: facts.not_before.rfc3339(),
        not_after: facts.not_after.rfc3339(),
        sha256: colon_hex(&facts.fingerprints.sha256),
        spki_sha256: colon_hex(&facts.fingerprints.spki_sha256),
    }
}

/// The subject of the first certificate in a chain, if it parses.
pub fn subject_of(chain: &[CertificateDer<'static>]) -> Option<String> {
    Some(CertFacts::from_der(chain.first()?.as_ref()).ok()?.subject)
}

/// `AB:CD:...` upper-case hex, the form Postfix prints and takes.
pub fn colon_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}
