//! Locate the DNS + HTTPS lab that `.ci/lab/start.sh` runs on 127.0.0.1 (see .ci/lab/README.md).
//!
//! A test that needs the lab starts with
//!
//! ```ignore
//! mod support;
//! use support::lab::{Lab, Zone};
//!
//! let Some(lab) = Lab::require("my_test") else { return };
//! let resolver = lab.dns();                 // knotd, authoritative, 127.0.0.1:2550
//! let anchor = lab.trust_anchor();          // `test. IN DNSKEY 257 3 13 ...`
//! let domain = lab.zone(Zone::Valid);       // "partner.test"
//! ```
//!
//! [`Lab::require`] returns the lab when `lab.env` exists, fails the test loudly in CI when it
//! does not, and otherwise prints a loud SKIPPED line and returns `None`. The file is found
//! through [`ENV_VAR`], else at [`DEFAULT_ENV_PATH`] in the crate. Only `std` is used here, so
//! every test binary can include it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::real_env;

/// Environment variable naming the `lab.env` file written by `.ci/lab/start.sh`.
pub const ENV_VAR: &str = "MAILTLS_LAB_ENV";

/// Where `lab.env` is looked for when [`ENV_VAR`] is unset, relative to the crate root.
pub const DEFAULT_ENV_PATH: &str = "target/lab/lab.env";

/// The DNSSEC zones, children of the signed parent `test.`; each holds `MX 10 mx.<zone>`,
/// `mx.<zone> A 127.0.0.1`, `mta-sts.<zone> A 127.0.0.1`, `_25._tcp.mx.<zone> TLSA 3 1 1`
/// (the lab SMTP server's SPKI), `_mta-sts` and `_smtp._tls` TXT records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// `partner.test`: signed (NSEC), DS in the parent: every answer secure.
    Valid,
    /// `nsec3.test`: signed with NSEC3 (no salt, 0 iterations), DS in the parent: secure.
    Nsec3,
    /// `plain.test`: unsigned; the parent's signed NSEC proves there is no DS: insecure.
    Insecure,
    /// `bogus.test`: signed, DS in the parent, every RRSIG expired (2020): bogus.
    Bogus,
    /// `badsig.test`: valid, except the TLSA rdata was changed after signing: only the TLSA
    /// RRset is bogus.
    BadSig,
}

impl Zone {
    /// Every zone.
    pub const ALL: [Zone; 5] = [
        Zone::Valid,
        Zone::Nsec3,
        Zone::Insecure,
        Zone::Bogus,
        Zone::BadSig,
    ];

    /// The `lab.env` key holding the zone's name.
    pub fn env_key(self) -> &'static str {
        match self {
            Zone::Valid => "LAB_DOMAIN_VALID",
            Zone::Nsec3 => "LAB_DOMAIN_NSEC3",
            Zone::Insecure => "LAB_DOMAIN_INSECURE",
            Zone::Bogus => "LAB_DOMAIN_BOGUS",
            Zone::BadSig => "LAB_DOMAIN_BADSIG",
        }
    }
}

/// The MTA-STS cases: domains in the unsigned zone `sts.test`, each with `MX 10 mx.<domain>`,
/// `mx.<domain>` and `mta-sts.<domain>` at 127.0.0.1, `_mta-sts` and `_smtp._tls` TXT, and a
/// policy (or its absence) at `https://mta-sts.<domain>:LAB_STS_PORT/.well-known/mta-sts.txt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsCase {
    /// `mode: enforce`, `mx: mx.<domain>` and `mx: *.<domain>`: the MX matches.
    Enforce,
    /// `mode: enforce`, `mx: mx.elsewhere.example`: the MX does not match.
    WrongMx,
    /// `mode: testing`, `mx: mx.elsewhere.example`: a would-be failure to report.
    Testing,
    /// `mode: none`.
    None,
    /// `mode: enforcing`, no `mx`, `max_age: soon`: not a valid policy.
    Malformed,
    /// 301 to the enforce case's policy on the lab port (must not be followed).
    Redirect,
    /// A valid policy padded with `mx` lines to over 64 KiB.
    Oversized,
    /// A valid policy served as `text/html`.
    MediaType,
    /// A valid policy behind a certificate for `mta-sts.elsewhere.example` (trusted chain).
    WrongCert,
    /// No policy: 404.
    NotFound,
    /// A valid policy sent only after `LAB_STS_SLOW_SECONDS` (30 s by default).
    Slow,
}

impl StsCase {
    /// Every case.
    pub const ALL: [StsCase; 11] = [
        StsCase::Enforce,
        StsCase::WrongMx,
        StsCase::Testing,
        StsCase::None,
        StsCase::Malformed,
        StsCase::Redirect,
        StsCase::Oversized,
        StsCase::MediaType,
        StsCase::WrongCert,
        StsCase::NotFound,
        StsCase::Slow,
    ];

    /// The `lab.env` key holding the case's domain.
    pub fn env_key(self) -> &'static str {
        match self {
            StsCase::Enforce => "LAB_DOMAIN_STS_ENFORCE",
            StsCase::WrongMx => "LAB_DOMAIN_STS_WRONGMX",
            StsCase::Testing => "LAB_DOMAIN_STS_TESTING",
            StsCase::None => "LAB_DOMAIN_STS_NONE",
            StsCase::Malformed => "LAB_DOMAIN_STS_MALFORMED",
            StsCase::Redirect => "LAB_DOMAIN_STS_REDIRECT",
            StsCase::Oversized => "LAB_DOMAIN_STS_OVERSIZED",
            StsCase::MediaType => "LAB_DOMAIN_STS_MEDIATYPE",
            StsCase::WrongCert => "LAB_DOMAIN_STS_WRONGCERT",
            StsCase::NotFound => "LAB_DOMAIN_STS_NOTFOUND",
            StsCase::Slow => "LAB_DOMAIN_STS_SLOW",
        }
    }
}

/// The running lab, as described by its `lab.env`.
#[derive(Clone, Debug)]
pub struct Lab {
    path: PathBuf,
    vars: BTreeMap<String, String>,
}

impl Lab {
    /// The `lab.env` path: [`ENV_VAR`] if set, else [`DEFAULT_ENV_PATH`] in the crate root.
    pub fn env_path() -> PathBuf {
        real_env::located(ENV_VAR, DEFAULT_ENV_PATH)
    }

    /// The lab, or `None` when `lab.env` does not exist. Panics on an unreadable file.
    pub fn load() -> Option<Lab> {
        let path = Self::env_path();
        if !path.exists() {
            return None;
        }
        let vars = real_env::parse(&path);
        Some(Lab { path, vars })
    }

    /// The lab, for a test that needs it. When it is not running: in CI (`CI` set to anything
    /// but `false`/`0`) the test panics loudly; elsewhere it prints a loud SKIPPED line naming
    /// `test` and returns `None`, and the test should return.
    pub fn require(test: &str) -> Option<Lab> {
        let lab = Self::load();
        if lab.is_none() {
            let path = Self::env_path();
            real_env::missing(test, "the DNS + HTTPS lab", &path, ".ci/lab", "target/lab");
        }
        lab
    }

    /// The file the lab was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key`; panics naming the file when it is missing.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{}: no {key}", self.path.display()))
    }

    /// The value of `key` as a path.
    pub fn file(&self, key: &str) -> PathBuf {
        PathBuf::from(self.var(key))
    }

    /// The value of `key` as a port.
    pub fn port(&self, key: &str) -> u16 {
        self.var(key)
            .parse()
            .unwrap_or_else(|e| panic!("{}: {key} is not a port: {e}", self.path.display()))
    }

    fn addr(&self, key: &str) -> SocketAddr {
        self.var(key)
            .parse()
            .unwrap_or_else(|e| panic!("{}: {key} is not ADDR:PORT: {e}", self.path.display()))
    }

    /// knotd, authoritative for `test.` and every lab zone (UDP and TCP): `LAB_DNS`.
    pub fn dns(&self) -> SocketAddr {
        self.addr("LAB_DNS")
    }

    /// unbound, validating against the lab trust anchor (AD when secure, SERVFAIL when bogus):
    /// `LAB_RESOLVER`.
    pub fn resolver(&self) -> SocketAddr {
        self.addr("LAB_RESOLVER")
    }

    /// The `test.` key-signing key as one zone-file line `test. IN DNSKEY 257 3 13 ...`:
    /// `LAB_TRUST_ANCHOR`.
    pub fn trust_anchor(&self) -> PathBuf {
        self.file("LAB_TRUST_ANCHOR")
    }

    /// The same key as a BIND `trust-anchors { ... };` clause, for `delv -a`.
    pub fn trust_anchor_bind(&self) -> PathBuf {
        self.file("LAB_TRUST_ANCHOR_BIND")
    }

    /// The HTTPS port serving MTA-STS policies: `LAB_STS_PORT`.
    pub fn sts_port(&self) -> u16 {
        self.port("LAB_STS_PORT")
    }

    /// The `id` of every `_mta-sts` TXT record of this start: `LAB_STS_ID`.
    pub fn sts_id(&self) -> &str {
        self.var("LAB_STS_ID")
    }

    /// The lab Postfix whose certificate names every lab MX and matches every lab TLSA
    /// record: `LAB_SMTP_PORT`.
    pub fn smtp_port(&self) -> u16 {
        self.port("LAB_SMTP_PORT")
    }

    /// The lab Postfix whose certificate matches neither (trusted chain, name
    /// `wrong.lab.example`): `LAB_SMTP_WRONG_PORT`.
    pub fn smtp_wrong_port(&self) -> u16 {
        self.port("LAB_SMTP_WRONG_PORT")
    }

    /// Where the lab Postfix on [`Lab::smtp_port`] delivers: `LAB_SMTP_MAILDIR`.
    pub fn smtp_maildir(&self) -> PathBuf {
        self.file("LAB_SMTP_MAILDIR")
    }

    /// The log of the lab Postfix on [`Lab::smtp_port`]: `LAB_SMTP_LOG`.
    pub fn smtp_log(&self) -> PathBuf {
        self.file("LAB_SMTP_LOG")
    }

    /// The lower-case hex SHA-256 of the lab SMTP server's SPKI (its TLSA 3 1 1 data).
    pub fn smtp_spki_sha256(&self) -> &str {
        self.var("LAB_SMTP_SPKI_SHA256")
    }

    /// A system-style CA file holding the test root: `LAB_CA_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.file("LAB_CA_FILE")
    }

    /// The name of a DNSSEC zone.
    pub fn zone(&self, zone: Zone) -> &str {
        self.var(zone.env_key())
    }

    /// `nullmx.partner.test`: `MX 0 .` (RFC 7505 null MX), secure.
    pub fn null_mx_domain(&self) -> &str {
        self.var("LAB_DOMAIN_NULL_MX")
    }

    /// `implicit.partner.test`: no MX, an A record and its own `_25._tcp` TLSA (the implicit
    /// MX, RFC 5321 section 5.1), secure.
    pub fn implicit_mx_domain(&self) -> &str {
        self.var("LAB_DOMAIN_IMPLICIT_MX")
    }

    /// `cname.partner.test`: `MX 10 mxalias.partner.test`, a CNAME to `mx.partner.test`; the
    /// TLSA record is at the expanded name only (RFC 7672 section 2.2.2), secure.
    pub fn cname_mx_domain(&self) -> &str {
        self.var("LAB_DOMAIN_CNAME_MX")
    }

    /// The domain of an MTA-STS case.
    pub fn sts_domain(&self, case: StsCase) -> &str {
        self.var(case.env_key())
    }

    /// Runs `program` with `args`, killing it after [`real_env::TOOL_TIMEOUT`].
    pub fn tool(program: &str, args: &[&str]) -> ToolOutput {
        run_tool(Command::new(program).args(args))
    }
}

/// What a tool printed and how it ended.
#[derive(Clone, Debug)]
pub struct ToolOutput {
    /// The command line, for messages.
    pub command: String,
    /// Its exit status (`None`: killed after [`real_env::TOOL_TIMEOUT`]).
    pub status: Option<ExitStatus>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl ToolOutput {
    /// Standard output then standard error.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The exit code, `None` when killed.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Runs `cmd` with stdin closed, collecting its output; kills it after [`real_env::TOOL_TIMEOUT`].
pub fn run_tool(cmd: &mut Command) -> ToolOutput {
    let command = format!("{cmd:?}");
    let run = real_env::capture(cmd, None);
    ToolOutput {
        command,
        status: run.status,
        stdout: String::from_utf8_lossy(&run.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
    }
}
