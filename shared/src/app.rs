//! Assembles the services over a set of ports: once per process (Lambda cold start, local
//! gateway start-up, or test).

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::UserId;
use crate::dynamo::{DynamoContacts, DynamoOtpStore, DynamoSessionStore, DynamoUserStore};
use crate::error::BoxError;
use crate::frames::ServerFrame;
use crate::memory::{
    MemoryContacts, MemoryOtpStore, MemorySessionStore, MemoryUserStore, NoLiveConnections,
    RecordingNotifier, SmsOutbox,
};
use crate::ports::{
    ContactRequestStore, ContactStore, Notifier, OtpStore, Presence, SessionStore, SmsSender,
    UserStore,
};
use crate::services::{AuthService, ContactService, TokenService};
use crate::sns::SnsSmsSender;
use crate::tables::TableNames;
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
    pub presence: Arc<dyn Presence>,
    pub notifier: Arc<dyn Notifier>,
    pub sms: Arc<dyn SmsSender>,
    pub clock: Arc<dyn Clock>,
}

/// What the in-memory ports let a caller observe: texts sent and real-time events emitted.
#[derive(Clone)]
pub struct MemoryHandles {
    pub outbox: Arc<SmsOutbox>,
    pub notifier: Arc<RecordingNotifier>,
}

impl Ports {
    /// Everything in memory.
    pub fn in_memory(clock: Arc<dyn Clock>) -> (Self, MemoryHandles) {
        let handles = MemoryHandles {
            outbox: Arc::new(SmsOutbox::new(clock.clone())),
            notifier: Arc::new(RecordingNotifier::default()),
        };
        let contacts = Arc::new(MemoryContacts::default());
        let ports = Self {
            users: Arc::new(MemoryUserStore::default()),
            otps: Arc::new(MemoryOtpStore::default()),
            sessions: Arc::new(MemorySessionStore::default()),
            requests: contacts.clone(),
            contacts,
            presence: Arc::new(NoLiveConnections),
            notifier: handles.notifier.clone(),
            sms: handles.outbox.clone(),
            clock,
        };
        (ports, handles)
    }

    /// DynamoDB tables and SNS, with clients built from `sdk` (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` are honoured by `aws_config`).
    pub fn aws(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let tables = TableNames::new(&config.table_prefix);
        let contacts = Arc::new(DynamoContacts::new(
            ddb.clone(),
            tables.contact_requests,
            tables.contacts,
        ));
        Self {
            users: Arc::new(DynamoUserStore::new(ddb.clone(), tables.users)),
            otps: Arc::new(DynamoOtpStore::new(ddb.clone(), tables.verification_codes)),
            sessions: Arc::new(DynamoSessionStore::new(ddb, tables.sessions)),
            requests: contacts.clone(),
            contacts,
            presence: Arc::new(NoLiveConnections),
            notifier: Arc::new(NotDeliveredYet),
            sms: Arc::new(SnsSmsSender::new(
                aws_sdk_sns::Client::new(sdk),
                config.sms_sender_id.clone(),
            )),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The deployed [`Notifier`] until the real-time API (WebSocket + SQS delivery) ships: the
/// event is logged, not delivered. Clients see requests through the REST listings meanwhile.
struct NotDeliveredYet;

#[async_trait]
impl Notifier for NotDeliveredYet {
    async fn notify(&self, to: &UserId, frame: &ServerFrame) -> Result<(), BoxError> {
        tracing::debug!(user = %to, ?frame, "real-time delivery is not deployed yet; event not delivered");
        Ok(())
    }
}

/// The application: what every router's handlers get as state. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub auth: Arc<AuthService>,
    pub contacts: Arc<ContactService>,
    pub tokens: Arc<TokenService>,
    pub config: Arc<Config>,
}

impl App {
    pub fn new(config: Config, ports: Ports) -> Self {
        let tokens = Arc::new(TokenService::new(&config, ports.clock.clone()));
        let contacts = Arc::new(ContactService::new(
            ports.users.clone(),
            ports.requests,
            ports.contacts,
            ports.presence,
            ports.notifier,
            ports.clock.clone(),
            config.default_country_code.clone(),
        ));
        let auth = Arc::new(AuthService::new(
            config.clone(),
            ports.users,
            ports.otps,
            ports.sessions,
            ports.sms,
            tokens.clone(),
            ports.clock,
        ));
        Self {
            auth,
            contacts,
            tokens,
            config: Arc::new(config),
        }
    }

    /// For a Lambda: configuration from the environment and AWS adapters. Fails at cold start
    /// with a clear message when the configuration is incomplete.
    pub async fn from_lambda_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let ports = Ports::aws(&config, &sdk);
        Ok(Self::new(config, ports))
    }
}
