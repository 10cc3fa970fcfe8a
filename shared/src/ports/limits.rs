use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Counters that expire: the abuse limits (sign-in codes per client IP, per country, overall;
/// directory look-ups per caller). One counter per rule, subject and time window; the window
/// is part of the key, so a counter is never reused after its window.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds one to counter `key` if it is below `limit`, in one conditional write; the
    /// counter may be forgotten after `expires_at`. Returns the new count;
    /// `Conflict("limit")` when the counter already is at `limit` (nothing changes).
    async fn take(
        &self,
        key: &str,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
}
