//! The WebSocket Lambda (lambda_http cannot parse WebSocket events: lambda_runtime with
//! `ApiGatewayWebsocketProxyRequest`). Only the real-time service (and the token and message
//! services it uses), over DynamoDB, SQS and the management API; no SNS client. Built once per
//! cold start.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use whatspe::app::{AwsWiring, Services};
use whatspe::aws::secrets::SecretName;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let aws = AwsWiring::from_lambda_env(&[SecretName::Jwt]).await?;
    let wire = Services::new(&aws.config, &aws);
    let realtime = wire.realtime(wire.tokens(), wire.messages());
    tracing::debug!(clients = ?aws.clients_built(), "wired");
    run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let realtime = realtime.clone();
            async move { Ok::<_, Error>(ws_connect::handle(&realtime, event.payload).await) }
        },
    ))
    .await
}
