//! [`GroupStore`] on the `groups` table, with group messages in `messages` and the sender's
//! rate state in `conversations`, written in the same transactions as the 1:1 send writes them.
//!
//! Items (`groups` table):
//! - `GROUP#<id>` / `META`: the [`GroupMeta`] (with its `version`).
//! - `GROUP#<id>` / `MEMBER#<user>`: the [`Member`] plus `memberOf` (the user): with the
//!   member's `groupId` it keys the `by_member` index.
//! - `INVITE#<code>` / `INVITE`: `groupId`, the group a live invite code opens (no `memberOf`,
//!   so never in the index).

use super::keys;
use super::messages::{GuardItem, MessageItem, put_new, rate_update};
use super::tables::GROUPS_BY_MEMBER;
use super::{Item, batch_get, codec, from_item, n, pk_sk_key, s, to_item, transaction_error};
use super::{store_error, unavailable};
use crate::StoreError;
use crate::domain::{ConversationId, GroupMeta, Mark, Member, MessageId, UserId};
use crate::ports::{
    CursorKind, GroupChange, GroupStore, MemberChange, Page, PageRequest, decode_cursor,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The `by_member` index's sort key attribute (the member row's `groupId`).
const GROUPS_BY_MEMBER_SORT_KEY: &str = match GROUPS_BY_MEMBER.sort_key {
    Some(k) => k,
    None => panic!("by_member has a sort key"),
};

/// `groups` table: `GROUP#<id>` / `META`.
#[derive(Debug, Serialize, Deserialize)]
struct MetaItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    meta: GroupMeta,
}

impl MetaItem {
    fn new(meta: &GroupMeta) -> Self {
        Self {
            pk: keys::group_pk(&meta.id),
            sk: keys::GROUP_META_SK.to_owned(),
            meta: meta.clone(),
        }
    }
}

/// `groups` table: `GROUP#<id>` / `MEMBER#<user>`; `memberOf` and the member's `groupId` key
/// the `by_member` index.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberItem {
    pk: String,
    sk: String,
    member_of: String,
    #[serde(flatten)]
    member: Member,
}

impl MemberItem {
    fn new(m: &Member) -> Self {
        Self {
            pk: keys::group_pk(&m.group_id),
            sk: keys::group_member_sk(&m.user_id),
            member_of: keys::group_member_of(&m.user_id),
            member: m.clone(),
        }
    }
}

/// `groups` table: `INVITE#<code>` / `INVITE`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InviteItem {
    pk: String,
    sk: String,
    group_id: ConversationId,
}

/// Where a `groups_of` page ended (the same shape as the memory store's cursor).
#[derive(Serialize, Deserialize)]
struct GroupCursor {
    g: ConversationId,
}

fn meta_key(group: &ConversationId) -> Item {
    pk_sk_key(keys::group_pk(group), keys::GROUP_META_SK.to_owned())
}

fn member_key(group: &ConversationId, user: &UserId) -> Item {
    pk_sk_key(keys::group_pk(group), keys::group_member_sk(user))
}

fn invite_key(code: &str) -> Item {
    pk_sk_key(keys::invite_pk(code), keys::INVITE_SK.to_owned())
}

fn build<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(unavailable)
}

fn av<T: Serialize>(v: T) -> Result<AttributeValue, StoreError> {
    codec::to_attribute_value(v).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

/// DynamoDB's limit of items in one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// A change DynamoDB cannot write as one transaction: a bug in the caller, reported as such
/// (before anything is sent).
fn unwritable(why: String) -> StoreError {
    StoreError::Unavailable(
        format!("group change cannot be one DynamoDB transaction: {why}").into(),
    )
}

fn user_of(step: &MemberChange) -> UserId {
    match step {
        MemberChange::Add(m) => m.user_id,
        MemberChange::Remove { user, .. }
        | MemberChange::SetRole { user, .. }
        | MemberChange::Check { user, .. }
        | MemberChange::Sent { user, .. } => *user,
    }
}

/// The transaction of `change`, and what each item's failed condition means. Items are in the
/// order the memory store checks them (message, dedup guard, rate gate, `META`, member steps,
/// invite), so that the first failed condition — the one reported — is the same conflict.
fn transaction(
    tables: &super::TableNames,
    change: &GroupChange,
) -> Result<(Vec<TransactWriteItem>, Vec<&'static str>), StoreError> {
    let gid = change.meta.id;
    let mut items = Vec::new();
    let mut whats = Vec::new();
    // As in the memory store, the guard and the rate gate go with a message (a person's
    // message has both; they mean nothing without one).
    if let Some(m) = &change.message {
        items.push(put_new(&tables.messages, to_item(&MessageItem::new(m))?)?);
        whats.push("exists");
        if let Some(g) = &change.guard {
            items.push(put_new(&tables.messages, to_item(&GuardItem::new(g, m))?)?);
            whats.push("duplicate");
        }
        if let Some(gate) = &change.rate {
            items.push(rate_update(&tables.conversations, &m.sender_id, gate)?);
            whats.push("rate");
        }
    }

    let meta = Put::builder()
        .table_name(&tables.groups)
        .set_item(Some(to_item(&MetaItem::new(&change.meta))?));
    let meta = match change.expect_version {
        None => meta.condition_expression("attribute_not_exists(pk)"),
        Some(v) => meta
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(v)),
    };
    items.push(
        TransactWriteItem::builder()
            .put(build(meta.build())?)
            .build(),
    );
    whats.push("version");

    let mut users = BTreeSet::new();
    for step in &change.members {
        let user = user_of(step);
        if !users.insert(user) {
            return Err(unwritable(format!(
                "two member steps for {user} (DynamoDB allows one operation per item)"
            )));
        }
        items.push(member_step(&tables.groups, &gid, step)?);
        whats.push("member");
    }

    if let (Some(add), Some(remove)) = (&change.invite_add, &change.invite_remove)
        && add == remove
    {
        return Err(unwritable(format!(
            "invite code {add:?} both added and removed (one operation per item)"
        )));
    }
    if let Some(code) = &change.invite_add {
        let invite = InviteItem {
            pk: keys::invite_pk(code),
            sk: keys::INVITE_SK.to_owned(),
            group_id: gid,
        };
        items.push(put_new(&tables.groups, to_item(&invite)?)?);
        whats.push("invite");
    }
    if let Some(code) = &change.invite_remove {
        let delete = Delete::builder()
            .table_name(&tables.groups)
            .set_key(Some(invite_key(code)));
        items.push(
            TransactWriteItem::builder()
                .delete(build(delete.build())?)
                .build(),
        );
        // Unconditional: it never fails a condition.
        whats.push("invite");
    }
    if items.len() > MAX_TRANSACTION_ITEMS {
        return Err(unwritable(format!(
            "{} items (DynamoDB allows {MAX_TRANSACTION_ITEMS})",
            items.len()
        )));
    }
    Ok((items, whats))
}

/// One member step: a conditional write of the member's row (see [`MemberChange`]).
fn member_step(
    table: &str,
    group: &ConversationId,
    step: &MemberChange,
) -> Result<TransactWriteItem, StoreError> {
    let item = match step {
        MemberChange::Add(m) => put_new(table, to_item(&MemberItem::new(m))?)?,
        MemberChange::Remove { user, role } => {
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(member_key(group, user)))
                .condition_expression("#role = :role")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":role", av(role)?);
            TransactWriteItem::builder()
                .delete(build(delete.build())?)
                .build()
        }
        MemberChange::SetRole { user, from, to } => {
            let update = Update::builder()
                .table_name(table)
                .set_key(Some(member_key(group, user)))
                .update_expression("SET #role = :to")
                .condition_expression("#role = :from")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":from", av(from)?)
                .expression_attribute_values(":to", av(to)?);
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build()
        }
        MemberChange::Check { user, role } => {
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(member_key(group, user)))
                .condition_expression("#role = :role")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":role", av(role)?);
            TransactWriteItem::builder()
                .condition_check(build(check.build())?)
                .build()
        }
        MemberChange::Sent {
            user,
            role,
            read_was,
            mark,
            seq,
            delivered_marks,
            read_marks,
        } => {
            let update = Update::builder()
                .table_name(table)
                .set_key(Some(member_key(group, user)))
                .update_expression(
                    "SET #read = :up, #delivered = :up, #readSeq = :seq, \
                     #deliveredMarks = :dm, #readMarks = :rm",
                )
                .expression_attribute_names("#role", "role")
                .expression_attribute_names("#read", "readUpTo")
                .expression_attribute_names("#delivered", "deliveredUpTo")
                .expression_attribute_names("#readSeq", "readSeq")
                .expression_attribute_names("#deliveredMarks", "deliveredMarks")
                .expression_attribute_names("#readMarks", "readMarks")
                .expression_attribute_values(":role", av(role)?)
                .expression_attribute_values(":up", av(mark.up_to)?)
                .expression_attribute_values(":seq", n(seq))
                .expression_attribute_values(":dm", av(delivered_marks)?)
                .expression_attribute_values(":rm", av(read_marks)?);
            let update = match read_was {
                Some(was) => update
                    .condition_expression("#role = :role AND #read = :was")
                    .expression_attribute_values(":was", av(was)?),
                None => {
                    update.condition_expression("#role = :role AND attribute_not_exists(#read)")
                }
            };
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build()
        }
    };
    Ok(item)
}

/// [`GroupStore`] on DynamoDB: a change is one `TransactWriteItems` over the `groups`,
/// `messages` and `conversations` tables; reads are strongly consistent except `groups_of`
/// (an index).
#[derive(Clone)]
pub struct DynamoGroups {
    client: Client,
    tables: super::TableNames,
}

impl DynamoGroups {
    /// Over the deployment's tables (`groups`, `messages`, `conversations`).
    pub fn new(client: Client, tables: super::TableNames) -> Self {
        Self { client, tables }
    }

    /// BatchGetItem (strongly consistent) of `keys` in the `groups` table, 100 keys a request.
    async fn batch(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let chunk: Vec<Item> = keys.by_ref().take(100).collect();
            found.extend(batch_get(&self.client, &self.tables.groups, chunk).await?);
        }
        Ok(found)
    }
}

#[async_trait]
impl GroupStore for DynamoGroups {
    async fn commit(&self, change: &GroupChange) -> Result<(), StoreError> {
        let (items, whats) = transaction(&self.tables, change)?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &whats))?;
        Ok(())
    }

    async fn meta(&self, group: &ConversationId) -> Result<Option<GroupMeta>, StoreError> {
        let item = super::get_item(&self.client, &self.tables.groups, meta_key(group)).await?;
        item.map(|i| from_item::<MetaItem>(i).map(|m| m.meta))
            .transpose()
    }

    async fn meta_and_member(
        &self,
        group: &ConversationId,
        user: &UserId,
    ) -> Result<(Option<GroupMeta>, Option<Member>), StoreError> {
        let items = self
            .batch(vec![meta_key(group), member_key(group, user)])
            .await?;
        let (mut meta, mut member) = (None, None);
        for item in items {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == keys::GROUP_META_SK => {
                    meta = Some(from_item::<MetaItem>(item)?.meta);
                }
                _ => member = Some(from_item::<MemberItem>(item)?.member),
            }
        }
        Ok((meta, member))
    }

    async fn members(&self, group: &ConversationId) -> Result<Vec<Member>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.groups)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::group_pk(group)))
            .expression_attribute_values(":prefix", s(keys::GROUP_MEMBER_SK_PREFIX))
            .consistent_read(true);
        let mut members: Vec<Member> = super::query_all::<MemberItem>(query)
            .await?
            .into_iter()
            .map(|i| i.member)
            .collect();
        members.sort_by_key(|m| m.join_seq);
        Ok(members)
    }

    async fn members_among(
        &self,
        group: &ConversationId,
        users: &[UserId],
    ) -> Result<Vec<Member>, StoreError> {
        let unique: BTreeSet<&UserId> = users.iter().collect();
        let keys = unique.into_iter().map(|u| member_key(group, u)).collect();
        self.batch(keys)
            .await?
            .into_iter()
            .map(|i| from_item::<MemberItem>(i).map(|m| m.member))
            .collect()
    }

    async fn groups_of(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Member>, StoreError> {
        let index = GROUPS_BY_MEMBER;
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.groups)
            .index_name(index.name)
            .expression_attribute_names("#u", index.partition_key)
            .expression_attribute_values(":u", s(keys::group_member_of(user)));
        query = match page.cursor.as_deref() {
            None => query.key_condition_expression("#u = :u"),
            Some(c) => {
                let c: GroupCursor = decode_cursor(c)?;
                query
                    .key_condition_expression("#u = :u AND #g > :g")
                    .expression_attribute_names("#g", GROUPS_BY_MEMBER_SORT_KEY)
                    .expression_attribute_values(":g", s(keys::group_member_group(&c.g)))
            }
        };
        super::query_page(
            query,
            page.limit,
            |i: MemberItem| (i.member.group_id, i.member),
            |g| GroupCursor { g: *g },
        )
        .await
    }

    async fn metas(&self, groups: &[ConversationId]) -> Result<Vec<GroupMeta>, StoreError> {
        let unique: BTreeSet<&ConversationId> = groups.iter().collect();
        let keys = unique.into_iter().map(meta_key).collect();
        self.batch(keys)
            .await?
            .into_iter()
            .map(|i| from_item::<MetaItem>(i).map(|m| m.meta))
            .collect()
    }

    async fn invite(&self, code: &str) -> Result<Option<ConversationId>, StoreError> {
        let item = super::get_item(&self.client, &self.tables.groups, invite_key(code)).await?;
        item.map(|i| from_item::<InviteItem>(i).map(|v| v.group_id))
            .transpose()
    }

    async fn advance(
        &self,
        group: &ConversationId,
        user: &UserId,
        kind: CursorKind,
        was: Option<MessageId>,
        mark: Mark,
        seq: u64,
        marks: &[Mark],
    ) -> Result<(), StoreError> {
        let (cursor, kept) = match kind {
            CursorKind::Delivered => ("deliveredUpTo", "deliveredMarks"),
            CursorKind::Read => ("readUpTo", "readMarks"),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.tables.groups)
            .set_key(Some(member_key(group, user)))
            .expression_attribute_names("#c", cursor)
            .expression_attribute_names("#m", kept)
            .expression_attribute_values(":up", av(mark.up_to)?)
            .expression_attribute_values(":marks", av(marks)?);
        update = match kind {
            CursorKind::Delivered => update.update_expression("SET #c = :up, #m = :marks"),
            CursorKind::Read => update
                .update_expression("SET #c = :up, #m = :marks, #seq = :seq")
                .expression_attribute_names("#seq", "readSeq")
                .expression_attribute_values(":seq", n(seq)),
        };
        update = match was {
            Some(was) => update
                .condition_expression("attribute_exists(pk) AND #c = :was")
                .expression_attribute_values(":was", av(was)?),
            None => {
                update.condition_expression("attribute_exists(pk) AND attribute_not_exists(#c)")
            }
        };
        update
            .send()
            .await
            .map_err(|e| store_error(e, "condition"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Content, Cursors, GroupName, GroupPart, GroupSettings, Message, MessageKind, Role,
    };
    use crate::ports::{DedupGuard, RateGate};
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::{TimeZone, Utc};

    fn ids() -> (ConversationId, UserId, MessageId) {
        (
            ConversationId::parse("019a8f6e-0000-7000-8000-0000000000aa").unwrap(),
            UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            MessageId::parse("019a8f6e-0000-7000-8000-0000000000ff").unwrap(),
        )
    }

    fn message() -> Message {
        let (g, a, id) = ids();
        Message {
            id,
            conversation_id: g,
            sender_id: a,
            receiver_id: UserId::from_uuid(*g.as_uuid()),
            content: Content::parse(MessageKind::Text, "hello").unwrap(),
            kind: MessageKind::Text,
            client_message_id: Some("c-1".into()),
            created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            group: Some(GroupPart {
                seq: 1,
                event: None,
            }),
            media: None,
            extras: Default::default(),
        }
    }

    fn meta() -> GroupMeta {
        let (g, a, _) = ids();
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        GroupMeta {
            id: g,
            name: GroupName::parse("Family").unwrap(),
            description: None,
            avatar: None,
            created_by: a,
            created_at: at,
            updated_at: at,
            settings: GroupSettings::default(),
            member_count: 1,
            admin_count: 1,
            invite_code: Some("abc".into()),
            last_message: message(),
            seq: 1,
            joins: 1,
            removals: 0,
            version: 3,
        }
    }

    fn member() -> Member {
        let (g, a, id) = ids();
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        Member {
            group_id: g,
            user_id: a,
            role: Role::Admin,
            joined_at: at,
            join_seq: 1,
            from: id,
            cursors: Cursors {
                delivered_up_to: Some(id),
                read_up_to: None,
            },
            read_seq: 1,
            delivered_marks: vec![Mark { up_to: id, at }],
            read_marks: vec![],
        }
    }

    fn str_attr(item: &Item, k: &str) -> String {
        match item.get(k) {
            Some(AV::S(v)) => v.clone(),
            other => panic!("{k}: expected a string, got {other:?}"),
        }
    }

    #[test]
    fn meta_item_golden() {
        let m = meta();
        let item = to_item(&MetaItem::new(&m)).unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "GROUP#019a8f6e-0000-7000-8000-0000000000aa"
        );
        assert_eq!(str_attr(&item, "sk"), "META");
        assert_eq!(str_attr(&item, "name"), "Family");
        assert_eq!(str_attr(&item, "inviteCode"), "abc");
        assert_eq!(item.get("version"), Some(&AV::N("3".into())));
        assert_eq!(item.get("memberCount"), Some(&AV::N("1".into())));
        assert!(matches!(item.get("lastMessage"), Some(AV::M(_))));
        assert!(matches!(item.get("settings"), Some(AV::M(_))));
        assert!(
            !item.contains_key("memberOf") && !item.contains_key("groupId"),
            "META stays out of the by_member index"
        );
        assert_eq!(from_item::<MetaItem>(item).unwrap().meta, m);
    }

    #[test]
    fn member_item_golden() {
        let m = member();
        let item = to_item(&MemberItem::new(&m)).unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "GROUP#019a8f6e-0000-7000-8000-0000000000aa"
        );
        assert_eq!(
            str_attr(&item, "sk"),
            "MEMBER#00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(
            str_attr(&item, "memberOf"),
            "00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(
            str_attr(&item, "groupId"),
            "019a8f6e-0000-7000-8000-0000000000aa"
        );
        assert_eq!(str_attr(&item, "role"), "admin");
        assert_eq!(
            str_attr(&item, "deliveredUpTo"),
            "019a8f6e-0000-7000-8000-0000000000ff"
        );
        assert!(!item.contains_key("readUpTo"));
        assert_eq!(item.get("joinSeq"), Some(&AV::N("1".into())));
        assert_eq!(item.get("readSeq"), Some(&AV::N("1".into())));
        match item.get("deliveredMarks") {
            Some(AV::L(l)) => assert!(matches!(&l[..], [AV::M(mark)] if mark.contains_key("upTo"))),
            other => panic!("deliveredMarks: {other:?}"),
        }
        assert_eq!(item.get("readMarks"), Some(&AV::L(vec![])));
        assert_eq!(from_item::<MemberItem>(item).unwrap().member, m);
    }

    #[test]
    fn invite_item_golden() {
        let (g, _, _) = ids();
        let item = to_item(&InviteItem {
            pk: keys::invite_pk("abc"),
            sk: keys::INVITE_SK.into(),
            group_id: g,
        })
        .unwrap();
        assert_eq!(str_attr(&item, "pk"), "INVITE#abc");
        assert_eq!(str_attr(&item, "sk"), "INVITE");
        assert_eq!(
            str_attr(&item, "groupId"),
            "019a8f6e-0000-7000-8000-0000000000aa"
        );
        assert!(
            !item.contains_key("memberOf"),
            "without memberOf an invite is never in the by_member index"
        );
        assert_eq!(item.len(), 3);
    }

    fn change() -> GroupChange {
        GroupChange {
            meta: meta(),
            expect_version: Some(2),
            members: vec![],
            invite_add: None,
            invite_remove: None,
            message: None,
            guard: None,
            rate: None,
        }
    }

    #[test]
    fn the_transaction_lists_items_in_the_memory_stores_check_order() {
        let (g, a, id) = ids();
        let tables = super::super::TableNames::new("t_");
        let mut c = change();
        c.message = Some(message());
        c.guard = Some(DedupGuard {
            scope: a.to_string(),
            key: "c-1".into(),
            message_id: id,
            conversation_id: g,
            fingerprint: "f".into(),
        });
        c.rate = Some(RateGate::Full {
            now_us: 1,
            new_tat_us: 2,
        });
        c.members = vec![
            MemberChange::Check {
                user: a,
                role: Role::Admin,
            },
            MemberChange::Add(Member {
                user_id: UserId::new_random(),
                ..member()
            }),
        ];
        c.invite_add = Some("new".into());
        c.invite_remove = Some("old".into());
        let (items, whats) = transaction(&tables, &c).unwrap();
        assert_eq!(
            whats,
            [
                "exists",
                "duplicate",
                "rate",
                "version",
                "member",
                "member",
                "invite",
                "invite"
            ]
        );
        assert_eq!(items.len(), whats.len());
        assert_eq!(items[0].put().unwrap().table_name(), "t_messages");
        assert_eq!(items[2].update().unwrap().table_name(), "t_conversations");
        assert_eq!(
            items[3].put().unwrap().condition_expression(),
            Some("#version = :version")
        );
        let guard_only = GroupChange {
            guard: c.guard.clone(),
            rate: c.rate,
            ..change()
        };
        let (_, whats) = transaction(&tables, &guard_only).unwrap();
        assert_eq!(
            whats,
            ["version"],
            "no guard or rate gate without a message"
        );
        let create = GroupChange {
            expect_version: None,
            ..change()
        };
        let (items, _) = transaction(&tables, &create).unwrap();
        assert_eq!(
            items[0].put().unwrap().condition_expression(),
            Some("attribute_not_exists(pk)")
        );
    }

    #[test]
    fn two_operations_on_one_item_are_refused_before_sending() {
        let (_, a, _) = ids();
        let tables = super::super::TableNames::new("t_");
        let twice = GroupChange {
            members: vec![
                MemberChange::Check {
                    user: a,
                    role: Role::Admin,
                },
                MemberChange::Remove {
                    user: a,
                    role: Role::Admin,
                },
            ],
            ..change()
        };
        let err = transaction(&tables, &twice).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert!(format!("{err:?}").contains("two member steps"), "{err:?}");
        let same_code = GroupChange {
            invite_add: Some("x".into()),
            invite_remove: Some("x".into()),
            ..change()
        };
        assert!(matches!(
            transaction(&tables, &same_code),
            Err(StoreError::Unavailable(_))
        ));
        let too_many = GroupChange {
            members: (0..100)
                .map(|_| MemberChange::Check {
                    user: UserId::new_random(),
                    role: Role::Member,
                })
                .collect(),
            ..change()
        };
        assert!(matches!(
            transaction(&tables, &too_many),
            Err(StoreError::Unavailable(_))
        ));
    }
}
