//! The DynamoDB tables: names, key attributes, indexes and TTL of each, as one definition
//! that the adapters (index names), [`ensure_tables`] (the local gateway's and the tests' table
//! creation) and the template.yaml consistency test below all read. The values stored in the
//! key attributes are formatted in [`super::keys`].

use crate::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use std::time::Duration;

/// A global secondary index (projection ALL, string keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexDef {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
}

/// One table's schema, as far as the code depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Entity name; the physical name is `prefix + entity`.
    pub entity: &'static str,
    /// Partition key attribute (always a string).
    pub partition_key: &'static str,
    /// Sort key attribute (string), if any.
    pub sort_key: Option<&'static str>,
    /// Global secondary indexes (all sparse: only items carrying their keys appear).
    pub indexes: &'static [IndexDef],
    /// Attribute DynamoDB TTL expires items by (epoch seconds), if any.
    pub ttl_attribute: Option<&'static str>,
    /// Whether the table has a stream of new item images (the relay reads `messages`').
    pub stream: bool,
}

impl TableDef {
    pub fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.entity)
    }
}

/// `users` GSI: username prefix search (`unPrefix` = first letter, `unKey` = lowercase name).
pub const USERS_BY_USERNAME: IndexDef = IndexDef {
    name: "by_username",
    partition_key: "unPrefix",
    sort_key: Some("unKey"),
};

/// Users, plus the uniqueness guards of phone numbers and usernames (see [`super::keys`]).
pub const USERS: TableDef = TableDef {
    entity: "users",
    partition_key: "pk",
    sort_key: None,
    indexes: &[USERS_BY_USERNAME],
    ttl_attribute: None,
    stream: false,
};

/// One OTP state item per phone number.
pub const VERIFICATION_CODES: TableDef = TableDef {
    entity: "verification_codes",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: false,
};

/// One item per login session (refresh-token family).
pub const SESSIONS: TableDef = TableDef {
    entity: "sessions",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: false,
};

/// `contact_requests` GSI: pending requests a user received (sparse: only while pending).
pub const REQUESTS_BY_RECEIVER: IndexDef = IndexDef {
    name: "pending_by_receiver",
    partition_key: "pendingReceiver",
    sort_key: Some("id"),
};

/// `contact_requests` GSI: pending requests a user sent (sparse: only while pending).
pub const REQUESTS_BY_SENDER: IndexDef = IndexDef {
    name: "pending_by_sender",
    partition_key: "pendingSender",
    sort_key: Some("id"),
};

/// Contact requests (`REQ#<id>`) and the one-pending-request-per-pair guards (`PAIR#…`).
pub const CONTACT_REQUESTS: TableDef = TableDef {
    entity: "contact_requests",
    partition_key: "pk",
    sort_key: None,
    indexes: &[REQUESTS_BY_RECEIVER, REQUESTS_BY_SENDER],
    ttl_attribute: None,
    stream: false,
};

/// Contact rows: `USER#<owner>` / `CONTACT#<other>`, one per side.
pub const CONTACTS: TableDef = TableDef {
    entity: "contacts",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl_attribute: None,
    stream: false,
};

/// Messages (`CONV#<id>` / `MSG#<uuidv7>`) and send dedup guards (`DEDUP#…` / `DEDUP`,
/// expiring after 30 days). Its stream of new images is the transactional outbox: the relay
/// turns every committed message into a delivery job.
pub const MESSAGES: TableDef = TableDef {
    entity: "messages",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: true,
};

/// `conversations` GSI: a member's conversations by last activity (`lastMessageId` is a
/// UUIDv7). Sparse: the rate-limit items carry neither attribute.
pub const CONVERSATIONS_BY_ACTIVITY: IndexDef = IndexDef {
    name: "by_activity",
    partition_key: "memberId",
    sort_key: Some("lastMessageId"),
};

/// Per-member conversation rows (`USER#<member>` / `CONV#<id>`) and send rate state
/// (`USER#<member>` / `RATE#send`).
pub const CONVERSATIONS: TableDef = TableDef {
    entity: "conversations",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[CONVERSATIONS_BY_ACTIVITY],
    ttl_attribute: None,
    stream: false,
};

/// Live WebSocket connections (`CONN#<id>`), expiring 3 h after connecting (API Gateway ends
/// connections at 2 h; `$disconnect` is best effort), and per user the index item
/// `USERCONN#<user>` of their connections (read by key, batched: no GSI). Also delivery
/// progress (`JOB#…`).
pub const CONNECTIONS: TableDef = TableDef {
    entity: "connections",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: false,
};

/// Registered push devices: one item per user (`USER#<user>` / `DEVICES`) holding each device
/// in its own attribute (read by key, batched).
pub const DEVICES: TableDef = TableDef {
    entity: "devices",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl_attribute: None,
    stream: false,
};

/// `groups` GSI: the groups a user is in (member rows carry `memberOf` = the user and
/// `groupId`; the `META` item carries neither and invite items only `groupId`, so only member
/// rows are in the index).
pub const GROUPS_BY_MEMBER: IndexDef = IndexDef {
    name: "by_member",
    partition_key: "memberOf",
    sort_key: Some("groupId"),
};

/// Groups: `GROUP#<id>` / `META` (name, settings, counts, last message, version),
/// `GROUP#<id>` / `MEMBER#<user>` (role, joining, receipt cursors) and `INVITE#<code>` /
/// `INVITE` (the group a live invite code opens).
pub const GROUPS: TableDef = TableDef {
    entity: "groups",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[GROUPS_BY_MEMBER],
    ttl_attribute: None,
    stream: false,
};

/// `media` GSI: the pending uploads by age (only pending items carry `pending`), for the
/// sweep of uploads no message took.
pub const MEDIA_BY_PENDING: IndexDef = IndexDef {
    name: "by_pending",
    partition_key: "pending",
    sort_key: Some("pendingSince"),
};

/// Uploads: `MEDIA#<id>` (owner, type, size, file name, state, the chats that carry it).
pub const MEDIA: TableDef = TableDef {
    entity: "media",
    partition_key: "pk",
    sort_key: None,
    indexes: &[MEDIA_BY_PENDING],
    ttl_attribute: None,
    stream: false,
};

/// Blocks: `USER#<blocker>` / `BLOCKED#<blocked>`.
pub const BLOCKS: TableDef = TableDef {
    entity: "blocks",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl_attribute: None,
    stream: false,
};

/// Abuse-limit counters (`LIMIT#<rule>#<subject>#<window>`), expiring after their window.
pub const RATE_LIMITS: TableDef = TableDef {
    entity: "rate_limits",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: false,
};

/// Every table, in creation order.
pub const ALL: &[TableDef] = &[
    USERS,
    VERIFICATION_CODES,
    SESSIONS,
    CONTACT_REQUESTS,
    CONTACTS,
    MESSAGES,
    CONVERSATIONS,
    CONNECTIONS,
    DEVICES,
    GROUPS,
    MEDIA,
    RATE_LIMITS,
    BLOCKS,
];

/// Physical table names for one deployment.
#[derive(Debug, Clone)]
pub struct TableNames {
    pub users: String,
    pub verification_codes: String,
    pub sessions: String,
    pub contact_requests: String,
    pub contacts: String,
    pub messages: String,
    pub conversations: String,
    pub connections: String,
    pub devices: String,
    pub groups: String,
    pub media: String,
    pub rate_limits: String,
    pub blocks: String,
}

impl TableNames {
    pub fn new(prefix: &str) -> Self {
        Self {
            users: USERS.name(prefix),
            verification_codes: VERIFICATION_CODES.name(prefix),
            sessions: SESSIONS.name(prefix),
            contact_requests: CONTACT_REQUESTS.name(prefix),
            contacts: CONTACTS.name(prefix),
            messages: MESSAGES.name(prefix),
            conversations: CONVERSATIONS.name(prefix),
            connections: CONNECTIONS.name(prefix),
            devices: DEVICES.name(prefix),
            groups: GROUPS.name(prefix),
            media: MEDIA.name(prefix),
            rate_limits: RATE_LIMITS.name(prefix),
            blocks: BLOCKS.name(prefix),
        }
    }
}

// ---------------------------------------------------------------- creating the tables

/// Creates every table of [`ALL`] that does not exist yet under `prefix`, from the same
/// definitions the adapters use, and waits until they are active. Existing tables are left as
/// they are. For the local gateway and the tests; deployments get their tables from template.yaml.
pub async fn ensure_tables(client: &Client, prefix: &str) -> Result<(), StoreError> {
    for def in ALL {
        ensure_table(client, prefix, def).await?;
    }
    Ok(())
}

async fn ensure_table(client: &Client, prefix: &str, def: &TableDef) -> Result<(), StoreError> {
    let name = def.name(prefix);
    let unavailable = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Unavailable(e);
    match client.describe_table().table_name(&name).send().await {
        Ok(_) => return wait_active(client, &name).await,
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => return Err(unavailable(Box::new(e))),
    }
    let key_schema = |pk: &str, sk: Option<&str>| -> Result<Vec<KeySchemaElement>, StoreError> {
        std::iter::once((pk, KeyType::Hash))
            .chain(sk.map(|k| (k, KeyType::Range)))
            .map(|(attr, kind)| {
                KeySchemaElement::builder()
                    .attribute_name(attr)
                    .key_type(kind)
                    .build()
                    .map_err(|e| unavailable(Box::new(e)))
            })
            .collect()
    };
    let mut attrs: Vec<&str> = std::iter::once(def.partition_key)
        .chain(def.sort_key)
        .chain(
            def.indexes
                .iter()
                .flat_map(|i| std::iter::once(i.partition_key).chain(i.sort_key)),
        )
        .collect();
    attrs.sort();
    attrs.dedup();
    let mut create = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(def.partition_key, def.sort_key)?));
    if def.stream {
        create = create.stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                .build()
                .map_err(|e| unavailable(Box::new(e)))?,
        );
    }
    for attr in attrs {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| unavailable(Box::new(e)))?,
        );
    }
    for index in def.indexes {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.partition_key, index.sort_key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| unavailable(Box::new(e)))?,
        );
    }
    match create.send().await {
        Ok(_) => {}
        // Created concurrently by another process: fine.
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => return Err(unavailable(Box::new(e))),
    }
    wait_active(client, &name).await?;
    if let Some(attr) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()
                    .map_err(|e| unavailable(Box::new(e)))?,
            )
            .send()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
    }
    Ok(())
}

async fn wait_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(
        format!("table {name} did not become active within 60 s").into(),
    ))
}

#[cfg(test)]
mod tests {
    //! template.yaml must declare exactly the tables, keys and TTL attributes defined here.

    use super::*;
    use serde_yaml::Value;

    const TEMPLATE: &str = include_str!("../../../../template.yaml");

    /// `!Sub "${TablePrefix}users"` → `users`.
    fn entity_of(table_name: &Value) -> String {
        match table_name {
            Value::Tagged(t) if t.tag == "!Sub" => t
                .value
                .as_str()
                .and_then(|s| s.strip_prefix("${TablePrefix}"))
                .unwrap_or_else(|| {
                    panic!("TableName must be !Sub \"${{TablePrefix}}<entity>\": {t:?}")
                })
                .to_owned(),
            other => panic!("TableName must be !Sub \"${{TablePrefix}}<entity>\", got {other:?}"),
        }
    }

    fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
        v.get(key).and_then(Value::as_str)
    }

    fn declared_index(entity: &str, g: &Value) -> IndexDef {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let name = str_at(g, "IndexName").expect("IndexName");
        assert_eq!(
            g["Projection"]["ProjectionType"].as_str(),
            Some("ALL"),
            "{entity}.{name}: the code reads whole items from its indexes"
        );
        let keys = g["KeySchema"].as_sequence().expect("index KeySchema");
        let key = |kind: &str| {
            keys.iter()
                .find(|k| str_at(k, "KeyType") == Some(kind))
                .and_then(|k| str_at(k, "AttributeName"))
        };
        IndexDef {
            name: leak(name),
            partition_key: leak(key("HASH").expect("index HASH key")),
            sort_key: key("RANGE").map(leak),
        }
    }

    fn declared(props: &Value) -> TableDef {
        let keys = props["KeySchema"].as_sequence().expect("KeySchema");
        let key = |kind: &str| {
            keys.iter()
                .find(|k| str_at(k, "KeyType") == Some(kind))
                .and_then(|k| str_at(k, "AttributeName"))
        };
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let entity = entity_of(&props["TableName"]);
        let attrs: Vec<(String, String)> = props["AttributeDefinitions"]
            .as_sequence()
            .expect("AttributeDefinitions")
            .iter()
            .map(|a| {
                (
                    str_at(a, "AttributeName").unwrap().to_owned(),
                    str_at(a, "AttributeType").unwrap().to_owned(),
                )
            })
            .collect();
        let gsis: Vec<IndexDef> = props
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .map(|s| s.iter().map(|g| declared_index(&entity, g)).collect())
            .unwrap_or_default();
        let mut expected_attrs: Vec<(String, String)> = keys
            .iter()
            .map(|k| str_at(k, "AttributeName").unwrap())
            .chain(
                gsis.iter()
                    .flat_map(|g| std::iter::once(g.partition_key).chain(g.sort_key)),
            )
            .map(|a| (a.to_owned(), "S".to_owned()))
            .collect();
        expected_attrs.sort();
        expected_attrs.dedup();
        let mut attrs_sorted = attrs.clone();
        attrs_sorted.sort();
        assert_eq!(
            attrs_sorted, expected_attrs,
            "{entity}: attribute definitions must be exactly the (string) table and index keys"
        );
        assert!(
            props.get("LocalSecondaryIndexes").is_none(),
            "{entity}: the code uses no LSI"
        );
        assert_eq!(
            str_at(props, "BillingMode"),
            Some("PAY_PER_REQUEST"),
            "{entity}: on-demand billing"
        );
        let ttl = props.get("TimeToLiveSpecification").map(|t| {
            assert_eq!(
                t["Enabled"].as_bool(),
                Some(true),
                "{entity}: TTL declared but disabled"
            );
            leak(str_at(t, "AttributeName").expect("TTL AttributeName"))
        });
        TableDef {
            entity: leak(&entity),
            partition_key: leak(key("HASH").expect("HASH key")),
            sort_key: key("RANGE").map(leak),
            indexes: Box::leak(gsis.into_boxed_slice()),
            ttl_attribute: ttl,
            stream: props.get("StreamSpecification").is_some_and(|s| {
                assert_eq!(
                    str_at(s, "StreamViewType"),
                    Some("NEW_IMAGE"),
                    "{entity}: the relay reads new images"
                );
                true
            }),
        }
    }

    #[test]
    fn template_declares_exactly_the_tables_the_code_uses() {
        let doc: Value = serde_yaml::from_str(TEMPLATE).expect("template.yaml parses");
        let mut in_template: Vec<TableDef> = doc["Resources"]
            .as_mapping()
            .expect("Resources")
            .values()
            .filter(|r| str_at(r, "Type") == Some("AWS::DynamoDB::Table"))
            .map(|r| declared(&r["Properties"]))
            .collect();
        in_template.sort_by_key(|d| d.entity);
        let mut in_code = ALL.to_vec();
        in_code.sort_by_key(|d| d.entity);
        assert_eq!(in_template, in_code);
    }

    #[test]
    fn table_names_are_prefix_plus_entity() {
        let names = TableNames::new("whatspe_");
        assert_eq!(names.users, "whatspe_users");
        assert_eq!(names.verification_codes, "whatspe_verification_codes");
        assert_eq!(names.sessions, "whatspe_sessions");
        assert_eq!(names.contact_requests, "whatspe_contact_requests");
        assert_eq!(names.contacts, "whatspe_contacts");
    }
}
