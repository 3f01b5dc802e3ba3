//! Incremental UTF-8 validation (RFC 6455 §8.1) that fails fast.
//!
//! A text message arrives in pieces: several frames, each in several reads. The validator
//! checks each piece once, as it arrives, keeping at most three bytes of an unfinished
//! character between pieces, so total work is linear and an invalid sequence is reported on the
//! piece where it becomes certainly invalid, not at the end of the message (Autobahn 6.4.x).
//! A prefix that can still become valid (such as `F0 9F`) is held; one that cannot (such as
//! `F4 90`, above U+10FFFF, or `ED A0`, a surrogate) is refused at once.

use simdutf8::compat::from_utf8;

/// `bytes` as text, if they are all UTF-8: how the core reads a whole request head or a line
/// of text at once. simdutf8's check, as for messages: for a typical upgrade request's head
/// (150 bytes) about 140 instructions where `core::str::from_utf8` takes about 240
/// (callgrind); below 64 bytes it is the same check.
pub fn str_of(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

/// The bytes are not UTF-8 (close 1007 on a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a stream of bytes piece by piece.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The unfinished character carried over from the previous piece.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub const fn new() -> Utf8Validator {
        Utf8Validator {
            partial: [0; 4],
            partial_len: 0,
        }
    }

    /// Validates the next piece. `Err` means the stream so far can never be UTF-8.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            bytes = self.complete_partial(bytes)?;
        }
        match from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // The piece ends inside a character that can still be completed.
                let tail = &bytes[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the stream: an unfinished character at the end is invalid.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let done = self.partial_len == 0;
        self.partial_len = 0;
        if done { Ok(()) } else { Err(InvalidUtf8) }
    }

    /// Whether the stream so far ends on a character boundary.
    pub const fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Adds bytes to the carried character until it is complete, certainly invalid, or the
    /// piece runs out; returns the rest of the piece.
    fn complete_partial<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = usize::from(self.partial_len);
        let width = match self.partial[0] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let take = (width - have).min(bytes.len());
        self.partial[have..have + take].copy_from_slice(&bytes[..take]);
        let now = have + take;
        match from_utf8(&self.partial[..now]) {
            Ok(_) => {
                self.partial_len = 0;
                Ok(&bytes[take..])
            }
            Err(e) if e.error_len().is_none() => {
                // Still unfinished: only possible when the piece ran out.
                self.partial_len = now as u8;
                Ok(&bytes[take..])
            }
            Err(_) => Err(InvalidUtf8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            let cut = cut.clamp(start, bytes.len());
            v.feed(&bytes[start..cut])?;
            start = cut;
        }
        v.finish()
    }

    #[test]
    fn accepts_characters_split_at_every_point() {
        let text = "aé€😀z".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(fed_in_pieces(text, &[a, b]), Ok(()), "cuts {a} {b}");
            }
        }
        // One byte at a time.
        let mut v = Utf8Validator::new();
        for byte in text {
            v.feed(core::slice::from_ref(byte)).unwrap();
        }
        v.finish().unwrap();
    }

    #[test]
    fn fails_fast_on_a_certainly_invalid_prefix() {
        for bad in [
            &b"\xF4\x90"[..],
            b"\xED\xA0",
            b"\xC0",
            b"\xC1\xBF",
            b"\xF5",
            b"\xFF",
            b"\x80",
            b"\xE0\x80",
        ] {
            let mut v = Utf8Validator::new();
            let mut failed = false;
            for byte in bad {
                if v.feed(core::slice::from_ref(byte)).is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "{bad:x?} not refused before the end");
        }
    }

    #[test]
    fn holds_a_prefix_that_can_still_complete() {
        let mut v = Utf8Validator::new();
        v.feed(b"ok\xF0\x9F").unwrap();
        assert!(!v.is_complete());
        v.feed(b"\x98").unwrap();
        v.feed(b"\x80!").unwrap();
        assert!(v.is_complete());
    }

    #[test]
    fn an_unfinished_character_at_the_end_is_invalid() {
        let mut v = Utf8Validator::new();
        v.feed(b"abc\xE2\x82").unwrap();
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    #[test]
    fn rejects_overlongs_surrogates_and_beyond_unicode() {
        for bad in [
            &b"\xC0\xAF"[..],
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xE0\x80\xAF",
        ] {
            assert_eq!(fed_in_pieces(bad, &[]), Err(InvalidUtf8), "{bad:x?}");
        }
    }

    proptest! {
        /// Heads and lines are longer than simdutf8's 64-byte block, where its check and
        /// `core`'s part ways in code: both must agree on every byte, at every position.
        #[test]
        fn str_of_agrees_with_core(s in "[ -~]{0,300}", junk in any::<u8>(), at in any::<prop::sample::Index>()) {
            prop_assert_eq!(str_of(s.as_bytes()), Some(s.as_str()));
            let mut bytes = s.into_bytes();
            bytes.insert(at.index(bytes.len() + 1), junk);
            prop_assert_eq!(str_of(&bytes), core::str::from_utf8(&bytes).ok());
        }

        #[test]
        fn agrees_with_std_however_split(bytes in proptest::collection::vec(any::<u8>(), 0..40),
                                         cuts in proptest::collection::vec(0usize..40, 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let expected = core::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(fed_in_pieces(&bytes, &cuts).is_ok(), expected);
        }

        #[test]
        fn agrees_with_std_on_mostly_valid_text(s in "\\PC{0,20}", junk in any::<u8>(), at in any::<prop::sample::Index>(),
                                                cut in any::<prop::sample::Index>()) {
            let mut bytes = s.into_bytes();
            let at = at.index(bytes.len() + 1);
            bytes.insert(at, junk);
            let cut = cut.index(bytes.len() + 1);
            prop_assert_eq!(fed_in_pieces(&bytes, &[cut]).is_ok(), core::str::from_utf8(&bytes).is_ok());
        }
    }
}
