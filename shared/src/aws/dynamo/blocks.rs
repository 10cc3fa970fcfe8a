use super::{Item, batch_get_all, from_item, get_item, keys, pk_sk_key, s, unavailable};
use crate::StoreError;
use crate::domain::UserId;
use crate::ports::{Block, BlockStore, Page, PageRequest, decode_cursor};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `blocks` table: `USER#<blocker>` / `BLOCKED#<blocked>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockItem {
    pk: String,
    sk: String,
    blocker_id: UserId,
    blocked_id: UserId,
    blocked_at: DateTime<Utc>,
}

impl From<&Block> for BlockItem {
    fn from(b: &Block) -> Self {
        Self {
            pk: keys::blocks_pk(&b.blocker),
            sk: keys::block_sk(&b.blocked),
            blocker_id: b.blocker,
            blocked_id: b.blocked,
            blocked_at: b.at,
        }
    }
}

impl From<BlockItem> for Block {
    fn from(i: BlockItem) -> Self {
        Self {
            blocker: i.blocker_id,
            blocked: i.blocked_id,
            at: i.blocked_at,
        }
    }
}

fn block_key(blocker: &UserId, blocked: &UserId) -> Item {
    pk_sk_key(keys::blocks_pk(blocker), keys::block_sk(blocked))
}

/// [`BlockStore`] on the `blocks` table.
#[derive(Clone)]
pub struct DynamoBlocks {
    client: Client,
    table: String,
}

impl DynamoBlocks {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl BlockStore for DynamoBlocks {
    async fn put(&self, block: &Block) -> Result<Block, StoreError> {
        // Blocking again keeps the first time: blockedAt is set only if absent.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(block_key(&block.blocker, &block.blocked)))
            .update_expression(
                "SET blockerId = :a, blockedId = :b, blockedAt = if_not_exists(blockedAt, :t)",
            )
            .expression_attribute_values(":a", s(block.blocker.to_string()))
            .expression_attribute_values(":b", s(block.blocked.to_string()))
            .expression_attribute_values(":t", super::to_value(&block.at)?)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable)?;
        let item = out
            .attributes
            .ok_or_else(|| StoreError::Corrupt("the block's item is missing".into()))?;
        Ok(from_item::<BlockItem>(item)?.into())
    }

    async fn delete(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(block_key(blocker, blocked)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, blocker: &UserId, blocked: &UserId) -> Result<Option<Block>, StoreError> {
        get_item(&self.client, &self.table, block_key(blocker, blocked))
            .await?
            .map(|i| from_item::<BlockItem>(i).map(Block::from))
            .transpose()
    }

    async fn list(&self, blocker: &UserId, page: &PageRequest) -> Result<Page<Block>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::blocks_pk(blocker)))
            .consistent_read(true);
        if let Some(c) = &page.cursor {
            let after: String = decode_cursor(c)?;
            let after = UserId::parse(&after).map_err(|_| StoreError::BadCursor)?;
            query = query.set_exclusive_start_key(Some(block_key(blocker, &after)));
        }
        super::query_page(
            query,
            page.limit,
            |i: BlockItem| (i.blocked_id.to_string(), Block::from(i)),
            |k: &String| k.clone(),
        )
        .await
    }

    async fn existing(
        &self,
        pairs: &[(UserId, UserId)],
    ) -> Result<Vec<(UserId, UserId)>, StoreError> {
        let mut unique = pairs.to_vec();
        unique.sort();
        unique.dedup();
        let keys = unique.iter().map(|(a, b)| block_key(a, b)).collect();
        let found = batch_get_all(&self.client, &self.table, keys).await?;
        found
            .into_iter()
            .map(|i| from_item::<BlockItem>(i).map(|b| (b.blocker_id, b.blocked_id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::to_item;

    #[test]
    fn block_item_golden() {
        let b = Block {
            blocker: UserId::parse("0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10").unwrap(),
            blocked: UserId::parse("7d444840-9dc0-41f1-a0a4-b7f12e8a0e3a").unwrap(),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let item = to_item(&BlockItem::from(&b)).unwrap();
        let str_at = |k: &str| item[k].as_s().unwrap().clone();
        assert_eq!(str_at("pk"), "USER#0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10");
        assert_eq!(str_at("sk"), "BLOCKED#7d444840-9dc0-41f1-a0a4-b7f12e8a0e3a");
        assert_eq!(str_at("blockedAt"), "2023-11-14T22:13:20Z");
        assert_eq!(Block::from(from_item::<BlockItem>(item).unwrap()), b);
    }
}
