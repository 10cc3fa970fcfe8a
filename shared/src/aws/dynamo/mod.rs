//! DynamoDB implementations of the store ports (serde_dynamo items, conditional writes).
//!
//! What the code knows about the tables lives in two files, one per question:
//! - [`tables`]: which tables and indexes exist (names, key attributes, TTL) and how to create
//!   them; template.yaml is checked against it.
//! - [`keys`]: what goes into the key attributes: every `pk`/`sk` format and index key value.
//!
//! The adapters (one file per port family) own their item structs; golden-item tests beside
//! each pin the exact stored items.

mod auth;
mod contacts;
pub mod keys;
mod messages;
mod realtime;
pub mod tables;

pub use auth::{DynamoOtpStore, DynamoSessionStore, DynamoUserStore};
pub use contacts::DynamoContacts;
pub use messages::{DEDUP_TTL, DynamoMessages};
pub use realtime::{DELIVERY_PROGRESS_TTL, DynamoConnections, DynamoDevices, DynamoLedger};
pub use tables::{TableNames, ensure_tables};

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

/// BatchGetItem of up to 100 keys (strongly consistent), retrying unprocessed keys with a
/// short exponential backoff.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<Vec<Item>, StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut pending = keys;
    let mut found = Vec::with_capacity(pending.len());
    for attempt in 0..8u32 {
        if pending.is_empty() {
            return Ok(found);
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        found.extend(
            out.responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        pending = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    if pending.is_empty() {
        Ok(found)
    } else {
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed after retries".into(),
        ))
    }
}

/// A backend failure.
pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// A strongly consistent GetItem.
pub(crate) async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(out.item)
}

/// Every item `query` returns, page after page (the SDK's paginator follows
/// `LastEvaluatedKey`), parsed as `T`.
pub(crate) async fn query_all<T: DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<T>, StoreError> {
    query
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(from_item)
        .collect()
}

/// One page of a listing: runs `query` with `Limit = limit + 1`, parses each item into its
/// cursor key and value with `split`, and pages through [`crate::ports::Page::from_overfetch`]
/// (the same contract the memory stores follow).
pub(crate) async fn query_page<I, K, T, C>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: usize,
    split: impl Fn(I) -> (K, T),
    cursor: impl Fn(&K) -> C,
) -> Result<crate::ports::Page<T>, StoreError>
where
    I: DeserializeOwned,
    C: Serialize,
{
    let out = query
        .limit(limit as i32 + 1)
        .send()
        .await
        .map_err(unavailable)?;
    let items = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|i| from_item::<I>(i).map(&split))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::ports::Page::from_overfetch(items, limit, cursor))
}

/// A `pk`-only key.
pub(crate) fn pk_key(pk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk))])
}

/// A `pk` + `sk` key.
pub(crate) fn pk_sk_key(pk: String, sk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
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
