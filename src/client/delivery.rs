//! The attempt driver: walks the ladder's rungs and the candidate hosts, one session at a
//! time, so that adapters only connect, shovel bytes and report how each session ended.

use std::sync::Arc;

use crate::names::HostId;
use crate::policy::ladder::{GateFacts, Rung};
use crate::policy::{HostPlan, Status};
use crate::time::Timestamp;
use crate::tls::TlsIdentity;

use super::event::{AttemptRecord, AttemptResult, NextStep};
use super::session::ClientSession;
use super::settings::{Attempt, ClientSettings};
use super::verifiers::VerifierSource;

/// How a delivery ended.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A session ran to its end on this host (message results came as events).
    Completed {
        /// The host.
        host: String,
        /// The rung it completed on.
        rung: Rung,
    },
    /// The message stays queued.
    Deferred(Status),
    /// The message goes back to its sender.
    Bounced(Status),
}

/// Walks rungs and hosts for one delivery.
///
/// ```text
///  loop {
///      let Some(session) = delivery.next_session(now) else { break };
///      connect to delivery.current_host(), drive the session until Finished(record);
///      delivery.record(record);
///  }
///  delivery.outcome()
/// ```
#[derive(Debug)]
pub struct Delivery {
    settings: ClientSettings,
    hosts: Vec<HostPlan>,
    verifiers: Arc<dyn VerifierSource>,
    gates: GateFacts,
    identity: Option<TlsIdentity>,
    index: usize,
    rung: Option<Rung>,
    records: Vec<AttemptRecord>,
    outcome: Option<DeliveryOutcome>,
}

impl Delivery {
    /// A delivery over `hosts`, in order.
    pub fn new(
        settings: ClientSettings,
        hosts: Vec<HostPlan>,
        verifiers: Arc<dyn VerifierSource>,
    ) -> Self {
        Self {
            settings,
            hosts,
            verifiers,
            gates: GateFacts::default(),
            identity: None,
            index: 0,
            rung: None,
            records: Vec::new(),
            outcome: None,
        }
    }

    /// The facts the plaintext gates need.
    #[must_use]
    pub fn with_gates(mut self, gates: GateFacts) -> Self {
        self.gates = gates;
        self
    }

    /// The client certificate every attempt presents when asked.
    #[must_use]
    pub fn with_identity(mut self, identity: Option<TlsIdentity>) -> Self {
        self.identity = identity;
        self
    }

    /// The host (and port) the next session connects to.
    pub fn current_host(&self) -> Option<(&HostId, u16)> {
        self.hosts.get(self.index).map(|h| (&h.host, h.port))
    }

    /// The session for the next attempt, or `None` when the delivery is over.
    pub fn next_session(&mut self, now: Timestamp) -> Option<ClientSession> {
        while self.outcome.is_none() {
            let Some(plan) = self.hosts.get(self.index) else {
                self.outcome = Some(self.exhausted());
                return None;
            };
            let rung = match self.rung.or_else(|| plan.first_rung()) {
                Some(rung) => rung,
                None => {
                    self.advance_host();
                    continue;
                }
            };
            self.rung = Some(rung);
            let attempt = Attempt::new(plan.clone(), rung, self.verifiers.handle(plan))
                .with_gates(self.gates)
                .with_identity(self.identity.clone());
            return Some(ClientSession::new(self.settings.clone(), attempt, now));
        }
        None
    }

    /// The connection to the current host could not be made (no session ran).
    pub fn connect_failed(&mut self) {
        self.advance_host();
    }

    /// Reports how the current session ended (the record from
    /// [`ClientEvent::Finished`](super::ClientEvent::Finished)).
    pub fn record(&mut self, record: AttemptRecord) {
        let next = record.next.clone();
        let host = record.host.clone();
        let rung = record.rung;
        self.records.push(record);
        match next {
            NextStep::Done => self.outcome = Some(DeliveryOutcome::Completed { host, rung }),
            NextStep::Retry { rung: next } => {
                let allowed = self
                    .hosts
                    .get(self.index)
                    .is_some_and(|plan| plan.ladder().contains(next));
                // Only ever down the ladder, and only to a rung the plan has.
                if allowed && next > rung {
                    self.rung = Some(next);
                } else {
                    self.advance_host();
                }
            }
            NextStep::NextHost => self.advance_host(),
            NextStep::Defer(status) => self.outcome = Some(DeliveryOutcome::Deferred(status)),
            NextStep::Bounce(status) => self.outcome = Some(DeliveryOutcome::Bounced(status)),
        }
    }

    /// Every attempt so far, oldest first.
    pub fn records(&self) -> &[AttemptRecord] {
        &self.records
    }

    /// How the delivery ended, once it has.
    pub fn outcome(&self) -> Option<&DeliveryOutcome> {
        self.outcome.as_ref()
    }

    fn advance_host(&mut self) {
        self.index += 1;
        self.rung = None;
    }

    fn exhausted(&self) -> DeliveryOutcome {
        let permanent = self.records.last().and_then(|r| match &r.result {
            AttemptResult::Rejected { reply, .. } if reply.code().is_permanent_negative() => {
                Some(reply.clone())
            }
            _ => None,
        });
        match permanent {
            Some(reply) => DeliveryOutcome::Bounced(Status::new(
                reply.code().as_u16(),
                (5, 0, 0),
                reply.text().to_owned(),
            )),
            None => DeliveryOutcome::Deferred(Status::new(
                451,
                (4, 4, 0),
                "no candidate host could take the message",
            )),
        }
    }
}
