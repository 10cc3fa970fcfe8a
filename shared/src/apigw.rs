//! API Gateway management API implementation of [`ConnectionGateway`].

use crate::ports::{ConnectionGateway, PostError};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata;
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

#[async_trait]
impl ConnectionGateway for ApiGatewayConnections {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("GoneException") => Err(PostError::Gone),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 410) => {
                Err(PostError::Gone)
            }
            Err(e) => Err(PostError::Failed(Box::new(e))),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("GoneException") => Err(PostError::Gone),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 410) => {
                Err(PostError::Gone)
            }
            Err(e) => Err(PostError::Failed(Box::new(e))),
        }
    }
}
