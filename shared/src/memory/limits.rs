use super::lock;
use crate::StoreError;
use crate::clock::Clock;
use crate::ports::CounterStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// [`CounterStore`] in memory. Expired counters are dropped when the map is next written
/// (DynamoDB's TTL deletes them eventually; a window's counter is never read after it).
pub struct MemoryCounters {
    counters: Mutex<HashMap<String, (u32, DateTime<Utc>)>>,
    clock: Arc<dyn Clock>,
}

impl MemoryCounters {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            counters: Mutex::default(),
            clock,
        }
    }
}

#[async_trait]
impl CounterStore for MemoryCounters {
    async fn take(
        &self,
        key: &str,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let now = self.clock.now();
        let mut map = lock(&self.counters);
        map.retain(|_, (_, exp)| *exp > now);
        let entry = map.entry(key.to_owned()).or_insert((0, expires_at));
        if entry.0 >= limit {
            return Err(StoreError::conflict("limit"));
        }
        entry.0 += 1;
        entry.1 = expires_at;
        Ok(entry.0)
    }
}
