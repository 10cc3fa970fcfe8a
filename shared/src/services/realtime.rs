//! Real time: WebSocket connections (`$connect`, `$disconnect`) and the frames they carry
//! (`$default`), behind the `ws_connect` function. Presence, delivery and devices have their
//! own services beside this one.

use super::{MessageService, NewMessage, SendOutcome, TokenService};
use crate::clock::Clock;
use crate::domain::{Content, LastSeenVisibility, MessageKind, UserId};
use crate::frames::{
    AckEvent, ClientFrame, ConnEvent, Empty, ErrorEvent, PresenceEvent, ServerFrame, TypingEvent,
};
use crate::ports::{
    Connection, ConnectionGateway, ConnectionStore, ContactStore, CursorKind, DeliveryJob,
    DeliveryQueue, PageRequest, PostError, SessionStore, UserStore,
};
use crate::{Error, StoreError};
use chrono::TimeDelta;
use std::sync::Arc;

/// Seconds between client pings that the server asks for (API Gateway's idle timeout is 10
/// minutes).
pub const HEARTBEAT_SECS: u32 = 300;
/// How long a connection row lives: API Gateway ends connections at 2 hours.
pub const CONNECTION_TTL: TimeDelta = TimeDelta::hours(3);
/// Live connections one user may hold at once. The DynamoDB adapter keeps a user's
/// connections in one index item (so delivery reads a group's connections in batches) and an
/// item stops at 400 KB: beyond this `$connect` is refused (429 until the oldest expires),
/// never a store failure.
pub const MAX_CONNECTIONS_PER_USER: usize = 100;
/// Contacts per presence delivery job.
const PRESENCE_FANOUT: usize = 100;

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
    /// Typing and presence of a blocked user never reach the blocker.
    pub(crate) blocks: Arc<super::BlockService>,
}

impl RealtimeService {
    /// `$connect`: a valid access token of a live session, or no connection. The seed's
    /// `?userId=`, when given, must name the token's user. A user already holding
    /// [`MAX_CONNECTIONS_PER_USER`] live connections is refused (429).
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
        let live = self.connections.of_user(&identity.user_id, now).await?;
        if live.len() >= MAX_CONNECTIONS_PER_USER {
            let oldest = live.iter().map(|c| c.expires_at).min().unwrap_or(now);
            return Err(Error::RateLimited {
                code: "too_many_connections",
                message: format!(
                    "at most {MAX_CONNECTIONS_PER_USER} open connections; close one first"
                ),
                retry_after: (oldest - now).to_std().unwrap_or_default(),
            });
        }
        let was_online = !live.is_empty();
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
        // Nobody: no presence at all (WhatsApp's "last seen and online: nobody").
        match self.users.get(user).await {
            Ok(Some(u)) if u.value.last_seen_visibility == LastSeenVisibility::Nobody => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "presence: reading the user failed");
                return;
            }
        }
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
            let mut to: Vec<UserId> = contacts.items.iter().map(|c| c.contact_id).collect();
            // No presence across a block, either way: contacts who blocked the user, and
            // those the user blocked.
            match self.blocks.blocked_either_way(user, &to).await {
                Ok(blockers) => to.retain(|c| !blockers.contains(c)),
                Err(e) => {
                    tracing::warn!(error = %e, "presence: reading blocks failed");
                    return;
                }
            }
            if !to.is_empty() {
                let job = DeliveryJob {
                    to,
                    push: vec![],
                    frame: frame.clone(),
                    note: None,
                    fanout: None,
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
        match self.gateway.post(connection_id, &frame.to_wire()).await {
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
        // A socket of a revoked session (logout, a reused refresh token) is closed at its next
        // frame, within the session check's bound, even if the close at revocation failed.
        if let Err(e) = self.tokens.session_live(&c.session_id).await {
            if e.code() != "session_revoked" {
                // The check could not be made (the store is unavailable): this frame fails,
                // the socket stays.
                return Err(e);
            }
            let err = ErrorEvent {
                code: e.code().into(),
                msg: e.to_string(),
                cm: None,
            };
            self.post(connection_id, &ServerFrame::Err(err)).await;
            if let Err(e) = self.gateway.close(connection_id).await {
                tracing::warn!(error = %e, "closing a revoked session's socket failed");
            }
            self.connections.delete(connection_id).await?;
            return Ok(());
        }
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
            ClientFrame::Msg { cm, .. } | ClientFrame::GroupMsg { cm, .. } => cm.clone(),
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
                // Dropped without a word when `r` blocked the typist: the block is not revealed.
                if self.blocks.blocks(&r, &c.user_id).await? {
                    return Ok(());
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
                cap,
                th,
                rp,
            } => {
                if let Some(s) = s {
                    c.user_id.confirm_claim(Some(&s.to_string()))?;
                }
                let kind = MessageKind::parse(&t)?;
                let (content, media) = self.content(c, kind, &content, cap, th).await?;
                let m = NewMessage {
                    receiver: r,
                    kind,
                    content,
                    client_message_id: cm
                        .as_deref()
                        .map(|k| super::messages::parse_idempotency_key("cm", k))
                        .transpose()?,
                    media,
                    reply_to: rp,
                    forwarded: false,
                };
                let outcome = self.messages.send(&c.user_id, m).await?;
                self.ack(c, cm, outcome).await;
            }
            ClientFrame::GroupRead { g, up_to } => {
                self.messages
                    .group_mark(&c.user_id, &g, CursorKind::Read, &up_to)
                    .await?;
            }
            ClientFrame::GroupDlv { g, up_to } => {
                self.messages
                    .group_mark(&c.user_id, &g, CursorKind::Delivered, &up_to)
                    .await?;
            }
            ClientFrame::GroupMsg {
                g,
                c: content,
                t,
                cm,
                cap,
                th,
                rp,
            } => {
                let kind = MessageKind::parse(&t)?;
                let key = cm
                    .as_deref()
                    .map(|k| super::messages::parse_idempotency_key("cm", k))
                    .transpose()?;
                let (content, media) = self.content(c, kind, &content, cap, th).await?;
                let m = NewMessage {
                    client_message_id: key,
                    media,
                    reply_to: rp,
                    ..NewMessage::to_group(&g, kind, content)
                };
                let outcome = self.messages.send_to_group(&c.user_id, &g, m).await?;
                self.ack(c, cm, outcome).await;
            }
        }
        Ok(())
    }

    /// A `MSG` frame's content: text, or (for media types) `c` is a media id, checked with
    /// its caption `cap` and thumbnail `th`.
    async fn content(
        &self,
        c: &Connection,
        kind: MessageKind,
        content: &str,
        cap: Option<String>,
        th: Option<String>,
    ) -> Result<(Content, Option<crate::domain::MediaRef>), Error> {
        if kind == MessageKind::Text {
            if cap.is_some() || th.is_some() {
                return Err(Error::validation(
                    "invalid_body",
                    "cap and th belong to media messages",
                ));
            }
            return Ok((Content::parse(kind, content)?, None));
        }
        let input = super::MediaInput::parse(content, cap.as_deref(), th.as_deref())?;
        let (content, media) = self.messages.media_message(&c.user_id, kind, input).await?;
        Ok((content, Some(media)))
    }

    /// `ACK {cm, id, ts}` of a send over the socket.
    async fn ack(&self, c: &Connection, cm: Option<String>, outcome: SendOutcome) {
        let (SendOutcome::Created(v) | SendOutcome::Replayed(v)) = outcome;
        let ack = AckEvent {
            cm,
            id: v.id,
            ts: v.created_at,
        };
        self.post(&c.connection_id, &ServerFrame::Ack(ack)).await;
    }
}

#[cfg(test)]
#[path = "realtime_tests.rs"]
mod tests;
