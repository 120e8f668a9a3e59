//! What a finished handshake tells: version, suite, group and the peer's chain.

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, NamedGroup, ProtocolVersion};

/// The facts of one established TLS session, in the words mail logs use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    /// The protocol version, as `"TLSv1.3"` or `"TLSv1.2"`.
    pub version: &'static str,
    /// The cipher suite, by its IANA name (`"TLS_AES_256_GCM_SHA384"`).
    pub suite: &'static str,
    /// The cipher suite, by its OpenSSL name (`"TLS_AES_256_GCM_SHA384"`,
    /// `"ECDHE-RSA-AES128-GCM-SHA256"`), as Postfix logs it.
    pub openssl_suite: &'static str,
    /// The key-exchange group (`"X25519"`, `"P-256"`, `"P-384"`), when rustls reports one.
    pub group: Option<&'static str>,
    /// The peer's certificate chain as it was presented, end entity first (DER). Empty when
    /// the peer presented none (a client without a certificate).
    pub peer_chain: Vec<CertificateDer<'static>>,
    /// The server name the client asked for (SNI), as the server saw it. Always `None` on the
    /// client side.
    pub sni: Option<String>,
}

/// The IANA name of a cipher suite, or `"unknown"` for one mailtls never offers.
pub fn suite_name(suite: CipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|(s, _, _)| *s == suite)
        .map_or("unknown", |(_, iana, _)| iana)
}

/// The OpenSSL name of a cipher suite, or `"unknown"` for one mailtls never offers.
pub fn openssl_suite_name(suite: CipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|(s, _, _)| *s == suite)
        .map_or("unknown", |(_, _, openssl)| openssl)
}

/// The name of a key-exchange group, or `"unknown"` for one mailtls never offers.
pub fn group_name(group: NamedGroup) -> &'static str {
    match group {
        NamedGroup::X25519 => "X25519",
        NamedGroup::secp256r1 => "P-256",
        NamedGroup::secp384r1 => "P-384",
        NamedGroup::secp521r1 => "P-521",
        NamedGroup::X448 => "X448",
        _ => "unknown",
    }
}

/// The protocol version as mail logs write it.
pub fn version_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ProtocolVersion::TLSv1_2 => "TLSv1.2",
        ProtocolVersion::TLSv1_1 => "TLSv1.1",
        ProtocolVersion::TLSv1_0 => "TLSv1",
        _ => "unknown",
    }
}

const SUITES: [(CipherSuite, &str, &str); 9] = [
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_iana_and_openssl() {
        let cases = [
            (
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_128_GCM_SHA256",
            ),
            (
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "ECDHE-RSA-AES256-GCM-SHA384",
            ),
            (
                CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256,
                "unknown",
                "unknown",
            ),
        ];
        for (suite, iana, openssl) in cases {
            assert_eq!(suite_name(suite), iana);
            assert_eq!(openssl_suite_name(suite), openssl);
        }
        assert_eq!(group_name(NamedGroup::secp384r1), "P-384");
        assert_eq!(group_name(NamedGroup::FFDHE2048), "unknown");
        assert_eq!(version_name(ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "TLSv1.2");
    }
}
