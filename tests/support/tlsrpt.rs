//! What the TLS-RPT tests share: reading a report back out of a mail (base64, gzip) and
//! comparing report JSON field by field. Only `std`, flate2 and serde_json, so a test binary
//! includes it alone: `#[path = "support/tlsrpt.rs"] mod tlsrpt;`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::Read as _;
use std::net::IpAddr;

use serde_json::Value;

/// Decodes base64 (RFC 4648), ignoring white space (a MIME body's line breaks).
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let digits: Vec<u8> = chunk
            .iter()
            .filter(|&&c| c != b'=')
            .map(|&c| value(c))
            .collect();
        let n =
            digits.iter().fold(0u32, |n, &d| (n << 6) | u32::from(d)) << (6 * (4 - digits.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..digits.len() - 1]);
    }
    out
}

/// Decompresses a gzip stream into text.
pub fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// Compares two JSON values field by field; strings that parse as IP addresses compare as
/// addresses (the RFC writes `2001:db8:abcd:0012::1`, the canonical form drops the zeros).
pub fn assert_same(path: &str, ours: &Value, rfc: &Value) {
    match (ours, rfc) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            assert_eq!(ka, kb, "keys at {path}");
            for k in ka {
                assert_same(&format!("{path}.{k}"), &a[k], &b[k]);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "length at {path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same(&format!("{path}[{i}]"), x, y);
            }
        }
        (Value::String(a), Value::String(b)) => match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
            (Ok(x), Ok(y)) => assert_eq!(x, y, "address at {path}"),
            _ => assert_eq!(a, b, "at {path}"),
        },
        _ => assert_eq!(ours, rfc, "at {path}"),
    }
}
