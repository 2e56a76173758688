//! How an [`Error`] looks on the wire: always JSON, in the original API's shapes. The body types
//! here ([`Detail`], [`TokenError`], [`Message`]) are also the OpenAPI schemas of those shapes.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::Error;

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

/// `{"message": "..."}`: token verification and task deletion answer this.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "message": "Task deleted successfully" })))]
pub struct Message {
    pub message: &'static str,
}

// The schema of `crate::domain::FieldErrors` as it goes on the wire.
/// A failed validation: every bad field with its messages (`non_field_errors` when the body as a
/// whole is wrong).
#[derive(Debug, ToSchema)]
pub struct ValidationErrors(pub BTreeMap<String, Vec<String>>);

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingCredentials
            | Self::InvalidToken
            | Self::TokenRejected
            | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
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
            Self::PayloadTooLarge => detail("Request body is too large (limit 64 KiB)."),
            Self::UnsupportedMediaType => detail("Unsupported media type; send application/json."),
            Self::Unavailable => detail("The service is busy; please retry shortly."),
            Self::Unexpected(_) => detail("Internal server error."),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Unexpected(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
