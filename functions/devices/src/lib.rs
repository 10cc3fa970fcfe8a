//! `/api/devices`: push-token registration (SNS platform endpoints).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use whatspe::Error;
use whatspe::http::openapi::{AuthErrors, ErrorBody, UserIdClaim};
use whatspe::http::{ApiJson, ApiPath, Caller, RouteTable};
use whatspe::ports::{Device, Platform};
use whatspe::services::DeviceService;

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .get("/api/devices", list)
        .post("/api/devices", register)
        .delete("/api/devices/{id}", remove)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(list, register, remove))]
pub struct ApiDoc;

/// The routes of this function, without state (the local gateway merges them with others).
pub fn routes() -> Router<Deps> {
    route_table().into_router()
}

/// The complete service this Lambda runs.
pub fn router(deps: impl Into<Deps>) -> Router {
    whatspe::http::service(routes(), deps.into())
}

whatspe::function_deps!(devices: DeviceService);

/// A device as its owner sees it (never the token).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeviceView {
    id: uuid::Uuid,
    platform: Platform,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            platform: d.platform,
            created_at: d.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"platform": "fcm", "token": "fcm-registration-token"}))]
struct RegisterBody {
    /// `fcm` or `apns`.
    #[schema(value_type = Platform)]
    platform: String,
    /// The platform's push token.
    token: String,
}

/// Registers this phone's push token (the same token again is the same device).
#[utoipa::path(
    post, path = "/api/devices", operation_id = "registerDevice", tag = "devices",
    params(UserIdClaim),
    request_body = RegisterBody,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "Registered", body = DeviceView),
        (status = 409, description = "`too_many_devices`: you have 100 other devices; remove one first", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn register(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(b): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<DeviceView>), Error> {
    let device = app
        .devices
        .register(&caller.user_id, &caller.session_id, &b.platform, &b.token)
        .await?;
    Ok((StatusCode::CREATED, Json(device.into())))
}

/// Your registered devices.
#[utoipa::path(
    get, path = "/api/devices", operation_id = "listDevices", tag = "devices",
    params(UserIdClaim),
    security(("accessToken" = [])),
    responses((status = 200, description = "Devices", body = Vec<DeviceView>), AuthErrors),
)]
async fn list(State(app): State<Deps>, caller: Caller) -> Result<Json<Vec<DeviceView>>, Error> {
    Ok(Json(
        app.devices
            .list(&caller.user_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Unregisters a device.
#[utoipa::path(
    delete, path = "/api/devices/{id}", operation_id = "removeDevice", tag = "devices",
    params(("id" = String, Path, format = Uuid, description = "Device id (UUID)"), UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`device_not_found`", body = ErrorBody),
        AuthErrors,
    ),
)]
async fn remove(
    State(app): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Error> {
    let id = uuid::Uuid::try_parse(&id)
        .ok()
        .filter(|_| id.len() == 36)
        .ok_or_else(|| Error::validation("invalid_device_id", "device id must be a UUID"))?;
    app.devices.remove(&caller.user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
