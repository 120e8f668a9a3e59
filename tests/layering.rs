//! The layering of `shared/ARCHITECTURE.md` ("Layers, lowest first"), checked on the source.
//!
//! Every `.rs` file under `src/` (except `src/bin`, a separate crate at the top layer whose
//! `crate::` means the binary) is read, comments and literals are blanked, and every path that
//! starts with `crate::`, `super::` or `self::` is resolved to a module path from the crate
//! root: the leaves of `use` trees (grouped `use crate::{a, b::{c, d}}` included, `pub use`
//! too) and paths written inline in code (`crate::smtp::Reply` in a signature). Bare paths
//! name other crates (or, in `lib.rs` and `mod.rs`, a module's own children) and are skipped.
//!
//! A path is judged by its module prefix: the first segment after the crate root names the
//! module whose layer counts, whatever the item behind it really is. So a re-export cannot
//! hide a violation: `crate::report::ResultType` counts as `report` even if `report` only
//! re-exports it from a lower module, and a lower module re-exporting a higher one is itself
//! a `pub use` of the higher path, judged here. A root re-export (`crate::Timestamp`) is no
//! module at all and is refused, which also keeps one path per item inside the crate.
//!
//! A second check keeps the two former import circles open: inside `policy` and `ffi`, the
//! submodules that used to import each other have an order too.

// A test over the crate's own source: a panic here is a test failure, not a peer's doing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// One module of the crate root and its layer.
struct Layer {
    module: &'static str,
    rank: u8,
    layer: &'static str,
    why: &'static str,
}

const fn layer(module: &'static str, rank: u8, layer: &'static str, why: &'static str) -> Layer {
    Layer {
        module,
        rank,
        layer,
        why,
    }
}

/// Every module of the crate root, lowest layer first, with why it sits there. A module may
/// use its own layer and the layers below it, never one above.
#[rustfmt::skip]
const LAYERS: &[Layer] = &[
    layer("time", 0, "vocabulary", "Timestamp: every layer takes time as a parameter"),
    layer("tlsrpt", 0, "vocabulary", "RFC 8460 words cert, policy, tls, client record outcomes in"),
    layer("smtp", 1, "smtp", "the wire grammar needs no names, certificates or policy"),
    layer("names", 2, "names", "DNS names and dialects: what cert matches, policy names"),
    layer("cert", 3, "cert", "certificate facts, pins, verifiers: check names, decide nothing"),
    layer("policy", 4, "policy", "levels, tables, DANE, MTA-STS, ladder: decide over names, certs"),
    layer("tls", 5, "tls", "the only rustls-connection module, set up from policy's rungs"),
    layer("session", 6, "shape", "the Session trait client and server implement; needs time"),
    layer("client", 7, "sessions", "the sans-IO client session drives tls under a policy plan"),
    layer("server", 7, "sessions", "the sans-IO server session drives tls under inbound policy"),
    layer("report", 8, "report", "TLS-RPT aggregation and documents, fed with session outcomes"),
    layer("state", 8, "report", "the store trait: MTA-STS cache, downgrade memory, TLS-RPT counts"),
    layer("io", 9, "io", "adapters: sockets, runtimes and files drive the sessions"),
    layer("ffi", 10, "ffi", "the C ABI wraps every layer below"),
    layer("manual", 10, "docs", "documentation chapters only: no code may depend on them"),
];

/// Modules of one layer that must not use each other.
const APART: &[(&str, &str)] = &[("client", "server")];

/// Orders inside one module, lowest first, for the submodules that used to import each other.
/// Submodules not listed are not checked here.
const INNER: &[(&str, &[&str])] = &[
    // policy: rungs and failure classes are data; protocol narrows per rung; requirement
    // names protocol versions; the REQUIRETLS overlay rewrites requirements; destination
    // derives names and SNI; the trace explains requirements, name sources and REQUIRETLS
    // failures; a plan carries a trace and a ladder; the ladder's decision (`next_rung`)
    // reads a host plan.
    (
        "policy",
        &[
            "rung",
            "protocol",
            "requirement",
            "requiretls",
            "destination",
            "explain",
            "plan",
            "ladder",
        ],
    ),
    // ffi: result codes; the panic boundary and handles return them; text writes through
    // handles; the C functions describing result codes use all three.
    ("ffi", &["result", "boundary", "handle", "text", "describe"]),
];

/// Temporary exceptions: (file, path prefix as written, why). Each must match something, so
/// a stale entry fails too. Empty: no file the integrator is reworking needs one today.
const TEMPORARY_ALLOW: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<&'static Layer> {
    LAYERS.iter().find(|l| l.module == module)
}

/// One path found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    line: usize,
    /// As written, groups expanded (`crate::report::ResultType`).
    written: String,
    /// The module path from the crate root (`["report", "ResultType"]`).
    resolved: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Punct(char),
    PathSep,
}

/// Blanks comments, string, byte-string and char literals (keeping newlines), so that only
/// code is left. Lifetimes (`'a`) stay.
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && starts_token(&chars, i) {
            // A raw string r"..." or r#"..."#, br"..." too (or a raw identifier r#name, kept).
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            j += 1;
            while j < chars.len() && !chars[j..].starts_with(&close) {
                j += 1;
            }
            let end = (j + close.len()).min(chars.len());
            out.extend(chars[i..end].iter().map(|c| blank(*c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(ch) = chars.get(i) {
                    out.push(blank(*ch));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime.
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the `r` at `at` starts a raw string: nothing of an identifier before it but a
/// byte-string `b`.
fn starts_token(chars: &[char], at: usize) -> bool {
    let ident = |i: usize| {
        chars
            .get(i)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    };
    match at.checked_sub(1) {
        None => true,
        Some(before) if chars[before] == 'b' => before == 0 || !ident(before - 1),
        Some(before) => !ident(before),
    }
}

fn tokenize(code: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((Token::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}

fn is_ident(token: Option<&(Token, usize)>, name: &str) -> bool {
    matches!(token, Some((Token::Ident(n), _)) if n == name)
}

fn is_punct(token: Option<&(Token, usize)>, c: char) -> bool {
    matches!(token, Some((Token::Punct(p), _)) if *p == c)
}

/// Parses one use tree at `tokens[*at..]` under `prefix`, pushing its leaves as
/// (segments, line of the last segment).
fn use_tree(
    tokens: &[(Token, usize)],
    at: &mut usize,
    prefix: &[String],
    leaves: &mut Vec<(Vec<String>, usize)>,
) {
    let mut path = prefix.to_vec();
    let mut line = tokens.get(*at).map_or(0, |t| t.1);
    loop {
        match tokens.get(*at) {
            Some((Token::PathSep, _)) => *at += 1,
            Some((Token::Punct('{'), _)) => {
                *at += 1;
                while !is_punct(tokens.get(*at), '}') && *at < tokens.len() {
                    use_tree(tokens, at, &path, leaves);
                    if is_punct(tokens.get(*at), ',') {
                        *at += 1;
                    }
                }
                *at += 1;
                return;
            }
            Some((Token::Punct('*'), l)) => {
                *at += 1;
                leaves.push((path, *l));
                return;
            }
            Some((Token::Ident(name), l)) => {
                *at += 1;
                line = *l;
                if name != "self" || path.is_empty() {
                    path.push(name.clone());
                }
                if matches!(tokens.get(*at), Some((Token::PathSep, _))) {
                    continue;
                }
                if is_ident(tokens.get(*at), "as") {
                    *at += 2;
                }
                leaves.push((path, line));
                return;
            }
            _ => {
                if path.len() > prefix.len() {
                    leaves.push((path, line));
                }
                return;
            }
        }
    }
}

/// Resolves a path written in module `module` to a path from the crate root; `None` for a
/// bare path (another crate, or a child module named without `self::`).
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some(module.iter().chain(&path[1..]).cloned().collect()),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let keep = module.len().checked_sub(ups)?;
            Some(module[..keep].iter().chain(&path[ups..]).cloned().collect())
        }
        _ => None,
    }
}

/// Every `crate::`/`super::`/`self::` path in `source`, a file of module `module`.
fn references(module: &[String], source: &str) -> Vec<Reference> {
    let tokens = tokenize(&strip(source));
    let mut out = Vec::new();
    // Inline `mod name { ... }` blocks: (name, brace depth inside the block).
    let mut scopes: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let current = |scopes: &[(String, usize)]| -> Vec<String> {
        module
            .iter()
            .cloned()
            .chain(scopes.iter().map(|s| s.0.clone()))
            .collect()
    };
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                if scopes.last().is_some_and(|s| s.1 == depth) {
                    scopes.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), true) =
                    (tokens.get(i + 1), is_punct(tokens.get(i + 2), '{'))
                {
                    depth += 1;
                    scopes.push((name.clone(), depth));
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Token::Ident(word) if word == "use" => {
                i += 1;
                let mut leaves = Vec::new();
                use_tree(&tokens, &mut i, &[], &mut leaves);
                let here = current(&scopes);
                for (path, line) in leaves {
                    if let Some(resolved) = resolve(&here, &path) {
                        out.push(Reference {
                            line,
                            written: path.join("::"),
                            resolved,
                        });
                    }
                }
            }
            Token::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && matches!(tokens.get(i + 1), Some((Token::PathSep, _))) =>
            {
                let mut path = vec![word.clone()];
                let mut line = tokens[i].1;
                let mut j = i + 1;
                while let (Some((Token::PathSep, _)), Some((Token::Ident(seg), l))) =
                    (tokens.get(j), tokens.get(j + 1))
                {
                    path.push(seg.clone());
                    line = *l;
                    j += 2;
                }
                if let Some(resolved) = resolve(&current(&scopes), &path) {
                    out.push(Reference {
                        line,
                        written: path.join("::"),
                        resolved,
                    });
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// The module path of a file under `src/`: `policy/plan.rs` is `policy::plan`, `ffi/mod.rs`
/// is `ffi`, `lib.rs` is the root.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// A broken rule, printed as `file:line: <module> uses <path> (why)`.
struct Violation {
    file: String,
    line: usize,
    module: String,
    written: String,
    why: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} uses {} ({})",
            self.file, self.line, self.module, self.written, self.why
        )
    }
}

/// What is wrong with `reference` from `module`, if anything.
fn judge(module: &[String], reference: &Reference) -> Option<String> {
    let from = module.first()?;
    let Some(to) = reference.resolved.first() else {
        return Some("the crate root is not a module of the layer table".into());
    };
    if from == to {
        let (_, order) = INNER.iter().find(|(m, _)| m == from)?;
        let rank = |name: Option<&String>| name.and_then(|n| order.iter().position(|o| o == n));
        let (lo, hi) = (rank(module.get(1))?, rank(reference.resolved.get(1))?);
        return (hi > lo).then(|| {
            format!(
                "{from}::{} above {from}::{} inside {from}",
                order[hi], order[lo]
            )
        });
    }
    let Some(target) = layer_of(to) else {
        return Some(format!(
            "`{to}` is not a module of the layer table: a root re-export? name the real module"
        ));
    };
    let source = layer_of(from)?;
    if target.rank > source.rank {
        return Some(format!(
            "layer {}:{} above {}:{}",
            target.rank, target.layer, source.rank, source.layer
        ));
    }
    APART
        .iter()
        .any(|(a, b)| (a == from && b == to) || (a == to && b == from))
        .then(|| format!("{from} and {to} must not use each other"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every violation in `src/`, allow-listed ones included, and the allow-list entries used.
fn violations() -> Vec<Violation> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for path in files {
        let Ok(relative) = path.strip_prefix(&src) else {
            continue;
        };
        if relative.starts_with("bin") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("source files are UTF-8");
        let module = module_of(relative);
        for reference in references(&module, &source) {
            if let Some(why) = judge(&module, &reference) {
                found.push(Violation {
                    file: format!("src/{}", relative.display()),
                    line: reference.line,
                    module: module.join("::"),
                    written: reference.written,
                    why,
                });
            }
        }
    }
    found
}

#[test]
fn every_path_points_down_the_layers() {
    let all = violations();
    let allowed = |v: &Violation| {
        TEMPORARY_ALLOW
            .iter()
            .any(|(file, prefix, _)| v.file == *file && v.written.starts_with(prefix))
    };
    let stale: Vec<_> = TEMPORARY_ALLOW
        .iter()
        .filter(|(file, prefix, _)| {
            !all.iter()
                .any(|v| v.file == *file && v.written.starts_with(prefix))
        })
        .collect();
    let broken: Vec<_> = all.iter().filter(|v| !allowed(v)).collect();
    for v in &broken {
        println!("{v}");
    }
    for (file, prefix, why) in &stale {
        println!("{file}: stale allow-list entry for {prefix} ({why})");
    }
    println!(
        "{} violation(s), {} allowed for now",
        broken.len(),
        all.len() - broken.len()
    );
    assert!(
        broken.is_empty() && stale.is_empty(),
        "{} import(s) against the layers",
        broken.len()
    );
}

#[test]
fn every_module_of_the_crate_root_has_a_layer() {
    let src = src_dir();
    let mut missing = Vec::new();
    for entry in fs::read_dir(&src).expect("src/ is readable").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        if module == "lib" || module == "bin" {
            continue;
        }
        if layer_of(module).is_none() {
            missing.push(module.to_owned());
        }
    }
    assert!(missing.is_empty(), "no layer for {missing:?}");
    for layer in LAYERS {
        let dir = src.join(layer.module);
        let file = src.join(format!("{}.rs", layer.module));
        assert!(
            dir.is_dir() || file.is_file(),
            "{} is in the layer table but not in src/ ({})",
            layer.module,
            layer.why
        );
    }
    for (module, order) in INNER {
        for sub in *order {
            let dir = src.join(module).join(sub);
            let file = src.join(module).join(format!("{sub}.rs"));
            assert!(
                dir.is_dir() || file.is_file(),
                "{module}::{sub} is not in src/"
            );
        }
    }
}

fn paths(module: &[&str], source: &str) -> Vec<(usize, String, String)> {
    let module: Vec<String> = module.iter().map(|s| (*s).to_owned()).collect();
    references(&module, source)
        .into_iter()
        .map(|r| (r.line, r.written, r.resolved.join("::")))
        .collect()
}

#[test]
fn grouped_uses_expand_to_their_leaves() {
    let found = paths(
        &["cert", "verify"],
        "use crate::{names::{self, Dialect}, report::ResultType as R};\nuse super::pin::*;\n",
    );
    assert_eq!(
        found,
        vec![
            (1, "crate::names".into(), "names".into()),
            (1, "crate::names::Dialect".into(), "names::Dialect".into()),
            (
                1,
                "crate::report::ResultType".into(),
                "report::ResultType".into()
            ),
            (2, "super::pin".into(), "cert::pin".into()),
        ]
    );
}

#[test]
fn inline_paths_count_and_comments_and_strings_do_not() {
    let source = "/// see [`crate::report::Report`]\n\
                  // crate::io::x\n\
                  /* crate::ffi::y */ fn f(r: &crate::smtp::Reply) -> &'static str {\n\
                  \"crate::client::z\" }\n\
                  pub(crate) fn g() -> char { '\\'' }\n\
                  let s = r#\"crate::io\"#; crate::tls::TlsFacts::new(br\"\\\")\n";
    assert_eq!(
        paths(&["policy", "plan"], source),
        vec![
            (3, "crate::smtp::Reply".into(), "smtp::Reply".into()),
            (
                6,
                "crate::tls::TlsFacts::new".into(),
                "tls::TlsFacts::new".into()
            ),
        ]
    );
}

#[test]
fn super_resolves_through_inline_modules() {
    let source = "use super::ladder::Rung;\n\
                  mod tests {\n\
                  use super::super::protocol::TlsVersion;\n\
                  use super::*;\n\
                  }\n\
                  use super::explain::Trace;\n";
    assert_eq!(
        paths(&["policy", "plan"], source),
        vec![
            (
                1,
                "super::ladder::Rung".into(),
                "policy::ladder::Rung".into()
            ),
            (
                3,
                "super::super::protocol::TlsVersion".into(),
                "policy::protocol::TlsVersion".into()
            ),
            (4, "super".into(), "policy::plan".into()),
            (
                6,
                "super::explain::Trace".into(),
                "policy::explain::Trace".into()
            ),
        ]
    );
}

#[test]
fn the_judge_reads_the_module_prefix() {
    let module: Vec<String> = vec!["cert".into(), "outcome".into()];
    let reference = |written: &str| {
        let path: Vec<String> = written.split("::").map(str::to_owned).collect();
        Reference {
            line: 1,
            written: written.into(),
            resolved: resolve(&module, &path).expect("a crate path"),
        }
    };
    // A re-export in an upper module is judged as that module.
    assert!(judge(&module, &reference("crate::report::ResultType")).is_some());
    assert!(judge(&module, &reference("crate::tlsrpt::ResultType")).is_none());
    // A root re-export is not a module.
    assert!(judge(&module, &reference("crate::Timestamp")).is_some());
    assert!(judge(&module, &reference("crate::time::Timestamp")).is_none());
    // Same layer, kept apart.
    let client: Vec<String> = vec!["client".into()];
    let server = Reference {
        line: 1,
        written: "crate::server::ServerEvent".into(),
        resolved: vec!["server".into(), "ServerEvent".into()],
    };
    assert!(judge(&client, &server).is_some());
    // Inside a circle module, only downwards.
    let protocol: Vec<String> = vec!["policy".into(), "protocol".into()];
    let ladder = Reference {
        line: 1,
        written: "super::ladder::Rung".into(),
        resolved: vec!["policy".into(), "ladder".into(), "Rung".into()],
    };
    assert!(judge(&protocol, &ladder).is_some());
}
