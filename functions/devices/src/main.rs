//! The devices Lambda: the device and token services, over DynamoDB and SNS (platform
//! endpoints); no SQS or management API client.
//! Built once per cold start.

use lambda_http::{Error, run, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt]).await?;
    let wire = Services::new(&aws.config, &aws);
    let tokens = wire.tokens();
    let deps = devices::Deps {
        devices: wire.devices(),
        tokens,
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(devices::router(deps)).await
}
