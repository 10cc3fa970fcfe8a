//! WebSocket frames: the seed's compact JSON `{"t": TYPE, "d": {...}}` with short keys.
//! Always sent as text frames.

use crate::domain::{Message, MessageId, MessageKind, MessageStatus, RequestId, UserId};
use serde::{Deserialize, Serialize};

/// A frame the server sends to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "d")]
pub enum ServerFrame {
    /// A message (to every device of its receiver, and the sender's other devices).
    #[serde(rename = "MSG")]
    Msg(MessageEvent),
    /// The reader read everything up to `upTo` (to the other member).
    #[serde(rename = "READ")]
    Read(ReceiptEvent),
    /// Everything up to `upTo` reached the recipient's device (to the other member).
    #[serde(rename = "DLV")]
    Dlv(ReceiptEvent),
    /// A contact request arrived (to its receiver).
    #[serde(rename = "REQ")]
    Req(ContactRequestEvent),
    /// A contact request was accepted (to its sender).
    #[serde(rename = "REQ_ACC")]
    ReqAcc(ContactRequestEvent),
}

/// `MSG` payload: `{id, s, r, c, t, st, ts}` — id, sender, receiver, content, type, status,
/// epoch millis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub id: MessageId,
    pub s: UserId,
    pub r: UserId,
    pub c: String,
    pub t: MessageKind,
    pub st: MessageStatus,
    pub ts: i64,
}

impl MessageEvent {
    pub fn new(m: &Message) -> Self {
        Self {
            id: m.id,
            s: m.sender_id,
            r: m.receiver_id,
            c: m.content.as_str().to_owned(),
            t: m.kind,
            st: MessageStatus::Sent,
            ts: m.created_at.timestamp_millis(),
        }
    }
}

/// `READ` / `DLV` payload: `{p, upTo}` — the peer (from the server: the reader) and the
/// newest message id covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptEvent {
    pub p: UserId,
    #[serde(rename = "upTo")]
    pub up_to: MessageId,
}

/// `REQ` / `REQ_ACC` payload: `{id, s, r, ts}` — request id, sender, receiver, epoch millis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRequestEvent {
    pub id: RequestId,
    pub s: UserId,
    pub r: UserId,
    pub ts: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_request_frames_have_the_compact_shape() {
        let ev = ContactRequestEvent {
            id: RequestId::parse("019a8f6e-0000-7000-8000-000000000001").unwrap(),
            s: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            r: UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap(),
            ts: 1_763_700_000_000,
        };
        let json = serde_json::to_string(&ServerFrame::Req(ev.clone())).unwrap();
        assert_eq!(
            json,
            r#"{"t":"REQ","d":{"id":"019a8f6e-0000-7000-8000-000000000001","s":"00000000-0000-4000-8000-00000000000a","r":"00000000-0000-4000-8000-00000000000b","ts":1763700000000}}"#
        );
        let acc = serde_json::to_value(ServerFrame::ReqAcc(ev)).unwrap();
        assert_eq!(acc["t"], "REQ_ACC");
    }

    #[test]
    fn message_and_receipt_frames_have_the_compact_shape() {
        let id = MessageId::parse("019a8f6e-0000-7000-8000-0000000000ff").unwrap();
        let (s, r) = (
            UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap(),
        );
        let msg = ServerFrame::Msg(MessageEvent {
            id,
            s,
            r,
            c: "hi".into(),
            t: MessageKind::Text,
            st: MessageStatus::Sent,
            ts: 1,
        });
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"t":"MSG","d":{"id":"019a8f6e-0000-7000-8000-0000000000ff","s":"00000000-0000-4000-8000-00000000000a","r":"00000000-0000-4000-8000-00000000000b","c":"hi","t":"text","st":"sent","ts":1}}"#
        );
        let read = ServerFrame::Read(ReceiptEvent { p: r, up_to: id });
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"{"t":"READ","d":{"p":"00000000-0000-4000-8000-00000000000b","upTo":"019a8f6e-0000-7000-8000-0000000000ff"}}"#
        );
    }
}
