//! SNS implementation of [`PushSender`]: platform endpoints of FCM / APNs applications.

use crate::error::BoxError;
use crate::ports::{Platform, PushError, PushSender};
use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::ProvideErrorMetadata;
use std::collections::HashMap;

/// Mobile push through SNS platform applications (one per platform, from configuration).
#[derive(Clone)]
pub struct SnsPushSender {
    client: Client,
    applications: HashMap<Platform, String>,
}

impl SnsPushSender {
    pub fn new(client: Client, applications: HashMap<Platform, String>) -> Self {
        Self {
            client,
            applications,
        }
    }
}

/// The notification a platform shows: no message content (it would leave end-to-end
/// control); the app fetches it with the frame's id when woken.
pub fn notification(platform: Platform, frame: &str) -> Result<String, BoxError> {
    let body = match platform {
        Platform::Fcm => serde_json::json!({ "data": { "frame": frame }, "priority": "high" }),
        Platform::Apns => serde_json::json!({
            "aps": { "alert": { "title": "WhatsPe", "body": "New activity" }, "content-available": 1 },
            "frame": frame
        }),
    };
    let key = match platform {
        Platform::Fcm => "GCM",
        Platform::Apns => "APNS",
    };
    Ok(
        serde_json::json!({ "default": "New activity on WhatsPe", key: body.to_string() })
            .to_string(),
    )
}

#[async_trait]
impl PushSender for SnsPushSender {
    fn supports(&self, platform: Platform) -> bool {
        self.applications.contains_key(&platform)
    }

    async fn register(&self, platform: Platform, token: &str) -> Result<String, BoxError> {
        let app = self
            .applications
            .get(&platform)
            .ok_or_else(|| format!("no SNS platform application is configured for {platform:?}"))?;
        let out = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(app)
            .token(token)
            .send()
            .await?;
        Ok(out
            .endpoint_arn()
            .ok_or("CreatePlatformEndpoint returned no ARN")?
            .to_owned())
    }

    async fn unregister(&self, endpoint: &str) -> Result<(), BoxError> {
        self.client
            .delete_endpoint()
            .endpoint_arn(endpoint)
            .send()
            .await?;
        Ok(())
    }

    async fn push(
        &self,
        endpoint: &str,
        platform: Platform,
        payload: &str,
    ) -> Result<(), PushError> {
        let message = notification(platform, payload).map_err(PushError::Failed)?;
        match self
            .client
            .publish()
            .target_arn(endpoint)
            .message_structure("json")
            .message(message)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("EndpointDisabled") | Some("NotFound")) => {
                Err(PushError::Disabled)
            }
            Err(e) => Err(PushError::Failed(Box::new(e))),
        }
    }
}
