use super::*;
use crate::app::{MemoryHandles, Ports};
use crate::clock::ManualClock;
use crate::domain::{CountryCode, MessageStatus, User};
use crate::error::BoxError;
use crate::services::{ContactService, Recipient, RequestOutcome};
use async_trait::async_trait;
use chrono::{TimeDelta, Utc};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Message ids before and after any a test sends (UUIDv7 at the start and end of time).
const ANCIENT: MessageId = MessageId::from_uuid(uuid::Uuid::from_u128(
    0x0000_0000_0000_7000_8000_0000_0000_0001,
));
const FAR_FUTURE: MessageId = MessageId::from_uuid(uuid::Uuid::from_u128(
    0xffff_ffff_ffff_7fff_bfff_ffff_ffff_ffff,
));

struct Harness {
    svc: MessageService,
    ports: Ports,
    handles: MemoryHandles,
    clock: Arc<ManualClock>,
    alice: User,
    bob: User,
}

async fn harness_with(rate: SendRate, queue: Option<Arc<dyn DeliveryQueue>>) -> Harness {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (ports, handles) = Ports::in_memory(clock.clone());
    let mk = |name: &str, n: u32| User::sample(name, n, clock.now());
    let (alice, bob) = (mk("alice", 1), mk("bob", 2));
    ports.users.create(&alice).await.unwrap();
    ports.users.create(&bob).await.unwrap();
    let contacts = ContactService::new(
        ports.users.clone(),
        ports.requests.clone(),
        ports.contacts.clone(),
        Arc::new(crate::services::ConnectionPresence::new(
            ports.connections.clone(),
            clock.clone(),
        )),
        ports.notifier.clone(),
        clock.clone(),
        CountryCode::parse("91").unwrap(),
    );
    let RequestOutcome::Created(r) = contacts
        .send_request(&alice.id, &Recipient::Id(bob.id))
        .await
        .unwrap()
    else {
        panic!("a new request");
    };
    contacts.accept(&bob.id, &r.id).await.unwrap();
    let svc = MessageService::new(
        ports.users.clone(),
        ports.messages.clone(),
        ports.groups.clone(),
        queue.unwrap_or_else(|| ports.queue.clone()),
        clock.clone(),
        rate,
        KEY,
    );
    Harness {
        svc,
        ports,
        handles,
        clock,
        alice,
        bob,
    }
}

impl Harness {
    /// Relays every committed message still on the stream (what the relay function does
    /// with the table's stream) and returns every job queued so far.
    async fn relayed(&self) -> Vec<DeliveryJob> {
        let batch = self.handles.stream.try_take(usize::MAX);
        for m in &batch {
            self.svc.relay(m).await.unwrap();
        }
        let n = batch.len();
        self.handles.stream.ack(batch, n);
        self.handles.queue.jobs()
    }
}

async fn harness() -> Harness {
    harness_with(SendRate::default(), None).await
}

fn text(to: &User, s: &str) -> NewMessage {
    NewMessage {
        receiver: to.id,
        kind: MessageKind::Text,
        content: Content::parse(MessageKind::Text, s).unwrap(),
        client_message_id: None,
        media: None,
        reply_to: None,
        forwarded: false,
    }
}

fn created(o: SendOutcome) -> MessageView {
    match o {
        SendOutcome::Created(m) => m,
        other => panic!("expected a new message, got {other:?}"),
    }
}

#[tokio::test]
async fn a_burst_is_allowed_then_the_bucket_refills_at_the_configured_rate() {
    let h = harness_with(
        SendRate {
            burst: 3,
            per_second: 2,
        },
        None,
    )
    .await;
    for i in 0..3 {
        created(
            h.svc
                .send(&h.alice.id, text(&h.bob, &format!("m{i}")))
                .await
                .unwrap(),
        );
    }
    let Error::RateLimited { retry_after, .. } = h
        .svc
        .send(&h.alice.id, text(&h.bob, "m3"))
        .await
        .unwrap_err()
    else {
        panic!("the 4th message of a burst of 3 must wait");
    };
    // Three sends at one instant leave the bucket 1.5 s past now, with 1 s of tolerance.
    assert_eq!(retry_after, Duration::from_millis(500));
    h.clock.advance(TimeDelta::milliseconds(499));
    assert!(matches!(
        h.svc.send(&h.alice.id, text(&h.bob, "early")).await,
        Err(Error::RateLimited { .. })
    ));
    h.clock.advance(TimeDelta::milliseconds(1));
    created(
        h.svc
            .send(&h.alice.id, text(&h.bob, "on time"))
            .await
            .unwrap(),
    );
    h.clock.advance(TimeDelta::seconds(10));
    for i in 0..3 {
        created(
            h.svc
                .send(&h.alice.id, text(&h.bob, &format!("after a pause {i}")))
                .await
                .unwrap(),
        );
    }
    let stored = h
        .svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::Latest, 100)
        .await
        .unwrap();
    assert_eq!(stored.messages.len(), 7, "refused sends stored nothing");
}

#[tokio::test]
async fn each_sender_has_their_own_bucket() {
    let h = harness_with(
        SendRate {
            burst: 1,
            per_second: 1,
        },
        None,
    )
    .await;
    created(h.svc.send(&h.alice.id, text(&h.bob, "a")).await.unwrap());
    created(h.svc.send(&h.bob.id, text(&h.alice, "b")).await.unwrap());
    assert!(matches!(
        h.svc.send(&h.alice.id, text(&h.bob, "a2")).await,
        Err(Error::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_retry_returns_the_original_and_a_reused_id_with_other_content_conflicts() {
    let h = harness().await;
    let with_id = |s: &str| NewMessage {
        client_message_id: Some("c-1".into()),
        ..text(&h.bob, s)
    };
    let first = created(h.svc.send(&h.alice.id, with_id("hello")).await.unwrap());
    h.clock.advance(TimeDelta::seconds(5));
    match h.svc.send(&h.alice.id, with_id("hello")).await.unwrap() {
        SendOutcome::Replayed(m) => assert_eq!(m, first),
        other => panic!("expected the original, got {other:?}"),
    }
    assert_eq!(
        h.svc
            .send(&h.alice.id, with_id("changed"))
            .await
            .unwrap_err()
            .code(),
        "idempotency_key_reused"
    );
    let to_someone_else = NewMessage {
        receiver: h.alice.id,
        ..with_id("hello")
    };
    assert!(
        h.svc.send(&h.bob.id, to_someone_else).await.is_ok(),
        "keys are per sender"
    );
    assert_eq!(
        h.relayed().await.len(),
        2,
        "one delivery job per stored message"
    );
}

#[tokio::test]
async fn strangers_get_403_unknown_receivers_404_and_self_400() {
    let h = harness().await;
    let carol = User::sample("carol", 3, h.clock.now());
    h.ports.users.create(&carol).await.unwrap();
    assert_eq!(
        h.svc
            .send(&carol.id, text(&h.bob, "hi"))
            .await
            .unwrap_err()
            .code(),
        "not_a_contact"
    );
    let ghost = NewMessage {
        receiver: UserId::new_random(),
        ..text(&h.bob, "hi")
    };
    assert_eq!(
        h.svc.send(&h.alice.id, ghost).await.unwrap_err().code(),
        "user_not_found"
    );
    assert_eq!(
        h.svc
            .send(&h.alice.id, text(&h.alice, "me"))
            .await
            .unwrap_err()
            .code(),
        "cannot_message_self"
    );
    assert!(h.relayed().await.is_empty());
}

#[tokio::test]
async fn a_committed_message_is_relayed_as_one_job_for_every_device_of_both_members() {
    let h = harness().await;
    let m = created(
        h.svc
            .send(&h.alice.id, text(&h.bob, "hello"))
            .await
            .unwrap(),
    );
    assert!(
        h.handles.queue.jobs().is_empty(),
        "the send queues nothing: the commit is the outbox"
    );
    let jobs = h.relayed().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].to, vec![h.bob.id, h.alice.id]);
    assert_eq!(jobs[0].push, vec![h.bob.id], "never a push to the sender");
    let ServerFrame::Msg(ev) = &jobs[0].frame else {
        panic!("a MSG frame")
    };
    assert_eq!(
        (ev.id, ev.s, ev.r, ev.c.as_str(), ev.st),
        (m.id, h.alice.id, h.bob.id, "hello", MessageStatus::Sent)
    );
    assert_eq!(ev.ts, m.created_at);
    assert_eq!(
        jobs[0].note,
        Some(crate::ports::PushNote {
            chat_id: m.chat_id,
            message_id: m.id,
            sender_name: h.alice.username.clone(),
        }),
        "the push names the sender and the ids, nothing of the content"
    );
}

#[tokio::test]
async fn a_message_of_the_system_sender_is_pushed_as_whatspe() {
    let h = harness().await;
    let m = created(
        h.svc
            .deliver_external(
                "ext-sys",
                &UserId::SYSTEM,
                text(&h.bob, "your code is 123456"),
            )
            .await
            .unwrap(),
    );
    let jobs = h.relayed().await;
    let note = jobs
        .iter()
        .find_map(|j| j.note.clone())
        .expect("a note for the message");
    assert_eq!((note.message_id, note.chat_id), (m.id, m.chat_id));
    assert_eq!(note.sender_name.as_str(), "WhatsPe");
}

struct DownQueue;

#[async_trait]
impl DeliveryQueue for DownQueue {
    async fn enqueue(&self, _: &DeliveryJob) -> Result<(), BoxError> {
        Err("SQS unavailable".into())
    }
}

/// A queue that refuses the first `failures` jobs, then works like the memory queue.
struct FlakyQueue {
    failures: std::sync::atomic::AtomicUsize,
    inner: Arc<crate::memory::MemoryQueue>,
}

#[async_trait]
impl DeliveryQueue for FlakyQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), BoxError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err("SQS unavailable".into());
        }
        self.inner.enqueue(job).await
    }
}

#[tokio::test]
async fn a_relay_that_fails_leaves_the_message_on_the_stream_and_its_retry_queues_it_once() {
    let queue = Arc::new(crate::memory::MemoryQueue::default());
    let flaky = Arc::new(FlakyQueue {
        failures: 2.into(),
        inner: queue.clone(),
    });
    let h = harness_with(SendRate::default(), Some(flaky)).await;
    let m = created(h.svc.send(&h.alice.id, text(&h.bob, "hi")).await.unwrap());
    // The process that committed the send is gone: only the stream has the message.
    for attempt in 1..=3 {
        let batch = h.handles.stream.try_take(10);
        assert_eq!(
            batch.len(),
            1,
            "attempt {attempt}: the message is still on the stream"
        );
        let done = usize::from(h.svc.relay(&batch[0]).await.is_ok());
        h.handles.stream.ack(batch, done);
    }
    assert!(h.handles.stream.try_take(10).is_empty(), "relayed at last");
    let jobs = queue.jobs();
    let ServerFrame::Msg(ev) = &jobs.first().expect("one job").frame else {
        panic!("a MSG job")
    };
    assert_eq!(ev.id, m.id);
    assert_eq!(queue.jobs().len(), 1, "queued once");
    // A second relay of the same record (a retried batch) is deduplicated by the queue.
    let stored = h
        .ports
        .messages
        .get(&m.chat_id, &m.id)
        .await
        .unwrap()
        .expect("stored");
    h.svc.relay(&stored).await.unwrap();
    assert_eq!(queue.jobs().len(), 1, "still once");
}

#[tokio::test]
async fn a_queue_failure_after_the_commit_keeps_the_201_and_the_message() {
    let h = harness_with(SendRate::default(), Some(Arc::new(DownQueue))).await;
    let m = created(
        h.svc
            .send(&h.alice.id, text(&h.bob, "still here"))
            .await
            .unwrap(),
    );
    let page = h
        .svc
        .history(
            &h.bob.id,
            &h.alice.id,
            HistoryRange::After(MessageId::from_uuid(uuid::Uuid::nil())),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        page.messages.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![m.id],
        "catch-up finds it"
    );
}

#[tokio::test]
async fn receipts_move_forward_only_and_tell_the_peer() {
    let h = harness().await;
    let ids: Vec<MessageId> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(
                created(
                    h.svc
                        .send(&h.alice.id, text(&h.bob, &format!("m{i}")))
                        .await
                        .unwrap(),
                )
                .id,
            );
        }
        v
    };
    let before = h.handles.queue.jobs().len();
    let c = h
        .svc
        .mark_delivered(&h.bob.id, &h.alice.id, &ids[2])
        .await
        .unwrap();
    assert_eq!(c.delivered_up_to, Some(ids[2]));
    let c = h
        .svc
        .mark_read(&h.bob.id, &h.alice.id, &ids[0])
        .await
        .unwrap();
    assert_eq!(c.read_up_to, Some(ids[0]));
    let row = h
        .ports
        .messages
        .conversation(&h.bob.id, &ConversationId::direct(&h.alice.id, &h.bob.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.unread_count, 2, "two messages after the read cursor");
    let jobs = h.handles.queue.jobs();
    assert_eq!(jobs.len(), before + 2);
    assert_eq!(
        jobs[before].frame,
        ServerFrame::Dlv(ReceiptEvent {
            g: None,
            p: h.bob.id,
            up_to: ids[2]
        })
    );
    assert_eq!(
        jobs[before + 1].frame,
        ServerFrame::Read(ReceiptEvent {
            g: None,
            p: h.bob.id,
            up_to: ids[0]
        })
    );
    assert_eq!(jobs[before + 1].to, vec![h.alice.id]);
    // Backwards: nothing changes, nobody is told.
    let c = h
        .svc
        .mark_delivered(&h.bob.id, &h.alice.id, &ids[1])
        .await
        .unwrap();
    assert_eq!(c.delivered_up_to, Some(ids[2]));
    h.svc
        .mark_read(&h.bob.id, &h.alice.id, &ids[0])
        .await
        .unwrap();
    assert_eq!(h.handles.queue.jobs().len(), before + 2);
    let statuses: Vec<MessageStatus> = h
        .svc
        .history(&h.alice.id, &h.bob.id, HistoryRange::Latest, 10)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.status)
        .collect();
    assert_eq!(
        statuses,
        [
            MessageStatus::Delivered,
            MessageStatus::Delivered,
            MessageStatus::Read
        ]
    );
    assert_eq!(
        h.svc
            .mark_read(&h.alice.id, &UserId::new_random(), &ids[0])
            .await
            .unwrap_err()
            .code(),
        "conversation_not_found"
    );
}

#[tokio::test]
async fn webhooks_need_a_signature_of_their_timestamp_and_body() {
    // The cases are in `webhook`'s tests; here: the service checks against its key and clock.
    let h = harness().await;
    let body = br#"{"id":"ext-1"}"#;
    let now = h.clock.now().timestamp();
    let sign = |t| crate::services::webhook::sign(KEY, t, body);
    assert!(h.svc.verify_webhook(body, Some(&sign(now)), None).is_ok());
    assert_eq!(
        h.svc
            .verify_webhook(body, Some(&sign(now - 360)), None)
            .unwrap_err()
            .code(),
        "stale_timestamp"
    );
    assert_eq!(
        h.svc
            .verify_webhook(b"{}", Some(&sign(now)), None)
            .unwrap_err()
            .code(),
        "invalid_signature"
    );
}

#[tokio::test]
async fn external_messages_skip_the_contact_check_and_are_idempotent_on_their_id() {
    let h = harness().await;
    let carol = User::sample("carol", 3, h.clock.now());
    h.ports.users.create(&carol).await.unwrap();
    let first = created(
        h.svc
            .deliver_external("ext-1", &carol.id, text(&h.bob, "your code"))
            .await
            .unwrap(),
    );
    assert_eq!(first.client_message_id.as_deref(), Some("ext-1"));
    match h
        .svc
        .deliver_external("ext-1", &carol.id, text(&h.bob, "your code"))
        .await
        .unwrap()
    {
        SendOutcome::Replayed(m) => assert_eq!(m.id, first.id),
        other => panic!("expected the original, got {other:?}"),
    }
    let ghost = UserId::new_random();
    assert_eq!(
        h.svc
            .deliver_external("ext-2", &ghost, text(&h.bob, "x"))
            .await
            .unwrap_err()
            .code(),
        "user_not_found"
    );
    assert_eq!(
        h.svc
            .deliver_external(
                "ext-3",
                &carol.id,
                NewMessage {
                    receiver: ghost,
                    ..text(&h.bob, "x")
                }
            )
            .await
            .unwrap_err()
            .code(),
        "user_not_found"
    );
}

#[tokio::test]
async fn catch_up_marks_delivered_never_read_and_only_the_latest_page_marks_read() {
    let h = harness().await;
    let first = created(h.svc.send(&h.alice.id, text(&h.bob, "one")).await.unwrap());
    let second = created(h.svc.send(&h.alice.id, text(&h.bob, "two")).await.unwrap());
    let status_for_alice = |page: &HistoryPage| -> Vec<MessageStatus> {
        page.messages.iter().map(|m| m.status).collect()
    };

    // Bob's phone reconnects and catches up from before the first message.
    let page = h
        .svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::After(ANCIENT), 50)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 2, "catch-up returns both");
    let alice_view = h
        .svc
        .history(&h.alice.id, &h.bob.id, HistoryRange::Before(FAR_FUTURE), 50)
        .await
        .unwrap();
    assert_eq!(
        status_for_alice(&alice_view),
        vec![MessageStatus::Delivered, MessageStatus::Delivered],
        "catch-up is delivery, not reading: Alice's ticks stay grey"
    );

    // Paging back through older messages changes nothing either.
    h.svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::Before(second.id), 50)
        .await
        .unwrap();
    let alice_view = h
        .svc
        .history(&h.alice.id, &h.bob.id, HistoryRange::Before(FAR_FUTURE), 50)
        .await
        .unwrap();
    assert_eq!(alice_view.messages[1].id, first.id);
    assert_eq!(
        status_for_alice(&alice_view),
        vec![MessageStatus::Delivered, MessageStatus::Delivered]
    );

    // Opening the chat (the seed's plain GET) reads it.
    h.svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::Latest, 50)
        .await
        .unwrap();
    let alice_view = h
        .svc
        .history(&h.alice.id, &h.bob.id, HistoryRange::Before(FAR_FUTURE), 50)
        .await
        .unwrap();
    assert_eq!(
        status_for_alice(&alice_view),
        vec![MessageStatus::Read, MessageStatus::Read]
    );
}

/// A message store whose first `fail` sends lose to a concurrent transaction (as DynamoDB's
/// `TransactionConflict`), then behaves as the one it wraps.
struct Contended {
    inner: Arc<dyn MessageStore>,
    fail: std::sync::atomic::AtomicUsize,
}

impl Contended {
    fn lose(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let left = self.fail.load(Ordering::SeqCst);
        if left == 0 {
            return Ok(());
        }
        self.fail.store(left - 1, Ordering::SeqCst);
        Err(StoreError::Contended("TransactionConflict".into()))
    }
}

#[async_trait]
impl MessageStore for Contended {
    async fn send_to_contact(
        &self,
        m: &Message,
        g: Option<&DedupGuard>,
        r: Option<&RateGate>,
    ) -> Result<(), StoreError> {
        self.lose()?;
        self.inner.send_to_contact(m, g, r).await
    }
    async fn send_system(&self, m: &Message, g: Option<&DedupGuard>) -> Result<(), StoreError> {
        self.lose()?;
        self.inner.send_system(m, g).await
    }
    async fn guard(&self, scope: &str, key: &str) -> Result<Option<DedupGuard>, StoreError> {
        self.inner.guard(scope, key).await
    }
    async fn get(&self, c: &ConversationId, id: &MessageId) -> Result<Option<Message>, StoreError> {
        self.inner.get(c, id).await
    }
    async fn rate_state(&self, sender: &UserId) -> Result<Option<i64>, StoreError> {
        self.inner.rate_state(sender).await
    }
    async fn change(
        &self,
        c: &ConversationId,
        id: &MessageId,
        change: &crate::ports::MessageChange,
        act: &crate::domain::Act,
    ) -> Result<Message, StoreError> {
        self.inner.change(c, id, change, act).await
    }
    async fn refresh_last(&self, member: &UserId, m: &Message) -> Result<bool, StoreError> {
        self.inner.refresh_last(member, m).await
    }
    async fn history(
        &self,
        c: &ConversationId,
        range: HistoryRange,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner.history(c, range, limit).await
    }
    async fn conversation(
        &self,
        member: &UserId,
        c: &ConversationId,
    ) -> Result<Option<Conversation>, StoreError> {
        self.inner.conversation(member, c).await
    }
    async fn conversations_of(
        &self,
        keys: &[(UserId, ConversationId)],
    ) -> Result<Vec<Conversation>, StoreError> {
        self.inner.conversations_of(keys).await
    }
    async fn chats_before(
        &self,
        member: &UserId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.inner.chats_before(member, before, limit).await
    }
    async fn mark_read(
        &self,
        member: &UserId,
        c: &ConversationId,
        up_to: &MessageId,
        last: &MessageId,
        unread: u32,
    ) -> Result<(), StoreError> {
        self.inner.mark_read(member, c, up_to, last, unread).await
    }
    async fn mark_delivered(
        &self,
        member: &UserId,
        c: &ConversationId,
        up_to: &MessageId,
    ) -> Result<(), StoreError> {
        self.inner.mark_delivered(member, c, up_to).await
    }
    async fn count_from_after(
        &self,
        c: &ConversationId,
        sender: &UserId,
        after: &MessageId,
    ) -> Result<u32, StoreError> {
        self.inner.count_from_after(c, sender, after).await
    }
}

fn contended_service(h: &Harness, fail: usize) -> MessageService {
    MessageService::new(
        h.ports.users.clone(),
        Arc::new(Contended {
            inner: h.ports.messages.clone(),
            fail: fail.into(),
        }),
        h.ports.groups.clone(),
        h.ports.queue.clone(),
        h.clock.clone(),
        SendRate::default(),
        KEY,
    )
}

#[tokio::test]
async fn a_send_that_loses_to_concurrent_transactions_is_retried_and_stored_once() {
    let h = harness().await;
    let svc = contended_service(&h, 6);
    let mut m = text(&h.bob, "through");
    m.client_message_id = Some("c-1".into());
    let sent = created(svc.send(&h.alice.id, m).await.unwrap());
    let page = h
        .svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(
        page.messages.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![sent.id]
    );
}

#[tokio::test]
async fn a_webhook_message_that_loses_to_concurrent_transactions_is_retried() {
    let h = harness().await;
    let svc = contended_service(&h, 3);
    created(
        svc.deliver_external("ext-1", &UserId::SYSTEM, text(&h.bob, "hello"))
            .await
            .unwrap(),
    );
}

/// Real backoff waits (well under a second on average, at most the 3 s budget).
#[tokio::test]
async fn a_send_that_loses_every_try_is_409_concurrent_update_and_stores_nothing() {
    let h = harness().await;
    let svc = contended_service(&h, usize::MAX);
    let err = svc
        .send(&h.alice.id, text(&h.bob, "never"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().is_empty()),
        ("concurrent_update", false)
    );
    assert!(
        matches!(err, Error::Conflict { .. }),
        "409, not 5xx: {err:?}"
    );
    let page = h
        .svc
        .history(&h.bob.id, &h.alice.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert!(page.messages.is_empty());
}
