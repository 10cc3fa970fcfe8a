//! The delivery Lambda: an SQS event source with `ReportBatchItemFailures`.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = whatspe::app::App::from_lambda_env().await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Error>(push::handle(&app, event.payload).await) }
    }))
    .await
}
