//! One contract for both ways the local functions reach a socket: the in-process
//! `ConnectionGateway` of the memory backend, and the AWS adapter (`ApiGatewayConnections`,
//! the real management-API client Lambda uses) over the gateway's HTTP `/@connections` API.

mod common;

use common::ws::{Read, WsClient};
use common::{TestApp, spawn_app};
use std::time::{Duration, Instant};
use whatspe::aws::apigw::ApiGatewayConnections;
use whatspe::ports::{ConnectionGateway, PostError};
use whatspe_local::ws::{LocalConnectionGateway, MAX_MESSAGE_BYTES};

const WITHIN: Duration = Duration::from_secs(5);
const BOGUS: &str = "bm90LWEtY29ubmVjdGlvbg=";

async fn next_frame(c: &mut WsClient, case: &str) -> serde_json::Value {
    match c.read_raw(WITHIN).await {
        Read::Frame(f) => f,
        _ => panic!("{case}: no frame"),
    }
}

/// The contract, on `gateway`, with users `n` and `n + 1`.
async fn contract(app: &TestApp, gateway: &dyn ConnectionGateway, n: u32, case: &str) {
    let a = app
        .sign_up(&format!("+91989300{n:04}"), &format!("asha{n}"))
        .await;
    let mut a1 = app.connect(&a).await;
    let mut a2 = app.connect(&a).await;

    let text = br#"{"t":"NOTE","d":{"n":1}}"#;
    gateway
        .post(&a1.cid, text)
        .await
        .expect("a post to a live connection");
    assert_eq!(
        next_frame(&mut a1, case).await,
        serde_json::json!({ "t": "NOTE", "d": { "n": 1 } }),
        "{case}: exactly the posted data"
    );
    assert!(
        matches!(
            a2.read_raw(Duration::from_millis(300)).await,
            Read::TimedOut
        ),
        "{case}: only the addressed connection gets it"
    );

    assert!(
        matches!(gateway.post(BOGUS, text).await, Err(PostError::Gone)),
        "{case}: an unknown connection is gone"
    );
    assert!(
        matches!(gateway.close(BOGUS).await, Err(PostError::Gone)),
        "{case}: closing an unknown connection: gone"
    );
    let too_long = vec![b'x'; MAX_MESSAGE_BYTES + 1];
    assert!(
        matches!(
            gateway.post(&a2.cid, &too_long).await,
            Err(PostError::Failed(_))
        ),
        "{case}: a post over 128 KB fails"
    );

    gateway
        .close(&a1.cid)
        .await
        .expect("closing a live connection");
    match a1.read_raw(WITHIN).await {
        Read::Closed(code) => assert_eq!(code, Some(1000), "{case}: a normal closure"),
        _ => panic!("{case}: the connection was not closed"),
    }
    let started = Instant::now();
    while !matches!(gateway.post(&a1.cid, text).await, Err(PostError::Gone)) {
        assert!(
            started.elapsed() < WITHIN,
            "{case}: a closed connection turns gone"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gateway
        .post(&a2.cid, text)
        .await
        .expect("the other connection is live");
    assert_eq!(
        next_frame(&mut a2, case).await["t"],
        "NOTE",
        "{case}: the other socket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_posts_reach_the_sockets() {
    let app = spawn_app().await;
    let gateway = LocalConnectionGateway::in_process(app.sockets.clone());
    contract(&app, &gateway, 1, "in process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_adapter_posts_through_the_http_management_api() {
    let app = spawn_app().await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "test",
        ))
        .load()
        .await;
    let gateway = ApiGatewayConnections::new(&sdk, &app.base_url);
    contract(&app, &gateway, 3, "over HTTP").await;
}
