//! Errors of the TLS layer, and the classification of handshake failures for the ladder.

use rustls::{AlertDescription, CertificateError, PeerIncompatible};

use crate::policy::ladder::{FailureClass, Rung};
use crate::report::ResultType;

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
/// Failures are fatal to the connection: a lower rung is always a new connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TLS {phase} failed ({class:?}, {result_type}): {detail}", phase = if *.during_handshake { "handshake" } else { "session" })]
pub struct TlsFailure {
    /// The class the ladder gates look at.
    pub class: FailureClass,
    /// The RFC 8460 result type to report.
    pub result_type: ResultType,
    /// Whether the handshake was still in progress.
    pub during_handshake: bool,
    /// The alert the peer sent, by its TLS name (`"handshake_failure"`), if any.
    pub alert_received: Option<String>,
    /// The alert mailtls sent, if the failure was detected locally.
    pub alert_sent: Option<String>,
    /// What went wrong, in rustls's words.
    pub detail: String,
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
            detail: "the peer closed the connection during the TLS handshake".into(),
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
            detail: "the peer closed the connection without close_notify".into(),
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
            detail: "application data offered before the TLS handshake completed".into(),
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
                (
                    class,
                    ResultType::StarttlsNotSupported,
                    Some(alert_name(*alert)),
                )
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
            detail: error.to_string(),
        }
    }
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

fn local_alert(error: &rustls::Error) -> Option<String> {
    match error {
        rustls::Error::AlertReceived(_) => None,
        rustls::Error::InvalidCertificate(e) => Some(alert_name(AlertDescription::from(e.clone()))),
        rustls::Error::InvalidMessage(_) => Some(alert_name(AlertDescription::DecodeError)),
        rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            Some(alert_name(AlertDescription::UnexpectedMessage))
        }
        rustls::Error::PeerIncompatible(e) => Some(alert_name(match incompatibility_class(e) {
            FailureClass::ProtocolVersionAlert => AlertDescription::ProtocolVersion,
            _ => AlertDescription::HandshakeFailure,
        })),
        _ => None,
    }
}

/// The TLS name of an alert (`handshake_failure`), as RFC 8446 spells it.
fn alert_name(alert: AlertDescription) -> String {
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
        other => return format!("alert({})", u8::from(other)),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::InvalidMessage;

    #[test]
    fn rustls_errors_fall_into_ladder_classes() {
        let cases: Vec<(rustls::Error, FailureClass, ResultType, Option<&str>)> = vec![
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                FailureClass::HandshakeFailureAlert,
                ResultType::StarttlsNotSupported,
                Some("handshake_failure"),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
                FailureClass::ProtocolVersionAlert,
                ResultType::StarttlsNotSupported,
                Some("protocol_version"),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::InsufficientSecurity),
                FailureClass::InsufficientSecurityAlert,
                ResultType::StarttlsNotSupported,
                Some("insufficient_security"),
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::InternalError),
                FailureClass::OtherTls,
                ResultType::StarttlsNotSupported,
                Some("internal_error"),
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
            assert_eq!(failure.class, class, "{error:?}");
            assert_eq!(failure.result_type, result_type, "{error:?}");
            assert_eq!(failure.alert_received.as_deref(), alert, "{error:?}");
            assert!(failure.during_handshake);
        }
    }

    #[test]
    fn local_failures_name_the_alert_sent() {
        let failure = TlsFailure::classify(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            true,
        );
        assert_eq!(failure.alert_sent.as_deref(), Some("unknown_ca"));
        let failure = TlsFailure::classify(
            &rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
            true,
        );
        assert_eq!(failure.alert_sent.as_deref(), Some("decode_error"));
        assert!(failure.to_string().contains("TLS handshake failed"));
    }
}
