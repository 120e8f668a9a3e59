//! INTERIM: EHLO reply and DATA reader until mailtls::smtp lands them.

use crate::smtp::{Code, Reply};

pub(crate) struct Capabilities {
    pub(crate) size: u64,
    pub(crate) starttls: bool,
    pub(crate) require_tls: bool,
}

pub(crate) fn ehlo_reply(hostname: &str, caps: &Capabilities) -> Reply {
    let mut lines = vec![
        hostname.to_owned(),
        "PIPELINING".into(),
        format!("SIZE {}", caps.size),
        "8BITMIME".into(),
        "ENHANCEDSTATUSCODES".into(),
    ];
    if caps.starttls {
        lines.push("STARTTLS".into());
    }
    if caps.require_tls {
        lines.push("REQUIRETLS".into());
    }
    Reply::fixed(Code::OK, None, &lines.join("\n"))
}

#[derive(Debug, Default)]
pub(crate) struct DataReader {
    state: u8,
}

impl DataReader {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    /// state: 0 = start of line, 1 = mid line, 2 = saw CR mid, 3 = saw '.' at start, 4 = saw ".\r"
    pub(crate) fn read(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            match (self.state, b) {
                (3, b'\r') => self.state = 4,
                (4, b'\n') => return (i + 1, true),
                (4, _) => {
                    out.extend_from_slice(b"\r");
                    self.state = 1;
                    out.push(b);
                }
                (3, _) => {
                    out.push(b);
                    self.state = if b == b'\r' { 2 } else { 1 };
                }
                (0, b'.') => self.state = 3,
                (_, b'\r') => {
                    out.push(b);
                    self.state = 2;
                }
                (2, b'\n') => {
                    out.push(b);
                    self.state = 0;
                }
                _ => {
                    out.push(b);
                    self.state = 1;
                }
            }
        }
        (input.len(), false)
    }
}
