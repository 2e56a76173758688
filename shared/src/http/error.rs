//! An [`Error`] as an HTTP response: its status and JSON body ([`Error::status`], [`Error::body`],
//! with the body types [`Detail`] and [`TokenError`], live with the error itself), plus the
//! headers HTTP adds. [`Message`] and [`ValidationErrors`] are OpenAPI schemas of other shapes.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;
pub use crate::error::{Detail, TokenError};

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
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
