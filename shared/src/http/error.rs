//! How an [`Error`] looks on the wire: always JSON, in the original API's shapes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::Error;

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
        let detail = |text: &str| json!({ "detail": text });
        match self {
            Self::Validation(errors) => json!(errors),
            Self::BadRequest(text) => detail(text),
            Self::MissingCredentials => detail("Authentication credentials were not provided."),
            Self::InvalidToken => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
            }),
            Self::TokenRejected => {
                json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
            }
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
