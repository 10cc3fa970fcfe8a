use super::{DedupGuard, Page, PageRequest, RateGate};
use crate::StoreError;
use crate::domain::{ConversationId, GroupMeta, Mark, Member, Message, MessageId, Role, UserId};
use async_trait::async_trait;

/// One member-row step of a [`GroupChange`]; each is conditional, and any failing condition
/// fails the whole change with `Conflict("member")`.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// A new member: fails if they are already one.
    Add(Member),
    /// Removes a member who has `role`.
    Remove { user: UserId, role: Role },
    /// Changes a member's role from `from` to `to`.
    SetRole { user: UserId, from: Role, to: Role },
    /// Checks that the actor is a member with `role` (changes nothing).
    Check { user: UserId, role: Role },
    /// The sender of `message`, a member with `role` whose read cursor is still `read_was`:
    /// sending reads everything before, so both cursors move to the message.
    Sent {
        user: UserId,
        role: Role,
        read_was: Option<MessageId>,
        mark: Mark,
        seq: u64,
        delivered_marks: Vec<Mark>,
        read_marks: Vec<Mark>,
    },
}

/// One atomic write of a group: the new `META` (conditioned on the version read, or on not
/// existing yet), member steps, the invite code's index, and the group message it makes (a
/// person's message with its dedup guard and the sender's rate gate, or a system message).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    /// The new state; its `version` must be the read one + 1.
    pub meta: GroupMeta,
    /// The version read; `None` creates the group (fails if the id exists).
    pub expect_version: Option<u64>,
    pub members: Vec<MemberChange>,
    /// Invite codes to index (`add`) and forget (`remove`).
    pub invite_add: Option<String>,
    pub invite_remove: Option<String>,
    pub message: Option<Message>,
    pub guard: Option<DedupGuard>,
    pub rate: Option<RateGate>,
}

/// Which receipt cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    Delivered,
    Read,
}

/// Groups: their `META`, member rows and invite codes. Group messages live in the
/// [`super::MessageStore`]'s table, written by [`GroupStore::commit`] in the same transaction.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Applies `change` atomically. Conflicts: `"version"` (the group changed since it was
    /// read, or exists when creating), `"member"` (a member step's condition failed),
    /// `"invite"` (the new code is taken), `"duplicate"` (the dedup guard exists), `"rate"`.
    /// `Contended` when a concurrent transaction held the same items (retry).
    async fn commit(&self, change: &GroupChange) -> Result<(), StoreError>;
    /// The group's `META` (strongly consistent).
    async fn meta(&self, group: &ConversationId) -> Result<Option<GroupMeta>, StoreError>;
    /// The group's `META` and one member row, in one read.
    async fn meta_and_member(
        &self,
        group: &ConversationId,
        user: &UserId,
    ) -> Result<(Option<GroupMeta>, Option<Member>), StoreError>;
    /// Every member row, in join order (strongly consistent).
    async fn members(&self, group: &ConversationId) -> Result<Vec<Member>, StoreError>;
    /// The rows of those of `users` (at most 100) who are members, in any order: one batched
    /// read.
    async fn members_among(
        &self,
        group: &ConversationId,
        users: &[UserId],
    ) -> Result<Vec<Member>, StoreError>;
    /// `user`'s member rows, one per group they are in, by group id (eventually consistent:
    /// an index).
    async fn groups_of(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Member>, StoreError>;
    /// The `META` of those of `groups` that exist, in any order (batched reads).
    async fn metas(&self, groups: &[ConversationId]) -> Result<Vec<GroupMeta>, StoreError>;
    /// The group an invite code opens.
    async fn invite(&self, code: &str) -> Result<Option<ConversationId>, StoreError>;
    /// One write: the member's `kind` cursor moves from `was` to `mark.up_to` (and `readSeq` to
    /// `seq` for reads), with the kept moves `marks`. `Conflict("condition")` if the member is
    /// gone or the cursor is no longer `was`.
    #[allow(clippy::too_many_arguments)]
    async fn advance(
        &self,
        group: &ConversationId,
        user: &UserId,
        kind: CursorKind,
        was: Option<MessageId>,
        mark: Mark,
        seq: u64,
        marks: &[Mark],
    ) -> Result<(), StoreError>;
}
