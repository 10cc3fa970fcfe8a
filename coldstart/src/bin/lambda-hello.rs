//! The cold-start floor: a `lambda_runtime` function that echoes its event.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|e: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(e.payload)
    }))
    .await
}
