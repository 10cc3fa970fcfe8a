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

#[cfg(test)]
mod tests {
    //! template.yaml must declare exactly the tables, keys and TTL attributes defined here.

    use super::*;
    use serde_yaml::Value;

    const TEMPLATE: &str = include_str!("../../template.yaml");

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
        let mut expected_attrs: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                (
                    str_at(k, "AttributeName").unwrap().to_owned(),
                    "S".to_owned(),
                )
            })
            .collect();
        let mut attrs_sorted = attrs.clone();
        attrs_sorted.sort();
        expected_attrs.sort();
        assert_eq!(
            attrs_sorted, expected_attrs,
            "{entity}: attribute definitions must be exactly the (string) keys"
        );
        assert!(
            props.get("GlobalSecondaryIndexes").is_none(),
            "{entity}: the code uses no GSI"
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
            ttl_attribute: ttl,
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
    }
}
