//! The message envelope a caller hands to a ready session.

use crate::smtp::{Body, ForwardPath, ReversePath};

/// One message's envelope: sender, recipients and the MAIL parameters it needs.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path (`<>` for bounces).
    pub from: ReversePath,
    /// The recipients, in order; per-recipient results use these indexes.
    pub recipients: Vec<ForwardPath>,
    /// The message size in octets, declared with `SIZE=` when the server offers SIZE.
    pub size: Option<u64>,
    /// `BODY=`, declared when the server offers 8BITMIME.
    pub body: Option<Body>,
    /// Whether the message needs SMTPUTF8 (refused by servers that do not offer it).
    pub smtputf8: bool,
    /// REQUIRETLS (RFC 8689): the next hop must offer it after TLS, or the message is not sent.
    pub require_tls: bool,
}

impl Envelope {
    /// An envelope with no parameters.
    pub fn new(from: ReversePath, recipients: Vec<ForwardPath>) -> Self {
        Self {
            from,
            recipients,
            size: None,
            body: None,
            smtputf8: false,
            require_tls: false,
        }
    }

    /// Declares the message size.
    #[must_use]
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Declares the body type.
    #[must_use]
    pub fn with_body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    /// Marks the message as needing SMTPUTF8.
    #[must_use]
    pub fn with_smtputf8(mut self, smtputf8: bool) -> Self {
        self.smtputf8 = smtputf8;
        self
    }

    /// Marks the message REQUIRETLS.
    #[must_use]
    pub fn with_require_tls(mut self, require_tls: bool) -> Self {
        self.require_tls = require_tls;
        self
    }
}
