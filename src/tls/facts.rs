//! What a finished handshake tells: version, suite, group and the peer's chain.

use core::fmt;

use rustls::pki_types::CertificateDer;
use rustls::{NamedGroup, ProtocolVersion};

use crate::policy::{CipherSuite, KeyExchangeGroup, TlsVersion};

/// The facts of one established TLS session, typed; each prints the way mail logs spell it.
///
/// Display follows Postfix's word order, the suite by its IANA name:
/// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 key-exchange X25519`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    /// The protocol version (prints `TLSv1.3`, `TLSv1.2`).
    pub version: TlsVersion,
    /// The cipher suite (prints its IANA name, `TLS_AES_256_GCM_SHA384`; its OpenSSL name,
    /// as Postfix logs it, is [`CipherSuite::openssl_name`]).
    pub suite: CipherSuite,
    /// The key-exchange group (prints `X25519`, `secp256r1`, `X25519MLKEM768`), when rustls
    /// reports one.
    pub group: Option<KeyExchangeGroup>,
    /// The peer's certificate chain as it was presented, end entity first (DER). Empty when
    /// the peer presented none (a client without a certificate).
    pub peer_chain: Vec<CertificateDer<'static>>,
    /// The server name the client asked for (SNI), as the server saw it. Always `None` on the
    /// client side.
    pub sni: Option<String>,
    /// Whether the handshake resumed an earlier session (no certificate was sent: the chain
    /// is the one the first handshake presented).
    pub resumed: bool,
}

impl TlsFacts {
    /// The cipher suite by its OpenSSL name (`ECDHE-RSA-AES128-GCM-SHA256`), as Postfix logs
    /// it.
    pub fn openssl_suite(&self) -> &'static str {
        self.suite.openssl_name()
    }
}

impl fmt::Display for TlsFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with cipher {}", self.version, self.suite)?;
        if let Some(group) = self.group {
            write!(f, " key-exchange {group}")?;
        }
        Ok(())
    }
}

/// The mailtls suite for a rustls suite; `None` for one mailtls never offers (no forward
/// secrecy, or no AEAD).
pub fn cipher_suite(suite: rustls::CipherSuite) -> Option<CipherSuite> {
    CipherSuite::from_iana_code(u16::from(suite))
}

/// The key-exchange group for a rustls group.
pub fn key_exchange_group(group: NamedGroup) -> KeyExchangeGroup {
    KeyExchangeGroup::from_iana_code(u16::from(group))
}

/// The mailtls version for a rustls version; `None` below TLS 1.2.
pub fn tls_version(version: ProtocolVersion) -> Option<TlsVersion> {
    TlsVersion::from_wire_code(u16::from(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_values_map_to_typed_facts() {
        let cases = [
            (
                rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
                Some(CipherSuite::Tls13Aes128GcmSha256),
            ),
            (
                rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                Some(CipherSuite::EcdheRsaAes256GcmSha384),
            ),
            (rustls::CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256, None),
        ];
        for (suite, expected) in cases {
            assert_eq!(cipher_suite(suite), expected);
        }
        assert_eq!(
            key_exchange_group(NamedGroup::secp384r1),
            KeyExchangeGroup::Secp384r1
        );
        assert_eq!(
            key_exchange_group(NamedGroup::X25519MLKEM768).to_string(),
            "X25519MLKEM768"
        );
        assert_eq!(
            key_exchange_group(NamedGroup::FFDHE2048).to_string(),
            "group-0x0100"
        );
        assert_eq!(
            tls_version(ProtocolVersion::TLSv1_3),
            Some(TlsVersion::Tls13)
        );
        assert_eq!(tls_version(ProtocolVersion::TLSv1_1), None);
    }

    #[test]
    fn facts_print_like_postfix() {
        let facts = TlsFacts {
            version: TlsVersion::Tls12,
            suite: CipherSuite::EcdheRsaAes128GcmSha256,
            group: Some(KeyExchangeGroup::Secp256r1),
            peer_chain: Vec::new(),
            sni: None,
            resumed: false,
        };
        assert_eq!(
            facts.to_string(),
            "TLSv1.2 with cipher TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 key-exchange secp256r1"
        );
        assert_eq!(facts.openssl_suite(), "ECDHE-RSA-AES128-GCM-SHA256");
    }
}
