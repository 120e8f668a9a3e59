//! Distinguished names compared as names, not as strings, and Exchange's certificate-name form.

use core::fmt;

/// A distinguished name read from its string form (RFC 4514, or the `, `-separated form
/// Exchange and Windows print), for comparison.
///
/// Attribute types compare case-insensitively with long names folded to the short ones
/// (`commonName` = `CN`); values compare case-insensitively after unescaping and trimming;
/// the attributes of a multi-valued RDN compare in any order. Two names are equal when their
/// RDN sequences are equal in the same order or in reverse order, since tools print both
/// (RFC 4514 puts the most specific RDN first, OpenSSL's old one-line form last).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DistinguishedName {
    text: String,
    rdns: Vec<Vec<(String, String)>>,
}

/// Exchange's `<I>issuer<S>subject` certificate name (`TlsCertificateName`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExchangeCertName {
    /// The issuer DN.
    pub issuer: DistinguishedName,
    /// The subject DN.
    pub subject: DistinguishedName,
}

/// A DN or Exchange certificate name could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// An RDN has no `=`, or an empty type.
    #[error("{input:?}: attribute {attribute:?} is not of the form type=value")]
    Attribute {
        /// The whole input.
        input: String,
        /// The offending attribute text.
        attribute: String,
    },
    /// The input ends inside an escape.
    #[error("{input:?} ends with a lone backslash")]
    Escape {
        /// The whole input.
        input: String,
    },
    /// The Exchange form does not start with `<I>` or has no `<S>`.
    #[error("{input:?} is not of the form <I>issuer<S>subject")]
    ExchangeForm {
        /// The whole input.
        input: String,
    },
}

const LONG_NAMES: [(&str, &str); 9] = [
    ("COMMONNAME", "CN"),
    ("ORGANIZATIONNAME", "O"),
    ("ORGANIZATIONALUNITNAME", "OU"),
    ("COUNTRYNAME", "C"),
    ("LOCALITYNAME", "L"),
    ("STATEORPROVINCENAME", "ST"),
    ("STREETADDRESS", "STREET"),
    ("DOMAINCOMPONENT", "DC"),
    ("USERID", "UID"),
];

const OID_NAMES: [(&str, &str); 6] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
];

impl DistinguishedName {
    /// Reads a DN string. The empty string is the empty DN.
    pub fn parse(input: &str) -> Result<Self, DnError> {
        let mut rdns = Vec::new();
        for rdn_text in split_unescaped(input, &[',', ';'], input)? {
            if rdn_text.trim().is_empty() && input.trim().is_empty() {
                continue;
            }
            let mut rdn = Vec::new();
            for atv in split_unescaped(&rdn_text, &['+'], input)? {
                let (key, value) = atv.split_once('=').ok_or_else(|| DnError::Attribute {
                    input: input.to_owned(),
                    attribute: atv.clone(),
                })?;
                let key = normalise_key(key.trim());
                if key.is_empty() {
                    return Err(DnError::Attribute {
                        input: input.to_owned(),
                        attribute: atv.clone(),
                    });
                }
                rdn.push((key, unescape(value.trim()).to_lowercase()));
            }
            rdn.sort();
            rdns.push(rdn);
        }
        Ok(Self {
            text: input.to_owned(),
            rdns,
        })
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether both name the same entity (same RDNs, same or reversed order).
    pub fn same_as(&self, other: &Self) -> bool {
        self.rdns == other.rdns || self.rdns.iter().eq(other.rdns.iter().rev())
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DistinguishedName({:?})", self.text)
    }
}

impl ExchangeCertName {
    /// Reads `<I>issuer<S>subject`.
    pub fn parse(input: &str) -> Result<Self, DnError> {
        let form = || DnError::ExchangeForm {
            input: input.to_owned(),
        };
        let rest = input.trim().strip_prefix("<I>").ok_or_else(form)?;
        let (issuer, subject) = rest.split_once("<S>").ok_or_else(form)?;
        Ok(Self {
            issuer: DistinguishedName::parse(issuer)?,
            subject: DistinguishedName::parse(subject)?,
        })
    }
}

impl fmt::Display for ExchangeCertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<I>{}<S>{}", self.issuer, self.subject)
    }
}

fn normalise_key(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    let upper = upper
        .strip_prefix("OID.")
        .map_or(upper.clone(), str::to_owned);
    LONG_NAMES
        .iter()
        .chain(OID_NAMES.iter())
        .find(|(long, _)| *long == upper)
        .map_or(upper, |(_, short)| (*short).to_owned())
}

/// Splits on any of `separators` not preceded by a backslash; keeps escapes in the parts.
fn split_unescaped(text: &str, separators: &[char], input: &str) -> Result<Vec<String>, DnError> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            let next = chars.next().ok_or_else(|| DnError::Escape {
                input: input.to_owned(),
            })?;
            current.push(ch);
            current.push(next);
        } else if separators.contains(&ch) {
            parts.push(core::mem::take(&mut current));
        } else {
            current.push(ch);
        }
    }
    parts.push(current);
    Ok(parts)
}

/// Removes RFC 4514 escapes (`\,` and `\2C` both give `,`).
fn unescape(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    let bytes = value.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| core::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
            if let Some(&next) = bytes.get(i + 1) {
                out.push(next);
            }
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> DistinguishedName {
        DistinguishedName::parse(s).unwrap()
    }

    #[test]
    fn equal_names() {
        let cases = [
            (
                "CN=mx.example.net,O=Example",
                "cn=MX.example.net, o=example",
                true,
            ),
            (
                "CN=mx.example.net,O=Example",
                "O=Example,CN=mx.example.net",
                true,
            ),
            ("commonName=a,O=b", "CN=a,O=b", true),
            ("2.5.4.3=a", "CN=a", true),
            ("CN=a\\,b", "CN=a\\2Cb", true),
            ("CN=a+OU=x,O=b", "OU=x+CN=a,O=b", true),
            ("CN=a,O=b", "CN=a,O=c", false),
            ("CN=a,O=b", "CN=a", false),
            ("CN=a,O=b,C=US", "O=b,CN=a,C=US", false),
        ];
        for (left, right, want) in cases {
            assert_eq!(dn(left).same_as(&dn(right)), want, "{left} vs {right}");
        }
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            DistinguishedName::parse("CN=a,garbage"),
            Err(DnError::Attribute { .. })
        ));
        assert!(matches!(
            DistinguishedName::parse("CN=a\\"),
            Err(DnError::Escape { .. })
        ));
        assert!(matches!(
            ExchangeCertName::parse("CN=a"),
            Err(DnError::ExchangeForm { .. })
        ));
    }

    #[test]
    fn exchange_form() {
        let name = ExchangeCertName::parse("<I>CN=Fabrikam CA, O=Fabrikam<S>CN=mail.fabrikam.com")
            .unwrap();
        assert!(name.issuer.same_as(&dn("CN=Fabrikam CA,O=Fabrikam")));
        assert!(name.subject.same_as(&dn("CN=mail.fabrikam.com")));
        assert_eq!(
            name.to_string(),
            "<I>CN=Fabrikam CA, O=Fabrikam<S>CN=mail.fabrikam.com"
        );
    }
}
