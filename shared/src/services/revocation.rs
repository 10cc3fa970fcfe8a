//! Revocation on every request: an access token of a revoked session stops working within a
//! bound of seconds, not at its 15-minute expiry. Each process checks the session store and
//! remembers the answer for at most the bound (one read per session per bound per warm
//! Lambda, not one per request).

use crate::Error;
use crate::clock::Clock;
use crate::domain::SessionId;
use crate::ports::SessionStore;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most sessions remembered per process; beyond it the memory starts over (a cold start's
/// worth of reads).
const MAX_CACHED: usize = 10_000;

/// Checks that a session is live, remembering each answer for `bound`.
pub struct SessionCheck {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    bound: TimeDelta,
    seen: Mutex<HashMap<SessionId, (DateTime<Utc>, bool)>>,
}

impl SessionCheck {
    /// `bound`: how long a revoked session's tokens may still work (0: check every request).
    pub fn new(sessions: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, bound: TimeDelta) -> Self {
        Self {
            sessions,
            clock,
            bound,
            seen: Mutex::default(),
        }
    }

    /// 401 `session_revoked` if `id` was revoked (logout, a reused refresh token) or is gone,
    /// as of at most `bound` ago.
    pub async fn live(&self, id: &SessionId) -> Result<(), Error> {
        let now = self.clock.now();
        let cached = crate::memory::lock(&self.seen)
            .get(id)
            .filter(|(at, _)| now - *at < self.bound)
            .map(|(_, live)| *live);
        let live = match cached {
            Some(live) => live,
            None => {
                let live = self.sessions.get(id).await?.is_some_and(|s| !s.revoked);
                let mut seen = crate::memory::lock(&self.seen);
                if seen.len() >= MAX_CACHED {
                    seen.clear();
                }
                seen.insert(*id, (now, live));
                live
            }
        };
        if live {
            Ok(())
        } else {
            Err(Error::unauthorized(
                "session_revoked",
                "this session has ended; sign in again",
            ))
        }
    }
}
