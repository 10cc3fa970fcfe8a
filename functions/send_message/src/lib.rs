//! `POST /api/messages` and `POST /api/webhooks/messages`: sending, idempotently; and the
//! message actions (react, edit, delete for everyone, forward).

mod actions;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::{
    Content, ConversationId, MediaRef, MessageId, MessageKind, MessageView, UserId,
};
use whatspe::http::openapi::{AuthErrors, ErrorBody, PublicErrors, UserIdClaim};
use whatspe::http::{ApiBody, ApiJson, Caller, RouteTable};
use whatspe::services::MessageService;
use whatspe::services::messages::{Chat, parse_idempotency_key};
use whatspe::services::{MediaInput, NewMessage, SendOutcome};

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .post("/api/messages", send)
        .post("/api/webhooks/messages", webhook)
        .post(
            "/api/chats/{chat_id}/messages/{message_id}/reactions",
            actions::react,
        )
        .delete(
            "/api/chats/{chat_id}/messages/{message_id}/reactions",
            actions::unreact,
        )
        .patch("/api/chats/{chat_id}/messages/{message_id}", actions::edit)
        .delete(
            "/api/chats/{chat_id}/messages/{message_id}",
            actions::delete,
        )
        .post("/api/messages/{message_id}/forward", actions::forward)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(
    send,
    webhook,
    actions::react,
    actions::unreact,
    actions::edit,
    actions::delete,
    actions::forward
))]
pub struct ApiDoc;

/// The routes of this function, without state (the local gateway merges them with others).
pub fn routes() -> Router<Deps> {
    route_table().into_router()
}

/// The complete service this Lambda runs.
pub fn router(deps: impl Into<Deps>) -> Router {
    whatspe::http::service(routes(), deps.into())
}

whatspe::function_deps!(messages: MessageService);

/// The seed's `{receiverId, content, type, status}`, or a chat addressed by `chatId` (seed
/// 000 spells it `chatID`) instead of `receiverId`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"receiverId": "8dc6cd40-e514-42b6-acb2-873e5cf39b7e", "content": "hello", "type": "text", "clientMessageId": "phone-1-42"}))]
struct SendBody {
    /// The receiver's user id (exactly one of `receiverId`, `chatId`, `chatID`).
    #[schema(format = Uuid)]
    receiver_id: Option<String>,
    /// A chat you are in (its `chatId`), instead of `receiverId`.
    #[schema(format = Uuid)]
    chat_id: Option<String>,
    /// Seed 000's spelling of `chatId`.
    #[serde(rename = "chatID")]
    #[schema(format = Uuid)]
    chat_id_seed: Option<String>,
    /// Text (1 byte – 64 KiB, not only white space). For a media message it may carry the
    /// `mediaId` instead of `mediaId` itself.
    content: Option<String>,
    /// A media message's upload (`POST /api/media`): checked before the message is accepted
    /// (yours, uploaded with the declared size and type, the type's file signature).
    #[schema(format = Uuid)]
    media_id: Option<String>,
    /// A media message's caption (≤ 4 KiB).
    caption: Option<String>,
    /// A media message's preview: base64, ≤ 8 KB; it travels in the `MSG` frame.
    thumbnail: Option<String>,
    /// `text` (default), `image`, `video`, `audio` or `document`.
    #[serde(rename = "type", default = "text")]
    #[schema(value_type = Option<MessageKind>)]
    kind: String,
    /// Idempotency key: 1–64 of `A-Z a-z 0-9 - _ . :`; a retry answers the original (200).
    client_message_id: Option<String>,
    /// A reply: the id of a message of the same chat (the answer and frames quote it).
    #[schema(format = Uuid)]
    reply_to: Option<String>,
    /// The seed's clients send a status; the server owns status, so it is ignored.
    #[allow(dead_code)]
    #[schema(value_type = Option<Object>)]
    status: Option<serde_json::Value>,
}

fn text() -> String {
    "text".into()
}

fn parse_message(kind: &str, content: &str) -> Result<(MessageKind, Content), Error> {
    let kind = MessageKind::parse(kind)?;
    Ok((kind, Content::parse(kind, content)?))
}

/// A send's kind, content and (for media types) checked upload.
async fn parse_send(
    app: &Deps,
    sender: &UserId,
    body: &SendBody,
) -> Result<(MessageKind, Content, Option<MediaRef>), Error> {
    let kind = MessageKind::parse(&body.kind)?;
    if kind == MessageKind::Text {
        if body.media_id.is_some() || body.caption.is_some() || body.thumbnail.is_some() {
            return Err(Error::validation(
                "invalid_body",
                "mediaId, caption and thumbnail belong to media messages",
            ));
        }
        let content = body
            .content
            .as_deref()
            .ok_or_else(|| Error::validation("invalid_body", "a text message needs content"))?;
        return Ok((kind, Content::parse(kind, content)?, None));
    }
    let media_id = match (&body.media_id, &body.content) {
        (Some(id), None) => id,
        (Some(id), Some(c)) if c == id => id,
        (None, Some(c)) => c,
        _ => {
            return Err(Error::validation(
                "invalid_body",
                "a media message needs its mediaId (as mediaId, or as content)",
            ));
        }
    };
    let input = MediaInput::parse(media_id, body.caption.as_deref(), body.thumbnail.as_deref())?;
    let (content, media) = app.messages.media_message(sender, kind, input).await?;
    Ok((kind, content, Some(media)))
}

fn respond(outcome: SendOutcome) -> Response {
    match outcome {
        SendOutcome::Created(m) => (StatusCode::CREATED, Json(m)).into_response(),
        SendOutcome::Replayed(m) => (StatusCode::OK, Json(m)).into_response(),
    }
}

/// Who a send goes to: exactly one of `receiverId`, `chatId` or `chatID` (a 1:1 chat or a
/// group).
async fn recipient(app: &Deps, caller: &UserId, body: &SendBody) -> Result<Chat, Error> {
    match (&body.receiver_id, &body.chat_id, &body.chat_id_seed) {
        (Some(receiver), None, None) => Ok(Chat::Direct(UserId::parse(receiver)?)),
        (None, Some(chat), None) | (None, None, Some(chat)) => {
            app.messages
                .resolve_chat(caller, &ConversationId::parse(chat)?)
                .await
        }
        _ => Err(Error::validation(
            "invalid_body",
            "give exactly one of receiverId, chatId or chatID",
        )),
    }
}

/// Sends a message to a contact, or to a chat by `chatId` (a 1:1 chat or a group you are in).
#[utoipa::path(
    post, path = "/api/messages", operation_id = "sendMessage", tag = "messages",
    params(UserIdClaim),
    request_body = SendBody,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "Stored (delivery is queued)", body = MessageView),
        (status = 200, description = "A retry of `clientMessageId`: the original", body = MessageView),
        (status = 400, description = "`media_kind_mismatch`, `media_size_mismatch`, `media_type_mismatch`, `media_signature_mismatch`, `invalid_media_reference`", body = ErrorBody),
        (status = 403, description = "`not_a_contact`, `only_admins_send`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, `chat_not_found`, `media_not_found` (no such upload of yours)", body = ErrorBody),
        (status = 409, description = "`idempotency_key_reused`, `media_not_uploaded`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn send(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Response, Error> {
    let client_message_id = body
        .client_message_id
        .as_deref()
        .map(|k| parse_idempotency_key("clientMessageId", k))
        .transpose()?;
    let chat = recipient(&app, &caller.user_id, &body).await?;
    let reply_to = body.reply_to.as_deref().map(MessageId::parse).transpose()?;
    let (kind, content, media) = parse_send(&app, &caller.user_id, &body).await?;
    let m = |receiver| NewMessage {
        client_message_id,
        media,
        reply_to,
        ..NewMessage::new(receiver, kind, content)
    };
    let outcome = match chat {
        Chat::Direct(receiver) => app.messages.send(&caller.user_id, m(receiver)).await?,
        Chat::Group(group) => {
            let m = m(UserId::from_uuid(*group.as_uuid()));
            app.messages
                .send_to_group(&caller.user_id, &group, m)
                .await?
        }
    };
    Ok(respond(outcome))
}

/// The seed's `{id, senderId, receiverId, content, type}`. `senderId` is a user id, or
/// `"system"` for the service itself ([`UserId::SYSTEM`]).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"id": "ext-1", "senderId": "system", "receiverId": "8dc6cd40-e514-42b6-acb2-873e5cf39b7e", "content": "Welcome!", "type": "text"}))]
struct WebhookBody {
    /// The integration's own id of the message: the idempotency key.
    id: String,
    sender_id: String,
    #[schema(format = Uuid)]
    receiver_id: String,
    content: String,
    #[serde(rename = "type", default = "text")]
    #[schema(value_type = Option<MessageKind>)]
    kind: String,
    #[allow(dead_code)]
    #[schema(value_type = Option<Object>)]
    status: Option<serde_json::Value>,
}

/// The seed's `{"success": true}` with the stored message beside it.
#[derive(Serialize, ToSchema)]
struct WebhookAnswer {
    success: bool,
    message: MessageView,
}

/// The webhook's `senderId`: `"system"` or a user id.
fn webhook_sender(raw: &str) -> Result<UserId, Error> {
    if raw == "system" {
        Ok(UserId::SYSTEM)
    } else {
        UserId::parse(raw)
    }
}

/// Signed by the integration (`X-Whatspe-Signature: t=<epoch s>,v1=<hex HMAC-SHA256(secret,
/// t.body)>`); the signature is checked before the body is even parsed.
/// Answers the seed's `{"success": true}` with the stored message beside it (201 new, 200 a
/// retry of the same `id`).
#[utoipa::path(
    post, path = "/api/webhooks/messages", operation_id = "deliverWebhookMessage", tag = "messages",
    request_body = WebhookBody,
    params(
        ("X-Whatspe-Timestamp" = Option<String>, Header, description = "Only behind the migration switch WHATSPE_WEBHOOK_LEGACY_SIGNATURES, with a body-only `sha256=` signature: epoch seconds; the current signature carries its timestamp (`t=`)"),
    ),
    security(("webhookSignature" = [])),
    responses(
        (status = 201, description = "Stored and delivered", body = WebhookAnswer),
        (status = 200, description = "A repeated `id`: the original", body = WebhookAnswer),
        (status = 401, description = "`invalid_signature`, `invalid_timestamp`, `stale_timestamp`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        PublicErrors,
    ),
)]
async fn webhook(
    State(app): State<Deps>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    app.messages.verify_webhook(
        &body,
        header("x-whatspe-signature"),
        header("x-whatspe-timestamp"),
    )?;
    let ApiJson(b) = ApiJson::<WebhookBody>::from_bytes(&body)?;
    let external_id = parse_idempotency_key("id", &b.id)?;
    let sender = webhook_sender(&b.sender_id)?;
    let receiver = UserId::parse(&b.receiver_id)?;
    let (kind, content) = parse_message(&b.kind, &b.content)?;
    if kind != MessageKind::Text {
        return Err(Error::validation(
            "invalid_type",
            "the webhook sends text messages only (media needs an upload of the sender's)",
        ));
    }
    let m = NewMessage {
        receiver,
        kind,
        content,
        client_message_id: None,
        media: None,
        reply_to: None,
        forwarded: false,
    };
    let (status, message) = match app
        .messages
        .deliver_external(&external_id, &sender, m)
        .await?
    {
        SendOutcome::Created(m) => (StatusCode::CREATED, m),
        SendOutcome::Replayed(m) => (StatusCode::OK, m),
    };
    let answer = WebhookAnswer {
        success: true,
        message,
    };
    Ok((status, Json(answer)).into_response())
}
