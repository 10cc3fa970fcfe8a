//! In-memory implementations of the ports: the local gateway's default and the unit tests'.
//! They follow the DynamoDB adapters' semantics exactly (the contract suite checks).

mod auth;

pub use auth::{MemoryOtpStore, MemorySessionStore, MemoryUserStore, SmsOutbox, SmsRecord};

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning (no invariant spans a panic in these maps).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
