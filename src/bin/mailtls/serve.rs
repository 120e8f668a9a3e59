//! `mailtls serve`: an inbound SMTP server with STARTTLS that stores accepted mail in a
//! Maildir and logs one JSON line per session on stderr.

use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use mailtls::io::{blocking, Answer, SessionEnd};
use mailtls::policy::ladder::Rung;
use mailtls::server::{ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{Code, EnhancedCode, Reply};

use crate::common::{load_identity, subject_of, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on, e.g. 127.0.0.1:2530.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// The server certificate chain (PEM, end entity first).
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// The server's private key (PEM).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
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
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let identity = load_identity(&args.cert, &args.key)?;
    let maildir = Maildir::create(&args.maildir)?;
    let mut config = ServerConfig::new(args.hostname.clone());
    config.tls = Some(ServerTls::new(identity, Rung::Modern));
    config.require_tls = args.require_tls;
    let config = Arc::new(config);
    let listener = TcpListener::bind(args.listen)
        .map_err(|e| Failure::io(format!("--listen {}: {e}", args.listen)))?;
    eprintln!(
        "{}",
        serde_json::json!({ "listening": args.listen.to_string() })
    );
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let max = args.max_sessions;
    let serving = std::thread::spawn({
        let config = Arc::clone(&config);
        let maildir = maildir.clone();
        move || {
            blocking::serve(
                &listener,
                config,
                move |peer| Inbound::new(peer, maildir.clone()),
                move |peer, app: Inbound, result| {
                    app.log(peer, &result);
                    let _ = done_tx.send(());
                },
            )
        }
    });
    match max {
        Some(max) => {
            for _ in 0..max {
                if done_rx.recv().is_err() {
                    break;
                }
            }
            Ok(0)
        }
        None => match serving.join() {
            Ok(Ok(())) => Ok(0),
            Ok(Err(e)) => Err(Failure::io(format!("accept on {}: {e}", args.listen))),
            Err(_) => Err(Failure::io("the accept loop panicked")),
        },
    }
}

/// A Maildir (only `new/` and `tmp/` are written).
#[derive(Clone, Debug)]
struct Maildir {
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

    /// Stores a message: written under tmp/, then renamed into new/. Returns its file name.
    fn deliver(&self, message: &[u8]) -> std::io::Result<String> {
        let now = mailtls::io::now();
        let name = format!(
            "{}.M{}P{}Q{}.mailtls",
            now.unix_secs(),
            now.since_epoch().subsec_micros(),
            std::process::id(),
            DELIVERIES.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let mut file = fs::File::create(&tmp)?;
        file.write_all(message)?;
        file.sync_all()?;
        fs::rename(&tmp, self.root.join("new").join(&name))?;
        Ok(name)
    }
}

/// The application side of one inbound session.
#[derive(Debug)]
struct Inbound {
    peer: SocketAddr,
    maildir: Maildir,
    helo: Option<String>,
    from: Option<String>,
    rcpts: Vec<String>,
    message: Vec<u8>,
    delivered: Vec<String>,
    refusals: Vec<String>,
    client_subject: Option<String>,
    last_reply: Option<String>,
}

impl Inbound {
    fn new(peer: SocketAddr, maildir: Maildir) -> Self {
        Self {
            peer,
            maildir,
            helo: None,
            from: None,
            rcpts: Vec::new(),
            message: Vec::new(),
            delivered: Vec::new(),
            refusals: Vec::new(),
            client_subject: None,
            last_reply: None,
        }
    }

    fn on_event(&mut self, event: &ServerEvent) -> Answer {
        match event {
            ServerEvent::Greeted { host, .. } => self.helo = Some(host.to_string()),
            ServerEvent::TlsEstablished { facts, .. } => {
                self.client_subject = subject_of(&facts.peer_chain);
            }
            ServerEvent::MailFrom(mail) => {
                self.from = Some(mail.from.to_string());
                self.rcpts.clear();
                self.last_reply = Some("250 2.1.0 Ok".into());
            }
            ServerEvent::RcptTo(rcpt) => self.rcpts.push(rcpt.to.to_string()),
            ServerEvent::MessageStart => self.message = self.trace_header(),
            ServerEvent::MessageData(chunk) => self.message.extend_from_slice(chunk),
            ServerEvent::MessageEnd { .. } => {
                let message = std::mem::take(&mut self.message);
                return match self.maildir.deliver(&message) {
                    Ok(name) => {
                        let text = format!("Ok: queued as {name}");
                        self.last_reply = Some(format!("250 2.0.0 {text}"));
                        self.delivered.push(name);
                        Answer::AcceptWith(text)
                    }
                    Err(e) => {
                        self.last_reply = Some(format!("451 4.3.0 maildir: {e}"));
                        match Reply::new(
                            Code::LOCAL_ERROR,
                            EnhancedCode::new(4, 3, 0),
                            "Local error storing the message",
                        ) {
                            Ok(reply) => Answer::Reject(reply),
                            Err(_) => Answer::Accept,
                        }
                    }
                };
            }
            ServerEvent::Refused(refusal) => {
                let reply = String::from_utf8_lossy(&refusal.reply.to_bytes())
                    .trim_end()
                    .replace("\r\n", " | ");
                self.refusals.push(format!("{}: {reply}", refusal.command));
                self.last_reply = Some(reply);
            }
            _ => {}
        }
        Answer::Accept
    }

    /// The `Received:` header this server adds, with the TLS facts (RFC 5321 §4.4).
    fn trace_header(&self) -> Vec<u8> {
        format!(
            "Received: from {} ([{}]) by mailtls with {}; {}\r\n",
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            if self.client_subject.is_some() {
                "ESMTPS (client certificate)"
            } else {
                "ESMTP"
            },
            mailtls::io::now().unix_secs()
        )
        .into_bytes()
    }

    fn log(&self, peer: SocketAddr, result: &std::io::Result<SessionEnd>) {
        let (end, error) = match result {
            Ok(end) => (Some(end), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let tls = end.and_then(|e| e.tls.as_ref());
        let verdict = if !self.delivered.is_empty() {
            "accepted"
        } else if !self.refusals.is_empty() {
            "refused"
        } else {
            "no-mail"
        };
        let line = serde_json::json!({
            "peer": peer.to_string(),
            "helo": self.helo,
            "tls_version": tls.map(|t| t.version),
            "cipher": tls.map(|t| t.suite),
            "client_certificate_subject": self.client_subject,
            "connector": serde_json::Value::Null,
            "verdict": verdict,
            "reply": self.last_reply,
            "refusals": self.refusals,
            "from": self.from,
            "rcpts": self.rcpts,
            "delivered": self.delivered,
            "close": end.and_then(|e| e.reason.as_ref()).map(|r| format!("{r:?}")),
            "error": error,
        });
        eprintln!("{line}");
    }
}

impl mailtls::io::Application for Inbound {
    fn on_event(&mut self, event: &ServerEvent) -> Answer {
        Inbound::on_event(self, event)
    }
}
