//! Errors of the TLS layer, and the classification of handshake failures for the ladder.

use core::fmt;
use std::borrow::Cow;

use rustls::{AlertDescription, CertificateError, PeerIncompatible};

use crate::policy::ladder::{FailureClass, Rung};
use crate::tlsrpt::ResultType;

/// A TLS configuration or setup error (before any byte moved).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration built for a rung.
    #[error("cannot build the TLS configuration for rung {rung}: {detail}")]
    Config {
        /// The rung whose configuration failed.
        rung: Rung,
        /// What rustls said.
        detail: String,
    },
    /// The certificate chain or key could not be loaded.
    #[error("cannot load the TLS identity: {detail}")]
    Identity {
        /// What was wrong with the chain or key.
        detail: String,
    },
    /// A TLS configuration was asked for a rung that has no TLS.
    #[error("rung {rung} has no TLS configuration")]
    NoTlsRung {
        /// The rung asked for.
        rung: Rung,
    },
    /// The server name is neither a DNS name nor an IP address.
    #[error("{name:?} is not a valid TLS server name")]
    ServerName {
        /// The name presented.
        name: String,
    },
    /// rustls refused to start a connection.
    #[error("cannot start the TLS connection: {detail}")]
    Start {
        /// What rustls said.
        detail: String,
    },
}

/// Why a TLS connection failed, classified for the ladder and for TLS-RPT.
///
/// Failures are fatal to the connection: a lower rung is always a new connection. Display
/// gives one sentence for people: `TLS handshake failed: the peer sent a fatal
/// handshake_failure alert (handshake-failure-alert, starttls-not-supported)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TLS {phase} failed: {cause}{sent} ({class}, {result_type})",
    phase = if *.during_handshake { "handshake" } else { "session" },
    sent = SentAlert(.alert_sent))]
pub struct TlsFailure {
    /// The class the ladder gates look at.
    pub class: FailureClass,
    /// The RFC 8460 result type to report.
    pub result_type: ResultType,
    /// Whether the handshake was still in progress.
    pub during_handshake: bool,
    /// The alert the peer sent, if any (its TLS name: [`alert_name`]).
    pub alert_received: Option<AlertDescription>,
    /// The alert mailtls sent, if the failure was detected locally.
    pub alert_sent: Option<AlertDescription>,
    /// What went wrong, typed: rustls's error, or what the engine saw itself.
    pub cause: TlsFailureCause,
}

/// What ended a TLS connection.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum TlsFailureCause {
    /// rustls reported an error: an alert received, a certificate rejected, a malformed or
    /// unexpected message, nothing in common with the peer.
    Rustls(rustls::Error),
    /// The peer closed the connection before the handshake completed.
    EofDuringHandshake,
    /// The peer closed the connection after the handshake without a `close_notify` alert.
    Truncated,
    /// Application data was offered before the handshake completed (a local misuse).
    NotReady,
}

// rustls's `Error` is only `PartialEq` because `Error::Other` (a provider's own error) never
// equals itself. mailtls's ring provider and verifiers never produce it, so equality stays
// reflexive for every failure mailtls builds.
impl Eq for TlsFailureCause {}

impl fmt::Display for TlsFailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rustls(error) => describe_rustls(error, f),
            Self::EofDuringHandshake => {
                f.write_str("the peer closed the connection during the TLS handshake")
            }
            Self::Truncated => f.write_str("the peer closed the connection without close_notify"),
            Self::NotReady => {
                f.write_str("application data offered before the TLS handshake completed")
            }
        }
    }
}

/// Writes ` (mailtls sent unknown_ca)` when an alert was sent.
struct SentAlert<'a>(&'a Option<AlertDescription>);

impl fmt::Display for SentAlert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(alert) => write!(f, "; alert {} sent", alert_name(*alert)),
            None => Ok(()),
        }
    }
}

impl TlsFailure {
    /// The peer closed the connection before the handshake completed.
    pub fn eof_during_handshake() -> Self {
        Self {
            class: FailureClass::EofDuringHandshake,
            result_type: ResultType::StarttlsNotSupported,
            during_handshake: true,
            alert_received: None,
            alert_sent: None,
            cause: TlsFailureCause::EofDuringHandshake,
        }
    }

    /// The peer closed the connection after the handshake without a `close_notify` alert.
    pub fn truncated() -> Self {
        Self {
            class: FailureClass::OtherTls,
            result_type: ResultType::ValidationFailure,
            during_handshake: false,
            alert_received: None,
            alert_sent: None,
            cause: TlsFailureCause::Truncated,
        }
    }

    /// A local misuse: plaintext was offered before the handshake completed.
    pub(crate) fn not_ready() -> Self {
        Self {
            class: FailureClass::OtherTls,
            result_type: ResultType::ValidationFailure,
            during_handshake: true,
            alert_received: None,
            alert_sent: None,
            cause: TlsFailureCause::NotReady,
        }
    }

    /// What went wrong, as one clause for people (the cause without the phase and class):
    /// TLS-RPT's `additional-information`.
    pub fn detail(&self) -> String {
        self.cause.to_string()
    }

    /// The rustls error, when rustls reported the failure.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match &self.cause {
            TlsFailureCause::Rustls(error) => Some(error),
            _ => None,
        }
    }

    /// Classifies a rustls error.
    pub(crate) fn classify(error: &rustls::Error, during_handshake: bool) -> Self {
        let (class, result_type, alert_received) = match error {
            rustls::Error::AlertReceived(alert) => {
                let class = match alert {
                    AlertDescription::HandshakeFailure => FailureClass::HandshakeFailureAlert,
                    AlertDescription::ProtocolVersion => FailureClass::ProtocolVersionAlert,
                    AlertDescription::InsufficientSecurity => {
                        FailureClass::InsufficientSecurityAlert
                    }
                    AlertDescription::DecodeError => FailureClass::Decode,
                    _ => FailureClass::OtherTls,
                };
                (class, ResultType::StarttlsNotSupported, Some(*alert))
            }
            rustls::Error::InvalidCertificate(e) => {
                (FailureClass::Certificate, certificate_result(e), None)
            }
            rustls::Error::NoCertificatesPresented | rustls::Error::UnsupportedNameType => (
                FailureClass::Certificate,
                ResultType::ValidationFailure,
                None,
            ),
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::PeerSentOversizedRecord => {
                (FailureClass::Decode, ResultType::StarttlsNotSupported, None)
            }
            rustls::Error::PeerIncompatible(e) => (
                incompatibility_class(e),
                ResultType::StarttlsNotSupported,
                None,
            ),
            _ => (
                FailureClass::OtherTls,
                ResultType::StarttlsNotSupported,
                None,
            ),
        };
        Self {
            class,
            result_type,
            during_handshake,
            alert_received,
            alert_sent: local_alert(error),
            cause: TlsFailureCause::Rustls(error.clone()),
        }
    }
}

/// One clause for a rustls error, in mailtls's words: rustls's own Display prints several of
/// its enums with `Debug` (`received fatal alert: HandshakeFailure`).
fn describe_rustls(error: &rustls::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use rustls::Error as E;
    match error {
        E::AlertReceived(alert) => {
            write!(f, "the peer sent a fatal {} alert", alert_name(*alert))
        }
        E::InvalidCertificate(e) => {
            f.write_str("the peer's certificate was refused: ")?;
            describe_certificate(e, f)
        }
        E::NoCertificatesPresented => f.write_str("the peer presented no certificate"),
        E::UnsupportedNameType => f.write_str("the server name is of a type rustls cannot check"),
        E::InvalidMessage(_) => f.write_str("the peer sent a malformed TLS message"),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            f.write_str("the peer sent a TLS message out of order")
        }
        E::PeerSentOversizedRecord => f.write_str("the peer sent an oversized TLS record"),
        E::PeerIncompatible(e) => describe_incompatibility(e, f),
        E::PeerMisbehaved(_) => f.write_str("the peer broke the TLS protocol"),
        E::DecryptError => f.write_str("a record from the peer did not decrypt"),
        E::EncryptError => f.write_str("a record could not be encrypted"),
        E::NoApplicationProtocol => f.write_str("no application protocol in common"),
        E::HandshakeNotComplete => f.write_str("the TLS handshake has not completed"),
        E::FailedToGetCurrentTime => f.write_str("the current time is unknown"),
        E::FailedToGetRandomBytes => f.write_str("no random bytes were available"),
        // mailtls's own words (an I/O error on the TLS buffers), passed through as they are.
        E::General(text) => f.write_str(text),
        other => write!(f, "rustls: {other}"),
    }
}

fn describe_certificate(error: &CertificateError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use CertificateError as C;
    match error {
        C::Expired | C::ExpiredContext { .. } => f.write_str("it has expired"),
        C::NotValidYet | C::NotValidYetContext { .. } => f.write_str("it is not valid yet"),
        C::NotValidForName => f.write_str("it is not valid for the name asked for"),
        C::NotValidForNameContext {
            expected,
            presented,
        } => {
            write!(f, "it is not valid for {}", expected.to_str())?;
            if presented.is_empty() {
                f.write_str(" (it names no DNS name)")
            } else {
                write!(f, " (it names {})", presented.join(", "))
            }
        }
        C::UnknownIssuer => f.write_str("its issuer is not a trusted authority"),
        C::BadSignature => f.write_str("a signature in its chain is invalid"),
        C::BadEncoding => f.write_str("it is malformed"),
        C::Revoked => f.write_str("it is revoked"),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            f.write_str("its extended key usage does not allow this use")
        }
        C::UnhandledCriticalExtension => f.write_str("it has an unknown critical extension"),
        C::ApplicationVerificationFailure => f.write_str("the policy's checks refused it"),
        other => write!(
            f,
            "it failed verification ({})",
            alert_name(AlertDescription::from(other.clone()))
        ),
    }
}

fn describe_incompatibility(e: &PeerIncompatible, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let text = match e {
        PeerIncompatible::NoCipherSuitesInCommon => "no cipher suite in common with the peer",
        PeerIncompatible::NoKxGroupsInCommon => "no key-exchange group in common with the peer",
        PeerIncompatible::NoSignatureSchemesInCommon
        | PeerIncompatible::NoCertificateRequestSignatureSchemesInCommon => {
            "no signature scheme in common with the peer"
        }
        PeerIncompatible::NoEcPointFormatsInCommon => "no EC point format in common with the peer",
        _ if incompatibility_class(e) == FailureClass::ProtocolVersionAlert => {
            "the peer offers no TLS version allowed here (TLS 1.2 or 1.3)"
        }
        _ => "the peer lacks a TLS feature mailtls requires",
    };
    f.write_str(text)
}

/// The RFC 8460 result type of a certificate error.
pub fn certificate_result(error: &CertificateError) -> ResultType {
    match error {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => ResultType::CertificateExpired,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            ResultType::CertificateHostMismatch
        }
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::BadEncoding
        | CertificateError::Revoked
        | CertificateError::InvalidPurpose
        | CertificateError::InvalidPurposeContext { .. } => ResultType::CertificateNotTrusted,
        _ => ResultType::ValidationFailure,
    }
}

/// A local incompatibility is classed like the alert that rustls sends for it.
fn incompatibility_class(e: &PeerIncompatible) -> FailureClass {
    match e {
        PeerIncompatible::ServerDoesNotSupportTls12Or13
        | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
        | PeerIncompatible::SupportedVersionsExtensionRequired
        | PeerIncompatible::Tls12NotOffered
        | PeerIncompatible::Tls12NotOfferedOrEnabled => FailureClass::ProtocolVersionAlert,
        PeerIncompatible::NoCipherSuitesInCommon
        | PeerIncompatible::NoKxGroupsInCommon
        | PeerIncompatible::NoSignatureSchemesInCommon
        | PeerIncompatible::NoEcPointFormatsInCommon => FailureClass::HandshakeFailureAlert,
        _ => FailureClass::OtherTls,
    }
}

fn local_alert(error: &rustls::Error) -> Option<AlertDescription> {
    match error {
        rustls::Error::AlertReceived(_) => None,
        rustls::Error::InvalidCertificate(e) => Some(AlertDescription::from(e.clone())),
        rustls::Error::InvalidMessage(_) => Some(AlertDescription::DecodeError),
        rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            Some(AlertDescription::UnexpectedMessage)
        }
        rustls::Error::PeerIncompatible(e) => Some(match incompatibility_class(e) {
            FailureClass::ProtocolVersionAlert => AlertDescription::ProtocolVersion,
            _ => AlertDescription::HandshakeFailure,
        }),
        _ => None,
    }
}

/// The TLS name of an alert (`handshake_failure`), as RFC 8446 spells it; an alert without
/// a name prints as `alert(N)`.
pub fn alert_name(alert: AlertDescription) -> Cow<'static, str> {
    let name = match alert {
        AlertDescription::CloseNotify => "close_notify",
        AlertDescription::UnexpectedMessage => "unexpected_message",
        AlertDescription::BadRecordMac => "bad_record_mac",
        AlertDescription::RecordOverflow => "record_overflow",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::IllegalParameter => "illegal_parameter",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecodeError => "decode_error",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::InsufficientSecurity => "insufficient_security",
        AlertDescription::InternalError => "internal_error",
        AlertDescription::InappropriateFallback => "inappropriate_fallback",
        AlertDescription::UserCanceled => "user_canceled",
        AlertDescription::MissingExtension => "missing_extension",
        AlertDescription::UnsupportedExtension => "unsupported_extension",
        AlertDescription::UnrecognisedName => "unrecognized_name",
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::NoApplicationProtocol => "no_application_protocol",
        other => return Cow::Owned(format!("alert({})", u8::from(other))),
    };
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::InvalidMessage;

    #[test]
    fn rustls_errors_fall_into_ladder_classes() {
        let cases: Vec<(
            rustls::Error,
            FailureClass,
            ResultType,
            Option<AlertDescription>,
        )> = vec![
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                FailureClass::HandshakeFailureAlert,
                ResultType::StarttlsNotSupported,
                Some(AlertDescription::HandshakeFailure),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
                FailureClass::ProtocolVersionAlert,
                ResultType::StarttlsNotSupported,
                Some(AlertDescription::ProtocolVersion),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::InsufficientSecurity),
                FailureClass::InsufficientSecurityAlert,
                ResultType::StarttlsNotSupported,
                Some(AlertDescription::InsufficientSecurity),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::InternalError),
                FailureClass::OtherTls,
                ResultType::StarttlsNotSupported,
                Some(AlertDescription::InternalError),
            ),
            (
                rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
                FailureClass::Decode,
                ResultType::StarttlsNotSupported,
                None,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                FailureClass::Certificate,
                ResultType::CertificateExpired,
                None,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
                FailureClass::Certificate,
                ResultType::CertificateHostMismatch,
                None,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                FailureClass::Certificate,
                ResultType::CertificateNotTrusted,
                None,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
                FailureClass::Certificate,
                ResultType::ValidationFailure,
                None,
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
                FailureClass::HandshakeFailureAlert,
                ResultType::StarttlsNotSupported,
                None,
            ),
            (
                rustls::Error::PeerIncompatible(
                    PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
                ),
                FailureClass::ProtocolVersionAlert,
                ResultType::StarttlsNotSupported,
                None,
            ),
            (
                rustls::Error::General("boom".into()),
                FailureClass::OtherTls,
                ResultType::StarttlsNotSupported,
                None,
            ),
        ];
        for (error, class, result_type, alert) in cases {
            let failure = TlsFailure::classify(&error, true);
            assert_eq!(failure.class, class, "{failure}");
            assert_eq!(failure.result_type, result_type, "{failure}");
            assert_eq!(failure.alert_received, alert, "{failure}");
            assert_eq!(failure.rustls_error(), Some(&error));
            assert!(failure.during_handshake);
        }
    }

    #[test]
    fn local_failures_name_the_alert_sent() {
        let failure = TlsFailure::classify(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            true,
        );
        assert_eq!(failure.alert_sent, Some(AlertDescription::UnknownCA));
        let failure = TlsFailure::classify(
            &rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
            true,
        );
        assert_eq!(failure.alert_sent, Some(AlertDescription::DecodeError));
        assert!(failure.to_string().contains("TLS handshake failed"));
    }

    #[test]
    fn failures_read_as_sentences() {
        let cases: Vec<(TlsFailure, &str)> = vec![
            (
                TlsFailure::classify(
                    &rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                    true,
                ),
                "TLS handshake failed: the peer sent a fatal handshake_failure alert \
                 (handshake-failure-alert, starttls-not-supported)",
            ),
            (
                TlsFailure::classify(
                    &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                    true,
                ),
                "TLS handshake failed: the peer's certificate was refused: its issuer is not a \
                 trusted authority; alert unknown_ca sent (certificate, certificate-not-trusted)",
            ),
            (
                TlsFailure::classify(
                    &rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
                    true,
                ),
                "TLS handshake failed: no cipher suite in common with the peer; alert \
                 handshake_failure sent (handshake-failure-alert, starttls-not-supported)",
            ),
            (
                TlsFailure::eof_during_handshake(),
                "TLS handshake failed: the peer closed the connection during the TLS handshake \
                 (eof-during-handshake, starttls-not-supported)",
            ),
            (
                TlsFailure::truncated(),
                "TLS session failed: the peer closed the connection without close_notify \
                 (other-tls-error, validation-failure)",
            ),
        ];
        for (failure, text) in cases {
            assert_eq!(failure.to_string(), text);
            assert!(
                !failure.detail().contains("TLS handshake failed"),
                "{failure}"
            );
        }
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(alert_name(AlertDescription::Unknown(200)), "alert(200)");
    }
}
