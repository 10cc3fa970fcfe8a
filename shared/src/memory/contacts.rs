use super::{lock, page_after};
use crate::StoreError;
use crate::domain::{Contact, ContactRequest, RequestId, RequestStatus, UserId};
use crate::error::BoxError;
use crate::frames::ServerFrame;
use crate::ports::{ContactRequestStore, ContactStore, Notifier, Page, PageRequest, decode_cursor};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct State {
    requests: BTreeMap<RequestId, ContactRequest>,
    /// (lower id, higher id) → the pending request between them.
    pending_pairs: HashMap<(UserId, UserId), RequestId>,
    /// (owner, contact) → row.
    contacts: BTreeMap<(UserId, UserId), Contact>,
}

fn pair(a: &UserId, b: &UserId) -> (UserId, UserId) {
    if a <= b { (*a, *b) } else { (*b, *a) }
}

#[derive(Serialize, Deserialize)]
struct RequestCursor {
    id: RequestId,
}

#[derive(Serialize, Deserialize)]
struct ContactCursor {
    c: UserId,
}

/// [`ContactRequestStore`] and [`ContactStore`] in memory: one lock over both, so accepting
/// a request is atomic like the DynamoDB transaction.
#[derive(Default)]
pub struct MemoryContacts(Mutex<State>);

impl MemoryContacts {
    /// Whether `a` has `b` as a contact (what the send transaction's condition checks).
    pub(crate) fn are_contacts(&self, a: &UserId, b: &UserId) -> bool {
        lock(&self.0).contacts.contains_key(&(*a, *b))
    }

    fn pending_where(
        &self,
        page: &PageRequest,
        keep: impl Fn(&ContactRequest) -> bool,
    ) -> Result<Page<ContactRequest>, StoreError> {
        let after = page
            .cursor
            .as_deref()
            .map(decode_cursor::<RequestCursor>)
            .transpose()?;
        let s = lock(&self.0);
        let items = s
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Pending && keep(r))
            .filter(|r| after.as_ref().is_none_or(|a| r.id > a.id))
            .map(|r| (r.id, r.clone()));
        Ok(page_after(items, page.limit, |id| RequestCursor {
            id: *id,
        }))
    }

    fn settle(
        &self,
        request: &ContactRequest,
        status: RequestStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        match s.requests.get(&request.id) {
            Some(r) if r.status == RequestStatus::Pending => {}
            _ => return Err(StoreError::conflict("state")),
        }
        let (a, b) = (request.sender_id, request.receiver_id);
        if status == RequestStatus::Accepted {
            if s.contacts.contains_key(&(a, b)) || s.contacts.contains_key(&(b, a)) {
                return Err(StoreError::conflict("contacts"));
            }
            for (owner, other) in [(a, b), (b, a)] {
                let row = Contact {
                    owner_id: owner,
                    contact_id: other,
                    request_id: request.id,
                    created_at: now,
                };
                s.contacts.insert((owner, other), row);
            }
        }
        s.pending_pairs.remove(&pair(&a, &b));
        if let Some(r) = s.requests.get_mut(&request.id) {
            r.status = status;
            r.updated_at = now;
        }
        Ok(())
    }
}

#[async_trait]
impl ContactRequestStore for MemoryContacts {
    async fn create(&self, request: &ContactRequest) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        let key = pair(&request.sender_id, &request.receiver_id);
        if s.requests.contains_key(&request.id) {
            return Err(StoreError::conflict("exists"));
        }
        if s.pending_pairs.contains_key(&key) {
            return Err(StoreError::conflict("pending"));
        }
        if s.contacts
            .contains_key(&(request.sender_id, request.receiver_id))
        {
            return Err(StoreError::conflict("contacts"));
        }
        s.pending_pairs.insert(key, request.id);
        s.requests.insert(request.id, request.clone());
        Ok(())
    }

    async fn get(&self, id: &RequestId) -> Result<Option<ContactRequest>, StoreError> {
        Ok(lock(&self.0).requests.get(id).cloned())
    }

    async fn pending_between(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<Option<ContactRequest>, StoreError> {
        let s = lock(&self.0);
        Ok(s.pending_pairs
            .get(&pair(a, b))
            .and_then(|id| s.requests.get(id))
            .cloned())
    }

    async fn accept(&self, request: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.settle(request, RequestStatus::Accepted, now)
    }

    async fn reject(&self, request: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.settle(request, RequestStatus::Rejected, now)
    }

    async fn pending_received(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError> {
        self.pending_where(page, |r| r.receiver_id == *user)
    }

    async fn pending_sent(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError> {
        self.pending_where(page, |r| r.sender_id == *user)
    }
}

#[async_trait]
impl ContactStore for MemoryContacts {
    async fn list(&self, owner: &UserId, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let after = page
            .cursor
            .as_deref()
            .map(decode_cursor::<ContactCursor>)
            .transpose()?;
        let s = lock(&self.0);
        let items = s
            .contacts
            .range((*owner, UserId::from_uuid(uuid::Uuid::nil()))..)
            .take_while(|((o, _), _)| o == owner)
            .filter(|((_, c), _)| after.as_ref().is_none_or(|a| *c > a.c))
            .map(|((_, c), row)| (*c, row.clone()));
        Ok(page_after(items, page.limit, |c| ContactCursor { c: *c }))
    }

    async fn get(&self, owner: &UserId, other: &UserId) -> Result<Option<Contact>, StoreError> {
        Ok(lock(&self.0).contacts.get(&(*owner, *other)).cloned())
    }

    async fn remove(&self, a: &UserId, b: &UserId) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        if !s.contacts.contains_key(&(*a, *b)) || !s.contacts.contains_key(&(*b, *a)) {
            return Err(StoreError::conflict("missing"));
        }
        s.contacts.remove(&(*a, *b));
        s.contacts.remove(&(*b, *a));
        Ok(())
    }
}

/// [`Notifier`] that records every event: the local gateway's and the tests' view of what
/// would be delivered in real time.
#[derive(Default)]
pub struct RecordingNotifier(Mutex<Vec<(UserId, ServerFrame)>>);

impl RecordingNotifier {
    /// Events for `user`, oldest first.
    pub fn events_for(&self, user: &UserId) -> Vec<ServerFrame> {
        lock(&self.0)
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, to: &UserId, frame: &ServerFrame) -> Result<(), BoxError> {
        lock(&self.0).push((*to, frame.clone()));
        Ok(())
    }
}
