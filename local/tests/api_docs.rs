//! The API documents against the code: docs/openapi.json is exactly what the code generates,
//! its operations are exactly the functions' routes and template.yaml's API events, and
//! docs/asyncapi.yaml documents every WebSocket frame the code sends or parses.
//!
//! After an API change, regenerate the OpenAPI document with
//! `cargo run -p whatspe-local -- --print-openapi > docs/openapi.json`
//! (or `WHATSPE_UPDATE_OPENAPI=1 cargo test -p whatspe-local --test api_docs`).

mod common;
mod routes;

use chrono::{DateTime, Utc};
use common::{Body, spawn_app};
use reqwest::Method;
use routes::{all_served, shape};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use whatspe::domain::{
    ConversationId, GroupEvent, GroupEventKind, MessageId, MessageKind, MessageStatus, RequestId,
    UserId,
};
use whatspe::frames::{
    AckEvent, ClientFrame, ConnEvent, ContactRequestEvent, Empty, ErrorEvent, GroupFrame,
    MessageEvent, PresenceEvent, ReceiptEvent, ServerFrame, TypingEvent,
};

const OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
const ASYNCAPI: &str = include_str!("../../docs/asyncapi.yaml");
const TEMPLATE: &str = include_str!("../../template.yaml");
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = whatspe_local::openapi::json();
    if std::env::var_os("WHATSPE_UPDATE_OPENAPI").is_some() {
        std::fs::write(OPENAPI_PATH, &generated).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(OPENAPI_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the code's document; regenerate it with\n  \
         cargo run -p whatspe-local -- --print-openapi > docs/openapi.json\n\
         (or WHATSPE_UPDATE_OPENAPI=1 cargo test -p whatspe-local --test api_docs) and review \
         the diff"
    );
}

#[test]
fn the_browsable_page_lists_every_operation() {
    let doc: Value = serde_json::from_str(&whatspe_local::openapi::json()).unwrap();
    let page = whatspe_local::openapi::html();
    assert!(page.starts_with("<!doctype html>"), "an HTML page");
    assert!(!page.contains("<script"), "no script, no CDN");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            let line = format!(
                "<span class=\"m\">{}</span><code>{}</code>",
                method.to_uppercase(),
                path.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            );
            assert!(page.contains(&line), "the page lists {method} {path}");
        }
    }
}

/// `(METHOD, shape)` of every operation in the OpenAPI document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                assert!(
                    out.insert((method.to_uppercase(), shape(path))),
                    "{method} {path} documented twice"
                );
            }
        }
    }
    out
}

/// `(METHOD, shape)` of every REST API event in template.yaml.
fn template_routes() -> BTreeSet<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).expect("template.yaml parses");
    let mut out = BTreeSet::new();
    for resource in doc["Resources"].as_mapping().expect("Resources").values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for e in events
            .values()
            .filter(|e| e["Type"].as_str() == Some("Api"))
        {
            let method = e["Properties"]["Method"].as_str().expect("Method");
            let path = e["Properties"]["Path"].as_str().expect("Path");
            out.insert((method.to_uppercase(), shape(path)));
        }
    }
    out
}

#[test]
fn the_openapi_document_has_exactly_the_routes_the_functions_serve_and_the_template_declares() {
    let doc = whatspe_local::openapi::document();
    let doc = serde_json::to_value(&doc).expect("serialises");
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);
    assert_eq!(
        documented,
        all_served(),
        "OpenAPI operations vs router routes"
    );
    assert_eq!(
        documented,
        template_routes(),
        "OpenAPI operations vs template.yaml"
    );
}

#[test]
fn every_operation_documents_its_errors_security_and_a_success_answer() {
    let doc = serde_json::to_value(whatspe_local::openapi::document()).expect("serialises");
    let schemes: BTreeSet<&str> = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes")
        .keys()
        .map(String::as_str)
        .collect();
    let public = BTreeSet::from([
        ("POST", "/api/auth/request-otp"),
        ("POST", "/api/auth/verify-otp"),
        ("POST", "/api/auth/refresh"),
    ]);
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let what = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "{what}: operationId {id} reused"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{what}: a success answer"
            );
            for status in ["400", "5XX"] {
                let schema = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorBody",
                    "{what}: {status} is the error body"
                );
            }
            let security = op["security"].as_array();
            if public.contains(&(what.split(' ').next().unwrap(), path.as_str())) {
                assert!(security.is_none(), "{what}: needs no token");
                continue;
            }
            let names: Vec<&str> = security
                .unwrap_or_else(|| panic!("{what}: a security requirement"))
                .iter()
                .flat_map(|r| r.as_object().expect("requirement").keys())
                .map(String::as_str)
                .collect();
            assert!(!names.is_empty(), "{what}: a security requirement");
            for name in names {
                assert!(schemes.contains(name), "{what}: unknown scheme {name}");
            }
        }
    }
}

#[test]
fn verify_otp_documents_the_seed_field_names() {
    let doc = serde_json::to_value(whatspe_local::openapi::document()).expect("serialises");
    let body = &doc["components"]["schemas"]["VerifyOtpBody"];
    for field in ["phoneNumber", "verificationCode", "otp", "code"] {
        assert!(
            body["properties"].get(field).is_some(),
            "VerifyOtpBody.{field}"
        );
    }
    assert_eq!(
        body["additionalProperties"], false,
        "unknown fields are 400"
    );
}

/// Found by hand after the schemathesis runs (which only generate valid UTF-8): axum's `Path`
/// answered a percent-encoded byte that is not UTF-8 with a plain-text 400, outside the
/// documented error shape. Every route with a path parameter now answers 400 `invalid_path`.
#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_a_json_400_on_every_route() {
    let app = spawn_app().await;
    let me = app.sign_up("+919890000001", "asha").await;
    let routes: Vec<_> = all_served()
        .into_iter()
        .filter(|(_, path)| path.contains("{}"))
        .collect();
    assert!(routes.len() >= 6, "{routes:?}");
    for (method, path) in routes {
        for (raw, code) in [("%FF", "invalid_path"), ("%C0%80", "invalid_path")] {
            let url = path.replace("{}", raw);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let reply = app
                .request(method.clone(), &url, Body::Empty, Some(&me.token))
                .await;
            let case = format!("{method} {url}");
            assert_eq!(reply.status, 400, "{case}: {:?}", reply.body);
            assert_eq!(
                reply.headers["content-type"], "application/json",
                "{case}: the API's error shape"
            );
            assert_eq!(reply.body["error"]["code"], code, "{case}");
        }
    }
}

/// Found by hand like the one above: the signed webhook read its body with axum's `Bytes`,
/// whose 413 for a body over the limit is plain text. Every operation that takes a body now
/// answers an oversized one with the documented JSON 413.
#[tokio::test]
async fn an_oversized_body_is_a_json_413_on_every_route_that_takes_one() {
    let app = spawn_app().await;
    let me = app.sign_up("+919890000002", "ravi").await;
    let doc = serde_json::to_value(whatspe_local::openapi::document()).expect("serialises");
    let big = format!("{{\"content\":\"{}\"}}", "a".repeat(300 * 1024));
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op.get("requestBody").is_none() {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = path.replace(['{', '}'], "");
            let reply = app
                .request(
                    method.clone(),
                    &url,
                    Body::Raw(big.clone()),
                    Some(&me.token),
                )
                .await;
            let case = format!("{method} {path}");
            assert_eq!(reply.status, 413, "{case}: {:?}", reply.body);
            assert_eq!(
                reply.headers["content-type"], "application/json",
                "{case}: the API's error shape"
            );
            assert_eq!(reply.body["error"]["code"], "payload_too_large", "{case}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} operations with a body");
}

fn asyncapi() -> Value {
    let doc: serde_yaml::Value = serde_yaml::from_str(ASYNCAPI).expect("asyncapi.yaml parses");
    serde_json::to_value(doc).expect("as JSON")
}

/// The documented messages of one direction (`Client…` or `Server…`), by their `t`.
fn documented_frames(doc: &Value, prefix: &str) -> BTreeMap<String, Value> {
    doc["components"]["messages"]
        .as_object()
        .expect("components.messages")
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, m)| {
            let t = m["payload"]["properties"]["t"]["const"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: payload.properties.t.const"));
            assert_eq!(m["name"], t, "{name}: name is the frame type");
            (t.to_owned(), m.clone())
        })
        .collect()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.strip_prefix('#').expect("local ref"))
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => v,
    }
}

fn server_type(f: &ServerFrame) -> &'static str {
    // Exhaustive on purpose: a new frame fails to compile here until it is documented.
    match f {
        ServerFrame::Msg(_) => "MSG",
        ServerFrame::Read(_) => "READ",
        ServerFrame::Dlv(_) => "DLV",
        ServerFrame::Conn(_) => "CONN",
        ServerFrame::Pong(_) => "PONG",
        ServerFrame::Typing(_) => "TYPING",
        ServerFrame::Pres(_) => "PRES",
        ServerFrame::Ack(_) => "ACK",
        ServerFrame::Err(_) => "ERR",
        ServerFrame::Req(_) => "REQ",
        ServerFrame::ReqAcc(_) => "REQ_ACC",
        ServerFrame::Grp(_) => "GRP",
        ServerFrame::Rct(_) => "RCT",
        ServerFrame::Edit(_) => "EDIT",
        ServerFrame::Del(_) => "DEL",
    }
}

fn client_type(f: &ClientFrame) -> &'static str {
    match f {
        ClientFrame::Ping => "PING",
        ClientFrame::Typing { .. } => "TYPING",
        ClientFrame::Read { .. } | ClientFrame::GroupRead { .. } => "READ",
        ClientFrame::Dlv { .. } | ClientFrame::GroupDlv { .. } => "DLV",
        ClientFrame::Msg { .. } | ClientFrame::GroupMsg { .. } => "MSG",
    }
}

/// One of each server frame, every optional field set.
fn server_samples() -> Vec<ServerFrame> {
    let u = UserId::parse("daa96bbb-6858-47c3-8112-09827366e0bd").unwrap();
    let p = UserId::parse("8dc6cd40-e514-42b6-acb2-873e5cf39b7e").unwrap();
    let id = MessageId::parse("01a1fcbc-7001-7744-964e-ff153e19b6e8").unwrap();
    let rid = RequestId::parse("01a1fcbb-1c2d-7a3b-9e10-5f0c4d3e2a1b").unwrap();
    let ts: DateTime<Utc> = "2025-11-21T06:32:50.305Z".parse().unwrap();
    let g = ConversationId::parse("01938a4e-7c1a-7000-8000-0a1b2c3d4e5f").unwrap();
    let receipt = ReceiptEvent {
        g: Some(g),
        p,
        up_to: id,
    };
    let request = ContactRequestEvent {
        id: rid,
        s: u,
        r: p,
        ts,
    };
    vec![
        ServerFrame::Msg(MessageEvent {
            id,
            g: Some(g),
            s: u,
            r: p,
            c: "hello".into(),
            t: MessageKind::Text,
            st: MessageStatus::Sent,
            ts,
            more: true,
            mid: Some(whatspe::domain::MediaId::new_random()),
            cap: Some("look".into()),
            th: Some("aGVsbG8=".into()),
            q: Some(whatspe::domain::Quote {
                id,
                sender_id: p,
                kind: MessageKind::Text,
                text: Some("Dinner at 7?".into()),
            }),
            fw: true,
        }),
        ServerFrame::Read(receipt.clone()),
        ServerFrame::Dlv(receipt),
        ServerFrame::Conn(ConnEvent {
            u,
            cid: "L0SM9cOFvHcCIhw=".into(),
            hb: 300,
        }),
        ServerFrame::Pong(Empty {}),
        ServerFrame::Typing(TypingEvent { s: u }),
        ServerFrame::Pres(PresenceEvent {
            u,
            on: false,
            ls: Some(ts),
        }),
        ServerFrame::Ack(AckEvent {
            cm: Some("phone-1-42".into()),
            id,
            ts,
        }),
        ServerFrame::Err(ErrorEvent {
            code: "not_a_contact".into(),
            msg: "you can only type to your contacts".into(),
            cm: Some("phone-1-42".into()),
        }),
        ServerFrame::Req(request.clone()),
        ServerFrame::ReqAcc(request),
        ServerFrame::Grp(GroupFrame {
            g,
            id,
            event: GroupEvent {
                ev: GroupEventKind::Added,
                by: u,
                users: vec![p],
            },
            ts,
        }),
        ServerFrame::Rct(whatspe::frames::ReactionEvent {
            g: Some(g),
            c: g,
            id,
            u,
            e: Some("👍".into()),
            ts,
        }),
        ServerFrame::Edit(whatspe::frames::EditEvent {
            g: Some(g),
            c: g,
            id,
            s: u,
            x: "See you at 8".into(),
            ts,
        }),
        ServerFrame::Del(whatspe::frames::DeleteEvent {
            g: Some(g),
            c: g,
            id,
            s: u,
            ts,
        }),
    ]
}

#[test]
fn asyncapi_documents_every_server_frame_with_its_keys() {
    let doc = asyncapi();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let documented = documented_frames(&doc, "Server");
    let samples = server_samples();
    let sampled: BTreeSet<&str> = samples.iter().map(server_type).collect();
    assert_eq!(sampled.len(), samples.len(), "one sample per frame type");
    assert_eq!(
        documented
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        sampled,
        "documented server frames vs ServerFrame"
    );
    for frame in &samples {
        let json = serde_json::to_value(frame).unwrap();
        let t = json["t"].as_str().expect("t");
        assert_eq!(t, server_type(frame));
        let d_doc = resolve(&doc, &documented[t]["payload"]["properties"]["d"]);
        let props = d_doc["properties"].as_object().cloned().unwrap_or_default();
        let keys = json["d"].as_object().expect("d is an object");
        for key in keys.keys() {
            assert!(props.contains_key(key), "{t}: d.{key} is not documented");
        }
        for req in d_doc["required"].as_array().into_iter().flatten() {
            let req = req.as_str().unwrap();
            assert!(
                keys.contains_key(req),
                "{t}: documented d.{req} is not sent"
            );
        }
    }
}

#[test]
fn asyncapi_server_examples_are_frames_the_code_sends() {
    let doc = asyncapi();
    for (t, m) in documented_frames(&doc, "Server") {
        for ex in m["examples"].as_array().expect("examples") {
            let payload = &ex["payload"];
            let frame: ServerFrame = serde_json::from_value(payload.clone())
                .unwrap_or_else(|e| panic!("{t} example {payload}: {e}"));
            assert_eq!(server_type(&frame), t);
            assert_eq!(
                &serde_json::to_value(&frame).unwrap(),
                payload,
                "{t}: round trip"
            );
        }
    }
}

#[test]
fn asyncapi_documents_every_client_frame_and_its_examples_parse() {
    let doc = asyncapi();
    let documented = documented_frames(&doc, "Client");
    let mut parsed = BTreeSet::new();
    for (t, m) in &documented {
        for ex in m["examples"].as_array().expect("examples") {
            let text = ex["payload"].to_string();
            let frame = ClientFrame::parse(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(client_type(&frame), t, "{text}");
            parsed.insert(client_type(&frame));
        }
        // Every key the parser accepts in `d` is documented, and no other.
        let d_doc = resolve(&doc, &m["payload"]["properties"]["d"]);
        for key in d_doc["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            let example = m["examples"][0]["payload"].clone();
            let mut probe = example.clone();
            if let Some(d) = probe["d"].as_object_mut() {
                d.entry(key.clone()).or_insert(example["d"][key].clone());
            }
            // A documented key is never refused as unknown.
            if let Err(e) = ClientFrame::parse(&probe.to_string()) {
                assert!(!e.msg.contains("unknown field"), "{t}: d.{key}: {}", e.msg);
            }
        }
    }
    let all: BTreeSet<&str> = [
        ClientFrame::Ping,
        ClientFrame::Typing { r: UserId::SYSTEM },
        ClientFrame::Read {
            p: UserId::SYSTEM,
            up_to: MessageId::new_v7(),
        },
        ClientFrame::Dlv {
            p: UserId::SYSTEM,
            up_to: MessageId::new_v7(),
        },
        ClientFrame::Msg {
            r: UserId::SYSTEM,
            c: String::new(),
            t: String::new(),
            cm: None,
            s: None,
            cap: None,
            th: None,
            rp: None,
        },
    ]
    .iter()
    .map(client_type)
    .collect();
    assert_eq!(parsed, all, "every client frame type has a parsing example");
    assert_eq!(
        documented
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        all
    );
}
