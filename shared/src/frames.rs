//! WebSocket frames: the seed's compact JSON `{"t": TYPE, "d": {...}}` with short keys.
//! Always sent as text frames.

use crate::domain::{RequestId, UserId};
use serde::{Deserialize, Serialize};

/// A frame the server sends to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "d")]
pub enum ServerFrame {
    /// A contact request arrived (to its receiver).
    #[serde(rename = "REQ")]
    Req(ContactRequestEvent),
    /// A contact request was accepted (to its sender).
    #[serde(rename = "REQ_ACC")]
    ReqAcc(ContactRequestEvent),
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
}
