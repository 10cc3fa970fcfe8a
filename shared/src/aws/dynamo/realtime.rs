use super::keys;
use super::tables::CONNECTIONS_BY_USER;
use super::{Item, from_item, n, s, store_error};
use crate::StoreError;
use crate::domain::{SessionId, UserId};
use crate::ports::{Connection, ConnectionStore, DeliveryLedger, Device, DeviceStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::unavailable;

/// `connections` table: `CONN#<id>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectionItem {
    pk: String,
    #[serde(flatten)]
    connection: Connection,
    /// DynamoDB TTL (epoch seconds) = `expiresAt`.
    ttl: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    greeted: bool,
}

/// [`ConnectionStore`] on the `connections` table.
#[derive(Clone)]
pub struct DynamoConnections {
    client: Client,
    table: String,
}

impl DynamoConnections {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn conn_key(id: &str) -> Item {
    super::pk_key(keys::connection_pk(id))
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        let item = ConnectionItem {
            pk: keys::connection_pk(&c.connection_id),
            connection: c.clone(),
            ttl: c.expires_at.timestamp(),
            greeted: false,
        };
        super::put_item(&self.client, &self.table, &item).await
    }

    async fn get(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        super::get_item(&self.client, &self.table, conn_key(id))
            .await?
            .map(|i| from_item::<ConnectionItem>(i).map(|c| c.connection))
            .transpose()
    }

    async fn delete(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        out.attributes
            .map(|i| from_item::<ConnectionItem>(i).map(|c| c.connection))
            .transpose()
    }

    async fn of_user(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(CONNECTIONS_BY_USER.name)
            .key_condition_expression("userId = :u")
            // TTL deletion lags by up to days: expired rows are filtered out here.
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":u", s(user.to_string()))
            .expression_attribute_values(":now", n(now.timestamp()));
        Ok(super::query_all::<ConnectionItem>(query)
            .await?
            .into_iter()
            .map(|c| c.connection)
            .collect())
    }

    async fn mark_greeted(&self, id: &str) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(id)))
            .update_expression("SET greeted = :yes")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(greeted)")
            .expression_attribute_values(
                ":yes",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .send()
            .await;
        match res.map_err(|e| store_error(e, "greeted")) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// `devices` table: `USER#<user>` / `DEVICE#<id>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    device: Device,
}

/// [`DeviceStore`] on the `devices` table.
#[derive(Clone)]
pub struct DynamoDevices {
    client: Client,
    table: String,
}

impl DynamoDevices {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn device_key(user: &UserId, id: &uuid::Uuid) -> Item {
    super::pk_sk_key(keys::devices_pk(user), keys::device_sk(id))
}

#[async_trait]
impl DeviceStore for DynamoDevices {
    async fn put(&self, d: &Device) -> Result<(), StoreError> {
        let item = DeviceItem {
            pk: keys::devices_pk(&d.user_id),
            sk: keys::device_sk(&d.id),
            device: d.clone(),
        };
        super::put_item(&self.client, &self.table, &item).await
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::devices_pk(user)))
            .consistent_read(true);
        Ok(super::query_all::<DeviceItem>(query)
            .await?
            .into_iter()
            .map(|d| d.device)
            .collect())
    }

    async fn delete(&self, user: &UserId, id: &uuid::Uuid) -> Result<Option<Device>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(device_key(user, id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        out.attributes
            .map(|i| from_item::<DeviceItem>(i).map(|d| d.device))
            .transpose()
    }

    async fn delete_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<Vec<Device>, StoreError> {
        // A user has a handful of devices: their partition, filtered, then one conditional
        // delete each (a device re-registered by another session meanwhile is left alone).
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .filter_expression("sessionId = :s")
            .expression_attribute_values(":pk", s(keys::devices_pk(user)))
            .expression_attribute_values(":s", s(session.to_string()))
            .consistent_read(true);
        let mut deleted = Vec::new();
        for item in super::query_all::<DeviceItem>(query).await? {
            let res = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(device_key(user, &item.device.id)))
                .condition_expression("sessionId = :s")
                .expression_attribute_values(":s", s(session.to_string()))
                .send()
                .await;
            match res.map_err(|e| store_error(e, "session")) {
                Ok(_) => deleted.push(item.device),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::to_item;
    use crate::ports::Platform;
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::TimeZone;

    #[test]
    fn connection_item_golden() {
        let t = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let c = Connection {
            connection_id: "L0SM9cOFvHcCIhw=".into(),
            user_id: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            session_id: SessionId::parse("00000000-0000-4000-8000-0000000000aa").unwrap(),
            connected_at: t,
            expires_at: t + chrono::TimeDelta::hours(3),
        };
        let item = to_item(&ConnectionItem {
            pk: keys::connection_pk(&c.connection_id),
            connection: c.clone(),
            ttl: c.expires_at.timestamp(),
            greeted: false,
        })
        .unwrap();
        assert_eq!(item.get("pk"), Some(&AV::S("CONN#L0SM9cOFvHcCIhw=".into())));
        assert_eq!(
            item.get("userId"),
            Some(&AV::S("00000000-0000-4000-8000-00000000000a".into()))
        );
        assert_eq!(
            item.get("connectionId"),
            Some(&AV::S("L0SM9cOFvHcCIhw=".into()))
        );
        assert_eq!(item.get("ttl"), Some(&AV::N("1800010800".into())));
        assert!(!item.contains_key("greeted"));
        assert_eq!(from_item::<ConnectionItem>(item).unwrap().connection, c);
    }

    #[test]
    fn device_item_golden() {
        let d = Device {
            id: uuid::Uuid::parse_str("5a0e1f3c-0000-5000-8000-000000000001").unwrap(),
            user_id: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            session_id: Some(SessionId::parse("00000000-0000-4000-8000-0000000000aa").unwrap()),
            platform: Platform::Fcm,
            token_hash: "ab".repeat(32),
            endpoint_arn: "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/whatspe/1".into(),
            created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        };
        let item = to_item(&DeviceItem {
            pk: keys::devices_pk(&d.user_id),
            sk: keys::device_sk(&d.id),
            device: d.clone(),
        })
        .unwrap();
        assert_eq!(
            item.get("pk"),
            Some(&AV::S("USER#00000000-0000-4000-8000-00000000000a".into()))
        );
        assert_eq!(
            item.get("sk"),
            Some(&AV::S("DEVICE#5a0e1f3c-0000-5000-8000-000000000001".into()))
        );
        assert_eq!(item.get("platform"), Some(&AV::S("fcm".into())));
        assert_eq!(
            item.get("sessionId"),
            Some(&AV::S("00000000-0000-4000-8000-0000000000aa".into()))
        );
        assert_eq!(from_item::<DeviceItem>(item.clone()).unwrap().device, d);
        let mut older = item;
        older.remove("sessionId");
        assert_eq!(
            from_item::<DeviceItem>(older).unwrap().device.session_id,
            None,
            "a row from before devices belonged to sessions still reads"
        );
    }
}

/// How long delivery progress is kept: longer than a job can live in the queue and its
/// dead-letter queue (14 days), so a redriven job still skips what it served.
pub const DELIVERY_PROGRESS_TTL: chrono::TimeDelta = chrono::TimeDelta::days(15);

/// [`DeliveryLedger`] on the `connections` table: `JOB#<job>` holds the set of connection ids
/// served (`served`, a string set), `JOB#<job>#PUSH#<device>` is a push claim. Both expire.
#[derive(Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn expiry() -> aws_sdk_dynamodb::types::AttributeValue {
        n((Utc::now() + DELIVERY_PROGRESS_TTL).timestamp())
    }
}

#[async_trait]
impl DeliveryLedger for DynamoLedger {
    async fn served(&self, job: &str) -> Result<std::collections::HashSet<String>, StoreError> {
        #[derive(Deserialize)]
        struct Progress {
            #[serde(default)]
            served: std::collections::HashSet<String>,
        }
        Ok(super::get_item(
            &self.client,
            &self.table,
            super::pk_key(keys::delivery_progress_pk(job)),
        )
        .await?
        .map(from_item::<Progress>)
        .transpose()?
        .map(|p| p.served)
        .unwrap_or_default())
    }

    async fn record_served(&self, job: &str, targets: &[String]) -> Result<(), StoreError> {
        if targets.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::pk_key(keys::delivery_progress_pk(job))))
            .update_expression("ADD served :t SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(
                ":t",
                aws_sdk_dynamodb::types::AttributeValue::Ss(targets.to_vec()),
            )
            .expression_attribute_values(":ttl", Self::expiry())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn claim_push(&self, job: &str, device: &uuid::Uuid) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::push_claim_pk(job, device)))
            .item("ttl", Self::expiry())
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res.map_err(|e| store_error(e, "claimed")) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
