//! The relay Lambda: a DynamoDB stream event source (the `messages` table) with
//! `ReportBatchItemFailures`.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = whatspe::app::App::from_lambda_env().await?;
    run(service_fn(|event: LambdaEvent<Event>| {
        let app = app.clone();
        async move { Ok::<_, Error>(relay::handle(&app, event.payload).await) }
    }))
    .await
}
