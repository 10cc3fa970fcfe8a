//! Media ports: the blob store (S3, or memory behind the local gateway's own signed URLs) and
//! the uploads' metadata.

use crate::StoreError;
use crate::domain::{MediaId, MediaMeta, MediaUse};
use crate::error::BoxError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// A presigned request: where to send it, and the headers the signature binds (the client
/// must send exactly these).
#[derive(Debug, Clone, PartialEq)]
pub struct Presigned {
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// What a HEAD of an object shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobHead {
    pub size: u64,
    pub content_type: Option<String>,
}

/// The bucket. Keys are [`MediaId::object_key`]s.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A PUT URL valid for `ttl` whose signature binds `Content-Type` and `Content-Length`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<Presigned, BoxError>;
    /// A GET URL valid for `ttl`.
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BoxError>;
    /// The object's size and type, `None` when there is no object.
    async fn head(&self, key: &str) -> Result<Option<BlobHead>, BoxError>;
    /// Up to `len` bytes from the start of the object (a ranged GET).
    async fn read_prefix(&self, key: &str, len: u64) -> Result<Vec<u8>, BoxError>;
    /// Deletes the object (no error when there is none).
    async fn delete(&self, key: &str) -> Result<(), BoxError>;
}

/// The uploads' metadata.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records a new upload; `Conflict("exists")` if the id is taken.
    async fn insert(&self, meta: &MediaMeta) -> Result<(), StoreError>;
    async fn get(&self, id: &MediaId) -> Result<Option<MediaMeta>, StoreError>;
    /// Marks the upload attached and records its use: the chat that carries it, or its
    /// owner's profile (idempotent); `Conflict("missing")` when the upload is gone (swept).
    async fn attach(&self, id: &MediaId, to: MediaUse) -> Result<(), StoreError>;
    /// Uploads still pending that were created before `cutoff`.
    async fn pending_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MediaMeta>, StoreError>;
    /// Deletes the upload's record if it is still pending (`false` when a message attached it
    /// meanwhile, or it is gone).
    async fn remove_pending(&self, id: &MediaId) -> Result<bool, StoreError>;
}
