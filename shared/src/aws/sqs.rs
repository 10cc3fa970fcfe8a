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
            .send()
            .await?;
        Ok(())
    }
}

/// The URL of queue `name`, creating it (with a dead-letter queue after 5 receives) if it does
/// not exist. For the local gateway and the tests; deployments get theirs from template.yaml.
pub async fn ensure_queue(client: &Client, name: &str) -> Result<String, BoxError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}_dlq"))
        .send()
        .await?;
    let dlq_url = dlq.queue_url().ok_or("CreateQueue returned no URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("the dead-letter queue has no ARN")?;
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);
    let out = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .send()
        .await?;
    Ok(out
        .queue_url()
        .ok_or("CreateQueue returned no URL")?
        .to_owned())
}
