//! `GET /api/messages/:peerId`, `GET /api/chats`, `POST /api/messages/read` and
//! `POST /api/messages/delivered`: history, the chat list and receipts.

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use whatspe::Error;
use whatspe::app::App;
use whatspe::domain::{Cursors, MessageId, UserId};
use whatspe::http::{ApiJson, ApiQuery, Caller, NEXT_CURSOR_HEADER, RouteTable, page_limit, paged};
use whatspe::ports::{HistoryRange, PageRequest};
use whatspe::services::messages::{HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX};

/// Default and largest chat-list page.
const CHATS_PAGE_DEFAULT: usize = 50;
const CHATS_PAGE_MAX: usize = 100;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .get("/api/messages/{peer_id}", history)
        .get("/api/chats", chats)
        .post("/api/messages/read", read)
        .post("/api/messages/delivered", delivered)
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
struct HistoryParams {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn history(
    State(app): State<App>,
    caller: Caller,
    Path(peer_id): Path<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Response, Error> {
    let peer = UserId::parse(&peer_id)?;
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
    let page = app
        .messages
        .history(&caller.user_id, &peer, range, limit)
        .await?;
    let mut res = Json(page.messages).into_response();
    if let Some(next) = page
        .next
        .and_then(|n| HeaderValue::from_str(&n.to_string()).ok())
    {
        res.headers_mut().insert(NEXT_CURSOR_HEADER, next);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn chats(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = PageRequest {
        limit: page_limit(p.limit.as_deref(), CHATS_PAGE_DEFAULT, CHATS_PAGE_MAX)?,
        cursor: p.cursor,
    };
    Ok(paged(app.messages.chats(&caller.user_id, &page).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReceiptBody {
    peer_id: String,
    up_to: String,
}

fn receipt(peer: &UserId, cursors: Cursors) -> Json<serde_json::Value> {
    Json(json!({
        "peerId": peer,
        "deliveredUpTo": cursors.delivered_up_to,
        "readUpTo": cursors.read_up_to,
    }))
}

async fn read(
    State(app): State<App>,
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

async fn delivered(
    State(app): State<App>,
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
