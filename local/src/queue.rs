//! The SQS event source, emulated: batches of delivery records fed to the `push` function
//! exactly as Lambda's SQS event source does, deleting the records it handled and leaving the
//! failed ones for redelivery. The records come from the in-process [`MemoryQueue`] (visibility
//! timeout, redelivery, dead-letter queue) or, on an AWS endpoint, from the real queue.

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use whatspe::app::App;
use whatspe::memory::MemoryQueue;

/// Records per batch (Lambda's SQS event source default).
const BATCH: usize = 10;
/// Batches handled at once from the in-process queue. Lambda's event source for a FIFO queue
/// runs a batch per active message group in parallel (up to the function's concurrency); the
/// queue never hands out records of a group with records in flight, so order within a group
/// holds however many batches run.
const CONCURRENT_BATCHES: usize = 8;

/// One received record.
struct Record {
    id: String,
    receipt_handle: String,
    body: String,
    receives: u32,
}

/// Where the event source receives records from.
#[async_trait]
trait Source: Send + Sync {
    /// The next non-empty batch of at most [`BATCH`] records (waits for one).
    async fn receive(&self) -> Vec<Record>;
    /// Deletes the records the function handled.
    async fn delete(&self, handled: &[&Record]);
}

/// An SQS event of `records`, as Lambda's event source builds it (the typed event, as
/// lambda_runtime hands it to `push` once it has parsed Lambda's JSON).
fn sqs_event(records: &[Record]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records
        .iter()
        .map(|r| {
            let mut m = SqsMessage::default();
            m.message_id = Some(r.id.clone());
            m.receipt_handle = Some(r.receipt_handle.clone());
            m.body = Some(r.body.clone());
            m.attributes =
                HashMap::from([("ApproximateReceiveCount".to_owned(), r.receives.to_string())]);
            m.event_source = Some("aws:sqs".into());
            m
        })
        .collect();
    event
}

/// Feeds `source` to the `push` function, forever.
async fn feed(source: &dyn Source, app: &App) {
    loop {
        let batch = source.receive().await;
        let event = sqs_event(&batch);
        let response = push::handle(&app.delivery, event).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let handled: Vec<&Record> = batch.iter().filter(|r| !failed.contains(&r.id)).collect();
        if !handled.is_empty() {
            source.delete(&handled).await;
        }
    }
}

/// Feeds the in-process queue to the `push` function, [`CONCURRENT_BATCHES`] batches at a
/// time, forever.
pub async fn run_local(queue: Arc<MemoryQueue>, app: App) {
    let feeders = (0..CONCURRENT_BATCHES).map(|_| {
        let (source, app) = (LocalSource(queue.clone()), app.clone());
        tokio::spawn(async move { feed(&source, &app).await })
    });
    futures_util::future::join_all(feeders).await;
}

/// Polls a real SQS queue (moto, or AWS) and feeds it to the `push` function, forever.
pub async fn run_sqs(sqs: aws_sdk_sqs::Client, url: String, app: App) {
    feed(&SqsSource { sqs, url }, &app).await
}

struct LocalSource(Arc<MemoryQueue>);

#[async_trait]
impl Source for LocalSource {
    async fn receive(&self) -> Vec<Record> {
        loop {
            let batch = self.0.receive(BATCH);
            if !batch.is_empty() {
                return batch
                    .into_iter()
                    .map(|r| Record {
                        receipt_handle: r.id.clone(),
                        id: r.id,
                        body: r.body,
                        receives: r.receives,
                    })
                    .collect();
            }
            self.0.wait().await;
        }
    }

    async fn delete(&self, handled: &[&Record]) {
        for r in handled {
            self.0.delete(&r.receipt_handle);
        }
    }
}

struct SqsSource {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

#[async_trait]
impl Source for SqsSource {
    async fn receive(&self) -> Vec<Record> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
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
            return messages
                .iter()
                .map(|m| Record {
                    id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receives: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1),
                })
                .collect();
        }
    }

    async fn delete(&self, handled: &[&Record]) {
        use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
        let entries: Vec<DeleteMessageBatchRequestEntry> = handled
            .iter()
            .filter_map(|r| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(&r.id)
                    .receipt_handle(&r.receipt_handle)
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty()
            && let Err(e) = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
        {
            tracing::warn!(error = %e, "deleting delivered records failed; they will be redelivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed event is the one Lambda's JSON SQS event parses into.
    #[test]
    fn an_event_is_what_lambdas_json_for_it_parses_into() {
        let e = sqs_event(&[Record {
            id: "m-1".into(),
            receipt_handle: "rh-1".into(),
            body: "{\"job\":1}".into(),
            receives: 3,
        }]);
        let json = serde_json::to_value(&e).expect("serialises");
        let r = &json["Records"][0];
        assert_eq!(r["messageId"], "m-1");
        assert_eq!(r["receiptHandle"], "rh-1");
        assert_eq!(r["body"], "{\"job\":1}");
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "3");
        assert_eq!(r["eventSource"], "aws:sqs");
        let parsed: SqsEvent = serde_json::from_value(json).expect("parses as Lambda's event");
        assert_eq!(parsed, e);
    }
}
