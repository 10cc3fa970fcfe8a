use super::{Email, PhoneNumber, ProfilePicture, StatusText, UserId, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The status a new profile starts with (the seed's default).
pub const DEFAULT_STATUS: &str = "Hey, I'm using WhatsPe!";

/// A user account, serialised with the seed's field names (what `GET /api/user` returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// What other users may see of a user: never the e-mail address or phone number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    pub id: UserId,
    pub username: Username,
    pub status: StatusText,
    pub profile_picture: Option<ProfilePicture>,
    pub last_seen: DateTime<Utc>,
}

impl From<&User> for PublicProfile {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            status: u.status.clone(),
            profile_picture: u.profile_picture.clone(),
            last_seen: u.last_seen,
        }
    }
}
