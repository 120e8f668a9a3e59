//! Postfix `smtp_tls_policy_maps` import: parse the table text, look a next hop up.
//!
//! Each entry is `key level attr=value ...`. The key is the next hop exactly as Postfix
//! writes it (`example.com`, `[mx.example.com]`, `[mx.example.com]:587`, `example.com:2525`)
//! or `.example.com` for the subdomains of a bare domain. Lookup follows Postfix: one lookup
//! with the verbatim next hop; a bare domain (no brackets, no port) then tries `.parent` keys
//! from the nearest parent up. Keys and names are normalised (lower case, A-labels, no
//! trailing dot), so lookup is a `HashMap` probe per key tried.
//!
//! Attributes: `match=` (`:`-separated names or the strategies `hostname`, `nexthop`,
//! `dot-nexthop`; `|`-separated digests at `fingerprint`), `protocols=`, `ciphers=`,
//! `exclude=`, `tafile=` (paths for the caller to load; repeatable), `servername=`,
//! `connection_reuse=`. Anything mailtls cannot honour as written is a [`TableWarning`], never
//! dropped silently; anything that is not Postfix syntax is a [`TableError`] with its line and
//! column.

mod lexer;
pub mod lookup;
mod protocols;
mod render;

use core::fmt;
use std::path::PathBuf;

use super::destination::{Destination, NameSource, SniStrategy};
use super::fast_hash::FastMap;
use super::protocol::ProtocolPolicy;
use super::requirement::{AnchorSource, Level};
use crate::cert::{Pin, PinError};
use crate::names::{Dialect, NamePattern};
use lexer::Token;
pub use lexer::MAX_LOGICAL_LINE;
pub use render::{PolicyAnswer, PolicyValue, RenderOptions};

/// A parsed `smtp_tls_policy_maps` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyTable {
    entries: FastMap<Box<str>, PolicyEntry>,
    warnings: Vec<TableWarning>,
}

/// One table entry, with its attributes resolved into mailtls terms.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEntry {
    /// The normalised key.
    pub key: String,
    /// The line the entry starts on (1-based).
    pub line: u32,
    /// The security level.
    pub level: Level,
    /// `match=` names and strategies (`verify`, `secure`); empty means the level's default
    /// (`hostname` for verify, `nexthop, dot-nexthop` for secure).
    pub names: Vec<NameSource>,
    /// `match=` digests (`fingerprint`).
    pub pins: Vec<Pin>,
    /// `tafile=` paths, or the public roots.
    pub trust: AnchorSource,
    /// What `protocols=` and `exclude=` leave (never below TLS 1.2).
    pub protocols: ProtocolPolicy,
    /// `servername=`, when given.
    pub servername: Option<SniStrategy>,
    /// `connection_reuse=yes`.
    pub connection_reuse: bool,
    /// What in this entry mailtls cannot honour as written.
    pub warnings: Vec<TableWarning>,
}

/// Something in the table mailtls cannot honour as written, and what it does instead.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableWarning {
    /// The line (1-based).
    pub line: u32,
    /// The column (1-based, in bytes).
    pub column: u32,
    /// What is not honoured, and what mailtls does instead.
    pub message: String,
}

impl fmt::Display for TableWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A table text that is not valid Postfix policy-map syntax.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy table line {line}, column {column}: {kind}")]
pub struct TableError {
    /// The line (1-based).
    pub line: u32,
    /// The column (1-based, in bytes).
    pub column: u32,
    /// What is wrong.
    pub kind: TableErrorKind,
}

/// What is wrong in a [`TableError`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableErrorKind {
    /// An attribute value is not valid.
    #[error("{attribute}={value}: {reason}")]
    BadValue {
        /// The attribute name.
        attribute: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not a next hop or `.domain`.
    #[error("bad key {key:?}: {reason}")]
    BadKey {
        /// The key as written.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A logical line is longer than [`MAX_LOGICAL_LINE`].
    #[error("logical line longer than {max} bytes")]
    LineTooLong {
        /// The cap.
        max: usize,
    },
    /// A single-valued attribute given twice in one entry: Postfix refuses such an entry, and
    /// keeping either value silently could drop a requirement (a `protocols=` that asked for
    /// TLS 1.3 only).
    #[error("{name}= is given twice in one entry (first at column {first_column}); give it once")]
    DuplicateAttribute {
        /// The attribute name.
        name: String,
        /// Where the first one is (1-based, in bytes).
        first_column: u32,
    },
    /// A `fingerprint` `match=` digest whose length is neither SHA-256's nor SHA-512's (the
    /// error points at the digest itself). A SHA-1 or MD5 fingerprint is refused rather than
    /// ignored, so the entry never silently fails to match.
    #[error(
        "match={digest}: a {len}-byte digest; a fingerprint is 32 bytes (SHA-256) or 64 bytes (SHA-512)"
    )]
    DigestLength {
        /// The digest as written.
        digest: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A `fingerprint` entry without any `match=` digest.
    #[error("level fingerprint needs at least one match= digest")]
    MissingFingerprint,
    /// A key without a level.
    #[error("entry {key:?} has no security level")]
    MissingLevel {
        /// The key.
        key: String,
    },
    /// A token after the level that is not `name=value`.
    #[error("{token:?} is not an attribute (expected name=value)")]
    NotAnAttribute {
        /// The token.
        token: String,
    },
    /// A line starting with whitespace before any entry.
    #[error("a continuation line (starting with whitespace) has no entry to continue")]
    OrphanContinuation,
    /// An attribute Postfix does not define.
    #[error("unknown attribute {name:?}")]
    UnknownAttribute {
        /// The name.
        name: String,
    },
    /// A level Postfix does not define.
    #[error("unknown security level {level:?} (expected none, may, encrypt, dane, dane-only, fingerprint, verify or secure)")]
    UnknownLevel {
        /// The level as written.
        level: String,
    },
    /// A `{` without its `}` on the same line.
    #[error("unterminated `{{`")]
    UnterminatedBrace,
}

/// The outcome of a lookup: the entry and the key that found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableHit<'a> {
    /// The key that matched (the next hop, or a `.parent` domain).
    pub key: &'a str,
    /// The entry.
    pub entry: &'a PolicyEntry,
}

impl PolicyTable {
    /// Parses a table text. The first syntax error stops the parse; warnings are collected
    /// (duplicate keys: the first entry wins, as with `postmap`).
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut table = Self::default();
        lexer::for_each_logical_line(text, |tokens| {
            let entry = parse_entry(tokens)?;
            let Some(first) = tokens.first() else {
                return Ok(());
            };
            table.warnings.extend(entry.warnings.iter().cloned());
            if table.entries.contains_key(entry.key.as_str()) {
                table.warnings.push(TableWarning {
                    line: first.line,
                    column: first.column,
                    message: format!(
                        "duplicate key {:?}: the first entry wins, this one is ignored",
                        entry.key
                    ),
                });
                return Ok(());
            }
            table
                .entries
                .insert(entry.key.clone().into_boxed_str(), entry);
            Ok(())
        })?;
        Ok(table)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every warning of the table, in line order.
    pub fn warnings(&self) -> &[TableWarning] {
        &self.warnings
    }

    /// The entry under a normalised key.
    pub fn get(&self, key: &str) -> Option<&PolicyEntry> {
        self.entries.get(key)
    }

    /// The keys Postfix tries for `destination`, in order: the verbatim next hop, then, for a
    /// bare domain, `.parent` for each parent from the nearest up.
    pub fn lookup_keys(destination: &Destination) -> impl Iterator<Item = &str> {
        let key = destination.lookup_key();
        let recurse = !destination.is_literal() && !destination.has_explicit_port();
        let parents = key
            .char_indices()
            .filter(move |(_, c)| recurse && *c == '.')
            .filter_map(move |(i, _)| key.get(i..));
        core::iter::once(key).chain(parents)
    }

    /// Looks `destination` up the way Postfix does (see [`PolicyTable::lookup_keys`]).
    pub fn lookup<'a>(&'a self, destination: &'a Destination) -> Option<TableHit<'a>> {
        Self::lookup_keys(destination).find_map(|key| {
            self.entries
                .get_key_value(key)
                .map(|(key, entry)| TableHit { key, entry })
        })
    }
}

fn parse_entry(tokens: &[Token<'_>]) -> Result<PolicyEntry, TableError> {
    let (key_token, rest) = tokens.split_first().ok_or(TableError {
        line: 0,
        column: 0,
        kind: TableErrorKind::OrphanContinuation,
    })?;
    let at = |token: &Token<'_>, kind| TableError {
        line: token.line,
        column: token.column,
        kind,
    };
    let key = normalise_key(key_token.text).map_err(|reason| {
        at(
            key_token,
            TableErrorKind::BadKey {
                key: key_token.text.to_owned(),
                reason,
            },
        )
    })?;
    let (level_token, attributes) = rest.split_first().ok_or_else(|| {
        at(
            key_token,
            TableErrorKind::MissingLevel {
                key: key_token.text.to_owned(),
            },
        )
    })?;
    let level = Level::parse(level_token.text).ok_or_else(|| {
        at(
            level_token,
            TableErrorKind::UnknownLevel {
                level: level_token.text.to_owned(),
            },
        )
    })?;
    let mut entry = PolicyEntry {
        key,
        line: key_token.line,
        level,
        names: Vec::new(),
        pins: Vec::new(),
        trust: AnchorSource::Public,
        protocols: ProtocolPolicy::MODERN,
        servername: None,
        connection_reuse: false,
        warnings: Vec::new(),
    };
    let mut tafiles: Vec<PathBuf> = Vec::new();
    // Single-valued attributes seen so far, with their column (`match=` and `tafile=` repeat).
    let mut seen: Vec<(String, u32)> = Vec::new();
    for token in attributes {
        let (name, value) = split_attribute(token).ok_or_else(|| {
            at(
                token,
                TableErrorKind::NotAnAttribute {
                    token: token.text.to_owned(),
                },
            )
        })?;
        let lower = name.to_ascii_lowercase();
        // Repeatable: `match=`, `tafile=`, and Postfix 3.10's TLSRPT `mx_host_pattern=` and
        // `policy_string=` (one per pattern or policy line).
        if !matches!(
            lower.as_str(),
            "match" | "tafile" | "mx_host_pattern" | "policy_string"
        ) {
            if let Some((_, first_column)) = seen.iter().find(|(n, _)| *n == lower) {
                return Err(at(
                    token,
                    TableErrorKind::DuplicateAttribute {
                        name: name.to_owned(),
                        first_column: *first_column,
                    },
                ));
            }
            seen.push((lower, token.column));
        }
        let bad = |reason: String| {
            at(
                token,
                TableErrorKind::BadValue {
                    attribute: name.to_owned(),
                    value: value.to_owned(),
                    reason,
                },
            )
        };
        let mut warn = |message: String| {
            entry.warnings.push(TableWarning {
                line: token.line,
                column: token.column,
                message,
            });
        };
        match name.to_ascii_lowercase().as_str() {
            "match" => match level {
                Level::Fingerprint => {
                    // Errors point at the digest; in a `{ ... }` token, at the brace.
                    let mut offset = token.text.len().saturating_sub(value.len());
                    for item in value.split('|') {
                        let digest = item.trim();
                        let column = if token.braced {
                            0
                        } else {
                            offset + (item.len() - item.trim_start().len())
                        };
                        offset += item.len() + 1;
                        match Pin::postfix(digest) {
                            Ok(pin) => entry.pins.push(pin),
                            Err(PinError::Length { len, .. }) => {
                                return Err(TableError {
                                    line: token.line,
                                    column: token
                                        .column
                                        .saturating_add(u32::try_from(column).unwrap_or(u32::MAX)),
                                    kind: TableErrorKind::DigestLength {
                                        digest: digest.to_owned(),
                                        len,
                                    },
                                })
                            }
                            Err(_) => {
                                return Err(bad(format!(
                                    "{digest:?} is not a SHA-256 or SHA-512 digest in hex"
                                )))
                            }
                        }
                    }
                }
                Level::Verify | Level::Secure => {
                    for item in value.split(':').map(str::trim).filter(|i| !i.is_empty()) {
                        entry.names.push(parse_name_source(item).map_err(&bad)?);
                    }
                }
                _ => warn(format!(
                    "match={value} has no meaning at level {level}; ignored"
                )),
            },
            "protocols" => {
                let parsed = protocols::parse_protocols(value).map_err(&bad)?;
                entry.protocols.versions = parsed.versions;
                if let Some(message) = parsed.warning {
                    warn(message);
                }
            }
            "ciphers" => {
                if let Some(message) = protocols::parse_ciphers(value).map_err(&bad)? {
                    warn(message);
                }
            }
            "exclude" => {
                let (suites, warnings) = protocols::apply_exclude(entry.protocols.suites, value);
                entry.protocols.suites = suites;
                for message in warnings {
                    warn(message);
                }
            }
            "tafile" => match level {
                Level::Verify | Level::Secure => tafiles.extend(
                    value
                        .split(':')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from),
                ),
                _ => warn(format!(
                    "tafile={value} has no meaning at level {level}; ignored"
                )),
            },
            "servername" => {
                entry.servername = Some(match value.to_ascii_lowercase().as_str() {
                    "hostname" => SniStrategy::Hostname,
                    "nexthop" => SniStrategy::NextHop,
                    _ => SniStrategy::Literal(
                        super::name_ref::domain(value).map_err(|e| bad(e.to_string()))?,
                    ),
                });
            }
            "connection_reuse" => {
                entry.connection_reuse = parse_bool(value).ok_or_else(|| {
                    bad("expected yes or no".to_owned())
                })?;
            }
            "enable_rpk" => warn(format!(
                "enable_rpk={value}: mailtls does not use raw public keys (RFC 7250); ignored"
            )),
            "policy_type" | "policy_domain" | "policy_string" | "mx_host_pattern"
            | "policy_failure" => warn(format!(
                "{name}: an MTA-STS socketmap attribute for TLS-RPT; mailtls evaluates MTA-STS itself (policy::mta_sts) and ignores it"
            )),
            _ => {
                return Err(at(
                    token,
                    TableErrorKind::UnknownAttribute {
                        name: name.to_owned(),
                    },
                ))
            }
        }
    }
    if level == Level::Fingerprint && entry.pins.is_empty() {
        return Err(at(level_token, TableErrorKind::MissingFingerprint));
    }
    if !tafiles.is_empty() {
        entry.trust = AnchorSource::Files(tafiles);
    }
    Ok(entry)
}

fn split_attribute<'a>(token: &Token<'a>) -> Option<(&'a str, &'a str)> {
    let (name, value) = token.text.split_once('=')?;
    let (name, value) = if token.braced {
        (name.trim(), value.trim())
    } else {
        (name, value)
    };
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some((name, value))
}

fn parse_name_source(item: &str) -> Result<NameSource, String> {
    match item.to_ascii_lowercase().as_str() {
        "hostname" => Ok(NameSource::Hostname),
        "nexthop" => Ok(NameSource::NextHop),
        "dot-nexthop" => Ok(NameSource::DotNextHop),
        _ => NamePattern::parse(item, Dialect::PostfixMatch)
            .map(NameSource::Pattern)
            .map_err(|e| e.to_string()),
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Normalises a table key: `.domain`, or a next hop as [`Destination::parse`] reads it.
fn normalise_key(key: &str) -> Result<String, String> {
    if let Some(parent) = key.strip_prefix('.') {
        let name = super::name_ref::domain(parent).map_err(|e| e.to_string())?;
        let mut out = String::with_capacity(name.as_str().len() + 1);
        out.push('.');
        out.push_str(name.as_str());
        return Ok(out);
    }
    Destination::parse(key)
        .map(|d| d.lookup_key().to_owned())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
