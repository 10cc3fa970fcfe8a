//! `whatspe-coldstart`: starts every function's release `bootstrap` (and the `lambda-hello`
//! floor) against a mock Lambda Runtime API, `--runs` times each, and reports the init time
//! (process start → its first `GET …/invocation/next`), the first invocation (event served →
//! its response), peak RSS and binary size. The events are ones each function answers without
//! an AWS call (a request without a token, an empty batch): this measures the runtime and our
//! code, not AWS latency. The same listener answers Secrets Manager's `GetSecretValue`, so each
//! function reads its secrets at init by ARN, as on Lambda (over loopback HTTP, not TLS).
//!
//! ```text
//! cargo build --release -p whatspe-coldstart -p auth_otp -p contacts -p send_message \
//!   -p get_messages -p ws_connect -p push -p devices -p groups -p relay -p media
//! target/release/whatspe-coldstart [--runs 20] [--dir target/release]
//! ```

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The functions and the event each gets: (binary, event).
fn functions() -> Vec<(&'static str, Value)> {
    let rest = |method: &str, path: &str| {
        json!({
            "resource": "/{proxy+}", "path": path, "httpMethod": method,
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"content-type": ["application/json"]},
            "queryStringParameters": null, "multiValueQueryStringParameters": null,
            "pathParameters": {"proxy": path.trim_start_matches('/')}, "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r", "stage": "v1",
                "requestId": "cold-start", "resourcePath": "/{proxy+}", "httpMethod": method,
                "apiId": "api", "path": format!("/v1{path}"),
                "identity": {"sourceIp": "127.0.0.1"}
            },
            "body": if method == "POST" { Some("{}") } else { None },
            "isBase64Encoded": false
        })
    };
    let connect = json!({
        "headers": {}, "isBase64Encoded": false,
        "requestContext": {
            "routeKey": "$connect", "eventType": "CONNECT", "connectionId": "Y29sZC1zdGFydA=",
            "domainName": "ws.example", "stage": "v1", "apiId": "api", "requestId": "cold-start",
            "connectedAt": 0, "requestTimeEpoch": 0, "identity": {"sourceIp": "127.0.0.1"}
        }
    });
    let empty = json!({ "Records": [] });
    vec![
        ("auth_otp", rest("POST", "/api/auth/request-otp")),
        ("contacts", rest("GET", "/api/contacts")),
        ("send_message", rest("POST", "/api/messages")),
        ("get_messages", rest("GET", "/api/chats")),
        ("devices", rest("GET", "/api/devices")),
        ("groups", rest("GET", "/api/groups")),
        ("media", rest("POST", "/api/media/uploads")),
        ("ws_connect", connect),
        ("push", empty.clone()),
        ("relay", empty),
        // Its invocation is the sweep itself (S3 and DynamoDB calls): only its init is
        // comparable; with no AWS reachable the first invocation ends in an error.
        ("media_sweep", json!({})),
        ("lambda-hello", json!({ "hello": "world" })),
    ]
}

enum Seen {
    Next(Instant),
    Done(Instant, bool),
}

/// The current cold start: its event, where to report, whether the event was served.
type Run = (String, mpsc::UnboundedSender<Seen>, bool);

#[derive(Clone)]
struct Mock(Arc<Mutex<Option<Run>>>);

async fn next(State(m): State<Mock>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let now = Instant::now();
    let event = {
        let mut run = m.0.lock().unwrap();
        match run.as_mut() {
            Some((event, tx, served)) if !*served => {
                *served = true;
                let _ = tx.send(Seen::Next(now));
                Some(event.clone())
            }
            _ => None,
        }
    };
    match event {
        Some(body) => {
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                .to_string();
            let headers = [
                ("lambda-runtime-aws-request-id", "cold-start-1".to_owned()),
                ("lambda-runtime-deadline-ms", deadline),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ];
            (headers, body).into_response()
        }
        // The process is killed while it waits for its second event.
        None => std::future::pending().await,
    }
}

async fn done(
    State(m): State<Mock>,
    Path((_, outcome)): Path<(String, String)>,
    _: HeaderMap,
) -> &'static str {
    if let Some((_, tx, _)) = m.0.lock().unwrap().as_ref() {
        let _ = tx.send(Seen::Done(Instant::now(), outcome == "response"));
    }
    ""
}

/// Secrets Manager's `GetSecretValue` (the only AWS call a function makes at cold start), on
/// the mock API's listener, which is also the functions' `AWS_ENDPOINT_URL`: each function
/// reads its secrets at init as on Lambda, a signed request and its parsed answer, over
/// loopback HTTP instead of TLS to the regional endpoint. Any other AWS call is refused.
async fn aws(headers: HeaderMap, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json_type = [("content-type", "application/x-amz-json-1.1")];
    let arn = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|b| b["SecretId"].as_str().map(str::to_owned));
    match (target, arn) {
        ("secretsmanager.GetSecretValue", Some(arn)) => {
            let answer = json!({
                "ARN": arn, "Name": "bench", "VersionId": "v1",
                "SecretString": SECRET, "VersionStages": ["AWSCURRENT"], "CreatedDate": 0
            });
            (json_type, answer.to_string()).into_response()
        }
        _ => (
            axum::http::StatusCode::BAD_REQUEST,
            json_type,
            json!({"__type": "UnrecognizedClientException", "message": "cold-start mock"})
                .to_string(),
        )
            .into_response(),
    }
}

/// The value of every secret the mock serves.
const SECRET: &str = "cold-start-benchmark-secret-0123456789abcdef";

async fn init_error(State(m): State<Mock>) -> &'static str {
    if let Some((_, tx, _)) = m.0.lock().unwrap().as_ref() {
        let _ = tx.send(Seen::Done(Instant::now(), false));
    }
    ""
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One cold start: (init, first invocation, peak RSS in KB, whether it answered). Each gets a
/// mock API of its own: a killed process's last `next` request must not take the following
/// process's event.
async fn cold_start(
    exe: &std::path::Path,
    event: &Value,
) -> Result<(Duration, Duration, u64, bool), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mock = Mock(Arc::new(Mutex::new(Some((event.to_string(), tx, false)))));
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{outcome}", post(done))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .route("/", post(aws))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let api = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let api = api.as_str();
    let endpoint = format!("http://{api}");
    let arn = |name: &str| format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}");
    let started = Instant::now();
    let mut child = Command::new(exe)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "bench"),
            ("AWS_REGION", "us-east-1"),
            // The mock: Secrets Manager answers, every other call is refused at once.
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_SESSION_TOKEN", "bench"),
            // As on Lambda: the secrets' ARNs, not their values.
            ("WHATSPE_JWT_SECRET_ARN", arn("jwt").as_str()),
            ("WHATSPE_OTP_SECRET_ARN", arn("otp").as_str()),
            ("WHATSPE_WEBHOOK_SECRET_ARN", arn("webhook").as_str()),
            (
                "WHATSPE_DELIVERY_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/1/delivery.fifo",
            ),
            ("WHATSPE_WS_ENDPOINT", "https://ws.example/v1"),
            ("WHATSPE_MEDIA_BUCKET", "bench-media"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let pid = child.id();
    let wait = async {
        let mut init = None;
        while let Some(seen) = rx.recv().await {
            match seen {
                Seen::Next(at) => init = Some(at),
                Seen::Done(at, ok) => {
                    let rss = peak_rss_kb(pid).unwrap_or(0);
                    return match init {
                        Some(i) => Ok((i - started, at - i, rss, ok)),
                        None => Err("init error".to_owned()),
                    };
                }
            }
        }
        Err("the mock API stopped".to_owned())
    };
    let result = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| Err("no answer within 20 s".into()));
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut runs = 20usize;
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--runs", Some(n)) => runs = n.parse().expect("--runs N"),
            ("--dir", Some(d)) => dir = Some(d.into()),
            _ => {
                eprintln!("usage: whatspe-coldstart [--runs 20] [--dir target/release]");
                std::process::exit(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(PathBuf::from))
            .unwrap_or_default()
    });
    println!("{runs} cold starts each, binaries in {}", dir.display());
    println!(
        "{:<14} {:>12} {:>9} {:>9} {:>11} {:>9} {:>8}",
        "function", "binary B", "init p50", "init p90", "1st inv p50", "peak RSS", "answered"
    );
    for (name, event) in functions() {
        let exe = dir.join(name);
        if !exe.exists() {
            println!("{name:<14} missing: cargo build --release -p {name}");
            continue;
        }
        let size = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
        let (mut inits, mut firsts, mut rss, mut answered) = (Vec::new(), Vec::new(), 0, 0);
        for _ in 0..runs {
            match cold_start(&exe, &event).await {
                Ok((init, first, kb, ok)) => {
                    inits.push(init);
                    firsts.push(first);
                    rss = rss.max(kb);
                    answered += usize::from(ok);
                }
                Err(e) => println!("{name}: {e}"),
            }
        }
        if inits.is_empty() {
            continue;
        }
        inits.sort();
        firsts.sort();
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!(
            "{:<14} {:>12} {:>9} {:>9} {:>11} {:>6.1} MB {:>5}/{runs}",
            name,
            size,
            ms(percentile(&inits, 50.0)),
            ms(percentile(&inits, 90.0)),
            ms(percentile(&firsts, 50.0)),
            rss as f64 / 1024.0,
            answered,
        );
    }
}
