//! Outbound delivery from C: a delivery walks a plan's hosts and ladder rungs, each attempt is
//! a sans-IO client [`mailtls_session`] the caller drives over its own socket.

use core::ffi::c_char;
use std::path::PathBuf;
use std::sync::Arc;

use crate::cert;
use crate::client::PlanVerifiers;
use crate::client::{ClientSettings, Delivery, DeliveryOutcome};
use crate::io::{load_trust_anchors, verifiers_for_hosts};
use crate::policy::Decision;
use crate::time::Timestamp;

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::outbound::mailtls_plan;
use super::result::mailtls_result;
use super::server::identity_from_pem;
use super::session::{mailtls_session, SessionHandle};
use super::text;

/// One delivery of one message along a plan: which host and rung next, and the outcome.
/// Made by [`mailtls_delivery_new`], freed by [`mailtls_delivery_free`].
pub struct mailtls_delivery {
    _private: [u8; 0],
}

impl Castable for mailtls_delivery {
    type Inner = Delivery;
}

/// How a delivery ended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_delivery_state {
    /// Not over yet.
    Pending = 0,
    /// A session ran to its end; the message results came as events.
    Completed = 1,
    /// The message stays queued (4xx).
    Deferred = 2,
    /// The message goes back to its sender (5xx).
    Bounced = 3,
}

/// A delivery along `plan` (its hosts in order), saying `helo_name` in EHLO. Trust-anchor
/// files the plan names (`tafile=`) are read now; `MAILTLS_RESULT_TRUST_ANCHORS` when one
/// cannot be.
#[no_mangle]
pub extern "C" fn mailtls_delivery_new(
    plan: *const mailtls_plan,
    helo_name: *const c_char,
    out_delivery: *mut *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        let plan = handle::borrow(plan)?;
        let helo = text::string(helo_name)?;
        require_out(out_delivery)?;
        let settings = ClientSettings::new(helo).map_err(|_| mailtls_result::InvalidArgument)?;
        let verifiers = verifiers_for_hosts(&plan.hosts, cert::TrustAnchors::new())
            .map_err(|_| mailtls_result::TrustAnchors)?;
        let decision = Decision::from_plan(plan.clone());
        let delivery = Delivery::new(settings, decision, Arc::new(verifiers));
        handle::give::<mailtls_delivery>(out_delivery, delivery)
    })
}

/// A delivery like [`mailtls_delivery_new`] whose certificate checks use the anchors in the
/// PEM file `anchors_file` instead of what the plan names (`posttls-finger -F`);
/// `MAILTLS_RESULT_TRUST_ANCHORS` when it cannot be read.
#[no_mangle]
pub extern "C" fn mailtls_delivery_new_with_anchors(
    plan: *const mailtls_plan,
    helo_name: *const c_char,
    anchors_file: *const c_char,
    out_delivery: *mut *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        let plan = handle::borrow(plan)?;
        let helo = text::string(helo_name)?;
        let anchors = PathBuf::from(text::string(anchors_file)?);
        require_out(out_delivery)?;
        let settings = ClientSettings::new(helo).map_err(|_| mailtls_result::InvalidArgument)?;
        let anchors = load_trust_anchors(&[anchors]).map_err(|_| mailtls_result::TrustAnchors)?;
        let verifiers = PlanVerifiers::default().with_replacement(anchors);
        let delivery = Delivery::from_plan(settings, plan.clone(), Arc::new(verifiers));
        handle::give::<mailtls_delivery>(out_delivery, delivery)
    })
}

/// The client certificate chain (PEM, leaf first) and key (PEM) every attempt made from now
/// on presents when a server asks for one (a partner's connector, Postfix
/// `smtpd_tls_ask_ccert`). Errors: `MAILTLS_RESULT_CERTIFICATE_PEM`,
/// `MAILTLS_RESULT_PRIVATE_KEY_PEM`, `MAILTLS_RESULT_TLS_IDENTITY` (the key does not fit);
/// the delivery is unchanged then.
#[no_mangle]
pub extern "C" fn mailtls_delivery_set_client_identity_pem(
    delivery: *mut mailtls_delivery,
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow_mut(delivery)?;
        let identity = identity_from_pem(chain_pem, chain_len, key_pem, key_len)?;
        delivery.set_identity(Some(identity));
        Ok(())
    })
}

/// Frees a delivery. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_delivery_free(delivery: *mut mailtls_delivery) {
    boundary::value(|| handle::free(delivery));
}

/// The session for the next attempt; `MAILTLS_RESULT_NOT_FOUND` when the delivery is over
/// (see [`mailtls_delivery_outcome`]). Connect to [`mailtls_delivery_current_host`] first;
/// when that fails call [`mailtls_delivery_connect_failed`] and free the session.
#[no_mangle]
pub extern "C" fn mailtls_delivery_next_session(
    delivery: *mut mailtls_delivery,
    now_ms: u64,
    out_session: *mut *mut mailtls_session,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow_mut(delivery)?;
        require_out(out_session)?;
        let session = delivery
            .next_session(Timestamp::from_unix_millis(now_ms))
            .ok_or(mailtls_result::NotFound)?;
        handle::give::<mailtls_session>(out_session, SessionHandle::of_client(session))
    })
}

/// Copies the host the current attempt connects to into `buf`, and its port into
/// `*out_port`. `MAILTLS_RESULT_NOT_FOUND` when no host is left.
#[no_mangle]
pub extern "C" fn mailtls_delivery_current_host(
    delivery: *const mailtls_delivery,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
    out_port: *mut u16,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow(delivery)?;
        require_out(out_port)?;
        let (host, port) = delivery.current_host().ok_or(mailtls_result::NotFound)?;
        text::write_data(&host.to_string(), buf, len, out_n)?;
        write_out(out_port, port)
    })
}

/// The connection to the current host could not be made: the delivery moves to the next host.
#[no_mangle]
pub extern "C" fn mailtls_delivery_connect_failed(
    delivery: *mut mailtls_delivery,
) -> mailtls_result {
    boundary::call(|| {
        handle::borrow_mut(delivery)?.connect_failed();
        Ok(())
    })
}

/// Hands the record of a finished session to the delivery, which decides the next attempt.
/// `MAILTLS_RESULT_WRONG_STATE` when the session has not finished (no Closed event polled)
/// or was recorded already; `MAILTLS_RESULT_WRONG_ROLE` for a server session.
#[no_mangle]
pub extern "C" fn mailtls_delivery_record(
    delivery: *mut mailtls_delivery,
    session: *mut mailtls_session,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow_mut(delivery)?;
        let session = handle::borrow_mut::<mailtls_session>(session)?;
        let record = session.take_record()?;
        delivery.record(record);
        Ok(())
    })
}

/// How the delivery ended (`MAILTLS_DELIVERY_STATE_PENDING` while it goes on), with the
/// status text (`451 4.4.0 ...`) or the host it completed on copied into `buf`.
#[no_mangle]
pub extern "C" fn mailtls_delivery_outcome(
    delivery: *const mailtls_delivery,
    out_outcome: *mut mailtls_delivery_state,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let delivery = handle::borrow(delivery)?;
        require_out(out_outcome)?;
        let (outcome, detail) = match delivery.outcome() {
            None => (mailtls_delivery_state::Pending, String::new()),
            Some(DeliveryOutcome::Completed { host, rung, tls }) => (
                mailtls_delivery_state::Completed,
                if *tls {
                    format!("{host} ({rung})")
                } else {
                    format!("{host} (plaintext)")
                },
            ),
            Some(DeliveryOutcome::Deferred(status)) => {
                (mailtls_delivery_state::Deferred, status.to_string())
            }
            Some(DeliveryOutcome::Bounced(status)) => {
                (mailtls_delivery_state::Bounced, status.to_string())
            }
        };
        text::write_data(&detail, buf, len, out_n)?;
        write_out(out_outcome, outcome)
    })
}
