//! The uploads' metadata: one item per upload in `media` (`MEDIA#<id>`). While an upload is
//! pending it carries `pending` = `P` and `pendingSince` (the sparse `by_pending` index the
//! sweep queries); attaching removes both and adds the chat to the `chats` string set (ADD is
//! idempotent).

use super::{Item, from_item, keys, pk_key, s, store_error, to_item, unavailable};
use crate::StoreError;
use crate::domain::{ConversationId, MediaId, MediaMeta, MediaState, MediaUse};
use crate::ports::MediaStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

pub struct DynamoMedia {
    client: Client,
    table: String,
}

/// The value of `pending` on pending uploads (the index's one partition: sweeps only).
const PENDING: &str = "P";

fn since(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The stored item of `meta`.
pub(crate) fn media_item(meta: &MediaMeta) -> Result<Item, StoreError> {
    let mut item = to_item(meta)?;
    item.remove("chats");
    if !meta.chats.is_empty() {
        item.insert(
            "chats".into(),
            AttributeValue::Ss(meta.chats.iter().map(ToString::to_string).collect()),
        );
    }
    item.insert("pk".into(), s(keys::media_pk(&meta.id)));
    if meta.state == MediaState::Pending {
        item.insert("pending".into(), s(PENDING));
        item.insert("pendingSince".into(), s(since(&meta.created_at)));
    }
    Ok(item)
}

fn media_from_item(mut item: Item) -> Result<MediaMeta, StoreError> {
    let chats = match item.remove("chats") {
        Some(AttributeValue::Ss(ids)) => ids
            .iter()
            .map(|c| {
                ConversationId::parse(c).map_err(|e| StoreError::Corrupt(e.to_string().into()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    for k in ["pk", "pending", "pendingSince"] {
        item.remove(k);
    }
    let mut meta: MediaMeta = from_item(item)?;
    meta.chats = chats;
    meta.chats.sort();
    Ok(meta)
}

impl DynamoMedia {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl MediaStore for DynamoMedia {
    async fn insert(&self, meta: &MediaMeta) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(media_item(meta)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| store_error(e, "exists"))?;
        Ok(())
    }

    async fn get(&self, id: &MediaId) -> Result<Option<MediaMeta>, StoreError> {
        super::get_item(&self.client, &self.table, pk_key(keys::media_pk(id)))
            .await?
            .map(media_from_item)
            .transpose()
    }

    async fn attach(&self, id: &MediaId, to: MediaUse) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(keys::media_pk(id))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":attached", s("attached"));
        let update = match to {
            MediaUse::Chat(chat) => update
                .update_expression(
                    "SET #st = :attached ADD chats :chat REMOVE pending, pendingSince",
                )
                .expression_attribute_values(":chat", AttributeValue::Ss(vec![chat.to_string()])),
            MediaUse::Profile => update
                .update_expression(
                    "SET #st = :attached, profile = :yes REMOVE pending, pendingSince",
                )
                .expression_attribute_values(":yes", AttributeValue::Bool(true)),
        };
        update.send().await.map_err(|e| store_error(e, "missing"))?;
        Ok(())
    }

    async fn pending_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MediaMeta>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(super::tables::MEDIA_BY_PENDING.name)
                .key_condition_expression("pending = :p AND pendingSince < :cutoff")
                .expression_attribute_values(":p", s(PENDING))
                .expression_attribute_values(":cutoff", s(since(&cutoff)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                found.push(media_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    async fn remove_pending(&self, id: &MediaId) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(keys::media_pk(id))))
            .condition_expression("#st = :pending")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await
            .map_err(|e| store_error(e, "attached"));
        match deleted {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MediaType, UserId};

    /// The stored item, attribute by attribute: the template's and the sweep's contract.
    #[test]
    fn golden_pending_item() {
        let id = MediaId::parse("0b5c6a36-8a4c-4a3e-9f2e-2d2b9d4f6a11").unwrap();
        let owner = UserId::parse("8dc6cd40-e514-42b6-acb2-873e5cf39b7e").unwrap();
        let meta = MediaMeta {
            id,
            owner,
            content_type: MediaType::parse("image/png").unwrap(),
            size: 42,
            file_name: Some("cat.png".into()),
            state: MediaState::Pending,
            created_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
            chats: vec![],
            profile: false,
        };
        let item = media_item(&meta).unwrap();
        let mut names: Vec<_> = item.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "contentType",
                "createdAt",
                "fileName",
                "id",
                "owner",
                "pending",
                "pendingSince",
                "pk",
                "size",
                "state"
            ]
        );
        assert_eq!(item["pk"], s("MEDIA#0b5c6a36-8a4c-4a3e-9f2e-2d2b9d4f6a11"));
        assert_eq!(item["pending"], s("P"));
        assert_eq!(item["pendingSince"], s("2026-01-02T03:04:05.000000Z"));
        assert_eq!(item["state"], s("pending"));
        assert_eq!(item["size"], AttributeValue::N("42".into()));
        assert_eq!(media_from_item(item).unwrap(), meta);
    }
}
