//! Postfix `protocols=`, `ciphers=` and `exclude=` against what mailtls can do: TLS 1.2 and
//! 1.3 with forward-secret AEAD suites. What cannot be honoured becomes a warning.

use super::super::protocol::{SuiteSet, TlsVersion, VersionSet};

/// Every protocol name Postfix (OpenSSL) knows, with its wire version, oldest first.
const PROTOCOLS: [(&str, u16); 6] = [
    ("SSLv2", 0x0002),
    ("SSLv3", 0x0300),
    ("TLSv1", 0x0301),
    ("TLSv1.1", 0x0302),
    ("TLSv1.2", 0x0303),
    ("TLSv1.3", 0x0304),
];

/// The outcome of `protocols=`: the versions mailtls will use, and a warning if the value
/// asked for something else.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Protocols {
    pub(super) versions: VersionSet,
    pub(super) warning: Option<String>,
}

/// Parses a `protocols=` value: `:`-separated `>=V`, `<=V`, `!V` and bare `V`, where `V` is a
/// protocol name or a hex wire version (`0x0303`). Errors name the offending token.
pub(super) fn parse_protocols(value: &str) -> Result<Protocols, String> {
    let mut min = 0u16;
    let mut max = u16::MAX;
    let mut included: Vec<u16> = Vec::new();
    let mut excluded: Vec<u16> = Vec::new();
    for token in value.split(':').map(str::trim).filter(|t| !t.is_empty()) {
        if let Some(v) = token.strip_prefix(">=") {
            min = min.max(version(v)?);
        } else if let Some(v) = token.strip_prefix("<=") {
            max = max.min(version(v)?);
        } else if let Some(v) = token.strip_prefix('!') {
            excluded.push(version(v)?);
        } else {
            included.push(version(token)?);
        }
    }
    let allowed = |wire: u16| {
        wire >= min
            && wire <= max
            && !excluded.contains(&wire)
            && (included.is_empty() || included.contains(&wire))
    };
    let legacy: Vec<&str> = PROTOCOLS
        .iter()
        .filter(|(_, wire)| *wire < 0x0303 && allowed(*wire))
        .map(|(name, _)| *name)
        .collect();
    let mut versions = VersionSet::EMPTY;
    if allowed(0x0303) {
        versions = versions.with(TlsVersion::Tls12);
    }
    if allowed(0x0304) {
        versions = versions.with(TlsVersion::Tls13);
    }
    let mut warning = None;
    if !legacy.is_empty() {
        warning = Some(format!(
            "protocols={value} allows {}: mailtls never goes below TLS 1.2",
            legacy.join(", ")
        ));
    }
    if versions.is_empty() {
        versions = VersionSet::ALL;
        warning = Some(format!(
            "protocols={value} leaves neither TLSv1.2 nor TLSv1.3: mailtls never goes below TLS 1.2, so it uses TLSv1.2 and TLSv1.3"
        ));
    }
    Ok(Protocols { versions, warning })
}

fn version(text: &str) -> Result<u16, String> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16)
            .map_err(|_| format!("{text:?} is not a hex protocol version"));
    }
    PROTOCOLS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, wire)| *wire)
        .ok_or_else(|| format!("unknown protocol {text:?} (expected SSLv2 .. TLSv1.3 or 0x0303)"))
}

/// Checks a `ciphers=` grade. Grades below `medium` cannot be honoured: mailtls offers only
/// forward-secret AEAD suites, which satisfy every grade.
pub(super) fn parse_ciphers(value: &str) -> Result<Option<String>, String> {
    match value.to_ascii_lowercase().as_str() {
        "high" | "medium" => Ok(None),
        "low" | "export" | "null" => Ok(Some(format!(
            "ciphers={value}: mailtls offers only forward-secret AEAD suites and never weaker ones"
        ))),
        _ => Err(format!(
            "unknown cipher grade {value:?} (expected export, low, medium, high or null)"
        )),
    }
}

/// Applies an `exclude=` list (OpenSSL names and aliases, `:`-separated) to the TLS 1.2
/// suites, as OpenSSL does (TLS 1.3 suites are not affected by a cipher list). Names that only
/// exclude what mailtls never offers are accepted silently; names it does not understand are
/// reported.
pub(super) fn apply_exclude(suites: SuiteSet, value: &str) -> (SuiteSet, Vec<String>) {
    let mut suites = suites;
    let mut warnings = Vec::new();
    for token in value
        .split([':', ' ', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let tls12 = |s: super::super::protocol::CipherSuite| s.version() == TlsVersion::Tls12;
        let drop: Option<fn(super::super::protocol::CipherSuite) -> bool> =
            match token.to_ascii_uppercase().as_str() {
                "CHACHA20" | "CHACHA20-POLY1305" | "CHACHA20POLY1305" => Some(|s| s.is_chacha20()),
                "AES256" | "AESGCM256" => Some(|s| s.is_aes256()),
                "AES128" | "AESGCM128" => Some(|s| s.is_aes128()),
                "AES" | "AESGCM" => Some(|s| s.is_aes128() || s.is_aes256()),
                "ECDSA" | "AECDSA" => Some(|s| s.is_ecdsa()),
                "RSA" | "ARSA" => Some(|s| s.is_rsa()),
                "ECDHE" | "EECDH" | "KECDHE" | "AESGCM+ECDHE" => Some(|_| true),
                _ => None,
            };
        match drop {
            Some(drop) => suites = suites.retain(|s| !(tls12(s) && drop(s))),
            None if NEVER_OFFERED.contains(&token.to_ascii_uppercase().as_str()) => {}
            None => warnings.push(format!(
                "exclude={token}: not a cipher name mailtls understands; ignored"
            )),
        }
    }
    if suites.for_version(TlsVersion::Tls12).is_empty() {
        warnings.push(format!(
            "exclude={value} removes every TLS 1.2 suite: only TLS 1.3 is left"
        ));
    }
    (suites, warnings)
}

/// OpenSSL names for things mailtls never offers: excluding them changes nothing.
const NEVER_OFFERED: &[&str] = &[
    "ANULL", "ENULL", "NULL", "EXPORT", "EXP", "LOW", "MD5", "RC4", "3DES", "DES", "IDEA", "SEED",
    "CAMELLIA", "ARIA", "SHA1", "SHA", "KRSA", "KDHE", "DHE", "EDH", "ADH", "AECDH", "ADSS", "DSS",
    "PSK", "SRP", "KPSK", "KSRP", "CBC", "AESCCM", "AESCCM8", "RC2", "GOST",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_vectors() {
        let both = VersionSet::ALL;
        let only12 = VersionSet::only(TlsVersion::Tls12);
        let only13 = VersionSet::only(TlsVersion::Tls13);
        // (value, versions, warns)
        let table: [(&str, VersionSet, bool); 10] = [
            (">=TLSv1.2", both, false),
            (">=TLSv1.3", only13, false),
            ("<=TLSv1.2", only12, true),
            (">=TLSv1.2:<=TLSv1.2", only12, false),
            ("!SSLv2:!SSLv3", both, true),
            ("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", both, false),
            ("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.3", only12, false),
            ("TLSv1.2", only12, false),
            (">=0x0303", both, false),
            ("TLSv1:TLSv1.1", both, true),
        ];
        for (value, versions, warns) in table {
            let got = parse_protocols(value).unwrap();
            assert_eq!(got.versions, versions, "{value}");
            assert_eq!(got.warning.is_some(), warns, "{value}: {:?}", got.warning);
        }
        assert!(parse_protocols(">=TLSv1")
            .unwrap()
            .warning
            .unwrap()
            .contains("never goes below TLS 1.2"));
        assert!(parse_protocols(">=TLSv9").is_err());
        assert!(parse_protocols("0xzz").is_err());
    }

    #[test]
    fn ciphers_and_exclude() {
        assert_eq!(parse_ciphers("high"), Ok(None));
        assert_eq!(parse_ciphers("MEDIUM"), Ok(None));
        assert!(parse_ciphers("low").unwrap().is_some());
        assert!(parse_ciphers("strong").is_err());

        let (suites, warnings) = apply_exclude(SuiteSet::ALL, "aNULL:MD5:RC4:3DES");
        assert_eq!(suites, SuiteSet::ALL);
        assert!(warnings.is_empty());
        let (suites, warnings) = apply_exclude(SuiteSet::ALL, "CHACHA20");
        assert!(warnings.is_empty());
        assert_eq!(suites.iter().filter(|s| s.is_chacha20()).count(), 1);
        let (suites, warnings) = apply_exclude(SuiteSet::ALL, "ECDHE");
        assert!(suites.for_version(TlsVersion::Tls12).is_empty());
        assert_eq!(warnings.len(), 1);
        let (_, warnings) = apply_exclude(SuiteSet::ALL, "FOO");
        assert_eq!(warnings.len(), 1);
    }
}
