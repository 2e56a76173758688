//! The one error type every layer returns, with the status and JSON body every host answers it
//! with, in the original API's shapes: [`crate::http::error`] adds HTTP's headers, and the
//! WebSocket gateway returns the same status and body from `$connect`. [`Detail`] and
//! [`TokenError`] are also the OpenAPI schemas of those bodies.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::FieldErrors;
use crate::store::{Missing, StoreError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant with the text its client sees.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `{"field": ["message", ...]}`.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400 `{"detail": ...}`: a body that is not JSON, a bad query string, a malformed header.
    /// (A JSON body that is not an object is a [`Error::Validation`] of `non_field_errors`.)
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no credentials at all.
    #[error("authentication credentials were not provided")]
    MissingCredentials,
    /// 401 with `code: token_not_valid`: a bad, expired or wrong-type token in `Authorization`.
    #[error("token not valid")]
    InvalidToken,
    /// 401 with `code: token_not_valid`: a token sent in a body (verify, refresh, logout) that is
    /// invalid, expired, revoked or already used.
    #[error("token rejected")]
    TokenRejected,
    /// 401: login failed, without saying whether the user exists.
    #[error("invalid login credentials")]
    InvalidCredentials,
    /// 404 `{"detail": ...}`.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 405 for the method named.
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// 409: a concurrent write won; the client may retry.
    #[error("conflicting concurrent update")]
    Conflict,
    /// 403: the caller's tasks are at the store's size limit for one user (DynamoDB's 10 GB per
    /// item collection); deleting tasks makes room.
    #[error("task storage full")]
    StorageFull,
    /// 412: a write's `If-Match` or `If-None-Match` refused the task's current version.
    #[error("precondition failed")]
    PreconditionFailed,
    /// 422: an `Idempotency-Key` already used for a different request.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    /// 413: the body is over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: a write whose body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`: too many failed logins, registrations or name changes; retry in
    /// `retry_after` seconds (see [`crate::service::limits`]).
    #[error("too many requests, retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// 503 with `Retry-After`: the store is throttling, unreachable, slow or failing on its side,
    /// or the request's deadline passed; a retry may succeed.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// 500: anything else. The cause is logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    pub fn task_not_found() -> Self {
        Self::NotFound("Task not found")
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }
}

/// `{"detail": "..."}`: most errors, and the password change's success.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "detail": "Task not found" })))]
pub struct Detail {
    pub detail: String,
}

impl Detail {
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// A rejected token: `{"detail": "...", "code": "token_not_valid"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "detail": "Given token not valid for any token type",
    "code": "token_not_valid",
})))]
pub struct TokenError {
    pub detail: &'static str,
    pub code: TokenErrorCode,
}

/// The `code` of a token error; the original API has only this one.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenErrorCode {
    TokenNotValid,
}

/// The detail of a 403 for a user whose tasks fill their share of the store.
pub const STORAGE_FULL: &str =
    "Your tasks have reached the storage limit of one account; delete some tasks to make room.";

impl Error {
    /// The HTTP status this error answers with, on every host (REST and WebSocket alike).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingCredentials
            | Self::InvalidToken
            | Self::TokenRejected
            | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::StorageFull => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The seconds a client is told to wait before trying again (`Retry-After`), for the errors
    /// that are worth a retry: a limit's own wait, or a second for a store that is unavailable.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            Self::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The JSON body clients get for this error (never the cause of a 500).
    pub fn body(&self) -> Value {
        let detail = |text: &str| json!(Detail::new(text));
        let token = |detail| {
            json!(TokenError {
                detail,
                code: TokenErrorCode::TokenNotValid,
            })
        };
        match self {
            Self::Validation(errors) => json!(errors),
            Self::BadRequest(text) => detail(text),
            Self::MissingCredentials => detail("Authentication credentials were not provided."),
            Self::InvalidToken => token("Given token not valid for any token type"),
            Self::TokenRejected => token("Token is invalid or expired"),
            Self::InvalidCredentials => detail("Invalid login credentials"),
            Self::NotFound(text) => detail(text),
            Self::MethodNotAllowed(method) => detail(&format!("Method \"{method}\" not allowed.")),
            Self::Conflict => detail("The resource was changed by another request; please retry."),
            Self::StorageFull => detail(STORAGE_FULL),
            Self::PreconditionFailed => detail(
                "The task's current version is not one this request's If-Match or If-None-Match allows; read it again before changing it.",
            ),
            Self::IdempotencyKeyReused => detail(
                "This Idempotency-Key was already used for a different request; use a new key for a new task.",
            ),
            Self::PayloadTooLarge => detail("Request body is too large (limit 64 KiB)."),
            Self::UnsupportedMediaType => {
                detail("Unsupported media type; send application/json, in UTF-8, uncompressed.")
            }
            // Django REST framework's throttling message, as the original API answered.
            Self::TooManyRequests { retry_after } => detail(&format!(
                "Request was throttled. Expected available in {retry_after} seconds."
            )),
            Self::Unavailable => detail("The service is busy; please retry shortly."),
            Self::Unexpected(_) => detail("Internal server error."),
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

/// The keys a token may be signed with could not be read: 503, to be retried.
impl From<crate::auth::KeysUnavailable> for Error {
    fn from(_: crate::auth::KeysUnavailable) -> Self {
        Self::Unavailable
    }
}

/// Store failures that need no context; the services map the rest (`NotFound`, ...) themselves.
impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Taken { username, email } => {
                let mut errors = FieldErrors::default();
                if username {
                    errors.add("username", "User with this username already exists.");
                }
                if email {
                    errors.add("email", "User with this email already exists.");
                }
                Self::Validation(errors)
            }
            // A valid token of a user who no longer exists gets nothing.
            StoreError::Missing(Missing::User) => Self::InvalidToken,
            // So does a token of a revoked session (password change, logout everywhere).
            StoreError::Missing(Missing::Session) => Self::InvalidToken,
            // Someone else's task and no task look the same.
            StoreError::Missing(Missing::Task) => Self::task_not_found(),
            StoreError::Missing(Missing::RefreshToken) => Self::TokenRejected,
            StoreError::Conflict => Self::Conflict,
            StoreError::Throttled | StoreError::Unavailable => Self::Unavailable,
            StoreError::Full => Self::StorageFull,
            StoreError::Unexpected(cause) => Self::Unexpected(cause),
        }
    }
}
