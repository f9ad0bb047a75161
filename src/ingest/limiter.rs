//! Rate-limited warnings: at most one line per reason per interval, with the
//! number of lines held back since the last one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Decides which warnings to print.
pub struct LogLimiter {
    every: Duration,
    last: HashMap<&'static str, (Instant, u64)>,
}

impl LogLimiter {
    pub fn new(every: Duration) -> Self {
        LogLimiter {
            every,
            last: HashMap::new(),
        }
    }

    /// `Some(suppressed)` when a warning for `reason` may be printed now.
    pub fn allow(&mut self, reason: &'static str, now: Instant) -> Option<u64> {
        match self.last.get_mut(reason) {
            Some((at, held)) if now.duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                let suppressed = *held;
                *at = now;
                *held = 0;
                Some(suppressed)
            }
            None => {
                self.last.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_reason_per_interval() {
        let mut l = LogLimiter::new(Duration::from_secs(1));
        let t = Instant::now();
        assert_eq!(l.allow("parse", t), Some(0));
        assert_eq!(l.allow("parse", t), None);
        assert_eq!(l.allow("late", t), Some(0));
        assert_eq!(l.allow("parse", t + Duration::from_millis(500)), None);
        assert_eq!(l.allow("parse", t + Duration::from_secs(2)), Some(2));
    }
}
