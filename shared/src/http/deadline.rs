//! Every HTTP request ends by [`REQUEST_DEADLINE`]: once it passes, the client gets the JSON 503
//! with `Retry-After` that any transient failure gets, on every host. Without it a request whose
//! store calls each stay inside the SDK's own timeouts (`crate::retry::sdk_timeout_config`) could
//! still add up past the Lambda's `Timeout`, which API Gateway answers with a bare 500, and the
//! local server would wait for as long as it took.
//!
//! What was written before the deadline stays written: every write that must be atomic is one
//! transaction or one conditional write, so a request stopped between two of them leaves what a
//! lost answer leaves, and the client's retry (with its `Idempotency-Key`) finds it.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// How long a request may take. The template's Lambda `Timeout` is 10 s (every HTTP function;
/// `shared/tests/template.rs` checks that it stays above this), so a second is left for the 503
/// to reach API Gateway before Lambda ends the invocation.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(9);

/// Runs the request, or answers 503 once [`REQUEST_DEADLINE`] has passed.
pub(super) async fn within_deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                deadline_ms = REQUEST_DEADLINE.as_millis() as u64,
                "request stopped at its deadline"
            );
            Error::Unavailable.into_response()
        }
    }
}
