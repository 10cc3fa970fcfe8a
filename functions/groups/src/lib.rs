//! `/api/groups`: groups, their info and settings, members, admins and invite links
//! (DESIGN §8). Messages to a group go through `POST /api/messages {chatId}`; its history and
//! receipts through `/api/chats/:chatId/…` (the get_messages function).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::{
    ConversationId, GroupName, GroupView, UserId, Who, parse_avatar, parse_description,
};
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{ApiJson, ApiPath, ApiQuery, Caller, RouteTable, page_limit, paged};
use whatspe::ports::PageRequest;
use whatspe::services::{GroupPatch, GroupService, NewGroup, SettingsPatch};

/// Default and largest page of `GET /api/groups`.
const GROUPS_PAGE_DEFAULT: usize = 50;
const GROUPS_PAGE_MAX: usize = 100;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .post("/api/groups", create)
        .get("/api/groups", list)
        .get("/api/groups/{id}", get)
        .patch("/api/groups/{id}", update)
        .post("/api/groups/{id}/members", add_members)
        .delete("/api/groups/{id}/members/{user_id}", remove_member)
        .put("/api/groups/{id}/admins/{user_id}", promote)
        .delete("/api/groups/{id}/admins/{user_id}", demote)
        .post("/api/groups/{id}/invite", reset_invite)
        .post("/api/groups/join/{invite_code}", join)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(
    create,
    list,
    get,
    update,
    add_members,
    remove_member,
    promote,
    demote,
    reset_invite,
    join
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

whatspe::function_deps!(groups: GroupService);

fn user_ids(raw: &[String]) -> Result<Vec<UserId>, Error> {
    raw.iter().map(|u| UserId::parse(u)).collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "Family", "memberIds": ["8dc6cd40-e514-42b6-acb2-873e5cf39b7e"], "description": "Sunday lunch"}))]
struct CreateBody {
    /// 1–100 characters.
    name: String,
    /// Your contacts to add (at most 90; more join later); you are the admin.
    #[schema(value_type = Vec<String>)]
    member_ids: Vec<String>,
    /// At most 512 characters.
    description: Option<String>,
    /// A media id.
    #[schema(format = Uuid)]
    avatar: Option<String>,
}

/// Creates a group of you (its admin) and your contacts `memberIds`.
#[utoipa::path(
    post, path = "/api/groups", operation_id = "createGroup", tag = "groups",
    params(UserIdClaim),
    request_body = CreateBody,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "The group", body = GroupView),
        (status = 400, description = "`invalid_group_name`, `duplicate_member`, `cannot_add_self`, `too_many_members`", body = ErrorBody),
        (status = 403, description = "`not_a_contact`", body = ErrorBody),
        (status = 409, description = "`group_full`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn create(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<GroupView>), Error> {
    let new = NewGroup {
        name: GroupName::parse(&b.name)?,
        description: b
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?
            .flatten(),
        avatar: b.avatar.as_deref().map(parse_avatar).transpose()?.flatten(),
        members: user_ids(&b.member_ids)?,
    };
    let view = app.groups.create(&caller.user_id, new).await?;
    Ok((StatusCode::CREATED, Json(view)))
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

/// Your groups (without their member lists), by id.
#[utoipa::path(
    get, path = "/api/groups", operation_id = "listGroups", tag = "groups",
    params(ListParams, UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Groups", body = Vec<GroupView>,
         headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        AuthErrors,
    ),
)]
async fn list(
    State(app): State<Deps>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Response, Error> {
    let page = PageRequest {
        limit: page_limit(p.limit.as_deref(), GROUPS_PAGE_DEFAULT, GROUPS_PAGE_MAX)?,
        cursor: p.cursor,
    };
    Ok(paged(app.groups.list(&caller.user_id, &page).await?))
}

fn group_id(raw: &str) -> Result<ConversationId, Error> {
    ConversationId::parse(raw)
        .map_err(|_| Error::validation("invalid_group_id", "the group id must be a UUID"))
}

/// A group you are in, with its members (and its invite code, if you are an admin).
#[utoipa::path(
    get, path = "/api/groups/{id}", operation_id = "getGroup", tag = "groups",
    params(("id" = String, Path, format = Uuid, description = "The group's id"), UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 404, description = "`group_not_found` (also for groups you are not in)", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn get(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GroupView>, Error> {
    Ok(Json(
        app.groups.get(&caller.user_id, &group_id(&id)?).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SettingsBody {
    /// Who changes name, description and avatar.
    edit_info: Option<Who>,
    /// Who sends messages.
    send: Option<Who>,
    /// Who adds members.
    add: Option<Who>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "Family 🏡", "settings": {"send": "admins"}}))]
struct PatchBody {
    name: Option<String>,
    /// `""` clears it.
    description: Option<String>,
    /// A media id; `""` clears it.
    avatar: Option<String>,
    /// Admins only.
    settings: Option<SettingsBody>,
}

/// Changes the group's info (members, or admins when `editInfo` is `admins`) or settings
/// (admins). Members see a `GRP {ev: "updated"}`.
#[utoipa::path(
    patch, path = "/api/groups/{id}", operation_id = "updateGroup", tag = "groups",
    params(("id" = String, Path, format = Uuid, description = "The group's id"), UserIdClaim),
    request_body = PatchBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 400, description = "`invalid_group_name`, `invalid_description`, `invalid_avatar`, `invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`group_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn update(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<PatchBody>,
) -> Result<Json<GroupView>, Error> {
    let patch = GroupPatch {
        name: b.name.as_deref().map(GroupName::parse).transpose()?,
        description: b
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?,
        avatar: b.avatar.as_deref().map(parse_avatar).transpose()?,
        settings: b.settings.map(|s| SettingsPatch {
            edit_info: s.edit_info,
            send: s.send,
            add: s.add,
        }),
    };
    Ok(Json(
        app.groups
            .update(&caller.user_id, &group_id(&id)?, patch)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"userIds": ["8dc6cd40-e514-42b6-acb2-873e5cf39b7e"]}))]
struct MembersBody {
    /// Your contacts (1–90).
    #[schema(value_type = Vec<String>)]
    user_ids: Vec<String>,
}

/// Adds your contacts (admins, or everyone when `add` is `all`).
#[utoipa::path(
    post, path = "/api/groups/{id}/members", operation_id = "addGroupMembers", tag = "groups",
    params(("id" = String, Path, format = Uuid, description = "The group's id"), UserIdClaim),
    request_body = MembersBody,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 400, description = "`duplicate_member`, `cannot_add_self`, `too_many_members`", body = ErrorBody),
        (status = 403, description = "`not_allowed`, `not_a_contact`", body = ErrorBody),
        (status = 404, description = "`group_not_found`", body = ErrorBody),
        (status = 409, description = "`already_member`, `group_full`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn add_members(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<MembersBody>,
) -> Result<Json<GroupView>, Error> {
    let users = user_ids(&b.user_ids)?;
    Ok(Json(
        app.groups
            .add(&caller.user_id, &group_id(&id)?, users)
            .await?,
    ))
}

/// Removes a member (admins), or leaves (your own id). When the last admin leaves, the
/// longest-standing member becomes admin.
#[utoipa::path(
    delete, path = "/api/groups/{id}/members/{user_id}", operation_id = "removeGroupMember", tag = "groups",
    params(
        ("id" = String, Path, format = Uuid, description = "The group's id"),
        ("user_id" = String, Path, format = Uuid, description = "The member (yourself to leave)"),
        UserIdClaim,
    ),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`group_not_found`, `member_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn remove_member(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((id, user_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, Error> {
    let user = UserId::parse(&user_id)?;
    app.groups
        .remove(&caller.user_id, &group_id(&id)?, &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a member an admin (admins).
#[utoipa::path(
    put, path = "/api/groups/{id}/admins/{user_id}", operation_id = "promoteGroupAdmin", tag = "groups",
    params(
        ("id" = String, Path, format = Uuid, description = "The group's id"),
        ("user_id" = String, Path, format = Uuid, description = "The member"),
        UserIdClaim,
    ),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`group_not_found`, `member_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn promote(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((id, user_id)): ApiPath<(String, String)>,
) -> Result<Json<GroupView>, Error> {
    set_admin(&app, &caller, &id, &user_id, true).await
}

/// Dismisses an admin (admins; the last admin cannot be dismissed).
#[utoipa::path(
    delete, path = "/api/groups/{id}/admins/{user_id}", operation_id = "demoteGroupAdmin", tag = "groups",
    params(
        ("id" = String, Path, format = Uuid, description = "The group's id"),
        ("user_id" = String, Path, format = Uuid, description = "The admin"),
        UserIdClaim,
    ),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`group_not_found`, `member_not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn demote(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath((id, user_id)): ApiPath<(String, String)>,
) -> Result<Json<GroupView>, Error> {
    set_admin(&app, &caller, &id, &user_id, false).await
}

async fn set_admin(
    app: &Deps,
    caller: &Caller,
    id: &str,
    user_id: &str,
    admin: bool,
) -> Result<Json<GroupView>, Error> {
    let user = UserId::parse(user_id)?;
    Ok(Json(
        app.groups
            .set_admin(&caller.user_id, &group_id(id)?, &user, admin)
            .await?,
    ))
}

/// A new invite code.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct InviteView {
    invite_code: String,
}

/// Makes a new invite code (admins); the previous one stops working.
#[utoipa::path(
    post, path = "/api/groups/{id}/invite", operation_id = "resetGroupInvite", tag = "groups",
    params(("id" = String, Path, format = Uuid, description = "The group's id"), UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The new code", body = InviteView),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`group_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn reset_invite(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<InviteView>, Error> {
    let invite_code = app
        .groups
        .reset_invite(&caller.user_id, &group_id(&id)?)
        .await?;
    Ok(Json(InviteView { invite_code }))
}

/// Joins the group of an invite code (no contact needed); a member just gets the group.
#[utoipa::path(
    post, path = "/api/groups/join/{invite_code}", operation_id = "joinGroup", tag = "groups",
    params(("invite_code" = String, Path, description = "The code from an invite link"), UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 404, description = "`invite_not_found` (unknown or reset)", body = ErrorBody),
        (status = 409, description = "`group_full`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn join(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<GroupView>, Error> {
    Ok(Json(app.groups.join(&caller.user_id, &code).await?))
}
