//! Business rules, written against the ports only.

pub mod auth;
pub mod contacts;
pub mod messages;
pub mod realtime;
pub mod tokens;

pub use auth::{AuthService, NewProfile, OtpSent, ProfilePatch, Verified};
pub use contacts::{ContactService, Recipient, RequestOutcome, RequestWithProfile};
pub use messages::{HistoryPage, MessageService, NewMessage, SendOutcome};
pub use realtime::{
    ConnectionPresence, Delivered, DeliveryService, DeviceService, RealtimeService,
};
pub use tokens::{Identity, TokenPair, TokenService};
