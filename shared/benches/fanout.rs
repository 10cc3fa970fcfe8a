//! Group fan-out on the in-memory ports: one message to a group of 1,024 members with 200 of
//! them online (one socket each) and the other 823 with one phone — the send, the relay's
//! chunking into jobs, and every job's delivery (membership check, batched reads of
//! connections and devices, 200 frames, 823 push claims and pushes). It measures the work of
//! our code, not AWS latency: the request counts per message are pinned by
//! `shared/tests/request_counts.rs` and priced in docs/operations.md.
//!
//! `cargo bench -p whatspe --bench fanout`

mod common;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use whatspe::app::{App, MemoryHandles, Ports};
use whatspe::clock::SystemClock;
use whatspe::config::{Config, SendRate};
use whatspe::domain::{
    ContactRequest, Content, ConversationId, GroupName, MessageKind, RequestId, RequestStatus,
    SessionId, UserId,
};
use whatspe::ports::{Connection, Device, Platform};
use whatspe::services::NewGroup;

const MEMBERS: usize = 1024;
const ONLINE: usize = 200;

struct Setup {
    app: App,
    handles: MemoryHandles,
    admin: UserId,
    group: ConversationId,
}

async fn setup(members: usize, online: usize) -> Setup {
    let (ports, handles) = Ports::in_memory(Arc::new(SystemClock));
    let now = Utc::now();
    let admin = UserId::new_random();
    let others: Vec<UserId> = (1..members).map(|_| UserId::new_random()).collect();
    for u in &others {
        let r = ContactRequest {
            id: RequestId::new_v7(),
            sender_id: admin,
            receiver_id: *u,
            status: RequestStatus::Pending,
            created_at: now,
            updated_at: now,
        };
        ports.requests.create(&r).await.unwrap();
        ports.requests.accept(&r, now).await.unwrap();
    }
    for (i, u) in others.iter().enumerate() {
        if i < online {
            ports
                .connections
                .put(&Connection {
                    connection_id: format!("conn-{i}"),
                    user_id: *u,
                    session_id: SessionId::new_random(),
                    connected_at: now,
                    expires_at: now + chrono::TimeDelta::hours(2),
                })
                .await
                .unwrap();
        } else {
            ports
                .devices
                .put(&Device {
                    id: uuid::Uuid::new_v4(),
                    user_id: *u,
                    session_id: None,
                    platform: Platform::Fcm,
                    token_hash: format!("{i}"),
                    endpoint_arn: format!("arn:endpoint:{i}"),
                    created_at: now,
                })
                .await
                .unwrap();
        }
    }
    let mut config = Config::for_tests();
    // The bench sends back to back: no per-sender rate limit.
    config.send_rate = SendRate {
        burst: 1_000_000,
        per_second: 1_000_000,
    };
    let app = App::new(config, ports);
    let mut chunks = others.chunks(90);
    let group = app
        .groups
        .create(
            &admin,
            NewGroup {
                name: GroupName::parse("Everyone").unwrap(),
                description: None,
                avatar: None,
                members: chunks.next().unwrap_or_default().to_vec(),
            },
        )
        .await
        .unwrap()
        .id;
    for chunk in chunks {
        app.groups
            .add(&admin, &group, chunk.to_vec())
            .await
            .unwrap();
    }
    let s = Setup {
        app,
        handles,
        admin,
        group,
    };
    s.drain().await;
    s
}

impl Setup {
    /// Relays what was committed and delivers every queued job: the jobs delivered.
    async fn drain(&self) -> usize {
        common::drain(&self.app, &self.handles).await
    }

    /// One message: send, relay, deliver every job.
    async fn one_message(&self) -> usize {
        self.app
            .messages
            .send_to_group(
                &self.admin,
                &self.group,
                whatspe::services::NewMessage::to_group(
                    &self.group,
                    MessageKind::Text,
                    Content::parse(MessageKind::Text, "to everyone").unwrap(),
                ),
            )
            .await
            .unwrap();
        self.drain().await
    }
}

fn fanout(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("group_fanout");
    group.sample_size(20);
    for (members, online) in [(10, 2), (100, 20), (MEMBERS, ONLINE)] {
        let s = rt.block_on(setup(members, online));
        let jobs = rt.block_on(s.one_message());
        assert!(jobs >= 1, "the message made jobs");
        group.bench_function(format!("{members}_members_{online}_online"), |b| {
            b.iter(|| rt.block_on(s.one_message()))
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
