//! Media end to end (DESIGN §9), through the local gateway: upload (a signed PUT), send a media
//! message over REST and the socket, the receiver's `MSG`, a download URL and the exact bytes;
//! who may download; every bad input refused with nothing stored or sent; the sweep of
//! uploads no message took. On the in-memory stores (the gateway serves and checks the blob
//! URLs itself) and on moto (the S3 and DynamoDB adapters).

mod common;

use common::ws::WsClient;
use common::{
    Person, Reply, TestApp, assert_error, assert_ok, spawn_app, spawn_app_on_moto_with, str_field,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use whatspe::config::Config;
use whatspe_local::Options;

const DELIVERY: Duration = Duration::from_secs(2);
const MOTO_DELIVERY: Duration = Duration::from_secs(15);

/// A real PNG header followed by filler: 1 KiB.
fn png_bytes() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend((0..1024 - b.len()).map(|i| (i % 251) as u8));
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

/// Every bad input: a clear 4xx (403 for URLs), nothing stored, nothing sent.
#[tokio::test]
async fn bad_media_input_is_refused() {
    let app = spawn_app().await;
    let mut alice = app.sign_up(&phone(40), "alice").await;
    let mut bob = app.sign_up(&phone(41), "bob").await;
    app.befriend(&alice, &bob).await;

    // Declarations.
    let r = app
        .reserve(
            &alice,
            json!({"contentType": "image/png", "size": 16 * 1024 * 1024 + 1}),
        )
        .await;
    assert_error(&r, 413, "payload_too_large", "an image above 16 MB");
    assert!(
        app.reserve(
            &alice,
            json!({"contentType": "video/mp4", "size": 100 * 1024 * 1024})
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

    // The upload URL's rules.
    let bytes = png_bytes();
    let ticket = app.reserve_ok(&alice, "image/png", bytes.len()).await;
    let url = str_field(&ticket, "uploadUrl");
    let id = str_field(&ticket, "mediaId");
    let mut more = bytes.clone();
    more.push(0);
    let put = app.put_blob(&url, "image/png", more).await;
    assert_eq!(put.status, 403, "more bytes than signed");
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
    // Nothing arrived: the message is refused.
    let r = app
        .send_media(&alice, json!({"receiverId": bob.id}), "image", &id)
        .await;
    assert_error(&r, 409, "media_not_uploaded", "a send before the upload");
    app.clock().advance(chrono::TimeDelta::minutes(16));
    let put = app.put_blob(&url, "image/png", bytes.clone()).await;
    assert_eq!(put.status, 403, "an expired upload URL");
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
    app.clock().advance(chrono::TimeDelta::minutes(6));
    assert_eq!(
        app.get_blob(&get_url).await.status,
        403,
        "an expired GET URL"
    );

    // Someone else's media id.
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
    let r = app.get(&format!("/api/media/{good}"), &bob.token).await;
    assert_error(&r, 404, "media_not_found", "bob never got it");
}

/// Uploads no message took are deleted after 24 h; sent ones stay.
#[tokio::test]
async fn unreferenced_uploads_are_swept() {
    let app = spawn_app().await;
    let mut alice = app.sign_up(&phone(50), "alice").await;
    let mut bob = app.sign_up(&phone(51), "bob").await;
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
    app.clock().advance(chrono::TimeDelta::hours(25));
    let sweep = app.post_public("/_local/media/sweep", json!({})).await;
    assert_eq!(sweep.body, json!({"deleted": 1}));
    let keys = app.blobs.as_ref().expect("memory blobs").keys();
    assert_eq!(keys, [format!("media/{kept}")], "the object is gone too");
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
#[tokio::test]
async fn forwarded_media_is_readable_in_the_new_chat() {
    let app = spawn_app().await;
    let ann = app.sign_up(&phone(100), "ann").await;
    let ben = app.sign_up(&phone(101), "ben").await;
    let cid = app.sign_up(&phone(102), "cid").await;
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
