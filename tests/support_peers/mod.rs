//! Locate and drive the real mail peers that `.ci/peers/start.sh` runs on 127.0.0.1.
//!
//! An interop test starts with
//!
//! ```ignore
//! mod support_peers;
//! use support_peers::{Peers, PostfixServer};
//!
//! let Some(peers) = Peers::require("my_test") else { return };
//! ```
//!
//! which returns the peers when `peers.env` exists, fails the test loudly in CI when it does
//! not, and otherwise prints a loud SKIPPED line and returns `None`. The file is found through
//! the environment variable [`ENV_VAR`], else at `target/peers/peers.env` in the crate.
//!
//! Logs and Maildirs are shared by every test of a run: tests tell their mail and log lines
//! apart with a [`unique_token`] (put it in the subject, the sender or the recipient's local
//! part), or read only what a [`LogCursor`] has not seen yet.

// Each test target uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

// The same file as `support::real_env`; a test binary may include both modules.
#[allow(clippy::duplicate_mod)]
#[path = "../support/real_env.rs"]
mod real_env;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable naming the `peers.env` file written by `.ci/peers/start.sh`.
pub const ENV_VAR: &str = "MAILTLS_PEERS_ENV";

/// Where `peers.env` is looked for when [`ENV_VAR`] is unset, relative to the crate root.
pub const DEFAULT_ENV_PATH: &str = "target/peers/peers.env";

/// The name every good server certificate of the test PKI carries.
pub const SERVER_NAME: &str = "mx.partner.test";

/// How long a child process (swaks, openssl) may run before it is killed.
pub use real_env::TOOL_TIMEOUT;

/// The receiving Postfix instances, one per server certificate of the test PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostfixServer {
    /// `ecdsa` (2506): P-256 certificate for mx.partner.test via the intermediate.
    Ecdsa,
    /// `expired` (2502): certificate for mx.partner.test valid 2020-01-01..2021-01-01.
    Expired,
    /// `good` (2501): RSA 2048 certificate for mx.partner.test via the intermediate.
    Good,
    /// `milter` (2509): good certificate; consults the milter at [`Peers::milter_port`]
    /// (protocol 6, TLS macros for HELO and MAIL) and tempfails while none listens there.
    Milter,
    /// `notyet` (2503): certificate for mx.partner.test valid from 2090.
    NotYet,
    /// `plain` (2507): offers no STARTTLS.
    Plain,
    /// `reqcert` (2508): good certificate; requires TLS and a client certificate whose
    /// SHA-256 fingerprint is relay.partner.test's (client-relay); everything else is refused.
    ReqCert,
    /// `selfsigned` (2504): self-signed certificate for mx.partner.test.
    SelfSigned,
    /// `wrongname` (2505): certificate for wrong.example via the intermediate.
    WrongName,
}

impl PostfixServer {
    /// Every instance, in port order.
    pub const ALL: [PostfixServer; 9] = [
        PostfixServer::Good,
        PostfixServer::Expired,
        PostfixServer::NotYet,
        PostfixServer::SelfSigned,
        PostfixServer::WrongName,
        PostfixServer::Ecdsa,
        PostfixServer::Plain,
        PostfixServer::ReqCert,
        PostfixServer::Milter,
    ];

    /// The instance's name in start.sh and in `peers.env` keys (lower case).
    pub fn name(self) -> &'static str {
        match self {
            PostfixServer::Ecdsa => "ecdsa",
            PostfixServer::Expired => "expired",
            PostfixServer::Milter => "milter",
            PostfixServer::Good => "good",
            PostfixServer::NotYet => "notyet",
            PostfixServer::Plain => "plain",
            PostfixServer::ReqCert => "reqcert",
            PostfixServer::SelfSigned => "selfsigned",
            PostfixServer::WrongName => "wrongname",
        }
    }
}

/// One receiving peer: where it listens, where its mail lands, where it logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Name, for messages: `postfix-good`, `exim`.
    pub name: String,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// The Maildir every accepted message is delivered into.
    pub maildir: PathBuf,
    /// The peer's log file (Postfix maillog, Exim mainlog).
    pub log: PathBuf,
}

impl Instance {
    /// The socket address to connect to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:PORT`, as swaks' `--server` and openssl's `-connect` take it.
    pub fn server_arg(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The relaying Postfix: mail injected on its port is forwarded to 127.0.0.1 at the port and
/// with the TLS policy named by the recipient's domain (see [`Relay::recipient`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    /// Injection port on 127.0.0.1 (plain SMTP; mail from 127.0.0.0/8 is relayed).
    pub port: u16,
    /// The relay's maillog: `status=sent|deferred|bounced` and the TLS outcome per delivery.
    pub log: PathBuf,
    /// `postfix -c` directory, for `sendmail -C DIR` or `postqueue -c DIR -f`.
    pub config_dir: PathBuf,
    /// The transports a recipient may name: `none`, `may`, `encrypt`, `secure`, `fingerprint`
    /// and, except for `none`, each with `-relay`, `-evil` or `-untrusted` (the client
    /// certificate it presents).
    pub transports: Vec<String>,
}

impl Relay {
    /// The recipient address that makes the relay deliver to `127.0.0.1:port` through
    /// `transport`: `local@p<port>.<transport>.relay.test`. Ports 2501..=2549 are routed.
    pub fn recipient(&self, local: &str, transport: &str, port: u16) -> String {
        assert!(
            self.transports.iter().any(|t| t == transport),
            "unknown relay transport {transport:?}; known: {:?}",
            self.transports
        );
        format!("{local}@p{port}.{transport}.relay.test")
    }

    /// The injection address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:PORT` for swaks' `--server`.
    pub fn server_arg(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The relaying Exim (GnuTLS client): mail injected on its port for
/// `local@p<PORT>.exim.relay.test` goes to `127.0.0.1:PORT` with STARTTLS required, the
/// `client-relay` chain presented and the server verified (chain to `trust-anchors.pem`,
/// `mx.partner.test` among the leaf's DNS names, sent as SNI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EximRelay {
    /// Injection port on 127.0.0.1 (plain SMTP; mail from 127.0.0.0/8 is relayed).
    pub port: u16,
    /// Exim's mainlog: `=> rcpt ... X=TLS1.3:... CV=yes DN="..."` for a delivery,
    /// `** rcpt ... SMTP error ...` for a refusal, `== rcpt ... defer` for a retry.
    pub log: PathBuf,
    /// The generated configuration file, for `exim -C FILE`.
    pub config: PathBuf,
    /// The domain suffix after `p<PORT>.`: `exim.relay.test`.
    pub domain_suffix: String,
}

impl EximRelay {
    /// The recipient address that makes Exim deliver to `127.0.0.1:port`:
    /// `local@p<port>.exim.relay.test`. Ports 2501..=2549 are routed.
    pub fn recipient(&self, local: &str, port: u16) -> String {
        format!("{local}@p{port}.{}", self.domain_suffix)
    }

    /// `127.0.0.1:PORT` for swaks' `--server`.
    pub fn server_arg(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The running peers, as `peers.env` describes them.
#[derive(Clone, Debug)]
pub struct Peers {
    path: PathBuf,
    vars: BTreeMap<String, String>,
    fingerprints: BTreeMap<String, String>,
}

impl Peers {
    /// The `peers.env` path: [`ENV_VAR`] if set, else [`DEFAULT_ENV_PATH`] in the crate root.
    pub fn env_path() -> PathBuf {
        real_env::located(ENV_VAR, DEFAULT_ENV_PATH)
    }

    /// The peers, or `None` when `peers.env` does not exist. Panics on an unreadable file.
    pub fn load() -> Option<Peers> {
        let path = Self::env_path();
        if !path.exists() {
            return None;
        }
        let vars = real_env::parse(&path);
        let fingerprints = match vars.get("PEERS_FINGERPRINTS") {
            Some(fp) => real_env::parse(Path::new(fp)),
            None => BTreeMap::new(),
        };
        Some(Peers {
            path,
            vars,
            fingerprints,
        })
    }

    /// The peers, for a test that needs them. When they are not running: in CI (`CI` set to
    /// anything but `false`/`0`) the test panics loudly; elsewhere it prints a loud SKIPPED
    /// line naming `test` and returns `None`, and the test should return.
    pub fn require(test: &str) -> Option<Peers> {
        let peers = Self::load();
        if peers.is_none() {
            let path = Self::env_path();
            real_env::missing(test, "real peers", &path, ".ci/peers", "target/peers");
        }
        peers
    }

    /// The file the peers were loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A `peers.env` value; panics naming the key and the file when it is absent.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from {}", self.path.display()))
    }

    /// A value of the PKI's `fingerprints.env`, such as `CLIENT_RELAY_CERT_SHA256` (Postfix
    /// colon-hex) or `SERVER_GOOD_SPKI_SHA256_B64`.
    pub fn fingerprint(&self, key: &str) -> &str {
        self.fingerprints
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from {}", self.var("PEERS_FINGERPRINTS")))
    }

    /// A file of the test PKI by its stable name, e.g. `trust-anchors.pem`,
    /// `server-good.chain.pem`, `client-relay.key.pem` (tests/pki/README.md lists them).
    pub fn pki(&self, file: &str) -> PathBuf {
        Path::new(self.var("PEERS_PKI_DIR")).join(file)
    }

    /// A receiving Postfix instance.
    pub fn postfix(&self, server: PostfixServer) -> Instance {
        let key = server.name().to_ascii_uppercase();
        Instance {
            name: format!("postfix-{}", server.name()),
            port: self.port(&format!("PEERS_POSTFIX_{key}_PORT")),
            maildir: PathBuf::from(self.var(&format!("PEERS_POSTFIX_{key}_MAILDIR"))),
            log: PathBuf::from(self.var(&format!("PEERS_POSTFIX_{key}_LOG"))),
        }
    }

    /// The Exim (GnuTLS) server with the good certificate.
    pub fn exim(&self) -> Instance {
        Instance {
            name: "exim".to_owned(),
            port: self.port("PEERS_EXIM_PORT"),
            maildir: PathBuf::from(self.var("PEERS_EXIM_MAILDIR")),
            log: PathBuf::from(self.var("PEERS_EXIM_LOG")),
        }
    }

    /// The relaying Exim.
    pub fn exim_relay(&self) -> EximRelay {
        EximRelay {
            port: self.port("PEERS_EXIM_RELAY_PORT"),
            log: PathBuf::from(self.var("PEERS_EXIM_RELAY_LOG")),
            config: PathBuf::from(self.var("PEERS_EXIM_RELAY_CONFIG")),
            domain_suffix: self.var("PEERS_EXIM_RELAY_DOMAIN_SUFFIX").to_owned(),
        }
    }

    /// Inject one message from `from` into the Exim relay for delivery to 127.0.0.1:`port`,
    /// with `token` as the recipient's local part and the subject. Panics unless Exim
    /// accepted it. Returns the recipient, which Exim's mainlog lines name.
    pub fn exim_relay_inject(&self, from: &str, port: u16, token: &str) -> String {
        let relay = self.exim_relay();
        let rcpt = relay.recipient(token, port);
        let server = relay.server_arg();
        let subject = format!("Subject: {token}");
        let out = self.swaks(&[
            "--server", &server, "--from", from, "--to", &rcpt, "--header", &subject,
        ]);
        assert!(
            out.success() && out.text.contains("250 OK id="),
            "exim relay did not accept {rcpt}:\n{}",
            out.text
        );
        rcpt
    }

    /// The relaying Postfix.
    pub fn relay(&self) -> Relay {
        Relay {
            port: self.port("PEERS_RELAY_PORT"),
            log: PathBuf::from(self.var("PEERS_RELAY_LOG")),
            config_dir: PathBuf::from(self.var("PEERS_RELAY_CONFIG_DIR")),
            transports: self
                .var("PEERS_RELAY_TRANSPORTS")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Ports reserved for servers under test (`mailtls serve`); the relay routes to them.
    pub fn target_ports(&self) -> RangeInclusive<u16> {
        let spec = self.var("PEERS_TARGET_PORTS");
        let (a, b) = spec
            .split_once('-')
            .unwrap_or_else(|| panic!("PEERS_TARGET_PORTS={spec}: expected FIRST-LAST"));
        let parse = |s: &str| -> u16 {
            s.parse()
                .unwrap_or_else(|_| panic!("PEERS_TARGET_PORTS={spec}: bad port {s:?}"))
        };
        parse(a)..=parse(b)
    }

    /// Inject one message into the relay for delivery to 127.0.0.1:`port` through
    /// `transport`, with `token` as the recipient's local part and the subject (null sender,
    /// so failures bounce nowhere). Panics unless the relay queued it. Returns the recipient,
    /// which the relay's `to=<...>` log line names:
    ///
    /// ```ignore
    /// let log = LogCursor::at_end(&peers.relay().log);
    /// let rcpt = peers.relay_inject("secure-relay", 2530, &token);
    /// let line = log.wait_for(|l| l.contains(&rcpt) && l.contains("status="), timeout);
    /// ```
    pub fn relay_inject(&self, transport: &str, port: u16, token: &str) -> String {
        let relay = self.relay();
        let rcpt = relay.recipient(token, transport, port);
        let server = relay.server_arg();
        let subject = format!("Subject: {token}");
        let out = self.swaks(&[
            "--server", &server, "--from", "", "--to", &rcpt, "--header", &subject,
        ]);
        assert!(
            out.success() && out.text.contains("250 2.0.0 Ok: queued"),
            "relay did not queue {rcpt}:\n{}",
            out.text
        );
        rcpt
    }

    /// Where the milter instance looks for its milter (`inet:127.0.0.1:PORT`); a milter test
    /// listens here.
    pub fn milter_port(&self) -> u16 {
        self.port("PEERS_MILTER_PORT")
    }

    /// A port value of `peers.env`.
    pub fn port(&self, key: &str) -> u16 {
        let v = self.var(key);
        v.parse()
            .unwrap_or_else(|_| panic!("{key}={v} in {}: not a port", self.path.display()))
    }

    /// swaks with `args`, killed after [`TOOL_TIMEOUT`].
    pub fn swaks(&self, args: &[&str]) -> ToolOutput {
        run_tool(Command::new(self.var("PEERS_SWAKS")).args(args), None)
    }

    /// swaks with `args` against a slow server: swaks waits up to `timeout` for each reply
    /// and is killed after twice that.
    pub fn swaks_within(&self, args: &[&str], timeout: Duration) -> ToolOutput {
        let secs = timeout.as_secs().to_string();
        run_tool_within(
            Command::new(self.var("PEERS_SWAKS"))
                .args(["--timeout", &secs])
                .args(args),
            None,
            timeout * 2,
        )
    }

    /// The certificates `port` presents after STARTTLS, as PEM blocks, leaf first
    /// (`openssl s_client -showcerts`).
    pub fn presented_chain(&self, port: u16) -> Vec<String> {
        let connect = format!("127.0.0.1:{port}");
        let out = run_tool(
            Command::new(self.var("PEERS_OPENSSL")).args([
                "s_client",
                "-starttls",
                "smtp",
                "-showcerts",
                "-connect",
                &connect,
                "-servername",
                SERVER_NAME,
            ]),
            Some(b"QUIT\r\n"),
        );
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        out.text
            .split(BEGIN)
            .skip(1)
            .filter_map(|rest| rest.split(END).next())
            .map(|body| format!("{BEGIN}{body}{END}\n"))
            .collect()
    }

    /// `openssl s_client -starttls smtp -brief` against 127.0.0.1:`port` with SNI and
    /// hostname verification for [`SERVER_NAME`] against the test root, plus `extra`
    /// arguments; sends QUIT after the handshake.
    pub fn s_client_starttls(&self, port: u16, extra: &[&str]) -> ToolOutput {
        let anchors = self.pki("trust-anchors.pem");
        let connect = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(self.var("PEERS_OPENSSL"));
        cmd.args([
            "s_client",
            "-starttls",
            "smtp",
            "-brief",
            "-connect",
            &connect,
        ])
        .args(["-servername", SERVER_NAME, "-verify_hostname", SERVER_NAME])
        .arg("-CAfile")
        .arg(&anchors)
        .args(extra);
        run_tool(&mut cmd, Some(b"QUIT\r\n"))
    }
}

/// What a tool printed, with its exit status.
#[derive(Clone, Debug)]
pub struct ToolOutput {
    /// Exit code; `None` when killed (by a signal or after [`TOOL_TIMEOUT`]).
    pub code: Option<i32>,
    /// Standard output and standard error, in that order.
    pub text: String,
}

impl ToolOutput {
    /// Whether the tool exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole output unless it contains `needle`.
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.text.contains(needle),
            "expected {needle:?} in the tool's output (exit {:?}):\n{}",
            self.code,
            self.text
        );
        self
    }

    /// Panics with the whole output if it contains `needle`.
    pub fn assert_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.text.contains(needle),
            "did not expect {needle:?} in the tool's output (exit {:?}):\n{}",
            self.code,
            self.text
        );
        self
    }
}

/// Run `cmd` with `stdin` (or none), capture both outputs, kill it after [`TOOL_TIMEOUT`].
pub fn run_tool(cmd: &mut Command, stdin: Option<&[u8]>) -> ToolOutput {
    run_tool_within(cmd, stdin, TOOL_TIMEOUT)
}

/// [`run_tool`] with another bound (a peer under Valgrind answers slowly).
pub fn run_tool_within(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> ToolOutput {
    let run = real_env::capture_within(cmd, stdin, timeout);
    let mut text = String::from_utf8_lossy(&run.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&run.stderr));
    if run.status.is_none() {
        text.push_str(&format!(
            "
[killed after {timeout:?}: {cmd:?}]
"
        ));
    }
    ToolOutput {
        code: run.status.and_then(|s| s.code()),
        text,
    }
}

/// A token unique to this process and call, safe in a subject, a local part or a log search:
/// `TAG-<pid>-<nanos>-<n>` with only `[A-Za-z0-9-]`.
pub fn unique_token(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{nanos}-{n}", std::process::id())
}

/// One delivered message.
#[derive(Clone, Debug)]
pub struct Mail {
    /// Its file in the Maildir.
    pub path: PathBuf,
    /// Its full text, headers included.
    pub text: String,
}

/// Wait until a message satisfying `pred` appears in `maildir` (new/ or cur/), polling every
/// 50 ms; `None` after `timeout`.
pub fn wait_for_mail(
    maildir: &Path,
    pred: impl Fn(&str) -> bool,
    timeout: Duration,
) -> Option<Mail> {
    let deadline = Instant::now() + timeout;
    loop {
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if let Ok(bytes) = fs::read(&path) {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if pred(&text) {
                        return Some(Mail { path, text });
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whether any line of the log at `log` contains `needle` (a missing log contains nothing).
pub fn log_contains(log: &Path, needle: &str) -> bool {
    read_lossy(log).lines().any(|l| l.contains(needle))
}

/// The log lines that contain `needle`.
pub fn log_lines(log: &Path, needle: &str) -> Vec<String> {
    read_lossy(log)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Wait until a line of `log` satisfies `pred`, polling every 50 ms; the line, or `None` after
/// `timeout`.
pub fn wait_for_log(log: &Path, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
    LogCursor::at_start(log).wait_for(pred, timeout)
}

/// A position in a log: reads only what was written after it was made.
#[derive(Clone, Debug)]
pub struct LogCursor {
    path: PathBuf,
    offset: usize,
}

impl LogCursor {
    /// A cursor at the current end of `log`: later reads see only new lines.
    pub fn at_end(log: &Path) -> LogCursor {
        LogCursor {
            path: log.to_owned(),
            offset: fs::metadata(log).map(|m| m.len() as usize).unwrap_or(0),
        }
    }

    /// A cursor at the start of `log`.
    pub fn at_start(log: &Path) -> LogCursor {
        LogCursor {
            path: log.to_owned(),
            offset: 0,
        }
    }

    /// The text written since the cursor was made.
    pub fn since(&self) -> String {
        let all = fs::read(&self.path).unwrap_or_default();
        String::from_utf8_lossy(all.get(self.offset..).unwrap_or_default()).into_owned()
    }

    /// Wait until a line written since the cursor satisfies `pred`; `None` after `timeout`.
    pub fn wait_for(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.since().lines().find(|l| pred(l)) {
                return Some(line.to_owned());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Connect to `addr`, read the greeting, send EHLO and return the EHLO reply's lines
/// (`250-...`, `250 ...`). Only std::net; no TLS.
pub fn ehlo(addr: SocketAddr, helo_name: &str) -> Vec<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    let greeting = read_reply(&mut stream);
    assert!(
        greeting.last().is_some_and(|l| l.starts_with("220")),
        "greeting from {addr}: {greeting:?}"
    );
    stream
        .write_all(format!("EHLO {helo_name}\r\n").as_bytes())
        .expect("send EHLO");
    let reply = read_reply(&mut stream);
    let _ = stream.write_all(b"QUIT\r\n");
    reply
}

/// Read one (possibly multi-line) SMTP reply.
fn read_reply(stream: &mut TcpStream) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) => {}
            Ok(_) => panic!("connection closed inside a reply; got {lines:?}"),
            Err(e) => panic!("reading a reply: {e}; got {lines:?}"),
        }
        if byte[0] != b'\n' {
            current.push(byte[0]);
            continue;
        }
        let line = String::from_utf8_lossy(&current)
            .trim_end_matches('\r')
            .to_owned();
        current.clear();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return lines;
        }
    }
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// A `mailtls serve` child process on 127.0.0.1 with the peers' good server certificate,
/// their CA bundle for client certificates and a Maildir of its own, killed on drop; its
/// stderr JSON lines are collected.
pub struct Serve {
    child: Child,
    /// Where serve delivers.
    pub maildir: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts serve on `port` under the inbound connectors `connectors` (TOML), in a fresh
    /// temporary directory named after `tag`, and waits until it listens.
    pub fn start(peers: &Peers, port: u16, tag: &str, connectors: &str) -> Serve {
        let dir = std::env::temp_dir().join(format!("mailtls-serve-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let connectors_path = dir.join("connectors.toml");
        fs::write(&connectors_path, connectors).unwrap();
        let maildir = dir.join("Maildir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailtls"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--cert")
            .arg(peers.pki("server-good.chain.pem"))
            .arg("--key")
            .arg(peers.pki("server-good.key.pem"))
            .arg("--client-ca")
            .arg(peers.pki("ca-bundle.pem"))
            .arg("--connectors")
            .arg(&connectors_path)
            .arg("--maildir")
            .arg(&maildir)
            .args(["--hostname", SERVER_NAME])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        thread::spawn({
            let lines = Arc::clone(&lines);
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mailtls serve did not listen on {port}"
            );
            thread::sleep(Duration::from_millis(50));
        }
        Serve {
            child,
            maildir,
            lines,
        }
    }

    /// The first session log line (JSON) that mentions `needle`, waiting for it.
    pub fn session(&self, needle: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return serde_json::from_str(line).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no session line with {needle}: {:?}",
                self.lines.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
