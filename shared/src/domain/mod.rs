//! Domain types. Each newtype parses its input once, at the edge; holding one proves validity.

pub mod actions;
mod contact;
mod group;
mod ids;
pub mod media;
mod message;
mod phone;
mod text;
mod user;

pub use actions::{
    Act, ActKind, DELETE_WINDOW, EDIT_WINDOW, Emoji, FORWARD_MAX, Quote, Reaction, ReactionSummary,
};
pub use contact::{Contact, ContactRequest, ContactView, RequestStatus};
pub use group::{
    DEFAULT_MAX_MEMBERS, GroupEvent, GroupEventKind, GroupMeta, GroupName, GroupPart,
    GroupSettings, GroupSummary, GroupView, MAX_ADD_PER_REQUEST, Mark, Member, MemberView,
    ReceiptView, Role, Who, parse_avatar, parse_description,
};
pub use ids::{RequestId, SessionId, UserId};
pub use media::{
    MediaId, MediaLimits, MediaMeta, MediaRef, MediaState, MediaType, MediaTypes, MediaUse,
    parse_caption, parse_file_name, parse_thumbnail,
};
pub use message::{
    ChatKind, ChatView, Content, Conversation, ConversationId, Cursors, Extras, MAX_CONTENT_BYTES,
    Message, MessageId, MessageKind, MessageStatus, MessageView, PREVIEW_CHARS,
};
pub use phone::{CountryCode, PhoneNumber};
pub use text::{Email, OtpCode, ProfilePicture, StatusText, Username};
pub use user::{DEFAULT_STATUS, LastSeenVisibility, PublicProfile, SYSTEM_USERNAME, User};
