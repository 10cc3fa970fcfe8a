//! Business rules, written against the ports only.

pub mod auth;
pub mod tokens;

pub use auth::{AuthService, NewProfile, OtpSent, ProfilePatch, Verified};
pub use tokens::{Identity, TokenPair, TokenService};
