//! `POST /api/messages` and `POST /api/webhooks/messages`: sending, idempotently.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use whatspe::Error;
use whatspe::app::App;
use whatspe::domain::{Content, MessageKind, UserId};
use whatspe::http::{ApiJson, Caller, RouteTable};
use whatspe::services::messages::parse_idempotency_key;
use whatspe::services::{NewMessage, SendOutcome};

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .post("/api/messages", send)
        .post("/api/webhooks/messages", webhook)
}

/// The routes of this function, without state (the local gateway merges them with others).
pub fn routes() -> Router<App> {
    route_table().into_router()
}

/// The complete service this Lambda runs.
pub fn router(app: App) -> Router {
    whatspe::http::service(routes(), app)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendBody {
    receiver_id: String,
    content: String,
    #[serde(rename = "type", default = "text")]
    kind: String,
    client_message_id: Option<String>,
    /// The seed's clients send a status; the server owns status, so it is ignored.
    #[allow(dead_code)]
    status: Option<serde_json::Value>,
}

fn text() -> String {
    "text".into()
}

fn parse_message(
    receiver: &str,
    kind: &str,
    content: &str,
) -> Result<(UserId, MessageKind, Content), Error> {
    let receiver = UserId::parse(receiver)?;
    let kind = MessageKind::parse(kind)?;
    Ok((receiver, kind, Content::parse(kind, content)?))
}

fn respond(outcome: SendOutcome) -> Response {
    match outcome {
        SendOutcome::Created(m) => (StatusCode::CREATED, Json(m)).into_response(),
        SendOutcome::Replayed(m) => (StatusCode::OK, Json(m)).into_response(),
    }
}

async fn send(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Response, Error> {
    let (receiver, kind, content) = parse_message(&body.receiver_id, &body.kind, &body.content)?;
    let client_message_id = body
        .client_message_id
        .as_deref()
        .map(|k| parse_idempotency_key("clientMessageId", k))
        .transpose()?;
    let m = NewMessage {
        receiver,
        kind,
        content,
        client_message_id,
    };
    Ok(respond(app.messages.send(&caller.user_id, m).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WebhookBody {
    /// The integration's own id of the message: the idempotency key.
    id: String,
    sender_id: String,
    receiver_id: String,
    content: String,
    #[serde(rename = "type", default = "text")]
    kind: String,
    #[allow(dead_code)]
    status: Option<serde_json::Value>,
}

/// Signed by the integration; the signature is checked before the body is even parsed.
async fn webhook(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    app.messages.verify_webhook(
        &body,
        header("x-whatspe-signature"),
        header("x-whatspe-timestamp"),
    )?;
    let ApiJson(b) = ApiJson::<WebhookBody>::from_bytes(&body)?;
    let external_id = parse_idempotency_key("id", &b.id)?;
    let sender = UserId::parse(&b.sender_id)?;
    let (receiver, kind, content) = parse_message(&b.receiver_id, &b.kind, &b.content)?;
    let m = NewMessage {
        receiver,
        kind,
        content,
        client_message_id: None,
    };
    Ok(respond(
        app.messages
            .deliver_external(&external_id, &sender, m)
            .await?,
    ))
}
