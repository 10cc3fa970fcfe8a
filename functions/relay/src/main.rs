//! The relay Lambda: a DynamoDB stream event source (the `messages` table) with
//! `ReportBatchItemFailures`. Only the message service, over DynamoDB and SQS. Built once per
//! cold start.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use whatspe::app::{AwsWiring, Services};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[]).await?;
    let messages = Services::new(&aws.config, &aws).messages();
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(service_fn(|event: LambdaEvent<Event>| {
        let messages = messages.clone();
        async move { Ok::<_, Error>(relay::handle(&messages, event.payload).await) }
    }))
    .await
}
