//! SQS implementation of [`DeliveryQueue`].

use crate::error::BoxError;
use crate::ports::{DeliveryJob, DeliveryQueue};
use async_trait::async_trait;
use aws_sdk_sqs::Client;

/// Sends each job as one SQS message (JSON body) to the delivery queue.
#[derive(Clone)]
pub struct SqsDeliveryQueue {
    client: Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), BoxError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(job)?)
            .message_group_id(job.group())
            .message_deduplication_id(job.dedup_id())
            .send()
            .await?;
        Ok(())
    }

    /// One `SendMessageBatch` per 10 jobs; any entry SQS refuses fails the call.
    async fn enqueue_many(&self, jobs: &[DeliveryJob]) -> Result<(), BoxError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        for batch in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(batch.len());
            for (i, job) in batch.iter().enumerate() {
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job)?)
                        .message_group_id(job.group())
                        .message_deduplication_id(job.dedup_id())
                        .build()?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await?;
            if let Some(f) = out.failed().first() {
                return Err(format!(
                    "SQS refused {} of {} jobs: {} {}",
                    out.failed().len(),
                    batch.len(),
                    f.code(),
                    f.message().unwrap_or_default()
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The URL of the FIFO queue `name` (`.fifo` is appended when missing), creating it — with a
/// FIFO dead-letter queue after 5 receives, per-group deduplication and high throughput — if
/// it does not exist. For the local gateway and the tests; deployments get theirs from
/// template.yaml.
pub async fn ensure_queue(client: &Client, name: &str) -> Result<String, BoxError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let dlq = client
        .create_queue()
        .queue_name(format!("{base}_dlq.fifo"))
        .attributes(A::FifoQueue, "true")
        .send()
        .await?;
    let dlq_url = dlq.queue_url().ok_or("CreateQueue returned no URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(A::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&A::QueueArn).cloned())
        .ok_or("the dead-letter queue has no ARN")?;
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);
    let out = client
        .create_queue()
        .queue_name(format!("{base}.fifo"))
        .attributes(A::FifoQueue, "true")
        .attributes(A::DeduplicationScope, "messageGroup")
        .attributes(A::FifoThroughputLimit, "perMessageGroupId")
        .attributes(A::RedrivePolicy, policy)
        .attributes(A::VisibilityTimeout, "60")
        .send()
        .await?;
    Ok(out
        .queue_url()
        .ok_or("CreateQueue returned no URL")?
        .to_owned())
}

/// The URL of the dead-letter queue of `queue_url` (its `RedrivePolicy` target).
pub async fn dead_letter_queue_url(client: &Client, queue_url: &str) -> Result<String, BoxError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let policy = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::RedrivePolicy)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&A::RedrivePolicy).cloned())
        .ok_or("the delivery queue has no dead-letter queue")?;
    let arn: String = serde_json::from_str::<serde_json::Value>(&policy)?["deadLetterTargetArn"]
        .as_str()
        .ok_or("the redrive policy names no dead-letter queue")?
        .to_owned();
    let name = arn.rsplit(':').next().unwrap_or_default();
    Ok(client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await?
        .queue_url()
        .ok_or("GetQueueUrl returned no URL")?
        .to_owned())
}

/// Moves every message of the dead-letter queue `dlq_url` back to the delivery queue
/// `queue_url`, oldest first, each in its ordering group and with a fresh deduplication id
/// (the 5-minute window would drop it otherwise), deleting it from the dead-letter queue once
/// it is re-queued. Returns how many moved. Redelivered jobs skip the targets they already
/// served (their delivery progress is kept 15 days). `whatspe-local --redrive-dlq` runs it
/// against any SQS endpoint; on AWS, `aws sqs start-message-move-task` does the same.
pub async fn redrive(client: &Client, dlq_url: &str, queue_url: &str) -> Result<usize, BoxError> {
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    let mut moved = 0;
    loop {
        let out = client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(A::MessageGroupId)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for m in &messages {
            let id = m.message_id().unwrap_or_default();
            let group = m
                .attributes()
                .and_then(|a| a.get(&A::MessageGroupId).cloned())
                .unwrap_or_else(|| id.to_owned());
            client
                .send_message()
                .queue_url(queue_url)
                .message_body(m.body().unwrap_or_default())
                .message_group_id(group)
                .message_deduplication_id(format!("redrive-{id}"))
                .send()
                .await?;
            client
                .delete_message()
                .queue_url(dlq_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await?;
            moved += 1;
            crate::metrics::count("DeadLetterRedriven");
        }
    }
}
