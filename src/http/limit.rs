//! Per-integration ingress limits (on-call spec D10): a sliding window of accepted request
//! instants per integration, so one runaway sender cannot starve the rest. In memory: a
//! restart forgets the window, which only ever lets a little more through.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl RateLimiter {
    /// Counts a request for `key` at `now` against `count` per `per`. Over the limit, the
    /// request is not counted and the answer is how many seconds until one slot frees.
    pub fn admit(
        &self,
        key: &str,
        (count, per): (u32, SignedDuration),
        now: Timestamp,
    ) -> Result<(), u64> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let window = windows.entry(key.to_string()).or_default();
        let start = now.saturating_sub(per).unwrap_or(now);
        while window.front().is_some_and(|at| *at <= start) {
            window.pop_front();
        }
        if window.len() >= count as usize {
            let oldest = window.front().copied().unwrap_or(now);
            let frees_at = oldest.saturating_add(per).unwrap_or(now);
            let wait = frees_at.duration_since(now).as_secs().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        window.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let limiter = RateLimiter::default();
        let t0: Timestamp = "2025-06-12T03:00:00Z".parse().unwrap();
        let limit = (3, SignedDuration::from_secs(60));
        for i in 0..3 {
            assert!(
                limiter
                    .admit("k", limit, t0 + SignedDuration::from_secs(i))
                    .is_ok()
            );
        }
        assert_eq!(
            limiter.admit("k", limit, t0 + SignedDuration::from_secs(10)),
            Err(50)
        );
        assert!(
            limiter.admit("other", limit, t0).is_ok(),
            "keys are independent"
        );
        assert!(
            limiter
                .admit("k", limit, t0 + SignedDuration::from_secs(60))
                .is_ok()
        );
        assert!(
            limiter
                .admit("k", limit, t0 + SignedDuration::from_secs(61))
                .is_ok()
        );
        assert!(
            limiter
                .admit("k", limit, t0 + SignedDuration::from_secs(61))
                .is_err()
        );
    }
}
