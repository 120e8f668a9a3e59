//! REQUIRETLS (RFC 8689) and the `TLS-Required: No` header field.
//!
//! A message whose MAIL FROM carried `REQUIRETLS` may only be relayed over a hop that:
//!
//! 1. found the MX host securely: a DNSSEC-secure MX lookup, or an MTA-STS policy in `enforce`
//!    mode that lists the host (RFC 8689 §4.1);
//! 2. authenticates the server certificate: an authenticated level (PKIX and name, pins, or
//!    DANE with usable TLSA; Postfix `secure`, `verify`, `fingerprint`, `dane`, `dane-only`);
//!    a chain check without a name check is not enough;
//! 3. negotiated TLS; and
//! 4. saw `REQUIRETLS` in the EHLO reply *after* STARTTLS (capabilities from before TLS are
//!    forgotten; RFC 3207).
//!
//! Else the message is not relayed over that hop. Conditions 1 and 2 are known before
//! connecting ([`check_plan`]); 3 and 4 once the post-TLS EHLO reply is in ([`check_session`]).
//! When no host satisfies them, the message is returned to its sender with the status of
//! [`RequireTlsFailure::status`]:
//!
//! | failure | reply |
//! |---|---|
//! | the next hop lacks REQUIRETLS | `550 5.7.30 REQUIRETLS support required` (RFC 8689 §6 registers 5.7.30) |
//! | no TLS, MX not found securely, certificate not authenticated | `550 5.7.10 REQUIRETLS: ...` (5.7.10 "Encryption Needed", RFC 5248 registry; verify: RFC 8689 §4.1 names no code for these, Postfix and the registry use 5.7.10) |
//!
//! `TLS-Required: No` (RFC 8689 §5) asks for the opposite: recipient policies (DANE,
//! MTA-STS) are ignored and plaintext is allowed. A message carrying both follows
//! REQUIRETLS: the header is ignored.

use super::requirement::{Authentication, Requirement};
use super::status::Status;
use crate::smtp::{Capabilities, MailParams};

/// The TLS flags one message carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageTls {
    /// MAIL FROM carried the `REQUIRETLS` parameter.
    pub requiretls: bool,
    /// The message has a valid `TLS-Required: No` header field.
    pub tls_required_no: bool,
}

impl MessageTls {
    /// Flags from the envelope and the values of every `TLS-Required` header field (unfolded,
    /// without the field name). A value that is not `No` is ignored.
    pub fn new<'a>(
        requiretls: bool,
        tls_required_values: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            requiretls,
            tls_required_no: tls_required_values.into_iter().any(is_tls_required_no),
        }
    }

    /// Flags from the received MAIL FROM parameters and the `TLS-Required` header values.
    pub fn from_mail<'a>(
        params: &MailParams,
        tls_required_values: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self::new(params.require_tls, tls_required_values)
    }

    /// Whether `TLS-Required: No` takes effect: present, and REQUIRETLS not set.
    pub const fn ignores_recipient_policies(self) -> bool {
        self.tls_required_no && !self.requiretls
    }
}

/// Whether a `TLS-Required` header value is `No`: the word `No` in any case, with optional
/// surrounding whitespace (RFC 8689 §5; the header is case-insensitive like other unstructured
/// fields' keywords). Anything else, including `No; comment`, is not recognised.
pub fn is_tls_required_no(value: &str) -> bool {
    value
        .trim_matches([' ', '\t', '\r', '\n'])
        .eq_ignore_ascii_case("no")
}

/// A REQUIRETLS condition that a hop does not meet.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RequireTlsFailure {
    /// The MX host was not found securely (neither DNSSEC nor an enforced MTA-STS policy).
    #[error("REQUIRETLS: MX host not found securely (no DNSSEC, no enforced MTA-STS policy)")]
    MxNotSecure,
    /// The next hop did not advertise REQUIRETLS after STARTTLS.
    #[error("REQUIRETLS: the next hop does not advertise REQUIRETLS after STARTTLS")]
    NextHopLacksRequireTls,
    /// The policy for this host does not authenticate the server certificate.
    #[error("REQUIRETLS: the policy for this host does not authenticate the server")]
    NotAuthenticated,
    /// TLS was not negotiated.
    #[error("REQUIRETLS: TLS was not negotiated")]
    NoTls,
}

impl RequireTlsFailure {
    /// The status the message is returned with when no host meets the conditions.
    pub fn status(self) -> Status {
        match self {
            Self::NextHopLacksRequireTls => {
                Status::new(550, (5, 7, 30), "REQUIRETLS support required")
            }
            Self::MxNotSecure => Status::new(550, (5, 7, 10), "REQUIRETLS: MX not found securely"),
            Self::NotAuthenticated => Status::new(
                550,
                (5, 7, 10),
                "REQUIRETLS: server certificate not authenticated",
            ),
            Self::NoTls => Status::new(550, (5, 7, 10), "REQUIRETLS: TLS not negotiated"),
        }
    }
}

/// Whether a requirement authenticates the server well enough for REQUIRETLS: a name-checked
/// chain, pins, or DANE. A chain without a name check does not count.
pub fn authenticates(requirement: &Requirement) -> bool {
    matches!(
        requirement.authentication,
        Authentication::ChainAndName { .. }
            | Authentication::Pins(_)
            | Authentication::Dane(_)
            | Authentication::Tlsa(_)
    )
}

/// Before connecting: conditions 1 and 2 for one host. `mx_found_securely` is true when the
/// MX RRset was DNSSEC-secure, or an MTA-STS policy in `enforce` mode lists the host (or the
/// host is a configured literal next hop, which involves no MX lookup).
pub fn check_plan(
    flags: MessageTls,
    requirement: &Requirement,
    mx_found_securely: bool,
) -> Result<(), RequireTlsFailure> {
    if !flags.requiretls {
        return Ok(());
    }
    if !mx_found_securely {
        return Err(RequireTlsFailure::MxNotSecure);
    }
    if !authenticates(requirement) {
        return Err(RequireTlsFailure::NotAuthenticated);
    }
    Ok(())
}

/// After the post-TLS EHLO reply, before MAIL FROM: conditions 3 and 4. `tls_established`
/// and `authenticated` say what the session achieved (the certificate verifier passed under
/// the host's requirement); `advertises_requiretls` comes from the EHLO reply received
/// **after** STARTTLS, never from the one before. On success the client adds `REQUIRETLS` to
/// MAIL FROM.
pub fn check_session(
    flags: MessageTls,
    tls_established: bool,
    authenticated: bool,
    advertises_requiretls: bool,
) -> Result<(), RequireTlsFailure> {
    if !flags.requiretls {
        return Ok(());
    }
    if !tls_established {
        return Err(RequireTlsFailure::NoTls);
    }
    if !authenticated {
        return Err(RequireTlsFailure::NotAuthenticated);
    }
    if !advertises_requiretls {
        return Err(RequireTlsFailure::NextHopLacksRequireTls);
    }
    Ok(())
}

/// [`check_session`] with the capabilities of the EHLO reply received **after** STARTTLS
/// (pass the post-TLS [`Capabilities`], never the pre-TLS ones).
pub fn check_post_tls_capabilities(
    flags: MessageTls,
    tls_established: bool,
    authenticated: bool,
    post_tls: &Capabilities,
) -> Result<(), RequireTlsFailure> {
    check_session(flags, tls_established, authenticated, post_tls.require_tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::requirement::{AnchorSource, Encryption, Level};

    #[test]
    fn header_values() {
        for v in ["No", "no", " NO ", "\tNo\r\n"] {
            assert!(is_tls_required_no(v), "{v:?}");
        }
        for v in ["Yes", "", "No; because", "N o", "None"] {
            assert!(!is_tls_required_no(v), "{v:?}");
        }
        let flags = MessageTls::new(false, ["maybe", "No"]);
        assert!(flags.ignores_recipient_policies());
        assert!(!MessageTls::new(true, ["No"]).ignores_recipient_policies());
        assert!(!MessageTls::new(false, ["yes"]).ignores_recipient_policies());
    }

    #[test]
    fn plan_and_session_conditions() {
        let on = MessageTls::new(true, []);
        let off = MessageTls::default();
        let verify = Level::Verify.requirement(vec![], vec![], AnchorSource::Public);
        let encrypt = Requirement::new(Encryption::Required, Authentication::None);
        let chain_only = Requirement::new(
            Encryption::Required,
            Authentication::Chain(AnchorSource::Public),
        );
        let dane = Level::Dane.requirement(vec![], vec![], AnchorSource::Public);
        assert_eq!(check_plan(on, &verify, true), Ok(()));
        assert_eq!(check_plan(on, &dane, true), Ok(()));
        assert_eq!(
            check_plan(on, &verify, false),
            Err(RequireTlsFailure::MxNotSecure)
        );
        assert_eq!(
            check_plan(on, &encrypt, true),
            Err(RequireTlsFailure::NotAuthenticated)
        );
        assert_eq!(
            check_plan(on, &chain_only, true),
            Err(RequireTlsFailure::NotAuthenticated)
        );
        assert_eq!(check_plan(off, &encrypt, false), Ok(()));

        assert_eq!(check_session(on, true, true, true), Ok(()));
        assert_eq!(
            check_session(on, false, false, false),
            Err(RequireTlsFailure::NoTls)
        );
        assert_eq!(
            check_session(on, true, false, true),
            Err(RequireTlsFailure::NotAuthenticated)
        );
        assert_eq!(
            check_session(on, true, true, false),
            Err(RequireTlsFailure::NextHopLacksRequireTls)
        );
        assert_eq!(check_session(off, false, false, false), Ok(()));

        let mut caps = Capabilities::default();
        assert_eq!(
            check_post_tls_capabilities(on, true, true, &caps),
            Err(RequireTlsFailure::NextHopLacksRequireTls)
        );
        caps.require_tls = true;
        assert_eq!(check_post_tls_capabilities(on, true, true, &caps), Ok(()));
        let params = MailParams {
            require_tls: true,
            ..MailParams::default()
        };
        assert!(MessageTls::from_mail(&params, ["No"]).requiretls);
        assert!(!MessageTls::from_mail(&params, ["No"]).ignores_recipient_policies());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            RequireTlsFailure::NextHopLacksRequireTls
                .status()
                .to_string(),
            "550 5.7.30 REQUIRETLS support required"
        );
        for f in [
            RequireTlsFailure::MxNotSecure,
            RequireTlsFailure::NotAuthenticated,
            RequireTlsFailure::NoTls,
        ] {
            let s = f.status();
            assert_eq!(s.to_string().get(..10), Some("550 5.7.10"), "{f}");
            assert!(s.is_permanent());
        }
    }
}
