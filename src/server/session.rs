//! The server session state machine.

use std::collections::VecDeque;
use std::sync::Arc;

use core::time::Duration;

use crate::cert::Outcome;
use crate::session::Session;
use crate::smtp::{
    BareLineEnds, Body, Capabilities, Code, Command, CommandConfig, CommandError, CommandParser,
    DataDecoder, DataStatus, EnhancedCode, ForwardPath, Host, MailParams, Param, Reply,
    ReversePath, Verb,
};
use crate::time::Timestamp;
use crate::tls::{SharedClock, TlsEngine, TlsFacts, TlsFailure};

use super::config::{ClientInfo, ServerConfig};
use super::enforce::Enforcement;
use super::error::ServerError;
use super::event::{AbortReason, CloseReason, MailFrom, Pending, RcptTo, Refusal, ServerEvent};

/// The most bytes of discarded plaintext kept for the log.
const PREVIEW: usize = 64;

/// One inbound SMTP session, without I/O.
///
/// The caller owns the socket and the clock:
///
/// 1. [`handle_input`](Self::handle_input) with the bytes that arrived (it returns how many it
///    took; offer the rest again after the application answered pending events);
/// 2. [`poll_transmit`](Self::poll_transmit) until `None`, writing each chunk to the peer;
/// 3. [`poll_event`](Self::poll_event) until `None`, answering [`ServerEvent::MailFrom`],
///    [`ServerEvent::RcptTo`] and [`ServerEvent::MessageEnd`] with [`accept`](Self::accept)
///    or [`reject`](Self::reject) (then transmit again);
/// 4. wait for input or [`poll_timeout`](Self::poll_timeout), calling
///    [`handle_timeout`](Self::handle_timeout) when it passes, and
///    [`handle_eof`](Self::handle_eof) when the client closes;
/// 5. stop when [`is_closed`](Self::is_closed).
///
/// The greeting is queued at creation. The driving surface is the [`Session`] trait, shared
/// with the client session; the inherent methods of the same names are the same calls.
///
/// ## The STARTTLS boundary
///
/// Once the STARTTLS line is read, every further plaintext byte is discarded unread until the
/// `220` reply leaves the session through [`poll_transmit`](Self::poll_transmit): a client
/// cannot have seen the 220 before that, so whatever it sent was pipelined in plaintext (or
/// injected on the path) and is reported as [`ServerEvent::PlaintextDiscarded`]. Bytes that
/// arrive after that moment are TLS records. After the handshake the session forgets the
/// greeting and requires EHLO again.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    enforcement: Enforcement,
    now: Timestamp,
    deadline: Option<Timestamp>,
    tls: TlsState,
    phase: Phase,
    greeting: Option<Greeting>,
    transaction: Option<Transaction>,
    pending: Option<PendingCommand>,
    input: Vec<u8>,
    commands: CommandParser,
    output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    queued_data: usize,
    errors: u32,
    lifecycle: Lifecycle,
    /// The clock of the listener's shared TLS configuration, set from `now` before rustls
    /// runs (sans-IO: rustls reads no clock of its own).
    clock: Option<SharedClock>,
}

#[derive(Debug)]
enum TlsState {
    /// No TLS yet.
    Plain,
    /// The 220 to STARTTLS is queued but not yet handed out; plaintext is discarded.
    Boundary {
        engine: Box<TlsEngine>,
        discarded: usize,
        preview: Vec<u8>,
    },
    /// The handshake is running.
    Handshaking(Box<TlsEngine>),
    /// TLS is up; SMTP runs inside it.
    Active(Box<TlsEngine>),
    /// TLS failed; nothing more is read or written.
    Failed,
}

#[derive(Debug)]
enum Phase {
    Command,
    Data(DataState),
}

#[derive(Debug)]
struct DataState {
    decoder: DataDecoder,
    size: u64,
    too_large: bool,
}

#[derive(Clone, Debug)]
struct Greeting {
    extended: bool,
}

#[derive(Clone, Debug)]
struct Transaction {
    recipients: usize,
}

#[derive(Clone, Debug)]
enum PendingCommand {
    Mail,
    MessageEnd,
    Rcpt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Open,
    /// The last reply is queued; the session closes once it has been transmitted.
    Closing,
    Closed,
}

/// The buffer capacity a server session keeps between bursts.
const SHRINK_ABOVE: usize = 16 * 1024;

impl ServerSession {
    /// A session for a client that just connected; the `220` greeting is queued.
    pub fn new(config: Arc<ServerConfig>, client: ClientInfo, now: Timestamp) -> Self {
        let enforcement = Enforcement::new(&config, client);
        let commands = CommandParser::new(CommandConfig {
            max_line_len: config.limits.max_line_length,
            ..CommandConfig::default()
        });
        let mut session = Self {
            config,
            enforcement,
            now,
            deadline: None,
            tls: TlsState::Plain,
            phase: Phase::Command,
            greeting: None,
            transaction: None,
            pending: None,
            input: Vec::new(),
            commands,
            output: Vec::new(),
            events: VecDeque::new(),
            queued_data: 0,
            errors: 0,
            lifecycle: Lifecycle::Open,
            clock: None,
        };
        let text = format!("{} ESMTP", session.config.hostname);
        session.reply(Code::SERVICE_READY, None, &text);
        session.arm(session.config.timeouts.command);
        session
    }

    /// Feeds bytes received from the client; returns how many were taken.
    ///
    /// Fewer than `input.len()` are taken only while the session holds a full input buffer
    /// (the application has not answered an event, or not taken the message data yet); offer
    /// the rest again afterwards. After the session closed, input is taken and ignored.
    pub fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize {
        self.advance(now);
        if self.expire() {
            return input.len();
        }
        let mut taken = 0;
        while let Some(rest) = input.get(taken..) {
            if rest.is_empty() || self.lifecycle != Lifecycle::Open {
                break;
            }
            let n = self.take(rest);
            taken += n;
            self.process();
            if self.peer_sent_close_notify() {
                self.handle_eof(now);
            }
            if n == 0 {
                break;
            }
        }
        self.shrink_buffers();
        if self.lifecycle != Lifecycle::Open {
            return input.len();
        }
        taken
    }

    /// The bytes of buffer capacity the session holds (input not yet processed, output not
    /// yet handed out, an incomplete command line): at most about
    /// [`Limits::input_buffer`](super::Limits::input_buffer) plus one reply flight while a
    /// burst is processed, and back under 16 KiB once it is. rustls's own buffers
    /// are not counted. What memory tests measure.
    pub fn buffered_bytes(&self) -> usize {
        self.input.capacity() + self.output.capacity() + self.commands.buffered()
    }

    /// Gives back the capacity a burst (a large message, a long pipelined flight) left
    /// behind, once the bytes were processed.
    fn shrink_buffers(&mut self) {
        if self.input.capacity() > SHRINK_ABOVE && self.input.len() <= SHRINK_ABOVE / 2 {
            self.input.shrink_to(SHRINK_ABOVE / 2);
        }
        if self.output.capacity() > SHRINK_ABOVE && self.output.len() <= SHRINK_ABOVE / 2 {
            self.output.shrink_to(SHRINK_ABOVE / 2);
        }
    }

    /// The client closed its side of the connection.
    pub fn handle_eof(&mut self, now: Timestamp) {
        self.advance(now);
        if self.lifecycle != Lifecycle::Open {
            return;
        }
        let idle = self.is_idle();
        let failure = match &mut self.tls {
            TlsState::Handshaking(engine) => engine.handle_eof().err(),
            // A truncated TLS session matters only when it cut a transaction short.
            TlsState::Active(engine) if !idle => engine.handle_eof().err(),
            _ => None,
        };
        if let Some(failure) = failure {
            self.events.push_back(ServerEvent::TlsFailed(failure));
        }
        self.pending = None;
        self.abort_message(AbortReason::ConnectionLost);
        self.finish(CloseReason::PeerClosed);
    }

    /// The next deadline, if the session waits for the client. Call
    /// [`handle_timeout`](Self::handle_timeout) when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.lifecycle {
            Lifecycle::Open => self.deadline,
            Lifecycle::Closing | Lifecycle::Closed => None,
        }
    }

    /// Tells the session the time; a passed deadline ends it (`421 4.4.2` where a reply is
    /// still possible).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.advance(now);
        self.expire();
    }

    /// Bytes to send to the client, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if let TlsState::Handshaking(engine) | TlsState::Active(engine) = &mut self.tls {
            engine.drain_ciphertext(&mut self.output);
        }
        if self.output.is_empty() {
            if self.lifecycle == Lifecycle::Closing {
                self.lifecycle = Lifecycle::Closed;
            }
            return None;
        }
        let bytes = core::mem::take(&mut self.output);
        self.pass_boundary();
        if self.lifecycle == Lifecycle::Closing {
            self.lifecycle = Lifecycle::Closed;
        }
        Some(bytes)
    }

    /// Like [`poll_transmit`](Self::poll_transmit), appending to the caller's buffer; returns
    /// the number of bytes added.
    pub fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        let mut n = 0;
        while let Some(bytes) = self.poll_transmit() {
            n += bytes.len();
            buf.extend_from_slice(&bytes);
        }
        n
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let event = self.events.pop_front()?;
        if let ServerEvent::MessageData(data) = &event {
            self.queued_data = self.queued_data.saturating_sub(data.len());
            // Room for more message data: go on with what is buffered.
            self.process();
        }
        Some(event)
    }

    /// The event waiting for an answer, if any.
    pub fn pending(&self) -> Option<Pending> {
        self.pending.as_ref().map(|p| match p {
            PendingCommand::Mail => Pending::MailFrom,
            PendingCommand::MessageEnd => Pending::MessageEnd,
            PendingCommand::Rcpt => Pending::RcptTo,
        })
    }

    /// Accepts the pending `MAIL FROM`, `RCPT TO` or message with the standard `250` reply.
    pub fn accept(&mut self) -> Result<(), ServerError> {
        let text = match self.pending {
            Some(PendingCommand::Mail) => "Ok",
            Some(PendingCommand::Rcpt) => "Ok",
            Some(PendingCommand::MessageEnd) => "Ok: queued",
            None => return Err(ServerError::NothingPending),
        };
        self.accept_with(text)
    }

    /// Accepts the pending command with `250` and the given text (a queue id, say).
    pub fn accept_with(&mut self, text: &str) -> Result<(), ServerError> {
        if self.pending.is_none() {
            return Err(ServerError::NothingPending);
        }
        // Validate before anything changes: a bad text leaves the event pending.
        Reply::new(Code::OK, None, text).map_err(|e| ServerError::InvalidText {
            detail: e.to_string(),
        })?;
        let pending = self.pending.take().ok_or(ServerError::NothingPending)?;
        let (enhanced, transaction) = match pending {
            PendingCommand::Mail => (
                EnhancedCode::new(2, 1, 0),
                Some(Transaction { recipients: 0 }),
            ),
            PendingCommand::Rcpt => {
                let mut transaction = self.transaction.take();
                if let Some(t) = transaction.as_mut() {
                    t.recipients = t.recipients.saturating_add(1);
                }
                (EnhancedCode::new(2, 1, 5), transaction)
            }
            PendingCommand::MessageEnd => (EnhancedCode::new(2, 0, 0), None),
        };
        self.transaction = transaction;
        self.reply(Code::OK, enhanced, text);
        self.resume();
        Ok(())
    }

    /// Refuses the pending command with `reply`, which must be a 4xx or 5xx reply.
    pub fn reject(&mut self, reply: &Reply) -> Result<(), ServerError> {
        let code = reply.code();
        if !(code.is_transient_negative() || code.is_permanent_negative()) {
            return Err(ServerError::NotARefusal {
                code: code.as_u16(),
            });
        }
        let pending = self.pending.take().ok_or(ServerError::NothingPending)?;
        match pending {
            PendingCommand::Mail | PendingCommand::MessageEnd => self.transaction = None,
            PendingCommand::Rcpt => {}
        }
        self.send(reply);
        self.resume();
        Ok(())
    }

    /// Ends the session from the application side with `421 4.3.2`.
    pub fn close(&mut self) {
        if self.lifecycle != Lifecycle::Open {
            return;
        }
        self.pending = None;
        self.abort_message(AbortReason::ConnectionLost);
        let text = format!("{} Service shutting down", self.config.hostname);
        self.reply(Code::SERVICE_UNAVAILABLE, EnhancedCode::new(4, 3, 2), &text);
        self.finish(CloseReason::Application);
    }

    /// Whether the session is over and every byte for the client was transmitted.
    pub fn is_closed(&self) -> bool {
        self.lifecycle == Lifecycle::Closed
    }

    /// Whether TLS is established.
    pub fn is_tls(&self) -> bool {
        matches!(self.tls, TlsState::Active(_))
    }

    /// The facts of the TLS session, once established.
    pub fn tls_facts(&self) -> Option<&TlsFacts> {
        self.enforcement.tls_facts()
    }

    /// What the client-certificate verifier found, once TLS is established.
    pub fn client_certificate(&self) -> Option<&Outcome> {
        self.enforcement.client_certificate()
    }
}

impl Session for ServerSession {
    type Event = ServerEvent;

    fn handle_input(&mut self, input: &[u8], now: Timestamp) -> usize {
        ServerSession::handle_input(self, input, now)
    }

    fn handle_eof(&mut self, now: Timestamp) {
        ServerSession::handle_eof(self, now);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        ServerSession::poll_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        ServerSession::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        ServerSession::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        ServerSession::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        ServerSession::handle_timeout(self, now);
    }

    fn is_closed(&self) -> bool {
        ServerSession::is_closed(self)
    }
}

impl ServerSession {
    // ---- input -------------------------------------------------------------------------

    /// Takes what fits of `input` into the plaintext buffer (through TLS when it runs).
    fn take(&mut self, input: &[u8]) -> usize {
        let room = self
            .config
            .limits
            .input_buffer
            .saturating_sub(self.input.len());
        let n = room.min(input.len());
        let chunk = input.get(..n).unwrap_or_default();
        let engine = match &mut self.tls {
            TlsState::Failed => return input.len(),
            TlsState::Boundary {
                discarded, preview, ..
            } => {
                // Invariant 1: plaintext after the STARTTLS line is never read.
                *discarded = discarded.saturating_add(input.len());
                let keep = PREVIEW.saturating_sub(preview.len()).min(input.len());
                preview.extend_from_slice(input.get(..keep).unwrap_or_default());
                return input.len();
            }
            TlsState::Plain => {
                self.input.extend_from_slice(chunk);
                return n;
            }
            TlsState::Handshaking(engine) | TlsState::Active(engine) => engine,
        };
        if let Some(clock) = &self.clock {
            clock.set(self.now);
        }
        let result = engine.handle_ciphertext(chunk, &mut self.input);
        let handshake_done = !engine.is_handshaking();
        match result {
            Err(failure) => self.tls_failed(failure),
            Ok(()) if handshake_done && matches!(self.tls, TlsState::Handshaking(_)) => {
                self.tls_established();
            }
            Ok(()) => {}
        }
        n
    }

    fn peer_sent_close_notify(&self) -> bool {
        match &self.tls {
            TlsState::Handshaking(engine) | TlsState::Active(engine) => engine.peer_closed(),
            _ => false,
        }
    }

    /// Runs commands and message data from the plaintext buffer until it needs more input
    /// or an answer.
    fn process(&mut self) {
        loop {
            let ready = self.lifecycle == Lifecycle::Open
                && self.pending.is_none()
                && matches!(self.tls, TlsState::Plain | TlsState::Active(_));
            if !ready {
                return;
            }
            let progressed = match self.phase {
                Phase::Command => self.step_command(),
                Phase::Data(_) => self.step_data(),
            };
            if !progressed {
                return;
            }
        }
    }

    fn step_command(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let progress = self.commands.feed(&self.input);
        self.input.drain(..progress.consumed.min(self.input.len()));
        match progress.item {
            None => false,
            Some(Ok(command)) => {
                self.handle_command(command);
                if self.pending.is_none() && matches!(self.phase, Phase::Command) {
                    self.arm(self.config.timeouts.command);
                }
                true
            }
            Some(Err(error)) => {
                let verb = match &error {
                    CommandError::InvalidAddress { verb, .. }
                    | CommandError::InvalidArgument { verb, .. }
                    | CommandError::InvalidParameter { verb, .. } => verb.as_str(),
                    CommandError::Utf8WithoutSmtputf8 => Verb::Mail.as_str(),
                    _ => "LINE",
                };
                self.refuse_with(verb, error.reply());
                true
            }
        }
    }

    fn step_data(&mut self) -> bool {
        if self.input.is_empty() || self.queued_data >= self.config.limits.input_buffer {
            return false;
        }
        let max = self.config.limits.max_message_size;
        let Phase::Data(data) = &mut self.phase else {
            return false;
        };
        let mut chunk = Vec::new();
        let (consumed, end) = match data.decoder.decode(&self.input, &mut chunk) {
            DataStatus::End { consumed, result } => (consumed, Some(result)),
            DataStatus::NeedMore => (self.input.len(), None),
        };
        self.input.drain(..consumed.min(self.input.len()));
        data.size = data.size.saturating_add(chunk.len() as u64);
        let became_too_large = !data.too_large && data.size > max;
        data.too_large |= became_too_large;
        let (too_large, size) = (data.too_large, data.size);
        if became_too_large {
            self.events
                .push_back(ServerEvent::MessageAborted(AbortReason::TooLarge));
        } else if !too_large && !chunk.is_empty() {
            self.queued_data = self.queued_data.saturating_add(chunk.len());
            self.events.push_back(ServerEvent::MessageData(chunk));
        }
        let Some(result) = end else {
            return consumed > 0;
        };
        self.phase = Phase::Command;
        match result {
            _ if too_large => {
                self.transaction = None;
                self.refuse_message(reply_of(
                    Code::EXCEEDED_STORAGE,
                    EnhancedCode::new(5, 3, 4),
                    "Error: message size exceeds fixed maximum message size",
                ));
                self.arm(self.config.timeouts.command);
            }
            Err(error) => {
                // Bare CR or LF (the SMTP smuggling vector) or an overlong line: the decoder
                // stopped passing content on; the message is refused as a whole.
                self.transaction = None;
                self.events
                    .push_back(ServerEvent::MessageAborted(AbortReason::Malformed));
                self.refuse_message(error.reply());
                self.arm(self.config.timeouts.command);
            }
            Ok(()) => {
                self.pending = Some(PendingCommand::MessageEnd);
                self.deadline = None;
                self.events.push_back(ServerEvent::MessageEnd { size });
            }
        }
        true
    }

    // ---- commands ----------------------------------------------------------------------

    fn handle_command(&mut self, command: Command) {
        let verb = command.verb().as_str();
        if self.enforcement.tls_required()
            && !self.is_tls()
            && !matches!(
                command,
                Command::Noop(_) | Command::Ehlo(_) | Command::StartTls | Command::Quit
            )
        {
            // RFC 3207 §4: every command but NOOP, EHLO, STARTTLS and QUIT.
            self.refuse(
                verb,
                Code::ENCRYPTION_REQUIRED,
                (5, 7, 0),
                "Must issue a STARTTLS command first",
            );
            return;
        }
        match command {
            Command::Ehlo(host) => self.greet(host, true),
            Command::Helo(host) => self.greet(host, false),
            Command::StartTls => self.start_tls(),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Rset => {
                self.reset_transaction();
                self.reply(Code::OK, EnhancedCode::new(2, 0, 0), "Ok");
            }
            Command::Noop(_) => self.reply(Code::OK, EnhancedCode::new(2, 0, 0), "Ok"),
            Command::Quit => {
                self.abort_message(AbortReason::ConnectionLost);
                self.reply(Code::CLOSING, EnhancedCode::new(2, 0, 0), "Bye");
                self.tls_close_notify();
                self.finish(CloseReason::Quit);
            }
            Command::Vrfy(_) => self.reply(
                Code::CANNOT_VERIFY,
                EnhancedCode::new(2, 0, 0),
                "Cannot VRFY user, but will accept message",
            ),
            Command::Help(_) => self.reply(Code::HELP, EnhancedCode::new(2, 0, 0), "See RFC 5321"),
            Command::Auth { .. } => self.refuse(
                verb,
                Code::NOT_IMPLEMENTED,
                (5, 5, 1),
                "Error: authentication not enabled",
            ),
        }
    }

    fn greet(&mut self, host: Host, extended: bool) {
        self.reset_transaction();
        self.enforcement.set_helo(&host);
        self.greeting = Some(Greeting { extended });
        let reply = if extended {
            let mut lines = vec![self.config.hostname.clone()];
            lines.extend(self.capabilities().lines());
            Reply::from_lines(Code::OK, None, lines)
                .unwrap_or_else(|_| reply_of(Code::OK, None, "Hello"))
        } else {
            reply_of(Code::OK, None, &self.config.hostname)
        };
        self.send(&reply);
        self.events
            .push_back(ServerEvent::Greeted { host, extended });
    }

    /// What the EHLO reply announces: STARTTLS only before TLS, REQUIRETLS only after it
    /// (RFC 8689 §4.1), so a stripped or injected plaintext list means nothing.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            pipelining: true,
            size: Some(self.config.limits.max_message_size),
            eight_bit_mime: true,
            enhanced_status_codes: true,
            starttls: !self.is_tls() && self.config.tls.is_some(),
            require_tls: self.is_tls(),
            ..Capabilities::default()
        }
    }

    fn start_tls(&mut self) {
        if self.is_tls() {
            self.refuse(
                "STARTTLS",
                Code::TRANSACTION_FAILED,
                (5, 5, 1),
                "Error: TLS already active",
            );
            return;
        }
        if self.transaction.is_some() {
            self.refuse(
                "STARTTLS",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: MAIL transaction in progress",
            );
            return;
        }
        // The listener's ServerTls itself (not a copy): its TLS configuration is built once.
        let config = Arc::clone(&self.config);
        let Some(tls) = config.tls.as_ref() else {
            self.refuse(
                "STARTTLS",
                Code::NOT_IMPLEMENTED,
                (5, 5, 1),
                "Error: command not implemented",
            );
            return;
        };
        let engine = match self.enforcement.tls_engine(tls, self.now) {
            Ok((engine, clock)) => {
                self.clock = Some(clock);
                engine
            }
            Err(_) => {
                self.refuse(
                    "STARTTLS",
                    Code::TLS_NOT_AVAILABLE,
                    (4, 7, 0),
                    "TLS not available due to temporary reason",
                );
                return;
            }
        };
        self.reply(
            Code::SERVICE_READY,
            EnhancedCode::new(2, 0, 0),
            "Ready to start TLS",
        );
        // Invariant 1: whatever followed the STARTTLS line is plaintext that must never be
        // executed; it is counted and dropped, and so is everything until the 220 is out.
        let discarded = self.input.len();
        let preview = self
            .input
            .get(..PREVIEW.min(discarded))
            .unwrap_or_default()
            .to_vec();
        self.input.clear();
        self.commands.reset();
        self.deadline = None;
        self.tls = TlsState::Boundary {
            engine: Box::new(engine),
            discarded,
            preview,
        };
    }

    fn mail(&mut self, from: ReversePath, params: MailParams) {
        if self.greeting.is_none() {
            self.refuse(
                "MAIL",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: send HELO/EHLO first",
            );
            return;
        }
        if self.transaction.is_some() {
            self.refuse(
                "MAIL",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: nested MAIL command",
            );
            return;
        }
        let extended = self.greeting.as_ref().is_some_and(|g| g.extended);
        if !extended && params != MailParams::default() {
            self.refuse(
                "MAIL",
                Code::PARAMETERS_NOT_RECOGNISED,
                (5, 5, 4),
                "Error: parameters need EHLO",
            );
            return;
        }
        if params.require_tls && !self.is_tls() {
            // REQUIRETLS is advertised only over TLS (RFC 8689 §4.1): offered in plaintext it
            // is a parameter the server does not recognise here.
            self.refuse(
                "MAIL",
                Code::PARAMETERS_NOT_RECOGNISED,
                (5, 5, 4),
                "REQUIRETLS needs a TLS connection",
            );
            return;
        }
        if !params.other.is_empty() || params.smtputf8 || params.body == Some(Body::BinaryMime) {
            // Only what the EHLO reply announced: SIZE, BODY=7BIT/8BITMIME, REQUIRETLS.
            self.refuse(
                "MAIL",
                Code::PARAMETERS_NOT_RECOGNISED,
                (5, 5, 4),
                "Error: unsupported MAIL parameter",
            );
            return;
        }
        if params
            .size
            .is_some_and(|size| size > self.config.limits.max_message_size)
        {
            self.refuse(
                "MAIL",
                Code::EXCEEDED_STORAGE,
                (5, 3, 4),
                "Error: message size exceeds fixed maximum message size",
            );
            return;
        }
        if let Some(reply) = self.enforcement.check_mail(&from) {
            self.refuse_with("MAIL", reply);
            return;
        }
        let event = MailFrom { from, params };
        self.pending = Some(PendingCommand::Mail);
        self.deadline = None;
        self.events.push_back(ServerEvent::MailFrom(event));
    }

    fn rcpt(&mut self, to: ForwardPath, params: Vec<Param>) {
        let Some(transaction) = self.transaction.as_ref() else {
            self.refuse(
                "RCPT",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: need MAIL command",
            );
            return;
        };
        if transaction.recipients >= self.config.limits.max_recipients {
            self.refuse(
                "RCPT",
                Code::INSUFFICIENT_STORAGE,
                (4, 5, 3),
                "Error: too many recipients",
            );
            return;
        }
        if !params.is_empty() {
            self.refuse(
                "RCPT",
                Code::PARAMETERS_NOT_RECOGNISED,
                (5, 5, 4),
                "Error: unsupported RCPT parameter",
            );
            return;
        }
        if let Some(reply) = self.enforcement.check_rcpt(&to) {
            self.refuse_with("RCPT", reply);
            return;
        }
        self.pending = Some(PendingCommand::Rcpt);
        self.deadline = None;
        self.events
            .push_back(ServerEvent::RcptTo(RcptTo { to, params }));
    }

    fn data(&mut self) {
        let Some(transaction) = self.transaction.as_ref() else {
            self.refuse(
                "DATA",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: need MAIL command",
            );
            return;
        };
        if transaction.recipients == 0 {
            self.refuse(
                "DATA",
                Code::BAD_SEQUENCE,
                (5, 5, 1),
                "Error: need RCPT command",
            );
            return;
        }
        self.reply(
            Code::START_MAIL_INPUT,
            None,
            "End data with <CR><LF>.<CR><LF>",
        );
        self.phase = Phase::Data(DataState {
            decoder: DataDecoder::new(
                self.config.limits.max_text_line_length,
                BareLineEnds::Reject,
            ),
            size: 0,
            too_large: false,
        });
        self.arm(self.config.timeouts.data);
        self.events.push_back(ServerEvent::MessageStart);
    }

    // ---- state changes -----------------------------------------------------------------

    fn reset_transaction(&mut self) {
        if self.transaction.take().is_some() {
            self.events.push_back(ServerEvent::Reset);
        }
        self.enforcement.reset_transaction();
    }

    /// After an answer: wait for the next command and run what is already buffered.
    fn resume(&mut self) {
        if self.pending.is_none() && self.transaction.is_none() {
            self.enforcement.reset_transaction();
        }
        self.arm(self.config.timeouts.command);
        self.process();
    }

    fn pass_boundary(&mut self) {
        if !matches!(self.tls, TlsState::Boundary { .. }) {
            return;
        }
        let TlsState::Boundary {
            engine,
            discarded,
            preview,
        } = core::mem::replace(&mut self.tls, TlsState::Failed)
        else {
            return;
        };
        self.tls = TlsState::Handshaking(engine);
        if discarded > 0 {
            self.events.push_back(ServerEvent::PlaintextDiscarded {
                length: discarded,
                preview,
            });
        }
        self.arm(self.config.timeouts.handshake);
    }

    fn tls_established(&mut self) {
        let TlsState::Handshaking(engine) = core::mem::replace(&mut self.tls, TlsState::Failed)
        else {
            return;
        };
        let facts = engine.facts();
        self.tls = TlsState::Active(engine);
        // Invariant 2: forget everything from before the handshake.
        self.greeting = None;
        self.reset_transaction();
        self.commands.reset();
        if let Some(facts) = facts {
            let client_certificate = self.enforcement.set_tls(facts.clone(), self.now);
            self.events.push_back(ServerEvent::TlsEstablished {
                facts,
                client_certificate: client_certificate.map(Box::new),
            });
        }
        self.arm(self.config.timeouts.command);
    }

    fn tls_failed(&mut self, failure: TlsFailure) {
        if let TlsState::Handshaking(engine) | TlsState::Active(engine) = &mut self.tls {
            engine.drain_ciphertext(&mut self.output);
        }
        self.tls = TlsState::Failed;
        self.abort_message(AbortReason::ConnectionLost);
        self.pending = None;
        self.events.push_back(ServerEvent::TlsFailed(failure));
        self.finish(CloseReason::TlsFailed);
    }

    fn tls_close_notify(&mut self) {
        if let TlsState::Active(engine) = &mut self.tls {
            engine.close();
            engine.drain_ciphertext(&mut self.output);
        }
    }

    fn abort_message(&mut self, reason: AbortReason) {
        if let Phase::Data(data) = &self.phase {
            if !data.too_large {
                self.events.push_back(ServerEvent::MessageAborted(reason));
            }
            self.phase = Phase::Command;
        }
        if matches!(self.pending, Some(PendingCommand::MessageEnd)) {
            self.pending = None;
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        self.lifecycle = Lifecycle::Closing;
        self.deadline = None;
        self.input.clear();
        self.events.push_back(ServerEvent::Closed(reason));
    }

    // ---- time --------------------------------------------------------------------------

    fn advance(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    fn arm(&mut self, span: Duration) {
        self.deadline = Some(self.now.saturating_add(span));
    }

    /// Ends the session if its deadline passed; returns whether it did.
    fn expire(&mut self) -> bool {
        match self.deadline {
            Some(deadline) if self.lifecycle == Lifecycle::Open && self.now >= deadline => {}
            _ => return false,
        }
        self.deadline = None;
        if matches!(self.tls, TlsState::Handshaking(_)) {
            self.tls = TlsState::Failed;
        } else {
            self.abort_message(AbortReason::Timeout);
            let text = format!("{} Error: timeout exceeded", self.config.hostname);
            self.reply(Code::SERVICE_UNAVAILABLE, EnhancedCode::new(4, 4, 2), &text);
            self.tls_close_notify();
        }
        self.finish(CloseReason::Timeout);
        true
    }

    fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Command) && self.pending.is_none() && self.transaction.is_none()
    }

    // ---- replies -----------------------------------------------------------------------

    /// Queues a reply whose text comes from the session or its configuration.
    fn reply(&mut self, code: Code, enhanced: Option<EnhancedCode>, text: &str) {
        self.send(&reply_of(code, enhanced, text));
    }

    /// Queues a refusal the session decided by itself, reports it and counts it.
    fn refuse(&mut self, verb: &'static str, code: Code, enhanced: (u8, u16, u16), text: &str) {
        let enhanced = EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2);
        self.refuse_with(verb, reply_of(code, enhanced, text));
    }

    fn refuse_with(&mut self, verb: &'static str, reply: Reply) {
        self.send(&reply);
        self.events.push_back(ServerEvent::Refused(Refusal {
            command: verb,
            reply,
        }));
        self.errors = self.errors.saturating_add(1);
        if self.errors > self.config.limits.max_errors && self.lifecycle == Lifecycle::Open {
            let text = format!("{} Error: too many errors", self.config.hostname);
            self.reply(Code::SERVICE_UNAVAILABLE, EnhancedCode::new(4, 7, 0), &text);
            self.tls_close_notify();
            self.finish(CloseReason::TooManyErrors);
        }
    }

    /// Queues the refusal of a message after its end-of-data and reports it (as a `DATA`
    /// refusal, so the log shows the reply the client got); not counted as a bad command.
    fn refuse_message(&mut self, reply: Reply) {
        self.send(&reply);
        self.events.push_back(ServerEvent::Refused(Refusal {
            command: "DATA",
            reply,
        }));
    }

    fn send(&mut self, reply: &Reply) {
        let mut bytes = Vec::new();
        reply.encode(&mut bytes);
        let result = match &mut self.tls {
            TlsState::Active(engine) => engine.encrypt(&bytes, &mut self.output),
            TlsState::Plain => {
                self.output.extend_from_slice(&bytes);
                Ok(())
            }
            // The 220 to STARTTLS is the last plaintext the client may see, and during the
            // handshake there is no channel for SMTP: the session closes without a reply.
            TlsState::Boundary { .. } | TlsState::Handshaking(_) | TlsState::Failed => Ok(()),
        };
        if let Err(failure) = result {
            self.tls_failed(failure);
        }
    }
}

/// A reply from session text; text that is not valid reply text (a bad configured host
/// name) degrades to a fixed word rather than failing.
fn reply_of(code: Code, enhanced: Option<EnhancedCode>, text: &str) -> Reply {
    Reply::new(code, enhanced, text)
        .or_else(|_| Reply::new(code, enhanced, "Error"))
        .unwrap_or_else(|_| Reply::fixed(code, None, "Error"))
}
