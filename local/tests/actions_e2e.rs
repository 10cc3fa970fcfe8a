//! Message actions end to end (DESIGN §10), through the local gateway, on the in-memory stores
//! and on moto: replies, reactions, edits, deletes for everyone and forwards, in 1:1 and group
//! chats — each action's frame reaching every member's devices once, history and the chat list
//! reflecting it, bad input refused with nothing changed, and concurrent actions settling on
//! one consistent outcome.

mod common;

use common::ws::WsClient;
use common::{
    Person, Reply, TestApp, assert_error, assert_ok, spawn_app, spawn_app_on_moto_with, str_field,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use whatspe::config::Config;
use whatspe_local::Options;

const DELIVERY: Duration = Duration::from_secs(2);
const MOTO_DELIVERY: Duration = Duration::from_secs(15);

fn phone(n: u32) -> String {
    format!("+91977400{n:04}")
}

async fn moto() -> TestApp {
    spawn_app_on_moto_with(Config::for_tests(), "a", Options::default())
        .await
        .0
}

/// A device: its socket and every frame it received, in order.
struct Device {
    ws: WsClient,
    log: Vec<Value>,
}

impl Device {
    async fn open(app: &TestApp, who: &Person) -> Self {
        Self {
            ws: app.connect(who).await,
            log: Vec::new(),
        }
    }

    /// Reads frames until one of type `t` about message `id` arrives (or panics after
    /// `within`); every frame read is logged.
    async fn expect(&mut self, t: &str, id: &str, within: Duration) -> Value {
        let started = Instant::now();
        if let Some(f) = self.log.iter().find(|f| about(f, t, id)) {
            return f.clone();
        }
        loop {
            let left = within.saturating_sub(started.elapsed());
            let Some(f) = self.ws.next_frame(left).await else {
                panic!(
                    "{}: no {t} about {id} within {within:?}; got {:?}",
                    self.ws.who, self.log
                );
            };
            self.log.push(f.clone());
            if about(&f, t, id) {
                return f;
            }
        }
    }

    /// Reads whatever else arrives within `quiet`.
    async fn settle(&mut self, quiet: Duration) {
        while let Some(f) = self.ws.next_frame(quiet).await {
            self.log.push(f);
        }
    }

    /// The logged frames of type `t` about message `id`.
    fn count(&self, t: &str, id: &str) -> usize {
        self.log.iter().filter(|f| about(f, t, id)).count()
    }
}

fn about(f: &Value, t: &str, id: &str) -> bool {
    f["t"] == t && f["d"]["id"] == id
}

impl TestApp {
    async fn send_to_chat(&self, from: &Person, chat: &str, body: Value) -> Reply {
        let mut b = json!({ "chatId": chat });
        b.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        self.post("/api/messages", b, &from.token).await
    }

    async fn react(&self, who: &Person, chat: &str, id: &str, emoji: &str) -> Reply {
        self.post(
            &format!("/api/chats/{chat}/messages/{id}/reactions"),
            json!({ "emoji": emoji }),
            &who.token,
        )
        .await
    }

    async fn edit(&self, who: &Person, chat: &str, id: &str, content: &str) -> Reply {
        self.patch(
            &format!("/api/chats/{chat}/messages/{id}"),
            json!({ "content": content }),
            &who.token,
        )
        .await
    }

    async fn delete_message(&self, who: &Person, chat: &str, id: &str) -> Reply {
        self.delete(&format!("/api/chats/{chat}/messages/{id}"), &who.token)
            .await
    }

    async fn forward(&self, who: &Person, chat: &str, id: &str, to: &[&str]) -> Reply {
        self.post(
            &format!("/api/messages/{id}/forward"),
            json!({ "chatId": chat, "chatIds": to }),
            &who.token,
        )
        .await
    }

    /// The message `id` as `who`'s history of `chat` shows it.
    async fn seen(&self, who: &Person, chat: &str, id: &str) -> Value {
        let r = self
            .get(&format!("/api/chats/{chat}/messages?limit=100"), &who.token)
            .await;
        assert_ok(&r, 200, "history");
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {}'s history: {}", who.username, r.body))
            .clone()
    }

    /// `who`'s chat-list entry for `chat`, once `ok` holds of its last message (the relay
    /// brings it in line after the action's write).
    async fn chat_entry_until(
        &self,
        who: &Person,
        chat: &str,
        within: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let r = self.get("/api/chats", &who.token).await;
            assert_ok(&r, 200, "chat list");
            let entry = r
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["chatId"] == chat)
                .cloned()
                .unwrap_or(Value::Null);
            if ok(&entry["lastMessage"]) {
                return entry;
            }
            assert!(
                started.elapsed() < within,
                "{}'s chat list never showed it: {entry}",
                who.username
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The whole set of actions in a 1:1 chat and a group: ann (two devices), ben and cid.
async fn actions_reach_every_device_once(app: TestApp, first: u32, delivery: Duration) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    let cid = app.sign_up(&phone(first + 2), "cid").await;
    app.befriend(&ann, &ben).await;
    app.befriend(&ann, &cid).await;
    app.befriend(&ben, &cid).await;
    let g = app
        .post(
            "/api/groups",
            json!({"name": "Trip", "memberIds": [ben.id, cid.id]}),
            &ann.token,
        )
        .await;
    assert_ok(&g, 201, "a group");
    let group = str_field(&g.body, "id");
    let mut ann1 = Device::open(&app, &ann).await;
    let mut ann2 = Device::open(&app, &ann).await;
    let mut ben1 = Device::open(&app, &ben).await;
    let mut cid1 = Device::open(&app, &cid).await;

    // A message, and a reply over the socket carrying a quote of it.
    let m1 = app.send_ok(&ann, &ben, "Dinner at 7? Bring the map").await;
    let (id1, chat) = (str_field(&m1, "id"), str_field(&m1, "chatId"));
    ben1.expect("MSG", &id1, delivery).await;
    ben1.ws
        .send_json(json!({"t": "MSG", "d": {"r": ann.id, "c": "Yes!", "cm": "r-1", "rp": id1}}))
        .await;
    let ack = loop {
        let f = ben1.ws.next_frame(delivery).await.expect("an ACK");
        if f["t"] == "ACK" {
            break f;
        }
        ben1.log.push(f);
    };
    let reply_id = str_field(&ack["d"], "id");
    for d in [&mut ann1, &mut ann2] {
        let f = d.expect("MSG", &reply_id, delivery).await;
        assert_eq!(
            f["d"]["q"],
            json!({"id": id1, "senderId": ann.id, "type": "text",
                   "text": "Dinner at 7? Bring the map"}),
            "the reply's quote"
        );
    }
    let seen = app.seen(&ann, &chat, &reply_id).await;
    assert_eq!(seen["replyTo"]["id"], id1, "{seen}");

    // Reactions: set, replace, the same again (nothing), remove.
    let r = app.react(&ben, &chat, &id1, "👍").await;
    assert_ok(&r, 200, "ben reacts");
    assert_eq!(
        r.body["reactions"],
        json!([{"emoji": "👍", "count": 1, "userIds": [ben.id]}])
    );
    for d in [&mut ann1, &mut ann2, &mut ben1] {
        let f = d.expect("RCT", &id1, delivery).await;
        assert_eq!(
            (&f["d"]["u"], &f["d"]["e"], &f["d"]["c"]),
            (&json!(ben.id), &json!("👍"), &json!(chat))
        );
    }
    let r = app.react(&ben, &chat, &id1, "❤️").await;
    assert_ok(&r, 200, "ben changes his reaction");
    let r = app.react(&ben, &chat, &id1, "❤️").await;
    assert_ok(&r, 200, "the same reaction again");
    assert_eq!(r.body["reactions"][0]["emoji"], "❤️");
    let r = app.react(&ann, &chat, &id1, "❤️").await;
    assert_ok(&r, 200, "ann reacts too");
    assert_eq!(
        (
            &r.body["reactions"][0]["emoji"],
            &r.body["reactions"][0]["count"]
        ),
        (&json!("❤️"), &json!(2)),
        "{}",
        r.body
    );
    let mut who: Vec<&str> = r.body["reactions"][0]["userIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    who.sort();
    let mut want = vec![ann.id.as_str(), ben.id.as_str()];
    want.sort();
    assert_eq!(who, want);
    let r = app
        .delete(
            &format!("/api/chats/{chat}/messages/{id1}/reactions"),
            &ann.token,
        )
        .await;
    assert_ok(&r, 200, "ann removes hers");
    assert_eq!(r.body["reactions"][0]["count"], 1);
    // History shows the message's reaction summary.
    let seen = app.seen(&ann, &chat, &id1).await;
    assert_eq!(
        seen["reactions"],
        json!([{"emoji": "❤️", "count": 1, "userIds": [ben.id]}]),
        "{seen}"
    );
    // A reaction to the chat's last message shows in the chat list.
    let r = app.react(&ann, &chat, &reply_id, "👍").await;
    assert_ok(&r, 200, "ann reacts to ben's reply, the last message");
    for d in [&mut ann1, &mut ann2, &mut ben1] {
        d.expect("RCT", &reply_id, delivery).await;
    }
    app.chat_entry_until(&ben, &chat, delivery, |m| {
        m["id"] == reply_id
            && m["reactions"] == json!([{"emoji": "👍", "count": 1, "userIds": [ann.id]}])
    })
    .await;

    // An edit of the chat's last message: frames, history and the chat list.
    let m2 = app.send_ok(&ann, &ben, "see you tomorow").await;
    let id2 = str_field(&m2, "id");
    let r = app.edit(&ann, &chat, &id2, "see you tomorrow").await;
    assert_ok(&r, 200, "ann fixes a typo");
    assert_eq!(
        (&r.body["content"], &r.body["edited"]),
        (&json!("see you tomorrow"), &json!(true))
    );
    for d in [&mut ann1, &mut ann2, &mut ben1] {
        let f = d.expect("EDIT", &id2, delivery).await;
        assert_eq!(f["d"]["x"], "see you tomorrow");
    }
    let seen = app.seen(&ben, &chat, &id2).await;
    assert_eq!(
        (&seen["content"], &seen["edited"]),
        (&json!("see you tomorrow"), &json!(true))
    );
    app.chat_entry_until(&ben, &chat, delivery, |m| {
        m["id"] == id2 && m["content"] == "see you tomorrow"
    })
    .await;
    let r = app.edit(&ann, &chat, &id2, "see you tomorrow").await;
    assert_ok(&r, 200, "the same text again");

    // Delete for everyone: a tombstone everywhere, in the chat list too; again is 409.
    let r = app.delete_message(&ann, &chat, &id2).await;
    assert_ok(&r, 200, "ann deletes it for everyone");
    assert_eq!(
        (&r.body["deleted"], &r.body["content"]),
        (&json!(true), &json!(""))
    );
    for d in [&mut ann1, &mut ann2, &mut ben1] {
        d.expect("DEL", &id2, delivery).await;
    }
    let seen = app.seen(&ben, &chat, &id2).await;
    assert_eq!(
        (&seen["deleted"], &seen["content"]),
        (&json!(true), &json!("")),
        "{seen}"
    );
    app.chat_entry_until(&ben, &chat, delivery, |m| {
        m["id"] == id2 && m["deleted"] == true && m["content"] == ""
    })
    .await;
    assert_error(
        &app.delete_message(&ann, &chat, &id2).await,
        409,
        "message_deleted",
        "deleting twice",
    );
    assert_error(
        &app.react(&ben, &chat, &id2, "😮").await,
        409,
        "message_deleted",
        "reacting to a deleted message",
    );
    assert_error(
        &app.edit(&ann, &chat, &id2, "back").await,
        409,
        "message_deleted",
        "editing a deleted message",
    );

    // Forward to the group and to ann's chat with cid: new messages marked forwarded; again:
    // the same ones.
    let hi = app.send_ok(&ann, &cid, "hi cid").await;
    let ann_cid = str_field(&hi, "chatId");
    let r = app
        .forward(&ann, &chat, &id1, &[group.as_str(), ann_cid.as_str()])
        .await;
    assert_ok(&r, 201, "ann forwards to the group and to cid");
    let fw = r.body["messages"].as_array().unwrap().clone();
    assert_eq!(fw.len(), 2);
    for m in &fw {
        assert_eq!(
            (&m["forwarded"], &m["content"]),
            (&json!(true), &json!("Dinner at 7? Bring the map"))
        );
    }
    let (fw_group, fw_cid) = (str_field(&fw[0], "id"), str_field(&fw[1], "id"));
    assert_eq!(fw[0]["chatId"], group);
    let f = cid1.expect("MSG", &fw_cid, delivery).await;
    assert_eq!(f["d"]["fw"], true);
    cid1.expect("MSG", &fw_group, delivery).await;
    let again = app
        .forward(&ann, &chat, &id1, &[group.as_str(), ann_cid.as_str()])
        .await;
    assert_ok(&again, 200, "the same forward again");
    assert_eq!(again.body["messages"], r.body["messages"]);

    // In the group: a reply, a reaction and an edit reach every member's devices.
    let r = app
        .send_to_chat(
            &ben,
            &group,
            json!({"content": "Count me in", "replyTo": fw_group}),
        )
        .await;
    assert_ok(&r, 201, "ben replies in the group");
    let greply = str_field(&r.body, "id");
    assert_eq!(r.body["replyTo"]["id"], fw_group);
    let r = app.react(&cid, &group, &greply, "🎉").await;
    assert_ok(&r, 200, "cid reacts in the group");
    let r = app.edit(&ben, &group, &greply, "Count me in!").await;
    assert_ok(&r, 200, "ben edits in the group");
    for d in [&mut ann1, &mut ann2, &mut ben1, &mut cid1] {
        let f = d.expect("RCT", &greply, delivery).await;
        assert_eq!((&f["d"]["g"], &f["d"]["e"]), (&json!(group), &json!("🎉")));
        let f = d.expect("EDIT", &greply, delivery).await;
        assert_eq!(f["d"]["x"], "Count me in!");
    }
    app.chat_entry_until(&cid, &group, delivery, |m| {
        m["id"] == greply && m["content"] == "Count me in!" && m["reactions"][0]["emoji"] == "🎉"
    })
    .await;

    // A delete for everyone in the group: the tombstone for every member, in the chat list.
    let r = app.delete_message(&ben, &group, &greply).await;
    assert_ok(&r, 200, "ben deletes his group message for everyone");
    for d in [&mut ann1, &mut ann2, &mut ben1, &mut cid1] {
        let f = d.expect("DEL", &greply, delivery).await;
        assert_eq!(
            (&f["d"]["g"], &f["d"]["s"]),
            (&json!(group), &json!(ben.id))
        );
    }
    let seen = app.seen(&cid, &group, &greply).await;
    assert_eq!(
        (&seen["deleted"], &seen["content"]),
        (&json!(true), &json!("")),
        "{seen}"
    );
    assert!(seen.get("reactions").is_none(), "wiped: {seen}");
    app.chat_entry_until(&ann, &group, delivery, |m| {
        m["id"] == greply && m["deleted"] == true && m["content"] == ""
    })
    .await;

    // Every action frame reached every device once: the counts after everything settled.
    // ben's 👍, ❤️ (the repeat sent nothing), ann's ❤️ and its removal: 4 RCT about id1.
    for d in [&mut ann1, &mut ann2, &mut ben1, &mut cid1] {
        d.settle(Duration::from_millis(500)).await;
    }
    for d in [&ann1, &ann2] {
        assert_eq!(d.count("MSG", &reply_id), 1, "{}: {:?}", d.ws.who, d.log);
    }
    for d in [&ann1, &ann2, &ben1] {
        assert_eq!(d.count("RCT", &reply_id), 1, "{}: {:?}", d.ws.who, d.log);
    }
    for d in [&ann1, &ann2, &ben1] {
        assert_eq!(d.count("RCT", &id1), 4, "{}: {:?}", d.ws.who, d.log);
        assert_eq!(d.count("EDIT", &id2), 1, "{}: {:?}", d.ws.who, d.log);
        assert_eq!(d.count("DEL", &id2), 1, "{}: {:?}", d.ws.who, d.log);
    }
    assert_eq!(
        cid1.count("RCT", &id1),
        0,
        "cid is not in ann and ben's chat"
    );
    for d in [&ann1, &ann2, &ben1, &cid1] {
        assert_eq!(d.count("RCT", &greply), 1, "{}", d.ws.who);
        assert_eq!(d.count("EDIT", &greply), 1, "{}", d.ws.who);
        assert_eq!(d.count("DEL", &greply), 1, "{}", d.ws.who);
        assert_eq!(d.count("MSG", &fw_group), 1, "{}", d.ws.who);
    }
}

#[tokio::test]
async fn memory_actions_reach_every_device_once() {
    actions_reach_every_device_once(spawn_app().await, 0, DELIVERY).await;
}

#[tokio::test]
async fn moto_actions_reach_every_device_once() {
    actions_reach_every_device_once(moto().await, 10, MOTO_DELIVERY).await;
}

/// Bad input: a clear 4xx, and nothing changes.
#[tokio::test]
async fn bad_actions_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let ann = app.sign_up(&phone(30), "ann").await;
    let ben = app.sign_up(&phone(31), "ben").await;
    let cid = app.sign_up(&phone(32), "cid").await;
    app.befriend(&ann, &ben).await;
    app.befriend(&ann, &cid).await;
    let m = app.send_ok(&ann, &ben, "original").await;
    let (id, chat) = (str_field(&m, "id"), str_field(&m, "chatId"));
    let other = app.send_ok(&ann, &cid, "elsewhere").await;
    let other_id = str_field(&other, "id");

    for (emoji, case) in [
        ("ab", "letters"),
        ("👍👍", "two emoji"),
        ("", "empty"),
        ("👍 ", "an emoji and a space"),
    ] {
        assert_error(
            &app.react(&ben, &chat, &id, emoji).await,
            400,
            "invalid_emoji",
            case,
        );
    }
    assert_error(
        &app.react(&cid, &chat, &id, "👍").await,
        404,
        "chat_not_found",
        "reacting in a chat you are not in",
    );
    assert_error(
        &app.react(&ben, &chat, &other_id, "👍").await,
        404,
        "message_not_found",
        "a message of another chat",
    );
    assert_error(
        &app.edit(&ben, &chat, &id, "mine now").await,
        403,
        "not_the_sender",
        "editing someone else's message",
    );
    assert_error(
        &app.delete_message(&ben, &chat, &id).await,
        403,
        "not_the_sender",
        "deleting someone else's message",
    );
    assert_error(
        &app.edit(&ann, &chat, &id, "  ").await,
        400,
        "empty_content",
        "an empty edit",
    );
    assert_error(
        &app.send_to_chat(&ben, &chat, json!({"content": "re", "replyTo": other_id}))
            .await,
        404,
        "reply_not_found",
        "replying to a message of another chat",
    );
    assert_error(
        &app.forward(&ann, &chat, &id, &[]).await,
        400,
        "invalid_chat_ids",
        "forwarding to nobody",
    );
    let six: Vec<String> = (0..6)
        .map(|_| whatspe::domain::ConversationId::new_group().to_string())
        .collect();
    let six: Vec<&str> = six.iter().map(String::as_str).collect();
    assert_error(
        &app.forward(&ann, &chat, &id, &six).await,
        400,
        "invalid_chat_ids",
        "forwarding to six chats",
    );
    let stranger_chat = whatspe::domain::ConversationId::direct(
        &whatspe::domain::UserId::parse(&ben.id).unwrap(),
        &whatspe::domain::UserId::parse(&cid.id).unwrap(),
    )
    .to_string();
    assert_error(
        &app.forward(&ann, &chat, &id, &[stranger_chat.as_str()])
            .await,
        404,
        "chat_not_found",
        "forwarding to a chat you are not in",
    );
    assert_error(
        &app.forward(&cid, &chat, &id, &[stranger_chat.as_str()])
            .await,
        404,
        "chat_not_found",
        "forwarding a message of a chat you are not in",
    );

    // After the windows: editing after 15 minutes, deleting after 48 hours (signed in
    // again: access tokens live 15 minutes).
    app.clock().advance(chrono::TimeDelta::minutes(16));
    let mut ann = ann;
    app.sign_in_again(&mut ann).await;
    assert_error(
        &app.edit(&ann, &chat, &id, "late").await,
        403,
        "too_late",
        "an edit after 15 minutes",
    );
    app.clock().advance(chrono::TimeDelta::hours(48));
    app.sign_in_again(&mut ann).await;
    assert_error(
        &app.delete_message(&ann, &chat, &id).await,
        403,
        "too_late",
        "a delete after 48 hours",
    );
    let seen = app.seen(&ann, &chat, &id).await;
    assert_eq!(seen["content"], "original", "nothing changed: {seen}");
    assert!(seen.get("reactions").is_none(), "{seen}");
    assert!(seen.get("edited").is_none(), "{seen}");
}

/// Concurrent edits, reactions and a delete of one message settle on one consistent state:
/// after the delete wins, every later action is refused; the tombstone has no reactions; each
/// device got the DEL once and no EDIT after it.
async fn concurrent_actions_settle(app: TestApp, first: u32, delivery: Duration) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    app.befriend(&ann, &ben).await;
    let mut ben1 = Device::open(&app, &ben).await;
    let m = app.send_ok(&ann, &ben, "v0").await;
    let (id, chat) = (str_field(&m, "id"), str_field(&m, "chatId"));
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 1..=6 {
        let (app, ann, chat, id) = (app.clone(), ann.clone(), chat.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            (
                "edit",
                app.edit(&ann, &chat, &id, &format!("v{i}")).await.status,
            )
        }));
    }
    for emoji in ["👍", "😂", "🔥"] {
        let (app, ben, chat, id) = (app.clone(), ben.clone(), chat.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            ("react", app.react(&ben, &chat, &id, emoji).await.status)
        }));
    }
    for _ in 0..3 {
        let (app, ann, chat, id) = (app.clone(), ann.clone(), chat.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            ("delete", app.delete_message(&ann, &chat, &id).await.status)
        }));
    }
    let mut outcomes: HashMap<(&str, u16), usize> = HashMap::new();
    for t in tasks {
        *outcomes.entry(t.await.unwrap()).or_default() += 1;
    }
    assert_eq!(
        outcomes.get(&("delete", 200)),
        Some(&1),
        "exactly one delete wins: {outcomes:?}"
    );
    assert_eq!(outcomes.get(&("delete", 409)), Some(&2), "{outcomes:?}");
    for (what, status) in outcomes.keys() {
        assert!(
            [200, 409].contains(status),
            "{what} answered {status}: {outcomes:?}"
        );
    }
    let seen = app.seen(&ann, &chat, &id).await;
    assert_eq!(
        (&seen["deleted"], &seen["content"]),
        (&json!(true), &json!(""))
    );
    assert!(seen.get("reactions").is_none(), "wiped: {seen}");
    ben1.expect("DEL", &id, delivery).await;
    ben1.settle(Duration::from_millis(500)).await;
    assert_eq!(ben1.count("DEL", &id), 1);
    let del_at = ben1.log.iter().position(|f| about(f, "DEL", &id)).unwrap();
    assert!(
        !ben1.log[del_at..]
            .iter()
            .any(|f| about(f, "EDIT", &id) || about(f, "RCT", &id)),
        "nothing after the delete: {:?}",
        ben1.log
    );
    let edits = outcomes.get(&("edit", 200)).copied().unwrap_or(0);
    assert_eq!(
        ben1.count("EDIT", &id),
        edits,
        "one EDIT per edit that succeeded: {:?}",
        ben1.log
    );
    let reactions = outcomes.get(&("react", 200)).copied().unwrap_or(0);
    assert_eq!(ben1.count("RCT", &id), reactions, "{:?}", ben1.log);
}

#[tokio::test]
async fn memory_concurrent_actions_settle() {
    concurrent_actions_settle(spawn_app().await, 40, DELIVERY).await;
}

#[tokio::test]
async fn moto_concurrent_actions_settle() {
    concurrent_actions_settle(moto().await, 50, MOTO_DELIVERY).await;
}

/// Concurrent edits alone (no delete to end the race): each is applied or refused as a whole
/// (200, or 409 `concurrent_update`), at least one wins, every win is one EDIT frame, and the
/// history, the chat list and the last EDIT frame all show the same final text.
async fn concurrent_edits_settle(app: TestApp, first: u32, delivery: Duration) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    app.befriend(&ann, &ben).await;
    let mut ben1 = Device::open(&app, &ben).await;
    let m = app.send_ok(&ann, &ben, "v0").await;
    let (id, chat) = (str_field(&m, "id"), str_field(&m, "chatId"));
    ben1.expect("MSG", &id, delivery).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (1..=8)
        .map(|i| {
            let (app, ann, chat, id) = (app.clone(), ann.clone(), chat.clone(), id.clone());
            tokio::spawn(async move {
                let r = app.edit(&ann, &chat, &id, &format!("v{i}")).await;
                (r.status, r.body)
            })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => won.push(body["content"].as_str().unwrap().to_owned()),
            409 => assert_eq!(body["code"], "concurrent_update", "{body}"),
            other => panic!("an edit answered {other}: {body}"),
        }
    }
    assert!(!won.is_empty(), "at least one edit wins");
    let seen = app.seen(&ben, &chat, &id).await;
    let last = seen["content"].as_str().unwrap().to_owned();
    assert!(
        won.contains(&last),
        "history shows a winning edit: {last} of {won:?}"
    );
    assert_eq!(seen["edited"], true);
    app.chat_entry_until(&ann, &chat, delivery, |m| {
        m["id"] == id && m["content"] == last
    })
    .await;
    // The frames: one per winning edit, the last of them carrying the final text.
    let started = Instant::now();
    while ben1.count("EDIT", &id) < won.len() && started.elapsed() < delivery {
        ben1.settle(Duration::from_millis(100)).await;
    }
    ben1.settle(Duration::from_millis(500)).await;
    let edits: Vec<&Value> = ben1.log.iter().filter(|f| about(f, "EDIT", &id)).collect();
    assert_eq!(edits.len(), won.len(), "one EDIT per win: {:?}", ben1.log);
    assert_eq!(edits.last().unwrap()["d"]["x"], last.as_str(), "{edits:?}");
}

#[tokio::test]
async fn memory_concurrent_edits_settle() {
    concurrent_edits_settle(spawn_app().await, 60, DELIVERY).await;
}

#[tokio::test]
async fn moto_concurrent_edits_settle() {
    concurrent_edits_settle(moto().await, 70, MOTO_DELIVERY).await;
}

/// A real PNG header followed by filler.
fn png_bytes() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend((0..512 - b.len()).map(|i| (i % 251) as u8));
    b
}

/// Actions on a media message, with the receiver offline on a phone that gets pushes: a reply
/// quotes its kind and caption, an edit is refused (text only), reactions and the delete reach
/// nobody's phone (only the messages themselves are pushed), and the delete wipes the media
/// reference from history.
#[tokio::test]
async fn media_actions_and_no_pushes_for_actions() {
    let app = spawn_app().await;
    let ann = app.sign_up(&phone(80), "ann").await;
    let ben = app.sign_up(&phone(81), "ben").await;
    app.befriend(&ann, &ben).await;
    let r = app
        .post(
            "/api/devices",
            json!({"platform": "fcm", "token": "ben-phone"}),
            &ben.token,
        )
        .await;
    assert_ok(&r, 201, "ben's phone takes pushes");

    let media_id = app.upload_png(&ann, png_bytes()).await;
    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": ben.id, "type": "image", "mediaId": media_id,
                   "caption": "the view"}),
            &ann.token,
        )
        .await;
    assert_ok(&r, 201, "ann sends a photo");
    let (id, chat) = (str_field(&r.body, "id"), str_field(&r.body, "chatId"));
    let pushed = |n: usize, case: &str| {
        let sent = app.push.sent();
        assert_eq!(sent.len(), n, "{case}: {sent:?}");
    };
    let started = Instant::now();
    while app.push.sent().is_empty() && started.elapsed() < DELIVERY {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pushed(1, "the photo is pushed to ben's phone");

    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": ann.id, "content": "wow", "replyTo": id}),
            &ben.token,
        )
        .await;
    assert_ok(&r, 201, "ben replies to the photo");
    assert_eq!(
        r.body["replyTo"],
        json!({"id": id, "senderId": ann.id, "type": "image", "text": "the view"}),
        "the quote names the kind and the caption"
    );
    assert_error(
        &app.edit(&ann, &chat, &id, "new caption").await,
        400,
        "not_text",
        "editing a photo",
    );
    assert_ok(&app.react(&ann, &chat, &id, "🔥").await, 200, "ann reacts");
    assert_ok(
        &app.delete_message(&ann, &chat, &id).await,
        200,
        "ann deletes the photo for everyone",
    );
    let seen = app.seen(&ben, &chat, &id).await;
    assert_eq!(seen["deleted"], true, "{seen}");
    for gone in ["mediaId", "caption", "thumbnail", "reactions"] {
        assert!(seen.get(gone).is_none(), "{gone} wiped: {seen}");
    }
    // Ann's phone got nothing (she sent everything from REST and has no device), ben's got
    // only the photo: no push for the reaction or the delete, whatever time passes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    pushed(1, "actions are never pushed");
}
