//! [`TokenBucket`]: how many chat messages one client may send.

use std::time::Instant;

/// Allows `burst` messages at once, refilled at `rate` per second: a person typing never
/// notices it, a script flooding a room is refused past the burst.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: u32, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(50, 100, start);
        assert_eq!((0..150).filter(|_| bucket.take(start)).count(), 100);
        // 50 per second: one more every 20 ms.
        assert!(!bucket.take(start + Duration::from_millis(10)));
        assert!(bucket.take(start + Duration::from_millis(31)));
        let later = start + Duration::from_secs(1) + Duration::from_millis(31);
        assert_eq!((0..100).filter(|_| bucket.take(later)).count(), 50);
        // It refills no further than the burst.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!((0..1000).filter(|_| bucket.take(much_later)).count(), 100);
    }
}
