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
        Self::build(&get, secret(ENV_JWT_SECRET)?, secret(ENV_OTP_SECRET)?)
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
        Self::build(&get, secret(ENV_JWT_SECRET)?, secret(ENV_OTP_SECRET)?)
    }

    fn build(
        get: &impl Fn(&str) -> Option<String>,
        jwt_secret: Secret,
        otp_secret: Secret,
    ) -> Result<Self, ConfigError> {
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
        })
    }

    /// A complete configuration with random secrets: for tests and the local gateway.
    pub fn for_tests() -> Self {
        Self::local_from_lookup(|_| None).expect("defaults are valid")
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
    fn from_lookup_requires_both_secrets() {
        let err = Config::from_lookup(lookup(&[(ENV_OTP_SECRET, KEY)])).unwrap_err();
        assert_eq!(err.var, ENV_JWT_SECRET);
        let err = Config::from_lookup(lookup(&[(ENV_JWT_SECRET, KEY)])).unwrap_err();
        assert_eq!(err.var, ENV_OTP_SECRET);
    }

    #[test]
    fn from_lookup_rejects_short_secrets_and_bad_country_codes() {
        let err = Config::from_lookup(lookup(&[(ENV_JWT_SECRET, "short"), (ENV_OTP_SECRET, KEY)]))
            .unwrap_err();
        assert_eq!(err.var, ENV_JWT_SECRET);
        let err = Config::from_lookup(lookup(&[
            (ENV_JWT_SECRET, KEY),
            (ENV_OTP_SECRET, KEY),
            (ENV_DEFAULT_COUNTRY_CODE, "0044"),
        ]))
        .unwrap_err();
        assert_eq!(err.var, ENV_DEFAULT_COUNTRY_CODE);
    }

    #[test]
    fn defaults_apply_and_secrets_never_print() {
        let c =
            Config::from_lookup(lookup(&[(ENV_JWT_SECRET, KEY), (ENV_OTP_SECRET, KEY)])).unwrap();
        assert_eq!(c.table_prefix, "whatspe_");
        assert_eq!(c.jwt_audience, "whatspe");
        assert_eq!(c.default_country_code.as_str(), "91");
        assert_eq!(c.sms_sender_id, None);
        assert!(!format!("{c:?}").contains(KEY));
    }
}
