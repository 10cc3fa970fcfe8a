//! `whatspe-local`: API Gateway and the event sources around the functions' own routers, on
//! one port. In-memory stores by default; the AWS adapters when an endpoint is configured.
//!
//! Only this crate serves `/_local/*`; no Lambda ever does.

use async_trait::async_trait;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use whatspe::app::{App, MemoryHandles, Ports};
use whatspe::clock::{Clock, SystemClock};
use whatspe::config::Config;
use whatspe::domain::PhoneNumber;
use whatspe::error::BoxError;
use whatspe::memory::{MemoryQueue, RecordingNotifier, SmsOutbox, SmsRecord};
use whatspe::ports::SmsSender;
use whatspe::{Error, dynamo};

/// Where state lives.
// Built once per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// Embedded in-memory stores (zero set-up), on the given clock.
    Memory { clock: Arc<dyn Clock> },
    /// The DynamoDB and SNS adapters on the endpoint(s) of `sdk` (moto, DynamoDB Local, AWS);
    /// missing tables are created from the code's table definitions.
    Aws { sdk: aws_config::SdkConfig },
}

impl Backend {
    pub fn memory() -> Self {
        Self::Memory {
            clock: Arc::new(SystemClock),
        }
    }
}

/// The assembled gateway: its router, the SMS outbox behind `GET /_local/sms`, the
/// real-time events the functions emitted and the delivery jobs they queued (on the memory
/// backend; on the AWS backend jobs go to the SQS queue).
pub struct Gateway {
    pub router: Router,
    pub outbox: Arc<SmsOutbox>,
    pub notifier: Arc<RecordingNotifier>,
    pub queue: Arc<MemoryQueue>,
}

/// Every function's routes, as the one HTTP service the gateway serves.
fn function_routes(app: App) -> Router {
    let routes = auth_otp::routes()
        .merge(contacts::routes())
        .merge(send_message::routes())
        .merge(get_messages::routes());
    whatspe::http::service(routes, app)
}

/// Builds the gateway over `backend`.
pub async fn build(config: Config, backend: Backend) -> Result<Gateway, BoxError> {
    let (ports, handles) = match backend {
        Backend::Memory { clock } => Ports::in_memory(clock),
        Backend::Aws { sdk } => {
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            dynamo::ensure_tables(&client, &config.table_prefix).await?;
            let queue_url = match &config.delivery_queue_url {
                Some(url) => url.clone(),
                None => {
                    let sqs = aws_sdk_sqs::Client::new(&sdk);
                    whatspe::sqs::ensure_queue(&sqs, &format!("{}delivery", config.table_prefix))
                        .await?
                }
            };
            let mut ports = Ports::aws(&config, &sdk, &queue_url);
            // Codes still go through SNS, and are also kept for GET /_local/sms; real-time
            // events are recorded for the local view.
            let handles = MemoryHandles {
                outbox: Arc::new(SmsOutbox::new(ports.clock.clone())),
                notifier: Arc::new(RecordingNotifier::default()),
                queue: Arc::new(MemoryQueue::default()),
            };
            ports.sms = Arc::new(Tee {
                outbox: handles.outbox.clone(),
                inner: ports.sms,
            });
            ports.notifier = handles.notifier.clone();
            (ports, handles)
        }
    };
    let MemoryHandles {
        outbox,
        notifier,
        queue,
    } = handles;
    let local = LocalState {
        outbox: outbox.clone(),
        default_cc: config.default_country_code.clone(),
    };
    let app = App::new(config, ports);
    let router = function_routes(app)
        .merge(
            Router::new()
                .route("/_local/sms", get(sms_outbox))
                .with_state(local),
        )
        .layer(middleware::from_fn(log_request));
    Ok(Gateway {
        router,
        outbox,
        notifier,
        queue,
    })
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
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
