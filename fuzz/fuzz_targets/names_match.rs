//! Name and pattern parsing and matching under every dialect: no panics, and the normal
//! forms are stable (parsing what was printed gives the same value back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtls::names::{match_presented, Dialect, DnsName, NamePattern};

/// Maps bytes onto a DNS-ish alphabet so that the fuzzer reaches deep grammar quickly.
fn into_alphabet(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcxn-0129.*_.A";
    data.iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let dialect = Dialect::ALL[usize::from(selector % 6)];
    let text = if selector & 0x80 != 0 {
        into_alphabet(rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let (left, right) = text.split_once('\n').or_else(|| text.split_once(' ')).unwrap_or((&text, ""));

    let pattern = NamePattern::parse(left, dialect);
    let name = DnsName::parse(right);
    if let Ok(name) = &name {
        assert_eq!(DnsName::parse(name.as_str()).as_ref(), Ok(name));
        assert_eq!(DnsName::parse(&name.as_str().to_ascii_uppercase()).as_ref(), Ok(name));
        assert!(name.as_str().len() <= 253);
        if let Some(parent) = name.parent() {
            assert!(name.is_within(&parent));
        }
    }
    if let Ok(pattern) = &pattern {
        assert_eq!(NamePattern::parse(&pattern.to_string(), dialect).as_ref(), Ok(pattern));
        if let Ok(name) = &name {
            let matched = pattern.matches(name);
            if let Some(exact) = pattern.as_exact() {
                assert_eq!(matched, exact == name);
            }
            // A certificate presenting exactly the name matches whenever the pattern does.
            let via_cert = match_presented(dialect, std::slice::from_ref(pattern), &[name.as_str()], &[] as &[&str]);
            if matched {
                assert!(via_cert.is_ok());
            }
        }
    }
    // Certificate-side reading of arbitrary text never panics.
    let _ = NamePattern::presented(right, dialect);
    let _ = NamePattern::presented(left, dialect);
});
