use super::PushNote;
use crate::StoreError;
use crate::domain::{
    Act, Content, Conversation, ConversationId, Message, MessageId, Reaction, UserId,
};
use crate::error::BoxError;
use crate::frames::ServerFrame;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Makes a send idempotent: `(scope, key)` — the sender and their client message id, or the
/// webhook and its external id — maps to the one message it created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DedupGuard {
    pub scope: String,
    pub key: String,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    /// Hex SHA-256 of what was sent (receiver, type, content): a retry must match it.
    pub fingerprint: String,
}

/// The sender's rate-limit step (GCRA: the bucket is one "theoretical arrival time", `tat`,
/// in epoch microseconds), carried by the send transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateGate {
    /// Assume the bucket is full (`tat ≤ now`, or never sent): `tat = new_tat`.
    /// `Conflict("rate")` when `tat > now`.
    Full { now_us: i64, new_tat_us: i64 },
    /// Mid-burst: `tat += interval` when `now < tat ≤ max_tat`. `Conflict("rate")` otherwise.
    Burst {
        now_us: i64,
        interval_us: i64,
        max_tat_us: i64,
    },
}

/// A message action's change to the stored message ([`MessageStore::change`]), with the
/// condition it carries: the message exists and is not deleted, and the change is not
/// already there.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageChange {
    /// `user`'s reaction is set (replacing another emoji).
    React { user: UserId, reaction: Reaction },
    /// `user`'s reaction is removed (there is one).
    Unreact { user: UserId },
    /// New text, `editedAt = at` (the text differs).
    Edit { content: Content, at: DateTime<Utc> },
    /// Deleted for everyone at `at`: content emptied; media, quote and reactions removed.
    Delete { at: DateTime<Utc> },
}

impl MessageChange {
    /// Applies the change to `m` if its condition holds (what a store's conditional write
    /// does); `false`, and `m` untouched, otherwise.
    pub fn apply(&self, m: &mut Message, act: &Act) -> bool {
        if m.is_deleted() {
            return false;
        }
        let x = &mut m.extras;
        match self {
            Self::React { user, reaction } => {
                if x.reactions.get(user).map(|r| &r.emoji) == Some(&reaction.emoji) {
                    return false;
                }
                x.reactions.insert(*user, reaction.clone());
            }
            Self::Unreact { user } => {
                if x.reactions.remove(user).is_none() {
                    return false;
                }
            }
            Self::Edit { content, at } => {
                if m.content == *content {
                    return false;
                }
                m.content = content.clone();
                x.edited_at = Some(*at);
            }
            Self::Delete { at } => {
                m.content = Content::wiped();
                m.media = None;
                x.reply_to = None;
                x.reactions.clear();
                x.deleted_at = Some(*at);
            }
        }
        m.extras.act = Some(act.clone());
        true
    }
}

/// Which slice of a conversation's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRange {
    /// The newest messages, newest first.
    Latest,
    /// Messages older than this id, newest first.
    Before(MessageId),
    /// Messages newer than this id, oldest first (catch-up).
    After(MessageId),
}

/// Messages and per-member conversation rows.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// A person's message to a contact. In one atomic write: the message, its dedup guard (if
    /// any), both members' conversation rows (last message, the receiver's unread count + 1), a
    /// check that sender and receiver are contacts, and the sender's rate gate (if any).
    /// Conflicts: `"duplicate"` (the guard exists), `"not_contacts"`, `"rate"`, `"order"` (a
    /// newer message is already the conversation's last: retry with a fresh id).
    /// `Contended` when a concurrent transaction held the same rows (retry likewise).
    async fn send_to_contact(
        &self,
        message: &Message,
        guard: Option<&DedupGuard>,
        rate: Option<&RateGate>,
    ) -> Result<(), StoreError>;
    /// A system message (webhook): like [`MessageStore::send_to_contact`] without the contacts
    /// check and the rate gate. Conflicts: `"duplicate"`, `"order"`.
    async fn send_system(
        &self,
        message: &Message,
        guard: Option<&DedupGuard>,
    ) -> Result<(), StoreError>;
    async fn guard(&self, scope: &str, key: &str) -> Result<Option<DedupGuard>, StoreError>;
    async fn get(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError>;
    /// The sender's rate state (`tat`, epoch microseconds), if they ever sent.
    async fn rate_state(&self, sender: &UserId) -> Result<Option<i64>, StoreError>;
    /// At most `limit` messages of `range`.
    async fn history(
        &self,
        conversation: &ConversationId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;
    async fn conversation(
        &self,
        member: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Conversation>, StoreError>;
    /// The rows of several (member, conversation) pairs that exist, in any order.
    async fn conversations_of(
        &self,
        keys: &[(UserId, ConversationId)],
    ) -> Result<Vec<Conversation>, StoreError>;
    /// `member`'s conversations whose last message is older than `before` (all if `None`),
    /// most recent activity first, at most `limit`.
    async fn chats_before(
        &self,
        member: &UserId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError>;
    /// One write: `readUpTo = up_to` and `unreadCount = unread`, if the row's last message is
    /// still `last` and `readUpTo < up_to`. `Conflict("condition")` otherwise.
    async fn mark_read(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
        last: &MessageId,
        unread: u32,
    ) -> Result<(), StoreError>;
    /// One write: `deliveredUpTo = up_to`, if the row exists and it moves forward.
    /// `Conflict("condition")` otherwise.
    async fn mark_delivered(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
    ) -> Result<(), StoreError>;
    /// Applies a message action in one conditional write, recording `act` on the message
    /// (the stream hands the changed message to the relay, which sends the action's frame).
    /// Returns the message after it. `Conflict("condition")` when the message is missing or
    /// deleted, or the change is already there (the caller reads it again to tell which).
    async fn change(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
        change: &MessageChange,
        act: &Act,
    ) -> Result<Message, StoreError>;
    /// Sets `member`'s chat-list row's last message to `message`'s preview if it still is that
    /// message (an edit or delete of it); `false` when it is not.
    async fn refresh_last(&self, member: &UserId, message: &Message) -> Result<bool, StoreError>;
    /// How many messages `sender` wrote in the conversation after `after`.
    async fn count_from_after(
        &self,
        conversation: &ConversationId,
        sender: &UserId,
        after: &MessageId,
    ) -> Result<u32, StoreError>;
}

/// Work for the delivery pipeline (SQS → `push` function): send `frame` to every live
/// connection of each user in `to`; a user in `push` without a live connection gets a
/// mobile push of `note` instead. A job without a note is never pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub to: Vec<UserId>,
    #[serde(default)]
    pub push: Vec<UserId>,
    pub frame: ServerFrame,
    /// What the mobile push says (messages only: never receipts, typing or presence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<PushNote>,
    /// Part of a group's fan-out: its ordering group and identity, and (for messages) the
    /// membership check made at delivery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Fanout>,
}

/// Buckets a group's members are spread over: a member's bucket never changes, so each
/// member's frames of one group keep their order, and up to this many fan-out jobs of one
/// message run in parallel.
pub const FANOUT_BUCKETS: u16 = 16;
/// Most members one fan-out job serves.
pub const FANOUT_CHUNK: usize = 100;

/// Where a job sits in a group's fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fanout {
    pub g: ConversationId,
    /// The recipients' bucket ([`Fanout::bucket_of`]).
    pub b: u16,
    /// Which chunk of the bucket (a bucket of more than [`FANOUT_CHUNK`] members is split).
    #[serde(default)]
    pub part: u16,
    /// Deliver only to recipients who are still members and joined at or before this message
    /// (a member removed meanwhile gets nothing more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<MessageId>,
    /// The group's `removals` when the job was made: while it is unchanged nobody left, and
    /// the check costs one read of the group instead of one per recipient.
    #[serde(default)]
    pub epoch: u64,
}

impl Fanout {
    /// A member's fixed bucket in every group.
    pub fn bucket_of(user: &UserId) -> u16 {
        u16::from(user.as_uuid().as_bytes()[15]) % FANOUT_BUCKETS
    }
    /// A frame to one member, in that member's order of the group.
    pub fn to_member(g: ConversationId, user: &UserId) -> Self {
        Self {
            g,
            b: Self::bucket_of(user),
            part: 0,
            check: None,
            epoch: 0,
        }
    }
}

impl DeliveryJob {
    /// The ordering group: jobs of one group reach each device one after another, in the
    /// order they were queued (SQS FIFO `MessageGroupId`). A chat's messages and receipts
    /// share their conversation's group; presence is per user, a contact request per request.
    pub fn group(&self) -> String {
        if let Some(f) = &self.fanout {
            return format!("g:{}:{}", f.g, f.b);
        }
        let peer = |p: &UserId| match self.to.first() {
            Some(to) => ConversationId::direct(p, to).to_string(),
            None => p.to_string(),
        };
        match &self.frame {
            ServerFrame::Msg(m) => ConversationId::direct(&m.s, &m.r).to_string(),
            ServerFrame::Read(r) | ServerFrame::Dlv(r) => peer(&r.p),
            ServerFrame::Pres(p) => format!("u:{}", p.u),
            // After the message itself, in its chat's order.
            f @ (ServerFrame::Rct(_) | ServerFrame::Edit(_) | ServerFrame::Del(_)) => {
                f.action_chat().map(|c| c.to_string()).unwrap_or_default()
            }
            ServerFrame::Req(r) | ServerFrame::ReqAcc(r) => format!("r:{}", r.id),
            _ => self.dedup_id(),
        }
    }

    /// The job's identity (SQS FIFO `MessageDeduplicationId`, and the key of its delivery
    /// progress): a message's job is `msg:<message id>`; any other job is the hash of its
    /// content, so the same job queued twice within SQS's 5-minute window is delivered once.
    pub fn dedup_id(&self) -> String {
        match (&self.frame, &self.fanout) {
            (ServerFrame::Msg(m), Some(f)) => format!("msg:{}:{}:{}", m.id, f.b, f.part),
            (ServerFrame::Grp(e), Some(f)) => format!("grp:{}:{}:{}", e.id, f.b, f.part),
            (ServerFrame::Msg(m), None) => format!("msg:{}", m.id),
            _ => {
                let body = serde_json::to_vec(self).unwrap_or_default();
                hex::encode(&crate::crypto::sha256(&body)[..16])
            }
        }
    }
}

/// The delivery queue (SQS FIFO in AWS: ordered per [`DeliveryJob::group`], deduplicated by
/// [`DeliveryJob::dedup_id`]). At-least-once all the same: consumers are idempotent.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), BoxError>;
    /// Queues several jobs (SQS: batches of 10). All or an error: a retry re-queues them all,
    /// and deduplication drops the ones already queued.
    async fn enqueue_many(&self, jobs: &[DeliveryJob]) -> Result<(), BoxError> {
        for job in jobs {
            self.enqueue(job).await?;
        }
        Ok(())
    }
}
