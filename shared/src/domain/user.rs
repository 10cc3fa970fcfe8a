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
    /// Who sees `lastSeen` and `online` (WhatsApp's "Last seen and online" privacy setting).
    #[serde(default)]
    pub last_seen_visibility: LastSeenVisibility,
}

/// Who may see a user's `lastSeen` and whether they are online.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LastSeenVisibility {
    /// Anyone who sees the profile (search results, requests, group members).
    Everyone,
    /// Only contacts (the default).
    #[default]
    Contacts,
    /// Nobody: no `lastSeen`, never `online`, no presence frames.
    Nobody,
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
    /// Shown only as the user's privacy setting allows: to everyone, to contacts (the
    /// default), or to nobody; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    pub verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What anyone may see of a user: `lastSeen` only when the user shows it to everyone.
impl From<&User> for PublicProfile {
    fn from(u: &User) -> Self {
        Self::seen_by(u, false)
    }
}

impl PublicProfile {
    /// `u` as `viewer_is_contact` sees it: `lastSeen` per the user's privacy setting.
    pub fn seen_by(u: &User, viewer_is_contact: bool) -> Self {
        let shown = match u.last_seen_visibility {
            LastSeenVisibility::Everyone => true,
            LastSeenVisibility::Contacts => viewer_is_contact,
            LastSeenVisibility::Nobody => false,
        };
        Self {
            id: u.id,
            username: u.username.clone(),
            status: u.status.clone(),
            profile_picture: u.profile_picture.clone(),
            last_seen: shown.then_some(u.last_seen),
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
            last_seen: Some(epoch),
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
            last_seen_visibility: LastSeenVisibility::default(),
        }
    }
}
