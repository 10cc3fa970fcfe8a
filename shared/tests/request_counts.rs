//! What a send and a read receipt cost, counted on the wire: SDK clients with an interceptor
//! that records every HTTP request they make (retries included) against moto.
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
use whatspe::ports::HistoryRange;
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
        // Nothing here posts to a WebSocket: the recording gateway only proves it.
        gateway: Arc::new(whatspe::memory::RecordingGateway::default()),
    };
    let ports = Ports::aws_with_clients(&config, clients, &queue_url);
    let (alice, bob) = (user("alice", 1), user("bob", 2));
    ports.users.create(&alice).await.unwrap();
    ports.users.create(&bob).await.unwrap();
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
    }
}

#[tokio::test]
async fn a_send_costs_one_dynamodb_request_and_one_sqs_request() {
    let s = setup().await;
    let sent = s
        .app
        .messages
        .send(&s.alice.id, text(&s.bob, "hello", None))
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Created(_)));
    assert_eq!(
        s.ddb.take(),
        ["TransactWriteItems"],
        "message, rows, contact check and rate in one transaction"
    );
    assert_eq!(s.sqs.take(), ["SendMessage"]);

    let sent = s
        .app
        .messages
        .send(&s.alice.id, text(&s.bob, "again", Some("client-7")))
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Created(_)));
    assert_eq!(
        s.ddb.take(),
        ["TransactWriteItems"],
        "the dedup guard rides in the same transaction"
    );
    assert_eq!(s.sqs.take(), ["SendMessage"]);
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
