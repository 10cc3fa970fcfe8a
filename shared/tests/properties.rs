//! Property tests of the decoders that take untrusted input (nightly-free fuzzing): the
//! WebSocket client-frame parser, the JSON body extractor, phone numbers and page cursors
//! never panic on arbitrary input and refuse it with a 4xx-class error, and the codecs
//! (cursors, frames) round-trip.
//!
//! `cargo test` runs each property on PROPTEST_CASES inputs (default 256). `make fuzz` runs
//! each for WHATSPE_FUZZ_SECONDS (batch after batch of fresh random inputs). A failure found
//! that way becomes a case in `regressions` at the end of this file.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;
use whatspe::domain::{
    ConversationId, CountryCode, MessageId, MessageKind, MessageStatus, PhoneNumber, RequestId,
    UserId,
};
use whatspe::frames::{
    AckEvent, ClientFrame, ConnEvent, ContactRequestEvent, Empty, ErrorEvent, MAX_FRAME_BYTES,
    MessageEvent, PresenceEvent, ReceiptEvent, ServerFrame, TypingEvent,
};
use whatspe::http::ApiJson;
use whatspe::ports::{decode_cursor, encode_cursor};

/// Runs `test` on inputs from `strategy`: one batch of PROPTEST_CASES (proptest's default
/// configuration), or batches until WHATSPE_FUZZ_SECONDS have passed. Panics with the
/// minimal failing input.
fn check<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let budget = std::env::var("WHATSPE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    let started = Instant::now();
    let mut cases = 0u64;
    loop {
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        cases += u64::from(config.cases);
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        if budget.is_none_or(|b| started.elapsed() >= b) {
            break;
        }
    }
    if budget.is_some() {
        eprintln!("{name}: {cases} cases in {:.0?}", started.elapsed());
    }
}

/// Arbitrary JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
        uuid().prop_map(|u| Value::from(u.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Object keys: the names the decoders know, and anything else.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "t",
            "d",
            "r",
            "p",
            "s",
            "c",
            "cm",
            "id",
            "st",
            "ts",
            "upTo",
            "phoneNumber",
            "verificationCode",
            "otp",
            "code",
            "email",
            "profilePicture",
            "status",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn user_id() -> impl Strategy<Value = UserId> {
    uuid().prop_map(UserId::from_uuid)
}

fn chat_id() -> impl Strategy<Value = ConversationId> {
    uuid().prop_map(|u| ConversationId::parse(&u.hyphenated().to_string()).expect("a UUID"))
}

fn message_id() -> impl Strategy<Value = MessageId> {
    uuid().prop_map(MessageId::from_uuid)
}

/// Times from 1970 to 2200 with nanoseconds, as the server may stamp them.
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..7_258_118_400, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("in range"))
}

/// Text frames a client could send: arbitrary strings, and JSON objects with a known or
/// unknown `t` and an arbitrary `d`.
fn client_text() -> impl Strategy<Value = String> {
    let t = prop_oneof![
        prop::sample::select(vec!["PING", "TYPING", "READ", "DLV", "MSG"]).prop_map(Value::from),
        json_value(),
    ];
    prop_oneof![
        any::<String>(),
        json_value().prop_map(|v| v.to_string()),
        (t, json_value()).prop_map(|(t, d)| json!({"t": t, "d": d}).to_string()),
    ]
}

#[test]
fn the_client_frame_parser_never_panics_and_refuses_with_a_frame_error() {
    check("ClientFrame::parse", client_text(), |text| {
        if let Err(e) = ClientFrame::parse(&text) {
            prop_assert!(
                e.code == "invalid_frame" || e.code == "unknown_frame",
                "{text:?}: {e:?}"
            );
        }
        Ok(())
    });
}

/// A body shaped like the API's: every serde feature the handlers use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Body {
    phone_number: String,
    verification_code: Option<String>,
    #[serde(default, deserialize_with = "whatspe::http::nullable")]
    email: Option<Option<String>>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    status: Option<Value>,
    count: Option<u32>,
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::btree_map(key(), json_value(), 0..6)
            .prop_map(|m| serde_json::to_vec(&m).expect("JSON")),
    ]
}

#[test]
fn the_json_body_extractor_never_panics_and_answers_400() {
    check("ApiJson::from_bytes", body_bytes(), |bytes| {
        for result in [
            ApiJson::<Body>::from_bytes(&bytes).map(|_| ()),
            ApiJson::<Value>::from_bytes(&bytes).map(|_| ()),
            ApiJson::<Vec<u32>>::from_bytes(&bytes).map(|_| ()),
        ] {
            if let Err(e) = result {
                prop_assert_eq!(e.status().as_u16(), 400, "{:?}", e);
                prop_assert!(
                    ["malformed_json", "invalid_body"].contains(&e.code()),
                    "{:?}",
                    e
                );
            }
        }
        Ok(())
    });
}

fn phone_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[+0-9 ().-]{0,40}",
        "\\+?[0-9]{0,20}",
        "(00|0|\\+)?[1-9][0-9]{6,16}",
    ]
}

fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())
    })
}

#[test]
fn phone_parsing_never_panics_and_yields_e164_that_parses_to_itself() {
    let india = CountryCode::parse("91").unwrap();
    check("PhoneNumber::parse", phone_input(), |input| {
        match PhoneNumber::parse(&input, &india) {
            Ok(p) => {
                prop_assert!(is_e164(p.as_str()), "{input:?} → {p}");
                let again = PhoneNumber::parse(p.as_str(), &india);
                prop_assert_eq!(again.as_ref().ok(), Some(&p), "{:?}", input);
            }
            Err(e) => prop_assert_eq!(e.code(), "invalid_phone_number"),
        }
        Ok(())
    });
}

#[test]
fn a_national_ten_digit_number_gets_the_default_country_code() {
    let india = CountryCode::parse("91").unwrap();
    check("national numbers", "[1-9][0-9]{9}", |n| {
        let p = PhoneNumber::parse(&n, &india).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.as_str(), format!("+91{n}"));
        Ok(())
    });
}

/// The shapes of the stores' cursors (memory and DynamoDB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UsernameCursor {
    k: String,
    id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChatCursor {
    l: MessageId,
    c: ConversationId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RequestCursor {
    id: RequestId,
}

fn cursor_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,600}",
        json_value().prop_map(|v| encode_cursor(&v)),
    ]
}

#[test]
fn the_cursor_decoder_never_panics() {
    check("decode_cursor", cursor_text(), |text| {
        let _ = decode_cursor::<UsernameCursor>(&text);
        let _ = decode_cursor::<ChatCursor>(&text);
        let _ = decode_cursor::<RequestCursor>(&text);
        let _ = decode_cursor::<Value>(&text);
        Ok(())
    });
}

#[test]
fn cursors_round_trip() {
    let chat = (message_id(), user_id(), user_id()).prop_map(|(l, a, b)| ChatCursor {
        l,
        c: ConversationId::direct(&a, &b),
    });
    let name = ("[a-z][a-z0-9_.]{2,29}", user_id()).prop_map(|(k, id)| UsernameCursor { k, id });
    let request = uuid().prop_map(|u| RequestCursor {
        id: RequestId::from_uuid(u),
    });
    check("cursor round trip", (chat, name, request), |(c, n, r)| {
        let back = |s: String| s.len() <= 512 && !s.contains(['+', '/', '=']);
        let (ce, ne, re) = (encode_cursor(&c), encode_cursor(&n), encode_cursor(&r));
        prop_assert!(back(ce.clone()) && back(ne.clone()) && back(re.clone()));
        prop_assert_eq!(decode_cursor::<ChatCursor>(&ce).ok(), Some(c));
        prop_assert_eq!(decode_cursor::<UsernameCursor>(&ne).ok(), Some(n));
        prop_assert_eq!(decode_cursor::<RequestCursor>(&re).ok(), Some(r));
        Ok(())
    });
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    let kind = prop::sample::select(vec![
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Video,
        MessageKind::Audio,
        MessageKind::Document,
    ]);
    let status = prop::sample::select(vec![
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
    ]);
    let msg = (
        (message_id(), user_id(), user_id(), any::<String>()),
        (kind.clone(), status, time(), any::<bool>()),
        prop::option::of(chat_id()),
        (
            prop::option::of(any::<u128>()),
            prop::option::of(any::<String>()),
            prop::option::of(any::<String>()),
        ),
        (
            prop::option::of((
                message_id(),
                user_id(),
                kind,
                prop::option::of(any::<String>()),
            )),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((id, s, r, c), (t, st, ts, more), g, (mid, cap, th), (q, fw))| MessageEvent {
                id,
                g,
                s,
                r,
                c,
                t,
                st,
                ts,
                more,
                mid: mid.map(|m| {
                    whatspe::domain::MediaId::parse(&uuid::Uuid::from_u128(m).to_string())
                        .expect("a uuid")
                }),
                cap,
                th,
                q: q.map(|(id, sender_id, kind, text)| whatspe::domain::Quote {
                    id,
                    sender_id,
                    kind,
                    text,
                }),
                fw,
            },
        );
    let receipt = || {
        (prop::option::of(chat_id()), user_id(), message_id())
            .prop_map(|(g, p, up_to)| ReceiptEvent { g, p, up_to })
    };
    let request = || {
        (uuid(), user_id(), user_id(), time()).prop_map(|(id, s, r, ts)| ContactRequestEvent {
            id: RequestId::from_uuid(id),
            s,
            r,
            ts,
        })
    };
    prop_oneof![
        msg.prop_map(ServerFrame::Msg),
        receipt().prop_map(ServerFrame::Read),
        receipt().prop_map(ServerFrame::Dlv),
        (user_id(), any::<String>(), any::<u32>())
            .prop_map(|(u, cid, hb)| ServerFrame::Conn(ConnEvent { u, cid, hb })),
        Just(ServerFrame::Pong(Empty {})),
        user_id().prop_map(|s| ServerFrame::Typing(TypingEvent { s })),
        (user_id(), any::<bool>(), prop::option::of(time()))
            .prop_map(|(u, on, ls)| ServerFrame::Pres(PresenceEvent { u, on, ls })),
        (prop::option::of(any::<String>()), message_id(), time())
            .prop_map(|(cm, id, ts)| ServerFrame::Ack(AckEvent { cm, id, ts })),
        (
            any::<String>(),
            any::<String>(),
            prop::option::of(any::<String>())
        )
            .prop_map(|(code, msg, cm)| ServerFrame::Err(ErrorEvent { code, msg, cm })),
        request().prop_map(ServerFrame::Req),
        request().prop_map(ServerFrame::ReqAcc),
    ]
}

#[test]
fn server_frames_round_trip_through_json() {
    check("ServerFrame round trip", server_frame(), |frame| {
        let text = serde_json::to_string(&frame).expect("serialises");
        let back: ServerFrame = serde_json::from_str(&text).expect("parses");
        prop_assert_eq!(back, frame);
        Ok(())
    });
}

#[test]
fn a_frame_on_the_wire_fits_the_limit_and_parses() {
    // A random piece repeated: cheap to draw, and past the limit about half the time.
    let content = (".{1,24}", 0usize..12_000).prop_map(|(piece, n)| piece.repeat(n));
    let frame =
        (message_id(), user_id(), user_id(), content, time()).prop_map(|(id, s, r, c, ts)| {
            ServerFrame::Msg(MessageEvent {
                id,
                g: None,
                s,
                r,
                c,
                t: MessageKind::Text,
                st: MessageStatus::Sent,
                ts,
                more: false,
                mid: None,
                cap: None,
                th: None,
                q: None,
                fw: false,
            })
        });
    check("ServerFrame::to_wire", frame, |frame| {
        let wire = frame.to_wire();
        prop_assert!(wire.len() <= MAX_FRAME_BYTES, "{} bytes", wire.len());
        let back: ServerFrame = serde_json::from_slice(&wire).expect("parses");
        let whole = serde_json::to_vec(&frame).expect("serialises");
        if whole.len() <= MAX_FRAME_BYTES {
            prop_assert_eq!(back, frame);
        } else {
            let (ServerFrame::Msg(cut), ServerFrame::Msg(m)) = (back, frame) else {
                unreachable!()
            };
            prop_assert!(cut.more && m.c.starts_with(&cut.c));
        }
        Ok(())
    });
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        Just(ClientFrame::Ping),
        user_id().prop_map(|r| ClientFrame::Typing { r }),
        (user_id(), message_id()).prop_map(|(p, up_to)| ClientFrame::Read { p, up_to }),
        (user_id(), message_id()).prop_map(|(p, up_to)| ClientFrame::Dlv { p, up_to }),
        (
            (
                user_id(),
                any::<String>(),
                any::<String>(),
                prop::option::of(any::<String>()),
                prop::option::of(user_id()),
            ),
            (
                prop::option::of(any::<String>()),
                prop::option::of(any::<String>()),
                prop::option::of(message_id()),
            ),
        )
            .prop_map(|((r, c, t, cm, s), (cap, th, rp))| ClientFrame::Msg {
                r,
                c,
                t,
                cm,
                s,
                cap,
                th,
                rp
            }),
        (chat_id(), message_id()).prop_map(|(g, up_to)| ClientFrame::GroupRead { g, up_to }),
        (chat_id(), message_id()).prop_map(|(g, up_to)| ClientFrame::GroupDlv { g, up_to }),
        (
            chat_id(),
            any::<String>(),
            any::<String>(),
            prop::option::of(any::<String>()),
            prop::option::of(any::<String>()),
            prop::option::of(any::<String>()),
            prop::option::of(message_id()),
        )
            .prop_map(|(g, c, t, cm, cap, th, rp)| ClientFrame::GroupMsg {
                g,
                c,
                t,
                cm,
                cap,
                th,
                rp
            }),
    ]
}

/// A client frame as a client library writes it (the documented wire format).
fn encode(frame: &ClientFrame) -> String {
    match frame {
        ClientFrame::Ping => json!({"t": "PING"}),
        ClientFrame::Typing { r } => json!({"t": "TYPING", "d": {"r": r}}),
        ClientFrame::Read { p, up_to } => json!({"t": "READ", "d": {"p": p, "upTo": up_to}}),
        ClientFrame::Dlv { p, up_to } => json!({"t": "DLV", "d": {"p": p, "upTo": up_to}}),
        ClientFrame::Msg {
            r,
            c,
            t,
            cm,
            s,
            cap,
            th,
            rp,
        } => {
            let mut d = json!({"r": r, "c": c, "t": t});
            if let Some(rp) = rp {
                d["rp"] = json!(rp);
            }
            if let Some(cm) = cm {
                d["cm"] = json!(cm);
            }
            if let Some(s) = s {
                d["s"] = json!(s);
            }
            if let Some(cap) = cap {
                d["cap"] = json!(cap);
            }
            if let Some(th) = th {
                d["th"] = json!(th);
            }
            json!({"t": "MSG", "d": d})
        }
        ClientFrame::GroupRead { g, up_to } => json!({"t": "READ", "d": {"g": g, "upTo": up_to}}),
        ClientFrame::GroupDlv { g, up_to } => json!({"t": "DLV", "d": {"g": g, "upTo": up_to}}),
        ClientFrame::GroupMsg {
            g,
            c,
            t,
            cm,
            cap,
            th,
            rp,
        } => {
            let mut d = json!({"g": g, "c": c, "t": t});
            if let Some(rp) = rp {
                d["rp"] = json!(rp);
            }
            if let Some(cm) = cm {
                d["cm"] = json!(cm);
            }
            if let Some(cap) = cap {
                d["cap"] = json!(cap);
            }
            if let Some(th) = th {
                d["th"] = json!(th);
            }
            json!({"t": "MSG", "d": d})
        }
    }
    .to_string()
}

#[test]
fn client_frames_round_trip_through_their_wire_format() {
    check("ClientFrame round trip", client_frame(), |frame| {
        let text = encode(&frame);
        prop_assert_eq!(ClientFrame::parse(&text), Ok(frame), "{}", text);
        Ok(())
    });
}

/// Inputs the properties above once found (or that sit on their edges), kept as plain tests.
mod regressions {
    use super::*;

    #[test]
    fn edge_inputs_are_refused_without_panicking() {
        for text in [
            "",
            "{",
            "null",
            "[]",
            "{\"t\":null}",
            "{\"t\":\"MSG\",\"d\":null}",
        ] {
            assert!(ClientFrame::parse(text).is_err(), "{text:?}");
        }
        for bytes in [&b""[..], b" ", b"\xff", b"{\"phoneNumber\":1e999}"] {
            let Err(err) = ApiJson::<Body>::from_bytes(bytes) else {
                panic!("{bytes:?} accepted");
            };
            assert_eq!(err.status().as_u16(), 400, "{bytes:?}");
        }
        assert!(decode_cursor::<Value>(&"A".repeat(513)).is_err());
        let _ = MessageKind::parse("");
    }
}
