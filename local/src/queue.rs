//! The SQS event source, emulated: a queue with visibility timeout, redelivery of failed
//! records and a dead-letter queue after 5 receives, feeding the `push` function in batches
//! exactly as Lambda's SQS event source does. On an AWS endpoint, the real queue is polled.

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsEvent;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use whatspe::app::App;
use whatspe::error::BoxError;
use whatspe::ports::{DeliveryJob, DeliveryQueue};

/// SQS's redrive setting in template.yaml.
pub const MAX_RECEIVES: u32 = 5;
/// Records per batch (Lambda's SQS event source default).
const BATCH: usize = 10;

struct Record {
    id: String,
    body: String,
    receives: u32,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Record>,
    in_flight: HashMap<String, (Record, Instant)>,
    dead: Vec<String>,
    next_id: u64,
}

/// An in-process SQS queue.
pub struct LocalQueue {
    log: Mutex<Vec<DeliveryJob>>,
    state: Mutex<State>,
    wake: Notify,
    visibility: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalQueue {
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
        s.ready.push_back(Record {
            id,
            body,
            receives: 0,
        });
        drop(s);
        self.wake.notify_one();
    }

    /// Up to [`BATCH`] visible records, each now invisible for the visibility timeout; a
    /// record received more than [`MAX_RECEIVES`] times goes to the dead-letter queue instead.
    fn receive(&self) -> Vec<(String, String, u32)> {
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
        while batch.len() < BATCH {
            let Some(mut r) = s.ready.pop_front() else {
                break;
            };
            r.receives += 1;
            if r.receives > MAX_RECEIVES {
                tracing::warn!(message_id = %r.id, "moved to the dead-letter queue after {MAX_RECEIVES} receives");
                s.dead.push(r.body);
                continue;
            }
            batch.push((r.id.clone(), r.body.clone(), r.receives));
            s.in_flight.insert(r.id.clone(), (r, now + self.visibility));
        }
        batch
    }

    fn delete(&self, id: &str) {
        lock(&self.state).in_flight.remove(id);
    }

    /// When the next in-flight record becomes visible again, if any.
    fn next_visible(&self) -> Option<Instant> {
        lock(&self.state)
            .in_flight
            .values()
            .map(|(_, until)| *until)
            .min()
    }
}

#[async_trait]
impl DeliveryQueue for LocalQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), BoxError> {
        lock(&self.log).push(job.clone());
        self.enqueue_raw(serde_json::to_string(job)?);
        Ok(())
    }
}

/// An SQS event of `records` (id, body, receive count), as Lambda's event source builds it.
fn sqs_event(records: &[(String, String, u32)]) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body, receives)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": id,
                "body": body,
                "attributes": { "ApproximateReceiveCount": receives.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
}

/// Feeds the local queue to the `push` function, forever.
pub async fn run_local(queue: Arc<LocalQueue>, app: App) {
    loop {
        let batch = queue.receive();
        if batch.is_empty() {
            let wait = queue
                .next_visible()
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = queue.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let event = match sqs_event(&batch) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "building the SQS event failed");
                continue;
            }
        };
        let response = push::handle(&app, event).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for (id, _, _) in &batch {
            if !failed.contains(id) {
                queue.delete(id);
            }
        }
    }
}

/// Polls a real SQS queue (moto, or AWS) and feeds it to the `push` function, forever.
pub async fn run_sqs(sqs: aws_sdk_sqs::Client, url: String, app: App) {
    use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(BATCH as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "polling the delivery queue failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records: Vec<(String, String, u32)> = messages
            .iter()
            .map(|m| {
                let receives = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                (
                    m.message_id().unwrap_or_default().to_owned(),
                    m.body().unwrap_or_default().to_owned(),
                    receives,
                )
            })
            .collect();
        let Ok(event) = sqs_event(&records) else {
            continue;
        };
        let response = push::handle(&app, event).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
            .filter_map(|m| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(m.message_id().unwrap_or_default())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty()
            && let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(done))
                .send()
                .await
        {
            tracing::warn!(error = %e, "deleting delivered records failed; they will be redelivered");
        }
    }
}
