//! What `switchyard connect` prints for each received event: plain (text as is, binary as
//! hex, base64 or raw) or one JSON object a line.

use std::fmt::Write as _;
use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use switchyard::{CloseInfo, Incoming, Message, Response};

use super::args::BinaryAs;

/// The printing settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) jsonl: bool,
    pub(crate) binary_as: BinaryAs,
    /// On a terminal, pongs are shown on stderr (the answer to `/ping`).
    pub(crate) interactive: bool,
}

impl Output {
    /// Prints one event to `out` (stdout), or notes a pong on stderr when interactive.
    pub(crate) fn event(&self, out: &mut impl Write, event: &Incoming) -> io::Result<()> {
        if self.jsonl {
            let line = match event {
                Incoming::Message(Message::Text(text)) => {
                    json!({"type": "text", "len": text.len(), "text": text.as_str()})
                }
                Incoming::Message(Message::Binary(bytes)) => {
                    json!({"type": "binary", "len": bytes.len(), "base64": STANDARD.encode(bytes)})
                }
                Incoming::Ping(bytes) => {
                    json!({"type": "ping", "len": bytes.len(), "base64": STANDARD.encode(bytes)})
                }
                Incoming::Pong(bytes) => {
                    json!({"type": "pong", "len": bytes.len(), "base64": STANDARD.encode(bytes)})
                }
                _ => return Ok(()),
            };
            writeln!(out, "{line}")?;
            return out.flush();
        }
        match event {
            Incoming::Message(Message::Text(text)) => writeln!(out, "{}", text.as_str())?,
            Incoming::Message(Message::Binary(bytes)) => match self.binary_as {
                BinaryAs::Hex => writeln!(out, "{}", hex(bytes))?,
                BinaryAs::Base64 => writeln!(out, "{}", STANDARD.encode(bytes))?,
                BinaryAs::Raw => out.write_all(bytes)?,
            },
            Incoming::Pong(bytes) if self.interactive => {
                eprintln!(
                    "pong ({} bytes): {}",
                    bytes.len(),
                    String::from_utf8_lossy(bytes)
                );
            }
            _ => {}
        }
        out.flush()
    }

    /// The close frame received (in JSON mode, on stdout; otherwise on stderr).
    pub(crate) fn close(&self, out: &mut impl Write, info: &CloseInfo) -> io::Result<()> {
        if self.jsonl {
            let line = json!({"type": "close", "code": info.code.as_u16(), "reason": info.reason});
            writeln!(out, "{line}")?;
            return out.flush();
        }
        if info.reason.is_empty() {
            eprintln!("closed: {}", info.code.as_u16());
        } else {
            eprintln!("closed: {} {}", info.code.as_u16(), info.reason);
        }
        Ok(())
    }
}

/// The handshake for `--show-handshake`: each line of the heads as sent (`> `) and received
/// (`< `), CRLF cut (so the last line of each is empty, the blank line that ends it).
pub(crate) fn handshake(response: &Response) -> String {
    let mut text = String::new();
    match (response.request_head(), response.head()) {
        (Some(request), Some(head)) => {
            for (prefix, head) in [("> ", request), ("< ", head)] {
                let head = String::from_utf8_lossy(head);
                for line in head.strip_suffix("\r\n").unwrap_or(&head).split("\r\n") {
                    let _ = writeln!(text, "{prefix}{line}");
                }
            }
            text.push_str("Sec-WebSocket-Accept verified\n");
        }
        // HTTP/2 (RFC 8441): fields, not heads, and no accept key.
        _ => {
            for (name, value) in response.request_fields().unwrap_or_default() {
                let _ = writeln!(text, "> {name}: {value}");
            }
            let _ = writeln!(text, "< :status: {}", response.status().as_u16());
            for (name, value) in response.headers().iter() {
                let _ = writeln!(text, "< {name}: {}", String::from_utf8_lossy(value));
            }
        }
    }
    text
}

/// Lower-case hex, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Bytes from hex digits, spaces between them allowed (`/binary`).
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_odd_or_foreign_digits() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(unhex("00 AB 7f"), Some(vec![0, 0xab, 0x7f]));
        assert_eq!(unhex(""), Some(vec![]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn prints_each_event_plain_and_as_json() {
        let plain = Output {
            jsonl: false,
            binary_as: BinaryAs::Base64,
            interactive: false,
        };
        let json = Output {
            jsonl: true,
            ..plain
        };
        let text = Incoming::Message(Message::Text("hé".into()));
        let binary = Incoming::Message(Message::Binary(vec![1, 2, 255].into()));
        let mut out = Vec::new();
        for event in [&text, &binary, &Incoming::Ping(vec![].into())] {
            plain.event(&mut out, event).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "hé\nAQL/\n");
        let mut out = Vec::new();
        for event in [&text, &binary, &Incoming::Pong(b"p".to_vec().into())] {
            json.event(&mut out, event).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"len\":3,\"text\":\"hé\",\"type\":\"text\"}\n\
             {\"base64\":\"AQL/\",\"len\":3,\"type\":\"binary\"}\n\
             {\"base64\":\"cA==\",\"len\":1,\"type\":\"pong\"}\n"
        );
    }
}
