//! DynamoDB implementations of the store ports (serde_dynamo items, conditional writes).

mod auth;
mod contacts;
mod schema;

pub use auth::{DynamoOtpStore, DynamoSessionStore, DynamoUserStore};
pub use contacts::DynamoContacts;
pub use schema::ensure_tables;

use crate::StoreError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;

pub use serde_dynamo::aws_sdk_dynamodb_1 as codec;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    codec::to_item(value).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    codec::from_item(item).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Maps an SDK error: a failed condition becomes `Conflict(what)`, anything else `Unavailable`.
pub(crate) fn store_error<E, R>(err: SdkError<E, R>, what: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        StoreError::conflict(what)
    } else {
        StoreError::Unavailable(Box::new(err))
    }
}

/// Maps a cancelled transaction to `Conflict(whats[i])` for the first item `i` whose condition
/// failed; anything else is `Unavailable`.
pub(crate) fn transaction_error<R>(
    err: SdkError<TransactWriteItemsError, R>,
    whats: &[&'static str],
) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
        let failed = e
            .cancellation_reasons()
            .iter()
            .position(|r| r.code() == Some("ConditionalCheckFailed"));
        if let Some(what) = failed.and_then(|i| whats.get(i)) {
            return StoreError::conflict(what);
        }
    }
    StoreError::Unavailable(Box::new(err))
}
