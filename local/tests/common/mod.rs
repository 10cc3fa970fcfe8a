//! The harness the end-to-end tests share: the real local gateway on 127.0.0.1:0 (in-memory
//! stores on a [`ManualClock`], or the AWS adapters of a moto server), a reqwest client
//! around it, the sign-up flow, contacts, sending a message, and the assertions every file
//! makes. Each test file declares `mod common;`; not every file uses every helper.

#![allow(dead_code)]

pub mod ws;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use whatspe::clock::ManualClock;
use whatspe::config::Config;
use whatspe::domain::MessageId;
use whatspe::memory::MemoryQueue;
use whatspe::memory::{RecordingNotifier, RecordingPush};
use whatspe_local::ws::Sockets;
use whatspe_local::{Backend, Gateway, Options};

/// What strangers see of a user: the seed's user fields but `email`, `phoneNumber` and
/// `lastSeen` (shown to contacts by default: the user's `lastSeenVisibility`).
pub const PUBLIC_PROFILE_KEYS: [&str; 7] = [
    "id",
    "username",
    "status",
    "profilePicture",
    "verified",
    "createdAt",
    "updatedAt",
];

/// A message as the REST API shows it.
pub const MESSAGE_KEYS: [&str; 10] = [
    "id",
    "chatId",
    "senderId",
    "receiverId",
    "content",
    "type",
    "status",
    "clientMessageId",
    "createdAt",
    "updatedAt",
];

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

pub struct TestApp {
    /// Where the gateway listens (HTTP and WebSocket).
    pub addr: SocketAddr,
    pub base_url: String,
    pub client: reqwest::Client,
    /// The gateway's clock on the memory backend; `None` where it runs on the system clock
    /// (moto, or a memory gateway built on the system clock).
    pub clock: Option<Arc<ManualClock>>,
    /// The real-time events (REQ / REQ_ACC) the functions emitted.
    pub notifier: Arc<RecordingNotifier>,
    /// The local SQS queue: the delivery jobs the functions queued (memory backend).
    pub queue: Arc<MemoryQueue>,
    /// The messages table's stream the relay reads (memory backend).
    pub stream: Arc<whatspe::memory::MessageStream>,
    /// The mobile pushes sent (memory backend).
    pub push: Arc<RecordingPush>,
    /// The gateway's open sockets.
    pub sockets: Arc<Sockets>,
    /// The blobs behind the local upload/download URLs (memory backend).
    pub blobs: Option<Arc<whatspe::memory::MemoryBlobs>>,
    /// Dropping the app stops the server.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The webhook key [`config_with_webhook`] configures (at least 32 bytes).
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret-0123456789abcdef0123";

/// The test configuration with the known webhook key plus `vars`.
pub fn config_with_webhook(vars: &[(&str, &str)]) -> Config {
    let mut map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.insert(
        whatspe::config::ENV_WEBHOOK_SECRET.to_owned(),
        WEBHOOK_SECRET.to_owned(),
    );
    Config::local_from_lookup(move |k| map.get(k).cloned()).expect("the test configuration")
}

/// `X-Whatspe-Signature` of `body` at epoch second `t` under `key`, written out here (not with
/// the server's code): `t=<t>,v1=<hex HMAC-SHA256(key, "<t>." + body)>`.
pub fn signature(key: &[u8], t: i64, body: &str) -> String {
    format!(
        "t={t},v1={}",
        hex(&whatspe::crypto::hmac_sha256(
            key,
            format!("{t}.{body}").as_bytes()
        ))
    )
}

/// The gateway on in-memory stores with the test configuration and the default emulation
/// settings, on a manual clock the test can move.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Config::for_tests(), Options::default()).await
}

/// The gateway on in-memory stores with `config` and `options`, on a manual clock the test
/// can move.
pub async fn spawn_app_with(config: Config, options: Options) -> TestApp {
    let clock = Arc::new(ManualClock::starting_now());
    let gateway = whatspe_local::build_with(
        config,
        Backend::Memory {
            clock: clock.clone(),
        },
        options,
    )
    .await
    .expect("the in-memory gateway builds");
    start(gateway, Some(clock)).await
}

/// The moto server's endpoint from `WHATSPE_TEST_ENDPOINT`; says how to start one if unset.
pub fn moto_endpoint() -> String {
    std::env::var("WHATSPE_TEST_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "WHATSPE_TEST_ENDPOINT is not set: this test needs a moto server. Run `make test` \
                 or `scripts/with-moto.sh cargo test -p whatspe-local --test {}`, or start \
                 moto with `make moto` and set WHATSPE_TEST_ENDPOINT=http://127.0.0.1:5000",
                env!("CARGO_CRATE_NAME")
            )
        })
}

/// The gateway on the AWS adapters of a moto server (DynamoDB, SNS, and the SQS queue) with
/// the test configuration and fresh tables.
pub async fn spawn_app_on_moto() -> TestApp {
    spawn_app_on_moto_with(Config::for_tests(), "t", Options::default())
        .await
        .0
}

/// The gateway on the AWS adapters of a moto server with `config` and `options`, and a fresh
/// table (and queue) prefix starting with `tag`; also the SDK configuration and the prefix,
/// to look at the tables and the queue directly.
pub async fn spawn_app_on_moto_with(
    config: Config,
    tag: &str,
    options: Options,
) -> (TestApp, aws_config::SdkConfig, String) {
    spawn_app_on_endpoint(moto_endpoint(), config, tag, options).await
}

async fn spawn_app_on_endpoint(
    endpoint: String,
    mut config: Config,
    tag: &str,
    options: Options,
) -> (TestApp, aws_config::SdkConfig, String) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let prefix = format!("{tag}{}_", hex(&whatspe::crypto::random_bytes::<6>()));
    config.table_prefix = prefix.clone();
    let gateway = whatspe_local::build_with(config, Backend::Aws { sdk: sdk.clone() }, options)
        .await
        .unwrap_or_else(|e| panic!("the gateway could not set up its tables on {endpoint}: {e}"));
    (start(gateway, None).await, sdk, prefix)
}

/// Serves `gateway` on 127.0.0.1:0 until the returned app is dropped. The gateway logs to the
/// test's output as `RUST_LOG` says (nothing without it).
pub async fn start(gateway: Gateway, clock: Option<Arc<ManualClock>>) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    if let Some(blobs) = &gateway.blobs {
        blobs.set_base_url(&format!("http://{addr}"));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(whatspe_local::serve(listener, gateway.router, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client"),
        clock,
        notifier: gateway.notifier,
        queue: gateway.queue,
        stream: gateway.stream,
        push: gateway.push,
        sockets: gateway.sockets,
        blobs: gateway.blobs,
        _shutdown: tx,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and replies
// ---------------------------------------------------------------------------------------------

/// What the client saw: status, headers and the body (JSON, or `Value::Null` if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("response body");
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub fn next_cursor(&self) -> Option<String> {
        self.headers
            .get("x-next-cursor")
            .map(|v| v.to_str().expect("X-Next-Cursor is ASCII").to_owned())
    }

    pub fn items(&self, case: &str) -> Vec<Value> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("{case}: a bare JSON array, got {}", self.body))
            .clone()
    }
}

pub enum Body {
    Empty,
    Json(Value),
    /// Sent as is, labelled `application/json`.
    Raw(String),
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Body,
        bearer: Option<&str>,
    ) -> Reply {
        self.request_with_headers(method, path, body, bearer, &[])
            .await
    }

    pub async fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Body,
        bearer: Option<&str>,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req = match body {
            Body::Empty => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(s) => req.header("content-type", "application/json").body(s),
        };
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        Reply::read(res).await
    }

    /// A POST without a token from the client IP `ip`, a loopback address (127.0.0.2, …)
    /// the gateway sees as the caller's address, as API Gateway sees a caller's.
    pub async fn post_public_from(&self, ip: &str, path: &str, body: Value) -> Reply {
        let client = reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        let res = client
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} from {ip}: no answer: {e}"));
        Reply::read(res).await
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.request(Method::GET, path, Body::Empty, Some(bearer))
            .await
    }

    /// A GET without a token.
    pub async fn get_public(&self, path: &str) -> Reply {
        self.request(Method::GET, path, Body::Empty, None).await
    }

    pub async fn post(&self, path: &str, body: Value, bearer: &str) -> Reply {
        self.request(Method::POST, path, Body::Json(body), Some(bearer))
            .await
    }

    /// A POST without a token.
    pub async fn post_public(&self, path: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Body::Json(body), None)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value, bearer: &str) -> Reply {
        self.request(Method::PATCH, path, Body::Json(body), Some(bearer))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        self.request(Method::DELETE, path, Body::Empty, Some(bearer))
            .await
    }

    pub async fn put(&self, path: &str, bearer: &str) -> Reply {
        self.request(Method::PUT, path, Body::Empty, Some(bearer))
            .await
    }

    /// The gateway's current time, in epoch seconds.
    pub fn now_secs(&self) -> i64 {
        use whatspe::clock::Clock;
        match &self.clock {
            Some(c) => c.now().timestamp(),
            None => Utc::now().timestamp(),
        }
    }

    /// `POST /api/webhooks/messages` with `body` as is and `headers`.
    pub async fn webhook(&self, body: &str, headers: &[(&str, String)]) -> Reply {
        self.request_with_headers(
            Method::POST,
            "/api/webhooks/messages",
            Body::Raw(body.to_owned()),
            None,
            headers,
        )
        .await
    }

    /// `body` signed with [`WEBHOOK_SECRET`] at the gateway's current time.
    pub async fn signed_webhook(&self, body: &str) -> Reply {
        self.webhook(
            body,
            &[(
                "x-whatspe-signature",
                signature(WEBHOOK_SECRET.as_bytes(), self.now_secs(), body),
            )],
        )
        .await
    }

    pub fn clock(&self) -> &ManualClock {
        self.clock
            .as_deref()
            .expect("this test runs on the memory backend's manual clock")
    }
}

// ---------------------------------------------------------------------------------------------
// Signing up, contacts, messages
// ---------------------------------------------------------------------------------------------

/// A signed-up account as the tests use it.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub username: String,
    /// The E.164 number it signed up with.
    pub phone: String,
    /// Its access token.
    pub token: String,
    /// What strangers should see of this person.
    pub profile: Value,
    /// Its `lastSeen` (contacts see it, by default).
    pub last_seen: Value,
}

impl TestApp {
    /// `GET /_local/sms?phoneNumber=`: the texts sent to `phone`, oldest first.
    pub async fn sms(&self, phone: &str) -> Vec<Value> {
        let r = self
            .get_public(&format!("/_local/sms?phoneNumber={}", query_value(phone)))
            .await;
        assert_ok(&r, 200, "GET /_local/sms");
        r.body
            .as_array()
            .expect("the outbox is a JSON list")
            .clone()
    }

    /// The code in the newest text sent to `phone`.
    pub async fn latest_code(&self, phone: &str) -> String {
        let texts = self.sms(phone).await;
        let newest = texts
            .last()
            .unwrap_or_else(|| panic!("no SMS was sent to {phone}"));
        let body = str_field(newest, "body");
        six_digit_code(&body).unwrap_or_else(|| panic!("no 6-digit code in {body:?}"))
    }

    pub async fn request_otp(&self, phone: &str) -> Reply {
        self.post_public("/api/auth/request-otp", json!({ "phoneNumber": phone }))
            .await
    }

    pub async fn verify_otp(&self, phone: &str, otp: &str) -> Reply {
        self.post_public(
            "/api/auth/verify-otp",
            json!({ "phoneNumber": phone, "otp": otp }),
        )
        .await
    }

    /// Requests a code for `phone` and returns it from the outbox.
    pub async fn code_for(&self, phone: &str) -> String {
        let r = self.request_otp(phone).await;
        assert_ok(&r, 200, "request-otp");
        self.latest_code(phone).await
    }

    /// A verified registration token for an unregistered `phone`.
    pub async fn registration_token(&self, phone: &str) -> String {
        let code = self.code_for(phone).await;
        let r = self.verify_otp(phone, &code).await;
        assert_ok(&r, 200, "verify-otp");
        assert_eq!(r.body["isNewUser"], true, "verify-otp: {}", r.body);
        str_field(&r.body, "registrationToken")
    }

    pub async fn register(&self, registration_token: &str, body: Value) -> Reply {
        self.post("/api/auth/register", body, registration_token)
            .await
    }

    /// request-otp → the code from the outbox → verify-otp → register: the user (as
    /// `register` shows it, without the tokens), and its access and refresh tokens.
    pub async fn sign_up_with_tokens(
        &self,
        phone: &str,
        username: &str,
    ) -> (Value, String, String) {
        let token = self.registration_token(phone).await;
        let r = self.register(&token, json!({ "username": username })).await;
        assert_ok(&r, 201, "register");
        split_tokens(r.body)
    }

    /// request-otp → the code from the outbox → verify-otp → register.
    pub async fn sign_up(&self, phone: &str, username: &str) -> Person {
        let (user, token, _refresh) = self.sign_up_with_tokens(phone, username).await;
        Person {
            id: str_field(&user, "id"),
            username: str_field(&user, "username"),
            phone: str_field(&user, "phoneNumber"),
            token,
            profile: public_part(&user),
            last_seen: user["lastSeen"].clone(),
        }
    }

    /// Signs `who` in again (after the clock moved past their access token's life).
    pub async fn sign_in_again(&self, who: &mut Person) {
        let code = self.code_for(&who.phone).await;
        let r = self.verify_otp(&who.phone, &code).await;
        assert_ok(&r, 200, "verify-otp");
        who.token = str_field(&r.body, "accessToken");
    }

    /// `a` asks `b`, `b` accepts.
    pub async fn befriend(&self, a: &Person, b: &Person) {
        let r = self
            .post(
                "/api/contacts/request",
                json!({ "receiverId": b.id }),
                &a.token,
            )
            .await;
        assert_ok(&r, 201, &format!("{} requests {}", a.username, b.username));
        let request_id = str_field(&r.body, "id");
        let r = self
            .post(
                &format!("/api/contacts/accept/{request_id}"),
                json!({}),
                &b.token,
            )
            .await;
        assert_ok(&r, 200, &format!("{} accepts {}", b.username, a.username));
    }

    /// A text message over REST.
    pub async fn send(&self, from: &Person, to: &Person, content: &str) -> Reply {
        self.post(
            "/api/messages",
            json!({ "receiverId": to.id, "content": content }),
            &from.token,
        )
        .await
    }

    /// A text message that must be created: the message as the API returned it.
    /// Uploads `bytes` as a PNG of `who` (`POST /api/media`, then the signed PUT): the media id.
    pub async fn upload_png(&self, who: &Person, bytes: Vec<u8>) -> String {
        let r = self
            .post(
                "/api/media",
                json!({"contentType": "image/png", "size": bytes.len()}),
                &who.token,
            )
            .await;
        assert_ok(&r, 201, "reserve an upload");
        let put = self
            .client
            .put(str_field(&r.body, "uploadUrl"))
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await
            .expect("the upload URL answers");
        assert_eq!(put.status().as_u16(), 200, "uploaded");
        str_field(&r.body, "mediaId")
    }

    pub async fn send_ok(&self, from: &Person, to: &Person, content: &str) -> Value {
        let r = self.send(from, to, content).await;
        let case = format!("{} sends {content:?} to {}", from.username, to.username);
        assert_ok(&r, 201, &case);
        assert_message(&r.body, from, to, content, "sent", &case);
        r.body
    }
}

/// Splits a `register` answer into the user's fields and its access and refresh tokens.
pub fn split_tokens(mut body: Value) -> (Value, String, String) {
    let obj = body.as_object_mut().expect("register answers an object");
    let access = obj
        .remove("accessToken")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("accessToken");
    let refresh = obj
        .remove("refreshToken")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("refreshToken");
    assert_eq!(obj.remove("expiresIn"), Some(json!(900)), "expiresIn");
    (body, access, refresh)
}

/// The public fields of a user as `GET /api/user` or `register` shows them.
pub fn public_part(user: &Value) -> Value {
    Value::Object(
        PUBLIC_PROFILE_KEYS
            .iter()
            .map(|k| ((*k).to_owned(), user[*k].clone()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes a query value or a URL path segment (`+` would otherwise arrive as a space).
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The first run of exactly six digits in an SMS body.
pub fn six_digit_code(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

pub fn str_field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} should be a string in {v}"))
        .to_owned()
}

/// An RFC 3339 timestamp.
pub fn timestamp(v: &Value, what: &str) -> DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{what} {s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// An RFC 3339 timestamp in epoch milliseconds.
pub fn millis(v: &Value, what: &str) -> i64 {
    timestamp(v, what).timestamp_millis()
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object, got {v}"))
        .keys()
        .cloned()
        .collect()
}

pub fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| str_field(v, "id")).collect()
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: &str, case: &str) {
    assert_eq!(r.status, status, "{case}: status (body: {})", r.body);
    assert_eq!(
        r.body["error"]["code"], code,
        "{case}: error code (body: {})",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: the error carries a human message (body: {})",
        r.body
    );
}

#[track_caller]
pub fn assert_ok(r: &Reply, status: u16, case: &str) {
    assert_eq!(r.status, status, "{case}: status (body: {})", r.body);
}

/// A message as the API shows it: exactly the message fields, with these values.
#[track_caller]
pub fn assert_message(
    m: &Value,
    from: &Person,
    to: &Person,
    content: &str,
    status: &str,
    case: &str,
) {
    assert_eq!(
        keys(m),
        set_of(&MESSAGE_KEYS),
        "{case}: message keys of {m}"
    );
    assert_eq!(m["senderId"], from.id, "{case}: senderId");
    assert_eq!(m["receiverId"], to.id, "{case}: receiverId");
    assert_eq!(m["content"], content, "{case}: content");
    assert_eq!(m["status"], status, "{case}: status");
    MessageId::parse(&str_field(m, "id"))
        .unwrap_or_else(|e| panic!("{case}: id is not a UUID: {e}"));
    millis(&m["createdAt"], "createdAt");
}
