//! `/api/users/*` and `/api/contacts/*`: user discovery, contact requests, the contact list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::{ContactRequest, ContactView, PublicProfile, RequestId, UserId};
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{ApiJson, ApiPath, ApiQuery, Caller, RouteTable, page_limit, paged};
use whatspe::ports::{Page, PageRequest};
use whatspe::services::ContactService;
use whatspe::services::contacts::SEARCH_PAGE_MAX;
use whatspe::services::{Recipient, RequestOutcome, RequestWithProfile};

/// Default and largest page of the contact and request listings.
const LIST_PAGE_DEFAULT: usize = 50;
const LIST_PAGE_MAX: usize = 100;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
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
        .post("/api/users/{id}/block", block)
        .delete("/api/users/{id}/block", unblock)
        .get("/api/blocks", blocks)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(
    search,
    profile,
    list,
    remove,
    send_request,
    pending,
    sent,
    accept,
    reject,
    block,
    unblock,
    blocks
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

whatspe::function_deps!(contacts: ContactService);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// The `X-Next-Cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// A username prefix (case-insensitive), or an exact phone number (starts with `+` or a
    /// digit). Required.
    #[param(required = true, value_type = String)]
    query: Option<String>,
    /// The `X-Next-Cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–20 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 20)]
    limit: Option<String>,
}

/// Finds other users by username prefix or exact phone number (never the caller).
#[utoipa::path(
    get, path = "/api/users/search", operation_id = "searchUsers", tag = "contacts",
    security(("accessToken" = [])),
    params(SearchParams, UserIdClaim),
    responses(
        (status = 200, description = "Public profiles", body = Vec<PublicProfile>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn search(
    State(app): State<Deps>,
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

/// A user's public profile (the system sender, the nil UUID, has one too); `lastSeen` only as
/// the user's privacy setting allows (by default: to contacts).
#[utoipa::path(
    get, path = "/api/users/{id}", operation_id = "getUserProfile", tag = "contacts",
    security(("accessToken" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id (UUID)"), UserIdClaim),
    responses(
        (status = 200, description = "The profile", body = PublicProfile),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn profile(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PublicProfile>, Error> {
    let id = UserId::parse(&id)?;
    Ok(Json(app.contacts.profile(&caller.user_id, &id).await?))
}

/// Your contacts: public profile, phone number, online.
#[utoipa::path(
    get, path = "/api/contacts", operation_id = "listContacts", tag = "contacts",
    security(("accessToken" = [])),
    params(ListParams, UserIdClaim),
    responses(
        (status = 200, description = "Contacts", body = Vec<ContactView>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn list(
    State(app): State<Deps>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    Ok(paged(app.contacts.list(&caller.user_id, &page).await?))
}

/// Removes a contact, on both sides.
#[utoipa::path(
    delete, path = "/api/contacts/{user_id}", operation_id = "removeContact", tag = "contacts",
    security(("accessToken" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "The contact's user id (UUID)"), UserIdClaim),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`not_a_contact`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn remove(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, Error> {
    app.contacts
        .remove(&caller.user_id, &UserId::parse(&user_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exactly one of `receiverId`, `phoneNumber` or `username`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"username": "meera"}))]
struct RequestBody {
    #[schema(format = Uuid)]
    receiver_id: Option<String>,
    phone_number: Option<String>,
    username: Option<String>,
}

/// Asks someone to be your contact (accepts theirs when they already asked you).
#[utoipa::path(
    post, path = "/api/contacts/request", operation_id = "sendContactRequest", tag = "contacts",
    security(("accessToken" = [])),
    params(UserIdClaim),
    request_body = RequestBody,
    responses(
        (status = 201, description = "Request sent", body = ContactRequest),
        (status = 200, description = "They had asked you: their request, accepted", body = ContactRequest),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 409, description = "`already_contacts`, `request_already_pending`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn send_request(
    State(app): State<Deps>,
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
#[derive(Serialize, ToSchema)]
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

/// Pending requests you received, each with its `sender`.
#[utoipa::path(
    get, path = "/api/contacts/requests/pending", operation_id = "listPendingRequests", tag = "contacts",
    security(("accessToken" = [])),
    params(ListParams, UserIdClaim),
    responses(
        (status = 200, description = "Requests", body = Vec<RequestEntry>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn pending(
    State(app): State<Deps>,
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

/// Pending requests you sent, each with its `receiver`.
#[utoipa::path(
    get, path = "/api/contacts/requests/sent", operation_id = "listSentRequests", tag = "contacts",
    security(("accessToken" = [])),
    params(ListParams, UserIdClaim),
    responses(
        (status = 200, description = "Requests", body = Vec<RequestEntry>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn sent(
    State(app): State<Deps>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    Ok(entries(
        app.contacts.pending_sent(&caller.user_id, &page).await?,
        Side::Receiver,
    ))
}

/// `accept`'s answer: the accepted request and your new contact.
#[derive(Serialize, ToSchema)]
struct Accepted {
    request: ContactRequest,
    contact: ContactView,
}

/// Accepts a request you received.
#[utoipa::path(
    post, path = "/api/contacts/accept/{id}", operation_id = "acceptContactRequest", tag = "contacts",
    security(("accessToken" = [])),
    params(("id" = String, Path, format = Uuid, description = "Request id (UUID)"), UserIdClaim),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 404, description = "`request_not_found`", body = ErrorBody),
        (status = 409, description = "`request_not_pending`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn accept(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Accepted>, Error> {
    let (request, contact) = app
        .contacts
        .accept(&caller.user_id, &RequestId::parse(&id)?)
        .await?;
    Ok(Json(Accepted { request, contact }))
}

/// Rejects a request you received (silently: the sender is not told).
#[utoipa::path(
    post, path = "/api/contacts/reject/{id}", operation_id = "rejectContactRequest", tag = "contacts",
    security(("accessToken" = [])),
    params(("id" = String, Path, format = Uuid, description = "Request id (UUID)"), UserIdClaim),
    responses(
        (status = 200, description = "Rejected", body = ContactRequest),
        (status = 404, description = "`request_not_found`", body = ErrorBody),
        (status = 409, description = "`request_not_pending`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn reject(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ContactRequest>, Error> {
    Ok(Json(
        app.contacts
            .reject(&caller.user_id, &RequestId::parse(&id)?)
            .await?,
    ))
}

/// A user you blocked.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"userId": "8dc6cd40-e514-42b6-acb2-873e5cf39b7e", "blockedAt": "2026-12-02T08:00:00Z"}))]
struct Blocked {
    user_id: UserId,
    blocked_at: chrono::DateTime<chrono::Utc>,
    /// Their public profile (in `GET /api/blocks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<PublicProfile>,
}

/// Blocks a user: their messages, contact requests, typing and presence no longer reach you;
/// they are not told. Idempotent (blocking again keeps the first time).
#[utoipa::path(
    post, path = "/api/users/{id}/block", operation_id = "blockUser", tag = "contacts",
    security(("accessToken" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user to block (UUID)"), UserIdClaim),
    responses(
        (status = 200, description = "Blocked", body = Blocked),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn block(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Blocked>, Error> {
    let target = UserId::parse(&id)?;
    let b = app
        .contacts
        .blocking()?
        .block(&caller.user_id, &target)
        .await?;
    Ok(Json(Blocked {
        user_id: b.blocked,
        blocked_at: b.at,
        user: None,
    }))
}

/// Unblocks a user (idempotent: 204 whether or not they were blocked).
#[utoipa::path(
    delete, path = "/api/users/{id}/block", operation_id = "unblockUser", tag = "contacts",
    security(("accessToken" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user to unblock (UUID)"), UserIdClaim),
    responses((status = 204, description = "Not blocked (any more)"), AuthErrors),
)]
async fn unblock(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Error> {
    let target = UserId::parse(&id)?;
    app.contacts
        .blocking()?
        .unblock(&caller.user_id, &target)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users you blocked, with their public profiles.
#[utoipa::path(
    get, path = "/api/blocks", operation_id = "listBlocks", tag = "contacts",
    security(("accessToken" = [])),
    params(ListParams, UserIdClaim),
    responses(
        (status = 200, description = "Blocked users", body = Vec<Blocked>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn blocks(
    State(app): State<Deps>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = p.page(LIST_PAGE_DEFAULT, LIST_PAGE_MAX)?;
    let found = app
        .contacts
        .blocking()?
        .list(&caller.user_id, &page)
        .await?;
    Ok(paged(Page {
        items: found
            .items
            .into_iter()
            .map(|(b, profile)| Blocked {
                user_id: b.blocked,
                blocked_at: b.at,
                user: Some(profile),
            })
            .collect(),
        next: found.next,
    }))
}
