//! Media: uploads (`POST /api/media`), their metadata and the checks a media message passes.

use super::{ConversationId, MessageKind, UserId};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

super::ids::uuid_id!(
    /// A media id: a random UUIDv4 (unguessable; it is also the object's key).
    MediaId,
    "invalid_media_id",
    "mediaId"
);

impl MediaId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
    /// The object's key in the bucket: every upload lives under `media/`.
    pub fn object_key(&self) -> String {
        format!("{MEDIA_PREFIX}{self}")
    }
}

/// The key prefix of every upload (the only prefix any function is granted).
pub const MEDIA_PREFIX: &str = "media/";
/// How long an upload URL is valid.
pub const UPLOAD_URL_SECS: u64 = 15 * 60;
/// How long a download URL is valid.
pub const DOWNLOAD_URL_SECS: u64 = 5 * 60;
/// Uploads no message references are deleted after this.
pub const PENDING_TTL_SECS: i64 = 24 * 60 * 60;
/// Largest `thumbnail` (base64 text) a media message carries.
pub const MAX_THUMBNAIL_BYTES: usize = 8 * 1024;
/// Largest `caption` (UTF-8 bytes).
pub const MAX_CAPTION_BYTES: usize = 4 * 1024;
/// Largest `fileName` (UTF-8 bytes).
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// How many leading bytes the signature check reads.
pub const SNIFF_BYTES: u64 = 16;

const MB: u64 = 1024 * 1024;

/// Size caps per kind (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub image: u64,
    pub audio: u64,
    pub video: u64,
    pub document: u64,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            image: 16 * MB,
            audio: 16 * MB,
            video: 100 * MB,
            document: 100 * MB,
        }
    }
}

impl MediaLimits {
    pub fn cap(&self, kind: MessageKind) -> u64 {
        match kind {
            MessageKind::Image => self.image,
            MessageKind::Audio => self.audio,
            MessageKind::Video => self.video,
            MessageKind::Document => self.document,
            MessageKind::Text => 0,
        }
    }
}

/// The MIME allowlist: each accepted content type, its kind and its file signature.
const ALLOWED: &[(&str, MessageKind)] = &[
    ("image/jpeg", MessageKind::Image),
    ("image/png", MessageKind::Image),
    ("image/gif", MessageKind::Image),
    ("image/webp", MessageKind::Image),
    ("audio/mpeg", MessageKind::Audio),
    ("audio/ogg", MessageKind::Audio),
    ("audio/mp4", MessageKind::Audio),
    ("audio/aac", MessageKind::Audio),
    ("video/mp4", MessageKind::Video),
    ("video/webm", MessageKind::Video),
    ("video/3gpp", MessageKind::Video),
    ("application/pdf", MessageKind::Document),
    ("application/zip", MessageKind::Document),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        MessageKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        MessageKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        MessageKind::Document,
    ),
];

/// Every content type `POST /api/media` accepts.
pub fn allowed_content_types() -> impl Iterator<Item = &'static str> {
    ALLOWED.iter().map(|(t, _)| *t)
}

/// A content type on the allowlist, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaType(String);

impl MediaType {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_ascii_lowercase();
        if ALLOWED.iter().any(|(a, _)| *a == t) {
            Ok(Self(t))
        } else {
            Err(Error::validation(
                "unsupported_media_type",
                format!(
                    "contentType must be one of: {}",
                    allowed_content_types().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn kind(&self) -> MessageKind {
        ALLOWED
            .iter()
            .find(|(a, _)| *a == self.0)
            .map_or(MessageKind::Document, |(_, k)| *k)
    }
    /// Whether `head` (the object's first bytes) carries this type's file signature.
    pub fn matches_signature(&self, head: &[u8]) -> bool {
        let at = |offset: usize, sig: &[u8]| head.get(offset..offset + sig.len()) == Some(sig);
        match self.0.as_str() {
            "image/jpeg" => at(0, &[0xFF, 0xD8, 0xFF]),
            "image/png" => at(0, b"\x89PNG\r\n\x1a\n"),
            "image/gif" => at(0, b"GIF87a") || at(0, b"GIF89a"),
            "image/webp" => at(0, b"RIFF") && at(8, b"WEBP"),
            "audio/mpeg" => {
                at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
            }
            "audio/ogg" => at(0, b"OggS"),
            "audio/aac" => head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0,
            "audio/mp4" | "video/mp4" | "video/3gpp" => at(4, b"ftyp"),
            "video/webm" => at(0, &[0x1A, 0x45, 0xDF, 0xA3]),
            "application/pdf" => at(0, b"%PDF-"),
            // ZIP and the OOXML formats (ZIP containers).
            _ => at(0, b"PK\x03\x04"),
        }
    }
}

/// An optional file name: 1–255 bytes, no path separators or control characters.
pub fn parse_file_name(s: &str) -> Result<String, Error> {
    let ok = !s.trim().is_empty()
        && s.len() <= MAX_FILE_NAME_BYTES
        && !s.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::validation(
            "invalid_file_name",
            format!(
                "fileName must be 1-{MAX_FILE_NAME_BYTES} bytes without '/', '\\' or control characters"
            ),
        ))
    }
}

/// Whether an upload is still waiting for a message (swept after 24 h) or one carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaState {
    Pending,
    Attached,
}

/// One upload's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaMeta {
    pub id: MediaId,
    pub owner: UserId,
    pub content_type: MediaType,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub state: MediaState,
    pub created_at: DateTime<Utc>,
    /// The chats whose messages carry it (who may download it besides the owner).
    #[serde(default)]
    pub chats: Vec<ConversationId>,
    /// Its owner made it their profile picture (at some point): their contacts may download
    /// it while it still is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub profile: bool,
}

/// What an upload is attached to: what keeps it from the sweep, and who besides its owner may
/// download it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaUse {
    /// A message of this chat, or this group's avatar: the chat's members.
    Chat(ConversationId),
    /// Its owner's profile picture: their contacts, while it is the current one.
    Profile,
}

/// The media a message carries (stored on the message; shown as `media` in the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaRef {
    pub media_id: MediaId,
    pub content_type: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A client-made base64 preview (≤ 8 KB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

/// A caption: at most 4 KiB, not only white space.
pub fn parse_caption(s: &str) -> Result<String, Error> {
    if s.trim().is_empty() || s.len() > MAX_CAPTION_BYTES {
        return Err(Error::validation(
            "invalid_caption",
            format!("caption must be 1-{MAX_CAPTION_BYTES} bytes, not only white space"),
        ));
    }
    Ok(s.to_owned())
}

/// A thumbnail: standard base64 of at most 8 KB.
pub fn parse_thumbnail(s: &str) -> Result<String, Error> {
    use base64::Engine;
    let ok = !s.is_empty()
        && s.len() <= MAX_THUMBNAIL_BYTES
        && base64::engine::general_purpose::STANDARD.decode(s).is_ok();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::validation(
            "invalid_thumbnail",
            format!("thumbnail must be base64 of at most {MAX_THUMBNAIL_BYTES} characters"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_decides_the_kind_and_the_signature() {
        let png = MediaType::parse("image/PNG").unwrap();
        assert_eq!(png.kind(), MessageKind::Image);
        assert!(png.matches_signature(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        let pdf = MediaType::parse("application/pdf").unwrap();
        assert_eq!(pdf.kind(), MessageKind::Document);
        assert!(
            !pdf.matches_signature(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            "a PNG is no PDF"
        );
        assert!(pdf.matches_signature(b"%PDF-1.7\n"));
        assert!(
            MediaType::parse("video/mp4")
                .unwrap()
                .matches_signature(b"\0\0\0\x18ftypmp42")
        );
        assert!(
            !MediaType::parse("image/jpeg")
                .unwrap()
                .matches_signature(b"")
        );
        assert_eq!(
            MediaType::parse("text/html").unwrap_err().code(),
            "unsupported_media_type"
        );
        assert_eq!(MediaLimits::default().cap(MessageKind::Video), 100 * MB);
    }

    #[test]
    fn names_captions_and_thumbnails_are_checked() {
        assert!(parse_file_name("cat.png").is_ok());
        for bad in ["", "../etc/passwd", "a\nb", &"x".repeat(256)] {
            assert_eq!(
                parse_file_name(bad).unwrap_err().code(),
                "invalid_file_name"
            );
        }
        assert!(parse_thumbnail("aGVsbG8=").is_ok());
        assert!(parse_thumbnail("not base64!").is_err());
        assert!(parse_thumbnail(&"A".repeat(MAX_THUMBNAIL_BYTES + 4)).is_err());
        assert!(parse_caption(" ").is_err());
        assert!(MediaId::parse("not-a-uuid").is_err());
    }
}
