use super::actions::{Act, Quote, Reaction, ReactionSummary, summarise};
use super::{GroupEvent, GroupPart, GroupSummary, MediaId, MediaRef, PublicProfile, UserId};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

super::ids::uuid_id!(
    /// A message id: a UUIDv7, so ids sort by time (the history's sort key and cursor).
    MessageId,
    "invalid_message_id",
    "message id"
);

impl MessageId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

super::ids::uuid_id!(
    /// A conversation id (`chatId`). A 1:1 conversation's id is derived from its two members,
    /// whatever their order ([`ConversationId::direct`]); a group's is the group's own id.
    ConversationId,
    "invalid_chat_id",
    "chatId"
);

/// Namespace of the UUIDv5 ids of 1:1 conversations.
const DIRECT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_3b1e_52a4_4f0e_9a8d_77c2_0d5e_1a01);

impl ConversationId {
    /// The 1:1 conversation of `a` and `b`: UUIDv5 of the two ids in ascending order.
    pub fn direct(a: &UserId, b: &UserId) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Self(Uuid::new_v5(
            &DIRECT_NAMESPACE,
            format!("{lo}:{hi}").as_bytes(),
        ))
    }
    /// A new group's id (a UUIDv7, like message ids).
    pub fn new_group() -> Self {
        Self(Uuid::now_v7())
    }
    /// Whether this is a group's id: groups have UUIDv7 ids, 1:1 conversations UUIDv5 ones.
    pub fn is_group(&self) -> bool {
        self.0.get_version_num() == 7
    }
}

/// The seed's message types. Media types carry a reference to the media as content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    Document,
}

impl MessageKind {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "text" => Ok(Self::Text),
            "image" => Ok(Self::Image),
            "video" => Ok(Self::Video),
            "audio" => Ok(Self::Audio),
            "document" => Ok(Self::Document),
            _ => Err(Error::validation(
                "invalid_type",
                "type must be one of text, image, video, audio, document",
            )),
        }
    }

    /// The kind's name, as the API spells it (what [`MessageKind::parse`] reads).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }
}

/// Largest text content, in UTF-8 bytes.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Largest content once JSON-escaped (every answer and frame carries it escaped): twice the
/// plain limit, so 64 KiB of quotes or newlines pass and 64 KiB of `\u0001`s do not.
pub const MAX_CONTENT_ESCAPED_BYTES: usize = 2 * MAX_CONTENT_BYTES;
/// Characters of content a chat-list preview keeps.
pub const PREVIEW_CHARS: usize = 200;

/// Message content, checked against its kind: text is 1 byte – 64 KiB and not only white
/// space; a media message's content is its media id (the upload's details are in
/// [`Message::media`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Content(String);

impl Content {
    pub fn parse(kind: MessageKind, s: &str) -> Result<Self, Error> {
        if s.len() > MAX_CONTENT_BYTES {
            return Err(Error::PayloadTooLarge {
                message: format!("content exceeds {MAX_CONTENT_BYTES} bytes"),
            });
        }
        if s.chars().map(crate::frames::escaped_len).sum::<usize>() > MAX_CONTENT_ESCAPED_BYTES {
            return Err(Error::PayloadTooLarge {
                message: format!(
                    "content exceeds {MAX_CONTENT_ESCAPED_BYTES} bytes once JSON-escaped \
                     (control characters take 6 bytes each)"
                ),
            });
        }
        if s.trim().is_empty() {
            return Err(Error::validation(
                "empty_content",
                "content must not be empty",
            ));
        }
        if kind != MessageKind::Text && MediaId::parse(s).is_err() {
            return Err(Error::validation(
                "invalid_media_reference",
                "a media message's content is the mediaId POST /api/media returned \
                 (external URLs are no longer accepted)",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// A message deleted for everyone keeps no content.
    pub fn wiped() -> Content {
        Content(String::new())
    }
    /// The first [`PREVIEW_CHARS`] characters (what chat-list rows keep).
    pub fn preview_of(content: &Content) -> Content {
        Content(content.0.chars().take(PREVIEW_CHARS).collect())
    }
}

/// Delivery state of a message, derived from the recipient's cursors.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

/// A stored message. `status` is not stored: see [`Message::status_for`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub receiver_id: UserId,
    pub content: Content,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Set on group messages (whose `receiverId` is the group's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupPart>,
    /// Set on media messages (checked uploads; older stored media messages lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
    /// Reply, forward, reactions, edit and delete (stored flat beside the fields above).
    #[serde(flatten)]
    pub extras: Extras,
}

/// What message actions add to a message (DESIGN §10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extras {
    /// The message this one answers (a quote of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted for everyone: content and media wiped, the tombstone stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// One per member. Always stored (an empty map on a new message), so a reaction is one
    /// write to its own entry.
    #[serde(default)]
    pub reactions: BTreeMap<UserId, Reaction>,
    /// The last action, for the relay (never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Act>,
}

impl Message {
    /// The copy a chat-list entry keeps: the content cut to [`PREVIEW_CHARS`], with its
    /// reactions (the chat list shows them on its last message), without the last action.
    pub fn preview(&self) -> Message {
        let mut p = self.clone();
        p.content = Content::preview_of(&self.content);
        p.extras.act = None;
        p
    }
    pub fn is_deleted(&self) -> bool {
        self.extras.deleted_at.is_some()
    }
    pub fn is_group(&self) -> bool {
        self.group.is_some()
    }
    /// The membership or info change a group system message records.
    pub fn event(&self) -> Option<&GroupEvent> {
        self.group.as_ref().and_then(|g| g.event.as_ref())
    }
    /// The status the recipient's cursors give this message.
    pub fn status_for(&self, recipient: &Cursors) -> MessageStatus {
        if recipient.read_up_to.is_some_and(|r| r >= self.id) {
            MessageStatus::Read
        } else if recipient.delivered_up_to.is_some_and(|d| d >= self.id) {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        }
    }
}

/// A member's receipt cursors in a conversation: everything up to (and including) these ids
/// was delivered to / read by them. Monotonic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_up_to: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_up_to: Option<MessageId>,
}

/// A message as the API shows it (the seed's shape plus `chatId` and `clientMessageId`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: MessageId,
    /// The conversation: send to it with `POST /api/messages {chatId}`.
    pub chat_id: ConversationId,
    pub sender_id: UserId,
    pub receiver_id: UserId,
    pub content: String,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub status: MessageStatus,
    pub client_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// On a group's system messages: the membership or info change it records (the sender is
    /// the system user; `event.by` is who did it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<GroupEvent>,
    /// On media messages: the upload (fetch it with `GET /api/media/{mediaId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
    /// On a reply: the message it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted for everyone: `content` is empty, `media` and `replyTo` are gone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Reactions by emoji, most used first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionSummary>,
}

impl MessageView {
    pub fn new(m: &Message, status: MessageStatus) -> Self {
        Self {
            id: m.id,
            chat_id: m.conversation_id,
            sender_id: m.sender_id,
            receiver_id: m.receiver_id,
            content: m.content.as_str().to_owned(),
            kind: m.kind,
            status,
            client_message_id: m.client_message_id.clone(),
            created_at: m.created_at,
            updated_at: [m.extras.edited_at, m.extras.deleted_at]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(m.created_at),
            event: m.event().cloned(),
            media: m.media.clone(),
            reply_to: m.extras.reply_to.clone(),
            forwarded: m.extras.forwarded,
            edited: m.extras.edited_at.is_some(),
            edited_at: m.extras.edited_at,
            deleted: m.is_deleted(),
            deleted_at: m.extras.deleted_at,
            reactions: summarise(&m.extras.reactions),
        }
    }
}

/// One member's row of a conversation: the chat-list entry and their receipt cursors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub conversation_id: ConversationId,
    pub member_id: UserId,
    pub peer_id: UserId,
    /// The newest message, its content cut to a preview.
    pub last_message: Message,
    /// Messages from the peer this member has not read.
    pub unread_count: u32,
    #[serde(flatten)]
    pub cursors: Cursors,
    pub updated_at: DateTime<Utc>,
}

/// Which kind of chat a chat-list entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

/// A chat-list entry as the API shows it: a direct chat has `peer`, a group chat `group`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatView {
    #[serde(rename = "chatId")]
    pub conversation_id: ConversationId,
    pub kind: ChatKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PublicProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSummary>,
    pub last_message: Option<MessageView>,
    pub unread_count: u32,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direct_conversation_id_does_not_depend_on_member_order() {
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        assert_eq!(
            ConversationId::direct(&a, &b),
            ConversationId::direct(&b, &a)
        );
        assert_ne!(
            ConversationId::direct(&a, &b),
            ConversationId::direct(&a, &c)
        );
    }

    #[test]
    fn content_rules_by_kind() {
        assert!(Content::parse(MessageKind::Text, "hi").is_ok());
        assert!(Content::parse(MessageKind::Text, &"é".repeat(MAX_CONTENT_BYTES / 2)).is_ok());
        let cases = [
            (MessageKind::Text, "   \n", "empty_content"),
            (MessageKind::Text, "", "empty_content"),
            (MessageKind::Image, "cat.jpg", "invalid_media_reference"),
            (
                MessageKind::Video,
                "http://x.example/a.mp4",
                "invalid_media_reference",
            ),
            (MessageKind::Audio, "https://", "invalid_media_reference"),
            (
                MessageKind::Image,
                "https://cdn.example.com/a.jpg",
                "invalid_media_reference",
            ),
        ];
        for (kind, content, code) in cases {
            assert_eq!(
                Content::parse(kind, content).unwrap_err().code(),
                code,
                "{kind:?} {content:?}"
            );
        }
        assert!(Content::parse(MessageKind::Text, &"\"\n".repeat(MAX_CONTENT_BYTES / 2)).is_ok());
        assert_eq!(
            Content::parse(MessageKind::Text, &"\u{1}".repeat(MAX_CONTENT_BYTES / 2))
                .unwrap_err()
                .code(),
            "payload_too_large",
            "32 KiB of \\u0001 is 192 KiB once escaped"
        );
        let big = "a".repeat(MAX_CONTENT_BYTES + 1);
        assert_eq!(
            Content::parse(MessageKind::Text, &big).unwrap_err().code(),
            "payload_too_large"
        );
        let id = MediaId::new_random().to_string();
        assert!(Content::parse(MessageKind::Image, &id).is_ok());
        assert_eq!(
            MessageKind::parse("sticker").unwrap_err().code(),
            "invalid_type"
        );
    }

    #[test]
    fn status_follows_the_recipients_cursors() {
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let msg = |id| Message {
            id,
            conversation_id: ConversationId::direct(&a, &b),
            sender_id: a,
            receiver_id: b,
            content: Content::parse(MessageKind::Text, "x").unwrap(),
            kind: MessageKind::Text,
            client_message_id: None,
            created_at: Utc::now(),
            group: None,
            media: None,
            extras: Extras::default(),
        };
        let (m1, m2, m3) = (
            msg(MessageId::new_v7()),
            msg(MessageId::new_v7()),
            msg(MessageId::new_v7()),
        );
        let cursors = Cursors {
            delivered_up_to: Some(m2.id),
            read_up_to: Some(m1.id),
        };
        assert_eq!(m1.status_for(&cursors), MessageStatus::Read);
        assert_eq!(m2.status_for(&cursors), MessageStatus::Delivered);
        assert_eq!(m3.status_for(&cursors), MessageStatus::Sent);
        let read_only = Cursors {
            delivered_up_to: None,
            read_up_to: Some(m2.id),
        };
        assert_eq!(m2.status_for(&read_only), MessageStatus::Read);
    }
}
