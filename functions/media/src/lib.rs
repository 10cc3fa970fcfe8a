//! `/api/media`: upload URLs (a presigned PUT binding Content-Type and Content-Length) and
//! download URLs (a presigned GET, for the uploader and the members of chats whose messages
//! carry the upload).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::MediaId;
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{ApiJson, ApiPath, Caller, RouteTable};
use whatspe::services::{DownloadTicket, MediaService, UploadTicket};

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .post("/api/media", create_upload)
        .get("/api/media/{mediaId}", download)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(create_upload, download))]
pub struct ApiDoc;

/// The routes of this function, without state (the local gateway merges them with others).
pub fn routes() -> Router<Deps> {
    route_table().into_router()
}

/// The complete service this Lambda runs.
pub fn router(deps: impl Into<Deps>) -> Router {
    whatspe::http::service(routes(), deps.into())
}

whatspe::function_deps!(media: MediaService);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"contentType": "image/png", "size": 48213, "fileName": "cat.png"}))]
struct UploadBody {
    /// On the allowlist, by default: image/jpeg, image/png, image/gif, image/webp, audio/mpeg,
    /// audio/ogg, audio/mp4, audio/aac, video/mp4, video/webm, video/3gpp, application/pdf,
    /// application/zip and the Office Open XML types (a deployment may change it: docs/media.md).
    content_type: String,
    /// Bytes: image and audio ≤ 16 MB, video and document ≤ 100 MB (configurable).
    size: u64,
    /// Shown to the receivers (1–255 bytes, no path separators).
    file_name: Option<String>,
}

/// Reserves an upload: a URL to PUT the bytes to within 15 minutes, with exactly the returned
/// headers. Unsent uploads and uploads no message carries are deleted after 24 hours.
#[utoipa::path(
    post, path = "/api/media", operation_id = "createUpload", tag = "media",
    params(UserIdClaim),
    request_body = UploadBody,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "Upload reserved", body = UploadTicket),
        (status = 400, description = "`unsupported_media_type`, `invalid_size`, `invalid_file_name`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: above the kind's cap", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn create_upload(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(b): ApiJson<UploadBody>,
) -> Result<(StatusCode, Json<UploadTicket>), Error> {
    let ticket = app
        .media
        .create_upload(
            &caller.user_id,
            &b.content_type,
            b.size,
            b.file_name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// A URL to download an upload within 5 minutes: for its uploader, and for the members of a
/// chat where a message carries it.
#[utoipa::path(
    get, path = "/api/media/{mediaId}", operation_id = "getMedia", tag = "media",
    params(("mediaId" = String, Path, format = Uuid, description = "The upload's id"), UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Download URL", body = DownloadTicket),
        (status = 404, description = "`media_not_found`: no such upload, or not yours to see", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn download(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DownloadTicket>, Error> {
    let id = MediaId::parse(&id)?;
    Ok(Json(app.media.download(&caller.user_id, &id).await?))
}
