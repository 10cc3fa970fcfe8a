//! The auth Lambda: the auth and token services, over DynamoDB, SNS (codes and push
//! endpoints), the WebSocket management API (sign-out closes sockets) and S3 (a new profile
//! picture is checked: HEAD and a ranged GET); no SQS client.
//! Built once per cold start.

use lambda_http::{Error, run, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt, SecretName::Otp]).await?;
    let wire = Services::new(&aws.config, &aws);
    let tokens = wire.tokens();
    let deps = auth_otp::Deps {
        auth: wire.auth(tokens.clone()),
        media: wire.media(),
        tokens,
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(auth_otp::router(deps)).await
}
