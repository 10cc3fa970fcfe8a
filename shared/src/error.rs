//! One error type for the domain, one for the ports.

use std::time::Duration;

/// A boxed error cause, kept as a `source` so the whole chain reaches the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a use case can fail with. Each variant maps to one HTTP status in [`crate::http`];
/// the `code` is the stable snake_case identifier clients switch on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the input does not parse or breaks a rule.
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// 401: no credentials, or credentials that are not valid (any more).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: valid credentials, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 409: the request conflicts with the current state (uniqueness, state machine).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413.
    #[error("{message}")]
    PayloadTooLarge { message: String },
    /// 429 with `Retry-After`.
    #[error("{message}")]
    RateLimited {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// 503: a dependency (SMS, database) is unavailable; the cause goes to the log only.
    #[error("dependency unavailable")]
    Unavailable(#[source] BoxError),
    /// 500: a bug or an unexpected dependency answer; the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::RateLimited { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// What a store (port) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write's condition did not hold. `what` names the condition:
    /// a unique attribute (`"phone_number"`, `"username"`), `"exists"` or `"version"`.
    #[error("conditional write failed: {what}")]
    Conflict { what: &'static str },
    /// Stored data that does not parse: a bug or a manual edit, never user input.
    #[error("stored item is malformed")]
    Corrupt(#[source] BoxError),
    /// The backend refused the write because a concurrent transaction was changing the same
    /// items (DynamoDB's `TransactionConflict`). Nothing was written; trying again may work.
    #[error("write lost to a concurrent transaction")]
    Contended(#[source] BoxError),
    /// A page cursor that this store did not hand out (or that belongs to another listing).
    #[error("invalid page cursor")]
    BadCursor,
    /// The backend failed or could not be reached.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
}

impl StoreError {
    pub fn conflict(what: &'static str) -> Self {
        Self::Conflict { what }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => Error::validation(
                "invalid_cursor",
                "cursor is not one this listing handed out",
            ),
            StoreError::Unavailable(_) => Error::Unavailable(Box::new(e)),
            // Whoever does not retry it says so: a conflict the client may retry, never a 5xx.
            StoreError::Contended(cause) => {
                tracing::debug!(error = %cause, "write lost to a concurrent transaction");
                Error::conflict(
                    "concurrent_update",
                    "the record was changed concurrently; try again",
                )
            }
            _ => Error::Internal(Box::new(e)),
        }
    }
}
