//! `/api/auth/*` and `/api/user`: phone-number sign-in, sessions and the caller's profile.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use whatspe::Error;
use whatspe::domain::{Email, LastSeenVisibility, PhoneNumber, StatusText, User, Username};
use whatspe::http::openapi::{AuthErrors, PublicErrors, UserIdClaim};
use whatspe::http::{ApiJson, Caller, ClientIp, RouteTable, bearer_token, nullable};
use whatspe::services::{AuthService, MediaService};
use whatspe::services::{NewProfile, ProfilePatch, TokenPair, Verified};

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable<Deps> {
    RouteTable::new()
        .post("/api/auth/request-otp", request_otp)
        .post("/api/auth/verify-otp", verify_otp)
        .post("/api/auth/register", register)
        .post("/api/auth/refresh", refresh)
        .post("/api/auth/logout", logout)
        .get("/api/user", me)
        .patch("/api/user", update_me)
}

/// The OpenAPI description of these routes (the local gateway merges every function's).
#[derive(OpenApi)]
#[openapi(paths(request_otp, verify_otp, register, refresh, logout, me, update_me))]
pub struct ApiDoc;

/// The routes of this function, without state (the local gateway merges them with others).
pub fn routes() -> Router<Deps> {
    route_table().into_router()
}

/// The complete service this Lambda runs.
pub fn router(deps: impl Into<Deps>) -> Router {
    whatspe::http::service(routes(), deps.into())
}

whatspe::function_deps!(auth: AuthService, media: MediaService);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"phoneNumber": "9890999999"}))]
struct RequestOtpBody {
    /// E.164 (`+919890999999`), `00…`, or a national number that gets the default country code.
    phone_number: String,
}

/// A code is on its way by SMS.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"message": "OTP sent successfully", "phoneNumber": "+919890999999", "expiresIn": 300}))]
struct OtpSent {
    message: &'static str,
    /// The number in E.164.
    phone_number: PhoneNumber,
    /// Seconds the code stays valid.
    expires_in: u64,
}

/// Sends a 6-digit sign-in code to the phone by SMS (locally: `GET /_local/sms`).
#[utoipa::path(
    post, path = "/api/auth/request-otp", operation_id = "requestOtp", tag = "auth",
    request_body = RequestOtpBody,
    responses((status = 200, description = "Code sent", body = OtpSent), PublicErrors),
)]
async fn request_otp(
    State(app): State<Deps>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RequestOtpBody>,
) -> Result<Json<OtpSent>, Error> {
    let sent = app.auth.request_otp(&body.phone_number, &ip).await?;
    Ok(Json(OtpSent {
        message: "OTP sent successfully",
        phone_number: sent.phone,
        expires_in: sent.expires_in,
    }))
}

/// The seed's `{phoneNumber, verificationCode}`; `otp` and `code` are accepted aliases.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"phoneNumber": "9890999999", "verificationCode": "123456"}))]
struct VerifyOtpBody {
    phone_number: String,
    /// The 6-digit code (one of `verificationCode`, `otp`, `code` is required; two that
    /// disagree are 400).
    verification_code: Option<String>,
    /// Alias of `verificationCode`.
    otp: Option<String>,
    /// Alias of `verificationCode`.
    code: Option<String>,
}

impl VerifyOtpBody {
    /// The one code the body carries: 400 when none is given or two of the names disagree.
    fn code(&self) -> Result<&str, Error> {
        let mut given = [&self.verification_code, &self.otp, &self.code]
            .into_iter()
            .flatten();
        let first = given
            .next()
            .ok_or_else(|| Error::validation("invalid_body", "missing field `verificationCode`"))?;
        if given.any(|other| other != first) {
            return Err(Error::validation(
                "invalid_body",
                "verificationCode, otp and code are the same field; they disagree",
            ));
        }
        Ok(first)
    }
}

const VERIFIED: &str = "OTP verified successfully";

/// What verify-otp answers: a known number signs in, a new one gets a registration token.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum VerifyOtpAnswer {
    SignedIn(SignedIn),
    NewNumber(NewNumber),
}

/// A known number: the user and a session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignedIn {
    message: &'static str,
    /// Always `false`.
    is_new_user: bool,
    user: Box<User>,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// A number without an account: pass `registrationToken` to register.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewNumber {
    message: &'static str,
    /// Always `true`.
    is_new_user: bool,
    /// Always `null`.
    #[schema(value_type = Option<User>)]
    user: Option<()>,
    /// For `POST /api/auth/register` (`Authorization: Bearer`), valid 10 minutes.
    registration_token: String,
}

/// Checks the code: signs a known number in, or hands a new one a registration token.
#[utoipa::path(
    post, path = "/api/auth/verify-otp", operation_id = "verifyOtp", tag = "auth",
    request_body = VerifyOtpBody,
    responses((status = 200, description = "Code accepted", body = VerifyOtpAnswer), PublicErrors),
)]
async fn verify_otp(
    State(app): State<Deps>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyOtpBody>,
) -> Result<Json<VerifyOtpAnswer>, Error> {
    let res = match app
        .auth
        .verify_otp(&body.phone_number, body.code()?, &ip)
        .await?
    {
        Verified::Existing { user, tokens } => VerifyOtpAnswer::SignedIn(SignedIn {
            message: VERIFIED,
            is_new_user: false,
            user,
            tokens,
        }),
        Verified::New { registration_token } => VerifyOtpAnswer::NewNumber(NewNumber {
            message: VERIFIED,
            is_new_user: true,
            user: None,
            registration_token,
        }),
    };
    Ok(Json(res))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"username": "asha", "email": "asha@example.com"}))]
struct RegisterBody {
    /// 3–30 of `A-Z a-z 0-9 _ .`, starting with a letter; unique case-insensitively.
    username: String,
    email: Option<String>,
    /// Only `null`: a picture is an upload of the user's, set with `PATCH /api/user` once
    /// the account exists.
    profile_picture: Option<String>,
    status: Option<String>,
    /// Optional, for seed clients; must be the number the registration token is bound to.
    phone_number: Option<String>,
}

/// A user with session tokens beside its fields, as `register` answers.
#[derive(Serialize, ToSchema)]
struct UserWithTokens {
    #[serde(flatten)]
    user: User,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// Creates the account of the phone number the registration token was issued for.
#[utoipa::path(
    post, path = "/api/auth/register", operation_id = "register", tag = "auth",
    request_body = RegisterBody,
    security(("registrationToken" = [])),
    responses(
        (status = 201, description = "Account created, signed in", body = UserWithTokens),
        (status = 409, description = "`username_taken`, `phone_number_taken`", body = whatspe::http::openapi::ErrorBody),
        AuthErrors,
    ),
)]
async fn register(
    State(app): State<Deps>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<impl IntoResponse, Error> {
    let token = bearer_token(&headers)?;
    if body.profile_picture.is_some() {
        // A picture is an upload of the user's, and there is no user to upload yet.
        return Err(Error::validation(
            "invalid_profile_picture",
            "set a profile picture after registering: POST /api/media, then PATCH /api/user {profilePicture: mediaId}",
        ));
    }
    let profile = NewProfile {
        username: Username::parse(&body.username)?,
        email: body.email.as_deref().map(Email::parse).transpose()?,
        profile_picture: None,
        status: body.status.as_deref().map(StatusText::parse).transpose()?,
    };
    let (user, tokens) = app
        .auth
        .register(token, body.phone_number.as_deref(), profile)
        .await?;
    Ok((StatusCode::CREATED, Json(UserWithTokens { user, tokens })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefreshBody {
    /// The current refresh token (each one works once: refresh rotates it).
    refresh_token: String,
}

/// Rotates the refresh token and issues a new access token.
#[utoipa::path(
    post, path = "/api/auth/refresh", operation_id = "refresh", tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new session pair", body = TokenPair),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_reused`, `session_revoked`, `refresh_token_expired`", body = whatspe::http::openapi::ErrorBody),
        PublicErrors,
    ),
)]
async fn refresh(
    State(app): State<Deps>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, Error> {
    Ok(Json(app.auth.refresh(&body.refresh_token).await?))
}

/// `{message}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "Logged out"}))]
struct Done {
    message: &'static str,
}

/// Ends this session: its refresh token stops working and its sockets close.
#[utoipa::path(
    post, path = "/api/auth/logout", operation_id = "logout", tag = "auth",
    params(UserIdClaim),
    security(("accessToken" = [])),
    responses((status = 200, description = "Logged out", body = Done), AuthErrors),
)]
async fn logout(State(app): State<Deps>, caller: Caller) -> Result<Json<Done>, Error> {
    app.auth.logout(&caller.user_id, &caller.session_id).await?;
    Ok(Json(Done {
        message: "Logged out",
    }))
}

/// The caller's own account.
#[utoipa::path(
    get, path = "/api/user", operation_id = "getUser", tag = "auth",
    params(UserIdClaim),
    security(("accessToken" = [])),
    responses((status = 200, description = "You", body = User), AuthErrors),
)]
async fn me(State(app): State<Deps>, caller: Caller) -> Result<Json<User>, Error> {
    Ok(Json(app.auth.me(&caller.user_id).await?))
}

/// Every field optional; `null` clears `email` or `profilePicture`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"status": "At work"}))]
struct PatchBody {
    username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    /// The `mediaId` of an image upload of the caller's (`POST /api/media`), checked and
    /// then shown to their contacts; `null` removes the picture.
    #[serde(default, deserialize_with = "nullable")]
    profile_picture: Option<Option<String>>,
    status: Option<String>,
    /// Who sees your `lastSeen` and `online`: `everyone`, `contacts` (the default) or `nobody`.
    last_seen_visibility: Option<LastSeenVisibility>,
}

/// Changes the caller's profile.
#[utoipa::path(
    patch, path = "/api/user", operation_id = "updateUser", tag = "auth",
    request_body = PatchBody,
    params(UserIdClaim),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 404, description = "`media_not_found`: `profilePicture` is no upload of the caller's", body = whatspe::http::openapi::ErrorBody),
        (status = 409, description = "`username_taken`, `concurrent_update`, `media_not_uploaded`", body = whatspe::http::openapi::ErrorBody),
        AuthErrors,
    ),
)]
async fn update_me(
    State(app): State<Deps>,
    caller: Caller,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<Json<User>, Error> {
    let mut patch = ProfilePatch {
        username: body.username.as_deref().map(Username::parse).transpose()?,
        email: body
            .email
            .map(|e| e.as_deref().map(Email::parse).transpose())
            .transpose()?,
        profile_picture: None,
        status: body.status.as_deref().map(StatusText::parse).transpose()?,
        last_seen_visibility: body.last_seen_visibility,
    };
    // The picture last: its check reads the bucket and attaches the upload, after every
    // other field has passed.
    patch.profile_picture = match body.profile_picture {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => Some(Some(
            app.media.profile_picture(&caller.user_id, &raw).await?,
        )),
    };
    Ok(Json(app.auth.update_profile(&caller.user_id, patch).await?))
}
