//! Assembles the services over a set of ports: once per process (Lambda cold start, local
//! gateway start-up, or test).

use crate::aws::apigw::ApiGatewayConnections;
use crate::aws::dynamo::TableNames;
use crate::aws::dynamo::{DynamoConnections, DynamoDevices, DynamoLedger};
use crate::aws::dynamo::{
    DynamoContacts, DynamoMessages, DynamoOtpStore, DynamoSessionStore, DynamoUserStore,
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
    MemoryConnections, MemoryContacts, MemoryDevices, MemoryLedger, MemoryMessages, MemoryOtpStore,
    MemoryQueue, MemorySessionStore, MemoryUserStore, RecordingGateway, RecordingNotifier,
    RecordingPush, SmsOutbox,
};
use crate::ports::{
    ConnectionGateway, ConnectionStore, ContactRequestStore, ContactStore, DeliveryJob,
    DeliveryLedger, DeliveryQueue, DeviceStore, MessageStore, Notifier, OtpStore, Platform,
    PushSender, SessionStore, SmsSender, UserStore,
};
use crate::services::{
    AuthService, ConnectionPresence, ContactService, DeliveryService, DeviceService,
    MessageService, RealtimeService, TokenService,
};
use async_trait::async_trait;
use std::sync::Arc;

/// One implementation of every port.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub otps: Arc<dyn OtpStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub requests: Arc<dyn ContactRequestStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub messages: Arc<dyn MessageStore>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub connections: Arc<dyn ConnectionStore>,
    pub gateway: Arc<dyn ConnectionGateway>,
    pub devices: Arc<dyn DeviceStore>,
    pub push: Arc<dyn PushSender>,
    pub ledger: Arc<dyn DeliveryLedger>,
    pub notifier: Arc<dyn Notifier>,
    pub sms: Arc<dyn SmsSender>,
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
}

impl Ports {
    /// Everything in memory.
    pub fn in_memory(clock: Arc<dyn Clock>) -> (Self, MemoryHandles) {
        let handles = MemoryHandles {
            outbox: Arc::new(SmsOutbox::new(clock.clone())),
            notifier: Arc::new(RecordingNotifier::default()),
            queue: Arc::new(MemoryQueue::default()),
            gateway: Arc::new(RecordingGateway::default()),
            push: Arc::new(RecordingPush::default()),
        };
        let contacts = Arc::new(MemoryContacts::default());
        let ports = Self {
            users: Arc::new(MemoryUserStore::default()),
            otps: Arc::new(MemoryOtpStore::default()),
            sessions: Arc::new(MemorySessionStore::default()),
            requests: contacts.clone(),
            messages: Arc::new(MemoryMessages::new(contacts.clone())),
            contacts,
            queue: handles.queue.clone(),
            connections: Arc::new(MemoryConnections::default()),
            gateway: handles.gateway.clone(),
            devices: Arc::new(MemoryDevices::default()),
            push: handles.push.clone(),
            ledger: Arc::new(MemoryLedger::default()),
            notifier: handles.notifier.clone(),
            sms: handles.outbox.clone(),
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
        Self::aws_with_clients(
            config,
            AwsClients {
                dynamodb: aws_sdk_dynamodb::Client::new(sdk),
                sns: aws_sdk_sns::Client::new(sdk),
                sqs: aws_sdk_sqs::Client::new(sdk),
                gateway,
            },
            queue_url,
        )
    }

    /// Like [`Ports::aws`], with clients the caller built (tests count their requests).
    pub fn aws_with_clients(config: &Config, clients: AwsClients, queue_url: &str) -> Self {
        let ddb = clients.dynamodb;
        let ddb_for_realtime = ddb.clone();
        let tables = TableNames::new(&config.table_prefix);
        let applications = [
            (Platform::Fcm, config.fcm_application_arn.clone()),
            (Platform::Apns, config.apns_application_arn.clone()),
        ]
        .into_iter()
        .filter_map(|(p, arn)| arn.map(|a| (p, a)))
        .collect();
        let contacts = Arc::new(DynamoContacts::new(
            ddb.clone(),
            tables.contact_requests,
            tables.contacts.clone(),
        ));
        let queue: Arc<dyn DeliveryQueue> = Arc::new(SqsDeliveryQueue::new(clients.sqs, queue_url));
        Self {
            users: Arc::new(DynamoUserStore::new(ddb.clone(), tables.users)),
            otps: Arc::new(DynamoOtpStore::new(ddb.clone(), tables.verification_codes)),
            sessions: Arc::new(DynamoSessionStore::new(ddb.clone(), tables.sessions)),
            requests: contacts.clone(),
            contacts,
            messages: Arc::new(DynamoMessages::new(
                ddb,
                tables.messages,
                tables.conversations,
                tables.contacts,
            )),
            queue: queue.clone(),
            connections: Arc::new(DynamoConnections::new(
                ddb_for_realtime.clone(),
                tables.connections.clone(),
            )),
            gateway: clients.gateway,
            ledger: Arc::new(DynamoLedger::new(
                ddb_for_realtime.clone(),
                tables.connections.clone(),
            )),
            devices: Arc::new(DynamoDevices::new(ddb_for_realtime, tables.devices)),
            push: Arc::new(SnsPushSender::new(clients.sns.clone(), applications)),
            notifier: Arc::new(QueueNotifier(queue)),
            sms: Arc::new(SnsSmsSender::new(clients.sns, config.sms_sender_id.clone())),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The AWS SDK clients the adapters use.
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub gateway: Arc<dyn ConnectionGateway>,
}

/// [`Notifier`] over the delivery queue: each event becomes a delivery job for its user
/// (with a mobile push when they are offline).
pub struct QueueNotifier(pub Arc<dyn DeliveryQueue>);

#[async_trait]
impl Notifier for QueueNotifier {
    async fn notify(&self, to: &UserId, frame: &ServerFrame) -> Result<(), BoxError> {
        let job = DeliveryJob {
            to: vec![*to],
            push: vec![*to],
            frame: frame.clone(),
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
    pub realtime: Arc<RealtimeService>,
    pub delivery: Arc<DeliveryService>,
    pub devices: Arc<DeviceService>,
    pub tokens: Arc<TokenService>,
    pub config: Arc<Config>,
}

impl App {
    pub fn new(config: Config, ports: Ports) -> Self {
        let tokens = Arc::new(TokenService::new(&config, ports.clock.clone()));
        let presence = Arc::new(ConnectionPresence {
            connections: ports.connections.clone(),
            clock: ports.clock.clone(),
        });
        let contacts = Arc::new(ContactService::new(
            ports.users.clone(),
            ports.requests,
            ports.contacts.clone(),
            presence,
            ports.notifier,
            ports.clock.clone(),
            config.default_country_code.clone(),
        ));
        let messages = Arc::new(MessageService::new(
            ports.users.clone(),
            ports.messages,
            ports.queue.clone(),
            ports.clock.clone(),
            config.send_rate,
            config.webhook_secret.expose(),
        ));
        let realtime = Arc::new(RealtimeService {
            tokens: tokens.clone(),
            sessions: ports.sessions.clone(),
            connections: ports.connections.clone(),
            gateway: ports.gateway.clone(),
            contacts: ports.contacts,
            users: ports.users.clone(),
            messages: messages.clone(),
            queue: ports.queue,
            clock: ports.clock.clone(),
        });
        let delivery = Arc::new(DeliveryService {
            connections: ports.connections.clone(),
            gateway: ports.gateway.clone(),
            devices: ports.devices.clone(),
            push: ports.push.clone(),
            ledger: ports.ledger.clone(),
            clock: ports.clock.clone(),
        });
        let devices = Arc::new(DeviceService {
            devices: ports.devices,
            push: ports.push,
            clock: ports.clock.clone(),
        });
        let auth = Arc::new(AuthService::new(
            config.clone(),
            ports.users,
            ports.otps,
            ports.sessions,
            ports.sms,
            ports.connections,
            ports.gateway,
            tokens.clone(),
            ports.clock,
        ));
        Self {
            auth,
            contacts,
            messages,
            realtime,
            delivery,
            devices,
            tokens,
            config: Arc::new(config),
        }
    }

    /// For a Lambda: configuration from the environment and AWS adapters. Fails at cold start
    /// with a clear message when the configuration is incomplete.
    pub async fn from_lambda_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let queue_url = config.delivery_queue_url.clone().unwrap_or_default();
        let gateway = Arc::new(ApiGatewayConnections::new(
            &sdk,
            config.ws_endpoint.as_deref().unwrap_or_default(),
        ));
        let ports = Ports::aws(&config, &sdk, &queue_url, gateway);
        Ok(Self::new(config, ports))
    }
}
