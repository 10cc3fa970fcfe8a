//! Every DynamoDB key format, in one place. Golden-item tests in the adapters pin them.

use crate::domain::{PhoneNumber, SessionId, UserId, Username};

/// `users` table: the user item.
pub fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

/// `users` table: the guard item that makes a phone number unique and maps it to its user.
pub fn phone_guard_pk(phone: &PhoneNumber) -> String {
    format!("PHONE#{phone}")
}

/// `users` table: the guard item that makes a username unique (case-insensitively).
pub fn username_guard_pk(username: &Username) -> String {
    format!("USERNAME#{}", username.key())
}

/// `verification_codes` table: the OTP state of one phone number.
pub fn otp_pk(phone: &PhoneNumber) -> String {
    format!("OTP#{phone}")
}

/// `sessions` table: one login session.
pub fn session_pk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}
