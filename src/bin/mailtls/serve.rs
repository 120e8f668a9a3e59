//! `mailtls serve`: an inbound SMTP server with STARTTLS that stores accepted mail in a
//! Maildir and logs one JSON line per session on stderr.
//!
//! Client certificates are asked for when `--client-ca` or an inbound connector needs them;
//! what an unverified one means is the connectors' business alone (an MX must take mail from
//! ordinary MTAs with self-signed certificates). Every JSON line has an RFC 3339 `time`.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mailtls::cert::{self, ClientCertRequest, OnFailure, Outcome, TrustLevel};
use mailtls::io::{tokio as aio, Answer, ConnectionLimits, ListenerNotice, SessionEnd};
use mailtls::policy::connector::Connectors;
use mailtls::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundAction, InboundFacts, InboundTls, Verification,
};
use mailtls::policy::ladder::Rung;
use mailtls::policy::Status;
use mailtls::server::{ClientAuth, ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{Code, EnhancedCode, Reply};
use mailtls::tls::{alert_name, TlsFacts, TlsFailure};

use crate::common::{load_certs, load_identity, subject_of, Failure};
use crate::outbound::load_connectors;

/// Maildir `tmp/` files older than this were left by a crash or a full disk: removed (the
/// Maildir convention's 36 hours).
const STALE_TMP: Duration = Duration::from_secs(36 * 60 * 60);
/// How often `tmp/` is swept while serving.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);
/// The write buffer of a message on its way to `tmp/`.
const WRITE_BUFFER: usize = 32 * 1024;
/// How many refusals and deliveries one session's log line lists (the counts are complete).
const LOG_LIST_MAX: usize = 32;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on, e.g. 127.0.0.1:2530 (port 0: any free port, logged).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// The server certificate chain (PEM, end entity first).
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// The server's private key (PEM).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// Inbound connectors (TOML): partner TLS requirements, certificate names, sender domains.
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    /// Ask clients for a certificate and verify it against these CAs (PEM).
    #[arg(long, value_name = "PEM")]
    client_ca: Option<PathBuf>,
    /// The Maildir accepted mail goes to (created if missing; files land in new/).
    #[arg(long, value_name = "DIR")]
    maildir: PathBuf,
    /// The host name in the greeting and EHLO reply.
    #[arg(long, value_name = "NAME", default_value = "mailtls.localhost")]
    hostname: String,
    /// Refuse everything but EHLO, STARTTLS, NOOP and QUIT before TLS (RFC 3207 §4).
    #[arg(long)]
    require_tls: bool,
    /// Exit after this many sessions (default: serve forever).
    #[arg(long, value_name = "N")]
    max_sessions: Option<u64>,
    /// The most sessions served at once; more connections are answered 421 4.7.0.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = at_least_one)]
    max_connections: usize,
    /// The most sessions served at once for one client address; more are answered 421 4.7.0.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one)]
    max_per_client: usize,
    /// The listen backlog: connections the kernel queues while the server is busy.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = at_least_one)]
    backlog: usize,
    /// The largest message in octets, announced as SIZE (default 37748736, 36 MiB).
    #[arg(long, value_name = "OCTETS")]
    max_message_size: Option<u64>,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let identity = load_identity(&args.cert, &args.key)?;
    let maildir = Maildir::create(&args.maildir)?;
    maildir.sweep_and_log();
    let mut connectors = match &args.connectors {
        Some(path) => Some(Arc::new(load_connectors(path)?)),
        None => None,
    };
    for warning in startup_warnings(args, connectors.as_deref()) {
        log_json(serde_json::json!({ "warning": warning }));
    }
    if connectors.is_none() && args.client_ca.is_some() {
        // An (empty) inbound policy decides what an unverified certificate means: nothing.
        connectors = Some(Arc::new(Connectors::default()));
    }
    let mut tls = ServerTls::new(identity, Rung::Modern);
    if let Some(path) = &args.client_ca {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::config(format!("--client-ca {}: {e}", path.display())))?;
        let anchors = Arc::new(
            cert::TrustAnchors::from_pem(&pem)
                .map_err(|e| Failure::config(format!("--client-ca {}: {e}", path.display())))?,
        );
        tls.client_auth = Some(ClientAuth {
            certificate: ClientCertRequest::Optional,
            requirement: cert::CertificateCheck::Chain {
                anchors: Arc::clone(&anchors),
            },
            // The connectors decide what an unverified certificate means.
            on_failure: OnFailure::Continue,
            hints: Some(anchors),
        });
    }
    let mut config = ServerConfig::new(args.hostname.clone());
    config.tls = Some(tls);
    // The session asks for client certificates when a connector names one, and enforces
    // the connectors' TLS requirements per client address.
    config.connectors = connectors.clone();
    config.require_tls = args.require_tls;
    if let Some(size) = args.max_message_size {
        config.limits.max_message_size = size;
    }
    let config = Arc::new(config);
    let listener = listen(args.listen, args.backlog)?;
    let local = listener.local_addr().unwrap_or(args.listen);
    // Sessions are tasks on a few threads, not a thread each: hundreds of concurrent
    // sessions cost memory, not threads and context switches.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mailtls-session")
        .build()
        .map_err(|e| Failure::io(format!("cannot start the session runtime: {e}")))?;
    let listener = {
        let _entered = runtime.enter();
        listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
            .map_err(|e| Failure::io(format!("--listen {}: {e}", args.listen)))?
    };
    std::thread::Builder::new()
        .name("maildir-sweep".into())
        .spawn({
            let maildir = maildir.clone();
            move || loop {
                std::thread::sleep(SWEEP_EVERY);
                maildir.sweep_and_log();
            }
        })
        .map_err(|e| Failure::io(format!("cannot start the tmp/ sweeper: {e}")))?;
    log_json(serde_json::json!({
        "listening": local.to_string(),
        "hostname": args.hostname,
        "max_connections": args.max_connections,
        "max_per_client": args.max_per_client,
        "backlog": args.backlog,
        "max_message_size": config.limits.max_message_size,
    }));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        max_per_client: args.max_per_client,
    };
    let serving = std::thread::Builder::new()
        .name("accept".into())
        .spawn({
            let config = Arc::clone(&config);
            let connectors = connectors.clone();
            let maildir = maildir.clone();
            let hostname = args.hostname.clone();
            move || {
                runtime.block_on(aio::serve(
                    &listener,
                    config,
                    limits,
                    move |peer| {
                        Inbound::new(peer, Some(maildir.clone()), connectors.clone())
                            .with_hostname(&hostname)
                    },
                    move |peer, app: Inbound, result| {
                        app.log(peer, &result);
                        let _ = done_tx.send(());
                    },
                    log_notice,
                ));
            }
        })
        .map_err(|e| Failure::io(format!("cannot start the accept loop: {e}")))?;
    match args.max_sessions {
        Some(max) => {
            for _ in 0..max {
                if done_rx.recv().is_err() {
                    break;
                }
            }
            Ok(0)
        }
        // The accept loop never returns; joining it ends only if it panicked.
        None => match serving.join() {
            Ok(()) => Ok(0),
            Err(_) => Err(Failure::io("the accept loop panicked")),
        },
    }
}

/// One JSON log line on stderr, stamped with the RFC 3339 time.
fn log_json(mut line: serde_json::Value) {
    if let Some(object) = line.as_object_mut() {
        object.insert("time".into(), mailtls::io::now().rfc3339().into());
    }
    errln!("{line}");
}

/// What this configuration says but cannot do, said at start.
fn startup_warnings(args: &Args, connectors: Option<&Connectors>) -> Vec<String> {
    let mut warnings = Vec::new();
    let inbound = connectors.map_or(&[][..], Connectors::inbound);
    let naming: Vec<&str> = inbound
        .iter()
        .filter(|c| c.tls_sender_certificate_name.is_some())
        .map(|c| c.name.as_str())
        .collect();
    if args.client_ca.is_none() {
        for name in &naming {
            warnings.push(format!(
                "inbound connector {} names a partner certificate \
                 (tls_sender_certificate_name) but --client-ca is not given: certificates are \
                 asked for but cannot be verified, so the partner is refused",
                crate::common::quoted(name)
            ));
        }
    } else if naming.is_empty() {
        warnings.push(
            "--client-ca is given but no inbound connector names a certificate: client \
             certificates are verified and logged, and no client is refused for one"
                .to_owned(),
        );
    }
    if args.require_tls && !args.listen.ip().is_loopback() {
        warnings.push(format!(
            "--require-tls on {}: a publicly referenced MX must not require TLS \
             (RFC 3207 section 4); inbound connectors can require it of partners",
            args.listen
        ));
    }
    if args.max_per_client > args.max_connections {
        warnings.push(format!(
            "--max-per-client {} is above --max-connections {}: it never applies",
            args.max_per_client, args.max_connections
        ));
    }
    if let Ok(chain) = load_certs(&args.cert) {
        if let Some(Ok(facts)) = chain
            .first()
            .map(|der| mailtls::cert::CertFacts::from_der(der.as_ref()))
        {
            let now = mailtls::io::now();
            if !facts.is_valid_at(now) {
                warnings.push(format!(
                    "--cert {}: valid only from {} to {}; clients that verify refuse it",
                    args.cert.display(),
                    facts.not_before.rfc3339(),
                    facts.not_after.rfc3339()
                ));
            }
            if !covers(&facts.dns_names, &args.hostname) {
                warnings.push(format!(
                    "--cert {} does not name --hostname {} (it names {}): clients that \
                     verify the MX name refuse it",
                    args.cert.display(),
                    crate::common::quoted(&args.hostname),
                    if facts.dns_names.is_empty() {
                        "no DNS name".to_owned()
                    } else {
                        facts.dns_names.join(", ")
                    }
                ));
            }
        }
    }
    warnings
}

/// Whether a certificate's DNS names cover `host` (a `*.` wildcard covers one label).
fn covers(names: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => name == host,
        }
    })
}

/// A listening socket on `addr` with room for `backlog` queued connections (std's
/// `TcpListener::bind` fixes it at 128).
fn listen(addr: SocketAddr, backlog: usize) -> Result<TcpListener, Failure> {
    use socket2::{Domain, Protocol, Socket, Type};
    let failed = |e: std::io::Error| Failure::io(format!("--listen {addr}: {e}"));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(failed)?;
    // As std does on Unix: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuse_address(true).map_err(failed)?;
    socket.bind(&addr.into()).map_err(failed)?;
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(failed)?;
    Ok(socket.into())
}

/// One log line for what happened to a connection that never became a session.
fn log_notice(notice: ListenerNotice<'_>) {
    let line = match notice {
        ListenerNotice::AcceptFailed { error, retry_in } => serde_json::json!({
            "accept_error": error.to_string(),
            "retry_in_ms": u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        }),
        ListenerNotice::Refused {
            peer,
            overload,
            reply,
        } => serde_json::json!({
            "peer": peer.to_string(),
            "verdict": "turned-away",
            "limit": overload.as_str(),
            "reply": reply_text(&reply),
        }),
        ListenerNotice::SpawnFailed { peer, error, reply } => serde_json::json!({
            "peer": peer.to_string(),
            "verdict": "turned-away",
            "spawn_error": error.to_string(),
            "reply": reply_text(&reply),
        }),
        _ => return,
    };
    log_json(line);
}

/// A Maildir (only `new/` and `tmp/` are written).
#[derive(Clone, Debug)]
pub struct Maildir {
    root: Arc<PathBuf>,
}

static DELIVERIES: AtomicU64 = AtomicU64::new(0);

impl Maildir {
    fn create(root: &Path) -> Result<Self, Failure> {
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir)
                .map_err(|e| Failure::config(format!("--maildir {}: {e}", dir.display())))?;
        }
        Ok(Self {
            root: Arc::new(root.to_path_buf()),
        })
    }

    /// Starts a message: a fresh file under tmp/ that the content streams into.
    fn begin(&self) -> Draft {
        let now = mailtls::io::now();
        let name = format!(
            "{}.M{}P{}Q{}.mailtls",
            now.unix_secs(),
            now.since_epoch().subsec_micros(),
            std::process::id(),
            DELIVERIES.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Mail is private: readable by the owner alone, as Postfix's local(8) writes it.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let opened = options.open(&tmp);
        let (file, error) = match opened {
            Ok(file) => (Some(BufWriter::with_capacity(WRITE_BUFFER, file)), None),
            Err(e) => (None, Some(e)),
        };
        Draft {
            name,
            tmp,
            new,
            new_dir: self.root.join("new"),
            file,
            error,
            committed: false,
        }
    }

    /// Removes the regular files in tmp/ last modified longer than `age` ago; returns how
    /// many were removed and how many could not be.
    fn sweep_tmp(&self, age: Duration) -> (u64, u64) {
        let (mut removed, mut failed) = (0, 0);
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return (0, 1);
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let stale = meta.modified().ok().is_some_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|elapsed| elapsed > age)
            });
            if !meta.is_file() || !stale {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(_) => failed += 1,
            }
        }
        (removed, failed)
    }

    /// Sweeps tmp/ and logs how many files went.
    fn sweep_and_log(&self) {
        let (removed, failed) = self.sweep_tmp(STALE_TMP);
        log_json(serde_json::json!({
            "maildir_tmp_removed": removed,
            "maildir_tmp_remove_failed": failed,
            "older_than_hours": STALE_TMP.as_secs() / 3600,
        }));
    }
}

/// A message on its way into the Maildir: written under tmp/ as it arrives, renamed into
/// new/ once taken. Dropped unfinished (refused, abandoned, failed), the tmp/ file goes.
#[derive(Debug)]
struct Draft {
    name: String,
    tmp: PathBuf,
    new: PathBuf,
    new_dir: PathBuf,
    /// `None` once writing failed.
    file: Option<BufWriter<fs::File>>,
    /// The first error; the message cannot be taken.
    error: Option<std::io::Error>,
    committed: bool,
}

impl Draft {
    fn write(&mut self, bytes: &[u8]) {
        let Some(file) = &mut self.file else {
            return;
        };
        if let Err(e) = file.write_all(bytes) {
            // A full disk: stop writing now, free the space, answer 451 at the end.
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
            self.error = Some(e);
        }
    }

    /// Makes the message durable: flushed, fsynced, renamed into new/ (and new/ fsynced).
    /// Returns its name.
    fn commit(mut self) -> std::io::Result<String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("the message file is gone"))?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.new)?;
        self.committed = true;
        // The rename is durable once the directory is; a failure here loses nothing the
        // client was promised that a crash would not lose anyway.
        if let Ok(dir) = fs::File::open(&self.new_dir) {
            let _ = dir.sync_all();
        }
        Ok(self.name.clone())
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The application side of one inbound session.
#[derive(Debug)]
pub struct Inbound {
    peer: SocketAddr,
    /// The name this server gives in `Received:` (`--hostname`).
    hostname: String,
    /// EHLO rather than HELO (`ESMTP` rather than `SMTP` in `Received:`).
    extended: bool,
    maildir: Option<Maildir>,
    connectors: Option<Arc<Connectors>>,
    tls: Option<TlsFacts>,
    client_outcome: Option<Outcome>,
    connector: Option<String>,
    decision: Option<String>,
    helo: Option<String>,
    from: Option<String>,
    rcpts: Vec<String>,
    /// The message being received (with a Maildir).
    draft: Option<Draft>,
    /// Octets of the message being received, trace header included.
    message_size: u64,
    /// The first [`LOG_LIST_MAX`] messages taken.
    delivered: Vec<String>,
    delivered_total: u64,
    /// The first [`LOG_LIST_MAX`] refusals.
    refusals: Vec<String>,
    refusals_total: u64,
    /// Why the last message was abandoned, if it was.
    aborted: Option<&'static str>,
    /// Why the last message could not be stored.
    store_error: Option<String>,
    /// Plaintext pipelined behind STARTTLS and thrown away: (octets, the first of them).
    plaintext_discarded: Option<(usize, Vec<u8>)>,
    tls_failure: Option<TlsFailure>,
    client_subject: Option<String>,
    last_reply: Option<String>,
}

impl Inbound {
    pub fn new(
        peer: SocketAddr,
        maildir: Option<Maildir>,
        connectors: Option<Arc<Connectors>>,
    ) -> Self {
        Self {
            peer,
            hostname: "mailtls.localhost".to_owned(),
            extended: false,
            maildir,
            connectors,
            tls: None,
            client_outcome: None,
            connector: None,
            decision: None,
            helo: None,
            from: None,
            rcpts: Vec::new(),
            draft: None,
            message_size: 0,
            delivered: Vec::new(),
            delivered_total: 0,
            refusals: Vec::new(),
            refusals_total: 0,
            aborted: None,
            store_error: None,
            plaintext_discarded: None,
            tls_failure: None,
            client_subject: None,
            last_reply: None,
        }
    }

    /// The name this server gives in the `Received:` header it adds.
    #[must_use]
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        hostname.clone_into(&mut self.hostname);
        self
    }

    fn on_event(&mut self, event: &ServerEvent) -> Answer {
        match event {
            ServerEvent::Greeted { host, extended } => {
                self.helo = Some(host.to_string());
                self.extended = *extended;
            }
            ServerEvent::TlsEstablished {
                facts,
                client_certificate,
            } => {
                self.client_subject = subject_of(&facts.peer_chain);
                self.tls = Some(facts.clone());
                self.client_outcome = client_certificate.as_deref().cloned();
            }
            ServerEvent::MailFrom(mail) => {
                self.from = Some(mail.from.to_string());
                self.rcpts.clear();
                if let Some(answer) = self.decide() {
                    return answer;
                }
                self.last_reply = Some("250 2.1.0 Ok".into());
            }
            ServerEvent::RcptTo(rcpt) => {
                self.rcpts.push(rcpt.to.to_string());
                if let Some(answer) = self.decide() {
                    self.rcpts.pop();
                    return answer;
                }
            }
            ServerEvent::MessageStart => {
                self.aborted = None;
                self.store_error = None;
                // A draft left from before is dropped (and its tmp/ file removed).
                self.draft = self.maildir.as_ref().map(Maildir::begin);
                let id = self.draft.as_ref().map(|d| d.name.clone());
                let header = self.trace_header(id.as_deref());
                self.message_size = header.len() as u64;
                if let Some(draft) = &mut self.draft {
                    draft.write(&header);
                }
            }
            ServerEvent::MessageData(chunk) => {
                self.message_size = self.message_size.saturating_add(chunk.len() as u64);
                if let Some(draft) = &mut self.draft {
                    draft.write(chunk);
                }
            }
            ServerEvent::MessageAborted(reason) => {
                // Over the size limit, malformed, cut off: nothing of it is kept.
                self.draft = None;
                self.aborted = Some(reason.as_str());
            }
            ServerEvent::MessageEnd { .. } => {
                let size = std::mem::take(&mut self.message_size);
                let stored = match (&self.maildir, self.draft.take()) {
                    // fsync waits for the disk: the session runtime moves its other
                    // sessions to another thread meanwhile (outside a runtime, as in
                    // `demo`, this just runs).
                    (Some(_), Some(draft)) => tokio::task::block_in_place(|| draft.commit()),
                    (Some(_), None) => Err(std::io::Error::other("the message was not started")),
                    (None, _) => Ok(format!("memory-{size}")),
                };
                return match stored {
                    Ok(name) => {
                        let text = format!("Ok: queued as {name}");
                        self.last_reply = Some(format!("250 2.0.0 {text}"));
                        self.delivered_total += 1;
                        if self.delivered.len() < LOG_LIST_MAX {
                            self.delivered.push(name);
                        }
                        Answer::AcceptWith(text)
                    }
                    Err(e) => {
                        self.store_error = Some(format!("maildir: {e}"));
                        match Reply::new(
                            Code::LOCAL_ERROR,
                            EnhancedCode::new(4, 3, 0),
                            "Local error storing the message",
                        ) {
                            Ok(reply) => {
                                self.last_reply = Some(reply_text(&reply));
                                Answer::Reject(reply)
                            }
                            Err(_) => Answer::Accept,
                        }
                    }
                };
            }
            ServerEvent::Refused(refusal) => {
                let reply = reply_text(&refusal.reply);
                self.note_refusal(format!("{}: {reply}", refusal.command));
                self.last_reply = Some(reply);
            }
            ServerEvent::PlaintextDiscarded { length, preview } => {
                self.plaintext_discarded = Some((*length, preview.clone()));
            }
            ServerEvent::TlsFailed(failure) => self.tls_failure = Some(failure.clone()),
            _ => {}
        }
        Answer::Accept
    }

    /// The inbound connectors' verdict on what is known so far; `None` when they accept.
    fn decide(&mut self) -> Option<Answer> {
        let connectors = self.connectors.clone()?;
        let from = self.from.as_deref().unwrap_or_default();
        let mail_from_domain = domain_of(from);
        let rcpt_domains: Vec<&str> = self.rcpts.iter().filter_map(|r| domain_of(r)).collect();
        let (sans, cns, verified) = match &self.client_outcome {
            Some(outcome) => {
                let facts = outcome.facts.as_ref();
                (
                    facts.map(|f| f.dns_names.clone()).unwrap_or_default(),
                    facts.map(|f| f.common_names.clone()).unwrap_or_default(),
                    // As the session decides: a chain to the --client-ca anchors counts.
                    match outcome.trust {
                        TrustLevel::Trusted | TrustLevel::Verified => Verification::Verified,
                        _ => Verification::NotVerified,
                    },
                )
            }
            None => (Vec::new(), Vec::new(), Verification::NotVerified),
        };
        let sans: Vec<&str> = sans.iter().map(String::as_str).collect();
        let cns: Vec<&str> = cns.iter().map(String::as_str).collect();
        let client_certificate = if self
            .client_outcome
            .as_ref()
            .is_some_and(|o| o.facts.is_some())
        {
            ClientCertificateFacts::Names {
                dns_sans: &sans,
                common_names: &cns,
                verified,
            }
        } else {
            ClientCertificateFacts::None
        };
        let tls = self
            .tls
            .as_ref()
            .map(|t| InboundTls::negotiated(t.version, t.suite));
        let facts = InboundFacts {
            client_ip: self.peer.ip(),
            helo: self.helo.as_deref().unwrap_or_default(),
            mail_from_domain,
            rcpt_domains: &rcpt_domains,
            tls,
            client_certificate,
        };
        let verdict = decide_inbound(&connectors, &facts);
        self.connector = verdict.connector.clone().or(self.connector.take());
        self.decision = Some(verdict.to_string());
        let status = match &verdict.action {
            InboundAction::Accept => return None,
            InboundAction::Reject(status) | InboundAction::Tempfail(status) => status.clone(),
            #[allow(unreachable_patterns)]
            _ => Status::new(451, (4, 7, 0), "inbound policy"),
        };
        self.last_reply = Some(status.to_string());
        self.note_refusal(format!("connector: {verdict}"));
        Some(Answer::Reject(status.to_reply()))
    }

    /// The trace fields this server adds on top of the message: `Return-Path:`,
    /// `Delivered-To:` per recipient, and `Received:` per RFC 5321 §4.4 with the RFC 3848
    /// protocol (`ESMTPS` under TLS) and the TLS details Postfix writes (`id` is the name the
    /// message is stored under). Peer-controlled text is made safe for a header.
    fn trace_header(&self, id: Option<&str>) -> Vec<u8> {
        let mut out = String::new();
        let from = self.from.as_deref().unwrap_or("<>");
        let _ = write!(out, "Return-Path: {}\r\n", header_safe(from));
        for rcpt in &self.rcpts {
            let bare = rcpt.trim_start_matches('<').trim_end_matches('>');
            let _ = write!(out, "Delivered-To: {}\r\n", header_safe(bare));
        }
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let _ = write!(
            out,
            "Received: from {} (unknown [{}])\r\n",
            header_safe(helo),
            self.peer.ip()
        );
        if let Some(tls) = &self.tls {
            let _ = write!(
                out,
                "\t(using {} with cipher {}",
                tls.version,
                tls.openssl_suite()
            );
            if let Some(group) = tls.group {
                let _ = write!(out, "\r\n\t key-exchange {group}");
            }
            out.push_str(")\r\n");
            let _ = write!(out, "\t({})\r\n", self.client_certificate_note());
        }
        let protocol = match (self.extended, self.tls.is_some()) {
            (true, true) => "ESMTPS",
            (true, false) => "ESMTP",
            (false, true) => "SMTPS",
            (false, false) => "SMTP",
        };
        let _ = write!(
            out,
            "\tby {} (mailtls) with {protocol}",
            header_safe(&self.hostname)
        );
        if let Some(id) = id {
            let _ = write!(out, " id {}", header_safe(id));
        }
        // One recipient only, as Postfix does: more would tell each one about the others.
        if let [rcpt] = self.rcpts.as_slice() {
            let _ = write!(out, "\r\n\tfor {}", header_safe(rcpt));
        }
        let _ = write!(out, "; {}\r\n", mailtls::io::now().rfc5322());
        out.into_bytes()
    }

    /// What Postfix's `Received:` says about the client certificate.
    fn client_certificate_note(&self) -> String {
        let Some(facts) = self.client_outcome.as_ref().and_then(|o| o.facts.as_ref()) else {
            return "no client certificate".to_owned();
        };
        // Postfix names the issuer by its common name.
        let issuer_cn = facts
            .issuer
            .split(',')
            .find_map(|rdn| rdn.trim().strip_prefix("CN="))
            .unwrap_or(&facts.issuer);
        format!(
            "Client CN \"{}\", Issuer \"{}\" ({})",
            header_safe(facts.common_names.first().map_or("", String::as_str)),
            header_safe(issuer_cn),
            match self.client_trust() {
                Some("Trusted" | "Verified") => "verified OK",
                _ => "not verified",
            }
        )
    }

    fn note_refusal(&mut self, refusal: String) {
        self.refusals_total += 1;
        if self.refusals.len() < LOG_LIST_MAX {
            self.refusals.push(refusal);
        }
    }

    /// Messages taken, by the name they were stored under (the first few dozen).
    pub fn delivered(&self) -> &[String] {
        &self.delivered
    }

    /// The first refusal of the session (the one that decided), if any.
    pub fn refusal(&self) -> Option<String> {
        self.refusals.first().cloned()
    }

    /// Postfix's word for the client's authentication: `Anonymous` (TLS, no certificate),
    /// `Untrusted`, `Trusted` (chain to --client-ca), `Verified`; `None` without TLS.
    fn client_trust(&self) -> Option<&'static str> {
        self.tls.as_ref()?;
        Some(
            self.client_outcome
                .as_ref()
                .filter(|o| o.facts.is_some())
                .map_or(TrustLevel::Anonymous, |o| o.trust)
                .as_str(),
        )
    }

    fn log(&self, peer: SocketAddr, result: &std::io::Result<SessionEnd>) {
        let (end, error) = match result {
            Ok(end) => (Some(end), None),
            Err(e) => (None, Some(e.to_string())),
        };
        // A failed handshake is an error of the session, said in words, never `null`.
        let error = error.or_else(|| {
            self.tls_failure
                .as_ref()
                .map(|f| format!("TLS {}: {}", f.class.as_str(), f.cause))
        });
        let tls = end.and_then(|e| e.tls.as_ref());
        let verdict = if self.delivered_total > 0 {
            "accepted"
        } else if self.refusals_total > 0 {
            "refused"
        } else {
            "no-mail"
        };
        let line = serde_json::json!({
            "peer": peer.to_string(),
            "helo": self.helo,
            "tls_version": tls.map(|t| t.version.as_str()),
            "cipher": tls.map(|t| t.suite.iana_name()),
            "group": tls.and_then(|t| t.group).map(|g| g.to_string()),
            "client_certificate_subject": self.client_subject,
            "client_trust": self.client_trust(),
            "client_certificate_error": self
                .client_outcome
                .as_ref()
                .and_then(|o| o.error.as_ref())
                .map(ToString::to_string),
            "connector": self.connector,
            "decision": self.decision,
            "verdict": verdict,
            "reply": self.last_reply,
            "refusals": self.refusals,
            "refusals_total": self.refusals_total,
            "from": self.from,
            "rcpts": self.rcpts,
            "delivered": self.delivered,
            "delivered_total": self.delivered_total,
            "aborted": self.aborted,
            "store_error": self.store_error,
            "plaintext_discarded": self.plaintext_discarded.as_ref().map(|(length, preview)| {
                serde_json::json!({
                    "length": length,
                    "preview": String::from_utf8_lossy(preview),
                })
            }),
            "tls_failure": self.tls_failure.as_ref().map(|f| serde_json::json!({
                "class": f.class.as_str(),
                "result_type": f.result_type.as_str(),
                "during_handshake": f.during_handshake,
                "alert_received": f.alert_received.map(alert_name),
                "alert_sent": f.alert_sent.map(alert_name),
                "detail": f.cause.to_string(),
            })),
            "close": end.and_then(|e| e.reason.as_ref()).map(|r| r.as_str()),
            "bytes_in": end.map(|e| e.bytes_in),
            "bytes_out": end.map(|e| e.bytes_out),
            "error": error,
        });
        log_json(line);
    }
}

impl mailtls::io::Application for Inbound {
    fn on_event(&mut self, event: &ServerEvent) -> Answer {
        Inbound::on_event(self, event)
    }
}

/// A reply as one log string (lines joined with ` | `).
fn reply_text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.to_bytes())
        .trim_end()
        .replace("\r\n", " | ")
}

/// `text` fit for a header field: control characters (CR, LF, ...) become `?`, so a peer's
/// name cannot end the field and start another.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The domain of `<local@domain>`; `None` for `<>`.
fn domain_of(path: &str) -> Option<&str> {
    let inner = path.trim_start_matches('<').trim_end_matches('>');
    inner
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}
