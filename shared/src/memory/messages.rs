use super::{MemoryContacts, MessageStream, lock};
use crate::StoreError;
use crate::domain::{Act, Conversation, ConversationId, Cursors, Message, MessageId, UserId};
use crate::ports::{DedupGuard, HistoryRange, MessageChange, MessageStore, RateGate};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    messages: BTreeMap<(ConversationId, MessageId), Message>,
    guards: HashMap<(String, String), DedupGuard>,
    conversations: BTreeMap<(UserId, ConversationId), Conversation>,
    rates: HashMap<UserId, i64>,
}

/// [`MessageStore`] in memory. Checks contacts against the given [`MemoryContacts`], as the
/// DynamoDB transaction checks the contacts table, and appends every committed message to its
/// [`MessageStream`], as DynamoDB appends it to the table's stream.
pub struct MemoryMessages {
    state: Mutex<State>,
    contacts: Arc<MemoryContacts>,
    stream: Arc<MessageStream>,
}

impl MemoryMessages {
    pub fn new(contacts: Arc<MemoryContacts>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            contacts,
            stream: Arc::default(),
        }
    }

    /// The committed messages, in commit order (the stream the relay reads).
    pub fn stream(&self) -> Arc<MessageStream> {
        self.stream.clone()
    }
}

/// The sender's new rate state after `rate` (`None`: no gate), or `Conflict("rate")`.
fn rate_step(
    rates: &HashMap<UserId, i64>,
    sender: &UserId,
    rate: Option<&RateGate>,
) -> Result<Option<i64>, StoreError> {
    Ok(match rate {
        None => None,
        Some(RateGate::Full { now_us, new_tat_us }) => match rates.get(sender) {
            Some(tat) if tat > now_us => return Err(StoreError::conflict("rate")),
            _ => Some(*new_tat_us),
        },
        Some(RateGate::Burst {
            now_us,
            interval_us,
            max_tat_us,
        }) => match rates.get(sender) {
            Some(tat) if tat > now_us && tat <= max_tat_us => Some(tat + interval_us),
            _ => return Err(StoreError::conflict("rate")),
        },
    })
}

impl MemoryMessages {
    /// A group write ([`super::MemoryGroups`]): `apply` checks and changes the group's rows
    /// while this store is locked, and `message` (with its guard and the sender's rate gate)
    /// is stored only if every check passes — one atomic step, as in the DynamoDB transaction.
    pub(crate) fn write_with<R>(
        &self,
        message: Option<&Message>,
        guard: Option<&DedupGuard>,
        rate: Option<&RateGate>,
        apply: impl FnOnce() -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut s = lock(&self.state);
        let mut tat = None;
        if let Some(m) = message {
            if s.messages.contains_key(&(m.conversation_id, m.id)) {
                return Err(StoreError::conflict("exists"));
            }
            if let Some(g) = guard
                && s.guards.contains_key(&(g.scope.clone(), g.key.clone()))
            {
                return Err(StoreError::conflict("duplicate"));
            }
            tat = rate_step(&s.rates, &m.sender_id, rate)?;
        }
        let out = apply()?;
        if let Some(m) = message {
            if let Some(tat) = tat {
                s.rates.insert(m.sender_id, tat);
            }
            s.messages.insert((m.conversation_id, m.id), m.clone());
            self.stream.push(m);
            if let Some(g) = guard {
                s.guards.insert((g.scope.clone(), g.key.clone()), g.clone());
            }
        }
        Ok(out)
    }

    /// The send transaction of both [`MessageStore`] send operations; `require_contacts` adds
    /// the contacts check.
    fn write_send(
        &self,
        message: &Message,
        guard: Option<&DedupGuard>,
        require_contacts: bool,
        rate: Option<&RateGate>,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let (sender, receiver, cid) = (
            message.sender_id,
            message.receiver_id,
            message.conversation_id,
        );
        // Conditions in the DynamoDB transaction's item order.
        if s.messages.contains_key(&(cid, message.id)) {
            return Err(StoreError::conflict("exists"));
        }
        if let Some(g) = guard
            && s.guards.contains_key(&(g.scope.clone(), g.key.clone()))
        {
            return Err(StoreError::conflict("duplicate"));
        }
        for member in [sender, receiver] {
            if let Some(row) = s.conversations.get(&(member, cid))
                && row.last_message.id >= message.id
            {
                return Err(StoreError::conflict("order"));
            }
        }
        if require_contacts && !self.contacts.are_contacts(&sender, &receiver) {
            return Err(StoreError::conflict("not_contacts"));
        }
        if let Some(tat) = rate_step(&s.rates, &sender, rate)? {
            s.rates.insert(sender, tat);
        }
        s.messages.insert((cid, message.id), message.clone());
        self.stream.push(message);
        if let Some(g) = guard {
            s.guards.insert((g.scope.clone(), g.key.clone()), g.clone());
        }
        for (member, peer) in [(sender, receiver), (receiver, sender)] {
            let row = s
                .conversations
                .entry((member, cid))
                .or_insert_with(|| Conversation {
                    conversation_id: cid,
                    member_id: member,
                    peer_id: peer,
                    last_message: message.preview(),
                    unread_count: 0,
                    cursors: Cursors::default(),
                    updated_at: message.created_at,
                });
            row.last_message = message.preview();
            row.updated_at = message.created_at;
            if member == receiver {
                row.unread_count += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl MessageStore for MemoryMessages {
    async fn send_to_contact(
        &self,
        message: &Message,
        guard: Option<&DedupGuard>,
        rate: Option<&RateGate>,
    ) -> Result<(), StoreError> {
        self.write_send(message, guard, true, rate)
    }

    async fn send_system(
        &self,
        message: &Message,
        guard: Option<&DedupGuard>,
    ) -> Result<(), StoreError> {
        self.write_send(message, guard, false, None)
    }

    async fn guard(&self, scope: &str, key: &str) -> Result<Option<DedupGuard>, StoreError> {
        Ok(lock(&self.state)
            .guards
            .get(&(scope.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn get(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        Ok(lock(&self.state)
            .messages
            .get(&(*conversation, *id))
            .cloned())
    }

    async fn rate_state(&self, sender: &UserId) -> Result<Option<i64>, StoreError> {
        Ok(lock(&self.state).rates.get(sender).copied())
    }

    async fn history(
        &self,
        conversation: &ConversationId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let s = lock(&self.state);
        let lo = MessageId::from_uuid(uuid::Uuid::nil());
        let hi = MessageId::from_uuid(uuid::Uuid::max());
        let all = s
            .messages
            .range((*conversation, lo)..=(*conversation, hi))
            .map(|(_, m)| m);
        Ok(match range {
            HistoryRange::Latest => all.rev().take(limit).cloned().collect(),
            HistoryRange::Before(b) => all
                .rev()
                .filter(|m| m.id < b)
                .take(limit)
                .cloned()
                .collect(),
            HistoryRange::After(a) => all.filter(|m| m.id > a).take(limit).cloned().collect(),
        })
    }

    async fn conversation(
        &self,
        member: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Conversation>, StoreError> {
        Ok(lock(&self.state)
            .conversations
            .get(&(*member, *conversation))
            .cloned())
    }

    async fn conversations_of(
        &self,
        keys: &[(UserId, ConversationId)],
    ) -> Result<Vec<Conversation>, StoreError> {
        let s = lock(&self.state);
        let unique: std::collections::BTreeSet<&(UserId, ConversationId)> = keys.iter().collect();
        Ok(unique
            .into_iter()
            .filter_map(|k| s.conversations.get(k))
            .cloned()
            .collect())
    }

    async fn chats_before(
        &self,
        member: &UserId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let s = lock(&self.state);
        let mut rows: Vec<&Conversation> = s
            .conversations
            .values()
            .filter(|c| c.member_id == *member)
            .filter(|c| before.is_none_or(|b| c.last_message.id < b))
            .collect();
        rows.sort_by_key(|c| std::cmp::Reverse(c.last_message.id));
        Ok(rows.into_iter().take(limit).cloned().collect())
    }

    async fn mark_read(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
        last: &MessageId,
        unread: u32,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        match s.conversations.get_mut(&(*member, *conversation)) {
            Some(row)
                if row.last_message.id == *last
                    && row.cursors.read_up_to.is_none_or(|r| r < *up_to) =>
            {
                row.cursors.read_up_to = Some(*up_to);
                row.unread_count = unread;
                Ok(())
            }
            _ => Err(StoreError::conflict("condition")),
        }
    }

    async fn mark_delivered(
        &self,
        member: &UserId,
        conversation: &ConversationId,
        up_to: &MessageId,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        match s.conversations.get_mut(&(*member, *conversation)) {
            Some(row) if row.cursors.delivered_up_to.is_none_or(|d| d < *up_to) => {
                row.cursors.delivered_up_to = Some(*up_to);
                Ok(())
            }
            _ => Err(StoreError::conflict("condition")),
        }
    }

    async fn change(
        &self,
        conversation: &ConversationId,
        id: &MessageId,
        change: &MessageChange,
        act: &Act,
    ) -> Result<Message, StoreError> {
        let mut s = lock(&self.state);
        let m = s
            .messages
            .get_mut(&(*conversation, *id))
            .ok_or(StoreError::conflict("condition"))?;
        if !change.apply(m, act) {
            return Err(StoreError::conflict("condition"));
        }
        self.stream.push(m);
        Ok(m.clone())
    }

    async fn refresh_last(&self, member: &UserId, message: &Message) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        match s.conversations.get_mut(&(*member, message.conversation_id)) {
            Some(row) if row.last_message.id == message.id => {
                row.last_message = message.preview();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn count_from_after(
        &self,
        conversation: &ConversationId,
        sender: &UserId,
        after: &MessageId,
    ) -> Result<u32, StoreError> {
        let s = lock(&self.state);
        let n = s
            .messages
            .range((*conversation, *after)..)
            .take_while(|((c, _), _)| c == conversation)
            .filter(|((_, id), m)| id > after && m.sender_id == *sender)
            .count();
        Ok(n as u32)
    }
}
