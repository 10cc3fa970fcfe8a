//! Assembles the services over a set of ports: once per process (Lambda cold start, local
//! gateway start-up, or test).

use crate::aws::apigw::ApiGatewayConnections;
use crate::aws::dynamo::TableNames;
use crate::aws::dynamo::{DynamoConnections, DynamoCounters, DynamoDevices, DynamoLedger};
use crate::aws::dynamo::{
    DynamoContacts, DynamoGroups, DynamoMedia, DynamoMessages, DynamoOtpStore, DynamoSessionStore,
    DynamoUserStore,
};
use crate::aws::sns::SnsSmsSender;
use crate::aws::sns_push::SnsPushSender;
use crate::aws::sqs::SqsDeliveryQueue;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::UserId;
use crate::error::BoxError;
use crate::frames::ServerFrame;
use crate::memory::{
    MemoryBlobs, MemoryBlocks, MemoryConnections, MemoryContacts, MemoryCounters, MemoryDevices,
    MemoryGroups, MemoryLedger, MemoryMedia, MemoryMessages, MemoryOtpStore, MemoryQueue,
    MemorySessionStore, MemoryUserStore, MessageStream, RecordingGateway, RecordingNotifier,
    RecordingPush, SmsOutbox,
};
use crate::ports::{
    BlobStore, BlockStore, ConnectionGateway, ConnectionStore, ContactRequestStore, ContactStore,
    CounterStore, DeliveryJob, DeliveryLedger, DeliveryQueue, DeviceStore, GroupStore, MediaStore,
    MessageStore, Notifier, OtpStore, Platform, PushSender, SessionStore, SmsSender, UserStore,
};
use crate::services::{
    AuthService, BlockService, ConnectionPresence, ContactService, DeliveryService, DeviceService,
    GroupService, MediaService, MessageService, RateLimits, Readers, RealtimeService, TokenService,
};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};

/// One implementation of every port.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub otps: Arc<dyn OtpStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub requests: Arc<dyn ContactRequestStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub messages: Arc<dyn MessageStore>,
    pub groups: Arc<dyn GroupStore>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub connections: Arc<dyn ConnectionStore>,
    pub gateway: Arc<dyn ConnectionGateway>,
    pub devices: Arc<dyn DeviceStore>,
    pub push: Arc<dyn PushSender>,
    pub ledger: Arc<dyn DeliveryLedger>,
    pub notifier: Arc<dyn Notifier>,
    pub sms: Arc<dyn SmsSender>,
    pub media: Arc<dyn MediaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub counters: Arc<dyn CounterStore>,
    pub blocks: Arc<dyn BlockStore>,
    pub clock: Arc<dyn Clock>,
}

/// What the in-memory ports let a caller observe: texts sent, real-time events emitted and
/// delivery jobs queued.
#[derive(Clone)]
pub struct MemoryHandles {
    pub outbox: Arc<SmsOutbox>,
    pub notifier: Arc<RecordingNotifier>,
    pub queue: Arc<MemoryQueue>,
    pub gateway: Arc<RecordingGateway>,
    pub push: Arc<RecordingPush>,
    /// The messages table's stream: every committed message, for the relay.
    pub stream: Arc<MessageStream>,
    /// The blobs, whose URLs the local gateway serves (`/_local/blobs/…`).
    pub blobs: Arc<MemoryBlobs>,
}

impl Ports {
    /// Everything in memory.
    pub fn in_memory(clock: Arc<dyn Clock>) -> (Self, MemoryHandles) {
        let contacts = Arc::new(MemoryContacts::default());
        let messages = Arc::new(MemoryMessages::new(contacts.clone()));
        let handles = MemoryHandles {
            outbox: Arc::new(SmsOutbox::new(clock.clone())),
            notifier: Arc::new(RecordingNotifier::default()),
            queue: Arc::new(MemoryQueue::default()),
            gateway: Arc::new(RecordingGateway::default()),
            push: Arc::new(RecordingPush::default()),
            stream: messages.stream(),
            blobs: Arc::new(MemoryBlobs::new(clock.clone())),
        };
        let ports = Self {
            users: Arc::new(MemoryUserStore::default()),
            otps: Arc::new(MemoryOtpStore::default()),
            sessions: Arc::new(MemorySessionStore::default()),
            requests: contacts.clone(),
            groups: Arc::new(MemoryGroups::new(messages.clone())),
            messages,
            contacts,
            queue: handles.queue.clone(),
            connections: Arc::new(MemoryConnections::default()),
            gateway: handles.gateway.clone(),
            devices: Arc::new(MemoryDevices::default()),
            push: handles.push.clone(),
            ledger: Arc::new(MemoryLedger::default()),
            notifier: handles.notifier.clone(),
            sms: handles.outbox.clone(),
            media: Arc::new(MemoryMedia::default()),
            blobs: handles.blobs.clone(),
            counters: Arc::new(MemoryCounters::new(clock.clone())),
            blocks: Arc::new(MemoryBlocks::default()),
            clock,
        };
        (ports, handles)
    }

    /// DynamoDB tables, SNS and the SQS delivery queue, with clients built from `sdk`
    /// (endpoint overrides such as `AWS_ENDPOINT_URL` are honoured by `aws_config`).
    /// Frames are posted through `gateway` (the WebSocket API's management endpoint).
    pub fn aws(
        config: &Config,
        sdk: &aws_config::SdkConfig,
        queue_url: &str,
        gateway: Arc<dyn ConnectionGateway>,
    ) -> Self {
        AwsWiring {
            gateway: gateway.into(),
            ..AwsWiring::new(config.clone(), sdk.clone(), queue_url)
        }
        .ports()
    }

    /// Like [`Ports::aws`], with clients the caller built (tests count their requests).
    pub fn aws_with_clients(config: &Config, clients: AwsClients, queue_url: &str) -> Self {
        AwsWiring::with_clients(config.clone(), clients, queue_url).ports()
    }
}

/// The AWS SDK clients the adapters use.
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub gateway: Arc<dyn ConnectionGateway>,
}

/// A source of ports, one at a time: a full [`Ports`] set, or [`AwsWiring`], which builds
/// only the ports asked for and only the SDK clients those need. The service builders
/// ([`Services`]) take what they use from it, so a Lambda wires only its own services.
pub trait PortSource {
    fn users(&self) -> Arc<dyn UserStore>;
    fn otps(&self) -> Arc<dyn OtpStore>;
    fn sessions(&self) -> Arc<dyn SessionStore>;
    fn requests(&self) -> Arc<dyn ContactRequestStore>;
    fn contacts(&self) -> Arc<dyn ContactStore>;
    fn messages(&self) -> Arc<dyn MessageStore>;
    fn groups(&self) -> Arc<dyn GroupStore>;
    fn queue(&self) -> Arc<dyn DeliveryQueue>;
    fn connections(&self) -> Arc<dyn ConnectionStore>;
    fn gateway(&self) -> Arc<dyn ConnectionGateway>;
    fn devices(&self) -> Arc<dyn DeviceStore>;
    fn push(&self) -> Arc<dyn PushSender>;
    fn ledger(&self) -> Arc<dyn DeliveryLedger>;
    fn notifier(&self) -> Arc<dyn Notifier>;
    fn sms(&self) -> Arc<dyn SmsSender>;
    fn media(&self) -> Arc<dyn MediaStore>;
    fn blobs(&self) -> Arc<dyn BlobStore>;
    fn counters(&self) -> Arc<dyn CounterStore>;
    fn blocks(&self) -> Arc<dyn BlockStore>;
    fn clock(&self) -> Arc<dyn Clock>;
}

impl PortSource for Ports {
    fn users(&self) -> Arc<dyn UserStore> {
        self.users.clone()
    }
    fn otps(&self) -> Arc<dyn OtpStore> {
        self.otps.clone()
    }
    fn sessions(&self) -> Arc<dyn SessionStore> {
        self.sessions.clone()
    }
    fn requests(&self) -> Arc<dyn ContactRequestStore> {
        self.requests.clone()
    }
    fn contacts(&self) -> Arc<dyn ContactStore> {
        self.contacts.clone()
    }
    fn messages(&self) -> Arc<dyn MessageStore> {
        self.messages.clone()
    }
    fn groups(&self) -> Arc<dyn GroupStore> {
        self.groups.clone()
    }
    fn queue(&self) -> Arc<dyn DeliveryQueue> {
        self.queue.clone()
    }
    fn connections(&self) -> Arc<dyn ConnectionStore> {
        self.connections.clone()
    }
    fn gateway(&self) -> Arc<dyn ConnectionGateway> {
        self.gateway.clone()
    }
    fn devices(&self) -> Arc<dyn DeviceStore> {
        self.devices.clone()
    }
    fn push(&self) -> Arc<dyn PushSender> {
        self.push.clone()
    }
    fn ledger(&self) -> Arc<dyn DeliveryLedger> {
        self.ledger.clone()
    }
    fn notifier(&self) -> Arc<dyn Notifier> {
        self.notifier.clone()
    }
    fn sms(&self) -> Arc<dyn SmsSender> {
        self.sms.clone()
    }
    fn media(&self) -> Arc<dyn MediaStore> {
        self.media.clone()
    }
    fn blobs(&self) -> Arc<dyn BlobStore> {
        self.blobs.clone()
    }
    fn counters(&self) -> Arc<dyn CounterStore> {
        self.counters.clone()
    }
    fn blocks(&self) -> Arc<dyn BlockStore> {
        self.blocks.clone()
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

/// The SDK settings of a Lambda function, over `http`: the region and the execution role's
/// credentials straight from the variables Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, read through `lookup`), the rest (endpoint
/// overrides such as `AWS_ENDPOINT_URL`, retries, timeouts) from `aws_config`. Naming the
/// region and credentials skips `aws_config`'s provider chains, which cost every cold start
/// their construction (the web-identity provider builds an STS client) to end up at these same
/// variables on Lambda. Where they are missing (a function binary run elsewhere), the chains
/// are used as before.
pub async fn lambda_sdk_config(
    http: aws_sdk_dynamodb::config::SharedHttpClient,
    lookup: impl Fn(&str) -> Option<String>,
) -> aws_config::SdkConfig {
    let set = |k: &str| lookup(k).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let (Some(id), Some(secret)) = (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            id,
            secret,
            set("AWS_SESSION_TOKEN"),
            None,
            "lambda-environment",
        ));
    }
    loader.load().await
}

/// The AWS adapters, built on demand: each SDK client is built once, the first time a port
/// needs it, so a Lambda that wires only its own services builds only the clients those use.
pub struct AwsWiring {
    pub config: Config,
    sdk: aws_config::SdkConfig,
    tables: TableNames,
    queue_url: String,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    sns: OnceLock<aws_sdk_sns::Client>,
    sqs: OnceLock<aws_sdk_sqs::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    gateway: OnceLock<Arc<dyn ConnectionGateway>>,
}

impl AwsWiring {
    /// For a Lambda: configuration from the environment with the `secrets` the function uses
    /// read from Secrets Manager ([`crate::aws::secrets::resolve`]), SDK settings from
    /// [`lambda_sdk_config`] (the region and role credentials Lambda sets; endpoint overrides
    /// such as `AWS_ENDPOINT_URL` are honoured) over
    /// [`crate::aws::tls::lambda_https_client`] (AWS's own roots, not the system's: faster to
    /// start, and nothing else is trusted), no other client built yet. Fails at cold start
    /// with a clear message when the configuration is incomplete or a secret cannot be read.
    pub async fn from_lambda_env(
        secrets: &[crate::aws::secrets::SecretName],
    ) -> Result<Self, crate::config::ConfigError> {
        let http =
            crate::aws::tls::lambda_https_client().map_err(|e| crate::config::ConfigError {
                var: "TLS",
                problem: format!("the HTTPS client's trust store: {e}"),
            })?;
        let env = |k: &str| std::env::var(k).ok();
        let sdk = lambda_sdk_config(http, env).await;
        let resolved = if secrets.is_empty() {
            crate::aws::secrets::resolve_none()
        } else {
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            crate::aws::secrets::resolve(&client, secrets, env).await?
        };
        let config = Config::from_lookup(|k| resolved.get(k).cloned().or_else(|| env(k)))?;
        let queue_url = config.delivery_queue_url.clone().unwrap_or_default();
        Ok(Self::new(config, sdk, &queue_url))
    }

    /// Clients from `sdk`, the delivery queue at `queue_url`, frames posted through the
    /// WebSocket API's management endpoint (`config.ws_endpoint`).
    pub fn new(config: Config, sdk: aws_config::SdkConfig, queue_url: &str) -> Self {
        Self {
            tables: TableNames::new(&config.table_prefix),
            config,
            sdk,
            queue_url: queue_url.to_owned(),
            dynamodb: OnceLock::new(),
            sns: OnceLock::new(),
            sqs: OnceLock::new(),
            s3: OnceLock::new(),
            gateway: OnceLock::new(),
        }
    }

    /// With clients the caller built.
    pub fn with_clients(config: Config, clients: AwsClients, queue_url: &str) -> Self {
        Self {
            dynamodb: clients.dynamodb.into(),
            sns: clients.sns.into(),
            sqs: clients.sqs.into(),
            s3: clients.s3.into(),
            gateway: clients.gateway.into(),
            ..Self::new(config, aws_config::SdkConfig::builder().build(), queue_url)
        }
    }

    /// The SDK clients built so far (`dynamodb`, `sns`, `sqs`, `s3`, `apigatewaymanagement`).
    pub fn clients_built(&self) -> Vec<&'static str> {
        [
            ("dynamodb", self.dynamodb.get().is_some()),
            ("sns", self.sns.get().is_some()),
            ("sqs", self.sqs.get().is_some()),
            ("s3", self.s3.get().is_some()),
            ("apigatewaymanagement", self.gateway.get().is_some()),
        ]
        .into_iter()
        .filter_map(|(name, built)| built.then_some(name))
        .collect()
    }

    /// Every port.
    pub fn ports(&self) -> Ports {
        Ports {
            users: self.users(),
            otps: self.otps(),
            sessions: self.sessions(),
            requests: self.requests(),
            contacts: self.contacts(),
            messages: self.messages(),
            groups: self.groups(),
            queue: self.queue(),
            connections: self.connections(),
            gateway: self.gateway(),
            devices: self.devices(),
            push: self.push(),
            ledger: self.ledger(),
            notifier: self.notifier(),
            sms: self.sms(),
            media: self.media(),
            blobs: self.blobs(),
            counters: self.counters(),
            blocks: self.blocks(),
            clock: self.clock(),
        }
    }

    fn ddb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.sdk))
            .clone()
    }

    fn sns(&self) -> aws_sdk_sns::Client {
        self.sns
            .get_or_init(|| aws_sdk_sns::Client::new(&self.sdk))
            .clone()
    }

    fn dynamo_contacts(&self) -> DynamoContacts {
        DynamoContacts::new(
            self.ddb(),
            self.tables.contact_requests.clone(),
            self.tables.contacts.clone(),
        )
    }
}

impl PortSource for AwsWiring {
    fn users(&self) -> Arc<dyn UserStore> {
        Arc::new(DynamoUserStore::new(self.ddb(), self.tables.users.clone()))
    }
    fn otps(&self) -> Arc<dyn OtpStore> {
        Arc::new(DynamoOtpStore::new(
            self.ddb(),
            self.tables.verification_codes.clone(),
        ))
    }
    fn sessions(&self) -> Arc<dyn SessionStore> {
        Arc::new(DynamoSessionStore::new(
            self.ddb(),
            self.tables.sessions.clone(),
        ))
    }
    fn requests(&self) -> Arc<dyn ContactRequestStore> {
        Arc::new(self.dynamo_contacts())
    }
    fn contacts(&self) -> Arc<dyn ContactStore> {
        Arc::new(self.dynamo_contacts())
    }
    fn messages(&self) -> Arc<dyn MessageStore> {
        Arc::new(DynamoMessages::new(
            self.ddb(),
            self.tables.messages.clone(),
            self.tables.conversations.clone(),
            self.tables.contacts.clone(),
        ))
    }
    fn groups(&self) -> Arc<dyn GroupStore> {
        Arc::new(DynamoGroups::new(self.ddb(), self.tables.clone()))
    }
    fn queue(&self) -> Arc<dyn DeliveryQueue> {
        let sqs = self
            .sqs
            .get_or_init(|| aws_sdk_sqs::Client::new(&self.sdk))
            .clone();
        Arc::new(SqsDeliveryQueue::new(sqs, &self.queue_url))
    }
    fn connections(&self) -> Arc<dyn ConnectionStore> {
        Arc::new(DynamoConnections::new(
            self.ddb(),
            self.tables.connections.clone(),
        ))
    }
    fn gateway(&self) -> Arc<dyn ConnectionGateway> {
        self.gateway
            .get_or_init(|| {
                Arc::new(ApiGatewayConnections::new(
                    &self.sdk,
                    self.config.ws_endpoint.as_deref().unwrap_or_default(),
                ))
            })
            .clone()
    }
    fn devices(&self) -> Arc<dyn DeviceStore> {
        Arc::new(DynamoDevices::new(self.ddb(), self.tables.devices.clone()))
    }
    fn push(&self) -> Arc<dyn PushSender> {
        let applications = [
            (Platform::Fcm, self.config.fcm_application_arn.clone()),
            (Platform::Apns, self.config.apns_application_arn.clone()),
        ]
        .into_iter()
        .filter_map(|(p, arn)| arn.map(|a| (p, a)))
        .collect();
        Arc::new(SnsPushSender::new(self.sns(), applications))
    }
    fn ledger(&self) -> Arc<dyn DeliveryLedger> {
        Arc::new(DynamoLedger::new(
            self.ddb(),
            self.tables.connections.clone(),
        ))
    }
    fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(QueueNotifier(self.queue()))
    }
    fn sms(&self) -> Arc<dyn SmsSender> {
        Arc::new(SnsSmsSender::new(
            self.sns(),
            self.config.sms_sender_id.clone(),
        ))
    }
    fn media(&self) -> Arc<dyn MediaStore> {
        Arc::new(DynamoMedia::new(self.ddb(), self.tables.media.clone()))
    }
    fn blobs(&self) -> Arc<dyn BlobStore> {
        let s3 = self
            .s3
            .get_or_init(|| crate::aws::s3::client(&self.sdk))
            .clone();
        Arc::new(crate::aws::s3::S3Blobs::new(
            s3,
            self.config.media_bucket.clone().unwrap_or_default(),
        ))
    }
    fn blocks(&self) -> Arc<dyn BlockStore> {
        Arc::new(crate::aws::dynamo::DynamoBlocks::new(
            self.ddb(),
            self.tables.blocks.clone(),
        ))
    }
    fn counters(&self) -> Arc<dyn CounterStore> {
        Arc::new(DynamoCounters::new(
            self.ddb(),
            self.tables.rate_limits.clone(),
        ))
    }
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}

/// [`Notifier`] over the delivery queue: each event becomes a delivery job for its user. No
/// mobile push: a push carries a [`crate::ports::PushNote`], which only messages have; the
/// app sees contact events when it next syncs.
pub struct QueueNotifier(pub Arc<dyn DeliveryQueue>);

#[async_trait]
impl Notifier for QueueNotifier {
    async fn notify(&self, to: &UserId, frame: &ServerFrame) -> Result<(), BoxError> {
        let job = DeliveryJob {
            to: vec![*to],
            push: vec![],
            frame: frame.clone(),
            note: None,
            fanout: None,
        };
        self.0.enqueue(&job).await
    }
}

/// The application: what every router's handlers get as state. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub auth: Arc<AuthService>,
    pub contacts: Arc<ContactService>,
    pub messages: Arc<MessageService>,
    pub groups: Arc<GroupService>,
    pub realtime: Arc<RealtimeService>,
    pub delivery: Arc<DeliveryService>,
    pub devices: Arc<DeviceService>,
    pub media: Arc<MediaService>,
    pub blocks: Arc<BlockService>,
    pub tokens: Arc<TokenService>,
    pub config: Arc<Config>,
}

impl App {
    pub fn new(config: Config, ports: Ports) -> Self {
        let wire = Services::new(&config, &ports);
        let tokens = wire.tokens();
        let messages = wire.messages();
        Self {
            auth: wire.auth(tokens.clone()),
            contacts: wire.contacts(),
            realtime: wire.realtime(tokens.clone(), messages.clone()),
            messages,
            groups: wire.groups(),
            delivery: wire.delivery(),
            devices: wire.devices(),
            media: wire.media(),
            blocks: wire.blocks(),
            tokens,
            config: Arc::new(config),
        }
    }
}

/// Builds one service at a time over a [`PortSource`], taking from it only the ports that
/// service uses: [`App::new`] builds them all, a Lambda's `main` only its own.
pub struct Services<'a, P> {
    config: &'a Config,
    ports: &'a P,
}

impl<'a, P: PortSource> Services<'a, P> {
    pub fn new(config: &'a Config, ports: &'a P) -> Self {
        Self { config, ports }
    }

    /// Checks access tokens, and that their session was not revoked (within
    /// [`Config::session_check`]).
    pub fn tokens(&self) -> Arc<TokenService> {
        let p = self.ports;
        let bound = chrono::TimeDelta::from_std(self.config.session_check)
            .unwrap_or(chrono::TimeDelta::seconds(5));
        let check = crate::services::revocation::SessionCheck::new(p.sessions(), p.clock(), bound);
        Arc::new(TokenService::new(self.config, p.clock()).with_session_check(check))
    }

    pub fn contacts(&self) -> Arc<ContactService> {
        let p = self.ports;
        let presence = Arc::new(ConnectionPresence {
            connections: p.connections(),
            clock: p.clock(),
        });
        Arc::new(
            ContactService::new(
                p.users(),
                p.requests(),
                p.contacts(),
                presence,
                p.notifier(),
                p.clock(),
                self.config.default_country_code.clone(),
            )
            .with_lookup_limits(
                self.rate_limits(),
                self.config.limits.lookups_per_minute,
                self.config.limits.lookups_per_day,
            )
            .with_blocks(self.blocks()),
        )
    }

    /// Media messages are checked against the bucket (HEAD and a ranged GET only).
    pub fn messages(&self) -> Arc<MessageService> {
        let p = self.ports;
        Arc::new(
            MessageService::new(
                p.users(),
                p.messages(),
                p.groups(),
                p.queue(),
                p.clock(),
                self.config.send_rate,
                self.config.webhook_secret.expose(),
            )
            .with_retry_budget(self.config.send_retry_budget)
            .with_legacy_webhooks(self.config.webhook_legacy_signatures)
            .with_blocks(self.blocks())
            .with_contacts(p.contacts())
            .with_media(self.media()),
        )
    }

    pub fn media(&self) -> Arc<MediaService> {
        let p = self.ports;
        Arc::new(MediaService::new(
            p.media(),
            p.blobs(),
            Readers {
                groups: p.groups(),
                chats: p.messages(),
                users: p.users(),
                contacts: p.contacts(),
            },
            p.clock(),
            self.config.media_limits,
            self.config.media_types.clone(),
        ))
    }

    /// Over the given token and message services (shared with the rest of the process).
    pub fn realtime(
        &self,
        tokens: Arc<TokenService>,
        messages: Arc<MessageService>,
    ) -> Arc<RealtimeService> {
        let p = self.ports;
        Arc::new(RealtimeService {
            tokens,
            sessions: p.sessions(),
            connections: p.connections(),
            gateway: p.gateway(),
            contacts: p.contacts(),
            users: p.users(),
            messages,
            queue: p.queue(),
            clock: p.clock(),
            blocks: self.blocks(),
        })
    }

    /// Blocking, over the blocks and users stores.
    pub fn blocks(&self) -> Arc<BlockService> {
        let p = self.ports;
        Arc::new(BlockService::new(p.blocks(), p.users(), p.clock()))
    }

    pub fn groups(&self) -> Arc<GroupService> {
        let p = self.ports;
        Arc::new(
            GroupService::new(
                p.groups(),
                p.contacts(),
                p.clock(),
                self.config.group_max_members,
            )
            .with_media(self.media())
            .with_blocks(self.blocks()),
        )
    }

    pub fn delivery(&self) -> Arc<DeliveryService> {
        let p = self.ports;
        Arc::new(DeliveryService {
            connections: p.connections(),
            gateway: p.gateway(),
            devices: p.devices(),
            push: p.push(),
            ledger: p.ledger(),
            groups: p.groups(),
            clock: p.clock(),
        })
    }

    pub fn devices(&self) -> Arc<DeviceService> {
        let p = self.ports;
        Arc::new(DeviceService {
            devices: p.devices(),
            push: p.push(),
            clock: p.clock(),
        })
    }

    /// Over the given token service (shared with the rest of the process).
    pub fn auth(&self, tokens: Arc<TokenService>) -> Arc<AuthService> {
        let p = self.ports;
        Arc::new(AuthService::new(
            self.config.clone(),
            p.users(),
            p.otps(),
            p.sessions(),
            p.sms(),
            p.connections(),
            p.gateway(),
            p.devices(),
            p.push(),
            tokens,
            self.rate_limits(),
            p.clock(),
        ))
    }

    /// The abuse-limit counters.
    pub fn rate_limits(&self) -> Arc<RateLimits> {
        let p = self.ports;
        Arc::new(RateLimits::new(p.counters(), p.clock()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> AwsWiring {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        AwsWiring::new(Config::for_tests(), sdk, "https://sqs.example/queue")
    }

    /// Builds one service and drops it.
    type Build = fn(&Services<AwsWiring>);

    #[test]
    fn aws_wiring_builds_only_the_clients_of_the_services_asked_for() {
        let cases: [(&str, Build, &[&str]); 7] = [
            ("nothing", |_| {}, &[]),
            (
                "auth",
                |w| drop(w.auth(w.tokens())),
                &["dynamodb", "sns", "apigatewaymanagement"],
            ),
            ("contacts", |w| drop(w.contacts()), &["dynamodb", "sqs"]),
            (
                "messages",
                |w| drop(w.messages()),
                &["dynamodb", "sqs", "s3"],
            ),
            ("media", |w| drop(w.media()), &["dynamodb", "s3"]),
            ("devices", |w| drop(w.devices()), &["dynamodb", "sns"]),
            (
                "delivery",
                |w| drop(w.delivery()),
                &["dynamodb", "sns", "apigatewaymanagement"],
            ),
        ];
        for (service, build, clients) in cases {
            let aws = wiring();
            build(&Services::new(&aws.config, &aws));
            assert_eq!(aws.clients_built(), clients, "clients built for {service}");
        }
        let aws = wiring();
        let wire = Services::new(&aws.config, &aws);
        drop(wire.realtime(wire.tokens(), wire.messages()));
        assert_eq!(
            aws.clients_built(),
            ["dynamodb", "sqs", "s3", "apigatewaymanagement"],
            "clients built for realtime"
        );
    }

    #[tokio::test]
    async fn a_lambda_signs_with_the_region_and_role_credentials_lambda_sets() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let env = [
            ("AWS_REGION", "ap-southeast-4"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEROLEKEY"),
            ("AWS_SECRET_ACCESS_KEY", "role-secret"),
            ("AWS_SESSION_TOKEN", "role-session-token"),
        ];
        let lookup = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let http = crate::aws::tls::lambda_https_client().expect("the HTTPS client");
        let sdk = lambda_sdk_config(http, lookup).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-southeast-4"));
        let credentials = sdk
            .credentials_provider()
            .expect("a credentials provider")
            .provide_credentials()
            .await
            .expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLEROLEKEY");
        assert_eq!(credentials.secret_access_key(), "role-secret");
        assert_eq!(credentials.session_token(), Some("role-session-token"));
    }
}
