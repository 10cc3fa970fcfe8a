//! In-memory implementations of the ports: the local gateway's default and the unit tests'.
//! They follow the DynamoDB adapters' semantics exactly (the contract suite checks).

mod auth;
mod blocks;
mod contacts;
mod groups;
mod limits;
mod media;
mod messages;
mod queue;
mod realtime;
mod stream;

pub use auth::{MemoryOtpStore, MemorySessionStore, MemoryUserStore, SmsOutbox, SmsRecord};
pub use blocks::MemoryBlocks;
pub use contacts::{MemoryContacts, RecordingNotifier};
pub use groups::MemoryGroups;
pub use limits::MemoryCounters;
pub use media::{LOCAL_BLOBS_PATH, MemoryBlobs, MemoryMedia, SignedRequest};
pub use messages::MemoryMessages;
pub use queue::{MAX_RECEIVES, MemoryQueue, QueuedRecord};
pub use realtime::{
    MemoryConnections, MemoryDevices, MemoryLedger, PushRecord, RecordingGateway, RecordingPush,
};
pub use stream::MessageStream;

use crate::ports::Page;
use serde::Serialize;
use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning (no invariant spans a panic in these maps).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One page out of `items` (ordered, starting after the cursor): reads `limit + 1` like the
/// DynamoDB adapters and pages through the same [`Page::from_overfetch`].
pub(crate) fn page_after<K, T, C: Serialize>(
    items: impl Iterator<Item = (K, T)>,
    limit: usize,
    cursor: impl Fn(&K) -> C,
) -> Page<T> {
    Page::from_overfetch(items.take(limit + 1).collect(), limit, cursor)
}
