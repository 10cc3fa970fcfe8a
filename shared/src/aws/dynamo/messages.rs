use super::keys;
use super::tables::CONVERSATIONS_BY_ACTIVITY;
use super::{Item, batch_get, codec, from_item, n, s, store_error, to_item, transaction_error};
use crate::StoreError;
use crate::domain::{Act, Conversation, ConversationId, Message, MessageId, UserId};
use crate::ports::{DedupGuard, HistoryRange, MessageChange, MessageStore, RateGate};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// How long a dedup guard lasts: a client retrying a send later than this gets a new message.
pub const DEDUP_TTL: TimeDelta = TimeDelta::days(30);

/// `messages` table: `CONV#<conversation>` / `MSG#<id>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    message: Message,
}

impl MessageItem {
    pub(crate) fn new(m: &Message) -> Self {
        Self {
            pk: keys::conversation_messages_pk(&m.conversation_id),
            sk: keys::message_sk(&m.id),
            message: m.clone(),
        }
    }
}

/// The `messages` table's stream image of a committed message: the item DynamoDB wrote,
/// as Lambda's DynamoDB event carries it (`NewImage`). The local gateway's stream event source
/// builds its events with it.
pub fn stream_image(m: &Message) -> Result<serde_dynamo::Item, StoreError> {
    serde_dynamo::to_item(MessageItem::new(m)).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

/// The message a stream record's `NewImage` holds; `None` for the table's other items (dedup
/// guards).
pub fn message_from_stream_image(image: serde_dynamo::Item) -> Result<Option<Message>, StoreError> {
    #[derive(Deserialize)]
    struct Key {
        sk: String,
    }
    let corrupt = |e: serde_dynamo::Error| StoreError::Corrupt(Box::new(e));
    let key: Key = serde_dynamo::from_item(image.clone()).map_err(corrupt)?;
    if !key.sk.starts_with(keys::MESSAGE_SK_PREFIX) {
        return Ok(None);
    }
    let item: MessageItem = serde_dynamo::from_item(image).map_err(corrupt)?;
    Ok(Some(item.message))
}

/// `messages` table: `DEDUP#<scope>#<key>` / `DEDUP`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GuardItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    guard: DedupGuard,
    /// DynamoDB TTL (epoch seconds).
    ttl: i64,
}

impl GuardItem {
    /// The guard of message `m`, expiring [`DEDUP_TTL`] after it was sent.
    pub(crate) fn new(g: &DedupGuard, m: &Message) -> Self {
        Self {
            pk: keys::dedup_pk(&g.scope, &g.key),
            sk: keys::DEDUP_SK.to_owned(),
            guard: g.clone(),
            ttl: (m.created_at + DEDUP_TTL).timestamp(),
        }
    }
}

/// A transaction Put of `item` into `table` that fails if the item exists: the message and
/// dedup-guard items of a send (1:1 or group).
pub(crate) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let p = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(p).build())
}

/// The sender's rate-gate step of a send transaction (1:1 or group): a conditional update of
/// `USER#<sender>` / `RATE#send` in the `conversations` table (GCRA, see [`RateGate`]).
pub(crate) fn rate_update(
    conversations_table: &str,
    sender: &UserId,
    gate: &RateGate,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(conversations_table)
        .set_key(Some(key(
            keys::member_pk(sender),
            keys::SEND_RATE_SK.to_owned(),
        )));
    let update = match *gate {
        RateGate::Full { now_us, new_tat_us } => update
            .update_expression("SET tat = :new")
            .condition_expression("attribute_not_exists(tat) OR tat <= :now")
            .expression_attribute_values(":new", n(new_tat_us))
            .expression_attribute_values(":now", n(now_us)),
        RateGate::Burst {
            now_us,
            interval_us,
            max_tat_us,
        } => update
            .update_expression("SET tat = tat + :i")
            .condition_expression("tat > :now AND tat <= :max")
            .expression_attribute_values(":i", n(interval_us))
            .expression_attribute_values(":now", n(now_us))
            .expression_attribute_values(":max", n(max_tat_us)),
    };
    Ok(TransactWriteItem::builder()
        .update(build(update.build())?)
        .build())
}

/// `conversations` table: `USER#<member>` / `CONV#<conversation>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConversationItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    conversation: Conversation,
    /// `by_activity` sort key (the same id as `lastMessage.id`).
    last_message_id: MessageId,
}

fn build<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Unavailable(Box::new(e)))
}

fn av<T: Serialize>(v: T) -> Result<AttributeValue, StoreError> {
    codec::to_attribute_value(v).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

use super::pk_sk_key as key;

/// The key of message `id` of `conversation` in the `messages` table.
fn message_key(conversation: &ConversationId, id: &MessageId) -> Item {
    key(
        keys::conversation_messages_pk(conversation),
        keys::message_sk(id),
    )
}

/// The key of `member`'s row of `conversation` in the `conversations` table.
fn row_key(member: &UserId, conversation: &ConversationId) -> Item {
    key(keys::member_pk(member), keys::conversation_sk(conversation))
}

use super::unavailable;

/// The sender's rate state (`USER#<sender>` / `RATE#send` in `conversations`), written by
/// update expressions in the send transaction.
#[derive(Deserialize)]
struct RateItem {
    /// GCRA theoretical arrival time, epoch microseconds.
    tat: i64,
}

/// [`MessageStore`] on the `messages` and `conversations` tables (and a condition check on
/// `contacts`): a send is one `TransactWriteItems`.
#[derive(Clone)]
pub struct DynamoMessages {
    client: Client,
    messages: String,
    conversations: String,
    contacts: String,
}

impl DynamoMessages {
    pub fn new(
        client: Client,
        messages_table: impl Into<String>,
        conversations_table: impl Into<String>,
        contacts_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            messages: messages_table.into(),
            conversations: conversations_table.into(),
            contacts: contacts_table.into(),
        }
    }

    fn row_update(
        &self,
        m: &Message,
        member: &UserId,
        peer: &UserId,
        receiver: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let preview = m.preview();
        let expression = if receiver {
            "SET conversationId = :c, memberId = :m, peerId = :p, lastMessage = :lm, lastMessageId = :id, \
             updatedAt = :at ADD unreadCount :one"
        } else {
            "SET conversationId = :c, memberId = :m, peerId = :p, lastMessage = :lm, lastMessageId = :id, \
             updatedAt = :at, unreadCount = if_not_exists(unreadCount, :zero)"
        };
        let mut update = Update::builder()
            .table_name(&self.conversations)
            .set_key(Some(row_key(member, &m.conversation_id)))
            .update_expression(expression)
            // lastMessage only moves forward, so it is always the newest message.
            .condition_expression("attribute_not_exists(lastMessageId) OR lastMessageId < :id")
            .expression_attribute_values(":c", s(m.conversation_id.to_string()))
            .expression_attribute_values(":m", s(member.to_string()))
            .expression_attribute_values(":p", s(peer.to_string()))
            .expression_attribute_values(":lm", av(&preview)?)
            .expression_attribute_values(":id", s(m.id.to_string()))
            .expression_attribute_values(":at", av(m.created_at)?);
        update = if receiver {
            update.expression_attribute_values(":one", n(1))
        } else {
            update.expression_attribute_values(":zero", n(0))
        };
        Ok(TransactWriteItem::builder()
            .update(build(update.build())?)
            .build())
    }

    async fn get_item(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        super::get_item(&self.client, table, key).await
    }
}

/// Where a message action's write stands when it fails: the `reactions` map is missing (an
/// item stored before message actions), or anything else.
const NO_REACTIONS_MAP: &str = "document path";

impl DynamoMessages {
    /// One conditional `UpdateItem` of a message action: the change's expression, `act`, and
    /// the condition that the message exists, is not deleted and does not have the change yet.
    async fn write_change(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
        change: &MessageChange,
        act: &Act,
    ) -> Result<Message, StoreError> {
        let alive = "attribute_exists(sk) AND attribute_not_exists(deletedAt)";
        let update = self
            .client
            .update_item()
            .table_name(&self.messages)
            .set_key(Some(message_key(conversation, id)))
            .expression_attribute_values(":act", av(act)?)
            .return_values(ReturnValue::AllNew);
        let update = match change {
            MessageChange::React { user, reaction } => update
                .update_expression("SET reactions.#u = :r, act = :act")
                .condition_expression(format!(
                    "{alive} AND (attribute_not_exists(reactions.#u) OR reactions.#u.emoji <> :e)"
                ))
                .expression_attribute_names("#u", user.to_string())
                .expression_attribute_values(":r", av(reaction)?)
                .expression_attribute_values(":e", s(reaction.emoji.as_str())),
            MessageChange::Unreact { user } => update
                .update_expression("REMOVE reactions.#u SET act = :act")
                .condition_expression(format!("{alive} AND attribute_exists(reactions.#u)"))
                .expression_attribute_names("#u", user.to_string()),
            MessageChange::Edit { content, at } => update
                .update_expression("SET content = :c, editedAt = :at, act = :act")
                .condition_expression(format!("{alive} AND content <> :c"))
                .expression_attribute_values(":c", s(content.as_str()))
                .expression_attribute_values(":at", av(at)?),
            MessageChange::Delete { at } => update
                .update_expression(
                    "SET content = :c, deletedAt = :at, reactions = :none, act = :act \
                     REMOVE media, replyTo",
                )
                .condition_expression(alive)
                .expression_attribute_values(":c", s(""))
                .expression_attribute_values(":at", av(at)?)
                .expression_attribute_values(":none", AttributeValue::M(Default::default())),
        };
        let out = update
            .send()
            .await
            .map_err(|e| store_error(e, "condition"))?;
        let item = out
            .attributes
            .ok_or_else(|| StoreError::Corrupt("UpdateItem returned no attributes".into()))?;
        Ok(from_item::<MessageItem>(item)?.message)
    }

    /// Gives an item stored before message actions its empty `reactions` map.
    async fn add_reactions_map(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.messages)
            .set_key(Some(message_key(conversation, id)))
            .update_expression("SET reactions = if_not_exists(reactions, :none)")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":none", AttributeValue::M(Default::default()))
            .send()
            .await
            .map_err(|e| store_error(e, "condition"))?;
        Ok(())
    }

    /// The send transaction of both [`MessageStore`] send operations; `require_contacts` adds
    /// the contacts-table condition check.
    async fn write_send(
        &self,
        m: &Message,
        guard: Option<&DedupGuard>,
        require_contacts: bool,
        rate: Option<&RateGate>,
    ) -> Result<(), StoreError> {
        let mut items = vec![put_new(&self.messages, to_item(&MessageItem::new(m))?)?];
        let mut whats = vec!["exists"];
        if let Some(g) = guard {
            items.push(put_new(&self.messages, to_item(&GuardItem::new(g, m))?)?);
            whats.push("duplicate");
        }
        items.push(self.row_update(m, &m.sender_id, &m.receiver_id, false)?);
        items.push(self.row_update(m, &m.receiver_id, &m.sender_id, true)?);
        whats.extend(["order", "order"]);
        if require_contacts {
            let check = build(
                ConditionCheck::builder()
                    .table_name(&self.contacts)
                    .set_key(Some(key(
                        keys::contacts_pk(&m.sender_id),
                        keys::contact_sk(&m.receiver_id),
                    )))
                    .condition_expression("attribute_exists(pk)")
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
            whats.push("not_contacts");
        }
        if let Some(gate) = rate {
            items.push(rate_update(&self.conversations, &m.sender_id, gate)?);
            whats.push("rate");
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &whats))?;
        Ok(())
    }
}

#[async_trait]
impl MessageStore for DynamoMessages {
    async fn send_to_contact(
        &self,
        m: &Message,
        guard: Option<&DedupGuard>,
        rate: Option<&RateGate>,
    ) -> Result<(), StoreError> {
        self.write_send(m, guard, true, rate).await
    }

    async fn send_system(&self, m: &Message, guard: Option<&DedupGuard>) -> Result<(), StoreError> {
        self.write_send(m, guard, false, None).await
    }

    async fn guard(&self, scope: &str, key_: &str) -> Result<Option<DedupGuard>, StoreError> {
        let k = key(keys::dedup_pk(scope, key_), keys::DEDUP_SK.to_owned());
        let Some(item) = self.get_item(&self.messages, k).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<GuardItem>(item)?.guard))
    }

    async fn get(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        let k = message_key(conversation, id);
        let Some(item) = self.get_item(&self.messages, k).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<MessageItem>(item)?.message))
    }

    async fn change(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
        change: &MessageChange,
        act: &Act,
    ) -> Result<Message, StoreError> {
        match self.write_change(conversation, id, change, act).await {
            Err(StoreError::Unavailable(e))
                if matches!(change, MessageChange::React { .. })
                    && format!("{e:?}").contains(NO_REACTIONS_MAP) =>
            {
                self.add_reactions_map(conversation, id).await?;
                self.write_change(conversation, id, change, act).await
            }
            other => other,
        }
    }

    async fn refresh_last(&self, member: &UserId, message: &Message) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.conversations)
            .set_key(Some(row_key(member, &message.conversation_id)))
            .update_expression("SET lastMessage = :lm")
            .condition_expression("lastMessageId = :id")
            .expression_attribute_values(":lm", av(message.preview())?)
            .expression_attribute_values(":id", s(message.id.to_string()))
            .send()
            .await;
        match result.map_err(|e| store_error(e, "condition")) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn rate_state(&self, sender: &UserId) -> Result<Option<i64>, StoreError> {
        let k = key(keys::member_pk(sender), keys::SEND_RATE_SK.to_owned());
        let Some(item) = self.get_item(&self.conversations, k).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<RateItem>(item)?.tat))
    }

    async fn history(
        &self,
        conversation: &ConversationId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let (lo, hi, forward, boundary) = match range {
            HistoryRange::Latest => (
                keys::MESSAGE_SK_PREFIX.to_owned(),
                keys::MESSAGE_SK_END.to_owned(),
                false,
                None,
            ),
            HistoryRange::Before(b) => (
                keys::MESSAGE_SK_PREFIX.to_owned(),
                keys::message_sk(&b),
                false,
                Some(b),
            ),
            HistoryRange::After(a) => (
                keys::message_sk(&a),
                keys::MESSAGE_SK_END.to_owned(),
                true,
                Some(a),
            ),
        };
        let mut out = Vec::with_capacity(limit);
        let mut start: Option<Item> = None;
        // A page of DynamoDB stops at 1 MB: keep reading until `limit` or the end. Hand-written,
        // not the SDK paginator: each page asks only for what is still missing.
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.messages)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(keys::conversation_messages_pk(conversation)))
                .expression_attribute_values(":lo", s(&lo))
                .expression_attribute_values(":hi", s(&hi))
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit((limit - out.len()) as i32 + 1)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                let m = from_item::<MessageItem>(item)?.message;
                if Some(m.id) != boundary && out.len() < limit {
                    out.push(m);
                }
            }
            match page.last_evaluated_key {
                Some(k) if out.len() < limit => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    async fn conversation(
        &self,
        member: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Conversation>, StoreError> {
        let k = row_key(member, conversation);
        let Some(item) = self.get_item(&self.conversations, k).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<ConversationItem>(item)?.conversation))
    }

    async fn conversations_of(
        &self,
        pairs: &[(UserId, ConversationId)],
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut unique: Vec<&(UserId, ConversationId)> = pairs.iter().collect();
        unique.sort();
        unique.dedup();
        let mut rows = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(100) {
            let keys = chunk
                .iter()
                .map(|(m, c)| key(keys::member_pk(m), keys::conversation_sk(c)))
                .collect();
            for item in batch_get(&self.client, &self.conversations, keys).await? {
                rows.push(from_item::<ConversationItem>(item)?.conversation);
            }
        }
        Ok(rows)
    }

    async fn chats_before(
        &self,
        member: &UserId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let index = CONVERSATIONS_BY_ACTIVITY;
        let mut query = self
            .client
            .query()
            .table_name(&self.conversations)
            .index_name(index.name)
            .expression_attribute_values(":m", s(member.to_string()))
            .scan_index_forward(false)
            .limit(limit.min(1000) as i32);
        query = match before {
            Some(b) => query
                .key_condition_expression("memberId = :m AND lastMessageId < :l")
                .expression_attribute_values(":l", s(b.to_string())),
            None => query.key_condition_expression("memberId = :m"),
        };
        let out = query.send().await.map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|i| from_item::<ConversationItem>(i).map(|c| c.conversation))
            .collect()
    }

    async fn mark_read(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
        last: &MessageId,
        unread: u32,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.conversations)
            .set_key(Some(row_key(member, conversation)))
            .update_expression("SET readUpTo = :up, unreadCount = :n")
            .condition_expression(
                "lastMessageId = :last AND (attribute_not_exists(readUpTo) OR readUpTo < :up)",
            )
            .expression_attribute_values(":up", s(up_to.to_string()))
            .expression_attribute_values(":n", n(unread))
            .expression_attribute_values(":last", s(last.to_string()))
            .send()
            .await
            .map_err(|e| store_error(e, "condition"))?;
        Ok(())
    }

    async fn mark_delivered(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.conversations)
            .set_key(Some(key(keys::member_pk(member), keys::conversation_sk(conversation))))
            .update_expression("SET deliveredUpTo = :up")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(deliveredUpTo) OR deliveredUpTo < :up)",
            )
            .expression_attribute_values(":up", s(up_to.to_string()))
            .send()
            .await
            .map_err(|e| store_error(e, "condition"))?;
        Ok(())
    }

    async fn count_from_after(
        &self,
        conversation: &ConversationId,
        sender: &UserId,
        after: &MessageId,
    ) -> Result<u32, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.messages)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .filter_expression("senderId = :s AND #id <> :after")
            .expression_attribute_names("#id", "id")
            .expression_attribute_values(":pk", s(keys::conversation_messages_pk(conversation)))
            .expression_attribute_values(":lo", s(keys::message_sk(after)))
            .expression_attribute_values(":hi", s(keys::MESSAGE_SK_END))
            .expression_attribute_values(":s", s(sender.to_string()))
            .expression_attribute_values(":after", s(after.to_string()))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut count = 0u32;
        while let Some(page) = pages.try_next().await.map_err(unavailable)? {
            count += page.count as u32;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Content, MessageKind};
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::{TimeZone, Utc};

    fn message() -> Message {
        let a = UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap();
        let b = UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap();
        Message {
            id: MessageId::parse("019a8f6e-0000-7000-8000-0000000000ff").unwrap(),
            conversation_id: ConversationId::direct(&a, &b),
            sender_id: a,
            receiver_id: b,
            content: Content::parse(MessageKind::Text, "hello").unwrap(),
            kind: MessageKind::Text,
            client_message_id: Some("c-1".into()),
            created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            group: None,
            media: None,
            extras: Default::default(),
        }
    }

    fn str_attr(item: &Item, k: &str) -> String {
        match item.get(k) {
            Some(AV::S(v)) => v.clone(),
            other => panic!("{k}: expected a string, got {other:?}"),
        }
    }

    #[test]
    fn message_item_golden() {
        let m = message();
        let item = to_item(&MessageItem::new(&m)).unwrap();
        assert_eq!(str_attr(&item, "pk"), format!("CONV#{}", m.conversation_id));
        assert_eq!(
            str_attr(&item, "sk"),
            "MSG#019a8f6e-0000-7000-8000-0000000000ff"
        );
        assert_eq!(
            str_attr(&item, "senderId"),
            "00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(str_attr(&item, "type"), "text");
        assert_eq!(str_attr(&item, "content"), "hello");
        assert_eq!(str_attr(&item, "clientMessageId"), "c-1");
        assert!(
            !item.contains_key("status"),
            "status is derived, never stored"
        );
        assert_eq!(from_item::<MessageItem>(item).unwrap().message, m);
    }

    #[test]
    fn guard_item_golden() {
        let m = message();
        let g = DedupGuard {
            scope: m.sender_id.to_string(),
            key: "c-1".into(),
            message_id: m.id,
            conversation_id: m.conversation_id,
            fingerprint: "ab".into(),
        };
        let item = to_item(&GuardItem {
            pk: keys::dedup_pk(&g.scope, &g.key),
            sk: keys::DEDUP_SK.into(),
            guard: g.clone(),
            ttl: 42,
        })
        .unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "DEDUP#00000000-0000-4000-8000-00000000000a#c-1"
        );
        assert_eq!(str_attr(&item, "sk"), "DEDUP");
        assert_eq!(item.get("ttl"), Some(&AV::N("42".into())));
        assert_eq!(from_item::<GuardItem>(item).unwrap().guard, g);
    }

    #[test]
    fn conversation_item_golden() {
        let m = message();
        let conv = Conversation {
            conversation_id: m.conversation_id,
            member_id: m.receiver_id,
            peer_id: m.sender_id,
            last_message: m.clone(),
            unread_count: 3,
            cursors: crate::domain::Cursors {
                delivered_up_to: Some(m.id),
                read_up_to: None,
            },
            updated_at: m.created_at,
        };
        let item = to_item(&ConversationItem {
            pk: keys::member_pk(&conv.member_id),
            sk: keys::conversation_sk(&conv.conversation_id),
            conversation: conv.clone(),
            last_message_id: m.id,
        })
        .unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "USER#00000000-0000-4000-8000-00000000000b"
        );
        assert_eq!(str_attr(&item, "sk"), format!("CONV#{}", m.conversation_id));
        assert_eq!(
            str_attr(&item, "memberId"),
            "00000000-0000-4000-8000-00000000000b"
        );
        assert_eq!(
            str_attr(&item, "lastMessageId"),
            "019a8f6e-0000-7000-8000-0000000000ff"
        );
        assert_eq!(
            str_attr(&item, "deliveredUpTo"),
            "019a8f6e-0000-7000-8000-0000000000ff"
        );
        assert!(!item.contains_key("readUpTo"));
        assert_eq!(item.get("unreadCount"), Some(&AV::N("3".into())));
        assert!(matches!(item.get("lastMessage"), Some(AV::M(_))));
        assert_eq!(
            from_item::<ConversationItem>(item).unwrap().conversation,
            conv
        );
    }
}
