use super::*;
use crate::app::{MemoryHandles, Ports};
use crate::clock::ManualClock;
use crate::domain::User;
use crate::error::BoxError;
use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use std::collections::HashSet;

struct Harness {
    svc: ContactService,
    ports: Ports,
    handles: MemoryHandles,
    clock: Arc<ManualClock>,
}

fn harness_with(notifier: Option<Arc<dyn Notifier>>) -> Harness {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (mut ports, handles) = Ports::in_memory(clock.clone());
    if let Some(n) = notifier {
        ports.notifier = n;
    }
    let svc = ContactService::new(
        ports.users.clone(),
        ports.requests.clone(),
        ports.contacts.clone(),
        Arc::new(crate::services::ConnectionPresence::new(
            ports.connections.clone(),
            clock.clone(),
        )),
        ports.notifier.clone(),
        clock.clone(),
        CountryCode::parse("91").unwrap(),
    );
    Harness {
        svc,
        ports,
        handles,
        clock,
    }
}

fn harness() -> Harness {
    harness_with(None)
}

impl Harness {
    async fn user(&self, name: &str, n: u32) -> User {
        let u = User {
            email: Some(crate::domain::Email::parse(&format!("{name}@example.com")).unwrap()),
            ..User::sample(name, n, self.clock.now())
        };
        self.ports.users.create(&u).await.unwrap();
        u
    }

    async fn contacts_of(&self, u: &User) -> Vec<UserId> {
        let page = self
            .svc
            .list(&u.id, &PageRequest::first(100))
            .await
            .unwrap();
        page.items.iter().map(|c| c.profile.id).collect()
    }
}

fn created(o: RequestOutcome) -> ContactRequest {
    match o {
        RequestOutcome::Created(r) => r,
        other => panic!("expected a new request, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_notifies_the_receiver_and_acceptance_notifies_the_sender() {
    let h = harness();
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    assert_eq!(
        (r.sender_id, r.receiver_id, r.status),
        (a.id, b.id, RequestStatus::Pending)
    );
    let req_event = ContactRequestEvent {
        id: r.id,
        s: a.id,
        r: b.id,
        ts: r.created_at,
    };
    assert_eq!(
        h.handles.notifier.events_for(&b.id),
        vec![ServerFrame::Req(req_event)]
    );

    h.clock.advance(TimeDelta::seconds(30));
    let (accepted, contact) = h.svc.accept(&b.id, &r.id).await.unwrap();
    assert_eq!(accepted.status, RequestStatus::Accepted);
    assert_eq!(accepted.updated_at, h.clock.now());
    assert_eq!((contact.profile.id, contact.online), (a.id, false));
    let acc_event = ContactRequestEvent {
        id: r.id,
        s: a.id,
        r: b.id,
        ts: h.clock.now(),
    };
    assert_eq!(
        h.handles.notifier.events_for(&a.id),
        vec![ServerFrame::ReqAcc(acc_event)]
    );
    assert_eq!(h.contacts_of(&a).await, vec![b.id]);
    assert_eq!(h.contacts_of(&b).await, vec![a.id]);
}

#[tokio::test]
async fn asking_someone_who_already_asked_you_accepts_their_request() {
    let h = harness();
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let theirs = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    match h
        .svc
        .send_request(&b.id, &Recipient::Username("ALICE".into()))
        .await
        .unwrap()
    {
        RequestOutcome::AcceptedTheirs(r) => {
            assert_eq!((r.id, r.status), (theirs.id, RequestStatus::Accepted))
        }
        other => panic!("expected their request accepted, got {other:?}"),
    }
    assert_eq!(h.contacts_of(&a).await, vec![b.id]);
    assert_eq!(h.contacts_of(&b).await, vec![a.id]);
}

#[tokio::test]
async fn request_rules_give_precise_errors() {
    let h = harness();
    let (a, b, c) = (
        h.user("alice", 1).await,
        h.user("bob", 2).await,
        h.user("carol", 3).await,
    );
    let code = |r: Result<RequestOutcome, Error>| r.unwrap_err().code();
    assert_eq!(
        code(h.svc.send_request(&a.id, &Recipient::Id(a.id)).await),
        "cannot_request_self"
    );
    assert_eq!(
        code(
            h.svc
                .send_request(&a.id, &Recipient::Id(UserId::new_random()))
                .await
        ),
        "user_not_found"
    );
    assert_eq!(
        code(
            h.svc
                .send_request(&a.id, &Recipient::Phone("9999999999".into()))
                .await
        ),
        "user_not_found"
    );
    assert_eq!(
        code(
            h.svc
                .send_request(&a.id, &Recipient::Phone("12ab".into()))
                .await
        ),
        "invalid_phone_number"
    );
    assert_eq!(
        code(
            h.svc
                .send_request(&a.id, &Recipient::Username("zz".into()))
                .await
        ),
        "invalid_username"
    );
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Phone("9000000002".into()))
            .await
            .unwrap(),
    );
    assert_eq!(r.receiver_id, b.id, "the bare national number reaches bob");
    assert_eq!(
        code(h.svc.send_request(&a.id, &Recipient::Id(b.id)).await),
        "request_already_pending"
    );
    assert_eq!(
        h.svc.accept(&a.id, &r.id).await.unwrap_err().code(),
        "not_request_receiver"
    );
    assert_eq!(
        h.svc.accept(&c.id, &r.id).await.unwrap_err().code(),
        "request_not_found"
    );
    assert_eq!(
        h.svc.reject(&c.id, &r.id).await.unwrap_err().code(),
        "request_not_found"
    );
    h.svc.accept(&b.id, &r.id).await.unwrap();
    assert_eq!(
        h.svc.accept(&b.id, &r.id).await.unwrap_err().code(),
        "request_not_pending"
    );
    assert_eq!(
        h.svc.reject(&b.id, &r.id).await.unwrap_err().code(),
        "request_not_pending"
    );
    assert_eq!(
        code(h.svc.send_request(&a.id, &Recipient::Id(b.id)).await),
        "already_contacts"
    );
    assert_eq!(
        code(h.svc.send_request(&b.id, &Recipient::Id(a.id)).await),
        "already_contacts"
    );
}

#[tokio::test]
async fn a_rejected_request_leaves_no_contact_and_tells_the_sender_nothing() {
    let h = harness();
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    assert_eq!(
        h.svc.reject(&b.id, &r.id).await.unwrap().status,
        RequestStatus::Rejected
    );
    assert!(h.handles.notifier.events_for(&a.id).is_empty());
    assert!(h.contacts_of(&a).await.is_empty());
    assert_eq!(
        h.svc.accept(&b.id, &r.id).await.unwrap_err().code(),
        "request_not_pending"
    );
    created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn removing_a_contact_ends_it_for_both() {
    let h = harness();
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    h.svc.accept(&b.id, &r.id).await.unwrap();
    h.svc.remove(&b.id, &a.id).await.unwrap();
    assert!(h.contacts_of(&a).await.is_empty() && h.contacts_of(&b).await.is_empty());
    assert_eq!(
        h.svc.remove(&a.id, &b.id).await.unwrap_err().code(),
        "not_a_contact"
    );
}

#[tokio::test]
async fn search_matches_phone_or_username_prefix_and_never_returns_the_caller() {
    let h = harness();
    let me = h.user("bobcat", 1).await;
    h.user("Bob", 2).await;
    h.user("bobby", 3).await;
    let names = |p: Page<PublicProfile>| {
        p.items
            .into_iter()
            .map(|u| u.username.to_string())
            .collect::<Vec<_>>()
    };
    let first = PageRequest::first(SEARCH_PAGE_MAX);
    assert_eq!(
        names(h.svc.search(&me.id, "BOB", &first).await.unwrap()),
        ["Bob", "bobby"]
    );
    assert_eq!(
        names(h.svc.search(&me.id, "+919000000002", &first).await.unwrap()),
        ["Bob"]
    );
    assert_eq!(
        names(h.svc.search(&me.id, "9000000003", &first).await.unwrap()),
        ["bobby"]
    );
    assert!(
        names(h.svc.search(&me.id, "90000", &first).await.unwrap()).is_empty(),
        "no partial phone match"
    );
    assert!(
        names(h.svc.search(&me.id, "+919000000001", &first).await.unwrap()).is_empty(),
        "never the caller"
    );
    assert!(names(h.svc.search(&me.id, "bob smith", &first).await.unwrap()).is_empty());
    for bad in ["", "   ", &"a".repeat(SEARCH_QUERY_MAX + 1), "bob\u{0}"] {
        assert_eq!(
            h.svc.search(&me.id, bad, &first).await.unwrap_err().code(),
            "invalid_query",
            "{bad:?}"
        );
    }
    let json =
        serde_json::to_value(h.svc.search(&me.id, "bob", &first).await.unwrap().items).unwrap();
    for profile in json.as_array().unwrap() {
        assert!(
            profile.get("email").is_none() && profile.get("phoneNumber").is_none(),
            "{profile}"
        );
    }
}

#[tokio::test]
async fn requests_listings_carry_the_other_sides_profile() {
    let h = harness();
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    let received = h
        .svc
        .pending_received(&b.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        received.items,
        vec![RequestWithProfile {
            request: r.clone(),
            other: PublicProfile::from(&a)
        }]
    );
    let sent = h
        .svc
        .pending_sent(&a.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        sent.items,
        vec![RequestWithProfile {
            request: r,
            other: PublicProfile::from(&b)
        }]
    );
}

struct Online(HashSet<UserId>);

#[async_trait]
impl Presence for Online {
    async fn online(&self, users: &[UserId]) -> Result<HashSet<UserId>, StoreError> {
        Ok(users
            .iter()
            .filter(|u| self.0.contains(u))
            .copied()
            .collect())
    }
}

#[tokio::test]
async fn the_contact_list_reports_presence_from_the_presence_port() {
    let h0 = harness();
    let (a, b, c) = (
        h0.user("alice", 1).await,
        h0.user("bob", 2).await,
        h0.user("carol", 3).await,
    );
    let h = Harness {
        svc: ContactService::new(
            h0.ports.users.clone(),
            h0.ports.requests.clone(),
            h0.ports.contacts.clone(),
            Arc::new(Online(HashSet::from([b.id]))),
            h0.ports.notifier.clone(),
            h0.clock.clone(),
            CountryCode::parse("91").unwrap(),
        ),
        ..h0
    };
    for other in [&b, &c] {
        let r = created(
            h.svc
                .send_request(&a.id, &Recipient::Id(other.id))
                .await
                .unwrap(),
        );
        h.svc.accept(&other.id, &r.id).await.unwrap();
    }
    let list = h.svc.list(&a.id, &PageRequest::first(10)).await.unwrap();
    let online: HashSet<(UserId, bool)> = list
        .items
        .iter()
        .map(|v| (v.profile.id, v.online))
        .collect();
    assert_eq!(online, HashSet::from([(b.id, true), (c.id, false)]));
}

struct Broken;

#[async_trait]
impl Notifier for Broken {
    async fn notify(&self, _: &UserId, _: &ServerFrame) -> Result<(), BoxError> {
        Err("delivery queue down".into())
    }
}

#[tokio::test]
async fn a_failed_notification_does_not_undo_or_fail_the_change() {
    let h = harness_with(Some(Arc::new(Broken)));
    let (a, b) = (h.user("alice", 1).await, h.user("bob", 2).await);
    let r = created(
        h.svc
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap(),
    );
    h.svc.accept(&b.id, &r.id).await.unwrap();
    assert_eq!(h.contacts_of(&a).await, vec![b.id]);
}
