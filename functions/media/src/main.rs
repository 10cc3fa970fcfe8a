//! The media Lambda: the media service over DynamoDB (`media` table) and S3 (signing only:
//! presigned PUT/GET). Built once per cold start.

use lambda_http::{Error, run, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt]).await?;
    let wire = Services::new(&aws.config, &aws);
    let deps = media::Deps {
        media: wire.media(),
        tokens: wire.tokens(),
    };
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(media::router(deps)).await
}
