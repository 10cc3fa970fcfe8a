//! Media end to end (DESIGN §9), through the local gateway: upload (a signed PUT), send a media
//! message over REST and the socket, the receiver's `MSG`, a download URL and the exact bytes;
//! who may download; every bad input refused with nothing stored or sent; configured caps and
//! types; the sweep of uploads no message took; forwards. On the in-memory stores (the
//! gateway serves and checks the blob URLs itself) and on moto (the S3 and DynamoDB
//! adapters).
//!
//! Moto does not check presigned URLs (signature, expiry, method, the signed Content-Type and
//! Content-Length): a PUT to a moto URL stores whatever it is sent. Those rules are the local
//! blob server's (`local/src/blobs.rs`, S3's own on AWS), so the tests of the URLs themselves
//! run on memory only; everything the server checks itself runs on both.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::ws::WsClient;
use common::{
    Person, Reply, TestApp, assert_error, assert_ok, spawn_app, spawn_app_on_moto_with,
    spawn_app_with, str_field,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use whatspe::config::Config;
use whatspe_local::Options;

const DELIVERY: Duration = Duration::from_secs(2);
const MOTO_DELIVERY: Duration = Duration::from_secs(15);
const MB: usize = 1024 * 1024;

/// A real PNG header followed by filler: 1 KiB.
fn png_bytes() -> Vec<u8> {
    png_of(1024)
}

/// A real PNG header followed by filler, `len` bytes in all.
fn png_of(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend((0..len - b.len()).map(|i| (i % 251) as u8));
    b
}

fn phone(n: u32) -> String {
    format!("+91977300{n:04}")
}

const THUMB: &str = "aGVsbG8gdGh1bWJuYWls";

async fn moto() -> TestApp {
    spawn_app_on_moto_with(Config::for_tests(), "m", Options::default())
        .await
        .0
}

/// The test configuration with these `WHATSPE_MEDIA_*` variables read as at start-up.
fn media_config(vars: &[(&str, &str)]) -> Config {
    let map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let read = Config::local_from_lookup(|k| map.get(k).cloned()).expect("a valid configuration");
    Config {
        media_limits: read.media_limits,
        media_types: read.media_types,
        ..Config::for_tests()
    }
}

/// Where the uploads' bytes live, reached around the API: the gateway's in-memory blobs, or
/// the moto bucket through the S3 client.
enum Store {
    Memory,
    Moto {
        sdk: Box<aws_config::SdkConfig>,
        /// The tables' prefix (the gateway's fresh one).
        prefix: String,
        bucket: String,
    },
}

/// The gateway on memory, and its store.
async fn on_memory(config: Config) -> (TestApp, Store) {
    (
        spawn_app_with(config, Options::default()).await,
        Store::Memory,
    )
}

/// The gateway on moto, and its store (the bucket the gateway made for its table prefix).
async fn on_moto(config: Config) -> (TestApp, Store) {
    let (app, sdk, prefix) = spawn_app_on_moto_with(config, "m", Options::default()).await;
    let bucket = whatspe_local::local_bucket_name(&prefix);
    (
        app,
        Store::Moto {
            sdk: Box::new(sdk),
            prefix,
            bucket,
        },
    )
}

impl Store {
    /// Writes `key` straight into the store, past the upload URL (what a client that skipped
    /// the URL's rules, or a store that does not check them, would leave there).
    async fn put(&self, app: &TestApp, key: &str, bytes: Vec<u8>, content_type: &str) {
        match self {
            Store::Memory => {
                app.blobs
                    .as_ref()
                    .expect("memory blobs")
                    .put(key, bytes, content_type)
            }
            Store::Moto { sdk, bucket, .. } => {
                whatspe::aws::s3::client(sdk)
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .body(ByteStream::from(bytes))
                    .send()
                    .await
                    .expect("moto stores the object");
            }
        }
    }

    /// The keys of every stored object.
    async fn keys(&self, app: &TestApp) -> Vec<String> {
        match self {
            Store::Memory => app.blobs.as_ref().expect("memory blobs").keys(),
            Store::Moto { sdk, bucket, .. } => {
                let out = whatspe::aws::s3::client(sdk)
                    .list_objects_v2()
                    .bucket(bucket)
                    .send()
                    .await
                    .expect("moto lists the bucket");
                let mut keys: Vec<String> = out
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned))
                    .collect();
                keys.sort();
                keys
            }
        }
    }

    /// Runs the sweep as it runs a day (25 h) later, and says how many uploads it deleted.
    /// Memory: the gateway's clock moves on and `POST /_local/media/sweep` runs it. Moto: the
    /// gateway runs on the system clock, so the media service is built over the same tables
    /// and bucket (the S3 and DynamoDB adapters, as the `media_sweep` function builds it) with
    /// a clock 25 h ahead, and its sweep is called.
    async fn sweep_a_day_later(&self, app: &TestApp) -> u64 {
        match self {
            Store::Memory => {
                app.clock().advance(chrono::TimeDelta::hours(25));
                let r = app.post_public("/_local/media/sweep", json!({})).await;
                assert_ok(&r, 200, "the sweep");
                r.body["deleted"].as_u64().expect("deleted")
            }
            Store::Moto {
                sdk,
                prefix,
                bucket,
            } => {
                let config = Config {
                    table_prefix: prefix.clone(),
                    media_bucket: Some(bucket.clone()),
                    ..Config::for_tests()
                };
                let mut ports = whatspe::app::Ports::aws(
                    &config,
                    sdk,
                    "http://unused.invalid/queue",
                    Arc::new(whatspe::memory::RecordingGateway::default()),
                );
                ports.clock = Arc::new(whatspe::clock::ManualClock::new(
                    chrono::Utc::now() + chrono::TimeDelta::hours(25),
                ));
                let swept = whatspe::app::Services::new(&config, &ports)
                    .media()
                    .sweep()
                    .await
                    .expect("the sweep runs on moto");
                swept.deleted as u64
            }
        }
    }
}

/// What a blob URL answered.
struct Raw {
    status: u16,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

impl TestApp {
    async fn reserve(&self, who: &Person, body: Value) -> Reply {
        self.post("/api/media", body, &who.token).await
    }

    /// `POST /api/media` for `bytes` as `content_type`: the ticket.
    async fn reserve_ok(&self, who: &Person, content_type: &str, size: usize) -> Value {
        let r = self
            .reserve(
                who,
                json!({"contentType": content_type, "size": size, "fileName": "cat.png"}),
            )
            .await;
        assert_ok(&r, 201, "reserve an upload");
        r.body
    }

    async fn put_blob(&self, url: &str, content_type: &str, bytes: Vec<u8>) -> Raw {
        let res = self
            .client
            .put(url)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("the upload URL answers");
        raw(res).await
    }

    async fn get_blob(&self, url: &str) -> Raw {
        raw(self.client.get(url).send().await.expect("the URL answers")).await
    }

    /// Reserves and uploads `bytes`: the media id.
    async fn upload(&self, who: &Person, content_type: &str, bytes: Vec<u8>) -> String {
        let ticket = self.reserve_ok(who, content_type, bytes.len()).await;
        assert_eq!(ticket["method"], "PUT");
        assert_eq!(ticket["headers"]["Content-Type"], content_type, "{ticket}");
        assert_eq!(
            ticket["headers"]["Content-Length"],
            bytes.len().to_string(),
            "{ticket}"
        );
        assert!(ticket["expiresIn"].as_u64().unwrap() <= 900);
        let put = self
            .put_blob(&str_field(&ticket, "uploadUrl"), content_type, bytes)
            .await;
        assert_eq!(put.status, 200, "the upload is accepted");
        str_field(&ticket, "mediaId")
    }

    async fn send_media(&self, from: &Person, to: Value, kind: &str, media_id: &str) -> Reply {
        let mut body = json!({"type": kind, "mediaId": media_id, "caption": "look",
                              "thumbnail": THUMB});
        body.as_object_mut()
            .unwrap()
            .extend(to.as_object().unwrap().clone());
        self.post("/api/messages", body, &from.token).await
    }

    /// Downloads `media_id` as `who`: the bytes and type the URL serves.
    async fn download(&self, who: &Person, media_id: &str) -> (Value, Raw) {
        let r = self
            .get(&format!("/api/media/{media_id}"), &who.token)
            .await;
        assert_ok(&r, 200, &format!("{} gets a download URL", who.username));
        assert!(r.body["expiresIn"].as_u64().unwrap() <= 300);
        let got = self.get_blob(&str_field(&r.body, "url")).await;
        (r.body, got)
    }

    async fn history_len(&self, who: &Person, peer: &Person) -> usize {
        let r = self
            .get(&format!("/api/messages/{}", peer.id), &who.token)
            .await;
        assert_ok(&r, 200, "history");
        r.body.as_array().unwrap().len()
    }
}

async fn raw(res: reqwest::Response) -> Raw {
    Raw {
        status: res.status().as_u16(),
        content_type: res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        bytes: res.bytes().await.expect("a body").to_vec(),
    }
}

/// The first `MSG` frame within `within`.
async fn next_msg(ws: &mut WsClient, within: Duration) -> Value {
    let started = Instant::now();
    while let Some(f) = ws
        .next_frame(within.saturating_sub(started.elapsed()))
        .await
    {
        if f["t"] == "MSG" {
            return f;
        }
    }
    panic!("no MSG frame within {within:?}");
}

/// Upload an image, send it, the receiver gets `MSG` with the media id, caption and thumbnail,
/// fetches a URL and downloads the exact bytes; the sender too; a non-member gets 404.
async fn upload_send_receive_download(app: TestApp, first: u32, delivery: Duration) {
    let alice = app.sign_up(&phone(first), "alice").await;
    let bob = app.sign_up(&phone(first + 1), "bob").await;
    let carol = app.sign_up(&phone(first + 2), "carol").await;
    app.befriend(&alice, &bob).await;
    let mut bob_ws = app.connect(&bob).await;

    let bytes = png_bytes();
    let id = app.upload(&alice, "image/png", bytes.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &id)
        .await;
    assert_ok(&r, 201, "alice sends the image");
    assert_eq!(r.body["type"], "image");
    assert_eq!(r.body["content"], id, "a media message's content is its id");
    assert_eq!(
        r.body["media"],
        json!({"mediaId": id, "contentType": "image/png", "size": bytes.len(),
               "fileName": "cat.png", "caption": "look", "thumbnail": THUMB})
    );

    let f = next_msg(&mut bob_ws, delivery).await;
    assert_eq!(f["d"]["id"], r.body["id"], "{f}");
    assert_eq!(f["d"]["t"], "image");
    assert_eq!(f["d"]["mid"], id);
    assert_eq!(f["d"]["th"], THUMB);
    assert_eq!(f["d"]["cap"], "look");

    let (ticket, got) = app.download(&bob, &id).await;
    assert_eq!(ticket["contentType"], "image/png");
    assert_eq!(ticket["size"], bytes.len());
    assert_eq!(ticket["fileName"], "cat.png");
    assert_eq!(got.status, 200);
    assert_eq!(
        got.bytes, bytes,
        "bob downloads exactly what alice uploaded"
    );
    assert_eq!(got.content_type.as_deref(), Some("image/png"));
    let (_, mine) = app.download(&alice, &id).await;
    assert_eq!(mine.bytes, bytes, "the uploader downloads it too");

    let r = app.get(&format!("/api/media/{id}"), &carol.token).await;
    assert_error(&r, 404, "media_not_found", "a non-member");
    let r = app
        .get(&format!("/api/media/{}", uuid_like(&id)), &alice.token)
        .await;
    assert_error(&r, 404, "media_not_found", "an unknown id");

    // History shows the media too.
    let h = app
        .get(&format!("/api/messages/{}", alice.id), &bob.token)
        .await;
    assert_eq!(h.body[0]["media"]["mediaId"], id, "{}", h.body);
}

/// Another id of the same shape.
fn uuid_like(id: &str) -> String {
    let last = if id.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &id[..id.len() - 1])
}

#[tokio::test]
async fn memory_upload_send_receive_download() {
    upload_send_receive_download(spawn_app().await, 0, DELIVERY).await;
}

#[tokio::test]
async fn moto_upload_send_receive_download() {
    upload_send_receive_download(moto().await, 10, MOTO_DELIVERY).await;
}

/// In a group, every member may download a sent upload; an outsider may not. Sent over the
/// socket this time.
async fn group_media(app: TestApp, first: u32, delivery: Duration) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    let cid = app.sign_up(&phone(first + 2), "cid").await;
    app.befriend(&ann, &ben).await;
    let g = app
        .post(
            "/api/groups",
            json!({"name": "Pics", "memberIds": [ben.id]}),
            &ann.token,
        )
        .await;
    assert_ok(&g, 201, "ann creates a group");
    let group = str_field(&g.body, "id");
    let mut ann_ws = app.connect(&ann).await;
    let mut ben_ws = app.connect(&ben).await;
    let bytes = png_bytes();
    let id = app.upload(&ann, "image/png", bytes.clone()).await;

    // cid, outside the group, cannot attach ann's upload (nor his own) to it.
    let cid_upload = app.upload(&cid, "image/png", png_bytes()).await;
    let r = app
        .send_media(&cid, json!({"chatId": group}), "image", &cid_upload)
        .await;
    assert_error(&r, 404, "chat_not_found", "an outsider sends to the group");

    ann_ws
        .send_json(json!({"t": "MSG", "d": {"g": group, "c": id, "t": "image",
                                             "th": THUMB, "cm": "pic-1"}}))
        .await;
    let f = next_msg(&mut ben_ws, delivery).await;
    assert_eq!(f["d"]["g"], group, "{f}");
    assert_eq!(f["d"]["mid"], id);
    assert_eq!(f["d"]["th"], THUMB);
    let (_, got) = app.download(&ben, &id).await;
    assert_eq!(got.bytes, bytes, "a member downloads it");
    let r = app.get(&format!("/api/media/{id}"), &cid.token).await;
    assert_error(&r, 404, "media_not_found", "an outsider");
}

#[tokio::test]
async fn memory_group_media() {
    group_media(spawn_app().await, 20, DELIVERY).await;
}

#[tokio::test]
async fn moto_group_media() {
    group_media(moto().await, 30, MOTO_DELIVERY).await;
}

/// Every bad declaration and media message: a clear 4xx, nothing stored, nothing sent. These
/// are the server's own checks, so they run on both backends.
async fn bad_media_input_is_refused(app: TestApp, store: Store, first: u32) {
    let alice = app.sign_up(&phone(first), "alice").await;
    let bob = app.sign_up(&phone(first + 1), "bob").await;
    app.befriend(&alice, &bob).await;

    // Declarations.
    let r = app
        .reserve(
            &alice,
            json!({"contentType": "image/png", "size": 16 * MB + 1}),
        )
        .await;
    assert_error(&r, 413, "payload_too_large", "an image above 16 MB");
    assert!(
        app.reserve(
            &alice,
            json!({"contentType": "video/mp4", "size": 100 * MB})
        )
        .await
        .status
            == 201,
        "a 100 MB video is fine"
    );
    let r = app
        .reserve(&alice, json!({"contentType": "text/html", "size": 10}))
        .await;
    assert_error(&r, 400, "unsupported_media_type", "MIME off the list");
    let r = app
        .reserve(&alice, json!({"contentType": "image/heic", "size": 10}))
        .await;
    assert_error(
        &r,
        400,
        "unsupported_media_type",
        "a known type off the default list",
    );
    let r = app
        .reserve(&alice, json!({"contentType": "image/png", "size": 0}))
        .await;
    assert_error(&r, 400, "invalid_size", "an empty upload");
    let r = app
        .reserve(
            &alice,
            json!({"contentType": "image/png", "size": 10, "fileName": "../x"}),
        )
        .await;
    assert_error(&r, 400, "invalid_file_name", "a path as file name");
    let r = app
        .reserve(&alice, json!({"contentType": "image/png", "size": -1}))
        .await;
    assert_eq!(r.status, 400, "a negative size: {}", r.body);

    // Reserved but not uploaded: the message is refused.
    let bytes = png_bytes();
    let ticket = app.reserve_ok(&alice, "image/png", bytes.len()).await;
    let r = app
        .send_media(
            &alice,
            json!({"receiverId": bob.id}),
            "image",
            &str_field(&ticket, "mediaId"),
        )
        .await;
    assert_error(&r, 409, "media_not_uploaded", "a send before the upload");
    assert_eq!(store.keys(&app).await, Vec::<String>::new(), "no bytes yet");

    // Someone else's media id.
    let good = app.upload(&alice, "image/png", bytes.clone()).await;
    let bobs = app.upload(&bob, "image/png", bytes.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &bobs)
        .await;
    assert_error(&r, 404, "media_not_found", "someone else's mediaId");
    // A PNG declared (and uploaded) as a PDF.
    let fake = app.upload(&alice, "application/pdf", bytes.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "document", &fake)
        .await;
    assert_error(&r, 400, "media_signature_mismatch", "a PNG declared as PDF");
    // An image upload sent as a video.
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "video", &good)
        .await;
    assert_error(&r, 400, "media_kind_mismatch", "an image sent as a video");
    // External URLs are no longer media content.
    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": bob.id, "type": "image",
                   "content": "https://cdn.example.com/a.jpg"}),
            &alice.token,
        )
        .await;
    assert_error(&r, 400, "invalid_media_id", "an external URL");
    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": bob.id, "type": "image", "mediaId": good,
                   "thumbnail": "not base64!"}),
            &alice.token,
        )
        .await;
    assert_error(
        &r,
        400,
        "invalid_thumbnail",
        "a thumbnail that is not base64",
    );
    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": bob.id, "type": "text", "content": "hi", "mediaId": good}),
            &alice.token,
        )
        .await;
    assert_error(&r, 400, "invalid_body", "a text with a mediaId");

    assert_eq!(app.history_len(&bob, &alice).await, 0, "nothing was sent");
    assert_eq!(app.history_len(&alice, &bob).await, 0, "nothing was sent");
    for (id, case) in [(&good, "the refused image"), (&fake, "the fake PDF")] {
        let r = app.get(&format!("/api/media/{id}"), &bob.token).await;
        assert_error(&r, 404, "media_not_found", &format!("bob never got {case}"));
    }
}

#[tokio::test]
async fn memory_bad_media_input_is_refused() {
    let (app, store) = on_memory(Config::for_tests()).await;
    bad_media_input_is_refused(app, store, 40).await;
}

#[tokio::test]
async fn moto_bad_media_input_is_refused() {
    let (app, store) = on_moto(Config::for_tests()).await;
    bad_media_input_is_refused(app, store, 42).await;
}

/// The upload and download URLs' own rules, as S3 enforces them: more bytes or another type
/// than signed, a tampered URL, a PUT URL used for a GET, expired URLs — 403 and nothing
/// stored. Memory only: here the gateway serves the URLs and checks them; moto does not
/// check presigned URLs at all (on AWS, S3 does).
#[tokio::test]
async fn memory_upload_urls_are_checked_like_s3s() {
    let app = spawn_app().await;
    let mut alice = app.sign_up(&phone(44), "alice").await;
    let mut bob = app.sign_up(&phone(45), "bob").await;
    app.befriend(&alice, &bob).await;
    let stored = |app: &TestApp| app.blobs.as_ref().expect("memory blobs").keys();

    let bytes = png_bytes();
    let ticket = app.reserve_ok(&alice, "image/png", bytes.len()).await;
    let url = str_field(&ticket, "uploadUrl");
    let id = str_field(&ticket, "mediaId");
    let mut more = bytes.clone();
    more.push(0);
    let put = app.put_blob(&url, "image/png", more).await;
    assert_eq!(put.status, 403, "more bytes than signed");
    let put = app.put_blob(&url, "image/png", bytes[1..].to_vec()).await;
    assert_eq!(put.status, 403, "fewer bytes than signed");
    let put = app.put_blob(&url, "image/gif", bytes.clone()).await;
    assert_eq!(put.status, 403, "another content type than signed");
    let tampered = url.replace("X-Length=", "X-Length=9");
    let put = app.put_blob(&tampered, "image/png", bytes.clone()).await;
    assert_eq!(put.status, 403, "a tampered URL");
    let get_with_put_url = app.get_blob(&url).await;
    assert_eq!(
        get_with_put_url.status, 403,
        "an upload URL used to download"
    );
    assert_eq!(stored(&app), Vec::<String>::new(), "nothing was stored");
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &id)
        .await;
    assert_error(
        &r,
        409,
        "media_not_uploaded",
        "a send after refused uploads",
    );
    app.clock().advance(chrono::TimeDelta::minutes(16));
    let put = app.put_blob(&url, "image/png", bytes.clone()).await;
    assert_eq!(put.status, 403, "an expired upload URL");
    assert_eq!(stored(&app), Vec::<String>::new(), "nothing was stored");
    app.sign_in_again(&mut alice).await;
    app.sign_in_again(&mut bob).await;

    // A good upload, then a download URL that expires.
    let good = app.upload(&alice, "image/png", bytes.clone()).await;
    let r = app.get(&format!("/api/media/{good}"), &alice.token).await;
    let get_url = str_field(&r.body, "url");
    let sig_off = get_url.replace("X-Signature=", "X-Signature=00");
    assert_eq!(
        app.get_blob(&sig_off).await.status,
        403,
        "a tampered GET URL"
    );
    assert_eq!(app.get_blob(&get_url).await.bytes, bytes, "the URL works");
    app.clock().advance(chrono::TimeDelta::minutes(6));
    assert_eq!(
        app.get_blob(&get_url).await.status,
        403,
        "an expired GET URL"
    );
}

/// Sends `request` on a fresh connection to the gateway, closes the sending side, and reads
/// the answer: its status and body (a raw socket, since an HTTP client always sends a body of
/// the length it declares).
async fn raw_http(addr: std::net::SocketAddr, request: Vec<u8>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(addr).expect("connect to the gateway");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        conn.write_all(&request).expect("send the request");
        conn.shutdown(std::net::Shutdown::Write)
            .expect("close the sending side");
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).expect("read the answer");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("the raw request ran")
}

/// The local blob server stores a body only when it is exactly the signed length, whatever
/// the headers claim: a body cut short under the signed Content-Length (the connection closes
/// early) and a chunked body longer than signed (sent with the signed Content-Length too,
/// which HTTP/1.1 says a chunked body overrides) are 403, and nothing is stored. (A body
/// longer than its Content-Length cannot reach a handler: the bytes after it are the next
/// request on the connection.)
#[tokio::test]
async fn memory_the_blob_server_takes_exactly_the_signed_length() {
    let app = spawn_app().await;
    let alice = app.sign_up(&phone(46), "alice").await;
    let bob = app.sign_up(&phone(47), "bob").await;
    app.befriend(&alice, &bob).await;
    let bytes = png_bytes();
    let ticket = app.reserve_ok(&alice, "image/png", bytes.len()).await;
    let id = str_field(&ticket, "mediaId");
    let url = str_field(&ticket, "uploadUrl");
    let path = url
        .strip_prefix(&app.base_url)
        .unwrap_or_else(|| panic!("{url} is the gateway's"));
    let head = |extra: &str| {
        format!(
            "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: image/png\r\n\
             Content-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            app.addr,
            bytes.len()
        )
        .into_bytes()
    };

    let mut short = head("");
    short.extend_from_slice(&bytes[..bytes.len() - 100]);
    let (status, body) = raw_http(app.addr, short).await;
    assert_eq!(status, 403, "a body shorter than signed: {body}");
    assert!(
        body.contains("the body is not the signed Content-Length"),
        "{body}"
    );

    let mut chunked = head("Transfer-Encoding: chunked\r\n");
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"and then some");
    chunked.extend_from_slice(format!("{:x}\r\n", longer.len()).as_bytes());
    chunked.extend_from_slice(&longer);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let (status, body) = raw_http(app.addr, chunked).await;
    assert_eq!(status, 403, "a chunked body longer than signed: {body}");

    assert_eq!(
        app.blobs.as_ref().expect("memory blobs").keys(),
        Vec::<String>::new(),
        "nothing was stored"
    );
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &id)
        .await;
    assert_error(
        &r,
        409,
        "media_not_uploaded",
        "a send after refused uploads",
    );
    // The same URL with exactly the signed body works.
    let mut exact = head("");
    exact.extend_from_slice(&bytes);
    let (status, body) = raw_http(app.addr, exact).await;
    assert_eq!(status, 200, "the signed length: {body}");
    assert_eq!(
        app.blobs.as_ref().unwrap().get(&format!("media/{id}")),
        Some((bytes, "image/png".to_owned()))
    );
}

/// An object whose stored size or Content-Type differs from what its upload declared — what
/// a store that does not enforce the signed headers leaves (moto stores whatever a presigned
/// PUT sends; so would a misbehaving S3-compatible store) — is refused as a message: 400
/// `media_size_mismatch` / `media_type_mismatch`, nothing sent. The objects are written
/// straight into the store; one that matches its record goes through the same way.
async fn an_object_unlike_its_upload_is_refused(app: TestApp, store: Store, first: u32) {
    let alice = app.sign_up(&phone(first), "alice").await;
    let bob = app.sign_up(&phone(first + 1), "bob").await;
    app.befriend(&alice, &bob).await;
    let bytes = png_bytes();

    let shorter = str_field(
        &app.reserve_ok(&alice, "image/png", bytes.len()).await,
        "mediaId",
    );
    store
        .put(&app, &format!("media/{shorter}"), png_of(1000), "image/png")
        .await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &shorter)
        .await;
    assert_error(
        &r,
        400,
        "media_size_mismatch",
        "1,000 bytes, 1,024 declared",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1000") && m.contains("1024")),
        "says both sizes: {}",
        r.body
    );

    let retyped = str_field(
        &app.reserve_ok(&alice, "image/png", bytes.len()).await,
        "mediaId",
    );
    store
        .put(
            &app,
            &format!("media/{retyped}"),
            bytes.clone(),
            "image/gif",
        )
        .await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &retyped)
        .await;
    assert_error(&r, 400, "media_type_mismatch", "stored as image/gif");

    assert_eq!(app.history_len(&bob, &alice).await, 0, "nothing was sent");
    for id in [&shorter, &retyped] {
        let r = app.get(&format!("/api/media/{id}"), &bob.token).await;
        assert_error(&r, 404, "media_not_found", "bob never got it");
    }

    // The same way in, but as declared: accepted.
    let right = str_field(
        &app.reserve_ok(&alice, "image/png", bytes.len()).await,
        "mediaId",
    );
    store
        .put(&app, &format!("media/{right}"), bytes.clone(), "image/png")
        .await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &right)
        .await;
    assert_ok(&r, 201, "an object as declared");
    let (_, got) = app.download(&bob, &right).await;
    assert_eq!(got.bytes, bytes);
    assert_eq!(app.history_len(&bob, &alice).await, 1, "only that one");
}

#[tokio::test]
async fn memory_an_object_unlike_its_upload_is_refused() {
    let (app, store) = on_memory(Config::for_tests()).await;
    an_object_unlike_its_upload_is_refused(app, store, 48).await;
}

#[tokio::test]
async fn moto_an_object_unlike_its_upload_is_refused() {
    let (app, store) = on_moto(Config::for_tests()).await;
    an_object_unlike_its_upload_is_refused(app, store, 110).await;
}

/// The caps and the MIME allowlist as configured: a lowered audio cap refuses a declaration
/// above it (nothing reserved, nothing stored), a raised image cap takes a 17 MB photo end to
/// end (through the local blob server on memory), and the image list is exactly the
/// configured one (HEIC added, PNG-only otherwise: JPEG refused).
async fn configured_caps_and_types(app: TestApp, store: Store, first: u32) {
    let alice = app.sign_up(&phone(first), "alice").await;
    let bob = app.sign_up(&phone(first + 1), "bob").await;
    app.befriend(&alice, &bob).await;

    let r = app
        .reserve(&alice, json!({"contentType": "audio/ogg", "size": 4097}))
        .await;
    assert_error(&r, 413, "payload_too_large", "above the lowered audio cap");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("4096")),
        "names the cap: {}",
        r.body
    );
    let ogg = {
        let mut b = b"OggS".to_vec();
        b.resize(4096, 7);
        b
    };
    let voice = app.upload(&alice, "audio/ogg", ogg.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "audio", &voice)
        .await;
    assert_ok(&r, 201, "a voice note at the lowered cap");

    let r = app
        .reserve(
            &alice,
            json!({"contentType": "image/png", "size": 20 * MB + 1}),
        )
        .await;
    assert_error(&r, 413, "payload_too_large", "above the raised image cap");
    let big = png_of(17 * MB);
    let photo = app.upload(&alice, "image/png", big.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &photo)
        .await;
    assert_ok(&r, 201, "a 17 MB photo under the raised cap");
    let (ticket, got) = app.download(&bob, &photo).await;
    assert_eq!(ticket["size"], 17 * MB);
    assert!(got.bytes == big, "bob downloads the exact 17 MB");

    let r = app
        .reserve(&alice, json!({"contentType": "image/jpeg", "size": 100}))
        .await;
    assert_error(
        &r,
        400,
        "unsupported_media_type",
        "JPEG, off the configured list",
    );
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("image/heic") && !message.contains("image/jpeg"),
        "names the configured list: {message}"
    );
    let heic = {
        let mut b = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
        b.resize(2048, 0);
        b
    };
    let iphone = app.upload(&alice, "image/heic", heic.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &iphone)
        .await;
    assert_ok(&r, 201, "a HEIC photo, added by configuration");
    let not_heic = app.upload(&alice, "image/heic", png_bytes()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &not_heic)
        .await;
    assert_error(
        &r,
        400,
        "media_signature_mismatch",
        "a PNG declared as HEIC",
    );

    assert_eq!(app.history_len(&bob, &alice).await, 3, "the three accepted");
    let mut want = vec![
        format!("media/{voice}"),
        format!("media/{photo}"),
        format!("media/{iphone}"),
        format!("media/{not_heic}"),
    ];
    want.sort();
    assert_eq!(
        store.keys(&app).await,
        want,
        "the four uploads' bytes: nothing for the refused declarations"
    );
}

fn caps_and_types() -> Config {
    media_config(&[
        ("WHATSPE_MEDIA_MAX_AUDIO_BYTES", "4096"),
        ("WHATSPE_MEDIA_MAX_IMAGE_BYTES", &(20 * MB).to_string()),
        ("WHATSPE_MEDIA_IMAGE_TYPES", "image/png,image/heic"),
    ])
}

#[tokio::test]
async fn memory_configured_caps_and_types() {
    let (app, store) = on_memory(caps_and_types()).await;
    configured_caps_and_types(app, store, 120).await;
}

#[tokio::test]
async fn moto_configured_caps_and_types() {
    let (app, store) = on_moto(caps_and_types()).await;
    configured_caps_and_types(app, store, 122).await;
}

/// A cap raised above every default cap (100 MB) holds for the local blob server too: a
/// 101 MB video goes up through the gateway's upload URL, is sent and comes down intact.
/// Memory only: the local blob server is what this is about (on moto the bytes go to moto).
#[tokio::test]
async fn memory_a_cap_raised_above_the_defaults_takes_a_larger_upload_locally() {
    let (app, store) = on_memory(media_config(&[(
        "WHATSPE_MEDIA_MAX_VIDEO_BYTES",
        &(128 * MB).to_string(),
    )]))
    .await;
    let alice = app.sign_up(&phone(124), "alice").await;
    let bob = app.sign_up(&phone(125), "bob").await;
    app.befriend(&alice, &bob).await;
    let mut video = b"\0\0\0\x18ftypmp42".to_vec();
    video.resize(101 * MB, 3);
    let id = app.upload(&alice, "video/mp4", video.clone()).await;
    assert_eq!(store.keys(&app).await, [format!("media/{id}")]);
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "video", &id)
        .await;
    assert_ok(&r, 201, "a 101 MB video under the raised cap");
    let (_, got) = app.download(&bob, &id).await;
    assert!(got.bytes == video, "bob downloads the exact 101 MB");
}

/// Uploads no message took are deleted after 24 h (record, then object); sent ones stay.
async fn unreferenced_uploads_are_swept(app: TestApp, store: Store, first: u32) {
    let mut alice = app.sign_up(&phone(first), "alice").await;
    let mut bob = app.sign_up(&phone(first + 1), "bob").await;
    app.befriend(&alice, &bob).await;
    let bytes = png_bytes();
    let kept = app.upload(&alice, "image/png", bytes.clone()).await;
    let lost = app.upload(&alice, "image/png", bytes.clone()).await;
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &kept)
        .await;
    assert_ok(&r, 201, "send one of them");

    let sweep = app.post_public("/_local/media/sweep", json!({})).await;
    assert_eq!(
        sweep.body,
        json!({"deleted": 0}),
        "nothing is a day old yet"
    );
    assert_eq!(store.sweep_a_day_later(&app).await, 1, "one upload swept");
    assert_eq!(
        store.keys(&app).await,
        [format!("media/{kept}")],
        "the object is gone too"
    );
    app.sign_in_again(&mut alice).await;
    app.sign_in_again(&mut bob).await;

    let r = app.get(&format!("/api/media/{lost}"), &alice.token).await;
    assert_error(&r, 404, "media_not_found", "the swept upload");
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &lost)
        .await;
    assert_error(&r, 404, "media_not_found", "sending a swept upload");
    let (_, got) = app.download(&bob, &kept).await;
    assert_eq!(got.bytes, bytes, "the sent upload stays");
}

#[tokio::test]
async fn memory_unreferenced_uploads_are_swept() {
    let (app, store) = on_memory(Config::for_tests()).await;
    unreferenced_uploads_are_swept(app, store, 50).await;
}

#[tokio::test]
async fn moto_unreferenced_uploads_are_swept() {
    let (app, store) = on_moto(Config::for_tests()).await;
    unreferenced_uploads_are_swept(app, store, 52).await;
}

/// A group avatar is an image upload of the caller's: checked like a media message's, then
/// downloadable by the group's members.
async fn group_avatars(app: TestApp, first: u32) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    let cid = app.sign_up(&phone(first + 2), "cid").await;
    app.befriend(&ann, &ben).await;
    let bytes = png_bytes();
    let avatar = app.upload(&ann, "image/png", bytes.clone()).await;
    let g = app
        .post(
            "/api/groups",
            json!({"name": "Pics", "memberIds": [ben.id], "avatar": avatar}),
            &ann.token,
        )
        .await;
    assert_ok(&g, 201, "a group with ann's own image as avatar");
    let group = str_field(&g.body, "id");
    assert_eq!(g.body["avatar"], avatar);
    let (_, got) = app.download(&ben, &avatar).await;
    assert_eq!(got.bytes, bytes, "a member downloads the avatar");
    let r = app.get(&format!("/api/media/{avatar}"), &cid.token).await;
    assert_error(&r, 404, "media_not_found", "an outsider");

    let bens = app.upload(&ben, "image/png", png_bytes()).await;
    let r = app
        .patch(
            &format!("/api/groups/{group}"),
            json!({"avatar": bens}),
            &ann.token,
        )
        .await;
    assert_error(
        &r,
        404,
        "media_not_found",
        "someone else's upload as avatar",
    );
    let pdf = app
        .upload(&ann, "application/pdf", b"%PDF-1.7\n%....".to_vec())
        .await;
    let r = app
        .patch(
            &format!("/api/groups/{group}"),
            json!({"avatar": pdf}),
            &ann.token,
        )
        .await;
    assert_error(&r, 400, "media_kind_mismatch", "a PDF as avatar");
    let r = app
        .post(
            "/api/groups",
            json!({"name": "Nope", "memberIds": [ben.id],
                   "avatar": "0b5c6a36-8a4c-4a3e-9f2e-2d2b9d4f6a11"}),
            &ann.token,
        )
        .await;
    assert_error(&r, 404, "media_not_found", "an unknown media id as avatar");
    // Sending the current avatar again (with a rename) is no new avatar: not re-checked.
    let r = app
        .patch(
            &format!("/api/groups/{group}"),
            json!({"name": "Photos", "avatar": avatar}),
            &ann.token,
        )
        .await;
    assert_ok(&r, 200, "the same avatar again");
    assert_eq!(r.body["avatar"], avatar);
}

#[tokio::test]
async fn memory_group_avatars() {
    group_avatars(spawn_app().await, 60).await;
}

#[tokio::test]
async fn moto_group_avatars() {
    group_avatars(moto().await, 70).await;
}

/// A profile picture is an image upload of the user's: checked like a media message's, then
/// downloadable by the user's contacts while it is the current one; strangers get 404.
async fn profile_pictures(app: TestApp, first: u32) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    let cid = app.sign_up(&phone(first + 2), "cid").await;
    app.befriend(&ann, &ben).await;
    let bytes = png_bytes();
    let pic = app.upload(&ann, "image/png", bytes.clone()).await;
    let r = app
        .patch("/api/user", json!({"profilePicture": pic}), &ann.token)
        .await;
    assert_ok(&r, 200, "ann's own image as profile picture");
    assert_eq!(r.body["profilePicture"], pic);

    let seen = app.get(&format!("/api/users/{}", ann.id), &ben.token).await;
    assert_ok(&seen, 200, "ben looks ann up");
    assert_eq!(seen.body["profilePicture"], pic, "{}", seen.body);
    let (ticket, got) = app.download(&ben, &pic).await;
    assert_eq!(ticket["contentType"], "image/png");
    assert_eq!(got.bytes, bytes, "a contact downloads the picture");
    let r = app.get(&format!("/api/media/{pic}"), &cid.token).await;
    assert_error(&r, 404, "media_not_found", "a stranger");

    // Refused, and nothing changes: a URL (the old form), someone else's upload, no image,
    // an unknown id.
    let bens = app.upload(&ben, "image/png", png_bytes()).await;
    let pdf = app
        .upload(&ann, "application/pdf", b"%PDF-1.7\n%....".to_vec())
        .await;
    for (value, status, code, case) in [
        (
            json!("https://example.com/a.png"),
            400,
            "invalid_profile_picture",
            "a URL",
        ),
        (json!(bens), 404, "media_not_found", "ben's upload"),
        (json!(pdf), 400, "media_kind_mismatch", "a PDF"),
        (
            json!("0b5c6a36-8a4c-4a3e-9f2e-2d2b9d4f6a11"),
            404,
            "media_not_found",
            "an unknown id",
        ),
    ] {
        let r = app
            .patch(
                "/api/user",
                json!({"status": "changed?", "profilePicture": value}),
                &ann.token,
            )
            .await;
        assert_error(&r, status, code, case);
    }
    let me = app.get("/api/user", &ann.token).await;
    assert_eq!(
        (me.body["profilePicture"].clone(), me.body["status"].clone()),
        (json!(pic), json!(whatspe::domain::DEFAULT_STATUS)),
        "{}",
        me.body
    );
    let r = app.get(&format!("/api/media/{bens}"), &ann.token).await;
    assert_error(&r, 404, "media_not_found", "ben's refused upload stays his");

    // A new picture replaces the old one for contacts; the owner keeps their upload.
    let second = app.upload(&ann, "image/png", png_bytes()).await;
    let r = app
        .patch("/api/user", json!({"profilePicture": second}), &ann.token)
        .await;
    assert_ok(&r, 200, "a new picture");
    app.download(&ben, &second).await;
    let r = app.get(&format!("/api/media/{pic}"), &ben.token).await;
    assert_error(&r, 404, "media_not_found", "the old picture, for a contact");
    app.download(&ann, &pic).await;
    // Cleared: no picture, and contacts lose access.
    let r = app
        .patch("/api/user", json!({"profilePicture": null}), &ann.token)
        .await;
    assert_ok(&r, 200, "clear the picture");
    assert_eq!(r.body["profilePicture"], Value::Null);
    let r = app.get(&format!("/api/media/{second}"), &ben.token).await;
    assert_error(&r, 404, "media_not_found", "a cleared picture");

    // At sign-up there is nothing of the user's to point at yet.
    let token = app.registration_token(&phone(first + 3)).await;
    let r = app
        .register(
            &token,
            json!({"username": "dee", "profilePicture": "https://example.com/d.png"}),
        )
        .await;
    assert_error(&r, 400, "invalid_profile_picture", "a picture at sign-up");
    let r = app
        .register(&token, json!({"username": "dee", "profilePicture": null}))
        .await;
    assert_ok(&r, 201, "no picture at sign-up (the seed's null)");
}

#[tokio::test]
async fn memory_profile_pictures() {
    profile_pictures(spawn_app().await, 80).await;
}

#[tokio::test]
async fn moto_profile_pictures() {
    profile_pictures(moto().await, 90).await;
}

/// A forward carries media by reference: the same media id, readable by the new chat's
/// members without a new upload; the forwarder needs no upload of their own.
async fn forwarded_media_is_readable_in_the_new_chat(app: TestApp, first: u32) {
    let ann = app.sign_up(&phone(first), "ann").await;
    let ben = app.sign_up(&phone(first + 1), "ben").await;
    let cid = app.sign_up(&phone(first + 2), "cid").await;
    app.befriend(&ann, &ben).await;
    app.befriend(&ben, &cid).await;
    let bytes = png_bytes();
    let media = app.upload(&ann, "image/png", bytes.clone()).await;
    let r = app
        .send_media(&ann, json!({"receiverId": ben.id}), "image", &media)
        .await;
    assert_ok(&r, 201, "ann sends ben a picture");
    let (id, chat) = (str_field(&r.body, "id"), str_field(&r.body, "chatId"));
    let r = app.get(&format!("/api/media/{media}"), &cid.token).await;
    assert_error(&r, 404, "media_not_found", "cid before the forward");
    let hi = app.send_ok(&ben, &cid, "look at this").await;
    let ben_cid = str_field(&hi, "chatId");
    let r = app
        .post(
            &format!("/api/messages/{id}/forward"),
            json!({"chatId": chat, "chatIds": [ben_cid]}),
            &ben.token,
        )
        .await;
    assert_ok(&r, 201, "ben forwards it to cid");
    let fw = &r.body["messages"][0];
    assert_eq!(
        (&fw["forwarded"], &fw["media"]["mediaId"], &fw["senderId"]),
        (&json!(true), &json!(media), &json!(ben.id)),
        "{fw}"
    );
    let (_, got) = app.download(&cid, &media).await;
    assert_eq!(got.bytes, bytes, "cid downloads the same upload");
}

#[tokio::test]
async fn memory_forwarded_media_is_readable_in_the_new_chat() {
    forwarded_media_is_readable_in_the_new_chat(spawn_app().await, 100).await;
}

#[tokio::test]
async fn moto_forwarded_media_is_readable_in_the_new_chat() {
    forwarded_media_is_readable_in_the_new_chat(moto().await, 104).await;
}
