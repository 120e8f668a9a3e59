//! `mailtls serve`: an inbound SMTP server with STARTTLS that stores accepted mail in a
//! Maildir and logs one JSON line per session on stderr.

use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use mailtls::cert::{self, ClientCertRequest, OnFailure, Outcome};
use mailtls::io::{blocking, Answer, SessionEnd};
use mailtls::policy::connector::Connectors;
use mailtls::policy::inbound::{
    decide_inbound, ClientCertificateFacts, InboundAction, InboundFacts, InboundTls, Verification,
};
use mailtls::policy::ladder::Rung;
use mailtls::policy::Status;
use mailtls::server::{ClientAuth, ServerConfig, ServerEvent, ServerTls};
use mailtls::smtp::{Code, EnhancedCode, Reply};
use mailtls::tls::TlsFacts;

use crate::common::{load_identity, subject_of, Failure};
use crate::outbound::load_connectors;

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
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let identity = load_identity(&args.cert, &args.key)?;
    let maildir = Maildir::create(&args.maildir)?;
    let connectors = match &args.connectors {
        Some(path) => Some(Arc::new(load_connectors(path)?)),
        None => None,
    };
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
        let connectors = connectors.clone();
        let maildir = maildir.clone();
        move || {
            blocking::serve(
                &listener,
                config,
                move |peer| Inbound::new(peer, Some(maildir.clone()), connectors.clone()),
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
pub struct Inbound {
    peer: SocketAddr,
    maildir: Option<Maildir>,
    connectors: Option<Arc<Connectors>>,
    tls: Option<TlsFacts>,
    client_outcome: Option<Outcome>,
    connector: Option<String>,
    decision: Option<String>,
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
    pub fn new(
        peer: SocketAddr,
        maildir: Option<Maildir>,
        connectors: Option<Arc<Connectors>>,
    ) -> Self {
        Self {
            peer,
            maildir,
            connectors,
            tls: None,
            client_outcome: None,
            connector: None,
            decision: None,
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
            ServerEvent::MessageStart => self.message = self.trace_header(),
            ServerEvent::MessageData(chunk) => self.message.extend_from_slice(chunk),
            ServerEvent::MessageEnd { .. } => {
                let message = std::mem::take(&mut self.message);
                let stored = match &self.maildir {
                    Some(maildir) => maildir.deliver(&message),
                    None => Ok(format!("memory-{}", message.len())),
                };
                return match stored {
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
                    if outcome.is_verified() {
                        Verification::Verified
                    } else {
                        Verification::NotVerified
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
        self.refusals.push(format!("connector: {verdict}"));
        Some(Answer::Reject(status.to_reply()))
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

    /// Messages taken, by the name they were stored under.
    pub fn delivered(&self) -> &[String] {
        &self.delivered
    }

    /// The first refusal of the session (the one that decided), if any.
    pub fn refusal(&self) -> Option<String> {
        self.refusals.first().cloned()
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
            "tls_version": tls.map(|t| t.version.as_str()),
            "cipher": tls.map(|t| t.suite.iana_name()),
            "group": tls.and_then(|t| t.group).map(|g| g.to_string()),
            "client_certificate_subject": self.client_subject,
            "connector": self.connector,
            "decision": self.decision,
            "verdict": verdict,
            "reply": self.last_reply,
            "refusals": self.refusals,
            "from": self.from,
            "rcpts": self.rcpts,
            "delivered": self.delivered,
            "close": end.and_then(|e| e.reason.as_ref()).map(|r| r.as_str()),
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

/// The domain of `<local@domain>`; `None` for `<>`.
fn domain_of(path: &str) -> Option<&str> {
    let inner = path.trim_start_matches('<').trim_end_matches('>');
    inner
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}
