//! The one error type every layer returns; [`crate::http::error`] turns it into a response.

use crate::domain::FieldErrors;
use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant with the text its client sees.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `{"field": ["message", ...]}`.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400 `{"detail": ...}`: a body that is not JSON, or not an object.
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
    /// 413: the body is over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: a write whose body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503 with `Retry-After`: the store is throttling.
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

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
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
            StoreError::NotFound => Self::NotFound("Not found."),
            StoreError::Conflict => Self::Conflict,
            StoreError::Throttled => Self::Unavailable,
            StoreError::Unexpected(cause) => Self::Unexpected(cause),
        }
    }
}
