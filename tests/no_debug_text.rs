//! No `Debug` text reaches a user, a log line, JSON or C: the code that prints (the CLI in
//! `src/bin`, the C ABI in `src/ffi`, the adapters in `src/io`) formats with Display or an
//! explicit spelling, never with `{:?}`. A `{:?}` shows Rust's internals (`Defer(Status {
//! code: 451, .. })`) and changes whenever a type does, so nobody can rely on it.
//!
//! This test reads those sources and fails with `file:line` for every format string that asks
//! for `Debug` (`{:?}`, `{x:?}`, `{:#?}`, `{:>8?}`), every `dbg!` and every direct
//! `Debug::fmt` call. Unit-test modules (`#[cfg(test)] mod ... { }`) are skipped: assertion
//! messages are for developers.

use std::fs;
use std::path::{Path, PathBuf};

/// Places allowed to print `Debug` text anyway, each with its reason: `(file, text on the
/// line)`. Only test code or code that merely derives `Debug` belongs here. Keep it empty.
const ALLOWED: &[(&str, &str)] = &[];

const SCANNED: [&str; 3] = ["src/bin", "src/ffi", "src/io"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `line` holds a format placeholder that asks for `Debug`: a `{`, an optional
/// argument name, a `:`, format options without braces, and a `?` just before the `}`.
fn debug_placeholder(line: &str) -> bool {
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or_default();
        if let Some(escaped) = after.strip_prefix('{') {
            rest = escaped;
            continue;
        }
        if let Some(end) = after.find(['}', '{']) {
            let inner = after.get(..end).unwrap_or_default();
            let closed = after.get(end..).is_some_and(|t| t.starts_with('}'));
            if closed {
                if let Some((name, spec)) = inner.split_once(':') {
                    let name_ok = name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                    if name_ok && spec.ends_with('?') {
                        return true;
                    }
                }
            }
        }
        rest = after;
    }
    false
}

fn offending(line: &str) -> bool {
    debug_placeholder(line)
        || line.contains("dbg!(")
        || line.contains("Debug::fmt(")
        || debug_capture(line)
}

/// A `log` key-value captured with `Debug` (`key:? = value`), or a `tracing` field with the
/// `?` sigil (`key = ?value`, `?value`).
/// SQL placeholders (`= ?1`, `, ?`) are not captures: the sigil must precede a name.
fn debug_capture(line: &str) -> bool {
    let sigil_before_name = |marker: &str| {
        line.match_indices(marker).any(|(at, m)| {
            line.get(at + m.len()..)
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        })
    };
    line.contains(":? =") || sigil_before_name("= ?") || sigil_before_name(", ?")
}

/// The lines of `text` outside `#[cfg(test)] mod` blocks, numbered from 1.
fn production_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|(_, next)| next.trim_start().starts_with("mod "))
        {
            // Skip the module: count braces until they balance again.
            let mut depth = 0i32;
            let mut opened = false;
            for (_, inner) in lines.by_ref() {
                for c in inner.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if opened && depth <= 0 {
                    break;
                }
            }
            continue;
        }
        out.push((n + 1, line));
    }
    out
}

#[test]
fn the_detector_finds_debug_placeholders_and_nothing_else() {
    let hits = [
        r#"format!("{:?}", x)"#,
        r#"format!("next {next:?}")"#,
        r#"println!("{:#?}", x)"#,
        r#"write!(f, "{0:?}", x)"#,
        r#"format!("{x.y:?}")"#,
        r#"format!("{:>8?}", x)"#,
        "let _ = dbg!(x);",
        r#"warn!(target: T, error:? = e; "failed");"#,
        r#"tracing::warn!(error = ?e, "failed");"#,
    ];
    for line in hits {
        assert!(offending(line), "{line}");
    }
    let misses = [
        r#"format!("{x}: {}", y)"#,
        r#"format!("{{:?}} is how Rust spells Debug")"#,
        r#"format!("{:>8}", x)"#,
        r#"format!("a?b {x}")"#,
        "let x = y?;",
        r#"warn!(target: T, error:% = e; "failed");"#,
        "let x = if a { b } else { c? };",
        r#"conn.execute("DELETE FROM t WHERE host = ?1", [h])"#,
    ];
    for line in misses {
        assert!(!offending(line), "{line}");
    }
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { format!(\"{:?}\", 1); }\n}\nfn c() {}\n";
    let kept: Vec<usize> = production_lines(text).iter().map(|(n, _)| *n).collect();
    assert_eq!(kept, [1, 6]);
}

#[test]
fn no_debug_text_in_the_cli_the_c_abi_or_the_adapters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in SCANNED {
        sources(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 10, "the scanned directories moved: {files:?}");
    let mut found = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        for (n, line) in production_lines(&text) {
            let allowed = ALLOWED
                .iter()
                .any(|(file, snippet)| shown == *file && line.contains(snippet));
            if offending(line) && !allowed {
                found.push(format!("{shown}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "Debug formatting reaches users; use Display or an explicit spelling:\n{}",
        found.join("\n")
    );
}
