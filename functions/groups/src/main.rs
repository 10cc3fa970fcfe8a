//! The groups Lambda: the group and token services, over DynamoDB only (group changes reach
//! members through the messages table's stream and the relay, not from here).
//! Built once per cold start.

use lambda_http::{Error, run, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt]).await?;
    let wire = Services::new(&aws.config, &aws);
    let deps = groups::Deps {
        groups: wire.groups(),
        tokens: wire.tokens(),
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(groups::router(deps)).await
}
