//! Matching a presented certificate chain against a TLSA RRset (RFC 7672 §3.1, RFC 7671 §5).
//!
//! [`verify_chain`] is a plain function over DER certificates so that the client's certificate
//! verifier (a rustls `ServerCertVerifier` in `tls`) can call it from its
//! `verify_server_cert` hook: pass the end-entity certificate, the intermediates as presented,
//! the reference identifiers and `now`. The verifier still checks the handshake signature
//! itself; this function only decides whether the chain is authenticated by DANE.

use ring::digest;
use rustls_pki_types::{CertificateDer, Der, TrustAnchor};

use super::record::{CertUsage, MatchingType, Selector, TlsaRecord};
use super::set::TlsaSet;
use crate::cert::{map_webpki, CertFacts, ChainError};
use crate::names::{Dialect, NamePattern};
use crate::time::Timestamp;
use crate::tlsrpt::ResultType;

/// The most presented certificates examined (leaf included); a longer chain is refused.
pub const MAX_CHAIN_LEN: usize = 16;

/// How a chain was authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaMatch {
    /// The record that matched.
    pub record: TlsaRecord,
    /// Depth in the presented chain of the certificate the record matched: 0 is the leaf.
    /// `None` when a DANE-TA record carried the full trust anchor itself and the anchor was not
    /// among the presented certificates.
    pub depth: Option<usize>,
    /// For DANE-TA, the reference identifier the leaf was valid for. DANE-EE checks no name.
    pub matched_name: Option<String>,
    /// For DANE-TA, a certificate that may stand as the trust anchor: the matched presented
    /// certificate, the record's own certificate (Full(0), selector Cert), or for a bare key
    /// (Full(0), selector SPKI) the certificate in the validated path that the key issued.
    /// `None` for DANE-EE, and for a bare key that issued the leaf directly.
    pub anchor: Option<CertificateDer<'static>>,
}

/// Why a chain did not match a TLSA RRset.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DaneVerifyError {
    /// The peer presented no certificate.
    #[error("the peer presented no certificate")]
    EmptyChain,
    /// The peer presented more than [`MAX_CHAIN_LEN`] certificates.
    #[error("the peer presented {presented} certificates, more than {max}")]
    ChainTooLong {
        /// Certificates presented.
        presented: usize,
        /// The cap.
        max: usize,
    },
    /// A DANE-TA record matched, but the chain from the leaf to it does not validate: it
    /// expired or is not yet valid (the trust anchor's own dates are never checked), or the
    /// leaf does not chain to it.
    #[error("the chain to the DANE-TA trust anchor does not validate: {0}")]
    Chain(ChainError),
    /// A DANE-TA chain validated, but the leaf is valid for none of the reference identifiers.
    #[error("certificate valid for none of the reference identifiers ({})", .expected.join(", "))]
    NameMismatch {
        /// The reference identifiers tried.
        expected: Vec<String>,
    },
    /// No usable record matched any presented certificate.
    #[error(
        "none of the {records} usable TLSA records matched the {presented} presented certificates"
    )]
    NoMatch {
        /// Usable records tried.
        records: usize,
        /// Certificates presented.
        presented: usize,
    },
    /// The RRset has no usable record; the caller should not authenticate with DANE at all.
    #[error("the TLSA RRset has no usable record")]
    NoUsableRecords,
}

impl DaneVerifyError {
    /// The RFC 8460 result type this failure is reported under.
    pub const fn result_type(&self) -> ResultType {
        match self {
            Self::Chain(ChainError::Expired { .. } | ChainError::NotYetValid { .. }) => {
                ResultType::CertificateExpired
            }
            Self::Chain(_) => ResultType::CertificateNotTrusted,
            Self::NameMismatch { .. } => ResultType::CertificateHostMismatch,
            Self::EmptyChain
            | Self::ChainTooLong { .. }
            | Self::NoMatch { .. }
            | Self::NoUsableRecords => ResultType::TlsaInvalid,
        }
    }
}

/// Checks a presented chain against the usable records of `tlsa`.
///
/// - DANE-EE(3): the leaf's certificate or SPKI (per selector) must match; names and validity
///   dates are ignored (RFC 7672 §3.1.1).
/// - DANE-TA(2): a presented certificate above the leaf must match the record, or the record
///   must carry the full anchor (Full(0) certificate or SPKI); the leaf must then chain to that
///   anchor (rustls-webpki, ring algorithms, server-auth EKU only if present, intermediates'
///   and leaf's dates checked against `now`, the anchor's not) and be valid for at least one of
///   `reference_ids` (RFC 7672 §3.1.2, §3.2.3: the TLSA base domain, and optionally the MX
///   host name and the next-hop domain). Wildcards match exactly one left-most label; the
///   subject CN counts only when the certificate has no DNS subjectAltName (RFC 7672 §3.2.3,
///   as Postfix and OpenSSL do).
/// - A DANE-TA record with a bare public key (`2 1 0`) may have signed the leaf itself: the
///   server then sends the leaf alone (OpenSSL `danetest.in` "DANE-TA(2) SPKI(1) Full(0)").
/// - A DANE-TA record matching the leaf itself is not accepted as an anchor.
///
/// The first match wins; on failure the most specific error is returned (a name mismatch over
/// a chain error over no match).
pub fn verify_chain(
    tlsa: &TlsaSet,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    reference_ids: &[&str],
    now: Timestamp,
) -> Result<TlsaMatch, DaneVerifyError> {
    verify_chain_with(tlsa, end_entity, intermediates, Some(reference_ids), now)
}

/// [`verify_chain`], with the DANE-TA name check left to the caller when `reference_ids` is
/// `None` (the certificate verifier hook checks names with its own matcher).
pub(crate) fn verify_chain_with(
    tlsa: &TlsaSet,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    reference_ids: Option<&[&str]>,
    now: Timestamp,
) -> Result<TlsaMatch, DaneVerifyError> {
    if !tlsa.has_usable() {
        return Err(DaneVerifyError::NoUsableRecords);
    }
    let presented = 1 + intermediates.len();
    if presented > MAX_CHAIN_LEN {
        return Err(DaneVerifyError::ChainTooLong {
            presented,
            max: MAX_CHAIN_LEN,
        });
    }
    if end_entity.as_ref().is_empty() {
        return Err(DaneVerifyError::EmptyChain);
    }
    let mut worst = DaneVerifyError::NoMatch {
        records: tlsa.usable().len(),
        presented,
    };
    for record in tlsa
        .usable()
        .iter()
        .filter(|r| r.usage == CertUsage::DaneEe)
    {
        if matches(record, end_entity.as_ref()) {
            return Ok(TlsaMatch {
                record: record.clone(),
                depth: Some(0),
                matched_name: None,
                anchor: None,
            });
        }
    }
    for record in tlsa
        .usable()
        .iter()
        .filter(|r| r.usage == CertUsage::DaneTa)
    {
        for (depth, anchor) in anchors_for(record, end_entity, intermediates) {
            match chain_to(&anchor, end_entity, intermediates, reference_ids, now) {
                Ok((name, issued_by_anchor)) => {
                    let anchor = match (depth, record.selector) {
                        (Some(d), _) => intermediates
                            .get(d.saturating_sub(1))
                            .map(|c| c.clone().into_owned()),
                        (None, Selector::Cert) => Some(CertificateDer::from(record.data.clone())),
                        (None, _) => issued_by_anchor,
                    };
                    return Ok(TlsaMatch {
                        record: record.clone(),
                        depth,
                        matched_name: name,
                        anchor,
                    });
                }
                Err(e) => {
                    if rank(&e) > rank(&worst) {
                        worst = e;
                    }
                }
            }
        }
    }
    Err(worst)
}

/// Whether `record` matches the certificate `cert_der` under its selector and matching type.
pub fn matches(record: &TlsaRecord, cert_der: &[u8]) -> bool {
    let Some(content) = selected(cert_der, record.selector) else {
        return false;
    };
    match record.matching_type {
        MatchingType::Full => content == record.data.as_slice(),
        MatchingType::Sha256 => {
            digest::digest(&digest::SHA256, content).as_ref() == record.data.as_slice()
        }
        MatchingType::Sha512 => {
            digest::digest(&digest::SHA512, content).as_ref() == record.data.as_slice()
        }
        MatchingType::Unassigned(_) => false,
    }
}

/// The bytes a selector picks out of a DER certificate: the whole certificate, or its DER
/// SubjectPublicKeyInfo. `None` when the certificate does not parse.
pub fn selected(cert_der: &[u8], selector: Selector) -> Option<&[u8]> {
    match selector {
        Selector::Cert => Some(cert_der),
        Selector::Spki => x509_parser::parse_x509_certificate(cert_der)
            .ok()
            .map(|(_, c)| c.tbs_certificate.subject_pki.raw),
        Selector::Unassigned(_) => None,
    }
}

/// The trust anchors a DANE-TA record designates, with the depth of the presented certificate
/// each came from.
fn anchors_for<'a>(
    record: &'a TlsaRecord,
    end_entity: &'a CertificateDer<'a>,
    intermediates: &'a [CertificateDer<'a>],
) -> Vec<(Option<usize>, TrustAnchor<'a>)> {
    let mut out = Vec::new();
    for (i, cert) in intermediates.iter().enumerate() {
        if matches(record, cert.as_ref()) {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(cert) {
                out.push((Some(i + 1), anchor));
            }
        }
    }
    if out.is_empty() && record.matching_type == MatchingType::Full {
        match record.selector {
            Selector::Cert => {
                if let Some(anchor) = anchor_from_der_cert(&record.data) {
                    out.push((None, anchor));
                }
            }
            Selector::Spki => {
                // A bare key has no subject name: try it as the issuer of each presented
                // certificate, the leaf included (webpki matches the anchor subject against
                // the issuer name).
                if let Some(spki) = der_value(&record.data) {
                    for cert in core::iter::once(end_entity).chain(intermediates) {
                        if let Some(subject) = issuer_value(cert.as_ref()) {
                            out.push((
                                None,
                                TrustAnchor {
                                    subject: Der::from_slice(subject),
                                    subject_public_key_info: Der::from_slice(spki),
                                    name_constraints: None,
                                },
                            ));
                        }
                    }
                }
            }
            Selector::Unassigned(_) => {}
        }
    }
    out
}

fn anchor_from_der_cert(data: &[u8]) -> Option<TrustAnchor<'_>> {
    let (_, cert) = x509_parser::parse_x509_certificate(data).ok()?;
    Some(TrustAnchor {
        subject: Der::from_slice(der_value(cert.tbs_certificate.subject.as_raw())?),
        subject_public_key_info: Der::from_slice(der_value(cert.tbs_certificate.subject_pki.raw)?),
        name_constraints: None,
    })
}

fn issuer_value(cert_der: &[u8]) -> Option<&[u8]> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    der_value(cert.tbs_certificate.issuer.as_raw())
}

/// The contents of a DER SEQUENCE (its tag and length stripped), as webpki's anchors hold them.
fn der_value(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, rest.get(n..)?)
    };
    (rest.len() == len).then_some(rest)
}

fn chain_to(
    anchor: &TrustAnchor<'_>,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    reference_ids: Option<&[&str]>,
    now: Timestamp,
) -> Result<(Option<String>, Option<CertificateDer<'static>>), DaneVerifyError> {
    let ee = webpki::EndEntityCert::try_from(end_entity)
        .map_err(|e| DaneVerifyError::Chain(map_webpki(e, now, "serverAuth")))?;
    let path = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            core::slice::from_ref(anchor),
            intermediates,
            now.to_unix_time(),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| DaneVerifyError::Chain(map_webpki(e, now, "serverAuth")))?;
    let issued_by_anchor = path
        .intermediate_certificates()
        .find(|c| c.issuer() == anchor.subject.as_ref())
        .map(|c| c.der().into_owned());
    let Some(reference_ids) = reference_ids else {
        return Ok((None, issued_by_anchor));
    };
    let patterns: Vec<NamePattern> = reference_ids
        .iter()
        .filter_map(|id| NamePattern::parse(id, Dialect::DaneTa).ok())
        .collect();
    CertFacts::from_der(end_entity.as_ref())
        .ok()
        .and_then(|facts| facts.match_names(Dialect::DaneTa, &patterns).ok())
        .map(|m| (Some(m.reference), issued_by_anchor))
        .ok_or_else(|| DaneVerifyError::NameMismatch {
            expected: reference_ids.iter().map(|s| (*s).to_owned()).collect(),
        })
}

fn rank(e: &DaneVerifyError) -> u8 {
    match e {
        DaneVerifyError::NameMismatch { .. } => 3,
        DaneVerifyError::Chain(ChainError::Expired { .. } | ChainError::NotYetValid { .. }) => 2,
        DaneVerifyError::Chain(_) => 1,
        _ => 0,
    }
}
