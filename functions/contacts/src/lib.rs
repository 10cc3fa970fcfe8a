//! `/api/users/*` and `/api/contacts/*`: user discovery, contact requests, the contact list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use whatspe::Error;
use whatspe::app::App;
use whatspe::domain::{ContactRequest, PublicProfile, RequestId, UserId};
use whatspe::http::{ApiJson, ApiQuery, Caller, RouteTable, page_limit, paged};
use whatspe::ports::{Page, PageRequest};
use whatspe::services::contacts::SEARCH_PAGE_MAX;
use whatspe::services::{Recipient, RequestOutcome, RequestWithProfile};

/// Default and largest page of the contact and request listings.
const LIST_PAGE_DEFAULT: usize = 50;
const LIST_PAGE_MAX: usize = 100;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .get("/api/users/search", search)
        .get("/api/users/{id}", profile)
        .get("/api/contacts", list)
        .delete("/api/contacts/{user_id}", remove)
        .post("/api/contacts/request", send_request)
        .get("/api/contacts/requests/pending", pending)
        .get("/api/contacts/requests/sent", sent)
        .post("/api/contacts/accept/{id}", accept)
        .post("/api/contacts/reject/{id}", reject)
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
struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

impl ListParams {
    fn page(self, default: usize, max: usize) -> Result<PageRequest, Error> {
        Ok(PageRequest {
            limit: page_limit(self.limit.as_deref(), default, max)?,
            cursor: self.cursor,
        })
    }
}

#[derive(Deserialize)]
struct SearchParams {
    query: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn search(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Response, Error> {
    let query = p
        .query
        .ok_or_else(|| Error::validation("invalid_query", "query is required"))?;
    let page = ListParams {
        cursor: p.cursor,
        limit: p.limit,
    }
    .page(SEARCH_PAGE_MAX, SEARCH_PAGE_MAX)?;
    Ok(paged(
        app.contacts.search(&caller.user_id, &query, &page).await?,
    ))
}

async fn profile(
    State(app): State<App>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PublicProfile>, Error> {
    Ok(Json(app.contacts.profile(&UserId::parse(&id)?).await?))
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    Ok(paged(app.contacts.list(&caller.user_id, &page).await?))
}

async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<StatusCode, Error> {
    app.contacts
        .remove(&caller.user_id, &UserId::parse(&user_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestBody {
    receiver_id: Option<String>,
    phone_number: Option<String>,
    username: Option<String>,
}

async fn send_request(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Response, Error> {
    let who = match (body.receiver_id, body.phone_number, body.username) {
        (Some(id), None, None) => Recipient::Id(UserId::parse(&id)?),
        (None, Some(phone), None) => Recipient::Phone(phone),
        (None, None, Some(name)) => Recipient::Username(name),
        _ => {
            return Err(Error::validation(
                "invalid_body",
                "give exactly one of receiverId, phoneNumber or username",
            ));
        }
    };
    Ok(
        match app.contacts.send_request(&caller.user_id, &who).await? {
            RequestOutcome::Created(r) => (StatusCode::CREATED, Json(r)).into_response(),
            RequestOutcome::AcceptedTheirs(r) => (StatusCode::OK, Json(r)).into_response(),
        },
    )
}

/// A request with the other side's profile under `sender` or `receiver`.
#[derive(Serialize)]
struct RequestEntry {
    #[serde(flatten)]
    request: ContactRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<PublicProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receiver: Option<PublicProfile>,
}

/// Which side of a request the listing shows the profile of.
enum Side {
    Sender,
    Receiver,
}

fn entries(page: Page<RequestWithProfile>, side: Side) -> Response {
    paged(
        page.map(|RequestWithProfile { request, other }| match side {
            Side::Sender => RequestEntry {
                request,
                sender: Some(other),
                receiver: None,
            },
            Side::Receiver => RequestEntry {
                request,
                sender: None,
                receiver: Some(other),
            },
        }),
    )
}

async fn pending(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    Ok(entries(
        app.contacts
            .pending_received(&caller.user_id, &page)
            .await?,
        Side::Sender,
    ))
}

async fn sent(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    Ok(entries(
        app.contacts.pending_sent(&caller.user_id, &page).await?,
        Side::Receiver,
    ))
}

async fn accept(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Error> {
    let (request, contact) = app
        .contacts
        .accept(&caller.user_id, &RequestId::parse(&id)?)
        .await?;
    Ok(Json(json!({ "request": request, "contact": contact })))
}

async fn reject(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContactRequest>, Error> {
    Ok(Json(
        app.contacts
            .reject(&caller.user_id, &RequestId::parse(&id)?)
            .await?,
    ))
}
