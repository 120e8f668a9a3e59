//! `mailtls check`: every error and warning of the configuration files at once, each with
//! its file, line and column (like `postfix check` and `postmap`), so an administrator fixes
//! a file in one pass. `explain`, `probe`, `send` and `serve` check their files the same way.

use std::path::{Path, PathBuf};

use mailtls::policy::connector::{ConnectorError, Connectors};
use mailtls::policy::postfix::PolicyTable;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::common::{quoted, read_config, Failure, EX_CONFIG};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exchange-style connectors (TOML) to check.
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    /// A Postfix `smtp_tls_policy_maps` table to check (text form; a `hash:`, `texthash:`,
    /// `btree:`, `lmdb:`, `cdb:` or `dbm:` prefix names its source file, as in main.cf).
    #[arg(long, value_name = "[TYPE:]FILE")]
    policy_map: Option<String>,
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, at a place in a file.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the finding is about the whole file.
    pub line: u32,
    /// 1-based, in characters; 0 when unknown.
    pub column: u32,
    pub severity: Severity,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if self.line > 0 {
            write!(f, "{}:", self.line)?;
            if self.column > 0 {
                write!(f, "{}:", self.column)?;
            }
        }
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, " {word}: {}", self.message)
    }
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    if args.connectors.is_none() && args.policy_map.is_none() {
        return Err(Failure::usage(
            "nothing to check: give --connectors FILE and/or --policy-map [TYPE:]FILE",
        ));
    }
    let mut found = Vec::new();
    if let Some(path) = &args.connectors {
        let text = read_config(path, "connector file")?;
        found.extend(check_connectors(path, &text));
    }
    if let Some(map) = &args.policy_map {
        let path = policy_map_source(map)?;
        let text = read_config(&path, "policy map")?;
        found.extend(check_policy_map(&path, &text));
    }
    for d in &found {
        outln!("{d}");
    }
    let errors = found
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    outln!(
        "{errors} error(s), {} warning(s)",
        found.len().saturating_sub(errors)
    );
    Ok(if errors == 0 { 0 } else { EX_CONFIG })
}

/// Prints the findings on stderr and fails (exit 78) when one is an error: how every command
/// that reads a configuration file reports it.
pub fn report(found: &[Diagnostic], what: &str, path: &Path) -> Result<(), Failure> {
    for d in found {
        errln!("mailtls: {d}");
    }
    let errors = found
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors == 0 {
        return Ok(());
    }
    Err(Failure::config(format!(
        "{what} {}: {errors} error(s), listed above",
        path.display()
    )))
}

/// The table types whose source is a text file of the same name (postmap(1)).
const TEXT_SOURCED: [&str; 7] = ["hash", "texthash", "btree", "lmdb", "cdb", "dbm", "sdbm"];

/// The text file behind a main.cf-style table name: `hash:/etc/postfix/tls_policy` is
/// `/etc/postfix/tls_policy`; a plain path is itself.
pub fn policy_map_source(map: &str) -> Result<PathBuf, Failure> {
    match map.split_once(':') {
        Some((kind, path)) if TEXT_SOURCED.contains(&kind.to_ascii_lowercase().as_str()) => {
            Ok(PathBuf::from(path))
        }
        Some((kind, _))
            if !kind.is_empty()
                && !kind.contains('/')
                && kind.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Err(Failure::usage(format!(
                "--policy-map {}: table type {kind}: is not read by mailtls (give the text \
                 file, or hash:/texthash: with it)",
                quoted(map)
            )))
        }
        _ => Ok(PathBuf::from(map)),
    }
}

/// Every finding in a Postfix policy table: each logical line is parsed on its own, so one
/// bad line does not hide the next; then what the parser lets pass but cannot work (empty
/// `ciphers=`, `exclude=`, `match=`; a `tafile=` that does not exist).
pub fn check_policy_map(path: &Path, text: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let at = |line: u32, column: u32, severity: Severity, message: String| Diagnostic {
        file: path.to_path_buf(),
        line,
        column,
        severity,
        message,
    };
    let mut keys: Vec<(String, u32)> = Vec::new();
    for (first_line, chunk) in logical_chunks(text) {
        let offset = first_line.saturating_sub(1);
        match PolicyTable::parse(&chunk) {
            Err(e) => found.push(at(
                e.line.saturating_add(offset),
                e.column,
                Severity::Error,
                e.kind.to_string(),
            )),
            Ok(table) => {
                for w in table.warnings() {
                    found.push(at(
                        w.line.saturating_add(offset),
                        w.column,
                        Severity::Warning,
                        w.message.clone(),
                    ));
                }
            }
        }
        for (index, raw) in chunk.lines().enumerate() {
            let line = first_line.saturating_add(u32::try_from(index).unwrap_or(u32::MAX));
            if raw.trim_start().starts_with('#') {
                continue;
            }
            for (column, token) in tokens(raw) {
                if index == 0 && column == 1 {
                    let key = token.trim_end_matches('.').to_ascii_lowercase();
                    match keys.iter().find(|(k, _)| *k == key) {
                        Some((_, first)) => found.push(at(
                            line,
                            column,
                            Severity::Warning,
                            format!(
                                "duplicate key {}: the entry at line {first} wins, this one \
                                 is ignored",
                                quoted(token)
                            ),
                        )),
                        None => keys.push((key, line)),
                    }
                    continue;
                }
                let Some((name, value)) = token.split_once('=') else {
                    continue;
                };
                let name = name.to_ascii_lowercase();
                if value.is_empty() && matches!(name.as_str(), "ciphers" | "exclude" | "match") {
                    found.push(at(
                        line,
                        column,
                        Severity::Error,
                        format!("{name}= has no value (remove it, or give one)"),
                    ));
                } else if name == "tafile" && !Path::new(value).is_file() {
                    found.push(at(
                        line,
                        column,
                        Severity::Error,
                        format!("tafile={value}: no such file"),
                    ));
                }
            }
        }
    }
    dedup(found)
}

/// The same finding from the parser and from the token scan is said once.
fn dedup(mut found: Vec<Diagnostic>) -> Vec<Diagnostic> {
    found.sort_by_key(|d| (d.line, d.column, d.severity == Severity::Warning));
    found.dedup_by(|b, a| a.line == b.line && a.column == b.column && a.severity == b.severity);
    found
}

/// The table split into logical lines (an entry and its continuation lines, with the
/// comments and blank lines after it), each with the line it starts on.
fn logical_chunks(text: &str) -> Vec<(u32, String)> {
    let mut chunks: Vec<(u32, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
        let starts =
            !raw.is_empty() && !raw.starts_with(char::is_whitespace) && !raw.starts_with('#');
        match chunks.last_mut() {
            Some((_, chunk)) if !starts => {
                chunk.push_str(raw);
                chunk.push('\n');
            }
            _ => chunks.push((line, format!("{raw}\n"))),
        }
    }
    chunks
}

/// Whitespace-separated tokens with their 1-based column (`{ ... }` kept whole).
fn tokens(line: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut depth = 0_u32;
    for (i, c) in line.char_indices() {
        match c {
            '{' => {
                depth += 1;
                start.get_or_insert(i);
            }
            '}' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                if let Some(s) = start.take() {
                    out.push((column_of(line, s), line.get(s..i).unwrap_or_default()));
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push((column_of(line, s), line.get(s..).unwrap_or_default()));
    }
    out
}

/// Where a value's text ends, the fields of a table or array inside it included.
fn deep_end(value: &Spanned<DeValue<'_>>) -> usize {
    let own = value.span().end;
    match value.get_ref() {
        DeValue::Table(table) => table.iter().map(|(_, v)| deep_end(v)).fold(own, usize::max),
        DeValue::Array(items) => items.iter().map(deep_end).fold(own, usize::max),
        _ => own,
    }
}

fn column_of(line: &str, byte: usize) -> u32 {
    let chars = line.get(..byte).map_or(0, |p| p.chars().count());
    u32::try_from(chars).unwrap_or(u32::MAX).saturating_add(1)
}

/// Line and column (1-based, characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count().saturating_add(1);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |p| p.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Every finding in a connector file: TOML syntax errors (all of them), then each connector
/// validated on its own (so one bad connector does not hide the next), then what is wrong
/// between connectors (a name or a domain given twice), then files that do not exist.
pub fn check_connectors(path: &Path, text: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let at = |offset: usize, message: String| {
        let (line, column) = line_column(text, offset);
        Diagnostic {
            file: path.to_path_buf(),
            line,
            column,
            severity: Severity::Error,
            message,
        }
    };
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let offset = e.span().map_or(0, |s| s.start);
            found.push(at(offset, e.message().trim_end().to_owned()));
        }
        return found;
    }
    let document = document.into_inner();
    for (key, _) in document.iter() {
        let name: &str = key.get_ref();
        if name != "outbound" && name != "inbound" {
            found.push(at(
                key.span().start,
                format!(
                    "unknown section {}: expected outbound or inbound",
                    quoted(name)
                ),
            ));
        }
    }
    // (name, where) of every connector, for duplicates across both directions.
    let mut names: Vec<(String, usize)> = Vec::new();
    for direction in ["outbound", "inbound"] {
        let Some((_, value)) = document.iter().find(|(k, _)| k.get_ref() == direction) else {
            continue;
        };
        let DeValue::Array(elements) = value.get_ref() else {
            found.push(at(
                value.span().start,
                format!("{direction} must be an array of tables ([[{direction}]])"),
            ));
            continue;
        };
        let mut claimed: Vec<(&'static str, String, usize)> = Vec::new();
        for element in elements.iter() {
            let DeValue::Table(table) = element.get_ref() else {
                found.push(at(
                    element.span().start,
                    format!("each {direction} connector must be a table"),
                ));
                continue;
            };
            let start = table
                .iter()
                .map(|(k, _)| k.span().start)
                .min()
                .unwrap_or(element.span().start);
            // A sub-table written with its own header (`[outbound.client_certificate]`) spans
            // only that header: its fields end the connector.
            let end = table
                .iter()
                .map(|(_, v)| deep_end(v))
                .max()
                .unwrap_or(element.span().end);
            let line_start = text
                .get(..start)
                .and_then(|p| p.rfind('\n'))
                .map_or(0, |i| i + 1);
            let segment = text.get(line_start..end).unwrap_or_default();
            let header = format!("[[{direction}]]\n");
            if let Err(e) = Connectors::from_toml(&format!("{header}{segment}")) {
                found.push(connector_error(&at, &e, table, line_start, start, segment));
            }
            if let Some((name_key, name)) = string_field(table, "name") {
                match names.iter().find(|(n, _)| *n == name) {
                    Some((_, first)) => found.push(at(
                        name_key,
                        format!(
                            "connector name {} is already used at line {}",
                            quoted(&name),
                            line_column(text, *first).0
                        ),
                    )),
                    None => names.push((name, name_key)),
                }
            }
            let fields: &[&'static str] = if direction == "outbound" {
                &["recipient_domains"]
            } else {
                &["sender_domains", "tls_sender_certificate_name"]
            };
            for field in fields {
                for (offset, value) in strings_of(table, field) {
                    let value = value.trim_end_matches('.').to_ascii_lowercase();
                    let family = if *field == "tls_sender_certificate_name" {
                        "certificate name"
                    } else {
                        field
                    };
                    match claimed.iter().find(|(f, v, _)| *f == family && *v == value) {
                        Some((_, _, first)) => found.push(at(
                            offset,
                            format!(
                                "{field} {} is already claimed at line {} (one {direction} \
                                 connector per {family})",
                                quoted(&value),
                                line_column(text, *first).0
                            ),
                        )),
                        None => claimed.push((family, value, offset)),
                    }
                }
            }
            if let Some((_, certificate)) = table
                .iter()
                .find(|(k, _)| k.get_ref() == "client_certificate")
            {
                if let DeValue::Table(files) = certificate.get_ref() {
                    for field in ["certificate_chain", "private_key"] {
                        if let Some((offset, file)) = string_field(files, field) {
                            if !Path::new(&file).is_file() {
                                found.push(at(
                                    offset,
                                    format!(
                                        "client_certificate.{field} {}: no such file",
                                        quoted(&file)
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    if found.is_empty() {
        // Anything the checks above do not know about, said by the reader itself.
        if let Err(e) = Connectors::from_toml(text) {
            found.push(Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                severity: Severity::Error,
                message: e.to_string(),
            });
        }
    }
    found.sort_by_key(|d| (d.line, d.column));
    found
}

/// A connector's own error, placed at the field it names (or where the reader says).
fn connector_error(
    at: &impl Fn(usize, String) -> Diagnostic,
    error: &ConnectorError,
    table: &DeTable<'_>,
    line_start: usize,
    first_key: usize,
    segment: &str,
) -> Diagnostic {
    match error {
        ConnectorError::Invalid {
            direction,
            connector,
            field,
            reason,
        } => {
            // At the item of an array the reason quotes, else at the field's value.
            let offset = strings_of(table, field)
                .into_iter()
                .find(|(_, item)| reason.contains(&quoted(item)))
                .map(|(offset, _)| offset)
                .or_else(|| {
                    table
                        .iter()
                        .find(|(k, _)| k.get_ref() == field)
                        .map(|(_, v)| v.span().start)
                })
                .unwrap_or(first_key);
            at(
                offset,
                format!(
                    "{direction} connector {}, {field}: {reason}",
                    quoted(connector)
                ),
            )
        }
        ConnectorError::Syntax {
            line,
            column,
            message,
        } if *line >= 2 => {
            // Line 1 is the header put in front of the segment.
            let in_segment: usize = segment
                .split_inclusive('\n')
                .take(usize::try_from(*line - 2).unwrap_or(0))
                .map(str::len)
                .sum();
            let line_text = segment.get(in_segment..).unwrap_or_default();
            let byte = line_text
                .char_indices()
                .nth(usize::try_from(column.saturating_sub(1)).unwrap_or(0))
                .map_or(0, |(i, _)| i);
            at(
                line_start + in_segment + byte,
                message.trim_end().to_owned(),
            )
        }
        other => at(first_key, other.to_string()),
    }
}

/// A string field of a table: where its value starts, and the value.
fn string_field(table: &DeTable<'_>, field: &str) -> Option<(usize, String)> {
    let (_, value) = table.iter().find(|(k, _)| k.get_ref() == field)?;
    match value.get_ref() {
        DeValue::String(s) => Some((value.span().start, s.to_string())),
        _ => None,
    }
}

/// The strings of a field that holds one string or an array of them, with where each starts.
fn strings_of(table: &DeTable<'_>, field: &str) -> Vec<(usize, String)> {
    let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref() == field) else {
        return Vec::new();
    };
    let one = |v: &Spanned<DeValue<'_>>| match v.get_ref() {
        DeValue::String(s) => Some((v.span().start, s.to_string())),
        _ => None,
    };
    match value.get_ref() {
        DeValue::Array(items) => items.iter().filter_map(one).collect(),
        _ => one(value).into_iter().collect(),
    }
}
