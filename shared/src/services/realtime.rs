//! Real time: WebSocket connections and their frames, presence, and the delivery of queued
//! jobs to every live connection (or a mobile push when there is none).

use super::{MessageService, NewMessage, SendOutcome, TokenService};
use crate::clock::Clock;
use crate::domain::{Content, MessageKind, UserId};
use crate::error::BoxError;
use crate::frames::{
    AckEvent, ClientFrame, ConnEvent, Empty, ErrorEvent, PresenceEvent, ServerFrame, TypingEvent,
};
use crate::ports::{
    Connection, ConnectionGateway, ConnectionStore, ContactStore, DeliveryJob, DeliveryQueue,
    Device, DeviceStore, PageRequest, Platform, PostError, Presence, PushError, PushSender,
    SessionStore, UserStore,
};
use crate::{Error, StoreError, crypto};
use async_trait::async_trait;
use chrono::TimeDelta;
use std::collections::HashSet;
use std::sync::Arc;

/// Seconds between client pings that the server asks for (API Gateway's idle timeout is 10
/// minutes).
pub const HEARTBEAT_SECS: u32 = 300;
/// How long a connection row lives: API Gateway ends connections at 2 hours.
pub const CONNECTION_TTL: TimeDelta = TimeDelta::hours(3);
/// Contacts per presence delivery job.
const PRESENCE_FANOUT: usize = 100;

fn frame_bytes(frame: &ServerFrame) -> Vec<u8> {
    serde_json::to_vec(frame).unwrap_or_default()
}

/// Everything a WebSocket connection does, behind the `ws_connect` function.
pub struct RealtimeService {
    pub(crate) tokens: Arc<TokenService>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) gateway: Arc<dyn ConnectionGateway>,
    pub(crate) contacts: Arc<dyn ContactStore>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) messages: Arc<MessageService>,
    pub(crate) queue: Arc<dyn DeliveryQueue>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl RealtimeService {
    /// `$connect`: a valid access token of a live session, or no connection. The seed's
    /// `?userId=`, when given, must name the token's user.
    pub async fn connect(
        &self,
        connection_id: &str,
        token: Option<&str>,
        claimed_user: Option<&str>,
    ) -> Result<Connection, Error> {
        let token = token.ok_or_else(|| {
            Error::unauthorized(
                "missing_token",
                "connect with ?token=<accessToken> or the Sec-WebSocket-Protocol header",
            )
        })?;
        let identity = self.tokens.verify_access(token)?;
        identity.user_id.confirm_claim(claimed_user)?;
        match self.sessions.get(&identity.session_id).await? {
            Some(s) if !s.revoked => {}
            _ => {
                return Err(Error::unauthorized(
                    "session_revoked",
                    "this session has ended; sign in again",
                ));
            }
        }
        let now = self.clock.now();
        let was_online = !self
            .connections
            .of_user(&identity.user_id, now)
            .await?
            .is_empty();
        let connection = Connection {
            connection_id: connection_id.to_owned(),
            user_id: identity.user_id,
            session_id: identity.session_id,
            connected_at: now,
            expires_at: now + CONNECTION_TTL,
        };
        self.connections.put(&connection).await?;
        if !was_online {
            self.presence(&identity.user_id, true, None).await;
        }
        Ok(connection)
    }

    /// `$disconnect` (best effort: API Gateway may never send it; rows also expire).
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), Error> {
        let Some(c) = self.connections.delete(connection_id).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        if self.connections.of_user(&c.user_id, now).await?.is_empty() {
            self.touch_last_seen(&c.user_id, now).await?;
            self.presence(&c.user_id, false, Some(now)).await;
        }
        Ok(())
    }

    /// Closes every socket opened with `session` (after logout: a revoked session keeps no
    /// live connection). API Gateway answers each close with `$disconnect`, which does the
    /// bookkeeping; a socket already gone leaves only its row, deleted here.
    pub async fn close_session(
        &self,
        user: &UserId,
        session: &crate::domain::SessionId,
    ) -> Result<usize, Error> {
        let mut closed = 0;
        for c in self.connections.of_user(user, self.clock.now()).await? {
            if c.session_id != *session {
                continue;
            }
            match self.gateway.close(&c.connection_id).await {
                Ok(()) => closed += 1,
                Err(PostError::Gone) => {
                    self.connections.delete(&c.connection_id).await?;
                }
                Err(PostError::Failed(e)) => {
                    tracing::warn!(error = %e, "closing a revoked session's socket failed; it ends within 2 hours")
                }
            }
        }
        Ok(closed)
    }

    async fn touch_last_seen(
        &self,
        user: &UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        for _ in 0..3 {
            let Some(current) = self.users.get(user).await? else {
                return Ok(());
            };
            let mut u = current.value.clone();
            u.last_seen = now;
            match self
                .users
                .update(&u, current.version, &current.value.username)
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Tells every contact of `user` that they came online or went offline.
    async fn presence(
        &self,
        user: &UserId,
        on: bool,
        last_seen: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let frame = ServerFrame::Pres(PresenceEvent {
            u: *user,
            on,
            ls: last_seen,
        });
        let mut page = PageRequest::first(PRESENCE_FANOUT);
        loop {
            let contacts = match self.contacts.list(user, &page).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "presence: listing contacts failed");
                    return;
                }
            };
            let to: Vec<UserId> = contacts.items.iter().map(|c| c.contact_id).collect();
            if !to.is_empty() {
                let job = DeliveryJob {
                    to,
                    push: vec![],
                    frame: frame.clone(),
                };
                if let Err(e) = self.queue.enqueue(&job).await {
                    tracing::warn!(error = %e, "presence enqueue failed");
                    crate::metrics::count("DeliveryEnqueueFailed");
                }
            }
            match contacts.next {
                Some(next) => page.cursor = Some(next),
                None => return,
            }
        }
    }

    async fn post(&self, connection_id: &str, frame: &ServerFrame) {
        match self.gateway.post(connection_id, &frame_bytes(frame)).await {
            Ok(()) => {}
            Err(PostError::Gone) => {
                if let Err(e) = self.connections.delete(connection_id).await {
                    tracing::warn!(error = %e, "deleting a gone connection failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "post to connection failed"),
        }
    }

    /// `$default`: one frame from a connection. Every answer goes back over the socket; a
    /// refused frame gets `ERR` and the connection stays open.
    pub async fn frame(&self, connection_id: &str, body: &str) -> Result<(), Error> {
        let Some(c) = self.connections.get(connection_id).await? else {
            return Err(Error::unauthorized(
                "unknown_connection",
                "this connection is not registered",
            ));
        };
        if self.connections.mark_greeted(connection_id).await? {
            let conn = ConnEvent {
                u: c.user_id,
                cid: c.connection_id.clone(),
                hb: HEARTBEAT_SECS,
            };
            self.post(connection_id, &ServerFrame::Conn(conn)).await;
        }
        let frame = match ClientFrame::parse(body) {
            Ok(f) => f,
            Err(e) => {
                let err = ErrorEvent {
                    code: e.code.into(),
                    msg: e.msg,
                    cm: None,
                };
                self.post(connection_id, &ServerFrame::Err(err)).await;
                return Ok(());
            }
        };
        let cm = match &frame {
            ClientFrame::Msg { cm, .. } => cm.clone(),
            _ => None,
        };
        if let Err(e) = self.handle(&c, frame).await {
            let msg = match &e {
                Error::Internal(_) | Error::Unavailable(_) => {
                    tracing::error!(error = %e, "frame failed");
                    "the server could not handle this frame; try again".to_owned()
                }
                other => other.to_string(),
            };
            let err = ErrorEvent {
                code: e.code().into(),
                msg,
                cm,
            };
            self.post(connection_id, &ServerFrame::Err(err)).await;
        }
        Ok(())
    }

    async fn handle(&self, c: &Connection, frame: ClientFrame) -> Result<(), Error> {
        match frame {
            ClientFrame::Ping => {
                self.post(&c.connection_id, &ServerFrame::Pong(Empty {}))
                    .await
            }
            ClientFrame::Typing { r } => {
                if self.contacts.get(&c.user_id, &r).await?.is_none() {
                    return Err(Error::forbidden(
                        "not_a_contact",
                        "you can only type to your contacts",
                    ));
                }
                let frame = ServerFrame::Typing(TypingEvent { s: c.user_id });
                for peer in self.connections.of_user(&r, self.clock.now()).await? {
                    self.post(&peer.connection_id, &frame).await;
                }
            }
            ClientFrame::Read { p, up_to } => {
                self.messages.mark_read(&c.user_id, &p, &up_to).await?;
            }
            ClientFrame::Dlv { p, up_to } => {
                self.messages.mark_delivered(&c.user_id, &p, &up_to).await?;
            }
            ClientFrame::Msg {
                r,
                c: content,
                t,
                cm,
                s,
            } => {
                if let Some(s) = s {
                    c.user_id.confirm_claim(Some(&s.to_string()))?;
                }
                let kind = MessageKind::parse(&t)?;
                let m = NewMessage {
                    receiver: r,
                    kind,
                    content: Content::parse(kind, &content)?,
                    client_message_id: cm
                        .as_deref()
                        .map(|k| super::messages::parse_idempotency_key("cm", k))
                        .transpose()?,
                };
                let (SendOutcome::Created(v) | SendOutcome::Replayed(v)) =
                    self.messages.send(&c.user_id, m).await?;
                let ack = AckEvent {
                    cm,
                    id: v.id,
                    ts: v.created_at,
                };
                self.post(&c.connection_id, &ServerFrame::Ack(ack)).await;
            }
        }
        Ok(())
    }
}

/// What one delivery job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Frames posted to live connections.
    pub posted: usize,
    /// Connections found closed (410) and forgotten.
    pub gone: usize,
    /// Mobile pushes sent to users without a live connection.
    pub pushed: usize,
}

/// The `push` function's work: a queued job to every device of its users.
pub struct DeliveryService {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) gateway: Arc<dyn ConnectionGateway>,
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl DeliveryService {
    /// Delivers `job`. Fails (so the queue redelivers it) only when a live connection or a
    /// push could not be reached for a reason other than being gone; deliveries are
    /// at-least-once and clients drop frames whose id they already have.
    pub async fn deliver(&self, job: &DeliveryJob) -> Result<Delivered, BoxError> {
        let bytes = frame_bytes(&job.frame);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut done = Delivered::default();
        let mut failure: Option<BoxError> = None;
        let mut seen = HashSet::new();
        for user in job.to.iter().filter(|u| seen.insert(**u)) {
            let mut live = 0;
            for c in self.connections.of_user(user, self.clock.now()).await? {
                match self.gateway.post(&c.connection_id, &bytes).await {
                    Ok(()) => live += 1,
                    Err(PostError::Gone) => {
                        self.connections.delete(&c.connection_id).await?;
                        done.gone += 1;
                    }
                    Err(PostError::Failed(e)) => failure = Some(e),
                }
            }
            done.posted += live;
            if live == 0 && job.push.contains(user) {
                for d in self.devices.list(user).await? {
                    match self.push.push(&d.endpoint_arn, d.platform, &text).await {
                        Ok(()) => done.pushed += 1,
                        Err(PushError::Disabled) => {
                            self.devices.delete(user, &d.id).await?;
                            if let Err(e) = self.push.unregister(&d.endpoint_arn).await {
                                tracing::warn!(error = %e, "deleting a disabled endpoint failed");
                            }
                        }
                        Err(PushError::Failed(e)) => failure = Some(e),
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

/// [`Presence`] from the connection store: online = at least one live connection.
pub struct ConnectionPresence {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl ConnectionPresence {
    pub fn new(connections: Arc<dyn ConnectionStore>, clock: Arc<dyn Clock>) -> Self {
        Self { connections, clock }
    }
}

#[async_trait]
impl Presence for ConnectionPresence {
    async fn online(&self, users: &[UserId]) -> Result<HashSet<UserId>, StoreError> {
        let now = self.clock.now();
        let mut set = tokio::task::JoinSet::new();
        for user in users.iter().copied() {
            let connections = self.connections.clone();
            set.spawn(async move {
                connections
                    .of_user(&user, now)
                    .await
                    .map(|c| (user, !c.is_empty()))
            });
        }
        let mut online = HashSet::new();
        while let Some(res) = set.join_next().await {
            let (user, on) = res.map_err(|e| StoreError::Unavailable(Box::new(e)))??;
            if on {
                online.insert(user);
            }
        }
        Ok(online)
    }
}

/// Push-token registration.
pub struct DeviceService {
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Namespace of device ids (UUIDv5 of user and token hash: re-registering replaces).
const DEVICE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2b8e_4a61_9c3f_4d17_8a5e_0f6b_3c9d_7e02);

impl DeviceService {
    /// Registers a push token: creates (or finds) its SNS platform endpoint and stores it.
    pub async fn register(
        &self,
        user: &UserId,
        platform: &str,
        token: &str,
    ) -> Result<Device, Error> {
        let platform = match platform {
            "fcm" => Platform::Fcm,
            "apns" => Platform::Apns,
            _ => {
                return Err(Error::validation(
                    "invalid_platform",
                    "platform must be fcm or apns",
                ));
            }
        };
        if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                "invalid_push_token",
                "token must be 1-4096 printable characters",
            ));
        }
        if !self.push.supports(platform) {
            return Err(Error::validation(
                "platform_unavailable",
                format!("this deployment cannot push to {platform:?} devices"),
            ));
        }
        let endpoint_arn = self
            .push
            .register(platform, token)
            .await
            .map_err(Error::Unavailable)?;
        let token_hash = hex::encode(crypto::sha256(token.as_bytes()));
        let device = Device {
            id: uuid::Uuid::new_v5(&DEVICE_NAMESPACE, format!("{user}:{token_hash}").as_bytes()),
            user_id: *user,
            platform,
            token_hash,
            endpoint_arn,
            created_at: self.clock.now(),
        };
        self.devices.put(&device).await?;
        Ok(device)
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<Device>, Error> {
        Ok(self.devices.list(user).await?)
    }

    /// Unregisters a device and deletes its platform endpoint.
    pub async fn remove(&self, user: &UserId, id: &uuid::Uuid) -> Result<(), Error> {
        let device = self
            .devices
            .delete(user, id)
            .await?
            .ok_or_else(|| Error::not_found("device_not_found", "no such device of yours"))?;
        if let Err(e) = self.push.unregister(&device.endpoint_arn).await {
            tracing::warn!(error = %e, "deleting the platform endpoint failed; the device is unregistered");
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "realtime_tests.rs"]
mod tests;
