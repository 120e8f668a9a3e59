//! The HTTPS fetch of a policy, described and consumed but never performed (sans-IO).
//!
//! The caller performs [`StsFetchRequest`]: an HTTPS GET of
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` with PKIX validation of the server
//! certificate against `mta-sts.<domain>` (RFC 8461 §3.3), **no redirects**, reading at most
//! [`StsFetchRequest::max_body`] bytes. It then hands the result to [`consume`] as an
//! [`StsFetchResponse`].

use super::policy::{StsPolicy, StsPolicyError, MAX_POLICY_BYTES};
use crate::names::DnsName;
use crate::tlsrpt::ResultType;

/// The request the core needs the caller to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsFetchRequest {
    /// The policy domain (the recipient domain).
    pub domain: DnsName,
    /// `mta-sts.<domain>`: the HTTPS host, for the TCP connection, SNI and the certificate
    /// name check.
    pub host: String,
    /// `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub url: String,
}

impl StsFetchRequest {
    /// Whether the caller may follow HTTP redirects: never (RFC 8461 §3.3).
    pub const FOLLOW_REDIRECTS: bool = false;

    /// The request for `domain`'s policy.
    pub fn new(domain: &DnsName) -> Self {
        let host = format!("mta-sts.{domain}");
        Self {
            domain: domain.clone(),
            url: format!("https://{host}/.well-known/mta-sts.txt"),
            host,
        }
    }

    /// The most body bytes the caller should read; more is an error anyway.
    pub const fn max_body(&self) -> usize {
        MAX_POLICY_BYTES
    }
}

/// What came back from the fetch.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsFetchResponse<'a> {
    /// The HTTPS server's certificate did not validate for `mta-sts.<domain>`.
    CertificateInvalid {
        /// What the caller's TLS stack said.
        detail: &'a str,
    },
    /// An HTTP response arrived (over a validated HTTPS connection).
    Http {
        /// The status code.
        status: u16,
        /// The `Content-Type` header value, if any.
        content_type: Option<&'a str>,
        /// The body, as read (the caller stops after [`StsFetchRequest::max_body`] + 1 bytes).
        body: &'a [u8],
    },
    /// No HTTP response: DNS, TCP, TLS handshake (other than the certificate) or timeout.
    TransportFailure {
        /// What went wrong.
        detail: &'a str,
    },
}

/// Why a fetch did not yield a policy.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StsFetchError {
    /// The HTTPS certificate did not validate (`sts-webpki-invalid`).
    #[error("the policy host's certificate is invalid: {detail}")]
    CertificateInvalid {
        /// The caller's description.
        detail: String,
    },
    /// The body is not a valid policy (`sts-policy-invalid`).
    #[error("invalid policy: {0}")]
    InvalidPolicy(StsPolicyError),
    /// The media type is not `text/plain` (`sts-policy-invalid`).
    #[error("policy served as {}, expected text/plain", .presented.as_deref().unwrap_or("no media type"))]
    MediaType {
        /// The `Content-Type` presented (`None` when absent), cut to 80 characters.
        presented: Option<String>,
    },
    /// A 3xx: redirects are not followed (`sts-policy-fetch-error`).
    #[error("HTTP {status} redirect; MTA-STS policies are never fetched through redirects")]
    Redirect {
        /// The status code.
        status: u16,
    },
    /// Any status other than 200 and 3xx (`sts-policy-fetch-error`).
    #[error("HTTP status {status}, expected 200")]
    Status {
        /// The status code.
        status: u16,
    },
    /// No response (`sts-policy-fetch-error`).
    #[error("policy fetch failed: {detail}")]
    Transport {
        /// The caller's description.
        detail: String,
    },
}

impl StsFetchError {
    /// The RFC 8460 result type.
    pub const fn result_type(&self) -> ResultType {
        match self {
            Self::CertificateInvalid { .. } => ResultType::StsWebpkiInvalid,
            Self::InvalidPolicy(_) | Self::MediaType { .. } => ResultType::StsPolicyInvalid,
            Self::Redirect { .. } | Self::Status { .. } | Self::Transport { .. } => {
                ResultType::StsPolicyFetchError
            }
        }
    }
}

/// Turns a fetch result into a policy: status 200 only (3xx is a refused redirect), media type
/// `text/plain` (parameters such as `charset` allowed, case-insensitive), then
/// [`StsPolicy::parse`] (which enforces the 64 KiB cap).
pub fn consume(response: StsFetchResponse<'_>) -> Result<StsPolicy, StsFetchError> {
    match response {
        StsFetchResponse::CertificateInvalid { detail } => Err(StsFetchError::CertificateInvalid {
            detail: detail.chars().take(200).collect(),
        }),
        StsFetchResponse::TransportFailure { detail } => Err(StsFetchError::Transport {
            detail: detail.chars().take(200).collect(),
        }),
        StsFetchResponse::Http { status, .. } if (300..400).contains(&status) => {
            Err(StsFetchError::Redirect { status })
        }
        StsFetchResponse::Http { status, .. } if status != 200 => {
            Err(StsFetchError::Status { status })
        }
        StsFetchResponse::Http {
            content_type, body, ..
        } => {
            let plain = content_type.is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/plain"))
            });
            if !plain {
                return Err(StsFetchError::MediaType {
                    presented: content_type.map(|c| c.chars().take(80).collect()),
                });
            }
            StsPolicy::parse(body).map_err(StsFetchError::InvalidPolicy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &[u8] = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";

    #[test]
    fn request_is_the_well_known_url() {
        let r = StsFetchRequest::new(&DnsName::parse("Example.COM.").unwrap());
        assert_eq!(r.url, "https://mta-sts.example.com/.well-known/mta-sts.txt");
        assert_eq!(r.host, "mta-sts.example.com");
        assert_eq!(r.max_body(), 65_536);
        const { assert!(!StsFetchRequest::FOLLOW_REDIRECTS) };
    }

    #[test]
    fn responses_map_to_policies_or_result_types() {
        let http = |status, content_type, body| StsFetchResponse::Http {
            status,
            content_type,
            body,
        };
        let ok = [
            http(200, Some("text/plain"), POLICY),
            http(200, Some("Text/Plain; charset=utf-8"), POLICY),
        ];
        for r in ok {
            assert!(consume(r).is_ok(), "{r:?}");
        }
        let bad: [(StsFetchResponse<'_>, ResultType); 9] = [
            (
                http(301, Some("text/plain"), POLICY),
                ResultType::StsPolicyFetchError,
            ),
            (http(302, None, b""), ResultType::StsPolicyFetchError),
            (
                http(404, Some("text/plain"), b""),
                ResultType::StsPolicyFetchError,
            ),
            (
                http(500, Some("text/plain"), POLICY),
                ResultType::StsPolicyFetchError,
            ),
            (
                StsFetchResponse::TransportFailure { detail: "timeout" },
                ResultType::StsPolicyFetchError,
            ),
            (
                StsFetchResponse::CertificateInvalid { detail: "expired" },
                ResultType::StsWebpkiInvalid,
            ),
            (
                http(200, Some("text/html"), POLICY),
                ResultType::StsPolicyInvalid,
            ),
            (http(200, None, POLICY), ResultType::StsPolicyInvalid),
            (
                http(200, Some("text/plain"), b"version: STSv1\n"),
                ResultType::StsPolicyInvalid,
            ),
        ];
        for (r, t) in bad {
            assert_eq!(consume(r).unwrap_err().result_type(), t, "{r:?}");
        }
        assert_eq!(
            consume(http(307, None, b"")),
            Err(StsFetchError::Redirect { status: 307 })
        );
    }
}
