//! End-to-end: real time through the real local gateway on 127.0.0.1:0, driven as phones
//! drive it — real WebSocket clients (tokio-tungstenite) for the socket, real HTTP (reqwest)
//! for the REST API: delivery to every device, receipts, typing, presence, the management
//! API, redelivery and the dead-letter queue, bad input, the idle timeout, mobile push and
//! device registration. Memory backend, plus one journey on the DynamoDB, SQS and SNS adapters
//! of a moto server (`make test` starts one).

mod common;

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{TimeDelta, Utc};
use common::ws::{Read, WsClient, left};
use common::{
    Body, Person, Reply, TestApp, assert_error, assert_ok, ids, keys, millis, query_value, set_of,
    spawn_app, spawn_app_on_moto_with, spawn_app_with, str_field,
};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use whatspe::clock::Clock;
use whatspe::config::Config;
use whatspe::domain::{SessionId, UserId};
use whatspe::memory::PushRecord;
use whatspe::ports::{Connection, ConnectionStore, Platform};
use whatspe_local::Options;
/// The design's delivery target: a message reaches a live socket within 1 s.
const DELIVERY: Duration = Duration::from_secs(1);
/// The bound on moto (real SQS polling, DynamoDB over HTTP): a correctness bound, not a
/// latency target. moto handles DynamoDB requests one at a time (scripts/moto_server.py) and
/// the moto tests of this file run in parallel, some of them sending hundreds of messages.
const MOTO_DELIVERY: Duration = Duration::from_secs(10);
/// How long a socket must stay silent to count as "received nothing".
const QUIET: Duration = Duration::from_millis(400);
const MSG_KEYS: [&str; 7] = ["id", "s", "r", "c", "t", "st", "ts"];

// ---------------------------------------------------------------------------------------------
// Harness (the shared part is in `common`)
// ---------------------------------------------------------------------------------------------

/// The gateway on the AWS adapters of the moto server (DynamoDB, SNS, and the SQS queue the
/// gateway polls), with a fresh table and queue prefix; also the SDK configuration and the
/// prefix, to look at the tables directly.
async fn spawn_app_on_moto() -> (TestApp, aws_config::SdkConfig, String) {
    spawn_app_on_moto_with(Config::for_tests(), "r", Options::default()).await
}

/// An Indian mobile number unique to `n`, in E.164.
fn phone(n: u32) -> String {
    format!("+91989200{n:04}")
}
/// Decodes `%XX` escapes (what the management-API client does to connection ids).
fn decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
/// A `MSG` frame for the message `m` (as the REST API returned it): exactly
/// `{id, s, r, c, t, st, ts}` with the message's values.
#[track_caller]
fn assert_msg_frame(frame: &Value, m: &Value, case: &str) {
    assert_eq!(frame["t"], "MSG", "{case}: frame type of {frame}");
    let d = &frame["d"];
    assert_eq!(keys(d), set_of(&MSG_KEYS), "{case}: MSG keys of {frame}");
    assert_eq!(d["id"], m["id"], "{case}: id");
    assert_eq!(d["s"], m["senderId"], "{case}: s is the sender");
    assert_eq!(d["r"], m["receiverId"], "{case}: r is the receiver");
    assert_eq!(d["c"], m["content"], "{case}: c is the content");
    assert_eq!(d["t"], m["type"], "{case}: t is the type");
    assert_eq!(d["st"], "sent", "{case}: st");
    assert_eq!(
        d["ts"], m["createdAt"],
        "{case}: ts is createdAt, an RFC 3339 time as in the seed"
    );
}

/// A mobile push for the message `m` of `sender`: its chat and id and the sender's name;
/// nothing else (the note has no room for content).
#[track_caller]
fn assert_push_note(p: &PushRecord, m: &Value, sender: &Person, case: &str) {
    assert_eq!(
        p.note.message_id.to_string(),
        str_field(m, "id"),
        "{case}: message id"
    );
    assert_eq!(
        p.note.chat_id.to_string(),
        str_field(m, "chatId"),
        "{case}: chat id"
    );
    assert_eq!(
        p.note.sender_name.as_str(),
        sender.username,
        "{case}: the sender's name"
    );
}

/// Polls `check` until it holds, failing with `case` after `within`.
async fn wait_until<F, Fut>(within: Duration, case: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{case}: still not true after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// `who`'s entry for `peer` in `GET /api/contacts`.
    async fn contact_entry(&self, who: &Person, peer: &Person) -> Value {
        let r = self.get("/api/contacts", &who.token).await;
        let case = format!("{}'s contacts", who.username);
        assert_ok(&r, 200, &case);
        r.items(&case)
            .into_iter()
            .find(|c| c["id"] == peer.id.as_str())
            .unwrap_or_else(|| panic!("{case}: {} is not listed", peer.username))
    }

    async fn online_for(&self, who: &Person, peer: &Person) -> bool {
        let entry = self.contact_entry(who, peer).await;
        entry["online"]
            .as_bool()
            .unwrap_or_else(|| panic!("online is a boolean in {entry}"))
    }

    /// Waits until `who`'s contact list shows `peer` offline (the gateway saw the socket go).
    async fn wait_offline(&self, who: &Person, peer: &Person, within: Duration) {
        let case = format!(
            "{} sees {} offline in GET /api/contacts",
            who.username, peer.username
        );
        wait_until(within, &case, || async {
            !self.online_for(who, peer).await
        })
        .await;
    }

    /// The mobile pushes sent (only messages are pushed).
    fn msg_pushes(&self) -> Vec<PushRecord> {
        self.push.sent()
    }

    async fn register_device(&self, who: &Person, platform: &str, token: &str) -> Reply {
        self.post(
            "/api/devices",
            json!({ "platform": platform, "token": token }),
            &who.token,
        )
        .await
    }

    async fn devices_of(&self, who: &Person) -> Vec<Value> {
        let r = self.get("/api/devices", &who.token).await;
        let case = format!("{}'s devices", who.username);
        assert_ok(&r, 200, &case);
        r.items(&case)
    }

    /// Registers a push token that must be accepted; its SNS platform endpoint (memory
    /// backend: the endpoint that appeared).
    async fn device_endpoint(&self, who: &Person, token: &str) -> String {
        let before: HashSet<String> = self.push.endpoints().into_iter().collect();
        let r = self.register_device(who, "fcm", token).await;
        assert_ok(&r, 201, &format!("{} registers {token}", who.username));
        let new: Vec<String> = self
            .push
            .endpoints()
            .into_iter()
            .filter(|e| !before.contains(e))
            .collect();
        assert_eq!(new.len(), 1, "one new platform endpoint for {token}");
        new[0].clone()
    }

    /// An upgrade that must be refused: its HTTP status and JSON body.
    async fn refused(&self, token: Option<&str>, case: &str) -> (u16, Value) {
        match self.open(token, None).await {
            Ok(_) => panic!("{case}: the upgrade was accepted"),
            Err(tungstenite::Error::Http(res)) => {
                let body = res
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                (res.status().as_u16(), body)
            }
            Err(e) => panic!("{case}: refused without an HTTP answer: {e}"),
        }
    }

    /// The management API, as a raw HTTP client.
    async fn management(&self, method: Method, cid: &str, body: Option<&str>) -> Reply {
        let mut req = self.client.request(
            method.clone(),
            format!("{}/@connections/{}", self.base_url, query_value(cid)),
        );
        if let Some(b) = body {
            req = req.body(b.to_owned());
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} /@connections/{cid}: no answer: {e}"));
        Reply::read(res).await
    }
}

/// Frames that travel through the queue for reasons other than the one under test and may
/// reach a socket at any time: presence, and the contact request and acceptance that made the
/// test's people contacts.
fn background(frame: &Value) -> bool {
    ["PRES", "REQ", "REQ_ACC"].contains(&frame["t"].as_str().unwrap_or_default())
}

impl WsClient {
    /// The next frame of type `t` within `within`. Background frames on the way are skipped
    /// (unless `t` is one); any other frame fails the test.
    async fn expect_frame(&mut self, t: &str, within: Duration, case: &str) -> Value {
        let started = Instant::now();
        loop {
            let Some(f) = self.next_frame(left(started, within)).await else {
                panic!("{case}: {} got no {t} frame within {within:?}", self.who);
            };
            if f["t"] == t {
                return f;
            }
            if background(&f) {
                continue;
            }
            panic!("{case}: {} expected {t}, got {f}", self.who);
        }
    }

    /// A `MSG` frame for each of `msgs`, in any order (a standard queue does not keep order;
    /// clients sort by id).
    async fn expect_msgs(&mut self, msgs: &[&Value], within: Duration, case: &str) {
        let started = Instant::now();
        let mut missing: Vec<&Value> = msgs.to_vec();
        while !missing.is_empty() {
            let f = self.expect_frame("MSG", left(started, within), case).await;
            let at = missing
                .iter()
                .position(|m| m["id"] == f["d"]["id"])
                .unwrap_or_else(|| panic!("{case}: {} got an unexpected {f}", self.who));
            assert_msg_frame(&f, missing.remove(at), case);
        }
    }

    /// One frame of each of `types`, in any order, within `within` (background skipped).
    async fn expect_all(
        &mut self,
        types: &[&str],
        within: Duration,
        case: &str,
    ) -> HashMap<String, Value> {
        let started = Instant::now();
        let mut got = HashMap::new();
        while got.len() < types.len() {
            let Some(f) = self.next_frame(left(started, within)).await else {
                let seen: Vec<&String> = got.keys().collect();
                panic!(
                    "{case}: {} expected {types:?} within {within:?}, got only {seen:?}",
                    self.who
                );
            };
            if background(&f) {
                continue;
            }
            let t = str_field(&f, "t");
            assert!(
                types.contains(&t.as_str()) && !got.contains_key(&t),
                "{case}: {} expected {types:?}, got {f}",
                self.who
            );
            got.insert(t, f);
        }
        got
    }

    /// Nothing but background frames arrive for `d`.
    async fn no_frame_within(&mut self, d: Duration, case: &str) {
        let started = Instant::now();
        while let Some(f) = self.next_frame(left(started, d)).await {
            assert!(
                background(&f),
                "{case}: {} should have received nothing, got {f}",
                self.who
            );
        }
    }

    /// No PRES frame arrives for `d` (other frames stay queued for later expectations).
    async fn no_presence_within(&mut self, d: Duration, case: &str) {
        let started = Instant::now();
        let mut held = Vec::new();
        while let Some(f) = self.next_frame(left(started, d)).await {
            assert_ne!(
                f["t"], "PRES",
                "{case}: {} should have received no presence frame, got {f}",
                self.who
            );
            held.push(f);
        }
        self.pending.extend(held);
    }

    /// Every frame but background ones that arrives for `d`.
    async fn frames_for(&mut self, d: Duration) -> Vec<Value> {
        let started = Instant::now();
        let mut frames = Vec::new();
        while let Some(f) = self.next_frame(left(started, d)).await {
            if !background(&f) {
                frames.push(f);
            }
        }
        frames
    }

    /// PING → PONG: the socket is open and served.
    async fn ping_pong(&mut self, case: &str) {
        self.ping_pong_within(DELIVERY, case).await;
    }

    /// PING → PONG within `within`. A socket answers its frames in order, so the PONG waits
    /// for whatever the frames before it wrote (on moto, each write is a slow HTTP round trip).
    async fn ping_pong_within(&mut self, within: Duration, case: &str) {
        self.send_json(json!({ "t": "PING" })).await;
        self.expect_frame("PONG", within, case).await;
    }

    /// The server closes the socket within `within`: its close code.
    async fn expect_close(&mut self, within: Duration, case: &str) -> u16 {
        self.pending.clear();
        let started = Instant::now();
        loop {
            match self.read_raw(left(started, within)).await {
                Read::Frame(_) => continue,
                Read::Closed(Some(code)) => return code,
                Read::Closed(None) => panic!("{case}: {} was closed without a code", self.who),
                Read::Ended(e) => {
                    panic!(
                        "{case}: {}'s socket ended without a close frame: {e}",
                        self.who
                    )
                }
                Read::TimedOut => panic!(
                    "{case}: {}'s socket was not closed within {within:?}",
                    self.who
                ),
            }
        }
    }

    /// Closes the socket with a close handshake.
    async fn close(mut self) {
        self.ws
            .close(None)
            .await
            .unwrap_or_else(|e| panic!("{}: closing failed: {e}", self.who));
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drops the TCP connection without a close handshake (a phone losing its network).
    fn kill(self) {
        drop(self.ws);
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Delivery to every device
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_both_sockets_of_the_receiver_and_the_senders_other_socket_within_a_second()
 {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut a2 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;
    let mut b2 = app.connect(&b).await;
    assert_ne!(b1.cid, b2.cid, "each socket is its own connection");
    assert_eq!(app.sockets.open(), 4, "four sockets open");

    // Over REST.
    let m = app.send_ok(&a, &b, "hello over REST").await;
    let sent = Instant::now();
    for (socket, who) in [
        (&mut b1, "B's first phone"),
        (&mut b2, "B's second phone"),
        (&mut a1, "A's first phone"),
        (&mut a2, "A's second phone"),
    ] {
        let case = format!("REST send, seen by {who}");
        let f = socket
            .expect_frame("MSG", left(sent, DELIVERY), &case)
            .await;
        assert_msg_frame(&f, &m, &case);
    }

    // Over the socket: ACK to the sending socket, MSG everywhere (the sending socket too).
    a1.send_json(json!({ "t": "MSG", "d": { "r": b.id, "c": "hello over WS", "cm": "cm-1" } }))
        .await;
    let sent = Instant::now();
    let mut got = a1
        .expect_all(&["ACK", "MSG"], DELIVERY, "WS send, A's sending phone")
        .await;
    let ack = got.remove("ACK").expect("ACK");
    assert_eq!(
        keys(&ack["d"]),
        set_of(&["cm", "id", "ts"]),
        "ACK keys of {ack}"
    );
    assert_eq!(ack["d"]["cm"], "cm-1", "ACK echoes the client's id");
    let id = str_field(&ack["d"], "id");
    common::timestamp(&ack["d"]["ts"], "ACK ts");
    let stored = json!({
        "id": id,
        "senderId": a.id,
        "receiverId": b.id,
        "content": "hello over WS",
        "type": "text",
        "createdAt": ack["d"]["ts"],
    });
    assert_msg_frame(&got["MSG"], &stored, "WS send, A's sending phone");
    for (socket, who) in [
        (&mut b1, "B's first phone"),
        (&mut b2, "B's second phone"),
        (&mut a2, "A's second phone"),
    ] {
        let case = format!("WS send, seen by {who}");
        let f = socket
            .expect_frame("MSG", left(sent, DELIVERY), &case)
            .await;
        assert_msg_frame(&f, &stored, &case);
    }

    // The socket send is the REST use case: the same message in the history.
    let r = app
        .get(&format!("/api/messages/{}?limit=10", b.id), &a.token)
        .await;
    assert_ok(&r, 200, "A's history");
    let history = r.items("A's history");
    assert_eq!(
        ids(&history),
        vec![id.clone(), str_field(&m, "id")],
        "both messages, newest first"
    );
    assert_eq!(history[0]["clientMessageId"], "cm-1");
    assert_eq!(
        history[0]["createdAt"], ack["d"]["ts"],
        "ACK ts is the stored time"
    );

    // Exactly once each: no echo, no duplicate.
    for (socket, who) in [(&mut b1, "B1"), (&mut b2, "B2"), (&mut a2, "A2")] {
        socket
            .no_frame_within(QUIET, &format!("{who} after the two messages"))
            .await;
    }
}

/// A conversation of `n` messages sent one after another while the queue runs: every socket
/// of both members sees them exactly once, in send order.
async fn messages_arrive_in_send_order(app: &TestApp, n: usize, within: Duration) {
    let a = app.sign_up(&phone(11), "asha").await;
    let b = app.sign_up(&phone(12), "bala").await;
    app.befriend(&a, &b).await;
    let mut sockets = vec![
        (app.connect(&b).await, "B's first phone"),
        (app.connect(&b).await, "B's second phone"),
        (app.connect(&a).await, "A's other phone"),
    ];
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        sent.push(str_field(
            &app.send_ok(&a, &b, &format!("m{i}")).await,
            "id",
        ));
    }
    let started = Instant::now();
    for (socket, who) in &mut sockets {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            let f = socket
                .expect_frame("MSG", left(started, within), &format!("{who}, in order"))
                .await;
            got.push(str_field(&f["d"], "id"));
        }
        assert_eq!(
            got, sent,
            "{who} saw the {n} messages once each, in send order"
        );
        socket
            .no_frame_within(QUIET, &format!("{who}: no duplicate"))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_big_for_one_frame_arrives_cut_with_more_and_nothing_dead_letters() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(13), "asha").await;
    let b = app.sign_up(&phone(14), "bala").await;
    app.befriend(&a, &b).await;
    let mut b1 = app.connect(&b).await;
    // 64 KiB of quotes and newlines: 128 KiB once JSON-escaped, past API Gateway's limit.
    let content = "\"\n".repeat(32 * 1024);
    let m = app.send_ok(&a, &b, &content).await;
    let f = b1
        .expect_frame("MSG", DELIVERY, "the oversized message")
        .await;
    let wire = f.to_string();
    assert!(
        wire.len() <= whatspe::frames::MAX_FRAME_BYTES,
        "the frame fits: {} bytes",
        wire.len()
    );
    assert_eq!(f["d"]["id"], m["id"]);
    assert_eq!(f["d"]["more"], true, "marked as cut");
    let cut = str_field(&f["d"], "c");
    assert!(
        !cut.is_empty() && content.starts_with(&cut) && cut.len() < content.len(),
        "a prefix of the content"
    );
    let r = app
        .get(&format!("/api/messages/{}?limit=1", a.id), &b.token)
        .await;
    assert_eq!(
        r.items("history")[0]["content"],
        content,
        "the whole text over REST"
    );
    b1.no_frame_within(QUIET, "delivered once").await;
    assert!(app.queue.dead_letters().is_empty(), "nothing dead-lettered");
}

fn high_burst() -> Config {
    common::config_with_webhook(&[(whatspe::config::ENV_SEND_BURST, "1000")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_reach_every_socket_in_send_order() {
    let app = spawn_app_with(high_burst(), Options::default()).await;
    messages_arrive_in_send_order(&app, 200, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_reach_every_socket_in_send_order_through_sqs_fifo_on_moto() {
    let (app, _, _) = spawn_app_on_moto_with(high_burst(), "o", Options::default()).await;
    messages_arrive_in_send_order(&app, 200, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_receivers_older_socket_does_not_stop_delivery_to_the_newer_one() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let b1 = app.connect(&b).await;
    let mut b2 = app.connect(&b).await;
    b1.close().await;
    wait_until(
        DELIVERY,
        "the gateway forgets the closed socket",
        || async { app.sockets.open() == 1 },
    )
    .await;
    assert!(
        app.online_for(&a, &b).await,
        "B is still online on the newer phone"
    );

    let m = app.send_ok(&a, &b, "still there?").await;
    let f = b2
        .expect_frame(
            "MSG",
            DELIVERY,
            "the newer socket after the older one closed",
        )
        .await;
    assert_msg_frame(&f, &m, "the newer socket");
    b2.no_frame_within(QUIET, "once").await;
    assert_eq!(
        app.msg_pushes(),
        vec![],
        "no mobile push: B has a live socket"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Offline: mobile push, then catch-up over REST
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_receiver_gets_a_push_per_message_and_catches_up_exactly_those_after_reconnecting()
 {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let b_endpoint = app.device_endpoint(&b, "tok-b").await;
    let a_endpoint = app.device_endpoint(&a, "tok-a").await;

    // Online: the message comes over the socket, no push.
    let mut b1 = app.connect(&b).await;
    let first = app.send_ok(&a, &b, "before you go").await;
    let f = b1.expect_frame("MSG", DELIVERY, "B online").await;
    assert_msg_frame(&f, &first, "B online");
    let first_id = str_field(&first, "id");
    b1.send_json(json!({ "t": "READ", "d": { "p": a.id, "upTo": first_id } }))
        .await;
    b1.ping_pong("after B's READ").await;
    b1.close().await;
    app.wait_offline(&a, &b, DELIVERY).await;
    assert_eq!(
        app.msg_pushes(),
        vec![],
        "no push while B had a live socket"
    );

    // Offline: five messages, five pushes to B's phone, none to the sender.
    let mut away = Vec::new();
    for n in 1..=5 {
        away.push(app.send_ok(&a, &b, &format!("away {n}")).await);
    }
    let away_ids = ids(&away);
    wait_until(DELIVERY, "five pushes for B", || async {
        app.msg_pushes().len() >= 5
    })
    .await;
    tokio::time::sleep(QUIET).await;
    let pushes = app.msg_pushes();
    assert_eq!(pushes.len(), 5, "one push per message: {pushes:?}");
    let mut pushed_ids = BTreeSet::new();
    for p in &pushes {
        assert_eq!(
            p.endpoint, b_endpoint,
            "pushed to B's phone only, never to A's ({a_endpoint})"
        );
        assert_eq!(p.platform, Platform::Fcm);
        let id = p.note.message_id.to_string();
        let m = away
            .iter()
            .find(|m| m["id"] == id.as_str())
            .unwrap_or_else(|| panic!("a push for a message A did not send: {p:?}"));
        assert_push_note(p, m, &a, "push note");
        pushed_ids.insert(id);
    }
    assert_eq!(
        pushed_ids,
        away_ids.iter().cloned().collect::<BTreeSet<_>>(),
        "each of the five messages pushed once"
    );

    // Back online: the chat list and the history after the last message B had.
    let mut b2 = app.connect(&b).await;
    let r = app.get("/api/chats", &b.token).await;
    assert_ok(&r, 200, "B's chats");
    let chats = r.items("B's chats");
    assert_eq!(chats.len(), 1, "one conversation: {chats:?}");
    assert_eq!(chats[0]["peer"]["id"], a.id.as_str());
    assert_eq!(chats[0]["unreadCount"], 5, "the five sent while B was away");
    assert_eq!(chats[0]["lastMessage"]["id"], away_ids[4].as_str());
    let r = app
        .get(
            &format!("/api/messages/{}?after={first_id}", a.id),
            &b.token,
        )
        .await;
    assert_ok(&r, 200, "B's catch-up");
    let caught_up = r.items("B's catch-up");
    assert_eq!(ids(&caught_up), away_ids, "exactly the five, oldest first");
    let contents: Vec<String> = caught_up.iter().map(|m| str_field(m, "content")).collect();
    assert_eq!(
        contents,
        (1..=5).map(|n| format!("away {n}")).collect::<Vec<_>>()
    );

    // Online again: the socket, not a push.
    let m = app.send_ok(&a, &b, "welcome back").await;
    let f = b2.expect_frame("MSG", DELIVERY, "B back online").await;
    assert_msg_frame(&f, &m, "B back online");
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.msg_pushes().len(), 5, "no push once B is back online");
}

// ---------------------------------------------------------------------------------------------
// 3. Receipts, typing, presence
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_and_read_receipts_over_the_socket_reach_the_sender_and_show_in_the_history() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;
    let m1 = app.send_ok(&a, &b, "one").await;
    let m2 = app.send_ok(&a, &b, "two").await;
    b1.expect_msgs(&[&m1, &m2], DELIVERY, "B receives").await;
    a1.expect_msgs(&[&m1, &m2], DELIVERY, "A's own copies")
        .await;
    let up_to = str_field(&m2, "id");
    let statuses = |r: &Reply| -> Vec<String> {
        r.items("A's history")
            .iter()
            .map(|m| str_field(m, "status"))
            .collect()
    };
    let r = app.get(&format!("/api/messages/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "A's history");
    assert_eq!(statuses(&r), ["sent", "sent"], "before any receipt");

    b1.send_json(json!({ "t": "DLV", "d": { "p": a.id, "upTo": up_to } }))
        .await;
    let f = a1.expect_frame("DLV", DELIVERY, "A hears DLV").await;
    assert_eq!(
        f["d"],
        json!({ "p": b.id, "upTo": up_to }),
        "DLV names the recipient"
    );
    let r = app.get(&format!("/api/messages/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "A's history");
    assert_eq!(statuses(&r), ["delivered", "delivered"], "after DLV");

    b1.send_json(json!({ "t": "READ", "d": { "p": a.id, "upTo": up_to } }))
        .await;
    let f = a1.expect_frame("READ", DELIVERY, "A hears READ").await;
    assert_eq!(
        f["d"],
        json!({ "p": b.id, "upTo": up_to }),
        "READ names the reader"
    );
    let r = app.get(&format!("/api/messages/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "A's history");
    assert_eq!(statuses(&r), ["read", "read"], "after READ");

    b1.no_frame_within(QUIET, "the reader gets no answer to its receipts")
        .await;
    a1.no_frame_within(QUIET, "one DLV and one READ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_relayed_to_a_contact_and_refused_to_a_stranger() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;
    let mut b2 = app.connect(&b).await;
    let mut c1 = app.connect(&c).await;

    a1.send_json(json!({ "t": "TYPING", "d": { "r": b.id } }))
        .await;
    for (socket, who) in [(&mut b1, "B1"), (&mut b2, "B2")] {
        let f = socket
            .expect_frame("TYPING", DELIVERY, &format!("{who} sees A typing"))
            .await;
        assert_eq!(f["d"], json!({ "s": a.id }), "TYPING names the typist");
    }
    a1.no_frame_within(QUIET, "the typist gets no answer").await;

    a1.send_json(json!({ "t": "TYPING", "d": { "r": c.id } }))
        .await;
    let f = a1
        .expect_frame("ERR", DELIVERY, "typing to a stranger")
        .await;
    assert_eq!(f["d"]["code"], "not_a_contact", "{f}");
    assert!(
        f["d"]["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "ERR says why: {f}"
    );
    c1.no_frame_within(QUIET, "the stranger sees no typing")
        .await;
    b1.no_frame_within(QUIET, "B sees nothing more").await;
    a1.ping_pong("A's socket stays open after ERR").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_see_presence_on_the_first_socket_and_last_seen_after_the_last_socket_closes() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    assert!(!app.online_for(&a, &b).await, "B offline before connecting");

    let b1 = app.connect(&b).await;
    let f = a1.expect_frame("PRES", DELIVERY, "B's first socket").await;
    assert_eq!(
        f["d"],
        json!({ "u": b.id, "on": true }),
        "PRES on, no last seen"
    );
    assert!(app.online_for(&a, &b).await, "B online while connected");

    let b2 = app.connect(&b).await;
    a1.no_presence_within(QUIET, "B's second socket changes nothing")
        .await;

    app.clock().advance(TimeDelta::seconds(90));
    let r = app.get(&format!("/api/users/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "B's profile");
    let seen_before = millis(&r.body["lastSeen"], "lastSeen");

    b1.close().await;
    a1.no_presence_within(QUIET, "B still has a socket").await;
    assert!(
        app.online_for(&a, &b).await,
        "B online while one socket is left"
    );

    b2.close().await;
    let f = a1
        .expect_frame("PRES", DELIVERY, "B's last socket closes")
        .await;
    assert_eq!(keys(&f["d"]), set_of(&["u", "on", "ls"]), "{f}");
    assert_eq!(f["d"]["u"], b.id.as_str());
    assert_eq!(f["d"]["on"], false);
    let ls = millis(&f["d"]["ls"], "PRES ls");
    assert_eq!(
        ls,
        app.clock().now().timestamp_millis(),
        "last seen is the time of the last disconnect"
    );
    assert!(ls > seen_before, "last seen moved");

    let entry = app.contact_entry(&a, &b).await;
    assert_eq!(entry["online"], false, "B offline after the last socket");
    assert_eq!(millis(&entry["lastSeen"], "contacts lastSeen"), ls);
    let r = app.get(&format!("/api/users/{}", b.id), &a.token).await;
    assert_ok(&r, 200, "B's profile");
    assert_eq!(millis(&r.body["lastSeen"], "profile lastSeen"), ls);
}

// ---------------------------------------------------------------------------------------------
// 4. Killed connections and the management API
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_killed_without_a_close_handshake_is_forgotten_and_the_receiver_gets_a_push() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let b_endpoint = app.device_endpoint(&b, "tok-b").await;
    let mut a1 = app.connect(&a).await;
    let b1 = app.connect(&b).await;
    a1.expect_frame("PRES", DELIVERY, "B online").await;
    let killed = b1.cid.clone();

    b1.kill();
    let f = a1.expect_frame("PRES", DELIVERY, "B's killed socket").await;
    assert_eq!(f["d"]["on"], false, "B offline: {f}");
    assert_eq!(app.sockets.open(), 1, "only A's socket is left");
    assert!(!app.online_for(&a, &b).await, "B offline in A's contacts");
    let r = app.management(Method::GET, &killed, None).await;
    assert_eq!(r.status, 410, "the killed connection is gone");

    let m = app.send_ok(&a, &b, "are you there?").await;
    wait_until(DELIVERY, "a push to B's phone", || async {
        !app.msg_pushes().is_empty()
    })
    .await;
    let pushes = app.msg_pushes();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0].endpoint, b_endpoint);
    assert_push_note(&pushes[0], &m, &a, "the push");
    let f = a1.expect_frame("MSG", DELIVERY, "A's own copy").await;
    assert_msg_frame(&f, &m, "A's own copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_posts_describes_and_closes_live_connections_and_answers_410_for_others()
{
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;

    let r = app.management(Method::GET, &b1.cid, None).await;
    assert_ok(&r, 200, "GET a live connection");
    let connected_at = millis(&r.body["connectedAt"], "connectedAt");
    assert!(
        (Utc::now().timestamp_millis() - connected_at).abs() < 60_000,
        "connectedAt is about now: {}",
        r.body
    );
    millis(&r.body["lastActiveAt"], "lastActiveAt");
    assert_eq!(r.body["identity"]["sourceIp"], "127.0.0.1", "{}", r.body);

    let text = r#"{"t":"NOTE","d":{"n":1}}"#;
    let r = app.management(Method::POST, &b1.cid, Some(text)).await;
    assert_ok(&r, 200, "POST to a live connection");
    let f = b1.expect_frame("NOTE", DELIVERY, "the posted data").await;
    assert_eq!(
        f,
        json!({ "t": "NOTE", "d": { "n": 1 } }),
        "exactly the posted data"
    );
    a1.no_frame_within(QUIET, "only the addressed connection")
        .await;

    let bogus = "bm90LWEtY29ubmVjdGlvbg=";
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let r = app
            .management(
                method.clone(),
                bogus,
                Some(text).filter(|_| method == Method::POST),
            )
            .await;
        assert_eq!(r.status, 410, "{method} an unknown connection");
        assert_eq!(
            r.headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok()),
            Some("GoneException"),
            "{method}: the error type the AWS SDK reads"
        );
    }

    let r = app.management(Method::DELETE, &b1.cid, None).await;
    assert_ok(&r, 204, "DELETE a live connection");
    let code = b1
        .expect_close(DELIVERY, "closed by the management API")
        .await;
    assert_eq!(code, 1000, "a normal closure");
    let f = a1
        .expect_frame("PRES", DELIVERY, "B's only socket was closed")
        .await;
    assert_eq!(f["d"]["on"], false, "{f}");
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let r = app
            .management(
                method.clone(),
                &b1.cid,
                Some(text).filter(|_| method == Method::POST),
            )
            .await;
        assert_eq!(r.status, 410, "{method} a closed connection");
    }
    a1.ping_pong("other connections unaffected").await;
}

// ---------------------------------------------------------------------------------------------
// 5. At-least-once delivery: redelivery and the dead-letter queue
// ---------------------------------------------------------------------------------------------

/// A management API in front of the gateway's that refuses (403, which the AWS SDK does not
/// retry) the next `MSG` post to chosen connections: a delivery that fails once.
#[derive(Clone)]
struct FlakyManagementApi {
    target: SocketAddr,
    client: reqwest::Client,
    fail_next_msg_to: Arc<Mutex<HashSet<String>>>,
    refused: Arc<AtomicUsize>,
}

async fn flaky_forward(
    State(api): State<FlakyManagementApi>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let id = decoded(path.trim_start_matches("/@connections/"));
    let refuse = method == Method::POST
        && body.starts_with(br#"{"t":"MSG""#)
        && api
            .fail_next_msg_to
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    if refuse {
        api.refused.fetch_add(1, Ordering::SeqCst);
        return (
            axum::http::StatusCode::FORBIDDEN,
            [
                ("x-amzn-errortype", "ForbiddenException"),
                ("content-type", "application/json"),
            ],
            r#"{"message":"Forbidden"}"#,
        )
            .into_response();
    }
    let res = api
        .client
        .request(method, format!("http://{}{path}", api.target))
        .body(body)
        .send()
        .await
        .expect("the gateway answers the proxy");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap_or_default();
    let mut out = (status, bytes).into_response();
    for name in ["x-amzn-errortype", "content-type"] {
        if let Some(v) = headers.get(name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

async fn spawn_flaky_management_api(target: SocketAddr) -> (FlakyManagementApi, SocketAddr) {
    let api = FlakyManagementApi {
        target,
        client: reqwest::Client::new(),
        fail_next_msg_to: Arc::default(),
        refused: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let router = axum::Router::new()
        .fallback(flaky_forward)
        .with_state(api.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (api, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_fails_once_is_redelivered_after_the_visibility_timeout_and_seen_once_per_id()
 {
    let visibility = Duration::from_millis(200);
    let app = spawn_app_with(
        Config::for_tests(),
        Options {
            visibility_timeout: visibility,
            // The proxy fails posts on the HTTP management API.
            management_api_over_http: true,
            ..Options::default()
        },
    )
    .await;
    let (flaky, flaky_addr) = spawn_flaky_management_api(app.addr).await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    // The first upgrade's Host is where the gateway's management-API client points (as the
    // stage URL does on AWS): through the flaky proxy.
    let mut b1 = app.connect_via(&b, Some(&flaky_addr.to_string())).await;
    let mut b2 = app.connect(&b).await;
    flaky
        .fail_next_msg_to
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(b2.cid.clone());

    // Taken before the send: the job is first received after this.
    let sent = Instant::now();
    let m = app.send_ok(&a, &b, "try, try again").await;
    let f = b1
        .expect_frame("MSG", DELIVERY, "B1 on the first attempt")
        .await;
    assert_msg_frame(&f, &m, "B1");
    let f = b2
        .expect_frame("MSG", visibility + DELIVERY, "B2 after the redelivery")
        .await;
    assert_msg_frame(&f, &m, "B2");
    assert_eq!(
        flaky.refused.load(Ordering::SeqCst),
        1,
        "the first post to B2 really failed"
    );
    assert!(
        sent.elapsed() >= visibility,
        "B2's copy came from the redelivery, after the visibility timeout ({:?})",
        sent.elapsed()
    );

    // At-least-once: B1 may see the redelivered copy; by id, each phone has the message once.
    for (socket, who) in [(&mut b1, "B1"), (&mut b2, "B2")] {
        let later = socket.frames_for(visibility * 2 + QUIET).await;
        let mut view: BTreeSet<String> = BTreeSet::new();
        view.insert(str_field(&m, "id"));
        for f in &later {
            assert_msg_frame(f, &m, &format!("{who}: a redelivered copy is identical"));
            view.insert(str_field(&f["d"], "id"));
        }
        assert_eq!(view.len(), 1, "{who}: deduplicated by id, one message");
    }
    assert_eq!(
        app.queue.dead_letters(),
        Vec::<String>::new(),
        "the redelivered job succeeded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_ends_in_the_dead_letter_queue_after_five_receives_without_blocking_delivery()
{
    let app = spawn_app_with(
        Config::for_tests(),
        Options {
            visibility_timeout: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut b1 = app.connect(&b).await;

    app.queue.enqueue_raw("not json".to_owned());
    let m = app.send_ok(&a, &b, "after the poison").await;
    let f = b1
        .expect_frame("MSG", DELIVERY, "delivery while the poison is retried")
        .await;
    assert_msg_frame(&f, &m, "B");
    assert_eq!(
        app.queue.dead_letters(),
        Vec::<String>::new(),
        "the poison is still being retried (5 receives take at least 800 ms)"
    );

    wait_until(
        Duration::from_secs(5),
        "the poison reaches the dead-letter queue",
        || async { !app.queue.dead_letters().is_empty() },
    )
    .await;
    assert_eq!(app.queue.dead_letters(), vec!["not json".to_owned()]);

    let m = app.send_ok(&a, &b, "and after it").await;
    let f = b1
        .expect_frame("MSG", DELIVERY, "delivery after the poison is gone")
        .await;
    assert_msg_frame(&f, &m, "B");
    b1.no_frame_within(QUIET, "each message once").await;
    assert_eq!(app.queue.dead_letters().len(), 1, "only the poison is dead");

    // The operator's redrive puts it back on the queue (where it will fail again: it is poison).
    let r = app
        .request(Method::POST, "/_local/dlq/redrive", Body::Empty, None)
        .await;
    assert_ok(&r, 200, "POST /_local/dlq/redrive");
    assert_eq!(r.body, json!({ "moved": 1 }));
    assert!(
        app.queue.dead_letters().is_empty(),
        "the dead-letter queue is empty after the redrive"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_is_refused_with_401_without_a_valid_access_token_of_a_live_session() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let cases: [(Option<&str>, &str, &str); 3] = [
        (None, "missing_token", "no token"),
        (Some("not-a-jwt"), "invalid_token", "garbage token"),
        (
            Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
            "invalid_token",
            "a JWT signed with another key",
        ),
    ];
    for (token, code, case) in cases {
        let (status, body) = app.refused(token, case).await;
        assert_eq!(status, 401, "{case}: status (body {body})");
        assert_eq!(body["error"]["code"], code, "{case}: {body}");
    }

    let r = app
        .request(
            Method::POST,
            "/api/auth/logout",
            Body::Empty,
            Some(&a.token),
        )
        .await;
    assert_ok(&r, 200, "A logs out");
    let (status, body) = app.refused(Some(&a.token), "logged-out session").await;
    assert_eq!(status, 401, "logged-out session (body {body})");
    assert_eq!(body["error"]["code"], "session_revoked", "{body}");

    let mut b1 = app.connect(&b).await;
    app.clock().advance(TimeDelta::minutes(16));
    let (status, body) = app.refused(Some(&b.token), "expired token").await;
    assert_eq!(status, 401, "expired token (body {body})");
    assert_eq!(body["error"]["code"], "token_expired", "{body}");
    assert_eq!(app.sockets.open(), 1, "no refused upgrade left a socket");
    b1.ping_pong("other sockets are unaffected by refused upgrades")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_authenticates_with_sec_websocket_protocol_and_gets_it_echoed() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .expect("a request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("whatspe, {}", a.token)).expect("a header"),
    );
    let (ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_or_else(|e| panic!("the upgrade with the token as a subprotocol: {e}"));
    assert_eq!(
        res.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some(a.token.as_str()),
        "the chosen subprotocol is the token"
    );
    let mut c = WsClient {
        who: a.username.clone(),
        ws,
        pending: VecDeque::new(),
        cid: String::new(),
    };
    c.send_json(json!({ "t": "PING" })).await;
    let f = c.expect_frame("CONN", DELIVERY, "browser socket").await;
    assert_eq!(f["d"]["u"], a.id.as_str(), "the token's user");
    c.expect_frame("PONG", DELIVERY, "browser socket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_128_kb_closes_that_socket_with_1009_and_the_gateway_keeps_serving() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut a2 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;

    let big = format!(
        r#"{{"t":"MSG","d":{{"r":"{}","c":"{}"}}}}"#,
        b.id,
        "x".repeat(200 * 1024)
    );
    // The server may close before the client finishes writing; the close code is what counts.
    let _ = a1.ws.send(Message::text(big)).await;
    let code = a1.expect_close(DELIVERY * 2, "a 200 KB frame").await;
    assert_eq!(code, 1009, "message too big");

    a2.ping_pong("A's other socket still served").await;
    b1.no_frame_within(QUIET, "nothing was sent to B").await;
    let m = app.send_ok(&a, &b, "small is fine").await;
    let f = b1.expect_frame("MSG", DELIVERY, "B still receives").await;
    assert_msg_frame(&f, &m, "B");
    let f = a2.expect_frame("MSG", DELIVERY, "A's other socket").await;
    assert_msg_frame(&f, &m, "A's other socket");
    let mut a3 = app.connect(&a).await;
    a3.ping_pong("a new socket works").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_frames_get_err_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let c = app.sign_up(&phone(3), "chitra").await;
    app.befriend(&a, &b).await;
    let mut a1 = app.connect(&a).await;
    let mut b1 = app.connect(&b).await;
    let mut c1 = app.connect(&c).await;
    let some_id = "019a8f6e-0000-7000-8000-0000000000ff";

    let cases: Vec<(String, &str, Option<&str>, &str)> = vec![
        ("not json".into(), "invalid_frame", None, "non-JSON text"),
        ("[1,2]".into(), "invalid_frame", None, "a JSON array"),
        (r#"{"d":{}}"#.into(), "invalid_frame", None, "no type"),
        (
            r#"{"t":"NOPE","d":{}}"#.into(),
            "unknown_frame",
            None,
            "unknown type",
        ),
        (
            r#"{"t":"TYPING","d":{"r":"x"}}"#.into(),
            "invalid_frame",
            None,
            "TYPING to a non-id",
        ),
        (
            json!({ "t": "READ", "d": { "p": c.id, "upTo": some_id } }).to_string(),
            "conversation_not_found",
            None,
            "READ in a conversation A is not in",
        ),
        (
            json!({ "t": "DLV", "d": { "p": c.id, "upTo": some_id } }).to_string(),
            "conversation_not_found",
            None,
            "DLV in a conversation A is not in",
        ),
        (
            json!({ "t": "MSG", "d": { "r": c.id, "c": "hi stranger", "cm": "cm-x" } }).to_string(),
            "not_a_contact",
            Some("cm-x"),
            "MSG to a non-contact",
        ),
        (
            json!({ "t": "MSG", "d": { "r": b.id, "c": "", "cm": "cm-empty" } }).to_string(),
            "empty_content",
            Some("cm-empty"),
            "MSG with empty content",
        ),
    ];
    for (text, code, cm, case) in cases {
        a1.send_text(text.clone()).await;
        let f = a1.expect_frame("ERR", DELIVERY, case).await;
        assert_eq!(f["d"]["code"], code, "{case}: {f}");
        assert!(
            f["d"]["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}: ERR says why: {f}"
        );
        assert_eq!(
            f["d"].get("cm").and_then(Value::as_str),
            cm,
            "{case}: ERR carries the client's id for a MSG only: {f}"
        );
        a1.ping_pong(&format!("{case}: the socket stays open"))
            .await;
    }
    b1.no_frame_within(QUIET, "B is unaffected").await;
    c1.no_frame_within(QUIET, "the stranger got nothing").await;
    let r = app.get("/api/chats", &c.token).await;
    assert_ok(&r, 200, "C's chats");
    assert_eq!(r.body, json!([]), "nothing was stored for the stranger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_socket_is_closed_with_1001_after_the_idle_timeout_and_an_active_one_is_not() {
    let idle = Duration::from_millis(300);
    let app = spawn_app_with(
        Config::for_tests(),
        Options {
            idle_timeout: idle,
            ..Options::default()
        },
    )
    .await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    let mut silent = app.connect(&a).await;
    let ready = Instant::now();
    let mut chatty = app.connect(&b).await;

    let pinger = async move {
        let until = Instant::now() + idle * 4;
        while Instant::now() < until {
            chatty.ping_pong("the active socket").await;
            tokio::time::sleep(idle / 3).await;
        }
        chatty
    };
    let (code, mut chatty) = tokio::join!(
        async {
            let code = silent.expect_close(idle * 5, "the silent socket").await;
            (code, ready.elapsed())
        },
        pinger
    );
    let (code, after) = code;
    assert_eq!(code, 1001, "going away");
    assert!(
        after >= idle - Duration::from_millis(100),
        "closed only after the idle timeout, not at {after:?}"
    );
    chatty.ping_pong("the active socket is still open").await;
    wait_until(DELIVERY, "the gateway forgets the idle socket", || async {
        app.sockets.open() == 1
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 7. Devices
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_register_once_per_token_list_and_unregister() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;

    let r = app.register_device(&a, "fcm", "tok-a").await;
    assert_ok(&r, 201, "register");
    assert_eq!(
        keys(&r.body),
        set_of(&["id", "platform", "createdAt"]),
        "never the token: {}",
        r.body
    );
    assert_eq!(r.body["platform"], "fcm");
    millis(&r.body["createdAt"], "createdAt");
    let id = str_field(&r.body, "id");
    uuid::Uuid::try_parse(&id).unwrap_or_else(|e| panic!("id {id:?} is a UUID: {e}"));
    assert_eq!(app.devices_of(&a).await, vec![r.body.clone()], "listed");

    let again = app.register_device(&a, "fcm", "tok-a").await;
    assert_ok(&again, 201, "re-register");
    assert_eq!(again.body["id"], id.as_str(), "the same device");
    assert_eq!(app.devices_of(&a).await.len(), 1, "still one device");
    assert_eq!(app.push.endpoints().len(), 1, "still one platform endpoint");

    let r = app.register_device(&a, "apns", "tok-a-ios").await;
    assert_ok(&r, 201, "a second phone");
    assert_eq!(r.body["platform"], "apns");
    let ios = str_field(&r.body, "id");
    let listed: BTreeSet<String> = ids(&app.devices_of(&a).await).into_iter().collect();
    assert_eq!(listed, [id.clone(), ios.clone()].into_iter().collect());
    assert_eq!(app.devices_of(&b).await, Vec::<Value>::new(), "B has none");

    let r = app.delete(&format!("/api/devices/{id}"), &b.token).await;
    assert_error(&r, 404, "device_not_found", "B deletes A's device");
    let r = app.delete(&format!("/api/devices/{id}"), &a.token).await;
    assert_eq!(r.status, 204, "delete (body {})", r.body);
    assert_eq!(
        ids(&app.devices_of(&a).await),
        vec![ios],
        "the other phone is left"
    );
    assert_eq!(
        app.push.endpoints().len(),
        1,
        "its platform endpoint was deleted"
    );
    let r = app.delete(&format!("/api/devices/{id}"), &a.token).await;
    assert_error(&r, 404, "device_not_found", "delete again");
    let r = app.delete("/api/devices/not-a-uuid", &a.token).await;
    assert_error(&r, 400, "invalid_device_id", "a malformed id");

    let bad: [(Value, u16, Option<&str>, &str); 6] = [
        (
            json!({ "platform": "windows", "token": "t" }),
            400,
            Some("invalid_platform"),
            "unknown platform",
        ),
        (
            json!({ "platform": "fcm", "token": "" }),
            400,
            Some("invalid_push_token"),
            "empty token",
        ),
        (
            json!({ "platform": "fcm", "token": "has space" }),
            400,
            Some("invalid_push_token"),
            "a space in the token",
        ),
        (json!({ "platform": "fcm" }), 400, None, "no token"),
        (
            json!({ "platform": "fcm", "token": "t", "extra": 1 }),
            400,
            None,
            "an unknown field",
        ),
        (
            json!({ "platform": 1, "token": "t" }),
            400,
            None,
            "a number for platform",
        ),
    ];
    for (body, status, code, case) in bad {
        let r = app.post("/api/devices", body, &a.token).await;
        match code {
            Some(code) => assert_error(&r, status, code, case),
            None => assert_eq!(r.status, status, "{case}: status (body {})", r.body),
        }
    }
    assert_eq!(app.devices_of(&a).await.len(), 1, "nothing half-written");
    let r = app
        .request(Method::GET, "/api/devices", Body::Empty, None)
        .await;
    assert_eq!(r.status, 401, "no token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_whose_endpoint_the_platform_disabled_is_removed_at_the_next_push() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;
    let dead = app.device_endpoint(&b, "tok-b-old").await;
    let live = app.device_endpoint(&b, "tok-b-new").await;
    assert_eq!(app.devices_of(&b).await.len(), 2);
    app.push.disable(&dead);

    let m = app.send_ok(&a, &b, "ping me").await;
    wait_until(
        DELIVERY,
        "the disabled device is removed and the working one pushed",
        || async { app.devices_of(&b).await.len() == 1 && !app.msg_pushes().is_empty() },
    )
    .await;
    let pushes = app.msg_pushes();
    assert_eq!(
        pushes.len(),
        1,
        "pushed to the working phone only: {pushes:?}"
    );
    assert_eq!(pushes[0].endpoint, live);
    assert_push_note(&pushes[0], &m, &a, "the push");
    assert!(
        !app.push.endpoints().contains(&dead),
        "the disabled endpoint was deleted"
    );
    let r = app.register_device(&b, "fcm", "tok-b-old").await;
    assert_ok(&r, 201, "the phone can register again");
}

// ---------------------------------------------------------------------------------------------
// 8. DynamoDB + SQS + SNS (moto)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_journey_works_on_dynamodb_sqs_and_sns_via_moto() {
    let (app, sdk, prefix) = spawn_app_on_moto().await;
    let a = app.sign_up(&phone(1), "asha").await;
    let b = app.sign_up(&phone(2), "bala").await;
    app.befriend(&a, &b).await;

    // Online: job → SQS → push → management API → socket.
    let mut b1 = app.connect(&b).await;
    let m = app.send_ok(&a, &b, "over real SQS").await;
    let f = b1
        .expect_frame("MSG", MOTO_DELIVERY, "B online on moto")
        .await;
    assert_msg_frame(&f, &m, "B online on moto");
    let first_id = str_field(&m, "id");
    b1.send_json(json!({ "t": "READ", "d": { "p": a.id, "upTo": first_id } }))
        .await;
    b1.ping_pong_within(MOTO_DELIVERY, "after B's READ").await;

    // Offline: stored, caught up after reconnecting.
    b1.close().await;
    app.wait_offline(&a, &b, MOTO_DELIVERY).await;
    let away = app.send_ok(&a, &b, "while you were away").await;
    let mut b2 = app.connect(&b).await;
    let r = app.get("/api/chats", &b.token).await;
    assert_ok(&r, 200, "B's chats");
    let chats = r.items("B's chats");
    assert_eq!(chats.len(), 1, "{chats:?}");
    assert_eq!(chats[0]["unreadCount"], 1, "the message sent while away");
    let r = app
        .get(
            &format!("/api/messages/{}?after={first_id}", a.id),
            &b.token,
        )
        .await;
    assert_ok(&r, 200, "B's catch-up");
    assert_eq!(
        ids(&r.items("B's catch-up")),
        vec![str_field(&away, "id")],
        "exactly the missed message"
    );
    // The message's delivery (queued by the relay from the table's stream) may still be on its
    // way and reach the new socket; it is then that message, once: the client keeps one copy
    // by id.
    let frames = b2.frames_for(Duration::from_millis(500)).await;
    assert!(
        frames.len() <= 1
            && frames
                .iter()
                .all(|f| f["t"] == "MSG" && f["d"]["id"] == away["id"]),
        "at most the missed message, once, on the new socket: {frames:?}"
    );
    b2.close().await;
    app.wait_offline(&a, &b, MOTO_DELIVERY).await;

    // A row whose socket is gone ($disconnect is best effort) is deleted at the first 410.
    let connections = whatspe::aws::dynamo::DynamoConnections::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        whatspe::aws::dynamo::TableNames::new(&prefix).connections,
    );
    let now = Utc::now();
    let stale = Connection {
        connection_id: "c3RhbGUtY29ubmVjdGlvbg==".into(),
        user_id: UserId::parse(&b.id).expect("B's id"),
        session_id: SessionId::new_random(),
        // Opened an hour ago (a 410 for a connection still opening keeps it).
        connected_at: now - TimeDelta::hours(1),
        expires_at: now + TimeDelta::hours(1),
    };
    connections
        .put(&stale)
        .await
        .expect("put a stale connection row");
    assert!(
        app.online_for(&a, &b).await,
        "the stale row makes B look online"
    );
    let m = app.send_ok(&a, &b, "anyone?").await;
    let started = Instant::now();
    loop {
        let row = connections
            .get(&stale.connection_id)
            .await
            .expect("read the connection row");
        if row.is_none() {
            break;
        }
        assert!(
            started.elapsed() < MOTO_DELIVERY * 2,
            "the stale row is still there after the delivery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !app.online_for(&a, &b).await,
        "B offline once the row is gone"
    );
    let mut b3 = app.connect(&b).await;
    let r = app
        .get(&format!("/api/messages/{}?limit=1", a.id), &b.token)
        .await;
    assert_ok(&r, 200, "B's latest");
    assert_eq!(ids(&r.items("B's latest")), vec![str_field(&m, "id")]);
    b3.no_frame_within(Duration::from_millis(200), "nothing replayed")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_receiver_gets_an_sns_mobile_push_through_moto() {
    // An FCM platform application on moto, before the gateway reads its configuration.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(common::moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "realtime-push",
        ))
        .load()
        .await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let suffix = common::hex(&whatspe::crypto::random_bytes::<6>());
    let application = sns
        .create_platform_application()
        .name(format!("whatspe-{suffix}"))
        .platform("GCM")
        .attributes("PlatformCredential", "fcm-server-key")
        .send()
        .await
        .expect("an FCM platform application on moto");
    let mut config = Config::for_tests();
    config.fcm_application_arn = application.platform_application_arn().map(str::to_owned);
    let (app, _, _) = spawn_app_on_moto_with(config, "p", Options::default()).await;
    let a = app.sign_up(&phone(21), "pia").await;
    let b = app.sign_up(&phone(22), "pranav").await;
    app.befriend(&a, &b).await;
    let token = format!("fcm-token-{suffix}");
    let r = app
        .post(
            "/api/devices",
            json!({ "platform": "fcm", "token": token }),
            &b.token,
        )
        .await;
    assert_ok(&r, 201, "B registers an Android phone");

    // B has no live connection: the MSG job becomes an SNS publish to B's endpoint.
    let text = "while your phone sleeps";
    let m = app.send_ok(&a, &b, text).await;
    let id = str_field(&m, "id");
    let deadline = Instant::now() + MOTO_DELIVERY * 5;
    let published = loop {
        // Read outside moto's DynamoDB lock (scripts/moto_server.py): a read that meets a
        // table changing under it fails, and the loop reads again.
        let read = async {
            reqwest::get(format!("{}/moto-api/data.json", common::moto_endpoint()))
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        };
        let data = read.await.unwrap_or(Value::Null);
        let endpoints = data["sns"]["PlatformEndpoint"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let pushed = endpoints
            .iter()
            .filter(|e| e["token"] == token.as_str())
            .map(|e| e["messages"].to_string())
            .find(|messages| messages.contains(&id));
        if let Some(messages) = pushed {
            break messages;
        }
        assert!(
            Instant::now() < deadline,
            "no SNS publish of {id} to B's endpoint within {:?}: {endpoints:?}",
            MOTO_DELIVERY * 5
        );
        // data.json walks every moto backend under the lock DynamoDB requests take too
        // (scripts/moto_server.py): polled often, it starves the delivery it waits for.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // What SNS was asked to publish: who wrote, which chat and message; never the text.
    assert!(
        !published.contains("phone sleeps"),
        "the message text went out in the push: {published}"
    );
    assert!(
        published.contains(&a.username),
        "the sender's name is the title: {published}"
    );
    assert!(
        published.contains(&str_field(&m, "chatId")),
        "the chat id is in the push: {published}"
    );
    assert!(
        published.contains("New message"),
        "the generic body: {published}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_closes_that_sessions_sockets_and_no_others() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(31), "lena").await;
    let b = app.sign_up(&phone(32), "leon").await;
    app.befriend(&a, &b).await;
    // A second session of A's on another phone (a second sign-in).
    let other = app
        .verify_otp(&a.phone, &app.code_for(&a.phone).await)
        .await;
    assert_ok(&other, 200, "A signs in on a second phone");
    let a_other = Person {
        token: str_field(&other.body, "accessToken"),
        ..a.clone()
    };

    let mut first = app.connect(&a).await;
    let mut second = app.connect(&a_other).await;
    let r = app.post("/api/auth/logout", json!({}), &a.token).await;
    assert_ok(&r, 200, "A logs out of the first session");
    let code = first
        .expect_close(Duration::from_secs(1), "the logged-out session's socket")
        .await;
    assert_eq!(code, 1000, "closed normally by the server");
    let (status, _) = app
        .refused(Some(&a.token), "reconnecting with the logged-out token")
        .await;
    assert_eq!(status, 401);
    // The other session is untouched, and still gets its messages.
    second.ping_pong("the other session's socket").await;
    let m = app.send_ok(&b, &a, "still here?").await;
    let f = second
        .expect_frame("MSG", Duration::from_secs(1), "the other session")
        .await;
    assert_msg_frame(&f, &m, "the other session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_logout_the_sessions_phone_gets_no_push_and_another_sessions_phone_still_does() {
    let app = spawn_app().await;
    let a = app.sign_up(&phone(33), "lotta").await;
    let b = app.sign_up(&phone(34), "luka").await;
    app.befriend(&a, &b).await;
    // A second session of B's on a tablet (a second sign-in), each with its own device.
    let other = app
        .verify_otp(&b.phone, &app.code_for(&b.phone).await)
        .await;
    assert_ok(&other, 200, "B signs in on a tablet");
    let b_tablet = Person {
        token: str_field(&other.body, "accessToken"),
        ..b.clone()
    };
    let phone_endpoint = app.device_endpoint(&b, "tok-b-phone").await;
    let tablet_endpoint = app.device_endpoint(&b_tablet, "tok-b-tablet").await;
    assert_eq!(app.devices_of(&b).await.len(), 2, "both devices are B's");

    let r = app.post("/api/auth/logout", json!({}), &b.token).await;
    assert_ok(&r, 200, "B logs out on the phone");
    let left = app.devices_of(&b_tablet).await;
    assert_eq!(left.len(), 1, "only the tablet's device is left: {left:?}");
    assert!(
        !app.push.endpoints().contains(&phone_endpoint),
        "the phone's platform endpoint is deleted"
    );

    let m = app.send_ok(&a, &b, "are you still there?").await;
    wait_until(DELIVERY, "a push to B's tablet", || async {
        !app.msg_pushes().is_empty()
    })
    .await;
    tokio::time::sleep(QUIET).await;
    let pushes = app.msg_pushes();
    assert_eq!(pushes.len(), 1, "one push, to the tablet only: {pushes:?}");
    assert_eq!(pushes[0].endpoint, tablet_endpoint);
    assert_push_note(&pushes[0], &m, &a, "the tablet's push");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_a_rotated_refresh_token_closes_the_sessions_sockets() {
    let app = spawn_app().await;
    let (user, access, refresh) = app.sign_up_with_tokens(&phone(41), "mira").await;
    let mira = Person {
        id: str_field(&user, "id"),
        username: str_field(&user, "username"),
        phone: str_field(&user, "phoneNumber"),
        token: access,
        profile: Value::Null,
        last_seen: Value::Null,
    };
    let mut socket = app.connect(&mira).await;
    let r = app
        .post_public("/api/auth/refresh", json!({ "refreshToken": refresh }))
        .await;
    assert_ok(&r, 200, "the first refresh rotates");
    // Past the grace window in which a retried refresh gets the same pair again.
    app.clock().advance(whatspe::services::auth::REFRESH_GRACE);
    let r = app
        .post_public("/api/auth/refresh", json!({ "refreshToken": refresh }))
        .await;
    assert_error(&r, 401, "refresh_token_reused", "the rotated token again");
    let code = socket
        .expect_close(Duration::from_secs(1), "the leaked session's socket")
        .await;
    assert_eq!(code, 1000);
}
