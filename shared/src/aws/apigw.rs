//! API Gateway management API implementation of [`ConnectionGateway`].

use crate::ports::{ConnectionGateway, PostError};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// `PostToConnection` on one WebSocket API stage (its `https://{api}.execute-api.{region}
/// .amazonaws.com/{stage}` endpoint, or the local gateway's).
#[derive(Clone)]
pub struct ApiGatewayConnections {
    client: Client,
}

impl ApiGatewayConnections {
    /// A client for the management endpoint `endpoint`, with the rest of `sdk`'s settings.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

/// 410 (`GoneException`) means the connection is closed; anything else is a failure.
fn post_error<E>(e: SdkError<E, HttpResponse>) -> PostError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let gone = e.code() == Some("GoneException")
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 410);
    if gone {
        PostError::Gone
    } else {
        PostError::Failed(Box::new(e))
    }
}

#[async_trait]
impl ConnectionGateway for ApiGatewayConnections {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError> {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await;
        sent.map(|_| ()).map_err(post_error)
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        let closed = self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await;
        closed.map(|_| ()).map_err(post_error)
    }
}
