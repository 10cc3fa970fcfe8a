//! The functions' secrets, from AWS Secrets Manager at cold start. Each function names the
//! secrets it uses; its environment carries only their ARNs (`WHATSPE_<NAME>_SECRET_ARN`) and
//! its role may read only those, so a function's configuration never holds a key and a
//! function cannot read a key it does not use.

use crate::config::{ConfigError, ENV_JWT_SECRET, ENV_OTP_SECRET, ENV_WEBHOOK_SECRET};
use std::collections::HashMap;

/// A secret a function may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretName {
    /// Signs and verifies access and registration tokens.
    Jwt,
    /// Keys the stored one-time codes.
    Otp,
    /// Verifies webhook signatures.
    Webhook,
}

impl SecretName {
    pub const ALL: [SecretName; 3] = [Self::Jwt, Self::Otp, Self::Webhook];

    /// The variable that holds the value itself (local runs and tests).
    pub fn env(self) -> &'static str {
        match self {
            Self::Jwt => ENV_JWT_SECRET,
            Self::Otp => ENV_OTP_SECRET,
            Self::Webhook => ENV_WEBHOOK_SECRET,
        }
    }

    /// The variable that names the secret's ARN (on Lambda).
    pub fn arn_env(self) -> &'static str {
        match self {
            Self::Jwt => "WHATSPE_JWT_SECRET_ARN",
            Self::Otp => "WHATSPE_OTP_SECRET_ARN",
            Self::Webhook => "WHATSPE_WEBHOOK_SECRET_ARN",
        }
    }
}

/// The values of the secret variables for a function that uses `needed`: each needed secret
/// from its variable when set (a local run), else fetched from Secrets Manager by the ARN its
/// `…_ARN` variable names (all fetched concurrently, one `GetSecretValue` each). A secret the
/// function does not use gets a random value for this process: nothing it signs verifies
/// anywhere else, so a function wired by mistake to use it fails closed.
pub async fn resolve(
    client: &aws_sdk_secretsmanager::Client,
    needed: &[SecretName],
    get: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut values = HashMap::new();
    let mut fetch = Vec::new();
    for name in SecretName::ALL {
        if !needed.contains(&name) {
            values.insert(name.env(), hex::encode(crate::crypto::random_bytes::<32>()));
        } else if let Some(v) = get(name.env()).filter(|v| !v.is_empty()) {
            values.insert(name.env(), v);
        } else {
            let arn = get(name.arn_env())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError {
                    var: name.arn_env(),
                    problem: "is required (the ARN of this function's Secrets Manager secret)"
                        .into(),
                })?;
            fetch.push(async move {
                let out = client
                    .get_secret_value()
                    .secret_id(&arn)
                    .send()
                    .await
                    .map_err(|e| ConfigError {
                        var: name.arn_env(),
                        problem: format!(
                            "reading the secret failed: {}",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                        ),
                    })?;
                let value = out.secret_string().map(str::to_owned).ok_or(ConfigError {
                    var: name.arn_env(),
                    problem: "the secret has no string value".into(),
                })?;
                Ok::<_, ConfigError>((name.env(), value))
            });
        }
    }
    for (var, value) in futures_util::future::try_join_all(fetch).await? {
        values.insert(var, value);
    }
    Ok(values)
}

/// [`resolve`] for a function that uses no secret: random values, no client, no request.
pub fn resolve_none() -> HashMap<&'static str, String> {
    SecretName::ALL
        .into_iter()
        .map(|n| (n.env(), hex::encode(crate::crypto::random_bytes::<32>())))
        .collect()
}
