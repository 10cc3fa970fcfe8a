//! `cargo run --release -p whatspe-local [-- --host 127.0.0.1 --port 3000 --store memory|aws]`

use std::net::SocketAddr;
use whatspe::config::Config;
use whatspe_local::Backend;

const USAGE: &str = "\
whatspe-local: the WhatsPe local gateway

USAGE: whatspe-local [--host HOST] [--port PORT] [--store memory|aws] [--threads N] [--init]
       whatspe-local --redrive-dlq
       whatspe-local --print-openapi

  --host   address to listen on (default 127.0.0.1)
  --port   port to listen on (default 3000; 0 picks a free one)
  --store  memory (default): embedded in-memory stores, no set-up
           aws: DynamoDB + SNS adapters on the endpoint in AWS_ENDPOINT_URL (moto, DynamoDB
                Local) or real AWS; the default when AWS_ENDPOINT_URL[_DYNAMODB] is set.
  --threads  worker threads (default: one per core); 1 runs everything on one thread,
             which spends less CPU per message but serves on one core (docs/performance.md)
  --init   with aws: create the missing tables and the delivery queue, print the queue URL
           and exit (for `cargo lambda watch` against an emulator).
  --redrive-dlq  move every job of the delivery queue's dead-letter queue back to the queue
                 (WHATSPE_DELIVERY_QUEUE_URL, or the local one on AWS_ENDPOINT_URL), print how
                 many, and exit. A running local gateway does the same at POST /_local/dlq/redrive.
  --print-openapi  print the REST API's OpenAPI document and exit
                   (`cargo run -p whatspe-local -- --print-openapi > docs/openapi.json`);
                   the gateway also serves it at /api/openapi.json.

Configuration comes from WHATSPE_* environment variables (see README); secrets that are not
set are generated at random for this process.";

struct Args {
    host: String,
    port: u16,
    aws: bool,
    init: bool,
    redrive: bool,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let endpoint_set = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let mut args = Args {
        host: "127.0.0.1".into(),
        port: 3000,
        aws: endpoint_set,
        init: false,
        redrive: false,
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => args.host = value()?,
            "--threads" => {
                args.threads = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or("--threads must be a number ≥ 1")?,
                )
            }
            "--port" => {
                args.port = value()?
                    .parse()
                    .map_err(|_| "--port must be 0-65535".to_owned())?
            }
            "--store" => {
                args.aws = match value()?.as_str() {
                    "memory" => false,
                    "aws" => true,
                    other => return Err(format!("--store must be memory or aws, not {other:?}")),
                }
            }
            "--init" => args.init = true,
            "--redrive-dlq" => args.redrive = true,
            "--print-openapi" => {
                print!("{}", whatspe_local::openapi::json());
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

async fn aws_sdk_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
        aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1"),
    );
    // An emulator accepts any credentials; do not make contributors invent some.
    let emulated = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some();
    if emulated
        && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        && std::env::var_os("AWS_PROFILE").is_none()
    {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "whatspe-local",
        ));
    }
    loader.load().await
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("whatspe-local: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        threads => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = threads {
                b.worker_threads(n);
            }
            b
        }
    };
    let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = runtime
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}").into())
        .and_then(|rt| rt.block_on(run(args)));
    if let Err(e) = result {
        eprintln!("whatspe-local: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::local_from_lookup(|k| std::env::var(k).ok())?;
    if args.redrive {
        let sdk = aws_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let url = match &config.delivery_queue_url {
            Some(url) => url.clone(),
            None => {
                let name = format!("{}delivery", config.table_prefix);
                whatspe::aws::sqs::ensure_queue(&sqs, &name).await?
            }
        };
        let dlq = whatspe::aws::sqs::dead_letter_queue_url(&sqs, &url).await?;
        let moved = whatspe::aws::sqs::redrive(&sqs, &dlq, &url).await?;
        println!("moved {moved} job(s) from {dlq} back to {url}");
        return Ok(());
    }
    if args.init {
        if !args.aws {
            return Err(
                "--init creates tables on an AWS endpoint: set AWS_ENDPOINT_URL or pass --store aws"
                    .into(),
            );
        }
        let sdk = aws_sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        whatspe::aws::dynamo::ensure_tables(&ddb, &config.table_prefix).await?;
        let name = format!("{}delivery", config.table_prefix);
        let url = whatspe::aws::sqs::ensure_queue(&aws_sdk_sqs::Client::new(&sdk), &name).await?;
        println!(
            "tables {}* ready; delivery queue: {url}",
            config.table_prefix
        );
        return Ok(());
    }
    let (backend, store) = if args.aws {
        (
            Backend::Aws {
                sdk: aws_sdk_config().await,
            },
            "DynamoDB + SNS (AWS adapters)",
        )
    } else {
        (Backend::memory(), "in-memory")
    };
    let gateway = whatspe_local::build(config, backend).await?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
                .map_err(|e| e.to_string())?
                .next()
                .ok_or_else(|| format!("cannot resolve {}", args.host))
        })?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    // Frames are posted back through this listener, whatever Host clients connect with.
    gateway.management_api.point_at(&addr.to_string());
    // Upload and download URLs point at this listener (memory backend).
    if let Some(blobs) = &gateway.blobs {
        let host = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        blobs.set_base_url(&format!("http://{host}"));
    }
    // Like the deployed schedule: every hour, uploads no message took within 24 h go.
    let media = gateway.media.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = media.sweep().await {
                tracing::warn!(error = %e, "media sweep failed");
            }
        }
    });
    println!("WhatsPe local gateway listening on http://{addr} ({store} stores)");
    println!("  WebSocket:  ws://{addr}/ws?token=<accessToken>");
    println!("  SMS outbox: http://{addr}/_local/sms?phoneNumber=%2B<E.164 digits>");
    whatspe_local::serve(listener, gateway.router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
