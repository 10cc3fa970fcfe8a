//! The WebSocket API's routes: `$connect` (authenticate, register the connection),
//! `$disconnect` (forget it) and `$default` (every frame a client sends).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use whatspe::Error;
use whatspe::services::RealtimeService;

pub const CONNECT: &str = "$connect";
pub const DISCONNECT: &str = "$disconnect";
pub const DEFAULT: &str = "$default";

fn response(status: u16, body: Option<String>, headers: HeaderMap) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status);
    r.headers = headers;
    r.body = body.map(Body::Text);
    r
}

fn error_response(e: &Error) -> ApiGatewayProxyResponse {
    let body = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
    response(
        e.status().as_u16(),
        Some(body.to_string()),
        HeaderMap::new(),
    )
}

/// The access token of a `$connect`: `?token=` or, for browsers, an entry of
/// `Sec-WebSocket-Protocol` (which the response must then echo).
fn connect_token(req: &ApiGatewayWebsocketProxyRequest) -> (Option<String>, Option<String>) {
    if let Some(t) = req.query_string_parameters.first("token") {
        return (Some(t.to_owned()), None);
    }
    let protocol = req
        .headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find(|p| p.matches('.').count() == 2)
        })
        .map(str::to_owned);
    (protocol.clone(), protocol)
}

/// Handles one WebSocket event, the same under API Gateway and the local gateway.
pub async fn handle(
    realtime: &RealtimeService,
    req: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let ctx = &req.request_context;
    let connection_id = ctx.connection_id.clone().unwrap_or_default();
    match ctx.route_key.as_deref().unwrap_or(DEFAULT) {
        CONNECT => {
            let (token, protocol) = connect_token(&req);
            let claimed_user = req.query_string_parameters.first("userId");
            match realtime
                .connect(&connection_id, token.as_deref(), claimed_user)
                .await
            {
                Ok(_) => {
                    let mut headers = HeaderMap::new();
                    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
                        headers.insert("sec-websocket-protocol", p);
                    }
                    response(200, None, headers)
                }
                Err(e) => error_response(&e),
            }
        }
        DISCONNECT => match realtime.disconnect(&connection_id).await {
            Ok(()) => response(200, None, HeaderMap::new()),
            Err(e) => error_response(&e),
        },
        _ => {
            let body = req.body.clone().unwrap_or_default();
            let text = if req.is_base64_encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(&body)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default()
            } else {
                body
            };
            match realtime.frame(&connection_id, &text).await {
                Ok(()) => response(200, None, HeaderMap::new()),
                Err(e) => error_response(&e),
            }
        }
    }
}
