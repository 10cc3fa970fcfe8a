//! End-to-end: user discovery, contact requests and the contact list through the real local
//! gateway on 127.0.0.1:0, driven over HTTP with reqwest as a client would. Memory backend,
//! plus one journey on the DynamoDB adapters of a moto server (`make test` starts one).

mod common;

use common::{
    Body, PUBLIC_PROFILE_KEYS, Person, Reply, TestApp, assert_error, assert_ok, ids, keys,
    public_part, query_value, set_of, spawn_app_on_moto, start, str_field, timestamp,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use whatspe::config::Config;
use whatspe::domain::{RequestId, UserId};
use whatspe::frames::{ContactRequestEvent, ServerFrame};
use whatspe_local::Backend;

const REQUEST_KEYS: [&str; 6] = [
    "id",
    "senderId",
    "receiverId",
    "status",
    "createdAt",
    "updatedAt",
];

// ---------------------------------------------------------------------------------------------
// Harness (the shared part is in `common`)
// ---------------------------------------------------------------------------------------------

/// The gateway on in-memory stores on the system clock.
async fn spawn_app() -> TestApp {
    let gateway = whatspe_local::build(Config::for_tests(), Backend::memory())
        .await
        .expect("the in-memory gateway builds");
    start(gateway, None).await
}

/// An Indian mobile number unique to `n`: E.164 and the bare 10-digit form.
fn phone(n: u32) -> String {
    format!("+91{}", bare_phone(n))
}

fn bare_phone(n: u32) -> String {
    format!("989000{n:04}")
}

/// Exactly the public fields: never `email` or `phoneNumber`.
#[track_caller]
fn assert_public_profile(v: &Value, case: &str) {
    assert_eq!(
        keys(v),
        set_of(&PUBLIC_PROFILE_KEYS),
        "{case}: public profile keys of {v}"
    );
}

/// A contact as `GET /api/contacts` and `accept` show it: the public profile, the phone
/// number (contacts know each other's) and presence; never the e-mail address.
fn contact_view(p: &Person) -> Value {
    let mut v = p.profile.clone();
    v["phoneNumber"] = json!(p.phone);
    v["online"] = json!(false);
    v["lastSeen"] = p.last_seen.clone();
    v
}

fn event(
    id: &str,
    sender: &Person,
    receiver: &Person,
    ts: chrono::DateTime<chrono::Utc>,
) -> ContactRequestEvent {
    ContactRequestEvent {
        id: RequestId::parse(id).expect("request id"),
        s: UserId::parse(&sender.id).expect("sender id"),
        r: UserId::parse(&receiver.id).expect("receiver id"),
        ts,
    }
}

impl TestApp {
    async fn request_contact(&self, from: &Person, body: Value) -> Reply {
        self.post("/api/contacts/request", body, &from.token).await
    }

    /// `from` asks `to` by id; the new request's id.
    async fn send_request(&self, from: &Person, to: &Person) -> String {
        let r = self
            .request_contact(from, json!({ "receiverId": to.id }))
            .await;
        assert_ok(
            &r,
            201,
            &format!("{} requests {}", from.username, to.username),
        );
        str_field(&r.body, "id")
    }

    async fn accept(&self, who: &Person, request_id: &str) -> Reply {
        self.post(
            &format!("/api/contacts/accept/{request_id}"),
            json!({}),
            &who.token,
        )
        .await
    }

    async fn reject(&self, who: &Person, request_id: &str) -> Reply {
        self.post(
            &format!("/api/contacts/reject/{request_id}"),
            json!({}),
            &who.token,
        )
        .await
    }

    /// Every page of a listing (`path` may carry a query), checking each page's size against
    /// `limit` when given; the pages in order.
    async fn pages(&self, path: &str, bearer: &str, limit: Option<usize>) -> Vec<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}cursor={}", query_value(c)),
                None => path.to_owned(),
            };
            let r = self.get(&url, bearer).await;
            assert_ok(&r, 200, &url);
            let items = r.items(&url);
            cursor = r.next_cursor();
            if let Some(limit) = limit {
                assert!(
                    items.len() <= limit,
                    "{url}: at most {limit} items, got {}",
                    items.len()
                );
            }
            pages.push(items);
            assert!(pages.len() <= 50, "{path}: the cursors never end");
            if cursor.is_none() {
                return pages;
            }
        }
    }

    /// All of a listing, following cursors.
    async fn all(&self, path: &str, bearer: &str) -> Vec<Value> {
        self.pages(path, bearer, None).await.concat()
    }

    async fn contacts_of(&self, p: &Person) -> Vec<Value> {
        self.all("/api/contacts", &p.token).await
    }

    async fn pending_of(&self, p: &Person) -> Vec<Value> {
        self.all("/api/contacts/requests/pending", &p.token).await
    }

    async fn sent_by(&self, p: &Person) -> Vec<Value> {
        self.all("/api/contacts/requests/sent", &p.token).await
    }

    async fn search(&self, query: &str, bearer: &str) -> Reply {
        self.get(
            &format!("/api/users/search?query={}", query_value(query)),
            bearer,
        )
        .await
    }

    /// `a` and `b` see each other exactly once in their contact lists, and nothing else.
    async fn assert_only_contacts(&self, a: &Person, b: &Person, case: &str) {
        assert_eq!(
            self.contacts_of(a).await,
            vec![contact_view(b)],
            "{case}: {}'s contacts",
            a.username
        );
        assert_eq!(
            self.contacts_of(b).await,
            vec![contact_view(a)],
            "{case}: {}'s contacts",
            b.username
        );
    }

    async fn assert_no_requests(&self, people: &[&Person], case: &str) {
        for p in people {
            assert_eq!(
                self.pending_of(p).await,
                Vec::<Value>::new(),
                "{case}: {}'s pending",
                p.username
            );
            assert_eq!(
                self.sent_by(p).await,
                Vec::<Value>::new(),
                "{case}: {}'s sent",
                p.username
            );
        }
    }

    fn events_for(&self, p: &Person) -> Vec<ServerFrame> {
        self.notifier
            .events_for(&UserId::parse(&p.id).expect("user id"))
    }
}

// ---------------------------------------------------------------------------------------------
// 1-6. Requests, accept, reject, remove
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_accepted_makes_both_contacts_exactly_once_and_removing_ends_it_for_both() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let r = app.request_contact(&a, json!({ "receiverId": b.id })).await;
    assert_ok(&r, 201, "A requests B");
    assert_eq!(
        keys(&r.body),
        set_of(&REQUEST_KEYS),
        "request keys: {}",
        r.body
    );
    let request = r.body.clone();
    let request_id = str_field(&request, "id");
    assert!(
        RequestId::parse(&request_id).is_ok(),
        "the request id is a UUID: {request}"
    );
    assert_eq!(request["senderId"], a.id);
    assert_eq!(request["receiverId"], b.id);
    assert_eq!(request["status"], "pending");
    let created = timestamp(&request["createdAt"], "createdAt");
    assert_eq!(
        timestamp(&request["updatedAt"], "updatedAt"),
        created,
        "a new request is unchanged"
    );

    let pending = app.pending_of(&b).await;
    assert_eq!(pending.len(), 1, "B's pending: {pending:?}");
    assert_eq!(
        keys(&pending[0]),
        set_of(&[&REQUEST_KEYS[..], &["sender"]].concat()),
        "a received request carries its sender: {}",
        pending[0]
    );
    assert_eq!(pending[0]["id"], request_id);
    assert_eq!(pending[0]["status"], "pending");
    assert_public_profile(&pending[0]["sender"], "pending sender");
    assert_eq!(pending[0]["sender"], a.profile, "the sender is A");

    let sent = app.sent_by(&a).await;
    assert_eq!(sent.len(), 1, "A's sent: {sent:?}");
    assert_eq!(
        keys(&sent[0]),
        set_of(&[&REQUEST_KEYS[..], &["receiver"]].concat()),
        "a sent request carries its receiver: {}",
        sent[0]
    );
    assert_eq!(sent[0]["id"], request_id);
    assert_public_profile(&sent[0]["receiver"], "sent receiver");
    assert_eq!(sent[0]["receiver"], b.profile, "the receiver is B");
    assert_eq!(
        app.pending_of(&a).await,
        Vec::<Value>::new(),
        "A received nothing"
    );
    assert_eq!(app.sent_by(&b).await, Vec::<Value>::new(), "B sent nothing");

    let r = app.accept(&b, &request_id).await;
    assert_ok(&r, 200, "B accepts");
    assert_eq!(
        keys(&r.body),
        set_of(&["request", "contact"]),
        "accept: {}",
        r.body
    );
    let accepted = &r.body["request"];
    assert_eq!(accepted["id"], request_id);
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["senderId"], a.id);
    assert_eq!(accepted["receiverId"], b.id);
    assert_eq!(
        timestamp(&accepted["createdAt"], "createdAt"),
        created,
        "createdAt stays"
    );
    let accepted_at = timestamp(&accepted["updatedAt"], "updatedAt");
    assert!(
        accepted_at >= created,
        "updatedAt moves forward: {accepted}"
    );
    assert_eq!(r.body["contact"], contact_view(&a), "the new contact is A");

    app.assert_only_contacts(&a, &b, "after accept").await;
    app.assert_no_requests(&[&a, &b], "after accept").await;

    assert_eq!(
        app.events_for(&b),
        vec![ServerFrame::Req(event(&request_id, &a, &b, created))],
        "B was told of the request"
    );
    assert_eq!(
        app.events_for(&a),
        vec![ServerFrame::ReqAcc(event(&request_id, &a, &b, accepted_at))],
        "A was told of the acceptance"
    );

    let r = app
        .delete(&format!("/api/contacts/{}", b.id), &a.token)
        .await;
    assert_ok(&r, 204, "A removes B");
    assert_eq!(r.body, Value::Null, "204 has no body");
    assert_eq!(
        app.contacts_of(&a).await,
        Vec::<Value>::new(),
        "A's contacts after remove"
    );
    assert_eq!(
        app.contacts_of(&b).await,
        Vec::<Value>::new(),
        "B's contacts after remove"
    );

    let r = app
        .delete(&format!("/api/contacts/{}", b.id), &a.token)
        .await;
    assert_error(&r, 404, "not_a_contact", "A removes B again");
    let r = app
        .delete(&format!("/api/contacts/{}", a.id), &b.token)
        .await;
    assert_error(&r, 404, "not_a_contact", "B removes A after A removed B");

    let r = app.request_contact(&b, json!({ "receiverId": a.id })).await;
    assert_ok(&r, 201, "after the removal they may ask each other again");
    assert_eq!(r.body["status"], "pending");
}

#[tokio::test]
async fn requests_by_phone_number_in_either_form_and_by_username_in_any_case_reach_the_right_user()
{
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    let d = app.sign_up(&phone(4), "Dev_Rao").await;
    let e = app.sign_up(&phone(5), "esha.k").await;

    for (case, body, target) in [
        (
            "bare 10-digit phone",
            json!({ "phoneNumber": bare_phone(2) }),
            &b,
        ),
        ("E.164 phone", json!({ "phoneNumber": phone(3) }), &c),
        (
            "username in other case",
            json!({ "username": "dEV_rAO" }),
            &d,
        ),
        (
            "username as registered",
            json!({ "username": "esha.k" }),
            &e,
        ),
    ] {
        let r = app.request_contact(&a, body).await;
        assert_ok(&r, 201, case);
        assert_eq!(r.body["senderId"], a.id, "{case}: sender");
        assert_eq!(r.body["receiverId"], target.id, "{case}: receiver");
        let pending = app.pending_of(target).await;
        assert_eq!(
            ids(&pending),
            vec![str_field(&r.body, "id")],
            "{case}: the receiver's pending"
        );
        assert_eq!(pending[0]["sender"], a.profile, "{case}: sender profile");
    }

    let sent = app.sent_by(&a).await;
    let receivers: Vec<Value> = sent.iter().map(|s| s["receiver"].clone()).collect();
    assert_eq!(
        receivers,
        vec![
            b.profile.clone(),
            c.profile.clone(),
            d.profile.clone(),
            e.profile.clone()
        ],
        "A's sent requests, oldest first"
    );
}

#[tokio::test]
async fn a_rejected_request_makes_no_contacts_tells_nobody_and_may_be_sent_again() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let request_id = app.send_request(&a, &b).await;
    let r = app.reject(&b, &request_id).await;
    assert_ok(&r, 200, "B rejects");
    assert_eq!(
        keys(&r.body),
        set_of(&REQUEST_KEYS),
        "reject answers the request: {}",
        r.body
    );
    assert_eq!(r.body["id"], request_id);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["senderId"], a.id);
    assert_eq!(r.body["receiverId"], b.id);

    app.assert_no_requests(&[&a, &b], "after reject").await;
    assert_eq!(
        app.contacts_of(&a).await,
        Vec::<Value>::new(),
        "A has no contacts"
    );
    assert_eq!(
        app.contacts_of(&b).await,
        Vec::<Value>::new(),
        "B has no contacts"
    );
    assert_eq!(
        app.events_for(&a),
        vec![],
        "the sender is not told of a rejection"
    );

    let r = app.request_contact(&a, json!({ "receiverId": b.id })).await;
    assert_ok(&r, 201, "A requests B again after the rejection");
    assert_ne!(r.body["id"], request_id, "a new request");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(
        ids(&app.pending_of(&b).await),
        vec![str_field(&r.body, "id")],
        "B sees the new request"
    );
}

#[tokio::test]
async fn only_the_receiver_may_settle_a_request_and_only_once() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;

    let ab = app.send_request(&a, &b).await;
    assert_error(
        &app.accept(&c, &ab).await,
        404,
        "request_not_found",
        "a stranger accepts",
    );
    assert_error(
        &app.reject(&c, &ab).await,
        404,
        "request_not_found",
        "a stranger rejects",
    );
    assert_error(
        &app.accept(&a, &ab).await,
        403,
        "not_request_receiver",
        "the sender accepts",
    );
    assert_error(
        &app.reject(&a, &ab).await,
        403,
        "not_request_receiver",
        "the sender rejects",
    );
    let unknown = UserId::new_random().to_string();
    assert_error(
        &app.accept(&b, &unknown).await,
        404,
        "request_not_found",
        "accept an unknown id",
    );
    assert_error(
        &app.reject(&b, &unknown).await,
        404,
        "request_not_found",
        "reject an unknown id",
    );
    assert_eq!(
        ids(&app.pending_of(&b).await),
        vec![ab.clone()],
        "still pending for B"
    );
    assert_eq!(
        app.contacts_of(&c).await,
        Vec::<Value>::new(),
        "the stranger gained nothing"
    );

    assert_ok(&app.accept(&b, &ab).await, 200, "B accepts");
    assert_error(
        &app.accept(&b, &ab).await,
        409,
        "request_not_pending",
        "double accept",
    );
    assert_error(
        &app.reject(&b, &ab).await,
        409,
        "request_not_pending",
        "reject after accept",
    );
    app.assert_only_contacts(&a, &b, "after the repeated settles")
        .await;

    let cb = app.send_request(&c, &b).await;
    assert_ok(&app.reject(&b, &cb).await, 200, "B rejects C");
    assert_error(
        &app.accept(&b, &cb).await,
        409,
        "request_not_pending",
        "accept after reject",
    );
    assert_error(
        &app.reject(&b, &cb).await,
        409,
        "request_not_pending",
        "double reject",
    );
    assert_eq!(
        app.contacts_of(&c).await,
        Vec::<Value>::new(),
        "a rejected C has no contacts"
    );
    assert_eq!(
        app.contacts_of(&b).await,
        vec![contact_view(&a)],
        "B still has only A"
    );
}

#[tokio::test]
async fn a_second_request_conflicts_and_a_reverse_request_accepts_the_pending_one() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let ab = app.send_request(&a, &b).await;
    for (case, body) in [
        ("same request by id", json!({ "receiverId": b.id })),
        ("same request by username", json!({ "username": "BALA" })),
        ("same request by phone", json!({ "phoneNumber": b.phone })),
    ] {
        assert_error(
            &app.request_contact(&a, body).await,
            409,
            "request_already_pending",
            case,
        );
    }
    assert_eq!(
        ids(&app.pending_of(&b).await),
        vec![ab.clone()],
        "one pending request"
    );

    let r = app.request_contact(&b, json!({ "receiverId": a.id })).await;
    assert_ok(&r, 200, "B requests A while A's request is pending");
    assert_eq!(keys(&r.body), set_of(&REQUEST_KEYS), "{}", r.body);
    assert_eq!(r.body["id"], ab, "the answer is A's request");
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["senderId"], a.id);
    assert_eq!(r.body["receiverId"], b.id);

    app.assert_only_contacts(&a, &b, "after the crossing requests")
        .await;
    app.assert_no_requests(&[&a, &b], "after the crossing requests")
        .await;
    let accepted_at = timestamp(&r.body["updatedAt"], "updatedAt");
    assert_eq!(
        app.events_for(&a),
        vec![ServerFrame::ReqAcc(event(&ab, &a, &b, accepted_at))],
        "A was told B accepted"
    );
    assert_error(
        &app.request_contact(&b, json!({ "receiverId": a.id })).await,
        409,
        "already_contacts",
        "B requests A once more",
    );
}

#[tokio::test]
async fn requests_to_yourself_to_a_contact_or_to_nobody_are_refused() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;

    for (case, body, status, code) in [
        (
            "self by id",
            json!({ "receiverId": a.id }),
            400,
            "cannot_request_self",
        ),
        (
            "self by phone",
            json!({ "phoneNumber": bare_phone(1) }),
            400,
            "cannot_request_self",
        ),
        (
            "self by username",
            json!({ "username": "ASHA" }),
            400,
            "cannot_request_self",
        ),
        (
            "a contact",
            json!({ "receiverId": b.id }),
            409,
            "already_contacts",
        ),
        (
            "a contact by username",
            json!({ "username": "bala" }),
            409,
            "already_contacts",
        ),
        (
            "unknown receiverId",
            json!({ "receiverId": UserId::new_random().to_string() }),
            404,
            "user_not_found",
        ),
        (
            "unknown phone",
            json!({ "phoneNumber": phone(99) }),
            404,
            "user_not_found",
        ),
        (
            "unknown username",
            json!({ "username": "nobody_here" }),
            404,
            "user_not_found",
        ),
    ] {
        assert_error(&app.request_contact(&a, body).await, status, code, case);
    }
    assert_error(
        &app.request_contact(&b, json!({ "receiverId": a.id })).await,
        409,
        "already_contacts",
        "the contact asks back",
    );
    app.assert_no_requests(&[&a, &b], "after the refused requests")
        .await;
    app.assert_only_contacts(&a, &b, "after the refused requests")
        .await;
}

// ---------------------------------------------------------------------------------------------
// 7-9. Search, listing pages, profiles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn search_pages_username_prefixes_case_insensitively_and_matches_phones_exactly() {
    let app = spawn_app().await;
    let searcher = app.sign_up(&phone(100), "searcher").await;
    let mut zeds = Vec::new();
    for n in 0..25u32 {
        // Some registered in upper case: the prefix match ignores case.
        let name = if n % 4 == 0 {
            format!("ZED{n:03}")
        } else {
            format!("zed{n:03}")
        };
        zeds.push(app.sign_up(&phone(n), &name).await);
    }
    let mut non_zeds = Vec::new();
    for (n, name) in [(200, "zebra"), (201, "alice"), (202, "ze_d"), (203, "azed")] {
        non_zeds.push(app.sign_up(&phone(n), name).await);
    }
    // A public e-mail address must still never show.
    let r = app
        .request(
            Method::PATCH,
            "/api/user",
            Body::Json(json!({ "email": "zed@example.com" })),
            Some(&zeds[3].token),
        )
        .await;
    assert_ok(&r, 200, "zed003 sets an e-mail");
    zeds[3].profile = public_part(&r.body);
    let expected: Vec<String> = zeds.iter().map(|p| p.id.clone()).collect();

    let first = app.search("ZED", &searcher.token).await;
    assert_ok(&first, 200, "page 1");
    let page1 = first.items("page 1");
    assert_eq!(page1.len(), 20, "page 1 is full");
    let cursor = first.next_cursor().expect("page 1 carries X-Next-Cursor");
    let second = app
        .get(
            &format!(
                "/api/users/search?query=ZED&cursor={}",
                query_value(&cursor)
            ),
            &searcher.token,
        )
        .await;
    assert_ok(&second, 200, "page 2");
    let page2 = second.items("page 2");
    assert_eq!(page2.len(), 5, "page 2 has the rest");
    assert_eq!(second.next_cursor(), None, "the last page has no cursor");

    let all = [page1, page2].concat();
    assert_eq!(
        ids(&all),
        expected,
        "every zed exactly once, in username order"
    );
    for p in &all {
        assert_public_profile(p, "search result");
    }
    let profiles: Vec<Value> = zeds.iter().map(|p| p.profile.clone()).collect();
    assert_eq!(all, profiles, "results are the users' public profiles");
    let names: Vec<String> = all
        .iter()
        .map(|p| str_field(p, "username").to_ascii_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ascending by username");

    let by5 = app
        .pages(
            "/api/users/search?query=zed&limit=5",
            &searcher.token,
            Some(5),
        )
        .await;
    let sizes: Vec<usize> = by5.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![5, 5, 5, 5, 5], "limit=5 pages by 5");
    assert_eq!(
        ids(&by5.concat()),
        expected,
        "limit=5 pages cover everyone once"
    );

    // A caller who matches never sees themself, on any page.
    let me = &zeds[10];
    let pages = app
        .pages("/api/users/search?query=zed", &me.token, Some(20))
        .await;
    let seen = ids(&pages.concat());
    let others: Vec<String> = expected
        .iter()
        .filter(|id| **id != me.id)
        .cloned()
        .collect();
    assert_eq!(
        seen, others,
        "a matching caller sees everyone else once, never themself"
    );

    for (case, query, want) in [
        ("E.164", phone(7), vec![zeds[7].profile.clone()]),
        (
            "bare 10-digit",
            bare_phone(7),
            vec![zeds[7].profile.clone()],
        ),
        (
            "formatted",
            format!("+91 98900 0{:04}", 7),
            vec![zeds[7].profile.clone()],
        ),
        ("partial", "98900".to_owned(), vec![]),
        ("partial E.164", "+9198900".to_owned(), vec![]),
        ("unknown number", phone(999), vec![]),
        ("the caller's own number", phone(100), vec![]),
    ] {
        let r = app.search(&query, &searcher.token).await;
        assert_ok(&r, 200, case);
        assert_eq!(r.items(case), want, "phone search, {case}");
        assert_eq!(r.next_cursor(), None, "{case}: one page");
    }
    let r = app.search("searcher", &searcher.token).await;
    assert_ok(&r, 200, "own username");
    assert_eq!(
        r.items("own username"),
        Vec::<Value>::new(),
        "the caller never finds themself"
    );
    let r = app.search("zeb", &searcher.token).await;
    assert_eq!(
        r.items("zeb"),
        vec![non_zeds[0].profile.clone()],
        "a shorter prefix finds zebra only"
    );
    let r = app.search("ze_", &searcher.token).await;
    assert_eq!(
        r.items("ze_"),
        vec![non_zeds[2].profile.clone()],
        "'_' is a literal, not a wildcard"
    );
    let r = app.search("zed%", &searcher.token).await;
    assert_ok(&r, 200, "a query with a character no username has");
    assert_eq!(
        r.items("zed%"),
        Vec::<Value>::new(),
        "no username contains '%'"
    );
}

#[tokio::test]
async fn the_contact_list_pages_by_limit_with_cursors_and_covers_everyone_once() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let mut friends = Vec::new();
    for n in 0..7u32 {
        let f = app.sign_up(&phone(10 + n), &format!("friend{n}")).await;
        // Both directions of asking, so both ways of becoming contacts are listed.
        if n % 2 == 0 {
            app.befriend(&a, &f).await;
        } else {
            app.befriend(&f, &a).await;
        }
        friends.push(f);
    }

    let pages = app.pages("/api/contacts?limit=3", &a.token, Some(3)).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![3, 3, 1], "7 contacts in pages of 3");
    let listed = pages.concat();
    let mut got = ids(&listed);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no contact twice: {got:?}");
    got.sort();
    let mut want: Vec<String> = friends.iter().map(|f| f.id.clone()).collect();
    want.sort();
    assert_eq!(got, want, "every contact once");
    for f in &friends {
        let entry = listed
            .iter()
            .find(|c| c["id"] == f.id.as_str())
            .expect("listed");
        assert_eq!(*entry, contact_view(f), "{}'s entry", f.username);
    }
    assert_eq!(
        app.all("/api/contacts", &a.token).await,
        listed,
        "the default page holds all 7"
    );
    for f in &friends {
        assert_eq!(
            app.contacts_of(f).await,
            vec![contact_view(&a)],
            "{} sees only A",
            f.username
        );
    }
}

#[tokio::test]
async fn a_users_profile_is_public_fields_only_and_unknown_or_malformed_ids_are_refused() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let r = app
        .request(
            Method::PATCH,
            "/api/user",
            Body::Json(json!({ "email": "bala@example.com" })),
            Some(&b.token),
        )
        .await;
    assert_ok(&r, 200, "B sets an e-mail");

    let r = app.get(&format!("/api/users/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "A looks B up");
    assert_public_profile(&r.body, "GET /api/users/{id}");
    assert_eq!(
        r.body,
        public_part(&app.get("/api/user", &b.token).await.body),
        "B's public profile"
    );

    let unknown = UserId::new_random().to_string();
    assert_error(
        &app.get(&format!("/api/users/{unknown}"), &a.token).await,
        404,
        "user_not_found",
        "unknown id",
    );
    for bad in ["not-a-uuid", "123", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"] {
        assert_error(
            &app.get(&format!("/api/users/{bad}"), &a.token).await,
            400,
            "invalid_user_id",
            &format!("GET /api/users/{bad}"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_inputs_get_specific_4xx_errors_change_nothing_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    let d = app.sign_up(&phone(4), "dev").await;
    app.befriend(&a, &c).await;
    let ab = app.send_request(&a, &b).await;

    let everyone = [&a, &b, &c, &d];
    let mut before = Vec::new();
    for p in everyone {
        before.push((
            app.contacts_of(p).await,
            app.pending_of(p).await,
            app.sent_by(p).await,
        ));
    }

    let z36 = "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz";
    for (case, method, path, code) in [
        (
            "accept: non-UUID id",
            Method::POST,
            "/api/contacts/accept/not-a-uuid",
            "invalid_request_id",
        ),
        (
            "reject: non-UUID id",
            Method::POST,
            "/api/contacts/reject/not-a-uuid",
            "invalid_request_id",
        ),
        (
            "accept: 36 chars, not a UUID",
            Method::POST,
            &format!("/api/contacts/accept/{z36}"),
            "invalid_request_id",
        ),
        (
            "remove: non-UUID id",
            Method::DELETE,
            "/api/contacts/not-a-uuid",
            "invalid_user_id",
        ),
    ] {
        let r = app
            .request(method, path, Body::Json(json!({})), Some(&a.token))
            .await;
        assert_error(&r, 400, code, case);
    }

    for (case, body, code) in [
        (
            "non-UUID receiverId",
            Body::Json(json!({ "receiverId": "not-a-uuid" })),
            "invalid_user_id",
        ),
        (
            "receiverId a number",
            Body::Json(json!({ "receiverId": 42 })),
            "invalid_body",
        ),
        ("empty object", Body::Json(json!({})), "invalid_body"),
        (
            "receiverId null",
            Body::Json(json!({ "receiverId": null })),
            "invalid_body",
        ),
        (
            "receiverId and username",
            Body::Json(json!({ "receiverId": d.id, "username": "dev" })),
            "invalid_body",
        ),
        (
            "phoneNumber and username",
            Body::Json(json!({ "phoneNumber": d.phone, "username": "dev" })),
            "invalid_body",
        ),
        (
            "all three",
            Body::Json(json!({ "receiverId": d.id, "phoneNumber": d.phone, "username": "dev" })),
            "invalid_body",
        ),
        (
            "unknown field",
            Body::Json(json!({ "receiverId": d.id, "note": "hi" })),
            "invalid_body",
        ),
        ("a JSON array", Body::Json(json!([d.id])), "invalid_body"),
        (
            "malformed JSON",
            Body::Raw("{\"receiverId\":".into()),
            "malformed_json",
        ),
        ("no body", Body::Empty, "malformed_json"),
        (
            "bad phone",
            Body::Json(json!({ "phoneNumber": "call me" })),
            "invalid_phone_number",
        ),
        (
            "bad username",
            Body::Json(json!({ "username": "9lives" })),
            "invalid_username",
        ),
    ] {
        let r = app
            .request(Method::POST, "/api/contacts/request", body, Some(&a.token))
            .await;
        assert_error(
            &r,
            400,
            code,
            &format!("POST /api/contacts/request: {case}"),
        );
    }

    let long_query = format!("/api/users/search?query={}", "a".repeat(1024));
    for (case, path, code) in [
        ("empty query", "/api/users/search?query=", "invalid_query"),
        (
            "blank query",
            "/api/users/search?query=%20%20",
            "invalid_query",
        ),
        ("no query", "/api/users/search", "invalid_query"),
        ("1 KB query", &long_query, "invalid_query"),
        (
            "control character",
            "/api/users/search?query=ab%00c",
            "invalid_query",
        ),
        (
            "search limit=0",
            "/api/users/search?query=a&limit=0",
            "invalid_limit",
        ),
        (
            "search limit=21",
            "/api/users/search?query=a&limit=21",
            "invalid_limit",
        ),
        (
            "search limit=10000",
            "/api/users/search?query=a&limit=10000",
            "invalid_limit",
        ),
        (
            "search limit=-1",
            "/api/users/search?query=a&limit=-1",
            "invalid_limit",
        ),
        (
            "search limit=abc",
            "/api/users/search?query=a&limit=abc",
            "invalid_limit",
        ),
        (
            "search cursor=garbage",
            "/api/users/search?query=a&cursor=garbage",
            "invalid_cursor",
        ),
        ("contacts limit=0", "/api/contacts?limit=0", "invalid_limit"),
        (
            "contacts limit=10000",
            "/api/contacts?limit=10000",
            "invalid_limit",
        ),
        (
            "contacts cursor=garbage",
            "/api/contacts?cursor=garbage",
            "invalid_cursor",
        ),
        (
            "pending limit=0",
            "/api/contacts/requests/pending?limit=0",
            "invalid_limit",
        ),
        (
            "pending limit=10000",
            "/api/contacts/requests/pending?limit=10000",
            "invalid_limit",
        ),
        (
            "pending cursor=garbage",
            "/api/contacts/requests/pending?cursor=garbage",
            "invalid_cursor",
        ),
        (
            "sent limit=0",
            "/api/contacts/requests/sent?limit=0",
            "invalid_limit",
        ),
        (
            "sent limit=10000",
            "/api/contacts/requests/sent?limit=10000",
            "invalid_limit",
        ),
        (
            "sent cursor=garbage",
            "/api/contacts/requests/sent?cursor=garbage",
            "invalid_cursor",
        ),
    ] {
        assert_error(&app.get(path, &a.token).await, 400, code, case);
    }

    // A cursor handed out by one search is refused by a search for something else.
    let mut zs = Vec::new();
    for n in 0..3u32 {
        zs.push(app.sign_up(&phone(50 + n), &format!("zoya{n}")).await);
    }
    let r = app
        .get("/api/users/search?query=zoya&limit=1", &a.token)
        .await;
    let cursor = r.next_cursor().expect("a cursor after the first zoya");
    let r = app
        .get(
            &format!(
                "/api/users/search?query=asha&cursor={}",
                query_value(&cursor)
            ),
            &a.token,
        )
        .await;
    assert_error(&r, 400, "invalid_cursor", "a zoya cursor on an asha search");

    let request_id = ab.clone();
    let routes: Vec<(Method, String)> = vec![
        (Method::GET, "/api/users/search?query=bala".into()),
        (Method::GET, format!("/api/users/{}", b.id)),
        (Method::GET, "/api/contacts".into()),
        (Method::DELETE, format!("/api/contacts/{}", c.id)),
        (Method::POST, "/api/contacts/request".into()),
        (Method::GET, "/api/contacts/requests/pending".into()),
        (Method::GET, "/api/contacts/requests/sent".into()),
        (Method::POST, format!("/api/contacts/accept/{request_id}")),
        (Method::POST, format!("/api/contacts/reject/{request_id}")),
    ];
    for (method, path) in &routes {
        let body = if *method == Method::POST {
            Body::Json(json!({ "receiverId": d.id }))
        } else {
            Body::Empty
        };
        let case = format!("{method} {path} without a token");
        assert_error(
            &app.request(method.clone(), path, body, None).await,
            401,
            "missing_token",
            &case,
        );
        let body = if *method == Method::POST {
            Body::Json(json!({ "receiverId": d.id }))
        } else {
            Body::Empty
        };
        let r = app
            .request(method.clone(), path, body, Some("not.a.jwt"))
            .await;
        assert_eq!(
            r.status, 401,
            "{method} {path} with a forged token (body: {})",
            r.body
        );
    }

    for (p, (contacts, pending, sent)) in everyone.iter().zip(before) {
        assert_eq!(
            app.contacts_of(p).await,
            contacts,
            "{}'s contacts unchanged",
            p.username
        );
        assert_eq!(
            app.pending_of(p).await,
            pending,
            "{}'s pending unchanged",
            p.username
        );
        assert_eq!(
            app.sent_by(p).await,
            sent,
            "{}'s sent unchanged",
            p.username
        );
    }
    assert_eq!(app.events_for(&d), vec![], "D was never asked");

    // Still serving: the pending request can be accepted.
    let r = app.accept(&b, &ab).await;
    assert_ok(&r, 200, "B accepts after the bad inputs");
    app.assert_no_requests(&[&a, &b], "after the late accept")
        .await;
    assert_eq!(
        app.contacts_of(&b).await,
        vec![contact_view(&a)],
        "B's contacts"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. DynamoDB (moto)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn contact_journey_and_username_search_work_on_dynamodb_via_moto() {
    let app = spawn_app_on_moto().await;
    let a = app.sign_up(&phone(1), "Asha_M").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let r = app.request_contact(&a, json!({ "username": "BALA" })).await;
    assert_ok(&r, 201, "A requests B by username");
    assert_eq!(keys(&r.body), set_of(&REQUEST_KEYS), "{}", r.body);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["receiverId"], b.id);
    let request_id = str_field(&r.body, "id");
    let created = timestamp(&r.body["createdAt"], "createdAt");
    assert_error(
        &app.request_contact(&a, json!({ "phoneNumber": bare_phone(2) }))
            .await,
        409,
        "request_already_pending",
        "a second request on DynamoDB",
    );

    let pending = app.pending_of(&b).await;
    assert_eq!(
        ids(&pending),
        vec![request_id.clone()],
        "B's pending (index query)"
    );
    assert_eq!(pending[0]["sender"], a.profile, "B's pending shows A");
    let sent = app.sent_by(&a).await;
    assert_eq!(
        ids(&sent),
        vec![request_id.clone()],
        "A's sent (index query)"
    );
    assert_eq!(sent[0]["receiver"], b.profile, "A's sent shows B");

    let r = app.accept(&b, &request_id).await;
    assert_ok(&r, 200, "B accepts");
    assert_eq!(r.body["request"]["status"], "accepted");
    assert_eq!(r.body["contact"], contact_view(&a));
    let accepted_at = timestamp(&r.body["request"]["updatedAt"], "updatedAt");
    assert_error(
        &app.accept(&b, &request_id).await,
        409,
        "request_not_pending",
        "double accept on DynamoDB",
    );
    app.assert_only_contacts(&a, &b, "after accept on DynamoDB")
        .await;
    app.assert_no_requests(&[&a, &b], "after accept on DynamoDB")
        .await;
    assert_eq!(
        app.events_for(&b),
        vec![ServerFrame::Req(event(&request_id, &a, &b, created))]
    );
    assert_eq!(
        app.events_for(&a),
        vec![ServerFrame::ReqAcc(event(&request_id, &a, &b, accepted_at))]
    );

    assert_ok(
        &app.delete(&format!("/api/contacts/{}", b.id), &a.token)
            .await,
        204,
        "A removes B",
    );
    assert_eq!(
        app.contacts_of(&a).await,
        Vec::<Value>::new(),
        "A's contacts after remove"
    );
    assert_eq!(
        app.contacts_of(&b).await,
        Vec::<Value>::new(),
        "B's contacts after remove"
    );
    assert_error(
        &app.delete(&format!("/api/contacts/{}", a.id), &b.token)
            .await,
        404,
        "not_a_contact",
        "remove again",
    );
    let again = app.send_request(&a, &b).await;
    assert_ne!(again, request_id, "a new request after the removal");
    assert_ok(
        &app.reject(&b, &again).await,
        200,
        "B rejects the new request",
    );
    assert_eq!(
        app.sent_by(&a).await,
        Vec::<Value>::new(),
        "nothing pending after the rejection"
    );

    let mut motos = Vec::new();
    for n in 0..5u32 {
        let name = if n % 2 == 0 {
            format!("Moto{n}")
        } else {
            format!("moto{n}")
        };
        motos.push(app.sign_up(&phone(10 + n), &name).await);
    }
    app.sign_up(&phone(20), "mota").await;
    let pages = app
        .pages("/api/users/search?query=MOTO&limit=2", &a.token, Some(2))
        .await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2, 1], "5 motos in pages of 2");
    let want: Vec<Value> = motos.iter().map(|p| p.profile.clone()).collect();
    assert_eq!(
        pages.concat(),
        want,
        "every moto once, in username order, public fields only"
    );
    let me = &motos[2];
    let seen = ids(&app.all("/api/users/search?query=moto", &me.token).await);
    let others: Vec<String> = motos
        .iter()
        .filter(|p| p.id != me.id)
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(seen, others, "a matching caller never finds themself");
    for m in motos.iter().filter(|m| m.id != me.id) {
        app.befriend(m, me).await;
    }
    let contact_pages = app.pages("/api/contacts?limit=1", &me.token, Some(1)).await;
    assert_eq!(contact_pages.len(), 4, "4 contacts in pages of 1");
    let mut listed = ids(&contact_pages.concat());
    listed.sort();
    let mut want_ids = others.clone();
    want_ids.sort();
    assert_eq!(listed, want_ids, "every contact once, across pages");

    let r = app.search(&phone(13), &a.token).await;
    assert_ok(&r, 200, "phone search on DynamoDB");
    assert_eq!(
        r.items("phone search"),
        vec![motos[3].profile.clone()],
        "exact phone match"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crossing_requests_and_racing_settles_at_the_same_moment_leave_one_consistent_outcome() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;

    let (ab, ba) = tokio::join!(
        app.request_contact(&a, json!({ "receiverId": b.id })),
        app.request_contact(&b, json!({ "receiverId": a.id })),
    );
    let mut statuses = [ab.status, ba.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 201],
        "one request created, the other accepted it: {ab:?} / {ba:?}"
    );
    app.assert_only_contacts(&a, &b, "after crossing requests")
        .await;
    app.assert_no_requests(&[&a, &b], "after crossing requests")
        .await;

    let request_id = app.send_request(&c, &a).await;
    let (accept, reject) = tokio::join!(app.accept(&a, &request_id), app.reject(&a, &request_id));
    let outcomes = [accept.status, reject.status];
    assert!(
        outcomes == [200, 409] || outcomes == [409, 200],
        "exactly one of accept and reject wins: {accept:?} / {reject:?}"
    );
    let loser = if accept.status == 409 {
        &accept
    } else {
        &reject
    };
    assert_error(loser, 409, "request_not_pending", "the losing settle");
    let a_contacts = ids(&app.contacts_of(&a).await);
    if accept.status == 200 {
        assert_eq!(
            app.contacts_of(&c).await,
            vec![contact_view(&a)],
            "accept won: C has A"
        );
        assert!(a_contacts.contains(&c.id), "accept won: A has C");
    } else {
        assert_eq!(
            app.contacts_of(&c).await,
            Vec::<Value>::new(),
            "reject won: C has nobody"
        );
        assert_eq!(a_contacts, vec![b.id.clone()], "reject won: A has only B");
    }
    assert_eq!(
        app.pending_of(&a).await,
        Vec::<Value>::new(),
        "nothing left pending"
    );
}
