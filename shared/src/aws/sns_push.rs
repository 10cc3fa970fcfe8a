//! SNS implementation of [`PushSender`]: platform endpoints of FCM / APNs applications.

use crate::error::BoxError;
use crate::ports::{Platform, PushError, PushNote, PushSender};
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

/// The SNS message for `note` on `platform`: `{"default", "GCM" | "APNS"}` (SNS's JSON
/// message structure), the platform payload as a string.
///
/// - FCM: a data message, `{"data": {"type": "message", "chatId", "messageId", "title",
///   "body"}, "priority": "high"}`; the app shows it and fetches the message by id.
/// - APNs: an alert, `{"aps": {"alert": {"title", "body"}, "thread-id", "content-available"},
///   "type", "chatId", "messageId"}`.
///
/// The title is the sender's name and the body is always [`PushNote::BODY`]: no message
/// content ever leaves for Google's or Apple's servers. Every field is bounded, so the payload
/// stays under the 4 KB both platforms accept (tested below at the largest possible note).
pub fn notification(platform: Platform, note: &PushNote) -> String {
    let (chat, message, title) = (
        note.chat_id.to_string(),
        note.message_id.to_string(),
        note.sender_name.as_str(),
    );
    let (key, body) = match platform {
        Platform::Fcm => (
            "GCM",
            serde_json::json!({
                "data": {
                    "type": "message",
                    "chatId": chat,
                    "messageId": message,
                    "title": title,
                    "body": PushNote::BODY,
                },
                "priority": "high",
            }),
        ),
        Platform::Apns => (
            "APNS",
            serde_json::json!({
                "aps": {
                    "alert": { "title": title, "body": PushNote::BODY },
                    "thread-id": chat,
                    "content-available": 1,
                },
                "type": "message",
                "chatId": chat,
                "messageId": message,
            }),
        ),
    };
    serde_json::json!({ "default": PushNote::BODY, key: body.to_string() }).to_string()
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
        note: &PushNote,
    ) -> Result<(), PushError> {
        let message = notification(platform, note);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, MessageId, Username};
    use serde_json::Value;

    /// The largest note there can be: a username of the maximum length.
    fn largest_note() -> PushNote {
        PushNote {
            chat_id: ConversationId::parse("ffffffff-ffff-ffff-ffff-ffffffffffff").unwrap(),
            message_id: MessageId::from_uuid(uuid::Uuid::max()),
            sender_name: Username::parse(&format!("a{}", "9".repeat(29))).unwrap(),
        }
    }

    /// The platform payload inside the SNS message.
    fn payload(platform: Platform, note: &PushNote) -> (String, Value) {
        let sns: Value = serde_json::from_str(&notification(platform, note)).unwrap();
        let key = match platform {
            Platform::Fcm => "GCM",
            Platform::Apns => "APNS",
        };
        let raw = sns[key].as_str().expect("the platform payload").to_owned();
        let value = serde_json::from_str(&raw).unwrap();
        (raw, value)
    }

    #[test]
    fn the_largest_possible_payload_of_each_platform_is_under_4_kb() {
        let note = largest_note();
        for platform in [Platform::Fcm, Platform::Apns] {
            let (raw, _) = payload(platform, &note);
            assert!(raw.len() < 4096, "{platform:?}: {} bytes: {raw}", raw.len());
            let whole = notification(platform, &note);
            assert!(whole.len() < 4096, "{platform:?}: the SNS message {whole}");
        }
    }

    #[test]
    fn fcm_gets_a_data_message_with_the_sender_as_title_and_the_ids() {
        let note = largest_note();
        let (_, p) = payload(Platform::Fcm, &note);
        assert_eq!(
            p,
            serde_json::json!({
                "data": {
                    "type": "message",
                    "chatId": note.chat_id.to_string(),
                    "messageId": note.message_id.to_string(),
                    "title": note.sender_name.as_str(),
                    "body": "New message",
                },
                "priority": "high",
            })
        );
    }

    #[test]
    fn apns_gets_an_alert_with_the_sender_as_title_and_the_ids_as_custom_data() {
        let note = largest_note();
        let (_, p) = payload(Platform::Apns, &note);
        assert_eq!(
            p,
            serde_json::json!({
                "aps": {
                    "alert": { "title": note.sender_name.as_str(), "body": "New message" },
                    "thread-id": note.chat_id.to_string(),
                    "content-available": 1,
                },
                "type": "message",
                "chatId": note.chat_id.to_string(),
                "messageId": note.message_id.to_string(),
            })
        );
        let sns: Value = serde_json::from_str(&notification(Platform::Apns, &note)).unwrap();
        assert_eq!(sns["default"], "New message");
    }
}
