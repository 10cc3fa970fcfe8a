use super::{PublicProfile, RequestId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a contact request stands. Only `pending` requests can be accepted or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

/// A contact request, with the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A contact as the owner's list shows it: the public profile and whether they are online.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    #[serde(flatten)]
    pub profile: PublicProfile,
    pub online: bool,
}
