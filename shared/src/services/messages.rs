//! Messaging: idempotent, persisted-first sends; history; the chat list; receipts; webhook.

use crate::clock::Clock;
use crate::config::SendRate;
use crate::domain::{
    ChatKind, ChatView, Content, Conversation, ConversationId, Cursors, Message, MessageId,
    MessageKind, MessageView, PublicProfile, UserId, Username,
};
use crate::domain::{MediaRef, MediaUse};
use crate::frames::{MessageEvent, ReceiptEvent, ServerFrame};
use crate::ports::{
    ContactStore, DedupGuard, DeliveryJob, DeliveryQueue, GroupStore, HistoryRange, MessageStore,
    Page, PageRequest, PushNote, RateGate, UserStore,
};
use crate::retry::{Backoff, Retry};
use crate::services::{MediaInput, MediaService};
use crate::{Error, StoreError, crypto};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Default and largest history page.
pub const HISTORY_PAGE_DEFAULT: usize = 50;
pub const HISTORY_PAGE_MAX: usize = 100;
/// How far a webhook's timestamp may be from the server clock.
pub const WEBHOOK_TOLERANCE_SECS: i64 = super::webhook::TOLERANCE_SECS;
const ATTEMPTS: usize = 4;

/// A message to send, parsed.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub receiver: UserId,
    pub kind: MessageKind,
    pub content: Content,
    /// The client's id for this send: a retry with the same id returns the same message.
    pub client_message_id: Option<String>,
    /// A media message's checked upload ([`MessageService::media_message`]).
    pub media: Option<MediaRef>,
    /// The message of the same chat this one answers (its quote is added to the message).
    pub reply_to: Option<MessageId>,
    /// A forward ([`MessageService::forward`]).
    pub forwarded: bool,
}

impl NewMessage {
    /// A plain message to `receiver` (for a group: the group's id as a user id, see
    /// [`NewMessage::to_group`]).
    pub fn new(receiver: UserId, kind: MessageKind, content: Content) -> Self {
        Self {
            receiver,
            kind,
            content,
            client_message_id: None,
            media: None,
            reply_to: None,
            forwarded: false,
        }
    }
    /// A plain message to a group.
    pub fn to_group(group: &ConversationId, kind: MessageKind, content: Content) -> Self {
        Self::new(UserId::from_uuid(*group.as_uuid()), kind, content)
    }
}

/// What a send did.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// A new message (201).
    Created(MessageView),
    /// A retry of an earlier send: the original message (200).
    Replayed(MessageView),
}

/// A page of history and the id to continue from (`before` for older pages, `after` for
/// catch-up pages), when more exist.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub messages: Vec<MessageView>,
    pub next: Option<MessageId>,
}

/// Checks an idempotency key: 1–64 of `A-Z a-z 0-9 - _ . :`.
pub fn parse_idempotency_key(field: &'static str, s: &str) -> Result<String, Error> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::validation(
            "invalid_body",
            format!("{field} must be 1-64 characters of letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

pub struct MessageService {
    users: Arc<dyn UserStore>,
    messages: Arc<dyn MessageStore>,
    groups: Arc<dyn GroupStore>,
    queue: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    rate: SendRate,
    webhook_key: Vec<u8>,
    /// Whether body-only webhook signatures still work (a migration switch).
    legacy_webhooks: bool,
    /// How sends retry when concurrent sends win the conversation's rows.
    contention: Backoff,
    /// Checks and attaches the uploads media messages carry.
    media: Option<Arc<MediaService>>,
    /// Refuses the messages of users the receiver blocked.
    blocks: Option<Arc<super::BlockService>>,
    /// Whether a chat's peer is a contact: their last seen shows as their setting allows.
    contacts: Option<Arc<dyn ContactStore>>,
}

fn fingerprint(sender: &UserId, m: &NewMessage) -> String {
    let data = format!(
        "{sender}\0{}\0{:?}\0{}",
        m.receiver,
        m.kind,
        m.content.as_str()
    );
    hex::encode(crypto::sha256(data.as_bytes()))
}

impl MessageService {
    pub fn new(
        users: Arc<dyn UserStore>,
        messages: Arc<dyn MessageStore>,
        groups: Arc<dyn GroupStore>,
        queue: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
        rate: SendRate,
        webhook_key: &[u8],
    ) -> Self {
        Self {
            users,
            messages,
            groups,
            queue,
            clock,
            rate,
            webhook_key: webhook_key.to_vec(),
            legacy_webhooks: false,
            contention: Backoff::CONTENTION,
            media: None,
            blocks: None,
            contacts: None,
        }
    }

    /// Media messages are checked and attached by `media` (without it they are refused).
    pub fn with_media(mut self, media: Arc<MediaService>) -> Self {
        self.media = Some(media);
        self
    }

    fn media_service(&self) -> Result<&MediaService, Error> {
        self.media
            .as_deref()
            .ok_or_else(|| Error::Unavailable("media messages are not configured".into()))
    }

    /// A media message's content (its media id) and media, after
    /// [`MediaService::check_for_message`]'s checks of the sender's upload.
    pub async fn media_message(
        &self,
        sender: &UserId,
        kind: MessageKind,
        input: MediaInput,
    ) -> Result<(Content, MediaRef), Error> {
        if kind == MessageKind::Text {
            return Err(Error::validation(
                "invalid_body",
                "a text message carries no mediaId",
            ));
        }
        let media = self
            .media_service()?
            .check_for_message(sender, kind, input)
            .await?;
        Ok((Content::parse(kind, &media.media_id.to_string())?, media))
    }

    /// Before a media message's commit: `chat` carries its upload from now on.
    pub(super) async fn attach_media(
        &self,
        m: &NewMessage,
        chat: &ConversationId,
    ) -> Result<(), Error> {
        match &m.media {
            Some(media) => {
                self.media_service()?
                    .attach(&media.media_id, MediaUse::Chat(*chat))
                    .await
            }
            None => Ok(()),
        }
    }

    /// Refuses messages to a user from someone that user blocked, and hides last seen across
    /// a block in the chat list.
    pub fn with_blocks(mut self, blocks: Arc<super::BlockService>) -> Self {
        self.blocks = Some(blocks);
        self
    }

    /// The chat list shows a peer's last seen to contacts as the peer's setting allows
    /// (without it, only peers who show it to everyone).
    pub fn with_contacts(mut self, contacts: Arc<dyn ContactStore>) -> Self {
        self.contacts = Some(contacts);
        self
    }

    /// Accepts body-only webhook signatures too (`WHATSPE_WEBHOOK_LEGACY_SIGNATURES`).
    pub fn with_legacy_webhooks(mut self, on: bool) -> Self {
        self.legacy_webhooks = on;
        self
    }

    /// Retries under contention stop `budget` after a send's first try (default
    /// [`Backoff::CONTENTION`]'s).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.contention.budget = budget;
        self
    }

    fn interval_us(&self) -> i64 {
        1_000_000 / i64::from(self.rate.per_second)
    }

    fn tolerance_us(&self) -> i64 {
        i64::from(self.rate.burst - 1) * self.interval_us()
    }

    /// Sends a 1:1 message to a contact. Persisted first (one atomic write), then queued for
    /// delivery; a retry with the same `clientMessageId` returns the original.
    pub async fn send(&self, sender: &UserId, m: NewMessage) -> Result<SendOutcome, Error> {
        if m.receiver == *sender {
            return Err(Error::validation(
                "cannot_message_self",
                "you cannot send a message to yourself",
            ));
        }
        if let Some(blocks) = &self.blocks {
            blocks.may_message(sender, &m.receiver).await?;
        }
        let guard = m.client_message_id.as_ref().map(|key| DedupGuard {
            scope: sender.to_string(),
            key: key.clone(),
            message_id: MessageId::new_v7(),
            conversation_id: ConversationId::direct(sender, &m.receiver),
            fingerprint: fingerprint(sender, &m),
        });
        let chat = ConversationId::direct(sender, &m.receiver);
        let quote = self.quote(&chat, None, m.reply_to).await?;
        self.attach_media(&m, &chat).await?;
        let mut burst = false;
        let mut retry = self.contention.start();
        loop {
            let now = self.clock.now();
            let gate = self.gate(burst, now.timestamp_micros());
            let mut message = self.message(sender, &m, guard.as_ref(), now);
            message.extras.reply_to = quote.clone();
            let mut attempt_guard = guard.clone();
            if let Some(g) = attempt_guard.as_mut() {
                g.message_id = message.id;
            }
            let result = self
                .messages
                .send_to_contact(&message, attempt_guard.as_ref(), Some(&gate))
                .await;
            if let Err(StoreError::Conflict {
                what: "not_contacts",
            }) = result
            {
                return Err(match self.users.get(&m.receiver).await? {
                    None => Error::not_found("user_not_found", "no user with that id"),
                    Some(_) => {
                        Error::forbidden("not_a_contact", "you can only message your contacts")
                    }
                });
            }
            let tried = Try {
                sender,
                message,
                guard: guard.as_ref(),
                retry: &mut retry,
                burst: &mut burst,
            };
            if let Some(outcome) = self.settle(result, tried).await? {
                return Ok(outcome);
            }
        }
    }

    /// What one try of a send's transaction came to: the answer (`Some`: created, or the
    /// original of a retried `clientMessageId`), or `None` to try again — at once when the
    /// rate gate asks for its mid-burst step, after a jittered pause when a newer message
    /// became the chat's last meanwhile or DynamoDB refused a transaction on the same rows.
    pub(super) async fn settle(
        &self,
        result: Result<(), StoreError>,
        t: Try<'_>,
    ) -> Result<Option<SendOutcome>, Error> {
        match result {
            Ok(()) => {
                contention_overcome(t.retry);
                return Ok(Some(SendOutcome::Created(self.committed(t.message))));
            }
            Err(StoreError::Conflict { what: "duplicate" }) => {
                let key = t
                    .guard
                    .map(|g| (g.scope.as_str(), g.key.as_str(), g.fingerprint.as_str()));
                return self.replay(key).await.map(Some);
            }
            Err(StoreError::Conflict { what: "rate" }) => {
                let was_burst = *t.burst;
                self.rate_limited(t.sender, t.burst).await?;
                if !was_burst && *t.burst {
                    // Not contention: the sender is mid-burst. The next try takes the
                    // mid-burst step at once, without backing off.
                    return Ok(None);
                }
            }
            Err(StoreError::Conflict { .. } | StoreError::Contended(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if !t.retry.pause().await {
            return Err(contention_exhausted(t.retry, "retry the send"));
        }
        Ok(None)
    }

    /// The rate-gate step of a send's transaction: assume a full bucket first; after a
    /// `Conflict("rate")`, the mid-burst step ([`Self::rate_limited`] decides).
    pub(super) fn gate(&self, burst: bool, now_us: i64) -> RateGate {
        if burst {
            RateGate::Burst {
                now_us,
                interval_us: self.interval_us(),
                max_tat_us: now_us + self.tolerance_us(),
            }
        } else {
            RateGate::Full {
                now_us,
                new_tat_us: now_us + self.interval_us(),
            }
        }
    }

    /// After a send's rate gate failed: `Ok` to try again (mid-burst, or with a refilled
    /// bucket), or 429 with how long to wait.
    pub(super) async fn rate_limited(
        &self,
        sender: &UserId,
        burst: &mut bool,
    ) -> Result<(), Error> {
        if !*burst {
            *burst = true;
            return Ok(());
        }
        let tat = self.messages.rate_state(sender).await?.unwrap_or(0);
        let now_us = self.clock.now().timestamp_micros();
        let wait_us = tat - now_us - self.tolerance_us();
        if tat <= now_us {
            *burst = false;
        } else if wait_us > 0 {
            return Err(Error::RateLimited {
                code: "rate_limited",
                message: format!(
                    "too many messages: at most {} at once, then {} per second",
                    self.rate.burst, self.rate.per_second
                ),
                retry_after: Duration::from_micros(wait_us as u64),
            });
        }
        Ok(())
    }

    fn message(
        &self,
        sender: &UserId,
        m: &NewMessage,
        guard: Option<&DedupGuard>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Message {
        Message {
            id: MessageId::new_v7(),
            conversation_id: ConversationId::direct(sender, &m.receiver),
            sender_id: *sender,
            receiver_id: m.receiver,
            content: m.content.clone(),
            kind: m.kind,
            client_message_id: guard.map(|g| g.key.clone()),
            created_at: now,
            group: None,
            media: m.media.clone(),
            extras: crate::domain::Extras {
                forwarded: m.forwarded,
                ..Default::default()
            },
        }
    }

    /// The answer to a committed send. Nothing is queued here: the commit itself is the
    /// outbox. The `messages` table's stream hands every committed message to the relay
    /// ([`Self::relay`]), so a process that dies right after the commit loses nothing.
    fn committed(&self, message: Message) -> MessageView {
        MessageView::new(&message, crate::domain::MessageStatus::Sent)
    }

    /// Queues the delivery of a committed message (the relay function, fed by the `messages`
    /// table's stream): its `MSG` frame to every device of the receiver and the sender's other
    /// devices, and the note an offline receiver's phone is pushed (the sender's name and the
    /// ids, never the content). The job's id is the message's, so a retried relay queues it
    /// once (SQS FIFO deduplication). A failure is returned: the stream event source retries
    /// the record.
    pub async fn relay(&self, message: &Message) -> Result<(), Error> {
        if message.extras.act.is_some() {
            // A changed message (an action), not a new one.
            return self.relay_action(message).await;
        }
        if message.is_group() {
            return self.fan_out(message).await;
        }
        let mut to = vec![message.receiver_id];
        if !message.sender_id.is_system() {
            to.push(message.sender_id);
        }
        let job = DeliveryJob {
            to,
            push: vec![message.receiver_id],
            frame: ServerFrame::Msg(MessageEvent::new(message)),
            note: Some(PushNote {
                chat_id: message.conversation_id,
                message_id: message.id,
                sender_name: self.sender_name(&message.sender_id).await,
            }),
            fanout: None,
        };
        self.queue.enqueue(&job).await.map_err(|e| {
            crate::metrics::count("DeliveryEnqueueFailed");
            Error::Unavailable(e)
        })
    }

    /// The name a push shows for `sender`: their username, or [`PushNote::SYSTEM_SENDER`] for
    /// the service (also when the lookup fails: the push still goes out, the message is
    /// committed).
    async fn sender_name(&self, sender: &UserId) -> Username {
        let system = || Username::parse(PushNote::SYSTEM_SENDER).expect("a valid username");
        if sender.is_system() {
            return system();
        }
        match self.users.get(sender).await {
            Ok(Some(u)) => u.value.username,
            Ok(None) => system(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the sender's name for the push failed");
                system()
            }
        }
    }

    async fn replay(&self, guard: Option<(&str, &str, &str)>) -> Result<SendOutcome, Error> {
        let (scope, key, fingerprint) =
            guard.ok_or_else(|| Error::internal("duplicate without a guard"))?;
        let stored = self
            .messages
            .guard(scope, key)
            .await?
            .ok_or_else(|| Error::internal("dedup guard vanished"))?;
        if stored.fingerprint != fingerprint {
            return Err(Error::conflict(
                "idempotency_key_reused",
                "this id was already used for a different message",
            ));
        }
        let original = self
            .messages
            .get(&stored.conversation_id, &stored.message_id)
            .await?
            .ok_or_else(|| Error::internal("deduplicated message missing"))?;
        let cursors = self
            .messages
            .conversation(&original.receiver_id, &original.conversation_id)
            .await?
            .map(|c| c.cursors)
            .unwrap_or_default();
        Ok(SendOutcome::Replayed(MessageView::new(
            &original,
            original.status_for(&cursors),
        )))
    }

    /// A page of the conversation with `peer`, each message's status derived from the
    /// recipient's cursors. The latest page (the seed's plain history GET) marks the
    /// conversation read (one write, only when something was unread) and tells the peer; a
    /// catch-up page (`after`) marks what it returns delivered, never read; an older page
    /// (`before`) changes nothing.
    pub async fn history(
        &self,
        caller: &UserId,
        peer: &UserId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<HistoryPage, Error> {
        let cid = ConversationId::direct(caller, peer);
        let mut messages = self.messages.history(&cid, range, limit + 1).await?;
        let more = messages.len() > limit;
        messages.truncate(limit);
        let rows = self
            .messages
            .conversations_of(&[(*caller, cid), (*peer, cid)])
            .await?;
        let row_of = |u: &UserId| rows.iter().find(|r| r.member_id == *u).cloned();
        let mut own = row_of(caller).map(|r| r.cursors).unwrap_or_default();
        let theirs = row_of(peer).map(|r| r.cursors).unwrap_or_default();
        match range {
            HistoryRange::Latest => {
                if let Some(row) = row_of(caller)
                    && let Some(read) = self.read_all(caller, peer, &row).await?
                {
                    own.read_up_to = Some(read);
                }
            }
            HistoryRange::After(_) => {
                let newest_from_peer = messages
                    .iter()
                    .filter(|m| m.sender_id == *peer)
                    .map(|m| m.id)
                    .max();
                if let Some(up_to) = newest_from_peer
                    && own.delivered_up_to.is_none_or(|d| d < up_to)
                {
                    own = self.mark_delivered(caller, peer, &up_to).await?;
                }
            }
            HistoryRange::Before(_) => {}
        }
        let next = if more {
            messages.last().map(|m| m.id)
        } else {
            None
        };
        let views = messages
            .iter()
            .map(|m| {
                MessageView::new(
                    m,
                    m.status_for(if m.sender_id == *caller {
                        &theirs
                    } else {
                        &own
                    }),
                )
            })
            .collect();
        Ok(HistoryPage {
            messages: views,
            next,
        })
    }

    /// Marks everything up to the conversation's newest message read, if it is not already.
    async fn read_all(
        &self,
        caller: &UserId,
        peer: &UserId,
        row: &Conversation,
    ) -> Result<Option<MessageId>, Error> {
        let last = row.last_message.id;
        if row.unread_count == 0 {
            return Ok(None);
        }
        match self
            .messages
            .mark_read(caller, &row.conversation_id, &last, &last, 0)
            .await
        {
            Ok(()) => {
                self.tell(
                    peer,
                    ServerFrame::Read(ReceiptEvent {
                        g: None,
                        p: *caller,
                        up_to: last,
                    }),
                )
                .await;
                Ok(Some(last))
            }
            // A newer message arrived meanwhile: it stays unread.
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Which of `peers` are the caller's contacts (read together), and which have a block
    /// with the caller either way (their last seen is hidden, as in profiles).
    async fn peer_relations(
        &self,
        caller: &UserId,
        peers: &[UserId],
    ) -> Result<(HashSet<UserId>, HashSet<UserId>), Error> {
        let people: Vec<UserId> = peers.iter().filter(|p| !p.is_system()).copied().collect();
        let contacts = match &self.contacts {
            Some(store) => {
                let found =
                    futures_util::future::try_join_all(people.iter().map(|p| store.get(caller, p)))
                        .await?;
                people
                    .iter()
                    .zip(found)
                    .filter(|(_, c)| c.is_some())
                    .map(|(p, _)| *p)
                    .collect()
            }
            None => HashSet::new(),
        };
        let hidden = match &self.blocks {
            Some(b) if !people.is_empty() => b.blocked_either_way(caller, &people).await?,
            _ => HashSet::new(),
        };
        Ok((contacts, hidden))
    }

    /// The caller's 1:1 conversations whose last message is older than `before`, most recent
    /// first (at most `limit`), each with the peer's public profile, the last message (content
    /// cut to a preview) and the unread count.
    async fn chats_before(
        &self,
        caller: &UserId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<ChatView>, Error> {
        let rows = self.messages.chats_before(caller, before, limit).await?;
        let peers: Vec<UserId> = rows.iter().map(|r| r.peer_id).collect();
        let (contacts, hidden) = self.peer_relations(caller, &peers).await?;
        let mut profiles: HashMap<UserId, PublicProfile> = self
            .users
            .get_many(&peers)
            .await?
            .iter()
            .map(|u| {
                let mut p = PublicProfile::seen_by(u, contacts.contains(&u.id));
                if hidden.contains(&u.id) {
                    p.last_seen = None;
                }
                (u.id, p)
            })
            .collect();
        if peers.iter().any(UserId::is_system) {
            profiles.insert(UserId::SYSTEM, PublicProfile::system());
        }
        let peer_keys: Vec<(UserId, ConversationId)> = rows
            .iter()
            .map(|r| (r.peer_id, r.conversation_id))
            .collect();
        let peer_cursors: HashMap<UserId, Cursors> = self
            .messages
            .conversations_of(&peer_keys)
            .await?
            .into_iter()
            .map(|r| (r.member_id, r.cursors))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let peer = profiles.get(&r.peer_id)?.clone();
                let recipient = if r.last_message.sender_id == *caller {
                    peer_cursors.get(&r.peer_id).copied().unwrap_or_default()
                } else {
                    r.cursors
                };
                Some(ChatView {
                    conversation_id: r.conversation_id,
                    kind: ChatKind::Direct,
                    peer: Some(peer),
                    group: None,
                    last_message: Some(MessageView::new(
                        &r.last_message,
                        r.last_message.status_for(&recipient),
                    )),
                    unread_count: r.unread_count,
                    updated_at: r.updated_at,
                })
            })
            .collect())
    }

    /// The other member of one of the caller's 1:1 chats (`chatId` of a message or chat-list
    /// entry); 404 for a chat the caller is not in, whether or not it exists.
    pub async fn peer_of_chat(
        &self,
        caller: &UserId,
        chat: &ConversationId,
    ) -> Result<UserId, Error> {
        self.messages
            .conversation(caller, chat)
            .await?
            .map(|row| row.peer_id)
            .ok_or_else(|| Error::not_found("chat_not_found", "you have no chat with that id"))
    }

    async fn own_row(&self, caller: &UserId, peer: &UserId) -> Result<Conversation, Error> {
        self.messages
            .conversation(caller, &ConversationId::direct(caller, peer))
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    "conversation_not_found",
                    "you have no conversation with that user",
                )
            })
    }

    /// Read receipt: everything up to `up_to` (at most the newest message) is read. One write,
    /// whatever the number of messages; a lower `up_to` than the cursor changes nothing.
    pub async fn mark_read(
        &self,
        caller: &UserId,
        peer: &UserId,
        up_to: &MessageId,
    ) -> Result<Cursors, Error> {
        for _ in 0..ATTEMPTS {
            let row = self.own_row(caller, peer).await?;
            let last = row.last_message.id;
            let up = (*up_to).min(last);
            if row.cursors.read_up_to.is_some_and(|r| r >= up) {
                return Ok(row.cursors);
            }
            let unread = if up == last {
                0
            } else {
                self.messages
                    .count_from_after(&row.conversation_id, peer, &up)
                    .await?
            };
            match self
                .messages
                .mark_read(caller, &row.conversation_id, &up, &last, unread)
                .await
            {
                Ok(()) => {
                    self.tell(
                        peer,
                        ServerFrame::Read(ReceiptEvent {
                            g: None,
                            p: *caller,
                            up_to: up,
                        }),
                    )
                    .await;
                    return Ok(Cursors {
                        read_up_to: Some(up),
                        ..row.cursors
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the conversation changed concurrently; try again",
        ))
    }

    /// Delivery receipt: everything up to `up_to` reached the caller's device. One write.
    pub async fn mark_delivered(
        &self,
        caller: &UserId,
        peer: &UserId,
        up_to: &MessageId,
    ) -> Result<Cursors, Error> {
        let row = self.own_row(caller, peer).await?;
        let up = (*up_to).min(row.last_message.id);
        if row.cursors.delivered_up_to.is_some_and(|d| d >= up) {
            return Ok(row.cursors);
        }
        match self
            .messages
            .mark_delivered(caller, &row.conversation_id, &up)
            .await
        {
            Ok(()) => {
                self.tell(
                    peer,
                    ServerFrame::Dlv(ReceiptEvent {
                        g: None,
                        p: *caller,
                        up_to: up,
                    }),
                )
                .await;
                Ok(Cursors {
                    delivered_up_to: Some(up),
                    ..row.cursors
                })
            }
            // A concurrent receipt moved the cursor at least as far.
            Err(StoreError::Conflict { .. }) => Ok(self.own_row(caller, peer).await?.cursors),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a webhook's `X-Whatspe-Signature` ([`super::webhook::verify`]; the legacy
    /// timestamp header matters only behind the migration switch).
    pub fn verify_webhook(
        &self,
        body: &[u8],
        signature: Option<&str>,
        timestamp: Option<&str>,
    ) -> Result<(), Error> {
        let (key, legacy) = (&self.webhook_key, self.legacy_webhooks);
        super::webhook::verify(key, legacy, self.clock.now(), body, signature, timestamp)
    }

    /// Stores and delivers a message from an integration (already authenticated by
    /// [`Self::verify_webhook`]): no contact check, no rate limit, idempotent on `external_id`.
    pub async fn deliver_external(
        &self,
        external_id: &str,
        sender: &UserId,
        m: NewMessage,
    ) -> Result<SendOutcome, Error> {
        if m.receiver == *sender {
            return Err(Error::validation(
                "cannot_message_self",
                "senderId and receiverId are the same user",
            ));
        }
        let found = self.users.get_many(&[*sender, m.receiver]).await?;
        for (id, field) in [(sender, "senderId"), (&m.receiver, "receiverId")] {
            let system_sender = field == "senderId" && id.is_system();
            if !system_sender && !found.iter().any(|u| u.id == *id) {
                return Err(Error::not_found(
                    "user_not_found",
                    format!("{field} is not a user"),
                ));
            }
        }
        let mut guard = DedupGuard {
            scope: "webhook".into(),
            key: external_id.to_owned(),
            message_id: MessageId::new_v7(),
            conversation_id: ConversationId::direct(sender, &m.receiver),
            fingerprint: fingerprint(sender, &m),
        };
        let mut retry = self.contention.start();
        loop {
            let mut message = self.message(sender, &m, Some(&guard), self.clock.now());
            message.client_message_id = Some(external_id.to_owned());
            guard.message_id = message.id;
            match self.messages.send_system(&message, Some(&guard)).await {
                Ok(()) => {
                    contention_overcome(&retry);
                    return Ok(SendOutcome::Created(self.committed(message)));
                }
                Err(StoreError::Conflict { what: "duplicate" }) => {
                    return self
                        .replay(Some((&guard.scope, &guard.key, &guard.fingerprint)))
                        .await;
                }
                Err(StoreError::Conflict { .. } | StoreError::Contended(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if !retry.pause().await {
                return Err(contention_exhausted(&retry, "retry"));
            }
        }
    }

    async fn tell(&self, to: &UserId, frame: ServerFrame) {
        let job = DeliveryJob {
            to: vec![*to],
            push: vec![],
            frame,
            note: None,
            fanout: None,
        };
        if let Err(e) = self.queue.enqueue(&job).await {
            tracing::warn!(error = %e, "receipt enqueue failed; the cursor itself is saved");
            crate::metrics::count("DeliveryEnqueueFailed");
        }
    }
}

/// One try of a send, for [`MessageService::settle`].
pub(super) struct Try<'a> {
    pub sender: &'a UserId,
    pub message: Message,
    pub guard: Option<&'a DedupGuard>,
    pub retry: &'a mut Retry,
    pub burst: &'a mut bool,
}

/// A send that committed after losing races: logged with what it took.
fn contention_overcome(retry: &Retry) {
    if retry.tries() > 1 {
        tracing::info!(
            tries = retry.tries(),
            elapsed_ms = retry.elapsed().as_millis() as u64,
            "send committed after conversation contention"
        );
    }
}

/// Every try lost to a concurrent write: 409, which the client may retry.
fn contention_exhausted(retry: &Retry, what_to_do: &str) -> Error {
    tracing::warn!(
        tries = retry.tries(),
        elapsed_ms = retry.elapsed().as_millis() as u64,
        "send gave up under conversation contention"
    );
    crate::metrics::count("SendContentionExhausted");
    Error::conflict(
        "concurrent_update",
        format!("the conversation changed concurrently; {what_to_do}"),
    )
}

#[path = "group_chat.rs"]
mod group_chat;
#[path = "message_actions.rs"]
mod message_actions;
pub use group_chat::Chat;

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
