//! End-to-end: the real local gateway on 127.0.0.1:0, driven over HTTP with reqwest, as a
//! client would (zero-to-production's `spawn_app`). Time moves through a shared
//! [`ManualClock`]; the DynamoDB journey runs on a moto server (`make test` starts one).
//!
//! [`ManualClock`]: whatspe::clock::ManualClock

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{
    Body, Reply, TestApp, assert_error, assert_ok, six_digit_code, spawn_app, spawn_app_on_moto,
    split_tokens, str_field, timestamp,
};
use reqwest::Method;
use serde_json::{Value, json};
use whatspe::clock::Clock;
use whatspe::services::auth::REFRESH_GRACE;

const PHONE_BARE: &str = "9890999999";
const PHONE: &str = "+919890999999";
const DEFAULT_STATUS: &str = "Hey, I'm using WhatsPe!";

// ---------------------------------------------------------------------------------------------
// Harness (the shared part is in `common`)
// ---------------------------------------------------------------------------------------------

/// A six-digit code that is certainly not `code`.
fn wrong_code(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

impl TestApp {
    fn advance(&self, by: TimeDelta) {
        self.clock().advance(by);
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }

    async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post_public(
            "/api/auth/refresh",
            json!({ "refreshToken": refresh_token }),
        )
        .await
    }
}

/// request-otp → code from the outbox → verify-otp (new number) → register → GET /api/user.
/// Returns the user and its access and refresh tokens.
async fn new_user_journey(
    app: &TestApp,
    typed_phone: &str,
    e164: &str,
    username: &str,
) -> (Value, String, String) {
    let r = app.request_otp(typed_phone).await;
    assert_ok(&r, 200, "request-otp");
    assert_eq!(
        r.body["phoneNumber"], e164,
        "request-otp normalises the number"
    );
    assert_eq!(
        r.body["expiresIn"], 300,
        "request-otp: the code lives 5 minutes"
    );
    assert!(r.body["message"].is_string(), "request-otp: {}", r.body);

    let code = app.latest_code(e164).await;
    let r = app.verify_otp(typed_phone, &code).await;
    assert_ok(&r, 200, "verify-otp");
    assert_eq!(r.body["isNewUser"], true, "verify-otp: {}", r.body);
    assert_eq!(r.body["user"], Value::Null, "verify-otp: {}", r.body);
    assert!(r.body["message"].is_string(), "verify-otp: {}", r.body);
    assert!(
        r.body.get("accessToken").is_none(),
        "a new number gets no session yet: {}",
        r.body
    );
    let registration_token = str_field(&r.body, "registrationToken");

    let r = app
        .register(&registration_token, json!({ "username": username }))
        .await;
    assert_ok(&r, 201, "register");
    let (user, access, refresh) = split_tokens(r.body);
    assert!(str_field(&user, "id").len() == 36, "id is a UUID: {user}");
    assert_eq!(user["username"], username);
    assert_eq!(user["phoneNumber"], e164);
    assert_eq!(user["status"], DEFAULT_STATUS);
    assert_eq!(user["verified"], true);
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["profilePicture"], Value::Null);
    for field in ["lastSeen", "createdAt", "updatedAt"] {
        timestamp(&user[field], field);
    }

    let r = app.get("/api/user", &access).await;
    assert_ok(&r, 200, "GET /api/user");
    assert_eq!(r.body, user, "GET /api/user shows the registered account");
    (user, access, refresh)
}

// ---------------------------------------------------------------------------------------------
// 1-3. Journeys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn new_user_signs_up_edits_profile_refreshes_and_logs_out() {
    let app = spawn_app().await;
    let registered_at = app.now();
    let (user, access, refresh) = new_user_journey(&app, PHONE_BARE, PHONE, "asha").await;
    for field in ["lastSeen", "createdAt", "updatedAt"] {
        assert_eq!(timestamp(&user[field], field), registered_at, "{field}");
    }

    // PATCH: change status and email, then clear the email with null.
    app.advance(TimeDelta::minutes(1));
    let r = app
        .patch(
            "/api/user",
            json!({ "status": "At work", "email": "Asha@Example.COM" }),
            &access,
        )
        .await;
    assert_ok(&r, 200, "PATCH status and email");
    assert_eq!(r.body["status"], "At work");
    assert_eq!(
        r.body["email"], "Asha@example.com",
        "the domain is lower-cased"
    );
    assert_eq!(
        r.body["username"], "asha",
        "fields not sent stay as they were"
    );
    assert_eq!(r.body["id"], user["id"]);
    assert_eq!(
        timestamp(&r.body["updatedAt"], "updatedAt"),
        registered_at + TimeDelta::minutes(1)
    );
    assert_eq!(r.body["createdAt"], user["createdAt"]);

    let r = app
        .patch("/api/user", json!({ "email": null }), &access)
        .await;
    assert_ok(&r, 200, "PATCH email null");
    assert_eq!(r.body["email"], Value::Null, "null clears the email");
    assert_eq!(r.body["status"], "At work", "status is left alone");
    let patched = r.body;
    let r = app.get("/api/user", &access).await;
    assert_ok(&r, 200, "GET /api/user after PATCH");
    assert_eq!(r.body, patched, "GET shows the patched profile");

    // Refresh 10 minutes in: a new pair; the old access token works until its own expiry.
    app.advance(TimeDelta::minutes(9));
    let r = app.refresh(&refresh).await;
    assert_ok(&r, 200, "refresh");
    assert_eq!(r.body["expiresIn"], 900);
    let access2 = str_field(&r.body, "accessToken");
    let refresh2 = str_field(&r.body, "refreshToken");
    assert_ne!(access2, access, "refresh issues a new access token");
    assert_ne!(refresh2, refresh, "refresh rotates the refresh token");
    assert_ok(
        &app.get("/api/user", &access2).await,
        200,
        "new access token",
    );
    assert_ok(
        &app.get("/api/user", &access).await,
        200,
        "old access token before its expiry",
    );
    app.advance(TimeDelta::minutes(5));
    assert_error(
        &app.get("/api/user", &access).await,
        401,
        "token_expired",
        "old access token 15 minutes after issue",
    );
    assert_ok(
        &app.get("/api/user", &access2).await,
        200,
        "new access token 5 minutes after issue",
    );

    // Logout: the refresh token dies at once.
    let r = app.post("/api/auth/logout", json!({}), &access2).await;
    assert_ok(&r, 200, "logout");
    assert!(r.body["message"].is_string(), "logout: {}", r.body);
    assert_error(
        &app.refresh(&refresh2).await,
        401,
        "session_revoked",
        "refresh after logout",
    );
}

#[tokio::test]
async fn new_user_journey_sign_in_again_and_username_uniqueness_work_on_dynamodb_via_moto() {
    let app = spawn_app_on_moto().await;
    let (user, access, refresh) = new_user_journey(&app, PHONE_BARE, PHONE, "Asha_M").await;

    let r = app.refresh(&refresh).await;
    assert_ok(&r, 200, "refresh");
    assert_eq!(r.body["expiresIn"], 900);
    let access2 = str_field(&r.body, "accessToken");
    let refresh2 = str_field(&r.body, "refreshToken");
    assert_ne!(refresh2, refresh, "refresh rotates the refresh token");
    let r = app.get("/api/user", &access2).await;
    assert_ok(&r, 200, "GET /api/user with the refreshed access token");
    assert_eq!(r.body, user);
    assert_ok(
        &app.get("/api/user", &access).await,
        200,
        "old access token before its expiry",
    );

    let r = app.post("/api/auth/logout", json!({}), &access2).await;
    assert_ok(&r, 200, "logout");
    assert_error(
        &app.refresh(&refresh2).await,
        401,
        "session_revoked",
        "refresh after logout",
    );

    // The same number signs in again: an existing account, with a new session.
    let code = app.code_for(PHONE).await;
    let r = app.verify_otp(PHONE, &code).await;
    assert_ok(&r, 200, "second verify-otp");
    assert_eq!(r.body["isNewUser"], false, "{}", r.body);
    assert_eq!(r.body["user"], user, "signed in to the same account");
    assert_eq!(r.body["expiresIn"], 900);
    let access3 = str_field(&r.body, "accessToken");
    let refresh3 = str_field(&r.body, "refreshToken");
    let r = app.get("/api/user", &access3).await;
    assert_ok(&r, 200, "GET /api/user after signing in again");
    assert_eq!(r.body, user);
    assert_ok(
        &app.refresh(&refresh3).await,
        200,
        "refresh after signing in again",
    );

    // Usernames are unique regardless of case; the rejected registration leaves nothing
    // behind, so the same token registers with a free name.
    let other = "+14155550123";
    let token = app.registration_token(other).await;
    assert_error(
        &app.register(&token, json!({ "username": "asha_m" })).await,
        409,
        "username_taken",
        "same username in other case",
    );
    let r = app.register(&token, json!({ "username": "asha_k" })).await;
    assert_ok(&r, 201, "register with a free username");
    assert_eq!(r.body["phoneNumber"], other);
}

#[tokio::test]
async fn returning_user_verifying_a_new_code_is_signed_in_to_the_same_account() {
    let app = spawn_app().await;
    let (user, _, _) = app.sign_up_with_tokens(PHONE, "ravi").await;

    let code = app.code_for(PHONE_BARE).await;
    let r = app.verify_otp(PHONE_BARE, &code).await;
    assert_ok(&r, 200, "verify-otp of a known number");
    assert_eq!(r.body["isNewUser"], false, "{}", r.body);
    assert_eq!(r.body["user"], user, "the account is returned");
    assert_eq!(r.body["expiresIn"], 900);
    assert!(r.body["message"].is_string());
    assert!(
        r.body.get("registrationToken").is_none(),
        "no registration token for a known number: {}",
        r.body
    );
    let access = str_field(&r.body, "accessToken");
    let refresh = str_field(&r.body, "refreshToken");

    let r = app.get("/api/user", &access).await;
    assert_ok(&r, 200, "GET /api/user with the sign-in token");
    assert_eq!(r.body, user);
    let r = app.refresh(&refresh).await;
    assert_ok(&r, 200, "refresh with the sign-in token");
    assert_ok(
        &app.get("/api/user", &str_field(&r.body, "accessToken"))
            .await,
        200,
        "refreshed access token",
    );
}

// ---------------------------------------------------------------------------------------------
// 4. OTP rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_used_code_cannot_be_used_again() {
    let app = spawn_app().await;
    let code = app.code_for(PHONE).await;
    assert_ok(&app.verify_otp(PHONE, &code).await, 200, "first use");
    assert_error(
        &app.verify_otp(PHONE, &code).await,
        400,
        "otp_not_found",
        "second use of the same code",
    );
}

#[tokio::test]
async fn verifying_without_requesting_a_code_gets_otp_not_found() {
    let app = spawn_app().await;
    assert_error(
        &app.verify_otp(PHONE, "123456").await,
        400,
        "otp_not_found",
        "no code was requested",
    );
}

#[tokio::test]
async fn a_wrong_code_is_rejected_and_the_message_says_how_many_attempts_are_left() {
    let app = spawn_app().await;
    let code = app.code_for(PHONE).await;
    let r = app.verify_otp(PHONE, &wrong_code(&code)).await;
    assert_error(&r, 400, "invalid_otp", "wrong code");
    let message = str_field(&r.body["error"], "message");
    assert!(
        message.contains("4 attempt") && message.contains("left"),
        "the message says 4 attempts are left: {message:?}"
    );
    assert_ok(
        &app.verify_otp(PHONE, &code).await,
        200,
        "the right code after one wrong try",
    );
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_so_even_the_right_one_fails() {
    let app = spawn_app().await;
    let code = app.code_for(PHONE).await;
    let wrong = wrong_code(&code);
    for left in (1..=4).rev() {
        let r = app.verify_otp(PHONE, &wrong).await;
        let case = format!("wrong try with {left} left");
        assert_error(&r, 400, "invalid_otp", &case);
        let message = str_field(&r.body["error"], "message");
        assert!(
            message.contains(&format!("{left} attempt")),
            "{case}: {message:?}"
        );
    }
    assert_error(
        &app.verify_otp(PHONE, &wrong).await,
        400,
        "otp_attempts_exceeded",
        "5th wrong try",
    );
    assert_error(
        &app.verify_otp(PHONE, &code).await,
        400,
        "otp_attempts_exceeded",
        "the right code after 5 wrong tries",
    );
    // A fresh code works again.
    let code = app.code_for(PHONE).await;
    assert_ok(&app.verify_otp(PHONE, &code).await, 200, "a new code");
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let app = spawn_app().await;
    let code = app.code_for(PHONE).await;
    app.advance(TimeDelta::minutes(5) - TimeDelta::seconds(1));
    assert_ok(
        &app.verify_otp(PHONE, &code).await,
        200,
        "4:59 after it was sent",
    );

    let code = app.code_for(PHONE).await;
    app.advance(TimeDelta::minutes(5));
    assert_error(
        &app.verify_otp(PHONE, &code).await,
        400,
        "otp_expired",
        "5 minutes after it was sent",
    );
}

#[tokio::test]
async fn the_fourth_code_request_within_15_minutes_gets_429_with_a_truthful_retry_after() {
    let app = spawn_app().await;
    assert_ok(&app.request_otp(PHONE).await, 200, "1st request");
    app.advance(TimeDelta::minutes(2));
    assert_ok(&app.request_otp(PHONE).await, 200, "2nd request");
    assert_ok(&app.request_otp(PHONE_BARE).await, 200, "3rd request");

    let r = app.request_otp(PHONE).await;
    assert_error(&r, 429, "otp_rate_limited", "4th request");
    let retry_after: u64 = r
        .headers
        .get("retry-after")
        .expect("429 carries Retry-After")
        .to_str()
        .expect("Retry-After is ASCII")
        .parse()
        .expect("Retry-After is a whole number of seconds");
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After {retry_after} is within the 15-minute window"
    );
    assert_eq!(
        retry_after, 780,
        "the oldest send leaves the window 13 minutes from now"
    );
    assert_eq!(
        app.sms(PHONE).await.len(),
        3,
        "the refused request sent no SMS"
    );

    // Still refused one second early; answered once Retry-After has passed.
    app.advance(TimeDelta::seconds(retry_after as i64 - 1));
    let r = app.request_otp(PHONE).await;
    assert_error(&r, 429, "otp_rate_limited", "1 s before Retry-After");
    assert_eq!(
        r.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    app.advance(TimeDelta::seconds(1));
    assert_ok(
        &app.request_otp(PHONE).await,
        200,
        "request after Retry-After",
    );
    assert_eq!(app.sms(PHONE).await.len(), 4);

    // And a full 15 minutes later, the window is empty again.
    app.advance(TimeDelta::minutes(15));
    for n in 1..=3 {
        assert_ok(
            &app.request_otp(PHONE).await,
            200,
            &format!("request {n} of a new window"),
        );
    }
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let app = spawn_app().await;
    let old = app.code_for(PHONE).await;
    let mut new = app.code_for(PHONE).await;
    if new == old {
        // One chance in a million; a third code settles it.
        new = app.code_for(PHONE).await;
    }
    assert_ne!(new, old, "two fresh codes in a row");
    assert_error(
        &app.verify_otp(PHONE, &old).await,
        400,
        "invalid_otp",
        "the replaced code",
    );
    assert_ok(&app.verify_otp(PHONE, &new).await, 200, "the newest code");
}

// ---------------------------------------------------------------------------------------------
// 5. Tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_access_token_expires_after_15_minutes_with_a_www_authenticate_header() {
    let app = spawn_app().await;
    let (_, access, _) = app.sign_up_with_tokens(PHONE, "meera").await;
    app.advance(TimeDelta::minutes(15) - TimeDelta::seconds(1));
    assert_ok(
        &app.get("/api/user", &access).await,
        200,
        "14:59 after issue",
    );
    app.advance(TimeDelta::seconds(1));
    let r = app.get("/api/user", &access).await;
    assert_error(&r, 401, "token_expired", "15 minutes after issue");
    assert_eq!(
        r.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("Bearer"),
        "a 401 names the scheme"
    );
}

#[tokio::test]
async fn a_tampered_access_token_is_rejected() {
    let app = spawn_app().await;
    let (_, access, _) = app.sign_up_with_tokens(PHONE, "meera").await;
    let signature_start = access.rfind('.').expect("a JWT has three parts") + 1;
    let mut bytes = access.into_bytes();
    let i = signature_start + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("ASCII");
    assert_error(
        &app.get("/api/user", &tampered).await,
        401,
        "invalid_token",
        "one signature character changed",
    );
    assert_error(
        &app.get("/api/user", "not.a.jwt").await,
        401,
        "invalid_token",
        "garbage token",
    );
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_missing_token() {
    let app = spawn_app().await;
    for (case, method, path) in [
        ("GET /api/user", Method::GET, "/api/user"),
        ("PATCH /api/user", Method::PATCH, "/api/user"),
        ("logout", Method::POST, "/api/auth/logout"),
    ] {
        let r = app.request(method, path, Body::Json(json!({})), None).await;
        assert_error(&r, 401, "missing_token", case);
        assert!(
            r.headers.contains_key("www-authenticate"),
            "{case}: WWW-Authenticate"
        );
    }
    let r = app.register("", json!({ "username": "meera" })).await;
    assert_error(&r, 401, "missing_token", "register with an empty bearer");
    let r = app
        .request(
            Method::POST,
            "/api/auth/register",
            Body::Json(json!({ "username": "meera" })),
            None,
        )
        .await;
    assert_error(&r, 401, "missing_token", "register without a token");
}

#[tokio::test]
async fn registration_and_access_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let (_, access, _) = app.sign_up_with_tokens(PHONE, "meera").await;
    let registration = app.registration_token("+14155550100").await;
    assert_error(
        &app.get("/api/user", &registration).await,
        401,
        "invalid_token",
        "registration token as an access token",
    );
    assert_error(
        &app.register(&access, json!({ "username": "someone" }))
            .await,
        401,
        "invalid_registration_token",
        "access token as a registration token",
    );
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let (_, _, r1) = app.sign_up_with_tokens(PHONE, "meera").await;
    let r = app.refresh(&r1).await;
    assert_ok(&r, 200, "R1 → R2");
    let r2 = str_field(&r.body, "refreshToken");

    app.advance(REFRESH_GRACE);
    assert_error(
        &app.refresh(&r1).await,
        401,
        "refresh_token_reused",
        "R1 presented again 10 s after the rotation",
    );
    assert_error(
        &app.refresh(&r2).await,
        401,
        "session_revoked",
        "R2 after the reuse of R1",
    );
    assert_error(
        &app.refresh("garbage").await,
        401,
        "invalid_refresh_token",
        "not a refresh token",
    );
}

/// The session id is readable in every access token: a made-up refresh token with a real
/// session id must not end that session; a genuinely rotated one still does.
#[tokio::test]
async fn a_garbage_refresh_token_for_a_live_session_leaves_it_alive() {
    garbage_refresh_leaves_the_session_alive(&spawn_app().await).await;
}

#[tokio::test]
async fn a_garbage_refresh_token_leaves_the_session_alive_on_dynamodb_via_moto() {
    garbage_refresh_leaves_the_session_alive(&spawn_app_on_moto().await).await;
}

async fn garbage_refresh_leaves_the_session_alive(app: &TestApp) {
    let (_, access, r1) = app.sign_up_with_tokens(PHONE, "meera").await;
    let r = app.refresh(&r1).await;
    assert_ok(&r, 200, "R1 → R2");
    let r2 = str_field(&r.body, "refreshToken");
    let sid = r2.split_once('.').unwrap().0.to_owned();
    for (garbage, case) in [
        (
            format!("{sid}.{}", "A".repeat(43)),
            "32 zero bytes as the secret",
        ),
        (
            format!("{sid}.{}", "x".repeat(43)),
            "a made-up 32-byte secret",
        ),
        (format!("{sid}.anything"), "not a secret at all"),
        (format!("{sid}."), "an empty secret"),
    ] {
        assert_error(
            &app.refresh(&garbage).await,
            401,
            "invalid_refresh_token",
            case,
        );
    }
    assert_ok(
        &app.get("/api/user", &access).await,
        200,
        "the access token still works",
    );
    let r = app.refresh(&r2).await;
    assert_ok(
        &r,
        200,
        "the real refresh token still rotates: the session lives",
    );
    let r3 = str_field(&r.body, "refreshToken");

    assert_error(
        &app.refresh(&r1).await,
        401,
        "refresh_token_reused",
        "R1, rotated two rotations ago, is reuse",
    );
    assert_error(
        &app.refresh(&r3).await,
        401,
        "session_revoked",
        "the reuse of a genuinely rotated token ended the session",
    );
}

/// A phone retrying a refresh whose answer it lost, or two refreshes racing: the same token
/// twice inside the grace window is not reuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_refreshes_with_one_token_both_get_the_same_pair_and_the_session_lives() {
    racing_refreshes_share_one_pair(&spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_refreshes_with_one_token_share_one_pair_on_dynamodb_via_moto() {
    racing_refreshes_share_one_pair(&spawn_app_on_moto().await).await;
}

async fn racing_refreshes_share_one_pair(app: &TestApp) {
    let (me, _, r1) = app.sign_up_with_tokens(PHONE, "meera").await;
    let (a, b) = tokio::join!(app.refresh(&r1), app.refresh(&r1));
    assert_ok(&a, 200, "first of the racing refreshes");
    assert_ok(&b, 200, "second of the racing refreshes");
    let r2 = str_field(&a.body, "refreshToken");
    assert_eq!(
        str_field(&b.body, "refreshToken"),
        r2,
        "both get the same refresh token"
    );
    assert_ne!(r2, r1, "and it is a new one");
    for (r, case) in [(&a, "first"), (&b, "second")] {
        let access = str_field(&r.body, "accessToken");
        let r = app.get("/api/user", &access).await;
        assert_ok(
            &r,
            200,
            &format!("GET /api/user with the {case} access token"),
        );
        assert_eq!(r.body["id"], me["id"], "{case}: the same account");
    }

    let r = app.refresh(&r2).await;
    assert_ok(
        &r,
        200,
        "the shared refresh token rotates afterwards: the session lives",
    );
    let access = str_field(&r.body, "accessToken");
    assert_ok(
        &app.get("/api/user", &access).await,
        200,
        "GET /api/user after the next rotation",
    );
}

#[tokio::test]
async fn user_id_in_the_query_must_name_the_caller() {
    let app = spawn_app().await;
    let (me, access, _) = app.sign_up_with_tokens(PHONE, "meera").await;
    let (other, _, _) = app.sign_up_with_tokens("+14155550100", "omar").await;
    let other_id = str_field(&other, "id");
    let my_id = str_field(&me, "id");

    let r = app
        .get(&format!("/api/user?userId={other_id}"), &access)
        .await;
    assert_error(&r, 403, "user_mismatch", "someone else's id");
    let r = app.get(&format!("/api/user?userId={my_id}"), &access).await;
    assert_ok(&r, 200, "own id");
    assert_eq!(r.body, me);
}

// ---------------------------------------------------------------------------------------------
// 6. Register rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn register_rejects_a_phone_number_other_than_the_verified_one() {
    let app = spawn_app().await;
    let token = app.registration_token(PHONE).await;
    let r = app
        .register(
            &token,
            json!({ "username": "meera", "phoneNumber": "+14155550100" }),
        )
        .await;
    assert_error(
        &r,
        403,
        "phone_number_mismatch",
        "another number in the body",
    );
    // The same number in the seed's bare form is the verified one.
    let r = app
        .register(
            &token,
            json!({ "username": "meera", "phoneNumber": PHONE_BARE }),
        )
        .await;
    assert_ok(&r, 201, "the verified number, typed bare");
    assert_eq!(r.body["phoneNumber"], PHONE);
}

#[tokio::test]
async fn registering_the_same_phone_twice_gets_409_phone_number_taken() {
    let app = spawn_app().await;
    let token = app.registration_token(PHONE).await;
    assert_ok(
        &app.register(&token, json!({ "username": "meera" })).await,
        201,
        "first registration",
    );
    assert_error(
        &app.register(&token, json!({ "username": "meera_two" }))
            .await,
        409,
        "phone_number_taken",
        "second registration with the same token",
    );
}

#[tokio::test]
async fn a_registration_token_expires_after_10_minutes() {
    let app = spawn_app().await;
    let token = app.registration_token(PHONE).await;
    app.advance(TimeDelta::minutes(10));
    let r = app.register(&token, json!({ "username": "meera" })).await;
    assert_error(&r, 401, "registration_token_expired", "10 minutes later");
    assert!(r.headers.contains_key("www-authenticate"));
}

// ---------------------------------------------------------------------------------------------
// 7. Bad input
// ---------------------------------------------------------------------------------------------

/// (case, method, path, body, bearer, expected status, expected error code)
type BadInput<'a> = (
    &'a str,
    Method,
    &'a str,
    Body,
    Option<&'a str>,
    u16,
    &'a str,
);

#[tokio::test]
async fn bad_inputs_get_specific_4xx_errors_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let (_, access, _) = app.sign_up_with_tokens("+14155550100", "omar").await;
    let registration = app.registration_token(PHONE).await;
    let big = format!(r#"{{"phoneNumber":"{}"}}"#, "9".repeat(1 << 20));

    let otp = "/api/auth/request-otp";
    let cases: Vec<BadInput> = vec![
        (
            "malformed JSON",
            Method::POST,
            otp,
            Body::Raw(r#"{"phoneNumber":"#.into()),
            None,
            400,
            "malformed_json",
        ),
        (
            "empty body",
            Method::POST,
            otp,
            Body::Raw(String::new()),
            None,
            400,
            "malformed_json",
        ),
        (
            "whitespace-only body",
            Method::POST,
            otp,
            Body::Raw(" \n".into()),
            None,
            400,
            "malformed_json",
        ),
        (
            "trailing garbage after the JSON",
            Method::POST,
            otp,
            Body::Raw(r#"{"phoneNumber":"9890999999"} x"#.into()),
            None,
            400,
            "malformed_json",
        ),
        (
            "wrong type",
            Method::POST,
            otp,
            Body::Json(json!({ "phoneNumber": 123 })),
            None,
            400,
            "invalid_body",
        ),
        (
            "missing field",
            Method::POST,
            otp,
            Body::Json(json!({})),
            None,
            400,
            "invalid_body",
        ),
        (
            "unknown field",
            Method::POST,
            otp,
            Body::Json(json!({ "phoneNumber": PHONE, "admin": true })),
            None,
            400,
            "invalid_body",
        ),
        (
            "phone number with letters",
            Method::POST,
            otp,
            Body::Json(json!({ "phoneNumber": "12ab" })),
            None,
            400,
            "invalid_phone_number",
        ),
        (
            "phone number with a leading zero after +",
            Method::POST,
            otp,
            Body::Json(json!({ "phoneNumber": "+0123" })),
            None,
            400,
            "invalid_phone_number",
        ),
        (
            "1 MB body",
            Method::POST,
            otp,
            Body::Raw(big),
            None,
            413,
            "payload_too_large",
        ),
        (
            "invalid username in register",
            Method::POST,
            "/api/auth/register",
            Body::Json(json!({ "username": "1-bad name" })),
            Some(&registration),
            400,
            "invalid_username",
        ),
        (
            "invalid email in register",
            Method::POST,
            "/api/auth/register",
            Body::Json(json!({ "username": "meera", "email": "meera@" })),
            Some(&registration),
            400,
            "invalid_email",
        ),
        (
            "malformed JSON in register",
            Method::POST,
            "/api/auth/register",
            Body::Raw("{username: meera}".into()),
            Some(&registration),
            400,
            "malformed_json",
        ),
        (
            "5-digit otp",
            Method::POST,
            "/api/auth/verify-otp",
            Body::Json(json!({ "phoneNumber": PHONE, "otp": "12345" })),
            None,
            400,
            "invalid_otp_format",
        ),
        (
            "otp with letters",
            Method::POST,
            "/api/auth/verify-otp",
            Body::Json(json!({ "phoneNumber": PHONE, "otp": "12345a" })),
            None,
            400,
            "invalid_otp_format",
        ),
        (
            "wrong type in PATCH /api/user",
            Method::PATCH,
            "/api/user",
            Body::Json(json!({ "status": 5 })),
            Some(&access),
            400,
            "invalid_body",
        ),
        (
            "invalid email in PATCH /api/user",
            Method::PATCH,
            "/api/user",
            Body::Json(json!({ "email": "no at sign" })),
            Some(&access),
            400,
            "invalid_email",
        ),
        (
            "wrong type in refresh",
            Method::POST,
            "/api/auth/refresh",
            Body::Json(json!({ "refreshToken": ["x"] })),
            None,
            400,
            "invalid_body",
        ),
        (
            "unknown route",
            Method::GET,
            "/api/nope",
            Body::Empty,
            None,
            404,
            "route_not_found",
        ),
        (
            "GET on a POST route",
            Method::GET,
            otp,
            Body::Empty,
            None,
            405,
            "method_not_allowed",
        ),
        (
            "DELETE /api/user",
            Method::DELETE,
            "/api/user",
            Body::Empty,
            Some(&access),
            405,
            "method_not_allowed",
        ),
    ];
    for (case, method, path, body, bearer, status, code) in cases {
        let r = app.request(method, path, body, bearer).await;
        assert_error(&r, status, code, case);
    }

    // Still serving, and nothing above changed the account or used up the token.
    let r = app.get("/api/user", &access).await;
    assert_ok(&r, 200, "GET /api/user after the bad inputs");
    assert_eq!(
        r.body["email"],
        Value::Null,
        "the rejected PATCH wrote nothing"
    );
    assert_eq!(
        r.body["status"], DEFAULT_STATUS,
        "the rejected PATCH wrote nothing"
    );
    assert_ok(
        &app.register(&registration, json!({ "username": "meera" }))
            .await,
        201,
        "the registration token after the rejected registers",
    );
    assert_eq!(
        app.sms(PHONE).await.len(),
        1,
        "the rejected request-otp calls sent nothing"
    );
}

#[tokio::test]
async fn a_rejected_register_writes_nothing_and_the_token_still_registers() {
    let app = spawn_app().await;
    app.sign_up_with_tokens("+14155550100", "taken").await;
    let token = app.registration_token(PHONE).await;

    let r = app
        .register(&token, json!({ "username": "meera", "email": "meera@" }))
        .await;
    assert_error(&r, 400, "invalid_email", "invalid email");
    let r = app.register(&token, json!({ "username": "TAKEN" })).await;
    assert_error(&r, 409, "username_taken", "username of another account");

    let r = app
        .register(
            &token,
            json!({ "username": "meera", "email": "meera@example.com", "status": "Hi" }),
        )
        .await;
    assert_ok(&r, 201, "valid registration after the rejected ones");
    assert_eq!(r.body["email"], "meera@example.com");
    assert_eq!(r.body["status"], "Hi");
    assert_eq!(r.body["phoneNumber"], PHONE);
}

#[tokio::test]
async fn a_rejected_request_otp_sends_no_sms() {
    let app = spawn_app().await;
    for (case, phone) in [
        ("letters", "12ab"),
        ("+0 prefix", "+0123"),
        ("too short", "12345"),
    ] {
        assert_error(
            &app.request_otp(phone).await,
            400,
            "invalid_phone_number",
            case,
        );
    }
    let r = app.get_public("/_local/sms").await;
    assert_ok(&r, 200, "GET /_local/sms");
    assert_eq!(r.body, json!([]), "the outbox is empty");
}

// ---------------------------------------------------------------------------------------------
// 8. The SMS outbox
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_local_sms_outbox_lists_each_numbers_texts_oldest_first() {
    let app = spawn_app().await;
    let other = "+14155550100";
    let t0 = app.now();
    assert_ok(&app.request_otp(PHONE_BARE).await, 200, "first code to A");
    app.advance(TimeDelta::minutes(1));
    assert_ok(&app.request_otp(other).await, 200, "code to B");
    app.advance(TimeDelta::minutes(1));
    assert_ok(&app.request_otp(PHONE).await, 200, "second code to A");

    let a = app.sms(PHONE).await;
    assert_eq!(a.len(), 2, "A got two texts: {a:?}");
    for (text, sent_at) in a.iter().zip([t0, t0 + TimeDelta::minutes(2)]) {
        let mut keys: Vec<&str> = text
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["body", "phoneNumber", "sentAt"], "{text}");
        assert_eq!(text["phoneNumber"], PHONE);
        assert_eq!(
            timestamp(&text["sentAt"], "sentAt"),
            sent_at,
            "oldest first"
        );
        assert!(
            six_digit_code(&str_field(text, "body")).is_some(),
            "the body carries the code: {text}"
        );
    }
    assert_eq!(
        app.sms(PHONE_BARE).await,
        a,
        "the filter takes the bare national form too"
    );

    let b = app.sms(other).await;
    assert_eq!(b.len(), 1, "B got one text: {b:?}");
    assert_eq!(b[0]["phoneNumber"], other);
    assert_eq!(
        timestamp(&b[0]["sentAt"], "sentAt"),
        t0 + TimeDelta::minutes(1)
    );

    let all = app.get_public("/_local/sms").await;
    assert_ok(&all, 200, "unfiltered outbox");
    let numbers: Vec<&Value> = all
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| &t["phoneNumber"])
        .collect();
    assert_eq!(numbers, [PHONE, other, PHONE], "every text, oldest first");

    let code = app.latest_code(PHONE).await;
    assert_ok(
        &app.verify_otp(PHONE, &code).await,
        200,
        "the newest text's code verifies",
    );
    let literal_plus = app
        .get_public(&format!("/_local/sms?phoneNumber={PHONE}"))
        .await;
    assert_ok(&literal_plus, 200, "outbox filter typed with a literal +");
    assert_eq!(
        literal_plus.body.as_array().cloned().unwrap_or_default(),
        app.sms(PHONE).await,
        "a literal + (a space once decoded) still names the E.164 number"
    );
    assert_error(
        &app.get_public("/_local/sms?phoneNumber=12ab").await,
        400,
        "invalid_phone_number",
        "outbox filter with a bad number",
    );
}
