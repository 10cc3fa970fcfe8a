//! Jittered exponential backoff for a write that lost a race inside one request.
//!
//! Backoff waits in real time (`tokio::time`), never on the injected [`crate::clock::Clock`]:
//! that clock is business time (timestamps, expiry) and a manual one would never move.

use std::time::Duration;
use tokio::time::Instant;

/// How to retry: after try `n` (from 0) wait a random time in `0..min(cap, base·2ⁿ)` ("full
/// jitter", so racing writers spread out instead of colliding again), for at most `attempts`
/// tries in all, and give up rather than start a wait that would end past `budget` after the
/// first try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub attempts: u32,
    pub budget: Duration,
}

impl Backoff {
    /// Writers racing on the same rows, e.g. a phone flushing its outbox into one
    /// conversation. One conversation commits one send at a time (DynamoDB cancels
    /// overlapping transactions on an item), so the last of 50 parallel sends may wait for
    /// the other 49 plus their lost tries: the budget is sized for that. No try starts later
    /// than 5 s after the first, which leaves the try in flight and the rest of the request
    /// half of a 10 s Lambda timeout.
    pub const CONTENTION: Backoff = Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(160),
        attempts: 32,
        budget: Duration::from_secs(5),
    };

    /// Starts counting tries.
    pub fn start(self) -> Retry {
        Retry {
            policy: self,
            tries: 1,
            started: Instant::now(),
        }
    }

    /// The longest wait after try `n` (from 0).
    fn ceiling(&self, n: u32) -> Duration {
        self.base
            .checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

/// The tries of one operation under a [`Backoff`].
#[derive(Debug)]
pub struct Retry {
    policy: Backoff,
    tries: u32,
    started: Instant,
}

impl Retry {
    /// Waits before the next try and counts it; `false` (without waiting) when the tries or
    /// the time budget are spent.
    pub async fn pause(&mut self) -> bool {
        if self.tries >= self.policy.attempts {
            return false;
        }
        let ceiling = self.policy.ceiling(self.tries - 1);
        let micros = u32::try_from(ceiling.as_micros())
            .unwrap_or(u32::MAX)
            .max(1);
        let wait = Duration::from_micros(u64::from(crate::crypto::random_below(micros)));
        if self.started.elapsed() + wait > self.policy.budget {
            return false;
        }
        tokio::time::sleep(wait).await;
        self.tries += 1;
        true
    }

    /// Tries made so far, the first included.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// Time since the first try.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(160),
        attempts: 10,
        budget: Duration::from_secs(60),
    };

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let ms: Vec<u128> = (0..8).map(|n| POLICY.ceiling(n).as_millis()).collect();
        assert_eq!(ms, vec![5, 10, 20, 40, 80, 160, 160, 160]);
        assert_eq!(POLICY.ceiling(40), POLICY.cap, "no overflow");
    }

    /// Real (short) sleeps: the waits are wall-clock time by design.
    #[tokio::test]
    async fn pauses_stop_after_the_last_attempt() {
        let policy = Backoff {
            base: Duration::from_micros(100),
            cap: Duration::from_millis(1),
            ..POLICY
        };
        let mut retry = policy.start();
        for n in 1..policy.attempts {
            assert!(retry.pause().await, "pause {n}");
        }
        assert_eq!(retry.tries(), policy.attempts);
        assert!(!retry.pause().await, "the tries are spent");
        assert!(
            retry.elapsed() < Duration::from_millis(500),
            "{:?}",
            retry.elapsed()
        );
    }

    #[tokio::test]
    async fn no_wait_starts_that_would_end_past_the_budget() {
        let policy = Backoff {
            base: Duration::from_millis(2),
            cap: Duration::from_millis(8),
            attempts: u32::MAX,
            budget: Duration::from_millis(30),
        };
        let mut retry = policy.start();
        while retry.pause().await {}
        // Sleeps overshoot a little; the wait that would cross the budget is never started.
        assert!(
            retry.elapsed() < policy.budget + Duration::from_millis(50),
            "{:?}",
            retry.elapsed()
        );
        assert!(retry.tries() > 1);
    }
}
