//! Writing into caller buffers: all or nothing, and always say how much room was needed.

use core::fmt;

/// The caller's buffer was too small; nothing usable was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the output needs in total.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "output buffer too small: {} bytes needed", self.needed)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BufferTooSmall {}

/// Text written through [`fmt::Write`] into an array of `N` bytes, without allocating: for
/// text of a known bound (an extension's offer, a log line). A write that does not fit
/// fails and leaves what was written before it.
#[derive(Clone, Copy)]
pub struct FixedText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FixedText<N> {
    /// Empty text.
    pub const fn new() -> Self {
        FixedText {
            bytes: [0; N],
            len: 0,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s are ever written: UTF-8, so the default is never taken.
        crate::utf8::str_of(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> Default for FixedText<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// One ASCII character without encoding it first (the default encodes it as UTF-8 and
    /// writes it as a string).
    fn write_char(&mut self, c: char) -> fmt::Result {
        if !c.is_ascii() {
            return self.write_str(c.encode_utf8(&mut [0; 4]));
        }
        *self.bytes.get_mut(self.len).ok_or(fmt::Error)? = c as u8;
        self.len += 1;
        Ok(())
    }
}

/// Appends to a fixed buffer, counting past its end so the caller learns the size it needs.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }

    pub(crate) fn put_decimal(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    pub(crate) fn header(&mut self, name: &str, value: &[u8]) {
        self.put(name.as_bytes());
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
    }

    pub(crate) fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.len <= self.buf.len() {
            Ok(self.len)
        } else {
            Err(BufferTooSmall { needed: self.len })
        }
    }
}

/// How many bytes [`to_vec`] writes on the stack first: a 101 answer, a refusal or a
/// client's request head usually fits, and is then written once.
#[cfg(feature = "alloc")]
const TO_VEC_STACK: usize = 512;

/// Runs a writer into a vector of exactly the size it writes, for the `*_to_vec`
/// conveniences, so shells need no "resize to `needed` and retry" loops: into a buffer on the
/// stack first, copied out if it fitted; else a second time, into a vector of the size the
/// first run counted.
#[cfg(feature = "alloc")]
pub(crate) fn to_vec(put: impl Fn(&mut Writer<'_>)) -> alloc::vec::Vec<u8> {
    let mut stack = [0u8; TO_VEC_STACK];
    let mut first = Writer::new(&mut stack);
    put(&mut first);
    let needed = match first.finish() {
        Ok(len) => return stack[..len].to_vec(),
        Err(BufferTooSmall { needed }) => needed,
    };
    let mut out = alloc::vec![0u8; needed];
    let mut w = Writer::new(&mut out);
    put(&mut w);
    debug_assert_eq!(w.finish(), Ok(out.len()));
    out
}

#[cfg(test)]
mod tests {
    use core::fmt::Write as _;

    use super::*;

    /// Text up to the array's size is kept; a write past it fails and leaves what was
    /// written before it, whole.
    #[test]
    fn fixed_text_takes_what_fits_and_refuses_the_rest() {
        let mut text = FixedText::<8>::new();
        assert_eq!(text.write_str("abc"), Ok(()));
        assert_eq!(text.write_str("défgh"), Err(fmt::Error));
        assert_eq!(text.as_str(), "abc");
        assert_eq!(text.write_str("dé"), Ok(()));
        assert_eq!(text.write_str("fg"), Ok(()));
        assert_eq!(text.as_str(), "abcdéfg");
        assert_eq!(text.write_str("h"), Err(fmt::Error));
        assert_eq!(text.write_str(""), Ok(()));
        assert_eq!(text.as_str(), "abcdéfg");
        assert_eq!(FixedText::<0>::default().as_str(), "");
    }

    /// A character is written as its UTF-8 bytes, ASCII or not, and one that does not fit
    /// fails whole.
    #[test]
    fn fixed_text_writes_characters() {
        let mut text = FixedText::<4>::new();
        assert_eq!(text.write_char('a'), Ok(()));
        assert_eq!(text.write_char('é'), Ok(()));
        assert_eq!(text.write_char('€'), Err(fmt::Error));
        assert_eq!(text.write_char('z'), Ok(()));
        assert_eq!(text.write_char('!'), Err(fmt::Error));
        assert_eq!(text.as_str(), "aéz");
    }

    #[test]
    fn reports_needed_size_when_too_small() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.put(b"abc");
        w.put(b"def");
        w.put_decimal(1234);
        assert_eq!(w.finish(), Err(BufferTooSmall { needed: 10 }));
    }

    #[test]
    fn to_vec_writes_exactly_what_fits_the_stack_and_what_does_not() {
        for len in [
            0,
            1,
            TO_VEC_STACK - 1,
            TO_VEC_STACK,
            TO_VEC_STACK + 1,
            5 * TO_VEC_STACK,
        ] {
            let bytes: std::vec::Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let out = to_vec(|w| {
                for chunk in bytes.chunks(7) {
                    w.put(chunk);
                }
            });
            assert_eq!(out, bytes, "{len}");
        }
    }

    #[test]
    fn writes_decimals() {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        w.put_decimal(0);
        w.put(b" ");
        w.put_decimal(u64::MAX);
        let n = w.finish().unwrap();
        assert_eq!(&buf[..n], b"0 18446744073709551615");
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn to_vec_sizes_the_output_exactly() {
        let out = to_vec(|w| {
            w.put(b"abc");
            w.put_decimal(42);
        });
        assert_eq!(out, b"abc42");
        assert_eq!(out.capacity(), 5);
    }
}
