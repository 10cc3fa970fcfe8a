//! [`DeliveryQueue`] in memory, with SQS FIFO's delivery semantics: per-group order (a group
//! with a record in flight yields nothing more until it is deleted or becomes visible again),
//! deduplication of a job queued twice within 5 minutes, a visibility timeout, redelivery of
//! records that were not deleted, and a dead-letter queue after [`MAX_RECEIVES`] receives.
//! The unit tests read its job log (the last [`LOG_CAPACITY`] jobs); the local gateway's event source (`whatspe-local`'s
//! `queue` module) receives from it and feeds the `push` function.

use super::lock;
use crate::error::BoxError;
use crate::ports::{DeliveryJob, DeliveryQueue};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// SQS's redrive setting in template.yaml.
pub const MAX_RECEIVES: u32 = 5;
/// SQS FIFO's deduplication window.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// How many of the latest accepted jobs [`MemoryQueue::jobs`] keeps for tests to read: a
/// bounded log, so a long-running local gateway does not keep every job it ever queued.
pub const LOG_CAPACITY: usize = 1024;

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
    group: String,
    body: String,
    receives: u32,
}

#[derive(Default)]
struct State {
    /// Visible records by enqueue order.
    ready: BTreeMap<u64, Stored>,
    in_flight: HashMap<String, (u64, Stored, Instant)>,
    /// How many records of each group are in flight: such a group yields nothing more.
    busy: HashMap<String, usize>,
    dead: Vec<String>,
    /// Deduplication ids queued within the last [`DEDUP_WINDOW`].
    seen: HashMap<String, Instant>,
    /// The same ids in the order they were queued: expiry pops from the front, so an enqueue
    /// costs the same however many jobs the window holds.
    seen_order: VecDeque<(Instant, String)>,
    next_id: u64,
}

impl State {
    /// One record of `group` is no longer in flight.
    fn settle(&mut self, group: &str) {
        if let Some(n) = self.busy.get_mut(group) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(group);
            }
        }
    }

    fn push(&mut self, group: Option<String>, body: String) {
        self.next_id += 1;
        let id = format!("local-{}", self.next_id);
        let group = group.unwrap_or_else(|| id.clone());
        self.ready.insert(
            self.next_id,
            Stored {
                id,
                group,
                body,
                receives: 0,
            },
        );
    }
}

/// An in-process SQS FIFO queue that also keeps a log of the last [`LOG_CAPACITY`] jobs it
/// accepted.
pub struct MemoryQueue {
    log: Mutex<VecDeque<DeliveryJob>>,
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

    /// The last [`LOG_CAPACITY`] jobs the queue accepted, oldest first (delivered or not;
    /// duplicates dropped).
    pub fn jobs(&self) -> Vec<DeliveryJob> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Bodies that failed [`MAX_RECEIVES`] times and were moved to the dead-letter queue.
    pub fn dead_letters(&self) -> Vec<String> {
        lock(&self.state).dead.clone()
    }

    /// Moves every dead letter back to the queue (SQS's dead-letter queue redrive).
    pub fn redrive(&self) -> usize {
        let mut s = lock(&self.state);
        let dead = std::mem::take(&mut s.dead);
        let n = dead.len();
        for body in dead {
            let group = serde_json::from_str::<DeliveryJob>(&body)
                .ok()
                .map(|j| j.group());
            s.push(group, body);
        }
        drop(s);
        self.wake.notify_one();
        n
    }

    /// Enqueues a raw body in a group of its own (what a producer that is not WhatsPe might
    /// put on the queue).
    pub fn enqueue_raw(&self, body: String) {
        lock(&self.state).push(None, body);
        self.wake.notify_one();
    }

    /// Up to `max` visible records, each now invisible for the visibility timeout: the oldest
    /// ones of every group with nothing in flight, in order. A record received more than
    /// [`MAX_RECEIVES`] times goes to the dead-letter queue instead.
    pub fn receive(&self, max: usize) -> Vec<QueuedRecord> {
        let now = Instant::now();
        let mut s = lock(&self.state);
        let expired: Vec<String> = s
            .in_flight
            .iter()
            .filter(|(_, (_, _, until))| *until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some((seq, r, _)) = s.in_flight.remove(&id) {
                s.settle(&r.group);
                s.ready.insert(seq, r);
            }
        }
        // The oldest records of the groups with nothing in flight, in order, until `max`.
        let taken: Vec<u64> = s
            .ready
            .iter()
            .filter(|(_, r)| !s.busy.contains_key(&r.group))
            .take(max)
            .map(|(seq, _)| *seq)
            .collect();
        let mut batch = Vec::new();
        for seq in taken {
            let Some(mut r) = s.ready.remove(&seq) else {
                continue;
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
            *s.busy.entry(r.group.clone()).or_default() += 1;
            s.in_flight
                .insert(r.id.clone(), (seq, r, now + self.visibility));
        }
        batch
    }

    /// Deletes a received record (its consumer handled it).
    pub fn delete(&self, id: &str) {
        let mut s = lock(&self.state);
        if let Some((_, r, _)) = s.in_flight.remove(id) {
            s.settle(&r.group);
        }
    }

    /// Waits until a record may be visible: one is enqueued, or the next in-flight record's
    /// visibility timeout ends (at most an hour).
    pub async fn wait(&self) {
        let next_visible = lock(&self.state)
            .in_flight
            .values()
            .map(|(_, _, until)| *until)
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
        let body = serde_json::to_string(job)?;
        let now = Instant::now();
        let mut s = lock(&self.state);
        while let Some((at, _)) = s.seen_order.front()
            && now.duration_since(*at) >= DEDUP_WINDOW
        {
            if let Some((at, id)) = s.seen_order.pop_front()
                && s.seen.get(&id) == Some(&at)
            {
                s.seen.remove(&id);
            }
        }
        let id = job.dedup_id();
        if s.seen.contains_key(&id) {
            tracing::debug!(dedup_id = %id, "a duplicate job within the deduplication window was dropped");
            crate::metrics::count("DeliveryDuplicateDropped");
            return Ok(());
        }
        s.seen.insert(id.clone(), now);
        s.seen_order.push_back((now, id));
        s.push(Some(job.group()), body);
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(job.clone());
        drop(log);
        drop(s);
        self.wake.notify_one();
        Ok(())
    }
}
