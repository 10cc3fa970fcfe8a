//! Business rules, written against the ports only: one service per file.

pub mod auth;
pub mod blocks;
pub mod contacts;
pub mod delivery;
pub mod devices;
pub mod groups;
pub mod limits;
pub mod media;
pub mod messages;
pub mod presence;
pub mod realtime;
pub mod revocation;
pub mod tokens;
pub mod webhook;

pub use auth::{AuthService, NewProfile, OtpSent, ProfilePatch, Verified};
pub use blocks::BlockService;
pub use contacts::{ContactService, Recipient, RequestOutcome, RequestWithProfile};
pub use delivery::{Delivered, DeliveryService};
pub use devices::DeviceService;
pub use groups::{GroupPatch, GroupService, NewGroup, SettingsPatch};
pub use limits::{RateLimits, Rule};
pub use media::{DownloadTicket, MediaInput, MediaService, Readers, Swept, UploadTicket};
pub use messages::{HistoryPage, MessageService, NewMessage, SendOutcome};
pub use presence::ConnectionPresence;
pub use realtime::RealtimeService;
pub use tokens::{Identity, TokenPair, TokenService};
