//! End-to-end: the abuse limits (issue 15) through the local gateway, on memory and on moto.
//! Clients at other IPs are other loopback addresses (127.0.0.2, …): the gateway turns the
//! peer address into API Gateway's `sourceIp`, as API Gateway does.

mod common;

use common::{TestApp, assert_error, assert_ok, spawn_app_on_moto_with, spawn_app_with, str_field};
use serde_json::json;
use whatspe::config::{AbuseLimits, Config};
use whatspe_local::Options;

/// The deployed limits, with `ip_sends` codes per client IP per hour.
fn limits_config(ip_sends: u32) -> Config {
    let mut config = Config::for_tests();
    config.limits = AbuseLimits {
        otp_ip_sends_per_hour: ip_sends,
        ..AbuseLimits::default()
    };
    config
}

/// request-otp for `phone` from the client IP `ip`.
async fn request_otp_from(app: &TestApp, ip: &str, phone: &str) -> common::Reply {
    app.post_public_from(ip, "/api/auth/request-otp", json!({ "phoneNumber": phone }))
        .await
}

/// verify-otp of `code` for `phone` from the client IP `ip`.
async fn verify_otp_from(app: &TestApp, ip: &str, phone: &str, code: &str) -> common::Reply {
    app.post_public_from(
        ip,
        "/api/auth/verify-otp",
        json!({ "phoneNumber": phone, "verificationCode": code }),
    )
    .await
}

async fn memory_app(config: Config) -> TestApp {
    spawn_app_with(config, Options::default()).await
}

async fn moto_app(config: Config) -> TestApp {
    spawn_app_on_moto_with(config, "ab", Options::default())
        .await
        .0
}

// ---------------------------------------------------------------- SMS toll fraud

/// A script cycling through 50 numbers from one IP gets the configured number of texts sent,
/// then 429s; the outbox (every text the gateway sent) shows exactly that many.
async fn fifty_numbers_from_one_ip_send_only_the_configured_number_of_texts(app: TestApp) {
    const CONFIGURED: usize = 5;
    let mut sent = 0;
    for i in 0..50 {
        let r = request_otp_from(&app, "127.0.0.9", &format!("+9198900{i:05}")).await;
        match r.status {
            200 => sent += 1,
            429 => {
                assert_error(&r, 429, "otp_rate_limited", &format!("number {i}"));
                assert!(r.headers.contains_key("retry-after"), "Retry-After");
            }
            other => panic!("number {i}: unexpected {other} {}", r.body),
        }
    }
    assert_eq!(sent, CONFIGURED, "answered 200");
    let r = app.get_public("/_local/sms").await;
    assert_ok(&r, 200, "the outbox");
    assert_eq!(
        r.body.as_array().unwrap().len(),
        CONFIGURED,
        "texts actually sent: {}",
        r.body
    );
    assert_ok(
        &request_otp_from(&app, "127.0.0.10", "+919890099999").await,
        200,
        "another client IP is not limited by the first one's script",
    );
}

#[tokio::test]
async fn fifty_numbers_from_one_ip_get_only_the_configured_texts() {
    fifty_numbers_from_one_ip_send_only_the_configured_number_of_texts(
        memory_app(limits_config(5)).await,
    )
    .await;
}

#[tokio::test]
async fn fifty_numbers_from_one_ip_get_only_the_configured_texts_on_dynamodb_via_moto() {
    fifty_numbers_from_one_ip_send_only_the_configured_number_of_texts(
        moto_app(limits_config(5)).await,
    )
    .await;
}

// ---------------------------------------------------------------- lockout

const VICTIM: &str = "+919890012345";
const VICTIM_IP: &str = "127.0.0.1";

/// The victim asks for a code; attackers at other IPs hammer its number (codes and wrong
/// guesses, until each IP's budgets are spent); the victim's code still signs it in, and so
/// does its next one.
async fn a_victim_signs_in_while_attackers_hammer_its_number(app: TestApp) {
    let victim = app.sign_up(VICTIM, "victim").await;
    let r = request_otp_from(&app, VICTIM_IP, VICTIM).await;
    assert_ok(&r, 200, "the victim asks for a code");
    let code = app.latest_code(VICTIM).await;
    let mut refused = 0;
    for a in 2..12 {
        let ip = format!("127.0.0.{a}");
        for _ in 0..4 {
            let r = request_otp_from(&app, &ip, VICTIM).await;
            assert!(
                [200, 429].contains(&r.status),
                "{ip}: {} {}",
                r.status,
                r.body
            );
        }
        for g in 0..12 {
            let guess = format!("{:06}", 100_000 + a * 100 + g);
            if guess == code {
                continue;
            }
            let r = verify_otp_from(&app, &ip, VICTIM, &guess).await;
            assert!(
                [400, 429].contains(&r.status),
                "{ip}: {} {}",
                r.status,
                r.body
            );
            if r.status == 429 {
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the attackers ran into the guess limits");
    let r = verify_otp_from(&app, VICTIM_IP, VICTIM, &code).await;
    assert_ok(&r, 200, "the victim's code signs it in");
    assert_eq!(r.body["user"]["id"], victim.id.as_str());
    assert!(!str_field(&r.body, "accessToken").is_empty());

    let r = request_otp_from(&app, VICTIM_IP, VICTIM).await;
    assert_ok(&r, 200, "the victim's next code");
    let code = app.latest_code(VICTIM).await;
    let r = verify_otp_from(&app, VICTIM_IP, VICTIM, &code).await;
    assert_ok(&r, 200, "and the next sign-in");
}

#[tokio::test]
async fn a_victim_can_sign_in_while_attackers_hammer_its_number_from_other_ips() {
    a_victim_signs_in_while_attackers_hammer_its_number(memory_app(limits_config(10)).await).await;
}

#[tokio::test]
async fn a_victim_can_sign_in_while_attackers_hammer_its_number_on_dynamodb_via_moto() {
    a_victim_signs_in_while_attackers_hammer_its_number(moto_app(limits_config(10)).await).await;
}

#[tokio::test]
async fn codes_go_only_to_allowlisted_countries() {
    let mut config = limits_config(10);
    config.limits.sms_countries = Some(vec!["91".into()]);
    let app = memory_app(config).await;
    let r = app.request_otp("+14155550100").await;
    assert_error(&r, 400, "sms_country_not_allowed", "a US number");
    assert!(app.sms("+14155550100").await.is_empty(), "no text");
    assert_ok(&app.request_otp(VICTIM).await, 200, "an Indian number");
}

// ---------------------------------------------------------------- webhook replay

fn webhook_body(id: &str, sender: &str, receiver: &str) -> String {
    json!({ "id": id, "senderId": sender, "receiverId": receiver, "content": "Your order shipped", "type": "text" })
        .to_string()
}

/// A captured webhook request: replayed with a fresh timestamp it no longer matches its
/// signature; replayed as it was after its dedup record expired (30 days) it is stale. Either
/// way nothing new is stored or delivered.
#[tokio::test]
async fn a_replayed_webhook_is_refused_even_after_its_dedup_record_expired() {
    let app = memory_app(common::config_with_webhook(&[])).await;
    let b = app.sign_up("+919890000002", "bea").await;
    let body = webhook_body("order-1", "system", &b.id);
    let t = app.now_secs();
    let captured = common::signature(common::WEBHOOK_SECRET.as_bytes(), t, &body);
    let headers = [("x-whatspe-signature", captured.clone())];
    assert_ok(&app.webhook(&body, &headers).await, 201, "the original");
    let tag = captured.split_once(",v1=").unwrap().1;

    app.clock().advance(chrono::TimeDelta::minutes(10));
    assert_error(
        &app.webhook(&body, &headers).await,
        401,
        "stale_timestamp",
        "replayed as captured, 10 minutes later",
    );
    let fresh = [(
        "x-whatspe-signature",
        format!("t={},v1={tag}", app.now_secs()),
    )];
    assert_error(
        &app.webhook(&body, &fresh).await,
        401,
        "invalid_signature",
        "replayed with a fresh timestamp",
    );
    let legacy_fresh = [
        ("x-whatspe-signature", format!("sha256={tag}")),
        ("x-whatspe-timestamp", app.now_secs().to_string()),
    ];
    assert_error(
        &app.webhook(&body, &legacy_fresh).await,
        401,
        "invalid_signature",
        "the old header form",
    );

    app.clock()
        .advance(whatspe::aws::dynamo::DEDUP_TTL + chrono::TimeDelta::days(1));
    for (headers, case) in [
        (&headers, "as captured"),
        (&fresh, "with a fresh timestamp"),
    ] {
        let r = app.webhook(&body, headers).await;
        assert_eq!(
            r.status, 401,
            "{case}, after the dedup record expired: {}",
            r.body
        );
    }
    // Thirty days on, bea signs in again to look.
    let code = app.code_for(&b.phone).await;
    let r = app.verify_otp(&b.phone, &code).await;
    assert_ok(&r, 200, "bea signs in again");
    let token = str_field(&r.body, "accessToken");
    let r = app.get("/api/chats", &token).await;
    assert_ok(&r, 200, "bea's chats");
    let chats = r.body.as_array().unwrap();
    assert_eq!(chats.len(), 1, "one chat: {}", r.body);
    let r = app
        .get(
            &format!("/api/chats/{}/messages", str_field(&chats[0], "chatId")),
            &token,
        )
        .await;
    assert_ok(&r, 200, "the system chat's history");
    assert_eq!(
        r.body.as_array().unwrap().len(),
        1,
        "stored once: {}",
        r.body
    );
}

/// The migration switch: with WHATSPE_WEBHOOK_LEGACY_SIGNATURES=true the first version's
/// body-only signature (and its unsigned timestamp header) still works.
#[tokio::test]
async fn the_body_only_webhook_signature_works_only_behind_the_migration_switch() {
    let app = memory_app(common::config_with_webhook(&[(
        "WHATSPE_WEBHOOK_LEGACY_SIGNATURES",
        "true",
    )]))
    .await;
    let b = app.sign_up("+919890000002", "bea").await;
    let body = webhook_body("order-1", "system", &b.id);
    let old = format!(
        "sha256={}",
        common::hex(&whatspe::crypto::hmac_sha256(
            common::WEBHOOK_SECRET.as_bytes(),
            body.as_bytes()
        ))
    );
    let headers = [
        ("x-whatspe-signature", old),
        ("x-whatspe-timestamp", app.now_secs().to_string()),
    ];
    assert_ok(
        &app.webhook(&body, &headers).await,
        201,
        "the old form, switched on",
    );
    assert_ok(
        &app.signed_webhook(&webhook_body("order-2", "system", &b.id))
            .await,
        201,
        "the new form works too",
    );
}

// ---------------------------------------------------------------- revocation

/// After logout the access token stops working on REST within the session-check bound
/// (`WHATSPE_SESSION_CHECK_SECONDS`), its open socket is closed, and it opens no new one.
async fn logout_ends_the_token_on_rest_and_sockets_within_the_bound(app: TestApp, bound_secs: i64) {
    let a = app.sign_up("+919890000001", "asha").await;
    assert_ok(&app.get("/api/user", &a.token).await, 200, "before logout");
    let mut socket = app.connect(&a).await;
    assert_ok(
        &app.post("/api/auth/logout", json!({}), &a.token).await,
        200,
        "logout",
    );
    if let Some(clock) = &app.clock {
        clock.advance(chrono::TimeDelta::seconds(bound_secs));
    }
    let r = app.get("/api/user", &a.token).await;
    assert_error(&r, 401, "session_revoked", "REST once the bound has passed");
    let r = app
        .post(
            "/api/messages",
            json!({"receiverId": a.id, "content": "x"}),
            &a.token,
        )
        .await;
    assert_error(&r, 401, "session_revoked", "any authenticated route");
    match socket.read_raw(std::time::Duration::from_secs(10)).await {
        common::ws::Read::Closed(_) | common::ws::Read::Ended(_) => {}
        common::ws::Read::Frame(f) => panic!("the session's socket stays open: {f}"),
        common::ws::Read::TimedOut => panic!("the session's socket stays open"),
    }
    let url = format!("ws://{}/ws?token={}", app.addr, a.token);
    let refused = tokio_tungstenite::connect_async(url).await;
    assert!(refused.is_err(), "a new socket with the token is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_logout_the_access_token_stops_working_within_the_bound() {
    let config = Config::for_tests();
    let bound = config.session_check.as_secs() as i64;
    assert_eq!(bound, 5, "the documented default bound");
    logout_ends_the_token_on_rest_and_sockets_within_the_bound(memory_app(config).await, bound)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_logout_the_access_token_stops_working_on_dynamodb_via_moto() {
    // On the system clock: a bound of 0 (every request reads the session), no sleeping.
    let mut config = Config::for_tests();
    config.session_check = std::time::Duration::ZERO;
    logout_ends_the_token_on_rest_and_sockets_within_the_bound(moto_app(config).await, 0).await;
}

#[tokio::test]
async fn within_the_bound_a_revoked_token_may_still_work_and_not_beyond() {
    let app = memory_app(Config::for_tests()).await;
    let a = app.sign_up("+919890000001", "asha").await;
    assert_ok(
        &app.get("/api/user", &a.token).await,
        200,
        "remembered as live",
    );
    assert_ok(
        &app.post("/api/auth/logout", json!({}), &a.token).await,
        200,
        "logout",
    );
    app.clock().advance(chrono::TimeDelta::seconds(4));
    assert_ok(
        &app.get("/api/user", &a.token).await,
        200,
        "4 s later: still inside the 5 s bound (the documented staleness)",
    );
    app.clock().advance(chrono::TimeDelta::seconds(1));
    assert_error(
        &app.get("/api/user", &a.token).await,
        401,
        "session_revoked",
        "5 s later",
    );
}

// ---------------------------------------------------------------- directory

#[tokio::test]
async fn a_stranger_sees_no_last_seen_and_a_contact_does_as_the_user_chooses() {
    let app = memory_app(Config::for_tests()).await;
    let a = app.sign_up("+919890000001", "asha").await;
    let b = app.sign_up("+919890000002", "bela").await;
    let c = app.sign_up("+919890000003", "chai").await;
    app.befriend(&a, &b).await;
    let me = app.get("/api/user", &a.token).await;
    assert_eq!(me.body["lastSeenVisibility"], "contacts", "the default");
    assert!(me.body["lastSeen"].is_string(), "the owner sees its own");

    let search = |who: &common::Person| {
        let token = who.token.clone();
        let app = &app;
        async move {
            let r = app
                .get(
                    &format!("/api/users/search?query={}", "%2B919890000001"),
                    &token,
                )
                .await;
            assert_ok(&r, 200, "search by phone");
            r.body[0].clone()
        }
    };
    let profile = |who: &common::Person| {
        let token = who.token.clone();
        let id = a.id.clone();
        let app = &app;
        async move {
            let r = app.get(&format!("/api/users/{id}"), &token).await;
            assert_ok(&r, 200, "profile");
            r.body
        }
    };
    let contact_entry = || async {
        let r = app.get("/api/contacts", &b.token).await;
        assert_ok(&r, 200, "b's contacts");
        r.body[0].clone()
    };

    let stranger = search(&c).await;
    assert_eq!(stranger["id"], a.id.as_str());
    assert!(
        stranger.get("lastSeen").is_none(),
        "a stranger's search: {stranger}"
    );
    assert!(
        profile(&c).await.get("lastSeen").is_none(),
        "a stranger's profile view"
    );
    assert!(
        profile(&b).await["lastSeen"].is_string(),
        "a contact's profile view"
    );
    let entry = contact_entry().await;
    assert!(entry["lastSeen"].is_string(), "the contact list: {entry}");
    assert_eq!(entry["online"], false);

    let mut socket = app.connect(&a).await;
    assert_eq!(
        contact_entry().await["online"],
        true,
        "a contact sees online"
    );

    let r = app
        .patch(
            "/api/user",
            json!({ "lastSeenVisibility": "nobody" }),
            &a.token,
        )
        .await;
    assert_ok(&r, 200, "hide last seen");
    assert_eq!(r.body["lastSeenVisibility"], "nobody");
    let entry = contact_entry().await;
    assert!(
        entry.get("lastSeen").is_none(),
        "nobody: not even contacts: {entry}"
    );
    assert_eq!(entry["online"], false, "nobody: never online");
    assert!(profile(&b).await.get("lastSeen").is_none());

    let r = app
        .patch(
            "/api/user",
            json!({ "lastSeenVisibility": "everyone" }),
            &a.token,
        )
        .await;
    assert_ok(&r, 200, "show last seen to everyone");
    assert!(
        search(&c).await["lastSeen"].is_string(),
        "everyone: strangers too"
    );
    assert!(profile(&c).await["lastSeen"].is_string());

    let r = app
        .patch(
            "/api/user",
            json!({ "lastSeenVisibility": "friends" }),
            &a.token,
        )
        .await;
    assert_error(&r, 400, "invalid_body", "an unknown setting");
    socket.send_json(json!({ "t": "PING" })).await;
    let pong = socket
        .next_frame(std::time::Duration::from_secs(10))
        .await
        .expect("an answer");
    assert!(
        ["PONG", "PRES"].contains(&pong["t"].as_str().unwrap()),
        "{pong}"
    );
}

async fn lookups_are_limited_per_caller(app: TestApp) {
    let a = app.sign_up("+919890000001", "asha").await;
    let b = app.sign_up("+919890000002", "bela").await;
    for i in 0..2 {
        let r = app
            .get(
                &format!("/api/users/search?query=%2B9198900100{i:02}"),
                &a.token,
            )
            .await;
        assert_ok(&r, 200, &format!("search {i}"));
    }
    let r = app
        .post(
            "/api/contacts/request",
            json!({ "phoneNumber": "+919890010099" }),
            &a.token,
        )
        .await;
    assert_error(&r, 404, "user_not_found", "a request by phone counts too");
    let r = app
        .get("/api/users/search?query=%2B919890000002", &a.token)
        .await;
    assert_error(
        &r,
        429,
        "lookup_rate_limited",
        "the fourth look-up in a minute",
    );
    assert!(r.headers.contains_key("retry-after"));
    let r = app
        .post(
            "/api/contacts/request",
            json!({ "phoneNumber": "+919890000002" }),
            &a.token,
        )
        .await;
    assert_error(
        &r,
        429,
        "lookup_rate_limited",
        "a request by phone beyond the limit",
    );
    assert_ok(
        &app.post(
            "/api/contacts/request",
            json!({ "receiverId": b.id }),
            &a.token,
        )
        .await,
        201,
        "a request by id is not a look-up",
    );
    assert_ok(
        &app.get("/api/users/search?query=asha", &b.token).await,
        200,
        "another caller has its own budget",
    );
}

fn lookup_config() -> Config {
    let mut config = Config::for_tests();
    config.limits.lookups_per_minute = 3;
    config
}

#[tokio::test]
async fn directory_lookups_are_limited_per_caller() {
    lookups_are_limited_per_caller(memory_app(lookup_config()).await).await;
}

#[tokio::test]
async fn directory_lookups_are_limited_per_caller_on_dynamodb_via_moto() {
    lookups_are_limited_per_caller(moto_app(lookup_config()).await).await;
}

// ---------------------------------------------------------------- blocking

/// Bea blocks Asha: Asha's messages are refused (as to a non-contact, so the block is not
/// revealed) and reach none of Bea's devices; her typing and presence do not reach Bea; her
/// new contact request looks sent to her but never reaches Bea. Unblocking restores messages.
async fn a_blocked_users_messages_typing_and_presence_never_reach_the_blocker(app: TestApp) {
    let a = app.sign_up("+919890000001", "asha").await;
    let b = app.sign_up("+919890000002", "bela").await;
    let c = app.sign_up("+919890000003", "chai").await;
    app.befriend(&a, &b).await;
    let mut bs = app.connect(&b).await;
    app.send_ok(&a, &b, "before").await;
    let f = bs
        .next_frame(std::time::Duration::from_secs(30))
        .await
        .expect("a frame");
    assert_eq!(f["t"], "MSG", "delivered before the block: {f}");

    let r = app
        .post(&format!("/api/users/{}/block", a.id), json!({}), &b.token)
        .await;
    assert_ok(&r, 200, "bela blocks asha");
    assert_eq!(r.body["userId"], a.id.as_str());
    let r = app
        .post(&format!("/api/users/{}/block", a.id), json!({}), &b.token)
        .await;
    assert_ok(&r, 200, "blocking again is fine");
    let r = app.get("/api/blocks", &b.token).await;
    assert_ok(&r, 200, "bela's blocks");
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body[0]["user"]["id"], a.id.as_str());
    assert!(
        r.body[0]["user"].get("phoneNumber").is_none(),
        "a public profile"
    );
    assert_error(
        &app.post(&format!("/api/users/{}/block", b.id), json!({}), &b.token)
            .await,
        400,
        "cannot_block_self",
        "blocking yourself",
    );
    assert_error(
        &app.post(
            &format!("/api/users/{}/block", whatspe::domain::UserId::new_random()),
            json!({}),
            &b.token,
        )
        .await,
        404,
        "user_not_found",
        "blocking nobody",
    );

    let r = app.send(&a, &b, "after").await;
    assert_error(
        &r,
        403,
        "not_a_contact",
        "a blocked sender, told only what a non-contact is",
    );
    let mut asocket = app.connect(&a).await;
    asocket
        .send_json(json!({"t": "MSG", "d": {"r": b.id, "c": "over the socket", "cm": "m1"}}))
        .await;
    asocket
        .send_json(json!({"t": "TYPING", "d": {"r": b.id}}))
        .await;
    asocket.send_json(json!({"t": "PING"})).await;
    let mut answers = Vec::new();
    while let Some(f) = asocket.next_frame(std::time::Duration::from_secs(10)).await {
        let done = f["t"] == "PONG";
        answers.push(f);
        if done {
            break;
        }
    }
    let err = answers
        .iter()
        .find(|f| f["t"] == "ERR")
        .expect("the socket MSG is refused");
    assert_eq!(err["d"]["code"], "not_a_contact", "{err}");
    assert!(
        !answers.iter().any(|f| f["t"] == "ERR"
            && f["d"]["cm"].is_null()
            && f["d"]["code"] != "not_a_contact"),
        "typing is dropped without an error: {answers:?}"
    );

    // Asha's request from a fresh start: remove the contact, ask again.
    assert_eq!(
        app.delete(&format!("/api/contacts/{}", b.id), &a.token)
            .await
            .status,
        204
    );
    let r = app
        .post(
            "/api/contacts/request",
            json!({ "receiverId": b.id }),
            &a.token,
        )
        .await;
    assert_ok(&r, 201, "asha's request looks sent");
    let r = app.get("/api/contacts/requests/sent", &a.token).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "asha sees it pending");
    let r = app.get("/api/contacts/requests/pending", &b.token).await;
    assert_ok(&r, 200, "bela's pending requests");
    assert_eq!(
        r.body.as_array().unwrap().len(),
        0,
        "bela never sees it: {}",
        r.body
    );

    // Bela's socket got nothing of Asha's since the block: no MSG, TYPING, REQ or PRES.
    bs.send_json(json!({"t": "PING"})).await;
    let mut seen = Vec::new();
    while let Some(f) = bs.next_frame(std::time::Duration::from_secs(10)).await {
        let done = f["t"] == "PONG";
        seen.push(f);
        if done {
            break;
        }
    }
    assert!(
        seen.iter().all(|f| f["t"] == "PONG"),
        "bela's socket after the block: {seen:?}"
    );

    // A third user is unaffected; unblocking lets Asha's request show again.
    app.befriend(&c, &b).await;
    app.send_ok(&c, &b, "hi from chai").await;
    assert_eq!(
        app.delete(&format!("/api/users/{}/block", a.id), &b.token)
            .await
            .status,
        204,
        "unblock"
    );
    assert_eq!(
        app.delete(&format!("/api/users/{}/block", a.id), &b.token)
            .await
            .status,
        204,
        "unblock again"
    );
    let r = app.get("/api/contacts/requests/pending", &b.token).await;
    assert_eq!(
        r.body.as_array().unwrap().len(),
        1,
        "after unblocking: {}",
        r.body
    );
    let r = app.get("/api/blocks", &b.token).await;
    assert_eq!(r.body.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_never_reaches_the_blocker() {
    a_blocked_users_messages_typing_and_presence_never_reach_the_blocker(
        memory_app(Config::for_tests()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_never_reaches_the_blocker_on_dynamodb_via_moto() {
    a_blocked_users_messages_typing_and_presence_never_reach_the_blocker(
        moto_app(Config::for_tests()).await,
    )
    .await;
}

/// Whether `viewer`'s chat list shows `peer`'s last seen (their 1:1 chat must be listed).
async fn chat_list_shows_last_seen(
    app: &TestApp,
    viewer: &common::Person,
    peer: &common::Person,
) -> bool {
    let r = app.get("/api/chats", &viewer.token).await;
    assert_ok(&r, 200, "the chat list");
    let chats = r.items("the chat list");
    let chat = chats
        .iter()
        .find(|c| c["peer"]["id"] == peer.id.as_str())
        .unwrap_or_else(|| {
            panic!(
                "{}'s chat with {}: {}",
                viewer.username, peer.username, r.body
            )
        });
    chat["peer"].get("lastSeen").is_some()
}

/// What else could carry the blocked user to the blocker, closed: Asha (blocked by Bea) can
/// neither react to nor edit her earlier message to Bea (refused as a message is), nor forward
/// into their chat (and a forward with that chat among its targets sends nothing anywhere),
/// nor put Bea in a group; her delete for everyone still works (it only takes back what Bea
/// has). Last seen is hidden both ways, in profiles and contact lists.
async fn a_blocked_user_cannot_reach_the_blocker_by_actions_groups_or_presence(app: TestApp) {
    let a = app.sign_up("+919890000011", "asha").await;
    let b = app.sign_up("+919890000012", "bela").await;
    let c = app.sign_up("+919890000013", "chai").await;
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    let to_b = app.send_ok(&a, &b, "to bela").await;
    let to_c = app.send_ok(&a, &c, "to chai").await;
    let (m_b, chat_b) = (str_field(&to_b, "id"), str_field(&to_b, "chatId"));
    let chat_c = str_field(&to_c, "chatId");
    let seen = |r: &common::Reply| r.body.get("lastSeen").is_some();
    // Contacts see each other's last seen (the default setting) before the block, in
    // profiles and in the chat list.
    assert!(seen(
        &app.get(&format!("/api/users/{}", a.id), &b.token).await
    ));
    assert!(seen(
        &app.get(&format!("/api/users/{}", b.id), &a.token).await
    ));
    assert!(chat_list_shows_last_seen(&app, &b, &a).await);
    assert!(chat_list_shows_last_seen(&app, &a, &b).await);
    assert!(chat_list_shows_last_seen(&app, &a, &c).await);

    let mut bs = app.connect(&b).await;
    assert_ok(
        &app.post(&format!("/api/users/{}/block", a.id), json!({}), &b.token)
            .await,
        200,
        "bela blocks asha",
    );
    let msg_path = format!("/api/chats/{chat_b}/messages/{m_b}");
    assert_error(
        &app.post(
            &format!("{msg_path}/reactions"),
            json!({"emoji": "👍"}),
            &a.token,
        )
        .await,
        403,
        "not_a_contact",
        "a blocked user's reaction",
    );
    assert_error(
        &app.patch(&msg_path, json!({"content": "edited"}), &a.token)
            .await,
        403,
        "not_a_contact",
        "a blocked user's edit",
    );
    assert_error(
        &app.post(
            &format!("/api/messages/{}/forward", str_field(&to_c, "id")),
            json!({"chatId": chat_c, "chatIds": [chat_c, chat_b]}),
            &a.token,
        )
        .await,
        403,
        "not_a_contact",
        "a forward into the blocker's chat",
    );
    let r = app
        .get(&format!("/api/chats/{chat_c}/messages"), &c.token)
        .await;
    assert_ok(&r, 200, "chai's history");
    assert_eq!(
        r.items("chai's history").len(),
        1,
        "the refused forward sent nothing to chai either: {}",
        r.body
    );
    assert_error(
        &app.post(
            "/api/groups",
            json!({"name": "trap", "memberIds": [b.id, c.id]}),
            &a.token,
        )
        .await,
        403,
        "not_a_contact",
        "a group with the blocker",
    );
    let r = app.get("/api/groups", &a.token).await;
    assert_ok(&r, 200, "asha's groups");
    assert!(
        r.items("asha's groups").is_empty(),
        "no group made: {}",
        r.body
    );
    // Bea's own view of her message, unchanged by the refused edit and reaction.
    let r = app
        .get(&format!("/api/chats/{chat_b}/messages"), &b.token)
        .await;
    let history = r.items("bela's history");
    assert_eq!(history.len(), 1, "{}", r.body);
    assert_eq!(history[0]["content"], "to bela");
    assert!(
        history[0]
            .get("reactions")
            .is_none_or(|r| r.as_array().is_some_and(|a| a.is_empty())
                || r.as_object().is_some_and(|o| o.is_empty())),
        "{}",
        history[0]
    );
    // A delete for everyone is still hers to make.
    assert_ok(
        &app.delete(&msg_path, &a.token).await,
        200,
        "asha takes it back",
    );

    // Last seen, hidden both ways: profiles and contact lists.
    assert!(!seen(
        &app.get(&format!("/api/users/{}", a.id), &b.token).await
    ));
    assert!(!seen(
        &app.get(&format!("/api/users/{}", b.id), &a.token).await
    ));
    let r = app.get("/api/contacts", &a.token).await;
    assert_ok(&r, 200, "asha's contacts");
    let bela = r
        .items("asha's contacts")
        .into_iter()
        .find(|v| v.to_string().contains(b.id.as_str()))
        .expect("bela is still asha's contact");
    assert!(
        !bela.to_string().contains("lastSeen") && !bela.to_string().contains("\"online\":true"),
        "asha sees nothing of bela's presence: {bela}"
    );
    assert!(!chat_list_shows_last_seen(&app, &b, &a).await);
    assert!(!chat_list_shows_last_seen(&app, &a, &b).await);
    // A contact no more is a stranger again: no last seen in the chat list either.
    assert_eq!(
        app.delete(&format!("/api/contacts/{}", c.id), &a.token)
            .await
            .status,
        204
    );
    assert!(!chat_list_shows_last_seen(&app, &a, &c).await);

    // Bea's socket: the DEL, and nothing else of Asha's (no RCT, EDIT, MSG, GRP).
    bs.send_json(json!({"t": "PING"})).await;
    let mut frames = Vec::new();
    while let Some(f) = bs.next_frame(std::time::Duration::from_secs(10)).await {
        let done = f["t"] == "PONG";
        frames.push(f);
        if done {
            break;
        }
    }
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["t"].as_str()).collect();
    assert!(
        kinds.iter().all(|k| matches!(*k, "DEL" | "PONG" | "PRES")),
        "bela's socket: {frames:?}"
    );
    assert!(
        !frames
            .iter()
            .any(|f| f["t"] == "PRES" && f["d"]["u"] == a.id.as_str()),
        "no presence of asha: {frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_cannot_reach_the_blocker_by_other_routes() {
    a_blocked_user_cannot_reach_the_blocker_by_actions_groups_or_presence(
        memory_app(Config::for_tests()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_cannot_reach_the_blocker_by_other_routes_on_dynamodb_via_moto() {
    a_blocked_user_cannot_reach_the_blocker_by_actions_groups_or_presence(
        moto_app(Config::for_tests()).await,
    )
    .await;
}
