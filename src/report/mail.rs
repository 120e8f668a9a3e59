//! The report as a mail message (RFC 8460 §5.3): `multipart/report; report-type="tlsrpt"`, a
//! short text part, and the gzipped JSON as `application/tlsrpt+gzip`, base64-encoded.

use core::fmt::Write as _;

use super::aggregate::{Report, ReportPeriod};
use crate::smtp::Mailbox;
use crate::time::Timestamp;

/// The envelope and header facts of a report mail that come from the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportMail {
    /// `From:` (and the envelope sender): a mailbox of the reporting organisation.
    pub from: String,
    /// `To:`: the address from the policy domain's `mailto:` `rua`, percent-decoded.
    pub to: String,
    /// `TLS-Report-Submitter:`: the domain of the sending MTA (or its organisation).
    pub submitter: String,
    /// `Date:`.
    pub date: Timestamp,
    /// `Message-ID:`, without the angle brackets; unique per message.
    pub message_id: String,
}

/// A report mail that cannot be written without letting a value escape its header.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportMailError {
    /// A value holds a line break, a control character or a non-ASCII character (a `rua`
    /// in DNS is attacker-controlled text).
    #[error("the report mail's {field} holds a character a header may not: {shown}")]
    BadHeaderValue {
        /// Which header.
        field: &'static str,
        /// The value, its control characters left out, at most 80 characters.
        shown: String,
    },
    /// `From:` or `To:` is not an SMTP mailbox.
    #[error("the report mail's {field} is not a mailbox: {reason}")]
    BadMailbox {
        /// Which header.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Percent-decodes the address of a `mailto:` `rua` (RFC 6068): `%40` is `@`, and so on.
/// `None` when an escape is malformed or the result is not UTF-8. Query parts (`?subject=`)
/// are dropped: a report destination is the address alone.
pub fn mailto_address(uri_path: &str) -> Option<String> {
    let path = uri_path.split('?').next().unwrap_or_default();
    let mut out = Vec::with_capacity(path.len());
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Writes the report mail: headers (`TLS-Report-Domain`, `TLS-Report-Submitter`, the
/// RFC 8460 §5.3 `Subject`, and `TLS-Required: No` so no recipient TLS policy blocks a report
/// about broken TLS, RFC 8460 §3 and RFC 8689 §5), a text part, and `gzipped` as the
/// `application/tlsrpt+gzip` attachment named by [`Report::file_name`] plus `.gz` (§5.1).
/// Lines end in CRLF; the body is 7-bit.
pub fn report_message(
    report: &Report,
    period: ReportPeriod,
    mail: &ReportMail,
    gzipped: &[u8],
) -> Result<Vec<u8>, ReportMailError> {
    let domain = report
        .policies
        .first()
        .map(|p| p.policy.policy_domain.as_str())
        .unwrap_or_default();
    for (field, value) in [
        ("From", mail.from.as_str()),
        ("To", mail.to.as_str()),
        ("TLS-Report-Submitter", mail.submitter.as_str()),
        ("Message-ID", mail.message_id.as_str()),
        ("TLS-Report-Domain", domain),
        ("Report-ID", report.report_id.as_str()),
    ] {
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) || value.contains(['<', '>']) {
            return Err(ReportMailError::BadHeaderValue {
                field,
                shown: value.chars().filter(|c| !c.is_control()).take(80).collect(),
            });
        }
    }
    for (field, value) in [("From", &mail.from), ("To", &mail.to)] {
        Mailbox::parse(value).map_err(|e| ReportMailError::BadMailbox {
            field,
            reason: e.to_string(),
        })?;
    }
    let file = format!("{}.gz", report.file_name(&mail.submitter, period));
    let boundary = format!(
        "----=_mailtls_tlsrpt_{}",
        report
            .report_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect::<String>()
    );
    let mut m = String::with_capacity(1024 + gzipped.len() * 4 / 3);
    // Writing to a String cannot fail.
    let _ = write!(
        m,
        "From: <{from}>\r\n\
         To: <{to}>\r\n\
         Date: {date}\r\n\
         Message-ID: <{mid}>\r\n\
         Subject: Report Domain: {domain}\r\n \
         Submitter: {submitter}\r\n \
         Report-ID: <{rid}>\r\n\
         TLS-Report-Domain: {domain}\r\n\
         TLS-Report-Submitter: {submitter}\r\n\
         TLS-Required: No\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n \
         boundary=\"{boundary}\"\r\n\
         \r\n\
         This is a multipart message in MIME format.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=\"us-ascii\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         This is an aggregate TLS report from {submitter} for {domain},\r\n\
         {start} to {end}.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: application/tlsrpt+gzip\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment;\r\n \
         filename=\"{file}\"\r\n\
         \r\n",
        from = mail.from,
        to = mail.to,
        date = mail.date.rfc5322(),
        mid = mail.message_id,
        submitter = mail.submitter,
        rid = report.report_id,
        start = report.date_range.start_datetime,
        end = report.date_range.end_datetime,
    );
    base64_lines(gzipped, &mut m);
    let _ = write!(m, "\r\n--{boundary}--\r\n");
    Ok(m.into_bytes())
}

/// Base64 (RFC 4648) in lines of 76 characters ending in CRLF (RFC 2045 §6.8).
fn base64_lines(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |v: u32| {
        ALPHABET
            .get((v & 63) as usize)
            .map_or('=', |&b| char::from(b))
    };
    // 57 input bytes make one 76-character line.
    for line in data.chunks(57) {
        for chunk in line.chunks(3) {
            let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
            let n = (b(0) << 16) | (b(1) << 8) | b(2);
            out.push(sextet(n >> 18));
            out.push(sextet(n >> 12));
            out.push(if chunk.len() > 1 { sextet(n >> 6) } else { '=' });
            out.push(if chunk.len() > 2 { sextet(n) } else { '=' });
        }
        out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 §10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg==\r\n"),
            ("fo", "Zm8=\r\n"),
            ("foo", "Zm9v\r\n"),
            ("foob", "Zm9vYg==\r\n"),
            ("fooba", "Zm9vYmE=\r\n"),
            ("foobar", "Zm9vYmFy\r\n"),
        ] {
            let mut out = String::new();
            base64_lines(input.as_bytes(), &mut out);
            assert_eq!(out, expected, "{input}");
        }
        let mut out = String::new();
        base64_lines(&[0u8; 58], &mut out);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines.first().map(|l| l.len()), Some(76));
        assert_eq!(lines.get(1).copied(), Some("AA=="));
    }

    #[test]
    fn mailto_addresses_decode() {
        assert_eq!(
            mailto_address("tlsrpt%40example.com").as_deref(),
            Some("tlsrpt@example.com")
        );
        assert_eq!(
            mailto_address("a@example.com?subject=x").as_deref(),
            Some("a@example.com")
        );
        assert_eq!(mailto_address("a%4"), None);
        assert_eq!(mailto_address("a%zz"), None);
    }
}
