use super::*;
use crate::policy::protocol::{TlsVersion, VersionSet};

const SHA256_A: &str =
    "3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA";
const SHA256_B: &str =
    "EC:3B:2D:B0:5B:B1:FB:6D:20:A3:9D:72:F6:8D:12:35:3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1";

/// The example of postconf(5) `smtp_tls_policy_maps` and TLS_README, with SHA-256 digests.
const POSTFIX_DOCS: &str = "\
example.edu             none
example.mil             may
example.gov             encrypt protocols=TLSv1
example.com             verify ciphers=high
example.net             secure
.example.net            secure match=.example.net:example.net
[mail.example.org]:587  secure match=nexthop
# The next hop is verified by its fingerprint
[thumb.example.org]     fingerprint
        match=3D:95:34:51:24:66:33:B9:D2:40:F8:C9:06:53:F1:31:A5:0F:0A:EF:B1:3F:C6:8F:6D:9A:0E:68:50:12:BB:DA
        match=EC:3B:2D:B0:5B:B1:FB:6D:20:A3:9D:72:F6:8D:12:35:3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1
";

fn lookup(table: &PolicyTable, next_hop: &str) -> Option<(String, Level)> {
    let dest = Destination::parse(next_hop).unwrap();
    table
        .lookup(&dest)
        .map(|hit| (hit.key.to_owned(), hit.entry.level))
}

#[test]
fn postfix_documentation_table() {
    let table = PolicyTable::parse(POSTFIX_DOCS).unwrap();
    assert_eq!(table.len(), 8);
    // (next hop, expected key, expected level)
    let vectors: [(&str, Option<(&str, Level)>); 12] = [
        ("example.edu", Some(("example.edu", Level::None))),
        ("EXAMPLE.mil.", Some(("example.mil", Level::May))),
        ("example.gov", Some(("example.gov", Level::Encrypt))),
        ("example.com", Some(("example.com", Level::Verify))),
        ("sub.example.com", None),
        ("example.net", Some(("example.net", Level::Secure))),
        ("a.b.example.net", Some((".example.net", Level::Secure))),
        (
            "[mail.example.org]:587",
            Some(("[mail.example.org]:587", Level::Secure)),
        ),
        ("[mail.example.org]", None),
        ("mail.example.org:587", None),
        (
            "[thumb.example.org]",
            Some(("[thumb.example.org]", Level::Fingerprint)),
        ),
        // Brackets and ports never recurse to parents.
        ("[a.example.net]", None),
    ];
    for (next_hop, expected) in vectors {
        let expected = expected.map(|(k, l)| (k.to_owned(), l));
        assert_eq!(lookup(&table, next_hop), expected, "{next_hop}");
    }

    let gov = table.get("example.gov").unwrap();
    assert_eq!(gov.protocols.versions, VersionSet::ALL);
    assert_eq!(gov.warnings.len(), 1);
    assert!(gov.warnings[0].message.contains("never goes below TLS 1.2"));
    assert_eq!((gov.warnings[0].line, gov.warnings[0].column), (3, 33));

    let dot = table.get(".example.net").unwrap();
    let names: Vec<String> = dot.names.iter().map(ToString::to_string).collect();
    assert_eq!(names, [".example.net", "example.net"]);
    assert_eq!(
        table.get("[mail.example.org]:587").unwrap().names,
        [NameSource::NextHop]
    );
    let thumb = table.get("[thumb.example.org]").unwrap();
    assert_eq!(thumb.pins.len(), 2);
    assert_eq!(thumb.pins[0], Pin::postfix(SHA256_A).unwrap());
    assert_eq!(thumb.pins[1], Pin::postfix(SHA256_B).unwrap());
    assert_eq!(table.warnings().len(), 1);
}

#[test]
fn attributes_map_onto_the_entry() {
    let text = format!(
        "a.example verify match=hostname:nexthop tafile=/etc/ta1.pem tafile=/etc/ta2.pem:/etc/ta3.pem\n\
         b.example encrypt protocols=!SSLv2:!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.3 exclude=CHACHA20\n\
         c.example secure servername=nexthop connection_reuse=yes\n\
         d.example may servername=relay.example.net\n\
         e.example fingerprint match={SHA256_A}|{SHA256_B}\n\
         f.example dane-only {{ policy_string = version: STSv1 }} enable_rpk=yes\n"
    );
    let table = PolicyTable::parse(&text).unwrap();
    let a = table.get("a.example").unwrap();
    assert_eq!(a.names, [NameSource::Hostname, NameSource::NextHop]);
    assert_eq!(
        a.trust,
        AnchorSource::Files(vec![
            "/etc/ta1.pem".into(),
            "/etc/ta2.pem".into(),
            "/etc/ta3.pem".into()
        ])
    );
    let b = table.get("b.example").unwrap();
    assert_eq!(b.protocols.versions, VersionSet::only(TlsVersion::Tls12));
    assert!(b
        .protocols
        .suites
        .iter()
        .filter(|s| s.is_chacha20())
        .all(|s| s.version() == TlsVersion::Tls13));
    assert!(b.warnings.is_empty());
    let c = table.get("c.example").unwrap();
    assert_eq!(c.servername, Some(SniStrategy::NextHop));
    assert!(c.connection_reuse);
    let d = table.get("d.example").unwrap();
    assert_eq!(
        d.servername,
        Some(SniStrategy::Literal(
            crate::names::DnsName::parse("relay.example.net").unwrap()
        ))
    );
    assert_eq!(table.get("e.example").unwrap().pins.len(), 2);
    let f = table.get("f.example").unwrap();
    assert_eq!(f.level, Level::DaneOnly);
    assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
}

#[test]
fn unhonoured_attributes_are_warnings() {
    let text = format!(
        "a.example may match=a.example tafile=/x.pem ciphers=low exclude=FOO\n\
         b.example fingerprint match={SHA256_A}\n"
    );
    let table = PolicyTable::parse(&text).unwrap();
    let messages: Vec<(u32, u32, &str)> = table
        .warnings()
        .iter()
        .map(|w| (w.line, w.column, w.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!((messages[0].0, messages[0].1), (1, 15));
    assert!(messages[0].2.contains("no meaning at level may"));
    assert!(messages[1].2.contains("tafile"));
    assert!(messages[2].2.contains("forward-secret AEAD"));
    assert!(messages[3].2.contains("FOO"));
    assert_eq!(table.get("b.example").unwrap().pins.len(), 1);
}

#[test]
fn errors_carry_line_and_column() {
    let vectors: [(String, u32, u32, TableErrorKind); 10] = [
        (
            "a.example\n".into(),
            1,
            1,
            TableErrorKind::MissingLevel {
                key: "a.example".into(),
            },
        ),
        (
            "ok.example may\na.example  must\n".into(),
            2,
            12,
            TableErrorKind::UnknownLevel {
                level: "must".into(),
            },
        ),
        (
            "a.example may\n  frobnicate=1\n".into(),
            2,
            3,
            TableErrorKind::UnknownAttribute {
                name: "frobnicate".into(),
            },
        ),
        (
            "a.example may protocols\n".into(),
            1,
            15,
            TableErrorKind::NotAnAttribute {
                token: "protocols".into(),
            },
        ),
        (
            "a.example may protocols=>=TLSv9\n".into(),
            1,
            15,
            TableErrorKind::BadValue {
                attribute: "protocols".into(),
                value: ">=TLSv9".into(),
                reason: "unknown protocol \"TLSv9\" (expected SSLv2 .. TLSv1.3 or 0x0303)".into(),
            },
        ),
        (
            "a.example may connection_reuse=maybe\n".into(),
            1,
            15,
            TableErrorKind::BadValue {
                attribute: "connection_reuse".into(),
                value: "maybe".into(),
                reason: "expected yes or no".into(),
            },
        ),
        (
            "a.example fingerprint\n".into(),
            1,
            11,
            TableErrorKind::MissingFingerprint,
        ),
        (
            "a.example fingerprint match=zz\n".into(),
            1,
            23,
            TableErrorKind::BadValue {
                attribute: "match".into(),
                value: "zz".into(),
                reason: "\"zz\" is not a SHA-256 or SHA-512 digest in hex".into(),
            },
        ),
        (
            "  a.example may\n".into(),
            1,
            1,
            TableErrorKind::OrphanContinuation,
        ),
        (
            "[a.example may\n".into(),
            1,
            1,
            TableErrorKind::BadKey {
                key: "[a.example".into(),
                reason: "\"[a.example\" is not a valid next hop: missing `]`".into(),
            },
        ),
    ];
    for (text, line, column, kind) in vectors {
        let err = PolicyTable::parse(&text).unwrap_err();
        assert_eq!(err, TableError { line, column, kind }, "{text:?}: {err}");
    }
    let err = PolicyTable::parse("a.example secure match=*.example.com\n").unwrap_err();
    assert!(matches!(err.kind, TableErrorKind::BadValue { .. }), "{err}");
}

#[test]
fn duplicate_keys_keep_the_first() {
    let table = PolicyTable::parse("a.example may\nA.EXAMPLE. encrypt\n").unwrap();
    assert_eq!(table.get("a.example").unwrap().level, Level::May);
    assert_eq!(table.warnings().len(), 1);
    assert_eq!(table.warnings()[0].line, 2);
}

#[test]
fn lookup_keys_follow_postfix() {
    let keys = |hop: &str| -> Vec<String> {
        let dest = Destination::parse(hop).unwrap();
        PolicyTable::lookup_keys(&dest).map(str::to_owned).collect()
    };
    assert_eq!(
        keys("a.b.example.com"),
        ["a.b.example.com", ".b.example.com", ".example.com", ".com"]
    );
    assert_eq!(keys("[a.example.com]"), ["[a.example.com]"]);
    assert_eq!(keys("a.example.com:2525"), ["a.example.com:2525"]);
    assert_eq!(keys("[192.0.2.1]:25"), ["[192.0.2.1]:25"]);
}

/// Issue 18 item 4: next hops and keys with a service name, as Postfix transports write them
/// (`smtp:[relay.example]:submission`). Either spelling finds the other.
#[test]
fn service_names_in_keys_and_next_hops() {
    let table = PolicyTable::parse(
        "[relay.example]:submission secure match=nexthop\n\
         example.com:smtp encrypt\n\
         [lmtp.example]:LMTP may\n",
    )
    .unwrap();
    assert_eq!(table.len(), 3);
    for hop in ["[relay.example]:submission", "[relay.example]:587"] {
        assert_eq!(
            lookup(&table, hop),
            Some(("[relay.example]:587".to_owned(), Level::Secure)),
            "{hop}"
        );
    }
    assert_eq!(
        lookup(&table, "example.com:25").map(|(_, level)| level),
        Some(Level::Encrypt)
    );
    assert_eq!(
        lookup(&table, "[lmtp.example]:24").map(|(_, level)| level),
        Some(Level::May)
    );
    assert_eq!(
        Destination::parse("[relay.example]:submissions")
            .unwrap()
            .port(),
        465
    );
    // Unknown service names are still errors, with the line.
    let err = PolicyTable::parse("ok.example may\n[relay.example]:imap secure\n").unwrap_err();
    assert_eq!(err.line, 2);
}

/// Issue 18 item 5: a single-valued attribute twice in one entry is an error naming both
/// columns, never a silent "last one wins" (a TLS 1.3-only `protocols=` could vanish).
/// Repeating `match=` and `tafile=` stays allowed, as Postfix documents.
#[test]
fn a_single_valued_attribute_twice_is_an_error() {
    for (line, column, first) in [
        (
            "a.example secure protocols=>=TLSv1.3 protocols=>=TLSv1.2\n",
            38,
            18,
        ),
        (
            "a.example may servername=hostname servername=nexthop\n",
            35,
            15,
        ),
        ("a.example encrypt ciphers=high CIPHERS=medium\n", 32, 19),
        (
            "a.example may connection_reuse=yes connection_reuse=no\n",
            36,
            15,
        ),
    ] {
        let err = PolicyTable::parse(line).unwrap_err();
        assert_eq!((err.line, err.column), (1, column), "{line}");
        assert!(
            matches!(err.kind, TableErrorKind::DuplicateAttribute { first_column, .. } if first_column == first),
            "{line}: {err}"
        );
    }
    PolicyTable::parse("a.example secure match=nexthop match=hostname tafile=/a tafile=/b\n")
        .unwrap();
}

#[test]
fn fingerprint_digests_pick_sha256_or_sha512_by_length() {
    use crate::cert::PinDigest;
    let sha512 = crate::cert::hex_colon(&[0xA5; 64]);
    let table = PolicyTable::parse(&format!(
        "a.example fingerprint match={SHA256_A}|{sha512}\n"
    ))
    .unwrap();
    let digests: Vec<PinDigest> = table
        .get("a.example")
        .unwrap()
        .pins
        .iter()
        .map(crate::cert::Pin::digest)
        .collect();
    assert_eq!(digests, [PinDigest::Sha256, PinDigest::Sha512]);
    assert!(table.warnings().is_empty());

    // Any other length is an error pointing at the digest, never a pin that cannot match:
    // SHA-1 (20 bytes), MD5 (16), one byte too many (33), one too few (63).
    let sha1 = crate::cert::hex_colon(&[0x11; 20]);
    let md5 = crate::cert::hex_colon(&[0x22; 16]);
    let long = crate::cert::hex_colon(&[0x33; 33]);
    let short = "44".repeat(63);
    let cases = [
        (
            format!("a.example fingerprint match={sha1}\n"),
            1,
            29,
            &sha1,
            20,
        ),
        (
            format!("ok.example may\n\nb.example   fingerprint\n  match={SHA256_A}|{long}\n"),
            4,
            // "  match=" is 8 bytes, the SHA-256 digest 95, then "|".
            3 + 6 + 95 + 1,
            &long,
            33,
        ),
        (
            format!("c.example fingerprint match={SHA256_A} match={md5}\n"),
            1,
            29 + 95 + 1 + 6,
            &md5,
            16,
        ),
        (
            format!("d.example fingerprint match={short}\n"),
            1,
            29,
            &short,
            63,
        ),
    ];
    for (text, line, column, digest, len) in cases {
        let err = PolicyTable::parse(&text).unwrap_err();
        assert_eq!(
            err,
            TableError {
                line,
                column,
                kind: TableErrorKind::DigestLength {
                    digest: digest.clone(),
                    len,
                },
            },
            "{text:?}: {err}"
        );
        assert!(
            err.to_string()
                .contains("a fingerprint is 32 bytes (SHA-256) or 64 bytes (SHA-512)"),
            "{err}"
        );
    }
    // In braces, the error points at the brace.
    let err =
        PolicyTable::parse(&format!("e.example fingerprint {{ match = {sha1} }}\n")).unwrap_err();
    assert_eq!((err.line, err.column), (1, 23), "{err}");
    assert!(matches!(
        err.kind,
        TableErrorKind::DigestLength { len: 20, .. }
    ));
}
