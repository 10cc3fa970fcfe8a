//! The media bucket on S3: presigned PUTs that bind Content-Type and Content-Length,
//! presigned GETs, HEAD, a ranged GET of the first bytes, and deletes.

use crate::error::BoxError;
use crate::ports::{BlobHead, BlobStore, Presigned};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// A client for the bucket: path-style addressing when an endpoint override is set (moto and
/// other S3-compatible servers on localhost have no per-bucket host names).
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let path_style = sdk.endpoint_url().is_some();
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

/// Creates the bucket if it does not exist (the local gateway and tests; deployments get it
/// from template.yaml).
pub async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), BoxError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            match e.code() {
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(()),
                _ => Err(Box::new(e)),
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<Presigned, BoxError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(size)?)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await?;
        // The signed headers (content-type, content-length) the client must send.
        let headers = req
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (canonical(name), value.to_owned()))
            .collect::<BTreeMap<_, _>>();
        Ok(Presigned {
            url: req.uri().to_owned(),
            headers,
        })
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BoxError> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await?;
        Ok(req.uri().to_owned())
    }

    async fn head(&self, key: &str) -> Result<Option<BlobHead>, BoxError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(BlobHead {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                content_type: out.content_type,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }

    async fn read_prefix(&self, key: &str, len: u64) -> Result<Vec<u8>, BoxError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len.saturating_sub(1)))
            .send()
            .await?;
        let bytes = out.body.collect().await?.into_bytes();
        Ok(bytes[..bytes.len().min(len as usize)].to_vec())
    }

    async fn delete(&self, key: &str) -> Result<(), BoxError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

/// `content-type` → `Content-Type`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
