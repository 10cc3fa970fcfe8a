//! Typed configuration, read once at start-up.

use crate::domain::CountryCode;
use std::fmt;

/// A secret key: at least 32 bytes, never printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(format!("must be at least {} bytes long", Self::MIN_LEN));
        }
        Ok(Self(bytes))
    }
    /// A fresh random secret: for the local gateway, whose tokens need not outlive the process.
    pub fn random() -> Self {
        Self(crate::crypto::random_bytes::<32>().to_vec())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything a function needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prefix of every DynamoDB table name (`whatspe_` → `whatspe_users`, …).
    pub table_prefix: String,
    /// HS256 key of access and registration tokens.
    pub jwt_secret: Secret,
    /// HMAC key under which OTP codes are stored.
    pub otp_secret: Secret,
    /// `aud` of access tokens.
    pub jwt_audience: String,
    /// Completes national phone numbers (`9890999999` → `+919890999999`).
    pub default_country_code: CountryCode,
    /// Optional alphanumeric SMS sender id (where the destination country supports it).
    pub sms_sender_id: Option<String>,
    /// HMAC key of `POST /api/webhooks/messages` signatures.
    pub webhook_secret: Secret,
    /// Migration switch: body-only webhook signatures (`sha256=`, the first version) still
    /// accepted. Off by default.
    pub webhook_legacy_signatures: bool,
    /// The SQS delivery queue (required on Lambda; the local gateway has its own queue).
    pub delivery_queue_url: Option<String>,
    /// Per-sender message rate limit.
    pub send_rate: SendRate,
    /// How long a send keeps retrying when concurrent sends win the conversation's rows; it
    /// must stay well under the function's timeout (see [`crate::retry::Backoff`]).
    pub send_retry_budget: std::time::Duration,
    /// Most members a group may have (default 1,024, WhatsApp's limit).
    pub group_max_members: u32,
    /// The WebSocket API's management endpoint (`https://{api}.execute-api.{region}
    /// .amazonaws.com/{stage}`): where frames are posted. Required on Lambda.
    pub ws_endpoint: Option<String>,
    /// SNS platform application ARN for FCM (Android) pushes, if any.
    pub fcm_application_arn: Option<String>,
    /// SNS platform application ARN for APNs (iOS) pushes, if any.
    pub apns_application_arn: Option<String>,
    /// The private media bucket (required by the functions that sign or check uploads).
    pub media_bucket: Option<String>,
    /// Upload size caps per kind.
    pub media_limits: crate::domain::MediaLimits,
    /// The content types uploads may have (each with a file signature the server checks).
    pub media_types: crate::domain::MediaTypes,
    /// Sign-in (SMS) and directory limits: docs/api.md, "Abuse limits".
    pub limits: AbuseLimits,
    /// How long an access token of a revoked session may still work: each process remembers
    /// a session's state this long (0: every request reads it).
    pub session_check: std::time::Duration,
}

/// The abuse limits, each configurable (`WHATSPE_*` in the table of docs/operations.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Codes per phone number and client IP per 15 minutes.
    pub otp_sends_per_phone: u32,
    /// Wrong guesses per phone number per 24 hours, from all clients together, after which a
    /// code answers only guesses from the client that asked for it.
    pub otp_phone_daily_guesses: u32,
    /// Wrong guesses per phone number and client IP per 24 hours.
    pub otp_client_daily_guesses: u32,
    /// Codes one client IP may have sent per hour, to any numbers.
    pub otp_ip_sends_per_hour: u32,
    /// Code checks (verify-otp) one client IP may make per hour, for any numbers.
    pub otp_ip_verifies_per_hour: u32,
    /// Codes sent per country calling code per hour.
    pub otp_country_sends_per_hour: u32,
    /// Codes sent per hour in total.
    pub otp_global_sends_per_hour: u32,
    /// Calling codes SMS may be sent to; `None`: every country.
    pub sms_countries: Option<Vec<String>>,
    /// Directory look-ups (user search, contact request by phone number) per caller per minute.
    pub lookups_per_minute: u32,
    /// Directory look-ups per caller per day.
    pub lookups_per_day: u32,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        Self {
            otp_sends_per_phone: 3,
            otp_phone_daily_guesses: 20,
            otp_client_daily_guesses: 10,
            otp_ip_sends_per_hour: 10,
            otp_ip_verifies_per_hour: 60,
            otp_country_sends_per_hour: 1_000,
            otp_global_sends_per_hour: 10_000,
            sms_countries: None,
            lookups_per_minute: 30,
            lookups_per_day: 500,
        }
    }
}

/// A token bucket: `burst` messages at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRate {
    pub burst: u32,
    pub per_second: u32,
}

impl Default for SendRate {
    /// Generous for a person, a wall for a spam script.
    fn default() -> Self {
        Self {
            burst: 120,
            per_second: 30,
        }
    }
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

pub const ENV_TABLE_PREFIX: &str = "WHATSPE_TABLE_PREFIX";
pub const ENV_JWT_SECRET: &str = "WHATSPE_JWT_SECRET";
pub const ENV_OTP_SECRET: &str = "WHATSPE_OTP_SECRET";
pub const ENV_JWT_AUDIENCE: &str = "WHATSPE_JWT_AUDIENCE";
pub const ENV_DEFAULT_COUNTRY_CODE: &str = "WHATSPE_DEFAULT_COUNTRY_CODE";
pub const ENV_SMS_SENDER_ID: &str = "WHATSPE_SMS_SENDER_ID";
pub const ENV_WEBHOOK_SECRET: &str = "WHATSPE_WEBHOOK_SECRET";
/// Seconds (0-60, default 5): the revocation bound ([`Config::session_check`]).
pub const ENV_SESSION_CHECK_SECONDS: &str = "WHATSPE_SESSION_CHECK_SECONDS";
/// `true` keeps the retired body-only webhook signature working (default `false`).
pub const ENV_WEBHOOK_LEGACY_SIGNATURES: &str = "WHATSPE_WEBHOOK_LEGACY_SIGNATURES";
pub const ENV_DELIVERY_QUEUE_URL: &str = "WHATSPE_DELIVERY_QUEUE_URL";
pub const ENV_SEND_BURST: &str = "WHATSPE_SEND_BURST";
pub const ENV_SEND_RATE_PER_SECOND: &str = "WHATSPE_SEND_RATE_PER_SECOND";
/// Milliseconds; default [`crate::retry::Backoff::CONTENTION`]'s budget (5 s).
pub const ENV_SEND_RETRY_BUDGET_MS: &str = "WHATSPE_SEND_RETRY_BUDGET_MS";
/// Most members per group (1–1024; default 1024).
pub const ENV_GROUP_MAX_MEMBERS: &str = "WHATSPE_GROUP_MAX_MEMBERS";
pub const ENV_WS_ENDPOINT: &str = "WHATSPE_WS_ENDPOINT";
pub const ENV_FCM_APPLICATION_ARN: &str = "WHATSPE_SNS_FCM_APPLICATION_ARN";
pub const ENV_APNS_APPLICATION_ARN: &str = "WHATSPE_SNS_APNS_APPLICATION_ARN";
pub const ENV_MEDIA_BUCKET: &str = "WHATSPE_MEDIA_BUCKET";
/// Upload caps in bytes (defaults: image and audio 16 MB, video and document 100 MB).
pub const ENV_MEDIA_MAX_IMAGE_BYTES: &str = "WHATSPE_MEDIA_MAX_IMAGE_BYTES";
pub const ENV_MEDIA_MAX_AUDIO_BYTES: &str = "WHATSPE_MEDIA_MAX_AUDIO_BYTES";
pub const ENV_MEDIA_MAX_VIDEO_BYTES: &str = "WHATSPE_MEDIA_MAX_VIDEO_BYTES";
pub const ENV_MEDIA_MAX_DOCUMENT_BYTES: &str = "WHATSPE_MEDIA_MAX_DOCUMENT_BYTES";
/// The MIME allowlist per kind, comma-separated (`image/jpeg,image/png`); unset or empty: the
/// default list. Only types with a file signature the server checks
/// ([`crate::domain::media::known_content_types`]), each under its own kind.
pub const ENV_MEDIA_IMAGE_TYPES: &str = "WHATSPE_MEDIA_IMAGE_TYPES";
pub const ENV_MEDIA_AUDIO_TYPES: &str = "WHATSPE_MEDIA_AUDIO_TYPES";
pub const ENV_MEDIA_VIDEO_TYPES: &str = "WHATSPE_MEDIA_VIDEO_TYPES";
pub const ENV_MEDIA_DOCUMENT_TYPES: &str = "WHATSPE_MEDIA_DOCUMENT_TYPES";
/// The abuse limits ([`AbuseLimits`]), each a whole number from 1 to 1000000.
pub const ENV_OTP_SENDS_PER_PHONE: &str = "WHATSPE_OTP_SENDS_PER_PHONE";
pub const ENV_OTP_PHONE_DAILY_GUESSES: &str = "WHATSPE_OTP_PHONE_DAILY_GUESSES";
pub const ENV_OTP_CLIENT_DAILY_GUESSES: &str = "WHATSPE_OTP_CLIENT_DAILY_GUESSES";
pub const ENV_OTP_IP_SENDS_PER_HOUR: &str = "WHATSPE_OTP_IP_SENDS_PER_HOUR";
pub const ENV_OTP_IP_VERIFIES_PER_HOUR: &str = "WHATSPE_OTP_IP_VERIFIES_PER_HOUR";
pub const ENV_OTP_COUNTRY_SENDS_PER_HOUR: &str = "WHATSPE_OTP_COUNTRY_SENDS_PER_HOUR";
pub const ENV_OTP_GLOBAL_SENDS_PER_HOUR: &str = "WHATSPE_OTP_GLOBAL_SENDS_PER_HOUR";
/// Comma-separated calling codes (`91,1,44`) SMS may go to; empty or `*`: every country.
pub const ENV_SMS_COUNTRIES: &str = "WHATSPE_SMS_COUNTRIES";
pub const ENV_LOOKUPS_PER_MINUTE: &str = "WHATSPE_LOOKUPS_PER_MINUTE";
pub const ENV_LOOKUPS_PER_DAY: &str = "WHATSPE_LOOKUPS_PER_DAY";

impl Config {
    /// Reads the process environment. Secrets are required: a function never runs with a
    /// made-up key.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = |var: &'static str| -> Result<Secret, ConfigError> {
            let v = get(var)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError {
                    var,
                    problem: "is required (set it to a random string of at least 32 bytes)".into(),
                })?;
            Secret::new(v.into_bytes()).map_err(|problem| ConfigError { var, problem })
        };
        let mut config = Self::build(
            &get,
            [
                secret(ENV_JWT_SECRET)?,
                secret(ENV_OTP_SECRET)?,
                secret(ENV_WEBHOOK_SECRET)?,
            ],
        )?;
        config.delivery_queue_url = Some(config.delivery_queue_url.ok_or_else(|| ConfigError {
            var: ENV_DELIVERY_QUEUE_URL,
            problem: "is required (the SQS delivery queue URL)".into(),
        })?);
        config.ws_endpoint = Some(config.ws_endpoint.ok_or_else(|| ConfigError {
            var: ENV_WS_ENDPOINT,
            problem: "is required (the WebSocket API management endpoint)".into(),
        })?);
        Ok(config)
    }

    /// Local development: like [`Config::from_lookup`], but missing secrets are generated at
    /// random for this process (tokens then die with the process).
    pub fn local_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = |var: &'static str| -> Result<Secret, ConfigError> {
            match get(var).filter(|v| !v.is_empty()) {
                Some(v) => {
                    Secret::new(v.into_bytes()).map_err(|problem| ConfigError { var, problem })
                }
                None => Ok(Secret::random()),
            }
        };
        Self::build(
            &get,
            [
                secret(ENV_JWT_SECRET)?,
                secret(ENV_OTP_SECRET)?,
                secret(ENV_WEBHOOK_SECRET)?,
            ],
        )
    }

    fn build(
        get: &impl Fn(&str) -> Option<String>,
        [jwt_secret, otp_secret, webhook_secret]: [Secret; 3],
    ) -> Result<Self, ConfigError> {
        let number = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(var).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or(ConfigError {
                        var,
                        problem: format!("must be a whole number from 1 to 1000000, not {v:?}"),
                    }),
            }
        };
        let send_rate = SendRate {
            burst: number(ENV_SEND_BURST, SendRate::default().burst)?,
            per_second: number(ENV_SEND_RATE_PER_SECOND, SendRate::default().per_second)?,
        };
        let default_budget_ms = crate::retry::Backoff::CONTENTION.budget.as_millis() as u32;
        let send_retry_budget = std::time::Duration::from_millis(u64::from(number(
            ENV_SEND_RETRY_BUDGET_MS,
            default_budget_ms,
        )?));
        let group_max_members = number(ENV_GROUP_MAX_MEMBERS, crate::domain::DEFAULT_MAX_MEMBERS)?;
        if group_max_members > crate::domain::DEFAULT_MAX_MEMBERS {
            return Err(ConfigError {
                var: ENV_GROUP_MAX_MEMBERS,
                problem: format!(
                    "must be at most {} (a fan-out job's buckets are sized for it)",
                    crate::domain::DEFAULT_MAX_MEMBERS
                ),
            });
        }
        let bytes = |var: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(var).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=5 * 1024 * 1024 * 1024).contains(n))
                    .ok_or(ConfigError {
                        var,
                        problem: format!("must be a byte count from 1 to 5 GiB, not {v:?}"),
                    }),
            }
        };
        let caps = crate::domain::MediaLimits::default();
        let media_limits = crate::domain::MediaLimits {
            image: bytes(ENV_MEDIA_MAX_IMAGE_BYTES, caps.image)?,
            audio: bytes(ENV_MEDIA_MAX_AUDIO_BYTES, caps.audio)?,
            video: bytes(ENV_MEDIA_MAX_VIDEO_BYTES, caps.video)?,
            document: bytes(ENV_MEDIA_MAX_DOCUMENT_BYTES, caps.document)?,
        };
        let mut media_types = Vec::new();
        for (var, kind) in [
            (ENV_MEDIA_IMAGE_TYPES, crate::domain::MessageKind::Image),
            (ENV_MEDIA_AUDIO_TYPES, crate::domain::MessageKind::Audio),
            (ENV_MEDIA_VIDEO_TYPES, crate::domain::MessageKind::Video),
            (
                ENV_MEDIA_DOCUMENT_TYPES,
                crate::domain::MessageKind::Document,
            ),
        ] {
            media_types.extend(match get(var).filter(|v| !v.trim().is_empty()) {
                None => crate::domain::MediaTypes::default_of(kind),
                Some(v) => crate::domain::MediaTypes::parse_kind(kind, &v)
                    .map_err(|problem| ConfigError { var, problem })?,
            });
        }
        let media_types = crate::domain::MediaTypes::new(media_types);
        let d = AbuseLimits::default();
        let sms_countries = match get(ENV_SMS_COUNTRIES).map(|v| v.trim().to_owned()) {
            None => None,
            Some(v) if v.is_empty() || v == "*" => None,
            Some(v) => Some(
                v.split(',')
                    .map(|c| {
                        CountryCode::parse(c.trim())
                            .map(|c| c.as_str().to_owned())
                            .map_err(|problem| ConfigError {
                                var: ENV_SMS_COUNTRIES,
                                problem: format!("{c:?}: {problem}"),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let limits = AbuseLimits {
            otp_sends_per_phone: number(ENV_OTP_SENDS_PER_PHONE, d.otp_sends_per_phone)?,
            otp_phone_daily_guesses: number(
                ENV_OTP_PHONE_DAILY_GUESSES,
                d.otp_phone_daily_guesses,
            )?,
            otp_client_daily_guesses: number(
                ENV_OTP_CLIENT_DAILY_GUESSES,
                d.otp_client_daily_guesses,
            )?,
            otp_ip_sends_per_hour: number(ENV_OTP_IP_SENDS_PER_HOUR, d.otp_ip_sends_per_hour)?,
            otp_ip_verifies_per_hour: number(
                ENV_OTP_IP_VERIFIES_PER_HOUR,
                d.otp_ip_verifies_per_hour,
            )?,
            otp_country_sends_per_hour: number(
                ENV_OTP_COUNTRY_SENDS_PER_HOUR,
                d.otp_country_sends_per_hour,
            )?,
            otp_global_sends_per_hour: number(
                ENV_OTP_GLOBAL_SENDS_PER_HOUR,
                d.otp_global_sends_per_hour,
            )?,
            sms_countries,
            lookups_per_minute: number(ENV_LOOKUPS_PER_MINUTE, d.lookups_per_minute)?,
            lookups_per_day: number(ENV_LOOKUPS_PER_DAY, d.lookups_per_day)?,
        };
        let session_check = match get(ENV_SESSION_CHECK_SECONDS).filter(|v| !v.is_empty()) {
            None => std::time::Duration::from_secs(5),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 60)
                .map(std::time::Duration::from_secs)
                .ok_or(ConfigError {
                    var: ENV_SESSION_CHECK_SECONDS,
                    problem: format!("must be a whole number of seconds from 0 to 60, not {v:?}"),
                })?,
        };
        let webhook_legacy_signatures = match get(ENV_WEBHOOK_LEGACY_SIGNATURES).as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: ENV_WEBHOOK_LEGACY_SIGNATURES,
                    problem: format!("must be true or false, not {other:?}"),
                });
            }
        };
        let table_prefix = get(ENV_TABLE_PREFIX).unwrap_or_else(|| "whatspe_".into());
        if table_prefix.is_empty()
            || table_prefix.len() > 200
            || !table_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(ConfigError {
                var: ENV_TABLE_PREFIX,
                problem: "must be 1-200 characters of [A-Za-z0-9_.-]".into(),
            });
        }
        let default_country_code =
            CountryCode::parse(&get(ENV_DEFAULT_COUNTRY_CODE).unwrap_or_else(|| "91".into()))
                .map_err(|problem| ConfigError {
                    var: ENV_DEFAULT_COUNTRY_CODE,
                    problem,
                })?;
        Ok(Self {
            table_prefix,
            jwt_secret,
            otp_secret,
            jwt_audience: get(ENV_JWT_AUDIENCE)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "whatspe".into()),
            default_country_code,
            sms_sender_id: get(ENV_SMS_SENDER_ID).filter(|v| !v.is_empty()),
            webhook_secret,
            webhook_legacy_signatures,
            delivery_queue_url: get(ENV_DELIVERY_QUEUE_URL).filter(|v| !v.is_empty()),
            send_rate,
            send_retry_budget,
            group_max_members,
            ws_endpoint: get(ENV_WS_ENDPOINT).filter(|v| !v.is_empty()),
            fcm_application_arn: get(ENV_FCM_APPLICATION_ARN).filter(|v| !v.is_empty()),
            apns_application_arn: get(ENV_APNS_APPLICATION_ARN).filter(|v| !v.is_empty()),
            media_bucket: get(ENV_MEDIA_BUCKET).filter(|v| !v.is_empty()),
            media_limits,
            media_types,
            limits,
            session_check,
        })
    }

    /// A complete configuration with random secrets, for tests: every client of a test comes
    /// from 127.0.0.1 and some sign up a thousand users, so the per-IP, per-country and
    /// overall sign-in limits and the per-caller look-up limits are raised out of the way (the
    /// tests of those limits set their own).
    pub fn for_tests() -> Self {
        let mut config = Self::local_from_lookup(|_| None).expect("defaults are valid");
        config.limits.otp_ip_sends_per_hour = 100_000;
        config.limits.otp_ip_verifies_per_hour = 100_000;
        config.limits.otp_country_sends_per_hour = 100_000;
        config.limits.otp_global_sends_per_hour = 100_000;
        config.limits.lookups_per_minute = 100_000;
        config.limits.lookups_per_day = 100_000;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn from_lookup_requires_every_secret_and_the_queue() {
        let all = [
            (ENV_JWT_SECRET, KEY),
            (ENV_OTP_SECRET, KEY),
            (ENV_WEBHOOK_SECRET, KEY),
            (ENV_DELIVERY_QUEUE_URL, "https://sqs.example/q"),
            (ENV_WS_ENDPOINT, "https://ws.example/v1"),
        ];
        for missing in 0..all.len() {
            let some: Vec<(&str, &str)> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, p)| *p)
                .collect();
            let err = Config::from_lookup(lookup(&some)).unwrap_err();
            assert_eq!(err.var, all[missing].0);
        }
        assert!(Config::from_lookup(lookup(&all)).is_ok());
    }

    #[test]
    fn send_rate_is_configurable_and_checked() {
        let c = Config::local_from_lookup(lookup(&[
            (ENV_SEND_BURST, "5"),
            (ENV_SEND_RATE_PER_SECOND, "2"),
        ]))
        .unwrap();
        assert_eq!(
            c.send_rate,
            SendRate {
                burst: 5,
                per_second: 2
            }
        );
        assert_eq!(
            Config::local_from_lookup(lookup(&[])).unwrap().send_rate,
            SendRate {
                burst: 120,
                per_second: 30
            }
        );
        for bad in ["0", "-1", "x", "2000000"] {
            let err = Config::local_from_lookup(lookup(&[(ENV_SEND_BURST, bad)])).unwrap_err();
            assert_eq!(err.var, ENV_SEND_BURST, "{bad:?}");
        }
    }

    #[test]
    fn the_send_retry_budget_defaults_to_five_seconds_and_is_checked() {
        use std::time::Duration;
        let budget = |vars: &[(&str, &str)]| {
            Config::local_from_lookup(lookup(vars)).map(|c| c.send_retry_budget)
        };
        assert_eq!(budget(&[]).unwrap(), Duration::from_secs(5));
        assert_eq!(
            budget(&[(ENV_SEND_RETRY_BUDGET_MS, "250")]).unwrap(),
            Duration::from_millis(250)
        );
        for bad in ["0", "x", "-5"] {
            let err = budget(&[(ENV_SEND_RETRY_BUDGET_MS, bad)]).unwrap_err();
            assert_eq!(err.var, ENV_SEND_RETRY_BUDGET_MS, "{bad:?}");
        }
    }

    #[test]
    fn from_lookup_rejects_short_secrets_and_bad_country_codes() {
        let err = Config::from_lookup(lookup(&[
            (ENV_JWT_SECRET, "short"),
            (ENV_OTP_SECRET, KEY),
            (ENV_WEBHOOK_SECRET, KEY),
        ]))
        .unwrap_err();
        assert_eq!(err.var, ENV_JWT_SECRET);
        let err = Config::from_lookup(lookup(&[
            (ENV_JWT_SECRET, KEY),
            (ENV_OTP_SECRET, KEY),
            (ENV_WEBHOOK_SECRET, KEY),
            (ENV_DEFAULT_COUNTRY_CODE, "0044"),
        ]))
        .unwrap_err();
        assert_eq!(err.var, ENV_DEFAULT_COUNTRY_CODE);
    }

    #[test]
    fn defaults_apply_and_secrets_never_print() {
        let c = Config::from_lookup(lookup(&[
            (ENV_JWT_SECRET, KEY),
            (ENV_OTP_SECRET, KEY),
            (ENV_WEBHOOK_SECRET, KEY),
            (ENV_DELIVERY_QUEUE_URL, "https://sqs.example/q"),
            (ENV_WS_ENDPOINT, "https://ws.example/v1"),
        ]))
        .unwrap();
        assert_eq!(c.send_rate, SendRate::default());
        assert_eq!(c.table_prefix, "whatspe_");
        assert_eq!(c.jwt_audience, "whatspe");
        assert_eq!(c.default_country_code.as_str(), "91");
        assert_eq!(c.sms_sender_id, None);
        assert_eq!(c.limits, AbuseLimits::default());
        assert!(!c.webhook_legacy_signatures, "the migration switch is off");
        assert_eq!(c.session_check, std::time::Duration::from_secs(5));
        assert!(!format!("{c:?}").contains(KEY));
    }

    #[test]
    fn media_caps_are_configurable_and_checked() {
        use crate::domain::{MediaLimits, MessageKind};
        let c = Config::local_from_lookup(lookup(&[])).unwrap();
        assert_eq!(c.media_limits, MediaLimits::default());
        assert_eq!(c.media_limits.cap(MessageKind::Image), 16 * 1024 * 1024);
        let c = Config::local_from_lookup(lookup(&[
            (ENV_MEDIA_MAX_IMAGE_BYTES, "2048"),
            (ENV_MEDIA_MAX_VIDEO_BYTES, "209715200"),
        ]))
        .unwrap();
        assert_eq!(
            c.media_limits,
            MediaLimits {
                image: 2048,
                video: 200 * 1024 * 1024,
                ..MediaLimits::default()
            }
        );
        for (var, bad) in [
            (ENV_MEDIA_MAX_IMAGE_BYTES, "0"),
            (ENV_MEDIA_MAX_AUDIO_BYTES, "-1"),
            (ENV_MEDIA_MAX_VIDEO_BYTES, "5368709121"),
            (ENV_MEDIA_MAX_DOCUMENT_BYTES, "100MB"),
        ] {
            let err = Config::local_from_lookup(lookup(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var, "{bad:?}");
            assert!(err.problem.contains("5 GiB"), "{err}");
        }
    }

    #[test]
    fn the_media_allowlist_is_configurable_per_kind_and_only_with_known_signatures() {
        use crate::domain::MediaTypes;
        let allowed = |c: &Config| c.media_types.iter().map(str::to_owned).collect::<Vec<_>>();
        let c = Config::local_from_lookup(lookup(&[])).unwrap();
        assert_eq!(c.media_types, MediaTypes::default());
        for blank in ["", "  "] {
            let c = Config::local_from_lookup(lookup(&[(ENV_MEDIA_IMAGE_TYPES, blank)])).unwrap();
            assert_eq!(c.media_types, MediaTypes::default(), "{blank:?}");
        }

        // One kind narrowed, one widened; the others keep their defaults.
        let c = Config::local_from_lookup(lookup(&[
            (ENV_MEDIA_IMAGE_TYPES, "image/jpeg, image/heic"),
            (ENV_MEDIA_AUDIO_TYPES, "audio/ogg,audio/flac"),
        ]))
        .unwrap();
        let list = allowed(&c);
        assert_eq!(
            &list[..4],
            ["image/jpeg", "image/heic", "audio/ogg", "audio/flac"]
        );
        assert!(list.contains(&"video/mp4".to_owned()) && list.contains(&"application/pdf".into()));
        assert!(c.media_types.check("image/heic").is_ok());
        for off in ["image/png", "audio/mpeg", "text/html"] {
            assert_eq!(
                c.media_types.check(off).unwrap_err().code(),
                "unsupported_media_type",
                "{off}"
            );
        }

        // Refused at start-up, naming the variable and the entry.
        for (var, bad, says) in [
            (
                ENV_MEDIA_IMAGE_TYPES,
                "image/png,image/svg+xml",
                "no file signature",
            ),
            (ENV_MEDIA_DOCUMENT_TYPES, "text/plain", "no file signature"),
            (
                ENV_MEDIA_DOCUMENT_TYPES,
                "application/octet-stream",
                "no file signature",
            ),
            (
                ENV_MEDIA_IMAGE_TYPES,
                "video/mp4",
                "is a video type, not an image one",
            ),
            (ENV_MEDIA_VIDEO_TYPES, "video/mp4,", "empty entry"),
        ] {
            let err = Config::local_from_lookup(lookup(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var, "{bad:?}");
            assert!(err.problem.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn abuse_limits_are_configurable_and_checked() {
        let c = Config::local_from_lookup(lookup(&[
            (ENV_OTP_IP_SENDS_PER_HOUR, "5"),
            (ENV_OTP_GLOBAL_SENDS_PER_HOUR, "50"),
            (ENV_SMS_COUNTRIES, "91, 1,44"),
            (ENV_LOOKUPS_PER_MINUTE, "7"),
        ]))
        .unwrap();
        assert_eq!(c.limits.otp_ip_sends_per_hour, 5);
        assert_eq!(c.limits.otp_global_sends_per_hour, 50);
        assert_eq!(c.limits.lookups_per_minute, 7);
        assert_eq!(
            c.limits.sms_countries,
            Some(vec!["91".to_owned(), "1".to_owned(), "44".to_owned()])
        );
        for every in ["", "*"] {
            let c = Config::local_from_lookup(lookup(&[(ENV_SMS_COUNTRIES, every)])).unwrap();
            assert_eq!(c.limits.sms_countries, None, "{every:?}");
        }
        for (var, bad) in [
            (ENV_SMS_COUNTRIES, "91,x"),
            (ENV_SMS_COUNTRIES, "0091"),
            (ENV_OTP_SENDS_PER_PHONE, "0"),
            (ENV_LOOKUPS_PER_DAY, "lots"),
        ] {
            let err = Config::local_from_lookup(lookup(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var, "{bad:?}");
        }
    }
}
