use super::keys;
use super::{Item, from_item, n, s, store_error, to_item, transaction_error};
use crate::StoreError;
use crate::domain::{PhoneNumber, SessionId, User, UserId, Username};
use crate::ports::{
    Attempt, LiveCode, OtpState, OtpStore, Page, PageRequest, Session, SessionStore, UserStore,
    Versioned, decode_cursor,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const NOT_EXISTS: &str = "attribute_not_exists(pk)";

// ---------------------------------------------------------------- items

/// `users` table: `USER#<id>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserItem {
    pk: String,
    #[serde(flatten)]
    user: User,
    version: u64,
    /// `by_username` index keys.
    un_prefix: String,
    un_key: String,
}

impl UserItem {
    fn new(user: &User, version: u64) -> Self {
        let un_key = user.username.key();
        Self {
            pk: keys::user_pk(&user.id),
            user: user.clone(),
            version,
            un_prefix: keys::username_search_prefix(&un_key),
            un_key,
        }
    }
}

/// Position in a username search: the last item's index and table keys.
#[derive(Serialize, Deserialize)]
struct UsernameCursor {
    k: String,
    id: UserId,
}

/// `users` table: `PHONE#<e164>` and `USERNAME#<lowercase>` uniqueness guards.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GuardItem {
    pk: String,
    user_id: UserId,
}

/// `verification_codes` table: `OTP#<e164>`. Items written before codes were bound to
/// clients (one `codeMac`, send times only) read as having no live code and no history.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OtpItem {
    pk: String,
    phone_number: PhoneNumber,
    #[serde(default)]
    codes: Vec<LiveCode>,
    #[serde(default, rename = "clientSends")]
    sends: Vec<Attempt>,
    #[serde(default)]
    failures: Vec<Attempt>,
    expire_after: DateTime<Utc>,
    /// DynamoDB TTL (epoch seconds).
    ttl: i64,
    version: u64,
}

impl OtpItem {
    fn new(st: &OtpState, version: u64) -> Self {
        Self {
            pk: keys::otp_pk(&st.phone),
            phone_number: st.phone.clone(),
            codes: st.codes.clone(),
            sends: st.sends.clone(),
            failures: st.failures.clone(),
            expire_after: st.expire_after,
            ttl: st.expire_after.timestamp(),
            version,
        }
    }
    fn into_state(self) -> Versioned<OtpState> {
        Versioned {
            version: self.version,
            value: OtpState {
                phone: self.phone_number,
                codes: self.codes,
                sends: self.sends,
                failures: self.failures,
                expire_after: self.expire_after,
            },
        }
    }
}

/// `sessions` table: `SESSION#<id>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionItem {
    pk: String,
    session_id: SessionId,
    user_id: UserId,
    token_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_hash: Option<String>,
    created_at: DateTime<Utc>,
    rotated_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked: bool,
    /// Absent on items written before rotations were counted: 0.
    #[serde(default)]
    rotations: u32,
    /// DynamoDB TTL (epoch seconds).
    ttl: i64,
}

impl From<&Session> for SessionItem {
    fn from(s: &Session) -> Self {
        Self {
            pk: keys::session_pk(&s.id),
            session_id: s.id,
            user_id: s.user_id,
            token_hash: s.token_hash.clone(),
            previous_hash: s.previous_hash.clone(),
            created_at: s.created_at,
            rotated_at: s.rotated_at,
            expires_at: s.expires_at,
            revoked: s.revoked,
            rotations: s.rotations,
            ttl: s.expires_at.timestamp(),
        }
    }
}

impl From<SessionItem> for Session {
    fn from(i: SessionItem) -> Self {
        Self {
            id: i.session_id,
            user_id: i.user_id,
            token_hash: i.token_hash,
            previous_hash: i.previous_hash,
            created_at: i.created_at,
            rotated_at: i.rotated_at,
            expires_at: i.expires_at,
            revoked: i.revoked,
            rotations: i.rotations,
        }
    }
}

// ---------------------------------------------------------------- helpers

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

async fn get_item(client: &Client, table: &str, pk: String) -> Result<Option<Item>, StoreError> {
    super::get_item(client, table, super::pk_key(pk)).await
}

// ---------------------------------------------------------------- users

/// [`UserStore`] on the `users` table.
#[derive(Clone)]
pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The user a uniqueness guard item points at.
    async fn find_by_guard(&self, guard_pk: String) -> Result<Option<User>, StoreError> {
        let Some(guard) = get_item(&self.client, &self.table, guard_pk).await? else {
            return Ok(None);
        };
        let guard: GuardItem = from_item(guard)?;
        Ok(self.get(&guard.user_id).await?.map(|v| v.value))
    }

    fn guard(&self, pk: String, user: &User) -> Result<TransactWriteItem, StoreError> {
        put(
            &self.table,
            to_item(&GuardItem {
                pk,
                user_id: user.id,
            })?,
            NOT_EXISTS,
        )
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        let items = vec![
            put(&self.table, to_item(&UserItem::new(user, 1))?, NOT_EXISTS)?,
            self.guard(keys::phone_guard_pk(&user.phone_number), user)?,
            self.guard(keys::username_guard_pk(&user.username), user)?,
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["exists", "phone_number", "username"]))?;
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<Versioned<User>>, StoreError> {
        let Some(item) = get_item(&self.client, &self.table, keys::user_pk(id)).await? else {
            return Ok(None);
        };
        let item: UserItem = from_item(item)?;
        Ok(Some(Versioned {
            value: item.user,
            version: item.version,
        }))
    }

    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<User>, StoreError> {
        self.find_by_guard(keys::phone_guard_pk(phone)).await
    }

    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.find_by_guard(keys::username_guard_pk(username)).await
    }

    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut keys: Vec<String> = ids.iter().map(keys::user_pk).collect();
        keys.sort();
        keys.dedup();
        let mut users = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let keys = chunk
                .iter()
                .map(|pk| Item::from([("pk".to_owned(), s(pk))]))
                .collect();
            for item in super::batch_get(&self.client, &self.table, keys).await? {
                users.push(from_item::<UserItem>(item)?.user);
            }
        }
        Ok(users)
    }

    async fn search_username_prefix(
        &self,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let index = super::tables::USERS_BY_USERNAME;
        let partition = keys::username_search_prefix(prefix);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("unPrefix = :p AND begins_with(unKey, :k)")
            .expression_attribute_values(":p", s(&partition))
            .expression_attribute_values(":k", s(prefix));
        if let Some(c) = &page.cursor {
            let c: UsernameCursor = decode_cursor(c)?;
            if !c.k.starts_with(prefix) {
                return Err(StoreError::BadCursor);
            }
            query = query
                .exclusive_start_key("pk", s(keys::user_pk(&c.id)))
                .exclusive_start_key("unPrefix", s(&partition))
                .exclusive_start_key("unKey", s(c.k));
        }
        super::query_page(
            query,
            page.limit,
            |u: UserItem| ((u.un_key, u.user.id), u.user),
            |(k, id)| UsernameCursor {
                k: k.clone(),
                id: *id,
            },
        )
        .await
    }

    async fn update(
        &self,
        user: &User,
        expected_version: u64,
        previous_username: &Username,
    ) -> Result<u64, StoreError> {
        let version = expected_version + 1;
        let item = to_item(&UserItem::new(user, version))?;
        let version_condition = "attribute_exists(pk) AND version = :v";
        if user.username.key() == previous_username.key() {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(version_condition)
                .expression_attribute_values(":v", n(expected_version))
                .send()
                .await
                .map_err(|e| store_error(e, "version"))?;
            return Ok(version);
        }
        let user_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(version_condition)
            .expression_attribute_values(":v", n(expected_version))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let old_guard = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::username_guard_pk(previous_username)))
            .condition_expression("userId = :u")
            .expression_attribute_values(":u", s(user.id.to_string()))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let items = vec![
            self.guard(keys::username_guard_pk(&user.username), user)?,
            TransactWriteItem::builder().delete(old_guard).build(),
            TransactWriteItem::builder().put(user_put).build(),
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["username", "version", "version"]))?;
        Ok(version)
    }
}

// ---------------------------------------------------------------- OTP

/// [`OtpStore`] on the `verification_codes` table.
#[derive(Clone)]
pub struct DynamoOtpStore {
    client: Client,
    table: String,
}

impl DynamoOtpStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl OtpStore for DynamoOtpStore {
    async fn get(&self, phone: &PhoneNumber) -> Result<Option<Versioned<OtpState>>, StoreError> {
        let Some(item) = get_item(&self.client, &self.table, keys::otp_pk(phone)).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<OtpItem>(item)?.into_state()))
    }

    async fn put(
        &self,
        state: &OtpState,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        let version = expected_version.unwrap_or(0) + 1;
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&OtpItem::new(state, version))?));
        let req = match expected_version {
            None => req.condition_expression(NOT_EXISTS),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        req.send().await.map_err(|e| store_error(e, "version"))?;
        Ok(version)
    }
}

// ---------------------------------------------------------------- sessions

/// [`SessionStore`] on the `sessions` table.
#[derive(Clone)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
}

impl DynamoSessionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    async fn create(&self, session: &Session) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&SessionItem::from(session))?))
            .condition_expression(NOT_EXISTS)
            .send()
            .await
            .map_err(|e| store_error(e, "exists"))?;
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let Some(item) = get_item(&self.client, &self.table, keys::session_pk(id)).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<SessionItem>(item)?.into()))
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ts = |t: DateTime<Utc>| {
            super::codec::to_attribute_value(t).map_err(|e| StoreError::Corrupt(Box::new(e)))
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::session_pk(id)))
            .update_expression(
                "SET tokenHash = :new, previousHash = :old, rotatedAt = :now, expiresAt = :exp, \
                 #ttl = :ttl ADD rotations :one",
            )
            .condition_expression("attribute_exists(pk) AND tokenHash = :old AND revoked = :no")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(expected_hash))
            .expression_attribute_values(":now", ts(now)?)
            .expression_attribute_values(":exp", ts(expires_at)?)
            .expression_attribute_values(":ttl", n(expires_at.timestamp()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(
                ":no",
                aws_sdk_dynamodb::types::AttributeValue::Bool(false),
            )
            .send()
            .await
            .map_err(|e| store_error(e, "token"))?;
        Ok(())
    }

    async fn revoke(&self, id: &SessionId) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::session_pk(id)))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":yes",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .send()
            .await;
        match res.map_err(|e| store_error(e, "exists")) {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------- golden items

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CountryCode, StatusText};
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn user() -> User {
        User {
            id: UserId::parse("0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10").unwrap(),
            username: Username::parse("Alice").unwrap(),
            email: None,
            phone_number: PhoneNumber::parse("9890999999", &CountryCode::parse("91").unwrap())
                .unwrap(),
            profile_picture: None,
            status: StatusText::parse("hi").unwrap(),
            last_seen: t(1_700_000_000),
            created_at: t(1_700_000_000),
            updated_at: t(1_700_000_001),
            verified: true,
            last_seen_visibility: crate::domain::LastSeenVisibility::Contacts,
        }
    }

    fn str_attr(item: &Item, k: &str) -> String {
        match item.get(k) {
            Some(AV::S(v)) => v.clone(),
            other => panic!("{k}: expected a string attribute, got {other:?}"),
        }
    }

    #[test]
    fn user_item_golden() {
        let item = to_item(&UserItem::new(&user(), 3)).unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "USER#0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10"
        );
        assert_eq!(
            str_attr(&item, "id"),
            "0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10"
        );
        assert_eq!(str_attr(&item, "username"), "Alice");
        assert_eq!(str_attr(&item, "phoneNumber"), "+919890999999");
        assert_eq!(str_attr(&item, "createdAt"), "2023-11-14T22:13:20Z");
        assert_eq!(item.get("version"), Some(&AV::N("3".into())));
        assert_eq!(item.get("verified"), Some(&AV::Bool(true)));
        assert_eq!(str_attr(&item, "unPrefix"), "a");
        assert_eq!(str_attr(&item, "unKey"), "alice");
        assert_eq!(str_attr(&item, "lastSeenVisibility"), "contacts");
        let mut old = item.clone();
        old.remove("lastSeenVisibility");
        let back: UserItem = from_item(old).unwrap();
        assert_eq!(
            back.user,
            user(),
            "an item written before the setting existed reads as contacts"
        );
        let back: UserItem = from_item(item).unwrap();
        assert_eq!(back.user, user());
        assert_eq!(back.version, 3);
    }

    #[test]
    fn guard_item_golden() {
        let u = user();
        let phone = to_item(&GuardItem {
            pk: keys::phone_guard_pk(&u.phone_number),
            user_id: u.id,
        })
        .unwrap();
        assert_eq!(str_attr(&phone, "pk"), "PHONE#+919890999999");
        assert_eq!(
            str_attr(&phone, "userId"),
            "0b5d1f0e-6a1c-4d8e-9f43-2b7c1a9e5d10"
        );
        assert_eq!(phone.len(), 2);
        assert_eq!(keys::username_guard_pk(&u.username), "USERNAME#alice");
    }

    #[test]
    fn otp_item_golden() {
        let st = OtpState {
            phone: user().phone_number,
            codes: vec![LiveCode {
                client: "c1".into(),
                mac: "ab".repeat(32),
                expires_at: t(1_700_000_300),
                attempts: 2,
            }],
            sends: vec![Attempt {
                client: "c1".into(),
                at: t(1_700_000_000),
            }],
            failures: vec![],
            expire_after: t(1_700_000_900),
        };
        let item = to_item(&OtpItem::new(&st, 4)).unwrap();
        assert_eq!(str_attr(&item, "pk"), "OTP#+919890999999");
        assert_eq!(item.get("ttl"), Some(&AV::N("1700000900".into())));
        let AV::L(codes) = &item["codes"] else {
            panic!("codes is a list")
        };
        let AV::M(code) = &codes[0] else {
            panic!("a code is a map")
        };
        assert_eq!(code.get("client"), Some(&AV::S("c1".into())));
        assert_eq!(code.get("mac"), Some(&AV::S("ab".repeat(32))));
        assert_eq!(code.get("attempts"), Some(&AV::N("2".into())));
        assert_eq!(
            code.get("expiresAt"),
            Some(&AV::S("2023-11-14T22:18:20Z".into()))
        );
        let AV::L(sends) = &item["clientSends"] else {
            panic!("clientSends is a list")
        };
        assert_eq!(sends.len(), 1);
        let back = from_item::<OtpItem>(item).unwrap().into_state();
        assert_eq!(
            back,
            Versioned {
                value: st.clone(),
                version: 4
            }
        );

        // An item of the previous format: its code is not honoured (it asked for a new one).
        let mut old = to_item(&OtpItem::new(&st, 5)).unwrap();
        old.remove("codes");
        old.remove("clientSends");
        old.remove("failures");
        old.insert("codeMac".into(), AV::S("ab".repeat(32)));
        old.insert(
            "sends".into(),
            AV::L(vec![AV::S("2023-11-14T22:13:20Z".into())]),
        );
        let back = from_item::<OtpItem>(old).unwrap().into_state().value;
        assert_eq!((back.codes.len(), back.sends.len()), (0, 0));
    }

    #[test]
    fn session_item_golden() {
        let s = Session {
            id: SessionId::parse("7d444840-9dc0-41f1-a0a4-b7f12e8a0e3a").unwrap(),
            user_id: user().id,
            token_hash: "cd".repeat(32),
            previous_hash: None,
            created_at: t(1_700_000_000),
            rotated_at: t(1_700_000_000),
            expires_at: t(1_702_592_000),
            revoked: false,
            rotations: 0,
        };
        let item = to_item(&SessionItem::from(&s)).unwrap();
        assert_eq!(
            str_attr(&item, "pk"),
            "SESSION#7d444840-9dc0-41f1-a0a4-b7f12e8a0e3a"
        );
        assert_eq!(str_attr(&item, "tokenHash"), "cd".repeat(32));
        assert!(
            !item.contains_key("previousHash"),
            "no previous hash before the first rotation"
        );
        assert_eq!(item.get("ttl"), Some(&AV::N("1702592000".into())));
        assert_eq!(item.get("revoked"), Some(&AV::Bool(false)));
        assert_eq!(
            Session::from(from_item::<SessionItem>(item.clone()).unwrap()),
            s
        );

        let mut old = item.clone();
        old.remove("rotations");
        assert_eq!(
            Session::from(from_item::<SessionItem>(old).unwrap()),
            s,
            "an item written before rotations were counted reads as 0"
        );

        let rotated = Session {
            previous_hash: Some("ef".repeat(32)),
            rotated_at: t(1_700_000_100),
            rotations: 1,
            ..s
        };
        let item = to_item(&SessionItem::from(&rotated)).unwrap();
        assert_eq!(str_attr(&item, "previousHash"), "ef".repeat(32));
        assert_eq!(item.get("rotations"), Some(&AV::N("1".into())));
        assert_eq!(str_attr(&item, "rotatedAt"), "2023-11-14T22:15:00Z");
        assert_eq!(
            Session::from(from_item::<SessionItem>(item).unwrap()),
            rotated
        );
    }
}
