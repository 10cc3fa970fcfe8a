//! The DynamoDB stream event source, emulated: the `messages` table's committed messages (and
//! messages changed by an action) fed to the `relay` function in batches, in commit order,
//! as Lambda's event source does —
//! a batch whose record failed is retried from that record (`ReportBatchItemFailures`), after
//! a short pause, until it succeeds. In memory the records come from the store's
//! [`MessageStream`]; on an AWS endpoint (moto, DynamoDB Local, AWS) from the table's real
//! stream through the DynamoDB Streams API.

use aws_lambda_events::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue as Av, ShardIteratorType};
use chrono::SubsecRound;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use whatspe::app::App;
use whatspe::error::BoxError;
use whatspe::memory::MessageStream;

/// Records per batch (Lambda's DynamoDB event source default).
const BATCH: usize = 100;
/// Pause before retrying a failed batch.
const RETRY_AFTER: Duration = Duration::from_millis(100);
/// How often the real stream is polled when it had nothing (Lambda polls 4 times a second).
const POLL_EVERY: Duration = Duration::from_millis(100);

/// One stream record as Lambda's DynamoDB event carries it, built as the typed event (what
/// `relay` receives once lambda_runtime has parsed Lambda's JSON), not through JSON: the
/// relay's own parsing of the image (`NewImage`) is the same as on Lambda.
fn record(sequence_number: &str, name: &str, image: serde_dynamo::Item) -> EventRecord {
    let mut change = StreamRecord::default();
    // Whole seconds, as in Lambda's event (epoch seconds).
    change.approximate_creation_date_time = chrono::Utc::now().trunc_subsecs(0);
    change.new_image = image;
    change.sequence_number = Some(sequence_number.to_owned());
    change.stream_view_type = Some(StreamViewType::NewImage);
    let mut r = EventRecord::default();
    r.event_id = sequence_number.to_owned();
    r.event_name = name.to_owned();
    r.event_source = Some("aws:dynamodb".into());
    r.event_version = Some("1.1".into());
    r.aws_region = "local".into();
    r.change = change;
    r
}

fn event(records: Vec<EventRecord>) -> Event {
    let mut e = Event::default();
    e.records = records;
    e
}

/// Runs the relay on `records` (sequence number, event record); returns how many leading
/// records it relayed (all of them, or up to the first failure).
async fn relay(app: &App, records: Vec<(String, EventRecord)>) -> usize {
    let n = records.len();
    let order: Vec<String> = records.iter().map(|(s, _)| s.clone()).collect();
    let event = event(records.into_iter().map(|(_, r)| r).collect());
    let response = relay::handle(&app.messages, event).await;
    match response
        .batch_item_failures
        .first()
        .and_then(|f| f.item_identifier.as_ref())
    {
        None => n,
        Some(failed) => order.iter().position(|s| s == failed).unwrap_or(0),
    }
}

/// Feeds the in-memory stream to the `relay` function, forever.
pub async fn run_memory(stream: Arc<MessageStream>, app: App) {
    let mut next_seq: u64 = 0;
    loop {
        let batch = stream.take(BATCH).await;
        let records: Vec<(String, EventRecord)> = batch
            .iter()
            .filter_map(|m| {
                let image = whatspe::aws::dynamo::stream_image(m).ok()?;
                next_seq += 1;
                let seq = format!("{next_seq:021}");
                // A message carrying an action was changed, as DynamoDB's MODIFY record.
                let name = if m.extras.act.is_some() {
                    "MODIFY"
                } else {
                    "INSERT"
                };
                Some((seq.clone(), record(&seq, name, image)))
            })
            .collect();
        let done = relay(&app, records).await;
        let failed = done < batch.len();
        stream.ack(batch, done);
        if failed {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
}

/// The DynamoDB Streams SDK's attribute value as serde_dynamo's (what Lambda events carry).
fn attribute(v: &Av) -> serde_dynamo::AttributeValue {
    use serde_dynamo::AttributeValue as A;
    match v {
        Av::S(s) => A::S(s.clone()),
        Av::N(n) => A::N(n.clone()),
        Av::Bool(b) => A::Bool(*b),
        Av::Null(b) => A::Null(*b),
        Av::B(b) => A::B(b.as_ref().to_vec()),
        Av::Ss(v) => A::Ss(v.clone()),
        Av::Ns(v) => A::Ns(v.clone()),
        Av::Bs(v) => A::Bs(v.iter().map(|b| b.as_ref().to_vec()).collect()),
        Av::L(l) => A::L(l.iter().map(attribute).collect()),
        Av::M(m) => A::M(m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()),
        _ => A::Null(true),
    }
}

fn item(image: &HashMap<String, Av>) -> serde_dynamo::Item {
    image
        .iter()
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect::<HashMap<_, _>>()
        .into()
}

/// Where the poller is in one shard: after the last record it read (`None`: nothing read, so
/// from the shard's start, once the records that were there at start-up are skipped).
struct ShardCursor {
    shard_id: String,
    after: Option<String>,
}

/// The cursors of the stream `arn`'s shards, past every record already there: only messages
/// committed from now on are relayed, as a new event source mapping at `LATEST` does.
async fn cursors(
    client: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> Result<Vec<ShardCursor>, BoxError> {
    let stream = client.describe_stream().stream_arn(arn).send().await?;
    let mut out = Vec::new();
    for shard in stream
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default()
    {
        let Some(id) = shard.shard_id() else { continue };
        let mut cursor = ShardCursor {
            shard_id: id.to_owned(),
            after: None,
        };
        // Skip what is already there.
        loop {
            let out = client
                .get_records()
                .shard_iterator(iterator(client, arn, &cursor).await?)
                .send()
                .await?;
            match out
                .records()
                .last()
                .and_then(|r| r.dynamodb()?.sequence_number())
            {
                Some(last) => cursor.after = Some(last.to_owned()),
                None => break,
            }
        }
        out.push(cursor);
    }
    Ok(out)
}

/// A fresh iterator at `cursor`. The poller asks for one before every read rather than
/// following `NextShardIterator`, so its position is a sequence number that never expires
/// (iterators do, after 15 minutes) and survives an emulator that swaps a shard out (moto
/// rolling back a transaction did, before `scripts/moto_server.py`). Locally only, one more
/// request per poll.
async fn iterator(
    client: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    cursor: &ShardCursor,
) -> Result<String, BoxError> {
    let req = client
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(&cursor.shard_id);
    let req = match &cursor.after {
        Some(seq) => req
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(seq),
        None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
    };
    Ok(req
        .send()
        .await?
        .shard_iterator()
        .ok_or("GetShardIterator returned no iterator")?
        .to_owned())
}

/// Starts polling the real stream of `table` and feeds it to the `relay` function, forever.
/// The shard cursors are placed before this returns, so no message committed afterwards is
/// missed.
pub async fn run_aws(
    sdk: &aws_config::SdkConfig,
    table: &str,
    app: App,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let arn = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await?
        .table()
        .and_then(|t| t.latest_stream_arn())
        .ok_or_else(|| format!("table {table} has no stream"))?
        .to_owned();
    let client = aws_sdk_dynamodbstreams::Client::new(sdk);
    let mut shards = cursors(&client, &arn).await?;
    Ok(tokio::spawn(async move {
        loop {
            let mut any = false;
            for cursor in shards.iter_mut() {
                any |= poll_shard(&client, &arn, &app, cursor).await;
            }
            if !any {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }))
}

/// Reads one batch of the shard after `cursor`, relays it (retrying its failed tail until it
/// goes through) and moves the cursor on. Whether there were records.
async fn poll_shard(
    client: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    app: &App,
    cursor: &mut ShardCursor,
) -> bool {
    let read = async {
        let it = iterator(client, arn, cursor).await?;
        Ok::<_, BoxError>(
            client
                .get_records()
                .shard_iterator(it)
                .limit(BATCH as i32)
                .send()
                .await?,
        )
    };
    let out = match read.await {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!(error = %e, "reading the messages stream failed");
            return false;
        }
    };
    let mut records: Vec<(String, EventRecord)> = out
        .records()
        .iter()
        .filter_map(|r| {
            let name = r.event_name()?.as_str();
            matches!(name, "INSERT" | "MODIFY").then(|| (r, name.to_owned()))
        })
        .filter_map(|(r, name)| {
            let change = r.dynamodb()?;
            let seq = change.sequence_number()?.to_owned();
            let image = item(change.new_image()?);
            Some((seq.clone(), record(&seq, &name, image)))
        })
        .collect();
    while !records.is_empty() {
        let done = relay(app, records.clone()).await;
        records.drain(..done);
        if !records.is_empty() {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
    match out
        .records()
        .last()
        .and_then(|r| r.dynamodb()?.sequence_number())
    {
        Some(last) => {
            cursor.after = Some(last.to_owned());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed record is the one Lambda's JSON stream record parses into: serialised with
    /// Lambda's field names, parsing that JSON back gives the same event.
    #[test]
    fn a_record_is_what_lambdas_json_for_it_parses_into() {
        let image: serde_dynamo::Item = HashMap::from([(
            "pk".to_owned(),
            serde_dynamo::AttributeValue::S("c#1".into()),
        )])
        .into();
        let e = event(vec![record("000000000000000000042", "MODIFY", image)]);
        let json = serde_json::to_value(&e).expect("serialises");
        let r = &json["Records"][0];
        assert_eq!(r["eventName"], "MODIFY");
        assert_eq!(r["eventSource"], "aws:dynamodb");
        assert_eq!(r["eventID"], "000000000000000000042");
        assert_eq!(r["dynamodb"]["SequenceNumber"], "000000000000000000042");
        assert_eq!(r["dynamodb"]["StreamViewType"], "NEW_IMAGE");
        assert_eq!(r["dynamodb"]["NewImage"]["pk"]["S"], "c#1");
        let parsed: Event = serde_json::from_value(json).expect("parses as Lambda's event");
        assert_eq!(parsed, e);
    }
}
