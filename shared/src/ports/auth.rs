use super::{Page, PageRequest, Versioned};
use crate::StoreError;
use crate::domain::{PhoneNumber, SessionId, User, UserId, Username};
use crate::error::BoxError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Users, with phone numbers and usernames unique across all of them.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates `user` atomically with its uniqueness guards.
    /// `Conflict("phone_number")` / `Conflict("username")` when either is taken.
    async fn create(&self, user: &User) -> Result<(), StoreError>;
    /// The user and its version, if it exists.
    async fn get(&self, id: &UserId) -> Result<Option<Versioned<User>>, StoreError>;
    /// The user owning `phone`, if any.
    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<User>, StoreError>;
    /// The user whose username is `username` (case-insensitively), if any.
    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// The users that exist among `ids` (any order; missing ids are left out).
    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    /// Users whose lowercase username starts with `prefix` (lowercase, non-empty), in
    /// username order.
    async fn search_username_prefix(
        &self,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError>;
    /// Replaces the user if its version is still `expected_version`, moving the username guard
    /// when the username changed (from `previous_username`). Returns the new version.
    /// `Conflict("version")` on a concurrent change, `Conflict("username")` when taken.
    async fn update(
        &self,
        user: &User,
        expected_version: u64,
        previous_username: &Username,
    ) -> Result<u64, StoreError>;
}

/// The OTP state of one phone number: the live codes, each bound to the client (IP) that
/// asked for it, and the recent sends and wrong guesses per client.
#[derive(Debug, Clone, PartialEq)]
pub struct OtpState {
    pub phone: PhoneNumber,
    /// Codes not used yet, oldest first; at most one per client.
    pub codes: Vec<LiveCode>,
    /// Sends inside the per-phone window, oldest first.
    pub sends: Vec<Attempt>,
    /// Wrong guesses of the last 24 hours, oldest first.
    pub failures: Vec<Attempt>,
    /// After this instant the record carries no information (the store may expire it).
    pub expire_after: DateTime<Utc>,
}

/// One code sent and not used yet (stored as is in the OTP item: camelCase attributes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCode {
    /// The client that asked for it (a keyed hash of its IP address, never the address).
    pub client: String,
    /// Hex HMAC-SHA256 of the code.
    pub mac: String,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
    /// Wrong guesses against it from its own client.
    pub attempts: u32,
}

/// A send or a wrong guess: by which client, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    pub client: String,
    pub at: DateTime<Utc>,
}

/// OTP state per phone number, written with optimistic concurrency.
#[async_trait]
pub trait OtpStore: Send + Sync {
    async fn get(&self, phone: &PhoneNumber) -> Result<Option<Versioned<OtpState>>, StoreError>;
    /// Writes `state` if the stored version is still `expected_version` (`None`: no record
    /// yet). Returns the new version; `Conflict("version")` otherwise.
    async fn put(&self, state: &OtpState, expected_version: Option<u64>)
    -> Result<u64, StoreError>;
}

/// A login session: one refresh-token family.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    /// Hex SHA-256 of the one refresh secret that is currently valid.
    pub token_hash: String,
    /// Hex SHA-256 of the secret the last rotation replaced (`None` before the first): a
    /// retried refresh with it shortly after `rotated_at` gets the same new token again.
    pub previous_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the token was last rotated (the creation time before the first rotation).
    pub rotated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    /// How many times the token was rotated: the length of the chain of refresh tokens issued
    /// for this session (each derived from the one before), so a presented token can be
    /// recognised as a genuine, rotated one of this session.
    pub rotations: u32,
}

/// Sessions, rotated with a compare-and-set on the current token hash.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// `Conflict("exists")` if the id is taken.
    async fn create(&self, session: &Session) -> Result<(), StoreError>;
    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    /// Replaces the token hash if the session exists, is not revoked and its hash is still
    /// `expected_hash`, in one conditional write that also keeps `expected_hash` as the
    /// previous hash and `now` as the rotation time, and counts the rotation;
    /// `Conflict("token")` otherwise.
    async fn rotate(
        &self,
        id: &SessionId,
        expected_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Marks the session revoked. Idempotent; a missing session is not an error.
    async fn revoke(&self, id: &SessionId) -> Result<(), StoreError>;
}

/// Sends a text message to a phone.
#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<(), BoxError>;
}
