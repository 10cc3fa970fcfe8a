//! Message actions (DESIGN §10), for 1:1 and group chats alike: replies' quotes, reactions,
//! edits, deletes for everyone and forwards.
//!
//! Each action is one conditional write to the message item ([`MessageStore::change`]) that
//! also records the action on it. The `messages` table's stream hands the changed item to the
//! relay ([`MessageService::relay`]), which brings the chat list's last message in line and
//! queues the action's frame (`RCT`, `EDIT`, `DEL`) for every member's devices: a process that
//! dies after the write loses no frame, and a write that did not happen sends none.

use super::group_chat::{Chat, group_status};
use super::*;
use crate::domain::{
    Act, ActKind, DELETE_WINDOW, EDIT_WINDOW, Emoji, FORWARD_MAX, GroupMeta, Member, MessageStatus,
    Quote, Reaction,
};
use crate::ports::{GroupChange, MessageChange};

fn message_not_found() -> Error {
    Error::not_found("message_not_found", "no message with that id in this chat")
}

fn message_deleted() -> Error {
    Error::conflict("message_deleted", "the message was deleted for everyone")
}

/// A message as the caller may act on it: the message, and (in a group) the group and the
/// caller's row.
struct Target {
    message: Message,
    group: Option<(GroupMeta, Member)>,
    /// In a 1:1 chat, the other member.
    peer: Option<UserId>,
}

impl MessageService {
    /// The quote of `reply_to`, a message of `chat` the sender can see (in a group: from
    /// `from`, their joining, on): 404 `reply_not_found` for any other id, 409 for a deleted
    /// message, 400 for a group's system message.
    pub(super) async fn quote(
        &self,
        chat: &ConversationId,
        from: Option<MessageId>,
        reply_to: Option<MessageId>,
    ) -> Result<Option<Quote>, Error> {
        let Some(id) = reply_to else {
            return Ok(None);
        };
        let m = self
            .messages
            .get(chat, &id)
            .await?
            .filter(|m| from.is_none_or(|f| m.id >= f))
            .ok_or_else(|| {
                Error::not_found(
                    "reply_not_found",
                    "replyTo is no message of this chat that you can see",
                )
            })?;
        if m.is_deleted() {
            return Err(message_deleted());
        }
        if m.event().is_some() {
            return Err(Error::validation(
                "invalid_reply",
                "a group's notices cannot be replied to",
            ));
        }
        Ok(Some(Quote::of(&m)))
    }

    /// The message `id` of `chat` if the caller is in the chat and can see it (in a group:
    /// sent after they joined); 404 otherwise, whether or not it exists.
    async fn target(
        &self,
        caller: &UserId,
        chat: &ConversationId,
        id: &MessageId,
    ) -> Result<Target, Error> {
        let (group, peer) = match self.resolve_chat(caller, chat).await? {
            Chat::Group(g) => (Some(self.membership(caller, &g).await?), None),
            Chat::Direct(p) => (None, Some(p)),
        };
        let message = self
            .messages
            .get(chat, id)
            .await?
            .filter(|m| group.as_ref().is_none_or(|(_, me)| m.id >= me.from))
            .ok_or_else(message_not_found)?;
        Ok(Target {
            message,
            group,
            peer,
        })
    }

    /// A reaction or an edit reaches the other member like a message: refused (as a message
    /// is, 403 `not_a_contact`) when that member blocked the caller. A delete for everyone is
    /// not: it only takes back what the blocker already has.
    async fn may_reach(&self, caller: &UserId, t: &Target) -> Result<(), Error> {
        match (&self.blocks, &t.peer) {
            (Some(blocks), Some(peer)) => blocks.may_message(caller, peer).await,
            _ => Ok(()),
        }
    }

    /// The status of `m` for the caller (as history shows it).
    async fn status_for_caller(
        &self,
        caller: &UserId,
        m: &Message,
        group: Option<&(GroupMeta, Member)>,
    ) -> Result<MessageStatus, Error> {
        Ok(match group {
            Some(_) if m.sender_id == *caller => {
                group_status(m, &self.groups.members(&m.conversation_id).await?)
            }
            Some((_, me)) => m.status_for(&me.cursors),
            None => {
                let cursors = self
                    .messages
                    .conversation(&m.receiver_id, &m.conversation_id)
                    .await?
                    .map(|c| c.cursors)
                    .unwrap_or_default();
                m.status_for(&cursors)
            }
        })
    }

    /// Writes `change` to the target; a failed condition is told apart by reading the message
    /// again: deleted (409), or already as asked (the current message: idempotent).
    async fn apply_change(
        &self,
        caller: &UserId,
        t: Target,
        change: MessageChange,
        act: Act,
    ) -> Result<MessageView, Error> {
        let (chat, id) = (t.message.conversation_id, t.message.id);
        let after = match self.messages.change(&chat, &id, &change, &act).await {
            Ok(m) => m,
            Err(StoreError::Conflict { .. }) => {
                let now = self
                    .messages
                    .get(&chat, &id)
                    .await?
                    .ok_or_else(message_not_found)?;
                if now.is_deleted() {
                    return Err(message_deleted());
                }
                let mut probe = now.clone();
                if change.apply(&mut probe, &act) {
                    // Changed meanwhile, and the change applies to the new state: a race
                    // with another action; the client may retry.
                    return Err(Error::conflict(
                        "concurrent_update",
                        "the message changed meanwhile; retry",
                    ));
                }
                now
            }
            Err(e) => return Err(e.into()),
        };
        let status = self
            .status_for_caller(caller, &after, t.group.as_ref())
            .await?;
        Ok(MessageView::new(&after, status))
    }

    fn act(&self, kind: ActKind, by: &UserId, emoji: Option<Emoji>) -> Act {
        Act {
            kind,
            by: *by,
            at: self.clock.now(),
            emoji,
        }
    }

    /// Sets (`Some`) or removes (`None`) the caller's reaction to a message they can see: one
    /// per member, replaceable; the same reaction again, or removing none, changes nothing.
    pub async fn react(
        &self,
        caller: &UserId,
        chat: &ConversationId,
        id: &MessageId,
        emoji: Option<Emoji>,
    ) -> Result<MessageView, Error> {
        let t = self.target(caller, chat, id).await?;
        if t.message.event().is_some() {
            return Err(Error::validation(
                "invalid_reaction",
                "a group's notices take no reactions",
            ));
        }
        if t.message.is_deleted() {
            return Err(message_deleted());
        }
        self.may_reach(caller, &t).await?;
        let (change, act) = match emoji {
            Some(e) => {
                let act = self.act(ActKind::React, caller, Some(e.clone()));
                let reaction = Reaction {
                    emoji: e,
                    at: act.at,
                };
                (
                    MessageChange::React {
                        user: *caller,
                        reaction,
                    },
                    act,
                )
            }
            None => (
                MessageChange::Unreact { user: *caller },
                self.act(ActKind::Unreact, caller, None),
            ),
        };
        self.apply_change(caller, t, change, act).await
    }

    /// Checks that the caller sent `m` and that `window` since it was sent has not passed.
    fn own_within(
        &self,
        caller: &UserId,
        m: &Message,
        window: chrono::Duration,
        what: &str,
    ) -> Result<(), Error> {
        if m.sender_id != *caller {
            return Err(Error::forbidden(
                "not_the_sender",
                format!("only the sender of a message can {what} it"),
            ));
        }
        if m.is_deleted() {
            return Err(message_deleted());
        }
        if self.clock.now() - m.created_at > window {
            return Err(Error::forbidden(
                "too_late",
                format!(
                    "a message can be {what}ed for {} minutes after it was sent",
                    window.num_minutes()
                ),
            ));
        }
        Ok(())
    }

    /// Replaces the text of the caller's own text message, within [`EDIT_WINDOW`] of sending
    /// it. The same text again changes nothing.
    pub async fn edit(
        &self,
        caller: &UserId,
        chat: &ConversationId,
        id: &MessageId,
        content: Content,
    ) -> Result<MessageView, Error> {
        let t = self.target(caller, chat, id).await?;
        self.own_within(caller, &t.message, EDIT_WINDOW, "edit")?;
        if t.message.kind != MessageKind::Text {
            return Err(Error::validation(
                "not_text",
                "only text messages can be edited",
            ));
        }
        self.may_reach(caller, &t).await?;
        let act = self.act(ActKind::Edit, caller, None);
        let change = MessageChange::Edit {
            content,
            at: act.at,
        };
        self.apply_change(caller, t, change, act).await
    }

    /// Deletes the caller's own message for everyone, within [`DELETE_WINDOW`] of sending it:
    /// its content, media reference, quote and reactions are wiped; a tombstone stays. A
    /// second delete is 409 `message_deleted`.
    pub async fn delete_for_everyone(
        &self,
        caller: &UserId,
        chat: &ConversationId,
        id: &MessageId,
    ) -> Result<MessageView, Error> {
        let t = self.target(caller, chat, id).await?;
        self.own_within(caller, &t.message, DELETE_WINDOW, "delet")?;
        let act = self.act(ActKind::Delete, caller, None);
        let change = MessageChange::Delete { at: act.at };
        // A lost race finds the message deleted: 409, as for a second delete.
        self.apply_change(caller, t, change, act).await
    }

    /// Forwards a message the caller can see to up to [`FORWARD_MAX`] chats they are in: a
    /// new message in each, `forwarded: true`, media by reference (no new upload). Forwarding
    /// the same message to the same chat again answers the earlier forward (idempotent).
    pub async fn forward(
        &self,
        caller: &UserId,
        chat: &ConversationId,
        id: &MessageId,
        targets: &[ConversationId],
    ) -> Result<Vec<SendOutcome>, Error> {
        let mut unique = targets.to_vec();
        unique.sort();
        unique.dedup();
        if unique.is_empty() || unique.len() != targets.len() || targets.len() > FORWARD_MAX {
            return Err(Error::validation(
                "invalid_chat_ids",
                format!("chatIds must be 1 to {FORWARD_MAX} different chats"),
            ));
        }
        let t = self.target(caller, chat, id).await?;
        let m = &t.message;
        if m.is_deleted() {
            return Err(message_deleted());
        }
        if m.event().is_some() {
            return Err(Error::validation(
                "invalid_forward",
                "a group's notices cannot be forwarded",
            ));
        }
        // Every target first, so a bad one sends nothing.
        let mut resolved = Vec::with_capacity(targets.len());
        for target in targets {
            let to = self.resolve_chat(caller, target).await?;
            if let (Chat::Direct(peer), Some(blocks)) = (&to, &self.blocks) {
                blocks.may_message(caller, peer).await?;
            }
            resolved.push((*target, to));
        }
        let mut out = Vec::with_capacity(resolved.len());
        for (target, to) in resolved {
            // The idempotency key names neither the message nor its chat (a group's id must
            // not reach the forward's receivers).
            let key = crypto::sha256(format!("{}:{target}", m.id).as_bytes());
            let new = NewMessage {
                client_message_id: Some(format!("fw:{}", hex::encode(&key[..16]))),
                media: m.media.clone(),
                forwarded: true,
                ..NewMessage::new(m.receiver_id, m.kind, m.content.clone())
            };
            out.push(match to {
                Chat::Direct(peer) => {
                    self.send(
                        caller,
                        NewMessage {
                            receiver: peer,
                            ..new
                        },
                    )
                    .await?
                }
                Chat::Group(g) => self.send_to_group(caller, &g, new).await?,
            });
        }
        Ok(out)
    }

    /// The relay's part of an action (the changed message from the stream): the chat list's
    /// last message follows any action on it, then the action's frame is queued for
    /// every member's devices (a group's members who could see the message, in the fan-out's
    /// buckets). Never pushed. A failure is returned: the stream retries the record, and the
    /// job's id (the frame's hash) keeps a retried relay from queuing it twice.
    pub(super) async fn relay_action(&self, m: &Message) -> Result<(), Error> {
        if m.extras.act.is_none() {
            return Ok(());
        }
        let Some(frame) = ServerFrame::of_action(m) else {
            return Ok(());
        };
        // Every action changes what the chat list shows of its last message: the text (edit),
        // the tombstone (delete), the reactions (react, unreact).
        if m.is_group() {
            self.refresh_group_last(m).await?;
            return self.fan_out_frame(m, frame).await;
        }
        for member in [m.sender_id, m.receiver_id] {
            if !member.is_system() {
                self.messages.refresh_last(&member, m).await?;
            }
        }
        let mut to = vec![m.sender_id, m.receiver_id];
        to.retain(|u| !u.is_system());
        let job = DeliveryJob {
            to,
            push: vec![],
            frame,
            note: None,
            fanout: None,
        };
        self.queue.enqueue(&job).await.map_err(Error::Unavailable)
    }

    /// A group's chat-list entry follows an action on its last message (a META
    /// commit like any group change, retried while concurrent changes win).
    async fn refresh_group_last(&self, m: &Message) -> Result<(), Error> {
        let mut retry = self.contention.start();
        loop {
            let Some(meta) = self.groups.meta(&m.conversation_id).await? else {
                return Ok(());
            };
            if meta.last_message.id != m.id {
                return Ok(());
            }
            let change = GroupChange {
                meta: GroupMeta {
                    last_message: m.preview(),
                    version: meta.version + 1,
                    ..meta.clone()
                },
                expect_version: Some(meta.version),
                members: vec![],
                invite_add: None,
                invite_remove: None,
                message: None,
                guard: None,
                rate: None,
            };
            match self.groups.commit(&change).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. } | StoreError::Contended(_)) => {
                    if !retry.pause().await {
                        return Err(contention_exhausted(&retry, "the stream retries"));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
