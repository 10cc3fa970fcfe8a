//! The get_messages Lambda: the message and token services, over DynamoDB and SQS; no SNS
//! or management API client.
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
    let deps = get_messages::Deps {
        messages: wire.messages(),
        tokens,
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(get_messages::router(deps)).await
}
