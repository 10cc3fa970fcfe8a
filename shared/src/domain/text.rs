use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

/// A username: 3–30 characters of ASCII letters, digits, `_` and `.`, starting with a letter.
/// Shown as typed; unique case-insensitively (see [`Username::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);
string_newtype!(Username);

impl Username {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = (3..=30).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::validation(
                "invalid_username",
                "username must be 3-30 characters of letters, digits, '_' or '.', starting with a letter",
            ))
        }
    }
    /// The case-folded form that uniqueness and lookups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An e-mail address (pragmatic check: one `@`, a dotted domain, no spaces, ≤ 254 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::validation(
                "invalid_email",
                "email must be an address like name@example.com",
            )
        };
        let s = s.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}

/// The profile's status line ("about"): at most 139 characters, like WhatsApp's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct StatusText(String);
string_newtype!(StatusText);

impl StatusText {
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.chars().count() > 139 || s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::validation(
                "invalid_status",
                "status must be at most 139 characters, without control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A profile picture: the media id of an image upload of the user's (the media service checks
/// and attaches it; contacts download it with `GET /api/media/{id}`), or, on profiles stored
/// before pictures became uploads, an `https://` (or `http://`) URL of at most 2048 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ProfilePicture(String);
string_newtype!(ProfilePicture);

impl ProfilePicture {
    /// The picture that is this upload.
    pub fn media(id: super::MediaId) -> Self {
        Self(id.to_string())
    }

    /// The upload this picture is (`None` for a stored URL).
    pub fn media_id(&self) -> Option<super::MediaId> {
        super::MediaId::parse(&self.0).ok()
    }

    /// A stored picture: an upload's id, or a URL of a profile stored before (input goes
    /// through the media service's check instead).
    pub fn parse(s: &str) -> Result<Self, Error> {
        if let Ok(id) = super::MediaId::parse(s) {
            return Ok(Self::media(id));
        }
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"));
        let ok = s.len() <= 2048
            && rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::validation(
                "invalid_profile_picture",
                "profilePicture must be a media id (or, stored before, an http(s) URL of at most 2048 characters)",
            ))
        }
    }
}

/// A one-time code as typed by the user: exactly 6 ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::validation(
                "invalid_otp_format",
                "otp must be 6 digits",
            ))
        }
    }
    /// A fresh code from the CSPRNG.
    pub fn generate() -> Self {
        Self(format!("{:06}", crate::crypto::random_below(1_000_000)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        for ok in ["bob", "Alice_1", "a.b.c", &"x".repeat(30)] {
            assert!(Username::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "",
            "ab",
            "1abc",
            "_abc",
            "al ice",
            "alice!",
            "ålice",
            &"x".repeat(31),
        ] {
            assert_eq!(
                Username::parse(bad).expect_err(bad).code(),
                "invalid_username",
                "{bad:?}"
            );
        }
        assert_eq!(Username::parse("Alice_1").unwrap().key(), "alice_1");
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            Email::parse(" Bob@Example.COM ").unwrap().as_str(),
            "Bob@example.com"
        );
        for bad in [
            "",
            "bob",
            "bob@",
            "@x.com",
            "bob@localhost",
            "bob@x..com",
            "b ob@x.com",
            "a@b@c.com",
        ] {
            assert_eq!(
                Email::parse(bad).expect_err(bad).code(),
                "invalid_email",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn otp_code_is_six_digits_and_never_printed() {
        assert!(OtpCode::parse("012345").is_ok());
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(
                OtpCode::parse(bad).expect_err(bad).code(),
                "invalid_otp_format",
                "{bad:?}"
            );
        }
        let code = OtpCode::generate();
        assert_eq!(code.as_str().len(), 6);
        assert!(!format!("{code:?}").contains(code.as_str()));
    }

    #[test]
    fn status_and_picture_limits() {
        assert!(StatusText::parse(&"é".repeat(139)).is_ok());
        assert!(StatusText::parse(&"é".repeat(140)).is_err());
        assert!(ProfilePicture::parse("https://cdn.example.com/a.jpg").is_ok());
        for bad in [
            "ftp://x/a.jpg",
            "https://",
            "javascript:alert(1)",
            "https://x/a b.jpg",
        ] {
            assert!(ProfilePicture::parse(bad).is_err(), "{bad:?}");
        }
    }
}
