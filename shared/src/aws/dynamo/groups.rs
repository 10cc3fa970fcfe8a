//! [`GroupStore`] on the `groups` table (with group messages in `messages` and rate state in
//! `conversations`, written in the same transactions). WORK IN PROGRESS: the adapter is being
//! written on its own branch; until it lands every call fails as unavailable.

use crate::StoreError;
use crate::domain::{ConversationId, GroupMeta, Mark, Member, MessageId, UserId};
use crate::ports::{CursorKind, GroupChange, GroupStore, Page, PageRequest};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

/// [`GroupStore`] on DynamoDB.
#[derive(Clone)]
pub struct DynamoGroups {
    #[allow(dead_code)]
    client: Client,
    #[allow(dead_code)]
    tables: super::TableNames,
}

impl DynamoGroups {
    /// Over the deployment's tables (`groups`, `messages`, `conversations`).
    pub fn new(client: Client, tables: super::TableNames) -> Self {
        Self { client, tables }
    }
}

fn pending() -> StoreError {
    StoreError::Unavailable("the DynamoDB group adapter is not written yet".into())
}

#[async_trait]
impl GroupStore for DynamoGroups {
    async fn commit(&self, _: &GroupChange) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn meta(&self, _: &ConversationId) -> Result<Option<GroupMeta>, StoreError> {
        Err(pending())
    }
    async fn meta_and_member(
        &self,
        _: &ConversationId,
        _: &UserId,
    ) -> Result<(Option<GroupMeta>, Option<Member>), StoreError> {
        Err(pending())
    }
    async fn members(&self, _: &ConversationId) -> Result<Vec<Member>, StoreError> {
        Err(pending())
    }
    async fn members_among(
        &self,
        _: &ConversationId,
        _: &[UserId],
    ) -> Result<Vec<Member>, StoreError> {
        Err(pending())
    }
    async fn groups_of(&self, _: &UserId, _: &PageRequest) -> Result<Page<Member>, StoreError> {
        Err(pending())
    }
    async fn metas(&self, _: &[ConversationId]) -> Result<Vec<GroupMeta>, StoreError> {
        Err(pending())
    }
    async fn invite(&self, _: &str) -> Result<Option<ConversationId>, StoreError> {
        Err(pending())
    }
    async fn advance(
        &self,
        _: &ConversationId,
        _: &UserId,
        _: CursorKind,
        _: Option<MessageId>,
        _: Mark,
        _: u64,
        _: &[Mark],
    ) -> Result<(), StoreError> {
        Err(pending())
    }
}
