//! The per-message hot paths on the in-memory ports: a socket frame encoded and decoded, an
//! access token verified (every REST call and `$connect`), and a 1:1 text sent, relayed and
//! delivered to the receiver's one socket (what the local gateway does per message, without
//! its HTTP and WebSocket plumbing). Our code's cost, not AWS latency.
//!
//! `cargo bench -p whatspe --bench hot_paths`

mod common;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use whatspe::app::{App, MemoryHandles, Ports};
use whatspe::clock::SystemClock;
use whatspe::config::{Config, SendRate};
use whatspe::domain::{
    ContactRequest, Content, MessageKind, RequestId, RequestStatus, SessionId, UserId,
};
use whatspe::frames::{ClientFrame, MessageEvent, ServerFrame};
use whatspe::ports::Connection;
use whatspe::services::NewMessage;

struct Setup {
    app: App,
    handles: MemoryHandles,
    a: UserId,
    b: UserId,
}

/// Two contacts; `b` has one socket.
async fn setup() -> Setup {
    let (ports, handles) = Ports::in_memory(Arc::new(SystemClock));
    let now = Utc::now();
    let (a, b) = (UserId::new_random(), UserId::new_random());
    let r = ContactRequest {
        id: RequestId::new_v7(),
        sender_id: a,
        receiver_id: b,
        status: RequestStatus::Pending,
        created_at: now,
        updated_at: now,
    };
    ports.requests.create(&r).await.unwrap();
    ports.requests.accept(&r, now).await.unwrap();
    ports
        .connections
        .put(&Connection {
            connection_id: "conn-b".into(),
            user_id: b,
            session_id: SessionId::new_random(),
            connected_at: now,
            expires_at: now + chrono::TimeDelta::hours(2),
        })
        .await
        .unwrap();
    let mut config = Config::for_tests();
    config.send_rate = SendRate {
        burst: 1_000_000,
        per_second: 1_000_000,
    };
    let s = Setup {
        app: App::new(config, ports),
        handles,
        a,
        b,
    };
    s.drain().await;
    s
}

impl Setup {
    /// Relays what was committed and delivers every queued job: the jobs delivered.
    async fn drain(&self) -> usize {
        common::drain(&self.app, &self.handles).await
    }

    async fn send(&self) {
        let content = Content::parse(MessageKind::Text, "Hello, how are you?").unwrap();
        self.app
            .messages
            .send(&self.a, NewMessage::new(self.b, MessageKind::Text, content))
            .await
            .unwrap();
    }
}

fn hot_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(setup());

    // A real message, as the relay sees it.
    rt.block_on(s.send());
    let message = s
        .handles
        .stream
        .try_take(1)
        .pop()
        .expect("the send committed");
    let frame = ServerFrame::Msg(MessageEvent::new(&message));
    let wire = frame.to_wire();
    c.bench_function("frame_encode_msg", |b| {
        b.iter(|| black_box(&frame).to_wire())
    });
    let incoming = format!(
        r#"{{"t":"MSG","d":{{"r":"{}","c":"Hello, how are you?"}}}}"#,
        s.b
    );
    assert!(matches!(
        ClientFrame::parse(&incoming),
        Ok(ClientFrame::Msg { .. })
    ));
    c.bench_function("frame_decode_msg", |b| {
        b.iter(|| ClientFrame::parse(black_box(&incoming)))
    });
    assert!(serde_json::from_slice::<serde_json::Value>(&wire).is_ok());

    let (token, _) = s
        .app
        .tokens
        .issue_access(&s.a, &SessionId::new_random())
        .unwrap();
    assert_eq!(s.app.tokens.verify_access(&token).unwrap().user_id, s.a);
    c.bench_function("token_verify_access", |b| {
        b.iter(|| s.app.tokens.verify_access(black_box(&token)))
    });

    rt.block_on(s.drain());
    let sends_before = s.handles.gateway.frames_to("conn-b").len();
    rt.block_on(async {
        s.send().await;
        assert_eq!(s.drain().await, 1, "one delivery job per 1:1 message");
    });
    assert!(
        s.handles.gateway.frames_to("conn-b").len() > sends_before,
        "the frame reached b's socket"
    );
    c.bench_function("send_relay_deliver_1to1", |b| {
        b.iter(|| {
            rt.block_on(async {
                s.send().await;
                s.drain().await
            })
        })
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
