//! Contacts and user discovery: search, requests, accept/reject, the contact list.

use super::limits::{RateLimits, Rule};
use crate::clock::Clock;
use crate::domain::{
    ContactRequest, ContactView, CountryCode, PhoneNumber, PublicProfile, RequestId, RequestStatus,
    User, UserId, Username,
};
use crate::frames::{ContactRequestEvent, ServerFrame};
use crate::ports::{
    ContactRequestStore, ContactStore, Notifier, Page, PageRequest, Presence, UserStore,
};
use crate::{Error, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// Most results one search page returns.
pub const SEARCH_PAGE_MAX: usize = 20;
/// Longest accepted search query (longer than any username or formatted phone number).
pub const SEARCH_QUERY_MAX: usize = 64;
const CAS_RETRIES: usize = 3;

/// Whom a contact request is for, as the client named them.
#[derive(Debug, Clone)]
pub enum Recipient {
    Id(UserId),
    Phone(String),
    Username(String),
}

/// What sending a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestOutcome {
    /// A new pending request.
    Created(ContactRequest),
    /// The other side had already asked: their request was accepted instead.
    AcceptedTheirs(ContactRequest),
}

/// A request with the profile of the other side (sender for received, receiver for sent).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestWithProfile {
    pub request: ContactRequest,
    pub other: PublicProfile,
}

pub struct ContactService {
    users: Arc<dyn UserStore>,
    requests: Arc<dyn ContactRequestStore>,
    contacts: Arc<dyn ContactStore>,
    presence: Arc<dyn Presence>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    default_cc: CountryCode,
    /// Directory look-ups per caller (search, request by phone number): per minute, per day.
    lookups: Option<(Arc<RateLimits>, [Rule; 2])>,
    /// A blocked user's requests and presence never reach the blocker.
    blocks: Option<Arc<super::BlockService>>,
}

fn user_not_found() -> Error {
    Error::not_found(
        "user_not_found",
        "no user with that id, phone number or username",
    )
}

fn request_not_found() -> Error {
    Error::not_found("request_not_found", "no such contact request")
}

fn not_pending(r: &ContactRequest) -> Error {
    let state = match r.status {
        RequestStatus::Accepted => "accepted",
        RequestStatus::Rejected => "rejected",
        RequestStatus::Pending => "changed",
    };
    Error::conflict(
        "request_not_pending",
        format!("the request was already {state}"),
    )
}

fn already_contacts() -> Error {
    Error::conflict("already_contacts", "you are contacts already")
}

impl ContactService {
    pub fn new(
        users: Arc<dyn UserStore>,
        requests: Arc<dyn ContactRequestStore>,
        contacts: Arc<dyn ContactStore>,
        presence: Arc<dyn Presence>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        default_cc: CountryCode,
    ) -> Self {
        Self {
            users,
            requests,
            contacts,
            presence,
            notifier,
            clock,
            default_cc,
            lookups: None,
            blocks: None,
        }
    }

    /// Hides blocked users' requests and presence from the blocker.
    pub fn with_blocks(mut self, blocks: Arc<super::BlockService>) -> Self {
        self.blocks = Some(blocks);
        self
    }

    /// Blocking (the contacts function serves its routes).
    pub fn blocking(&self) -> Result<&super::BlockService, Error> {
        self.blocks
            .as_deref()
            .ok_or_else(|| Error::internal("blocking is not wired"))
    }

    /// Those of `users` with a block between them and `caller`, either way (none without
    /// blocks): their presence is hidden from each other.
    async fn blocked_either_way(
        &self,
        caller: &UserId,
        users: &[UserId],
    ) -> Result<std::collections::HashSet<UserId>, Error> {
        match &self.blocks {
            Some(b) => b.blocked_either_way(caller, users).await,
            None => Ok(Default::default()),
        }
    }

    /// Those of `users` whom `caller` blocked (none without blocks).
    async fn blocked_among(
        &self,
        caller: &UserId,
        users: &[UserId],
    ) -> Result<std::collections::HashSet<UserId>, Error> {
        match &self.blocks {
            Some(b) => b.blocked_among(caller, users).await,
            None => Ok(Default::default()),
        }
    }

    /// Limits directory look-ups per caller: `per_minute` and `per_day` (429
    /// `lookup_rate_limited`). Without it look-ups are not limited (unit tests).
    pub fn with_lookup_limits(
        mut self,
        limits: Arc<RateLimits>,
        per_minute: u32,
        per_day: u32,
    ) -> Self {
        let rule = |name, max, window| Rule {
            name,
            max,
            window,
            code: "lookup_rate_limited",
        };
        self.lookups = Some((
            limits,
            [
                rule("lookup-minute", per_minute, chrono::TimeDelta::minutes(1)),
                rule("lookup-day", per_day, chrono::TimeDelta::days(1)),
            ],
        ));
        self
    }

    /// Counts one directory look-up of `caller` (a search, a contact request by phone number):
    /// what keeps a script from harvesting the directory (who has an account, their profile).
    async fn count_lookup(&self, caller: &UserId) -> Result<(), Error> {
        if let Some((limits, rules)) = &self.lookups {
            for rule in rules {
                limits.take(rule, &caller.to_string()).await?;
            }
        }
        Ok(())
    }

    /// Public profiles matching `query`: an exact phone number (when the query starts with `+`
    /// or a digit — usernames start with a letter), else a case-insensitive username prefix.
    /// The caller is never in the results.
    pub async fn search(
        &self,
        caller: &UserId,
        query: &str,
        page: &PageRequest,
    ) -> Result<Page<PublicProfile>, Error> {
        let q = query.trim();
        if q.is_empty() || q.len() > SEARCH_QUERY_MAX || q.chars().any(char::is_control) {
            return Err(Error::validation(
                "invalid_query",
                format!("query must be 1-{SEARCH_QUERY_MAX} characters"),
            ));
        }
        self.count_lookup(caller).await?;
        let not_caller = |u: &User| u.id != *caller;
        if q.starts_with(|c: char| c == '+' || c.is_ascii_digit()) {
            // A page cursor has no meaning for an exact match: a later page is empty.
            let found = match (PhoneNumber::parse(q, &self.default_cc), &page.cursor) {
                (Ok(phone), None) => self.users.find_by_phone(&phone).await?,
                _ => None,
            };
            let items = found
                .iter()
                .filter(|u| not_caller(u))
                .map(PublicProfile::from)
                .collect();
            return Ok(Page { items, next: None });
        }
        if !q
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        }
        let found = self
            .users
            .search_username_prefix(&q.to_ascii_lowercase(), page)
            .await?;
        Ok(Page {
            items: found
                .items
                .iter()
                .filter(|u| not_caller(u))
                .map(PublicProfile::from)
                .collect(),
            next: found.next,
        })
    }

    /// A user's public profile as `viewer` sees it (`lastSeen` per the user's privacy
    /// setting and whether `viewer` is a contact).
    pub async fn profile(&self, viewer: &UserId, id: &UserId) -> Result<PublicProfile, Error> {
        if id.is_system() {
            return Ok(PublicProfile::system());
        }
        let user = self.users.get(id).await?.ok_or_else(user_not_found)?;
        let contact = self.contacts.get(viewer, id).await?.is_some();
        let mut profile = PublicProfile::seen_by(&user.value, contact);
        if profile.last_seen.is_some() && !self.blocked_either_way(viewer, &[*id]).await?.is_empty()
        {
            profile.last_seen = None;
        }
        Ok(profile)
    }

    async fn resolve(&self, who: &Recipient) -> Result<User, Error> {
        let found = match who {
            Recipient::Id(id) => self.users.get(id).await?.map(|v| v.value),
            Recipient::Phone(raw) => {
                self.users
                    .find_by_phone(&PhoneNumber::parse(raw, &self.default_cc)?)
                    .await?
            }
            Recipient::Username(raw) => self.users.find_by_username(&Username::parse(raw)?).await?,
        };
        found.ok_or_else(user_not_found)
    }

    /// Asks `who` to become the caller's contact. If they already asked the caller, their
    /// request is accepted instead (both wanted it).
    pub async fn send_request(
        &self,
        caller: &UserId,
        who: &Recipient,
    ) -> Result<RequestOutcome, Error> {
        if matches!(who, Recipient::Phone(_) | Recipient::Username(_)) {
            self.count_lookup(caller).await?;
        }
        let receiver = self.resolve(who).await?;
        if receiver.id == *caller {
            return Err(Error::validation(
                "cannot_request_self",
                "you cannot send a contact request to yourself",
            ));
        }
        if self.contacts.get(caller, &receiver.id).await?.is_some() {
            return Err(already_contacts());
        }
        for _ in 0..CAS_RETRIES {
            if let Some(pending) = self.requests.pending_between(caller, &receiver.id).await? {
                if pending.sender_id == *caller {
                    return Err(Error::conflict(
                        "request_already_pending",
                        "you already sent this user a request that is still pending",
                    ));
                }
                let (accepted, _) = self.accept(caller, &pending.id).await?;
                return Ok(RequestOutcome::AcceptedTheirs(accepted));
            }
            let now = self.clock.now();
            let request = ContactRequest {
                id: RequestId::new_v7(),
                sender_id: *caller,
                receiver_id: receiver.id,
                status: RequestStatus::Pending,
                created_at: now,
                updated_at: now,
            };
            match self.requests.create(&request).await {
                Ok(()) => {
                    // A blocked sender's request is stored (its sender sees it pending, so the
                    // block is not revealed) but never shown to the blocker.
                    let blocked = self.blocked_among(&receiver.id, &[*caller]).await?;
                    if blocked.is_empty() {
                        self.notify(&receiver.id, ServerFrame::Req(event(&request)))
                            .await;
                    }
                    return Ok(RequestOutcome::Created(request));
                }
                // A request between the two appeared meanwhile: look again.
                Err(StoreError::Conflict { what: "pending" }) => continue,
                Err(StoreError::Conflict { what: "contacts" }) => return Err(already_contacts()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the request changed concurrently; try again",
        ))
    }

    /// The request `id`, if the caller is its receiver: 403 for its sender, 404 for others
    /// (a stranger learns nothing about other people's requests).
    async fn received_request(
        &self,
        caller: &UserId,
        id: &RequestId,
    ) -> Result<ContactRequest, Error> {
        let request = self.requests.get(id).await?.ok_or_else(request_not_found)?;
        if request.receiver_id == *caller {
            Ok(request)
        } else if request.sender_id == *caller {
            Err(Error::forbidden(
                "not_request_receiver",
                "only the receiver can accept or reject a request",
            ))
        } else {
            Err(request_not_found())
        }
    }

    /// Accepts a pending request the caller received: both become contacts, in one write.
    pub async fn accept(
        &self,
        caller: &UserId,
        id: &RequestId,
    ) -> Result<(ContactRequest, ContactView), Error> {
        let mut request = self.received_request(caller, id).await?;
        if request.status != RequestStatus::Pending {
            return Err(not_pending(&request));
        }
        let now = self.clock.now();
        match self.requests.accept(&request, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict { what: "contacts" }) => return Err(already_contacts()),
            Err(e) => return Err(self.settle_failed(id, e).await),
        }
        request.status = RequestStatus::Accepted;
        request.updated_at = now;
        self.notify(&request.sender_id, ServerFrame::ReqAcc(event(&request)))
            .await;
        let sender = self
            .users
            .get(&request.sender_id)
            .await?
            .ok_or_else(user_not_found)?;
        let online = self
            .presence
            .online(&[sender.value.id])
            .await?
            .contains(&sender.value.id);
        Ok((request, ContactView::new(&sender.value, online)))
    }

    /// Why accepting or rejecting failed: a lost race says what the request became.
    async fn settle_failed(&self, id: &RequestId, e: StoreError) -> Error {
        if !matches!(e, StoreError::Conflict { .. }) {
            return e.into();
        }
        match self.requests.get(id).await {
            Ok(Some(current)) => not_pending(&current),
            Ok(None) => request_not_found(),
            Err(e) => e.into(),
        }
    }

    /// Rejects a pending request the caller received. The sender is not told.
    pub async fn reject(&self, caller: &UserId, id: &RequestId) -> Result<ContactRequest, Error> {
        let mut request = self.received_request(caller, id).await?;
        if request.status != RequestStatus::Pending {
            return Err(not_pending(&request));
        }
        let now = self.clock.now();
        match self.requests.reject(&request, now).await {
            Ok(()) => {}
            Err(e) => return Err(self.settle_failed(id, e).await),
        }
        request.status = RequestStatus::Rejected;
        request.updated_at = now;
        Ok(request)
    }

    /// Pending requests the caller received, each with the sender's profile.
    pub async fn pending_received(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<RequestWithProfile>, Error> {
        let mut requests = self.requests.pending_received(caller, page).await?;
        let senders: Vec<UserId> = requests.items.iter().map(|r| r.sender_id).collect();
        let blocked = self.blocked_among(caller, &senders).await?;
        requests.items.retain(|r| !blocked.contains(&r.sender_id));
        self.with_profiles(requests, |r| r.sender_id).await
    }

    /// Pending requests the caller sent, each with the receiver's profile.
    pub async fn pending_sent(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<RequestWithProfile>, Error> {
        let requests = self.requests.pending_sent(caller, page).await?;
        self.with_profiles(requests, |r| r.receiver_id).await
    }

    async fn with_profiles(
        &self,
        page: Page<ContactRequest>,
        other: impl Fn(&ContactRequest) -> UserId,
    ) -> Result<Page<RequestWithProfile>, Error> {
        let ids: Vec<UserId> = page.items.iter().map(&other).collect();
        let profiles = self.profiles(&ids).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|request| {
                profiles.get(&other(&request)).map(|p| RequestWithProfile {
                    other: p.clone(),
                    request,
                })
            })
            .collect();
        Ok(Page {
            items,
            next: page.next,
        })
    }

    async fn profiles(&self, ids: &[UserId]) -> Result<HashMap<UserId, PublicProfile>, Error> {
        Ok(self
            .users
            .get_many(ids)
            .await?
            .iter()
            .map(|u| (u.id, PublicProfile::from(u)))
            .collect())
    }

    /// The caller's contacts: public profiles and whether each is online.
    pub async fn list(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactView>, Error> {
        let rows = self.contacts.list(caller, page).await?;
        let ids: Vec<UserId> = rows.items.iter().map(|c| c.contact_id).collect();
        let users: HashMap<UserId, User> = self
            .users
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let online = self.presence.online(&ids).await?;
        // A contact the caller blocked, or who blocked the caller, shows no presence: not
        // online, no last seen.
        let blocked = self.blocked_either_way(caller, &ids).await?;
        let items = ids
            .iter()
            .filter_map(|id| users.get(id))
            .map(|u| {
                let mut view = ContactView::new(u, online.contains(&u.id));
                if blocked.contains(&u.id) {
                    view.online = false;
                    view.profile.last_seen = None;
                }
                view
            })
            .collect();
        Ok(Page {
            items,
            next: rows.next,
        })
    }

    /// Ends the contact relationship on both sides.
    pub async fn remove(&self, caller: &UserId, other: &UserId) -> Result<(), Error> {
        match self.contacts.remove(caller, other).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { .. }) => Err(Error::not_found(
                "not_a_contact",
                "that user is not one of your contacts",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn notify(&self, to: &UserId, frame: ServerFrame) {
        if let Err(e) = self.notifier.notify(to, &frame).await {
            tracing::warn!(error = %e, "real-time notification failed; the change itself is saved");
        }
    }
}

fn event(r: &ContactRequest) -> ContactRequestEvent {
    ContactRequestEvent {
        id: r.id,
        s: r.sender_id,
        r: r.receiver_id,
        ts: r.updated_at,
    }
}

#[cfg(test)]
#[path = "contacts_tests.rs"]
mod tests;
