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
