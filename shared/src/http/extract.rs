use crate::Error;
use crate::domain::{SessionId, UserId};
use crate::services::TokenService;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Query, Request};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A JSON request body whose every failure is a 4xx in the API's error shape:
/// 413 above [`super::MAX_BODY_BYTES`], 400 `malformed_json`, 400 `invalid_body` (wrong
/// types, missing or unknown fields — the message names the field).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let ApiBody(bytes) = ApiBody::from_request(req, state).await?;
        Self::from_bytes(&bytes)
    }
}

/// The raw request body (for handlers that must see the exact bytes, such as a signed
/// webhook), with the API's errors: 413 above [`super::MAX_BODY_BYTES`], 400 `invalid_body`
/// when it cannot be read. (axum's own `Bytes` rejection is a plain-text body.)
pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBody)
            .map_err(|rej| {
                if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge {
                        message: format!(
                            "the request body exceeds {} bytes",
                            super::MAX_BODY_BYTES
                        ),
                    }
                } else {
                    Error::validation("invalid_body", "the request body could not be read")
                }
            })
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Parses an already-read body with the same errors as the extractor.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::validation(
                "malformed_json",
                "the request body must be a JSON object",
            ));
        }
        serde_json::from_slice(bytes).map(ApiJson).map_err(|e| {
            if e.is_data() {
                Error::validation("invalid_body", e.to_string())
            } else {
                Error::validation(
                    "malformed_json",
                    format!("the request body is not valid JSON: {e}"),
                )
            }
        })
    }
}

/// Query parameters whose every failure is 400 `invalid_query` in the API's error shape.
/// Unknown parameters are ignored (cache-busters and tracking parameters are common).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| Error::validation("invalid_query", e.body_text()))
    }
}

/// Path parameters whose every failure is a 4xx in the API's error shape: 400 `invalid_path`
/// (axum's own rejection is a plain-text body, e.g. for `%FF`, a percent-encoded byte that is
/// not UTF-8).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(ApiPath(t)),
            // A route without the parameters its handler reads: a bug, not bad input.
            Err(e) if e.status().is_server_error() => Err(Error::internal(e.body_text())),
            Err(e) => Err(Error::validation("invalid_path", e.body_text())),
        }
    }
}

/// `limit` of a listing: `default` when absent, else 1..=`max` (400 `invalid_limit`).
pub fn page_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, Error> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::validation(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {max}"),
        )),
    }
}

/// The authenticated caller: the subject of a valid `Authorization: Bearer <accessToken>`.
/// Identity never comes from the body or the query; the seed's `?userId=` is tolerated only
/// when it names the caller (otherwise 403).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// The token of the `Authorization: Bearer <token>` header; 401 `missing_token` without one.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let missing = || {
        Error::unauthorized(
            "missing_token",
            "an Authorization: Bearer token is required",
        )
    };
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<TokenService>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let tokens = Arc::<TokenService>::from_ref(state);
        let identity = tokens.authenticate(bearer_token(&parts.headers)?).await?;
        let query: Query<Vec<(String, String)>> = Query::try_from_uri(&parts.uri)
            .map_err(|_| Error::validation("invalid_query", "the query string is malformed"))?;
        for (_, claimed) in query.0.iter().filter(|(k, _)| k == "userId") {
            identity.user_id.confirm_claim(Some(claimed))?;
        }
        Ok(Caller {
            user_id: identity.user_id,
            session_id: identity.session_id,
        })
    }
}

/// The client's IP address as API Gateway saw it: the request context's `sourceIp`, which
/// lambda_http puts in the request's extensions (the local gateway fills the same context from
/// the peer address). Never from a header such as `X-Forwarded-For`, which a client can set.
/// Without a context (a router called directly) every request is one client, `unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl ClientIp {
    /// The request context a REST request has on API Gateway, with only `sourceIp` filled:
    /// what the local gateway attaches to each request from its peer address.
    pub fn context(ip: std::net::IpAddr) -> RequestContext {
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
        ctx.identity.source_ip = Some(ip.to_string());
        RequestContext::ApiGatewayV1(ctx)
    }

    fn from_context(ctx: Option<&RequestContext>) -> Self {
        let ip = match ctx {
            Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
            Some(RequestContext::WebSocket(c)) => c.identity.source_ip.clone(),
            _ => None,
        };
        Self(
            ip.filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "unknown".into()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_context(parts.extensions.get::<RequestContext>()))
    }
}

/// For `#[serde(default, deserialize_with = "nullable")]` on `Option<Option<T>>` fields:
/// absent → `None` (leave as is), `null` → `Some(None)` (clear), value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
