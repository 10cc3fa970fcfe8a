//! Message actions (DESIGN §10): react, edit, delete for everyone, forward. Replies are a
//! send's `replyTo`.

use super::Deps;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use whatspe::Error;
use whatspe::domain::{Content, ConversationId, Emoji, MessageId, MessageKind, MessageView};
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{ApiJson, ApiPath, Caller};
use whatspe::services::SendOutcome;

/// A message of a chat, as a path names it.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct MessagePath {
    /// The chat's id (`chatId`).
    #[param(format = Uuid)]
    chat_id: String,
    /// The message's id.
    #[param(format = Uuid)]
    message_id: String,
}

/// The chat and message of a path.
fn ids(chat_id: &str, message_id: &str) -> Result<(ConversationId, MessageId), Error> {
    Ok((
        ConversationId::parse(chat_id)?,
        MessageId::parse(message_id)?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"emoji": "👍"}))]
pub(crate) struct ReactBody {
    /// Exactly one emoji (one grapheme: a flag, a skin tone or a family counts as one).
    emoji: String,
}

/// Reacts to a message of a chat you are in (one reaction per member per message: a new
/// emoji replaces yours; the same again changes nothing). Every member's devices get
/// `RCT {c, id, u, e, ts}`.
#[utoipa::path(
    post, path = "/api/chats/{chat_id}/messages/{message_id}/reactions", operation_id = "reactToMessage", tag = "messages",
    params(MessagePath, UserIdClaim),
    request_body = ReactBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The message with its reactions", body = MessageView),
        (status = 400, description = "`invalid_emoji`, `invalid_reaction` (a group notice)", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`message_deleted`, `concurrent_update`", body = ErrorBody),
        AuthErrors,
    ),
)]
pub(crate) async fn react(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<ReactBody>,
) -> Result<Json<MessageView>, Error> {
    let (chat, id) = ids(&chat_id, &message_id)?;
    let emoji = Emoji::parse(&b.emoji)?;
    Ok(Json(
        app.messages
            .react(&caller.user_id, &chat, &id, Some(emoji))
            .await?,
    ))
}

/// Removes your reaction (none: nothing changes). Every member's devices get
/// `RCT {…, e: null}`.
#[utoipa::path(
    delete, path = "/api/chats/{chat_id}/messages/{message_id}/reactions", operation_id = "removeReaction", tag = "messages",
    params(MessagePath, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The message with its reactions", body = MessageView),
        (status = 400, description = "`invalid_reaction` (a group notice)", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`message_deleted`, `concurrent_update`", body = ErrorBody),
        AuthErrors,
    ),
)]
pub(crate) async fn unreact(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
) -> Result<Json<MessageView>, Error> {
    let (chat, id) = ids(&chat_id, &message_id)?;
    Ok(Json(
        app.messages
            .react(&caller.user_id, &chat, &id, None)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"content": "See you at 8, not 7"}))]
pub(crate) struct EditBody {
    /// The new text (1 byte – 64 KiB, not only white space).
    content: String,
}

/// Edits your own text message, within 15 minutes of sending it: `edited: true`, `editedAt`;
/// every member's devices get `EDIT {c, id, s, x, ts}`. The same text again changes nothing.
#[utoipa::path(
    patch, path = "/api/chats/{chat_id}/messages/{message_id}", operation_id = "editMessage", tag = "messages",
    params(MessagePath, UserIdClaim),
    request_body = EditBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The edited message", body = MessageView),
        (status = 400, description = "`not_text`, `empty_content`", body = ErrorBody),
        (status = 403, description = "`not_the_sender`, `too_late`", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`message_deleted`, `concurrent_update`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        AuthErrors,
    ),
)]
pub(crate) async fn edit(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<MessageView>, Error> {
    let (chat, id) = ids(&chat_id, &message_id)?;
    let content = Content::parse(MessageKind::Text, &b.content)?;
    Ok(Json(
        app.messages
            .edit(&caller.user_id, &chat, &id, content)
            .await?,
    ))
}

/// Deletes your own message for everyone, within 48 hours of sending it: its content, media
/// reference, quote and reactions are wiped and a tombstone stays (`deleted: true`); every
/// member's devices get `DEL {c, id, s, ts}`. Deleting it again is 409 `message_deleted`.
#[utoipa::path(
    delete, path = "/api/chats/{chat_id}/messages/{message_id}", operation_id = "deleteMessage", tag = "messages",
    params(MessagePath, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The tombstone", body = MessageView),
        (status = 403, description = "`not_the_sender`, `too_late`", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`message_deleted`", body = ErrorBody),
        AuthErrors,
    ),
)]
pub(crate) async fn delete(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
) -> Result<Json<MessageView>, Error> {
    let (chat, id) = ids(&chat_id, &message_id)?;
    Ok(Json(
        app.messages
            .delete_for_everyone(&caller.user_id, &chat, &id)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"chatId": "0b5c6a36-8a4c-5a3e-9f2e-2d2b9d4f6a11", "chatIds": ["019a8f6e-0000-7000-8000-000000000001"]}))]
pub(crate) struct ForwardBody {
    /// The chat the message is in (messages are addressed by chat and id).
    #[schema(format = Uuid)]
    chat_id: String,
    /// 1–5 different chats you are in.
    #[schema(value_type = Vec<String>)]
    chat_ids: Vec<String>,
}

/// The forwards, one per chat, in the order asked.
#[derive(Serialize, ToSchema)]
pub(crate) struct Forwarded {
    messages: Vec<MessageView>,
}

/// Forwards a message you can see to up to 5 chats you are in: a new message in each,
/// `forwarded: true`, media by reference (no new upload). Forwarding the same message to the
/// same chat again answers the earlier forward (200).
#[utoipa::path(
    post, path = "/api/messages/{message_id}/forward", operation_id = "forwardMessage", tag = "messages",
    params(
        ("message_id" = String, Path, format = Uuid, description = "The message's id"),
        UserIdClaim,
    ),
    request_body = ForwardBody,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "Forwarded (at least one new message)", body = Forwarded),
        (status = 200, description = "Forwarded before: the earlier forwards", body = Forwarded),
        (status = 400, description = "`invalid_chat_ids`, `invalid_forward` (a group notice)", body = ErrorBody),
        (status = 403, description = "`not_a_contact`, `only_admins_send`", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`message_deleted`", body = ErrorBody),
        AuthErrors,
    ),
)]
pub(crate) async fn forward(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(message_id): ApiPath<String>,
    ApiJson(b): ApiJson<ForwardBody>,
) -> Result<Response, Error> {
    let (chat, id) = ids(&b.chat_id, &message_id)?;
    let targets = b
        .chat_ids
        .iter()
        .map(|c| ConversationId::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let outcomes = app
        .messages
        .forward(&caller.user_id, &chat, &id, &targets)
        .await?;
    let created = outcomes
        .iter()
        .any(|o| matches!(o, SendOutcome::Created(_)));
    let messages = outcomes
        .into_iter()
        .map(|o| match o {
            SendOutcome::Created(m) | SendOutcome::Replayed(m) => m,
        })
        .collect();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Forwarded { messages })).into_response())
}
