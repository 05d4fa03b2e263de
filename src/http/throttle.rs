//! Flood control for the public chat API: a token bucket per key (a chat
//! session, a client address), so one visitor or one address sending too
//! fast gets `429 Too Many Requests` with `Retry-After` while everyone else
//! is served as usual. The buckets are governor's (GCRA); keys not seen for
//! a while are dropped now and then, so a flood of made-up keys cannot grow
//! the table without end.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Checks between sweeps of idle keys.
const SWEEP_EVERY: u64 = 10_000;

pub struct Throttle<K: Hash + Eq + Clone> {
    /// None when the limit is 0 (off).
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// At most `per_minute` a minute per key, in bursts of up to that many;
    /// 0 means no limit.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// Ok if `key` may go ahead now (and counts it), else how long to wait.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_limit_waits_and_others_do_not() {
        let throttle = Throttle::per_minute(3);
        for _ in 0..3 {
            assert!(throttle.check(&"flood").is_ok());
        }
        let wait = throttle.check(&"flood").expect_err("over the limit");
        // One token comes back every 20 seconds.
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(throttle.check(&"someone else").is_ok());
        let off = Throttle::per_minute(0);
        assert!((0..1000).all(|_| off.check(&"x").is_ok()));
    }
}
