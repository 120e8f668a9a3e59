//! The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1): whether a policy exists, and its id.

use crate::tlsrpt::txt::{self, TxtSelectError, TxtSyntaxError};

/// The version field every MTA-STS record starts with.
pub const STS_VERSION: &str = "v=STSv1";

/// The longest policy id (RFC 8461 §3.1: `1*32(ALPHA / DIGIT)`).
pub const MAX_ID_LEN: usize = 32;

/// A parsed MTA-STS discovery record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StsRecord {
    /// The policy id: 1 to 32 letters and digits. A new id means a new policy to fetch.
    pub id: String,
}

impl StsRecord {
    /// Parses one record's text (the TXT character-strings concatenated).
    ///
    /// Grammar (RFC 8461 §3.1): `v=STSv1`, then `;`-separated fields with optional whitespace
    /// around the `;`, no whitespace around `=`; `id` is required, may appear once, and is
    /// 1-32 alphanumerics; extension fields are checked against the grammar and ignored.
    pub fn parse(text: &str) -> Result<Self, TxtSyntaxError> {
        let mut id: Option<&str> = None;
        for field in txt::fields(text, STS_VERSION)? {
            if field.name == "id" {
                if id.is_some() {
                    return Err(TxtSyntaxError::DuplicateField {
                        field: "id",
                        column: field.column.saturating_sub(3),
                    });
                }
                let ok = (1..=MAX_ID_LEN).contains(&field.value.len())
                    && field.value.bytes().all(|b| b.is_ascii_alphanumeric());
                if !ok {
                    return Err(TxtSyntaxError::InvalidValue {
                        field: "id".to_owned(),
                        column: field.column,
                        rule: "id: 1*32(ALPHA / DIGIT)",
                    });
                }
                id = Some(field.value);
            } else {
                txt::check_ext_value(&field)?;
            }
        }
        id.map(|id| Self { id: id.to_owned() })
            .ok_or(TxtSyntaxError::MissingField { field: "id" })
    }

    /// Picks and parses the record among all TXT records at `_mta-sts.<domain>`: records not
    /// starting with `v=STSv1` are discarded; if not exactly one remains, or it is invalid,
    /// the domain has no MTA-STS policy available (RFC 8461 §3.1).
    pub fn select<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, TxtSelectError> {
        txt::select(texts, STS_VERSION, Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_vectors() {
        let ok = [
            ("v=STSv1; id=20160831085700Z;", "20160831085700Z"),
            ("v=STSv1;id=a", "a"),
            ("v=STSv1 ; id=abc ; ext=x", "abc"),
            (
                "v=STSv1; id=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            ),
        ];
        for (text, id) in ok {
            assert_eq!(StsRecord::parse(text).unwrap().id, id, "{text}");
        }
        let id_rule = |column| TxtSyntaxError::InvalidValue {
            field: "id".into(),
            column,
            rule: "id: 1*32(ALPHA / DIGIT)",
        };
        let bad = [
            ("v=STSv1;", TxtSyntaxError::EmptyField { column: 9 }),
            (
                "v=STSv1; ext=1",
                TxtSyntaxError::MissingField { field: "id" },
            ),
            ("v=STSv1; id=", id_rule(13)),
            ("v=STSv1; id=abc-def", id_rule(13)),
            ("v=STSv1; id=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", id_rule(13)),
            (
                "v=STSv1; id=a; id=b",
                TxtSyntaxError::DuplicateField {
                    field: "id",
                    column: 16,
                },
            ),
            (
                "v=STSv1; id =a",
                TxtSyntaxError::InvalidName {
                    column: 10,
                    presented: "id ".into(),
                },
            ),
            (
                "v=STSv2; id=a",
                TxtSyntaxError::BadVersion {
                    expected: STS_VERSION,
                },
            ),
        ];
        for (text, err) in bad {
            assert_eq!(StsRecord::parse(text), Err(err), "{text}");
        }
    }

    #[test]
    fn exactly_one_record_must_remain() {
        let good = "v=STSv1; id=1";
        assert_eq!(
            StsRecord::select(["v=spf1 -all", good]),
            Ok(StsRecord { id: "1".into() })
        );
        assert_eq!(
            StsRecord::select([good, "v=STSv1; id=2"]),
            Err(TxtSelectError::Multiple { count: 2 })
        );
        // An invalid second candidate still counts: two candidates, no policy.
        assert_eq!(
            StsRecord::select([good, "v=STSv1; bogus"]),
            Err(TxtSelectError::Multiple { count: 2 })
        );
        assert_eq!(StsRecord::select([]), Err(TxtSelectError::None));
        assert!(matches!(
            StsRecord::select(["v=STSv1; id=a-b"]),
            Err(TxtSelectError::Invalid(_))
        ));
    }
}
