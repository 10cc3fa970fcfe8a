use super::{Page, PageRequest};
use crate::StoreError;
use crate::domain::UserId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// `blocker` blocked `blocked` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub blocker: UserId,
    pub blocked: UserId,
    pub at: DateTime<Utc>,
}

/// Who blocked whom. One item per pair, written and deleted idempotently.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// Records the block; blocking again keeps the first time. Returns the stored block.
    async fn put(&self, block: &Block) -> Result<Block, StoreError>;
    /// Removes the block, if any (idempotent).
    async fn delete(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError>;
    /// The block of `blocked` by `blocker`, if any.
    async fn get(&self, blocker: &UserId, blocked: &UserId) -> Result<Option<Block>, StoreError>;
    /// The blocks of `blocker`, in the order of the blocked users' ids, paged.
    async fn list(&self, blocker: &UserId, page: &PageRequest) -> Result<Page<Block>, StoreError>;
    /// Which of `pairs` (blocker, blocked) are blocks, read together (batched).
    async fn existing(
        &self,
        pairs: &[(UserId, UserId)],
    ) -> Result<Vec<(UserId, UserId)>, StoreError>;
}
