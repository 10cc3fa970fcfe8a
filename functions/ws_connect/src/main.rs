//! The WebSocket Lambda (lambda_http cannot parse WebSocket events: lambda_runtime with
//! `ApiGatewayWebsocketProxyRequest`). Clients are built once per cold start.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = whatspe::app::App::from_lambda_env().await?;
    run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let app = app.clone();
            async move { Ok::<_, Error>(ws_connect::handle(&app, event.payload).await) }
        },
    ))
    .await
}
