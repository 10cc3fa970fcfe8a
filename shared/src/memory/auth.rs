use super::lock;
use super::page_after;
use crate::StoreError;
use crate::clock::Clock;
use crate::domain::{PhoneNumber, SessionId, User, UserId, Username};
use crate::error::BoxError;
use crate::ports::{OtpState, OtpStore, Session, SessionStore, SmsSender, UserStore, Versioned};
use crate::ports::{Page, PageRequest, decode_cursor};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Users {
    by_id: HashMap<UserId, Versioned<User>>,
    by_phone: HashMap<PhoneNumber, UserId>,
    /// Lowercase username → owner, ordered for prefix search.
    by_username: BTreeMap<String, UserId>,
}

/// Position in a username search: the last lowercase username returned.
#[derive(Serialize, Deserialize)]
struct UsernameCursor {
    k: String,
}

/// [`UserStore`] in memory.
#[derive(Default)]
pub struct MemoryUserStore(Mutex<Users>);

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        if s.by_id.contains_key(&user.id) {
            return Err(StoreError::conflict("exists"));
        }
        if s.by_phone.contains_key(&user.phone_number) {
            return Err(StoreError::conflict("phone_number"));
        }
        if s.by_username.contains_key(&user.username.key()) {
            return Err(StoreError::conflict("username"));
        }
        s.by_phone.insert(user.phone_number.clone(), user.id);
        s.by_username.insert(user.username.key(), user.id);
        s.by_id.insert(
            user.id,
            Versioned {
                value: user.clone(),
                version: 1,
            },
        );
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<Versioned<User>>, StoreError> {
        Ok(lock(&self.0).by_id.get(id).cloned())
    }

    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<User>, StoreError> {
        let s = lock(&self.0);
        Ok(s.by_phone
            .get(phone)
            .and_then(|id| s.by_id.get(id))
            .map(|v| v.value.clone()))
    }

    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let s = lock(&self.0);
        Ok(s.by_username
            .get(&username.key())
            .and_then(|id| s.by_id.get(id))
            .map(|v| v.value.clone()))
    }

    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let s = lock(&self.0);
        let unique: std::collections::BTreeSet<&UserId> = ids.iter().collect();
        Ok(unique
            .into_iter()
            .filter_map(|id| s.by_id.get(id))
            .map(|v| v.value.clone())
            .collect())
    }

    async fn search_username_prefix(
        &self,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let start = match &page.cursor {
            Some(c) => {
                let c: UsernameCursor = decode_cursor(c)?;
                if !c.k.starts_with(prefix) {
                    return Err(StoreError::BadCursor);
                }
                Some(c.k)
            }
            None => None,
        };
        let s = lock(&self.0);
        let matches = s
            .by_username
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start.as_ref().is_none_or(|st| *k > st))
            .filter_map(|(k, id)| s.by_id.get(id).map(|v| (k.clone(), v.value.clone())));
        Ok(page_after(matches, page.limit, |k| UsernameCursor {
            k: k.clone(),
        }))
    }

    async fn update(
        &self,
        user: &User,
        expected_version: u64,
        previous_username: &Username,
    ) -> Result<u64, StoreError> {
        let mut s = lock(&self.0);
        let renamed = user.username.key() != previous_username.key();
        if renamed && s.by_username.contains_key(&user.username.key()) {
            return Err(StoreError::conflict("username"));
        }
        match s.by_id.get(&user.id) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::conflict("version")),
        }
        if renamed {
            s.by_username.remove(&previous_username.key());
            s.by_username.insert(user.username.key(), user.id);
        }
        let version = expected_version + 1;
        s.by_id.insert(
            user.id,
            Versioned {
                value: user.clone(),
                version,
            },
        );
        Ok(version)
    }
}

/// [`OtpStore`] in memory.
#[derive(Default)]
pub struct MemoryOtpStore(Mutex<HashMap<PhoneNumber, Versioned<OtpState>>>);

#[async_trait]
impl OtpStore for MemoryOtpStore {
    async fn get(&self, phone: &PhoneNumber) -> Result<Option<Versioned<OtpState>>, StoreError> {
        Ok(lock(&self.0).get(phone).cloned())
    }

    async fn put(
        &self,
        state: &OtpState,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut map = lock(&self.0);
        let current = map.get(&state.phone).map(|v| v.version);
        if current != expected_version {
            return Err(StoreError::conflict("version"));
        }
        let version = expected_version.unwrap_or(0) + 1;
        map.insert(
            state.phone.clone(),
            Versioned {
                value: state.clone(),
                version,
            },
        );
        Ok(version)
    }
}

/// [`SessionStore`] in memory.
#[derive(Default)]
pub struct MemorySessionStore(Mutex<HashMap<SessionId, Session>>);

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &Session) -> Result<(), StoreError> {
        let mut map = lock(&self.0);
        if map.contains_key(&session.id) {
            return Err(StoreError::conflict("exists"));
        }
        map.insert(session.id, session.clone());
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(lock(&self.0).get(id).cloned())
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut map = lock(&self.0);
        match map.get_mut(id) {
            Some(s) if !s.revoked && s.token_hash == expected_hash => {
                s.previous_hash = Some(std::mem::replace(&mut s.token_hash, new_hash.to_owned()));
                s.rotated_at = now;
                s.expires_at = expires_at;
                s.rotations += 1;
                Ok(())
            }
            _ => Err(StoreError::conflict("token")),
        }
    }

    async fn revoke(&self, id: &SessionId) -> Result<(), StoreError> {
        if let Some(s) = lock(&self.0).get_mut(id) {
            s.revoked = true;
        }
        Ok(())
    }
}

/// One text message the local SMS outbox received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsRecord {
    pub phone_number: PhoneNumber,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

/// [`SmsSender`] that keeps every message, readable by tests and the local gateway's
/// `GET /_local/sms`. Never used in a Lambda.
pub struct SmsOutbox {
    clock: Arc<dyn Clock>,
    sent: Mutex<Vec<SmsRecord>>,
}

impl SmsOutbox {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            sent: Mutex::new(Vec::new()),
        }
    }
    /// Messages to `phone` (all when `None`), oldest first.
    pub fn messages(&self, phone: Option<&PhoneNumber>) -> Vec<SmsRecord> {
        lock(&self.sent)
            .iter()
            .filter(|m| phone.is_none_or(|p| &m.phone_number == p))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl SmsSender for SmsOutbox {
    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<(), BoxError> {
        lock(&self.sent).push(SmsRecord {
            phone_number: to.clone(),
            body: body.to_owned(),
            sent_at: self.clock.now(),
        });
        Ok(())
    }
}
