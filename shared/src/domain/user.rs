use super::{Email, PhoneNumber, ProfilePicture, StatusText, UserId, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The status a new profile starts with (the seed's default).
pub const DEFAULT_STATUS: &str = "Hey, I'm using WhatsPe!";

/// A user account, serialised with the seed's field names (what `GET /api/user` returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub phone_number: PhoneNumber,
    pub profile_picture: Option<ProfilePicture>,
    pub status: StatusText,
    pub last_seen: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The phone number was proven by an OTP (always true for accounts created by register).
    pub verified: bool,
}

/// What other users may see of a user: the seed's user fields except the e-mail address and
/// phone number (contacts see the phone number: [`super::ContactView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    pub id: UserId,
    pub username: Username,
    pub status: StatusText,
    pub profile_picture: Option<ProfilePicture>,
    pub last_seen: DateTime<Utc>,
    pub verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for PublicProfile {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            status: u.status.clone(),
            profile_picture: u.profile_picture.clone(),
            last_seen: u.last_seen,
            verified: u.verified,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The username the system sender ([`UserId::SYSTEM`]) shows; no account can take it.
pub const SYSTEM_USERNAME: &str = "whatspe";

impl PublicProfile {
    /// The profile of the service itself, the sender of system messages (the seed webhook's
    /// `"senderId": "system"`).
    pub fn system() -> Self {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Self {
            id: UserId::SYSTEM,
            username: Username::parse(SYSTEM_USERNAME).expect("the system username is valid"),
            status: StatusText::parse("System notifications").expect("a valid status"),
            profile_picture: None,
            last_seen: epoch,
            verified: true,
            created_at: epoch,
            updated_at: epoch,
        }
    }
}

#[cfg(test)]
impl User {
    /// A verified account for unit tests: `name`, phone `+91 9` and `n` in 9 digits, created
    /// at `now`.
    pub(crate) fn sample(name: &str, n: u32, now: DateTime<Utc>) -> Self {
        let india = super::CountryCode::parse("91").unwrap();
        Self {
            id: UserId::new_random(),
            username: Username::parse(name).unwrap(),
            email: None,
            phone_number: PhoneNumber::parse(&format!("9{n:09}"), &india).unwrap(),
            profile_picture: None,
            status: StatusText::parse("hi").unwrap(),
            last_seen: now,
            created_at: now,
            updated_at: now,
            verified: true,
        }
    }
}
