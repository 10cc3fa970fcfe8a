use super::{lock, page_after};
use crate::StoreError;
use crate::domain::UserId;
use crate::ports::{Block, BlockStore, Page, PageRequest, decode_cursor};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// [`BlockStore`] in memory: blocks by (blocker, blocked), in id order like the table's sort
/// key.
#[derive(Default)]
pub struct MemoryBlocks(Mutex<BTreeMap<(UserId, UserId), Block>>);

#[async_trait]
impl BlockStore for MemoryBlocks {
    async fn put(&self, block: &Block) -> Result<Block, StoreError> {
        Ok(lock(&self.0)
            .entry((block.blocker, block.blocked))
            .or_insert_with(|| block.clone())
            .clone())
    }

    async fn delete(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        lock(&self.0).remove(&(*blocker, *blocked));
        Ok(())
    }

    async fn get(&self, blocker: &UserId, blocked: &UserId) -> Result<Option<Block>, StoreError> {
        Ok(lock(&self.0).get(&(*blocker, *blocked)).cloned())
    }

    async fn list(&self, blocker: &UserId, page: &PageRequest) -> Result<Page<Block>, StoreError> {
        let after: Option<String> = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let map = lock(&self.0);
        let items = map
            .values()
            .filter(|b| b.blocker == *blocker)
            .map(|b| (b.blocked.to_string(), b.clone()))
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a));
        Ok(page_after(items, page.limit, |k: &String| k.clone()))
    }

    async fn existing(
        &self,
        pairs: &[(UserId, UserId)],
    ) -> Result<Vec<(UserId, UserId)>, StoreError> {
        let map = lock(&self.0);
        Ok(pairs
            .iter()
            .filter(|p| map.contains_key(p))
            .copied()
            .collect())
    }
}
