//! The store contract: one suite of cases, run against the in-memory implementations and
//! against the DynamoDB adapters on a moto server, so both keep the same semantics.
//!
//! The DynamoDB half needs `WHATSPE_TEST_ENDPOINT` (set by `make test`, which starts moto).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::sync::Arc;
use whatspe::StoreError;
use whatspe::aws::dynamo::TableNames;
use whatspe::aws::dynamo::{DynamoConnections, DynamoDevices, DynamoGroups};
use whatspe::aws::dynamo::{
    DynamoContacts, DynamoMessages, DynamoOtpStore, DynamoSessionStore, DynamoUserStore,
    ensure_tables,
};
use whatspe::domain::{Act, ActKind, Emoji, Reaction};
use whatspe::domain::{Contact, ContactRequest, RequestId, RequestStatus};
use whatspe::domain::{Content, ConversationId, Message, MessageId, MessageKind};
use whatspe::domain::{CountryCode, PhoneNumber, SessionId, StatusText, User, UserId, Username};
use whatspe::domain::{
    Cursors, GroupEvent, GroupEventKind, GroupMeta, GroupName, GroupPart, GroupSettings, Mark,
    Member, Role,
};
use whatspe::memory::{
    MemoryConnections, MemoryContacts, MemoryDevices, MemoryGroups, MemoryMessages, MemoryOtpStore,
    MemorySessionStore, MemoryUserStore,
};
use whatspe::ports::{
    Attempt, Block, BlockStore, ContactRequestStore, ContactStore, CounterStore, DedupGuard,
    HistoryRange, LiveCode, MessageChange, MessageStore, OtpState, OtpStore, Page, PageRequest,
    RateGate, Session, SessionStore, UserStore,
};
use whatspe::ports::{Connection, ConnectionStore, DeliveryLedger, Device, DeviceStore, Platform};
use whatspe::ports::{CursorKind, GroupChange, GroupStore, MemberChange};

struct Stores {
    users: Arc<dyn UserStore>,
    otps: Arc<dyn OtpStore>,
    sessions: Arc<dyn SessionStore>,
    requests: Arc<dyn ContactRequestStore>,
    contacts: Arc<dyn ContactStore>,
    messages: Arc<dyn MessageStore>,
    connections: Arc<dyn ConnectionStore>,
    devices: Arc<dyn DeviceStore>,
    ledger: Arc<dyn DeliveryLedger>,
    groups: Arc<dyn GroupStore>,
    counters: Arc<dyn CounterStore>,
    blocks: Arc<dyn BlockStore>,
}

async fn memory() -> Stores {
    let contacts = Arc::new(MemoryContacts::default());
    // Group changes write their message through the same messages store.
    let messages = Arc::new(MemoryMessages::new(contacts.clone()));
    Stores {
        users: Arc::new(MemoryUserStore::default()),
        otps: Arc::new(MemoryOtpStore::default()),
        sessions: Arc::new(MemorySessionStore::default()),
        requests: contacts.clone(),
        groups: Arc::new(MemoryGroups::new(messages.clone())),
        messages,
        contacts,
        connections: Arc::new(MemoryConnections::default()),
        devices: Arc::new(MemoryDevices::default()),
        ledger: Arc::new(whatspe::memory::MemoryLedger::default()),
        counters: Arc::new(whatspe::memory::MemoryCounters::new(Arc::new(
            whatspe::clock::SystemClock,
        ))),
        blocks: Arc::new(whatspe::memory::MemoryBlocks::default()),
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
    sdk_config_at(endpoint()).await
}

async fn sdk_config_at(endpoint: String) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
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

/// Fresh tables on moto (a random prefix per test) and a client.
async fn fresh_tables() -> (aws_sdk_dynamodb::Client, TableNames) {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config_at(endpoint()).await);
    let prefix = format!("c{}_", hex::encode(whatspe::crypto::random_bytes::<6>()));
    ensure_tables(&client, &prefix)
        .await
        .expect("create tables on moto");
    (client, TableNames::new(&prefix))
}

/// DynamoDB adapters on fresh tables.
async fn dynamodb() -> Stores {
    let (client, t) = fresh_tables().await;
    let groups = Arc::new(DynamoGroups::new(client.clone(), t.clone()));
    let contacts = Arc::new(DynamoContacts::new(
        client.clone(),
        t.contact_requests,
        t.contacts.clone(),
    ));
    Stores {
        users: Arc::new(DynamoUserStore::new(client.clone(), t.users)),
        otps: Arc::new(DynamoOtpStore::new(client.clone(), t.verification_codes)),
        counters: Arc::new(whatspe::aws::dynamo::DynamoCounters::new(
            client.clone(),
            t.rate_limits.clone(),
        )),
        blocks: Arc::new(whatspe::aws::dynamo::DynamoBlocks::new(
            client.clone(),
            t.blocks.clone(),
        )),
        sessions: Arc::new(DynamoSessionStore::new(client.clone(), t.sessions)),
        requests: contacts.clone(),
        contacts,
        messages: Arc::new(DynamoMessages::new(
            client.clone(),
            t.messages,
            t.conversations,
            t.contacts,
        )),
        connections: Arc::new(DynamoConnections::new(
            client.clone(),
            t.connections.clone(),
        )),
        devices: Arc::new(DynamoDevices::new(client.clone(), t.devices.clone())),
        ledger: Arc::new(whatspe::aws::dynamo::DynamoLedger::new(
            client.clone(),
            t.connections.clone(),
        )),
        groups,
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
        last_seen_visibility: Default::default(),
    }
}

fn conflict(r: Result<impl std::fmt::Debug, StoreError>) -> &'static str {
    match r {
        Err(StoreError::Conflict { what }) => what,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn otp_state(n: u32, mac: Option<&str>, attempts: u32) -> OtpState {
    let attempt = |client: &str, at| Attempt {
        client: client.into(),
        at,
    };
    OtpState {
        phone: phone(n),
        codes: mac
            .map(|m| LiveCode {
                client: "c1".into(),
                mac: m.to_owned(),
                expires_at: t(300),
                attempts,
            })
            .into_iter()
            .collect(),
        sends: vec![attempt("c1", t(0)), attempt("c2", t(10))],
        failures: (0..attempts)
            .map(|i| attempt("c1", t(20 + i64::from(i))))
            .collect(),
        expire_after: t(900),
    }
}

fn session(hash: &str) -> Session {
    Session {
        id: SessionId::new_random(),
        user_id: UserId::new_random(),
        token_hash: hash.to_owned(),
        previous_hash: None,
        created_at: t(0),
        rotated_at: t(0),
        expires_at: t(3600),
        revoked: false,
        rotations: 0,
    }
}

fn request(from: &User, to: &User) -> ContactRequest {
    ContactRequest {
        id: RequestId::new_v7(),
        sender_id: from.id,
        receiver_id: to.id,
        status: RequestStatus::Pending,
        created_at: t(0),
        updated_at: t(0),
    }
}

/// Every item of a listing, page by page; panics on a repeated cursor (a loop).
async fn all_pages<T, F, Fut>(limit: usize, mut fetch: F) -> (Vec<T>, usize)
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None);
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = fetch(PageRequest {
            limit,
            cursor: cursor.clone(),
        })
        .await
        .unwrap();
        assert!(page.items.len() <= limit, "page larger than the limit");
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => {
                assert!(seen.insert(next.clone()), "cursor repeated: {next}");
                cursor = Some(next);
            }
            None => return (items, pages),
        }
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

    pub async fn a_counter_counts_to_its_limit_then_conflicts_and_stays(s: Stores) {
        let expires = Utc::now() + TimeDelta::hours(1);
        for expected in 1..=3 {
            assert_eq!(
                s.counters.take("otp-ip#a#1", 3, expires).await.unwrap(),
                expected
            );
        }
        for _ in 0..2 {
            assert_eq!(
                conflict(s.counters.take("otp-ip#a#1", 3, expires).await),
                "limit"
            );
        }
        assert_eq!(
            s.counters.take("otp-ip#a#2", 3, expires).await.unwrap(),
            1,
            "another window is another counter"
        );
        assert_eq!(
            s.counters.take("otp-ip#b#1", 3, expires).await.unwrap(),
            1,
            "another subject is another counter"
        );
        assert_eq!(
            s.counters.take("otp-ip#a#1", 5, expires).await.unwrap(),
            4,
            "a higher limit lets the same counter go on"
        );
    }

    pub async fn concurrent_takes_at_a_limit_let_exactly_the_limit_through(s: Stores) {
        let expires = Utc::now() + TimeDelta::hours(1);
        let counters = s.counters.clone();
        let takes = (0..10).map(|_| {
            let counters = counters.clone();
            async move { counters.take("global#*#7", 4, expires).await }
        });
        let results = futures_util::future::join_all(takes).await;
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            4,
            "{results:?}"
        );
        for r in results.iter().filter(|r| r.is_err()) {
            assert!(
                matches!(r, Err(StoreError::Conflict { what: "limit" })),
                "{r:?}"
            );
        }
    }

    pub async fn a_block_is_kept_once_listed_found_in_batches_and_removed(s: Stores) {
        let a = UserId::new_random();
        let mut others: Vec<UserId> = (0..5).map(|_| UserId::new_random()).collect();
        others.sort();
        for (i, o) in others.iter().enumerate() {
            let b = Block {
                blocker: a,
                blocked: *o,
                at: t(i as i64),
            };
            assert_eq!(s.blocks.put(&b).await.unwrap(), b);
        }
        let again = Block {
            blocker: a,
            blocked: others[0],
            at: t(99),
        };
        assert_eq!(
            s.blocks.put(&again).await.unwrap().at,
            t(0),
            "blocking again keeps the first time"
        );
        assert_eq!(
            s.blocks.get(&a, &others[1]).await.unwrap().unwrap().at,
            t(1)
        );
        assert_eq!(s.blocks.get(&others[1], &a).await.unwrap(), None, "one way");
        let mut listed = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let p = s.blocks.list(&a, &page).await.unwrap();
            listed.extend(p.items.iter().map(|b| b.blocked));
            match p.next {
                Some(n) => page.cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(listed, others, "every block once, in id order");
        let stranger = UserId::new_random();
        let mut found = s
            .blocks
            .existing(&[
                (a, others[2]),
                (a, stranger),
                (others[3], a),
                (a, others[4]),
            ])
            .await
            .unwrap();
        found.sort();
        let mut expected = vec![(a, others[2]), (a, others[4])];
        expected.sort();
        assert_eq!(found, expected);
        s.blocks.delete(&a, &others[2]).await.unwrap();
        s.blocks.delete(&a, &others[2]).await.unwrap();
        assert_eq!(s.blocks.get(&a, &others[2]).await.unwrap(), None);
        assert_eq!(
            s.blocks.existing(&[(a, others[2])]).await.unwrap(),
            vec![],
            "gone"
        );
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
            (
                got.token_hash.as_str(),
                got.rotated_at,
                got.expires_at,
                got.rotations
            ),
            ("h2", t(5), t(99), 1),
            "rotated once; the failed rotations are not counted"
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
        let got = s.sessions.get(&se.id).await.unwrap().unwrap();
        let winner = if a.is_ok() { "ha" } else { "hb" };
        assert_eq!(
            (got.token_hash.as_str(), got.previous_hash.as_deref()),
            (winner, Some("h1")),
            "the loser sees what the winner replaced"
        );
    }

    pub async fn a_rotation_keeps_the_hash_it_replaced_and_when(s: Stores) {
        let se = session("h1");
        s.sessions.create(&se).await.unwrap();
        assert_eq!(
            s.sessions.get(&se.id).await.unwrap().unwrap().previous_hash,
            None,
            "nothing replaced yet"
        );
        s.sessions
            .rotate(&se.id, "h1", "h2", t(5), t(99))
            .await
            .unwrap();
        let got = s.sessions.get(&se.id).await.unwrap().unwrap();
        assert_eq!(
            (
                got.token_hash.as_str(),
                got.previous_hash.as_deref(),
                got.rotated_at
            ),
            ("h2", Some("h1"), t(5))
        );
        s.sessions
            .rotate(&se.id, "h2", "h3", t(7), t(101))
            .await
            .unwrap();
        assert_eq!(
            conflict(s.sessions.rotate(&se.id, "h2", "h4", t(8), t(102)).await),
            "token",
            "the previous hash does not rotate"
        );
        let got = s.sessions.get(&se.id).await.unwrap().unwrap();
        assert_eq!(
            (
                got.token_hash.as_str(),
                got.previous_hash.as_deref(),
                got.rotated_at,
                got.expires_at
            ),
            ("h3", Some("h2"), t(7), t(101)),
            "only the last replaced hash is kept; the failed write changed nothing"
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

    pub async fn users_are_found_by_username_case_insensitively_and_in_batches(s: Stores) {
        let (a, b) = (user("Alice", 1), user("bob", 2));
        s.users.create(&a).await.unwrap();
        s.users.create(&b).await.unwrap();
        let found = s
            .users
            .find_by_username(&Username::parse("ALICE").unwrap())
            .await
            .unwrap();
        assert_eq!(found, Some(a.clone()));
        assert_eq!(
            s.users
                .find_by_username(&Username::parse("carol").unwrap())
                .await
                .unwrap(),
            None
        );
        let mut many = s
            .users
            .get_many(&[b.id, UserId::new_random(), a.id, a.id])
            .await
            .unwrap();
        many.sort_by_key(|u| u.username.key());
        assert_eq!(
            many,
            vec![a, b],
            "existing users once each, missing ids left out"
        );
        assert!(s.users.get_many(&[]).await.unwrap().is_empty());
    }

    pub async fn username_prefix_search_pages_in_username_order(s: Stores) {
        for i in 0..7 {
            s.users
                .create(&user(&format!("Zed{i:02}"), 10 + i))
                .await
                .unwrap();
        }
        s.users.create(&user("zebra", 30)).await.unwrap();
        s.users.create(&user("amy", 31)).await.unwrap();
        let (found, pages) = all_pages(3, |p| {
            let users = s.users.clone();
            async move { users.search_username_prefix("zed", &p).await }
        })
        .await;
        let names: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(
            names,
            [
                "Zed00", "Zed01", "Zed02", "Zed03", "Zed04", "Zed05", "Zed06"
            ]
        );
        assert_eq!(pages, 3, "7 items by 3: the last page carries no cursor");
        let exact = s
            .users
            .search_username_prefix("ze", &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(exact.items.len(), 8);
        assert_eq!(exact.next, None, "everything fit: no cursor");
        let first = s
            .users
            .search_username_prefix("zed", &PageRequest::first(2))
            .await
            .unwrap();
        let foreign = PageRequest {
            limit: 2,
            cursor: first.next.clone(),
        };
        assert!(matches!(
            s.users.search_username_prefix("amy", &foreign).await,
            Err(StoreError::BadCursor)
        ));
        let garbage = PageRequest {
            limit: 2,
            cursor: Some("not-a-cursor".into()),
        };
        assert!(matches!(
            s.users.search_username_prefix("zed", &garbage).await,
            Err(StoreError::BadCursor)
        ));
    }

    pub async fn a_pair_has_one_pending_request_whichever_side_sends(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let r = request(&a, &b);
        s.requests.create(&r).await.unwrap();
        assert_eq!(s.requests.get(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(
            conflict(s.requests.create(&request(&a, &b)).await),
            "pending"
        );
        assert_eq!(
            conflict(s.requests.create(&request(&b, &a)).await),
            "pending",
            "reverse"
        );
        assert_eq!(
            s.requests.pending_between(&b.id, &a.id).await.unwrap(),
            Some(r.clone())
        );
        let c = user("carol", 3);
        assert_eq!(
            s.requests.pending_between(&a.id, &c.id).await.unwrap(),
            None
        );
        s.requests
            .create(&request(&c, &a))
            .await
            .expect("another pair is independent");
    }

    pub async fn accepting_writes_exactly_one_contact_row_per_side(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let r = request(&a, &b);
        s.requests.create(&r).await.unwrap();
        s.requests.accept(&r, t(60)).await.unwrap();
        let stored = s.requests.get(&r.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.updated_at),
            (RequestStatus::Accepted, t(60))
        );
        let want_a = Contact {
            owner_id: a.id,
            contact_id: b.id,
            request_id: r.id,
            created_at: t(60),
        };
        assert_eq!(
            s.contacts.get(&a.id, &b.id).await.unwrap(),
            Some(want_a.clone())
        );
        assert!(s.contacts.get(&b.id, &a.id).await.unwrap().is_some());
        assert_eq!(
            s.contacts
                .list(&a.id, &PageRequest::first(10))
                .await
                .unwrap()
                .items,
            vec![want_a]
        );
        assert_eq!(
            s.contacts
                .list(&b.id, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert_eq!(
            conflict(s.requests.accept(&r, t(61)).await),
            "state",
            "double accept"
        );
        assert_eq!(
            conflict(s.requests.reject(&r, t(61)).await),
            "state",
            "reject after accept"
        );
        assert_eq!(
            s.requests.pending_between(&a.id, &b.id).await.unwrap(),
            None
        );
        assert_eq!(
            conflict(s.requests.create(&request(&a, &b)).await),
            "contacts"
        );
        assert_eq!(
            s.contacts
                .list(&a.id, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    }

    pub async fn concurrent_accepts_of_one_request_let_exactly_one_win(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let r = request(&a, &b);
        s.requests.create(&r).await.unwrap();
        let (x, y) = tokio::join!(s.requests.accept(&r, t(5)), s.requests.accept(&r, t(5)));
        assert_eq!(
            [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{x:?} {y:?}"
        );
        assert_eq!(
            s.contacts
                .list(&a.id, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    }

    pub async fn rejecting_frees_the_pair_and_makes_no_contacts(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let r = request(&a, &b);
        s.requests.create(&r).await.unwrap();
        s.requests.reject(&r, t(9)).await.unwrap();
        assert_eq!(
            s.requests.get(&r.id).await.unwrap().unwrap().status,
            RequestStatus::Rejected
        );
        assert_eq!(
            conflict(s.requests.accept(&r, t(10)).await),
            "state",
            "accept after reject"
        );
        assert_eq!(s.contacts.get(&a.id, &b.id).await.unwrap(), None);
        s.requests
            .create(&request(&a, &b))
            .await
            .expect("a new request after a rejection");
    }

    pub async fn pending_listings_show_only_pending_requests_oldest_first(s: Stores) {
        let me = user("myself", 1);
        let others: Vec<User> = (0..5).map(|i| user(&format!("user{i}"), 10 + i)).collect();
        let mut received = Vec::new();
        for o in &others {
            let r = request(o, &me);
            s.requests.create(&r).await.unwrap();
            received.push(r);
        }
        let sent = request(&me, &user("target", 20));
        s.requests.create(&sent).await.unwrap();
        s.requests.reject(&received[1], t(5)).await.unwrap();
        s.requests.accept(&received[3], t(5)).await.unwrap();
        let (got, _) = all_pages(2, |p| {
            let requests = s.requests.clone();
            let id = me.id;
            async move { requests.pending_received(&id, &p).await }
        })
        .await;
        let want: Vec<ContactRequest> = [0, 2, 4].iter().map(|&i| received[i].clone()).collect();
        assert_eq!(got, want);
        let out = s
            .requests
            .pending_sent(&me.id, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(out.items, vec![sent.clone()]);
        for settled in [&others[1], &others[3]] {
            let none = s
                .requests
                .pending_sent(&settled.id, &PageRequest::first(10))
                .await
                .unwrap();
            assert!(
                none.items.is_empty() && none.next.is_none(),
                "rejected/accepted are not pending"
            );
        }
        let bad = PageRequest {
            limit: 2,
            cursor: Some("%%%".into()),
        };
        assert!(matches!(
            s.requests.pending_received(&me.id, &bad).await,
            Err(StoreError::BadCursor)
        ));
    }

    pub async fn contact_list_pages_without_gaps_or_repeats(s: Stores) {
        let me = user("myself", 1);
        let mut want = Vec::new();
        for i in 0..7 {
            let o = user(&format!("contact{i}"), 10 + i);
            let r = request(&o, &me);
            s.requests.create(&r).await.unwrap();
            s.requests.accept(&r, t(1)).await.unwrap();
            want.push(o.id);
        }
        let (got, pages) = all_pages(3, |p| {
            let contacts = s.contacts.clone();
            let id = me.id;
            async move { contacts.list(&id, &p).await }
        })
        .await;
        let mut ids: Vec<UserId> = got.iter().map(|c| c.contact_id).collect();
        assert_eq!(pages, 3);
        let in_order = ids.clone();
        ids.sort();
        assert_eq!(in_order, ids, "a stable order: by contact id");
        want.sort();
        assert_eq!(ids, want);
    }

    pub async fn removing_a_contact_removes_both_sides(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let r = request(&a, &b);
        s.requests.create(&r).await.unwrap();
        s.requests.accept(&r, t(1)).await.unwrap();
        s.contacts.remove(&b.id, &a.id).await.unwrap();
        assert_eq!(s.contacts.get(&a.id, &b.id).await.unwrap(), None);
        assert_eq!(s.contacts.get(&b.id, &a.id).await.unwrap(), None);
        assert_eq!(conflict(s.contacts.remove(&a.id, &b.id).await), "missing");
        s.requests
            .create(&request(&b, &a))
            .await
            .expect("they may ask again");
    }

    pub async fn delivery_progress_accumulates_and_each_push_is_claimed_once(s: Stores) {
        let job = format!("msg:{}", MessageId::new_v7());
        assert!(
            s.ledger.served(&job).await.unwrap().is_empty(),
            "nothing yet"
        );
        s.ledger.record_served(&job, &["c1".into()]).await.unwrap();
        s.ledger
            .record_served(&job, &["c2".into(), "c1".into()])
            .await
            .unwrap();
        s.ledger.record_served(&job, &[]).await.unwrap();
        let served = s.ledger.served(&job).await.unwrap();
        assert_eq!(
            served,
            ["c1".to_owned(), "c2".to_owned()].into_iter().collect(),
            "the union of what was recorded"
        );
        assert!(s.ledger.served("other-job").await.unwrap().is_empty());

        let device = uuid::Uuid::new_v4();
        let claims =
            futures_util::future::join_all((0..5).map(|_| s.ledger.claim_push(&job, &device)))
                .await;
        let won = claims.into_iter().filter(|c| *c.as_ref().unwrap()).count();
        assert_eq!(won, 1, "five concurrent claims: exactly one push");
        assert!(
            !s.ledger.claim_push(&job, &device).await.unwrap(),
            "and never again"
        );
        assert!(
            s.ledger
                .claim_push(&job, &uuid::Uuid::new_v4())
                .await
                .unwrap(),
            "another device has its own claim"
        );
    }

    async fn befriend(s: &Stores, a: &User, b: &User) {
        let r = request(a, b);
        s.requests.create(&r).await.unwrap();
        s.requests.accept(&r, t(0)).await.unwrap();
    }

    fn msg(from: &User, to: &User, text: &str, at: i64) -> Message {
        Message {
            id: MessageId::new_v7(),
            conversation_id: ConversationId::direct(&from.id, &to.id),
            sender_id: from.id,
            receiver_id: to.id,
            content: Content::parse(MessageKind::Text, text).unwrap(),
            kind: MessageKind::Text,
            client_message_id: None,
            created_at: t(at),
            group: None,
            media: None,
            extras: Default::default(),
        }
    }

    pub async fn a_send_stores_the_message_and_both_conversation_rows(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let long = "x".repeat(300);
        let m = msg(&a, &b, &long, 5);
        s.messages.send_to_contact(&m, None, None).await.unwrap();
        assert_eq!(
            s.messages.get(&m.conversation_id, &m.id).await.unwrap(),
            Some(m.clone())
        );
        let mine = s
            .messages
            .conversation(&a.id, &m.conversation_id)
            .await
            .unwrap()
            .unwrap();
        let theirs = s
            .messages
            .conversation(&b.id, &m.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((mine.peer_id, mine.unread_count), (b.id, 0));
        assert_eq!((theirs.peer_id, theirs.unread_count), (a.id, 1));
        assert_eq!(theirs.last_message.id, m.id);
        assert_eq!(
            theirs.last_message.content.as_str().chars().count(),
            200,
            "rows keep a preview"
        );
        assert_eq!(theirs.updated_at, t(5));
        let full = s
            .messages
            .history(&m.conversation_id, HistoryRange::Latest, 10)
            .await
            .unwrap();
        assert_eq!(
            full[0].content.as_str().len(),
            300,
            "history keeps the whole content"
        );
        let m2 = msg(&b, &a, "reply", 6);
        s.messages.send_to_contact(&m2, None, None).await.unwrap();
        let mine = s
            .messages
            .conversation(&a.id, &m.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((mine.unread_count, mine.last_message.id), (1, m2.id));
    }

    pub async fn a_send_between_strangers_is_refused_and_writes_nothing(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let m = msg(&a, &b, "hi", 1);
        assert_eq!(
            conflict(s.messages.send_to_contact(&m, None, None).await),
            "not_contacts"
        );
        assert!(
            s.messages
                .history(&m.conversation_id, HistoryRange::Latest, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.messages
                .conversation(&b.id, &m.conversation_id)
                .await
                .unwrap(),
            None
        );
        s.messages
            .send_system(&m, None)
            .await
            .expect("system messages need no relationship");
    }

    pub async fn a_dedup_guard_makes_a_second_send_a_conflict_that_writes_nothing(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let m = msg(&a, &b, "once", 1);
        let guard = DedupGuard {
            scope: a.id.to_string(),
            key: "client-1".into(),
            message_id: m.id,
            conversation_id: m.conversation_id,
            fingerprint: "f1".into(),
        };
        s.messages
            .send_to_contact(&m, Some(&guard), None)
            .await
            .unwrap();
        let again = msg(&a, &b, "once", 2);
        assert_eq!(
            conflict(s.messages.send_to_contact(&again, Some(&guard), None).await),
            "duplicate"
        );
        assert_eq!(
            s.messages.guard(&guard.scope, &guard.key).await.unwrap(),
            Some(guard.clone())
        );
        assert_eq!(s.messages.guard(&guard.scope, "other").await.unwrap(), None);
        let history = s
            .messages
            .history(&m.conversation_id, HistoryRange::Latest, 10)
            .await
            .unwrap();
        assert_eq!(history, vec![m.clone()]);
        let row = s
            .messages
            .conversation(&b.id, &m.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.unread_count, 1,
            "the refused retry did not count as unread"
        );
    }

    pub async fn an_older_message_never_replaces_the_last_one(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let older = msg(&a, &b, "older", 1);
        let newer = msg(&a, &b, "newer", 2);
        s.messages
            .send_to_contact(&newer, None, None)
            .await
            .unwrap();
        assert_eq!(
            conflict(s.messages.send_to_contact(&older, None, None).await),
            "order"
        );
        let row = s
            .messages
            .conversation(&b.id, &newer.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((row.last_message.id, row.unread_count), (newer.id, 1));
    }

    pub async fn the_rate_gate_is_a_token_bucket(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let full = |now| RateGate::Full {
            now_us: now,
            new_tat_us: now + 10,
        };
        let burst = |now| RateGate::Burst {
            now_us: now,
            interval_us: 10,
            max_tat_us: now + 20,
        };
        s.messages
            .send_to_contact(&msg(&a, &b, "1", 1), None, Some(&full(100)))
            .await
            .unwrap();
        assert_eq!(s.messages.rate_state(&a.id).await.unwrap(), Some(110));
        assert_eq!(
            conflict(
                s.messages
                    .send_to_contact(&msg(&a, &b, "2", 1), None, Some(&full(100)))
                    .await
            ),
            "rate"
        );
        s.messages
            .send_to_contact(&msg(&a, &b, "2", 1), None, Some(&burst(100)))
            .await
            .unwrap();
        s.messages
            .send_to_contact(&msg(&a, &b, "3", 1), None, Some(&burst(100)))
            .await
            .unwrap();
        assert_eq!(s.messages.rate_state(&a.id).await.unwrap(), Some(130));
        assert_eq!(
            conflict(
                s.messages
                    .send_to_contact(&msg(&a, &b, "4", 1), None, Some(&burst(100)))
                    .await
            ),
            "rate"
        );
        assert_eq!(
            conflict(
                s.messages
                    .send_to_contact(&msg(&a, &b, "4", 1), None, Some(&burst(200)))
                    .await
            ),
            "rate",
            "a drained-and-refilled bucket is not mid-burst"
        );
        s.messages
            .send_to_contact(&msg(&a, &b, "4", 1), None, Some(&full(200)))
            .await
            .unwrap();
        assert_eq!(s.messages.rate_state(&a.id).await.unwrap(), Some(210));
        assert_eq!(s.messages.rate_state(&b.id).await.unwrap(), None);
        let n = s
            .messages
            .history(
                &ConversationId::direct(&a.id, &b.id),
                HistoryRange::Latest,
                10,
            )
            .await
            .unwrap()
            .len();
        assert_eq!(n, 4, "refused sends stored nothing");
    }

    /// Reactions, edits and deletes are conditional writes that record the action on the
    /// message; a change already there, or any change to a deleted message, writes nothing.
    pub async fn message_actions_are_conditional_writes_recorded_on_the_message(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let m = msg(&a, &b, "first", 1);
        s.messages.send_to_contact(&m, None, None).await.unwrap();
        let (cid, id) = (m.conversation_id, m.id);
        let act = |kind, by: &User, emoji: Option<&str>, at| Act {
            kind,
            by: by.id,
            at: t(at),
            emoji: emoji.map(|e| Emoji::parse(e).unwrap()),
        };
        let react = |by: &User, e: &str, at| MessageChange::React {
            user: by.id,
            reaction: Reaction {
                emoji: Emoji::parse(e).unwrap(),
                at: t(at),
            },
        };
        let refused = async |change: &MessageChange, a: &Act| {
            let before = s.messages.get(&cid, &id).await.unwrap();
            assert!(
                matches!(
                    s.messages.change(&cid, &id, change, a).await,
                    Err(StoreError::Conflict { .. })
                ),
                "{change:?} is refused"
            );
            assert_eq!(
                s.messages.get(&cid, &id).await.unwrap(),
                before,
                "unchanged"
            );
        };

        let r1 = act(ActKind::React, &b, Some("👍"), 2);
        let got = s
            .messages
            .change(&cid, &id, &react(&b, "👍", 2), &r1)
            .await
            .unwrap();
        assert_eq!(got.extras.reactions[&b.id].emoji.as_str(), "👍");
        assert_eq!(got.extras.act.as_ref(), Some(&r1));
        assert_eq!(s.messages.get(&cid, &id).await.unwrap(), Some(got));
        refused(&react(&b, "👍", 3), &act(ActKind::React, &b, Some("👍"), 3)).await;
        let got = s
            .messages
            .change(
                &cid,
                &id,
                &react(&b, "❤️", 4),
                &act(ActKind::React, &b, Some("❤️"), 4),
            )
            .await
            .unwrap();
        assert_eq!(got.extras.reactions.len(), 1, "one per member, replaced");
        s.messages
            .change(
                &cid,
                &id,
                &react(&a, "❤️", 5),
                &act(ActKind::React, &a, Some("❤️"), 5),
            )
            .await
            .unwrap();
        let unreact = MessageChange::Unreact { user: a.id };
        let got = s
            .messages
            .change(&cid, &id, &unreact, &act(ActKind::Unreact, &a, None, 6))
            .await
            .unwrap();
        assert_eq!(got.extras.reactions.keys().collect::<Vec<_>>(), [&b.id]);
        refused(&unreact, &act(ActKind::Unreact, &a, None, 7)).await;

        let edit = |text: &str, at| MessageChange::Edit {
            content: Content::parse(MessageKind::Text, text).unwrap(),
            at: t(at),
        };
        refused(&edit("first", 8), &act(ActKind::Edit, &a, None, 8)).await;
        let edited = s
            .messages
            .change(
                &cid,
                &id,
                &edit("second", 9),
                &act(ActKind::Edit, &a, None, 9),
            )
            .await
            .unwrap();
        assert_eq!(
            (edited.content.as_str(), edited.extras.edited_at),
            ("second", Some(t(9)))
        );

        // The chat list follows an edit of its last message, and only of it.
        assert!(s.messages.refresh_last(&b.id, &edited).await.unwrap());
        let row = s.messages.conversation(&b.id, &cid).await.unwrap().unwrap();
        assert_eq!(row.last_message.content.as_str(), "second");
        assert!(
            !edited.extras.reactions.is_empty(),
            "b's reaction is still on it"
        );
        assert_eq!(
            row.last_message.extras.reactions, edited.extras.reactions,
            "the chat list shows the last message's reactions"
        );
        assert!(
            row.last_message.extras.act.is_none(),
            "but not its last action"
        );
        let newer = msg(&b, &a, "newer", 10);
        s.messages
            .send_to_contact(&newer, None, None)
            .await
            .unwrap();
        assert!(!s.messages.refresh_last(&b.id, &edited).await.unwrap());
        let row = s.messages.conversation(&b.id, &cid).await.unwrap().unwrap();
        assert_eq!(row.last_message.id, newer.id, "not the last any more");

        let del = MessageChange::Delete { at: t(11) };
        let gone = s
            .messages
            .change(&cid, &id, &del, &act(ActKind::Delete, &a, None, 11))
            .await
            .unwrap();
        assert_eq!(gone.content.as_str(), "");
        assert_eq!(gone.extras.deleted_at, Some(t(11)));
        assert!(gone.extras.reactions.is_empty() && gone.media.is_none());
        refused(&del, &act(ActKind::Delete, &a, None, 12)).await;
        refused(
            &react(&b, "😮", 13),
            &act(ActKind::React, &b, Some("😮"), 13),
        )
        .await;
        refused(&edit("third", 14), &act(ActKind::Edit, &a, None, 14)).await;
        let missing = MessageId::new_v7();
        assert!(matches!(
            s.messages
                .change(&cid, &missing, &del, &act(ActKind::Delete, &a, None, 15))
                .await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(s.messages.get(&cid, &missing).await.unwrap(), None);
    }

    pub async fn history_pages_by_id_in_both_directions(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let mut sent = Vec::new();
        for i in 0..7 {
            let m = if i % 2 == 0 {
                msg(&a, &b, &format!("m{i}"), i)
            } else {
                msg(&b, &a, &format!("m{i}"), i)
            };
            s.messages.send_to_contact(&m, None, None).await.unwrap();
            sent.push(m.id);
        }
        let cid = ConversationId::direct(&a.id, &b.id);
        let ids = |v: Vec<Message>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
        let newest: Vec<MessageId> = sent.iter().rev().copied().collect();
        assert_eq!(
            ids(s
                .messages
                .history(&cid, HistoryRange::Latest, 3)
                .await
                .unwrap()),
            newest[..3]
        );
        assert_eq!(
            ids(s
                .messages
                .history(&cid, HistoryRange::Before(sent[4]), 3)
                .await
                .unwrap()),
            newest[3..6]
        );
        assert_eq!(
            ids(s
                .messages
                .history(&cid, HistoryRange::Before(sent[0]), 3)
                .await
                .unwrap()),
            Vec::<MessageId>::new()
        );
        assert_eq!(
            ids(s
                .messages
                .history(&cid, HistoryRange::After(sent[1]), 3)
                .await
                .unwrap()),
            sent[2..5]
        );
        assert_eq!(
            ids(s
                .messages
                .history(&cid, HistoryRange::After(sent[6]), 3)
                .await
                .unwrap()),
            Vec::<MessageId>::new()
        );
        let other = ConversationId::direct(&a.id, &UserId::new_random());
        assert!(
            s.messages
                .history(&other, HistoryRange::Latest, 3)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.messages
                .count_from_after(&cid, &b.id, &sent[0])
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            s.messages
                .count_from_after(&cid, &b.id, &sent[3])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.messages
                .count_from_after(&cid, &a.id, &sent[6])
                .await
                .unwrap(),
            0
        );
    }

    pub async fn receipts_are_monotonic_conditional_writes(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        befriend(&s, &a, &b).await;
        let (m1, m2) = (msg(&a, &b, "1", 1), msg(&a, &b, "2", 2));
        s.messages.send_to_contact(&m1, None, None).await.unwrap();
        s.messages.send_to_contact(&m2, None, None).await.unwrap();
        let cid = m1.conversation_id;
        assert_eq!(
            conflict(s.messages.mark_read(&b.id, &cid, &m1.id, &m1.id, 1).await),
            "condition",
            "stale last"
        );
        s.messages
            .mark_read(&b.id, &cid, &m1.id, &m2.id, 1)
            .await
            .unwrap();
        assert_eq!(
            conflict(s.messages.mark_read(&b.id, &cid, &m1.id, &m2.id, 1).await),
            "condition",
            "not newer"
        );
        s.messages
            .mark_read(&b.id, &cid, &m2.id, &m2.id, 0)
            .await
            .unwrap();
        let row = s.messages.conversation(&b.id, &cid).await.unwrap().unwrap();
        assert_eq!((row.cursors.read_up_to, row.unread_count), (Some(m2.id), 0));
        s.messages
            .mark_delivered(&b.id, &cid, &m2.id)
            .await
            .unwrap();
        assert_eq!(
            conflict(s.messages.mark_delivered(&b.id, &cid, &m1.id).await),
            "condition",
            "backwards"
        );
        assert_eq!(
            s.messages
                .conversation(&b.id, &cid)
                .await
                .unwrap()
                .unwrap()
                .cursors
                .delivered_up_to,
            Some(m2.id)
        );
        let nobody = UserId::new_random();
        assert_eq!(
            conflict(s.messages.mark_delivered(&nobody, &cid, &m2.id).await),
            "condition",
            "no row"
        );
        let rows = s
            .messages
            .conversations_of(&[(a.id, cid), (b.id, cid), (nobody, cid), (a.id, cid)])
            .await
            .unwrap();
        let mut members: Vec<UserId> = rows.iter().map(|r| r.member_id).collect();
        members.sort();
        let mut want = vec![a.id, b.id];
        want.sort();
        assert_eq!(members, want);
    }

    pub async fn chats_list_conversations_by_last_activity(s: Stores) {
        let me = user("myself", 1);
        let friends: Vec<User> = (0..5)
            .map(|i| user(&format!("friend{i}"), 10 + i))
            .collect();
        for f in &friends {
            befriend(&s, &me, f).await;
        }
        for i in [2usize, 0, 4, 1, 3, 0] {
            s.messages
                .send_to_contact(&msg(&friends[i], &me, "hi", 1), None, None)
                .await
                .unwrap();
        }
        // Page by page: each asks for what is older than the last row seen.
        let (mut rows, mut pages, mut before) = (Vec::new(), 0, None);
        loop {
            let page = s.messages.chats_before(&me.id, before, 2).await.unwrap();
            assert!(page.len() <= 2, "page larger than the limit");
            let Some(last) = page.last() else { break };
            before = Some(last.last_message.id);
            pages += 1;
            rows.extend(page);
        }
        let order: Vec<UserId> = rows.iter().map(|r| r.peer_id).collect();
        let want: Vec<UserId> = [0usize, 3, 1, 4, 2]
            .iter()
            .map(|&i| friends[i].id)
            .collect();
        assert_eq!(
            order, want,
            "most recent activity first, in pages before a message id"
        );
        assert_eq!(pages, 3, "three pages of at most 2");
        assert_eq!(rows[0].unread_count, 2);
    }

    fn connection(user: &User, id: &str, at: i64) -> Connection {
        Connection {
            connection_id: id.to_owned(),
            user_id: user.id,
            session_id: SessionId::new_random(),
            connected_at: t(at),
            expires_at: t(at) + TimeDelta::hours(3),
        }
    }

    pub async fn connections_are_found_by_id_and_by_user_until_they_expire(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let (a1, a2, b1) = (
            connection(&a, "a1==", 0),
            connection(&a, "a2==", 10),
            connection(&b, "b1==", 0),
        );
        for c in [&a1, &a2, &b1] {
            s.connections.put(c).await.unwrap();
        }
        assert_eq!(s.connections.get("a1==").await.unwrap(), Some(a1.clone()));
        assert_eq!(s.connections.get("nope").await.unwrap(), None);
        let mut ids: Vec<String> = s
            .connections
            .of_user(&a.id, t(60))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["a1==", "a2=="]);
        let later = t(0) + TimeDelta::hours(3) + TimeDelta::seconds(5);
        let live: Vec<String> = s
            .connections
            .of_user(&a.id, later)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id)
            .collect();
        assert_eq!(
            live,
            ["a2=="],
            "a1 expired (TTL deletion lags: expiry is filtered on read)"
        );
        assert_eq!(s.connections.delete("a1==").await.unwrap(), Some(a1));
        assert_eq!(
            s.connections.delete("a1==").await.unwrap(),
            None,
            "deleting twice is fine"
        );
        assert_eq!(s.connections.of_user(&b.id, t(60)).await.unwrap(), vec![b1]);
    }

    fn ids(connections: &[Connection]) -> Vec<(UserId, &str)> {
        connections
            .iter()
            .map(|c| (c.user_id, c.connection_id.as_str()))
            .collect()
    }

    pub async fn connections_of_many_users_are_read_together_until_they_expire(s: Stores) {
        let (a, b, c) = (user("alice", 1), user("bob", 2), user("carol", 3));
        let (a1, a2, b1) = (
            connection(&a, "a1==", 0),
            connection(&a, "a2==", 10),
            connection(&b, "b1==", 5),
        );
        for conn in [&a2, &b1, &a1] {
            s.connections.put(conn).await.unwrap();
        }
        let mut want = vec![(a.id, "a1=="), (a.id, "a2=="), (b.id, "b1==")];
        want.sort();
        let got = s
            .connections
            .of_users(&[b.id, c.id, a.id, b.id], t(60))
            .await
            .unwrap();
        assert_eq!(
            ids(&got),
            want,
            "by user then connection id; a user named twice counts once, one without any adds none"
        );
        assert_eq!(got.iter().find(|c| c.connection_id == "b1==").unwrap(), &b1);
        let later = t(0) + TimeDelta::hours(3) + TimeDelta::seconds(7);
        assert_eq!(
            ids(&s.connections.of_users(&[a.id, b.id], later).await.unwrap()),
            [(a.id, "a2==")],
            "a1 and b1 expired"
        );
        assert_eq!(
            s.connections.of_users(&[], t(60)).await.unwrap(),
            vec![],
            "nobody, nothing"
        );
        assert_eq!(s.connections.delete("a2==").await.unwrap(), Some(a2));
        assert_eq!(
            ids(&s.connections.of_users(&[a.id], t(60)).await.unwrap()),
            [(a.id, "a1==")],
            "a deleted connection is gone from its user's too"
        );
    }

    pub async fn connections_of_more_than_a_hundred_users_are_read_in_batches(s: Stores) {
        let users: Vec<User> = (0..130).map(|i| user(&format!("member{i}"), i)).collect();
        for (i, u) in users.iter().enumerate() {
            s.connections
                .put(&connection(u, &format!("m{i}=="), 0))
                .await
                .unwrap();
        }
        let mut asked: Vec<UserId> = users.iter().map(|u| u.id).collect();
        asked.extend((0..20).map(|_| UserId::new_random()));
        let got = s.connections.of_users(&asked, t(60)).await.unwrap();
        let mut want: Vec<(UserId, String)> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id, format!("m{i}==")))
            .collect();
        want.sort();
        let got: Vec<(UserId, String)> = got
            .into_iter()
            .map(|c| (c.user_id, c.connection_id))
            .collect();
        assert_eq!(got, want, "every member's connection, once");
    }

    pub async fn a_connection_left_out_of_its_users_index_is_still_deleted(s: Stores) {
        let a = user("alice", 1);
        let old = connection(&a, "old==", 0);
        s.connections.put(&old).await.unwrap();
        // Connecting again after `old` expired prunes it from alice's connections (where the
        // store keeps such an index) while its own row lingers until TTL deletion.
        let later = TimeDelta::hours(4).num_seconds();
        let new = connection(&a, "new==", later);
        s.connections.put(&new).await.unwrap();
        assert_eq!(
            s.connections.of_user(&a.id, t(later + 60)).await.unwrap(),
            vec![new.clone()]
        );
        assert_eq!(
            s.connections.delete("old==").await.unwrap(),
            Some(old),
            "deleted and returned"
        );
        assert_eq!(s.connections.get("old==").await.unwrap(), None);
        assert_eq!(s.connections.delete("old==").await.unwrap(), None);
        assert_eq!(
            s.connections.of_user(&a.id, t(later + 60)).await.unwrap(),
            vec![new],
            "the live connection is untouched"
        );
    }

    pub async fn a_connection_is_greeted_once(s: Stores) {
        let a = user("alice", 1);
        s.connections.put(&connection(&a, "a1==", 0)).await.unwrap();
        assert!(s.connections.mark_greeted("a1==").await.unwrap());
        assert!(!s.connections.mark_greeted("a1==").await.unwrap());
        assert!(
            !s.connections.mark_greeted("unknown").await.unwrap(),
            "no row, no greeting"
        );
    }

    fn device(user: &User, n: u128, token_hash: &str) -> Device {
        Device {
            id: uuid::Uuid::from_u128(n),
            user_id: user.id,
            session_id: Some(SessionId::from_uuid(uuid::Uuid::from_u128(n))),
            platform: Platform::Fcm,
            token_hash: token_hash.to_owned(),
            endpoint_arn: format!("endpoint-{n}"),
            created_at: t(0),
        }
    }

    pub async fn devices_are_listed_per_user_and_replaced_by_id(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let (d1, d2) = (device(&a, 1, "h1"), device(&a, 2, "h2"));
        s.devices.put(&d1).await.unwrap();
        s.devices.put(&d2).await.unwrap();
        s.devices.put(&device(&b, 3, "h3")).await.unwrap();
        let replaced = Device {
            endpoint_arn: "endpoint-1b".into(),
            ..d1.clone()
        };
        s.devices.put(&replaced).await.unwrap();
        let mut mine = s.devices.list(&a.id).await.unwrap();
        mine.sort_by_key(|d| d.id);
        assert_eq!(mine, vec![replaced.clone(), d2.clone()]);
        assert_eq!(
            s.devices.delete(&b.id, &d2.id).await.unwrap(),
            None,
            "not bob's"
        );
        assert_eq!(s.devices.delete(&a.id, &d2.id).await.unwrap(), Some(d2));
        assert_eq!(s.devices.list(&a.id).await.unwrap(), vec![replaced]);
    }

    pub async fn devices_of_many_users_are_read_together(s: Stores) {
        let (a, b, c) = (user("alice", 1), user("bob", 2), user("carol", 3));
        let mut want = vec![
            device(&a, 2, "h2"),
            device(&a, 1, "h1"),
            device(&b, 3, "h3"),
        ];
        for d in &want {
            s.devices.put(d).await.unwrap();
        }
        want.sort_by_key(|d| (d.user_id, d.id));
        assert_eq!(
            s.devices
                .list_many(&[b.id, c.id, a.id, b.id])
                .await
                .unwrap(),
            want,
            "by user then id; a user named twice counts once, one without devices adds none"
        );
        assert_eq!(s.devices.list_many(&[]).await.unwrap(), vec![]);
        assert_eq!(s.devices.list_many(&[c.id]).await.unwrap(), vec![]);
        assert_eq!(s.devices.list(&c.id).await.unwrap(), vec![]);
    }

    pub async fn devices_of_more_than_a_hundred_users_are_read_in_batches(s: Stores) {
        let users: Vec<User> = (0..130).map(|i| user(&format!("member{i}"), i)).collect();
        let mut want: Vec<Device> = users
            .iter()
            .enumerate()
            .map(|(i, u)| device(u, i as u128 + 1, "h"))
            .collect();
        for d in &want {
            s.devices.put(d).await.unwrap();
        }
        want.sort_by_key(|d| (d.user_id, d.id));
        let mut asked: Vec<UserId> = users.iter().map(|u| u.id).collect();
        asked.extend((0..20).map(|_| UserId::new_random()));
        assert_eq!(s.devices.list_many(&asked).await.unwrap(), want);
    }

    pub async fn deleting_devices_that_do_not_exist_deletes_nothing(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let d = device(&a, 1, "h1");
        assert_eq!(
            s.devices.delete(&a.id, &d.id).await.unwrap(),
            None,
            "a user without any device"
        );
        assert_eq!(
            s.devices
                .delete_session(&a.id, &SessionId::new_random())
                .await
                .unwrap(),
            vec![]
        );
        s.devices.put(&d).await.unwrap();
        assert_eq!(
            s.devices
                .delete(&a.id, &uuid::Uuid::from_u128(9))
                .await
                .unwrap(),
            None,
            "another id"
        );
        assert_eq!(
            s.devices.delete(&b.id, &d.id).await.unwrap(),
            None,
            "not bob's"
        );
        assert_eq!(
            s.devices.delete(&a.id, &d.id).await.unwrap(),
            Some(d.clone())
        );
        assert_eq!(s.devices.delete(&a.id, &d.id).await.unwrap(), None, "twice");
        assert_eq!(s.devices.list(&a.id).await.unwrap(), vec![]);
        s.devices.put(&d).await.unwrap();
        assert_eq!(
            s.devices.list(&a.id).await.unwrap(),
            vec![d],
            "registered again after the last one went"
        );
    }

    pub async fn ending_a_session_with_many_devices_deletes_them_all(s: Stores) {
        let a = user("alice", 1);
        let (s1, s2) = (SessionId::new_random(), SessionId::new_random());
        let of = |n: u128, session: SessionId| Device {
            session_id: Some(session),
            ..device(&a, n, &format!("h{n}"))
        };
        let mut mine: Vec<Device> = (1..=60).map(|n| of(n, s1)).collect();
        let others: Vec<Device> = (61..=63).map(|n| of(n, s2)).collect();
        for d in mine.iter().chain(&others) {
            s.devices.put(d).await.unwrap();
        }
        let mut gone = s.devices.delete_session(&a.id, &s1).await.unwrap();
        gone.sort_by_key(|d| d.id);
        mine.sort_by_key(|d| d.id);
        assert_eq!(gone, mine, "all 60, however many one write may remove");
        assert_eq!(s.devices.list(&a.id).await.unwrap(), others);
    }

    pub async fn ending_a_session_deletes_exactly_its_devices(s: Stores) {
        let (a, b) = (user("alice", 1), user("bob", 2));
        let (s1, s2) = (SessionId::new_random(), SessionId::new_random());
        let of = |d: Device, session: SessionId| Device {
            session_id: Some(session),
            ..d
        };
        let phone = of(device(&a, 1, "h1"), s1);
        let tablet = of(device(&a, 2, "h2"), s1);
        let other = of(device(&a, 3, "h3"), s2);
        let older = Device {
            session_id: None,
            ..device(&a, 4, "h4")
        };
        // Bob's device under the same session id: the user scopes the deletion.
        let bobs = of(device(&b, 5, "h5"), s1);
        for d in [&phone, &tablet, &other, &older, &bobs] {
            s.devices.put(d).await.unwrap();
        }

        let mut gone = s.devices.delete_session(&a.id, &s1).await.unwrap();
        gone.sort_by_key(|d| d.id);
        assert_eq!(gone, vec![phone, tablet], "the session's devices, returned");
        let mut left = s.devices.list(&a.id).await.unwrap();
        left.sort_by_key(|d| d.id);
        assert_eq!(
            left,
            vec![other, older],
            "other sessions' and older rows stay"
        );
        assert_eq!(s.devices.list(&b.id).await.unwrap(), vec![bobs]);
        assert_eq!(
            s.devices.delete_session(&a.id, &s1).await.unwrap(),
            vec![],
            "again: nothing left to delete"
        );
    }
    // ------------------------------------------------------------ groups

    fn group_msg(g: ConversationId, from: UserId, text: &str, at: i64, seq: u64) -> Message {
        Message {
            id: MessageId::new_v7(),
            conversation_id: g,
            sender_id: from,
            receiver_id: UserId::from_uuid(*g.as_uuid()),
            content: Content::parse(MessageKind::Text, text).unwrap(),
            kind: MessageKind::Text,
            client_message_id: None,
            created_at: t(at),
            group: Some(GroupPart { seq, event: None }),
            media: None,
            extras: Default::default(),
        }
    }

    /// The system message of a membership change by `by`.
    fn group_event(
        g: ConversationId,
        ev: GroupEventKind,
        by: UserId,
        users: Vec<UserId>,
    ) -> Message {
        let mut m = group_msg(g, UserId::SYSTEM, "event", 0, 0);
        m.group = Some(GroupPart {
            seq: 0,
            event: Some(GroupEvent { ev, by, users }),
        });
        m
    }

    fn group_meta(g: ConversationId, creator: UserId, last: &Message, version: u64) -> GroupMeta {
        GroupMeta {
            id: g,
            name: GroupName::parse("Family").unwrap(),
            description: Some("us".into()),
            avatar: None,
            created_by: creator,
            created_at: t(0),
            updated_at: t(version as i64),
            settings: GroupSettings::default(),
            member_count: 1,
            admin_count: 1,
            invite_code: None,
            last_message: last.clone(),
            seq: 0,
            joins: 1,
            removals: 0,
            version,
        }
    }

    fn group_member(g: ConversationId, user: UserId, role: Role, join_seq: u64) -> Member {
        Member {
            group_id: g,
            user_id: user,
            role,
            joined_at: t(join_seq as i64),
            join_seq,
            from: MessageId::new_v7(),
            cursors: Cursors::default(),
            read_seq: 0,
            delivered_marks: vec![],
            read_marks: vec![],
        }
    }

    /// A change to `meta` (already at its new version) read at `expect`.
    fn group_change(meta: &GroupMeta, expect: Option<u64>) -> GroupChange {
        GroupChange {
            meta: meta.clone(),
            expect_version: expect,
            members: vec![],
            invite_add: None,
            invite_remove: None,
            message: None,
            guard: None,
            rate: None,
        }
    }

    /// Creates a group of `members` (the first is its admin) at version 1; returns its META.
    async fn create_group(s: &Stores, members: &[UserId]) -> GroupMeta {
        let g = ConversationId::new_group();
        let m = group_event(
            g,
            GroupEventKind::Created,
            members[0],
            members[1..].to_vec(),
        );
        let mut meta = group_meta(g, members[0], &m, 1);
        meta.member_count = members.len() as u32;
        meta.joins = members.len() as u64;
        let mut c = group_change(&meta, None);
        c.members = members
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let role = if i == 0 { Role::Admin } else { Role::Member };
                MemberChange::Add(group_member(g, *u, role, i as u64 + 1))
            })
            .collect();
        c.message = Some(m);
        s.groups.commit(&c).await.unwrap();
        meta
    }

    async fn member_row(s: &Stores, g: &ConversationId, user: &UserId) -> Member {
        let (_, row) = s.groups.meta_and_member(g, user).await.unwrap();
        row.expect("a member")
    }

    fn mark(up_to: MessageId, at: i64) -> Mark {
        Mark { up_to, at: t(at) }
    }

    pub async fn a_created_group_reads_back_in_every_view(s: Stores) {
        // Joined in the reverse of id order, so join order is not key order.
        let mut users: Vec<UserId> = (0..3).map(|_| UserId::new_random()).collect();
        users.sort();
        users.reverse();
        let (a, b, c) = (users[0], users[1], users[2]);
        let g = ConversationId::new_group();
        let created = group_event(g, GroupEventKind::Created, a, vec![b, c]);
        let mut meta = group_meta(g, a, &created, 1);
        (meta.member_count, meta.joins) = (3, 3);
        meta.invite_code = Some("code-1".into());
        let rows: Vec<Member> = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let role = if i == 0 { Role::Admin } else { Role::Member };
                group_member(g, *u, role, i as u64 + 1)
            })
            .collect();
        let mut change = group_change(&meta, None);
        change.members = rows.iter().cloned().map(MemberChange::Add).collect();
        change.invite_add = Some("code-1".into());
        change.message = Some(created.clone());
        s.groups.commit(&change).await.unwrap();

        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(meta.clone()));
        assert_eq!(
            s.groups.meta_and_member(&g, &b).await.unwrap(),
            (Some(meta.clone()), Some(rows[1].clone()))
        );
        let stranger = UserId::new_random();
        assert_eq!(
            s.groups.meta_and_member(&g, &stranger).await.unwrap(),
            (Some(meta.clone()), None)
        );
        assert_eq!(
            s.groups
                .meta_and_member(&ConversationId::new_group(), &a)
                .await
                .unwrap(),
            (None, None)
        );
        assert_eq!(s.groups.members(&g).await.unwrap(), rows, "join order");
        assert_eq!(s.groups.invite("code-1").await.unwrap(), Some(g));
        assert_eq!(s.groups.invite("code-2").await.unwrap(), None);
        assert_eq!(
            s.messages.get(&g, &created.id).await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(
            s.messages
                .history(&g, HistoryRange::Latest, 10)
                .await
                .unwrap(),
            vec![created]
        );

        // `a` is in a second group: their groups page by group id.
        let other = create_group(&s, &[a]).await;
        let (mine, pages) = all_pages(1, |p| {
            let groups = s.groups.clone();
            async move { groups.groups_of(&a, &p).await }
        })
        .await;
        let mut want = vec![g, other.id];
        want.sort();
        let got: Vec<ConversationId> = mine.iter().map(|m| m.group_id).collect();
        assert_eq!((got, pages), (want, 2), "by group id, one a page");
        assert!(mine.iter().all(|m| m.user_id == a && m.role == Role::Admin));
        assert_eq!(
            s.groups
                .groups_of(&a, &PageRequest::first(10))
                .await
                .unwrap()
                .next,
            None
        );
        assert_eq!(
            s.groups
                .groups_of(&b, &PageRequest::first(10))
                .await
                .unwrap()
                .items,
            vec![rows[1].clone()]
        );
        assert!(
            s.groups
                .groups_of(&stranger, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let bad = PageRequest {
            limit: 1,
            cursor: Some("nope".into()),
        };
        assert!(matches!(
            s.groups.groups_of(&a, &bad).await,
            Err(StoreError::BadCursor)
        ));

        let mut metas = s
            .groups
            .metas(&[other.id, g, ConversationId::new_group(), g])
            .await
            .unwrap();
        metas.sort_by_key(|m| m.id);
        let mut want = vec![meta, other];
        want.sort_by_key(|m| m.id);
        assert_eq!(metas, want);
        assert!(s.groups.metas(&[]).await.unwrap().is_empty());
    }

    pub async fn a_group_is_created_once_and_changed_only_at_the_version_read(s: Stores) {
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let v1 = create_group(&s, &[a]).await;
        let g = v1.id;

        let mut again = group_change(&v1, None);
        again.meta.name = GroupName::parse("Impostor").unwrap();
        again.members = vec![MemberChange::Add(group_member(g, c, Role::Admin, 1))];
        assert_eq!(conflict(s.groups.commit(&again).await), "version");
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v1.clone()));

        let added = group_event(g, GroupEventKind::Added, a, vec![b]);
        let mut v2 = v1.clone();
        (v2.version, v2.member_count, v2.joins) = (2, 2, 2);
        v2.last_message = added.clone();
        let mut add_b = group_change(&v2, Some(1));
        add_b.members = vec![
            MemberChange::Check {
                user: a,
                role: Role::Admin,
            },
            MemberChange::Add(group_member(g, b, Role::Member, 2)),
        ];
        add_b.message = Some(added);
        s.groups.commit(&add_b).await.unwrap();

        // A change made from the version-1 read loses, and writes nothing.
        let late = group_event(g, GroupEventKind::Added, a, vec![c]);
        let mut stale = v2.clone();
        stale.last_message = late.clone();
        let mut add_c = group_change(&stale, Some(1));
        add_c.members = vec![
            MemberChange::Check {
                user: a,
                role: Role::Admin,
            },
            MemberChange::Add(group_member(g, c, Role::Member, 2)),
        ];
        add_c.message = Some(late.clone());
        assert_eq!(conflict(s.groups.commit(&add_c).await), "version");
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v2.clone()));
        let members: Vec<UserId> = s
            .groups
            .members(&g)
            .await
            .unwrap()
            .iter()
            .map(|m| m.user_id)
            .collect();
        assert_eq!(members, vec![a, b]);
        assert_eq!(s.messages.get(&g, &late.id).await.unwrap(), None);
        assert_eq!(
            conflict(s.groups.commit(&group_change(&v2, Some(3))).await),
            "version",
            "a version from the future"
        );
        let mut v3 = v2.clone();
        v3.version = 3;
        s.groups.commit(&group_change(&v3, Some(2))).await.unwrap();
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v3));
    }

    pub async fn member_steps_are_conditional_and_a_failed_one_changes_nothing(s: Stores) {
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let v1 = create_group(&s, &[a, b]).await;
        let g = v1.id;
        let before = s.groups.members(&g).await.unwrap();
        let mut v2 = v1.clone();
        v2.version = 2;

        let rejoin = group_event(g, GroupEventKind::Added, a, vec![b, c]);
        let mut add = group_change(&v2, Some(1));
        add.members = vec![
            MemberChange::Add(group_member(g, c, Role::Member, 3)),
            MemberChange::Add(group_member(g, b, Role::Member, 4)),
        ];
        add.message = Some(rejoin.clone());
        assert_eq!(conflict(s.groups.commit(&add).await), "member", "b is one");
        assert_eq!(s.groups.members(&g).await.unwrap(), before, "c not added");
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v1.clone()));
        assert_eq!(s.messages.get(&g, &rejoin.id).await.unwrap(), None);

        let nobody = UserId::new_random();
        let wrong = [
            MemberChange::Remove {
                user: b,
                role: Role::Admin,
            },
            MemberChange::Remove {
                user: nobody,
                role: Role::Member,
            },
            MemberChange::SetRole {
                user: b,
                from: Role::Admin,
                to: Role::Member,
            },
            MemberChange::SetRole {
                user: nobody,
                from: Role::Member,
                to: Role::Admin,
            },
            MemberChange::Check {
                user: b,
                role: Role::Admin,
            },
            MemberChange::Check {
                user: nobody,
                role: Role::Member,
            },
        ];
        for step in wrong {
            let mut ch = group_change(&v2, Some(1));
            ch.members = vec![
                MemberChange::Check {
                    user: a,
                    role: Role::Admin,
                },
                step.clone(),
            ];
            assert_eq!(conflict(s.groups.commit(&ch).await), "member", "{step:?}");
        }
        assert_eq!(s.groups.members(&g).await.unwrap(), before);
        assert_eq!(
            s.groups.meta_and_member(&g, &nobody).await.unwrap().1,
            None,
            "a refused step on a non-member leaves no row"
        );
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v1));

        let mut promote = group_change(&v2, Some(1));
        promote.members = vec![
            MemberChange::Check {
                user: a,
                role: Role::Admin,
            },
            MemberChange::SetRole {
                user: b,
                from: Role::Member,
                to: Role::Admin,
            },
        ];
        s.groups.commit(&promote).await.unwrap();
        let rows = s.groups.members(&g).await.unwrap();
        assert_eq!(rows[1].role, Role::Admin);
        assert_eq!(
            rows[1],
            Member {
                role: Role::Admin,
                ..before[1].clone()
            },
            "only the role changed"
        );
        let mut v3 = v2.clone();
        v3.version = 3;
        let mut remove = group_change(&v3, Some(2));
        remove.members = vec![MemberChange::Remove {
            user: b,
            role: Role::Admin,
        }];
        s.groups.commit(&remove).await.unwrap();
        assert_eq!(s.groups.members(&g).await.unwrap(), before[..1].to_vec());
        assert!(
            s.groups
                .groups_of(&b, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .is_empty(),
            "a removed member's row leaves the index"
        );
    }

    pub async fn invite_codes_are_unique_and_replaced_atomically(s: Stores) {
        let a = UserId::new_random();
        let one = create_group(&s, &[a]).await;
        let mut one_v2 = one.clone();
        (one_v2.version, one_v2.invite_code) = (2, Some("one".into()));
        let mut ch = group_change(&one_v2, Some(1));
        ch.invite_add = Some("one".into());
        s.groups.commit(&ch).await.unwrap();
        assert_eq!(s.groups.invite("one").await.unwrap(), Some(one.id));

        let g2 = ConversationId::new_group();
        let m = group_event(g2, GroupEventKind::Created, a, vec![]);
        let mut two = group_meta(g2, a, &m, 1);
        two.invite_code = Some("one".into());
        let mut create = group_change(&two, None);
        create.members = vec![MemberChange::Add(group_member(g2, a, Role::Admin, 1))];
        create.invite_add = Some("one".into());
        create.message = Some(m.clone());
        assert_eq!(conflict(s.groups.commit(&create).await), "invite");
        assert_eq!(s.groups.meta(&g2).await.unwrap(), None, "nothing written");
        assert_eq!(
            s.groups.meta_and_member(&g2, &a).await.unwrap(),
            (None, None)
        );
        assert_eq!(s.messages.get(&g2, &m.id).await.unwrap(), None);
        assert_eq!(s.groups.invite("one").await.unwrap(), Some(one.id));

        two.invite_code = Some("two".into());
        create.meta = two;
        create.invite_add = Some("two".into());
        s.groups.commit(&create).await.unwrap();
        assert_eq!(s.groups.invite("two").await.unwrap(), Some(g2));

        let mut one_v3 = one_v2.clone();
        (one_v3.version, one_v3.invite_code) = (3, Some("three".into()));
        let mut reset = group_change(&one_v3, Some(2));
        reset.invite_remove = Some("one".into());
        reset.invite_add = Some("three".into());
        s.groups.commit(&reset).await.unwrap();
        assert_eq!(s.groups.invite("one").await.unwrap(), None);
        assert_eq!(s.groups.invite("three").await.unwrap(), Some(one.id));

        let mut one_v4 = one_v3.clone();
        (one_v4.version, one_v4.invite_code) = (4, Some("two".into()));
        let mut taken = group_change(&one_v4, Some(3));
        taken.invite_remove = Some("three".into());
        taken.invite_add = Some("two".into());
        assert_eq!(conflict(s.groups.commit(&taken).await), "invite");
        assert_eq!(
            s.groups.invite("three").await.unwrap(),
            Some(one.id),
            "the old code stays with the refused change"
        );
        assert_eq!(s.groups.invite("two").await.unwrap(), Some(g2));
        assert_eq!(s.groups.meta(&one.id).await.unwrap(), Some(one_v3));
    }

    pub async fn a_sent_message_moves_the_senders_cursors_from_the_read_one(s: Stores) {
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let v1 = create_group(&s, &[a, b]).await;
        let g = v1.id;
        let send =
            |meta: &GroupMeta, m: &Message, role: Role, read_was: Option<MessageId>, seq: u64| {
                let mut next = meta.clone();
                next.version = meta.version + 1;
                next.seq = seq;
                next.last_message = m.clone();
                let mut ch = group_change(&next, Some(meta.version));
                ch.members = vec![MemberChange::Sent {
                    user: b,
                    role,
                    read_was,
                    mark: mark(m.id, seq as i64),
                    seq,
                    delivered_marks: vec![mark(m.id, seq as i64)],
                    read_marks: vec![mark(m.id, seq as i64)],
                }];
                ch.message = Some(m.clone());
                ch
            };
        let m1 = group_msg(g, b, "one", 1, 1);
        let ch = send(&v1, &m1, Role::Member, None, 1);
        s.groups.commit(&ch).await.unwrap();
        let v2 = ch.meta;
        let row = s.groups.meta_and_member(&g, &b).await.unwrap().1.unwrap();
        assert_eq!(
            (
                row.cursors.read_up_to,
                row.cursors.delivered_up_to,
                row.read_seq
            ),
            (Some(m1.id), Some(m1.id), 1)
        );
        assert_eq!(
            (row.read_marks.clone(), row.delivered_marks.clone()),
            (vec![mark(m1.id, 1)], vec![mark(m1.id, 1)])
        );
        assert_eq!(s.messages.get(&g, &m1.id).await.unwrap(), Some(m1.clone()));

        let m2 = group_msg(g, b, "two", 2, 2);
        assert_eq!(
            conflict(
                s.groups
                    .commit(&send(&v2, &m2, Role::Member, None, 2))
                    .await
            ),
            "member",
            "the read cursor moved since"
        );
        assert_eq!(
            conflict(
                s.groups
                    .commit(&send(&v2, &m2, Role::Admin, Some(m1.id), 2))
                    .await
            ),
            "member",
            "not an admin"
        );
        assert_eq!(s.messages.get(&g, &m2.id).await.unwrap(), None);
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v2.clone()));
        assert_eq!(s.groups.meta_and_member(&g, &b).await.unwrap().1, Some(row));
        s.groups
            .commit(&send(&v2, &m2, Role::Member, Some(m1.id), 2))
            .await
            .unwrap();
        let row = s.groups.meta_and_member(&g, &b).await.unwrap().1.unwrap();
        assert_eq!(
            (
                row.cursors.read_up_to,
                row.cursors.delivered_up_to,
                row.read_seq
            ),
            (Some(m2.id), Some(m2.id), 2)
        );
        assert_eq!(
            s.messages
                .history(&g, HistoryRange::After(m1.id), 10)
                .await
                .unwrap(),
            vec![m2]
        );
    }

    pub async fn a_group_messages_guard_and_rate_gate_are_checked_with_it(s: Stores) {
        let a = UserId::new_random();
        let v1 = create_group(&s, &[a]).await;
        let g = v1.id;
        let guard = |key: &str, m: &Message| DedupGuard {
            scope: a.to_string(),
            key: key.into(),
            message_id: m.id,
            conversation_id: g,
            fingerprint: "f".into(),
        };
        let full = |now| RateGate::Full {
            now_us: now,
            new_tat_us: now + 10,
        };
        let send = |m: &Message, guard: Option<DedupGuard>, rate: Option<RateGate>| {
            let mut next = v1.clone();
            next.version = 2;
            next.last_message = m.clone();
            let mut ch = group_change(&next, Some(1));
            ch.members = vec![MemberChange::Check {
                user: a,
                role: Role::Admin,
            }];
            ch.message = Some(m.clone());
            ch.guard = guard;
            ch.rate = rate;
            ch
        };
        let m1 = group_msg(g, a, "one", 1, 1);
        let first = send(&m1, Some(guard("k1", &m1)), Some(full(100)));
        s.groups.commit(&first).await.unwrap();
        assert_eq!(
            s.messages.guard(&a.to_string(), "k1").await.unwrap(),
            Some(guard("k1", &m1))
        );
        assert_eq!(s.messages.rate_state(&a).await.unwrap(), Some(110));
        let v2 = first.meta;

        let m2 = group_msg(g, a, "two", 2, 2);
        let mut retry = send(&m2, Some(guard("k1", &m2)), Some(full(200)));
        (retry.meta.version, retry.expect_version) = (3, Some(2));
        assert_eq!(conflict(s.groups.commit(&retry).await), "duplicate");
        let mut too_fast = send(&m2, Some(guard("k2", &m2)), Some(full(100)));
        (too_fast.meta.version, too_fast.expect_version) = (3, Some(2));
        assert_eq!(conflict(s.groups.commit(&too_fast).await), "rate");
        let mut same_id = send(&m1, None, None);
        (same_id.meta.version, same_id.expect_version) = (3, Some(2));
        assert_eq!(conflict(s.groups.commit(&same_id).await), "exists");
        assert_eq!(s.messages.get(&g, &m2.id).await.unwrap(), None);
        assert_eq!(s.messages.guard(&a.to_string(), "k2").await.unwrap(), None);
        assert_eq!(s.messages.rate_state(&a).await.unwrap(), Some(110));
        assert_eq!(s.groups.meta(&g).await.unwrap(), Some(v2));
    }

    pub async fn receipt_cursors_advance_only_from_the_value_read(s: Stores) {
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let g = create_group(&s, &[a, b]).await.id;
        let (m1, m2) = (MessageId::new_v7(), MessageId::new_v7());
        let delivered = CursorKind::Delivered;
        s.groups
            .advance(&g, &b, delivered, None, mark(m1, 1), 7, &[mark(m1, 1)])
            .await
            .unwrap();
        let r = member_row(&s, &g, &b).await;
        assert_eq!(r.cursors.delivered_up_to, Some(m1));
        assert_eq!(r.delivered_marks, vec![mark(m1, 1)]);
        assert_eq!(
            (r.cursors.read_up_to, r.read_seq, r.read_marks.len()),
            (None, 0, 0),
            "a delivery moves no read state"
        );
        assert_eq!(
            conflict(
                s.groups
                    .advance(&g, &b, delivered, None, mark(m2, 2), 0, &[])
                    .await
            ),
            "condition",
            "stale: it is no longer unset"
        );
        let both = [mark(m1, 1), mark(m2, 2)];
        s.groups
            .advance(&g, &b, delivered, Some(m1), mark(m2, 2), 0, &both)
            .await
            .unwrap();
        assert_eq!(member_row(&s, &g, &b).await.delivered_marks, both.to_vec());

        s.groups
            .advance(
                &g,
                &b,
                CursorKind::Read,
                None,
                mark(m2, 3),
                2,
                &[mark(m2, 3)],
            )
            .await
            .unwrap();
        let r = member_row(&s, &g, &b).await;
        assert_eq!(
            (r.cursors.read_up_to, r.read_seq, r.read_marks),
            (Some(m2), 2, vec![mark(m2, 3)])
        );
        assert_eq!(r.cursors.delivered_up_to, Some(m2));
        assert_eq!(
            conflict(
                s.groups
                    .advance(&g, &b, CursorKind::Read, Some(m1), mark(m2, 4), 3, &[])
                    .await
            ),
            "condition",
            "stale was"
        );
        assert_eq!(member_row(&s, &g, &b).await.read_seq, 2);
        let nobody = UserId::new_random();
        assert_eq!(
            conflict(
                s.groups
                    .advance(&g, &nobody, delivered, None, mark(m1, 1), 0, &[])
                    .await
            ),
            "condition",
            "not a member"
        );
        assert_eq!(
            s.groups.meta_and_member(&g, &nobody).await.unwrap().1,
            None,
            "no row created"
        );
    }

    pub async fn members_among_returns_only_the_members(s: Stores) {
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let g = create_group(&s, &[a, b, c]).await.id;
        let (x, y) = (UserId::new_random(), UserId::new_random());
        let mut got: Vec<UserId> = s
            .groups
            .members_among(&g, &[a, x, c, a, y])
            .await
            .unwrap()
            .iter()
            .map(|m| m.user_id)
            .collect();
        got.sort();
        let mut want = vec![a, c];
        want.sort();
        assert_eq!(got, want);
        assert!(s.groups.members_among(&g, &[]).await.unwrap().is_empty());
        assert!(
            s.groups
                .members_among(&g, &[x, y])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.groups
                .members_among(&ConversationId::new_group(), &[a])
                .await
                .unwrap()
                .is_empty()
        );
        let all = s.groups.members(&g).await.unwrap();
        let among = s.groups.members_among(&g, &[b]).await.unwrap();
        assert_eq!(among, vec![all[1].clone()], "the whole row");
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
    a_counter_counts_to_its_limit_then_conflicts_and_stays,
    concurrent_takes_at_a_limit_let_exactly_the_limit_through,
    a_block_is_kept_once_listed_found_in_batches_and_removed,
    session_round_trips_and_ids_are_unique,
    rotation_requires_the_current_hash,
    concurrent_rotations_of_one_token_let_exactly_one_win,
    a_rotation_keeps_the_hash_it_replaced_and_when,
    revoked_sessions_do_not_rotate_and_revoke_is_idempotent,
    timestamps_keep_millisecond_precision,
    users_are_found_by_username_case_insensitively_and_in_batches,
    username_prefix_search_pages_in_username_order,
    a_pair_has_one_pending_request_whichever_side_sends,
    accepting_writes_exactly_one_contact_row_per_side,
    concurrent_accepts_of_one_request_let_exactly_one_win,
    rejecting_frees_the_pair_and_makes_no_contacts,
    pending_listings_show_only_pending_requests_oldest_first,
    contact_list_pages_without_gaps_or_repeats,
    removing_a_contact_removes_both_sides,
    a_send_stores_the_message_and_both_conversation_rows,
    a_send_between_strangers_is_refused_and_writes_nothing,
    a_dedup_guard_makes_a_second_send_a_conflict_that_writes_nothing,
    an_older_message_never_replaces_the_last_one,
    the_rate_gate_is_a_token_bucket,
    history_pages_by_id_in_both_directions,
    message_actions_are_conditional_writes_recorded_on_the_message,
    receipts_are_monotonic_conditional_writes,
    chats_list_conversations_by_last_activity,
    connections_are_found_by_id_and_by_user_until_they_expire,
    connections_of_many_users_are_read_together_until_they_expire,
    connections_of_more_than_a_hundred_users_are_read_in_batches,
    a_connection_left_out_of_its_users_index_is_still_deleted,
    a_connection_is_greeted_once,
    devices_are_listed_per_user_and_replaced_by_id,
    devices_of_many_users_are_read_together,
    devices_of_more_than_a_hundred_users_are_read_in_batches,
    deleting_devices_that_do_not_exist_deletes_nothing,
    delivery_progress_accumulates_and_each_push_is_claimed_once,
    ending_a_session_deletes_exactly_its_devices,
    a_created_group_reads_back_in_every_view,
    a_group_is_created_once_and_changed_only_at_the_version_read,
    member_steps_are_conditional_and_a_failed_one_changes_nothing,
    invite_codes_are_unique_and_replaced_atomically,
    a_sent_message_moves_the_senders_cursors_from_the_read_one,
    a_group_messages_guard_and_rate_gate_are_checked_with_it,
    receipt_cursors_advance_only_from_the_value_read,
    members_among_returns_only_the_members,
    ending_a_session_with_many_devices_deletes_them_all,
);

// ---------------------------------------------------------------- DynamoDB item layout

mod connection_index {
    use super::*;
    use whatspe::aws::dynamo::keys;

    /// A `CONN#` row whose user has no index item (written before the index existed, or the
    /// index item deleted): found by id, never by user, and deletable.
    #[tokio::test]
    async fn a_connection_whose_users_index_item_is_missing_is_still_deleted() {
        let (client, tables) = fresh_tables().await;
        let store = DynamoConnections::new(client.clone(), tables.connections.clone());
        let a = user("alice", 1);
        let c = Connection {
            connection_id: "lone==".into(),
            user_id: a.id,
            session_id: SessionId::new_random(),
            connected_at: t(0),
            expires_at: t(0) + TimeDelta::hours(3),
        };
        store.put(&c).await.unwrap();
        client
            .delete_item()
            .table_name(&tables.connections)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(keys::user_connections_pk(&a.id)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(store.get("lone==").await.unwrap(), Some(c.clone()));
        assert_eq!(store.of_user(&a.id, t(60)).await.unwrap(), vec![]);
        assert_eq!(store.of_users(&[a.id], t(60)).await.unwrap(), vec![]);
        assert_eq!(store.delete("lone==").await.unwrap(), Some(c));
        assert_eq!(store.get("lone==").await.unwrap(), None);
        assert_eq!(store.delete("lone==").await.unwrap(), None);
        let index = client
            .get_item()
            .table_name(&tables.connections)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(keys::user_connections_pk(&a.id)),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(index.item, None, "deleting did not create an index item");
    }
}

// ---------------------------------------------------------------- SMS senders

mod sms {
    use super::*;
    use whatspe::aws::sns::SnsSmsSender;
    use whatspe::clock::SystemClock;
    use whatspe::memory::SmsOutbox;
    use whatspe::ports::SmsSender;

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
        // data.json is read outside moto's DynamoDB lock (scripts/moto_server.py): a read
        // that meets a table changing under it fails, and is made again.
        let mut tries = 0;
        let data: serde_json::Value = loop {
            let read = async {
                reqwest::get(format!("{}/moto-api/data.json", endpoint()))
                    .await?
                    .error_for_status()?
                    .json()
                    .await
            };
            match read.await {
                Ok(v) => break v,
                Err(e) if tries < 20 => {
                    tries += 1;
                    eprintln!("data.json: {e}; reading it again");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("moto's data.json: {e}"),
            }
        };
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

// ---------------------------------------------------------------- delivery queue

mod delivery_queue {
    use super::*;
    use whatspe::aws::sqs::{SqsDeliveryQueue, ensure_queue};
    use whatspe::frames::{ReceiptEvent, ServerFrame};
    use whatspe::memory::MemoryQueue;
    use whatspe::ports::{DeliveryJob, DeliveryQueue};

    fn job() -> DeliveryJob {
        let (a, b) = (UserId::new_random(), UserId::new_random());
        DeliveryJob {
            to: vec![a],
            push: vec![],
            frame: ServerFrame::Read(ReceiptEvent {
                g: None,
                p: b,
                up_to: MessageId::new_v7(),
            }),
            // Not what a receipt carries, but the note must survive the queue too.
            note: Some(whatspe::ports::PushNote {
                chat_id: ConversationId::direct(&a, &b),
                message_id: MessageId::new_v7(),
                sender_name: Username::parse("alice").unwrap(),
            }),
            fanout: None,
        }
    }

    /// A job in the same ordering group as [`job`]'s `to`/`p` pair would be: a READ between
    /// the same two users.
    fn job_between(a: UserId, b: UserId) -> DeliveryJob {
        DeliveryJob {
            to: vec![a],
            push: vec![],
            frame: ServerFrame::Read(ReceiptEvent {
                g: None,
                p: b,
                up_to: MessageId::new_v7(),
            }),
            note: None,
            fanout: None,
        }
    }

    /// Receives (and deletes) jobs from the SQS queue `url` until `want` came or five polls
    /// of a second found nothing more, in the order received.
    async fn receive_jobs(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<DeliveryJob> {
        let mut got = Vec::new();
        for _ in 0..5 {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in out.messages() {
                got.push(serde_json::from_str::<DeliveryJob>(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if got.len() >= want {
                break;
            }
        }
        got
    }

    #[tokio::test]
    async fn memory_queue_is_fifo_per_group_and_drops_duplicates() {
        let q = MemoryQueue::default();
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let (first, second, other) = (job_between(a, b), job_between(a, b), job_between(a, c));
        for j in [&first, &second, &first, &other] {
            q.enqueue(j).await.unwrap();
        }
        assert_eq!(
            q.jobs(),
            vec![first.clone(), second.clone(), other.clone()],
            "the duplicate was dropped"
        );
        let parse = |r: &whatspe::memory::QueuedRecord| -> DeliveryJob {
            serde_json::from_str(&r.body).unwrap()
        };
        let batch = q.receive(1);
        assert_eq!(parse(&batch[0]), first);
        let next = q.receive(10);
        assert_eq!(
            next.iter().map(parse).collect::<Vec<_>>(),
            vec![other.clone()],
            "the group of the record in flight waits; another group does not"
        );
        q.delete(&batch[0].id);
        let next = q.receive(10);
        assert_eq!(
            next.iter().map(parse).collect::<Vec<_>>(),
            vec![second],
            "then the group's next"
        );
    }

    #[tokio::test]
    async fn sqs_fifo_queue_keeps_a_groups_order_and_drops_duplicates() {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
        let name = format!(
            "c{}_delivery",
            hex::encode(whatspe::crypto::random_bytes::<6>())
        );
        let url = ensure_queue(&sqs, &name).await.expect("FIFO queue on moto");
        assert!(url.ends_with(".fifo"), "{url}");
        let q = SqsDeliveryQueue::new(sqs.clone(), &url);
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let jobs: Vec<DeliveryJob> = (0..5).map(|_| job_between(a, b)).collect();
        for j in jobs.iter().chain([&jobs[0], &jobs[3]]) {
            q.enqueue(j).await.unwrap();
        }
        let got = receive_jobs(&sqs, &url, jobs.len()).await;
        assert_eq!(got, jobs, "each job once, in the order queued");
    }

    #[tokio::test]
    async fn a_dead_letter_redrive_moves_every_job_back_in_order() {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
        let name = format!(
            "c{}_delivery",
            hex::encode(whatspe::crypto::random_bytes::<6>())
        );
        let url = ensure_queue(&sqs, &name).await.expect("FIFO queue on moto");
        let dlq = whatspe::aws::sqs::dead_letter_queue_url(&sqs, &url)
            .await
            .expect("the queue's dead-letter queue");
        assert!(dlq.ends_with("_dlq.fifo"), "{dlq}");
        // Jobs that failed five times, as SQS's redrive policy leaves them.
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let dead: Vec<DeliveryJob> = (0..3).map(|_| job_between(a, b)).collect();
        SqsDeliveryQueue::new(sqs.clone(), &dlq)
            .enqueue(&dead[0])
            .await
            .unwrap();
        for j in &dead[1..] {
            SqsDeliveryQueue::new(sqs.clone(), &dlq)
                .enqueue(j)
                .await
                .unwrap();
        }
        let moved = whatspe::aws::sqs::redrive(&sqs, &dlq, &url).await.unwrap();
        assert_eq!(moved, 3, "every dead letter moved");
        let back = receive_jobs(&sqs, &url, dead.len()).await;
        assert_eq!(back, dead, "back on the delivery queue, in order");
        assert_eq!(
            whatspe::aws::sqs::redrive(&sqs, &dlq, &url).await.unwrap(),
            0,
            "the dead-letter queue is empty"
        );
    }

    #[tokio::test]
    async fn memory_queue_keeps_jobs_in_order() {
        let q = MemoryQueue::default();
        let (j1, j2) = (job(), job());
        q.enqueue(&j1).await.unwrap();
        q.enqueue(&j2).await.unwrap();
        assert_eq!(q.jobs(), vec![j1, j2]);
    }

    #[tokio::test]
    async fn sqs_queue_delivers_the_job_as_json_a_consumer_can_read() {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
        let name = format!(
            "c{}_delivery",
            hex::encode(whatspe::crypto::random_bytes::<6>())
        );
        let url = ensure_queue(&sqs, &name).await.expect("queue on moto");
        assert_eq!(ensure_queue(&sqs, &name).await.unwrap(), url, "idempotent");
        let j = job();
        SqsDeliveryQueue::new(sqs.clone(), &url)
            .enqueue(&j)
            .await
            .unwrap();
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let bodies: Vec<DeliveryJob> = got
            .messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect();
        assert_eq!(bodies, vec![j]);
    }
}

// ---------------------------------------------------------------- mobile push

mod mobile_push {
    use super::*;
    use whatspe::aws::sns_push::SnsPushSender;
    use whatspe::memory::RecordingPush;
    use whatspe::ports::{PushError, PushNote, PushSender};

    async fn sns() -> SnsPushSender {
        let client = aws_sdk_sns::Client::new(&sdk_config().await);
        let name = format!("c{}", hex::encode(whatspe::crypto::random_bytes::<6>()));
        let app = client
            .create_platform_application()
            .name(name)
            .platform("GCM")
            .attributes("PlatformCredential", "fake-fcm-key")
            .send()
            .await
            .expect("platform application on moto");
        let arn = app.platform_application_arn().expect("an ARN").to_owned();
        SnsPushSender::new(
            client,
            std::collections::HashMap::from([(Platform::Fcm, arn)]),
        )
    }

    async fn registering_is_idempotent_and_unregistered_endpoints_refuse_pushes(
        p: &dyn PushSender,
    ) {
        assert!(p.supports(Platform::Fcm));
        let e1 = p.register(Platform::Fcm, "token-one").await.unwrap();
        assert_eq!(
            p.register(Platform::Fcm, "token-one").await.unwrap(),
            e1,
            "same token, same endpoint"
        );
        let e2 = p.register(Platform::Fcm, "token-two").await.unwrap();
        assert_ne!(e1, e2);
        let note = PushNote {
            chat_id: ConversationId::direct(&UserId::new_random(), &UserId::new_random()),
            message_id: MessageId::new_v7(),
            sender_name: Username::parse("alice").unwrap(),
        };
        p.push(&e1, Platform::Fcm, &note)
            .await
            .expect("a live endpoint takes a push");
        p.unregister(&e2).await.unwrap();
        assert!(matches!(
            p.push(&e2, Platform::Fcm, &note).await,
            Err(PushError::Disabled)
        ));
    }

    #[tokio::test]
    async fn recording_push_sender() {
        let p = RecordingPush::default();
        registering_is_idempotent_and_unregistered_endpoints_refuse_pushes(&p).await;
        assert_eq!(p.sent().len(), 1);
    }

    #[tokio::test]
    async fn sns_push_sender() {
        let p = sns().await;
        registering_is_idempotent_and_unregistered_endpoints_refuse_pushes(&p).await;
        assert!(
            !p.supports(Platform::Apns),
            "no APNs application configured"
        );
    }
}

/// The media ports: the uploads' records (memory and the `media` table on moto) and the blob
/// store (memory, whose URLs the local gateway serves, and S3 on moto).
mod media {
    use super::*;
    use std::collections::HashMap;
    use whatspe::aws::dynamo::DynamoMedia;
    use whatspe::aws::s3::{S3Blobs, ensure_bucket};
    use whatspe::domain::{MediaId, MediaMeta, MediaState, MediaType, MediaUse};
    use whatspe::memory::{MemoryBlobs, MemoryMedia};
    use whatspe::ports::{BlobStore, MediaStore, Presigned};

    fn upload(owner: UserId, at: i64) -> MediaMeta {
        MediaMeta {
            id: MediaId::new_random(),
            owner,
            content_type: MediaType::parse("image/png").unwrap(),
            size: 1024,
            file_name: Some("cat.png".into()),
            state: MediaState::Pending,
            created_at: t(at),
            chats: vec![],
            profile: false,
        }
    }

    async fn records_round_trip_attach_and_sweep(m: &dyn MediaStore) {
        let owner = UserId::new_random();
        let (old, other_old, new) = (upload(owner, 0), upload(owner, 10), upload(owner, 100));
        for u in [&old, &other_old, &new] {
            m.insert(u).await.unwrap();
        }
        assert_eq!(m.get(&old.id).await.unwrap(), Some(old.clone()));
        assert!(matches!(
            m.insert(&old).await,
            Err(StoreError::Conflict { what: "exists" })
        ));
        assert_eq!(m.get(&MediaId::new_random()).await.unwrap(), None);

        // Attaching: idempotent per chat, a set of chats, and the upload leaves the sweep.
        let (c1, c2) = (ConversationId::new_group(), ConversationId::new_group());
        m.attach(&other_old.id, MediaUse::Chat(c1)).await.unwrap();
        m.attach(&other_old.id, MediaUse::Chat(c1)).await.unwrap();
        m.attach(&other_old.id, MediaUse::Chat(c2)).await.unwrap();
        let got = m.get(&other_old.id).await.unwrap().unwrap();
        assert_eq!(got.state, MediaState::Attached);
        assert!(!got.profile, "a chat's upload is no profile picture");
        let mut want = vec![c1, c2];
        want.sort();
        let mut chats = got.chats.clone();
        chats.sort();
        assert_eq!(chats, want);
        assert!(matches!(
            m.attach(&MediaId::new_random(), MediaUse::Chat(c1)).await,
            Err(StoreError::Conflict { what: "missing" })
        ));
        // A profile picture: attached with the flag, and no chat; again is a no-op.
        m.attach(&new.id, MediaUse::Profile).await.unwrap();
        m.attach(&new.id, MediaUse::Profile).await.unwrap();
        let got = m.get(&new.id).await.unwrap().unwrap();
        assert_eq!(
            (got.state, got.profile, got.chats.len()),
            (MediaState::Attached, true, 0)
        );
        assert!(matches!(
            m.attach(&MediaId::new_random(), MediaUse::Profile).await,
            Err(StoreError::Conflict { what: "missing" })
        ));

        let due: Vec<MediaId> = m
            .pending_before(t(50))
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .filter(|id| [old.id, other_old.id, new.id].contains(id))
            .collect();
        assert_eq!(due, vec![old.id], "pending and older than the cutoff only");
        assert!(
            !m.remove_pending(&new.id).await.unwrap(),
            "a profile picture is kept"
        );

        assert!(m.remove_pending(&old.id).await.unwrap());
        assert_eq!(m.get(&old.id).await.unwrap(), None);
        assert!(!m.remove_pending(&old.id).await.unwrap(), "already gone");
        assert!(
            !m.remove_pending(&other_old.id).await.unwrap(),
            "an attached upload is kept"
        );
        assert!(m.get(&other_old.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn memory_media_records() {
        records_round_trip_attach_and_sweep(&MemoryMedia::default()).await;
    }

    #[tokio::test]
    async fn dynamodb_media_records() {
        let (client, t) = fresh_tables().await;
        records_round_trip_attach_and_sweep(&DynamoMedia::new(client, t.media)).await;
    }

    /// Sends the bytes the way a client follows a presigned PUT.
    type Put<'a> =
        &'a (dyn Fn(Presigned, Vec<u8>) -> futures_util::future::BoxFuture<'static, ()> + Sync);
    type Get<'a> = &'a (dyn Fn(String) -> futures_util::future::BoxFuture<'static, Vec<u8>> + Sync);

    async fn blobs_upload_head_range_download_delete(
        b: &dyn BlobStore,
        put: Put<'_>,
        get: Get<'_>,
    ) {
        let key = MediaId::new_random().object_key();
        assert_eq!(b.head(&key).await.unwrap(), None, "nothing yet");
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend(0..200u8);
        let ttl = std::time::Duration::from_secs(900);
        let signed = b
            .presign_put(&key, "image/png", bytes.len() as u64, ttl)
            .await
            .unwrap();
        assert_eq!(signed.headers["Content-Type"], "image/png", "{signed:?}");
        assert_eq!(
            signed.headers["Content-Length"],
            bytes.len().to_string(),
            "{signed:?}"
        );
        put(signed, bytes.clone()).await;
        let head = b.head(&key).await.unwrap().expect("uploaded");
        assert_eq!(head.size, bytes.len() as u64);
        assert_eq!(head.content_type.as_deref(), Some("image/png"));
        assert_eq!(b.read_prefix(&key, 16).await.unwrap(), bytes[..16].to_vec());
        let url = b.presign_get(&key, ttl).await.unwrap();
        assert_eq!(get(url).await, bytes);
        b.delete(&key).await.unwrap();
        assert_eq!(b.head(&key).await.unwrap(), None, "deleted");
        b.delete(&key).await.unwrap();
    }

    fn query(url: &str) -> (String, HashMap<String, String>) {
        let (path, q) = url.split_once('?').expect("a query");
        let key = path
            .split_once(whatspe::memory::LOCAL_BLOBS_PATH)
            .expect("a blob path")
            .1
            .to_owned();
        let q = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (key, q)
    }

    #[tokio::test]
    async fn memory_blobs() {
        let b = Arc::new(MemoryBlobs::new(Arc::new(whatspe::clock::SystemClock)));
        let (bp, bg) = (b.clone(), b.clone());
        let put =
            move |p: Presigned, bytes: Vec<u8>| -> futures_util::future::BoxFuture<'static, ()> {
                let b = bp.clone();
                Box::pin(async move {
                    let (key, q) = query(&p.url);
                    let signed = b.verify("PUT", &key, &q).expect("a valid upload URL");
                    assert_eq!(
                        signed.upload,
                        Some(("image/png".into(), bytes.len() as u64))
                    );
                    b.put(&key, bytes, "image/png");
                })
            };
        let get = move |url: String| -> futures_util::future::BoxFuture<'static, Vec<u8>> {
            let b = bg.clone();
            Box::pin(async move {
                let (key, q) = query(&url);
                b.verify("GET", &key, &q).expect("a valid download URL");
                assert!(b.verify("PUT", &key, &q).is_err(), "not an upload URL");
                b.get(&key).expect("stored").0
            })
        };
        blobs_upload_head_range_download_delete(b.as_ref(), &put, &get).await;
    }

    #[tokio::test]
    async fn s3_blobs() {
        let sdk = sdk_config().await;
        let client = whatspe::aws::s3::client(&sdk);
        let bucket = format!(
            "c{}-media",
            hex::encode(whatspe::crypto::random_bytes::<6>())
        );
        ensure_bucket(&client, &bucket)
            .await
            .expect("a bucket on moto");
        let http = reqwest::Client::new();
        let (hp, hg) = (http.clone(), http);
        let put =
            move |p: Presigned, bytes: Vec<u8>| -> futures_util::future::BoxFuture<'static, ()> {
                let http = hp.clone();
                Box::pin(async move {
                    let mut req = http.put(&p.url).body(bytes);
                    for (k, v) in &p.headers {
                        req = req.header(k, v);
                    }
                    let res = req.send().await.expect("moto answers");
                    assert_eq!(res.status().as_u16(), 200, "{:?}", res.text().await);
                })
            };
        let get = move |url: String| -> futures_util::future::BoxFuture<'static, Vec<u8>> {
            let http = hg.clone();
            Box::pin(async move {
                let res = http.get(&url).send().await.expect("moto answers");
                assert_eq!(res.status().as_u16(), 200);
                res.bytes().await.unwrap().to_vec()
            })
        };
        blobs_upload_head_range_download_delete(&S3Blobs::new(client, bucket), &put, &get).await;
    }
}

// ---------------------------------------------------------------- secrets at cold start

mod secrets {
    use super::*;
    use whatspe::aws::secrets::{SecretName, resolve};

    /// A function's secrets on moto's Secrets Manager: the ones it uses are read by ARN (or
    /// taken from their variable when set), the others are random; a missing or unreadable
    /// secret fails the cold start with the variable's name.
    #[tokio::test]
    async fn a_function_reads_only_its_secrets_by_arn_at_cold_start() {
        let client = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
        let name = format!("jwt-{}", hex::encode(whatspe::crypto::random_bytes::<6>()));
        let created = client
            .create_secret()
            .name(&name)
            .secret_string("jwt-key-from-secrets-manager-0123456789")
            .send()
            .await
            .expect("create a secret on moto");
        let arn = created.arn().unwrap().to_owned();
        let env = std::collections::HashMap::from([
            ("WHATSPE_JWT_SECRET_ARN".to_owned(), arn.clone()),
            (
                "WHATSPE_WEBHOOK_SECRET".to_owned(),
                "a-local-webhook-key-0123456789abcdef".to_owned(),
            ),
            ("WHATSPE_OTP_SECRET_ARN".to_owned(), "never-read".to_owned()),
        ]);
        let get = |k: &str| env.get(k).cloned();
        let values = resolve(&client, &[SecretName::Jwt, SecretName::Webhook], get)
            .await
            .unwrap();
        assert_eq!(
            values["WHATSPE_JWT_SECRET"],
            "jwt-key-from-secrets-manager-0123456789"
        );
        assert_eq!(
            values["WHATSPE_WEBHOOK_SECRET"],
            "a-local-webhook-key-0123456789abcdef"
        );
        let otp = &values["WHATSPE_OTP_SECRET"];
        assert_eq!(
            otp.len(),
            64,
            "a secret the function does not use is random"
        );
        let again = resolve(&client, &[SecretName::Jwt], get).await.unwrap();
        assert_ne!(&again["WHATSPE_OTP_SECRET"], otp, "random per cold start");

        let err = resolve(&client, &[SecretName::Otp], |_| None)
            .await
            .unwrap_err();
        assert_eq!(err.var, "WHATSPE_OTP_SECRET_ARN", "{err}");
        let err = resolve(&client, &[SecretName::Otp], get).await.unwrap_err();
        assert_eq!(
            err.var, "WHATSPE_OTP_SECRET_ARN",
            "an unreadable secret: {err}"
        );
    }
}
