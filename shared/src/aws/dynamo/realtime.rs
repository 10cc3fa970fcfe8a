use super::keys;
use super::{Item, from_item, from_value, n, s, store_error, to_value, transaction_error};
use crate::StoreError;
use crate::domain::{SessionId, UserId};
use crate::ports::{Connection, ConnectionStore, DeliveryLedger, Device, DeviceStore};
use crate::retry::Backoff;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::unavailable;

/// Read-modify-writes of one user's item (connection index, devices) that lost to a
/// concurrent change of that item: a few quick tries, then `Contended`.
const ITEM_RACE: Backoff = Backoff {
    base: Duration::from_millis(5),
    cap: Duration::from_millis(80),
    attempts: 6,
    budget: Duration::from_secs(1),
};

/// Expired entries one `put` removes from the user's connection index (bounded, so the
/// update expression stays small; each put adds one entry and prunes up to this many).
const PRUNE_PER_PUT: usize = 20;

/// Devices one conditional UpdateItem removes at most: its condition compares each (2
/// operators a device, of the 300 an expression may hold).
const REMOVE_PER_UPDATE: usize = 50;

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

/// One connection in its user's index item (`USERCONN#<user>`): the attribute
/// `c#<connectionId>` holds this map. The item also holds `userId` and `ttl`, the latest
/// expiry it has held (so it outlives each of its entries).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexEntry {
    session_id: SessionId,
    connected_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl IndexEntry {
    fn of(c: &Connection) -> Self {
        Self {
            session_id: c.session_id,
            connected_at: c.connected_at,
            expires_at: c.expires_at,
        }
    }

    fn into_connection(self, connection_id: String, user_id: UserId) -> Connection {
        Connection {
            connection_id,
            user_id,
            session_id: self.session_id,
            connected_at: self.connected_at,
            expires_at: self.expires_at,
        }
    }
}

/// Every connection a user's index item holds (expired ones too), by connection id.
pub(crate) fn indexed_connections(mut item: Item) -> Result<Vec<Connection>, StoreError> {
    let user: UserId = from_value(
        item.remove("userId")
            .ok_or_else(|| StoreError::Corrupt("connection index without userId".into()))?,
    )?;
    let mut connections = item
        .into_iter()
        .filter_map(|(name, value)| {
            let id = name.strip_prefix(keys::CONNECTION_ATTR_PREFIX)?.to_owned();
            Some(from_value::<IndexEntry>(value).map(|e| e.into_connection(id, user)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    Ok(connections)
}

/// Whether the connection is live at `now` (to the second, as DynamoDB's TTL counts).
fn live_at(c: &Connection, now: DateTime<Utc>) -> bool {
    c.expires_at.timestamp() > now.timestamp()
}

/// [`ConnectionStore`] on the `connections` table: `CONN#<id>` per connection (by id, the
/// greeting) and `USERCONN#<user>` per user (by user, batched), written together.
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

    /// The user's index item, if any (strongly consistent).
    async fn index_item(&self, user: &UserId) -> Result<Option<Item>, StoreError> {
        super::get_item(&self.client, &self.table, index_key(user)).await
    }

    /// One try of `put`: the connection item and its index entry in one transaction, on
    /// the condition that the index item's `ttl` is still what `index` (read just before)
    /// holds. Also drops up to [`PRUNE_PER_PUT`] entries that expired before `c` connected.
    async fn put_once(&self, c: &Connection, index: Option<Item>) -> Result<(), StoreError> {
        let item = ConnectionItem {
            pk: keys::connection_pk(&c.connection_id),
            connection: c.clone(),
            ttl: c.expires_at.timestamp(),
            greeted: false,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(super::to_item(&item)?))
            .build()
            .map_err(unavailable)?;
        let update = self.index_put(c, index)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await
            .map_err(|e| transaction_error(e, &["connection", "index"]))?;
        Ok(())
    }

    /// The index item's update for `put`: SET the entry, `userId` and `ttl` (never lowered),
    /// REMOVE expired entries; conditional on the `ttl` read.
    fn index_put(&self, c: &Connection, index: Option<Item>) -> Result<Update, StoreError> {
        let old_ttl = index.as_ref().and_then(|i| i.get("ttl")).cloned();
        let expires = c.expires_at.timestamp();
        let ttl = old_ttl
            .as_ref()
            .and_then(|t| t.as_n().ok()?.parse::<i64>().ok())
            .map_or(expires, |t| t.max(expires));
        let stale: Vec<String> = match index {
            Some(item) => indexed_connections(item)?
                .into_iter()
                .filter(|o| o.connection_id != c.connection_id && !live_at(o, c.connected_at))
                .take(PRUNE_PER_PUT)
                .map(|o| keys::connection_attr(&o.connection_id))
                .collect(),
            None => Vec::new(),
        };
        let mut expression = "SET #c = :c, userId = :u, #ttl = :ttl".to_owned();
        if !stale.is_empty() {
            let names: Vec<String> = (0..stale.len()).map(|i| format!("#x{i}")).collect();
            expression = format!("{expression} REMOVE {}", names.join(", "));
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(index_key(&c.user_id)))
            .update_expression(expression)
            .expression_attribute_names("#c", keys::connection_attr(&c.connection_id))
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":c", to_value(&IndexEntry::of(c))?)
            .expression_attribute_values(":u", s(c.user_id.to_string()))
            .expression_attribute_values(":ttl", n(ttl));
        for (i, name) in stale.into_iter().enumerate() {
            update = update.expression_attribute_names(format!("#x{i}"), name);
        }
        update = match old_ttl {
            Some(old) => update
                .condition_expression("#ttl = :old")
                .expression_attribute_values(":old", old),
            None => update.condition_expression("attribute_not_exists(#ttl)"),
        };
        update.build().map_err(unavailable)
    }

    /// One try of `delete`: the connection item and its index entry in one transaction.
    /// `Conflict("connection")` when the item is gone, `Conflict("index")` when the entry is.
    async fn delete_both(&self, c: &Connection) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(conn_key(&c.connection_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(unavailable)?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(index_key(&c.user_id)))
            .update_expression("REMOVE #c")
            .condition_expression("attribute_exists(#c)")
            .expression_attribute_names("#c", keys::connection_attr(&c.connection_id))
            .build()
            .map_err(unavailable)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await
            .map_err(|e| transaction_error(e, &["connection", "index"]))?;
        Ok(())
    }

    /// Deletes the connection item alone (its index entry is missing) and returns it.
    async fn delete_unindexed(&self, id: &str) -> Result<Option<Connection>, StoreError> {
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
}

fn conn_key(id: &str) -> Item {
    super::pk_key(keys::connection_pk(id))
}

fn index_key(user: &UserId) -> Item {
    super::pk_key(keys::user_connections_pk(user))
}

/// Sorted and without repeats.
fn distinct(users: &[UserId]) -> Vec<UserId> {
    let mut users = users.to_vec();
    users.sort();
    users.dedup();
    users
}

/// A read-modify-write that lost every try to concurrent writers.
fn lost_race(what: &str) -> StoreError {
    StoreError::Contended(format!("{what} kept changing concurrently").into())
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        let mut retry = ITEM_RACE.start();
        loop {
            let index = self.index_item(&c.user_id).await?;
            match self.put_once(c, index).await {
                Err(StoreError::Conflict { .. } | StoreError::Contended(_)) => {
                    if !retry.pause().await {
                        return Err(lost_race("the connection index"));
                    }
                }
                done => return done,
            }
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        super::get_item(&self.client, &self.table, conn_key(id))
            .await?
            .map(|i| from_item::<ConnectionItem>(i).map(|c| c.connection))
            .transpose()
    }

    async fn delete(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let mut retry = ITEM_RACE.start();
        loop {
            let Some(c) = self.get(id).await? else {
                return Ok(None);
            };
            match self.delete_both(&c).await {
                Ok(()) => return Ok(Some(c)),
                // Deleted meanwhile by someone else, who returned it.
                Err(StoreError::Conflict { what: "connection" }) => return Ok(None),
                Err(StoreError::Conflict { .. }) => return self.delete_unindexed(id).await,
                Err(StoreError::Contended(_)) if retry.pause().await => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn of_user(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let Some(item) = self.index_item(user).await? else {
            return Ok(Vec::new());
        };
        // TTL deletion lags by up to days, and an entry outlives its connection when
        // `$disconnect` never came: expired entries are filtered out here.
        let mut connections = indexed_connections(item)?;
        connections.retain(|c| live_at(c, now));
        Ok(connections)
    }

    async fn of_users(
        &self,
        users: &[UserId],
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let keys = distinct(users).iter().map(index_key).collect();
        let mut connections = Vec::new();
        for item in super::batch_get_all(&self.client, &self.table, keys).await? {
            connections.extend(indexed_connections(item)?);
        }
        connections.retain(|c| live_at(c, now));
        connections
            .sort_by(|a, b| (a.user_id, &a.connection_id).cmp(&(b.user_id, &b.connection_id)));
        Ok(connections)
    }

    async fn mark_greeted(&self, id: &str) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(id)))
            .update_expression("SET greeted = :yes")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(greeted)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match res.map_err(|e| store_error(e, "greeted")) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Every device a user's devices item (`USER#<user>` / `DEVICES`) holds: the attribute
/// `d#<id>` of each is the device's map. By id.
pub(crate) fn devices_in(item: Item) -> Result<Vec<Device>, StoreError> {
    let mut devices = item
        .into_iter()
        .filter(|(name, _)| name.starts_with(keys::DEVICE_ATTR_PREFIX))
        .map(|(_, value)| from_value::<Device>(value))
        .collect::<Result<Vec<_>, _>>()?;
    devices.sort_by_key(|d| d.id);
    Ok(devices)
}

/// [`DeviceStore`] on the `devices` table: one item per user (`USER#<user>` / `DEVICES`)
/// holding every device of the user, so a batch of users' devices reads with BatchGetItem.
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

    /// The `session`'s devices in the user's item as read now: the attribute, its exact
    /// stored value and the device.
    async fn session_devices(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<Vec<(String, AttributeValue, Device)>, StoreError> {
        let Some(item) = super::get_item(&self.client, &self.table, devices_key(user)).await?
        else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for (name, value) in item {
            if !name.starts_with(keys::DEVICE_ATTR_PREFIX) {
                continue;
            }
            let device: Device = from_value(value.clone())?;
            if device.session_id == Some(*session) {
                found.push((name, value, device));
            }
        }
        Ok(found)
    }

    /// Removes the attributes of `devices` in one UpdateItem, on the condition that each
    /// still holds the value read (`Conflict` otherwise: a device was re-registered).
    async fn remove_unchanged(
        &self,
        user: &UserId,
        devices: &[(String, AttributeValue, Device)],
    ) -> Result<(), StoreError> {
        let names: Vec<String> = (0..devices.len()).map(|i| format!("#d{i}")).collect();
        let unchanged: Vec<String> = (0..devices.len())
            .map(|i| format!("#d{i} = :d{i}"))
            .collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(devices_key(user)))
            .update_expression(format!("REMOVE {}", names.join(", ")))
            .condition_expression(unchanged.join(" AND "));
        for (i, (name, value, _)) in devices.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#d{i}"), name)
                .expression_attribute_values(format!(":d{i}"), value.clone());
        }
        update.send().await.map_err(|e| store_error(e, "session"))?;
        Ok(())
    }
}

fn devices_key(user: &UserId) -> Item {
    super::pk_sk_key(keys::devices_pk(user), keys::DEVICES_SK.to_owned())
}

#[async_trait]
impl DeviceStore for DynamoDevices {
    async fn put(&self, d: &Device) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(devices_key(&d.user_id)))
            .update_expression("SET #d = :d")
            .expression_attribute_names("#d", keys::device_attr(&d.id))
            .expression_attribute_values(":d", to_value(d)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        super::get_item(&self.client, &self.table, devices_key(user))
            .await?
            .map_or(Ok(Vec::new()), devices_in)
    }

    async fn list_many(&self, users: &[UserId]) -> Result<Vec<Device>, StoreError> {
        let keys = distinct(users).iter().map(devices_key).collect();
        let mut devices = Vec::new();
        for item in super::batch_get_all(&self.client, &self.table, keys).await? {
            devices.extend(devices_in(item)?);
        }
        devices.sort_by_key(|d| (d.user_id, d.id));
        Ok(devices)
    }

    async fn delete(&self, user: &UserId, id: &uuid::Uuid) -> Result<Option<Device>, StoreError> {
        let attr = keys::device_attr(id);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(devices_key(user)))
            .update_expression("REMOVE #d")
            // No such device: nothing to write (and no empty item created).
            .condition_expression("attribute_exists(#d)")
            .expression_attribute_names("#d", &attr)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match res.map_err(|e| store_error(e, "device")) {
            Ok(out) => out
                .attributes
                .and_then(|mut old| old.remove(&attr))
                .map(from_value)
                .transpose(),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<Vec<Device>, StoreError> {
        // The user's item, read; then one conditional removal of exactly the session's
        // devices as read (at most REMOVE_PER_UPDATE at a time, then read again). A device
        // re-registered meanwhile (by another session, say) fails the condition: read again,
        // and it is no longer the session's.
        let mut deleted = Vec::new();
        let mut retry = ITEM_RACE.start();
        loop {
            let mut devices = self.session_devices(user, session).await?;
            let more = devices.len() > REMOVE_PER_UPDATE;
            devices.truncate(REMOVE_PER_UPDATE);
            if devices.is_empty() {
                return Ok(deleted);
            }
            match self.remove_unchanged(user, &devices).await {
                Ok(()) => {
                    deleted.extend(devices.into_iter().map(|(_, _, d)| d));
                    if !more {
                        return Ok(deleted);
                    }
                }
                Err(StoreError::Conflict { .. }) => {
                    if !retry.pause().await {
                        return Err(lost_race("the devices item"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::to_item;
    use crate::ports::Platform;
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::TimeZone;

    fn connection() -> Connection {
        let t = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        Connection {
            connection_id: "L0SM9cOFvHcCIhw=".into(),
            user_id: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            session_id: SessionId::parse("00000000-0000-4000-8000-0000000000aa").unwrap(),
            connected_at: t,
            expires_at: t + chrono::TimeDelta::hours(3),
        }
    }

    #[test]
    fn connection_item_golden() {
        let c = connection();
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
    fn connection_index_item_golden() {
        let c = connection();
        assert_eq!(
            keys::user_connections_pk(&c.user_id),
            "USERCONN#00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(
            keys::connection_attr(&c.connection_id),
            "c#L0SM9cOFvHcCIhw="
        );
        let entry = to_value(&IndexEntry::of(&c)).unwrap();
        let AV::M(fields) = &entry else {
            panic!("an entry is a map: {entry:?}")
        };
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["connectedAt", "expiresAt", "sessionId"]);
        assert_eq!(
            fields["sessionId"],
            AV::S("00000000-0000-4000-8000-0000000000aa".into())
        );
        assert_eq!(fields["expiresAt"], AV::S("2027-01-15T11:00:00Z".into()));
        // The item as `put` leaves it.
        let item = Item::from([
            ("pk".to_owned(), s(keys::user_connections_pk(&c.user_id))),
            ("userId".to_owned(), s(c.user_id.to_string())),
            ("ttl".to_owned(), n(c.expires_at.timestamp())),
            (keys::connection_attr(&c.connection_id), entry),
        ]);
        assert_eq!(indexed_connections(item.clone()).unwrap(), vec![c]);
        let mut anonymous = item;
        anonymous.remove("userId");
        assert!(matches!(
            indexed_connections(anonymous),
            Err(StoreError::Corrupt(_))
        ));
    }

    fn device() -> Device {
        Device {
            id: uuid::Uuid::parse_str("5a0e1f3c-0000-5000-8000-000000000001").unwrap(),
            user_id: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            session_id: Some(SessionId::parse("00000000-0000-4000-8000-0000000000aa").unwrap()),
            platform: Platform::Fcm,
            token_hash: "ab".repeat(32),
            endpoint_arn: "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/whatspe/1".into(),
            created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn devices_item_golden() {
        let d = device();
        assert_eq!(
            devices_key(&d.user_id),
            Item::from([
                (
                    "pk".to_owned(),
                    AV::S("USER#00000000-0000-4000-8000-00000000000a".into())
                ),
                ("sk".to_owned(), AV::S("DEVICES".into())),
            ])
        );
        assert_eq!(
            keys::device_attr(&d.id),
            "d#5a0e1f3c-0000-5000-8000-000000000001"
        );
        let value = to_value(&d).unwrap();
        let AV::M(fields) = &value else {
            panic!("a device is a map: {value:?}")
        };
        assert_eq!(fields["platform"], AV::S("fcm".into()));
        assert_eq!(
            fields["sessionId"],
            AV::S("00000000-0000-4000-8000-0000000000aa".into())
        );
        assert_eq!(fields["tokenHash"], AV::S("ab".repeat(32)));
        assert_eq!(fields["createdAt"], AV::S("2027-01-15T08:00:00Z".into()));
        let mut item = devices_key(&d.user_id);
        item.insert(keys::device_attr(&d.id), value.clone());
        assert_eq!(devices_in(item).unwrap(), vec![d.clone()]);
        let AV::M(mut older) = value else {
            unreachable!()
        };
        older.remove("sessionId");
        let mut item = devices_key(&d.user_id);
        item.insert(keys::device_attr(&d.id), AV::M(older));
        assert_eq!(
            devices_in(item).unwrap()[0].session_id,
            None,
            "a device from before devices belonged to sessions still reads"
        );
    }
}
