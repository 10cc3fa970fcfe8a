//! The AWS implementations of the ports, side by side like [`crate::memory`]:
//! - [`dynamo`]: every store port (DynamoDB tables, their schema and key formats).
//! - [`sqs`]: the delivery queue.
//! - [`sns`]: SMS (OTP texts); [`sns_push`]: mobile push through SNS platform endpoints.
//! - [`s3`]: the media bucket (presigned upload/download URLs, HEAD, ranged GET).
//! - [`apigw`]: the connection gateway (API Gateway management API `PostToConnection`).
//! - [`tls`]: the functions' HTTPS client (trusting Amazon Trust Services' roots only).
//!
//! Adapters see SDK types and ports, never HTTP; services never see an SDK type.

pub mod apigw;
pub mod dynamo;
pub mod s3;
pub mod secrets;
pub mod sns;
pub mod sns_push;
pub mod sqs;
pub mod tls;
