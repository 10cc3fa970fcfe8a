use crate::StoreError;
use crate::domain::{ConversationId, MessageId, SessionId, UserId, Username};
use crate::error::BoxError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A live WebSocket connection (API Gateway's connection id and who is on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub connected_at: DateTime<Utc>,
    /// API Gateway closes connections after 2 h and `$disconnect` is best effort: after this
    /// instant the row is dead whether or not it was deleted.
    pub expires_at: DateTime<Utc>,
}

/// Live connections, by id and by user.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError>;
    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;
    /// Deletes the connection and returns it, if it existed.
    async fn delete(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;
    /// The user's connections that have not expired at `now`.
    async fn of_user(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError>;
    /// The connections of every user in `users` that have not expired at `now`, ordered by
    /// user then connection id; a user named twice counts once. Any number of users: the
    /// DynamoDB adapter reads them in batches of 100 (one BatchGetItem each).
    async fn of_users(
        &self,
        users: &[UserId],
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError>;
    /// Records that the connection got its `CONN` frame. True the first time only.
    async fn mark_greeted(&self, connection_id: &str) -> Result<bool, StoreError>;
}

/// Why a post to a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The connection is closed (API Gateway's 410 Gone): forget it.
    #[error("connection gone")]
    Gone,
    #[error("post to connection failed")]
    Failed(#[source] BoxError),
}

/// API Gateway's management API: `POST /@connections/{id}`.
#[async_trait]
pub trait ConnectionGateway: Send + Sync {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError>;
    /// `DELETE /@connections/{id}`: closes the connection (API Gateway then sends
    /// `$disconnect`). `Gone` when it was already closed.
    async fn close(&self, connection_id: &str) -> Result<(), PostError>;
}

/// A mobile push platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Fcm,
    Apns,
}

/// A registered phone: its push token's SNS platform endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    /// The session that registered it: ending that session (logout, a reused refresh token)
    /// unregisters the device. `None` only on rows stored before devices belonged to a
    /// session; those stay until removed or disabled by the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    pub platform: Platform,
    /// Hex SHA-256 of the push token (the token itself lives only in SNS).
    pub token_hash: String,
    pub endpoint_arn: String,
    pub created_at: DateTime<Utc>,
}

/// Registered devices per user.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores the device, replacing one with the same id (a device's id is derived from its
    /// user and token, so re-registering a token replaces it).
    async fn put(&self, device: &Device) -> Result<(), StoreError>;
    /// The user's devices.
    async fn list(&self, user: &UserId) -> Result<Vec<Device>, StoreError>;
    /// The devices of every user in `users`, ordered by user then device id; a user named
    /// twice counts once. Any number of users: the DynamoDB adapter reads them in batches of
    /// 100 (one BatchGetItem each).
    async fn list_many(&self, users: &[UserId]) -> Result<Vec<Device>, StoreError>;
    /// Deletes and returns the device, if it is the user's.
    async fn delete(&self, user: &UserId, id: &uuid::Uuid) -> Result<Option<Device>, StoreError>;
    /// Deletes and returns the user's devices registered by `session`. A device that another
    /// session re-registered meanwhile is left alone.
    async fn delete_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<Vec<Device>, StoreError>;
}

/// What a mobile push says about a new message: who sent it and where to fetch it, never
/// its content (message text has no place on Google's and Apple's servers, nor on a lock
/// screen). Every field is bounded — two UUIDs and a username of at most 30 ASCII
/// characters — so the platform payload stays far below the 4 KB FCM and APNs accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushNote {
    /// The conversation (`chatId` of the REST API).
    pub chat_id: ConversationId,
    pub message_id: MessageId,
    /// The sender's username; [`PushNote::SYSTEM_SENDER`] for the service itself.
    pub sender_name: Username,
}

impl PushNote {
    /// The name pushes show for messages of the system sender.
    pub const SYSTEM_SENDER: &str = "WhatsPe";
    /// The body every message push shows: previews are off by design.
    pub const BODY: &str = "New message";
}

/// Why a mobile push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The platform disabled the endpoint (uninstalled app, expired token): forget it.
    #[error("push endpoint disabled")]
    Disabled,
    #[error("push failed")]
    Failed(#[source] BoxError),
}

/// Mobile push (SNS platform endpoints for FCM / APNs).
#[async_trait]
pub trait PushSender: Send + Sync {
    /// Whether this deployment can push to `platform` (has its platform application).
    fn supports(&self, platform: Platform) -> bool;
    /// Creates (or finds) the platform endpoint of `token`; returns its id (an ARN in SNS).
    async fn register(&self, platform: Platform, token: &str) -> Result<String, BoxError>;
    async fn unregister(&self, endpoint: &str) -> Result<(), BoxError>;
    /// Sends the notification of `note` (the platform's payload: title, generic body, ids;
    /// never the message content) to the endpoint.
    async fn push(
        &self,
        endpoint: &str,
        platform: Platform,
        note: &PushNote,
    ) -> Result<(), PushError>;
}

/// Per-target progress of delivery jobs, so a redelivered job serves only the targets it has
/// not served yet and a message makes at most one mobile push per device.
#[async_trait]
pub trait DeliveryLedger: Send + Sync {
    /// The targets (connection ids) already served for the job `job` (its dedup id).
    async fn served(&self, job: &str) -> Result<HashSet<String>, StoreError>;
    /// Adds `targets` to what the job served.
    async fn record_served(&self, job: &str, targets: &[String]) -> Result<(), StoreError>;
    /// Claims the job's one mobile push to `device`: true the first time, false ever after
    /// (a conditional write, so two concurrent deliveries cannot both push).
    async fn claim_push(&self, job: &str, device: &uuid::Uuid) -> Result<bool, StoreError>;
}
