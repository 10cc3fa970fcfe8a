//! Ports: the small traits the services need from the outside world. Each has an in-memory
//! implementation ([`crate::memory`]) and an AWS one ([`crate::aws`]); the contract suite in
//! `shared/tests/contract.rs` runs the same cases against both.

mod auth;
mod blocks;
mod contacts;
mod groups;
mod limits;
mod media;
mod messages;
mod paging;
mod realtime;

pub use auth::{
    Attempt, LiveCode, OtpState, OtpStore, Session, SessionStore, SmsSender, UserStore,
};
pub use blocks::{Block, BlockStore};
pub use contacts::{ContactRequestStore, ContactStore, Notifier, Presence};
pub use groups::{CursorKind, GroupChange, GroupStore, MemberChange};
pub use limits::CounterStore;
pub use media::{BlobHead, BlobStore, MediaStore, Presigned};
pub use messages::{
    DedupGuard, DeliveryJob, DeliveryQueue, FANOUT_BUCKETS, FANOUT_CHUNK, Fanout, HistoryRange,
    MessageChange, MessageStore, RateGate,
};
pub use paging::{Page, PageRequest, decode_cursor, encode_cursor};
pub use realtime::{
    Connection, ConnectionGateway, ConnectionStore, DeliveryLedger, Device, DeviceStore, Platform,
    PostError, PushError, PushNote, PushSender,
};

/// A stored value with the version its optimistic-concurrency writes are conditioned on.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}
