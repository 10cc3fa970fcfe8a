//! End-to-end: sending, history, the chat list, receipts, the send rate limit and the signed
//! webhook through the real local gateway on 127.0.0.1:0, driven over HTTP with reqwest as a
//! client would. Memory backend on a manual clock, plus one journey on the DynamoDB and SQS
//! adapters of a moto server (`make test` starts one).

mod common;

use chrono::TimeDelta;
use common::{
    Body, Person, Reply, TestApp, WEBHOOK_SECRET, assert_error, assert_message, assert_ok,
    config_with_webhook, hex, ids, keys, millis, query_value, set_of, signature,
    spawn_app_on_moto_with, spawn_app_with, str_field,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use whatspe::config::{ENV_SEND_BURST, ENV_SEND_RATE_PER_SECOND, ENV_SEND_RETRY_BUDGET_MS};
use whatspe::domain::{ConversationId, MessageId, MessageKind, MessageStatus, UserId, Username};
use whatspe::frames::{MessageEvent, ReceiptEvent, ServerFrame};
use whatspe::ports::{DeliveryJob, PushNote};
use whatspe_local::Options;

const CHAT_KEYS: [&str; 6] = [
    "chatId",
    "kind",
    "peer",
    "lastMessage",
    "unreadCount",
    "updatedAt",
];
const RECEIPT_KEYS: [&str; 3] = ["peerId", "deliveredUpTo", "readUpTo"];

/// A message id later than any message a test sends (UUIDv7 at the end of time).
const FAR_FUTURE_ID: &str = "ffffffff-ffff-7fff-bfff-ffffffffffff";
/// A message id earlier than any message a test sends.
const ANCIENT_ID: &str = "00000000-0000-7000-8000-000000000001";
// ---------------------------------------------------------------------------------------------
// Harness (the shared part is in `common`)
// ---------------------------------------------------------------------------------------------

/// The gateway on in-memory stores with the known webhook key, on a manual clock.
async fn spawn_app() -> TestApp {
    spawn_app_with(config_with_webhook(&[]), Options::default()).await
}

/// The gateway on the AWS adapters of the moto server, with a fresh table (and queue) prefix;
/// also the SDK configuration and the prefix, to look at the queue directly.
async fn spawn_app_on_moto() -> (TestApp, aws_config::SdkConfig, String) {
    // The SQS event source is off so that the test reads the jobs off the real queue
    // (the real-time tests follow them through `push` to WebSocket clients).
    spawn_app_on_moto_with(
        config_with_webhook(&[]),
        "m",
        Options {
            event_source: false,
            ..Default::default()
        },
    )
    .await
}

/// An Indian mobile number unique to `n`, in E.164.
fn phone(n: u32) -> String {
    format!("+91989100{n:04}")
}
fn statuses(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| str_field(v, "status")).collect()
}

fn user_id(s: &str) -> UserId {
    UserId::parse(s).unwrap_or_else(|e| panic!("{s:?} is not a user id: {e}"))
}

fn message_id(s: &str) -> MessageId {
    MessageId::parse(s).unwrap_or_else(|e| panic!("{s:?} is not a message id: {e}"))
}

/// The delivery job a message (as the API returned it) of `sender` must have queued: the `MSG`
/// frame to the receiver and the sender's other devices, a mobile push to the receiver only,
/// saying who wrote and where, never what.
fn msg_job(m: &Value, sender: &Person) -> DeliveryJob {
    let (s, r) = (
        user_id(&str_field(m, "senderId")),
        user_id(&str_field(m, "receiverId")),
    );
    let t: MessageKind = serde_json::from_value(m["type"].clone()).expect("a message type");
    DeliveryJob {
        to: vec![r, s],
        push: vec![r],
        frame: ServerFrame::Msg(MessageEvent {
            g: None,
            id: message_id(&str_field(m, "id")),
            s,
            r,
            c: str_field(m, "content"),
            t,
            st: MessageStatus::Sent,
            ts: common::timestamp(&m["createdAt"], "createdAt"),
            more: false,
            mid: None,
            cap: None,
            th: None,
            q: None,
            fw: false,
        }),
        note: Some(PushNote {
            chat_id: ConversationId::parse(&str_field(m, "chatId")).expect("a chat id"),
            message_id: message_id(&str_field(m, "id")),
            sender_name: Username::parse(&sender.username).expect("a username"),
        }),
        fanout: None,
    }
}

/// `READ {p: reader, upTo}` to the other member.
fn read_job(to: &Person, reader: &Person, up_to: &str) -> DeliveryJob {
    DeliveryJob {
        to: vec![user_id(&to.id)],
        push: vec![],
        frame: ServerFrame::Read(ReceiptEvent {
            g: None,
            p: user_id(&reader.id),
            up_to: message_id(up_to),
        }),
        note: None,
        fanout: None,
    }
}

/// `DLV {p: recipient, upTo}` to the other member.
fn dlv_job(to: &Person, recipient: &Person, up_to: &str) -> DeliveryJob {
    DeliveryJob {
        to: vec![user_id(&to.id)],
        push: vec![],
        frame: ServerFrame::Dlv(ReceiptEvent {
            g: None,
            p: user_id(&recipient.id),
            up_to: message_id(up_to),
        }),
        note: None,
        fanout: None,
    }
}

/// A receipt response: the caller's cursors in the conversation with `peer`.
fn receipt(peer: &Person, delivered: Option<&str>, read: Option<&str>) -> Value {
    json!({ "peerId": peer.id, "deliveredUpTo": delivered, "readUpTo": read })
}

impl TestApp {
    fn advance(&self, seconds: i64) {
        self.clock().advance(TimeDelta::seconds(seconds));
    }

    /// The messaging API's delivery jobs (contact-request and presence events, which also
    /// travel through the queue, are the contacts and real-time tests' business), once the
    /// relay has queued every message committed so far.
    async fn jobs(&self) -> Vec<DeliveryJob> {
        self.stream.drained().await;
        self.queue
            .jobs()
            .into_iter()
            .filter(|j| {
                !matches!(
                    j.frame,
                    ServerFrame::Req(_) | ServerFrame::ReqAcc(_) | ServerFrame::Pres(_)
                )
            })
            .collect()
    }

    async fn send_body(&self, from: &Person, body: Value) -> Reply {
        self.post("/api/messages", body, &from.token).await
    }

    async fn history(&self, who: &Person, peer: &Person, query: &str) -> Reply {
        self.get(&format!("/api/messages/{}{query}", peer.id), &who.token)
            .await
    }

    /// One page of history that must succeed.
    async fn history_ok(&self, who: &Person, peer: &Person, query: &str) -> (Vec<Value>, Reply) {
        let r = self.history(who, peer, query).await;
        let case = format!(
            "{} reads history with {}{query}",
            who.username, peer.username
        );
        assert_ok(&r, 200, &case);
        (r.items(&case), r)
    }

    /// The whole of `who`'s chat list (one page: the tests have few conversations).
    async fn chats_of(&self, who: &Person) -> Vec<Value> {
        let r = self.get("/api/chats", &who.token).await;
        let case = format!("{}'s chats", who.username);
        assert_ok(&r, 200, &case);
        assert_eq!(r.next_cursor(), None, "{case}: one page");
        let items = r.items(&case);
        for chat in &items {
            assert_eq!(
                keys(chat),
                set_of(&CHAT_KEYS),
                "{case}: chat keys of {chat}"
            );
            assert_eq!(chat["kind"], "direct", "{case}: a 1:1 chat");
        }
        items
    }

    async fn receipt(&self, kind: &str, who: &Person, peer: &Person, up_to: &str) -> Reply {
        self.post(
            &format!("/api/messages/{kind}"),
            json!({ "peerId": peer.id, "upTo": up_to }),
            &who.token,
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A conversation, as both people see it
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_conversation_is_queued_listed_and_read_as_both_people_see_it() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    assert_eq!(
        app.jobs().await,
        vec![],
        "no delivery job before any message"
    );

    let mut sent = Vec::new();
    for content in ["hi bala", "are you there?", "call me 🙂"] {
        sent.push(app.send_ok(&a, &b, content).await);
    }
    assert_eq!(sent[0]["type"], "text", "type defaults to text");
    assert_eq!(sent[0]["clientMessageId"], Value::Null);
    let sent_ids = ids(&sent);
    assert!(
        sent_ids.windows(2).all(|w| w[0] < w[1]),
        "ids sort by send time: {sent_ids:?}"
    );

    let jobs = app.jobs().await;
    let want: Vec<DeliveryJob> = sent.iter().map(|m| msg_job(m, &a)).collect();
    assert_eq!(jobs, want, "one MSG job per message, to [B, A], push to B");
    let frame = serde_json::to_value(&jobs[2].frame).expect("frame JSON");
    assert_eq!(frame["t"], "MSG", "{frame}");
    assert_eq!(
        keys(&frame["d"]),
        set_of(&["id", "s", "r", "c", "t", "st", "ts"]),
        "the compact MSG frame: {frame}"
    );
    assert_eq!(frame["d"]["c"], "call me 🙂");
    assert_eq!(frame["d"]["st"], "sent");

    let chats = app.chats_of(&b).await;
    assert_eq!(chats.len(), 1, "B has one conversation: {chats:?}");
    assert_eq!(
        as_contact_sees(&chats[0]["peer"]),
        a.profile,
        "B's chat shows A's public profile, with the last seen a contact sees"
    );
    assert_eq!(chats[0]["lastMessage"], sent[2], "the newest message");
    assert_eq!(chats[0]["unreadCount"], 3, "three unread");
    assert_eq!(
        millis(&chats[0]["updatedAt"], "updatedAt"),
        millis(&sent[2]["createdAt"], "createdAt"),
        "the chat moved with its last message"
    );
    let a_chats = app.chats_of(&a).await;
    assert_eq!(a_chats.len(), 1, "A has one conversation");
    assert_eq!(as_contact_sees(&a_chats[0]["peer"]), b.profile);
    assert_eq!(a_chats[0]["unreadCount"], 0, "A sent everything");
    assert_eq!(
        a_chats[0]["chatId"], chats[0]["chatId"],
        "one conversation, whoever looks"
    );

    let (page, r) = app.history_ok(&b, &a, "").await;
    assert_eq!(r.next_cursor(), None, "everything fits one page");
    let mut newest_first = sent_ids.clone();
    newest_first.reverse();
    assert_eq!(ids(&page), newest_first, "B sees the messages newest first");
    assert_eq!(
        statuses(&page),
        vec!["read"; 3],
        "B has now read them all: {page:?}"
    );
    for (m, s) in page.iter().zip(sent.iter().rev()) {
        assert_message(
            m,
            &a,
            &b,
            s["content"].as_str().unwrap_or_default(),
            "read",
            "B's history",
        );
        assert_eq!(m["createdAt"], s["createdAt"], "createdAt as sent");
    }
    let mut want = want;
    want.push(read_job(&a, &b, &sent_ids[2]));
    assert_eq!(
        app.jobs().await,
        want,
        "looking tells A: READ {{p: B, upTo: 3rd}}"
    );

    let chats = app.chats_of(&b).await;
    assert_eq!(chats[0]["unreadCount"], 0, "nothing unread for B");
    assert_eq!(chats[0]["lastMessage"]["status"], "read");

    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(ids(&page), newest_first, "A sees the same messages");
    assert_eq!(statuses(&page), vec!["read"; 3], "A sees B read all three");
    let a_chats = app.chats_of(&a).await;
    assert_eq!(a_chats[0]["lastMessage"]["id"], sent_ids[2]);
    assert_eq!(
        a_chats[0]["lastMessage"]["status"], "read",
        "A's chat list shows the blue ticks"
    );

    app.history_ok(&b, &a, "").await;
    assert_eq!(
        app.jobs().await,
        want,
        "looking again at a read conversation writes and tells nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Delivery and read receipts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delivery_and_read_receipts_move_monotonic_cursors_that_statuses_follow() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let m1 = str_field(&app.send_ok(&a, &b, "one").await, "id");
    let m2 = str_field(&app.send_ok(&a, &b, "two").await, "id");
    let a_sees = |page: &[Value]| -> Vec<(String, String)> {
        page.iter()
            .map(|m| (str_field(m, "content"), str_field(m, "status")))
            .collect()
    };
    let pair = |c: &str, s: &str| (c.to_owned(), s.to_owned());

    let r = app.receipt("delivered", &b, &a, &m2).await;
    assert_ok(&r, 200, "B: delivered up to the 2nd");
    assert_eq!(keys(&r.body), set_of(&RECEIPT_KEYS));
    assert_eq!(r.body, receipt(&a, Some(&m2), None));
    let mut want_jobs = app.jobs().await;
    assert_eq!(want_jobs.len(), 3, "two MSG jobs and one DLV job");
    assert_eq!(
        want_jobs.last(),
        Some(&dlv_job(&a, &b, &m2)),
        "A is told: DLV {{p: B, upTo: 2nd}}"
    );
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(
        a_sees(&page),
        vec![pair("two", "delivered"), pair("one", "delivered")],
        "A sees both delivered"
    );

    let r = app.receipt("read", &b, &a, &m1).await;
    assert_ok(&r, 200, "B: read up to the 1st");
    assert_eq!(r.body, receipt(&a, Some(&m2), Some(&m1)));
    want_jobs.push(read_job(&a, &b, &m1));
    assert_eq!(
        app.jobs().await,
        want_jobs,
        "A is told: READ {{p: B, upTo: 1st}}"
    );
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(
        a_sees(&page),
        vec![pair("two", "delivered"), pair("one", "read")],
        "A sees the 1st read, the 2nd delivered"
    );
    assert_eq!(
        app.chats_of(&b).await[0]["unreadCount"],
        1,
        "one left unread for B"
    );

    for (kind, up_to, case) in [
        ("read", m1.as_str(), "read again up to the 1st"),
        ("read", ANCIENT_ID, "read up to an id older than both"),
        ("delivered", m1.as_str(), "delivered up to the 1st"),
        ("delivered", m2.as_str(), "delivered up to the 2nd again"),
        ("delivered", ANCIENT_ID, "delivered up to an ancient id"),
    ] {
        let r = app.receipt(kind, &b, &a, up_to).await;
        assert_ok(&r, 200, case);
        assert_eq!(
            r.body,
            receipt(&a, Some(&m2), Some(&m1)),
            "{case}: cursors never move back"
        );
    }
    assert_eq!(
        app.jobs().await,
        want_jobs,
        "a receipt that moves nothing tells nobody"
    );
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(
        a_sees(&page),
        vec![pair("two", "delivered"), pair("one", "read")],
        "statuses unchanged by lower receipts"
    );
    assert_eq!(app.chats_of(&b).await[0]["unreadCount"], 1);

    let r = app.receipt("read", &b, &a, FAR_FUTURE_ID).await;
    assert_ok(&r, 200, "read up to an id beyond the last message");
    assert_eq!(
        r.body,
        receipt(&a, Some(&m2), Some(&m2)),
        "clamped to the newest message"
    );
    want_jobs.push(read_job(&a, &b, &m2));
    assert_eq!(
        app.jobs().await,
        want_jobs,
        "READ upTo the newest, not beyond"
    );
    assert_eq!(app.chats_of(&b).await[0]["unreadCount"], 0);

    // The clamp matters: a message sent after the receipt is not covered by it.
    let m3 = str_field(&app.send_ok(&a, &b, "three").await, "id");
    let r = app.receipt("delivered", &b, &a, FAR_FUTURE_ID).await;
    assert_ok(&r, 200, "delivered up to an id beyond the last message");
    assert_eq!(
        r.body,
        receipt(&a, Some(&m3), Some(&m2)),
        "clamped to the 3rd"
    );
    app.send_ok(&a, &b, "four").await;
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(
        a_sees(&page),
        vec![
            pair("four", "sent"),
            pair("three", "delivered"),
            pair("two", "read"),
            pair("one", "read"),
        ],
        "the 3rd delivered by the clamped receipt, the 4th only sent"
    );
    let chats = app.chats_of(&b).await;
    assert_eq!(chats[0]["unreadCount"], 2, "the 3rd and the 4th are unread");
    assert_eq!(
        app.chats_of(&a).await[0]["lastMessage"]["status"],
        "sent",
        "A's chat list shows the 4th as only sent"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Idempotent sends
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_retried_send_returns_the_original_message_and_a_reused_id_with_other_content_is_409() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;

    let body = json!({
        "receiverId": b.id,
        "content": "lunch at 1?",
        "type": "text",
        "clientMessageId": "msg-0001",
        "status": "read",
    });
    let first = app.send_body(&a, body.clone()).await;
    assert_ok(&first, 201, "the first send");
    assert_message(&first.body, &a, &b, "lunch at 1?", "sent", "the first send");
    assert_eq!(
        first.body["status"], "sent",
        "the client's status is ignored"
    );
    assert_eq!(first.body["clientMessageId"], "msg-0001");

    let retry = app.send_body(&a, body.clone()).await;
    assert_ok(&retry, 200, "the retry");
    assert_eq!(
        retry.body, first.body,
        "the retry returns the original message"
    );

    let other = json!({
        "receiverId": b.id,
        "content": "dinner at 8?",
        "clientMessageId": "msg-0001",
    });
    assert_error(
        &app.send_body(&a, other).await,
        409,
        "idempotency_key_reused",
        "same clientMessageId, other content",
    );
    let other_type = json!({
        "receiverId": b.id,
        "mediaId": app.upload_png(&a, PNG_HEADER.to_vec()).await,
        "type": "image",
        "clientMessageId": "msg-0001",
    });
    assert_error(
        &app.send_body(&a, other_type).await,
        409,
        "idempotency_key_reused",
        "same clientMessageId, other type and content",
    );
    let other_receiver = json!({
        "receiverId": c.id,
        "content": "lunch at 1?",
        "clientMessageId": "msg-0001",
    });
    assert_error(
        &app.send_body(&a, other_receiver).await,
        409,
        "idempotency_key_reused",
        "same clientMessageId and content, other receiver",
    );

    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(
        ids(&page),
        vec![str_field(&first.body, "id")],
        "one message in the history"
    );
    assert_eq!(
        app.jobs().await,
        vec![msg_job(&first.body, &a)],
        "one MSG job, whatever the retries"
    );
    assert_eq!(app.chats_of(&c).await, Vec::<Value>::new(), "C got nothing");

    // Keys are per sender: B may use the same one.
    let r = app
        .send_body(
            &b,
            json!({ "receiverId": a.id, "content": "lunch at 1?", "clientMessageId": "msg-0001" }),
        )
        .await;
    assert_ok(&r, 201, "B's own msg-0001");
    assert_ne!(r.body["id"], first.body["id"], "a different message");

    // A retry after the message was read returns it as it now is.
    app.history_ok(&b, &a, "").await;
    let late = app.send_body(&a, body).await;
    assert_ok(&late, 200, "a late retry");
    assert_eq!(late.body["id"], first.body["id"], "still the original");
    assert_eq!(late.body["content"], "lunch at 1?");
    assert_eq!(late.body["status"], "read", "with its current status");
    assert_eq!(
        app.jobs()
            .await
            .iter()
            .filter(|j| matches!(j.frame, ServerFrame::Msg(_)))
            .count(),
        2,
        "A's message and B's: no MSG job for a retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_send_racing_with_itself_creates_one_message() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let body = json!({ "receiverId": b.id, "content": "once", "clientMessageId": "race-1" });
    let (r1, r2, r3, r4) = tokio::join!(
        app.send_body(&a, body.clone()),
        app.send_body(&a, body.clone()),
        app.send_body(&a, body.clone()),
        app.send_body(&a, body.clone()),
    );
    let replies = [r1, r2, r3, r4];
    let mut codes: Vec<u16> = replies.iter().map(|r| r.status).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![200, 200, 200, 201],
        "one created, three replayed: {replies:?}"
    );
    let created = replies
        .iter()
        .find(|r| r.status == 201)
        .map(|r| r.body.clone())
        .unwrap_or_default();
    for r in &replies {
        assert_eq!(
            r.body["id"], created["id"],
            "every racer gets the one message"
        );
    }
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(ids(&page), vec![str_field(&created, "id")], "stored once");
    assert_eq!(app.jobs().await, vec![msg_job(&created, &a)], "queued once");
}

#[tokio::test]
async fn the_chat_list_is_most_recent_first_and_pages_by_cursor() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    let d = app.sign_up(&phone(4), "dev").await;
    for p in [&b, &c, &d] {
        app.befriend(&a, p).await;
    }
    app.send_ok(&a, &b, "to bala").await;
    app.send_ok(&a, &c, "to chitra").await;
    app.send_ok(&a, &d, "to dev").await;
    let last = app.send_ok(&b, &a, "from bala").await;

    let chats = app.chats_of(&a).await;
    let peers: Vec<Value> = chats.iter().map(|c| as_contact_sees(&c["peer"])).collect();
    assert_eq!(
        peers,
        vec![b.profile.clone(), d.profile.clone(), c.profile.clone()],
        "a new message moves its chat to the top"
    );
    assert_eq!(
        chats[0]["lastMessage"], last,
        "B's reply is the last message"
    );
    let unread: Vec<Value> = chats.iter().map(|c| c["unreadCount"].clone()).collect();
    assert_eq!(unread, vec![json!(1), json!(0), json!(0)]);

    let mut paged = Vec::new();
    let mut path = "/api/chats?limit=2".to_owned();
    loop {
        let r = app.get(&path, &a.token).await;
        assert_ok(&r, 200, &path);
        let items = r.items(&path);
        assert!(
            items.len() <= 2,
            "{path}: at most 2 chats, got {}",
            items.len()
        );
        paged.extend(items);
        match r.next_cursor() {
            Some(cursor) => path = format!("/api/chats?limit=2&cursor={}", query_value(&cursor)),
            None => break,
        }
        assert!(paged.len() <= 10, "the chat cursors never end");
    }
    assert_eq!(
        paged, chats,
        "the pages add up to the list, in order, once each"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Who may message whom
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn only_contacts_may_message_and_a_refused_send_stores_nothing() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    // A pending request does not make contacts.
    let r = app
        .post(
            "/api/contacts/request",
            json!({ "receiverId": c.id }),
            &a.token,
        )
        .await;
    assert_ok(&r, 201, "A asks C");

    assert_error(
        &app.send(&a, &b, "hello stranger").await,
        403,
        "not_a_contact",
        "A to B, strangers",
    );
    assert_error(
        &app.send(&a, &c, "hello?").await,
        403,
        "not_a_contact",
        "A to C, request still pending",
    );
    assert_error(
        &app.send(&c, &a, "hello?").await,
        403,
        "not_a_contact",
        "C to A, request still pending",
    );
    let nobody = UserId::new_random().to_string();
    assert_error(
        &app.send_body(&a, json!({ "receiverId": nobody, "content": "hi" }))
            .await,
        404,
        "user_not_found",
        "a receiver that does not exist",
    );
    assert_error(
        &app.send(&a, &a, "note to self").await,
        400,
        "cannot_message_self",
        "A to A",
    );

    for p in [&a, &b, &c] {
        assert_eq!(
            app.chats_of(p).await,
            Vec::<Value>::new(),
            "{}'s chats stay empty",
            p.username
        );
    }
    let (page, _) = app.history_ok(&b, &a, "").await;
    assert_eq!(page, Vec::<Value>::new(), "no history between A and B");
    assert_eq!(app.jobs().await, vec![], "nothing queued");
    assert_error(
        &app.receipt("read", &b, &a, ANCIENT_ID).await,
        404,
        "conversation_not_found",
        "no conversation was created",
    );

    app.befriend(&a, &b).await;
    let m = app.send_ok(&a, &b, "hello friend").await;
    assert_eq!(
        app.jobs().await,
        vec![msg_job(&m, &a)],
        "once contacts, the send goes through"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. History pages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn history_pages_backwards_and_forwards_by_message_id_without_gaps_or_duplicates() {
    let app = spawn_app_with(
        config_with_webhook(&[(ENV_SEND_BURST, "100000")]),
        Options::default(),
    )
    .await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut sent = Vec::new();
    for n in 0..250 {
        let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let r = app.send(from, to, &format!("message {n}")).await;
        assert_ok(&r, 201, &format!("message {n}"));
        sent.push(str_field(&r.body, "id"));
    }
    assert!(
        sent.windows(2).all(|w| w[0] < w[1]),
        "ids ascend in send order"
    );

    // Backwards from the newest.
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut query = "?limit=100".to_owned();
    loop {
        let (page, r) = app.history_ok(&a, &b, &query).await;
        pages.push(page);
        match r.next_cursor() {
            Some(cursor) => query = format!("?before={cursor}&limit=100"),
            None => break,
        }
        assert!(pages.len() <= 5, "the before-cursors never end");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 100, 50], "250 messages in pages of 100");
    let backwards = ids(&pages.concat());
    let mut want = sent.clone();
    want.reverse();
    assert_eq!(backwards, want, "every message once, newest first, no gap");
    let contents: Vec<String> = pages
        .concat()
        .iter()
        .map(|m| str_field(m, "content"))
        .collect();
    assert_eq!(contents[0], "message 249");
    assert_eq!(contents[249], "message 0");
    for (n, m) in pages.concat().iter().rev().enumerate() {
        let from = if n % 2 == 0 { &a.id } else { &b.id };
        assert_eq!(&m["senderId"], from, "message {n}'s sender");
    }

    // The default page is 50.
    let (page, r) = app.history_ok(&b, &a, "").await;
    assert_eq!(ids(&page), want[..50].to_vec(), "the newest 50 by default");
    assert_eq!(r.next_cursor().as_deref(), Some(want[49].as_str()));

    // Forwards from the oldest.
    let mut forward = Vec::new();
    let mut sizes = Vec::new();
    let mut query = format!("?after={}&limit=100", sent[0]);
    loop {
        let (page, r) = app.history_ok(&a, &b, &query).await;
        sizes.push(page.len());
        forward.extend(ids(&page));
        match r.next_cursor() {
            Some(cursor) => query = format!("?after={cursor}&limit=100"),
            None => break,
        }
        assert!(sizes.len() <= 5, "the after-cursors never end");
    }
    assert_eq!(sizes, vec![100, 100, 49], "the 249 after the oldest");
    assert_eq!(
        forward,
        sent[1..].to_vec(),
        "the rest, oldest first, no gap"
    );

    let (page, r) = app
        .history_ok(&a, &b, &format!("?after={}", sent[249]))
        .await;
    assert_eq!(page, Vec::<Value>::new(), "nothing after the newest");
    assert_eq!(r.next_cursor(), None);
    let (page, r) = app
        .history_ok(&a, &b, &format!("?before={}", sent[0]))
        .await;
    assert_eq!(page, Vec::<Value>::new(), "nothing before the oldest");
    assert_eq!(r.next_cursor(), None);
    let (page, _) = app
        .history_ok(&a, &b, &format!("?after={}&limit=1", sent[100]))
        .await;
    assert_eq!(
        ids(&page),
        vec![sent[101].clone()],
        "catch-up from a middle id"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Send rate limit
// ---------------------------------------------------------------------------------------------

fn retry_after(r: &Reply, case: &str) -> i64 {
    let v = r
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{case}: a Retry-After header"))
        .to_str()
        .expect("Retry-After is ASCII");
    let secs: i64 = v
        .parse()
        .unwrap_or_else(|_| panic!("{case}: Retry-After {v:?} is a whole number of seconds"));
    assert!(secs >= 1, "{case}: Retry-After {secs} is at least 1");
    secs
}

#[tokio::test]
async fn a_burst_beyond_the_send_limit_gets_429_with_retry_after_and_honouring_it_gets_every_message_through()
 {
    let app = spawn_app_with(
        config_with_webhook(&[(ENV_SEND_BURST, "5"), (ENV_SEND_RATE_PER_SECOND, "2")]),
        Options::default(),
    )
    .await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;

    for n in 1..=5 {
        app.send_ok(&a, &b, &format!("burst {n}")).await;
    }
    let r = app.send(&a, &b, "burst 6").await;
    assert_error(&r, 429, "rate_limited", "the 6th at once");
    let wait = retry_after(&r, "the 6th at once");
    assert!(wait <= 60, "Retry-After {wait} is a sensible wait");
    assert_eq!(app.jobs().await.len(), 5, "the refused send queued nothing");
    assert_eq!(
        app.history_ok(&a, &b, "").await.0.len(),
        5,
        "and stored nothing"
    );

    // The limit is per sender.
    app.send_ok(&b, &a, "slow down!").await;

    app.advance(wait);
    app.send_ok(&a, &b, "burst 6").await;

    // A client that honours Retry-After gets everything through, in order.
    let mut refused = 0;
    for n in 7..=30 {
        let content = format!("burst {n}");
        loop {
            let r = app.send(&a, &b, &content).await;
            if r.status == 429 {
                assert_error(&r, 429, "rate_limited", &content);
                refused += 1;
                assert!(refused <= 100, "Retry-After never lets the sender through");
                app.advance(retry_after(&r, &content));
                continue;
            }
            assert_ok(&r, 201, &content);
            break;
        }
    }
    assert!(refused > 0, "24 more sends hit the limit at least once");
    let (page, _) = app.history_ok(&b, &a, "").await;
    let from_a: Vec<String> = page
        .iter()
        .rev()
        .filter(|m| m["senderId"] == a.id)
        .map(|m| str_field(m, "content"))
        .collect();
    let want: Vec<String> = (1..=30).map(|n| format!("burst {n}")).collect();
    assert_eq!(from_a, want, "every message once, in order");
}

/// How many sends an outbox flush fires at once in the contention tests.
const PARALLEL_SENDS: usize = 50;

/// A phone flushing its offline outbox: [`PARALLEL_SENDS`] sends from A to B at once, each a
/// REST call on its own tokio task. Every one is created (the conversation-row races are
/// retried inside the request), B has each message once and as many unread. Returns the time
/// the whole flush took.
async fn an_outbox_flush_lands_every_message(app: &TestApp) -> Duration {
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..PARALLEL_SENDS)
        .map(|n| {
            let request = app
                .client
                .post(format!("{}/api/messages", app.base_url))
                .bearer_auth(&a.token)
                .json(&json!({
                    "receiverId": b.id,
                    "content": format!("outbox {n}"),
                    "clientMessageId": format!("outbox-{n}"),
                }));
            tokio::spawn(async move {
                let res = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("send {n}: no answer: {e}"));
                (n, Reply::read(res).await)
            })
        })
        .collect();
    let mut sent = BTreeSet::new();
    for task in tasks {
        let (n, r) = task.await.expect("the send task");
        let content = format!("outbox {n}");
        assert_ok(&r, 201, &content);
        assert_message(&r.body, &a, &b, &content, "sent", &content);
        sent.insert(str_field(&r.body, "id"));
    }
    let took = started.elapsed();
    assert_eq!(
        sent.len(),
        PARALLEL_SENDS,
        "{PARALLEL_SENDS} distinct messages"
    );

    let chats = app.chats_of(&b).await;
    assert_eq!(chats.len(), 1, "B has one conversation: {chats:?}");
    assert_eq!(
        chats[0]["unreadCount"], PARALLEL_SENDS,
        "each message counted unread once"
    );
    let (page, _) = app
        .history_ok(&b, &a, &format!("?limit={}", PARALLEL_SENDS + 10))
        .await;
    let stored: BTreeSet<String> = ids(&page).into_iter().collect();
    assert_eq!(page.len(), PARALLEL_SENDS, "no message stored twice");
    assert_eq!(stored, sent, "B's history holds exactly the sent messages");
    let newest = page.first().map(|m| str_field(m, "id"));
    assert_eq!(
        chats[0]["lastMessage"]["id"].as_str(),
        newest.as_deref(),
        "the chat's last message is the newest one stored"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_sends_into_one_conversation_are_all_created() {
    let app = spawn_app_with(
        config_with_webhook(&[(ENV_SEND_BURST, "1000")]),
        Options::default(),
    )
    .await;
    an_outbox_flush_lands_every_message(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_sends_into_one_conversation_are_all_created_on_dynamodb_via_moto() {
    // moto isolates transactions only by handling DynamoDB requests one at a time
    // (scripts/moto_server.py), about ten commits a second (DynamoDB: tens of milliseconds
    // each), so the last of 50 sends needs longer than the Lambda's 5 s retry budget.
    let (app, _, _) = common::spawn_app_on_moto_with(
        config_with_webhook(&[
            (ENV_SEND_BURST, "1000"),
            (ENV_SEND_RETRY_BUDGET_MS, "30000"),
        ]),
        "m",
        Options {
            event_source: false,
            ..Default::default()
        },
    )
    .await;
    let took = an_outbox_flush_lands_every_message(&app).await;
    eprintln!("{PARALLEL_SENDS} parallel sends on moto took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// 7. Signed webhook
// ---------------------------------------------------------------------------------------------

/// A webhook call that must be refused: case, body, headers, error code.
type WebhookCase<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a str);

#[tokio::test]
async fn signed_webhook_messages_are_stored_once_and_bad_signatures_or_stale_timestamps_are_401() {
    let app = spawn_app().await;
    let b = app.sign_up(&phone(2), "bala").await;
    let shop = app.sign_up(&phone(9), "shopbot").await;
    let webhook_body = |id: &str, sender: &str, receiver: &str, content: &str| {
        json!({ "id": id, "senderId": sender, "receiverId": receiver, "content": content, "type": "text" })
            .to_string()
    };
    let body = webhook_body("order-42", &shop.id, &b.id, "Your order has shipped");

    let r = app.signed_webhook(&body).await;
    assert_ok(&r, 201, "a signed webhook between non-contacts");
    assert_eq!(
        keys(&r.body),
        set_of(&["success", "message"]),
        "the seed's {{success}} with the message beside it: {}",
        r.body
    );
    assert_eq!(r.body["success"], true, "the seed's success flag");
    assert_message(
        &r.body["message"],
        &shop,
        &b,
        "Your order has shipped",
        "sent",
        "the webhook message",
    );
    let first = r.body["message"].clone();
    assert_eq!(
        app.jobs().await,
        vec![msg_job(&first, &shop)],
        "delivered like any message"
    );

    app.advance(30);
    let r = app.signed_webhook(&body).await;
    assert_ok(&r, 200, "the same external id again");
    assert_eq!(r.body["success"], true, "a retry succeeds too");
    assert_eq!(r.body["message"]["id"], first["id"], "the same message");
    assert_error(
        &app.signed_webhook(&webhook_body("order-42", &shop.id, &b.id, "Cancelled"))
            .await,
        409,
        "idempotency_key_reused",
        "the same external id with other content",
    );

    let now = app.now_secs();
    let key = WEBHOOK_SECRET.as_bytes();
    let good_sig = signature(key, now, &body);
    let other = webhook_body("order-43", &shop.id, &b.id, "Forged");
    let other_sig = signature(key, now, &other);
    let wrong_key = signature(b"some-other-secret-0123456789abcdef0123", now, &other);
    let tag = other_sig.split_once(",v1=").unwrap().1.to_owned();
    let body_only = format!(
        "sha256={}",
        hex(&whatspe::crypto::hmac_sha256(key, other.as_bytes()))
    );
    let sig = |s: &str| vec![("x-whatspe-signature", s.to_owned())];
    let cases: Vec<WebhookCase> = vec![
        (
            "signed with another key",
            other.as_str(),
            sig(&wrong_key),
            "invalid_signature",
        ),
        (
            "signature of another body",
            other.as_str(),
            sig(&good_sig),
            "invalid_signature",
        ),
        (
            "a captured signature with a fresh timestamp",
            other.as_str(),
            sig(&format!("t={},v1={tag}", now + 1)),
            "invalid_signature",
        ),
        ("no signature", other.as_str(), vec![], "invalid_signature"),
        (
            "the retired body-only signature, with a timestamp header",
            other.as_str(),
            vec![
                ("x-whatspe-signature", body_only.clone()),
                ("x-whatspe-timestamp", now.to_string()),
            ],
            "invalid_signature",
        ),
        (
            "signature not hex",
            other.as_str(),
            sig(&format!("t={now},v1=not-hex")),
            "invalid_signature",
        ),
        (
            "no timestamp",
            other.as_str(),
            sig(&format!("v1={tag}")),
            "invalid_timestamp",
        ),
        (
            "timestamp not a number",
            other.as_str(),
            sig(&format!("t=yesterday,v1={tag}")),
            "invalid_timestamp",
        ),
        (
            "timestamp 10 minutes old",
            other.as_str(),
            sig(&signature(key, now - 600, &other)),
            "stale_timestamp",
        ),
        (
            "timestamp 10 minutes ahead",
            other.as_str(),
            sig(&signature(key, now + 600, &other)),
            "stale_timestamp",
        ),
    ];
    for (case, body, headers, code) in cases {
        assert_error(&app.webhook(body, &headers).await, 401, code, case);
    }
    assert_eq!(now, app.now_secs(), "the clock did not move");

    // A signature made now is stale once ten minutes have passed.
    let stamped = sig(&other_sig);
    app.advance(600);
    assert_error(
        &app.webhook(&other, &stamped).await,
        401,
        "stale_timestamp",
        "a signed request replayed 10 minutes later",
    );

    let nobody = UserId::new_random().to_string();
    for (case, body, status, code) in [
        (
            "unknown senderId",
            webhook_body("order-44", &nobody, &b.id, "hi"),
            404,
            "user_not_found",
        ),
        (
            "unknown receiverId",
            webhook_body("order-45", &shop.id, &nobody, "hi"),
            404,
            "user_not_found",
        ),
        (
            "sender is receiver",
            webhook_body("order-46", &b.id, &b.id, "hi"),
            400,
            "cannot_message_self",
        ),
        (
            "non-UUID senderId",
            webhook_body("order-47", "shop", &b.id, "hi"),
            400,
            "invalid_user_id",
        ),
        (
            "\"system\" as the receiverId",
            webhook_body("order-50", &shop.id, "system", "hi"),
            400,
            "invalid_user_id",
        ),
        (
            "the system's id as the receiverId",
            webhook_body("order-51", &shop.id, &UserId::SYSTEM.to_string(), "hi"),
            404,
            "user_not_found",
        ),
        (
            "empty content",
            webhook_body("order-48", &shop.id, &b.id, " "),
            400,
            "empty_content",
        ),
        (
            "bad external id",
            webhook_body("order 49", &shop.id, &b.id, "hi"),
            400,
            "invalid_body",
        ),
        (
            "malformed JSON, correctly signed",
            "{\"id\":".to_owned(),
            400,
            "malformed_json",
        ),
    ] {
        assert_error(&app.signed_webhook(&body).await, status, code, case);
    }

    assert_eq!(
        app.jobs().await,
        vec![msg_job(&first, &shop)],
        "no refused webhook queued anything"
    );
    let chats = app.chats_of(&b).await;
    assert_eq!(chats.len(), 1, "B has the one conversation: {chats:?}");
    assert_eq!(chats[0]["peer"], shop.profile);
    assert_eq!(chats[0]["unreadCount"], 1);
    let (page, _) = app.history_ok(&b, &shop, "").await;
    assert_eq!(
        ids(&page),
        vec![str_field(&first, "id")],
        "one message, stored once"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Bad input
// ---------------------------------------------------------------------------------------------

/// What A, B and C can see of their messages, and the queue.
async fn snapshot(
    app: &TestApp,
    a: &Person,
    b: &Person,
    c: &Person,
) -> (Vec<Value>, Vec<Value>, Vec<Vec<Value>>, Vec<DeliveryJob>) {
    (
        app.history_ok(a, b, "").await.0,
        app.history_ok(a, c, "").await.0,
        vec![
            app.chats_of(a).await,
            app.chats_of(b).await,
            app.chats_of(c).await,
        ],
        app.jobs().await,
    )
}

#[tokio::test]
async fn bad_messaging_input_is_refused_with_precise_4xx_and_writes_nothing() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    let m = app.send_ok(&a, &b, "hello").await;
    let m_id = str_field(&m, "id");
    app.history_ok(&b, &a, "").await;

    let before = snapshot(&app, &a, &b, &c).await;

    let too_big = "a".repeat(64 * 1024 + 1);
    let send_cases: Vec<(&str, Body, u16, &str)> = vec![
        (
            "empty content",
            Body::Json(json!({ "receiverId": b.id, "content": "" })),
            400,
            "empty_content",
        ),
        (
            "whitespace-only content",
            Body::Json(json!({ "receiverId": b.id, "content": " \n\t " })),
            400,
            "empty_content",
        ),
        (
            "content of 64 KiB + 1 byte",
            Body::Json(json!({ "receiverId": b.id, "content": too_big })),
            413,
            "payload_too_large",
        ),
        (
            "unknown type",
            Body::Json(json!({ "receiverId": b.id, "content": "hi", "type": "sticker" })),
            400,
            "invalid_type",
        ),
        (
            "image named by a file name, not a mediaId",
            Body::Json(json!({ "receiverId": b.id, "content": "cat.jpg", "type": "image" })),
            400,
            "invalid_media_id",
        ),
        (
            "image as an external URL (no longer accepted: docs/media.md)",
            Body::Json(
                json!({ "receiverId": b.id, "content": "https://cdn.example.com/cat.jpg", "type": "image" }),
            ),
            400,
            "invalid_media_id",
        ),
        (
            "malformed JSON",
            Body::Raw("{\"receiverId\":".into()),
            400,
            "malformed_json",
        ),
        ("no body", Body::Empty, 400, "malformed_json"),
        (
            "missing receiverId",
            Body::Json(json!({ "content": "hi" })),
            400,
            "invalid_body",
        ),
        (
            "missing content",
            Body::Json(json!({ "receiverId": b.id })),
            400,
            "invalid_body",
        ),
        (
            "content a number",
            Body::Json(json!({ "receiverId": b.id, "content": 42 })),
            400,
            "invalid_body",
        ),
        (
            "non-UUID receiverId",
            Body::Json(json!({ "receiverId": "bala", "content": "hi" })),
            400,
            "invalid_user_id",
        ),
        (
            "clientMessageId with a space",
            Body::Json(
                json!({ "receiverId": b.id, "content": "hi", "clientMessageId": "has space" }),
            ),
            400,
            "invalid_body",
        ),
        (
            "clientMessageId of 65 characters",
            Body::Json(
                json!({ "receiverId": b.id, "content": "hi", "clientMessageId": "k".repeat(65) }),
            ),
            400,
            "invalid_body",
        ),
        (
            "empty clientMessageId",
            Body::Json(json!({ "receiverId": b.id, "content": "hi", "clientMessageId": "" })),
            400,
            "invalid_body",
        ),
        (
            "unknown field",
            Body::Json(json!({ "receiverId": b.id, "content": "hi", "priority": "high" })),
            400,
            "invalid_body",
        ),
        (
            "a JSON array",
            Body::Json(json!([b.id, "hi"])),
            400,
            "invalid_body",
        ),
    ];
    for (case, body, status, code) in send_cases {
        let r = app
            .request(Method::POST, "/api/messages", body, Some(&a.token))
            .await;
        assert_error(&r, status, code, &format!("POST /api/messages: {case}"));
    }

    let peer = format!("/api/messages/{}", b.id);
    let get_cases: Vec<(&str, String, &str)> = vec![
        (
            "malformed before",
            format!("{peer}?before=yesterday"),
            "invalid_cursor",
        ),
        (
            "malformed after",
            format!("{peer}?after=42"),
            "invalid_cursor",
        ),
        (
            "before and after",
            format!("{peer}?before={m_id}&after={m_id}"),
            "invalid_query",
        ),
        ("limit=0", format!("{peer}?limit=0"), "invalid_limit"),
        ("limit=101", format!("{peer}?limit=101"), "invalid_limit"),
        (
            "limit=10000",
            format!("{peer}?limit=10000"),
            "invalid_limit",
        ),
        ("limit=-1", format!("{peer}?limit=-1"), "invalid_limit"),
        ("limit=abc", format!("{peer}?limit=abc"), "invalid_limit"),
        (
            "non-UUID peer",
            "/api/messages/bala".to_owned(),
            "invalid_user_id",
        ),
        (
            "chats limit=0",
            "/api/chats?limit=0".to_owned(),
            "invalid_limit",
        ),
        (
            "chats limit=10000",
            "/api/chats?limit=10000".to_owned(),
            "invalid_limit",
        ),
        (
            "chats cursor=garbage",
            "/api/chats?cursor=garbage".to_owned(),
            "invalid_cursor",
        ),
    ];
    for (case, path, code) in get_cases {
        assert_error(
            &app.get(&path, &b.token).await,
            400,
            code,
            &format!("GET {path}: {case}"),
        );
    }

    // The seed's `?userId=` is tolerated only when it names the caller.
    assert_error(
        &app.get(&format!("{peer}?userId={}", c.id), &a.token).await,
        403,
        "user_mismatch",
        "GET history with someone else's userId",
    );
    let r = app.get(&format!("{peer}?userId={}", a.id), &a.token).await;
    assert_ok(&r, 200, "GET history with the caller's own userId");
    assert_eq!(ids(&r.items("own userId")), vec![m_id.clone()]);

    for kind in ["read", "delivered"] {
        let path = format!("/api/messages/{kind}");
        let cases: Vec<(&str, Body, u16, &str)> = vec![
            (
                "non-UUID upTo",
                Body::Json(json!({ "peerId": a.id, "upTo": "latest" })),
                400,
                "invalid_message_id",
            ),
            (
                "non-UUID peerId",
                Body::Json(json!({ "peerId": "asha", "upTo": m_id })),
                400,
                "invalid_user_id",
            ),
            (
                "missing upTo",
                Body::Json(json!({ "peerId": a.id })),
                400,
                "invalid_body",
            ),
            (
                "unknown field",
                Body::Json(json!({ "peerId": a.id, "upTo": m_id, "all": true })),
                400,
                "invalid_body",
            ),
            (
                "malformed JSON",
                Body::Raw("{\"peerId\"".into()),
                400,
                "malformed_json",
            ),
            (
                "no conversation with that peer",
                Body::Json(json!({ "peerId": c.id, "upTo": m_id })),
                404,
                "conversation_not_found",
            ),
            (
                "a peer that does not exist",
                Body::Json(json!({ "peerId": UserId::new_random().to_string(), "upTo": m_id })),
                404,
                "conversation_not_found",
            ),
        ];
        for (case, body, status, code) in cases {
            let r = app.request(Method::POST, &path, body, Some(&b.token)).await;
            assert_error(&r, status, code, &format!("POST {path}: {case}"));
        }
    }

    let routes: Vec<(Method, String, Body)> = vec![
        (
            Method::POST,
            "/api/messages".into(),
            Body::Json(json!({ "receiverId": b.id, "content": "hi" })),
        ),
        (Method::GET, format!("/api/messages/{}", b.id), Body::Empty),
        (Method::GET, "/api/chats".into(), Body::Empty),
        (
            Method::POST,
            "/api/messages/read".into(),
            Body::Json(json!({ "peerId": b.id, "upTo": m_id })),
        ),
        (
            Method::POST,
            "/api/messages/delivered".into(),
            Body::Json(json!({ "peerId": b.id, "upTo": m_id })),
        ),
    ];
    for (method, path, body) in routes {
        let forged = match &body {
            Body::Json(v) => Body::Json(v.clone()),
            _ => Body::Empty,
        };
        assert_error(
            &app.request(method.clone(), &path, body, None).await,
            401,
            "missing_token",
            &format!("{method} {path} without a token"),
        );
        let r = app
            .request(method.clone(), &path, forged, Some("not.a.jwt"))
            .await;
        assert_eq!(
            r.status, 401,
            "{method} {path} with a forged token (body: {})",
            r.body
        );
    }

    assert_eq!(
        snapshot(&app, &a, &b, &c).await,
        before,
        "no bad request wrote anything: histories, chats and the queue are unchanged"
    );

    // Still serving, and the limits are where they say: exactly 64 KiB is a message.
    let exactly = "é".repeat(32 * 1024);
    let big = app.send_ok(&a, &b, &exactly).await;
    let (page, _) = app.history_ok(&b, &a, "?limit=1").await;
    assert_eq!(page[0]["id"], big["id"], "the 64 KiB message is the newest");
    assert_eq!(
        page[0]["content"].as_str().map(str::len),
        Some(64 * 1024),
        "all of it"
    );
    let image = app
        .send_body(
            &a,
            json!({ "receiverId": c.id, "mediaId": app.upload_png(&a, PNG_HEADER.to_vec()).await, "type": "image" }),
        )
        .await;
    assert_ok(&image, 201, "an image upload of the sender's");
    assert_eq!(image.body["type"], "image");
}

/// A chat-list peer who is a contact (last seen shown to contacts, the default): the
/// profile strangers see, once its `lastSeen` is checked to be there.
fn as_contact_sees(peer: &Value) -> Value {
    assert!(
        peer.get("lastSeen").is_some(),
        "a contact's last seen: {peer}"
    );
    let mut p = peer.clone();
    p.as_object_mut().unwrap().remove("lastSeen");
    p
}

/// The smallest upload the server takes as a PNG: its file signature.
const PNG_HEADER: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

// ---------------------------------------------------------------------------------------------
// 9. DynamoDB + SQS (moto)
// ---------------------------------------------------------------------------------------------

/// Every delivery job on the queue until `done` holds of what arrived (or 30 s pass), then what
/// a last empty receive confirms is all.
async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    done: impl Fn(&[DeliveryJob]) -> bool,
) -> Vec<DeliveryJob> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut jobs = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ReceiveMessage on {url}: {e:?}"));
        let messages = out.messages();
        for m in messages {
            let body = m.body().unwrap_or_default();
            let job: DeliveryJob = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("a delivery job on the queue, got {body:?}: {e}"));
            jobs.push(job);
        }
        if messages.is_empty() && done(&jobs) {
            return jobs;
        }
        if Instant::now() > deadline {
            return jobs;
        }
    }
}

#[tokio::test]
async fn messaging_journey_works_on_dynamodb_and_sqs_via_moto() {
    let (app, sdk, prefix) = spawn_app_on_moto().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;

    let mut sent = Vec::new();
    for (n, content) in ["one", "two", "three"].into_iter().enumerate() {
        let body = json!({
            "receiverId": b.id,
            "content": content,
            "clientMessageId": format!("moto-{n}"),
        });
        let r = app.send_body(&a, body.clone()).await;
        assert_ok(&r, 201, content);
        assert_message(&r.body, &a, &b, content, "sent", content);
        if n == 1 {
            let retry = app.send_body(&a, body).await;
            assert_ok(&retry, 200, "the retried 2nd");
            assert_eq!(retry.body, r.body, "the retry returns the original");
        }
        sent.push(r.body);
    }
    let sent_ids = ids(&sent);
    assert_error(
        &app.send_body(
            &a,
            json!({ "receiverId": b.id, "content": "other", "clientMessageId": "moto-1" }),
        )
        .await,
        409,
        "idempotency_key_reused",
        "a reused clientMessageId on DynamoDB",
    );

    let chats = app.chats_of(&b).await;
    assert_eq!(chats.len(), 1, "B has one conversation: {chats:?}");
    assert_eq!(as_contact_sees(&chats[0]["peer"]), a.profile);
    assert_eq!(
        chats[0]["unreadCount"], 3,
        "three unread, the retry counted once"
    );
    assert_eq!(chats[0]["lastMessage"], sent[2]);

    let (page, _) = app.history_ok(&b, &a, "").await;
    let mut newest_first = sent_ids.clone();
    newest_first.reverse();
    assert_eq!(ids(&page), newest_first, "B sees three, newest first");
    assert_eq!(statuses(&page), vec!["read"; 3], "and has read them");
    assert_eq!(app.chats_of(&b).await[0]["unreadCount"], 0);
    let (page, _) = app.history_ok(&a, &b, "").await;
    assert_eq!(statuses(&page), vec!["read"; 3], "A sees them read");
    assert_eq!(
        app.chats_of(&a).await[0]["lastMessage"]["status"],
        "read",
        "A's chat list shows them read"
    );
    let (page, r) = app
        .history_ok(&a, &b, &format!("?after={}&limit=1", sent_ids[0]))
        .await;
    assert_eq!(ids(&page), vec![sent_ids[1].clone()], "catch-up by id");
    assert_eq!(r.next_cursor().as_deref(), Some(sent_ids[1].as_str()));

    // Receipts are conditional writes on DynamoDB: clamped, monotonic.
    let x = str_field(&app.send_ok(&b, &a, "x").await, "id");
    let y = str_field(&app.send_ok(&b, &a, "y").await, "id");
    let r = app.receipt("delivered", &a, &b, FAR_FUTURE_ID).await;
    assert_ok(&r, 200, "A: delivered beyond the last");
    assert_eq!(r.body, receipt(&b, Some(&y), None), "clamped to y");
    let r = app.receipt("read", &a, &b, &x).await;
    assert_ok(&r, 200, "A: read up to x");
    assert_eq!(r.body, receipt(&b, Some(&y), Some(&x)));
    let r = app.receipt("read", &a, &b, ANCIENT_ID).await;
    assert_ok(&r, 200, "A: read up to an ancient id");
    assert_eq!(r.body, receipt(&b, Some(&y), Some(&x)), "the cursor stays");
    assert_eq!(app.chats_of(&a).await[0]["unreadCount"], 1, "y is unread");
    let (page, _) = app.history_ok(&b, &a, "?limit=2").await;
    assert_eq!(
        statuses(&page),
        vec!["delivered", "read"],
        "B sees y delivered, x read"
    );

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("{prefix}delivery.fifo");
    let url = sqs
        .get_queue_url()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the gateway created the queue {name}: {e:?}"))
        .queue_url()
        .unwrap_or_else(|| panic!("{name} has a URL"))
        .to_owned();
    let want: BTreeSet<String> = sent_ids.iter().cloned().collect();
    let read = read_job(&a, &b, &sent_ids[2]);
    let msg_ids = |jobs: &[DeliveryJob]| -> BTreeSet<String> {
        jobs.iter()
            .filter_map(|j| match &j.frame {
                ServerFrame::Msg(m) if m.s.to_string() == a.id => Some(m.id.to_string()),
                _ => None,
            })
            .collect()
    };
    let receipts = [read, dlv_job(&b, &a, &y), read_job(&b, &a, &x)];
    let jobs = drain_queue(&sqs, &url, |jobs| {
        msg_ids(jobs) == want && receipts.iter().all(|j| jobs.contains(j))
    })
    .await;
    assert_eq!(
        msg_ids(&jobs),
        want,
        "MSG frames for exactly A's three messages reached SQS (the retry added none): {jobs:?}"
    );
    for m in &sent {
        assert!(
            jobs.contains(&msg_job(m, &a)),
            "the MSG job of {} as sent: {jobs:?}",
            m["content"]
        );
    }
    for job in &receipts {
        assert!(
            jobs.contains(job),
            "the receipt {job:?} reached SQS: {jobs:?}"
        );
    }
    let read_to_b = jobs
        .iter()
        .filter(|j| matches!(j.frame, ServerFrame::Read(_)) && j.to == vec![user_id(&b.id)])
        .count();
    assert_eq!(
        read_to_b, 1,
        "the ancient read receipt told nobody: {jobs:?}"
    );
}
