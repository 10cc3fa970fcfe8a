use super::{keys, n, s, store_error};
use crate::StoreError;
use crate::ports::CounterStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

/// [`CounterStore`] on the `rate_limits` table: one item per counter (`LIMIT#<key>`), counted
/// with `ADD` under the condition that it is below the limit, and expired by DynamoDB TTL.
#[derive(Clone)]
pub struct DynamoCounters {
    client: Client,
    table: String,
}

impl DynamoCounters {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CounterStore for DynamoCounters {
    async fn take(
        &self,
        key: &str,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::limit_pk(key)))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(expires_at.timestamp()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| store_error(e, "limit"))?;
        out.attributes()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("the counter's new value is missing".into()))
    }
}
