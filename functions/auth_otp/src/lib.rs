//! `/api/auth/*` and `/api/user`: phone-number sign-in, sessions and the caller's profile.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use whatspe::Error;
use whatspe::app::App;
use whatspe::domain::{Email, ProfilePicture, StatusText, User, Username};
use whatspe::http::{ApiJson, Caller, RouteTable, bearer_token, nullable};
use whatspe::services::{NewProfile, ProfilePatch, TokenPair, Verified};

/// The routes of this function, recorded (the template test compares them with template.yaml).
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .post("/api/auth/request-otp", request_otp)
        .post("/api/auth/verify-otp", verify_otp)
        .post("/api/auth/register", register)
        .post("/api/auth/refresh", refresh)
        .post("/api/auth/logout", logout)
        .get("/api/user", me)
        .patch("/api/user", update_me)
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
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestOtpBody {
    phone_number: String,
}

async fn request_otp(
    State(app): State<App>,
    ApiJson(body): ApiJson<RequestOtpBody>,
) -> Result<impl IntoResponse, Error> {
    let sent = app.auth.request_otp(&body.phone_number).await?;
    Ok(Json(json!({
        "message": "OTP sent successfully",
        "phoneNumber": sent.phone,
        "expiresIn": sent.expires_in,
    })))
}

/// The seed's `{phoneNumber, verificationCode}`; `otp` and `code` are accepted aliases.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VerifyOtpBody {
    phone_number: String,
    verification_code: Option<String>,
    otp: Option<String>,
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

async fn verify_otp(
    State(app): State<App>,
    ApiJson(body): ApiJson<VerifyOtpBody>,
) -> Result<impl IntoResponse, Error> {
    let res = match app
        .auth
        .verify_otp(&body.phone_number, body.code()?)
        .await?
    {
        Verified::Existing { user, tokens } => json!({
            "message": "OTP verified successfully",
            "isNewUser": false,
            "user": user,
            "accessToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
            "expiresIn": tokens.expires_in,
        }),
        Verified::New { registration_token } => json!({
            "message": "OTP verified successfully",
            "isNewUser": true,
            "user": null,
            "registrationToken": registration_token,
        }),
    };
    Ok(Json(res))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RegisterBody {
    username: String,
    email: Option<String>,
    profile_picture: Option<String>,
    status: Option<String>,
    /// Optional, for seed clients; must be the number the registration token is bound to.
    phone_number: Option<String>,
}

/// A user with session tokens beside its fields, as `register` answers.
#[derive(Serialize)]
struct UserWithTokens {
    #[serde(flatten)]
    user: User,
    #[serde(flatten)]
    tokens: TokenPair,
}

async fn register(
    State(app): State<App>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<impl IntoResponse, Error> {
    let token = bearer_token(&headers)?;
    let profile = NewProfile {
        username: Username::parse(&body.username)?,
        email: body.email.as_deref().map(Email::parse).transpose()?,
        profile_picture: body
            .profile_picture
            .as_deref()
            .map(ProfilePicture::parse)
            .transpose()?,
        status: body.status.as_deref().map(StatusText::parse).transpose()?,
    };
    let (user, tokens) = app
        .auth
        .register(token, body.phone_number.as_deref(), profile)
        .await?;
    Ok((StatusCode::CREATED, Json(UserWithTokens { user, tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(app): State<App>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, Error> {
    Ok(Json(app.auth.refresh(&body.refresh_token).await?))
}

async fn logout(State(app): State<App>, caller: Caller) -> Result<impl IntoResponse, Error> {
    app.auth.logout(&caller.user_id, &caller.session_id).await?;
    Ok(Json(json!({ "message": "Logged out" })))
}

async fn me(State(app): State<App>, caller: Caller) -> Result<Json<User>, Error> {
    Ok(Json(app.auth.me(&caller.user_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatchBody {
    username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    profile_picture: Option<Option<String>>,
    status: Option<String>,
}

async fn update_me(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<Json<User>, Error> {
    let patch = ProfilePatch {
        username: body.username.as_deref().map(Username::parse).transpose()?,
        email: body
            .email
            .map(|e| e.as_deref().map(Email::parse).transpose())
            .transpose()?,
        profile_picture: body
            .profile_picture
            .map(|p| p.as_deref().map(ProfilePicture::parse).transpose())
            .transpose()?,
        status: body.status.as_deref().map(StatusText::parse).transpose()?,
    };
    Ok(Json(app.auth.update_profile(&caller.user_id, patch).await?))
}
