//! In-memory media: the blob store behind the local gateway's own signed URLs
//! (`/_local/blobs/{key}`), and the uploads' metadata.

use super::lock;
use crate::StoreError;
use crate::clock::Clock;
use crate::crypto;
use crate::domain::{MediaId, MediaMeta, MediaState, MediaUse};
use crate::error::BoxError;
use crate::ports::{BlobHead, BlobStore, MediaStore, Presigned};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The path under which the local gateway serves blob URLs.
pub const LOCAL_BLOBS_PATH: &str = "/_local/blobs/";

/// Blobs in memory. Its URLs point at the local gateway (`base_url`, set once the gateway
/// knows its address), which checks them with [`MemoryBlobs::verify`]: an HMAC over the
/// method, key, expiry and (for uploads) the content type and length.
pub struct MemoryBlobs {
    objects: Mutex<HashMap<String, (Vec<u8>, String)>>,
    key: [u8; 32],
    base_url: RwLock<String>,
    clock: Arc<dyn Clock>,
}

/// What a verified blob URL allows.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRequest {
    pub key: String,
    /// For uploads: the signed `Content-Type` and `Content-Length`.
    pub upload: Option<(String, u64)>,
}

impl MemoryBlobs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            objects: Mutex::default(),
            key: crypto::random_bytes(),
            base_url: RwLock::new("http://127.0.0.1:3000".into()),
            clock,
        }
    }

    /// Where the URLs point (`http://host:port` of the local gateway).
    pub fn set_base_url(&self, base: &str) {
        *self.base_url.write().unwrap_or_else(|p| p.into_inner()) =
            base.trim_end_matches('/').into();
    }

    fn base(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn sign(&self, method: &str, key: &str, expires: i64, upload: Option<(&str, u64)>) -> String {
        let (t, l) = upload.map_or((String::new(), String::new()), |(t, l)| {
            (t.into(), l.to_string())
        });
        let data = format!("{method}\n{key}\n{expires}\n{t}\n{l}");
        hex::encode(crypto::hmac_sha256(&self.key, data.as_bytes()))
    }

    fn url(&self, method: &str, key: &str, ttl: Duration, upload: Option<(&str, u64)>) -> String {
        let expires = self.clock.now().timestamp() + ttl.as_secs() as i64;
        let sig = self.sign(method, key, expires, upload);
        let extra = upload.map_or(String::new(), |(t, l)| format!("&X-Type={t}&X-Length={l}"));
        format!(
            "{}{LOCAL_BLOBS_PATH}{key}?X-Method={method}&X-Expires={expires}{extra}&X-Signature={sig}",
            self.base()
        )
    }

    /// Checks a blob URL's query for `method` on `key`: the signature, then the expiry. The
    /// error is the reason, for the 403's body.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        query: &HashMap<String, String>,
    ) -> Result<SignedRequest, &'static str> {
        let q = |name: &str| query.get(name).map(String::as_str);
        if q("X-Method") != Some(method) {
            return Err("this URL is not signed for this method");
        }
        let expires: i64 = q("X-Expires")
            .and_then(|e| e.parse().ok())
            .ok_or("the URL has no valid expiry")?;
        let upload = match method {
            "PUT" => {
                let t = q("X-Type").ok_or("the URL signs no content type")?;
                let l: u64 = q("X-Length")
                    .and_then(|l| l.parse().ok())
                    .ok_or("the URL signs no content length")?;
                Some((t.to_owned(), l))
            }
            _ => None,
        };
        let expected = self.sign(
            method,
            key,
            expires,
            upload.as_ref().map(|(t, l)| (t.as_str(), *l)),
        );
        let given = q("X-Signature").unwrap_or_default();
        if !crypto::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err("the signature does not match");
        }
        if self.clock.now().timestamp() > expires {
            return Err("the URL has expired");
        }
        Ok(SignedRequest {
            key: key.to_owned(),
            upload,
        })
    }

    /// Stores an upload (after [`Self::verify`] and the length and type checks).
    pub fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) {
        lock(&self.objects).insert(key.to_owned(), (bytes, content_type.to_owned()));
    }

    /// An object's bytes and content type.
    pub fn get(&self, key: &str) -> Option<(Vec<u8>, String)> {
        lock(&self.objects).get(key).cloned()
    }

    /// Every key stored (tests check what a sweep left).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<_> = lock(&self.objects).keys().cloned().collect();
        keys.sort();
        keys
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<Presigned, BoxError> {
        let headers = BTreeMap::from([
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("Content-Length".to_owned(), size.to_string()),
        ]);
        Ok(Presigned {
            url: self.url("PUT", key, ttl, Some((content_type, size))),
            headers,
        })
    }
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BoxError> {
        Ok(self.url("GET", key, ttl, None))
    }
    async fn head(&self, key: &str) -> Result<Option<BlobHead>, BoxError> {
        Ok(lock(&self.objects).get(key).map(|(b, t)| BlobHead {
            size: b.len() as u64,
            content_type: Some(t.clone()),
        }))
    }
    async fn read_prefix(&self, key: &str, len: u64) -> Result<Vec<u8>, BoxError> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(b, _)| b[..b.len().min(len as usize)].to_vec())
            .unwrap_or_default())
    }
    async fn delete(&self, key: &str) -> Result<(), BoxError> {
        lock(&self.objects).remove(key);
        Ok(())
    }
}

/// Uploads' metadata in memory.
#[derive(Default)]
pub struct MemoryMedia(Mutex<HashMap<MediaId, MediaMeta>>);

#[async_trait]
impl MediaStore for MemoryMedia {
    async fn insert(&self, meta: &MediaMeta) -> Result<(), StoreError> {
        let mut all = lock(&self.0);
        if all.contains_key(&meta.id) {
            return Err(StoreError::conflict("exists"));
        }
        all.insert(meta.id, meta.clone());
        Ok(())
    }
    async fn get(&self, id: &MediaId) -> Result<Option<MediaMeta>, StoreError> {
        Ok(lock(&self.0).get(id).cloned())
    }
    async fn attach(&self, id: &MediaId, to: MediaUse) -> Result<(), StoreError> {
        let mut all = lock(&self.0);
        let meta = all.get_mut(id).ok_or(StoreError::conflict("missing"))?;
        meta.state = MediaState::Attached;
        match to {
            MediaUse::Chat(chat) if !meta.chats.contains(&chat) => meta.chats.push(chat),
            MediaUse::Chat(_) => {}
            MediaUse::Profile => meta.profile = true,
        }
        Ok(())
    }
    async fn pending_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MediaMeta>, StoreError> {
        let mut found: Vec<_> = lock(&self.0)
            .values()
            .filter(|m| m.state == MediaState::Pending && m.created_at < cutoff)
            .cloned()
            .collect();
        found.sort_by_key(|m| m.created_at);
        Ok(found)
    }
    async fn remove_pending(&self, id: &MediaId) -> Result<bool, StoreError> {
        let mut all = lock(&self.0);
        if all.get(id).is_some_and(|m| m.state == MediaState::Pending) {
            all.remove(id);
            return Ok(true);
        }
        Ok(false)
    }
}
