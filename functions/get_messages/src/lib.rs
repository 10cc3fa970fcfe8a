//! History, the chat list and receipts: `GET /api/messages/:peerId`, `GET /api/chats`,
//! `POST /api/messages/read`, `POST /api/messages/delivered`, and by `chatId` (1:1 or group)
//! `GET /api/chats/:chatId/messages`, `POST /api/chats/:chatId/read|delivered` and
//! `GET /api/chats/:chatId/messages/:messageId/receipts`.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::{
    ChatView, ConversationId, Cursors, MessageId, MessageView, ReceiptView, UserId,
};
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{
    ApiJson, ApiPath, ApiQuery, Caller, NEXT_CURSOR_HEADER, RouteTable, page_limit, paged,
};
use whatspe::ports::{CursorKind, HistoryRange, PageRequest};
use whatspe::services::messages::Chat;
use whatspe::services::messages::{HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX};
use whatspe::services::{HistoryPage, MessageService};

/// Default and largest chat-list page.
const CHATS_PAGE_DEFAULT: usize = 50;
const CHATS_PAGE_MAX: usize = 100;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .get("/api/messages/{peer_id}", history)
        .get("/api/chats", chats)
        .post("/api/messages/read", read)
        .post("/api/messages/delivered", delivered)
        .get("/api/chats/{chat_id}/messages", chat_history)
        .post("/api/chats/{chat_id}/read", chat_read)
        .post("/api/chats/{chat_id}/delivered", chat_delivered)
        .get(
            "/api/chats/{chat_id}/messages/{message_id}/receipts",
            receipts,
        )
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(
    history,
    chats,
    read,
    delivered,
    chat_history,
    chat_read,
    chat_delivered,
    receipts
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// A message id: the page of older messages, newest first.
    before: Option<String>,
    /// A message id: the page of newer messages, oldest first (catch-up). Not with `before`.
    after: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// The conversation with a peer (newest first, or oldest first with `after`); marks it read.
#[utoipa::path(
    get, path = "/api/messages/{peer_id}", operation_id = "getHistory", tag = "messages",
    params(("peer_id" = String, Path, format = Uuid, description = "The peer's user id (UUID)"), HistoryParams, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Messages", body = Vec<MessageView>,
         headers(("X-Next-Cursor" = String, description = "The message id to pass as the next `before` (or `after`)"))),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn history(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(peer_id): ApiPath<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Response, Error> {
    let peer = UserId::parse(&peer_id)?;
    let (range, limit) = history_range(&p)?;
    let page = app
        .messages
        .history(&caller.user_id, &peer, range, limit)
        .await?;
    Ok(history_page(page))
}

/// The slice of history a query asks for, and the page size.
fn history_range(p: &HistoryParams) -> Result<(HistoryRange, usize), Error> {
    let cursor = |s: &str| {
        MessageId::parse(s)
            .map_err(|_| Error::validation("invalid_cursor", "before/after must be a message id"))
    };
    let range = match (p.before.as_deref(), p.after.as_deref()) {
        (None, None) => HistoryRange::Latest,
        (Some(b), None) => HistoryRange::Before(cursor(b)?),
        (None, Some(a)) => HistoryRange::After(cursor(a)?),
        (Some(_), Some(_)) => {
            return Err(Error::validation(
                "invalid_query",
                "give before or after, not both",
            ));
        }
    };
    let limit = page_limit(p.limit.as_deref(), HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX)?;
    Ok((range, limit))
}

/// A history page: the messages, and the next cursor in `X-Next-Cursor`.
fn history_page(page: HistoryPage) -> Response {
    let mut res = Json(page.messages).into_response();
    if let Some(next) = page
        .next
        .and_then(|n| HeaderValue::from_str(&n.to_string()).ok())
    {
        res.headers_mut().insert(NEXT_CURSOR_HEADER, next);
    }
    res
}

/// A chat's history by `chatId` (a 1:1 chat or a group; in a group, from when you joined),
/// newest first (oldest first with `after`); the latest page marks the chat read.
#[utoipa::path(
    get, path = "/api/chats/{chat_id}/messages", operation_id = "getChatHistory", tag = "messages",
    params(("chat_id" = String, Path, format = Uuid, description = "The chat's id (`chatId`)"), HistoryParams, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Messages", body = Vec<MessageView>,
         headers(("X-Next-Cursor" = String, description = "The message id to pass as the next `before` (or `after`)"))),
        (status = 404, description = "`chat_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn chat_history(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(chat_id): ApiPath<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Response, Error> {
    let chat = ConversationId::parse(&chat_id)?;
    let (range, limit) = history_range(&p)?;
    let page = match app.messages.resolve_chat(&caller.user_id, &chat).await? {
        Chat::Direct(peer) => {
            app.messages
                .history(&caller.user_id, &peer, range, limit)
                .await?
        }
        Chat::Group(g) => {
            app.messages
                .group_history(&caller.user_id, &g, range, limit)
                .await?
        }
    };
    Ok(history_page(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"upTo": "01a1fcbc-7001-7744-964e-ff153e19b6e8"}))]
struct UpToBody {
    /// A message id: everything up to it is covered.
    #[schema(format = Uuid)]
    up_to: String,
}

/// Your receipt cursors in a chat (message ids).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChatReceipt {
    chat_id: ConversationId,
    delivered_up_to: Option<MessageId>,
    read_up_to: Option<MessageId>,
}

async fn mark_chat(
    app: &Deps,
    caller: &UserId,
    chat_id: &str,
    up_to: &str,
    kind: CursorKind,
) -> Result<Json<ChatReceipt>, Error> {
    let chat = ConversationId::parse(chat_id)?;
    let up_to = MessageId::parse(up_to)?;
    let cursors = match (app.messages.resolve_chat(caller, &chat).await?, kind) {
        (Chat::Direct(peer), CursorKind::Read) => {
            app.messages.mark_read(caller, &peer, &up_to).await?
        }
        (Chat::Direct(peer), CursorKind::Delivered) => {
            app.messages.mark_delivered(caller, &peer, &up_to).await?
        }
        (Chat::Group(g), kind) => app.messages.group_mark(caller, &g, kind, &up_to).await?,
    };
    Ok(Json(ChatReceipt {
        chat_id: chat,
        delivered_up_to: cursors.delivered_up_to,
        read_up_to: cursors.read_up_to,
    }))
}

/// Read receipt by `chatId`: everything up to `upTo` is read (one write; never backwards). In
/// a group the senders of what it covers get `READ {g, p, upTo}`.
#[utoipa::path(
    post, path = "/api/chats/{chat_id}/read", operation_id = "markChatRead", tag = "messages",
    params(("chat_id" = String, Path, format = Uuid, description = "The chat's id (`chatId`)"), UserIdClaim),
    request_body = UpToBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Your cursors in the chat", body = ChatReceipt),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn chat_read(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(chat_id): ApiPath<String>,
    ApiJson(b): ApiJson<UpToBody>,
) -> Result<impl IntoResponse, Error> {
    mark_chat(&app, &caller.user_id, &chat_id, &b.up_to, CursorKind::Read).await
}

/// Delivery receipt by `chatId`: everything up to `upTo` reached this device.
#[utoipa::path(
    post, path = "/api/chats/{chat_id}/delivered", operation_id = "markChatDelivered", tag = "messages",
    params(("chat_id" = String, Path, format = Uuid, description = "The chat's id (`chatId`)"), UserIdClaim),
    request_body = UpToBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Your cursors in the chat", body = ChatReceipt),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn chat_delivered(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(chat_id): ApiPath<String>,
    ApiJson(b): ApiJson<UpToBody>,
) -> Result<impl IntoResponse, Error> {
    mark_chat(
        &app,
        &caller.user_id,
        &chat_id,
        &b.up_to,
        CursorKind::Delivered,
    )
    .await
}

/// Who has your group message: each member who was in the group when you sent it, with when
/// it reached them and when they read it (sender only).
#[utoipa::path(
    get, path = "/api/chats/{chat_id}/messages/{message_id}/receipts", operation_id = "getReceipts", tag = "messages",
    params(
        ("chat_id" = String, Path, format = Uuid, description = "The group's id (`chatId`)"),
        ("message_id" = String, Path, format = Uuid, description = "Your message's id"),
        UserIdClaim,
    ),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "One receipt per member", body = Vec<ReceiptView>),
        (status = 400, description = "`not_a_group`: a 1:1 message's status is on the message", body = ErrorBody),
        (status = 403, description = "`not_the_sender`", body = ErrorBody),
        (status = 404, description = "`chat_not_found`, `message_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn receipts(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<ReceiptView>>, Error> {
    let chat = ConversationId::parse(&chat_id)?;
    let id = MessageId::parse(&message_id)?;
    match app.messages.resolve_chat(&caller.user_id, &chat).await? {
        Chat::Group(g) => Ok(Json(app.messages.receipts(&caller.user_id, &g, &id).await?)),
        Chat::Direct(_) => Err(Error::validation(
            "not_a_group",
            "receipts are per member of a group; a 1:1 message's status is on the message",
        )),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// The `X-Next-Cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// Your chats — 1:1 (`kind: direct`, with `peer`) and groups (`kind: group`, with `group`) —
/// most recent activity first, with the last message and the unread count.
#[utoipa::path(
    get, path = "/api/chats", operation_id = "listChats", tag = "messages",
    params(ListParams, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Chats", body = Vec<ChatView>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn chats(
    State(app): State<Deps>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = PageRequest {
        limit: page_limit(p.limit.as_deref(), CHATS_PAGE_DEFAULT, CHATS_PAGE_MAX)?,
        cursor: p.cursor,
    };
    Ok(paged(app.messages.all_chats(&caller.user_id, &page).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"peerId": "8dc6cd40-e514-42b6-acb2-873e5cf39b7e", "upTo": "01a1fcbc-7001-7744-964e-ff153e19b6e8"}))]
struct ReceiptBody {
    /// The other member of the conversation (user id).
    #[schema(format = Uuid)]
    peer_id: String,
    /// A message id: everything up to it is covered.
    #[schema(format = Uuid)]
    up_to: String,
}

/// The peer's messages you have received and read, as cursors (message ids).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    peer_id: UserId,
    delivered_up_to: Option<MessageId>,
    read_up_to: Option<MessageId>,
}

fn receipt(peer: &UserId, cursors: Cursors) -> Json<Receipt> {
    Json(Receipt {
        peer_id: *peer,
        delivered_up_to: cursors.delivered_up_to,
        read_up_to: cursors.read_up_to,
    })
}

/// Read receipt: everything from the peer up to `upTo` is read (never moves backwards).
#[utoipa::path(
    post, path = "/api/messages/read", operation_id = "markRead", tag = "messages",
    params(UserIdClaim),
    request_body = ReceiptBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Your cursors in the conversation", body = Receipt),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn read(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(b): ApiJson<ReceiptBody>,
) -> Result<impl IntoResponse, Error> {
    let (peer, up_to) = (UserId::parse(&b.peer_id)?, MessageId::parse(&b.up_to)?);
    Ok(receipt(
        &peer,
        app.messages
            .mark_read(&caller.user_id, &peer, &up_to)
            .await?,
    ))
}

/// Delivery receipt: everything from the peer up to `upTo` reached this device.
#[utoipa::path(
    post, path = "/api/messages/delivered", operation_id = "markDelivered", tag = "messages",
    params(UserIdClaim),
    request_body = ReceiptBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Your cursors in the conversation", body = Receipt),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn delivered(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(b): ApiJson<ReceiptBody>,
) -> Result<impl IntoResponse, Error> {
    let (peer, up_to) = (UserId::parse(&b.peer_id)?, MessageId::parse(&b.up_to)?);
    Ok(receipt(
        &peer,
        app.messages
            .mark_delivered(&caller.user_id, &peer, &up_to)
            .await?,
    ))
}
