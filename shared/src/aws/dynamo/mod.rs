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
mod blocks;
mod contacts;
mod groups;
pub mod keys;
mod limits;
mod media;
mod messages;
mod realtime;
pub mod tables;

pub use auth::{DynamoOtpStore, DynamoSessionStore, DynamoUserStore};
pub use blocks::DynamoBlocks;
pub use contacts::DynamoContacts;
pub use groups::DynamoGroups;
pub use limits::DynamoCounters;
pub use media::DynamoMedia;
pub use messages::{DEDUP_TTL, DynamoMessages, message_from_stream_image, stream_image};
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

/// One attribute's value (a map, for a struct), as serde_dynamo writes it.
pub(crate) fn to_value<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    codec::to_attribute_value(value).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

pub(crate) fn from_value<T: DeserializeOwned>(value: AttributeValue) -> Result<T, StoreError> {
    codec::from_attribute_value(value).map_err(|e| StoreError::Corrupt(Box::new(e)))
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

/// [`batch_get`] of any number of (distinct) keys: 100 per BatchGetItem, one after another.
pub(crate) async fn batch_get_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        let chunk: Vec<Item> = keys.by_ref().take(BATCH_GET_MAX_KEYS).collect();
        found.extend(batch_get(client, table, chunk).await?);
    }
    Ok(found)
}

/// The most keys one BatchGetItem may ask for.
pub(crate) const BATCH_GET_MAX_KEYS: usize = 100;

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

/// Maps an SDK error: a failed condition becomes `Conflict(what)`, a write refused because a
/// transaction holds the item (`TransactionConflictException`) `Contended`, anything else
/// `Unavailable`.
pub(crate) fn store_error<E, R>(err: SdkError<E, R>, what: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::conflict(what),
        Some("TransactionConflictException") => StoreError::Contended(Box::new(err)),
        _ => StoreError::Unavailable(Box::new(err)),
    }
}

/// Maps a cancelled transaction to `Conflict(whats[i])` for the first item `i` whose condition
/// failed; failing that, to `Contended` when an item was locked by a concurrent transaction
/// (cancellation reason `TransactionConflict`); anything else is `Unavailable`.
pub(crate) fn transaction_error<R>(
    err: SdkError<TransactWriteItemsError, R>,
    whats: &[&'static str],
) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let codes: Vec<Option<&str>> = match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            e.cancellation_reasons().iter().map(|r| r.code()).collect()
        }
        _ => Vec::new(),
    };
    match cancellation(&codes, whats) {
        Some(Cancellation::Condition(what)) => StoreError::conflict(what),
        Some(Cancellation::Contended) => StoreError::Contended(Box::new(err)),
        None => StoreError::Unavailable(Box::new(err)),
    }
}

/// Why DynamoDB cancelled a transaction, from its per-item cancellation reason codes.
#[derive(Debug, PartialEq)]
enum Cancellation {
    /// Item `i`'s condition failed: `whats[i]`. It wins over a concurrent transaction on
    /// another item, because retrying cannot make a failed condition hold.
    Condition(&'static str),
    /// An item was being changed by another transaction (`TransactionConflict`).
    Contended,
}

fn cancellation(codes: &[Option<&str>], whats: &[&'static str]) -> Option<Cancellation> {
    let failed = codes
        .iter()
        .position(|c| *c == Some("ConditionalCheckFailed"));
    if let Some(what) = failed.and_then(|i| whats.get(i)) {
        return Some(Cancellation::Condition(what));
    }
    codes
        .contains(&Some("TransactionConflict"))
        .then_some(Cancellation::Contended)
}

#[cfg(test)]
mod tests {
    use super::{Cancellation, cancellation};

    #[test]
    fn a_failed_condition_names_its_item_and_wins_over_a_transaction_conflict() {
        let whats = ["exists", "order", "order", "rate"];
        assert_eq!(
            cancellation(
                &[
                    Some("None"),
                    Some("TransactionConflict"),
                    Some("ConditionalCheckFailed")
                ],
                &whats
            ),
            Some(Cancellation::Condition("order"))
        );
        assert_eq!(
            cancellation(
                &[Some("None"), None, None, Some("ConditionalCheckFailed")],
                &whats
            ),
            Some(Cancellation::Condition("rate"))
        );
    }

    #[test]
    fn a_transaction_conflict_alone_is_contention_and_other_reasons_are_neither() {
        let whats = ["exists", "order", "order"];
        assert_eq!(
            cancellation(
                &[Some("None"), Some("TransactionConflict"), Some("None")],
                &whats
            ),
            Some(Cancellation::Contended)
        );
        assert_eq!(
            cancellation(&[Some("None"), Some("ThrottlingError"), None], &whats),
            None
        );
        assert_eq!(cancellation(&[], &whats), None);
    }
}
