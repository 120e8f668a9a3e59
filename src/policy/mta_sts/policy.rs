//! The MTA-STS policy file (RFC 8461 §3.2) and MX matching (§4.1).

use core::fmt;
use core::time::Duration;

use crate::names::{Dialect, DnsName, NamePattern};
use crate::tlsrpt::{PolicyRef, PolicyType, ResultType};

/// The largest policy body accepted (RFC 8461 §3.3: senders may limit it to 64 KiB).
pub const MAX_POLICY_BYTES: usize = 65_536;

/// The largest `max_age` honoured, in seconds (RFC 8461 §3.2: about one year). Larger values
/// are clamped to it.
pub const MAX_AGE_CAP: u32 = 31_557_600;

/// The policy mode (RFC 8461 §5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StsMode {
    /// Deliver only to MX hosts that match a pattern and present a valid certificate.
    Enforce,
    /// No policy: the domain withdrew it.
    None,
    /// Report failures (TLS-RPT), but deliver anyway.
    Testing,
}

impl StsMode {
    /// The policy-file spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::None => "none",
            Self::Testing => "testing",
        }
    }
}

impl fmt::Display for StsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, valid MTA-STS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsPolicy {
    mode: StsMode,
    max_age: u32,
    mx: Vec<NamePattern>,
    lines: Vec<String>,
}

/// Why a policy file is invalid. Every variant is reported as `sts-policy-invalid`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StsPolicyError {
    /// A field appears on a line without `:`.
    #[error("line {line}: expected `key: value`")]
    MissingColon {
        /// 1-based line number.
        line: usize,
    },
    /// A required field is absent.
    #[error("the policy has no {field:?} field")]
    MissingField {
        /// `version`, `mode` or `max_age`.
        field: &'static str,
    },
    /// `mode` is `enforce` or `testing` but there is no `mx` line.
    #[error("mode {mode} needs at least one mx pattern")]
    NoMxPatterns {
        /// The mode.
        mode: StsMode,
    },
    /// The body is not UTF-8.
    #[error("the policy is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The body exceeds [`MAX_POLICY_BYTES`].
    #[error("the policy body of {presented} bytes exceeds the cap of {max}")]
    TooLarge {
        /// Bytes presented.
        presented: usize,
        /// The cap.
        max: usize,
    },
    /// A key breaks `1*32(ALPHA / DIGIT / "_" / "-" / ".")`.
    #[error("line {line}: invalid key {presented:?}")]
    InvalidKey {
        /// 1-based line number.
        line: usize,
        /// The key, cut to 40 characters.
        presented: String,
    },
    /// A known field has a value outside its grammar.
    #[error("line {line}: invalid {field} value {presented:?}: expected {expected}")]
    InvalidValue {
        /// 1-based line number.
        line: usize,
        /// The field.
        field: &'static str,
        /// The value, cut to 80 characters.
        presented: String,
        /// What the grammar allows.
        expected: String,
    },
}

impl StsPolicyError {
    /// The RFC 8460 result type: always `sts-policy-invalid`.
    pub const fn result_type(&self) -> ResultType {
        ResultType::StsPolicyInvalid
    }
}

/// An MX host that no pattern of an enforced (or tested) policy covers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("MX host {host} matches none of the MTA-STS mx patterns [{}]", patterns.join(", "))]
pub struct MxMismatch {
    /// The MX host.
    pub host: String,
    /// The policy's patterns, as displayed.
    pub patterns: Vec<String>,
}

impl MxMismatch {
    /// The RFC 8460 result type: `validation-failure` (RFC 8460 §4.3.4: the MX does not match
    /// the policy).
    pub const fn result_type(&self) -> ResultType {
        ResultType::ValidationFailure
    }
}

impl StsPolicy {
    /// Parses a policy body.
    ///
    /// - At most [`MAX_POLICY_BYTES`]; UTF-8; lines end in LF or CRLF; blank lines are
    ///   skipped (verify: RFC 8461's ABNF has no blank lines; skipping them is lenient and
    ///   cannot widen what the policy allows).
    /// - `key: value`, whitespace allowed after the colon and trimmed at the end of the value.
    /// - `version` must be `STSv1`; `mode` is `enforce`, `testing` or `none` (case-sensitive,
    ///   `%s` in the ABNF); `max_age` is 1 to 10 digits (erratum 7282 widened the ABNF from 9)
    ///   and clamped to [`MAX_AGE_CAP`]; each `mx` line adds a pattern read in the MTA-STS
    ///   dialect (`*.example.net` is exactly one extra label), A-labels or U-labels.
    /// - The first occurrence of `version`, `mode` and `max_age` wins; unknown keys are
    ///   ignored (verify: RFC 8461 §3.2 leaves duplicates open; first-wins follows the
    ///   deployed parsers).
    /// - `version`, `mode` and `max_age` are required; `enforce` and `testing` need an `mx`.
    pub fn parse(body: &[u8]) -> Result<Self, StsPolicyError> {
        if body.len() > MAX_POLICY_BYTES {
            return Err(StsPolicyError::TooLarge {
                presented: body.len(),
                max: MAX_POLICY_BYTES,
            });
        }
        let text = core::str::from_utf8(body).map_err(|e| StsPolicyError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        let mut lines = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.trim_matches([' ', '\t']).is_empty() {
                continue;
            }
            let (key, value) = raw
                .split_once(':')
                .ok_or(StsPolicyError::MissingColon { line })?;
            if !valid_key(key) {
                return Err(StsPolicyError::InvalidKey {
                    line,
                    presented: key.chars().take(40).collect(),
                });
            }
            let value = value.trim_matches([' ', '\t']);
            let invalid = |field, expected: &str| StsPolicyError::InvalidValue {
                line,
                field,
                presented: value.chars().take(80).collect(),
                expected: expected.to_owned(),
            };
            match key {
                "version" if version.is_none() => {
                    if value != "STSv1" {
                        return Err(invalid("version", "STSv1"));
                    }
                    version = Some(());
                }
                "mode" if mode.is_none() => {
                    mode = Some(match value {
                        "enforce" => StsMode::Enforce,
                        "testing" => StsMode::Testing,
                        "none" => StsMode::None,
                        _ => return Err(invalid("mode", "enforce, testing or none")),
                    });
                }
                "max_age" if max_age.is_none() => {
                    let digits = (1..=10).contains(&value.len())
                        && value.bytes().all(|b| b.is_ascii_digit());
                    let secs = value
                        .parse::<u64>()
                        .ok()
                        .filter(|_| digits)
                        .ok_or_else(|| invalid("max_age", "1 to 10 decimal digits"))?;
                    max_age = Some(
                        u32::try_from(secs.min(u64::from(MAX_AGE_CAP))).unwrap_or(MAX_AGE_CAP),
                    );
                }
                "mx" => {
                    let pattern = NamePattern::parse(value, Dialect::MtaStsMx)
                        .map_err(|e| invalid("mx", &format!("a host name or *.name ({e})")))?;
                    mx.push(pattern);
                }
                _ => {}
            }
            lines.push(raw.to_owned());
        }
        if version.is_none() {
            return Err(StsPolicyError::MissingField { field: "version" });
        }
        let mode = mode.ok_or(StsPolicyError::MissingField { field: "mode" })?;
        let max_age = max_age.ok_or(StsPolicyError::MissingField { field: "max_age" })?;
        if mode != StsMode::None && mx.is_empty() {
            return Err(StsPolicyError::NoMxPatterns { mode });
        }
        Ok(Self {
            mode,
            max_age,
            mx,
            lines,
        })
    }

    /// The mode.
    pub const fn mode(&self) -> StsMode {
        self.mode
    }

    /// How long the policy may be cached, already clamped to [`MAX_AGE_CAP`].
    pub const fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age as u64)
    }

    /// The `mx` patterns, in policy order.
    pub fn mx_patterns(&self) -> &[NamePattern] {
        &self.mx
    }

    /// The policy's non-blank lines as fetched: the RFC 8460 `policy-string`.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Whether `host` is covered by an `mx` pattern (RFC 8461 §4.1), in the MTA-STS dialect:
    /// `*.example.net` covers `mx.example.net`, not `example.net` nor `a.b.example.net`.
    pub fn mx_matches(&self, host: &DnsName) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }

    /// Checks an MX host against the patterns; a host name that does not even parse matches
    /// nothing.
    pub fn check_mx(&self, host: &str) -> Result<(), MxMismatch> {
        match DnsName::parse(host) {
            Ok(name) if self.mx_matches(&name) => Ok(()),
            _ => Err(MxMismatch {
                host: host.to_owned(),
                patterns: self.mx.iter().map(ToString::to_string).collect(),
            }),
        }
    }

    /// The policy as a TLS-RPT report names it.
    pub fn policy_ref(&self, policy_domain: &DnsName) -> PolicyRef {
        PolicyRef {
            policy_type: PolicyType::Sts,
            policy_string: self.lines.clone(),
            policy_domain: policy_domain.as_str().to_owned(),
            mx_host: self.mx.iter().map(ToString::to_string).collect(),
        }
    }
}

fn valid_key(key: &str) -> bool {
    (1..=32).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_EXAMPLE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\n\
                               mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    #[test]
    fn the_rfc_example_parses_and_matches() {
        let p = StsPolicy::parse(RFC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(p.mode(), StsMode::Enforce);
        assert_eq!(p.max_age(), Duration::from_secs(604_800));
        assert_eq!(p.mx_patterns().len(), 3);
        assert_eq!(p.lines().len(), 6);
        for (host, ok) in [
            ("mail.example.com", true),
            ("MAIL.example.com.", true),
            ("mx1.example.net", true),
            ("example.net", false),
            ("a.b.example.net", false),
            ("backupmx.example.com", true),
            ("evil.example.com", false),
        ] {
            assert_eq!(p.check_mx(host).is_ok(), ok, "{host}");
        }
        let err = p.check_mx("evil.example.com").unwrap_err();
        assert_eq!(err.result_type(), ResultType::ValidationFailure);
        assert_eq!(
            err.patterns,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        assert!(p.mx_matches(&name("mx.example.net")));
    }

    #[test]
    fn line_endings_duplicates_unknown_keys_and_cap() {
        let crlf = RFC_EXAMPLE.replace('\n', "\r\n");
        assert_eq!(
            StsPolicy::parse(crlf.as_bytes()).unwrap().mode(),
            StsMode::Enforce
        );
        let text = "version: STSv1\r\nmode: testing\nmode: enforce\nmx: a.example\n\
                    max_age: 99999999999\nmax_age: 5\nfuture_key: whatever: value\n";
        let p = StsPolicy::parse(text.as_bytes());
        // 11 digits is out of grammar.
        assert!(matches!(
            p,
            Err(StsPolicyError::InvalidValue {
                field: "max_age",
                line: 5,
                ..
            })
        ));
        let text = "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\n\
                    max_age: 9999999999\nmax_age: 5\nfuture_key: whatever: value\n";
        let p = StsPolicy::parse(text.as_bytes()).unwrap();
        assert_eq!(p.mode(), StsMode::Testing, "first mode wins");
        assert_eq!(
            p.max_age(),
            Duration::from_secs(u64::from(MAX_AGE_CAP)),
            "first max_age wins, clamped"
        );
        let none = StsPolicy::parse(b"version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        assert_eq!(none.mode(), StsMode::None);
        assert!(none.mx_patterns().is_empty());
    }

    #[test]
    fn invalid_policies() {
        let cases: &[(&str, StsPolicyError)] = &[
            (
                "mode: enforce\nmx: a.example\nmax_age: 1\n",
                StsPolicyError::MissingField { field: "version" },
            ),
            (
                "version: STSv1\nmx: a.example\nmax_age: 1\n",
                StsPolicyError::MissingField { field: "mode" },
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\n",
                StsPolicyError::MissingField { field: "max_age" },
            ),
            (
                "version: STSv1\nmode: testing\nmax_age: 1\n",
                StsPolicyError::NoMxPatterns {
                    mode: StsMode::Testing,
                },
            ),
            (
                "version: STSv1\nmode enforce\n",
                StsPolicyError::MissingColon { line: 2 },
            ),
            (
                "version: STSv1\nmo de: enforce\n",
                StsPolicyError::InvalidKey {
                    line: 2,
                    presented: "mo de".into(),
                },
            ),
            (
                "version: STSv2\n",
                StsPolicyError::InvalidValue {
                    line: 1,
                    field: "version",
                    presented: "STSv2".into(),
                    expected: "STSv1".into(),
                },
            ),
            (
                "version: STSv1\nmode: Enforce\n",
                StsPolicyError::InvalidValue {
                    line: 2,
                    field: "mode",
                    presented: "Enforce".into(),
                    expected: "enforce, testing or none".into(),
                },
            ),
            (
                "version: STSv1\nmode: enforce\nmax_age: -1\n",
                StsPolicyError::InvalidValue {
                    line: 3,
                    field: "max_age",
                    presented: "-1".into(),
                    expected: "1 to 10 decimal digits".into(),
                },
            ),
        ];
        for (text, err) in cases {
            assert_eq!(
                StsPolicy::parse(text.as_bytes()).as_ref(),
                Err(err),
                "{text}"
            );
            assert_eq!(err.result_type(), ResultType::StsPolicyInvalid);
        }
        for bad_mx in [
            "mx*.example.net",
            "*.*.example.net",
            "a.*.example.net",
            ".example.net",
            "exa mple.net",
        ] {
            let text = format!("version: STSv1\nmode: enforce\nmx: {bad_mx}\nmax_age: 1\n");
            assert!(
                matches!(
                    StsPolicy::parse(text.as_bytes()),
                    Err(StsPolicyError::InvalidValue {
                        field: "mx",
                        line: 3,
                        ..
                    })
                ),
                "{bad_mx}"
            );
        }
        assert_eq!(
            StsPolicy::parse(b"version: STSv1\nmode: \xff\n"),
            Err(StsPolicyError::NotUtf8 { offset: 21 })
        );
        let mut big = RFC_EXAMPLE.as_bytes().to_vec();
        big.resize(MAX_POLICY_BYTES + 1, b'\n');
        assert_eq!(
            StsPolicy::parse(&big),
            Err(StsPolicyError::TooLarge {
                presented: MAX_POLICY_BYTES + 1,
                max: MAX_POLICY_BYTES
            })
        );
        big.truncate(MAX_POLICY_BYTES);
        assert!(
            StsPolicy::parse(&big).is_ok(),
            "exactly the cap is accepted"
        );
    }
}
