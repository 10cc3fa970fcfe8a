//! Assembles the services over a set of ports: once per process (Lambda cold start, local
//! gateway start-up, or test).

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::dynamo::{DynamoOtpStore, DynamoSessionStore, DynamoUserStore};
use crate::memory::{MemoryOtpStore, MemorySessionStore, MemoryUserStore, SmsOutbox};
use crate::ports::{OtpStore, SessionStore, SmsSender, UserStore};
use crate::services::{AuthService, TokenService};
use crate::sns::SnsSmsSender;
use crate::tables::TableNames;
use std::sync::Arc;

/// One implementation of every port.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub otps: Arc<dyn OtpStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub sms: Arc<dyn SmsSender>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// Everything in memory; the SMS outbox is returned so callers can read the codes.
    pub fn in_memory(clock: Arc<dyn Clock>) -> (Self, Arc<SmsOutbox>) {
        let outbox = Arc::new(SmsOutbox::new(clock.clone()));
        let ports = Self {
            users: Arc::new(MemoryUserStore::default()),
            otps: Arc::new(MemoryOtpStore::default()),
            sessions: Arc::new(MemorySessionStore::default()),
            sms: outbox.clone(),
            clock,
        };
        (ports, outbox)
    }

    /// DynamoDB tables and SNS, with clients built from `sdk` (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` are honoured by `aws_config`).
    pub fn aws(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let tables = TableNames::new(&config.table_prefix);
        Self {
            users: Arc::new(DynamoUserStore::new(ddb.clone(), tables.users)),
            otps: Arc::new(DynamoOtpStore::new(ddb.clone(), tables.verification_codes)),
            sessions: Arc::new(DynamoSessionStore::new(ddb, tables.sessions)),
            sms: Arc::new(SnsSmsSender::new(
                aws_sdk_sns::Client::new(sdk),
                config.sms_sender_id.clone(),
            )),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The application: what every router's handlers get as state. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub auth: Arc<AuthService>,
    pub tokens: Arc<TokenService>,
    pub config: Arc<Config>,
}

impl App {
    pub fn new(config: Config, ports: Ports) -> Self {
        let tokens = Arc::new(TokenService::new(&config, ports.clock.clone()));
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
