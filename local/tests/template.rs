//! template.yaml against the code: every function's API events are exactly the routes its
//! router serves, the WebSocket API's routes are the ones `ws_connect` dispatches on, and every
//! function's IAM policy grants exactly the actions and resources its code uses — no more
//! (least privilege), no less (it would fail in AWS), and no wildcard resource except where
//! AWS gives no narrower ARN.

mod routes;

use routes::{served, shape};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

const TEMPLATE: &str = include_str!("../../template.yaml");

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml parses")
}

fn resources(doc: &Value) -> &serde_yaml::Mapping {
    doc["Resources"].as_mapping().expect("Resources")
}

/// Serverless functions by their cargo binary name.
fn functions(doc: &Value) -> BTreeMap<String, Value> {
    resources(doc)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("Binary")
                .to_owned();
            (binary, r["Properties"].clone())
        })
        .collect()
}

#[test]
fn every_http_function_declares_exactly_the_routes_its_router_serves() {
    let doc = template();
    let code: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::from([
        ("auth_otp", served(auth_otp::route_table())),
        ("contacts", served(contacts::route_table())),
        ("send_message", served(send_message::route_table())),
        ("get_messages", served(get_messages::route_table())),
        ("devices", served(devices::route_table())),
        ("groups", served(groups::route_table())),
        ("media", served(media::route_table())),
    ]);
    let mut declared: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (name, props) in functions(&doc) {
        let events = props["Events"].as_mapping().cloned().unwrap_or_default();
        for event in events
            .values()
            .filter(|e| e["Type"].as_str() == Some("Api"))
        {
            let method = event["Properties"]["Method"]
                .as_str()
                .expect("Method")
                .to_uppercase();
            let path = shape(event["Properties"]["Path"].as_str().expect("Path"));
            assert_eq!(
                event["Properties"]["RestApiId"]["Ref"]
                    .as_str()
                    .or_else(|| {
                        match &event["Properties"]["RestApiId"] {
                            Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str(),
                            _ => None,
                        }
                    }),
                Some("RestApi"),
                "{name} {method} {path}: on the REST API"
            );
            assert!(
                declared
                    .entry(name.clone())
                    .or_default()
                    .insert((method, path)),
                "{name}: a route declared twice"
            );
        }
    }
    for (name, routes) in &code {
        assert_eq!(
            declared.remove(*name).unwrap_or_default(),
            *routes,
            "{name}: template routes vs router routes"
        );
    }
    assert!(
        declared.is_empty(),
        "API events on functions that serve no HTTP routes: {declared:?}"
    );
}

#[test]
fn the_websocket_api_has_exactly_the_routes_ws_connect_handles() {
    let doc = template();
    let keys: BTreeSet<&str> = resources(&doc)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| r["Properties"]["RouteKey"].as_str().expect("RouteKey"))
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            ws_connect::CONNECT,
            ws_connect::DISCONNECT,
            ws_connect::DEFAULT
        ])
    );
    let api = resources(&doc)
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Api"))
        .expect("a WebSocket API");
    assert_eq!(
        api["Properties"]["ProtocolType"].as_str(),
        Some("WEBSOCKET")
    );
    assert_eq!(
        api["Properties"]["RouteSelectionExpression"].as_str(),
        Some("$request.body.t")
    );
}

/// A policy resource in a comparable form: `!GetAtt T.Arn` → `T`, `${T.Arn}/index/i` →
/// `T/index/i`, `arn:${AWS::Partition}:svc:${AWS::Region}:${AWS::AccountId}:rest` → `svc:rest`.
fn resource(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) if t.tag == "!GetAtt" => t
            .value
            .as_str()
            .expect("GetAtt")
            .trim_end_matches(".Arn")
            .to_owned(),
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().expect("Ref").to_owned(),
        Value::Tagged(t) if t.tag == "!Sub" => {
            let s = t.value.as_str().expect("Sub");
            let s = s
                .strip_prefix("arn:${AWS::Partition}:")
                .map_or(s.to_owned(), |rest| {
                    rest.replacen(":${AWS::Region}:${AWS::AccountId}:", ":", 1)
                });
            s.replace("${", "").replace(".Arn}", "").replace('}', "")
        }
        other => panic!("unexpected resource form {other:?}"),
    }
}

fn granted(props: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for policy in props["Policies"].as_sequence().expect("inline Policies") {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            assert_eq!(st["Effect"].as_str(), Some("Allow"));
            let list = |v: &Value| -> Vec<Value> {
                v.as_sequence().cloned().unwrap_or_else(|| vec![v.clone()])
            };
            for action in list(&st["Action"]) {
                for res in list(&st["Resource"]) {
                    out.insert((action.as_str().expect("action").to_owned(), resource(&res)));
                }
            }
        }
    }
    out
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect()
}

/// What each function's code calls (kept next to the template on purpose: a change to either
/// shows up here in review).
fn needed() -> BTreeMap<&'static str, BTreeSet<(String, String)>> {
    const WS_POST: &str = "execute-api:WebSocketApi/v1/POST/@connections/*";
    const WS_DELETE: &str = "execute-api:WebSocketApi/v1/DELETE/@connections/*";
    BTreeMap::from([
        (
            "auth_otp",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("secretsmanager:GetSecretValue", "OtpSecret"),
                ("dynamodb:GetItem", "UsersTable"),
                ("dynamodb:PutItem", "UsersTable"),
                ("dynamodb:DeleteItem", "UsersTable"),
                ("dynamodb:GetItem", "VerificationCodesTable"),
                ("dynamodb:PutItem", "VerificationCodesTable"),
                ("dynamodb:UpdateItem", "RateLimitsTable"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:PutItem", "SessionsTable"),
                ("dynamodb:UpdateItem", "SessionsTable"),
                ("sns:Publish", "*"),
                // Logout closes the session's sockets (and deletes those already gone).
                ("dynamodb:GetItem", "ConnectionsTable"),
                ("dynamodb:DeleteItem", "ConnectionsTable"),
                ("dynamodb:UpdateItem", "ConnectionsTable"),
                ("execute-api:ManageConnections", WS_DELETE),
                // ... and unregisters the devices it registered.
                ("dynamodb:GetItem", "DevicesTable"),
                ("dynamodb:UpdateItem", "DevicesTable"),
                ("sns:DeleteEndpoint", "sns:endpoint/*"),
                // A new profile picture: an image upload of the user's, checked and attached.
                ("dynamodb:GetItem", "MediaTable"),
                ("dynamodb:UpdateItem", "MediaTable"),
                ("s3:GetObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "contacts",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "BlocksTable"),
                ("dynamodb:UpdateItem", "BlocksTable"),
                ("dynamodb:DeleteItem", "BlocksTable"),
                ("dynamodb:Query", "BlocksTable"),
                ("dynamodb:BatchGetItem", "BlocksTable"),
                ("dynamodb:UpdateItem", "RateLimitsTable"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:GetItem", "UsersTable"),
                ("dynamodb:BatchGetItem", "UsersTable"),
                ("dynamodb:Query", "UsersTable/index/by_username"),
                ("dynamodb:GetItem", "ContactRequestsTable"),
                ("dynamodb:PutItem", "ContactRequestsTable"),
                ("dynamodb:UpdateItem", "ContactRequestsTable"),
                ("dynamodb:DeleteItem", "ContactRequestsTable"),
                (
                    "dynamodb:Query",
                    "ContactRequestsTable/index/pending_by_receiver",
                ),
                (
                    "dynamodb:Query",
                    "ContactRequestsTable/index/pending_by_sender",
                ),
                ("dynamodb:GetItem", "ContactsTable"),
                ("dynamodb:PutItem", "ContactsTable"),
                ("dynamodb:DeleteItem", "ContactsTable"),
                ("dynamodb:ConditionCheckItem", "ContactsTable"),
                ("dynamodb:Query", "ContactsTable"),
                ("dynamodb:GetItem", "ConnectionsTable"),
                ("sqs:SendMessage", "DeliveryQueue"),
            ]),
        ),
        (
            "send_message",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("secretsmanager:GetSecretValue", "WebhookSecret"),
                ("dynamodb:GetItem", "BlocksTable"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:GetItem", "MessagesTable"),
                ("dynamodb:PutItem", "MessagesTable"),
                // Message actions: one conditional update of the message.
                ("dynamodb:UpdateItem", "MessagesTable"),
                ("dynamodb:Query", "GroupsTable"),
                ("dynamodb:GetItem", "ConversationsTable"),
                ("dynamodb:UpdateItem", "ConversationsTable"),
                ("dynamodb:ConditionCheckItem", "ContactsTable"),
                ("dynamodb:GetItem", "UsersTable"),
                ("dynamodb:BatchGetItem", "UsersTable"),
                // A group send: the group and the sender's row, then the META put and the
                // sender's cursors in the same transaction.
                ("dynamodb:BatchGetItem", "GroupsTable"),
                ("dynamodb:PutItem", "GroupsTable"),
                ("dynamodb:UpdateItem", "GroupsTable"),
                // A media message: the upload's record read and marked attached, the object
                // checked with one HEAD and one ranged GET.
                ("dynamodb:GetItem", "MediaTable"),
                ("dynamodb:UpdateItem", "MediaTable"),
                ("s3:GetObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "relay",
            set(&[
                ("sqs:SendMessage", "DeliveryQueue"),
                // The sender's name in the push note.
                ("dynamodb:GetItem", "UsersTable"),
                // A group message's fan-out: the group's removal counter and its members.
                ("dynamodb:GetItem", "GroupsTable"),
                ("dynamodb:Query", "GroupsTable"),
                // An edit or delete of a chat's last message: the chat list follows it.
                ("dynamodb:UpdateItem", "ConversationsTable"),
                ("dynamodb:PutItem", "GroupsTable"),
            ]),
        ),
        (
            "get_messages",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:Query", "MessagesTable"),
                ("dynamodb:GetItem", "ConversationsTable"),
                ("dynamodb:BatchGetItem", "ConversationsTable"),
                ("dynamodb:UpdateItem", "ConversationsTable"),
                ("dynamodb:Query", "ConversationsTable/index/by_activity"),
                ("dynamodb:BatchGetItem", "UsersTable"),
                // A peer's last seen: to contacts as the peer allows, never across a block.
                ("dynamodb:GetItem", "ContactsTable"),
                ("dynamodb:BatchGetItem", "BlocksTable"),
                ("sqs:SendMessage", "DeliveryQueue"),
                // Group chats: history, cursors, receipts, the chat list's groups.
                ("dynamodb:GetItem", "MessagesTable"),
                ("dynamodb:BatchGetItem", "GroupsTable"),
                ("dynamodb:Query", "GroupsTable"),
                ("dynamodb:UpdateItem", "GroupsTable"),
                ("dynamodb:Query", "GroupsTable/index/by_member"),
            ]),
        ),
        (
            "ws_connect",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "BlocksTable"),
                ("dynamodb:BatchGetItem", "BlocksTable"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:GetItem", "ConnectionsTable"),
                ("dynamodb:PutItem", "ConnectionsTable"),
                ("dynamodb:UpdateItem", "ConnectionsTable"),
                ("dynamodb:DeleteItem", "ConnectionsTable"),
                ("dynamodb:GetItem", "UsersTable"),
                ("dynamodb:PutItem", "UsersTable"),
                ("dynamodb:GetItem", "ContactsTable"),
                ("dynamodb:Query", "ContactsTable"),
                ("dynamodb:ConditionCheckItem", "ContactsTable"),
                ("dynamodb:GetItem", "MessagesTable"),
                ("dynamodb:PutItem", "MessagesTable"),
                ("dynamodb:Query", "MessagesTable"),
                ("dynamodb:GetItem", "ConversationsTable"),
                ("dynamodb:UpdateItem", "ConversationsTable"),
                ("sqs:SendMessage", "DeliveryQueue"),
                ("execute-api:ManageConnections", WS_POST),
                ("execute-api:ManageConnections", WS_DELETE),
                // MSG / READ / DLV with `g`: the group send and the group cursors.
                ("dynamodb:BatchGetItem", "GroupsTable"),
                ("dynamodb:PutItem", "GroupsTable"),
                ("dynamodb:UpdateItem", "GroupsTable"),
                // A media message: the upload's record read and marked attached, the object
                // checked with one HEAD and one ranged GET.
                ("dynamodb:GetItem", "MediaTable"),
                ("dynamodb:UpdateItem", "MediaTable"),
                ("s3:GetObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "push",
            set(&[
                ("dynamodb:BatchGetItem", "ConnectionsTable"),
                ("dynamodb:DeleteItem", "ConnectionsTable"),
                ("dynamodb:GetItem", "ConnectionsTable"),
                ("dynamodb:UpdateItem", "ConnectionsTable"),
                ("dynamodb:PutItem", "ConnectionsTable"),
                ("dynamodb:BatchGetItem", "DevicesTable"),
                ("dynamodb:UpdateItem", "DevicesTable"),
                ("sns:Publish", "sns:endpoint/*"),
                ("sns:DeleteEndpoint", "sns:endpoint/*"),
                ("execute-api:ManageConnections", WS_POST),
                // A group fan-out job checks membership: the group, or the rows of its users.
                ("dynamodb:GetItem", "GroupsTable"),
                ("dynamodb:BatchGetItem", "GroupsTable"),
            ]),
        ),
        (
            "groups",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "SessionsTable"),
                // Every change is one transaction: META put, member rows put / updated /
                // deleted / checked, invite items put and deleted, the system message.
                ("dynamodb:GetItem", "GroupsTable"),
                ("dynamodb:BatchGetItem", "GroupsTable"),
                ("dynamodb:Query", "GroupsTable"),
                ("dynamodb:Query", "GroupsTable/index/by_member"),
                ("dynamodb:PutItem", "GroupsTable"),
                ("dynamodb:UpdateItem", "GroupsTable"),
                ("dynamodb:DeleteItem", "GroupsTable"),
                ("dynamodb:ConditionCheckItem", "GroupsTable"),
                ("dynamodb:PutItem", "MessagesTable"),
                // Members added directly are the adder's contacts, who did not block them.
                ("dynamodb:GetItem", "ContactsTable"),
                ("dynamodb:BatchGetItem", "BlocksTable"),
                // A new avatar: an image upload of the caller's, checked and attached.
                ("dynamodb:GetItem", "MediaTable"),
                ("dynamodb:UpdateItem", "MediaTable"),
                ("s3:GetObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "media",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:PutItem", "MediaTable"),
                ("dynamodb:GetItem", "MediaTable"),
                ("dynamodb:BatchGetItem", "GroupsTable"),
                // A contact's download of a profile picture: the owner's, and the contact row.
                ("dynamodb:GetItem", "UsersTable"),
                ("dynamodb:GetItem", "ContactsTable"),
                // A forwarded upload: the caller's row of a 1:1 chat carrying it.
                ("dynamodb:GetItem", "ConversationsTable"),
                // Signing only: the URLs carry these.
                ("s3:PutObject", MEDIA_OBJECTS),
                ("s3:GetObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "media_sweep",
            set(&[
                ("dynamodb:Query", "MediaTable/index/by_pending"),
                ("dynamodb:DeleteItem", "MediaTable"),
                ("s3:DeleteObject", MEDIA_OBJECTS),
            ]),
        ),
        (
            "devices",
            set(&[
                ("secretsmanager:GetSecretValue", "JwtSecret"),
                ("dynamodb:GetItem", "SessionsTable"),
                ("dynamodb:GetItem", "DevicesTable"),
                ("dynamodb:UpdateItem", "DevicesTable"),
                ("sns:CreatePlatformEndpoint", "sns:app/*"),
                ("sns:DeleteEndpoint", "sns:endpoint/*"),
            ]),
        ),
    ])
}

/// Objects under the media prefix (their keys are media ids).
const MEDIA_OBJECTS: &str = "MediaBucket/media/*";

/// Wildcards AWS leaves no narrower choice for: SMS to a phone number has no ARN; platform
/// endpoints and applications are created at run time; connection ids are per socket.
const ALLOWED_WILDCARDS: &[(&str, &str)] = &[
    ("s3:PutObject", MEDIA_OBJECTS),
    ("s3:GetObject", MEDIA_OBJECTS),
    ("s3:DeleteObject", MEDIA_OBJECTS),
    ("sns:Publish", "*"),
    ("sns:Publish", "sns:endpoint/*"),
    ("sns:DeleteEndpoint", "sns:endpoint/*"),
    ("sns:CreatePlatformEndpoint", "sns:app/*"),
    (
        "execute-api:ManageConnections",
        "execute-api:WebSocketApi/v1/POST/@connections/*",
    ),
    (
        "execute-api:ManageConnections",
        "execute-api:WebSocketApi/v1/DELETE/@connections/*",
    ),
];

#[test]
fn every_function_is_granted_exactly_what_its_code_uses() {
    let doc = template();
    let mut needed = needed();
    for (name, props) in functions(&doc) {
        let grants = granted(&props);
        for (action, res) in &grants {
            assert!(
                !res.contains('*') || ALLOWED_WILDCARDS.contains(&(action.as_str(), res.as_str())),
                "{name}: wildcard resource {res} for {action}"
            );
            assert!(!action.contains('*'), "{name}: wildcard action {action}");
        }
        let want = needed
            .remove(name.as_str())
            .unwrap_or_else(|| panic!("{name}: no allowlist in this test"));
        let extra: Vec<_> = grants.difference(&want).collect();
        let missing: Vec<_> = want.difference(&grants).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{name}: granted but not needed {extra:?}; needed but not granted {missing:?}"
        );
    }
    assert!(
        needed.is_empty(),
        "allowlists for functions the template lacks: {:?}",
        needed.keys()
    );
}

#[test]
fn the_delivery_queue_is_wired_for_partial_batch_failures() {
    let doc = template();
    let push = &functions(&doc)["push"];
    let events = push["Events"].as_mapping().expect("push events");
    let sqs = events
        .values()
        .find(|e| e["Type"].as_str() == Some("SQS"))
        .expect("an SQS event source");
    let types: Vec<&str> = sqs["Properties"]["FunctionResponseTypes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(types, ["ReportBatchItemFailures"]);
    let queue = &resources(&doc)["DeliveryQueue"]["Properties"];
    let timeout = push["Timeout"]
        .as_i64()
        .or_else(|| doc["Globals"]["Function"]["Timeout"].as_i64())
        .expect("a timeout");
    assert!(
        queue["VisibilityTimeout"].as_i64().unwrap() >= 6 * timeout,
        "visibility ≥ 6 × the consumer's timeout"
    );
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"].as_i64(), Some(5));
    let dlq = &resources(&doc)["DeliveryDeadLetterQueue"]["Properties"];
    assert_eq!(queue["FifoQueue"].as_bool(), Some(true), "ordered per chat");
    assert_eq!(
        dlq["FifoQueue"].as_bool(),
        Some(true),
        "a FIFO queue needs a FIFO DLQ"
    );
    assert_eq!(
        queue["FifoThroughputLimit"].as_str(),
        Some("perMessageGroupId"),
        "high-throughput FIFO: the limit is per chat, not per queue"
    );
}

#[test]
fn the_relay_reads_every_committed_message_from_the_messages_stream() {
    let doc = template();
    let relay = &functions(&doc)["relay"];
    let events = relay["Events"].as_mapping().expect("relay events");
    let source = events
        .values()
        .find(|e| e["Type"].as_str() == Some("DynamoDB"))
        .expect("a DynamoDB stream event source");
    let p = &source["Properties"];
    let stream = serde_yaml::to_string(&p["Stream"]).unwrap();
    assert!(
        stream.contains("MessagesTable.StreamArn"),
        "the messages table's stream: {stream}"
    );
    assert_eq!(
        p["StartingPosition"].as_str(),
        Some("TRIM_HORIZON"),
        "nothing committed before the mapping is skipped"
    );
    assert_eq!(
        p["MaximumRetryAttempts"].as_i64(),
        Some(-1),
        "a failing record is retried, never dropped"
    );
    let types: Vec<&str> = p["FunctionResponseTypes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        types,
        ["ReportBatchItemFailures"],
        "resume at the failed record"
    );
    let pattern: serde_json::Value = serde_json::from_str(
        p["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .expect("a filter pattern"),
    )
    .expect("the filter is JSON");
    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT"]));
    assert_eq!(
        pattern["dynamodb"]["NewImage"]["sk"]["S"][0]["prefix"],
        whatspe::aws::dynamo::keys::MESSAGE_SK_PREFIX,
        "only message items, by the code's own key prefix"
    );
}

/// The string inside an intrinsic (`!Sub "…"`, `!GetAtt X.Y`, `!Ref X`).
fn intrinsic<'a>(v: &'a Value, tag: &str) -> &'a str {
    match v {
        Value::Tagged(t) if t.tag == tag => t.value.as_str().expect("a string intrinsic"),
        other => panic!("expected {tag}, got {other:?}"),
    }
}

/// A bucket's properties block every kind of public access.
fn assert_public_access_blocked(props: &Value, what: &str) {
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            props["PublicAccessBlockConfiguration"][flag].as_bool(),
            Some(true),
            "{what} is private: {flag}"
        );
    }
}

#[test]
fn the_web_client_is_served_from_a_private_bucket_with_the_rest_api_on_its_origin() {
    let doc = template();
    let r = resources(&doc);
    assert_public_access_blocked(&r["WebBucket"]["Properties"], "the site bucket");
    // Only this distribution reads the files.
    let statements = r["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    let allows: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .collect();
    assert_eq!(allows.len(), 1, "one Allow: {allows:?}");
    assert_eq!(
        allows[0]["Principal"]["Service"].as_str(),
        Some("cloudfront.amazonaws.com")
    );
    assert_eq!(allows[0]["Action"].as_str(), Some("s3:GetObject"));
    assert!(
        intrinsic(
            &allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"],
            "!Sub"
        )
        .ends_with(":distribution/${WebDistribution}"),
        "only this distribution"
    );

    let config = &r["WebDistribution"]["Properties"]["DistributionConfig"];
    let origins: BTreeMap<&str, &Value> = config["Origins"]
        .as_sequence()
        .expect("origins")
        .iter()
        .map(|o| (o["Id"].as_str().expect("an origin id"), o))
        .collect();
    assert_eq!(
        intrinsic(&origins["site"]["DomainName"], "!GetAtt"),
        "WebBucket.RegionalDomainName"
    );
    assert_eq!(
        intrinsic(&origins["site"]["OriginAccessControlId"], "!GetAtt"),
        "WebOriginAccessControl.Id"
    );
    assert_eq!(
        intrinsic(&origins["api"]["DomainName"], "!Sub"),
        "${RestApi}.execute-api.${AWS::Region}.amazonaws.com"
    );
    let stage = r["RestApi"]["Properties"]["StageName"]
        .as_str()
        .expect("a stage");
    assert_eq!(
        origins["api"]["OriginPath"].as_str(),
        Some(format!("/{stage}").as_str()),
        "/api/x reaches the stage's /api/x"
    );
    assert_eq!(
        config["DefaultCacheBehavior"]["TargetOriginId"].as_str(),
        Some("site")
    );
    let api = config["CacheBehaviors"]
        .as_sequence()
        .expect("behaviours")
        .iter()
        .find(|b| b["PathPattern"].as_str() == Some("/api/*"))
        .expect("a behaviour for /api/*");
    assert_eq!(api["TargetOriginId"].as_str(), Some("api"));
    let methods: BTreeSet<&str> = api["AllowedMethods"]
        .as_sequence()
        .expect("methods")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"] {
        assert!(methods.contains(m), "/api/* allows {m}");
    }
    assert_eq!(
        intrinsic(&api["CachePolicyId"], "!Ref"),
        "WebApiCachePolicy"
    );
    let cache = &r["WebApiCachePolicy"]["Properties"]["CachePolicyConfig"];
    assert_eq!(
        (cache["MinTTL"].as_i64(), cache["DefaultTTL"].as_i64()),
        (Some(0), Some(0)),
        "API answers are not cached"
    );
    let params = &cache["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(
        params["HeadersConfig"]["Headers"]
            .as_sequence()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        params["HeadersConfig"]["Headers"][0].as_str(),
        Some("Authorization"),
        "the bearer token reaches the API"
    );
    assert_eq!(
        params["QueryStringsConfig"]["QueryStringBehavior"].as_str(),
        Some("all"),
        "cursors and limits reach the API"
    );
    // The page's security headers are the local gateway's.
    let headers = &r["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    assert_eq!(
        headers["ContentSecurityPolicy"]["ContentSecurityPolicy"].as_str(),
        Some(whatspe_local::web::CONTENT_SECURITY_POLICY)
    );
    assert_eq!(
        headers["FrameOptions"]["FrameOption"].as_str(),
        Some("DENY")
    );
    assert_eq!(
        headers["ReferrerPolicy"]["ReferrerPolicy"].as_str(),
        Some("no-referrer")
    );
}

/// The media bucket (issue 14): private (every public-access block on, ACLs off), encrypted at
/// rest, reachable over TLS only (its one bucket policy denies plain HTTP and allows nothing),
/// CORS for browser PUTs and GETs from `MediaCorsOrigin` only, and a lifecycle that finishes
/// what the hourly sweep starts: versioned, so a swept object's version expires a day later
/// under the code's own `media/` prefix, with its delete marker; stale multipart uploads go.
#[test]
fn the_media_bucket_is_private_encrypted_tls_only_with_cors_and_a_lifecycle() {
    let doc = template();
    let r = resources(&doc);
    let bucket = &r["MediaBucket"];
    assert_eq!(bucket["Type"].as_str(), Some("AWS::S3::Bucket"));
    assert_eq!(
        bucket["DeletionPolicy"].as_str(),
        Some("Retain"),
        "users' media outlives the stack"
    );
    let props = &bucket["Properties"];
    assert_public_access_blocked(props, "the media bucket");
    assert_eq!(
        props["OwnershipControls"]["Rules"][0]["ObjectOwnership"].as_str(),
        Some("BucketOwnerEnforced"),
        "ACLs off"
    );
    let sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        .as_sequence()
        .expect("encryption rules");
    assert_eq!(sse.len(), 1);
    assert_eq!(
        sse[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"].as_str(),
        Some("AES256"),
        "SSE-S3"
    );

    // TLS only: the bucket's one policy, a Deny of everything without secure transport.
    let policies: Vec<&Value> = r
        .values()
        .filter(|v| v["Type"].as_str() == Some("AWS::S3::BucketPolicy"))
        .filter(|v| resource(&v["Properties"]["Bucket"]) == "MediaBucket")
        .collect();
    assert_eq!(policies.len(), 1, "one policy on the media bucket");
    let statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    assert_eq!(statements.len(), 1, "{statements:?}");
    let deny = &statements[0];
    assert_eq!(deny["Effect"].as_str(), Some("Deny"), "it grants nothing");
    assert_eq!(deny["Principal"].as_str(), Some("*"));
    assert_eq!(deny["Action"].as_str(), Some("s3:*"));
    let covered: BTreeSet<String> = deny["Resource"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(resource)
        .collect();
    assert_eq!(
        covered,
        BTreeSet::from(["MediaBucket".to_owned(), "MediaBucket/*".to_owned()]),
        "the bucket and every object"
    );
    assert_eq!(
        deny["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
        Some("false")
    );

    // CORS: browsers PUT (the presigned upload) and GET from the configured origin only.
    let cors = props["CorsConfiguration"]["CorsRules"]
        .as_sequence()
        .expect("CORS rules");
    assert_eq!(cors.len(), 1);
    let methods: BTreeSet<&str> = cors[0]["AllowedMethods"]
        .as_sequence()
        .expect("methods")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        methods,
        BTreeSet::from(["PUT", "GET", "HEAD"]),
        "no DELETE, no POST"
    );
    let origins = cors[0]["AllowedOrigins"].as_sequence().expect("origins");
    assert_eq!(origins.len(), 1);
    assert_eq!(intrinsic(&origins[0], "!Ref"), "MediaCorsOrigin");
    assert!(
        doc["Parameters"]["MediaCorsOrigin"].is_mapping(),
        "a parameter"
    );

    // The lifecycle after the sweep.
    assert_eq!(
        props["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    let rules: BTreeMap<&str, &Value> = props["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules")
        .iter()
        .map(|rule| {
            assert_eq!(rule["Status"].as_str(), Some("Enabled"), "{rule:?}");
            (rule["Id"].as_str().expect("a rule id"), rule)
        })
        .collect();
    let deleted = rules["ExpireDeletedMedia"];
    assert_eq!(
        deleted["Prefix"].as_str(),
        Some(whatspe::domain::media::MEDIA_PREFIX),
        "the code's prefix"
    );
    assert_eq!(
        deleted["NoncurrentVersionExpiration"]["NoncurrentDays"].as_i64(),
        Some(1)
    );
    assert_eq!(deleted["ExpiredObjectDeleteMarker"].as_bool(), Some(true));
    assert!(
        deleted.get("ExpirationInDays").is_none(),
        "current objects are the sweep's to delete, never the lifecycle's (sent media stays)"
    );
    assert_eq!(
        rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            .as_i64(),
        Some(1)
    );
    // The sweep that deletes what no message took, hourly.
    let sweep = &functions(&doc)["media_sweep"];
    let schedules: Vec<&str> = sweep["Events"]
        .as_mapping()
        .expect("events")
        .values()
        .filter(|e| e["Type"].as_str() == Some("Schedule"))
        .filter_map(|e| e["Properties"]["Schedule"].as_str())
        .collect();
    assert_eq!(schedules, ["rate(1 hour)"]);
}

/// Which secrets each function gets (issue 15): only those it uses, as Secrets Manager ARNs
/// read at cold start (`AwsWiring::from_lambda_env` in each `main.rs` names the same ones);
/// no function and no global carries a secret's value, and no parameter takes one.
#[test]
fn every_function_gets_exactly_the_secrets_it_uses_and_no_value() {
    let doc = template();
    let expected: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("auth_otp", &["JwtSecret", "OtpSecret"][..]),
        ("contacts", &["JwtSecret"][..]),
        ("send_message", &["JwtSecret", "WebhookSecret"][..]),
        ("get_messages", &["JwtSecret"][..]),
        ("ws_connect", &["JwtSecret"][..]),
        ("groups", &["JwtSecret"][..]),
        ("media", &["JwtSecret"][..]),
        ("devices", &["JwtSecret"][..]),
        ("push", &[][..]),
        ("relay", &[][..]),
        ("media_sweep", &[][..]),
    ]);
    let env_secrets = |vars: &Value| -> BTreeSet<String> {
        vars.as_mapping()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let k = k.as_str()?;
                        assert!(
                            !(k.starts_with("WHATSPE_") && k.ends_with("_SECRET")),
                            "{k}: a secret's value in the environment"
                        );
                        k.ends_with("_SECRET_ARN").then(|| resource(v))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        env_secrets(&doc["Globals"]["Function"]["Environment"]["Variables"]).is_empty(),
        "no secret for every function"
    );
    let mut seen = BTreeSet::new();
    for (name, props) in functions(&doc) {
        let want: BTreeSet<String> = expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name}: not in this test's map"))
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            env_secrets(&props["Environment"]["Variables"]),
            want,
            "{name}: the secret ARNs in its environment"
        );
        let readable: BTreeSet<String> = granted(&props)
            .into_iter()
            .filter(|(a, _)| a == "secretsmanager:GetSecretValue")
            .map(|(_, r)| r)
            .collect();
        assert_eq!(readable, want, "{name}: the secrets its role may read");
        seen.insert(name);
    }
    assert_eq!(seen.len(), expected.len(), "every function is pinned");
    for secret in ["JwtSecret", "OtpSecret", "WebhookSecret"] {
        assert!(
            doc["Parameters"].get(secret).is_none(),
            "{secret}: not a template parameter"
        );
        assert_eq!(
            doc["Resources"][secret]["Type"].as_str(),
            Some("AWS::SecretsManager::Secret"),
            "{secret}: generated in Secrets Manager"
        );
    }
}
