//! [`DeliveryQueue`] in memory, with SQS's delivery semantics: a visibility timeout,
//! redelivery of records that were not deleted, and a dead-letter queue after
//! [`MAX_RECEIVES`] receives. The unit tests read its job log; the local gateway's event source
//! (`whatspe-local`'s `queue` module) receives from it and feeds the `push` function.

use super::lock;
use crate::error::BoxError;
use crate::ports::{DeliveryJob, DeliveryQueue};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// SQS's redrive setting in template.yaml.
pub const MAX_RECEIVES: u32 = 5;

/// One record as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecord {
    pub id: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receives: u32,
}

struct Stored {
    id: String,
    body: String,
    receives: u32,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Stored>,
    in_flight: HashMap<String, (Stored, Instant)>,
    dead: Vec<String>,
    next_id: u64,
}

/// An in-process SQS queue that also keeps a log of every job enqueued.
pub struct MemoryQueue {
    log: Mutex<Vec<DeliveryJob>>,
    state: Mutex<State>,
    wake: Notify,
    visibility: Duration,
}

impl Default for MemoryQueue {
    /// SQS's default visibility timeout (30 s).
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl MemoryQueue {
    /// A queue whose received records stay invisible for `visibility`.
    pub fn new(visibility: Duration) -> Self {
        Self {
            log: Mutex::default(),
            state: Mutex::default(),
            wake: Notify::new(),
            visibility,
        }
    }

    /// Every job ever enqueued, oldest first (delivered or not).
    pub fn jobs(&self) -> Vec<DeliveryJob> {
        lock(&self.log).clone()
    }

    /// Bodies that failed [`MAX_RECEIVES`] times and were moved to the dead-letter queue.
    pub fn dead_letters(&self) -> Vec<String> {
        lock(&self.state).dead.clone()
    }

    /// Enqueues a raw body (what a producer that is not WhatsPe might put on the queue).
    pub fn enqueue_raw(&self, body: String) {
        let mut s = lock(&self.state);
        s.next_id += 1;
        let id = format!("local-{}", s.next_id);
        s.ready.push_back(Stored {
            id,
            body,
            receives: 0,
        });
        drop(s);
        self.wake.notify_one();
    }

    /// Up to `max` visible records, each now invisible for the visibility timeout; a record
    /// received more than [`MAX_RECEIVES`] times goes to the dead-letter queue instead.
    pub fn receive(&self, max: usize) -> Vec<QueuedRecord> {
        let now = Instant::now();
        let mut s = lock(&self.state);
        let expired: Vec<String> = s
            .in_flight
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some((r, _)) = s.in_flight.remove(&id) {
                s.ready.push_back(r);
            }
        }
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(mut r) = s.ready.pop_front() else {
                break;
            };
            r.receives += 1;
            if r.receives > MAX_RECEIVES {
                tracing::warn!(message_id = %r.id, "moved to the dead-letter queue after {MAX_RECEIVES} receives");
                s.dead.push(r.body);
                continue;
            }
            batch.push(QueuedRecord {
                id: r.id.clone(),
                body: r.body.clone(),
                receives: r.receives,
            });
            s.in_flight.insert(r.id.clone(), (r, now + self.visibility));
        }
        batch
    }

    /// Deletes a received record (its consumer handled it).
    pub fn delete(&self, id: &str) {
        lock(&self.state).in_flight.remove(id);
    }

    /// Waits until a record may be visible: one is enqueued, or the next in-flight record's
    /// visibility timeout ends (at most an hour).
    pub async fn wait(&self) {
        let next_visible = lock(&self.state)
            .in_flight
            .values()
            .map(|(_, until)| *until)
            .min();
        let wait = next_visible
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), BoxError> {
        lock(&self.log).push(job.clone());
        self.enqueue_raw(serde_json::to_string(job)?);
        Ok(())
    }
}
