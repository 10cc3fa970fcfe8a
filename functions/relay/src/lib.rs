//! The transactional outbox's relay: the `messages` table's DynamoDB stream hands over every
//! committed message, in commit order per conversation, and each becomes a delivery job on
//! the FIFO queue. A changed message (`MODIFY`: a reaction, an edit, a delete for everyone)
//! carries its action, and becomes that action's frame. A send is therefore one DynamoDB write and nothing else: a process that dies
//! right after its commit loses no delivery.
//!
//! Records are relayed one after another; at the first failure the rest of the batch is left
//! for a retry (its sequence number is reported, so the event source resumes there and a
//! chat's order holds). Relaying a record twice queues its job once: the job's deduplication
//! id is the message id.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use whatspe::aws::dynamo::message_from_stream_image;
use whatspe::services::MessageService;

/// Handles one batch of stream records, the same under Lambda's DynamoDB event source and the
/// local gateway's.
pub async fn handle(messages: &MessageService, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let seq = record.change.sequence_number.clone();
        if record.event_name != "INSERT" && record.event_name != "MODIFY" {
            continue;
        }
        let message = match message_from_stream_image(record.change.new_image) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                // Not ours to fix by retrying: the item cannot be read as a message.
                tracing::error!(sequence_number = ?seq, error = %e, "an unreadable message item in the stream; skipped");
                continue;
            }
        };
        if let Err(e) = messages.relay(&message).await {
            tracing::warn!(message = %message.id, error = %e, "relaying failed; the stream retries from this record");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = seq;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
