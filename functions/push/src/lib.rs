//! The SQS consumer: each record is a delivery job. Records of one ordering group (a chat,
//! see [`DeliveryJob::group`]) are delivered one after another in queue order; groups run
//! concurrently. Only failed records are reported, so SQS redelivers just those (and moves a
//! record that keeps failing, such as a poison message, to the dead-letter queue). Once a
//! record of a group fails, the group's later records in the batch are reported failed too,
//! unhandled, so a chat's frames never overtake each other. A panicking delivery fails its
//! record (and the rest of its group) like an error: it is retried, never taken as success.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use whatspe::ports::DeliveryJob;
use whatspe::services::DeliveryService;

/// A record's job, or why it is not one.
fn parse(record: &SqsMessage) -> Result<DeliveryJob, serde_json::Error> {
    serde_json::from_str(record.body.as_deref().unwrap_or_default())
}

/// How many times SQS has handed out the record, this time included.
fn receives(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Delivers one group's records in order; stops at the first failure. Adds each record it
/// handled to `handled`.
async fn deliver_group(
    delivery: &DeliveryService,
    jobs: Vec<(String, u32, DeliveryJob)>,
    handled: &Mutex<HashSet<String>>,
) {
    for (id, receives, job) in jobs {
        match delivery.deliver(&job, receives).await {
            Ok(d) => {
                tracing::debug!(message_id = %id, posted = d.posted, gone = d.gone, pushed = d.pushed, skipped = d.skipped, "delivered");
                handled.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
            }
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "delivery failed; SQS will redeliver it and the rest of its group");
                return;
            }
        }
    }
}

/// Handles one batch, the same under the Lambda SQS event source and the local gateway.
pub async fn handle(delivery: &Arc<DeliveryService>, event: SqsEvent) -> SqsBatchResponse {
    let ids: Vec<String> = event
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap_or_default())
        .collect();
    let mut groups: BTreeMap<String, Vec<(String, u32, DeliveryJob)>> = BTreeMap::new();
    for (record, id) in event.records.iter().zip(&ids) {
        match parse(record) {
            Ok(job) => {
                groups
                    .entry(job.group())
                    .or_default()
                    .push((id.clone(), receives(record), job))
            }
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "not a delivery job; it will reach the dead-letter queue");
            }
        }
    }
    let handled = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for jobs in groups.into_values() {
        let (delivery, handled) = (delivery.clone(), handled.clone());
        tasks.spawn(async move { deliver_group(&delivery, jobs, &handled).await });
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a delivery task panicked; its unhandled records will be redelivered");
        }
    }
    let handled = handled.lock().unwrap_or_else(|p| p.into_inner());
    let mut response = SqsBatchResponse::default();
    for id in ids.into_iter().filter(|id| !handled.contains(id)) {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Arc;
    use whatspe::app::{App, Ports};
    use whatspe::clock::SystemClock;
    use whatspe::config::Config;
    use whatspe::domain::UserId;
    use whatspe::frames::{Empty, ServerFrame};
    use whatspe::ports::{Connection, ConnectionGateway, PostError};

    /// A management API that panics on every post (a bug in a dependency, say).
    struct Panics;

    #[async_trait]
    impl ConnectionGateway for Panics {
        async fn post(&self, _: &str, _: &[u8]) -> Result<(), PostError> {
            panic!("boom")
        }
        async fn close(&self, _: &str) -> Result<(), PostError> {
            Ok(())
        }
    }

    fn record(id: &str, job: &DeliveryJob) -> serde_json::Value {
        serde_json::json!({
            "messageId": id,
            "body": serde_json::to_string(job).unwrap(),
            "attributes": { "ApproximateReceiveCount": "1" },
            "messageAttributes": {},
        })
    }

    #[tokio::test]
    async fn a_panicking_delivery_fails_its_record_and_the_rest_of_its_group_only() {
        let (mut ports, _) = Ports::in_memory(Arc::new(SystemClock));
        ports.gateway = Arc::new(Panics);
        let (online, offline) = (UserId::new_random(), UserId::new_random());
        let now = chrono::Utc::now();
        ports
            .connections
            .put(&Connection {
                connection_id: "c1".into(),
                user_id: online,
                session_id: whatspe::domain::SessionId::new_random(),
                connected_at: now,
                expires_at: now + chrono::TimeDelta::hours(2),
            })
            .await
            .unwrap();
        let app = App::new(Config::for_tests(), ports);
        let job = |to: UserId| DeliveryJob {
            to: vec![to],
            push: vec![],
            frame: ServerFrame::Pong(Empty {}),
            note: None,
            fanout: None,
        };
        let (doomed, same_group) = (job(online), job(online));
        assert_eq!(doomed.group(), same_group.group(), "one group");
        let fine = job(offline);
        let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": [
            record("r1", &doomed),
            record("r2", &fine),
            record("r3", &same_group),
            { "messageId": "r4", "body": "not a job", "attributes": {}, "messageAttributes": {} },
        ]}))
        .unwrap();
        let failed: Vec<String> = handle(&app.delivery, event)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(
            failed,
            ["r1", "r3", "r4"],
            "the panic fails its record and what follows it in its group; the poison record fails; the other group succeeds"
        );
    }
}
