//! Finding the end of an HTTP head in a growing buffer, in linear time.
//!
//! The head is only handed to `httparse` once it is complete, so a head that arrives a byte at
//! a time is scanned once in total, not once per read (the tungstenite CVE-2023-43669 pattern).
//! The scanner enforces the line, byte and field-count caps while bytes are still arriving.

use crate::Limits;

/// Why a head was refused before it was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadOverflow {
    /// The first line passed `max_request_line`.
    FirstLine,
    /// The head passed `max_header_bytes`.
    Bytes,
    /// The head has more than `max_headers` fields.
    Fields,
}

/// Scans a buffer that only ever grows at its end for the blank line ending an HTTP head.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeadScanner {
    /// Bytes already scanned.
    scanned: usize,
    /// Line feeds seen so far.
    lines: usize,
    /// Where the line being scanned starts, until the first line has ended.
    line_start: usize,
    /// Whether the first line has ended.
    first_line_done: bool,
}

impl HeadScanner {
    /// Scans the new part of `buf`; returns the head's length once the blank line is found.
    ///
    /// The caller must pass the same bytes again plus any new ones: the buffer only grows.
    /// A bare LF line ending is tolerated, as RFC 9112 §2.2 allows.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, HeadOverflow> {
        let max_lines = limits.max_headers.min(super::MAX_HEADER_SLOTS) + 1;
        let mut i = self.scanned;
        // `memchr` compares 16 bytes at a time (SSE2, in the x86-64 baseline): a byte loop
        // cost a thousand instructions on a browser's head.
        while let Some(pos) = memchr::memchr(b'\n', &buf[i..]) {
            let lf = i + pos;
            i = lf + 1;
            if !self.first_line_done {
                if matches!(&buf[self.line_start..lf], b"" | b"\r") {
                    // RFC 9112 §2.2: empty lines before the start line are ignored (as the
                    // parser does); they count towards `max_header_bytes` only.
                    self.line_start = i;
                    continue;
                }
                self.first_line_done = true;
                if i - self.line_start > limits.max_request_line {
                    return Err(HeadOverflow::FirstLine);
                }
            }
            let blank = lf >= 1 && buf[lf - 1] == b'\n'
                || lf >= 2 && buf[lf - 1] == b'\r' && buf[lf - 2] == b'\n';
            if blank {
                if i > limits.max_header_bytes {
                    return Err(HeadOverflow::Bytes);
                }
                self.scanned = i;
                return Ok(Some(i));
            }
            self.lines += 1;
            if self.lines > max_lines {
                return Err(HeadOverflow::Fields);
            }
        }
        self.scanned = buf.len();
        if !self.first_line_done && buf.len() - self.line_start > limits.max_request_line {
            return Err(HeadOverflow::FirstLine);
        }
        if buf.len() > limits.max_header_bytes {
            return Err(HeadOverflow::Bytes);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nextra";

    #[test]
    fn finds_the_end_however_the_bytes_arrive() {
        let limits = Limits::DEFAULT;
        for step in 1..HEAD.len() {
            let mut scanner = HeadScanner::default();
            let mut found = None;
            let mut end = 0;
            while found.is_none() && end < HEAD.len() {
                end = (end + step).min(HEAD.len());
                found = scanner.scan(&HEAD[..end], &limits).unwrap();
            }
            assert_eq!(found, Some(HEAD.len() - 5), "step {step}");
        }
    }

    #[test]
    fn empty_lines_before_the_first_line_are_skipped_not_counted_as_it() {
        let limits = Limits {
            max_request_line: 16,
            ..Limits::DEFAULT
        };
        let head = b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            HeadScanner::default().scan(head, &limits),
            Ok(Some(head.len()))
        );
        // The first line is capped after them, not by them.
        assert_eq!(
            HeadScanner::default().scan(b"\r\nGET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n", &limits),
            Err(HeadOverflow::FirstLine)
        );
        assert_eq!(
            HeadScanner::default().scan(b"\r\nGET /aaaaaaaaaaaaaaaaaaaa", &limits),
            Err(HeadOverflow::FirstLine)
        );
        // Only empty lines are no head at all, however many: `max_header_bytes` bounds them.
        let mut scanner = HeadScanner::default();
        let empties = b"\r\n".repeat(8);
        assert_eq!(scanner.scan(&empties, &limits), Ok(None));
        let endless = b"\r\n".repeat(Limits::DEFAULT.max_header_bytes);
        assert_eq!(
            HeadScanner::default().scan(&endless, &limits),
            Err(HeadOverflow::Bytes)
        );
    }

    #[test]
    fn accepts_bare_lf_line_endings() {
        let mut scanner = HeadScanner::default();
        assert_eq!(
            scanner.scan(b"GET / HTTP/1.1\nHost: a\n\n", &Limits::DEFAULT),
            Ok(Some(24))
        );
    }

    #[test]
    fn caps_the_first_line_the_bytes_and_the_fields() {
        let limits = Limits {
            max_request_line: 16,
            max_header_bytes: 64,
            max_headers: 2,
            ..Limits::DEFAULT
        };
        assert_eq!(
            HeadScanner::default().scan(&[b'a'; 17], &limits),
            Err(HeadOverflow::FirstLine)
        );
        assert_eq!(
            HeadScanner::default().scan(b"GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\n", &limits),
            Err(HeadOverflow::FirstLine)
        );
        assert_eq!(
            HeadScanner::default().scan(b"GET / HTTP/1.1\r\na: b\r\nc: d\r\ne: f\r\n", &limits),
            Err(HeadOverflow::Fields)
        );
        let long_header = [&b"GET / HTTP/1.1\r\nx: "[..], &[b'y'; 60]].concat();
        assert_eq!(
            HeadScanner::default().scan(&long_header, &limits),
            Err(HeadOverflow::Bytes)
        );
    }
}
