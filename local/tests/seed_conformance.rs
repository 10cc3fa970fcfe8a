//! Seed conformance: a client written against the WhatsPe seed API reference works unchanged.
//!
//! Every request example of the seed (`docs/seed/whatspe-api-examples.json`, copied verbatim
//! from `../shared/seeds/whatspe-api.md`) is replayed in the order a client uses them, against
//! the real local gateway — on the in-memory stores and on the AWS adapters of a moto server.
//! Only what cannot be literal is substituted: the seed's ids become the ids earlier answers
//! gave, the OTP code is the one the outbox received, and requests carry the bearer token
//! (identity comes from the token, see `docs/seed.md`). Every answer must carry every field of
//! the seed's example answer with the seed's JSON type (a UUID where the seed shows one, an
//! RFC 3339 time where it shows a time; extra fields allowed), except the fields the examples
//! file lists as `withheld`, which must then really be absent.

mod common;

use common::{
    Person, Reply, TestApp, assert_error, assert_ok, config_with_webhook, keys, set_of,
    spawn_app_on_moto_with, spawn_app_with, str_field,
};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, Message};
use whatspe::domain::UserId;
use whatspe_local::Options;

const EXAMPLES: &str = include_str!("../../docs/seed/whatspe-api-examples.json");

/// How long a frame may take to reach a socket (moto included).
const FRAME_WITHIN: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The seed's examples
// ---------------------------------------------------------------------------------------------

struct Seed {
    doc: Value,
    /// Seed id → the id this run got for the same thing.
    ids: Vec<(String, String)>,
}

/// A seed request, after substitution.
struct SeedRequest {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Seed {
    fn load() -> Self {
        let doc: Value = serde_json::from_str(EXAMPLES).expect("the seed examples are JSON");
        Seed {
            doc,
            ids: Vec::new(),
        }
    }

    fn example(&self, name: &str) -> &Value {
        let e = &self.doc["examples"][name];
        assert!(e.is_object(), "the seed examples have no {name:?}");
        e
    }

    /// From now on the seed's id `key` (of the examples' `ids`) stands for `real`.
    fn map(&mut self, key: &str, real: &str) {
        let seed_id = str_field(&self.doc["ids"], key);
        self.ids.retain(|(s, _)| *s != seed_id);
        self.ids.push((seed_id, real.to_owned()));
    }

    fn substitute(&self, text: &str) -> String {
        self.ids
            .iter()
            .fold(text.to_owned(), |t, (seed, real)| t.replace(seed, real))
    }

    /// The example's request with the seed's ids replaced.
    fn request(&self, name: &str) -> SeedRequest {
        let r = &self.example(name)["request"];
        let body = (!r["body"].is_null()).then(|| {
            serde_json::from_str(&self.substitute(&r["body"].to_string()))
                .expect("a substituted body is JSON")
        });
        SeedRequest {
            method: Method::from_bytes(str_field(r, "method").as_bytes()).expect("a method"),
            path: self.substitute(&str_field(r, "path")),
            body,
        }
    }

    /// Sends the example's request (its body replaced by `body` when given) with `bearer`.
    async fn call(
        &self,
        app: &TestApp,
        name: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let req = self.request(name);
        let body = match body.or(req.body) {
            Some(b) => common::Body::Json(b),
            None => common::Body::Empty,
        };
        app.request(req.method, &req.path, body, bearer).await
    }

    /// The answer has the example's answer's fields with its types (see the module docs).
    #[track_caller]
    fn assert_conforms(&self, name: &str, answer: &Value) {
        let example = self.example(name);
        let withheld: Vec<String> = example["withheld"]
            .as_array()
            .map(|w| w.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        conforms(answer, &example["response"], &withheld, "", &mut problems);
        assert!(
            problems.is_empty(),
            "{name}: the answer does not have the seed's shape:\n- {}\nanswer: {answer}",
            problems.join("\n- ")
        );
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

fn is_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Collects in `problems` how `answer` falls short of `seed` at `path`.
fn conforms(
    answer: &Value,
    seed: &Value,
    withheld: &[String],
    path: &str,
    problems: &mut Vec<String>,
) {
    let at = if path.is_empty() { "the answer" } else { path };
    match seed {
        Value::Object(fields) => {
            let Some(obj) = answer.as_object() else {
                problems.push(format!("{at} should be an object, is {answer}"));
                return;
            };
            for (k, v) in fields {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if withheld.contains(&p) {
                    if obj.contains_key(k) {
                        problems.push(format!("{p} is documented as withheld but was sent"));
                    }
                } else if let Some(a) = obj.get(k) {
                    conforms(a, v, withheld, &p, problems);
                } else {
                    problems.push(format!("{p} is missing"));
                }
            }
        }
        Value::Array(items) => {
            let Some(list) = answer.as_array() else {
                problems.push(format!("{at} should be an array, is {answer}"));
                return;
            };
            if let Some(first) = items.first() {
                if list.is_empty() {
                    problems.push(format!("{at} is empty; the test expects entries to check"));
                }
                for a in list {
                    conforms(a, first, withheld, path, problems);
                }
            }
        }
        Value::String(s) => match answer.as_str() {
            None => problems.push(format!("{at} should be a string, is {answer}")),
            Some(a) if is_uuid(s) && !is_uuid(a) => {
                problems.push(format!("{at} should be a UUID like the seed's, is {a:?}"))
            }
            Some(a) if is_time(s) && !is_time(a) => {
                problems.push(format!("{at} should be an RFC 3339 time, is {a:?}"))
            }
            Some(_) => {}
        },
        // The seed's `null`s are `string | null` fields (profilePicture).
        Value::Null if !(answer.is_null() || answer.is_string()) => {
            problems.push(format!("{at} should be a string or null, is {answer}"))
        }
        Value::Bool(_) if !answer.is_boolean() => {
            problems.push(format!("{at} should be a boolean, is {answer}"))
        }
        Value::Number(_) if !answer.is_number() => {
            problems.push(format!("{at} should be a number, is {answer}"))
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// A seed client's socket
// ---------------------------------------------------------------------------------------------

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct SeedSocket {
    who: &'static str,
    ws: Ws,
    /// Every frame received, in order.
    seen: Vec<Value>,
    /// Frames received but not yet expected.
    unread: Vec<Value>,
}

impl SeedSocket {
    /// Opens the seed's `/ws?userId=` (naming `user`) with the access token beside it.
    async fn open(
        app: &TestApp,
        seed: &Seed,
        who: &'static str,
        user: &str,
        token: &str,
    ) -> SeedSocket {
        let example = &seed.example("WebSocket Connection")["request"];
        let path = str_field(example, "path").replace(&str_field(&seed.doc["ids"], "alice"), user);
        let url = format!("ws://{}{path}&token={token}", app.addr);
        let (ws, res) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{who}: the seed's /ws?userId= is refused: {e}"));
        assert_eq!(
            res.status().as_u16(),
            101,
            "{who}: the upgrade switches protocols"
        );
        let mut s = SeedSocket {
            who,
            ws,
            seen: Vec::new(),
            unread: Vec::new(),
        };
        s.send(json!({ "t": "PING" })).await;
        s.expect("CONN", |_| true).await;
        s.expect("PONG", |_| true).await;
        s
    }

    async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{}: sending a frame failed: {e}", self.who));
    }

    /// The first frame of type `t` that `matches`, within [`FRAME_WITHIN`]; other frames stay
    /// unread.
    async fn expect(&mut self, t: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.unread.iter().position(|f| f["t"] == t && matches(f)) {
            return self.unread.remove(i);
        }
        let deadline = Instant::now() + FRAME_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: no {t} frame within {FRAME_WITHIN:?}; unread: {:?}",
                        self.who, self.unread
                    )
                });
            let frame: Value = match next {
                Some(Ok(Message::Text(text))) => serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("{}: a frame that is not JSON: {e}", self.who)),
                Some(Ok(Message::Close(c))) => panic!("{}: the socket closed: {c:?}", self.who),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("{}: the socket broke: {e}", self.who),
                None => panic!("{}: the socket ended", self.who),
            };
            assert!(
                frame["t"].is_string() && frame["d"].is_object(),
                "{}: frames are the seed's {{\"t\": TYPE, \"d\": {{...}}}}, got {frame}",
                self.who
            );
            self.seen.push(frame.clone());
            if frame["t"] == t && matches(&frame) {
                return frame;
            }
            self.unread.push(frame);
        }
    }

    fn types_seen(&self) -> BTreeSet<String> {
        self.seen.iter().map(|f| str_field(f, "t")).collect()
    }
}

/// The seed's `MSG` frame: its keys with its types, carrying `m` (a message as REST shows it).
#[track_caller]
fn assert_seed_msg_frame(seed: &Seed, frame: &Value, m: &Value) {
    let example = &seed.example("WebSocket Message Format")["frame"];
    let mut problems = Vec::new();
    conforms(frame, example, &[], "", &mut problems);
    assert!(problems.is_empty(), "MSG frame: {problems:?} in {frame}");
    let d = &frame["d"];
    assert_eq!(d["id"], m["id"], "MSG id is the message's");
    assert_eq!(d["s"], m["senderId"], "MSG s is the sender");
    assert_eq!(d["r"], m["receiverId"], "MSG r is the receiver");
    assert_eq!(d["c"], m["content"], "MSG c is the content");
    assert_eq!(d["t"], m["type"], "MSG t is the type");
    assert_eq!(d["ts"], m["createdAt"], "MSG ts is the message's createdAt");
}

// ---------------------------------------------------------------------------------------------
// The journey
// ---------------------------------------------------------------------------------------------

/// The seed's verify-otp body with the code the outbox received.
fn verify_body(seed: &Seed, code: String) -> Value {
    let mut body = seed.request("Verify OTP").body.expect("a body");
    body["verificationCode"] = json!(code);
    body
}

/// A seed client's whole session, in the order the seed's reference lists its APIs.
async fn seed_client_journey(app: &TestApp) {
    let mut seed = Seed::load();

    // Sign-up with the seed's own bodies: request-otp, verify-otp {verificationCode}, register.
    let r = seed.call(app, "Request OTP", None, None).await;
    assert_ok(&r, 200, "Request OTP, verbatim");
    seed.assert_conforms("Request OTP", &r.body);
    assert_eq!(r.body["message"], "OTP sent successfully");
    let alice_phone = str_field(&r.body, "phoneNumber");
    assert_eq!(
        alice_phone, "+919890999999",
        "the seed's bare number, in E.164"
    );
    let code = app.latest_code(&alice_phone).await;
    let r = seed
        .call(app, "Verify OTP", Some(verify_body(&seed, code)), None)
        .await;
    assert_ok(&r, 200, "Verify OTP with verificationCode, new number");
    assert_eq!(r.body["isNewUser"], true, "a new number: {}", r.body);
    assert_eq!(r.body["message"], "OTP verified successfully");
    let registration = str_field(&r.body, "registrationToken");

    let r = seed
        .call(app, "Register New User", None, Some(&registration))
        .await;
    assert_ok(&r, 201, "Register New User, the seed's body verbatim");
    seed.assert_conforms("Register New User", &r.body);
    let want = seed.request("Register New User").body.expect("a body");
    for field in ["username", "email", "status"] {
        assert_eq!(
            r.body[field], want[field],
            "register keeps the seed's {field}"
        );
    }
    assert_eq!(r.body["verified"], true);
    let alice_id = str_field(&r.body, "id");
    seed.map("alice", &alice_id);

    // Signing in again is the seed's verify-otp verbatim: the existing user and tokens.
    let r = seed.call(app, "Request OTP", None, None).await;
    assert_ok(&r, 200, "Request OTP again");
    let code = app.latest_code(&alice_phone).await;
    let r = seed
        .call(app, "Verify OTP", Some(verify_body(&seed, code)), None)
        .await;
    assert_ok(&r, 200, "Verify OTP, verbatim, known number");
    seed.assert_conforms("Verify OTP", &r.body);
    assert_eq!(r.body["isNewUser"], false);
    assert_eq!(r.body["user"]["id"], alice_id.as_str(), "the same account");
    let alice = Person {
        id: alice_id.clone(),
        username: "newuser".into(),
        phone: alice_phone.clone(),
        token: str_field(&r.body, "accessToken"),
        profile: Value::Null,
        last_seen: Value::Null,
    };

    let r = seed
        .call(app, "Get Current User", None, Some(&alice.token))
        .await;
    assert_ok(&r, 200, "Get Current User");
    seed.assert_conforms("Get Current User", &r.body);
    assert_eq!(r.body["id"], alice_id.as_str());

    // Bob has the seed's other number and the username its search example looks for.
    let bob = app.sign_up("8002499033", "username").await;
    seed.map("bob", &bob.id);
    let carol = app.sign_up("8002499034", "carol").await;

    let mut alice_ws = SeedSocket::open(app, &seed, "alice", &alice.id, &alice.token).await;
    let mut bob_ws = SeedSocket::open(app, &seed, "bob", &bob.id, &bob.token).await;

    let r = seed
        .call(app, "Search Users", None, Some(&alice.token))
        .await;
    assert_ok(&r, 200, "Search Users, verbatim");
    seed.assert_conforms("Search Users", &r.body);
    assert_eq!(r.items("search")[0]["id"], bob.id.as_str(), "finds bob");

    // Contacts: request, pending, accept, the list; and a rejection.
    let r = seed
        .call(app, "Send Contact Request", None, Some(&alice.token))
        .await;
    assert_ok(
        &r,
        201,
        "Send Contact Request, verbatim (with ?userId= of the caller)",
    );
    seed.assert_conforms("Send Contact Request", &r.body);
    assert_eq!(r.body["status"], "pending");
    let request_id = str_field(&r.body, "id");
    seed.map("request", &request_id);
    bob_ws
        .expect("REQ", |f| f["d"]["id"] == request_id.as_str())
        .await;

    let r = seed
        .call(app, "Get Pending Contact Requests", None, Some(&bob.token))
        .await;
    assert_ok(&r, 200, "Get Pending Contact Requests, verbatim");
    seed.assert_conforms("Get Pending Contact Requests", &r.body);
    assert_eq!(r.items("pending")[0]["sender"]["id"], alice_id.as_str());

    let r = seed
        .call(app, "Accept Contact Request", None, Some(&bob.token))
        .await;
    assert_ok(&r, 200, "Accept Contact Request, verbatim");
    seed.assert_conforms("Accept Contact Request", &r.body);
    assert_eq!(r.body["request"]["status"], "accepted");
    assert_eq!(r.body["contact"]["id"], alice_id.as_str());
    alice_ws
        .expect("REQ_ACC", |f| f["d"]["id"] == request_id.as_str())
        .await;

    let r = seed
        .call(app, "Get Contacts", None, Some(&alice.token))
        .await;
    assert_ok(&r, 200, "Get Contacts, verbatim");
    seed.assert_conforms("Get Contacts", &r.body);
    assert_eq!(r.items("contacts")[0]["id"], bob.id.as_str());
    assert_eq!(
        r.items("contacts")[0]["phoneNumber"],
        "+918002499033",
        "contacts see each other's number"
    );

    let r = app
        .post(
            "/api/contacts/request",
            json!({ "receiverId": bob.id }),
            &carol.token,
        )
        .await;
    assert_ok(&r, 201, "carol asks bob");
    seed.map("request", &str_field(&r.body, "id"));
    let r = seed
        .call(app, "Reject Contact Request", None, Some(&bob.token))
        .await;
    assert_ok(&r, 200, "Reject Contact Request, verbatim");
    seed.assert_conforms("Reject Contact Request", &r.body);
    assert_eq!(r.body["status"], "rejected");

    // Messaging: send, the socket's MSG, the reply, history (which marks read).
    let r = seed
        .call(app, "Send Message", None, Some(&alice.token))
        .await;
    assert_ok(&r, 201, "Send Message, verbatim (status included)");
    seed.assert_conforms("Send Message", &r.body);
    assert_eq!(r.body["content"], "Hello, how are you?");
    assert_eq!(r.body["status"], "sent");
    let hello = r.body;
    let frame = bob_ws.expect("MSG", |f| f["d"]["id"] == hello["id"]).await;
    assert_seed_msg_frame(&seed, &frame, &hello);

    let mut reply = seed.request("Send Message").body.expect("a body");
    reply["receiverId"] = json!(alice_id);
    reply["content"] = json!("I'm doing great, thanks!");
    let r = app
        .request(
            Method::POST,
            &format!("/api/messages?userId={}", bob.id),
            common::Body::Json(reply),
            Some(&bob.token),
        )
        .await;
    assert_ok(&r, 201, "bob answers with the seed's body");
    let answer = r.body;
    let frame = alice_ws
        .expect("MSG", |f| f["d"]["id"] == answer["id"])
        .await;
    assert_seed_msg_frame(&seed, &frame, &answer);

    let r = seed
        .call(app, "Get Messages", None, Some(&alice.token))
        .await;
    assert_ok(&r, 200, "Get Messages, verbatim");
    seed.assert_conforms("Get Messages", &r.body);
    let history = r.items("history");
    assert_eq!(
        history
            .iter()
            .map(|m| m["content"].clone())
            .collect::<Vec<_>>(),
        vec![
            json!("I'm doing great, thanks!"),
            json!("Hello, how are you?")
        ],
        "both messages, newest first"
    );
    assert_eq!(
        history[0]["status"], "read",
        "the GET marked bob's message read"
    );
    bob_ws
        .expect("READ", |f| f["d"]["p"] == alice_id.as_str())
        .await;
    let r = app
        .get(
            &format!("/api/messages/{alice_id}?userId={}", bob.id),
            &bob.token,
        )
        .await;
    assert_ok(&r, 200, "bob reads the chat");
    alice_ws
        .expect("READ", |f| f["d"]["p"] == bob.id.as_str())
        .await;
    let r = seed
        .call(app, "Get Messages", None, Some(&alice.token))
        .await;
    let statuses: Vec<Value> = r
        .items("history")
        .iter()
        .map(|m| m["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!("read"), json!("read")],
        "as the seed shows: both read"
    );

    // Seed 000: send by the chat's id, spelled chatID.
    seed.map("chat", &str_field(&hello, "chatId"));
    let r = seed
        .call(
            app,
            "Send a Message (system design seed)",
            None,
            Some(&alice.token),
        )
        .await;
    assert_ok(&r, 201, "POST /api/messages {chatID, content, type}");
    assert_eq!(
        r.body["receiverId"],
        bob.id.as_str(),
        "the chat's other member"
    );
    assert_eq!(r.body["content"], "Hello World");
    let by_chat = r.body;
    bob_ws
        .expect("MSG", |f| f["d"]["id"] == by_chat["id"])
        .await;

    // The seed's frame itself, sent over the socket: stored and delivered, ACKed with its id.
    let mut frame = seed.example("WebSocket Message Format")["frame"].clone();
    frame = serde_json::from_str(&seed.substitute(&frame.to_string())).expect("JSON");
    alice_ws.send(frame.clone()).await;
    let ack = alice_ws.expect("ACK", |_| true).await;
    assert_eq!(
        ack["d"]["cm"], frame["d"]["id"],
        "the seed frame's id is the client's id"
    );
    let delivered = bob_ws
        .expect("MSG", |f| f["d"]["id"] == ack["d"]["id"])
        .await;
    assert_eq!(delivered["d"]["c"], "Hello, how are you?");
    assert_eq!(delivered["d"]["s"], alice_id.as_str());

    alice_ws
        .send(json!({ "t": "TYPING", "d": { "r": bob.id } }))
        .await;
    bob_ws
        .expect("TYPING", |f| f["d"]["s"] == alice_id.as_str())
        .await;

    // The webhook's seed body, "senderId": "system", signed.
    let body = seed
        .request("Webhook for External Message Integration")
        .body
        .expect("a body")
        .to_string();
    let r = app.signed_webhook(&body).await;
    assert_ok(&r, 201, "the seed's webhook body, signed");
    seed.assert_conforms("Webhook for External Message Integration", &r.body);
    assert_eq!(r.body["success"], true);
    let system_message = r.body["message"].clone();
    assert_eq!(system_message["senderId"], UserId::SYSTEM.to_string());
    let frame = alice_ws
        .expect("MSG", |f| f["d"]["id"] == system_message["id"])
        .await;
    assert_seed_msg_frame(&seed, &frame, &system_message);
    let r = app.get("/api/chats", &alice.token).await;
    let chats = r.items("chats");
    let system_chat = chats
        .iter()
        .find(|c| c["peer"]["id"] == UserId::SYSTEM.to_string())
        .unwrap_or_else(|| panic!("the system chat is listed: {chats:?}"));
    assert_eq!(system_chat["peer"]["username"], "whatspe");
    assert_eq!(system_chat["unreadCount"], 1);

    // Every frame type a seed client saw is one of the seed's table.
    let table: BTreeSet<String> = seed.example("WebSocket Message Types")["types"]
        .as_object()
        .expect("the type table")
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let seen: BTreeSet<String> = alice_ws
        .types_seen()
        .union(&bob_ws.types_seen())
        .cloned()
        .collect();
    for t in ["CONN", "MSG", "READ", "REQ", "REQ_ACC", "TYPING", "PONG"] {
        assert!(table.contains(t), "{t} is in the seed's table");
        assert!(seen.contains(t), "a seed client received {t}: saw {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_client_works_unchanged_on_the_in_memory_stores() {
    let app = spawn_app_with(config_with_webhook(&[]), Options::default()).await;
    seed_client_journey(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_client_works_unchanged_on_dynamodb_sqs_and_sns_via_moto() {
    let (app, _, _) =
        spawn_app_on_moto_with(config_with_webhook(&[]), "s", Options::default()).await;
    seed_client_journey(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Bad input stays refused
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn code_fields_that_disagree_unknown_fields_and_another_users_id_are_refused() {
    let app = spawn_app_with(config_with_webhook(&[]), Options::default()).await;
    let phone = "+919890999999";
    let code = app.code_for(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for (case, body, code_want) in [
        (
            "verificationCode and otp disagree",
            json!({ "phoneNumber": phone, "verificationCode": code, "otp": wrong }),
            "invalid_body",
        ),
        (
            "verificationCode and code disagree",
            json!({ "phoneNumber": phone, "verificationCode": wrong, "code": code }),
            "invalid_body",
        ),
        (
            "no code at all",
            json!({ "phoneNumber": phone }),
            "invalid_body",
        ),
        (
            "an unknown field",
            json!({ "phoneNumber": phone, "verificationCode": code, "pin": code }),
            "invalid_body",
        ),
    ] {
        let r = app.post_public("/api/auth/verify-otp", body).await;
        assert_error(&r, 400, code_want, case);
    }
    // Nothing above used up the code: the same value under both names signs in.
    let r = app
        .post_public(
            "/api/auth/verify-otp",
            json!({ "phoneNumber": phone, "verificationCode": code, "otp": code }),
        )
        .await;
    assert_ok(&r, 200, "the same code under two names");
    assert_eq!(r.body["isNewUser"], true);

    let a = app.sign_up("9890999998", "asha").await;
    let b = app.sign_up("9890999997", "bala").await;
    for (case, body, status, err) in [
        (
            "receiverId and chatID both",
            json!({ "receiverId": b.id, "chatID": UserId::new_random().to_string(), "content": "x" }),
            400,
            "invalid_body",
        ),
        (
            "neither receiverId nor chatId",
            json!({ "content": "x" }),
            400,
            "invalid_body",
        ),
        (
            "a chatId that is not a UUID",
            json!({ "chatId": "chat-uuid", "content": "x" }),
            400,
            "invalid_chat_id",
        ),
        (
            "a chat the caller is not in",
            json!({ "chatId": UserId::new_random().to_string(), "content": "x" }),
            404,
            "chat_not_found",
        ),
        (
            "an unknown field",
            json!({ "receiverId": b.id, "content": "x", "chatName": "y" }),
            400,
            "invalid_body",
        ),
    ] {
        assert_error(
            &app.post("/api/messages", body, &a.token).await,
            status,
            err,
            case,
        );
    }
    assert_error(
        &app.get(&format!("/api/messages/{}?userId={}", b.id, b.id), &a.token)
            .await,
        403,
        "user_mismatch",
        "history with another user's ?userId=",
    );

    // The seed's socket URL with someone else's userId.
    let url = format!("ws://{}/ws?userId={}&token={}", app.addr, b.id, a.token);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(res)) => {
            assert_eq!(res.status().as_u16(), 403, "another user's ?userId= on /ws")
        }
        other => panic!("the upgrade with another user's userId was not refused: {other:?}"),
    }
    // A seed MSG frame naming another sender gets ERR, and nothing is stored.
    let mut ws = SeedSocket::open_plain(&app, &a).await;
    ws.send(json!({ "t": "MSG", "d": { "s": b.id, "r": b.id, "c": "spoof", "t": "text" } }))
        .await;
    let err = ws.expect("ERR", |_| true).await;
    assert_eq!(err["d"]["code"], "user_mismatch", "{err}");
    assert_eq!(keys(&err["d"]), set_of(&["code", "msg"]));
    let r = app.get("/api/chats", &b.token).await;
    assert_eq!(
        r.items("b's chats"),
        Vec::<Value>::new(),
        "nothing was sent"
    );
}

impl SeedSocket {
    /// A socket opened with `?token=` only (our own clients' form).
    async fn open_plain(app: &TestApp, who: &Person) -> SeedSocket {
        let url = format!("ws://{}/ws?token={}", app.addr, who.token);
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("a socket");
        let mut s = SeedSocket {
            who: "plain",
            ws,
            seen: Vec::new(),
            unread: Vec::new(),
        };
        s.send(json!({ "t": "PING" })).await;
        s.expect("PONG", |_| true).await;
        s
    }
}
