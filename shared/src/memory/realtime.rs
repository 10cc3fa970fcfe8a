use super::lock;
use crate::StoreError;
use crate::domain::{SessionId, UserId};
use crate::error::BoxError;
use crate::ports::{
    Connection, ConnectionGateway, ConnectionStore, DeliveryLedger, Device, DeviceStore, Platform,
    PostError, PushError, PushNote, PushSender,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Conns {
    by_id: HashMap<String, Connection>,
    greeted: HashSet<String>,
}

/// [`ConnectionStore`] in memory.
#[derive(Default)]
pub struct MemoryConnections(Mutex<Conns>);

#[async_trait]
impl ConnectionStore for MemoryConnections {
    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        lock(&self.0)
            .by_id
            .insert(c.connection_id.clone(), c.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        Ok(lock(&self.0).by_id.get(id).cloned())
    }

    async fn delete(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let mut s = lock(&self.0);
        s.greeted.remove(id);
        Ok(s.by_id.remove(id))
    }

    async fn of_user(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut v: Vec<Connection> = lock(&self.0)
            .by_id
            .values()
            .filter(|c| c.user_id == *user && c.expires_at.timestamp() > now.timestamp())
            .cloned()
            .collect();
        v.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(v)
    }

    async fn of_users(
        &self,
        users: &[UserId],
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let users: HashSet<&UserId> = users.iter().collect();
        let mut v: Vec<Connection> = lock(&self.0)
            .by_id
            .values()
            .filter(|c| users.contains(&c.user_id) && c.expires_at.timestamp() > now.timestamp())
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.user_id, &a.connection_id).cmp(&(b.user_id, &b.connection_id)));
        Ok(v)
    }

    async fn mark_greeted(&self, id: &str) -> Result<bool, StoreError> {
        let mut s = lock(&self.0);
        if !s.by_id.contains_key(id) {
            return Ok(false);
        }
        Ok(s.greeted.insert(id.to_owned()))
    }
}

/// [`DeviceStore`] in memory.
#[derive(Default)]
pub struct MemoryDevices(Mutex<BTreeMap<(UserId, uuid::Uuid), Device>>);

#[async_trait]
impl DeviceStore for MemoryDevices {
    async fn put(&self, d: &Device) -> Result<(), StoreError> {
        lock(&self.0).insert((d.user_id, d.id), d.clone());
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        Ok(lock(&self.0)
            .values()
            .filter(|d| d.user_id == *user)
            .cloned()
            .collect())
    }

    async fn list_many(&self, users: &[UserId]) -> Result<Vec<Device>, StoreError> {
        let users: HashSet<&UserId> = users.iter().collect();
        Ok(lock(&self.0)
            .values()
            .filter(|d| users.contains(&d.user_id))
            .cloned()
            .collect())
    }

    async fn delete(&self, user: &UserId, id: &uuid::Uuid) -> Result<Option<Device>, StoreError> {
        Ok(lock(&self.0).remove(&(*user, *id)))
    }

    async fn delete_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<Vec<Device>, StoreError> {
        let mut devices = lock(&self.0);
        let ids: Vec<(UserId, uuid::Uuid)> = devices
            .values()
            .filter(|d| d.user_id == *user && d.session_id == Some(*session))
            .map(|d| (d.user_id, d.id))
            .collect();
        Ok(ids.iter().filter_map(|k| devices.remove(k)).collect())
    }
}

/// One push the memory [`PushSender`] was asked to send: the note is all a push carries.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRecord {
    pub endpoint: String,
    pub platform: Platform,
    pub note: PushNote,
}

#[derive(Default)]
struct Pushes {
    endpoints: BTreeMap<String, (Platform, String)>,
    disabled: HashSet<String>,
    sent: Vec<PushRecord>,
}

/// [`PushSender`] that keeps every push (the local gateway's and the tests' view). Endpoints
/// are `memory:<platform>:<n>`; [`RecordingPush::disable`] plays the platform disabling one.
#[derive(Default)]
pub struct RecordingPush(Mutex<Pushes>);

impl RecordingPush {
    pub fn sent(&self) -> Vec<PushRecord> {
        lock(&self.0).sent.clone()
    }
    pub fn disable(&self, endpoint: &str) {
        lock(&self.0).disabled.insert(endpoint.to_owned());
    }
    /// Endpoints that exist (registered and not unregistered).
    pub fn endpoints(&self) -> Vec<String> {
        lock(&self.0).endpoints.keys().cloned().collect()
    }
}

#[async_trait]
impl PushSender for RecordingPush {
    fn supports(&self, _platform: Platform) -> bool {
        true
    }

    async fn register(&self, platform: Platform, token: &str) -> Result<String, BoxError> {
        let mut s = lock(&self.0);
        if let Some((arn, _)) = s
            .endpoints
            .iter()
            .find(|(_, (p, t))| *p == platform && t == token)
        {
            return Ok(arn.clone());
        }
        let arn = format!("memory:{platform:?}:{}", s.endpoints.len() + 1).to_lowercase();
        s.endpoints
            .insert(arn.clone(), (platform, token.to_owned()));
        Ok(arn)
    }

    async fn unregister(&self, endpoint: &str) -> Result<(), BoxError> {
        lock(&self.0).endpoints.remove(endpoint);
        Ok(())
    }

    async fn push(
        &self,
        endpoint: &str,
        platform: Platform,
        note: &PushNote,
    ) -> Result<(), PushError> {
        let mut s = lock(&self.0);
        if s.disabled.contains(endpoint) || !s.endpoints.contains_key(endpoint) {
            return Err(PushError::Disabled);
        }
        s.sent.push(PushRecord {
            endpoint: endpoint.to_owned(),
            platform,
            note: note.clone(),
        });
        Ok(())
    }
}

/// [`ConnectionGateway`] for tests: records posts; connections in `gone` answer 410.
#[derive(Default)]
pub struct RecordingGateway {
    posts: Mutex<Vec<(String, String)>>,
    gone: Mutex<HashSet<String>>,
    closed: Mutex<Vec<String>>,
}

impl RecordingGateway {
    /// Frames posted to `connection_id`, oldest first.
    pub fn frames_to(&self, connection_id: &str) -> Vec<String> {
        lock(&self.posts)
            .iter()
            .filter(|(c, _)| c == connection_id)
            .map(|(_, f)| f.clone())
            .collect()
    }
    /// Plays the client going away: posts to it answer 410 from now on.
    pub fn close(&self, connection_id: &str) {
        lock(&self.gone).insert(connection_id.to_owned());
    }
    /// Connections the server closed (`DELETE /@connections/{id}`), oldest first.
    pub fn closed_by_server(&self) -> Vec<String> {
        lock(&self.closed).clone()
    }
}

#[async_trait]
impl ConnectionGateway for RecordingGateway {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError> {
        if lock(&self.gone).contains(connection_id) {
            return Err(PostError::Gone);
        }
        let text = String::from_utf8(data.to_vec()).map_err(|e| PostError::Failed(Box::new(e)))?;
        lock(&self.posts).push((connection_id.to_owned(), text));
        Ok(())
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        if !lock(&self.gone).insert(connection_id.to_owned()) {
            return Err(PostError::Gone);
        }
        lock(&self.closed).push(connection_id.to_owned());
        Ok(())
    }
}

/// [`DeliveryLedger`] in memory.
#[derive(Default)]
pub struct MemoryLedger {
    served: Mutex<HashMap<String, HashSet<String>>>,
    pushes: Mutex<HashSet<(String, uuid::Uuid)>>,
}

#[async_trait]
impl DeliveryLedger for MemoryLedger {
    async fn served(&self, job: &str) -> Result<HashSet<String>, StoreError> {
        Ok(lock(&self.served).get(job).cloned().unwrap_or_default())
    }

    async fn record_served(&self, job: &str, targets: &[String]) -> Result<(), StoreError> {
        lock(&self.served)
            .entry(job.to_owned())
            .or_default()
            .extend(targets.iter().cloned());
        Ok(())
    }

    async fn claim_push(&self, job: &str, device: &uuid::Uuid) -> Result<bool, StoreError> {
        Ok(lock(&self.pushes).insert((job.to_owned(), *device)))
    }
}
