//! Every DynamoDB key format, in one place: the `pk`/`sk` values of each item and the values of
//! index key attributes (the tables and attribute names themselves are in [`super::tables`]).
//! Golden-item tests in the adapters pin them.

use crate::domain::{
    ConversationId, MessageId, PhoneNumber, RequestId, SessionId, UserId, Username,
};

/// `media` table: one upload's metadata.
pub fn media_pk(id: &crate::domain::MediaId) -> String {
    format!("MEDIA#{id}")
}

/// `users` table: the user item.
pub fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

/// `users` table: the guard item that makes a phone number unique and maps it to its user.
pub fn phone_guard_pk(phone: &PhoneNumber) -> String {
    format!("PHONE#{phone}")
}

/// `users` table: the guard item that makes a username unique (case-insensitively).
pub fn username_guard_pk(username: &Username) -> String {
    format!("USERNAME#{}", username.key())
}

/// `verification_codes` table: the OTP state of one phone number.
pub fn otp_pk(phone: &PhoneNumber) -> String {
    format!("OTP#{phone}")
}

/// `blocks` table: the partition of one blocker's blocks.
pub fn blocks_pk(blocker: &UserId) -> String {
    user_pk(blocker)
}

/// `blocks` table: the block of one user.
pub fn block_sk(blocked: &UserId) -> String {
    format!("BLOCKED#{blocked}")
}

/// `rate_limits` table: one abuse-limit counter (rule, subject and window are in `key`).
pub fn limit_pk(key: &str) -> String {
    format!("LIMIT#{key}")
}

/// `sessions` table: one login session.
pub fn session_pk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}

/// `users` table, `by_username` index partition: the first letter of the lowercase username.
pub fn username_search_prefix(username_key: &str) -> String {
    username_key
        .chars()
        .next()
        .map(String::from)
        .unwrap_or_default()
}

/// `contact_requests` table: one request.
pub fn request_pk(id: &RequestId) -> String {
    format!("REQ#{id}")
}

/// `contact_requests` table: the guard that allows one pending request per pair, whichever
/// side sent it (the two ids in ascending order).
pub fn pair_guard_pk(a: &UserId, b: &UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("PAIR#{lo}#{hi}")
}

/// `contacts` table: partition of one owner's contact rows (same shape as [`user_pk`]).
pub fn contacts_pk(owner: &UserId) -> String {
    user_pk(owner)
}

/// `contacts` table: sort key of one contact row.
pub fn contact_sk(other: &UserId) -> String {
    format!("CONTACT#{other}")
}

/// `messages` table: the partition of one conversation's messages.
pub fn conversation_messages_pk(conversation: &ConversationId) -> String {
    format!("CONV#{conversation}")
}

/// Prefix of message sort keys (`MSG#<uuidv7>`: time order).
pub const MESSAGE_SK_PREFIX: &str = "MSG#";

/// `messages` table: sort key of one message.
pub fn message_sk(id: &MessageId) -> String {
    format!("{MESSAGE_SK_PREFIX}{id}")
}

/// Upper bound of every message sort key (`~` sorts after hex digits and `-`).
pub const MESSAGE_SK_END: &str = "MSG#~";

/// `messages` table: partition of a dedup guard (scope = sender id or `webhook`).
pub fn dedup_pk(scope: &str, key: &str) -> String {
    format!("DEDUP#{scope}#{key}")
}

/// `messages` table: sort key of every dedup guard.
pub const DEDUP_SK: &str = "DEDUP";

/// `conversations` table: partition of one member's rows (same shape as [`user_pk`]).
pub fn member_pk(member: &UserId) -> String {
    user_pk(member)
}

/// `conversations` table: sort key of a member's row of a conversation.
pub fn conversation_sk(conversation: &ConversationId) -> String {
    format!("CONV#{conversation}")
}

/// `conversations` table: sort key of the member's send rate-limit state.
pub const SEND_RATE_SK: &str = "RATE#send";

/// `connections` table: one live WebSocket connection.
pub fn connection_pk(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

/// `connections` table: the index item of one user's live connections, each held in its own
/// attribute ([`connection_attr`]), so the connections of a batch of users read with one
/// BatchGetItem (a GSI Query per user cannot be batched).
pub fn user_connections_pk(user: &UserId) -> String {
    format!("USERCONN#{user}")
}

/// Prefix of the attributes of a user's connection index item that hold one connection each.
pub const CONNECTION_ATTR_PREFIX: &str = "c#";

/// `connections` table: the attribute of the user's index item holding one connection.
pub fn connection_attr(connection_id: &str) -> String {
    format!("{CONNECTION_ATTR_PREFIX}{connection_id}")
}

/// `connections` table: the targets a delivery job (by its dedup id) has served.
pub fn delivery_progress_pk(job: &str) -> String {
    format!("JOB#{job}")
}

/// `connections` table: the claim of a delivery job's one mobile push to a device.
pub fn push_claim_pk(job: &str, device: &uuid::Uuid) -> String {
    format!("JOB#{job}#PUSH#{device}")
}

/// `devices` table: partition of one user's devices item (same shape as [`user_pk`]).
pub fn devices_pk(user: &UserId) -> String {
    user_pk(user)
}

/// `devices` table: sort key of the one item holding all of a user's devices, each in its
/// own attribute ([`device_attr`]), so the devices of a batch of users read with one
/// BatchGetItem.
pub const DEVICES_SK: &str = "DEVICES";

/// Prefix of the attributes of a user's devices item that hold one device each.
pub const DEVICE_ATTR_PREFIX: &str = "d#";

/// `devices` table: the attribute of the user's devices item holding one device.
pub fn device_attr(id: &uuid::Uuid) -> String {
    format!("{DEVICE_ATTR_PREFIX}{id}")
}

/// `groups` table: partition of one group (its `META` and member rows).
pub fn group_pk(group: &ConversationId) -> String {
    format!("GROUP#{group}")
}

/// `groups` table: sort key of a group's shared state.
pub const GROUP_META_SK: &str = "META";

/// Prefix of member-row sort keys.
pub const GROUP_MEMBER_SK_PREFIX: &str = "MEMBER#";

/// `groups` table: sort key of one member's row.
pub fn group_member_sk(user: &UserId) -> String {
    format!("{GROUP_MEMBER_SK_PREFIX}{user}")
}

/// `groups` table, `by_member` index partition (`memberOf`) of a member row: the user.
pub fn group_member_of(user: &UserId) -> String {
    user.to_string()
}

/// `groups` table, `by_member` index sort key (`groupId`) of a member row: the group.
pub fn group_member_group(group: &ConversationId) -> String {
    group.to_string()
}

/// `groups` table: the item mapping a live invite code to its group.
pub fn invite_pk(code: &str) -> String {
    format!("INVITE#{code}")
}

/// `groups` table: sort key of every invite item.
pub const INVITE_SK: &str = "INVITE";
