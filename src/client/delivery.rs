//! The attempt driver: walks the ladder's rungs and the candidate hosts of a precedence
//! [`Decision`], one session at a time, so that adapters only connect, shovel bytes and
//! report how each session ended.

use std::sync::Arc;

use crate::names::HostId;
use crate::policy::ladder::{GateFacts, Rung};
use crate::policy::{
    Decision, FailureAction, HostAction, HostDecision, HostPlan, Plan, Status, TestingPolicy,
};
use crate::time::Timestamp;
use crate::tls::TlsIdentity;
use crate::tlsrpt::SessionOutcome;

use super::event::{AttemptRecord, AttemptResult, NextStep, Stage};
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
        /// Whether the session ran over TLS (an opportunistic session to a peer that offers no
        /// STARTTLS completes in plaintext on a TLS rung).
        tls: bool,
    },
    /// The message stays queued.
    Deferred(Status),
    /// The message goes back to its sender.
    Bounced(Status),
}

/// Walks rungs and hosts for one delivery, as the [`Decision`] says: hosts the decision
/// skips are never contacted (each leaves a [`AttemptResult::Skipped`] record), every other
/// host is verified with the requirement the decision gave it (DANE, MTA-STS, connector,
/// table or default), and MTA-STS `testing` is evaluated on each session for reports only.
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
    plan: Plan,
    decisions: Vec<Arc<HostDecision>>,
    verifiers: Arc<dyn VerifierSource>,
    gates: GateFacts,
    identity: Option<TlsIdentity>,
    index: usize,
    rung: Option<Rung>,
    records: Vec<AttemptRecord>,
    outcome: Option<DeliveryOutcome>,
}

impl Delivery {
    /// A delivery as `decision` says, host by host in order.
    pub fn new(
        settings: ClientSettings,
        decision: Decision,
        verifiers: Arc<dyn VerifierSource>,
    ) -> Self {
        let Decision { plan, hosts } = decision;
        Self {
            settings,
            plan,
            decisions: hosts.into_iter().map(Arc::new).collect(),
            verifiers,
            gates: GateFacts::default(),
            identity: None,
            index: 0,
            rung: None,
            records: Vec::new(),
            outcome: None,
        }
    }

    /// A delivery for a plain configuration plan, with no discovery answers
    /// ([`Decision::from_plan`]).
    pub fn from_plan(
        settings: ClientSettings,
        plan: Plan,
        verifiers: Arc<dyn VerifierSource>,
    ) -> Self {
        Self::new(settings, Decision::from_plan(plan), verifiers)
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

    /// Sets the client certificate the attempts made from now on present when asked (the
    /// C API sets it on a delivery it already handed out).
    pub fn set_identity(&mut self, identity: Option<TlsIdentity>) {
        self.identity = identity;
    }

    /// The plan the decision refined (hosts, requirements, the whole trace).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The host decisions, in host order.
    pub fn decisions(&self) -> &[Arc<HostDecision>] {
        &self.decisions
    }

    /// The host (and port) the next session connects to.
    pub fn current_host(&self) -> Option<(&HostId, u16)> {
        self.plan.hosts.get(self.index).map(|h| (&h.host, h.port))
    }

    /// The session for the next attempt, or `None` when the delivery is over. Hosts the
    /// decision skips are recorded and passed over here, without a session.
    pub fn next_session(&mut self, now: Timestamp) -> Option<ClientSession> {
        while self.outcome.is_none() {
            let Some(plan) = self.plan.hosts.get(self.index) else {
                self.outcome = Some(self.exhausted());
                return None;
            };
            let decision = self.decisions.get(self.index).cloned();
            if let Some(skip) = decision.as_ref().and_then(|d| skipped(plan, d)) {
                self.record(skip);
                continue;
            }
            let rung = match self.rung.or_else(|| plan.first_rung()) {
                Some(rung) => rung,
                None => {
                    self.advance_host();
                    continue;
                }
            };
            self.rung = Some(rung);
            let testing = decision.as_ref().and_then(|d| match &d.testing {
                Some(TestingPolicy::Verify(requirement)) => Some(requirement),
                _ => None,
            });
            let mut attempt =
                Attempt::new(plan.clone(), rung, self.verifiers.handle(plan, testing))
                    .with_gates(self.gates)
                    .with_identity(self.identity.clone());
            if let Some(decision) = decision {
                attempt = attempt.with_decision(decision);
            }
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
        let tls = record.tls.is_some();
        self.records.push(record);
        match next {
            NextStep::Done => {
                self.outcome = Some(DeliveryOutcome::Completed { host, rung, tls });
            }
            NextStep::Retry { rung: next } => {
                let allowed = self
                    .plan
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

    /// Every attempt so far, oldest first, skipped hosts included.
    pub fn records(&self) -> &[AttemptRecord] {
        &self.records
    }

    /// How the delivery ended, once it has.
    pub fn outcome(&self) -> Option<&DeliveryOutcome> {
        self.outcome.as_ref()
    }

    /// The TLS-RPT session records of every attempt so far, each counted against the policy
    /// that governed its host (attempts that report nothing, such as a refused greeting, are
    /// left out).
    pub fn session_outcomes(&self, at: Timestamp) -> Vec<SessionOutcome> {
        self.records
            .iter()
            .filter_map(|r| r.session_outcome(at))
            .collect()
    }

    fn advance_host(&mut self) {
        self.index += 1;
        self.rung = None;
    }

    /// The outcome once every host was tried: the last attempt decides.
    ///
    /// A greeting that refuses (4xx or 5xx) defers, at every level: the greeting is plaintext
    /// that anyone in the path can forge, and nothing forgeable before TLS may bounce a
    /// message whose policy requires TLS (ARCHITECTURE.md invariant 6). This follows Postfix's
    /// default `smtp_skip_5xx_greeting = yes` (postconf(5)), which skips such a server for the
    /// next MX and defers, whatever the TLS level, rather than trusting an unauthenticated
    /// 5xx at `may` and `none` only: a server that greets with 5xx once (overloaded, or
    /// misconfigured for a moment) costs a retry, never a lost message. Under a policy that
    /// requires TLS no other reply before TLS can end here as a refusal (an EHLO refusal is a
    /// missing STARTTLS, a STARTTLS refusal a TLS failure), so only replies read over TLS,
    /// or in plaintext where the policy allows plaintext, bounce.
    fn exhausted(&self) -> DeliveryOutcome {
        match self.records.last().map(|r| &r.result) {
            Some(AttemptResult::Rejected {
                stage: Stage::Greeting,
                reply,
            }) => {
                // As Postfix: the server's own words, its 5 turned into a 4.
                let enhanced = reply.enhanced();
                let (subject, detail) = enhanced.map_or((0, 0), |e| (e.subject(), e.detail()));
                let host = self.records.last().map_or("", |r| r.host.as_str());
                let code = reply.code();
                let said = reply.lines().next().unwrap_or_default();
                let text = match enhanced {
                    Some(e) => format!("host {host} refused to talk to me: {code} {e} {said}"),
                    None => format!("host {host} refused to talk to me: {code} {said}"),
                };
                DeliveryOutcome::Deferred(Status::new(451, (4, subject, detail), text))
            }
            Some(AttemptResult::Rejected { reply, .. }) if reply.code().is_permanent_negative() => {
                DeliveryOutcome::Bounced(Status::new(
                    reply.code().as_u16(),
                    (5, 0, 0),
                    reply.text().to_owned(),
                ))
            }
            // Every host skipped: the last skip says why.
            Some(AttemptResult::Skipped { status }) => DeliveryOutcome::Deferred(status.clone()),
            _ => DeliveryOutcome::Deferred(Status::new(
                451,
                (4, 4, 0),
                "no candidate host could take the message",
            )),
        }
    }
}

/// The record of a host the decision skips, with the step its plan's failure action asks
/// for (the next host, or the bounce REQUIRETLS sets on the last one).
fn skipped(plan: &HostPlan, decision: &Arc<HostDecision>) -> Option<AttemptRecord> {
    let HostAction::Skip {
        status,
        result_type,
    } = &decision.action
    else {
        return None;
    };
    let next = match &plan.on_failure {
        FailureAction::Bounce(_) if status.is_permanent() => NextStep::Bounce(status.clone()),
        FailureAction::Bounce(s) => NextStep::Bounce(s.clone()),
        _ => NextStep::NextHost,
    };
    Some(AttemptRecord {
        host: plan.host.to_string(),
        rung: plan.first_rung().unwrap_or(Rung::Modern),
        result: AttemptResult::Skipped {
            status: status.clone(),
        },
        result_type: *result_type,
        tls: None,
        verification: None,
        receiving_helo: None,
        transcript: Vec::new(),
        decision: Some(Arc::clone(decision)),
        next,
    })
}
