//! The devices Lambda: configuration and clients are built once per cold start.

use lambda_http::{Error, run, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = whatspe::app::App::from_lambda_env().await?;
    run(devices::router(app)).await
}
