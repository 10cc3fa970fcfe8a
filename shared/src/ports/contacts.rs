use super::{Page, PageRequest};
use crate::StoreError;
use crate::domain::{Contact, ContactRequest, RequestId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Contact requests. A pair of users has at most one pending request at a time (either way).
#[async_trait]
pub trait ContactRequestStore: Send + Sync {
    /// Stores a new pending request. `Conflict("pending")` when a request between the two is
    /// pending (either direction); `Conflict("contacts")` when they are contacts already.
    async fn create(&self, request: &ContactRequest) -> Result<(), StoreError>;
    async fn get(&self, id: &RequestId) -> Result<Option<ContactRequest>, StoreError>;
    /// The pending request between `a` and `b`, whichever sent it.
    async fn pending_between(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<Option<ContactRequest>, StoreError>;
    /// Atomically: the pending `request` becomes accepted and both contact rows are written.
    /// `Conflict("state")` when it is no longer pending.
    async fn accept(&self, request: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The pending `request` becomes rejected. `Conflict("state")` when no longer pending.
    async fn reject(&self, request: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Pending requests `user` received, oldest first.
    async fn pending_received(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError>;
    /// Pending requests `user` sent, oldest first.
    async fn pending_sent(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError>;
}

/// Contact rows: one per side of every relationship.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// `owner`'s contacts, in a stable order.
    async fn list(&self, owner: &UserId, page: &PageRequest) -> Result<Page<Contact>, StoreError>;
    async fn get(&self, owner: &UserId, other: &UserId) -> Result<Option<Contact>, StoreError>;
    /// Removes both sides atomically. `Conflict("missing")` when they are not contacts.
    async fn remove(&self, a: &UserId, b: &UserId) -> Result<(), StoreError>;
}

/// Who is online right now (live WebSocket connections).
#[async_trait]
pub trait Presence: Send + Sync {
    async fn online(&self, users: &[UserId]) -> Result<HashSet<UserId>, StoreError>;
}

/// Real-time events to a user's devices (`REQ`, `REQ_ACC`, …). Best effort: the state change
/// that caused an event is already committed, so a failed notification is logged, not fatal.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(
        &self,
        to: &UserId,
        frame: &crate::frames::ServerFrame,
    ) -> Result<(), crate::error::BoxError>;
}
