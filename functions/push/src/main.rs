//! The delivery Lambda: an SQS event source with `ReportBatchItemFailures`. Only the delivery
//! service, over DynamoDB, the WebSocket management API and SNS (mobile push); no SQS client
//! (the event source receives and deletes). Built once per cold start.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use whatspe::app::{AwsWiring, Services};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[]).await?;
    let delivery = Services::new(&aws.config, &aws).delivery();
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let delivery = delivery.clone();
        async move { Ok::<_, Error>(push::handle(&delivery, event.payload).await) }
    }))
    .await
}
