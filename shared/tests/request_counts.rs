//! What a send, a read receipt and a delivery cost, counted on the wire: SDK clients with an
//! interceptor that records every HTTP request they make (retries included) against moto.
//!
//! Needs `WHATSPE_TEST_ENDPOINT` (set by `make test`, which starts moto).

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::Utc;
use std::sync::{Arc, Mutex};
use whatspe::app::{App, AwsClients, Ports};
use whatspe::config::{Config, SendRate};
use whatspe::domain::{
    Content, CountryCode, MessageKind, PhoneNumber, StatusText, User, UserId, Username,
};
use whatspe::ports::{Connection, ConnectionStore, DeliveryJob, DeviceStore, HistoryRange};
use whatspe::services::{NewMessage, Recipient, RequestOutcome, SendOutcome};

/// Records the operation (`x-amz-target`) of every request a client transmits.
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<String>>>);

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "wire-counter"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("<no target>");
        let op = op.rsplit('.').next().unwrap_or(op).to_owned();
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

impl Wire {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

fn endpoint() -> String {
    std::env::var("WHATSPE_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "WHATSPE_TEST_ENDPOINT is not set: these tests count requests to a moto server. \
             Run `make test` (it starts one), or start moto with `make moto` and set \
             WHATSPE_TEST_ENDPOINT=http://127.0.0.1:5000"
        )
    })
}

struct Setup {
    app: App,
    /// Contact requests, to make contacts without counting.
    requests: Arc<dyn whatspe::ports::ContactRequestStore>,
    /// The message store, to read back what a send stored (for the relay).
    messages: std::sync::Arc<dyn whatspe::ports::MessageStore>,
    /// The stores delivery reads, to connect users without a WebSocket.
    connections: Arc<dyn ConnectionStore>,
    devices: Arc<dyn DeviceStore>,
    /// An uncounted SQS client and the delivery queue, to take the jobs the relay queued.
    queue: (aws_sdk_sqs::Client, String),
    ddb: Wire,
    sqs: Wire,
    alice: User,
    bob: User,
}

fn user(name: &str, n: u32) -> User {
    let now = Utc::now();
    User {
        id: UserId::new_random(),
        username: Username::parse(name).unwrap(),
        email: None,
        phone_number: PhoneNumber::parse(&format!("98{n:08}"), &CountryCode::parse("91").unwrap())
            .unwrap(),
        profile_picture: None,
        status: StatusText::parse("hi").unwrap(),
        last_seen: now,
        created_at: now,
        updated_at: now,
        verified: true,
        last_seen_visibility: Default::default(),
    }
}

/// An app on the AWS adapters over fresh moto tables and queue, with counting clients;
/// Alice and Bob are contacts.
async fn setup() -> Setup {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "request-counts",
        ))
        .load()
        .await;
    let mut config = Config::for_tests();
    config.table_prefix = format!("rc{}_", hex::encode(whatspe::crypto::random_bytes::<6>()));
    config.send_rate = SendRate {
        burst: 1_000,
        per_second: 1_000,
    };
    whatspe::aws::dynamo::ensure_tables(&aws_sdk_dynamodb::Client::new(&sdk), &config.table_prefix)
        .await
        .expect("tables on moto");
    let queue_url = whatspe::aws::sqs::ensure_queue(
        &aws_sdk_sqs::Client::new(&sdk),
        &format!("{}delivery", config.table_prefix),
    )
    .await
    .expect("queue on moto");
    let (ddb, sqs) = (Wire::default(), Wire::default());
    let clients = AwsClients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(ddb.clone())
                .build(),
        ),
        sns: aws_sdk_sns::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .interceptor(sqs.clone())
                .build(),
        ),
        s3: whatspe::aws::s3::client(&sdk),
        // Delivery posts to the recording gateway (API Gateway is not what is counted here).
        gateway: Arc::new(whatspe::memory::RecordingGateway::default()),
    };
    let ports = Ports::aws_with_clients(&config, clients, &queue_url);
    let (alice, bob) = (user("alice", 1), user("bob", 2));
    ports.users.create(&alice).await.unwrap();
    ports.users.create(&bob).await.unwrap();
    let messages = ports.messages.clone();
    let requests = ports.requests.clone();
    let (connections, devices) = (ports.connections.clone(), ports.devices.clone());
    let app = App::new(config, ports);
    let RequestOutcome::Created(r) = app
        .contacts
        .send_request(&alice.id, &Recipient::Id(bob.id))
        .await
        .unwrap()
    else {
        panic!("a new request");
    };
    app.contacts.accept(&bob.id, &r.id).await.unwrap();
    ddb.take();
    sqs.take();
    Setup {
        app,
        requests,
        messages,
        connections,
        devices,
        queue: (aws_sdk_sqs::Client::new(&sdk), queue_url),
        ddb,
        sqs,
        alice,
        bob,
    }
}

fn text(to: &User, s: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        receiver: to.id,
        kind: MessageKind::Text,
        content: Content::parse(MessageKind::Text, s).unwrap(),
        client_message_id: client_id.map(str::to_owned),
        media: None,
        reply_to: None,
        forwarded: false,
    }
}

#[tokio::test]
async fn a_send_costs_a_block_read_and_one_transaction_and_its_relay_one_sqs_request() {
    let s = setup().await;
    let sent = s
        .app
        .messages
        .send(&s.alice.id, text(&s.bob, "hello", None))
        .await
        .unwrap();
    let SendOutcome::Created(view) = sent else {
        panic!("a new message")
    };
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "TransactWriteItems"],
        "whether the receiver blocked the sender; then message, rows, contact check and rate \
         in one transaction"
    );
    assert_eq!(
        s.sqs.take(),
        Vec::<String>::new(),
        "nothing else: the commit is the outbox"
    );
    let stored = s
        .messages
        .get(&view.chat_id, &view.id)
        .await
        .unwrap()
        .expect("stored");
    s.ddb.take();
    s.app.messages.relay(&stored).await.unwrap();
    assert_eq!(
        s.ddb.take(),
        ["GetItem"],
        "the relay reads the sender's name for the push note"
    );
    assert_eq!(s.sqs.take(), ["SendMessage"], "one job on the queue");

    let sent = s
        .app
        .messages
        .send(&s.alice.id, text(&s.bob, "again", Some("client-7")))
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Created(_)));
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "TransactWriteItems"],
        "the block read, then the dedup guard rides in the same transaction"
    );
    assert_eq!(s.sqs.take(), Vec::<String>::new());
}

#[tokio::test]
async fn a_read_receipt_over_a_hundred_unread_messages_is_one_write() {
    let s = setup().await;
    let mut last = None;
    for i in 0..100 {
        if let SendOutcome::Created(m) = s
            .app
            .messages
            .send(&s.alice.id, text(&s.bob, &format!("m{i}"), None))
            .await
            .unwrap()
        {
            last = Some(m.id);
        }
    }
    let last = last.expect("sent");
    s.ddb.take();
    s.sqs.take();

    let cursors = s
        .app
        .messages
        .mark_read(&s.bob.id, &s.alice.id, &last)
        .await
        .unwrap();
    assert_eq!(cursors.read_up_to, Some(last));
    let ops = s.ddb.take();
    let writes: Vec<&String> = ops
        .iter()
        .filter(|o| WRITES.contains(&o.as_str()))
        .collect();
    assert_eq!(writes, ["UpdateItem"], "all operations: {ops:?}");
    assert_eq!(
        s.sqs.take(),
        ["SendMessage"],
        "one READ event to the sender"
    );

    let page = s
        .app
        .messages
        .history(&s.alice.id, &s.bob.id, HistoryRange::Latest, 100)
        .await
        .unwrap();
    assert!(
        page.messages
            .iter()
            .all(|m| m.status == whatspe::domain::MessageStatus::Read)
    );
    let ops = s.ddb.take();
    assert!(
        ops.iter().all(|o| !WRITES.contains(&o.as_str())),
        "looking at read messages writes nothing: {ops:?}"
    );
}

#[tokio::test]
async fn opening_a_conversation_with_a_hundred_unread_messages_is_one_write() {
    let s = setup().await;
    for i in 0..100 {
        s.app
            .messages
            .send(&s.alice.id, text(&s.bob, &format!("m{i}"), None))
            .await
            .unwrap();
    }
    s.ddb.take();
    let page = s
        .app
        .messages
        .history(&s.bob.id, &s.alice.id, HistoryRange::Latest, 50)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 50);
    let ops = s.ddb.take();
    let writes: Vec<&String> = ops
        .iter()
        .filter(|o| WRITES.contains(&o.as_str()))
        .collect();
    assert_eq!(writes, ["UpdateItem"], "all operations: {ops:?}");
}

/// A connection of `user` made now.
fn connection(user: &UserId, id: &str) -> Connection {
    let now = Utc::now();
    Connection {
        connection_id: id.to_owned(),
        user_id: *user,
        session_id: whatspe::domain::SessionId::new_random(),
        connected_at: now,
        expires_at: now + whatspe::services::realtime::CONNECTION_TTL,
    }
}

impl Setup {
    /// Alice's message to Bob, sent and relayed: the job the relay queued.
    async fn relayed_job(&self) -> DeliveryJob {
        let SendOutcome::Created(view) = self
            .app
            .messages
            .send(&self.alice.id, text(&self.bob, "hello", None))
            .await
            .unwrap()
        else {
            panic!("a new message")
        };
        let stored = self
            .messages
            .get(&view.chat_id, &view.id)
            .await
            .unwrap()
            .expect("stored");
        self.app.messages.relay(&stored).await.unwrap();
        let (sqs, url) = &self.queue;
        for _ in 0..5 {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            // The queue also holds the contact events of the setup.
            let message_job = out
                .messages()
                .iter()
                .map(|m| serde_json::from_str::<DeliveryJob>(m.body().unwrap()).unwrap())
                .find(|j| matches!(j.frame, whatspe::frames::ServerFrame::Msg(_)));
            if let Some(job) = message_job {
                self.ddb.take();
                self.sqs.take();
                return job;
            }
        }
        panic!("the relay queued no message job")
    }
}

#[tokio::test]
async fn delivering_a_message_reads_both_users_connections_in_one_batch() {
    let s = setup().await;
    let job = s.relayed_job().await;
    assert_eq!(
        job.to,
        [s.bob.id, s.alice.id],
        "the receiver and the sender's devices"
    );
    for (user, id) in [(&s.bob, "b1="), (&s.bob, "b2="), (&s.alice, "a1=")] {
        s.connections.put(&connection(&user.id, id)).await.unwrap();
    }
    s.ddb.take();

    let done = s.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!(done.posted, 3);
    assert_eq!(
        s.ddb.take(),
        ["BatchGetItem"],
        "receiver + sender = 1 BatchGetItem for connections (a GSI Query each before)"
    );
    assert_eq!(s.sqs.take(), Vec::<String>::new());
}

#[tokio::test]
async fn delivering_to_an_offline_receiver_reads_their_devices_in_one_more_batch() {
    let s = setup().await;
    let job = s.relayed_job().await;
    s.connections
        .put(&connection(&s.alice.id, "a1="))
        .await
        .unwrap();
    s.ddb.take();

    let done = s.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!((done.posted, done.pushed), (1, 0), "Bob has no device");
    assert_eq!(
        s.ddb.take(),
        ["BatchGetItem", "BatchGetItem"],
        "1 BatchGetItem for connections, 1 for the offline receiver's devices \
         (3 Queries before)"
    );
}

#[tokio::test]
async fn delivering_to_a_group_of_250_reads_100_users_per_request() {
    let s = setup().await;
    let mut job = s.relayed_job().await;
    let members: Vec<UserId> = (0..250).map(|_| UserId::new_random()).collect();
    for (i, m) in members.iter().enumerate().step_by(50) {
        s.connections
            .put(&connection(m, &format!("m{i}=")))
            .await
            .unwrap();
    }
    job.to = members.clone();
    job.push = members;
    s.ddb.take();

    let done = s.app.delivery.deliver(&job, 1).await.unwrap();
    assert_eq!((done.posted, done.pushed), (5, 0));
    assert_eq!(
        s.ddb.take(),
        ["BatchGetItem"; 6],
        "3 BatchGetItem for 250 users' connections, 3 for the 245 offline users' devices \
         (495 Queries before: one per user, one per offline user's devices)"
    );
}

#[tokio::test]
async fn a_connection_is_stored_and_deleted_with_its_users_index_in_one_transaction() {
    let s = setup().await;
    let c = connection(&s.bob.id, "b1=");
    s.connections.put(&c).await.unwrap();
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "TransactWriteItems"],
        "the user's index read (for its ttl and expired entries), then row + index entry"
    );
    assert_eq!(
        s.connections.delete(&c.connection_id).await.unwrap(),
        Some(c)
    );
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "TransactWriteItems"],
        "the row read (for its user), then row + index entry"
    );
    s.connections.of_user(&s.bob.id, Utc::now()).await.unwrap();
    assert_eq!(
        s.ddb.take(),
        ["GetItem"],
        "a user's connections: one GetItem"
    );
    let d = whatspe::ports::Device {
        id: uuid::Uuid::new_v4(),
        user_id: s.bob.id,
        session_id: None,
        platform: whatspe::ports::Platform::Fcm,
        token_hash: "ab".repeat(32),
        endpoint_arn: "endpoint".into(),
        created_at: Utc::now(),
    };
    s.devices.put(&d).await.unwrap();
    s.devices.list(&s.bob.id).await.unwrap();
    s.devices.delete(&s.bob.id, &d.id).await.unwrap();
    assert_eq!(
        s.ddb.take(),
        ["UpdateItem", "GetItem", "UpdateItem"],
        "devices: register, list, remove"
    );
}

/// Members of the counted group (more than 100, so its buckets are real chunks).
const GROUP: usize = 250;

impl Setup {
    /// Alice's group of herself and `GROUP - 1` contacts (made through the stores and the
    /// group service, not counted).
    async fn group(&self) -> (whatspe::domain::ConversationId, Vec<UserId>) {
        let now = Utc::now();
        let mut members = Vec::new();
        for _ in 1..GROUP {
            let u = UserId::new_random();
            let r = whatspe::domain::ContactRequest {
                id: whatspe::domain::RequestId::new_v7(),
                sender_id: self.alice.id,
                receiver_id: u,
                status: whatspe::domain::RequestStatus::Pending,
                created_at: now,
                updated_at: now,
            };
            self.requests.create(&r).await.unwrap();
            self.requests.accept(&r, now).await.unwrap();
            members.push(u);
        }
        let mut chunks = members.chunks(whatspe::domain::MAX_ADD_PER_REQUEST);
        let group = self
            .app
            .groups
            .create(
                &self.alice.id,
                whatspe::services::NewGroup {
                    name: whatspe::domain::GroupName::parse("Counted").unwrap(),
                    description: None,
                    avatar: None,
                    members: chunks.next().unwrap().to_vec(),
                },
            )
            .await
            .unwrap()
            .id;
        for chunk in chunks {
            self.app
                .groups
                .add(&self.alice.id, &group, chunk.to_vec())
                .await
                .unwrap();
        }
        self.ddb.take();
        self.sqs.take();
        (group, members)
    }
}

#[tokio::test]
async fn a_group_message_costs_a_constant_send_and_a_relay_and_jobs_that_grow_with_n() {
    let s = setup().await;
    let (group, members) = s.group().await;
    let SendOutcome::Created(view) = s
        .app
        .messages
        .send_to_group(
            &s.alice.id,
            &group,
            NewMessage::to_group(
                &group,
                MessageKind::Text,
                Content::parse(MessageKind::Text, "to 250").unwrap(),
            ),
        )
        .await
        .unwrap()
    else {
        panic!("a new message")
    };
    assert_eq!(
        s.ddb.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "the send: the group and the sender's row, then one transaction — whatever N"
    );
    assert_eq!(
        s.sqs.take(),
        Vec::<String>::new(),
        "the commit is the outbox"
    );

    let stored = s
        .messages
        .get(&view.chat_id, &view.id)
        .await
        .unwrap()
        .expect("stored");
    s.ddb.take();
    s.app.messages.relay(&stored).await.unwrap();
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "Query", "GetItem"],
        "the relay: the group (its removal counter), its members (one page), the sender's name"
    );
    let sent = s.sqs.take();
    assert!(
        sent.iter().all(|op| op == "SendMessageBatch") && sent.len() == 2,
        "16 buckets of ~16 members = 16 jobs in 2 SendMessageBatch: {sent:?}"
    );

    // The jobs, as the push function gets them.
    let (sqs, url) = &s.queue;
    let mut jobs = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let job: DeliveryJob = serde_json::from_str(m.body().unwrap()).unwrap();
            if job.fanout.is_some() && matches!(job.frame, whatspe::frames::ServerFrame::Msg(_)) {
                jobs.push(job);
            }
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if jobs.iter().map(|j| j.to.len()).sum::<usize>() == GROUP {
            break;
        }
    }
    assert_eq!(
        jobs.iter().map(|j| j.to.len()).sum::<usize>(),
        GROUP,
        "every member once"
    );
    assert_eq!(jobs.len(), 16, "one job per bucket");
    // Every tenth member online, and the member who will be removed.
    let gone = jobs[0]
        .to
        .iter()
        .find(|u| **u != s.alice.id)
        .copied()
        .unwrap();
    let mut online = 0;
    for (i, u) in members.iter().enumerate() {
        if i % 10 == 0 || *u == gone {
            s.connections
                .put(&connection(u, &format!("c{i}=")))
                .await
                .unwrap();
            online += 1;
        }
    }
    s.ddb.take();
    let mut posted = Vec::new();
    for job in &jobs {
        posted.push(s.app.delivery.deliver(job, 1).await.unwrap().posted);
        assert_eq!(
            s.ddb.take(),
            ["GetItem", "BatchGetItem", "BatchGetItem"],
            "a job: the group (nobody left since), its members' connections, the offline \
             members' devices (none here, so no push claims)"
        );
    }
    assert_eq!(
        posted.iter().sum::<usize>(),
        online,
        "every live connection once"
    );

    // Once a member is removed, a job made before checks its members' rows, and the removed
    // member's connection gets nothing from it.
    s.app
        .groups
        .remove(&s.alice.id, &group, &gone)
        .await
        .unwrap();
    s.ddb.take();
    let again = s.app.delivery.deliver(&jobs[0], 1).await.unwrap();
    assert_eq!(
        again.posted,
        posted[0] - 1,
        "the same job again reaches everyone it reached but the removed member"
    );
    assert_eq!(
        s.ddb.take(),
        ["GetItem", "BatchGetItem", "BatchGetItem", "BatchGetItem"],
        "the group (someone left), the job's members' rows, their connections, devices"
    );
}
