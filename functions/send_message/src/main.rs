//! The send_message Lambda: the message and token services, over DynamoDB and SQS; no SNS
//! or management API client.
//! Built once per cold start.

use lambda_http::{Error, run, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt, SecretName::Webhook]).await?;
    let wire = Services::new(&aws.config, &aws);
    let tokens = wire.tokens();
    let deps = send_message::Deps {
        messages: wire.messages(),
        tokens,
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(send_message::router(deps)).await
}
