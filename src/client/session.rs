//! The sans-IO SMTP client session: greeting, EHLO, STARTTLS, TLS, EHLO again, envelope,
//! DATA, QUIT.

use std::collections::VecDeque;

use crate::cert::{Outcome, OutcomeSlot, TrustLevel};
use crate::policy::ladder::{next_rung, FailureClass};
use crate::policy::requiretls::{self, MessageTls};
use crate::policy::Status;
use crate::session::Session;
use crate::smtp::{
    Capabilities, Command, DataEncoder, EhloReply, ForwardPath, MailParams, Reply, ReplyParser,
};
use crate::time::Timestamp;
use crate::tls::{client_config, ClientTlsSetup, TlsEngine, TlsFailure};
use crate::tlsrpt::ResultType;

use super::envelope::Envelope;
use super::event::{
    AttemptRecord, AttemptResult, ClientError, ClientEvent, MessageResult, NextStep,
    PlaintextReason, Stage, StarttlsFault, TlsSummary,
};
use super::settings::{Attempt, ClientSettings};

/// How much ciphertext the client session hands rustls at once (one full TLS record and its
/// header): the bound on the plaintext it holds whatever one call feeds it.
const CIPHERTEXT_SLICE: usize = 16 * 1024 + 5;

/// One SMTP client connection, without I/O.
///
/// Feed it what the socket reads with [`handle_input`](Self::handle_input) (and
/// [`handle_eof`](Self::handle_eof)), send what [`poll_transmit`](Self::poll_transmit) returns,
/// act on [`poll_event`](Self::poll_event), and call
/// [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) passes.
/// Call `poll_transmit` after every call that takes input. The driving surface is the
/// [`Session`] trait, shared with the server session; the inherent methods of the same names
/// are the same calls.
///
/// Security rules it keeps whatever the server sends:
///
/// - no byte read before the TLS handshake reaches TLS or the post-TLS parser: anything
///   buffered behind the reply to STARTTLS ends the attempt, and so does a reply to STARTTLS
///   that is neither `220` nor a refusal; neither moves down the ladder (an attacker in the
///   path could write them);
/// - after TLS, every capability learnt before it is forgotten and EHLO is sent again;
///   REQUIRETLS is looked for in the post-TLS reply only;
/// - a plan that requires TLS never reaches MAIL FROM without it;
/// - a failed handshake ends the attempt with the next rung the ladder's gates allow (a new
///   connection), or with the refusal's action; a certificate failure at an authenticated
///   level never walks down.
#[derive(Debug)]
pub struct ClientSession {
    settings: ClientSettings,
    attempt: Attempt,
    parser: ReplyParser,
    phase: Phase,
    expect: VecDeque<Stage>,
    caps: Option<Capabilities>,
    receiving_helo: Option<String>,
    /// The dialogue, when the settings ask for it.
    transcript: Vec<String>,
    out: Vec<u8>,
    plain: Vec<u8>,
    events: VecDeque<ClientEvent>,
    deadline: Option<Timestamp>,
    txn: Option<Transaction>,
    /// Whether the server holds a transaction that the next MAIL must RSET first.
    transaction_open: bool,
    /// Whether the TLS configuration's verifier deferred to the session (a resumable
    /// configuration): the attempt's verifier must judge the chain after the handshake.
    judge_after_handshake: bool,
}

/// Where the connection is, as one value: a TLS engine exists only from STARTTLS on, TLS
/// facts only after the handshake, and nothing runs once the attempt ended.
#[derive(Debug)]
enum Phase {
    /// Plaintext SMTP (before STARTTLS, or all along on a plaintext path).
    Plain,
    /// The TLS handshake runs.
    Handshake(Box<TlsEngine>),
    /// SMTP over TLS; `summary` holds what the handshake reported.
    Tls {
        engine: Box<TlsEngine>,
        summary: Option<Box<TlsSummary>>,
    },
    /// The attempt ended and its record is queued; `stage` is what later calls are told.
    Finished { stage: Stage },
}

/// One message transaction, from MAIL FROM to the reply to the final dot.
#[derive(Debug)]
struct Transaction {
    mail_ok: bool,
    accepted: Vec<usize>,
    /// Replies to RCPT read so far.
    rcpt_replies: usize,
    /// Recipients still to send one by one (without pipelining).
    pending_rcpts: VecDeque<ForwardPath>,
    /// A pipelined MAIL refusal, which decides the transaction once DATA's reply is read.
    pending_failure: Option<Reply>,
    body: Body,
}

/// How far the message text got.
#[derive(Debug)]
enum Body {
    /// The envelope is on its way; no 354 yet.
    Envelope,
    /// After 354: the caller pushes the text through this encoder.
    Streaming(DataEncoder),
    /// The final dot is out; the reply to it is awaited.
    Sent,
    /// DATA got 354 with no recipient accepted: the dot ends an empty message.
    Empty,
}

/// Why an attempt ended, as [`ClientSession::finish`] records it.
#[derive(Debug)]
struct Ending {
    result: AttemptResult,
    next: NextStep,
    /// Send QUIT before closing (the stream is plain SMTP and in step).
    polite: bool,
    result_type: Option<ResultType>,
    verification: Option<Outcome>,
}

impl Ending {
    fn new(result: AttemptResult, next: NextStep, polite: bool) -> Self {
        Self {
            result,
            next,
            polite,
            result_type: None,
            verification: None,
        }
    }
}

impl ClientSession {
    /// A session for one attempt; the server speaks first, so it waits for the greeting.
    pub fn new(settings: ClientSettings, attempt: Attempt, now: Timestamp) -> Self {
        let parser = ReplyParser::new(settings.reply);
        let mut session = Self {
            settings,
            attempt,
            parser,
            phase: Phase::Plain,
            expect: VecDeque::new(),
            caps: None,
            receiving_helo: None,
            transcript: Vec::new(),
            out: Vec::new(),
            plain: Vec::new(),
            events: VecDeque::new(),
            deadline: None,
            txn: None,
            transaction_open: false,
            judge_after_handshake: false,
        };
        session.expect_reply(Stage::Greeting, now);
        session
    }

    /// The bytes of buffer capacity the session holds (decrypted input, output not yet
    /// handed out, an incomplete reply): bounded whatever the input, and what memory tests
    /// measure. rustls's own buffers are not counted.
    pub fn buffered_bytes(&self) -> usize {
        self.plain.capacity() + self.out.capacity() + self.parser.buffered()
    }

    /// The attempt this session runs.
    pub fn attempt(&self) -> &Attempt {
        &self.attempt
    }

    /// Whether the session ended (a [`ClientEvent::Finished`] was queued).
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished { .. })
    }

    /// The capabilities in force: the post-TLS ones once TLS is up, `None` before EHLO (and
    /// between STARTTLS and the post-TLS EHLO reply).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// Bytes read from the server; all of them are taken (the reply parser keeps what a
    /// reply still lacks), so this returns `input.len()`.
    pub fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize {
        match self.phase {
            _ if input.is_empty() => {}
            Phase::Finished { .. } => {}
            Phase::Plain => self.handle_plaintext(input, now),
            Phase::Handshake(_) | Phase::Tls { .. } => self.handle_ciphertext(input, now),
        }
        input.len()
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self, now: Timestamp) {
        let _ = now;
        match &mut self.phase {
            Phase::Finished { .. } => {}
            Phase::Handshake(engine) => {
                let failure = engine
                    .handle_eof()
                    .err()
                    .unwrap_or_else(TlsFailure::eof_during_handshake);
                self.tls_failed(failure.class, Some(failure), String::new());
            }
            Phase::Plain | Phase::Tls { .. } => {
                let stage = self.stage();
                if stage == Stage::Quit {
                    return self.completed();
                }
                self.finish(Ending::new(
                    AttemptResult::ConnectionLost { stage },
                    NextStep::NextHost,
                    false,
                ));
            }
        }
    }

    /// Bytes to send, all of one flight in one buffer; `None` when there are none.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// Like [`poll_transmit`](Self::poll_transmit), appending to the caller's buffer; returns
    /// the number of bytes added.
    pub fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        buf.append(&mut self.out);
        n
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Finished { .. } => None,
            _ => self.deadline,
        }
    }

    /// Time passed; ends the attempt when the current deadline has.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return;
        }
        match self.phase {
            Phase::Finished { .. } => {}
            Phase::Handshake(_) => self.tls_failed(
                FailureClass::Timeout,
                None,
                "TLS handshake timed out".into(),
            ),
            _ if self.stage() == Stage::StartTls => {
                self.tls_failed(FailureClass::Timeout, None, "no reply to STARTTLS".into());
            }
            Phase::Plain | Phase::Tls { .. } => {
                let stage = self.stage();
                self.finish(Ending::new(
                    AttemptResult::Timeout { stage },
                    NextStep::NextHost,
                    false,
                ));
            }
        }
    }

    /// Whether the attempt ended and every byte for the server was handed out.
    pub fn is_closed(&self) -> bool {
        self.is_finished() && self.out.is_empty()
    }

    /// Starts a message transaction (after [`ClientEvent::Ready`]).
    ///
    /// The envelope goes out as one flight when the server offered PIPELINING after TLS;
    /// otherwise command by command. A message the session must not send (REQUIRETLS without
    /// a post-TLS REQUIRETLS, SMTPUTF8 not offered, SIZE over the limit) ends with a
    /// [`ClientEvent::MessageResult`] and never reaches the wire.
    pub fn send_mail(&mut self, envelope: &Envelope, now: Timestamp) -> Result<(), ClientError> {
        if self.is_finished() || !self.expect.is_empty() || self.txn.is_some() {
            return Err(ClientError::NotNow {
                call: "send_mail",
                stage: self.stage(),
            });
        }
        if envelope.recipients.is_empty() {
            return Err(ClientError::NoRecipients);
        }
        let caps = self.caps.clone().unwrap_or_default();
        if let Some(status) = self.refuse_locally(envelope, &caps) {
            self.events
                .push_back(ClientEvent::MessageResult(MessageResult {
                    accepted: false,
                    accepted_recipients: Vec::new(),
                    reply: None,
                    refused: Some(status),
                }));
            self.events.push_back(ClientEvent::Ready);
            return Ok(());
        }
        let params = MailParams {
            size: envelope.size.filter(|_| caps.size.is_some()),
            body: envelope.body.filter(|_| caps.eight_bit_mime),
            smtputf8: envelope.smtputf8,
            require_tls: envelope.require_tls,
            ..MailParams::default()
        };
        let pipelined = self.settings.pipelining && caps.pipelining && self.is_tls();
        let mut flight = Vec::new();
        if self.transaction_open {
            Command::Rset.encode(&mut flight);
            self.expect.push_back(Stage::Rset);
            self.transaction_open = false;
        }
        Command::Mail {
            from: envelope.from.clone(),
            params,
        }
        .encode(&mut flight);
        self.expect.push_back(Stage::Mail);
        if pipelined {
            for to in &envelope.recipients {
                Command::Rcpt {
                    to: to.clone(),
                    params: Vec::new(),
                }
                .encode(&mut flight);
                self.expect.push_back(Stage::Rcpt);
            }
            Command::Data.encode(&mut flight);
            self.expect.push_back(Stage::Data);
        }
        self.note_sent(&flight);
        self.txn = Some(Transaction {
            mail_ok: false,
            accepted: Vec::new(),
            rcpt_replies: 0,
            pending_rcpts: if pipelined {
                VecDeque::new()
            } else {
                envelope.recipients.iter().cloned().collect()
            },
            pending_failure: None,
            body: Body::Envelope,
        });
        self.write(&flight);
        self.arm(now);
        Ok(())
    }

    /// Pushes message text after [`ClientEvent::DataReady`]. The session dot-stuffs it as it
    /// streams; with `last`, the terminating dot goes out in the same transmit.
    pub fn send_data(
        &mut self,
        chunk: &[u8],
        last: bool,
        now: Timestamp,
    ) -> Result<(), ClientError> {
        let finished = self.is_finished();
        let encoder = match self.txn.as_mut().map(|t| &mut t.body) {
            Some(Body::Streaming(encoder)) if !finished => encoder,
            _ => {
                return Err(ClientError::NotNow {
                    call: "send_data",
                    stage: self.stage(),
                })
            }
        };
        let mut wire = Vec::with_capacity(chunk.len() + chunk.len() / 64 + 8);
        if let Err(e) = encoder.encode(chunk, &mut wire) {
            // The message must not go out: abandon the connection without the final dot.
            let reply = e.reply();
            self.finish(Ending::new(
                AttemptResult::MessageUnsendable {
                    detail: e.to_string(),
                },
                NextStep::Bounce(Status::new(
                    reply.code().as_u16(),
                    reply
                        .enhanced()
                        .map_or((5, 6, 0), |c| (c.class(), c.subject(), c.detail())),
                    reply.text().to_owned(),
                )),
                false,
            ));
            return Err(ClientError::Data(e));
        }
        if last {
            if let Some(txn) = self.txn.as_mut() {
                if let Body::Streaming(encoder) = std::mem::replace(&mut txn.body, Body::Sent) {
                    encoder.finish(&mut wire);
                }
            }
            self.expect.push_back(Stage::DataEnd);
            self.arm(now);
        } else {
            self.deadline = Some(now.saturating_add(self.settings.timeouts.data_block));
        }
        self.write(&wire);
        Ok(())
    }

    /// Ends the session politely (after [`ClientEvent::Ready`]).
    pub fn quit(&mut self, now: Timestamp) -> Result<(), ClientError> {
        if self.is_finished() || !self.expect.is_empty() || self.txn.is_some() {
            return Err(ClientError::NotNow {
                call: "quit",
                stage: self.stage(),
            });
        }
        let mut flight = Vec::new();
        Command::Quit.encode(&mut flight);
        self.note_sent(&flight);
        self.write(&flight);
        self.expect_reply(Stage::Quit, now);
        Ok(())
    }
}

impl Session for ClientSession {
    type Event = ClientEvent;

    fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize {
        ClientSession::handle_input(self, input, now)
    }

    fn handle_eof(&mut self, now: Timestamp) {
        ClientSession::handle_eof(self, now);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        ClientSession::poll_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        ClientSession::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        ClientSession::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        ClientSession::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        ClientSession::handle_timeout(self, now);
    }

    fn is_closed(&self) -> bool {
        ClientSession::is_closed(self)
    }
}

impl ClientSession {
    fn handle_plaintext(&mut self, input: &[u8], now: Timestamp) {
        let mut rest = input;
        while !rest.is_empty() && matches!(self.phase, Phase::Plain) {
            let step = match self.parser.feed(rest) {
                Ok(step) => step,
                Err(e) if self.stage() == Stage::StartTls => {
                    return self.untrusted_starttls(StarttlsFault::Malformed(e));
                }
                Err(e) => return self.violation(e.to_string()),
            };
            rest = rest.get(step.consumed..).unwrap_or_default();
            let Some(reply) = step.item else {
                break;
            };
            if self.stage() == Stage::StartTls {
                // RFC 3207 §5 / CVE-2011-0411 class: nothing may follow the reply to
                // STARTTLS in the same read, complete or not.
                let bytes = rest.len() + self.parser.buffered();
                if bytes > 0 {
                    return self.untrusted_starttls(StarttlsFault::Pipelined {
                        code: reply.code(),
                        bytes,
                    });
                }
            }
            self.on_reply(reply, now);
            if step.consumed == 0 {
                break;
            }
        }
        if matches!(self.phase, Phase::Handshake(_) | Phase::Tls { .. }) && !rest.is_empty() {
            // Bytes behind the 220 to STARTTLS (already refused above); defensive.
            self.untrusted_starttls(StarttlsFault::Pipelined {
                code: crate::smtp::Code::SERVICE_READY,
                bytes: rest.len(),
            });
        }
    }

    /// Feeds ciphertext one slice of at most [`CIPHERTEXT_SLICE`] bytes at a time, reading
    /// the replies each slice decrypts before the next: however much arrives in one call, the
    /// session holds one slice of plaintext, never the whole input.
    fn handle_ciphertext(&mut self, input: &[u8], now: Timestamp) {
        for slice in input.chunks(CIPHERTEXT_SLICE) {
            if self.is_finished() {
                break;
            }
            self.handle_ciphertext_slice(slice, now);
        }
        // A burst (a long multiline reply, a large input) leaves no large buffer behind.
        if self.plain.capacity() > CIPHERTEXT_SLICE {
            self.plain = Vec::new();
        }
    }

    fn handle_ciphertext_slice(&mut self, input: &[u8], now: Timestamp) {
        let (engine, was_handshaking) = match &mut self.phase {
            Phase::Handshake(engine) => (engine, true),
            Phase::Tls { engine, .. } => (engine, false),
            Phase::Plain | Phase::Finished { .. } => {
                return self.violation("TLS phase without an engine".into());
            }
        };
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        let result = engine.handle_ciphertext(input, &mut plain);
        engine.drain_ciphertext(&mut self.out);
        let still_handshaking = engine.is_handshaking();
        if let Err(failure) = result {
            self.plain = plain;
            // TLS 1.3: the server judges our certificate after we think the handshake is
            // done, so a failure before the post-TLS EHLO reply is still a handshake failure.
            if was_handshaking || (self.caps.is_none() && self.stage() == Stage::Ehlo) {
                let class = failure.class;
                return self.tls_failed(class, Some(failure), String::new());
            }
            return self.finish(Ending::new(
                AttemptResult::ProtocolViolation {
                    stage: self.stage(),
                    detail: failure.to_string(),
                },
                NextStep::NextHost,
                false,
            ));
        }
        if was_handshaking {
            if still_handshaking {
                self.plain = plain;
                return;
            }
            if !plain.is_empty() {
                self.plain = plain;
                return self.violation("data before the post-TLS EHLO".into());
            }
            self.handshake_done(now);
        }
        let mut rest: &[u8] = &plain;
        while !rest.is_empty() && !self.is_finished() {
            let step = match self.parser.feed(rest) {
                Ok(step) => step,
                Err(e) => {
                    self.plain = plain;
                    return self.violation(e.to_string());
                }
            };
            rest = rest.get(step.consumed..).unwrap_or_default();
            match step.item {
                Some(reply) => self.on_reply(reply, now),
                None => break,
            }
        }
        self.plain = plain;
        if let Phase::Handshake(engine) | Phase::Tls { engine, .. } = &self.phase {
            if engine.peer_closed() {
                self.handle_eof(now);
            }
        }
    }

    fn handshake_done(&mut self, now: Timestamp) {
        let Phase::Handshake(engine) = std::mem::replace(&mut self.phase, Phase::Plain) else {
            return;
        };
        let facts = engine.facts();
        if let Some(facts) = facts.as_ref().filter(|_| self.judge_after_handshake) {
            // The configuration's verifier deferred: the attempt's verifier judges the chain
            // now, before any SMTP. On a resumed handshake (no certificate shown) that is the
            // chain the first handshake presented, judged as if it had just been sent.
            if let Err(detail) = self.verify_after_handshake(facts, now) {
                self.phase = Phase::Handshake(engine);
                return self.tls_failed(FailureClass::Certificate, None, detail);
            }
        }
        let summary = facts.map(|facts| {
            let verification = self.attempt.outcome.as_ref().and_then(OutcomeSlot::get);
            let trust = verification.as_ref().map_or_else(
                || {
                    if self.attempt.plan.requirement.authentication.verifies() {
                        TrustLevel::Verified
                    } else {
                        TrustLevel::Untrusted
                    }
                },
                |o| o.trust,
            );
            Box::new(TlsSummary {
                facts,
                rung: self.attempt.rung,
                trust,
                verification,
                report_only: self.attempt.report.as_ref().and_then(OutcomeSlot::get),
            })
        });
        if let Some(summary) = &summary {
            let line = format!("= {} TLS connection: {}", summary.trust, summary.facts);
            self.note(|| line);
            self.events
                .push_back(ClientEvent::TlsEstablished(summary.clone()));
        }
        self.phase = Phase::Tls { engine, summary };
        // RFC 3207 §4.2: forget everything learnt before TLS, and ask again.
        self.caps = None;
        self.receiving_helo = None;
        self.parser.reset();
        self.send_command(
            &Command::Ehlo(self.settings.helo_name.clone()),
            Stage::Ehlo,
            now,
        );
    }

    /// Applies the attempt's verifier to the chain of the session (for a resumed session,
    /// the chain its first handshake presented).
    fn verify_after_handshake(
        &self,
        facts: &crate::tls::TlsFacts,
        now: Timestamp,
    ) -> Result<(), String> {
        let Some((end_entity, intermediates)) = facts.peer_chain.split_first() else {
            return Err("TLS session without a server certificate".into());
        };
        let name = self.server_name();
        let name = rustls::pki_types::ServerName::try_from(name.trim_end_matches('.'))
            .map_err(|_| format!("invalid server name {name}"))?;
        self.attempt
            .verifier
            .verify_server_cert(end_entity, intermediates, &name, &[], now.to_unix_time())
            .map(|_| ())
            .map_err(|e| {
                let kind = if facts.resumed {
                    "resumed session"
                } else {
                    "certificate"
                };
                format!("{kind} refused: {e}")
            })
    }

    /// The name the verifier is handed (and sent as SNI when the plan has one).
    fn server_name(&self) -> String {
        let plan = &self.attempt.plan;
        plan.sni
            .as_ref()
            .map_or_else(|| plan.host.to_string(), |sni| sni.as_str().to_owned())
    }

    fn on_reply(&mut self, reply: Reply, now: Timestamp) {
        if self.settings.transcript {
            for line in String::from_utf8_lossy(&reply.to_bytes()).lines() {
                self.note(|| format!("< {line}"));
            }
        }
        let Some(stage) = self.expect.pop_front() else {
            return self.violation(format!("unexpected reply {}", reply.code()));
        };
        let code = reply.code();
        match stage {
            Stage::Greeting => {
                if code.as_u16() == 220 {
                    self.events.push_back(ClientEvent::Greeted(reply));
                    self.send_command(
                        &Command::Ehlo(self.settings.helo_name.clone()),
                        Stage::Ehlo,
                        now,
                    );
                } else if code.is_transient_negative() || code.is_permanent_negative() {
                    self.reject(stage, reply, true);
                } else {
                    self.violation_in(stage, format!("greeting with code {code}"));
                }
            }
            Stage::Ehlo => {
                if code.is_positive_completion() {
                    let ehlo = match EhloReply::parse(&reply) {
                        Ok(ehlo) => ehlo,
                        Err(e) => return self.violation_in(stage, e.to_string()),
                    };
                    self.receiving_helo = Some(ehlo.domain.to_string());
                    self.events.push_back(ClientEvent::Capabilities {
                        secure: self.is_tls(),
                        capabilities: ehlo.capabilities.clone(),
                    });
                    self.caps = Some(ehlo.capabilities);
                    self.after_ehlo(now);
                } else if code.is_permanent_negative() && matches!(self.phase, Phase::Plain) {
                    // HELO means no extensions and so no STARTTLS: only where plaintext is
                    // allowed.
                    if self.attempt.plan.requirement.allows_plaintext() {
                        self.send_command(
                            &Command::Helo(self.settings.helo_name.clone()),
                            Stage::Helo,
                            now,
                        );
                    } else {
                        self.tls_failed(
                            FailureClass::StarttlsNotOffered,
                            None,
                            format!("EHLO refused with {code}; HELO cannot offer STARTTLS"),
                        );
                    }
                } else {
                    self.reject(stage, reply, true);
                }
            }
            Stage::Helo => {
                if code.is_positive_completion() {
                    self.caps = Some(Capabilities::default());
                    self.events.push_back(ClientEvent::Capabilities {
                        secure: false,
                        capabilities: Capabilities::default(),
                    });
                    self.events
                        .push_back(ClientEvent::Plaintext(PlaintextReason::HeloOnly));
                    self.ready();
                } else {
                    self.reject(stage, reply, true);
                }
            }
            Stage::StartTls => {
                if code.as_u16() == 220 {
                    self.start_tls(now);
                } else if code.is_transient_negative() || code.is_permanent_negative() {
                    self.tls_failed(
                        FailureClass::StarttlsRefused,
                        None,
                        format!("STARTTLS refused: {code} {}", reply.text()),
                    );
                } else {
                    self.untrusted_starttls(StarttlsFault::UnexpectedCode { code });
                }
            }
            Stage::Mail => self.on_mail(reply, now),
            Stage::Rcpt => self.on_rcpt(reply, now),
            Stage::Data => self.on_data(reply, now),
            Stage::DataEnd => {
                let accepted = code.is_positive_completion();
                let txn = self.txn.take();
                let empty = txn.as_ref().is_some_and(|t| matches!(t.body, Body::Empty));
                self.transaction_open = !accepted;
                self.events
                    .push_back(ClientEvent::MessageResult(MessageResult {
                        accepted: accepted && !empty,
                        accepted_recipients: txn.map(|t| t.accepted).unwrap_or_default(),
                        reply: Some(reply),
                        refused: None,
                    }));
                self.ready();
            }
            Stage::Rset => {
                if !code.is_positive_completion() {
                    self.reject(stage, reply, true);
                } else {
                    self.arm(now);
                }
            }
            Stage::Quit => self.completed(),
            Stage::Handshake | Stage::Idle => {
                self.violation_in(stage, format!("unexpected reply {code}"));
            }
        }
        if !self.is_finished() && !self.expect.is_empty() {
            self.arm(now);
        }
    }

    fn after_ehlo(&mut self, now: Timestamp) {
        if self.is_tls() {
            return self.ready();
        }
        let offered = self.caps.as_ref().is_some_and(|c| c.starttls);
        let rung = self.attempt.rung;
        if !rung.is_tls() {
            if self.attempt.plan.requirement.requires_tls() {
                // A plaintext rung under a plan that requires TLS is a caller error; never
                // send mail.
                return self.tls_failed(
                    FailureClass::StarttlsNotOffered,
                    None,
                    "plaintext rung under a plan that requires TLS".into(),
                );
            }
            self.events
                .push_back(ClientEvent::Plaintext(PlaintextReason::PlaintextRung));
            return self.ready();
        }
        if offered && self.attempt.plan.protocols_on(rung).is_none() {
            // The plan's protocols leave nothing on this rung: never widen them.
            return self.tls_failed(
                FailureClass::OtherTls,
                None,
                format!("rung {rung} is not on this plan's ladder"),
            );
        }
        if offered {
            // Everything learnt so far is forgotten before TLS starts.
            self.caps = None;
            return self.send_command(&Command::StartTls, Stage::StartTls, now);
        }
        if self.attempt.plan.requirement.requires_tls() {
            return self.tls_failed(
                FailureClass::StarttlsNotOffered,
                None,
                "STARTTLS not offered".into(),
            );
        }
        self.events
            .push_back(ClientEvent::Plaintext(PlaintextReason::StarttlsNotOffered));
        self.ready()
    }

    fn start_tls(&mut self, now: Timestamp) {
        let server_name = self.server_name();
        let plan = &self.attempt.plan;
        let setup = ClientTlsSetup::new(self.attempt.rung, self.attempt.verifier.clone(), now)
            .with_sni(plan.sni.is_some())
            .with_identity(self.attempt.identity.clone())
            .with_protocols(plan.protocols_on(self.attempt.rung));
        // With a resumption cache, the configuration is the destination-and-policy one and its
        // verifier defers: the attempt's verifier judges the chain after the handshake.
        self.judge_after_handshake = self.settings.resumption.is_some();
        let config = match &self.settings.resumption {
            Some(cache) => cache.client_config(plan, &setup),
            None => client_config(&setup),
        };
        let engine = config.and_then(|config| TlsEngine::client(config, &server_name));
        match engine {
            Ok(mut engine) => {
                self.parser.reset();
                engine.drain_ciphertext(&mut self.out);
                self.phase = Phase::Handshake(Box::new(engine));
                self.deadline = Some(now.saturating_add(self.settings.timeouts.starttls));
            }
            Err(e) => self.tls_failed(FailureClass::OtherTls, None, e.to_string()),
        }
    }

    fn on_mail(&mut self, reply: Reply, now: Timestamp) {
        let ok = reply.code().is_positive_completion();
        if let Some(txn) = self.txn.as_mut() {
            txn.mail_ok = ok;
        }
        self.transaction_open = ok;
        self.events
            .push_back(ClientEvent::MailResult(reply.clone()));
        if !ok {
            if self.expect.is_empty() {
                return self.end_transaction(Some(reply));
            }
            // Pipelined: the RCPT and DATA replies still come; remember who decided.
            if let Some(txn) = self.txn.as_mut() {
                txn.pending_failure = Some(reply);
            }
            return;
        }
        self.next_rcpt(now);
    }

    fn on_rcpt(&mut self, reply: Reply, now: Timestamp) {
        let Some(txn) = self.txn.as_mut() else {
            return self.violation("RCPT reply outside a transaction".into());
        };
        let index = txn.rcpt_replies;
        txn.rcpt_replies += 1;
        if reply.code().is_positive_completion() {
            txn.accepted.push(index);
        }
        self.events
            .push_back(ClientEvent::RcptResult { index, reply });
        self.next_rcpt(now);
    }

    /// Without pipelining: the next RCPT, or DATA, or the end when nobody was accepted.
    fn next_rcpt(&mut self, now: Timestamp) {
        if !self.expect.is_empty() {
            return; // pipelined: the replies are already on their way
        }
        if let Some(to) = self.txn.as_mut().and_then(|t| t.pending_rcpts.pop_front()) {
            return self.send_command(
                &Command::Rcpt {
                    to,
                    params: Vec::new(),
                },
                Stage::Rcpt,
                now,
            );
        }
        let any = self.txn.as_ref().is_some_and(|t| !t.accepted.is_empty());
        if any {
            self.send_command(&Command::Data, Stage::Data, now);
        } else {
            self.end_transaction(None);
        }
    }

    fn on_data(&mut self, reply: Reply, now: Timestamp) {
        let go = reply.code().as_u16() == 354;
        let Some(txn) = self.txn.as_mut() else {
            return self.violation("DATA reply outside a transaction".into());
        };
        if go && (txn.accepted.is_empty() || !txn.mail_ok) {
            // Pipelined DATA got 354 although nothing was accepted: end the empty message.
            txn.body = Body::Empty;
            let mut wire = Vec::new();
            DataEncoder::default().finish(&mut wire);
            self.write(&wire);
            self.expect.push_back(Stage::DataEnd);
            self.arm(now);
            return;
        }
        if go {
            txn.body = Body::Streaming(DataEncoder::default());
            self.deadline = Some(now.saturating_add(self.settings.timeouts.data_block));
            self.events.push_back(ClientEvent::DataReady);
            return;
        }
        let decided = txn.pending_failure.take().unwrap_or(reply);
        self.end_transaction(Some(decided));
    }

    fn end_transaction(&mut self, reply: Option<Reply>) {
        let txn = self.txn.take();
        self.events
            .push_back(ClientEvent::MessageResult(MessageResult {
                accepted: false,
                accepted_recipients: txn.map(|t| t.accepted).unwrap_or_default(),
                reply,
                refused: None,
            }));
        self.ready();
    }

    fn refuse_locally(&self, envelope: &Envelope, caps: &Capabilities) -> Option<Status> {
        // RFC 8689: TLS, an authenticated server, and REQUIRETLS in the post-TLS EHLO reply
        // (the pre-TLS capabilities were dropped at STARTTLS).
        let authenticated = requiretls::authenticates(&self.attempt.plan.requirement)
            && self
                .tls_summary()
                .is_some_and(|t| t.trust == TrustLevel::Verified);
        if let Err(failure) = requiretls::check_post_tls_capabilities(
            MessageTls::new(envelope.require_tls, []),
            self.is_tls(),
            authenticated,
            caps,
        ) {
            return Some(failure.status());
        }
        if envelope.smtputf8 && !caps.smtputf8 {
            return Some(Status::new(
                550,
                (5, 6, 7),
                "SMTPUTF8 required: the next hop does not offer it",
            ));
        }
        match (envelope.size, caps.size) {
            (Some(size), Some(limit)) if limit > 0 && size > limit => Some(Status::new(
                552,
                (5, 3, 4),
                "message larger than the next hop's SIZE limit",
            )),
            _ => None,
        }
    }

    fn ready(&mut self) {
        self.deadline = None;
        self.events.push_back(ClientEvent::Ready);
    }

    fn send_command(&mut self, command: &Command, stage: Stage, now: Timestamp) {
        let mut wire = Vec::new();
        command.encode(&mut wire);
        self.note_sent(&wire);
        self.write(&wire);
        self.expect_reply(stage, now);
    }

    fn expect_reply(&mut self, stage: Stage, now: Timestamp) {
        self.expect.push_back(stage);
        self.arm(now);
    }

    /// Sets the deadline for the reply at the head of the queue.
    fn arm(&mut self, now: Timestamp) {
        let t = &self.settings.timeouts;
        let timeout = match self.expect.front() {
            Some(Stage::Greeting) => t.greeting,
            Some(Stage::Ehlo | Stage::Helo) => t.ehlo,
            Some(Stage::StartTls | Stage::Handshake) => t.starttls,
            Some(Stage::Mail) => t.mail,
            Some(Stage::Rcpt) => t.rcpt,
            Some(Stage::Data) => t.data_init,
            Some(Stage::DataEnd) => t.data_end,
            Some(_) => t.other,
            None => return,
        };
        self.deadline = Some(now.saturating_add(timeout));
    }

    /// Keeps one dialogue line, when the settings ask for it and there is room.
    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.settings.transcript && self.transcript.len() < super::settings::TRANSCRIPT_MAX {
            self.transcript.push(line());
        }
    }

    /// Keeps the commands of a flight (never message content: the callers are the command
    /// writers only).
    fn note_sent(&mut self, wire: &[u8]) {
        if !self.settings.transcript {
            return;
        }
        for command in String::from_utf8_lossy(wire).split_terminator("\r\n") {
            self.note(|| format!("> {command}"));
        }
    }

    fn write(&mut self, data: &[u8]) {
        match &mut self.phase {
            Phase::Tls { engine, .. } => {
                if let Err(failure) = engine.encrypt(data, &mut self.out) {
                    let stage = self.stage();
                    self.finish(Ending::new(
                        AttemptResult::ProtocolViolation {
                            stage,
                            detail: failure.to_string(),
                        },
                        NextStep::NextHost,
                        false,
                    ));
                }
            }
            _ => self.out.extend_from_slice(data),
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self.phase, Phase::Tls { .. })
    }

    fn tls_summary(&self) -> Option<&TlsSummary> {
        match &self.phase {
            Phase::Tls { summary, .. } => summary.as_deref(),
            _ => None,
        }
    }

    fn stage(&self) -> Stage {
        match self.phase {
            Phase::Handshake(_) => return Stage::Handshake,
            Phase::Finished { stage } => return stage,
            Phase::Plain | Phase::Tls { .. } => {}
        }
        if let Some(stage) = self.expect.front() {
            return *stage;
        }
        if self
            .txn
            .as_ref()
            .is_some_and(|t| matches!(t.body, Body::Streaming(_)))
        {
            return Stage::Data;
        }
        Stage::Idle
    }

    /// The reply to STARTTLS cannot be trusted: end the attempt where it is. The ladder
    /// refuses to move on [`FailureClass::UntrustedStarttlsReply`] (no weaker rung, no
    /// plaintext), so the step is the plan's failure action; a deferral says what happened.
    /// The stream is out of step (or forged): no QUIT.
    fn untrusted_starttls(&mut self, fault: StarttlsFault) {
        let class = FailureClass::UntrustedStarttlsReply;
        let next = match next_rung(
            &self.attempt.plan,
            self.attempt.rung,
            class,
            &self.attempt.gates,
        ) {
            Err(refusal) => match NextStep::from_refusal(&refusal) {
                NextStep::Defer(status) => NextStep::Defer(Status::from_codes(
                    status.code(),
                    status.enhanced(),
                    format!("TLS not started: {fault}"),
                )),
                other => other,
            },
            // The ladder never moves on this class; should it ever, still never follow.
            Ok(_) => NextStep::NextHost,
        };
        self.expect.clear();
        self.finish(Ending {
            result: AttemptResult::StarttlsUntrusted(fault),
            next,
            polite: false,
            result_type: Some(ResultType::ValidationFailure),
            verification: None,
        });
    }

    fn violation(&mut self, detail: String) {
        self.violation_in(self.stage(), detail);
    }

    fn violation_in(&mut self, stage: Stage, detail: String) {
        if stage == Stage::Handshake {
            return self.tls_failed(FailureClass::Decode, None, detail);
        }
        self.finish(Ending::new(
            AttemptResult::ProtocolViolation { stage, detail },
            NextStep::NextHost,
            false,
        ));
    }

    fn reject(&mut self, stage: Stage, reply: Reply, polite: bool) {
        self.finish(Ending::new(
            AttemptResult::Rejected { stage, reply },
            NextStep::NextHost,
            polite,
        ));
    }

    /// The server answered QUIT, or closed after it: the attempt is complete.
    fn completed(&mut self) {
        let tls = self.tls_summary().is_some();
        self.finish(Ending::new(
            AttemptResult::Completed { tls },
            NextStep::Done,
            false,
        ));
    }

    /// A TLS policy failure: the ladder's gates pick the next rung or the refusal's action.
    fn tls_failed(&mut self, class: FailureClass, failure: Option<TlsFailure>, detail: String) {
        let verification = self.attempt.outcome.as_ref().and_then(OutcomeSlot::get);
        // The verifier knows best why a certificate failed.
        let result_type = verification
            .as_ref()
            .filter(|_| class == FailureClass::Certificate)
            .and_then(Outcome::result_type)
            .or_else(|| failure.as_ref().map(|f| f.result_type))
            .unwrap_or(match class {
                FailureClass::Certificate => ResultType::ValidationFailure,
                _ => ResultType::StarttlsNotSupported,
            });
        let next = match next_rung(
            &self.attempt.plan,
            self.attempt.rung,
            class,
            &self.attempt.gates,
        ) {
            Ok(rung) => NextStep::Retry { rung },
            Err(refusal) => NextStep::from_refusal(&refusal),
        };
        // Politeness only where the stream is still plain SMTP and in step: STARTTLS was not
        // offered, or was refused with a clean reply (RFC 3207 §4: the session goes on in
        // plaintext after a 454 or 5xx; a reply with bytes behind it never gets here).
        let polite = failure.is_none()
            && matches!(self.phase, Phase::Plain)
            && matches!(
                class,
                FailureClass::StarttlsNotOffered | FailureClass::StarttlsRefused
            );
        self.finish(Ending {
            result: AttemptResult::TlsFailed {
                class,
                failure,
                detail,
            },
            next,
            polite,
            result_type: Some(result_type),
            verification,
        });
    }

    fn finish(&mut self, ending: Ending) {
        if self.is_finished() {
            return;
        }
        if ending.polite {
            let mut wire = Vec::new();
            Command::Quit.encode(&mut wire);
            self.note_sent(&wire);
            self.write(&wire);
            if self.is_finished() {
                return; // the QUIT could not be encrypted: that ended the attempt
            }
        } else if let Phase::Tls { engine, .. } = &mut self.phase {
            engine.close();
            engine.drain_ciphertext(&mut self.out);
        }
        // What a later call is told: the handshake, the message text, or idle.
        self.expect.clear();
        let stage = self.stage();
        let summary = match std::mem::replace(&mut self.phase, Phase::Finished { stage }) {
            Phase::Tls { summary, .. } => summary,
            _ => None,
        };
        self.deadline = None;
        let record = AttemptRecord {
            host: self.attempt.plan.host.to_string(),
            rung: self.attempt.rung,
            result: ending.result,
            result_type: ending.result_type,
            verification: ending
                .verification
                .or_else(|| summary.as_ref().and_then(|t| t.verification.clone())),
            tls: summary.map(|summary| *summary),
            receiving_helo: self.receiving_helo.clone(),
            decision: self.attempt.decision.clone(),
            next: ending.next,
            transcript: std::mem::take(&mut self.transcript),
        };
        self.events
            .push_back(ClientEvent::Finished(Box::new(record)));
    }
}
