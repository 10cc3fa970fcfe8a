//! API Gateway's WebSocket API, emulated: `/ws` turns a socket's life into `$connect`,
//! `$default` and `$disconnect` events for the `ws_connect` function, and
//! `/@connections/{id}` is the management API (same wire format: the real
//! aws-sdk-apigatewaymanagement client posts through it), with 410 for closed connections.

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use whatspe::app::App;
use whatspe::aws::apigw::ApiGatewayConnections;
use whatspe::ports::{ConnectionGateway, PostError};

/// API Gateway's limits.
pub const MAX_MESSAGE_BYTES: usize = whatspe::frames::MAX_FRAME_BYTES;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Bytes read from a socket per read call. tungstenite zero-fills this much of its buffer
/// before every read attempt, and the socket task polls its reader again after every frame it
/// writes: its 128 KiB default cost a 128 KiB `memset` per outgoing frame (6 % of the
/// gateway's CPU under load). A larger message is read in several calls; its limit is
/// [`MAX_MESSAGE_BYTES`].
const READ_CHUNK: usize = 4096;

enum Outgoing {
    Text(String),
    Close(u16, &'static str),
}

struct Socket {
    tx: mpsc::UnboundedSender<Outgoing>,
    connected_at: DateTime<Utc>,
    last_active: DateTime<Utc>,
}

/// The open sockets, by connection id.
#[derive(Default)]
pub struct Sockets(Mutex<HashMap<String, Socket>>);

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Socket>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// How many sockets are open.
    pub fn open(&self) -> usize {
        self.lock().len()
    }
    fn touch(&self, id: &str) {
        if let Some(s) = self.lock().get_mut(id) {
            s.last_active = Utc::now();
        }
    }
}

/// The `ConnectionGateway` the functions use locally. On the memory backend it hands frames
/// straight to the sockets, in process: API Gateway's management API is a network hop with
/// SigV4 on AWS, and the Lambda functions pay it there through [`ApiGatewayConnections`], but
/// looping it back over HTTP here would only measure the emulation. On an AWS endpoint (and
/// when [`crate::Options::management_api_over_http`] asks) it is the real management-API
/// client, pointed at this gateway's `/@connections` once its address is known (at the first
/// WebSocket upgrade).
pub struct LocalConnectionGateway {
    sockets: Arc<Sockets>,
    /// Over HTTP: the SDK settings of the management-API client.
    sdk: Option<aws_config::SdkConfig>,
    client: OnceLock<ApiGatewayConnections>,
}

impl LocalConnectionGateway {
    /// Posts to `sockets` directly.
    pub fn in_process(sockets: Arc<Sockets>) -> Self {
        Self {
            sockets,
            sdk: None,
            client: OnceLock::new(),
        }
    }
    /// Posts through `POST /@connections/{id}` with the real management-API client.
    pub fn over_http(sockets: Arc<Sockets>, sdk: aws_config::SdkConfig) -> Self {
        Self {
            sockets,
            sdk: Some(sdk),
            client: OnceLock::new(),
        }
    }
    /// Points the management API at this gateway (`host` = `ip:port`); nothing to do in
    /// process. The first call wins: `main` calls it with the listener's address; otherwise
    /// the first upgrade's `Host`.
    pub fn point_at(&self, host: &str) {
        if let Some(sdk) = &self.sdk {
            self.client
                .get_or_init(|| ApiGatewayConnections::new(sdk, &format!("http://{host}")));
        }
    }
}

#[async_trait]
impl ConnectionGateway for LocalConnectionGateway {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError> {
        match (&self.sdk, self.client.get()) {
            (None, _) => self.sockets.post(connection_id, data),
            (Some(_), Some(c)) => c.post(connection_id, data).await,
            // No socket ever opened: no connection can be live.
            (Some(_), None) => Err(PostError::Gone),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        match (&self.sdk, self.client.get()) {
            (None, _) => self.sockets.close(connection_id),
            (Some(_), Some(c)) => c.close(connection_id).await,
            (Some(_), None) => Err(PostError::Gone),
        }
    }
}

impl Sockets {
    /// Queues `data` as a text frame on the socket (what `POST /@connections/{id}` does).
    pub fn post(&self, id: &str, data: &[u8]) -> Result<(), PostError> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(PostError::Failed(
                "PayloadTooLargeException: Message too long".into(),
            ));
        }
        let text = String::from_utf8_lossy(data).into_owned();
        match self.lock().get(id) {
            Some(socket) if socket.tx.send(Outgoing::Text(text)).is_ok() => Ok(()),
            _ => Err(PostError::Gone),
        }
    }

    /// Closes the socket with 1000 (what `DELETE /@connections/{id}` does).
    pub fn close(&self, id: &str) -> Result<(), PostError> {
        match self.lock().get(id) {
            Some(socket)
                if socket
                    .tx
                    .send(Outgoing::Close(1000, "Closed by the server"))
                    .is_ok() =>
            {
                Ok(())
            }
            _ => Err(PostError::Gone),
        }
    }
}

/// What the WebSocket routes need.
#[derive(Clone)]
pub struct WsState {
    pub app: App,
    pub sockets: Arc<Sockets>,
    pub gateway: Arc<LocalConnectionGateway>,
    pub idle_timeout: Duration,
}

fn new_connection_id() -> String {
    base64::engine::general_purpose::STANDARD.encode(whatspe::crypto::random_bytes::<12>())
}

fn event(
    route: &str,
    connection_id: &str,
    host: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<(String, bool)>,
) -> Option<ApiGatewayWebsocketProxyRequest> {
    let query: HashMap<String, String> = query
        .and_then(|q| format!("/?{q}").parse::<Uri>().ok())
        .and_then(|uri| axum::extract::Query::<HashMap<String, String>>::try_from_uri(&uri).ok())
        .map(|q| q.0)
        .unwrap_or_default();
    let headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let now = Utc::now().timestamp_millis();
    let (body, is_base64) = body.map_or((None, false), |(b, e)| (Some(b), e));
    let event_type = match route {
        ws_connect::CONNECT => "CONNECT",
        ws_connect::DISCONNECT => "DISCONNECT",
        _ => "MESSAGE",
    };
    serde_json::from_value(serde_json::json!({
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "domainName": host,
            "stage": "local",
            "apiId": "local",
            "requestId": new_connection_id(),
            "connectedAt": now,
            "requestTimeEpoch": now,
            "identity": { "sourceIp": "127.0.0.1" },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }))
    .map_err(|e| tracing::error!(error = %e, "building a WebSocket event failed"))
    .ok()
}

/// `GET /ws?token=…`: the upgrade, refused with `$connect`'s status when it is not 200.
pub async fn upgrade(
    State(s): State<WsState>,
    ws: WebSocketUpgrade,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    s.gateway.point_at(&host);
    let id = new_connection_id();
    let Some(connect) = event(ws_connect::CONNECT, &id, &host, uri.query(), &headers, None) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let answer = ws_connect::handle(&s.app.realtime, connect).await;
    if answer.status_code != 200 {
        let status =
            StatusCode::from_u16(answer.status_code as u16).unwrap_or(StatusCode::FORBIDDEN);
        let body = match answer.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) => t,
            _ => String::new(),
        };
        return (status, [("content-type", "application/json")], body).into_response();
    }
    let mut ws = ws
        .max_message_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_CHUNK);
    if let Some(p) = answer
        .headers
        .get("sec-websocket-protocol")
        .and_then(|p| p.to_str().ok())
    {
        ws = ws.protocols([p.to_owned()]);
    }
    ws.on_upgrade(move |socket| run(s, id, host, socket))
}

async fn run(s: WsState, id: String, host: String, socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    s.sockets.lock().insert(
        id.clone(),
        Socket {
            tx,
            connected_at: Utc::now(),
            last_active: Utc::now(),
        },
    );
    let (mut sink, mut stream) = socket.split();
    let no_headers = HeaderMap::new();
    loop {
        let idle = tokio::time::sleep(s.idle_timeout);
        tokio::select! {
            incoming = stream.next() => {
                let body = match incoming {
                    Some(Ok(Message::Text(t))) => (t.to_string(), false),
                    Some(Ok(Message::Binary(b))) => (base64::engine::general_purpose::STANDARD.encode(&b), true),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        s.sockets.touch(&id);
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        tracing::info!(connection = %id, error = %e, "closing the socket");
                        if let Some((code, reason)) = close_code(e) {
                            let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        }
                        break;
                    }
                };
                s.sockets.touch(&id);
                if let Some(ev) = event(ws_connect::DEFAULT, &id, &host, None, &no_headers, Some(body)) {
                    ws_connect::handle(&s.app.realtime, ev).await;
                }
            }
            outgoing = rx.recv() => match outgoing {
                Some(Outgoing::Text(t)) => {
                    if sink.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                None => break,
            },
            _ = idle => {
                // API Gateway closes connections idle for 10 minutes.
                let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "Going away".into() }))).await;
                break;
            }
        }
    }
    s.sockets.lock().remove(&id);
    if let Some(ev) = event(ws_connect::DISCONNECT, &id, &host, None, &no_headers, None) {
        ws_connect::handle(&s.app.realtime, ev).await;
    }
}

/// The close code for a read error (RFC 6455 §7.4.1), or none when the connection is gone
/// anyway. Like API Gateway, a message over 128 KB gets 1009.
fn close_code(e: axum::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
    match e.into_inner().downcast::<WsError>().map(|b| *b) {
        Ok(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
            Some((1009, "Message too big"))
        }
        Ok(WsError::Capacity(_)) => Some((1009, "Frame too big")),
        Ok(WsError::Utf8(_)) => Some((1007, "Invalid frame payload data")),
        Ok(WsError::Protocol(_)) => Some((1002, "Protocol error")),
        Ok(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_)) => None,
        _ => Some((1011, "Internal error")),
    }
}

fn gone() -> Response {
    let body = serde_json::json!({ "message": "Gone" }).to_string();
    (
        StatusCode::GONE,
        [
            ("x-amzn-errortype", "GoneException"),
            ("content-type", "application/json"),
        ],
        body,
    )
        .into_response()
}

/// `POST /@connections/{id}`: sends the body to the socket as a text frame.
pub async fn post_to_connection(
    State(s): State<WsState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_MESSAGE_BYTES {
        let msg = serde_json::json!({ "message": "Message too long" }).to_string();
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [("x-amzn-errortype", "PayloadTooLargeException")],
            msg,
        )
            .into_response();
    }
    match s.sockets.post(&id, &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => gone(),
    }
}

/// `GET /@connections/{id}`: the connection's details.
pub async fn get_connection(State(s): State<WsState>, Path(id): Path<String>) -> Response {
    match s.sockets.lock().get(&id) {
        Some(socket) => axum::Json(serde_json::json!({
            "connectedAt": socket.connected_at,
            "identity": { "sourceIp": "127.0.0.1" },
            "lastActiveAt": socket.last_active,
        }))
        .into_response(),
        None => gone(),
    }
}

/// `DELETE /@connections/{id}`: closes the connection.
pub async fn delete_connection(State(s): State<WsState>, Path(id): Path<String>) -> Response {
    match s.sockets.close(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}
