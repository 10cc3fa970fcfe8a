use super::*;
use crate::app::{App, MemoryHandles, Ports};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::domain::User;
use crate::domain::{ConversationId, MessageId};
use crate::frames::ServerFrame;
use crate::ports::{ConnectionGateway, Device, DeviceStore, Platform, PushNote, Session};
use crate::services::{Delivered, DeliveryService};
use crate::services::{Recipient, RequestOutcome};
use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

struct Harness {
    app: App,
    ports: Ports,
    handles: MemoryHandles,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (ports, handles) = Ports::in_memory(clock.clone());
    let app = App::new(Config::for_tests(), ports.clone());
    Harness {
        app,
        ports,
        handles,
        clock,
    }
}

impl Harness {
    /// A user with a live session; returns the user and an access token.
    async fn user(&self, name: &str, n: u32) -> (User, String) {
        let u = User::sample(name, n, self.clock.now());
        self.ports.users.create(&u).await.unwrap();
        let (_, token) = self.session(&u).await;
        (u, token)
    }

    /// A new live session of `u`, and an access token of it.
    async fn session(&self, u: &User) -> (crate::domain::SessionId, String) {
        let now = self.clock.now();
        let id = crate::domain::SessionId::new_random();
        let session = Session {
            id,
            user_id: u.id,
            token_hash: "x".into(),
            previous_hash: None,
            created_at: now,
            rotated_at: now,
            expires_at: now + TimeDelta::days(30),
            revoked: false,
            rotations: 0,
        };
        self.ports.sessions.create(&session).await.unwrap();
        (id, self.app.tokens.issue_access(&u.id, &id).unwrap().0)
    }

    async fn befriend(&self, a: &User, b: &User) {
        let RequestOutcome::Created(r) = self
            .app
            .contacts
            .send_request(&a.id, &Recipient::Id(b.id))
            .await
            .unwrap()
        else {
            panic!("a new request")
        };
        self.app.contacts.accept(&b.id, &r.id).await.unwrap();
    }

    fn frames_to(&self, connection: &str) -> Vec<Value> {
        self.handles
            .gateway
            .frames_to(connection)
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect()
    }

    fn presence_jobs(&self) -> Vec<DeliveryJob> {
        self.handles
            .queue
            .jobs()
            .into_iter()
            .filter(|j| matches!(j.frame, ServerFrame::Pres(_)))
            .collect()
    }
}

#[tokio::test]
async fn connecting_needs_a_valid_token_of_a_live_session() {
    let h = harness();
    let (u, token) = h.user("alice", 1).await;
    assert_eq!(
        h.app
            .realtime
            .connect("c1", None, None)
            .await
            .unwrap_err()
            .code(),
        "missing_token"
    );
    assert_eq!(
        h.app
            .realtime
            .connect("c1", Some("garbage"), None)
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    let c = h
        .app
        .realtime
        .connect("c1", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(
        (c.user_id, c.expires_at),
        (u.id, h.clock.now() + CONNECTION_TTL)
    );
    let sid = h.app.tokens.verify_access(&token).unwrap().session_id;
    h.app.auth.logout(&u.id, &sid).await.unwrap();
    assert_eq!(
        h.app
            .realtime
            .connect("c2", Some(&token), None)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
    assert_eq!(
        h.ports.connections.get("c2").await.unwrap(),
        None,
        "no row for a refused connection"
    );
    h.clock.advance(TimeDelta::minutes(16));
    assert_eq!(
        h.app
            .realtime
            .connect("c3", Some(&token), None)
            .await
            .unwrap_err()
            .code(),
        "token_expired"
    );
}

#[tokio::test]
async fn presence_goes_to_contacts_on_the_first_connection_and_after_the_last() {
    let h = harness();
    let (a, ta) = h.user("alice", 1).await;
    let (b, _) = h.user("bob", 2).await;
    h.befriend(&a, &b).await;
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    h.app.realtime.connect("a2", Some(&ta), None).await.unwrap();
    let jobs = h.presence_jobs();
    assert_eq!(jobs.len(), 1, "only the first connection announces");
    assert_eq!(jobs[0].to, vec![b.id]);
    assert_eq!(
        jobs[0].frame,
        ServerFrame::Pres(PresenceEvent {
            u: a.id,
            on: true,
            ls: None
        })
    );
    h.clock.advance(TimeDelta::minutes(3));
    h.app.realtime.disconnect("a1").await.unwrap();
    assert_eq!(h.presence_jobs().len(), 1, "still online on a2");
    h.app.realtime.disconnect("a2").await.unwrap();
    h.app.realtime.disconnect("a2").await.unwrap();
    let jobs = h.presence_jobs();
    assert_eq!(
        jobs.len(),
        2,
        "one offline announcement, even for a repeated $disconnect"
    );
    let now = h.clock.now();
    assert_eq!(
        jobs[1].frame,
        ServerFrame::Pres(PresenceEvent {
            u: a.id,
            on: false,
            ls: Some(now)
        })
    );
    assert_eq!(h.app.auth.me(&a.id).await.unwrap().last_seen, now);
}

#[tokio::test]
async fn the_first_frame_is_preceded_by_conn_and_ping_gets_pong() {
    let h = harness();
    let (a, ta) = h.user("alice", 1).await;
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    h.app.realtime.frame("a1", r#"{"t":"PING"}"#).await.unwrap();
    h.app.realtime.frame("a1", r#"{"t":"PING"}"#).await.unwrap();
    let frames = h.frames_to("a1");
    let types: Vec<&str> = frames.iter().map(|f| f["t"].as_str().unwrap()).collect();
    assert_eq!(types, ["CONN", "PONG", "PONG"]);
    assert_eq!(
        frames[0]["d"],
        serde_json::json!({ "u": a.id, "cid": "a1", "hb": HEARTBEAT_SECS })
    );
    assert_eq!(
        h.app
            .realtime
            .frame("ghost", r#"{"t":"PING"}"#)
            .await
            .unwrap_err()
            .code(),
        "unknown_connection"
    );
}

#[tokio::test]
async fn refused_frames_get_err_and_the_connection_stays_usable() {
    let h = harness();
    let (_, ta) = h.user("alice", 1).await;
    let (stranger, _) = h.user("carol", 3).await;
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    let cases = [
        ("not json".to_owned(), "invalid_frame"),
        (r#"{"t":"SHOUT"}"#.to_owned(), "unknown_frame"),
        (
            format!(r#"{{"t":"TYPING","d":{{"r":"{}"}}}}"#, stranger.id),
            "not_a_contact",
        ),
        (
            format!(
                r#"{{"t":"MSG","d":{{"r":"{}","c":"hi","cm":"k1"}}}}"#,
                stranger.id
            ),
            "not_a_contact",
        ),
        (
            format!(
                r#"{{"t":"READ","d":{{"p":"{}","upTo":"{}"}}}}"#,
                stranger.id,
                crate::domain::MessageId::new_v7()
            ),
            "conversation_not_found",
        ),
        (
            format!(r#"{{"t":"MSG","d":{{"r":"{}","c":" "}}}}"#, stranger.id),
            "empty_content",
        ),
    ];
    for (frame, code) in &cases {
        h.app.realtime.frame("a1", frame).await.unwrap();
        let last = h.frames_to("a1").pop().unwrap();
        assert_eq!(
            (last["t"].as_str(), last["d"]["code"].as_str()),
            (Some("ERR"), Some(*code)),
            "{frame}"
        );
    }
    // CONN, then one ERR per case: the MSG with cm "k1" is case 3, frame 4.
    let errs = h.frames_to("a1");
    assert_eq!(
        errs[4]["d"]["cm"], "k1",
        "an ERR for a MSG names its client id"
    );
    h.app.realtime.frame("a1", r#"{"t":"PING"}"#).await.unwrap();
    assert_eq!(h.frames_to("a1").pop().unwrap()["t"], "PONG");
}

#[tokio::test]
async fn typing_is_relayed_to_every_connection_of_a_contact_and_msg_is_acked() {
    let h = harness();
    let (a, ta) = h.user("alice", 1).await;
    let (b, tb) = h.user("bob", 2).await;
    h.befriend(&a, &b).await;
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    h.app.realtime.connect("b1", Some(&tb), None).await.unwrap();
    h.app.realtime.connect("b2", Some(&tb), None).await.unwrap();
    h.app
        .realtime
        .frame("a1", &format!(r#"{{"t":"TYPING","d":{{"r":"{}"}}}}"#, b.id))
        .await
        .unwrap();
    for conn in ["b1", "b2"] {
        let frames = h.frames_to(conn);
        assert_eq!(frames.len(), 1, "{conn}: {frames:?}");
        assert_eq!(
            frames[0],
            serde_json::json!({ "t": "TYPING", "d": { "s": a.id } })
        );
    }
    h.app
        .realtime
        .frame(
            "a1",
            &format!(
                r#"{{"t":"MSG","d":{{"r":"{}","c":"hi","cm":"c-1"}}}}"#,
                b.id
            ),
        )
        .await
        .unwrap();
    let ack = h.frames_to("a1").pop().unwrap();
    assert_eq!(
        (ack["t"].as_str(), ack["d"]["cm"].as_str()),
        (Some("ACK"), Some("c-1"))
    );
    let stored = h
        .app
        .messages
        .history(&b.id, &a.id, crate::ports::HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(
        stored.messages[0].id.to_string(),
        ack["d"]["id"].as_str().unwrap()
    );
    h.app
        .realtime
        .frame(
            "a1",
            &format!(
                r#"{{"t":"MSG","d":{{"r":"{}","c":"hi","cm":"c-1"}}}}"#,
                b.id
            ),
        )
        .await
        .unwrap();
    let again = h.frames_to("a1").pop().unwrap();
    assert_eq!(
        again["d"]["id"], ack["d"]["id"],
        "a retried MSG is acked with the original id"
    );
}

#[tokio::test]
async fn a_job_reaches_every_live_connection_and_forgets_gone_ones() {
    let h = harness();
    let (a, ta) = h.user("alice", 1).await;
    let (b, tb) = h.user("bob", 2).await;
    h.app.realtime.connect("b1", Some(&tb), None).await.unwrap();
    h.app.realtime.connect("b2", Some(&tb), None).await.unwrap();
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    h.handles.gateway.close("b1");
    let frame = ServerFrame::Typing(TypingEvent { s: a.id });
    let job = DeliveryJob {
        to: vec![b.id, a.id, b.id],
        push: vec![b.id],
        frame,
        note: None,
        fanout: None,
    };
    // Past the grace a new connection gets while its handshake completes.
    h.clock
        .advance(crate::services::delivery::CONNECT_GRACE + chrono::TimeDelta::seconds(1));
    let done = h.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!(
        done,
        Delivered {
            posted: 2,
            gone: 1,
            pushed: 0,
            skipped: 0
        }
    );
    assert_eq!(h.frames_to("b2").len(), 1);
    assert_eq!(h.frames_to("a1").len(), 1);
    assert_eq!(
        h.ports.connections.get("b1").await.unwrap(),
        None,
        "410 Gone forgets the connection"
    );
}

/// API Gateway answers 410 for a connection whose `$connect` stored it until the handshake
/// completes: within [`crate::services::delivery::CONNECT_GRACE`] such a connection is kept
/// (its client catches up after CONN), after it the connection is forgotten.
#[tokio::test]
async fn a_410_from_a_connection_still_opening_keeps_it() {
    let h = harness();
    let (a, _) = h.user("alice", 1).await;
    let (b, tb) = h.user("bob", 2).await;
    h.app.realtime.connect("b1", Some(&tb), None).await.unwrap();
    h.app.realtime.connect("b2", Some(&tb), None).await.unwrap();
    h.handles.gateway.close("b1");
    let job = DeliveryJob {
        to: vec![b.id],
        push: vec![],
        frame: ServerFrame::Typing(TypingEvent { s: a.id }),
        note: None,
        fanout: None,
    };
    let done = h.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!((done.posted, done.gone), (1, 1));
    assert!(
        h.ports.connections.get("b1").await.unwrap().is_some(),
        "a connection still opening is kept"
    );
    assert_eq!(h.frames_to("b2").len(), 1, "the open one got it");
    h.clock
        .advance(crate::services::delivery::CONNECT_GRACE + chrono::TimeDelta::seconds(1));
    h.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!(
        h.ports.connections.get("b1").await.unwrap(),
        None,
        "then forgotten"
    );
}

/// A note for a message of `from` in the chat with `to`.
fn note_of(from: &User, to: &User) -> PushNote {
    PushNote {
        chat_id: ConversationId::direct(&from.id, &to.id),
        message_id: MessageId::new_v7(),
        sender_name: from.username.clone(),
    }
}

#[tokio::test]
async fn users_without_a_live_connection_get_a_mobile_push_and_dead_endpoints_are_removed() {
    let h = harness();
    let (a, _) = h.user("alice", 1).await;
    let (b, tb) = h.user("bob", 2).await;
    let sb = h.app.tokens.verify_access(&tb).unwrap().session_id;
    let d1 = h
        .app
        .devices
        .register(&b.id, &sb, "fcm", "token-1")
        .await
        .unwrap();
    let d2 = h
        .app
        .devices
        .register(&b.id, &sb, "apns", "token-2")
        .await
        .unwrap();
    assert_eq!(
        h.app
            .devices
            .register(&b.id, &sb, "fcm", "token-1")
            .await
            .unwrap()
            .id,
        d1.id,
        "same token, same device"
    );
    h.handles.push.disable(&d2.endpoint_arn);
    let note = note_of(&a, &b);
    let job = DeliveryJob {
        to: vec![b.id],
        push: vec![b.id],
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: Some(note.clone()),
        fanout: None,
    };
    let done = h.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!(
        done,
        Delivered {
            posted: 0,
            gone: 0,
            pushed: 1,
            skipped: 0
        }
    );
    let sent = h.handles.push.sent();
    assert_eq!(sent[0].endpoint, d1.endpoint_arn);
    assert_eq!(sent[0].note, note, "the job's note is what is pushed");
    let left: Vec<uuid::Uuid> = h
        .app
        .devices
        .list(&b.id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left, vec![d1.id], "the disabled endpoint's device is gone");
    for (silent, case) in [
        (
            DeliveryJob {
                to: vec![b.id],
                push: vec![],
                frame: ServerFrame::Pong(crate::frames::Empty {}),
                note: Some(note.clone()),
                fanout: None,
            },
            "not a push target",
        ),
        (
            DeliveryJob {
                to: vec![b.id],
                push: vec![b.id],
                frame: ServerFrame::Pong(crate::frames::Empty {}),
                note: None,
                fanout: None,
            },
            "no note: receipts and presence are never pushed",
        ),
    ] {
        assert_eq!(
            h.app.delivery.deliver(&silent, 1).await.unwrap().pushed,
            0,
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_message_to_an_offline_user_is_pushed_without_its_content() {
    let h = harness();
    let (a, _) = h.user("alice", 1).await;
    let (b, tb) = h.user("bob", 2).await;
    h.befriend(&a, &b).await;
    let sb = h.app.tokens.verify_access(&tb).unwrap().session_id;
    let d = h
        .app
        .devices
        .register(&b.id, &sb, "apns", "token-b")
        .await
        .unwrap();
    let secret = "meet me at the old mill at midnight";
    let crate::services::SendOutcome::Created(m) = h
        .app
        .messages
        .send(
            &a.id,
            crate::services::NewMessage {
                receiver: b.id,
                kind: crate::domain::MessageKind::Text,
                content: crate::domain::Content::parse(crate::domain::MessageKind::Text, secret)
                    .unwrap(),
                client_message_id: None,
                media: None,
                reply_to: None,
                forwarded: false,
            },
        )
        .await
        .unwrap()
    else {
        panic!("a new message");
    };
    // The relay function, fed by the messages table's stream, queues the job.
    for committed in h.handles.stream.try_take(10) {
        h.app.messages.relay(&committed).await.unwrap();
    }
    let job = h
        .handles
        .queue
        .jobs()
        .into_iter()
        .find(|j| matches!(j.frame, ServerFrame::Msg(_)))
        .expect("the message's job");
    assert_eq!(h.app.delivery.deliver(&job, 1).await.unwrap().pushed, 1);
    let sent = h.handles.push.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].endpoint, d.endpoint_arn);
    assert_eq!(
        sent[0].note,
        PushNote {
            chat_id: m.chat_id,
            message_id: m.id,
            sender_name: a.username.clone(),
        }
    );
    // What SNS would publish to the phone, for each platform.
    for platform in [Platform::Fcm, Platform::Apns] {
        let published = crate::aws::sns_push::notification(platform, &sent[0].note);
        assert!(
            !published.contains("old mill"),
            "{platform:?}: no message content in {published}"
        );
        assert!(published.contains(&m.id.to_string()) && published.contains("alice"));
    }
}

struct Broken;

#[async_trait]
impl ConnectionGateway for Broken {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PostError> {
        Err(PostError::Failed("throttled".into()))
    }

    async fn close(&self, _: &str) -> Result<(), PostError> {
        Err(PostError::Failed("throttled".into()))
    }
}

#[tokio::test]
async fn a_post_that_fails_for_another_reason_fails_the_job_so_it_is_retried() {
    let h = harness();
    let (b, tb) = h.user("bob", 2).await;
    h.app.realtime.connect("b1", Some(&tb), None).await.unwrap();
    let delivery = DeliveryService {
        connections: h.ports.connections.clone(),
        gateway: Arc::new(Broken),
        devices: h.ports.devices.clone(),
        push: h.ports.push.clone(),
        ledger: h.ports.ledger.clone(),
        groups: h.ports.groups.clone(),
        clock: h.clock.clone(),
    };
    let job = DeliveryJob {
        to: vec![b.id],
        push: vec![b.id],
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: None,
        fanout: None,
    };
    assert!(delivery.deliver(&job, 1).await.is_err());
    assert!(
        h.ports.connections.get("b1").await.unwrap().is_some(),
        "a failed post does not forget the connection"
    );
}

/// The recording gateway, except that the `fail_at`-th post (counting from 1) fails once.
struct FailsOnce {
    inner: Arc<crate::memory::RecordingGateway>,
    posts: std::sync::atomic::AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl ConnectionGateway for FailsOnce {
    async fn post(&self, id: &str, data: &[u8]) -> Result<(), PostError> {
        let n = self.posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == self.fail_at {
            return Err(PostError::Failed("throttled".into()));
        }
        ConnectionGateway::post(&*self.inner, id, data).await
    }

    async fn close(&self, id: &str) -> Result<(), PostError> {
        ConnectionGateway::close(&*self.inner, id).await
    }
}

#[tokio::test]
async fn a_job_failing_at_its_kth_post_is_redelivered_to_the_rest_only_and_pushes_once() {
    let h = harness();
    let (b, tb) = h.user("bob", 2).await;
    let (c, tc) = h.user("carol", 3).await;
    for id in ["b1", "b2", "b3"] {
        h.app.realtime.connect(id, Some(&tb), None).await.unwrap();
    }
    let sc = h.app.tokens.verify_access(&tc).unwrap().session_id;
    for token in ["token-1", "token-2"] {
        h.app
            .devices
            .register(&c.id, &sc, "fcm", token)
            .await
            .unwrap();
    }
    let delivery = DeliveryService {
        connections: h.ports.connections.clone(),
        gateway: Arc::new(FailsOnce {
            inner: h.handles.gateway.clone(),
            posts: Default::default(),
            fail_at: 2,
        }),
        devices: h.ports.devices.clone(),
        push: h.ports.push.clone(),
        ledger: h.ports.ledger.clone(),
        groups: h.ports.groups.clone(),
        clock: h.clock.clone(),
    };
    let job = DeliveryJob {
        to: vec![b.id, c.id],
        push: vec![b.id, c.id],
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: Some(crate::ports::PushNote {
            chat_id: crate::domain::ConversationId::direct(&b.id, &c.id),
            message_id: crate::domain::MessageId::new_v7(),
            sender_name: b.username.clone(),
        }),
        fanout: None,
    };
    assert!(
        delivery.deliver(&job, 1).await.is_err(),
        "the failed post fails the job"
    );
    let redelivered = delivery.deliver(&job, 2).await.unwrap();
    assert_eq!(
        redelivered,
        Delivered {
            posted: 1,
            gone: 0,
            pushed: 0,
            skipped: 4
        },
        "the redelivery posts to the one connection it missed, skips two and both devices"
    );
    for id in ["b1", "b2", "b3"] {
        let pongs = h
            .frames_to(id)
            .into_iter()
            .filter(|f| f["t"] == "PONG")
            .count();
        assert_eq!(pongs, 1, "{id} got the frame exactly once");
    }
    assert_eq!(h.handles.push.sent().len(), 2, "one push per device, ever");
}

/// The memory device store, except that reading many users' devices fails.
struct DevicesUnreadable(Arc<dyn DeviceStore>);

#[async_trait]
impl DeviceStore for DevicesUnreadable {
    async fn put(&self, d: &Device) -> Result<(), StoreError> {
        self.0.put(d).await
    }
    async fn list(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        self.0.list(user).await
    }
    async fn list_many(&self, _: &[UserId]) -> Result<Vec<Device>, StoreError> {
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn delete(&self, user: &UserId, id: &uuid::Uuid) -> Result<Option<Device>, StoreError> {
        self.0.delete(user, id).await
    }
    async fn delete_session(
        &self,
        user: &UserId,
        session: &crate::domain::SessionId,
    ) -> Result<Vec<Device>, StoreError> {
        self.0.delete_session(user, session).await
    }
}

#[tokio::test]
async fn a_store_failure_after_some_posts_fails_the_job_and_its_retry_skips_them() {
    let h = harness();
    let (a, ta) = h.user("alice", 1).await;
    let (b, _) = h.user("bob", 2).await;
    h.app.realtime.connect("a1", Some(&ta), None).await.unwrap();
    let job = DeliveryJob {
        to: vec![b.id, a.id],
        push: vec![b.id],
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: Some(note_of(&a, &b)),
        fanout: None,
    };
    let failing = DeliveryService {
        connections: h.ports.connections.clone(),
        gateway: h.handles.gateway.clone(),
        devices: Arc::new(DevicesUnreadable(h.ports.devices.clone())),
        push: h.ports.push.clone(),
        ledger: h.ports.ledger.clone(),
        groups: h.ports.groups.clone(),
        clock: h.clock.clone(),
    };
    assert!(
        failing.deliver(&job, 1).await.is_err(),
        "Bob's devices could not be read: the job fails"
    );
    assert_eq!(h.frames_to("a1").len(), 1);
    let retried = h.app.delivery.deliver(&job, 2).await.unwrap();
    assert_eq!(
        (retried.posted, retried.skipped),
        (0, 1),
        "a1 was recorded as served before the job failed"
    );
    assert_eq!(h.frames_to("a1").len(), 1, "a1 got the frame once");
}

#[tokio::test]
async fn a_job_to_a_group_reaches_every_online_member_and_pushes_the_others() {
    let h = harness();
    let (sender, ts) = h.user("sender", 1).await;
    h.app.realtime.connect("s1", Some(&ts), None).await.unwrap();
    let mut members = vec![sender.id];
    let mut pushed = Vec::new();
    for i in 0..80u32 {
        let (m, tm) = h.user(&format!("member{i}"), 10 + i).await;
        members.push(m.id);
        if i % 10 == 0 {
            h.app
                .realtime
                .connect(&format!("m{i}"), Some(&tm), None)
                .await
                .unwrap();
        } else if i % 10 == 1 {
            let sm = h.app.tokens.verify_access(&tm).unwrap().session_id;
            let d = h
                .app
                .devices
                .register(&m.id, &sm, "fcm", &format!("token-{i}"))
                .await
                .unwrap();
            pushed.push(d.endpoint_arn);
        }
    }
    let job = DeliveryJob {
        to: members.clone(),
        push: members[1..].to_vec(),
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: Some(note_of(&sender, &sender)),
        fanout: None,
    };
    let done = h.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!(
        done,
        Delivered {
            posted: 9,
            gone: 0,
            pushed: 8,
            skipped: 0
        },
        "the sender's connection and the 8 online members', a push to the 8 with a device"
    );
    let mut sent: Vec<String> = h
        .handles
        .push
        .sent()
        .into_iter()
        .map(|p| p.endpoint)
        .collect();
    sent.sort();
    pushed.sort();
    assert_eq!(sent, pushed);
}

#[tokio::test]
async fn a_user_has_at_most_a_hundred_devices_and_may_re_register_one_at_the_cap() {
    let h = harness();
    let (b, tb) = h.user("bob", 2).await;
    let sb = h.app.tokens.verify_access(&tb).unwrap().session_id;
    let cap = crate::services::devices::MAX_DEVICES_PER_USER;
    for i in 0..cap {
        h.app
            .devices
            .register(&b.id, &sb, "fcm", &format!("token-{i}"))
            .await
            .unwrap();
    }
    let refused = h.app.devices.register(&b.id, &sb, "fcm", "one-more").await;
    assert!(
        matches!(
            refused,
            Err(Error::Conflict {
                code: "too_many_devices",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(
        h.handles.push.endpoints().len(),
        cap,
        "no platform endpoint for the refused token"
    );
    h.app
        .devices
        .register(&b.id, &sb, "fcm", "token-7")
        .await
        .expect("one of the hundred registers again");
    let first = h.app.devices.list(&b.id).await.unwrap()[0].id;
    h.app.devices.remove(&b.id, &first).await.unwrap();
    h.app
        .devices
        .register(&b.id, &sb, "fcm", "one-more")
        .await
        .expect("room again after a removal");
}

#[tokio::test]
async fn a_user_has_at_most_a_hundred_live_connections() {
    let h = harness();
    let (b, tb) = h.user("bob", 2).await;
    let cap = super::MAX_CONNECTIONS_PER_USER;
    for i in 0..cap {
        h.app
            .realtime
            .connect(&format!("b{i}"), Some(&tb), None)
            .await
            .unwrap();
    }
    let refused = h.app.realtime.connect("extra", Some(&tb), None).await;
    let Err(Error::RateLimited {
        code, retry_after, ..
    }) = refused
    else {
        panic!("expected 429, got {refused:?}")
    };
    assert_eq!(code, "too_many_connections");
    assert_eq!(
        retry_after.as_secs(),
        super::CONNECTION_TTL.num_seconds() as u64,
        "until the oldest connection expires"
    );
    assert_eq!(h.ports.connections.get("extra").await.unwrap(), None);
    h.app.realtime.disconnect("b0").await.unwrap();
    h.app
        .realtime
        .connect("extra", Some(&tb), None)
        .await
        .expect("room again after a disconnect");
    h.clock.advance(super::CONNECTION_TTL);
    let (_, fresh) = h.session(&b).await;
    h.app
        .realtime
        .connect("later", Some(&fresh), None)
        .await
        .expect("expired connections do not count");
}

#[tokio::test]
async fn device_registration_checks_platform_and_token() {
    let h = harness();
    let (b, tb) = h.user("bob", 2).await;
    let sb = h.app.tokens.verify_access(&tb).unwrap().session_id;
    let code = |r: Result<Device, Error>| r.unwrap_err().code();
    assert_eq!(
        code(h.app.devices.register(&b.id, &sb, "sms", "t").await),
        "invalid_platform"
    );
    assert_eq!(
        code(h.app.devices.register(&b.id, &sb, "fcm", "").await),
        "invalid_push_token"
    );
    assert_eq!(
        code(h.app.devices.register(&b.id, &sb, "fcm", "has space").await),
        "invalid_push_token"
    );
    assert_eq!(
        h.app
            .devices
            .remove(&b.id, &uuid::Uuid::new_v4())
            .await
            .unwrap_err()
            .code(),
        "device_not_found"
    );
}

#[tokio::test]
async fn ending_a_session_closes_only_its_sockets() {
    let h = harness();
    let (a, t1) = h.user("alice", 1).await;
    let (_, t2) = h.session(&a).await;
    for (id, token) in [("s1a", &t1), ("s1b", &t1), ("s2", &t2)] {
        h.app.realtime.connect(id, Some(token), None).await.unwrap();
    }
    // s1b's client vanished without $disconnect: its close answers 410.
    h.handles.gateway.close("s1b");
    let sid = h.app.tokens.verify_access(&t1).unwrap().session_id;
    h.app.auth.logout(&a.id, &sid).await.unwrap();
    assert_eq!(h.handles.gateway.closed_by_server(), vec!["s1a".to_owned()]);
    assert_eq!(
        h.ports.connections.get("s1b").await.unwrap(),
        None,
        "a gone socket's row is deleted"
    );
    assert!(
        h.ports.connections.get("s2").await.unwrap().is_some(),
        "the other session stays connected"
    );
    assert!(h.ports.sessions.get(&sid).await.unwrap().unwrap().revoked);
}

#[tokio::test]
async fn logging_out_unregisters_only_that_sessions_devices() {
    let h = harness();
    let (a, t1) = h.user("alice", 1).await;
    let (s2, _) = h.session(&a).await;
    let (b, tb) = h.user("bob", 2).await;
    let s1 = h.app.tokens.verify_access(&t1).unwrap().session_id;
    let sb = h.app.tokens.verify_access(&tb).unwrap().session_id;
    let phone = h
        .app
        .devices
        .register(&a.id, &s1, "fcm", "a-phone")
        .await
        .unwrap();
    let tablet = h
        .app
        .devices
        .register(&a.id, &s1, "apns", "a-tablet")
        .await
        .unwrap();
    let other = h
        .app
        .devices
        .register(&a.id, &s2, "fcm", "a-other")
        .await
        .unwrap();
    let bobs = h
        .app
        .devices
        .register(&b.id, &sb, "fcm", "b-phone")
        .await
        .unwrap();

    h.app.auth.logout(&a.id, &s1).await.unwrap();

    assert_eq!(
        h.app.devices.list(&a.id).await.unwrap(),
        vec![other.clone()],
        "only the other session's device is left"
    );
    assert_eq!(h.app.devices.list(&b.id).await.unwrap(), vec![bobs.clone()]);
    let endpoints = h.handles.push.endpoints();
    for gone in [&phone, &tablet] {
        assert!(
            !endpoints.contains(&gone.endpoint_arn),
            "the logged-out session's endpoint {} is deleted",
            gone.endpoint_arn
        );
    }
    for kept in [&other, &bobs] {
        assert!(endpoints.contains(&kept.endpoint_arn));
    }
    // Nothing left to push to for the ended session; the other session still gets pushes.
    let job = DeliveryJob {
        to: vec![a.id],
        push: vec![a.id],
        frame: ServerFrame::Pong(crate::frames::Empty {}),
        note: Some(note_of(&b, &a)),
        fanout: None,
    };
    assert_eq!(h.app.delivery.deliver(&job, 1).await.unwrap().pushed, 1);
    let sent: Vec<String> = h
        .handles
        .push
        .sent()
        .into_iter()
        .map(|p| p.endpoint)
        .collect();
    assert_eq!(sent, vec![other.endpoint_arn]);
}

#[tokio::test]
async fn a_reused_refresh_token_also_closes_the_sessions_sockets() {
    let h = harness();
    h.user("alice", 1).await;
    // A real session through sign-in: request-otp → verify-otp on the registered number.
    h.app
        .auth
        .request_otp("9000000001", "198.51.100.7")
        .await
        .unwrap();
    let body = h.handles.outbox.messages(None).pop().unwrap().body;
    let code: String = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let crate::services::Verified::Existing { tokens, user } = h
        .app
        .auth
        .verify_otp("9000000001", &code, "198.51.100.7")
        .await
        .unwrap()
    else {
        panic!("a registered number signs in");
    };
    let sid = h
        .app
        .tokens
        .verify_access(&tokens.access_token)
        .unwrap()
        .session_id;
    h.app
        .devices
        .register(&user.id, &sid, "fcm", "leaked-phone")
        .await
        .unwrap();
    h.app
        .realtime
        .connect("s1", Some(&tokens.access_token), None)
        .await
        .unwrap();
    h.app
        .auth
        .refresh(&tokens.refresh_token)
        .await
        .expect("the first use rotates");
    // Past the grace window in which a retried refresh gets the same pair again.
    h.clock.advance(crate::services::auth::REFRESH_GRACE);
    let err = h.app.auth.refresh(&tokens.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), "refresh_token_reused");
    assert_eq!(
        h.handles.gateway.closed_by_server(),
        vec!["s1".to_owned()],
        "the leaked session's socket is closed"
    );
    assert_eq!(
        h.app.devices.list(&user.id).await.unwrap(),
        vec![],
        "the leaked session's device is unregistered"
    );
    assert_eq!(h.handles.push.endpoints(), Vec::<String>::new());
}

#[tokio::test]
async fn a_frame_on_a_socket_of_a_revoked_session_is_refused_and_closes_it_within_the_bound() {
    let h = harness();
    let (_, token) = h.user("alice", 1).await;
    let sid = h.app.tokens.verify_access(&token).unwrap().session_id;
    h.app
        .realtime
        .connect("c1", Some(&token), None)
        .await
        .unwrap();
    h.app.realtime.frame("c1", r#"{"t":"PING"}"#).await.unwrap();
    // Revoked behind the socket's back (as if the close at logout had failed).
    h.ports.sessions.revoke(&sid).await.unwrap();
    h.clock
        .advance(TimeDelta::from_std(Config::for_tests().session_check).unwrap());
    h.app.realtime.frame("c1", r#"{"t":"PING"}"#).await.unwrap();
    let last = h.frames_to("c1").last().cloned().unwrap();
    assert_eq!(last["t"], "ERR", "{last}");
    assert_eq!(last["d"]["code"], "session_revoked", "{last}");
    assert_eq!(h.handles.gateway.closed_by_server(), ["c1"]);
    assert!(
        h.ports.connections.get("c1").await.unwrap().is_none(),
        "the row is gone: no more deliveries to it"
    );
    assert_eq!(
        h.app
            .realtime
            .frame("c1", r#"{"t":"PING"}"#)
            .await
            .unwrap_err()
            .code(),
        "unknown_connection"
    );
}
