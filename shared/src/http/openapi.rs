//! What every function's OpenAPI description shares: the error body, the error responses and
//! the security schemes. The local gateway assembles the whole document
//! (`whatspe-local --print-openapi`, `GET /api/openapi.json`); Lambdas never build it.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, ToSchema};

/// Security scheme: `Authorization: Bearer <accessToken>` (a JWT from sign-in or refresh).
pub const BEARER: &str = "accessToken";
/// Security scheme: `Authorization: Bearer <registrationToken>` (from verify-otp, for register).
pub const REGISTRATION: &str = "registrationToken";
/// Security scheme: the webhook's `X-Whatspe-Signature` (`t=…,v1=…`).
pub const WEBHOOK: &str = "webhookSignature";

/// Every error: `{"error":{"code":"snake_case_code","message":"human text"}}`. 5xx bodies are
/// opaque (the cause is logged, never answered).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_body", "message": "missing field `phoneNumber`"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The code (stable, for programs) and message (for people) of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code such as `invalid_body`, `missing_token`, `not_a_contact`.
    pub code: String,
    pub message: String,
}

/// The seed's `?userId=`, which every authenticated route tolerates: it must be the caller's
/// own id (else 403 `user_mismatch`); identity always comes from the bearer token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserIdClaim {
    /// The caller's own user id (optional, for seed clients).
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

/// The errors any route may answer: bad input, a too large body, a dependency down.
#[derive(IntoResponses)]
pub enum PublicErrors {
    /// Invalid input: malformed JSON, a wrong type, a missing or unknown field, a bad value.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The body exceeds 256 KiB (or message content exceeds 64 KiB).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Too many requests; wait `Retry-After` seconds.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(ErrorBody),
    /// Internal error or an unavailable dependency (opaque body).
    #[response(status = "5XX")]
    Server(ErrorBody),
}

/// The errors of an authenticated route: [`PublicErrors`] and a missing or bad token.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// Invalid input: malformed JSON, a wrong type, a missing or unknown field, a bad value.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No token, or an invalid or expired one (`WWW-Authenticate: Bearer`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The seed's `?userId=` names someone else (`user_mismatch`), or the action is not yours.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The body exceeds 256 KiB (or message content exceeds 64 KiB).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Too many requests; wait `Retry-After` seconds.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(ErrorBody),
    /// Internal error or an unavailable dependency (opaque body).
    #[response(status = "5XX")]
    Server(ErrorBody),
}

/// Registers the security schemes ([`BEARER`], [`REGISTRATION`], [`WEBHOOK`]).
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme(
            BEARER,
            bearer("The access token of verify-otp, register or refresh (15 minutes)."),
        );
        components.add_security_scheme(
            REGISTRATION,
            bearer("The registration token verify-otp answers for a new number (10 minutes)."),
        );
        components.add_security_scheme(
            WEBHOOK,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Whatspe-Signature",
                "t=<epoch seconds>,v1=<hex HMAC-SHA256(secret, t + \".\" + raw body)>; t within \
                 5 minutes of the server clock",
            ))),
        );
    }
}
