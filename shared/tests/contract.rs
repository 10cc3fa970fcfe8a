//! The store contract: one suite of cases, run against the in-memory implementations and
//! against the DynamoDB adapters on a moto server, so both keep the same semantics.
//!
//! The DynamoDB half needs `WHATSPE_TEST_ENDPOINT` (set by `make test`, which starts moto).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::sync::Arc;
use whatspe::StoreError;
use whatspe::domain::{CountryCode, PhoneNumber, SessionId, StatusText, User, UserId, Username};
use whatspe::dynamo::{DynamoOtpStore, DynamoSessionStore, DynamoUserStore, ensure_tables};
use whatspe::memory::{MemoryOtpStore, MemorySessionStore, MemoryUserStore};
use whatspe::ports::{OtpState, OtpStore, Session, SessionStore, UserStore};
use whatspe::tables::TableNames;

struct Stores {
    users: Arc<dyn UserStore>,
    otps: Arc<dyn OtpStore>,
    sessions: Arc<dyn SessionStore>,
}

async fn memory() -> Stores {
    Stores {
        users: Arc::new(MemoryUserStore::default()),
        otps: Arc::new(MemoryOtpStore::default()),
        sessions: Arc::new(MemorySessionStore::default()),
    }
}

fn endpoint() -> String {
    std::env::var("WHATSPE_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "WHATSPE_TEST_ENDPOINT is not set: the DynamoDB contract tests need a moto server. \
             Run `make test` (it starts one), or start moto with `make moto` and set \
             WHATSPE_TEST_ENDPOINT=http://127.0.0.1:5000"
        )
    })
}

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "contract-tests",
        ))
        .load()
        .await
}

/// DynamoDB adapters on fresh tables (a random prefix per test).
async fn dynamodb() -> Stores {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let prefix = format!("c{}_", hex::encode(whatspe::crypto::random_bytes::<6>()));
    ensure_tables(&client, &prefix)
        .await
        .expect("create tables on moto");
    let t = TableNames::new(&prefix);
    Stores {
        users: Arc::new(DynamoUserStore::new(client.clone(), t.users)),
        otps: Arc::new(DynamoOtpStore::new(client.clone(), t.verification_codes)),
        sessions: Arc::new(DynamoSessionStore::new(client, t.sessions)),
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn phone(n: u32) -> PhoneNumber {
    PhoneNumber::parse(&format!("98{n:08}"), &CountryCode::parse("91").unwrap()).unwrap()
}

fn user(name: &str, n: u32) -> User {
    User {
        id: UserId::new_random(),
        username: Username::parse(name).unwrap(),
        email: None,
        phone_number: phone(n),
        profile_picture: None,
        status: StatusText::parse("hello").unwrap(),
        last_seen: t(0),
        created_at: t(0),
        updated_at: t(0),
        verified: true,
    }
}

fn conflict(r: Result<impl std::fmt::Debug, StoreError>) -> &'static str {
    match r {
        Err(StoreError::Conflict { what }) => what,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn otp_state(n: u32, mac: Option<&str>, attempts: u32) -> OtpState {
    OtpState {
        phone: phone(n),
        code_mac: mac.map(str::to_owned),
        expires_at: t(300),
        attempts,
        sends: vec![t(0), t(10)],
        expire_after: t(900),
    }
}

fn session(hash: &str) -> Session {
    Session {
        id: SessionId::new_random(),
        user_id: UserId::new_random(),
        token_hash: hash.to_owned(),
        created_at: t(0),
        rotated_at: t(0),
        expires_at: t(3600),
        revoked: false,
    }
}

mod cases {
    use super::*;

    pub async fn created_user_reads_back_at_version_1(s: Stores) {
        let u = user("alice", 1);
        s.users.create(&u).await.unwrap();
        let got = s.users.get(&u.id).await.unwrap().expect("user exists");
        assert_eq!(got.value, u);
        assert_eq!(got.version, 1);
        assert_eq!(
            s.users.find_by_phone(&u.phone_number).await.unwrap(),
            Some(u)
        );
        assert_eq!(s.users.find_by_phone(&phone(2)).await.unwrap(), None);
        assert_eq!(s.users.get(&UserId::new_random()).await.unwrap(), None);
    }

    pub async fn taken_phone_number_conflicts_and_writes_nothing(s: Stores) {
        let a = user("alice", 1);
        s.users.create(&a).await.unwrap();
        let b = user("bob", 1);
        assert_eq!(conflict(s.users.create(&b).await), "phone_number");
        assert_eq!(
            s.users.get(&b.id).await.unwrap(),
            None,
            "no user item left behind"
        );
        // bob's username guard was not written either: another account can take it.
        s.users
            .create(&user("bob", 2))
            .await
            .expect("username bob is still free");
    }

    pub async fn taken_username_conflicts_case_insensitively_and_writes_nothing(s: Stores) {
        s.users.create(&user("alice", 1)).await.unwrap();
        let b = user("ALICE", 2);
        assert_eq!(conflict(s.users.create(&b).await), "username");
        assert_eq!(
            s.users.find_by_phone(&phone(2)).await.unwrap(),
            None,
            "no phone guard left behind"
        );
        s.users
            .create(&user("carol", 2))
            .await
            .expect("phone 2 is still free");
    }

    pub async fn update_is_compare_and_set_on_the_version(s: Stores) {
        let mut u = user("alice", 1);
        s.users.create(&u).await.unwrap();
        u.status = StatusText::parse("busy").unwrap();
        let name = u.username.clone();
        assert_eq!(s.users.update(&u, 1, &name).await.unwrap(), 2);
        u.status = StatusText::parse("stale").unwrap();
        assert_eq!(conflict(s.users.update(&u, 1, &name).await), "version");
        let got = s.users.get(&u.id).await.unwrap().unwrap();
        assert_eq!(got.version, 2);
        assert_eq!(got.value.status.as_str(), "busy");
    }

    pub async fn renaming_moves_the_username_guard(s: Stores) {
        let mut u = user("alice", 1);
        s.users.create(&u).await.unwrap();
        let old = u.username.clone();
        u.username = Username::parse("alicia").unwrap();
        assert_eq!(s.users.update(&u, 1, &old).await.unwrap(), 2);
        assert_eq!(
            conflict(s.users.create(&user("Alicia", 2)).await),
            "username"
        );
        s.users
            .create(&user("alice", 3))
            .await
            .expect("the old username is free again");
    }

    pub async fn renaming_to_a_taken_username_conflicts_and_changes_nothing(s: Stores) {
        s.users.create(&user("bob", 2)).await.unwrap();
        let mut u = user("alice", 1);
        s.users.create(&u).await.unwrap();
        let old = u.username.clone();
        u.username = Username::parse("Bob").unwrap();
        assert_eq!(conflict(s.users.update(&u, 1, &old).await), "username");
        let got = s.users.get(&u.id).await.unwrap().unwrap();
        assert_eq!((got.value.username.as_str(), got.version), ("alice", 1));
        assert_eq!(
            conflict(s.users.create(&user("alice", 3)).await),
            "username",
            "alice still held"
        );
    }

    pub async fn otp_first_write_requires_no_record(s: Stores) {
        let st = otp_state(1, Some("aa"), 0);
        assert_eq!(s.otps.put(&st, None).await.unwrap(), 1);
        assert_eq!(conflict(s.otps.put(&st, None).await), "version");
        let got = s.otps.get(&phone(1)).await.unwrap().unwrap();
        assert_eq!((got.value, got.version), (st, 1));
        assert_eq!(s.otps.get(&phone(2)).await.unwrap(), None);
    }

    pub async fn otp_write_is_compare_and_set_on_the_version(s: Stores) {
        s.otps
            .put(&otp_state(1, Some("aa"), 0), None)
            .await
            .unwrap();
        let wrong_guess = otp_state(1, Some("aa"), 1);
        assert_eq!(s.otps.put(&wrong_guess, Some(1)).await.unwrap(), 2);
        let used = otp_state(1, None, 1);
        assert_eq!(
            conflict(s.otps.put(&used, Some(1)).await),
            "version",
            "stale version"
        );
        assert_eq!(s.otps.put(&used, Some(2)).await.unwrap(), 3);
        let got = s.otps.get(&phone(1)).await.unwrap().unwrap();
        assert_eq!((got.value, got.version), (used, 3));
    }

    pub async fn session_round_trips_and_ids_are_unique(s: Stores) {
        let se = session("h1");
        s.sessions.create(&se).await.unwrap();
        assert_eq!(s.sessions.get(&se.id).await.unwrap(), Some(se.clone()));
        assert_eq!(conflict(s.sessions.create(&se).await), "exists");
        assert_eq!(
            s.sessions.get(&SessionId::new_random()).await.unwrap(),
            None
        );
    }

    pub async fn rotation_requires_the_current_hash(s: Stores) {
        let se = session("h1");
        s.sessions.create(&se).await.unwrap();
        assert_eq!(
            conflict(s.sessions.rotate(&se.id, "wrong", "h2", t(5), t(99)).await),
            "token"
        );
        s.sessions
            .rotate(&se.id, "h1", "h2", t(5), t(99))
            .await
            .unwrap();
        assert_eq!(
            conflict(s.sessions.rotate(&se.id, "h1", "h3", t(6), t(99)).await),
            "token",
            "old hash"
        );
        let got = s.sessions.get(&se.id).await.unwrap().unwrap();
        assert_eq!(
            (got.token_hash.as_str(), got.rotated_at, got.expires_at),
            ("h2", t(5), t(99))
        );
        assert_eq!(
            conflict(
                s.sessions
                    .rotate(&SessionId::new_random(), "h1", "h2", t(5), t(99))
                    .await
            ),
            "token",
            "missing session"
        );
    }

    pub async fn concurrent_rotations_of_one_token_let_exactly_one_win(s: Stores) {
        let se = session("h1");
        s.sessions.create(&se).await.unwrap();
        let (a, b) = tokio::join!(
            s.sessions.rotate(&se.id, "h1", "ha", t(5), t(99)),
            s.sessions.rotate(&se.id, "h1", "hb", t(5), t(99)),
        );
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{a:?} {b:?}"
        );
    }

    pub async fn revoked_sessions_do_not_rotate_and_revoke_is_idempotent(s: Stores) {
        let se = session("h1");
        s.sessions.create(&se).await.unwrap();
        s.sessions.revoke(&se.id).await.unwrap();
        s.sessions.revoke(&se.id).await.unwrap();
        assert!(s.sessions.get(&se.id).await.unwrap().unwrap().revoked);
        assert_eq!(
            conflict(s.sessions.rotate(&se.id, "h1", "h2", t(5), t(99)).await),
            "token"
        );
        s.sessions
            .revoke(&SessionId::new_random())
            .await
            .expect("revoking a missing session is fine");
        assert_eq!(
            s.sessions.get(&SessionId::new_random()).await.unwrap(),
            None
        );
    }

    pub async fn timestamps_keep_millisecond_precision(s: Stores) {
        let mut se = session("h1");
        se.created_at = t(0) + TimeDelta::milliseconds(123);
        s.sessions.create(&se).await.unwrap();
        assert_eq!(
            s.sessions.get(&se.id).await.unwrap().unwrap().created_at,
            se.created_at
        );
    }
}

macro_rules! contract_suite {
    ($($case:ident),* $(,)?) => {
        mod memory_stores {
            $( #[tokio::test] async fn $case() { super::cases::$case(super::memory().await).await } )*
        }
        mod dynamodb_stores {
            $( #[tokio::test] async fn $case() { super::cases::$case(super::dynamodb().await).await } )*
        }
    };
}

contract_suite!(
    created_user_reads_back_at_version_1,
    taken_phone_number_conflicts_and_writes_nothing,
    taken_username_conflicts_case_insensitively_and_writes_nothing,
    update_is_compare_and_set_on_the_version,
    renaming_moves_the_username_guard,
    renaming_to_a_taken_username_conflicts_and_changes_nothing,
    otp_first_write_requires_no_record,
    otp_write_is_compare_and_set_on_the_version,
    session_round_trips_and_ids_are_unique,
    rotation_requires_the_current_hash,
    concurrent_rotations_of_one_token_let_exactly_one_win,
    revoked_sessions_do_not_rotate_and_revoke_is_idempotent,
    timestamps_keep_millisecond_precision,
);

// ---------------------------------------------------------------- SMS senders

mod sms {
    use super::*;
    use whatspe::clock::SystemClock;
    use whatspe::memory::SmsOutbox;
    use whatspe::ports::SmsSender;
    use whatspe::sns::SnsSmsSender;

    #[tokio::test]
    async fn memory_outbox_keeps_texts_per_number_oldest_first() {
        let outbox = SmsOutbox::new(Arc::new(SystemClock));
        outbox.send(&phone(1), "first").await.unwrap();
        outbox.send(&phone(2), "other").await.unwrap();
        outbox.send(&phone(1), "second").await.unwrap();
        let bodies: Vec<String> = outbox
            .messages(Some(&phone(1)))
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["first", "second"]);
        assert_eq!(outbox.messages(None).len(), 3);
    }

    #[tokio::test]
    async fn sns_sender_publishes_the_text_to_the_phone_number() {
        let sender = SnsSmsSender::new(
            aws_sdk_sns::Client::new(&sdk_config().await),
            Some("WhatsPe".into()),
        );
        let body = format!(
            "contract test {}",
            hex::encode(whatspe::crypto::random_bytes::<8>())
        );
        sender.send(&phone(7), &body).await.expect("SNS publish");
        // moto records every SMS it was asked to send as an `SMS` model instance.
        let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent = data["sns"]["SMS"]
            .as_array()
            .expect("moto lists SMS instances");
        assert!(
            sent.iter()
                .any(|m| m["phone_number"] == phone(7).as_str() && m["message"] == body.as_str()),
            "moto did not receive the SMS: {sent:?}"
        );
    }
}
