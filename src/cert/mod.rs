//! Certificate facts, fingerprints and pins, chain validation and partner matching.
//!
//! - [`CertFacts`] reads what a DER certificate says (x509-parser): subject and issuer DNs
//!   (RFC 4514), CNs, SAN names and IPs, serial, validity, key algorithm and size, signature
//!   algorithm (SHA-1 flagged), key usages, and SHA-256/SHA-1 fingerprints plus the SHA-256
//!   SPKI pin (ring).
//! - [`CertFacts::match_names`] matches the certificate's names against
//!   [`NamePattern`](crate::names::NamePattern)s under an explicit
//!   [`Dialect`](crate::names::Dialect).
//! - [`Pin`] is the one configured certificate or public-key digest of mailtls (SHA-256,
//!   SHA-512, and SHA-1 only for legacy thumbprints): Postfix `fingerprint` entries, partner
//!   requirements and the verifiers all use it. Digests other than the precomputed
//!   [`Fingerprints`] are computed only when a pin asks for them.
//! - [`PartnerRequirement`] combines name patterns, subject/issuer DNs, Exchange
//!   `<I>issuer<S>subject` names, pins, key strength, signature algorithm, validity and EKU;
//!   each failure is a [`PartnerError`] naming the rule, expected and presented values.
//! - [`validate_chain`] validates a chain with rustls-webpki against caller-supplied
//!   [`TrustAnchors`] (Postfix `tafile` semantics: an anchor may be an intermediate).
//! - [`Outcome`], [`TrustLevel`] and [`VerifyError::result_type`] map verdicts to Postfix's
//!   trust words and RFC 8460 result types.
//! - [`ServerVerifier`] and [`ClientVerifier`] plug a [`CertificateCheck`] into rustls and leave the
//!   outcome in an [`OutcomeSlot`].
//!
//! Nothing here reads a clock: every check takes `now` as a [`Timestamp`](crate::time::Timestamp).

mod chain;
mod dn;
mod facts;
mod outcome;
mod partner;
mod pin;
mod verify;

pub(crate) use chain::map_webpki;
pub use chain::{validate_chain, ChainError, TrustAnchors};
pub use dn::{DistinguishedName, DnError, ExchangeCertName};
pub use facts::{
    CertError, CertFacts, EcCurve, ExtendedKeyUsage, HashAlgorithm, KeyUsage, PublicKeyAlgorithm,
    SignatureAlgorithm,
};
pub use outcome::{Outcome, TrustLevel, VerifyError};
pub use partner::{KeyStrength, PartnerError, PartnerRequirement, PartnerRule, Role};
pub use pin::{base64_encode, hex_colon, Fingerprints, Pin, PinDigest, PinError, PinTarget};
pub use verify::{
    evaluate, ring_provider, CertificateCheck, ClientCertRequest, ClientVerifier, DaneCheck,
    DaneMatch, OnFailure, OutcomeSlot, ServerVerifier,
};
