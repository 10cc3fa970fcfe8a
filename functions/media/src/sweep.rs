//! The media sweep Lambda (hourly schedule): deletes the uploads no message took within 24 h
//! — the record (only while still pending), then the object.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use whatspe::app::{AwsWiring, Services};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[]).await?;
    let media = Services::new(&aws.config, &aws).media();
    run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let media = media.clone();
        async move {
            let swept = media.sweep().await.map_err(|e| e.to_string())?;
            tracing::info!(deleted = swept.deleted, "swept unreferenced uploads");
            Ok::<_, Error>(serde_json::json!({ "deleted": swept.deleted }))
        }
    }))
    .await
}
