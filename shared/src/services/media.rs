//! Media (DESIGN §9): upload URLs, download URLs for the uploader and the members of the chats
//! whose messages carry an upload, the checks a media message passes, and the sweep of
//! uploads no message took.

use crate::clock::Clock;
use crate::domain::media::{DOWNLOAD_URL_SECS, PENDING_TTL_SECS, SNIFF_BYTES, UPLOAD_URL_SECS};
use crate::domain::{
    ConversationId, MediaId, MediaLimits, MediaMeta, MediaRef, MediaState, MediaTypes, MediaUse,
    MessageKind, ProfilePicture, UserId, parse_caption, parse_file_name, parse_thumbnail,
};
use crate::ports::{BlobStore, ContactStore, GroupStore, MediaStore, MessageStore, UserStore};
use crate::{Error, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `POST /api/media`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub media_id: MediaId,
    /// Send the file's bytes here, with `method` and exactly `headers`.
    pub upload_url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// The headers the URL's signature binds (`Content-Type`, `Content-Length`).
    pub headers: BTreeMap<String, String>,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
}

/// `GET /api/media/{mediaId}`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadTicket {
    /// A GET URL for the bytes.
    pub url: String,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
    pub content_type: String,
    pub size: u64,
    pub file_name: Option<String>,
}

/// A media message as a client sends it: the upload, an optional caption and thumbnail.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInput {
    pub media_id: MediaId,
    pub caption: Option<String>,
    pub thumbnail: Option<String>,
}

impl MediaInput {
    /// Parses the wire fields of a media message.
    pub fn parse(
        media_id: &str,
        caption: Option<&str>,
        thumbnail: Option<&str>,
    ) -> Result<Self, Error> {
        Ok(Self {
            media_id: MediaId::parse(media_id)?,
            caption: caption.map(parse_caption).transpose()?,
            thumbnail: thumbnail.map(parse_thumbnail).transpose()?,
        })
    }
}

/// What the sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub deleted: usize,
}

fn media_not_found() -> Error {
    Error::not_found("media_not_found", "no media with that id")
}

/// Who else than an upload's owner may read it: the members of the chats that carry it
/// (groups; 1:1 chats' rows, as a forward carries an upload into chats of others), and the
/// owner's contacts while it is their profile picture (users, contacts).
pub struct Readers {
    pub groups: Arc<dyn GroupStore>,
    pub chats: Arc<dyn MessageStore>,
    pub users: Arc<dyn UserStore>,
    pub contacts: Arc<dyn ContactStore>,
}

pub struct MediaService {
    media: Arc<dyn MediaStore>,
    blobs: Arc<dyn BlobStore>,
    readers: Readers,
    clock: Arc<dyn Clock>,
    limits: MediaLimits,
    types: MediaTypes,
}

impl MediaService {
    pub fn new(
        media: Arc<dyn MediaStore>,
        blobs: Arc<dyn BlobStore>,
        readers: Readers,
        clock: Arc<dyn Clock>,
        limits: MediaLimits,
        types: MediaTypes,
    ) -> Self {
        Self {
            media,
            blobs,
            readers,
            clock,
            limits,
            types,
        }
    }

    /// Records a pending upload and signs its PUT (Content-Type and Content-Length bound).
    pub async fn create_upload(
        &self,
        owner: &UserId,
        content_type: &str,
        size: u64,
        file_name: Option<&str>,
    ) -> Result<UploadTicket, Error> {
        let content_type = self.types.check(content_type)?;
        let file_name = file_name.map(parse_file_name).transpose()?;
        let cap = self.limits.cap(content_type.kind());
        if size == 0 {
            return Err(Error::validation(
                "invalid_size",
                "size must be at least 1 byte",
            ));
        }
        if size > cap {
            return Err(Error::PayloadTooLarge {
                message: format!("{} uploads are at most {cap} bytes", content_type.as_str()),
            });
        }
        let meta = MediaMeta {
            id: MediaId::new_random(),
            owner: *owner,
            content_type,
            size,
            file_name,
            state: MediaState::Pending,
            created_at: self.clock.now(),
            chats: vec![],
            profile: false,
        };
        self.media.insert(&meta).await?;
        let signed = self
            .blobs
            .presign_put(
                &meta.id.object_key(),
                meta.content_type.as_str(),
                size,
                Duration::from_secs(UPLOAD_URL_SECS),
            )
            .await
            .map_err(Error::Unavailable)?;
        Ok(UploadTicket {
            media_id: meta.id,
            upload_url: signed.url,
            method: "PUT",
            headers: signed.headers,
            expires_in: UPLOAD_URL_SECS,
        })
    }

    /// A download URL, for the uploader, the members of a chat whose message carries the
    /// upload, and the uploader's contacts while it is their profile picture; 404 for everyone
    /// else (whether or not it exists).
    pub async fn download(&self, caller: &UserId, id: &MediaId) -> Result<DownloadTicket, Error> {
        let meta = self.media.get(id).await?.ok_or_else(media_not_found)?;
        if !self.may_read(caller, &meta).await? {
            return Err(media_not_found());
        }
        let url = self
            .blobs
            .presign_get(&id.object_key(), Duration::from_secs(DOWNLOAD_URL_SECS))
            .await
            .map_err(Error::Unavailable)?;
        Ok(DownloadTicket {
            url,
            expires_in: DOWNLOAD_URL_SECS,
            content_type: meta.content_type.as_str().to_owned(),
            size: meta.size,
            file_name: meta.file_name,
        })
    }

    async fn may_read(&self, caller: &UserId, meta: &MediaMeta) -> Result<bool, Error> {
        if meta.owner == *caller {
            return Ok(true);
        }
        for chat in &meta.chats {
            if chat.is_group() {
                if let (Some(_), Some(_)) =
                    self.readers.groups.meta_and_member(chat, caller).await?
                {
                    return Ok(true);
                }
            } else if ConversationId::direct(&meta.owner, caller) == *chat
                || self
                    .readers
                    .chats
                    .conversation(caller, chat)
                    .await?
                    .is_some()
            {
                // The owner's chat with the caller (no read), or a chat of the caller's that a
                // forward carried the upload into.
                return Ok(true);
            }
        }
        if meta.profile {
            let current = self.readers.users.get(&meta.owner).await?.and_then(|u| {
                u.value
                    .profile_picture
                    .and_then(|p| p.media_id())
                    .filter(|id| *id == meta.id)
            });
            if current.is_some()
                && self
                    .readers
                    .contacts
                    .get(&meta.owner, caller)
                    .await?
                    .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Checks a new profile picture (an image upload of the owner's, checked like a media
    /// message's) and attaches it to the owner's profile, so the sweep keeps it and the
    /// owner's contacts may download it. An `http(s)` URL, the old form, is refused.
    pub async fn profile_picture(
        &self,
        owner: &UserId,
        raw: &str,
    ) -> Result<ProfilePicture, Error> {
        let id = MediaId::parse(raw).map_err(|_| {
            Error::validation(
                "invalid_profile_picture",
                "profilePicture must be the mediaId of an image upload of yours (POST /api/media); URLs are no longer accepted",
            )
        })?;
        self.check_for_message(
            owner,
            MessageKind::Image,
            MediaInput::parse(raw, None, None)?,
        )
        .await?;
        self.attach(&id, MediaUse::Profile).await?;
        Ok(ProfilePicture::media(id))
    }

    /// Checks an upload before a message carries it: it exists and is the sender's (else 404,
    /// as for a download), its kind is the message's, the object was uploaded with the
    /// declared size and type, and its first bytes carry the type's file signature (one HEAD
    /// and one ranged GET).
    pub async fn check_for_message(
        &self,
        sender: &UserId,
        kind: MessageKind,
        input: MediaInput,
    ) -> Result<MediaRef, Error> {
        let meta = self
            .media
            .get(&input.media_id)
            .await?
            .filter(|m| m.owner == *sender)
            .ok_or_else(media_not_found)?;
        if meta.content_type.kind() != kind {
            return Err(Error::validation(
                "media_kind_mismatch",
                format!(
                    "the upload is {}, which is not a {kind:?} message's type",
                    meta.content_type.as_str()
                ),
            ));
        }
        let key = meta.id.object_key();
        let head = self
            .blobs
            .head(&key)
            .await
            .map_err(Error::Unavailable)?
            .ok_or_else(|| {
                Error::conflict(
                    "media_not_uploaded",
                    "the upload's bytes have not arrived yet",
                )
            })?;
        if head.size != meta.size {
            return Err(Error::validation(
                "media_size_mismatch",
                format!(
                    "the upload is {} bytes, not the {} declared",
                    head.size, meta.size
                ),
            ));
        }
        if head.content_type.as_deref() != Some(meta.content_type.as_str()) {
            return Err(Error::validation(
                "media_type_mismatch",
                "the upload's Content-Type is not the one declared",
            ));
        }
        let first = self
            .blobs
            .read_prefix(&key, SNIFF_BYTES)
            .await
            .map_err(Error::Unavailable)?;
        if !meta.content_type.matches_signature(&first) {
            return Err(Error::validation(
                "media_signature_mismatch",
                format!(
                    "the upload's bytes are not {} (file signature)",
                    meta.content_type.as_str()
                ),
            ));
        }
        Ok(MediaRef {
            media_id: meta.id,
            content_type: meta.content_type.as_str().to_owned(),
            size: meta.size,
            file_name: meta.file_name,
            caption: input.caption,
            thumbnail: input.thumbnail,
        })
    }

    /// Records the upload's use (so the chat's members, or the owner's contacts, may download
    /// it, and the sweep keeps it). 404 when the sweep took it meanwhile.
    pub async fn attach(&self, id: &MediaId, to: MediaUse) -> Result<(), Error> {
        match self.media.attach(id, to).await {
            Err(StoreError::Conflict { what: "missing" }) => Err(media_not_found()),
            other => Ok(other?),
        }
    }

    /// Deletes the uploads no message took within 24 h: the record first (only while still
    /// pending, so a message attaching it meanwhile wins), then the object.
    pub async fn sweep(&self) -> Result<Swept, Error> {
        let cutoff = self.clock.now() - chrono::Duration::seconds(PENDING_TTL_SECS);
        let mut swept = Swept::default();
        for meta in self.media.pending_before(cutoff).await? {
            if self.media.remove_pending(&meta.id).await? {
                self.blobs
                    .delete(&meta.id.object_key())
                    .await
                    .map_err(Error::Unavailable)?;
                swept.deleted += 1;
            }
        }
        Ok(swept)
    }
}
