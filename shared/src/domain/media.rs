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

/// Every content type the server can check by file signature, and its kind: what an
/// allowlist may name (`WHATSPE_MEDIA_*_TYPES`). A type without a known signature cannot be
/// allowed, since a media message's first bytes must prove its type.
const KNOWN: &[(&str, MessageKind)] = &[
    ("image/jpeg", MessageKind::Image),
    ("image/png", MessageKind::Image),
    ("image/gif", MessageKind::Image),
    ("image/webp", MessageKind::Image),
    ("image/heic", MessageKind::Image),
    ("image/heif", MessageKind::Image),
    ("image/avif", MessageKind::Image),
    ("audio/mpeg", MessageKind::Audio),
    ("audio/ogg", MessageKind::Audio),
    ("audio/mp4", MessageKind::Audio),
    ("audio/aac", MessageKind::Audio),
    ("audio/wav", MessageKind::Audio),
    ("audio/flac", MessageKind::Audio),
    ("audio/amr", MessageKind::Audio),
    ("video/mp4", MessageKind::Video),
    ("video/webm", MessageKind::Video),
    ("video/3gpp", MessageKind::Video),
    ("video/quicktime", MessageKind::Video),
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

/// The allowlist when none is configured.
const DEFAULT_ALLOWED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/mp4",
    "audio/aac",
    "video/mp4",
    "video/webm",
    "video/3gpp",
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// Every content type the server can check by file signature (what an allowlist may name).
pub fn known_content_types() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(t, _)| *t)
}

/// A content type the server can check by file signature, and its kind. Whether uploads of
/// it are accepted is the allowlist's ([`MediaTypes`]) to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaType(String);

impl MediaType {
    /// A known type (any case, surrounding white space ignored).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_ascii_lowercase();
        if KNOWN.iter().any(|(a, _)| *a == t) {
            Ok(Self(t))
        } else {
            Err(Error::validation(
                "unsupported_media_type",
                format!(
                    "contentType must be one of: {}",
                    known_content_types().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn kind(&self) -> MessageKind {
        KNOWN
            .iter()
            .find(|(a, _)| *a == self.0)
            .map_or(MessageKind::Document, |(_, k)| *k)
    }
    /// Whether `head` (the object's first bytes) carries this type's file signature.
    pub fn matches_signature(&self, head: &[u8]) -> bool {
        let at = |offset: usize, sig: &[u8]| head.get(offset..offset + sig.len()) == Some(sig);
        // ISO base media files (MP4, 3GP, HEIF, AVIF, QuickTime): an `ftyp` box first, whose
        // major brand names the format.
        let ftyp_brand = |brands: &[&[u8; 4]]| at(4, b"ftyp") && brands.iter().any(|b| at(8, *b));
        match self.0.as_str() {
            "image/jpeg" => at(0, &[0xFF, 0xD8, 0xFF]),
            "image/png" => at(0, b"\x89PNG\r\n\x1a\n"),
            "image/gif" => at(0, b"GIF87a") || at(0, b"GIF89a"),
            "image/webp" => at(0, b"RIFF") && at(8, b"WEBP"),
            "image/heic" | "image/heif" => ftyp_brand(&[
                b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
            ]),
            "image/avif" => ftyp_brand(&[b"avif", b"avis"]),
            "audio/mpeg" => {
                at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
            }
            "audio/ogg" => at(0, b"OggS"),
            "audio/aac" => head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0,
            "audio/wav" => at(0, b"RIFF") && at(8, b"WAVE"),
            "audio/flac" => at(0, b"fLaC"),
            "audio/amr" => at(0, b"#!AMR"),
            "audio/mp4" | "video/mp4" | "video/3gpp" => at(4, b"ftyp"),
            // QuickTime: an `ftyp` box (`qt  `), or older files' first atom.
            "video/quicktime" => [b"ftyp", b"moov", b"mdat", b"wide", b"free"]
                .iter()
                .any(|atom| at(4, *atom)),
            "video/webm" => at(0, &[0x1A, 0x45, 0xDF, 0xA3]),
            "application/pdf" => at(0, b"%PDF-"),
            // ZIP and the OOXML formats (ZIP containers).
            "application/zip"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                at(0, b"PK\x03\x04")
            }
            _ => false,
        }
    }
}

/// The MIME allowlist: the content types `POST /api/media` accepts, each of a kind and with a
/// known file signature. Configured per kind (`WHATSPE_MEDIA_{IMAGE,AUDIO,VIDEO,DOCUMENT}_TYPES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTypes(Vec<MediaType>);

impl Default for MediaTypes {
    fn default() -> Self {
        Self(
            DEFAULT_ALLOWED
                .iter()
                .map(|t| MediaType(String::from(*t)))
                .collect(),
        )
    }
}

impl MediaTypes {
    /// One kind's list from a comma-separated value (`image/png, image/jpeg`): each entry a
    /// type the server can check by file signature ([`known_content_types`]) and of `kind`.
    /// The error says which entry is wrong and why.
    pub fn parse_kind(kind: MessageKind, list: &str) -> Result<Vec<MediaType>, String> {
        let mut types: Vec<MediaType> = Vec::new();
        for entry in list.split(',') {
            if entry.trim().is_empty() {
                return Err(format!(
                    "{list:?} has an empty entry (a comma-separated list of content types)"
                ));
            }
            let t = MediaType::parse(entry).map_err(|_| {
                format!(
                    "{:?} has no file signature the server can check, so it cannot be allowed; \
                     known {} types: {}",
                    entry.trim(),
                    kind.as_str(),
                    KNOWN
                        .iter()
                        .filter(|(_, k)| *k == kind)
                        .map(|(t, _)| *t)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            if t.kind() != kind {
                return Err(format!(
                    "{:?} is {} type, not {} one",
                    t.as_str(),
                    article(t.kind()),
                    article(kind)
                ));
            }
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(types)
    }

    /// The allowlist of these types (each kind's own list, put together).
    pub fn new(types: impl IntoIterator<Item = MediaType>) -> Self {
        let mut all: Vec<MediaType> = Vec::new();
        for t in types {
            if !all.contains(&t) {
                all.push(t);
            }
        }
        Self(all)
    }

    /// The default list of one kind.
    pub fn default_of(kind: MessageKind) -> Vec<MediaType> {
        Self::default()
            .0
            .into_iter()
            .filter(|t| t.kind() == kind)
            .collect()
    }

    /// Every allowed content type.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(MediaType::as_str)
    }

    /// `content_type` if it is on the list; else 400 `unsupported_media_type`, naming the list.
    pub fn check(&self, content_type: &str) -> Result<MediaType, Error> {
        let off_list = || {
            Error::validation(
                "unsupported_media_type",
                format!(
                    "contentType must be one of: {}",
                    self.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        };
        let t = MediaType::parse(content_type).map_err(|_| off_list())?;
        if self.0.contains(&t) {
            Ok(t)
        } else {
            Err(off_list())
        }
    }
}

/// "an image", "a video", … for messages.
fn article(kind: MessageKind) -> String {
    let name = kind.as_str();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
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
    fn the_type_decides_the_kind_and_the_signature() {
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
    fn the_signatures_of_the_types_an_allowlist_may_add() {
        let t = |s: &str| MediaType::parse(s).unwrap();
        // An iPhone photo: `ftyp` with the `heic` brand.
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert!(t("image/heic").matches_signature(heic));
        assert!(t("image/heif").matches_signature(b"\0\0\0\x18ftypmif1\0\0\0\0"));
        assert!(
            !t("image/heic").matches_signature(b"\0\0\0\x18ftypmp42\0\0\0\0"),
            "an MP4 is no HEIC"
        );
        assert!(t("image/avif").matches_signature(b"\0\0\0\x1cftypavif\0\0\0\0"));
        assert!(
            !t("image/avif").matches_signature(heic),
            "a HEIC is no AVIF"
        );
        assert!(t("audio/wav").matches_signature(b"RIFF\x24\0\0\0WAVEfmt "));
        assert!(
            !t("audio/wav").matches_signature(b"RIFF\x24\0\0\0WEBPVP8 "),
            "a WebP is no WAV"
        );
        assert!(t("audio/flac").matches_signature(b"fLaC\0\0\0\x22"));
        assert!(t("audio/amr").matches_signature(b"#!AMR\n"));
        assert!(t("audio/amr").matches_signature(b"#!AMR-WB\n"));
        assert!(t("video/quicktime").matches_signature(b"\0\0\0\x14ftypqt  "));
        assert!(t("video/quicktime").matches_signature(b"\0\0\0\x08wide\0\0\0\0mdat"));
        assert!(!t("video/quicktime").matches_signature(b"%PDF-1.7\n"));
        for (ty, kind) in [
            ("image/heic", MessageKind::Image),
            ("audio/flac", MessageKind::Audio),
            ("video/quicktime", MessageKind::Video),
        ] {
            assert_eq!(t(ty).kind(), kind, "{ty}");
        }
    }

    #[test]
    fn the_default_allowlist_is_the_first_list_and_refuses_the_rest() {
        let allowed = MediaTypes::default();
        assert_eq!(
            allowed.iter().collect::<Vec<_>>(),
            DEFAULT_ALLOWED,
            "the list before it became configurable"
        );
        assert_eq!(allowed.check(" Image/PNG ").unwrap().as_str(), "image/png");
        for off in ["text/html", "image/svg+xml", "image/heic", "audio/flac"] {
            let e = allowed.check(off).unwrap_err();
            assert_eq!(e.code(), "unsupported_media_type", "{off}");
            assert!(e.to_string().contains("image/webp"), "names the list: {e}");
            assert!(!e.to_string().contains("image/heic"), "only the list: {e}");
        }
        assert_eq!(
            MediaTypes::default_of(MessageKind::Video)
                .iter()
                .map(MediaType::as_str)
                .collect::<Vec<_>>(),
            ["video/mp4", "video/webm", "video/3gpp"]
        );
    }

    #[test]
    fn a_kinds_list_names_only_known_types_of_that_kind() {
        let images =
            MediaTypes::parse_kind(MessageKind::Image, "image/png, IMAGE/HEIC,image/png").unwrap();
        assert_eq!(
            images.iter().map(MediaType::as_str).collect::<Vec<_>>(),
            ["image/png", "image/heic"],
            "trimmed, lower-cased, once each"
        );
        let allowed = MediaTypes::new(images);
        assert!(allowed.check("image/heic").is_ok());
        assert_eq!(
            allowed.check("image/jpeg").unwrap_err().code(),
            "unsupported_media_type",
            "off the configured list"
        );

        let e = MediaTypes::parse_kind(MessageKind::Image, "image/png,image/svg+xml").unwrap_err();
        assert!(
            e.contains("\"image/svg+xml\" has no file signature") && e.contains("image/avif"),
            "names the entry and the known image types: {e}"
        );
        let e =
            MediaTypes::parse_kind(MessageKind::Document, "application/octet-stream").unwrap_err();
        assert!(e.contains("no file signature"), "{e}");
        let e = MediaTypes::parse_kind(MessageKind::Image, "video/mp4").unwrap_err();
        assert_eq!(e, "\"video/mp4\" is a video type, not an image one");
        let e = MediaTypes::parse_kind(MessageKind::Audio, "audio/ogg,,audio/mpeg").unwrap_err();
        assert!(e.contains("empty entry"), "{e}");
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
