//! Abuse limits over expiring counters: at most N events per subject per fixed time window.

use crate::clock::Clock;
use crate::ports::CounterStore;
use crate::{Error, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// One rule: at most `max` events per `window` for one subject (a client IP, a country, a
/// caller, or everyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Names the counter (`otp-ip`, `otp-country`, …): part of its key.
    pub name: &'static str,
    pub max: u32,
    pub window: TimeDelta,
    /// The error code of the 429 when the limit is reached.
    pub code: &'static str,
}

/// Counts events against [`Rule`]s. Windows are fixed (aligned to the epoch): simple,
/// one conditional write per event; a burst at a window's end and the next one's start can
/// reach twice `max` within one window's length, which every limit here tolerates.
pub struct RateLimits {
    counters: Arc<dyn CounterStore>,
    clock: Arc<dyn Clock>,
}

impl RateLimits {
    pub fn new(counters: Arc<dyn CounterStore>, clock: Arc<dyn Clock>) -> Self {
        Self { counters, clock }
    }

    /// Counts one event of `rule` for `subject`; 429 (`rule.code`, with `Retry-After` = the
    /// rest of the window) when the window's count already is at `rule.max`.
    pub async fn take(&self, rule: &Rule, subject: &str) -> Result<(), Error> {
        let now = self.clock.now();
        let (index, ends) = window(now, rule.window);
        let key = format!("{}#{subject}#{index}", rule.name);
        match self.counters.take(&key, rule.max, ends).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict { .. }) => Err(Error::RateLimited {
                code: rule.code,
                message: format!(
                    "too many requests: at most {} per {}; try again later",
                    rule.max,
                    describe(rule.window)
                ),
                retry_after: (ends - now).to_std().unwrap_or_default(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// The fixed window `now` falls in: its number since the epoch and when it ends.
fn window(now: DateTime<Utc>, length: TimeDelta) -> (i64, DateTime<Utc>) {
    let secs = length.num_seconds().max(1);
    let index = now.timestamp().div_euclid(secs);
    let ends = DateTime::from_timestamp((index + 1) * secs, 0).unwrap_or(now);
    (index, ends)
}

fn describe(window: TimeDelta) -> String {
    match window.num_seconds() {
        60 => "minute".into(),
        3600 => "hour".into(),
        86_400 => "day".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::memory::MemoryCounters;

    const RULE: Rule = Rule {
        name: "test",
        max: 3,
        window: TimeDelta::hours(1),
        code: "test_limited",
    };

    #[tokio::test]
    async fn a_subject_gets_max_events_per_window_then_429_until_the_next_window() {
        let clock = Arc::new(ManualClock::starting_now());
        let limits = RateLimits::new(Arc::new(MemoryCounters::new(clock.clone())), clock.clone());
        for _ in 0..3 {
            limits.take(&RULE, "a").await.unwrap();
        }
        let Err(Error::RateLimited {
            code, retry_after, ..
        }) = limits.take(&RULE, "a").await
        else {
            panic!("the fourth event is refused");
        };
        assert_eq!(code, "test_limited");
        let (_, ends) = window(clock.now(), RULE.window);
        assert_eq!(retry_after, (ends - clock.now()).to_std().unwrap());
        assert!(retry_after <= std::time::Duration::from_secs(3600));
        limits.take(&RULE, "b").await.expect("another subject");
        clock.advance(TimeDelta::milliseconds(retry_after.as_millis() as i64));
        limits.take(&RULE, "a").await.expect("the next window");
    }
}
