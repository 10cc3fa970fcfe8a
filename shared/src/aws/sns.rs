//! SNS implementation of [`SmsSender`]: transactional SMS straight to a phone number.

use crate::domain::PhoneNumber;
use crate::error::BoxError;
use crate::ports::SmsSender;
use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

/// Sends SMS with SNS `Publish` to a phone number, typed `Transactional` (OTP traffic gets
/// the reliable route and is not opted out by marketing rules).
#[derive(Clone)]
pub struct SnsSmsSender {
    client: Client,
    sender_id: Option<String>,
}

impl SnsSmsSender {
    pub fn new(client: Client, sender_id: Option<String>) -> Self {
        Self { client, sender_id }
    }
}

fn string_attr(v: &str) -> Result<MessageAttributeValue, BoxError> {
    Ok(MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()?)
}

#[async_trait]
impl SmsSender for SnsSmsSender {
    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<(), BoxError> {
        let mut req = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(body)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attr("Transactional")?);
        if let Some(id) = &self.sender_id {
            req = req.message_attributes("AWS.SNS.SMS.SenderID", string_attr(id)?);
        }
        req.send().await?;
        Ok(())
    }
}
