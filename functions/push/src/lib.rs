//! The SQS consumer: each record is a delivery job; records are handled concurrently and
//! only the failed ones are reported, so SQS redelivers just those (and moves a record that
//! keeps failing, such as a poison message, to the dead-letter queue).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use whatspe::app::App;
use whatspe::ports::DeliveryJob;

/// Handles one batch, the same under the Lambda SQS event source and the local gateway.
pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let mut tasks = tokio::task::JoinSet::new();
    for record in event.records {
        let app = app.clone();
        tasks.spawn(async move {
            let id = record.message_id.clone().unwrap_or_default();
            let job: DeliveryJob = match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "not a delivery job; it will reach the dead-letter queue");
                    return Err(id);
                }
            };
            match app.delivery.deliver(&job).await {
                Ok(d) => {
                    tracing::debug!(message_id = %id, posted = d.posted, gone = d.gone, pushed = d.pushed, "delivered");
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "delivery failed; SQS will redeliver");
                    Err(id)
                }
            }
        });
    }
    let mut response = SqsBatchResponse::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(id)) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            Err(e) => tracing::error!(error = %e, "delivery task panicked"),
        }
    }
    response
}
