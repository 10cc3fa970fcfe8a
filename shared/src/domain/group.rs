//! Groups (DESIGN §8): a group is a conversation with its own id and 1–1,024 members. It uses
//! the same message model as a 1:1 chat; what is group-only lives here.

use super::{ConversationId, Cursors, Message, MessageId, UserId};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// WhatsApp's group size limit, the default cap (configurable: `WHATSPE_GROUP_MAX_MEMBERS`).
pub const DEFAULT_MAX_MEMBERS: u32 = 1024;
/// Users one create or add request may bring in (one DynamoDB transaction holds 100 items: the
/// group, its system message, the actor's check and at most this many members).
pub const MAX_ADD_PER_REQUEST: usize = 90;
/// Receipt cursor moves a member row remembers (for the `deliveredAt`/`readAt` of receipts).
pub const MARKS_KEPT: usize = 4;

/// A group's name: 1–100 characters (after trimming), no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let n = t.chars().count();
        if !(1..=100).contains(&n) || t.chars().any(char::is_control) {
            return Err(Error::validation(
                "invalid_group_name",
                "name must be 1-100 characters without control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GroupName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<GroupName> for String {
    fn from(v: GroupName) -> String {
        v.0
    }
}

/// Largest group description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// Checks a description: at most 512 characters; empty clears it.
pub fn parse_description(s: &str) -> Result<Option<String>, Error> {
    if s.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::validation(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let t = s.trim();
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

/// Checks an avatar's form: a media id (a UUID, as the media API hands out); empty clears it.
/// The group service then checks the upload itself (an image of the caller's).
pub fn parse_avatar(s: &str) -> Result<Option<String>, Error> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 36 || uuid::Uuid::try_parse(s).is_err() {
        return Err(Error::validation(
            "invalid_avatar",
            "avatar must be a media id (a UUID)",
        ));
    }
    Ok(Some(s.to_ascii_lowercase()))
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

/// Who may do something in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    Admins,
    All,
}

impl Who {
    /// Whether a member of `role` may.
    pub fn allows(self, role: Role) -> bool {
        self == Who::All || role == Role::Admin
    }
}

/// A group's settings: who edits its info (name, description, avatar), who sends, who adds
/// members. Defaults: everyone edits info and sends, admins add (WhatsApp's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupSettings {
    pub edit_info: Who,
    pub send: Who,
    pub add: Who,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            edit_info: Who::All,
            send: Who::All,
            add: Who::Admins,
        }
    }
}

/// A group's shared state (the `META` item): everything but its members and messages.
/// Every change is a conditional write on `version`, so concurrent admins cannot both win.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMeta {
    pub id: ConversationId,
    pub name: GroupName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub settings: GroupSettings,
    pub member_count: u32,
    pub admin_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
    /// The newest message (content cut to a preview): the chat list's entry.
    pub last_message: Message,
    /// Messages from people so far (system messages are not counted): unread counts are
    /// `seq − member.readSeq`.
    pub seq: u64,
    /// Members ever joined: each member's `joinSeq` (who is longest-standing).
    pub joins: u64,
    /// Members ever removed or gone: a fan-out job made before a removal checks membership
    /// when it runs (see [`crate::ports::Fanout::epoch`]).
    #[serde(default)]
    pub removals: u64,
    /// Bumped by every write.
    pub version: u64,
}

/// One receipt cursor move: everything up to `upTo` reached the member at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    pub up_to: MessageId,
    pub at: DateTime<Utc>,
}

/// A member's row: role, when they joined, what they may see, and their receipt cursors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub group_id: ConversationId,
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    pub join_seq: u64,
    /// The first message the member may see (the system message of their joining).
    pub from: MessageId,
    #[serde(flatten)]
    pub cursors: Cursors,
    /// `seq` of the message at `readUpTo`.
    pub read_seq: u64,
    /// The last [`MARKS_KEPT`] moves of each cursor, oldest first.
    #[serde(default)]
    pub delivered_marks: Vec<Mark>,
    #[serde(default)]
    pub read_marks: Vec<Mark>,
}

impl Member {
    /// When the member's cursor in `marks` first covered `id`: the earliest kept move whose
    /// `upTo` reaches it. A message older than every kept move reports the oldest kept move's
    /// time (an upper bound).
    pub fn reached(
        marks: &[Mark],
        cursor: Option<MessageId>,
        id: &MessageId,
    ) -> Option<DateTime<Utc>> {
        if cursor.is_none_or(|c| c < *id) {
            return None;
        }
        marks
            .iter()
            .find(|m| m.up_to >= *id)
            .or(marks.last())
            .map(|m| m.at)
    }

    /// `marks` with one more move, keeping the newest [`MARKS_KEPT`].
    pub fn with_mark(marks: &[Mark], mark: Mark) -> Vec<Mark> {
        let mut v = marks.to_vec();
        v.push(mark);
        let excess = v.len().saturating_sub(MARKS_KEPT);
        v.drain(..excess);
        v
    }
}

/// What changed in a group: the `ev` of a system message and of its `GRP` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupEventKind {
    Created,
    Added,
    Removed,
    Left,
    Joined,
    Promoted,
    Demoted,
    /// Name, description, avatar or settings.
    Updated,
}

/// A membership or info change: what, by whom, to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupEvent {
    pub ev: GroupEventKind,
    pub by: UserId,
    #[serde(default)]
    pub users: Vec<UserId>,
}

impl GroupEvent {
    /// The system message's text.
    pub fn describe(&self) -> String {
        let n = self.users.len();
        let them = if n == 1 {
            "1 member".to_owned()
        } else {
            format!("{n} members")
        };
        match self.ev {
            GroupEventKind::Created => "created the group".into(),
            GroupEventKind::Added => format!("added {them}"),
            GroupEventKind::Removed => format!("removed {them}"),
            GroupEventKind::Left => "left".into(),
            GroupEventKind::Joined => "joined with an invite link".into(),
            GroupEventKind::Promoted => format!("made {them} admin"),
            GroupEventKind::Demoted => format!("dismissed {them} as admin"),
            GroupEventKind::Updated => "changed the group info".into(),
        }
    }
}

/// What a group message carries beyond a 1:1 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPart {
    /// The group's `seq` after this message.
    pub seq: u64,
    /// Set on system messages (membership and info changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<GroupEvent>,
}

/// A member as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// A group as the API shows it (`inviteCode` only to admins).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub id: ConversationId,
    pub name: String,
    pub description: Option<String>,
    /// A media id.
    pub avatar: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub settings: GroupSettings,
    pub member_count: u32,
    /// Every member, oldest first (not in `GET /api/groups` lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
}

impl From<&GroupMeta> for GroupView {
    fn from(m: &GroupMeta) -> Self {
        Self {
            id: m.id,
            name: m.name.as_str().to_owned(),
            description: m.description.clone(),
            avatar: m.avatar.clone(),
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
            settings: m.settings,
            member_count: m.member_count,
            members: None,
            invite_code: None,
        }
    }
}

/// A group in a chat-list entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    pub id: ConversationId,
    pub name: String,
    pub avatar: Option<String>,
    pub member_count: u32,
}

impl From<&GroupMeta> for GroupSummary {
    fn from(m: &GroupMeta) -> Self {
        Self {
            id: m.id,
            name: m.name.as_str().to_owned(),
            avatar: m.avatar.clone(),
            member_count: m.member_count,
        }
    }
}

/// One member's receipt of a group message (`GET …/messages/:id/receipts`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    pub user_id: UserId,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_descriptions_and_avatars_are_checked() {
        assert_eq!(GroupName::parse("  Family ").unwrap().as_str(), "Family");
        assert!(GroupName::parse(&"é".repeat(100)).is_ok());
        for bad in ["", "   ", &"a".repeat(101), "a\u{7}b"] {
            assert_eq!(
                GroupName::parse(bad).unwrap_err().code(),
                "invalid_group_name"
            );
        }
        assert_eq!(parse_description("").unwrap(), None);
        assert_eq!(
            parse_description(&"x".repeat(513)).unwrap_err().code(),
            "invalid_description"
        );
        assert_eq!(parse_avatar("").unwrap(), None);
        assert_eq!(
            parse_avatar("cat.png").unwrap_err().code(),
            "invalid_avatar"
        );
        assert!(
            parse_avatar("0190b7a0-0000-7000-8000-000000000001")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn settings_allow_by_role() {
        assert!(Who::All.allows(Role::Member));
        assert!(!Who::Admins.allows(Role::Member));
        assert!(Who::Admins.allows(Role::Admin));
    }

    #[test]
    fn receipt_times_come_from_the_first_cursor_move_covering_the_message() {
        let ids: Vec<MessageId> = (0..4).map(|_| MessageId::new_v7()).collect();
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let marks = [
            Mark {
                up_to: ids[1],
                at: t(10),
            },
            Mark {
                up_to: ids[2],
                at: t(20),
            },
        ];
        assert_eq!(Member::reached(&marks, Some(ids[2]), &ids[0]), Some(t(10)));
        assert_eq!(Member::reached(&marks, Some(ids[2]), &ids[2]), Some(t(20)));
        assert_eq!(Member::reached(&marks, Some(ids[2]), &ids[3]), None);
        assert_eq!(Member::reached(&marks, None, &ids[0]), None);
        let mut many = Vec::new();
        for i in 0..(MARKS_KEPT + 3) {
            many = Member::with_mark(
                &many,
                Mark {
                    up_to: ids[0],
                    at: t(i as i64),
                },
            );
        }
        assert_eq!(many.len(), MARKS_KEPT);
        assert_eq!(many[0].at, t(3), "the oldest moves are dropped");
    }
}
