//! WebSocket frames: the seed's compact JSON `{"t": TYPE, "d": {...}}` with short keys.
//! Always sent as text frames.

use crate::domain::{
    ConversationId, GroupEvent, Message, MessageId, MessageKind, MessageStatus, RequestId, UserId,
};
use chrono::{DateTime, Utc};
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
    /// The connection is ready: `{u: user, cid: connection id, hb: ping interval seconds}`.
    /// Sent before the answer to a connection's first frame.
    #[serde(rename = "CONN")]
    Conn(ConnEvent),
    /// Answer to `PING` (always).
    #[serde(rename = "PONG")]
    Pong(Empty),
    /// A contact is typing to you: `{s}`.
    #[serde(rename = "TYPING")]
    Typing(TypingEvent),
    /// A contact came online or went offline: `{u, on, ls}`.
    #[serde(rename = "PRES")]
    Pres(PresenceEvent),
    /// A `MSG` sent over the socket was stored: `{cm, id, ts}`.
    #[serde(rename = "ACK")]
    Ack(AckEvent),
    /// A frame from this connection was refused: `{code, msg, cm?}`. The socket stays open.
    #[serde(rename = "ERR")]
    Err(ErrorEvent),
    /// A contact request arrived (to its receiver).
    #[serde(rename = "REQ")]
    Req(ContactRequestEvent),
    /// A contact request was accepted (to its sender).
    #[serde(rename = "REQ_ACC")]
    ReqAcc(ContactRequestEvent),
    /// A group changed (to its members, and to those it removed): `{g, ev, by, users}`.
    #[serde(rename = "GRP")]
    Grp(GroupFrame),
    /// A member reacted to a message, or removed their reaction (`e: null`).
    #[serde(rename = "RCT")]
    Rct(ReactionEvent),
    /// Its sender edited a message: `{c, id, s, x, ts}`.
    #[serde(rename = "EDIT")]
    Edit(EditEvent),
    /// Its sender deleted a message for everyone: `{c, id, s, ts}`.
    #[serde(rename = "DEL")]
    Del(DeleteEvent),
}

/// `RCT` payload: the chat, the message, who reacted, the emoji (`null`: removed), when; in a
/// group `g` too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<ConversationId>,
    pub c: ConversationId,
    pub id: MessageId,
    pub u: UserId,
    pub e: Option<String>,
    pub ts: DateTime<Utc>,
}

/// `EDIT` payload: the chat, the message, its sender, the new text `x`, when it was edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<ConversationId>,
    pub c: ConversationId,
    pub id: MessageId,
    pub s: UserId,
    pub x: String,
    pub ts: DateTime<Utc>,
}

/// `DEL` payload: the chat, the message, its sender, when it was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<ConversationId>,
    pub c: ConversationId,
    pub id: MessageId,
    pub s: UserId,
    pub ts: DateTime<Utc>,
}

impl ServerFrame {
    /// The frame announcing `m`'s last action ([`crate::domain::Act`]), if it has one.
    pub fn of_action(m: &Message) -> Option<Self> {
        use crate::domain::ActKind;
        let act = m.extras.act.as_ref()?;
        let g = m.is_group().then_some(m.conversation_id);
        let (c, id) = (m.conversation_id, m.id);
        Some(match act.kind {
            ActKind::React | ActKind::Unreact => Self::Rct(ReactionEvent {
                g,
                c,
                id,
                u: act.by,
                e: act.emoji.as_ref().map(|e| e.as_str().to_owned()),
                ts: act.at,
            }),
            ActKind::Edit => Self::Edit(EditEvent {
                g,
                c,
                id,
                s: m.sender_id,
                x: m.content.as_str().to_owned(),
                ts: act.at,
            }),
            ActKind::Delete => Self::Del(DeleteEvent {
                g,
                c,
                id,
                s: m.sender_id,
                ts: act.at,
            }),
        })
    }

    /// The chat an action frame is about.
    pub fn action_chat(&self) -> Option<ConversationId> {
        match self {
            Self::Rct(e) => Some(e.c),
            Self::Edit(e) => Some(e.c),
            Self::Del(e) => Some(e.c),
            _ => None,
        }
    }
}

/// `GRP` payload: the group, what changed (`created added removed left joined promoted
/// demoted updated`), who did it and to whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFrame {
    pub g: ConversationId,
    pub id: MessageId,
    #[serde(flatten)]
    pub event: GroupEvent,
    pub ts: DateTime<Utc>,
}

/// `MSG` payload: `{id, s, r, c, t, st, ts}` — id, sender, receiver, content, type, status,
/// RFC 3339 time — and `more: true` when `c` was cut to fit the frame limit (the client
/// fetches the whole message by REST). A group message has `g`, the group's id (its `r` is the
/// group's id too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<ConversationId>,
    pub s: UserId,
    pub r: UserId,
    pub c: String,
    pub t: MessageKind,
    pub st: MessageStatus,
    pub ts: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// A media message's media id (fetch it with `GET /api/media/{mid}`), caption and
    /// thumbnail (≤ 8 KB, so the frame stays within [`MAX_FRAME_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<crate::domain::MediaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub th: Option<String>,
    /// A reply's quote of the message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<crate::domain::Quote>,
    /// A forwarded message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fw: bool,
}

/// API Gateway's limit on one message posted to a connection (`PostToConnection`).
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// The bytes `c` takes inside a JSON string (serde_json's escaping).
pub fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

impl ServerFrame {
    /// The frame as posted to a connection: compact JSON of at most [`MAX_FRAME_BYTES`]. A
    /// `MSG` whose content would not fit is cut, on a character boundary, with `more: true`;
    /// every other frame is small by construction.
    pub fn to_wire(&self) -> Vec<u8> {
        self.to_wire_within(MAX_FRAME_BYTES)
    }

    fn to_wire_within(&self, max: usize) -> Vec<u8> {
        let whole = serde_json::to_vec(self).expect("frames serialise");
        let ServerFrame::Msg(m) = self else {
            return whole;
        };
        if whole.len() <= max {
            return whole;
        }
        let mut cut = MessageEvent {
            c: String::new(),
            more: true,
            ..m.clone()
        };
        let overhead = serde_json::to_vec(&ServerFrame::Msg(cut.clone()))
            .expect("frames serialise")
            .len();
        let budget = max.saturating_sub(overhead);
        let (mut used, mut end) = (0, 0);
        for (i, ch) in m.c.char_indices() {
            used += escaped_len(ch);
            if used > budget {
                break;
            }
            end = i + ch.len_utf8();
        }
        cut.c = m.c[..end].to_owned();
        serde_json::to_vec(&ServerFrame::Msg(cut)).expect("frames serialise")
    }
}

impl MessageEvent {
    pub fn new(m: &Message) -> Self {
        Self {
            id: m.id,
            g: m.is_group().then_some(m.conversation_id),
            s: m.sender_id,
            r: m.receiver_id,
            c: m.content.as_str().to_owned(),
            t: m.kind,
            st: MessageStatus::Sent,
            ts: m.created_at,
            more: false,
            mid: m.media.as_ref().map(|x| x.media_id),
            cap: m.media.as_ref().and_then(|x| x.caption.clone()),
            th: m.media.as_ref().and_then(|x| x.thumbnail.clone()),
            q: m.extras.reply_to.clone(),
            fw: m.extras.forwarded,
        }
    }
}

/// `READ` / `DLV` payload: `{p, upTo}` — the peer (from the server: the reader) and the
/// newest message id covered; in a group, `g` too (`p` is then the member whose cursor moved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<ConversationId>,
    pub p: UserId,
    #[serde(rename = "upTo")]
    pub up_to: MessageId,
}

/// An empty payload (`"d":{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// `CONN` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnEvent {
    pub u: UserId,
    pub cid: String,
    /// Seconds between client pings (API Gateway closes idle sockets after 10 minutes).
    pub hb: u32,
}

/// `TYPING` payload from the server: who is typing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingEvent {
    pub s: UserId,
}

/// `PRES` payload: `on` = has a live connection; `ls` = last seen (RFC 3339 time) when off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEvent {
    pub u: UserId,
    pub on: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ls: Option<DateTime<Utc>>,
}

/// `ACK` payload: the client's id for the send, the stored id and time (RFC 3339 time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cm: Option<String>,
    pub id: MessageId,
    pub ts: DateTime<Utc>,
}

/// `ERR` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub code: String,
    pub msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cm: Option<String>,
}

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// `{"t":"PING"}`: answered by `PONG`.
    Ping,
    /// `{"t":"TYPING","d":{"r": peer}}`: relayed to the peer as `TYPING {s}`.
    Typing { r: UserId },
    /// `{"t":"READ","d":{"p": peer, "upTo": id}}`: read receipt.
    Read { p: UserId, up_to: MessageId },
    /// `{"t":"DLV","d":{"p": peer, "upTo": id}}`: delivery receipt.
    Dlv { p: UserId, up_to: MessageId },
    /// `{"t":"MSG","d":{"r": receiver, "c": content, "t": type?, "cm": client id?}}`: send.
    /// The seed's own frame `{id, s, r, c, t, st, ts}` is accepted too: `id` is the client's
    /// id for the send (as `cm`), `s` must be the sender, `st` and `ts` are the server's to set.
    Msg {
        r: UserId,
        c: String,
        t: String,
        cm: Option<String>,
        s: Option<UserId>,
        /// A media message's caption and thumbnail (`c` is then its media id).
        cap: Option<String>,
        th: Option<String>,
        /// The message of this chat it replies to.
        rp: Option<MessageId>,
    },
    /// `{"t":"READ","d":{"g": group, "upTo": id}}`: read receipt in a group.
    GroupRead { g: ConversationId, up_to: MessageId },
    /// `{"t":"DLV","d":{"g": group, "upTo": id}}`: delivery receipt in a group.
    GroupDlv { g: ConversationId, up_to: MessageId },
    /// `{"t":"MSG","d":{"g": group, "c": content, "t": type?, "cm": client id?}}`: send to a
    /// group.
    GroupMsg {
        g: ConversationId,
        c: String,
        t: String,
        cm: Option<String>,
        cap: Option<String>,
        th: Option<String>,
        rp: Option<MessageId>,
    },
}

/// Why a client frame was refused: `ERR {code, msg}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub msg: String,
}

impl ClientFrame {
    /// Parses a client frame; unknown types and bad payloads are precise errors.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        #[derive(Deserialize)]
        struct Raw {
            t: String,
            #[serde(default)]
            d: serde_json::Value,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ToPeer {
            r: UserId,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Receipt {
            #[serde(default)]
            p: Option<UserId>,
            #[serde(default)]
            g: Option<ConversationId>,
            #[serde(rename = "upTo")]
            up_to: MessageId,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Send {
            #[serde(default)]
            r: Option<UserId>,
            #[serde(default)]
            g: Option<ConversationId>,
            c: String,
            #[serde(default = "text_type")]
            t: String,
            #[serde(default)]
            cm: Option<String>,
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            s: Option<UserId>,
            #[serde(default)]
            cap: Option<String>,
            #[serde(default)]
            th: Option<String>,
            #[serde(default)]
            rp: Option<MessageId>,
            #[serde(default, rename = "st")]
            _status: serde_json::Value,
            #[serde(default, rename = "ts")]
            _timestamp: serde_json::Value,
        }
        fn text_type() -> String {
            "text".into()
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| FrameError {
            code: "invalid_frame",
            msg: format!("a frame is a JSON object {{\"t\": TYPE, \"d\": {{...}}}}: {e}"),
        })?;
        fn payload<T: serde::de::DeserializeOwned>(
            t: &str,
            d: serde_json::Value,
        ) -> Result<T, FrameError> {
            serde_json::from_value(d).map_err(|e| FrameError {
                code: "invalid_frame",
                msg: format!("{t}: {e}"),
            })
        }
        Ok(match raw.t.as_str() {
            "PING" => Self::Ping,
            "TYPING" => Self::Typing {
                r: payload::<ToPeer>("TYPING", raw.d)?.r,
            },
            t @ ("READ" | "DLV") => {
                let r: Receipt = payload(t, raw.d)?;
                match (r.p, r.g, t) {
                    (Some(p), None, "READ") => Self::Read { p, up_to: r.up_to },
                    (Some(p), None, _) => Self::Dlv { p, up_to: r.up_to },
                    (None, Some(g), "READ") => Self::GroupRead { g, up_to: r.up_to },
                    (None, Some(g), _) => Self::GroupDlv { g, up_to: r.up_to },
                    _ => {
                        return Err(FrameError {
                            code: "invalid_frame",
                            msg: format!("{t}: give exactly one of p (a peer) or g (a group)"),
                        });
                    }
                }
            }
            "MSG" => {
                let m: Send = payload("MSG", raw.d)?;
                let cm = match (m.cm, m.id) {
                    (Some(cm), Some(id)) if cm != id => {
                        return Err(FrameError {
                            code: "invalid_frame",
                            msg: "MSG: id and cm are the same client id; they disagree".into(),
                        });
                    }
                    (cm, id) => cm.or(id),
                };
                match (m.r, m.g) {
                    (Some(r), None) => Self::Msg {
                        r,
                        c: m.c,
                        t: m.t,
                        cm,
                        s: m.s,
                        cap: m.cap,
                        th: m.th,
                        rp: m.rp,
                    },
                    (None, Some(g)) if m.s.is_none() => Self::GroupMsg {
                        g,
                        c: m.c,
                        t: m.t,
                        cm,
                        cap: m.cap,
                        th: m.th,
                        rp: m.rp,
                    },
                    _ => {
                        return Err(FrameError {
                            code: "invalid_frame",
                            msg: "MSG: give exactly one of r (a contact) or g (a group)".into(),
                        });
                    }
                }
            }
            other => {
                return Err(FrameError {
                    code: "unknown_frame",
                    msg: format!(
                        "unknown frame type {other:?}; expected PING, TYPING, READ, DLV or MSG"
                    ),
                });
            }
        })
    }
}

/// `REQ` / `REQ_ACC` payload: `{id, s, r, ts}` — request id, sender, receiver, RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRequestEvent {
    pub id: RequestId,
    pub s: UserId,
    pub r: UserId,
    pub ts: DateTime<Utc>,
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
            ts: DateTime::from_timestamp_millis(1_763_700_000_000).unwrap(),
        };
        let json = serde_json::to_string(&ServerFrame::Req(ev.clone())).unwrap();
        assert_eq!(
            json,
            r#"{"t":"REQ","d":{"id":"019a8f6e-0000-7000-8000-000000000001","s":"00000000-0000-4000-8000-00000000000a","r":"00000000-0000-4000-8000-00000000000b","ts":"2025-11-21T04:40:00Z"}}"#
        );
        let acc = serde_json::to_value(ServerFrame::ReqAcc(ev)).unwrap();
        assert_eq!(acc["t"], "REQ_ACC");
    }

    #[test]
    fn client_frames_parse_and_bad_ones_say_why() {
        let peer = "00000000-0000-4000-8000-00000000000b";
        let id = "019a8f6e-0000-7000-8000-0000000000ff";
        assert_eq!(ClientFrame::parse(r#"{"t":"PING"}"#), Ok(ClientFrame::Ping));
        assert_eq!(
            ClientFrame::parse(r#"{"t":"PING","d":{}}"#),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            ClientFrame::parse(&format!(
                r#"{{"t":"READ","d":{{"p":"{peer}","upTo":"{id}"}}}}"#
            )),
            Ok(ClientFrame::Read {
                p: UserId::parse(peer).unwrap(),
                up_to: MessageId::parse(id).unwrap()
            })
        );
        assert!(matches!(
            ClientFrame::parse(&format!(r#"{{"t":"MSG","d":{{"r":"{peer}","c":"hi"}}}}"#)),
            Ok(ClientFrame::Msg { ref t, cm: None, .. }) if t == "text"
        ));
        let cases = [
            ("not json", "invalid_frame"),
            ("[1,2]", "invalid_frame"),
            (r#"{"t":"NOPE"}"#, "unknown_frame"),
            (r#"{"t":"TYPING"}"#, "invalid_frame"),
            (r#"{"t":"TYPING","d":{"r":"x"}}"#, "invalid_frame"),
            (
                r#"{"t":"READ","d":{"p":"00000000-0000-4000-8000-00000000000b"}}"#,
                "invalid_frame",
            ),
            (
                r#"{"t":"MSG","d":{"r":"00000000-0000-4000-8000-00000000000b","c":"x","extra":1}}"#,
                "invalid_frame",
            ),
        ];
        for (text, code) in cases {
            assert_eq!(ClientFrame::parse(text).unwrap_err().code, code, "{text}");
        }
    }

    #[test]
    fn server_control_frames_have_the_compact_shape() {
        assert_eq!(
            serde_json::to_string(&ServerFrame::Pong(Empty {})).unwrap(),
            r#"{"t":"PONG","d":{}}"#
        );
        let u = UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap();
        let pres = ServerFrame::Pres(PresenceEvent {
            u,
            on: false,
            ls: Some(DateTime::from_timestamp_millis(5).unwrap()),
        });
        assert_eq!(
            serde_json::to_string(&pres).unwrap(),
            r#"{"t":"PRES","d":{"u":"00000000-0000-4000-8000-00000000000a","on":false,"ls":"1970-01-01T00:00:00.005Z"}}"#
        );
        let err = ServerFrame::Err(ErrorEvent {
            code: "x".into(),
            msg: "y".into(),
            cm: None,
        });
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"t":"ERR","d":{"code":"x","msg":"y"}}"#
        );
    }

    #[test]
    fn message_and_receipt_frames_have_the_compact_shape() {
        let id = MessageId::parse("019a8f6e-0000-7000-8000-0000000000ff").unwrap();
        let (s, r) = (
            UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
            UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap(),
        );
        let msg = ServerFrame::Msg(MessageEvent {
            g: None,
            id,
            s,
            r,
            c: "hi".into(),
            t: MessageKind::Text,
            st: MessageStatus::Sent,
            ts: DateTime::from_timestamp_millis(1).unwrap(),
            more: false,
            mid: None,
            cap: None,
            th: None,
            q: None,
            fw: false,
        });
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"t":"MSG","d":{"id":"019a8f6e-0000-7000-8000-0000000000ff","s":"00000000-0000-4000-8000-00000000000a","r":"00000000-0000-4000-8000-00000000000b","c":"hi","t":"text","st":"sent","ts":"1970-01-01T00:00:00.001Z"}}"#
        );
        let read = ServerFrame::Read(ReceiptEvent {
            g: None,
            p: r,
            up_to: id,
        });
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"{"t":"READ","d":{"p":"00000000-0000-4000-8000-00000000000b","upTo":"019a8f6e-0000-7000-8000-0000000000ff"}}"#
        );
    }

    #[test]
    fn a_message_frame_that_would_exceed_the_limit_is_cut_with_more() {
        let event = |c: String| {
            ServerFrame::Msg(MessageEvent {
                g: None,
                id: MessageId::parse("019a8f6e-0000-7000-8000-0000000000ff").unwrap(),
                s: UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
                r: UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap(),
                c,
                t: MessageKind::Text,
                st: MessageStatus::Sent,
                ts: DateTime::from_timestamp_millis(1).unwrap(),
                more: false,
                mid: None,
                cap: None,
                th: None,
                q: None,
                fw: false,
            })
        };
        let small = event("hi".into());
        assert_eq!(small.to_wire(), serde_json::to_vec(&small).unwrap());
        for (what, content) in [
            ("quotes", "\"".repeat(64 * 1024)),
            ("newlines", "\n".repeat(64 * 1024)),
            ("control characters", "\u{1}".repeat(40 * 1024)),
            (
                "emoji after ASCII",
                format!("{}{}", "a".repeat(100), "😀".repeat(40_000)),
            ),
        ] {
            let wire = event(content.clone()).to_wire();
            assert!(
                wire.len() <= MAX_FRAME_BYTES,
                "{what}: {} bytes",
                wire.len()
            );
            let back: ServerFrame = serde_json::from_slice(&wire).unwrap();
            let ServerFrame::Msg(m) = back else {
                panic!("{what}: still a MSG")
            };
            assert!(m.more, "{what}: marked as cut");
            assert!(content.starts_with(&m.c), "{what}: a prefix of the content");
            assert!(
                wire.len() + 8 > MAX_FRAME_BYTES,
                "{what}: as much as fits ({} bytes)",
                wire.len()
            );
        }
        assert_eq!(
            escaped_len('\u{1}'),
            serde_json::to_string(&'\u{1}').unwrap().len() - 2
        );
    }
}
