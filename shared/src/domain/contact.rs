use super::{PhoneNumber, PublicProfile, RequestId, User, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a contact request stands. Only `pending` requests can be accepted or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

/// A contact request, with the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactRequest {
    pub id: RequestId,
    pub sender_id: UserId,
    pub receiver_id: UserId,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One side of a contact relationship: `owner` has `contact` in their list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub owner_id: UserId,
    pub contact_id: UserId,
    pub request_id: RequestId,
    pub created_at: DateTime<Utc>,
}

/// A contact as the owner's list shows it: the public profile, the phone number (contacts
/// know each other's number, as in the seed's contact list; never the e-mail address) and
/// whether they are online.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    #[serde(flatten)]
    pub profile: PublicProfile,
    pub phone_number: PhoneNumber,
    pub online: bool,
}

impl ContactView {
    /// A contact as the other side sees it: `lastSeen` and `online` unless the contact's
    /// privacy setting is `nobody`.
    pub fn new(user: &User, online: bool) -> Self {
        Self {
            profile: PublicProfile::seen_by(user, true),
            phone_number: user.phone_number.clone(),
            online: online && user.last_seen_visibility != super::LastSeenVisibility::Nobody,
        }
    }
}
