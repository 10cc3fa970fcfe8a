use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $code:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the canonical hyphenated form (what the API hands out).
            pub fn parse(s: &str) -> Result<Self, Error> {
                if s.len() != 36 {
                    return Err(Error::validation($code, concat!($what, " must be a UUID")));
                }
                Uuid::try_parse(s)
                    .map(Self)
                    .map_err(|_| Error::validation($code, concat!($what, " must be a UUID")))
            }
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}
pub(super) use uuid_id;

uuid_id!(
    /// A user's id: a random UUID (v4), so it reveals nothing about sign-up order or time.
    UserId,
    "invalid_user_id",
    "user id"
);
uuid_id!(
    /// A login session (refresh-token family): a random UUID (v4).
    SessionId,
    "invalid_session_id",
    "session id"
);

uuid_id!(
    /// A contact request: a UUIDv7, so ids sort by creation time.
    RequestId,
    "invalid_request_id",
    "request id"
);

impl RequestId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl UserId {
    /// The service itself as a message sender (the seed webhook's `"senderId": "system"`): the
    /// nil UUID, which no account ever has (accounts get random v4 ids).
    pub const SYSTEM: UserId = UserId(Uuid::nil());

    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
    /// The seed's `?userId=` (and a frame's `s`): tolerated only when it names this user,
    /// since identity comes from the access token; 403 `user_mismatch` otherwise.
    pub fn confirm_claim(&self, claimed: Option<&str>) -> Result<(), Error> {
        match claimed {
            Some(c) if c != self.to_string() => Err(Error::forbidden(
                "user_mismatch",
                "userId must be the authenticated user's id",
            )),
            _ => Ok(()),
        }
    }
    /// Whether this is [`UserId::SYSTEM`].
    pub fn is_system(&self) -> bool {
        *self == Self::SYSTEM
    }
}

impl SessionId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_parses_canonical_uuid_and_rejects_others() {
        let id = UserId::new_random();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
        for bad in [
            "",
            "abc",
            "123e4567e89b12d3a456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "123e4567-e89b-12d3-a456-42661417400z",
        ] {
            let err = UserId::parse(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_user_id", "input {bad:?}");
        }
    }
}
