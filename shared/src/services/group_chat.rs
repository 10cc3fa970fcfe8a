//! Group messaging (DESIGN §8), on the same message model as 1:1 chats: send, history from the
//! member's joining on, receipt cursors, receipts, the fan-out of the relay, and chats
//! addressed by `chatId` whatever their kind.

use super::*;
use crate::domain::{GroupMeta, GroupPart, GroupSummary, Mark, Member, MessageStatus, ReceiptView};
use crate::frames::GroupFrame;
use crate::ports::{CursorKind, FANOUT_CHUNK, Fanout, GroupChange, MemberChange, encode_cursor};
use crate::services::groups::preview;
use std::collections::BTreeMap;

/// A chat a request names by `chatId`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chat {
    /// A 1:1 chat, with the other member.
    Direct(UserId),
    /// A group the caller is in.
    Group(ConversationId),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ChatsCursor {
    l: MessageId,
}

fn chat_not_found() -> Error {
    Error::not_found("chat_not_found", "you have no chat with that id")
}

/// The status of `m`, sent by someone in the group, for its sender: `delivered` once every
/// member who was in the group when it was sent has it, `read` once they all read it.
pub(super) fn group_status(m: &Message, members: &[Member]) -> MessageStatus {
    let others: Vec<&Member> = members
        .iter()
        .filter(|x| x.user_id != m.sender_id && x.from <= m.id)
        .collect();
    if others.is_empty() {
        return MessageStatus::Sent;
    }
    others
        .iter()
        .map(|x| m.status_for(&x.cursors))
        .min()
        .unwrap_or(MessageStatus::Sent)
}

impl MessageService {
    /// Which chat `chat` is for `caller`: a group (by its id's kind, UUIDv7: the operation on
    /// it checks membership) or one of their 1:1 chats (one read); 404 otherwise, whether or
    /// not it exists.
    pub async fn resolve_chat(
        &self,
        caller: &UserId,
        chat: &ConversationId,
    ) -> Result<Chat, Error> {
        if chat.is_group() {
            return Ok(Chat::Group(*chat));
        }
        match self.messages.conversation(caller, chat).await? {
            Some(row) => Ok(Chat::Direct(row.peer_id)),
            None => Err(chat_not_found()),
        }
    }

    /// The group and the caller's row in it; 404 when they are not a member.
    pub(super) async fn membership(
        &self,
        caller: &UserId,
        group: &ConversationId,
    ) -> Result<(GroupMeta, Member), Error> {
        match self.groups.meta_and_member(group, caller).await? {
            (Some(meta), Some(member)) => Ok((meta, member)),
            _ => Err(chat_not_found()),
        }
    }

    /// Sends to a group the sender is in (and may send to: `send` = `admins` restricts it).
    /// One read (the group and the sender's row) and one transaction — the message, its dedup
    /// guard, the group's last message, the sender's cursors and rate gate — whatever the
    /// group's size; the fan-out is the relay's and the delivery workers'.
    pub async fn send_to_group(
        &self,
        sender: &UserId,
        group: &ConversationId,
        m: NewMessage,
    ) -> Result<SendOutcome, Error> {
        let m = NewMessage {
            receiver: UserId::from_uuid(*group.as_uuid()),
            ..m
        };
        let quote = match m.reply_to {
            Some(_) => {
                let (_, me) = self.membership(sender, group).await?;
                self.quote(group, Some(me.from), m.reply_to).await?
            }
            None => None,
        };
        if m.media.is_some() {
            // Only members may attach an upload to a group (it lets the members download it).
            self.membership(sender, group).await?;
            self.attach_media(&m, group).await?;
        }
        let guard = m.client_message_id.as_ref().map(|key| DedupGuard {
            scope: sender.to_string(),
            key: key.clone(),
            message_id: MessageId::new_v7(),
            conversation_id: *group,
            fingerprint: fingerprint(sender, &m),
        });
        let mut burst = false;
        let mut retry = self.contention.start();
        loop {
            let (meta, me) = self.membership(sender, group).await?;
            if !meta.settings.send.allows(me.role) {
                return Err(Error::forbidden(
                    "only_admins_send",
                    "only admins may send messages to this group",
                ));
            }
            let now = self.clock.now();
            let mut message = self.message(sender, &m, guard.as_ref(), now);
            message.conversation_id = *group;
            message.extras.reply_to = quote.clone();
            message.group = Some(GroupPart {
                seq: meta.seq + 1,
                event: None,
            });
            let mut attempt_guard = guard.clone();
            if let Some(g) = attempt_guard.as_mut() {
                g.message_id = message.id;
            }
            let mark = Mark {
                up_to: message.id,
                at: now,
            };
            let change = GroupChange {
                meta: GroupMeta {
                    last_message: preview(&message),
                    seq: meta.seq + 1,
                    updated_at: now,
                    version: meta.version + 1,
                    ..meta.clone()
                },
                expect_version: Some(meta.version),
                members: vec![MemberChange::Sent {
                    user: *sender,
                    role: me.role,
                    read_was: me.cursors.read_up_to,
                    mark,
                    seq: meta.seq + 1,
                    delivered_marks: Member::with_mark(&me.delivered_marks, mark),
                    read_marks: Member::with_mark(&me.read_marks, mark),
                }],
                invite_add: None,
                invite_remove: None,
                message: Some(message.clone()),
                guard: attempt_guard,
                rate: Some(self.gate(burst, now.timestamp_micros())),
            };
            let result = if message.id > meta.last_message.id {
                self.groups.commit(&change).await
            } else {
                Err(StoreError::conflict("order"))
            };
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

    /// A page of a group's history as `caller` sees it: only from their joining on. The
    /// caller's own messages carry the group status ([`group_status`]); others' the caller's
    /// own cursors. Like 1:1 history, the latest page marks the group read and a catch-up
    /// page marks what it returns delivered.
    pub async fn group_history(
        &self,
        caller: &UserId,
        group: &ConversationId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<HistoryPage, Error> {
        let (meta, me) = self.membership(caller, group).await?;
        let mut messages = self.messages.history(group, range, limit + 1).await?;
        messages.retain(|m| m.id >= me.from);
        let more = messages.len() > limit;
        messages.truncate(limit);
        let mut own = me.cursors;
        match range {
            HistoryRange::Latest if meta.seq > me.read_seq || own.read_up_to.is_none() => {
                let last = meta.last_message.id;
                if self
                    .advance(caller, &meta, &me, CursorKind::Read, last)
                    .await?
                {
                    own.read_up_to = Some(last);
                }
            }
            HistoryRange::After(_) => {
                if let Some(newest) = messages.iter().map(|m| m.id).max()
                    && self
                        .advance(caller, &meta, &me, CursorKind::Delivered, newest)
                        .await?
                {
                    own.delivered_up_to = Some(newest);
                }
            }
            _ => {}
        }
        let members = if messages.iter().any(|m| m.sender_id == *caller) {
            self.groups.members(group).await?
        } else {
            vec![]
        };
        let views = messages
            .iter()
            .map(|m| {
                let status = if m.sender_id == *caller {
                    group_status(m, &members)
                } else {
                    m.status_for(&own)
                };
                MessageView::new(m, status)
            })
            .collect();
        Ok(HistoryPage {
            messages: views,
            next: if more {
                messages.last().map(|m| m.id)
            } else {
                None
            },
        })
    }

    /// Moves the caller's `kind` cursor in a group up to `up_to` (at most the newest message):
    /// one write, and a receipt frame to the senders of what it covered. A cursor already
    /// there changes nothing.
    pub async fn group_mark(
        &self,
        caller: &UserId,
        group: &ConversationId,
        kind: CursorKind,
        up_to: &MessageId,
    ) -> Result<Cursors, Error> {
        for _ in 0..ATTEMPTS {
            let (meta, me) = self.membership(caller, group).await?;
            let up = (*up_to).min(meta.last_message.id);
            let mut cursors = me.cursors;
            let cursor = match kind {
                CursorKind::Delivered => &mut cursors.delivered_up_to,
                CursorKind::Read => &mut cursors.read_up_to,
            };
            if cursor.is_some_and(|c| c >= up) || up < me.from {
                return Ok(me.cursors);
            }
            if self.advance(caller, &meta, &me, kind, up).await? {
                *cursor = Some(up);
                return Ok(cursors);
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the chat changed concurrently; try again",
        ))
    }

    /// One cursor move (see [`Self::group_mark`]). `Ok(false)` when there was nothing to do or
    /// a concurrent move won.
    async fn advance(
        &self,
        caller: &UserId,
        meta: &GroupMeta,
        me: &Member,
        kind: CursorKind,
        up_to: MessageId,
    ) -> Result<bool, Error> {
        let up = up_to.min(meta.last_message.id);
        let was = match kind {
            CursorKind::Delivered => me.cursors.delivered_up_to,
            CursorKind::Read => me.cursors.read_up_to,
        };
        if was.is_some_and(|w| w >= up) || up < me.from {
            return Ok(false);
        }
        let seq = if up == meta.last_message.id {
            meta.seq
        } else {
            self.messages
                .get(&meta.id, &up)
                .await?
                .and_then(|m| m.group.map(|g| g.seq))
                .ok_or_else(|| {
                    Error::not_found("message_not_found", "no message with that id in this chat")
                })?
        };
        let mark = Mark {
            up_to: up,
            at: self.clock.now(),
        };
        let marks = match kind {
            CursorKind::Delivered => Member::with_mark(&me.delivered_marks, mark),
            CursorKind::Read => Member::with_mark(&me.read_marks, mark),
        };
        match self
            .groups
            .advance(&meta.id, caller, kind, was, mark, seq, &marks)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.tell_senders(caller, meta, kind, was.unwrap_or(me.from), up)
            .await;
        Ok(true)
    }

    /// Receipt frames (`READ`/`DLV {g, p: caller, upTo}`) to the senders of the messages in
    /// `(after, up_to]` — the first [`HISTORY_PAGE_MAX`] of them; older ones' senders see the
    /// status when they next fetch.
    async fn tell_senders(
        &self,
        caller: &UserId,
        meta: &GroupMeta,
        kind: CursorKind,
        after: MessageId,
        up_to: MessageId,
    ) {
        let covered = match self
            .messages
            .history(&meta.id, HistoryRange::After(after), HISTORY_PAGE_MAX)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading who to tell of a receipt failed; the cursor is saved");
                return;
            }
        };
        let senders: std::collections::BTreeSet<UserId> = covered
            .iter()
            .filter(|m| m.id <= up_to && m.sender_id != *caller && !m.sender_id.is_system())
            .map(|m| m.sender_id)
            .collect();
        let receipt = ReceiptEvent {
            g: Some(meta.id),
            p: *caller,
            up_to,
        };
        for sender in senders {
            let frame = match kind {
                CursorKind::Delivered => ServerFrame::Dlv(receipt.clone()),
                CursorKind::Read => ServerFrame::Read(receipt.clone()),
            };
            let job = DeliveryJob {
                to: vec![sender],
                push: vec![],
                frame,
                note: None,
                fanout: Some(Fanout::to_member(meta.id, &sender)),
            };
            if let Err(e) = self.queue.enqueue(&job).await {
                tracing::warn!(error = %e, "receipt enqueue failed; the cursor itself is saved");
                crate::metrics::count("DeliveryEnqueueFailed");
            }
        }
    }

    /// Each member's receipt of the caller's message `id` in a group: when it reached them and
    /// when they read it (members who joined after it are not listed).
    pub async fn receipts(
        &self,
        caller: &UserId,
        group: &ConversationId,
        id: &MessageId,
    ) -> Result<Vec<ReceiptView>, Error> {
        let (_, me) = self.membership(caller, group).await?;
        let message = self
            .messages
            .get(group, id)
            .await?
            .filter(|m| m.id >= me.from)
            .ok_or_else(|| {
                Error::not_found("message_not_found", "no message with that id in this chat")
            })?;
        if message.sender_id != *caller {
            return Err(Error::forbidden(
                "not_the_sender",
                "only the sender of a message sees its receipts",
            ));
        }
        Ok(self
            .groups
            .members(group)
            .await?
            .iter()
            .filter(|m| m.user_id != *caller && m.from <= *id)
            .map(|m| {
                let read_at = Member::reached(&m.read_marks, m.cursors.read_up_to, id);
                ReceiptView {
                    user_id: m.user_id,
                    delivered_at: Member::reached(
                        &m.delivered_marks,
                        m.cursors.delivered_up_to,
                        id,
                    )
                    .or(read_at),
                    read_at,
                }
            })
            .collect())
    }

    /// The caller's chats, 1:1 and groups together, most recent activity first. Cursor: the
    /// last entry's last message id (`X-Next-Cursor`).
    pub async fn all_chats(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ChatView>, Error> {
        let before = page
            .cursor
            .as_deref()
            .map(crate::ports::decode_cursor::<ChatsCursor>)
            .transpose()?
            .map(|c| c.l);
        let limit = page.limit;
        let direct = self.chats_before(caller, before, limit + 1).await?;
        let mut groups = self.group_chats(caller, before).await?;
        let mut all: Vec<ChatView> = direct;
        all.append(&mut groups);
        let key = |c: &ChatView| c.last_message.as_ref().map(|m| m.id);
        all.sort_by_key(|c| std::cmp::Reverse(key(c)));
        let next = if all.len() > limit {
            all.truncate(limit);
            all.last()
                .and_then(key)
                .map(|l| encode_cursor(&ChatsCursor { l }))
        } else {
            None
        };
        Ok(Page { items: all, next })
    }

    /// The caller's group chats whose last message is older than `before` (all of them: a
    /// chat list reads every group the caller is in).
    async fn group_chats(
        &self,
        caller: &UserId,
        before: Option<MessageId>,
    ) -> Result<Vec<ChatView>, Error> {
        let mut rows = Vec::new();
        let mut page = PageRequest::first(100);
        loop {
            let p = self.groups.groups_of(caller, &page).await?;
            rows.extend(p.items);
            match p.next {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        let mut metas = Vec::new();
        for chunk in rows.chunks(100) {
            let ids: Vec<ConversationId> = chunk.iter().map(|m| m.group_id).collect();
            metas.extend(self.groups.metas(&ids).await?);
        }
        let by_id: BTreeMap<ConversationId, &Member> =
            rows.iter().map(|m| (m.group_id, m)).collect();
        let mut out = Vec::new();
        for meta in metas
            .iter()
            .filter(|g| before.is_none_or(|b| g.last_message.id < b))
        {
            let Some(me) = by_id.get(&meta.id) else {
                continue;
            };
            let last = &meta.last_message;
            let status = if last.sender_id == *caller {
                group_status(last, &self.groups.members(&meta.id).await?)
            } else {
                last.status_for(&me.cursors)
            };
            out.push(ChatView {
                conversation_id: meta.id,
                kind: ChatKind::Group,
                peer: None,
                group: Some(GroupSummary::from(meta)),
                last_message: (last.id >= me.from).then(|| MessageView::new(last, status)),
                unread_count: meta
                    .seq
                    .saturating_sub(me.read_seq)
                    .min(u64::from(u32::MAX)) as u32,
                updated_at: meta.updated_at,
            });
        }
        Ok(out)
    }

    /// Queues a group message's fan-out (the relay): its frame to every member's devices
    /// — `MSG` to the members who may see it (pushed to those offline, never the sender),
    /// `GRP` for a system message (to the members and to whoever it removed) — as jobs of at
    /// most [`FANOUT_CHUNK`] members, one ordering group per member bucket. A member removed
    /// before a job runs is skipped by the job's membership check.
    pub(super) async fn fan_out(&self, message: &Message) -> Result<(), Error> {
        self.fan_out_with(message, None).await
    }

    /// Queues an action's frame (`RCT`, `EDIT`, `DEL`) about `message` to the members who may
    /// see the message, like its `MSG` but never pushed.
    pub(super) async fn fan_out_frame(
        &self,
        message: &Message,
        frame: ServerFrame,
    ) -> Result<(), Error> {
        self.fan_out_with(message, Some(frame)).await
    }

    async fn fan_out_with(
        &self,
        message: &Message,
        action: Option<ServerFrame>,
    ) -> Result<(), Error> {
        let group = message.conversation_id;
        // The group first: a removal after this read changes `removals`, so the jobs check.
        let epoch = match self.groups.meta(&group).await? {
            Some(meta) => meta.removals,
            None => return Ok(()),
        };
        let members = self.groups.members(&group).await?;
        let (frame, mut to, push, check, note) = match message.event() {
            Some(event) => {
                let frame = ServerFrame::Grp(GroupFrame {
                    g: group,
                    id: message.id,
                    event: event.clone(),
                    ts: message.created_at,
                });
                let mut to: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
                to.extend(event.users.iter().copied());
                (frame, to, vec![], None, None)
            }
            None => {
                let to: Vec<UserId> = members
                    .iter()
                    .filter(|m| m.from <= message.id)
                    .map(|m| m.user_id)
                    .collect();
                if let Some(frame) = action {
                    (frame, to, vec![], Some(message.id), None)
                } else {
                    let push = to
                        .iter()
                        .copied()
                        .filter(|u| *u != message.sender_id)
                        .collect();
                    let note = PushNote {
                        chat_id: group,
                        message_id: message.id,
                        sender_name: self.sender_name(&message.sender_id).await,
                    };
                    (
                        ServerFrame::Msg(MessageEvent::new(message)),
                        to,
                        push,
                        Some(message.id),
                        Some(note),
                    )
                }
            }
        };
        to.sort();
        to.dedup();
        let push: std::collections::HashSet<UserId> = push.into_iter().collect();
        let mut buckets: BTreeMap<u16, Vec<UserId>> = BTreeMap::new();
        for u in to {
            buckets.entry(Fanout::bucket_of(&u)).or_default().push(u);
        }
        let mut jobs = Vec::new();
        for (b, users) in buckets {
            for (part, chunk) in users.chunks(FANOUT_CHUNK).enumerate() {
                jobs.push(DeliveryJob {
                    to: chunk.to_vec(),
                    push: chunk.iter().copied().filter(|u| push.contains(u)).collect(),
                    frame: frame.clone(),
                    note: note.clone(),
                    fanout: Some(Fanout {
                        g: group,
                        b,
                        part: part as u16,
                        check,
                        epoch,
                    }),
                });
            }
        }
        self.queue.enqueue_many(&jobs).await.map_err(|e| {
            crate::metrics::count("DeliveryEnqueueFailed");
            Error::Unavailable(e)
        })
    }
}
