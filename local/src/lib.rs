//! `whatspe-local`: API Gateway and the event sources around the functions' own routers, on
//! one port. In-memory stores by default; the AWS adapters when an endpoint is configured.
//!
//! Only this crate serves `/_local/*`; no Lambda ever does.

use async_trait::async_trait;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use whatspe::Error;
use whatspe::app::{App, Ports, QueueNotifier};
use whatspe::aws::dynamo;
use whatspe::clock::{Clock, SystemClock};
use whatspe::config::Config;
use whatspe::domain::PhoneNumber;
use whatspe::domain::UserId;
use whatspe::error::BoxError;
use whatspe::frames::ServerFrame;
use whatspe::memory::{MemoryQueue, RecordingNotifier, RecordingPush, SmsOutbox, SmsRecord};
use whatspe::ports::Notifier;
use whatspe::ports::SmsSender;

pub mod blobs;
pub mod openapi;
pub mod queue;
pub mod stream;
pub mod web;
pub mod ws;

use ws::{LocalConnectionGateway, Sockets, WsState};

/// Where state lives.
// Built once per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// Embedded in-memory stores (zero set-up), on the given clock.
    Memory { clock: Arc<dyn Clock> },
    /// The DynamoDB, SNS and SQS adapters on the endpoint(s) of `sdk` (moto, DynamoDB Local,
    /// AWS); missing tables and the delivery queue are created from the code's definitions.
    Aws { sdk: aws_config::SdkConfig },
}

impl Backend {
    pub fn memory() -> Self {
        Self::Memory {
            clock: Arc::new(SystemClock),
        }
    }
}

/// Emulation settings (API Gateway's and SQS's, shortened by tests).
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a delivery record stays invisible after a failed attempt (the local queue).
    pub visibility_timeout: Duration,
    /// Idle sockets are closed after this (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// Whether the SQS event source feeds the `push` function (like an event source
    /// mapping's `Enabled`); off, jobs stay on the queue for inspection.
    pub event_source: bool,
    /// Whether the functions post frames through the HTTP `/@connections` API with the real
    /// management-API client (always on an AWS endpoint) rather than in process.
    pub management_api_over_http: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            idle_timeout: ws::IDLE_TIMEOUT,
            event_source: true,
            management_api_over_http: false,
        }
    }
}

/// The assembled gateway: its router, and what the tests observe — the SMS outbox, the
/// real-time events the functions emitted, the delivery queue's jobs (on the memory backend;
/// on the AWS backend jobs go to SQS), the mobile pushes (memory backend) and the sockets.
pub struct Gateway {
    pub router: Router,
    pub outbox: Arc<SmsOutbox>,
    pub notifier: Arc<RecordingNotifier>,
    pub queue: Arc<MemoryQueue>,
    /// The in-memory messages stream the relay reads (memory backend).
    pub stream: Arc<whatspe::memory::MessageStream>,
    pub push: Arc<RecordingPush>,
    pub sockets: Arc<Sockets>,
    /// Where the functions post frames (`POST /@connections/{id}`): this gateway.
    pub management_api: Arc<LocalConnectionGateway>,
    /// The in-memory blobs whose URLs this gateway serves (memory backend; on the AWS backend
    /// the URLs are S3's). Set its base URL once the gateway's address is known.
    pub blobs: Option<Arc<whatspe::memory::MemoryBlobs>>,
    /// The media service (its sweep runs from `POST /_local/media/sweep`).
    pub media: Arc<whatspe::services::MediaService>,
}

/// Every function's HTTP routes, as the one REST service the gateway serves.
fn function_routes(app: App) -> Router {
    let routes = auth_otp::routes()
        .with_state(app.clone().into())
        .merge(contacts::routes().with_state(app.clone().into()))
        .merge(send_message::routes().with_state(app.clone().into()))
        .merge(get_messages::routes().with_state(app.clone().into()))
        .merge(devices::routes().with_state(app.clone().into()))
        .merge(media::routes().with_state(app.clone().into()))
        .merge(groups::routes().with_state(app.into()));
    whatspe::http::service(routes, ())
}

/// Builds the gateway over `backend` with the default emulation settings.
pub async fn build(config: Config, backend: Backend) -> Result<Gateway, BoxError> {
    build_with(config, backend, Options::default()).await
}

/// An SDK configuration for the local management-API client (any credentials do).
async fn local_sdk(base: Option<&aws_config::SdkConfig>) -> aws_config::SdkConfig {
    match base {
        Some(sdk) => sdk.clone(),
        None => {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "whatspe-local",
                ))
                .load()
                .await
        }
    }
}

/// Builds the gateway over `backend` and starts its delivery loop (the SQS event source).
pub async fn build_with(
    config: Config,
    backend: Backend,
    options: Options,
) -> Result<Gateway, BoxError> {
    let local_queue = Arc::new(MemoryQueue::new(options.visibility_timeout));
    let recorder = Arc::new(RecordingNotifier::default());
    let table_prefix = config.table_prefix.clone();
    let mut blobs = None;
    let (mut ports, handles, sqs, sdk_for_gateway) = match backend {
        Backend::Memory { clock } => {
            let (mut ports, handles) = Ports::in_memory(clock);
            ports.queue = local_queue.clone();
            blobs = Some(handles.blobs.clone());
            (ports, handles, None, local_sdk(None).await)
        }
        Backend::Aws { sdk } => {
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            dynamo::ensure_tables(&client, &config.table_prefix).await?;
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let queue_url = match &config.delivery_queue_url {
                Some(url) => url.clone(),
                None => {
                    whatspe::aws::sqs::ensure_queue(
                        &sqs,
                        &format!("{}delivery", config.table_prefix),
                    )
                    .await?
                }
            };
            let mut config = config.clone();
            let bucket = match &config.media_bucket {
                Some(b) => b.clone(),
                None => local_bucket_name(&config.table_prefix),
            };
            config.media_bucket = Some(bucket.clone());
            whatspe::aws::s3::ensure_bucket(&whatspe::aws::s3::client(&sdk), &bucket).await?;
            let (_, handles) = Ports::in_memory(Arc::new(SystemClock));
            let mut ports = Ports::aws(&config, &sdk, &queue_url, handles.gateway.clone());
            // Codes still go through SNS, and are also kept for GET /_local/sms.
            ports.sms = Arc::new(Tee {
                outbox: handles.outbox.clone(),
                inner: ports.sms,
            });
            (
                ports,
                handles,
                Some((sqs, queue_url)),
                local_sdk(Some(&sdk)).await,
            )
        }
    };
    let sockets = Arc::new(Sockets::default());
    let gateway = Arc::new(match sqs.is_some() || options.management_api_over_http {
        true => LocalConnectionGateway::over_http(sockets.clone(), sdk_for_gateway.clone()),
        false => LocalConnectionGateway::in_process(sockets.clone()),
    });
    let management_api = gateway.clone();
    ports.gateway = gateway.clone();
    // Events are recorded for the local view and delivered through the queue, as on AWS.
    ports.notifier = Arc::new(RecordAndDeliver {
        record: recorder.clone(),
        deliver: QueueNotifier(ports.queue.clone()),
    });
    let local = LocalState {
        outbox: handles.outbox.clone(),
        default_cc: config.default_country_code.clone(),
        queue: local_queue.clone(),
        sqs: sqs.clone(),
    };
    let app = App::new(config, ports);
    let media = app.media.clone();
    // The messages table's stream → the relay function (the transactional outbox).
    match &sqs {
        None => {
            tokio::spawn(stream::run_memory(handles.stream.clone(), app.clone()));
        }
        Some(_) => {
            let table = dynamo::TableNames::new(&table_prefix).messages;
            stream::run_aws(&sdk_for_gateway, &table, app.clone()).await?;
        }
    }
    if options.event_source {
        match sqs {
            None => {
                tokio::spawn(queue::run_local(local_queue.clone(), app.clone()));
            }
            Some((client, url)) => {
                tokio::spawn(queue::run_sqs(client, url, app.clone()));
            }
        }
    }
    let ws_state = WsState {
        app: app.clone(),
        sockets: sockets.clone(),
        gateway,
        idle_timeout: options.idle_timeout,
    };
    let router = function_routes(app)
        .merge(
            Router::new()
                .route("/_local/sms", get(sms_outbox))
                .route("/_local/dlq/redrive", post(redrive_dead_letters))
                .with_state(local),
        )
        .merge(blobs::routes(blobs.clone(), media.clone()))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(openapi_page))
        .merge(web::routes())
        .merge(
            Router::new()
                .route("/ws", get(ws::upgrade))
                .route(
                    "/@connections/{id}",
                    post(ws::post_to_connection)
                        .get(ws::get_connection)
                        .delete(ws::delete_connection),
                )
                .with_state(ws_state),
        )
        .layer(middleware::from_fn(source_ip))
        .layer(middleware::from_fn(log_request));
    Ok(Gateway {
        router,
        outbox: handles.outbox,
        notifier: recorder,
        queue: local_queue,
        stream: handles.stream,
        push: handles.push,
        sockets,
        management_api,
        blobs,
        media,
    })
}

/// The media bucket the local gateway creates on an AWS endpoint when none is configured:
/// the table prefix made a valid bucket name (`whatspe_` → `whatspe-media`).
pub fn local_bucket_name(prefix: &str) -> String {
    let mut name: String = format!("{prefix}media")
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(63);
    name
}

/// The local [`Notifier`]: records every event (tests assert them) and delivers it through
/// the delivery queue like the deployed one.
struct RecordAndDeliver {
    record: Arc<RecordingNotifier>,
    deliver: QueueNotifier,
}

#[async_trait]
impl Notifier for RecordAndDeliver {
    async fn notify(&self, to: &UserId, frame: &ServerFrame) -> Result<(), BoxError> {
        self.record.notify(to, frame).await?;
        self.deliver.notify(to, frame).await
    }
}

/// Serves `router` on `listener` until `shutdown` resolves. Each connection's peer address
/// becomes its requests' client IP (see [`source_ip`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// API Gateway's request context with `identity.sourceIp` = the TCP peer's address, as API
/// Gateway hands it to a function (lambda_http puts it in the request's extensions); the
/// functions read the client IP from there ([`whatspe::http::ClientIp`]), never from a
/// header.
async fn source_ip(mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer {
        req.extensions_mut()
            .insert(whatspe::http::ClientIp::context(ip));
    }
    next.run(req).await
}

struct Tee {
    outbox: Arc<SmsOutbox>,
    inner: Arc<dyn SmsSender>,
}

#[async_trait]
impl SmsSender for Tee {
    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<(), BoxError> {
        self.inner.send(to, body).await?;
        self.outbox.send(to, body).await
    }
}

#[derive(Clone)]
struct LocalState {
    outbox: Arc<SmsOutbox>,
    default_cc: whatspe::domain::CountryCode,
    /// The in-process delivery queue (memory backend).
    queue: Arc<MemoryQueue>,
    /// The real delivery queue (AWS backend): client and URL.
    sqs: Option<(aws_sdk_sqs::Client, String)>,
}

/// `POST /_local/dlq/redrive`: moves every dead-lettered delivery job back to the delivery
/// queue (the in-process one, or the real one on an AWS endpoint): `{"moved": n}`.
async fn redrive_dead_letters(
    State(local): State<LocalState>,
) -> Result<Json<serde_json::Value>, Error> {
    let moved = match &local.sqs {
        None => local.queue.redrive(),
        Some((client, url)) => {
            let dlq = whatspe::aws::sqs::dead_letter_queue_url(client, url)
                .await
                .map_err(Error::Unavailable)?;
            whatspe::aws::sqs::redrive(client, &dlq, url)
                .await
                .map_err(Error::Unavailable)?
        }
    };
    Ok(Json(serde_json::json!({ "moved": moved })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SmsQuery {
    phone_number: Option<String>,
}

/// `GET /_local/sms?phoneNumber=`: the texts sent to that number (every text without it),
/// oldest first.
async fn sms_outbox(
    State(local): State<LocalState>,
    query: Result<Query<SmsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<SmsRecord>>, Error> {
    let Query(q) = query.map_err(|e| Error::validation("invalid_query", e.body_text()))?;
    // `?phoneNumber=+91…` typed literally arrives as " 91…" (a query-string `+` is a space).
    let phone = q
        .phone_number
        .map(|p| match p.strip_prefix(' ') {
            Some(rest) => format!("+{rest}"),
            None => p,
        })
        .map(|p| PhoneNumber::parse(&p, &local.default_cc))
        .transpose()?;
    Ok(Json(local.outbox.messages(phone.as_ref())))
}

/// `GET /api/openapi.json` (local only): the REST API's OpenAPI document.
async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        openapi::json(),
    )
}

/// `GET /api/docs` (local only): the OpenAPI document as a page to read.
async fn openapi_page() -> axum::response::Html<String> {
    axum::response::Html(openapi::html())
}

/// One log line per request: method, path (never the query: it may carry tokens), status, time.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let res = next.run(req).await;
    tracing::info!(
        %method,
        path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    res
}
