//! The fallback ladder: the rungs a delivery may try, strongest first, the classes of failure
//! that may (or may never) move it down a rung, and the decision ([`next_rung`]) that moves it,
//! behind the plaintext gates and the downgrade memory.
//!
//! A move to a lower rung is always a *new connection*: a peer that failed a handshake is in
//! an undefined state. The session reports the move as an event; the adapter reconnects.

use core::time::Duration;
use std::collections::HashMap;

use super::plan::{FailureAction, HostPlan};
pub use super::rung::{FailureClass, Ladder, RefusalReason, Rung};
use crate::names::HostId;

/// What the caller knows about the message and the destination, for the plaintext gates of
/// Postfix (`PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateFacts {
    /// The message asked for REQUIRETLS (RFC 8689): never plaintext.
    pub requiretls: bool,
    /// The caller holds SASL (AUTH) credentials for this destination: never plaintext.
    pub sasl_credentials: bool,
    /// The message's age, when the caller wants the age gate; `None` skips it (for example a
    /// trace-only request, which Postfix also exempts).
    pub message_age: Option<Duration>,
    /// How old a message must be before a plaintext retry after a failed TLS attempt (Postfix
    /// `minimal_backoff_time`, default 300 s).
    pub minimal_backoff: Duration,
}

impl Default for GateFacts {
    fn default() -> Self {
        Self {
            requiretls: false,
            sasl_credentials: false,
            message_age: None,
            minimal_backoff: Duration::from_secs(300),
        }
    }
}

impl GateFacts {
    /// Facts with every gate open (no REQUIRETLS, no credentials, no age gate).
    pub fn new() -> Self {
        Self::default()
    }

    /// The same facts with the REQUIRETLS flag set as given.
    #[must_use]
    pub const fn with_requiretls(mut self, requiretls: bool) -> Self {
        self.requiretls = requiretls;
        self
    }

    /// The same facts with the SASL-credentials flag set as given.
    #[must_use]
    pub const fn with_sasl_credentials(mut self, sasl_credentials: bool) -> Self {
        self.sasl_credentials = sasl_credentials;
        self
    }

    /// The same facts with the message age (enables the age gate).
    #[must_use]
    pub const fn with_message_age(mut self, age: Duration, minimal_backoff: Duration) -> Self {
        self.message_age = Some(age);
        self.minimal_backoff = minimal_backoff;
        self
    }
}

/// The ladder's answer when it will not move: why, and what to do instead.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; action: {action}")]
pub struct DowngradeRefusal {
    /// Why the ladder did not move.
    pub reason: RefusalReason,
    /// What the caller does instead: the next candidate host, or defer the message.
    pub action: FailureAction,
}

/// Decides the rung after a failed attempt on `current`, or refuses with the reason.
///
/// Rules, in order:
/// 1. `current` must be on the plan's ladder, and nothing lies below [`Rung::Plaintext`].
/// 2. A class for which [`FailureClass::is_tampering`] holds never moves, at any level: bytes
///    an attacker can inject before the handshake must not choose the rung (ARCHITECTURE.md
///    invariant 5). The refusal's action is the plan's (the next host, or defer).
/// 3. A [`FailureClass::Certificate`] at an authenticated requirement never moves.
/// 4. Classes for which [`FailureClass::allows_weaker_tls`] holds move to the next TLS rung of
///    the ladder, if there is one.
/// 5. Otherwise only plaintext is left: it must be on the ladder (opportunistic, no
///    authentication), the message must not ask for REQUIRETLS, the caller must hold no SASL
///    credentials for the destination, and, after a failed TLS handshake (not when STARTTLS was
///    missing or refused, where the session is still clean), the message must be at least
///    `minimal_backoff` old when the caller supplies its age.
///
/// A move to any lower rung is a new connection, except plaintext after
/// [`FailureClass::is_before_tls`], which may continue the same session.
pub fn next_rung(
    plan: &HostPlan,
    current: Rung,
    failure: FailureClass,
    gates: &GateFacts,
) -> Result<Rung, DowngradeRefusal> {
    let refuse = |reason: RefusalReason| DowngradeRefusal {
        action: plan.refusal_action(&reason),
        reason,
    };
    let ladder = plan.ladder();
    if !ladder.contains(current) {
        return Err(refuse(RefusalReason::NotOnLadder {
            rung: current,
            ladder,
        }));
    }
    if !current.is_tls() {
        return Err(refuse(RefusalReason::BottomOfLadder { class: failure }));
    }
    if failure.is_tampering() {
        return Err(refuse(RefusalReason::Tampering {
            class: failure,
            rung: current,
        }));
    }
    if failure == FailureClass::Certificate && plan.requirement.authentication.verifies() {
        return Err(refuse(RefusalReason::Authentication { rung: current }));
    }
    if failure.allows_weaker_tls() {
        if let Some(rung) = ladder.next_tls_below(current) {
            return Ok(rung);
        }
    }
    if !ladder.contains(Rung::Plaintext) {
        return Err(refuse(RefusalReason::TlsRequired {
            class: failure,
            rung: current,
        }));
    }
    if gates.requiretls {
        return Err(refuse(RefusalReason::RequireTls));
    }
    if gates.sasl_credentials {
        return Err(refuse(RefusalReason::SaslCredentials));
    }
    if !failure.is_before_tls() {
        if let Some(age) = gates.message_age {
            if age < gates.minimal_backoff {
                return Err(refuse(RefusalReason::MessageTooYoung {
                    age,
                    minimal_backoff: gates.minimal_backoff,
                }));
            }
        }
    }
    Ok(Rung::Plaintext)
}

/// A store the caller supplies that remembers, per host, the best (strongest) rung on which a
/// delivery completed. mailtls never persists it; the caller decides its lifetime.
pub trait DowngradeMemory {
    /// The best rung `host` completed, if remembered.
    fn best_rung(&self, host: &HostId) -> Option<Rung>;
    /// Records that a delivery to `host` completed on `rung`. Implementations keep the
    /// strongest rung seen (see [`record_completion`]).
    fn remember(&mut self, host: &HostId, rung: Rung);
}

/// Records a completed delivery, keeping the strongest rung per host.
pub fn record_completion(memory: &mut dyn DowngradeMemory, host: &HostId, rung: Rung) {
    match memory.best_rung(host) {
        Some(best) if best <= rung => {}
        _ => memory.remember(host, rung),
    }
}

/// A simple in-memory [`DowngradeMemory`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    best: HashMap<HostId, Rung>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a host (for example after an operator confirmed its downgrade).
    pub fn forget(&mut self, host: &HostId) {
        self.best.remove(host);
    }
}

impl DowngradeMemory for MemoryStore {
    fn best_rung(&self, host: &HostId) -> Option<Rung> {
        self.best.get(host).copied()
    }

    fn remember(&mut self, host: &HostId, rung: Rung) {
        self.best.insert(host.clone(), rung);
    }
}

/// What downgrade memory does with a downgrade below the remembered best rung.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DowngradeMode {
    /// Allow it, and report it in [`RungStep::below_best`].
    Observe,
    /// Refuse it with [`RefusalReason::DowngradeRemembered`].
    Enforce,
}

/// The ladder's move when downgrade memory is consulted.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RungStep {
    /// The rung to try next (on a new connection).
    pub rung: Rung,
    /// In observe mode: the best rung the host completed before, when `rung` is below it.
    pub below_best: Option<Rung>,
}

/// [`next_rung`], then checks the move against the host's remembered best rung.
pub fn next_rung_remembered(
    plan: &HostPlan,
    current: Rung,
    failure: FailureClass,
    gates: &GateFacts,
    memory: &dyn DowngradeMemory,
    mode: DowngradeMode,
) -> Result<RungStep, DowngradeRefusal> {
    let rung = next_rung(plan, current, failure, gates)?;
    let below_best = memory.best_rung(&plan.host).filter(|best| rung > *best);
    match (below_best, mode) {
        (Some(best), DowngradeMode::Enforce) => {
            let reason = RefusalReason::DowngradeRemembered {
                best,
                requested: rung,
            };
            Err(DowngradeRefusal {
                action: plan.refusal_action(&reason),
                reason,
            })
        }
        _ => Ok(RungStep { rung, below_best }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::requirement::{AnchorSource, Authentication, Encryption, Requirement};

    fn host(encryption: Encryption, authentication: Authentication) -> HostPlan {
        HostPlan::new(mx(), 25, Requirement::new(encryption, authentication))
    }

    fn mx() -> HostId {
        HostId::parse("MX.example.com").unwrap()
    }

    fn may() -> HostPlan {
        host(Encryption::Opportunistic, Authentication::None)
    }

    fn encrypt() -> HostPlan {
        host(Encryption::Required, Authentication::None)
    }

    fn chain() -> HostPlan {
        host(
            Encryption::Required,
            Authentication::Chain(AnchorSource::Public),
        )
    }

    const OLD: Duration = Duration::from_secs(3600);

    #[test]
    fn downgradable_classes_walk_the_tls_rungs_at_every_level() {
        for class in [
            FailureClass::HandshakeFailureAlert,
            FailureClass::ProtocolVersionAlert,
            FailureClass::InsufficientSecurityAlert,
            FailureClass::EofDuringHandshake,
            FailureClass::Decode,
        ] {
            for plan in [may(), encrypt(), chain()] {
                let gates = GateFacts::new();
                assert_eq!(
                    next_rung(&plan, Rung::Modern, class, &gates),
                    Ok(Rung::Tls12Only)
                );
                assert_eq!(
                    next_rung(&plan, Rung::Tls12Only, class, &gates),
                    Ok(Rung::Tls12Conservative)
                );
            }
            assert_eq!(
                next_rung(&may(), Rung::Tls12Conservative, class, &GateFacts::new()),
                Ok(Rung::Plaintext)
            );
            let refused = next_rung(
                &encrypt(),
                Rung::Tls12Conservative,
                class,
                &GateFacts::new(),
            );
            assert_eq!(
                refused.map_err(|r| r.reason),
                Err(RefusalReason::TlsRequired {
                    class,
                    rung: Rung::Tls12Conservative
                })
            );
        }
    }

    #[test]
    fn other_classes_never_move_down_a_tls_rung() {
        for class in [
            FailureClass::OtherTls,
            FailureClass::Timeout,
            FailureClass::StarttlsNotOffered,
            FailureClass::StarttlsRefused,
        ] {
            assert_eq!(
                next_rung(&may(), Rung::Modern, class, &GateFacts::new()),
                Ok(Rung::Plaintext),
                "{class}"
            );
            let err = next_rung(&encrypt(), Rung::Modern, class, &GateFacts::new()).unwrap_err();
            assert_eq!(
                err.reason,
                RefusalReason::TlsRequired {
                    class,
                    rung: Rung::Modern
                }
            );
        }
    }

    /// ARCHITECTURE.md invariant 5 (RFC 3207 §5): a reply to STARTTLS with plaintext
    /// pipelined behind it never moves the ladder, at any level and on any rung, whatever
    /// the gates say; the refusal's action is the plan's.
    #[test]
    fn an_untrusted_starttls_reply_never_moves_the_ladder() {
        let class = FailureClass::UntrustedStarttlsReply;
        assert!(class.is_tampering() && !class.allows_weaker_tls() && !class.is_before_tls());
        let open = GateFacts::new().with_message_age(OLD, Duration::from_secs(300));
        for plan in [may(), encrypt(), chain()] {
            for rung in plan.ladder().iter().filter(|r| r.is_tls()) {
                let err = next_rung(&plan, rung, class, &open).unwrap_err();
                assert_eq!(err.reason, RefusalReason::Tampering { class, rung });
                assert_eq!(
                    err.reason.status().to_string(),
                    "451 4.7.0 TLS not started: the reply to STARTTLS could not be trusted"
                );
                assert!(matches!(err.action, FailureAction::Defer(_)));
            }
        }
        let mut plan = may();
        plan.on_failure = FailureAction::NextHost;
        let err = next_rung(&plan, Rung::Modern, class, &open).unwrap_err();
        assert_eq!(err.action, FailureAction::NextHost);
        // No other class is tampering evidence.
        for other in [
            FailureClass::Certificate,
            FailureClass::Decode,
            FailureClass::EofDuringHandshake,
            FailureClass::HandshakeFailureAlert,
            FailureClass::InsufficientSecurityAlert,
            FailureClass::OtherTls,
            FailureClass::ProtocolVersionAlert,
            FailureClass::StarttlsNotOffered,
            FailureClass::StarttlsRefused,
            FailureClass::Timeout,
        ] {
            assert!(!other.is_tampering(), "{other}");
        }
    }

    #[test]
    fn certificate_failures_at_authenticated_levels_never_move() {
        let err = next_rung(
            &chain(),
            Rung::Modern,
            FailureClass::Certificate,
            &GateFacts::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.reason,
            RefusalReason::Authentication { rung: Rung::Modern }
        );
        assert_eq!(err.reason.status().enhanced().to_string(), "4.7.5");
        // Unresolved opportunistic DANE counts as authenticated: no plaintext either.
        let dane = host(
            Encryption::Opportunistic,
            Authentication::Dane(crate::policy::requirement::DaneRequirement::new(
                false,
                vec![],
            )),
        );
        assert!(!dane.ladder().contains(Rung::Plaintext));
        assert!(next_rung(
            &dane,
            Rung::Tls12Conservative,
            FailureClass::HandshakeFailureAlert,
            &GateFacts::new()
        )
        .is_err());
    }

    #[test]
    fn plaintext_gates_one_by_one() {
        let plan = may();
        let after_tls = FailureClass::HandshakeFailureAlert;
        let last = Rung::Tls12Conservative;
        let open = GateFacts::new().with_message_age(OLD, Duration::from_secs(300));
        assert_eq!(
            next_rung(&plan, last, after_tls, &open),
            Ok(Rung::Plaintext)
        );

        let reason =
            |gates: GateFacts, class| next_rung(&plan, last, class, &gates).map_err(|r| r.reason);
        assert_eq!(
            reason(open.with_requiretls(true), after_tls),
            Err(RefusalReason::RequireTls)
        );
        assert_eq!(
            reason(open.with_requiretls(true), FailureClass::StarttlsNotOffered),
            Err(RefusalReason::RequireTls)
        );
        assert_eq!(
            reason(open.with_sasl_credentials(true), after_tls),
            Err(RefusalReason::SaslCredentials)
        );
        let young =
            GateFacts::new().with_message_age(Duration::from_secs(299), Duration::from_secs(300));
        assert_eq!(
            reason(young, after_tls),
            Err(RefusalReason::MessageTooYoung {
                age: Duration::from_secs(299),
                minimal_backoff: Duration::from_secs(300)
            })
        );
        // The age gate applies only after a failed TLS attempt.
        assert_eq!(
            reason(young, FailureClass::StarttlsNotOffered),
            Ok(Rung::Plaintext)
        );
        let exactly =
            GateFacts::new().with_message_age(Duration::from_secs(300), Duration::from_secs(300));
        assert_eq!(reason(exactly, after_tls), Ok(Rung::Plaintext));
    }

    #[test]
    fn nothing_below_plaintext_and_rungs_must_be_on_the_ladder() {
        let err = next_rung(
            &may(),
            Rung::Plaintext,
            FailureClass::Timeout,
            &GateFacts::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.reason,
            RefusalReason::BottomOfLadder {
                class: FailureClass::Timeout
            }
        );
        let err = next_rung(
            &encrypt(),
            Rung::Plaintext,
            FailureClass::Timeout,
            &GateFacts::new(),
        )
        .unwrap_err();
        assert!(matches!(err.reason, RefusalReason::NotOnLadder { .. }));
    }

    #[test]
    fn refusal_action_follows_the_host_position() {
        let mut plan = encrypt();
        let class = FailureClass::StarttlsNotOffered;
        let err = next_rung(&plan, Rung::Modern, class, &GateFacts::new()).unwrap_err();
        match err.action {
            FailureAction::Defer(status) => {
                assert_eq!(status.enhanced().to_string(), "4.7.4");
                assert_eq!(status.code().as_u16(), 451);
            }
            other => panic!("expected a deferral, got {other}"),
        }
        plan.on_failure = FailureAction::NextHost;
        let err = next_rung(&plan, Rung::Modern, class, &GateFacts::new()).unwrap_err();
        assert_eq!(err.action, FailureAction::NextHost);
    }

    #[test]
    fn downgrade_memory_observes_or_enforces() {
        let plan = may();
        let mut memory = MemoryStore::new();
        record_completion(&mut memory, &mx(), Rung::Tls12Only);
        record_completion(&mut memory, &mx(), Rung::Plaintext);
        assert_eq!(memory.best_rung(&mx()), Some(Rung::Tls12Only));
        record_completion(&mut memory, &mx(), Rung::Modern);
        assert_eq!(memory.best_rung(&mx()), Some(Rung::Modern));

        let class = FailureClass::ProtocolVersionAlert;
        let gates = GateFacts::new();
        let step = next_rung_remembered(
            &plan,
            Rung::Modern,
            class,
            &gates,
            &memory,
            DowngradeMode::Observe,
        )
        .unwrap();
        assert_eq!(step.rung, Rung::Tls12Only);
        assert_eq!(step.below_best, Some(Rung::Modern));
        let err = next_rung_remembered(
            &plan,
            Rung::Modern,
            class,
            &gates,
            &memory,
            DowngradeMode::Enforce,
        )
        .unwrap_err();
        assert_eq!(
            err.reason,
            RefusalReason::DowngradeRemembered {
                best: Rung::Modern,
                requested: Rung::Tls12Only
            }
        );
        memory.forget(&mx());
        let step = next_rung_remembered(
            &plan,
            Rung::Modern,
            class,
            &gates,
            &memory,
            DowngradeMode::Enforce,
        )
        .unwrap();
        assert_eq!(step.below_best, None);
    }
}
