//! The contacts Lambda: the contact and token services, over DynamoDB and SQS (contact
//! events are queued for delivery); no SNS or management API client.
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
    let deps = contacts::Deps {
        contacts: wire.contacts(),
        tokens,
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(contacts::router(deps)).await
}
