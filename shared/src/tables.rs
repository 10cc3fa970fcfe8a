//! The DynamoDB tables this code uses: one definition that the adapters, the local gateway's
//! table creation and the template.yaml consistency test all read.

/// One table's schema, as far as the code depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Entity name; the physical name is `prefix + entity`.
    pub entity: &'static str,
    /// Partition key attribute (always a string).
    pub partition_key: &'static str,
    /// Sort key attribute (string), if any.
    pub sort_key: Option<&'static str>,
    /// Attribute DynamoDB TTL expires items by (epoch seconds), if any.
    pub ttl_attribute: Option<&'static str>,
}

impl TableDef {
    pub fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.entity)
    }
}

/// Users, plus the uniqueness guards of phone numbers and usernames (see [`crate::keys`]).
pub const USERS: TableDef = TableDef {
    entity: "users",
    partition_key: "pk",
    sort_key: None,
    ttl_attribute: None,
};

/// One OTP state item per phone number.
pub const VERIFICATION_CODES: TableDef = TableDef {
    entity: "verification_codes",
    partition_key: "pk",
    sort_key: None,
    ttl_attribute: Some("ttl"),
};

/// One item per login session (refresh-token family).
pub const SESSIONS: TableDef = TableDef {
    entity: "sessions",
    partition_key: "pk",
    sort_key: None,
    ttl_attribute: Some("ttl"),
};

/// Every table, in creation order.
pub const ALL: &[TableDef] = &[USERS, VERIFICATION_CODES, SESSIONS];

/// Physical table names for one deployment.
#[derive(Debug, Clone)]
pub struct TableNames {
    pub users: String,
    pub verification_codes: String,
    pub sessions: String,
}

impl TableNames {
    pub fn new(prefix: &str) -> Self {
        Self {
            users: USERS.name(prefix),
            verification_codes: VERIFICATION_CODES.name(prefix),
            sessions: SESSIONS.name(prefix),
        }
    }
}
